#include "detectors.h"

#include <gtest/gtest.h>

#include <random>

#include "ewarn/processors/rules.h"
#include "reference.h"

namespace ewarn::processors {
namespace {

TEST(DetectorsTest, DecayHalvesPerHalfLife) {
  EXPECT_DOUBLE_EQ(Decay(1.0, 0, 3'600'000, 3'600'000), 0.5);
  EXPECT_DOUBLE_EQ(Decay(1.0, 0, 7'200'000, 3'600'000), 0.25);
  EXPECT_DOUBLE_EQ(Decay(1.0, 10, 5, 3'600'000), 1.0);  // never grows backwards
}

TEST(DetectorsTest, RiskLevelsHaveHysteresis) {
  const v1::RiskRules& r = DefaultRules().risk();  // ELEVATED .4/.3, HIGH .7/.55, CRITICAL 1.2/1.0
  EXPECT_EQ(NextRiskLevel(1, 0.39, r), 1);
  EXPECT_EQ(NextRiskLevel(1, 0.4, r), 2);
  EXPECT_EQ(NextRiskLevel(1, 0.75, r), 3);
  EXPECT_EQ(NextRiskLevel(1, 1.3, r), 4);
  // A score hovering around HIGH's entry does not flap: it stays HIGH down to 0.55.
  int level = 1;
  for (double s : {0.71, 0.69, 0.72, 0.66, 0.70, 0.6, 0.56}) {
    level = NextRiskLevel(level, s, r);
    EXPECT_EQ(level, 3) << s;
  }
  EXPECT_EQ(NextRiskLevel(3, 0.54, r), 2);  // left HIGH, still above ELEVATED's leave
  EXPECT_EQ(NextRiskLevel(3, 0.1, r), 1);   // straight down when the score collapses
  EXPECT_EQ(NextRiskLevel(4, 1.05, r), 4);
}

TEST(DetectorsTest, RobustZFindsTheOddOneOut) {
  std::vector<double> peers{0.50, 0.52, 0.48, 0.51, 0.49, 0.50, 0.53, 0.47};
  EXPECT_NEAR(RobustZ(0.50, peers), 0, 1e-9);
  EXPECT_GT(RobustZ(0.95, peers), 5);
  EXPECT_LT(RobustZ(0.10, peers), -5);
  EXPECT_DOUBLE_EQ(Median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(Median({4, 1, 2, 3}), 2.5);
}

TEST(DetectorsTest, IntegerPercentTestSeparatesHeapingFromChance) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> registered(600, 1400);
  std::uniform_real_distribution<double> turnout(0.35, 0.75);
  std::vector<std::pair<int64_t, int64_t>> natural, heaped;
  for (int i = 0; i < 60; ++i) {
    int64_t n = registered(rng);
    double t = turnout(rng);
    natural.emplace_back(static_cast<int64_t>(t * static_cast<double>(n)), n);
    // Rigged: most stations report a whole percentage.
    int64_t pct = static_cast<int64_t>(t * 100);
    int64_t v = i % 5 == 0 ? static_cast<int64_t>(t * static_cast<double>(n)) : (n * pct + 50) / 100;
    if (i % 5 != 0) {
      while (!AtIntegerPercent(v, n, 0.05)) ++pct, v = (n * pct + 50) / 100;
    }
    heaped.emplace_back(v, n);
  }
  HeapingResult chance = IntegerPercentTest(natural, 0.05);
  HeapingResult rigged = IntegerPercentTest(heaped, 0.05);
  EXPECT_EQ(chance.stations, 60);
  EXPECT_GT(chance.p_value, 0.001) << chance.at_integer << " vs " << chance.expected;
  EXPECT_GE(rigged.at_integer, 48);
  EXPECT_LT(rigged.p_value, 1e-6);
  // Small electorates land on whole percentages by themselves (100 voters: every count does).
  HeapingResult tiny = IntegerPercentTest({{37, 100}, {52, 100}, {61, 100}, {45, 100}}, 0.05);
  EXPECT_EQ(tiny.at_integer, 4);
  EXPECT_GT(tiny.p_value, 0.1);
}

TEST(DetectorsTest, HateWeightGrowsWithReachAndConfidence) {
  EXPECT_LT(HateWeight(0.5, 100), HateWeight(0.9, 100));
  EXPECT_LT(HateWeight(0.9, 100), HateWeight(0.9, 100000));
  EXPECT_DOUBLE_EQ(HateWeight(0, 1000000), 0);
}

TEST(GazetteerTest, FoldsCaseAccentsAndCyrillic) {
  EXPECT_EQ(FoldPlaceName("Ikeja  Grammar-School"), "ikejagrammarschool");
  EXPECT_EQ(FoldPlaceName("École Sainte-Thérèse"), "ecolesaintetherese");
  EXPECT_EQ(FoldPlaceName("Москва"), "moskva");
  EXPECT_EQ(FoldPlaceName("Łódź"), "lodz");
  EXPECT_EQ(EditDistance("ikejagrammarschool", "ikejagramarschool", 3), 1);
  EXPECT_EQ(EditDistance("abcd", "abdc", 3), 1);  // a swap of neighbours is one edit
  EXPECT_GT(EditDistance("lagos", "kano", 1), 1);
}

TEST(GazetteerTest, DistanceIsGreatCircle) {
  // One degree of latitude is about 111 km.
  EXPECT_NEAR(DistanceMeters(6.0, 3.0, 7.0, 3.0), 111'195, 200);
  EXPECT_NEAR(DistanceMeters(6.5, 3.3, 6.5, 3.3), 0, 1e-6);
}

}  // namespace
}  // namespace ewarn::processors
