// ewarn::results PVT: drawing a parallel-vote-tabulation sample and estimating shares and
// turnout from the sampled stations' sheets (README "PVT"). Pure functions: no I/O, no clocks,
// deterministic for the same inputs.
//
// The estimator is the stratified ratio estimator observer groups use for PVTs (NDI's Apollo
// among them): strata are regions, stations are the sampled clusters, a candidate's share is
// the estimated total of its votes over the estimated total of valid votes, and its variance
// is the linearized (Taylor) variance of a ratio with each stratum's finite-population
// correction (1 - n_h/N_h):
//
//   R = Y / X,  Y = sum_h N_h * mean_h(y),  X = sum_h N_h * mean_h(x)
//   V(R) = 1/X^2 * sum_h N_h^2 * (1 - n_h/N_h) * s_h^2(d) / n_h,   d_i = y_i - R * x_i
//
// with s_h^2 the sample variance (n_h - 1) of d in stratum h. A margin of error is z * sqrt(V)
// (z = 1.96 for 95%, 2.576 for 99%). Turnout is the same ratio with y = ballots cast and
// x = registered voters. A stratum with one reporting station adds to the estimate but not to
// the variance (it has none to measure): its count is reported (`strata_without_variance`) so
// the margin is read as a lower bound then.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/v1/results.pb.h"

namespace ewarn::results {

inline constexpr double kZ95 = 1.959963984540054;
inline constexpr double kZ99 = 2.5758293035489004;

// One sampled station's counted sheet.
struct SampledSheet {
  std::string station_id;
  std::string stratum;                    // its region
  std::map<std::string, int64_t> votes;   // per candidate code
  int64_t ballots_cast = 0;               // valid votes + rejected (+ blank) on the sheet
  int64_t registered = 0;                 // 0: unknown (left out of turnout)
};

struct RatioEstimate {
  double value = 0;        // 0..1
  double standard_error = 0;
  double moe95 = 0;        // kZ95 * standard_error
  double moe99 = 0;
};

struct PvtEstimate {
  int64_t stations_reporting = 0;   // sheets used
  int64_t population = 0;           // stations in the strata estimated over
  int strata_without_variance = 0;  // strata with one reporting station (see above)
  std::map<std::string, RatioEstimate> shares;  // per candidate
  RatioEstimate turnout;
};

// Estimates over all strata in `stratum_sizes` (N_h: stations per region). Sheets of strata not
// in it are InvalidArgument (naming the stratum); so are strata with more sheets than stations.
// Candidates are those named in any sheet (a sheet's missing candidate counts 0 votes).
Result<PvtEstimate> EstimatePvt(std::span<const SampledSheet> sheets,
                                const std::map<std::string, int64_t>& stratum_sizes);

// The same estimate per stratum (each region on its own: a ratio estimator with that
// stratum's correction), for the strata with at least one sheet.
Result<std::map<std::string, PvtEstimate>> EstimatePvtByStratum(std::span<const SampledSheet> sheets,
                                                                const std::map<std::string, int64_t>& stratum_sizes);

// A station of the frame a sample is drawn from.
struct FrameStation {
  std::string station_id;
  std::string region;
};

// Draws `size` stations, strata = regions, proportional allocation (largest remainders, then
// at least two per region with two stations or more when the size allows, so every stratum
// has a variance), simple random sampling without replacement within each region. The same
// frame, size and seed give the same sample on every machine (own generator, no
// std::distribution). InvalidArgument when size < 1 or above the frame, or the frame repeats a
// station.
Result<v1::PvtSample> DrawPvtSample(std::vector<FrameStation> frame, const std::string& contest, int64_t size,
                                    uint64_t seed);

}  // namespace ewarn::results
