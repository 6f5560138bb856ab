// The PVT estimator against hand-computed cases and a simulated population (coverage of its
// intervals over many seeded samples), and the sampler's allocation and determinism.
#include "ewarn/results/pvt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <unordered_map>

namespace ewarn::results {
namespace {

SampledSheet Sheet(std::string id, std::string stratum, int64_t a, int64_t b, int64_t cast, int64_t registered) {
  return {std::move(id), std::move(stratum), {{"A", a}, {"B", b}}, cast, registered};
}

TEST(PvtEstimate, OneStratumByHand) {
  // N = 10, n = 3, 100 valid votes each: R = 140/300; d = (13.33, -16.67, 3.33), s^2 = 700/3;
  // V = N^2 (1 - 3/10) s^2 / 3 / X^2 with X = 10 * 100.
  std::vector<SampledSheet> sheets = {Sheet("s1", "R1", 60, 40, 100, 150), Sheet("s2", "R1", 30, 70, 100, 150),
                                      Sheet("s3", "R1", 50, 50, 100, 200)};
  auto e = EstimatePvt(sheets, {{"R1", 10}});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  const RatioEstimate& a = e->shares.at("A");
  EXPECT_NEAR(a.value, 140.0 / 300.0, 1e-12);
  double se = std::sqrt(100.0 * 0.7 * (700.0 / 3.0) / 3.0) / 1000.0;
  EXPECT_NEAR(a.standard_error, se, 1e-12);
  EXPECT_NEAR(a.moe95, 1.959963984540054 * se, 1e-12);
  EXPECT_NEAR(a.moe99, 2.5758293035489004 * se, 1e-12);
  EXPECT_NEAR(e->shares.at("B").value, 160.0 / 300.0, 1e-12);
  EXPECT_NEAR(e->shares.at("B").standard_error, se, 1e-12);  // two candidates: mirror images
  EXPECT_NEAR(e->turnout.value, 300.0 / 500.0, 1e-12);
  EXPECT_EQ(e->stations_reporting, 3);
  EXPECT_EQ(e->population, 10);
}

TEST(PvtEstimate, TwoStrataByHandAndPerRegion) {
  std::vector<SampledSheet> sheets = {Sheet("s1", "R1", 60, 40, 100, 150), Sheet("s2", "R1", 30, 70, 100, 150),
                                      Sheet("s3", "R1", 50, 50, 100, 200), Sheet("s4", "R2", 10, 10, 20, 40),
                                      Sheet("s5", "R2", 0, 20, 20, 20)};
  std::map<std::string, int64_t> sizes = {{"R1", 10}, {"R2", 20}};
  auto e = EstimatePvt(sheets, sizes);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  // Y = 10 * 140/3 + 20 * 10/2, X = 10 * 100 + 20 * 20 (computed independently).
  EXPECT_NEAR(e->shares.at("A").value, 0.4047619047619048, 1e-12);
  EXPECT_NEAR(e->shares.at("A").standard_error, 0.08584645893961879, 1e-12);
  EXPECT_NEAR(e->turnout.value, 0.6176470588235293, 1e-12);
  EXPECT_NEAR(e->turnout.standard_error, 0.06416256803831082, 1e-12);
  EXPECT_EQ(e->strata_without_variance, 0);

  auto by = EstimatePvtByStratum(sheets, sizes);
  ASSERT_TRUE(by.ok());
  ASSERT_EQ(by->size(), 2u);
  EXPECT_NEAR(by->at("R1").shares.at("A").value, 140.0 / 300.0, 1e-12);
  EXPECT_NEAR(by->at("R2").shares.at("A").value, 10.0 / 40.0, 1e-12);
  EXPECT_EQ(by->at("R2").population, 20);
}

TEST(PvtEstimate, AWholeCensusHasNoErrorAndBadStrataAreNamed) {
  std::vector<SampledSheet> all = {Sheet("s1", "R1", 60, 40, 100, 150), Sheet("s2", "R1", 30, 70, 100, 150)};
  auto census = EstimatePvt(all, {{"R1", 2}});
  ASSERT_TRUE(census.ok());
  EXPECT_EQ(census->shares.at("A").moe95, 0.0);  // fpc = 0: nothing left to estimate
  auto unknown = EstimatePvt(all, {{"R9", 5}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("stratum 'R1', which has no size"), std::string::npos);
  EXPECT_FALSE(EstimatePvt(all, {{"R1", 1}}).ok());
  auto single = EstimatePvt(std::span(all).first(1), {{"R1", 5}});
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->strata_without_variance, 1);
}

// A population of stations in four regions that lean differently; the truth is its totals.
struct Population {
  std::vector<FrameStation> frame;
  std::unordered_map<std::string, SampledSheet> sheets;
  std::map<std::string, int64_t> sizes;
  double share_a = 0, turnout = 0;
};

Population Simulate() {
  Population p;
  std::mt19937_64 rng(20270225);
  const std::vector<std::pair<std::string, double>> regions = {{"NORTH", 0.65}, {"SOUTH", 0.30}, {"EAST", 0.45},
                                                               {"WEST", 0.52}};
  const std::vector<int> counts = {900, 700, 500, 400};
  double a_total = 0, valid_total = 0, cast_total = 0, registered_total = 0;
  for (size_t r = 0; r < regions.size(); ++r) {
    for (int i = 0; i < counts[r]; ++i) {
      std::string id = regions[r].first + "-" + std::to_string(i);
      int64_t registered = 200 + static_cast<int64_t>(rng() % 600);
      double turnout = 0.3 + 0.4 * static_cast<double>(rng() % 1000) / 1000.0;
      int64_t valid = static_cast<int64_t>(turnout * static_cast<double>(registered));
      double lean = regions[r].second + (static_cast<double>(rng() % 1000) / 1000.0 - 0.5) * 0.3;
      int64_t a = static_cast<int64_t>(std::clamp(lean, 0.0, 1.0) * static_cast<double>(valid));
      int64_t rejected = static_cast<int64_t>(rng() % 10);
      p.frame.push_back({id, regions[r].first});
      p.sheets[id] = {id, regions[r].first, {{"A", a}, {"B", valid - a}}, valid + rejected, registered};
      a_total += static_cast<double>(a);
      valid_total += static_cast<double>(valid);
      cast_total += static_cast<double>(valid + rejected);
      registered_total += static_cast<double>(registered);
    }
    p.sizes[regions[r].first] = counts[r];
  }
  p.share_a = a_total / valid_total;
  p.turnout = cast_total / registered_total;
  return p;
}

TEST(PvtEstimate, IntervalsCoverTheTruthAsOftenAsTheyClaim) {
  Population pop = Simulate();
  const int kSamples = 1000;
  int covered95 = 0, covered99 = 0, turnout95 = 0;
  for (int seed = 1; seed <= kSamples; ++seed) {
    auto sample = DrawPvtSample(pop.frame, "PRES-2027", 150, static_cast<uint64_t>(seed));
    ASSERT_TRUE(sample.ok());
    std::vector<SampledSheet> sheets;
    for (const auto& id : sample->station_ids()) sheets.push_back(pop.sheets.at(id));
    auto e = EstimatePvt(sheets, pop.sizes);
    ASSERT_TRUE(e.ok());
    const RatioEstimate& a = e->shares.at("A");
    covered95 += std::fabs(a.value - pop.share_a) <= a.moe95;
    covered99 += std::fabs(a.value - pop.share_a) <= a.moe99;
    turnout95 += std::fabs(e->turnout.value - pop.turnout) <= e->turnout.moe95;
  }
  // Binomial sd at 1000 samples is 0.7 points at 95%: the bands are about 3 sd wide.
  EXPECT_NEAR(covered95 / double(kSamples), 0.95, 0.025) << covered95;
  EXPECT_NEAR(covered99 / double(kSamples), 0.99, 0.012) << covered99;
  EXPECT_NEAR(turnout95 / double(kSamples), 0.95, 0.025) << turnout95;
}

TEST(PvtSampleDraw, ProportionalPerRegionDeterministicAndOrderFree) {
  Population pop = Simulate();
  auto a = DrawPvtSample(pop.frame, "PRES-2027", 250, 7);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->station_ids_size(), 250);
  std::map<std::string, int64_t> sampled;
  for (const auto& s : a->strata()) sampled[s.region()] = s.sampled();
  // 250 over 900/700/500/400 of 2500: exactly 90, 70, 50, 40.
  EXPECT_EQ(sampled, (std::map<std::string, int64_t>{{"EAST", 50}, {"NORTH", 90}, {"SOUTH", 70}, {"WEST", 40}}));
  EXPECT_EQ(std::set<std::string>(a->station_ids().begin(), a->station_ids().end()).size(), 250u);
  std::vector<FrameStation> reversed(pop.frame.rbegin(), pop.frame.rend());
  auto b = DrawPvtSample(reversed, "PRES-2027", 250, 7);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->SerializeAsString(), b->SerializeAsString());  // the frame's order does not matter
  auto c = DrawPvtSample(pop.frame, "PRES-2027", 250, 8);
  EXPECT_NE(a->SerializeAsString(), c->SerializeAsString());
}

TEST(PvtSampleDraw, SmallRegionsGetTwoAndBadSizesAreRefused) {
  std::vector<FrameStation> frame;
  for (int i = 0; i < 98; ++i) frame.push_back({"BIG-" + std::to_string(i), "BIG"});
  frame.push_back({"TINY-1", "TINY"});
  frame.push_back({"TINY-2", "TINY"});
  auto s = DrawPvtSample(frame, "C", 10, 1);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->strata(1).region(), "TINY");
  EXPECT_EQ(s->strata(1).sampled(), 2);  // proportional would give 0: no variance, no estimate
  EXPECT_EQ(s->strata(0).sampled(), 8);
  EXPECT_FALSE(DrawPvtSample(frame, "C", 0, 1).ok());
  EXPECT_NE(DrawPvtSample(frame, "C", 101, 1).status().message().find("larger than the 100 stations"),
            std::string::npos);
  frame.push_back({"TINY-1", "TINY"});
  EXPECT_NE(DrawPvtSample(frame, "C", 5, 1).status().message().find("TINY-1 is in the frame twice"), std::string::npos);
}

}  // namespace
}  // namespace ewarn::results
