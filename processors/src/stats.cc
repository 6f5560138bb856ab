#include "stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ewarn::processors {

double PoissonBinomialUpperTail(const std::vector<double>& p, int64_t k) {
  if (k <= 0) return 1;
  if (k > static_cast<int64_t>(p.size())) return 0;
  // below[j] = P(j successes so far) for j < k; mass at k or more is what we want, so it is
  // only tracked as what leaves the table (summing the small terms keeps precision for tails).
  std::vector<double> below(static_cast<size_t>(k), 0.0);
  below[0] = 1;
  double tail = 0;
  for (double raw : p) {
    double q = std::clamp(raw, 0.0, 1.0);
    tail += below[static_cast<size_t>(k - 1)] * q;
    for (int64_t j = k - 1; j >= 1; --j) below[static_cast<size_t>(j)] = below[static_cast<size_t>(j)] * (1 - q) + below[static_cast<size_t>(j - 1)] * q;
    below[0] *= 1 - q;
  }
  return std::clamp(tail, 0.0, 1.0);
}

double ChiSquareUpperTailOddDf(double x, int df) {
  if (x <= 0) return 1;
  double term = std::sqrt(x);  // x^(r-1/2) / (1 * 3 * ... * (2r-1)), from r = 1
  double sum = 0;
  for (int r = 1; r <= (df - 1) / 2; ++r) {
    sum += term;
    term *= x / (2 * r + 1);
  }
  const double kSqrt2OverPi = 0.79788456080286535588;
  return std::clamp(std::erfc(std::sqrt(x / 2)) + kSqrt2OverPi * std::exp(-x / 2) * sum, 0.0, 1.0);
}

namespace {

bool WithinWholePercent(int64_t count, int64_t registered, double tolerance_pp) {
  double pct = 100.0 * static_cast<double>(count) / static_cast<double>(registered);
  return std::abs(pct - std::round(pct)) <= tolerance_pp + 1e-9;
}

double LogBinomialPmf(int64_t k, int64_t n, double log_p, double log_q) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1) + static_cast<double>(k) * log_p + static_cast<double>(n - k) * log_q;
}

}  // namespace

double ChanceOfWholePercent(int64_t registered, double rate, double tolerance_pp) {
  if (registered <= 0) return 0;
  rate = std::clamp(rate, 0.0, 1.0);
  if (rate <= 0 || rate >= 1) {  // a degenerate binomial: its one count
    return WithinWholePercent(rate >= 1 ? registered : 0, registered, tolerance_pp) ? 1 : 0;
  }
  const double n = static_cast<double>(registered);
  const double sd = std::sqrt(n * rate * (1 - rate));
  const auto lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(n * rate - 8 * sd - 1)));
  const auto hi = std::min<int64_t>(registered, static_cast<int64_t>(std::ceil(n * rate + 8 * sd + 1)));
  // From the mode outwards by the ratio of neighbouring terms: one lgamma per station.
  const double odds = rate / (1 - rate);
  const auto mode = std::clamp<int64_t>(static_cast<int64_t>(std::floor((n + 1) * rate)), lo, hi);
  const double at_mode = std::exp(LogBinomialPmf(mode, registered, std::log(rate), std::log1p(-rate)));
  double chance = 0, term = at_mode;
  for (int64_t k = mode; k <= hi; ++k) {
    if (k > mode) term *= static_cast<double>(registered - k + 1) / static_cast<double>(k) * odds;
    if (WithinWholePercent(k, registered, tolerance_pp)) chance += term;
  }
  term = at_mode;
  for (int64_t k = mode - 1; k >= lo; --k) {
    term *= static_cast<double>(k + 1) / static_cast<double>(registered - k) / odds;
    if (WithinWholePercent(k, registered, tolerance_pp)) chance += term;
  }
  return std::clamp(chance, 0.0, 1.0);
}

std::vector<bool> BenjaminiHochberg(const std::vector<double>& p, double q) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  size_t passing = 0;  // how many of the smallest are rejected
  for (size_t i = 0; i < m; ++i) {
    if (p[order[i]] <= static_cast<double>(i + 1) * q / static_cast<double>(m)) passing = i + 1;
  }
  std::vector<bool> rejected(m, false);
  for (size_t i = 0; i < passing; ++i) rejected[order[i]] = true;
  return rejected;
}

}  // namespace ewarn::processors
