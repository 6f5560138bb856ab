// Hate speech: a district's surge against its baseline.
#include "station/stage_fixture.h"

namespace ewarn::processors::station_test {
namespace {

TEST_F(StationStageTest, HateSpeechSurgeAgainstTheDistrictsBaseline) {
  ImportStations();
  int64_t t = kOpen;
  // A quiet baseline: a flag every 40 minutes for six hours.
  for (int i = 0; i < 9; ++i) Hate("base" + std::to_string(i), "EP-1", t + i * 40 * kMin, "clf", "text " + std::to_string(i), 500, 0.6);
  // The same text from the same source, many times: counted once.
  for (int i = 0; i < 12; ++i) Hate("dup" + std::to_string(i), "IK-1-0", t + 60 * kMin + i * kMin, "clf", "same words");
  Run();
  EXPECT_TRUE(Anomalies("hate.surge").empty());
  // Then a burst of different messages in IKEJA.
  for (int i = 0; i < 8; ++i) Hate("s" + std::to_string(i), "IK-1-" + std::to_string(i), t + 7 * 60 * kMin + i * 3 * kMin, "mon" + std::to_string(i), "msg " + std::to_string(i));
  Run();
  auto surges = Anomalies("hate.surge");
  ASSERT_EQ(surges.size(), 1u);
  EXPECT_EQ(surges[0].subject_id(), "LAGOS/IKEJA");
  EXPECT_GE(Risk("LAGOS/IKEJA").level(), v1::RISK_LEVEL_HIGH);
}

}  // namespace
}  // namespace ewarn::processors::station_test
