// Risk: decay on event time and hysteresis.
#include "station/stage_fixture.h"

namespace ewarn::processors::station_test {
namespace {

TEST_F(StationStageTest, RiskDecaysOnEventTimeAndFallsBack) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  Turnout("x", "IK-1-1", t, 1200);  // 1,000 registered: impossible, weight 0.8
  TicksEveryMinute(t, t + 4 * 60 * kMin);
  Run();
  std::vector<int> levels = Levels("IK-1-1");
  ASSERT_EQ(levels.size(), 3u) << ::testing::PrintToString(levels);
  EXPECT_EQ(levels.front(), v1::RISK_LEVEL_HIGH);
  EXPECT_EQ(levels.back(), v1::RISK_LEVEL_LOW);
  // Hysteresis: each step down once, no flapping back up.
  for (size_t i = 1; i < levels.size(); ++i) EXPECT_LT(levels[i], levels[i - 1]) << ::testing::PrintToString(levels);
}

}  // namespace
}  // namespace ewarn::processors::station_test
