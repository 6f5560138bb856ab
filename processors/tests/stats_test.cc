// The exact statistics behind the forensic tests.
#include "stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace ewarn::processors {
namespace {

TEST(StatsTest, ChiSquareTailMatchesTheTablesAndTheNormalForOneDegree) {
  // Published critical values of the chi-square distribution with 9 df.
  EXPECT_NEAR(ChiSquareUpperTailOddDf(16.919, 9), 0.05, 1e-5);
  EXPECT_NEAR(ChiSquareUpperTailOddDf(21.666, 9), 0.01, 1e-5);
  EXPECT_NEAR(ChiSquareUpperTailOddDf(27.877, 9), 0.001, 1e-6);
  EXPECT_NEAR(ChiSquareUpperTailOddDf(8.343, 9), 0.5, 1e-4);  // about the median
  // 1 df: the square of a standard normal, P(|Z| >= 1.959964) = 0.05.
  EXPECT_NEAR(ChiSquareUpperTailOddDf(1.959964 * 1.959964, 1), 0.05, 1e-7);
  // 3 df at its mean 3: 0.3916252.
  EXPECT_NEAR(ChiSquareUpperTailOddDf(3, 3), 0.3916252, 1e-6);
  EXPECT_DOUBLE_EQ(ChiSquareUpperTailOddDf(0, 9), 1.0);
  EXPECT_LT(ChiSquareUpperTailOddDf(500, 9), 1e-90);
}

TEST(StatsTest, PoissonBinomialTailIsTheBinomialsWhenChancesAreEqual) {
  // 10 trials at 0.1: P(X >= 5) = sum_{j>=5} C(10,j) 0.1^j 0.9^(10-j).
  double expected = 0;
  for (int j = 5; j <= 10; ++j) {
    expected += std::tgamma(11.0) / (std::tgamma(j + 1.0) * std::tgamma(11.0 - j)) * std::pow(0.1, j) * std::pow(0.9, 10 - j);
  }
  EXPECT_NEAR(PoissonBinomialUpperTail(std::vector<double>(10, 0.1), 5), expected, 1e-15);
  EXPECT_DOUBLE_EQ(PoissonBinomialUpperTail({0.3, 0.4}, 0), 1.0);
  EXPECT_DOUBLE_EQ(PoissonBinomialUpperTail({0.3, 0.4}, 3), 0.0);
  EXPECT_NEAR(PoissonBinomialUpperTail({0.3, 0.4}, 2), 0.12, 1e-15);
  EXPECT_NEAR(PoissonBinomialUpperTail({0.3, 0.4}, 1), 1 - 0.7 * 0.6, 1e-15);
}

// Issue 17's example: "5 of 10, chance 1.1, p = 3.1e-4" from the normal approximation; the
// exact tail is eight times larger.
TEST(StatsTest, TheExactTailOfASmallDistrictIsNotTheNormalApproximations) {
  double p = PoissonBinomialUpperTail(std::vector<double>(10, 0.11), 5);
  EXPECT_GT(p, 8 * 3.1e-4);
  EXPECT_LT(p, 3e-3);
}

TEST(StatsTest, ChanceOfAWholePercentMatchesAMonteCarloOfTheBinomial) {
  std::mt19937_64 rng(1);
  for (auto [registered, rate] : {std::pair<int64_t, double>{437, 0.55}, {1200, 0.62}, {95, 0.4}, {3000, 0.71}}) {
    std::binomial_distribution<int64_t> draw(registered, rate);
    int hits = 0, n = 200'000;
    for (int i = 0; i < n; ++i) {
      double pct = 100.0 * static_cast<double>(draw(rng)) / static_cast<double>(registered);
      if (std::abs(pct - std::round(pct)) <= 0.05 + 1e-9) ++hits;
    }
    double mc = static_cast<double>(hits) / n;
    EXPECT_NEAR(ChanceOfWholePercent(registered, rate, 0.05), mc, 4 * std::sqrt(mc * (1 - mc) / n) + 1e-4)
        << registered << " " << rate;
  }
  EXPECT_DOUBLE_EQ(ChanceOfWholePercent(100, 0.5, 0.05), ChanceOfWholePercent(100, 0.5, 0.05));
  EXPECT_EQ(ChanceOfWholePercent(0, 0.5, 0.05), 0);
}

TEST(StatsTest, BenjaminiHochbergRejectsTheStepUpSetWhateverTheOrder) {
  // m = 5, q = 0.05: thresholds 0.01 0.02 0.03 0.04 0.05; p_(4) = 0.045 > 0.04 but p_(3) =
  // 0.025 <= 0.03, so the three smallest.
  std::vector<double> p{0.045, 0.001, 0.5, 0.025, 0.015};
  std::vector<bool> r = BenjaminiHochberg(p, 0.05);
  EXPECT_EQ(r, (std::vector<bool>{false, true, false, true, true}));
  // Step-up: a p-value above its own threshold is still rejected below a passing larger one.
  EXPECT_EQ(BenjaminiHochberg({0.011, 0.012}, 0.02), (std::vector<bool>{true, true}));
  std::vector<double> reversed(p.rbegin(), p.rend());
  std::vector<bool> rr = BenjaminiHochberg(reversed, 0.05);
  EXPECT_EQ(std::vector<bool>(rr.rbegin(), rr.rend()), r);
  EXPECT_TRUE(BenjaminiHochberg({}, 0.05).empty());
  EXPECT_EQ(BenjaminiHochberg({0.2, 0.3}, 0.05), (std::vector<bool>{false, false}));
}

}  // namespace
}  // namespace ewarn::processors
