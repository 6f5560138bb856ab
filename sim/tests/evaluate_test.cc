// Evaluation on a hand-built truth and anomaly list, with the numbers worked out by hand.
#include "ewarn/sim/evaluate.h"

#include <gtest/gtest.h>

#include <fstream>

#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"

namespace ewarn::sim {
namespace {

constexpr int64_t T = 1'803'456'000'000;  // 2027-02-24T08:00:00Z
constexpr int64_t M = kMinuteMs;

std::vector<TruthRecord> Truth() {
  return {
      {.pattern = "violent_cluster", .detector = "cluster", .subject = "S1", .stations = {"S1"}, .area = "R/D1/W1",
       .start_ms = T, .end_ms = T + 20 * M},
      {.pattern = "violent_cluster", .detector = "cluster", .subject = "S9", .stations = {"S9"}, .area = "R/D2/W9",
       .start_ms = T + 100 * M, .end_ms = T + 110 * M},
      {.pattern = "turnout_surge", .detector = "turnout.surge", .subject = "S2", .stations = {"S2"}, .area = "R/D1/W2",
       .start_ms = T + 60 * M, .end_ms = T + 120 * M},
      {.pattern = "kit_outage", .detector = "kit.area_down", .subject = "R/D3/W5", .stations = {"S5", "S6"},
       .area = "R/D3/W5", .start_ms = T + 180 * M, .end_ms = T + 255 * M},
      {.pattern = "decoy_repeat", .detector = "cluster", .subject = "S7", .stations = {"S7"}, .area = "R/D4/W7",
       .start_ms = T + 300 * M, .end_ms = T + 314 * M, .decoy = true},
      {.pattern = "decoy_busy_station", .detector = "turnout.surge", .subject = "S8", .stations = {"S8"},
       .area = "R/D4/W8", .start_ms = T, .end_ms = T + 540 * M, .decoy = true},
  };
}

TEST(EvaluateTest, PrecisionRecallAndDelayByHand) {
  std::vector<AnomalyRecord> anomalies = {
      // First cluster: two anomalies, the earliest 12 min after the start; a sub-detector name.
      {"cluster.situation", "S1", "R/D1/W1", T + 12 * M},
      {"cluster", "S1", "R/D1/W1", T + 18 * M},
      // The second cluster is missed; a cluster elsewhere is a false alarm.
      {"cluster", "S4", "R/D9/W4", T + 50 * M},
      // The decoy trips: a false alarm for cluster, and counted against the decoy.
      {"cluster", "S7", "R/D4/W7", T + 310 * M},
      // Surge: detected 40 min late but within end + 30 min; one too late to count.
      {"turnout.surge", "S2", "R/D1/W2", T + 100 * M},
      {"turnout.surge", "S2", "R/D1/W2", T + 151 * M},
      // Area down, subject inside the ward path (a station of the ward): delay 35 min.
      {"kit.area_down", "R/D3/W5", "R/D3/W5", T + 215 * M},
      // Another detector: not part of any pattern row.
      {"kit.silent", "S5", "R/D3/W5", T + 210 * M},
  };
  Evaluation e = Evaluate(Truth(), anomalies);
  ASSERT_EQ(e.rows.size(), 5u);
  EXPECT_EQ(e.anomalies, 8);

  const PatternScore& cluster = e.rows[0];
  EXPECT_EQ(cluster.pattern, "violent_cluster");
  EXPECT_EQ(cluster.injected, 2);
  EXPECT_EQ(cluster.detected, 1);
  EXPECT_DOUBLE_EQ(*cluster.recall, 0.5);
  EXPECT_EQ(cluster.detector_anomalies, 4);
  EXPECT_EQ(cluster.detector_true, 2);
  EXPECT_DOUBLE_EQ(*cluster.precision, 0.5);
  EXPECT_DOUBLE_EQ(*cluster.median_delay_min, 12);

  const PatternScore& surge = e.rows[1];
  EXPECT_EQ(surge.detected, 1);
  EXPECT_DOUBLE_EQ(*surge.recall, 1);
  EXPECT_EQ(surge.detector_anomalies, 2);
  EXPECT_DOUBLE_EQ(*surge.precision, 0.5);  // the late one matches nothing
  EXPECT_DOUBLE_EQ(*surge.median_delay_min, 40);

  const PatternScore& outage = e.rows[2];
  EXPECT_DOUBLE_EQ(*outage.recall, 1);
  EXPECT_DOUBLE_EQ(*outage.precision, 1);
  EXPECT_DOUBLE_EQ(*outage.median_delay_min, 35);

  const PatternScore& repeat = e.rows[3];
  EXPECT_TRUE(repeat.decoy);
  EXPECT_EQ(repeat.detected, 1);  // tripped: bad
  EXPECT_FALSE(repeat.recall.has_value());
  EXPECT_FALSE(repeat.median_delay_min.has_value());

  const PatternScore& busy = e.rows[4];
  EXPECT_EQ(busy.detected, 0);
  EXPECT_FALSE(busy.median_delay_min.has_value());

  std::string text = e.ToText();
  EXPECT_NE(text.find("violent_cluster"), std::string::npos) << text;
  EXPECT_NE(text.find("0.50"), std::string::npos) << text;
  EXPECT_NE(text.find("12.0 min"), std::string::npos) << text;
  EXPECT_NE(text.find("n/a"), std::string::npos) << text;
  std::string json = e.ToJson();
  EXPECT_NE(json.find("\"recall\":null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"median_delay_min\":40"), std::string::npos) << json;
}

// False alarms per detector: anomalies outside every pattern's scope (and those a decoy
// explains), per 1,000 districts and stations of the day.
TEST(EvaluateTest, FalseAlarmsPerThousandDistrictsAndStations) {
  std::vector<AnomalyRecord> anomalies = {
      {"cluster", "S1", "R/D1/W1", T + 12 * M},              // the pattern: not false
      {"cluster", "S4", "R/D9/W4", T + 50 * M},              // false
      {"cluster", "S7", "R/D4/W7", T + 310 * M},             // the decoy: false
      {"turnout.heaping", "R/D8", "R/D8", T + 540 * M},      // false
      {"turnout.heaping", "R/D7", "R/D7", T + 540 * M},      // false
  };
  Evaluation e = Evaluate(Truth(), anomalies, {.stations = 4'000, .districts = 200});
  ASSERT_EQ(e.false_alarms.size(), 2u);
  const FalseAlarmRate& cluster = e.false_alarms[0];
  EXPECT_EQ(cluster.detector, "cluster");
  EXPECT_EQ(cluster.anomalies, 3);
  EXPECT_EQ(cluster.false_alarms, 2);
  EXPECT_DOUBLE_EQ(*cluster.per_1000_districts, 10);
  EXPECT_DOUBLE_EQ(*cluster.per_1000_stations, 0.5);
  const FalseAlarmRate& heaping = e.false_alarms[1];
  EXPECT_EQ(heaping.detector, "turnout.heaping");
  EXPECT_EQ(heaping.false_alarms, 2);
  EXPECT_DOUBLE_EQ(*heaping.per_1000_districts, 10);
  std::string text = e.ToText();
  EXPECT_NE(text.find("PER 1,000 DISTRICTS"), std::string::npos) << text;
  EXPECT_NE(text.find("over 4000 stations in 200 districts"), std::string::npos) << text;
  std::string json = e.ToJson();
  EXPECT_NE(json.find("{\"detector\":\"turnout.heaping\",\"anomalies\":2,\"false_alarms\":2,\"per_1000_districts\":10,"
                      "\"per_1000_stations\":0.5}"),
            std::string::npos)
      << json;
  // A null day: no truth, every anomaly false; no population, no rate.
  Evaluation null_day = Evaluate({}, anomalies);
  EXPECT_EQ(null_day.false_alarms[0].false_alarms, 3);
  EXPECT_FALSE(null_day.false_alarms[0].per_1000_districts.has_value());
}

TEST(EvaluateTest, NothingDetectedIsNotApplicable) {
  Evaluation e = Evaluate(Truth(), {});
  for (const auto& row : e.rows) {
    EXPECT_FALSE(row.precision.has_value());
    EXPECT_EQ(row.detected, 0);
    if (!row.decoy) {
      EXPECT_DOUBLE_EQ(*row.recall, 0);
    }
  }
}

TEST(EvaluateTest, AreaMatchingIsSegmentWise) {
  TruthRecord t{.pattern = "hate_surge", .detector = "hate.surge", .subject = "R/D1", .area = "R/D1",
                .start_ms = T, .end_ms = T + 60 * M};
  EXPECT_TRUE(Matches(t, {"hate.surge", "R/D1", "R/D1", T + 30 * M}));
  EXPECT_TRUE(Matches(t, {"hate.surge", "R/D1/W3", "R/D1/W3", T + 90 * M}));
  EXPECT_FALSE(Matches(t, {"hate.surge", "R/D10", "R/D10", T + 30 * M}));
  EXPECT_FALSE(Matches(t, {"hate.surge", "R/D1", "R/D1", T + 91 * M}));
  EXPECT_FALSE(Matches(t, {"hate.surge", "R/D1", "R/D1", T - 1}));
  EXPECT_FALSE(Matches(t, {"hate.surgeX", "R/D1", "R/D1", T}));
}

TEST(EvaluateTest, ReadsTruthFilesAndAnomalyTopics) {
  testing::TempDir dir;
  {
    std::ofstream out(dir.Sub("truth.jsonl"));
    for (const auto& t : Truth()) out << t.ToJson() << "\n";
    out << "\n";
  }
  auto truth = ReadTruth(dir.Sub("truth.jsonl"));
  ASSERT_TRUE(truth.ok()) << truth.status().ToString();
  ASSERT_EQ(truth->size(), Truth().size());
  EXPECT_EQ((*truth)[3].stations, (std::vector<std::string>{"S5", "S6"}));
  EXPECT_TRUE((*truth)[4].decoy);
  {
    std::ofstream out(dir.Sub("bad.jsonl"));
    out << Truth()[0].ToJson() << "\n{\"pattern\":1}\n";
  }
  auto bad = ReadTruth(dir.Sub("bad.jsonl"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.jsonl:2"), std::string::npos) << bad.status().ToString();

  auto log = store::OpenEmbeddedLog({.dir = dir.Sub("log")});
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(ReadAnomalies(**log).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE((*log)->CreateTopic({.name = std::string(schemas::topic::kAnomalies), .partitions = 2}).ok());
  std::vector<store::OutRecord> records;
  for (int i = 0; i < 3; ++i) {
    v1::Event e;
    e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
    e.mutable_header()->set_event_time_ms(T + i);
    e.mutable_anomaly()->set_detector("turnout.surge");
    e.mutable_anomaly()->set_subject_id("S" + std::to_string(i));
    e.mutable_anomaly()->set_area("R/D/W");
    records.push_back({.topic = std::string(schemas::topic::kAnomalies), .key = "k", .value = schemas::EncodeEvent(e),
                       .partition = i % 2});
  }
  ASSERT_TRUE((*log)->Append(records).ok());
  auto anomalies = ReadAnomalies(**log);
  ASSERT_TRUE(anomalies.ok()) << anomalies.status().ToString();
  ASSERT_EQ(anomalies->size(), 3u);
  EXPECT_EQ((*anomalies)[0].detector, "turnout.surge");
  EXPECT_EQ((*anomalies)[0].area, "R/D/W");
}

}  // namespace
}  // namespace ewarn::sim
