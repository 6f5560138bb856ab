// Repeated event ids (station/dedupe.h): a report that two ingest replicas both appended, because
// a retry reached the second one, is processed once; the ids kept are bounded by the allowed
// lateness, survive a restart through the state store, and do not make digests depend on how the
// run was cut into commits.
#include "station/stage_fixture.h"

namespace ewarn::processors::station_test {
namespace {

class StationDedupeTest : public StationStageTest {
 protected:
  // How many event ids the station stage's store remembers (keys PARTITION 'e' ID).
  size_t RememberedIds() {
    size_t n = 0;
    Status st = state_->Scan(kStationStageStore, "", [&](std::string_view key, std::string_view) {
      if (key.size() > 4 && key[4] == 'e') ++n;
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return n;
  }
  // A retry as another ingest replica appends it: the same event, received again later.
  void Retry(const std::string& id, const std::string& station, int64_t t, const std::string& reporter,
             int64_t received) {
    v1::Event e = Header(id, t, reporter);
    e.mutable_header()->set_received_time_ms(received);
    auto* in = e.mutable_incident();
    in->set_station_id(station);
    in->set_category(v1::INCIDENT_CATEGORY_VIOLENCE);
    in->set_severity(5);
    in->set_description("report " + id);
    Append(e);
  }
  size_t Enriched(const std::string& id) {
    size_t n = 0;
    for (const auto& e : Read(schemas::topic::kIncidents)) n += e.enriched().event_id() == id;
    return n;
  }
  v1::Situation LastSituation() {
    auto situations = Read(schemas::topic::kSituations);
    EXPECT_FALSE(situations.empty());
    return situations.empty() ? v1::Situation() : situations.back().situation();
  }
};

TEST_F(StationDedupeTest, AReportRetriedThroughAnotherReplicaCountsOnce) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  Incident("r1", "IK-1-0", t, "mon-a");
  Retry("r1", "IK-1-0", t, "mon-a", t + 2000);  // the retry, appended by a second replica
  Incident("r2", "IK-1-1", t + kMin, "mon-b");
  Retry("r1", "IK-1-0", t, "mon-a", t + 3 * kMin);
  Run();
  EXPECT_EQ(Read(schemas::topic::kIncidents).size(), 2u);
  EXPECT_EQ(Enriched("r1"), 1u);
  v1::Situation s = LastSituation();
  EXPECT_EQ(std::vector<std::string>(s.member_event_ids().begin(), s.member_event_ids().end()),
            (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(s.independent_reporters(), 2);
  // Dropped, not refused: nothing went to the dead letters, and the runtime counts the repeats.
  EXPECT_TRUE(Read("dlq.processing").empty());
  EXPECT_EQ(runtime_->stats().duplicates, 2);
  EXPECT_EQ(RememberedIds(), 2u);
}

TEST_F(StationDedupeTest, ARetryAfterARestartFromTheStoreCountsOnce) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  Incident("r1", "IK-1-0", t, "mon-a");
  Run();
  ASSERT_TRUE(runtime_->Close().ok());
  runtime_.reset();  // a new runtime and new processors: what they know comes from the store
  Retry("r1", "IK-1-0", t, "mon-a", t + 10 * kMin);
  Incident("r2", "IK-1-1", t + 11 * kMin, "mon-b");
  Run();
  EXPECT_EQ(Enriched("r1"), 1u);
  v1::Situation s = LastSituation();
  EXPECT_EQ(std::vector<std::string>(s.member_event_ids().begin(), s.member_event_ids().end()),
            (std::vector<std::string>{"r1", "r2"}));
}

TEST_F(StationDedupeTest, IdsOlderThanTheAllowedLatenessAreForgotten) {
  ImportStations();
  const int64_t lateness = rules_.time().allowed_lateness_ms();
  int64_t t = kOpen + 30 * kMin;
  for (int i = 0; i < 10; ++i) Incident("old" + std::to_string(i), "EP-" + std::to_string(i), t + i * kMin, "m");
  Run();
  EXPECT_EQ(RememberedIds(), 10u);
  // The clock moves past the window of the first five only.
  Tick(t + 4 * kMin + lateness + kMin);
  Run();
  EXPECT_EQ(RememberedIds(), 5u);
  // A retry of a forgotten id is refused as late, as the report itself would be now: never counted.
  Retry("old0", "EP-0", t, "m", t + lateness + 5 * kMin);
  Run();
  EXPECT_EQ(Enriched("old0"), 1u);
  auto dlq = Read("dlq.processing");
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].rejected().reason_code(), "late");
  // A retry of a remembered one is still dropped without a dead letter.
  Retry("old9", "EP-9", t + 9 * kMin, "m", t + lateness + 6 * kMin);
  Run();
  EXPECT_EQ(Enriched("old9"), 1u);
  EXPECT_EQ(Read("dlq.processing").size(), 1u);
  // Everything forgotten once the clock is past the window of the last.
  Tick(t + 9 * kMin + lateness + kMin);
  Run();
  EXPECT_EQ(RememberedIds(), 0u);
}

// Retries change nothing: with them appended after the originals, the state and output digests
// equal a run that never saw them, whether it ran in one go or restarted between parts.
TEST_F(StationDedupeTest, RetriesLeaveTheDigestsOfARunWithoutThem) {
  auto originals = [&] {
    for (int i = 0; i < 12; ++i) {
      Incident("a" + std::to_string(i), "IK-1-" + std::to_string(i), kOpen + i * kMin, "mon-" + std::to_string(i % 3));
      Turnout("t" + std::to_string(i), "IK-2-" + std::to_string(i), kOpen + i * kMin, 100 + i);
    }
    TicksEveryMinute(kOpen + 12 * kMin, kOpen + 40 * kMin);
  };
  ImportStations();
  originals();
  Run();
  std::string without = Digest();

  testing::TempDir other;
  Open(other);
  ImportStations();
  originals();
  Run();
  ASSERT_TRUE(runtime_->Close().ok());
  runtime_.reset();
  for (int i = 0; i < 12; i += 2) {
    Retry("a" + std::to_string(i), "IK-1-" + std::to_string(i), kOpen + i * kMin, "mon-" + std::to_string(i % 3),
          kOpen + 41 * kMin);
    v1::Event turnout = Header("t" + std::to_string(i), kOpen + i * kMin);
    turnout.mutable_turnout()->set_station_id("IK-2-" + std::to_string(i));
    turnout.mutable_turnout()->set_voters_cast(100 + i);
    Append(turnout);
  }
  Run();
  EXPECT_EQ(runtime_->stats().outputs, 0);
  EXPECT_EQ(runtime_->stats().processed, 0);
  EXPECT_EQ(runtime_->stats().duplicates, 12);  // counted as repeats (ewarn_processors_records_total{outcome="duplicate"})
  EXPECT_EQ(Digest(), without);
}

}  // namespace
}  // namespace ewarn::processors::station_test
