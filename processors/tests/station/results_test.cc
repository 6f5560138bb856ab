// Results: the counted sheet per station and contest (official over observer, then the latest),
// over-voting against the kits, conflicting sheets, and areas missing results after the deadline.
#include "station/stage_fixture.h"

namespace ewarn::processors::station_test {
namespace {

const int64_t kClose = kDay + 17 * 60 * kMin;  // polls close 17:00 UTC (default rules)

class ResultsTest : public StationStageTest {
 protected:
  void Sheet(const std::string& id, const std::string& station, int64_t t, int64_t a, int64_t b,
             v1::SubmitterRole role = v1::SUBMITTER_ROLE_PRESIDING_OFFICER) {
    v1::Event e = Header(id, t);
    auto* s = e.mutable_result_sheet();
    s->set_station_id(station);
    s->set_contest("PRES-2027");
    s->set_submitter_role(role);
    auto* va = s->add_votes();
    va->set_candidate("A");
    va->set_votes(a);
    auto* vb = s->add_votes();
    vb->set_candidate("B");
    vb->set_votes(b);
    Append(e);
  }
  // The counted sheet of a station (results store), as GET /v1/results reads it.
  std::optional<v1::Event> Counted(const std::string& station) {
    const Station& s = Find(station);
    auto v = state_->Get(kResultsStore, CountedResultKey("PRES-2027", s.region + "/" + s.district + "/" + s.ward, station));
    if (!v.ok() || !v->has_value()) return std::nullopt;
    return schemas::DecodeEvent(**v).value();
  }
};

TEST_F(ResultsTest, TheOfficialSheetCountsOverAnObserversAndTheLatestAmendmentOverTheFirst) {
  ImportStations();
  Sheet("obs", "IK-1-0", kClose + 10 * kMin, 150, 90, v1::SUBMITTER_ROLE_OBSERVER);
  Sheet("po", "IK-1-0", kClose + 20 * kMin, 120, 90);
  Sheet("obs-late", "IK-1-0", kClose + 30 * kMin, 160, 90, v1::SUBMITTER_ROLE_OBSERVER);  // does not displace it
  Sheet("po-amended", "IK-1-0", kClose + 40 * kMin, 121, 90);
  Run();
  auto counted = Counted("IK-1-0");
  ASSERT_TRUE(counted.has_value());
  EXPECT_EQ(counted->header().event_id(), "po-amended");
  EXPECT_EQ(counted->result_sheet().votes(0).votes(), 121);
  auto conflicts = Anomalies("results.conflict");
  ASSERT_EQ(conflicts.size(), 3u);  // every disagreeing pair, with both versions
  EXPECT_EQ(conflicts[0].event_ids(0), "po");
  EXPECT_EQ(conflicts[0].event_ids(1), "obs");
  EXPECT_NE(conflicts[0].explanation().find(
                "the presiding_officer's sheet po (A 120 B 90) counts over the observer's sheet obs (A 150 B 90) "
                "(official over observer, then the latest)"),
            std::string::npos)
      << conflicts[0].explanation();
  EXPECT_EQ(conflicts[2].event_ids(0), "po-amended");
}

class LatestRuleTest : public ResultsTest {
 protected:
  void SetUp() override {
    rules_.mutable_results()->set_precedence(v1::LATEST);
    ResultsTest::SetUp();
  }
};

TEST_F(LatestRuleTest, TheLatestRuleFromTheRulesFileCountsWhoeverSentIt) {
  ImportStations();
  Sheet("po", "IK-1-0", kClose + 20 * kMin, 120, 90);
  Sheet("obs-late", "IK-1-0", kClose + 30 * kMin, 160, 90, v1::SUBMITTER_ROLE_OBSERVER);
  Run();
  EXPECT_EQ(Counted("IK-1-0")->header().event_id(), "obs-late");
  ASSERT_EQ(Anomalies("results.conflict").size(), 1u);
  EXPECT_NE(Anomalies("results.conflict")[0].explanation().find("(the latest counts)"), std::string::npos);
}

TEST_F(ResultsTest, MoreVotesThanTheKitsAccreditedIsOverVotingOnce) {
  ImportStations();
  Kit("k1", "IK-1-1", kOpen + 60 * kMin, 200);
  Kit("k2", "IK-1-1", kClose - 5 * kMin, 230);
  Sheet("ok", "IK-1-2", kClose + 5 * kMin, 500, 400);  // no kit, no accredited on the sheet: not judged
  Sheet("over", "IK-1-1", kClose + 10 * kMin, 180, 60);  // 240 votes, 230 accredited
  Sheet("over-again", "IK-1-1", kClose + 15 * kMin, 180, 60);  // the same numbers: no second finding
  Run();
  auto over = Anomalies("results.over_voting");
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0].subject_id(), "IK-1-1");
  EXPECT_NE(over[0].explanation().find("PRES-2027 sheet counts 240 votes but its kits accredited 230 voters"),
            std::string::npos)
      << over[0].explanation();
  EXPECT_EQ(over[0].event_ids(0), "over");
  EXPECT_EQ(over[0].event_ids(1), "k2");
  EXPECT_TRUE(Anomalies("results.conflict").empty());  // same votes: no conflict
  EXPECT_GE(Risk("IK-1-1").level(), v1::RISK_LEVEL_ELEVATED);
}

// Two districts of 60 stations report three candidates each after the close: SURULERE's counts
// were invented (they end in 0 or 5), NASSARAWA's are honest (a generator's, digits uniform).
TEST_F(ResultsTest, InventedCountsFailTheLastDigitTestAndHonestOnesPass) {
  for (int i = 0; i < 60; ++i) {
    stations_.push_back({"SU-" + std::to_string(i), "LAGOS", "SURULERE", "S" + std::to_string(i % 3), 6.5, 3.35, 1000});
    stations_.push_back({"NA-" + std::to_string(i), "KANO", "NASSARAWA", "N" + std::to_string(i % 3), 12.0, 8.5, 1000});
  }
  ImportStations();
  uint64_t lcg = 12345;
  auto honest = [&] {
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int64_t>(40 + (lcg >> 33) % 300);
  };
  for (int i = 0; i < 60; ++i) {
    for (const std::string& prefix : {std::string("SU-"), std::string("NA-")}) {
      v1::Event e = Header("sheet-" + prefix + std::to_string(i), kClose + 20 * kMin);
      auto* s = e.mutable_result_sheet();
      s->set_station_id(prefix + std::to_string(i));
      s->set_contest("PRES-2027");
      s->set_submitter_role(v1::SUBMITTER_ROLE_PRESIDING_OFFICER);
      for (const char* c : {"A", "B", "C"}) {
        auto* v = s->add_votes();
        v->set_candidate(c);
        v->set_votes(prefix == "SU-" ? 50 + 5 * ((i * 7 + c[0]) % 40) : honest());
      }
      Append(e);
    }
  }
  const int64_t due = kClose + rules_.results().missing_after_close_ms();
  TicksEveryMinute(due - 2 * kMin, due + 10 * kMin);
  Run();
  auto flagged = Anomalies("results.last_digit");
  ASSERT_EQ(flagged.size(), 1u);  // once, not every minute
  EXPECT_EQ(flagged[0].subject_id(), "LAGOS/SURULERE");
  EXPECT_NE(flagged[0].explanation().find("the last digits of 180 vote counts (of 10 or more, in 60 sheets) are not uniform"),
            std::string::npos)
      << flagged[0].explanation();
  EXPECT_NE(flagged[0].explanation().find("look 1 of at most 4, from 100 counts"), std::string::npos)
      << flagged[0].explanation();
  EXPECT_EQ(flagged[0].event_ids_size(), 20);
  v1::RiskAssessment risk = Risk("LAGOS/SURULERE");  // findings feed risk like every detector's
  EXPECT_GE(risk.level(), v1::RISK_LEVEL_ELEVATED);
  ASSERT_GT(risk.factors_size(), 0);
  EXPECT_EQ(risk.factors(0).detector(), "results.last_digit");
  EXPECT_LE(Risk("KANO/NASSARAWA").level(), v1::RISK_LEVEL_LOW);  // no assessment at all, or low
}

// Two districts of 30 stations, 500 valid votes each: in IFAKO the leader's share was written
// as a whole percentage (55%, 56%, ... of 500: a multiple of 5 votes), in GWALE it was counted
// (any number of votes). Chance puts about a fifth of IFAKO's stations on a whole percentage.
TEST_F(ResultsTest, ALeadersShareHeapedOnWholePercentagesIsFlaggedAndACountedOneIsNot) {
  for (int i = 0; i < 30; ++i) {
    stations_.push_back({"IF-" + std::to_string(i), "LAGOS", "IFAKO", "F" + std::to_string(i % 3), 6.6, 3.3, 1000});
    stations_.push_back({"GW-" + std::to_string(i), "KANO", "GWALE", "G" + std::to_string(i % 3), 12.0, 8.5, 1000});
  }
  ImportStations();
  for (int i = 0; i < 30; ++i) {
    const int64_t written = 5 * (55 + (i * 7) % 26);  // 55%-80% of 500
    const int64_t counted = 280 + (i * 37) % 97;     // 280-376 of 500, rarely a multiple of 5 by design
    Sheet("if-" + std::to_string(i), "IF-" + std::to_string(i), kClose + 20 * kMin, written, 500 - written);
    Sheet("gw-" + std::to_string(i), "GW-" + std::to_string(i), kClose + 20 * kMin, counted, 500 - counted);
  }
  const int64_t due = kClose + rules_.results().missing_after_close_ms();
  TicksEveryMinute(due - 2 * kMin, due + 10 * kMin);
  Run();
  auto flagged = Anomalies("results.share_heaping");
  ASSERT_EQ(flagged.size(), 1u);
  EXPECT_EQ(flagged[0].subject_id(), "LAGOS/IFAKO");
  EXPECT_NE(flagged[0].explanation().find("30 of 30 stations give PRES-2027's leader A a whole-percentage share of the "
                                          "valid votes; chance gives"),
            std::string::npos)
      << flagged[0].explanation();
  EXPECT_GE(Risk("LAGOS/IFAKO").level(), v1::RISK_LEVEL_ELEVATED);
}

// Stuffed stations: turnout and the leader's share both near 100% at 4 of IKEJA W1's 12; a
// lopsided but honest district (MUSHIN: 90% for one candidate at 60% turnout) is not in the corner.
TEST_F(ResultsTest, StationsWithFullTurnoutAndAllVotesForTheLeaderAreTheFingerprint) {
  ImportStations();  // 1000 registered each
  for (int i = 0; i < 12; ++i) {
    bool stuffed = i < 4;
    Sheet("w1-" + std::to_string(i), "IK-1-" + std::to_string(i), kClose + 20 * kMin, stuffed ? 985 : 300,
          stuffed ? 10 : 250);
  }
  for (int i = 0; i < 12; ++i) Sheet("w2-" + std::to_string(i), "IK-2-" + std::to_string(i), kClose + 20 * kMin, 300, 250);
  for (int i = 0; i < 12; ++i) {
    const int64_t registered = 800 + 10 * i;
    Sheet("ep-" + std::to_string(i), "EP-" + std::to_string(i), kClose + 20 * kMin, registered * 54 / 100, registered * 6 / 100);
  }
  const int64_t due = kClose + rules_.results().missing_after_close_ms();
  TicksEveryMinute(due - 2 * kMin, due + 5 * kMin);
  Run();
  auto flagged = Anomalies("results.extreme_stations");
  ASSERT_EQ(flagged.size(), 1u);
  EXPECT_EQ(flagged[0].subject_id(), "LAGOS/IKEJA");
  EXPECT_NE(flagged[0].explanation().find("4 of 24 stations (17%) report turnout and PRES-2027's leader A's share both "
                                          "at 95% or more"),
            std::string::npos)
      << flagged[0].explanation();
}

TEST_F(ResultsTest, AWardMissingResultsAfterTheDeadlineStandsOutWithHysteresis) {
  ImportStations();
  // IKEJA W1: 12 stations, 4 report (67% missing); W2: 11 of 12 report (8%).
  for (int i = 0; i < 4; ++i) Sheet("w1-" + std::to_string(i), "IK-1-" + std::to_string(i), kClose + 30 * kMin, 100, 50);
  for (int i = 0; i < 11; ++i) Sheet("w2-" + std::to_string(i), "IK-2-" + std::to_string(i), kClose + 30 * kMin, 100, 50);
  const int64_t due = kClose + rules_.results().missing_after_close_ms();
  TicksEveryMinute(kClose + 31 * kMin, due + 5 * kMin);
  // Late sheets: W1 at 10 of 12 (17% missing: below the 20% to enter, above the 10% to leave,
  // so still missing and not reported again), then 11 of 12 (8%: no longer).
  for (int i = 4; i < 10; ++i) Sheet("late-" + std::to_string(i), "IK-1-" + std::to_string(i), due + 10 * kMin, 100, 50);
  TicksEveryMinute(due + 11 * kMin, due + 15 * kMin);
  Sheet("later-10", "IK-1-10", due + 20 * kMin, 100, 50);
  TicksEveryMinute(due + 21 * kMin, due + 25 * kMin);
  Run();
  // Three stations join W1 in the reference data (one heard from): 11 of 15, 27% missing again.
  std::vector<store::OutRecord> recs;
  for (int i = 12; i < 15; ++i) {
    stations_.push_back({"IK-1-" + std::to_string(i), "LAGOS", "IKEJA", "W1", 6.65, 3.36, 1000});
    v1::Event e = Header("station:IK-1-" + std::to_string(i), kDay);
    auto* p = e.mutable_station();
    p->set_station_id(stations_.back().id);
    p->set_region("LAGOS");
    p->set_district("IKEJA");
    p->set_ward("W1");
    recs.push_back({.topic = "ref.stations", .key = p->station_id(), .value = schemas::EncodeEvent(e), .partition = 0});
  }
  ASSERT_TRUE(log_->Append(recs).ok());
  Kit("new-kit", "IK-1-12", due + 26 * kMin, 10);
  TicksEveryMinute(due + 27 * kMin, due + 30 * kMin);
  Run();
  std::map<std::string, std::vector<v1::Event>> by_subject;
  for (const auto& e : Read(schemas::topic::kAnomalies)) {
    if (e.anomaly().detector() == "results.missing") by_subject[e.anomaly().subject_id()].push_back(e);
  }
  const auto& w1 = by_subject["LAGOS/IKEJA/W1"];
  ASSERT_EQ(w1.size(), 2u);  // entered, left, entered again: twice, not every minute
  EXPECT_NE(w1[0].anomaly().explanation().find("8 of 12 stations (67%) have no result 120 min after polls closed"),
            std::string::npos)
      << w1[0].anomaly().explanation();
  EXPECT_GE(w1[0].header().event_time_ms(), due);  // from the deadline on, not before
  EXPECT_LE(w1[0].header().event_time_ms(), due + 2 * kMin);
  EXPECT_NE(w1[1].anomaly().explanation().find("4 of 15 stations (27%)"), std::string::npos)
      << w1[1].anomaly().explanation();
  EXPECT_GE(w1[1].header().event_time_ms(), due + 26 * kMin);
  EXPECT_EQ(by_subject.count("LAGOS/IKEJA/W2"), 0u);
  EXPECT_EQ(by_subject["LAGOS/IKEJA"].size(), 1u);  // 9 of 24 (38%)
  EXPECT_EQ(by_subject.count("LAGOS/MUSHIN"), 0u);  // no sheet in its partition yet: nothing judged
}

TEST_F(ResultsTest, AReplayGivesTheSameCountedSheetsAndFindings) {
  ImportStations();
  Kit("k", "IK-1-1", kOpen + 60 * kMin, 100);
  Sheet("a", "IK-1-1", kClose + 10 * kMin, 180, 60, v1::SUBMITTER_ROLE_OBSERVER);
  Sheet("b", "IK-1-1", kClose + 12 * kMin, 80, 20);
  TicksEveryMinute(kClose + 13 * kMin, kClose + 130 * kMin);
  Run();
  std::string first = Digest();
  testing::TempDir other;
  runtime_.reset();
  // The same inputs into a fresh directory: the same digest.
  auto src = std::move(log_);
  Open(other);
  for (std::string topic : {"ref.stations", "in.events"}) {
    int32_t n = *src->PartitionCount(topic);
    for (int32_t p = 0; p < n; ++p) {
      auto got = src->Read({topic, p}, 0, 100000);
      ASSERT_TRUE(got.ok());
      std::vector<store::OutRecord> recs;
      for (const auto& r : *got) recs.push_back({.topic = topic, .key = r.key, .value = r.value,
                                                 .timestamp_ms = r.timestamp_ms, .partition = p});
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
