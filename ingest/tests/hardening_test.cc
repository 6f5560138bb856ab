// What a new user and a hostile client hit first (issue 13, 17): reporters, time windows, areas,
// dead letters that must stay readable, and per-role rate limits. On the real log and store.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <set>

#include "ewarn/base/text.h"
#include "ewarn/base/time.h"

#include "ingest_fixture.h"

namespace ewarn::ingest {
namespace {

class HardeningTest : public IngestTest {
 protected:
  int CountRejected(const std::string& reason) {
    int n = 0;
    for (const auto& e : Topic(schemas::topic::kRejected)) n += e.rejected().reason_code() == reason;
    return n;
  }
};

std::string KannelSms(const std::string& gateway_header, const std::string& from, const std::string& text) {
  std::string token = gateway_header.substr(std::string("Authorization: Bearer ").size());
  return "/v1/sms/kannel?from=" + from + "&text=" + text + "&token=" + token;
}

TEST_F(HardeningTest, EveryTokenPrincipalIsItsOwnReporterAndALinkedMonitorIsOne) {
  // Names without digits once all became the pseudonym of "" (the phone routine keeps digits).
  for (std::string name : {"alice", "bob", "carol"}) {
    std::string auth = Token(name, Role::kMonitor, "LAGOS");
    ASSERT_EQ(Post("/v1/incidents", auth, Incident("inc-" + name)).status, 202);
  }
  std::set<std::string> reporters;
  for (const auto& e : Topic(schemas::topic::kInputs)) {
    EXPECT_EQ(e.header().reporter().size(), 32u);
    reporters.insert(e.header().reporter());
  }
  EXPECT_EQ(reporters.size(), 3u);
  EXPECT_FALSE(reporters.contains(MonitorRegistry::PhonePseudonym(kSecret, "")));

  // A monitor registered under the token's name is the same person by app and by SMS.
  v1::Monitor m;
  m.set_monitor_id("amina");
  m.set_name("amina");
  m.set_area("LAGOS/IKEJA");
  m.set_phone_pseudonym(MonitorRegistry::PhonePseudonym(kSecret, "+234 809 000 1111"));
  ASSERT_TRUE(ingestor_->monitors().Register(m).ok());
  ASSERT_EQ(Post("/v1/incidents", monitor_, Incident("inc-amina-app")).status, 202);
  RawResponse sms = Request(server_->port(), "GET", KannelSms(gateway_, "%2B2348090001111", "inc+s1+violence+4+mob"));
  ASSERT_EQ(sms.status, 200) << sms.body;
  std::set<std::string> amina;
  for (const auto& e : Topic(schemas::topic::kInputs)) {
    if (e.header().principal() == "amina" || e.header().source() == v1::SOURCE_SMS) amina.insert(e.header().reporter());
  }
  EXPECT_EQ(amina, (std::set<std::string>{m.phone_pseudonym()}));
}

TEST_F(HardeningTest, DeadLettersOfAnyBytesAreListedAsValidJson) {
  const std::string garbage = "{\"event_id\":\"\xff\xfe\",\"note\":\"a\\\\xff\"}";  // also a literal \xff
  ASSERT_EQ(Post("/v1/incidents", monitor_, garbage).status, 400);
  ASSERT_EQ(Post("/v1/incidents", monitor_, "{\"event_id\":\"Москва\"}").status, 400);
  RawResponse list = Request(server_->port(), "GET", "/v1/rejected?from=0", {operator_});
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_TRUE(IsValidUtf8(list.body));
  boost::system::error_code ec;
  boost::json::value page = boost::json::parse(list.body, ec);  // Boost.JSON refuses invalid UTF-8
  ASSERT_FALSE(ec) << ec.message() << ": " << list.body;
  const auto& rejected = page.at("rejected").as_array();
  ASSERT_EQ(rejected.size(), 2u);
  const auto& first = rejected[0].as_object();
  EXPECT_FALSE(first.at("raw_utf8").as_bool());
  std::string bytes;
  ASSERT_TRUE(Base64Decode(std::string(first.at("raw_base64").as_string()), &bytes));
  EXPECT_EQ(bytes, garbage);
  // The preview shows the bad bytes, and a literal backslash apart from them.
  EXPECT_EQ(std::string(first.at("raw").as_string()), "{\"event_id\":\"\\xFF\\xFE\",\"note\":\"a\\\\\\\\xff\"}");
  const auto& second = rejected[1].as_object();
  EXPECT_TRUE(second.at("raw_utf8").as_bool());
  EXPECT_EQ(std::string(second.at("raw").as_string()), "{\"event_id\":\"Москва\"}");
}

std::string IncidentAt(const std::string& id, const std::string& occurred_at, const std::string& station = "S1") {
  return R"({"event_id":")" + id + R"(","occurred_at":")" + occurred_at + R"(","station_id":")" + station +
         R"(","category":"violence","severity":4})";
}

TEST_F(HardeningTest, WhatProcessingWouldDropAsLateOrTimelessIsRefused) {
  // Live time: the ticker says it is now (2023-11-14T22:13:20Z) everywhere.
  ASSERT_TRUE(ingestor_->AppendTicks(kNow).ok());
  RawResponse late = Post("/v1/incidents", monitor_, IncidentAt("two-days-ago", "2023-11-12T22:00:00Z"));
  EXPECT_EQ(late.status, 400) << late.body;
  EXPECT_NE(late.body.find("\"reason\":\"too_late\""), std::string::npos) << late.body;
  EXPECT_NE(late.body.find("\"field\":\"occurred_at\""), std::string::npos) << late.body;
  EXPECT_NE(late.body.find("accepted: from 2023-11-14T16:13:20.000Z to 2023-11-14T22:18:20.000Z"), std::string::npos)
      << late.body;
  for (std::string timeless : {"1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z"}) {
    RawResponse r = Post("/v1/incidents", monitor_, IncidentAt("timeless-" + timeless.substr(0, 4), timeless));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("\"reason\":\"no_event_time\""), std::string::npos) << r.body;
  }
  EXPECT_EQ(Post("/v1/incidents", monitor_, IncidentAt("five-hours-ago", "2023-11-14T17:13:20Z")).status, 202);
  EXPECT_EQ(CountRejected("too_late"), 1);
  EXPECT_EQ(CountRejected("no_event_time"), 2);
}

TEST_F(HardeningTest, BackfillsOfAPastDayWorkOnTheEventsOwnTime) {
  // No ticks: the partition's clock is the event time of what was appended there.
  for (std::string hour : {"08", "12", "18"}) {
    RawResponse r = Post("/v1/incidents", monitor_, IncidentAt("day-" + hour, "2023-11-01T" + hour + ":00:00Z"));
    EXPECT_EQ(r.status, 202) << hour << ": " << r.body;
  }
  int32_t lagos = PartitionForKey(schemas::DistrictKey("LAGOS", "IKEJA"), 4);
  EXPECT_EQ(ingestor_->PartitionEventTime(lagos), *ParseRfc3339("2023-11-01T18:00:00Z"));
  EXPECT_EQ(Post("/v1/incidents", monitor_, IncidentAt("day-13", "2023-11-01T13:00:00Z")).status, 202);
  RawResponse late = Post("/v1/incidents", monitor_, IncidentAt("day-11", "2023-11-01T11:00:00Z"));
  EXPECT_EQ(late.status, 400) << late.body;
  EXPECT_NE(late.body.find("too_late"), std::string::npos) << late.body;
  // Another district's partition has its own clock.
  int32_t kano = PartitionForKey(schemas::DistrictKey("KANO", "NASSARAWA"), 4);
  if (kano != lagos) {
    EXPECT_EQ(Post("/v1/incidents", anywhere_, IncidentAt("kano-09", "2023-11-01T09:00:00Z", "S3")).status, 202);
  }
  // In a batch, an earlier report moves the clock for the later ones, as processing sees them.
  std::string batch = R"([{"event_id":"t-1","occurred_at":"2023-11-02T18:00:00Z","station_id":"S2","voters_cast":5},)"
                      R"({"event_id":"t-2","occurred_at":"2023-11-02T11:00:00Z","station_id":"S2","voters_cast":6}])";
  RawResponse b = Post("/v1/turnout", monitor_, batch);  // answered per element: t-1 in, t-2 too late
  EXPECT_EQ(b.status, 207) << b.body;
  EXPECT_NE(b.body.find(R"({"index":1,"status":400,)"), std::string::npos) << b.body;
  EXPECT_NE(b.body.find(R"("field":"occurred_at","reason":"too_late"})"), std::string::npos) << b.body;
  EXPECT_EQ(ingestor_->PartitionEventTime(lagos), *ParseRfc3339("2023-11-02T18:00:00Z"));  // t-1 moved it
  // The clock survives a restart (kept with the idempotency checkpoint, and rescanned).
  Restart();
  EXPECT_EQ(ingestor_->PartitionEventTime(lagos), *ParseRfc3339("2023-11-02T18:00:00Z"));
  EXPECT_EQ(Post("/v1/incidents", monitor_, IncidentAt("day-11-again", "2023-11-01T11:00:00Z")).status, 400);
  // Ticks over HTTP move it too.
  RawResponse tick = Request(server_->port(), "POST", "/v1/ticks", {operator_}, R"({"time":"2023-11-03T12:00:00Z"})");
  ASSERT_EQ(tick.status, 200) << tick.body;
  EXPECT_EQ(ingestor_->PartitionEventTime(lagos), *ParseRfc3339("2023-11-03T12:00:00Z"));
  EXPECT_EQ(Post("/v1/incidents", monitor_, IncidentAt("day-2-18", "2023-11-02T18:00:00Z")).status, 400);
  // A retry of a stored report is still the duplicate it is, however far the clock has moved.
  RawResponse retry = Post("/v1/incidents", monitor_, IncidentAt("day-08", "2023-11-01T08:00:00Z"));
  EXPECT_EQ(retry.status, 202) << retry.body;
  EXPECT_NE(retry.body.find("\"duplicates\":1"), std::string::npos) << retry.body;
  EXPECT_EQ(ingestor_->SubmitJson(InputKind::kIncident, monitor_.substr(15), IncidentAt("day-3", "2023-11-03T07:00:00Z"))
                .http_status,
            202);
}

std::string Flag(const std::string& id, const std::string& where) {
  return R"({"event_id":")" + id + R"(","occurred_at":"2023-11-14T21:00:00Z",)" + where +
         R"(,"text":"they must leave","confidence":0.9})";
}

TEST_F(HardeningTest, AreasAreCanonicalKnownAndTheStationsOwn) {
  struct Case {
    const std::string* auth;
    std::string where;
    int status;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {&anywhere_, R"("area":"LAGOS/IKEJA/../../KANO/NASSARAWA")", 400, "bad_area"},
      {&monitor_, R"("area":"LAGOS/IKEJA/../../KANO/NASSARAWA")", 400, "bad_area"},  // once let through by AreaCovers
      {&anywhere_, R"("area":"LAGOS/./IKEJA")", 400, "bad_area"},
      {&anywhere_, R"("area":"LAGOS//IKEJA")", 400, "bad_area"},
      {&anywhere_, R"("area":"LAGOS/NOWHERE")", 400, "unknown_area"},
      {&anywhere_, R"("area":"LAGOS")", 400, "bad_area"},
      {&monitor_, R"("area":"KANO/NASSARAWA")", 403, "outside_area"},
      {&anywhere_, R"("station_id":"S1","area":"KANO/NASSARAWA")", 400, "area_mismatch"},
      {&anywhere_, R"("station_id":"S1","area":"LAGOS/IKEJA/ALAUSA")", 400, "area_mismatch"},
      {&anywhere_, R"("station_id":"S1","area":"LAGOS/IKEJA/../IKEJA")", 400, "bad_area"},
  };
  int n = 0;
  for (const auto& c : cases) {
    RawResponse r = Post("/v1/hate-speech", *c.auth, Flag("bad-" + std::to_string(n++), c.where));
    EXPECT_EQ(r.status, c.status) << c.where << ": " << r.body;
    EXPECT_NE(r.body.find("\"reason\":\"" + c.reason + "\""), std::string::npos) << c.where << ": " << r.body;
    EXPECT_NE(r.body.find("\"field\":\"area\""), std::string::npos) << c.where << ": " << r.body;
  }
  EXPECT_EQ(CountRejected("bad_area") + CountRejected("unknown_area") + CountRejected("outside_area") +
                CountRejected("area_mismatch"),
            static_cast<int>(cases.size()));
  // Accepted areas are stored in the canonical form.
  ASSERT_EQ(Post("/v1/hate-speech", monitor_, Flag("ok-1", R"("area":" lagos /  ikeja ")")).status, 202);
  ASSERT_EQ(Post("/v1/hate-speech", anywhere_, Flag("ok-2", R"("station_id":"S1","area":"Lagos/Ikeja/Anifowoshe")")).status,
            202);
  ASSERT_EQ(Post("/v1/hate-speech", anywhere_, Flag("ok-3", R"("station_id":"S1","area":"lagos/ikeja")")).status, 202);
  std::map<std::string, std::string> stored;
  for (const auto& e : Topic(schemas::topic::kInputs)) stored[e.header().event_id()] = e.hate_speech().area();
  EXPECT_EQ(stored["ok-1"], "LAGOS/IKEJA");
  EXPECT_EQ(stored["ok-2"], "LAGOS/IKEJA/ANIFOWOSHE");
  EXPECT_EQ(stored["ok-3"], "LAGOS/IKEJA");
  // A token's area is a path too.
  EXPECT_FALSE(ingestor_->principals().CreateToken("sneaky", Role::kMonitor, "LAGOS/../KANO", kNow).ok());
  auto fine = ingestor_->principals().CreateToken("tidy", Role::kMonitor, "lagos / ikeja/", kNow);
  ASSERT_TRUE(fine.ok()) << fine.status().ToString();
  auto tidy = ingestor_->principals().Authenticate("Bearer " + *fine);
  ASSERT_TRUE(tidy.ok());
  EXPECT_EQ(tidy->area, "LAGOS/IKEJA");
}

TEST(CanonicalAreaPathTest, OneFormOrARefusal) {
  EXPECT_EQ(*CanonicalAreaPath("lagos/ikeja/anifowoshe"), "LAGOS/IKEJA/ANIFOWOSHE");
  EXPECT_EQ(*CanonicalAreaPath("  Federal   Capital Territory /AMAC"), "FEDERAL CAPITAL TERRITORY/AMAC");
  for (const char* bad : {"", "/", "A/", "/A", "A//B", "A/../B", "..", "A/./B", "A/B/C/D", "A/B\nC", "A/\x01"}) {
    EXPECT_FALSE(CanonicalAreaPath(bad).ok()) << bad;
  }
}

// A batch of `n` final counts at S1..S3 (ids from `first`).
std::string Counts(int first, int n) {
  std::string body = "[";
  for (int i = first; i < first + n; ++i) {
    body += (i > first ? "," : "") + std::string(R"({"event_id":"count-)") + std::to_string(i) +
            R"(","occurred_at":"2023-11-14T21:00:00Z","station_id":"S)" + std::to_string(1 + i % 2) +
            R"(","voters_cast":)" + std::to_string(100 + i % 7) + R"(,"registered":800})";
  }
  return body + "]";
}

TEST_F(HardeningTest, GatewaysHaveAFarHigherRateThanMonitorsAndTurnoutTakesBatches) {
  // The fixture's monitors get 50/s, burst 50; gateways their own default, 2000/s, burst 20000.
  std::string gateway = gateway_.substr(std::string("Authorization: ").size());
  for (int batch = 0; batch < 10; ++batch) {
    Outcome o = ingestor_->SubmitJson(InputKind::kTurnout, gateway, Counts(batch * 400, 400));
    ASSERT_EQ(o.http_status, 202) << batch << ": " << o.ToJson();
    EXPECT_EQ(o.event_ids.size(), 400u);
  }
  EXPECT_EQ(Topic(schemas::topic::kInputs).size(), 4000u);
  // A monitor's batch of 60 is over its burst: 429 with the seconds to wait, and kept.
  std::string monitor = monitor_.substr(std::string("Authorization: ").size());
  Outcome refused = ingestor_->SubmitJson(InputKind::kTurnout, monitor, Counts(10000, 60));
  EXPECT_EQ(refused.http_status, 429) << refused.ToJson();
  EXPECT_EQ(refused.reason_code, "rate_limited");
  EXPECT_GE(refused.retry_after_seconds, 1);
  Outcome ok = ingestor_->SubmitJson(InputKind::kTurnout, monitor, Counts(10000, 40));
  EXPECT_EQ(ok.http_status, 202) << ok.ToJson();
  // Over HTTP the 429 carries Retry-After (10 tokens left, 20 asked).
  RawResponse r = Post("/v1/turnout", monitor_, Counts(20000, 20));
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_NE(r.headers.find("Retry-After: "), std::string::npos) << r.headers;
}

// Issue 17 item 6: a night of final counts in batches, each count answered on its own.
TEST_F(HardeningTest, ATurnoutBatchIsAnsweredPerElementAndEachRefusalIsDeadLettered) {
  auto count = [](const std::string& id, const std::string& station, int voters) {
    return R"({"event_id":")" + id + R"(","occurred_at":"2023-11-14T21:00:00Z","station_id":")" + station +
           R"(","voters_cast":)" + std::to_string(voters) + R"(,"registered":800})";
  };
  const std::string batch = "[" + count("f-0", "S1", 400) + "," + count("f-1", "NOWHERE", 300) + "," +
                            count("f-2", "S2", 900) + "," + count("f-3", "S3", 500) + "," + count("f-0", "S1", 400) +
                            "]";
  const size_t inputs_before = Topic(schemas::topic::kInputs).size();
  const size_t dead_before = Topic(schemas::topic::kRejected).size();
  RawResponse r = Post("/v1/turnout", gateway_, batch);
  EXPECT_EQ(r.status, 207) << r.body;
  for (const char* expected : {
           R"("status":"partly_refused","accepted":3,"refused":2,"event_ids":["f-0","f-3","f-0"],"duplicates":1)",
           R"({"index":0,"status":202,"event_id":"f-0","duplicate":false})",
           R"({"index":1,"status":400,"error":"unknown station 'NOWHERE'; check the id on the station list",)"
           R"("field":"station_id","reason":"unknown_station"})",
           R"({"index":2,"status":400,)",
           R"("field":"voters_cast")",
           R"({"index":3,"status":202,"event_id":"f-3","duplicate":false})",
           R"({"index":4,"status":202,"event_id":"f-0","duplicate":true})"}) {
    EXPECT_NE(r.body.find(expected), std::string::npos) << expected << "\n" << r.body;
  }
  EXPECT_EQ(Topic(schemas::topic::kInputs).size(), inputs_before + 2);
  // Each refusal is kept as the single form keeps it: its own element, its reason, the gateway.
  std::vector<v1::Event> dead = Topic(schemas::topic::kRejected);
  ASSERT_EQ(dead.size(), dead_before + 2);
  std::map<std::string, std::string> raw_by_reason;
  for (size_t i = dead_before; i < dead.size(); ++i) {
    EXPECT_EQ(dead[i].rejected().endpoint(), "POST /v1/turnout");
    EXPECT_EQ(dead[i].rejected().principal(), "kannel");
    raw_by_reason[dead[i].rejected().reason_code()] = dead[i].rejected().raw();
  }
  ASSERT_EQ(raw_by_reason.count("unknown_station"), 1u);
  EXPECT_NE(raw_by_reason["unknown_station"].find(R"("event_id":"f-1")"), std::string::npos);
  EXPECT_EQ(raw_by_reason["unknown_station"].find("f-0"), std::string::npos) << "only the element is kept";
  ASSERT_EQ(raw_by_reason.size(), 2u);

  // The gateway's retry of the whole batch stores nothing twice.
  RawResponse again = Post("/v1/turnout", gateway_, batch);
  EXPECT_EQ(again.status, 207) << again.body;
  EXPECT_NE(again.body.find(R"({"index":3,"status":202,"event_id":"f-3","duplicate":true})"), std::string::npos)
      << again.body;
  EXPECT_EQ(Topic(schemas::topic::kInputs).size(), inputs_before + 2);
  // A batch with nothing wrong is 202, still answered per element.
  RawResponse good = Post("/v1/turnout", gateway_, "[" + count("g-0", "S1", 410) + "," + count("g-1", "S2", 420) + "]");
  EXPECT_EQ(good.status, 202) << good.body;
  EXPECT_NE(good.body.find(R"("status":"accepted","accepted":2,"refused":0,"event_ids":["g-0","g-1"])"),
            std::string::npos)
      << good.body;
  // What is wrong with the body as a whole is still one answer.
  RawResponse broken = Post("/v1/turnout", gateway_, "[" + count("h-0", "S1", 1) + ",");
  EXPECT_EQ(broken.status, 400) << broken.body;
  EXPECT_NE(broken.body.find("bad_json"), std::string::npos) << broken.body;
}

// Each role's rate is its own setting (`serve --rate` for monitors, `--gateway-rate` for
// gateways and operators): one does not follow the other.
TEST_F(HardeningTest, AGatewaysRateIsConfiguredApartFromAMonitors) {
  server_.reset();
  ingestor_.reset();
  state_.reset();
  OpenIngestor({.pseudonym_secret = kSecret, .rate_per_second = 50, .rate_burst = 50,
                .gateway_rate_per_second = 1, .gateway_rate_burst = 5});
  StartServer();
  std::string gateway = gateway_.substr(std::string("Authorization: ").size());
  Outcome over = ingestor_->SubmitJson(InputKind::kTurnout, gateway, Counts(30000, 6));
  EXPECT_EQ(over.http_status, 429) << over.ToJson();
  EXPECT_GE(over.retry_after_seconds, 1);
  Outcome within = ingestor_->SubmitJson(InputKind::kTurnout, gateway, Counts(30000, 5));
  EXPECT_EQ(within.http_status, 202) << within.ToJson();
  std::string monitor = monitor_.substr(std::string("Authorization: ").size());
  Outcome monitors = ingestor_->SubmitJson(InputKind::kTurnout, monitor, Counts(31000, 40));
  EXPECT_EQ(monitors.http_status, 202) << monitors.ToJson();
}

}  // namespace
}  // namespace ewarn::ingest
