// Kits: silent kits and wards down, battery, tamper, fingerprint failures.
#include "station/stage_fixture.h"

namespace ewarn::processors::station_test {
namespace {

TEST_F(StationStageTest, KitsSilentDownBatteryTamperAndFingerprintFailures) {
  ImportStations();
  int64_t t = kOpen + 10 * kMin;
  for (int i = 0; i < 12; ++i) Kit("h" + std::to_string(i), "IK-2-" + std::to_string(i), t, 10);
  // Two hours on: 8 of 12 kits in W2 keep reporting, then 5 go silent at once.
  for (int64_t m = 5; m <= 120; m += 5) {
    for (int i = 0; i < 12; ++i) {
      if (i < 5 && m > 30) continue;
      Kit("h" + std::to_string(i) + "-" + std::to_string(m), "IK-2-" + std::to_string(i), t + m * kMin, 10 + m);
    }
    Tick(t + m * kMin);
  }
  Kit("b", "IK-1-0", t, 10, 9.0);
  Kit("x", "IK-1-1", t, 10, 80, /*tamper=*/true);
  Kit("f", "IK-1-2", t, 30, 80, false, /*failures=*/40);
  Run();
  auto silent = Anomalies("kit.silent");
  EXPECT_EQ(silent.size(), 5u);
  auto down = Anomalies("kit.area_down");
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].subject_id(), "LAGOS/IKEJA/W2");
  // Detected within the silence threshold plus a minute of its start.
  int64_t silent_from = t + 30 * kMin;
  EXPECT_LE(Read(schemas::topic::kAnomalies).size(), 20u);
  for (const auto& e : Read(schemas::topic::kAnomalies)) {
    if (e.anomaly().detector() == "kit.area_down") {
      EXPECT_LE(e.header().event_time_ms() - silent_from, rules_.kit().silent_after_ms() + 6 * kMin);
    }
  }
  EXPECT_EQ(Anomalies("kit.battery").size(), 1u);
  EXPECT_EQ(Anomalies("kit.tamper").size(), 1u);
  EXPECT_EQ(Anomalies("kit.auth_failures").size(), 1u);
  auto ward = Levels("LAGOS/IKEJA/W2");
  ASSERT_FALSE(ward.empty());
  EXPECT_GE(*std::max_element(ward.begin(), ward.end()), v1::RISK_LEVEL_HIGH);
  EXPECT_GE(Risk("IK-1-1").level(), v1::RISK_LEVEL_HIGH);  // tamper
}

TEST_F(StationStageTest, AKitSilentSinceBeforeOpeningIsJudgedOncePollsOpen) {
  ImportStations();
  Kit("early", "IK-1-0", kOpen - 5 * kMin, 0);          // then nothing
  Kit("steady0", "IK-1-1", kOpen - 5 * kMin, 0);
  for (int m = 0; m <= 20; m += 4) Kit("steady" + std::to_string(m + 1), "IK-1-1", kOpen + m * kMin, m);
  TicksEveryMinute(kOpen - 10 * kMin, kOpen + 20 * kMin);
  Run();
  auto silent = Anomalies("kit.silent");
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(silent[0].subject_id(), "IK-1-0");
  // Not while polls were closed: at the first minute past its 8-minute threshold.
  for (const auto& e : Read(schemas::topic::kAnomalies)) {
    if (e.anomaly().detector() == "kit.silent") {
      EXPECT_GE(e.header().event_time_ms(), kOpen);
      EXPECT_LE(e.header().event_time_ms(), kOpen + 5 * kMin);
    }
  }
}

}  // namespace
}  // namespace ewarn::processors::station_test
