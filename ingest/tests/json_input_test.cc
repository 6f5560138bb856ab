// JSON submissions: every field's rules, and errors that name the field.
#include "ewarn/ingest/json_input.h"

#include <gtest/gtest.h>

namespace ewarn::ingest {
namespace {

const std::string kHead = R"("event_id":"e-1","occurred_at":"2027-02-25T08:30:00Z",)";

InputError ErrorOf(InputKind kind, const std::string& body) {
  DecodedInput d = DecodeJsonInput(kind, body);
  EXPECT_TRUE(d.error.has_value()) << body;
  EXPECT_TRUE(d.events.empty());
  return d.error.value_or(InputError{});
}

TEST(JsonInputTest, IncidentWithEveryField) {
  DecodedInput d = DecodeJsonInput(InputKind::kIncident, "{" + kHead +
      R"("station_id":"S1","category":"vote_buying","severity":3,"description":"cash \u00e0 la porte","lat":6.5,"lon":3.3,"extra":"ignored"})");
  ASSERT_FALSE(d.error) << d.error->message;
  ASSERT_EQ(d.events.size(), 1u);
  const v1::Event& e = d.events[0];
  EXPECT_EQ(e.header().event_id(), "e-1");
  EXPECT_EQ(e.header().event_time_ms(), 1803544200000);
  EXPECT_EQ(e.incident().station_id(), "S1");
  EXPECT_EQ(e.incident().category(), v1::INCIDENT_CATEGORY_VOTE_BUYING);
  EXPECT_EQ(e.incident().severity(), 3);
  EXPECT_EQ(e.incident().description(), "cash \xc3\xa0 la porte");
  EXPECT_DOUBLE_EQ(e.incident().location().lat(), 6.5);
  // Location is optional.
  d = DecodeJsonInput(InputKind::kIncident, "{" + kHead + R"("station_id":"S1","category":"other","severity":1.0})");
  ASSERT_FALSE(d.error);
  EXPECT_FALSE(d.events[0].incident().has_location());
}

TEST(JsonInputTest, IncidentPlaceIsOptionalAndBounded) {
  auto inc = [](const std::string& extra) {
    return "{" + kHead + R"("station_id":"S1","category":"violence","severity":4)" + extra + "}";
  };
  DecodedInput d = DecodeJsonInput(InputKind::kIncident, inc(R"(,"place":"Ikeja Grammar School")"));
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_EQ(d.events[0].incident().place_text(), "Ikeja Grammar School");
  d = DecodeJsonInput(InputKind::kIncident, inc(""));
  ASSERT_FALSE(d.error);
  EXPECT_EQ(d.events[0].incident().place_text(), "");
  d = DecodeJsonInput(InputKind::kIncident, inc(R"(,"place":null)"));
  ASSERT_FALSE(d.error);
  EXPECT_TRUE(DecodeJsonInput(InputKind::kIncident, inc(R"(,"place":")" + std::string(kMaxPlaceBytes, 'p') + "\"")).events.size() == 1);
  InputError e = ErrorOf(InputKind::kIncident, inc(R"(,"place":")" + std::string(kMaxPlaceBytes + 1, 'p') + "\""));
  EXPECT_EQ(e.field, "place");
  EXPECT_EQ(e.reason_code, "out_of_range");
  e = ErrorOf(InputKind::kIncident, inc(R"(,"place":12)"));
  EXPECT_EQ(e.field, "place");
  EXPECT_EQ(e.reason_code, "bad_type");
}

TEST(JsonInputTest, IncidentErrorsNameTheField) {
  auto inc = [](const std::string& fields) { return "{" + kHead + fields + "}"; };
  EXPECT_EQ(ErrorOf(InputKind::kIncident, inc(R"("category":"violence","severity":3)")).field, "station_id");
  InputError e = ErrorOf(InputKind::kIncident, inc(R"("station_id":"S1","category":"riot","severity":3)"));
  EXPECT_EQ(e.field, "category");
  EXPECT_EQ(e.reason_code, "unknown_category");
  EXPECT_NE(e.message.find("ballot_tampering"), std::string::npos);
  e = ErrorOf(InputKind::kIncident, inc(R"("station_id":"S1","category":"violence","severity":9)"));
  EXPECT_EQ(e.field, "severity");
  EXPECT_EQ(e.reason_code, "out_of_range");
  EXPECT_EQ(ErrorOf(InputKind::kIncident, inc(R"("station_id":"S1","category":"violence","severity":2.5)")).reason_code, "bad_type");
  EXPECT_EQ(ErrorOf(InputKind::kIncident, inc(R"("station_id":"S1","category":"violence","severity":"3")")).reason_code, "bad_type");
  EXPECT_EQ(ErrorOf(InputKind::kIncident, inc(R"("station_id":7,"category":"violence","severity":3)")).field, "station_id");
  EXPECT_EQ(ErrorOf(InputKind::kIncident, inc(R"("station_id":"S1","category":"violence","severity":3,"lat":6.5)")).field, "lon");
  EXPECT_EQ(ErrorOf(InputKind::kIncident, inc(R"("station_id":"S1","category":"violence","severity":3,"lat":0,"lon":0)")).reason_code, "bad_value");
  EXPECT_EQ(ErrorOf(InputKind::kIncident, inc(R"("station_id":"S1","category":"violence","severity":3,"lat":91,"lon":0)")).field, "lat");
  EXPECT_EQ(ErrorOf(InputKind::kIncident, inc(R"("station_id":"S1","category":"violence","severity":3,"description":")" + std::string(2001, 'x') + "\"")).field, "description");
}

TEST(JsonInputTest, HeaderFieldsAreChecked) {
  std::string body = R"({"occurred_at":"2027-02-25T08:30:00Z","station_id":"S1","voters_cast":1})";
  EXPECT_EQ(ErrorOf(InputKind::kTurnout, body).field, "event_id");
  EXPECT_EQ(ErrorOf(InputKind::kTurnout, R"({"event_id":"has space","occurred_at":"2027-02-25T08:30:00Z","station_id":"S1","voters_cast":1})").field, "event_id");
  InputError e = ErrorOf(InputKind::kTurnout, R"({"event_id":"a","occurred_at":"yesterday","station_id":"S1","voters_cast":1})");
  EXPECT_EQ(e.field, "occurred_at");
  EXPECT_EQ(e.reason_code, "bad_time");
}

TEST(JsonInputTest, MalformedBodiesAreBadJson) {
  for (std::string body : std::vector<std::string>{"", "{", "[1,2", "nul", "\"just a string\"", "42", std::string(100, '[') + std::string(100, ']'),
                                                          "{} {}", R"({"event_id":"a"} trailing)"}) {
    InputError e = ErrorOf(InputKind::kIncident, body);
    EXPECT_EQ(e.reason_code, "bad_json") << body;
    EXPECT_EQ(e.field, "");
  }
  EXPECT_EQ(ErrorOf(InputKind::kIncident, "[]").reason_code, "bad_json");  // arrays only for kits and turnout
  EXPECT_EQ(ErrorOf(InputKind::kTurnout, "[]").reason_code, "bad_json");   // an empty batch
}

TEST(JsonInputTest, DuplicateKeysAreRefusedAndNamed) {
  InputError e = ErrorOf(InputKind::kIncident,
                         "{" + kHead + R"("station_id":"S1","category":"violence","severity":9,"severity":1})");
  EXPECT_EQ(e.reason_code, "duplicate_key");
  EXPECT_EQ(e.field, "severity");
  EXPECT_NE(e.message.find("'severity'"), std::string::npos) << e.message;
  // Also a header field, a key split by escapes, and inside a batch.
  EXPECT_EQ(ErrorOf(InputKind::kTurnout, "{" + kHead + R"("event_id":"e-2","station_id":"S1","voters_cast":1})").field,
            "event_id");
  EXPECT_EQ(ErrorOf(InputKind::kTurnout, "{" + kHead + R"("station_id":"S1","voters_cast":1,"voters_cast":2})").field,
            "voters_cast");
  std::string ok = "{" + kHead + R"("station_id":"S1","voters_cast":1})";
  std::string twice = "{" + kHead + R"("station_id":"S1","station_id":"S2","voters_cast":1})";
  EXPECT_EQ(ErrorOf(InputKind::kTurnout, "[" + ok + "," + ok + "," + twice + "]").field, "[2].station_id");
  // The same key in two objects, or in a nested and its enclosing object, is no duplicate.
  DecodedInput d = DecodeJsonInput(InputKind::kTurnout, "[" + ok + "," + ok + "]");
  EXPECT_FALSE(d.error) << d.error->message;
  d = DecodeJsonInput(InputKind::kIncident,
                      "{" + kHead + R"("station_id":"S1","category":"other","severity":2,"extra":{"severity":5}})");
  ASSERT_FALSE(d.error) << d.error->message;
  EXPECT_EQ(d.events[0].incident().severity(), 2);
}

TEST(JsonInputTest, TurnoutTakesABatch) {
  auto count = [](int i, int cast) {
    return R"({"event_id":"t)" + std::to_string(i) + R"(","occurred_at":"2027-02-25T17:30:00Z","station_id":"S)" +
           std::to_string(i) + R"(","voters_cast":)" + std::to_string(cast) + R"(,"registered":500})";
  };
  DecodedInput d = DecodeJsonInput(InputKind::kTurnout, "[" + count(0, 100) + "," + count(1, 200) + "]");
  ASSERT_FALSE(d.error) << d.error->message;
  ASSERT_EQ(d.events.size(), 2u);
  EXPECT_EQ(d.events[1].turnout().station_id(), "S1");
  EXPECT_EQ(d.events[1].turnout().voters_cast(), 200);
  EXPECT_EQ(ErrorOf(InputKind::kTurnout, "[" + count(0, 100) + "," + count(1, 900) + "]").field, "[1].voters_cast");
}

TEST(JsonInputTest, ImpossibleCalendarDatesAreBadTime) {
  for (const char* date : {"2026-02-30", "2026-11-31", "2026-02-29"}) {
    InputError e = ErrorOf(InputKind::kTurnout, std::string(R"({"event_id":"a","occurred_at":")") + date +
                                                    R"(T10:00:00Z","station_id":"S1","voters_cast":1})");
    EXPECT_EQ(e.field, "occurred_at") << date;
    EXPECT_EQ(e.reason_code, "bad_time") << date;
    EXPECT_NE(e.message.find("not a calendar date"), std::string::npos) << e.message;
  }
}

TEST(JsonInputTest, HateSpeechTurnoutAndKit) {
  DecodedInput h = DecodeJsonInput(InputKind::kHateSpeech, "{" + kHead +
      R"("area":"KANO/NASSARAWA","text":"...","target_group":"group x","reach":12000,"confidence":0.75})");
  ASSERT_FALSE(h.error) << h.error->message;
  EXPECT_EQ(h.events[0].hate_speech().reach(), 12000);
  EXPECT_DOUBLE_EQ(h.events[0].hate_speech().confidence(), 0.75);
  EXPECT_EQ(ErrorOf(InputKind::kHateSpeech, "{" + kHead + R"("text":"x","confidence":0.5})").field, "station_id");
  EXPECT_EQ(ErrorOf(InputKind::kHateSpeech, "{" + kHead + R"("area":"A/B","text":"x","confidence":1.5})").field, "confidence");

  DecodedInput t = DecodeJsonInput(InputKind::kTurnout, "{" + kHead + R"("station_id":"S1","voters_cast":300,"registered":800})");
  ASSERT_FALSE(t.error);
  EXPECT_EQ(t.events[0].turnout().voters_cast(), 300);
  EXPECT_EQ(ErrorOf(InputKind::kTurnout, "{" + kHead + R"("station_id":"S1","voters_cast":900,"registered":800})").field, "voters_cast");
  EXPECT_EQ(ErrorOf(InputKind::kTurnout, "{" + kHead + R"("station_id":"S1","voters_cast":-1})").field, "voters_cast");

  std::string kit = "{" + kHead + R"("kit_id":"K1","station_id":"S1","battery_pct":55.5,"accredited_total":120,"auth_failures":3,"tamper":true})";
  DecodedInput k = DecodeJsonInput(InputKind::kKit, kit);
  ASSERT_FALSE(k.error);
  EXPECT_TRUE(k.events[0].kit().tamper());
  EXPECT_DOUBLE_EQ(k.events[0].kit().battery_pct(), 55.5);
  EXPECT_EQ(ErrorOf(InputKind::kKit, "{" + kHead + R"("kit_id":"K1","station_id":"S1","battery_pct":101,"accredited_total":1,"auth_failures":0,"tamper":false})").field, "battery_pct");
  EXPECT_EQ(ErrorOf(InputKind::kKit, "{" + kHead + R"("kit_id":"K1","station_id":"S1","battery_pct":50,"accredited_total":1,"auth_failures":0,"tamper":"no"})").field, "tamper");
}

TEST(JsonInputTest, KitBatchesAreAllOrNothingAndBounded) {
  auto reading = [](int i, const std::string& battery) {
    return R"({"event_id":"k)" + std::to_string(i) + R"(","occurred_at":"2027-02-25T08:30:00Z","kit_id":"K1","station_id":"S1","battery_pct":)" +
           battery + R"(,"accredited_total":1,"auth_failures":0,"tamper":false})";
  };
  std::string ok = "[" + reading(0, "50") + "," + reading(1, "49") + "]";
  DecodedInput d = DecodeJsonInput(InputKind::kKit, ok);
  ASSERT_FALSE(d.error);
  EXPECT_EQ(d.events.size(), 2u);
  std::string bad = "[" + reading(0, "50") + "," + reading(1, "49") + "," + reading(2, "\"low\"") + "]";
  EXPECT_EQ(ErrorOf(InputKind::kKit, bad).field, "[2].battery_pct");
  std::string big = "[";
  for (size_t i = 0; i <= kMaxKitBatch; ++i) big += (i ? "," : "") + reading(static_cast<int>(i), "50");
  EXPECT_EQ(ErrorOf(InputKind::kKit, big + "]").reason_code, "batch_too_large");
  EXPECT_EQ(ErrorOf(InputKind::kKit, "[]").reason_code, "bad_json");
}

}  // namespace
}  // namespace ewarn::ingest
