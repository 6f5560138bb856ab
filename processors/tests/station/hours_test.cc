// Polling hours per area (ref.hours): a country spanning two time zones. Each station keeps its
// most specific area's hours, so kit silence, heaping and the results deadline follow its own
// close, an hour apart between the east and the west (issue 17 item 5).
#include "reference.h"
#include "station/stage_fixture.h"

namespace ewarn::processors::station_test {
namespace {

constexpr int64_t kHourMs = 60 * kMin;
// Polls open 08:00 and close 17:00 local time everywhere. LAGOS (the region) is at +02:00, so
// IKEJA (no hours of its own) closes at 15:00 UTC; MUSHIN's ward E1 is at +01:00 and beats the
// district's +03:00, so MUSHIN closes at 16:00 UTC. The rules' default would be 17:00 UTC for both.
const int64_t kEastClose = kDay + 15 * kHourMs;
const int64_t kWestClose = kDay + 16 * kHourMs;

class HoursTest : public StationStageTest {
 protected:
  void SetUp() override {
    StationStageTest::SetUp();
    ImportStations();
    ASSERT_TRUE(log_->CreateTopic({.name = "ref.hours", .partitions = 1, .compacted = true}).ok());
    std::vector<store::OutRecord> recs;
    for (auto [area, offset_minutes] : {std::pair{"LAGOS", 120}, {"LAGOS/MUSHIN", 180}, {"LAGOS/MUSHIN/E1", 60}}) {
      v1::Event e = Header(std::string("hours:") + area, kDay);
      auto* h = e.mutable_hours();
      h->set_area_id(area);
      h->set_open_ms_of_day(8 * kHourMs);
      h->set_close_ms_of_day(17 * kHourMs);
      h->set_utc_offset_minutes(offset_minutes);
      recs.push_back({.topic = "ref.hours", .key = area, .value = schemas::EncodeEvent(e), .partition = 0});
    }
    ASSERT_TRUE(log_->Append(recs).ok());
  }

  void Sheet(const std::string& id, const std::string& station, int64_t t) {
    v1::Event e = Header(id, t);
    auto* s = e.mutable_result_sheet();
    s->set_station_id(station);
    s->set_contest("PRES-2027");
    s->set_submitter_role(v1::SUBMITTER_ROLE_PRESIDING_OFFICER);
    auto* v = s->add_votes();
    v->set_candidate("A");
    v->set_votes(100);
    Append(e);
  }

  // The event times of a detector's anomalies, by subject.
  std::map<std::string, std::vector<int64_t>> Times(const std::string& detector) {
    std::map<std::string, std::vector<int64_t>> out;
    for (const auto& e : Read(schemas::topic::kAnomalies)) {
      if (e.anomaly().detector() == detector) out[e.anomaly().subject_id()].push_back(e.header().event_time_ms());
    }
    return out;
  }
};

TEST_F(HoursTest, AKitFallingSilentBetweenTheTwoClosesIsSilentOnlyWherePollsAreStillOpen) {
  // Both kits report every 5 minutes until 15:00 UTC, then nothing: in the east polls have
  // closed (the kit is parked), in the west they are open for another hour (it is silent).
  for (int64_t t = kEastClose - 60 * kMin; t <= kEastClose; t += 5 * kMin) {
    Kit("east-" + std::to_string(t), "IK-1-0", t, (t - kDay) / kMin);
    Kit("west-" + std::to_string(t), "EP-0", t, (t - kDay) / kMin);
  }
  TicksEveryMinute(kEastClose - 59 * kMin, kEastClose + 30 * kMin);
  Run();
  auto silent = Times("kit.silent");
  EXPECT_EQ(silent.count("IK-1-0"), 0u) << "polls in the east closed at 15:00 UTC";
  ASSERT_EQ(silent["EP-0"].size(), 1u);
  EXPECT_GT(silent["EP-0"][0], kEastClose + rules_.kit().silent_after_ms());
  EXPECT_LE(silent["EP-0"][0], kEastClose + rules_.kit().silent_after_ms() + 2 * kMin);
}

TEST_F(HoursTest, HeapingIsTestedAtTheDistrictsOwnClose) {
  int n = 0;
  for (int w = 1; w <= 2; ++w) {  // IKEJA, in the east: whole percentages of 1,000 registered
    for (int i = 0; i < 12; ++i, ++n) {
      Turnout("ik" + std::to_string(n), "IK-" + std::to_string(w) + "-" + std::to_string(i),
              kEastClose - 50 * kMin + n * kMin, 10 * (45 + n % 20));
    }
  }
  Tick(kEastClose - kMin);
  Run();
  EXPECT_TRUE(Anomalies("turnout.heaping").empty()) << "not before 15:00 UTC";
  Tick(kEastClose);
  Run();
  auto heaping = Times("turnout.heaping");
  ASSERT_EQ(heaping["LAGOS/IKEJA"].size(), 1u);
  EXPECT_EQ(heaping["LAGOS/IKEJA"][0], kEastClose);  // the rules' UTC close would be 17:00
}

TEST_F(HoursTest, ResultsAreDueTwoHoursAfterEachStationsOwnClose) {
  Sheet("ik", "IK-1-0", kWestClose + 30 * kMin);  // 1 of 24 in IKEJA, 1 of 12 in MUSHIN
  Sheet("ep", "EP-0", kWestClose + 30 * kMin);
  const int64_t after = rules_.results().missing_after_close_ms();
  TicksEveryMinute(kWestClose + 31 * kMin, kWestClose + after + 5 * kMin);
  Run();
  auto missing = Times("results.missing");
  ASSERT_FALSE(missing["LAGOS/IKEJA"].empty());
  EXPECT_GE(missing["LAGOS/IKEJA"][0], kEastClose + after);
  EXPECT_LE(missing["LAGOS/IKEJA"][0], kEastClose + after + 2 * kMin);
  ASSERT_FALSE(missing["LAGOS/MUSHIN"].empty());
  EXPECT_GE(missing["LAGOS/MUSHIN"][0], kWestClose + after);  // an hour later than the east
  EXPECT_LE(missing["LAGOS/MUSHIN"][0], kWestClose + after + 2 * kMin);
}

TEST_F(HoursTest, AStationsHoursAreItsMostSpecificAreas) {
  ReferenceData reference(*log_);
  ASSERT_TRUE(reference.Refresh().ok());
  const StationRef* east = reference.Find("IK-1-0");
  const StationRef* west = reference.Find("EP-0");
  ASSERT_NE(east, nullptr);
  ASSERT_NE(west, nullptr);
  ASSERT_TRUE(reference.HoursOf(*east).has_value());
  EXPECT_EQ(reference.HoursOf(*east)->utc_offset_ms, 120 * kMin);  // the region's
  EXPECT_EQ(reference.HoursOf(*west)->utc_offset_ms, 60 * kMin);   // the ward's, not the district's
}

TEST_F(HoursTest, AReplayOfTheLogWithItsHoursGivesTheSameDigest) {
  for (int64_t t = kEastClose - 60 * kMin; t <= kEastClose; t += 5 * kMin) {
    Kit("east-" + std::to_string(t), "IK-1-0", t, (t - kDay) / kMin);
    Kit("west-" + std::to_string(t), "EP-0", t, (t - kDay) / kMin);
  }
  TicksEveryMinute(kEastClose - 59 * kMin, kWestClose + 29 * kMin);
  Sheet("ep", "EP-0", kWestClose + 30 * kMin);
  TicksEveryMinute(kWestClose + 31 * kMin, kWestClose + 3 * 60 * kMin);
  Run();
  ASSERT_EQ(Times("kit.silent").size(), 1u);  // the west's
  ASSERT_FALSE(Times("results.missing").empty());  // MUSHIN, due at 18:00 UTC
  const std::string first = Digest();
  testing::TempDir other;
  runtime_.reset();
  auto src = std::move(log_);
  Open(other);
  ASSERT_TRUE(log_->CreateTopic({.name = "ref.hours", .partitions = 1, .compacted = true}).ok());
  for (std::string topic : {"ref.stations", "ref.hours", "in.events"}) {
    for (int32_t p = 0; p < *src->PartitionCount(topic); ++p) {
      auto got = src->Read({topic, p}, 0, 100000);
      ASSERT_TRUE(got.ok());
      std::vector<store::OutRecord> recs;
      for (const auto& r : *got) {
        recs.push_back({.topic = topic, .key = r.key, .value = r.value, .timestamp_ms = r.timestamp_ms, .partition = p});
      }
      if (!recs.empty()) {
        ASSERT_TRUE(log_->Append(recs).ok());
      }
    }
  }
  Run();
  EXPECT_EQ(Digest(), first);
}

}  // namespace
}  // namespace ewarn::processors::station_test
