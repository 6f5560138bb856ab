// Pure functions behind the station stage's detectors and risk model: no state, no time,
// easy to pin in tests (processors/tests/detectors_test.cc).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "ewarn/v1/rules.pb.h"

namespace ewarn::processors {

// `value` decayed from `from_ms` to `to_ms` with the given half-life (no growth backwards).
double Decay(double value, int64_t from_ms, int64_t to_ms, int64_t half_life_ms);

// The next risk level (ewarn.v1.RiskLevel numbers, 1 = LOW .. 4 = CRITICAL) for `score`, from
// `current`, with hysteresis: a level is entered at its `enter` score and kept until the score
// falls below its `leave` score, so a score hovering at a threshold does not flap.
int NextRiskLevel(int current, double score, const v1::RiskRules& rules);

// Robust z-score of x among peers: (x - median) / (1.4826 * MAD). 0 when the MAD is 0 and x is
// the median; +-infinity-like (1e9) when the MAD is 0 and x is not.
double RobustZ(double x, std::vector<double> peers);
double Median(std::vector<double> values);

// The integer-percentage test (Kobak, Shpilkin & Pshenichnikov, Ann. Appl. Stat. 2016): how
// many stations report a turnout within `tolerance_pp` percentage points of an integer, against
// how many chance would give for the same registered counts (each station's chance is the share
// of nearby achievable counts that land on an integer percentage).
struct HeapingResult {
  int stations = 0;
  int at_integer = 0;
  double expected = 0;   // under chance
  double z = 0;
  double p_value = 1;    // one-sided, normal approximation of the Poisson-binomial
};
// `counts`: (voters_cast, registered) per station; stations with registered <= 0 are ignored.
HeapingResult IntegerPercentTest(const std::vector<std::pair<int64_t, int64_t>>& counts,
                                 double tolerance_pp);
bool AtIntegerPercent(int64_t voters, int64_t registered, double tolerance_pp);

// A hate-speech flag's weight: confidence times a reach factor that grows with log10(reach).
double HateWeight(double confidence, int64_t reach);

}  // namespace ewarn::processors
