// Exact statistics for the forensic tests (integer-percentage heaping of turnout here, of the
// leader's share in the results work): no normal approximations, no randomness, so a replay
// gives the same p-values bit for bit. Pure functions; tests in tests/stats_test.cc.
#pragma once

#include <cstdint>
#include <vector>

namespace ewarn::processors {

// P(X >= k) for X the number of successes of independent trials with success chances `p`
// (the Poisson-binomial distribution), exactly, by dynamic programming over the trials:
// O(n * k) time, O(k) memory. 1 for k <= 0, 0 for k > n.
double PoissonBinomialUpperTail(const std::vector<double>& p, int64_t k);

// The chance that a count drawn as Binomial(registered, rate) lands within `tolerance_pp`
// percentage points of a whole percentage of `registered`: the published null of the
// integer-percentage test (Kobak, Shpilkin & Pshenichnikov 2016 redraw each station's count as
// Binomial(registered, observed turnout)). Sums the binomial's mass where it is not negligible
// (within 8 standard deviations of the mean).
double ChanceOfWholePercent(int64_t registered, double rate, double tolerance_pp);

// P(X >= x) for X chi-square distributed with `df` degrees of freedom, `df` odd (1, 3, ... 9
// covers the last-digit test's 9): the closed form for odd df, erfc(sqrt(x/2)) plus
// sqrt(2/pi) e^(-x/2) sum_{r=1}^{(df-1)/2} x^(r-1/2) / (1 * 3 * ... * (2r-1)). 1 for x <= 0.
double ChiSquareUpperTailOddDf(double x, int df);

// Benjamini-Hochberg at false-discovery rate `q`: which of the hypotheses with p-values `p`
// are rejected (the largest i with p_(i) <= i q / m, and every smaller p-value). Ties and the
// input order do not change the answer.
std::vector<bool> BenjaminiHochberg(const std::vector<double>& p, double q);

}  // namespace ewarn::processors
