#include "detectors.h"

#include <algorithm>
#include <cmath>

namespace ewarn::processors {

double Decay(double value, int64_t from_ms, int64_t to_ms, int64_t half_life_ms) {
  if (to_ms <= from_ms || half_life_ms <= 0) return value;
  return value * std::exp2(-static_cast<double>(to_ms - from_ms) / static_cast<double>(half_life_ms));
}

int NextRiskLevel(int current, double score, const v1::RiskRules& rules) {
  auto threshold = [&](int level) -> const v1::RiskLevelThreshold* {
    for (const auto& t : rules.levels()) {
      if (static_cast<int>(t.level()) == level) return &t;
    }
    return nullptr;
  };
  int up = 1;  // LOW
  for (const auto& t : rules.levels()) {
    if (score >= t.enter()) up = std::max(up, static_cast<int>(t.level()));
  }
  int level = std::max(current, 1);
  while (level > 1) {
    const v1::RiskLevelThreshold* t = threshold(level);
    if (t != nullptr && score >= t->leave()) break;
    --level;
  }
  return std::max(level, up);
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<long>(mid), values.end());
  double m = values[mid];
  if (values.size() % 2 == 0) {
    m = (m + *std::max_element(values.begin(), values.begin() + static_cast<long>(mid))) / 2;
  }
  return m;
}

double RobustZ(double x, std::vector<double> peers) {
  double median = Median(peers);
  for (double& p : peers) p = std::abs(p - median);
  double mad = Median(std::move(peers)) * 1.4826;
  if (mad <= 1e-12) return std::abs(x - median) <= 1e-12 ? 0 : (x > median ? 1e9 : -1e9);
  return (x - median) / mad;
}

bool AtIntegerPercent(int64_t voters, int64_t registered, double tolerance_pp) {
  if (registered <= 0) return false;
  double pct = 100.0 * static_cast<double>(voters) / static_cast<double>(registered);
  return std::abs(pct - std::round(pct)) <= tolerance_pp + 1e-9;
}

HeapingResult IntegerPercentTest(const std::vector<std::pair<int64_t, int64_t>>& counts,
                                 double tolerance_pp) {
  HeapingResult r;
  double variance = 0;
  for (const auto& [voters, registered] : counts) {
    if (registered <= 0) continue;
    ++r.stations;
    if (AtIntegerPercent(voters, registered, tolerance_pp)) ++r.at_integer;
    // Chance: the share of counts within +-2% of registered around this one that would land on
    // an integer percentage (small electorates make integer percentages common by themselves).
    int64_t half = std::max<int64_t>(5, registered / 50);
    int64_t lo = std::max<int64_t>(0, voters - half), hi = std::min(registered, voters + half);
    int64_t hits = 0;
    for (int64_t k = lo; k <= hi; ++k) hits += AtIntegerPercent(k, registered, tolerance_pp) ? 1 : 0;
    double p = hi >= lo ? static_cast<double>(hits) / static_cast<double>(hi - lo + 1) : 0;
    r.expected += p;
    variance += p * (1 - p);
  }
  if (r.stations == 0) return r;
  double sd = std::sqrt(std::max(variance, 1e-9));
  r.z = (r.at_integer - 0.5 - r.expected) / sd;  // continuity correction
  r.p_value = 0.5 * std::erfc(r.z / std::sqrt(2.0));
  return r;
}

double HateWeight(double confidence, int64_t reach) {
  double c = std::clamp(confidence, 0.0, 1.0);
  return c * (1.0 + std::log10(1.0 + static_cast<double>(std::max<int64_t>(reach, 0)))) / 3.0;
}

}  // namespace ewarn::processors
