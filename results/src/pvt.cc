// The stratified ratio estimator of a PVT (see pvt.h for the formulas).
#include <cmath>
#include <set>

#include "ewarn/results/pvt.h"

namespace ewarn::results {
namespace {

// A ratio's per-stratum ingredients: y and x per reporting station.
struct StratumData {
  int64_t population = 0;
  std::vector<double> y, x;
};

// Combined ratio estimator over `strata` with linearized variance and fpc.
RatioEstimate Ratio(const std::vector<const StratumData*>& strata) {
  double y_total = 0, x_total = 0;
  for (const StratumData* s : strata) {
    if (s->x.empty()) continue;
    double n = static_cast<double>(s->x.size()), y_sum = 0, x_sum = 0;
    for (size_t i = 0; i < s->x.size(); ++i) {
      y_sum += s->y[i];
      x_sum += s->x[i];
    }
    y_total += static_cast<double>(s->population) * y_sum / n;
    x_total += static_cast<double>(s->population) * x_sum / n;
  }
  RatioEstimate out;
  if (x_total <= 0) return out;
  const double r = y_total / x_total;
  double variance = 0;
  for (const StratumData* s : strata) {
    size_t n = s->x.size();
    if (n < 2) continue;
    double mean = 0;
    for (size_t i = 0; i < n; ++i) mean += s->y[i] - r * s->x[i];
    mean /= static_cast<double>(n);
    double ss = 0;
    for (size_t i = 0; i < n; ++i) {
      double d = s->y[i] - r * s->x[i] - mean;
      ss += d * d;
    }
    double s2 = ss / static_cast<double>(n - 1);
    double big_n = static_cast<double>(s->population);
    double fpc = 1.0 - static_cast<double>(n) / big_n;
    variance += big_n * big_n * fpc * s2 / static_cast<double>(n);
  }
  variance /= x_total * x_total;
  out.value = r;
  out.standard_error = std::sqrt(std::max(0.0, variance));
  out.moe95 = kZ95 * out.standard_error;
  out.moe99 = kZ99 * out.standard_error;
  return out;
}

struct Prepared {
  std::set<std::string> candidates;
  std::map<std::string, std::vector<const SampledSheet*>> by_stratum;
};

Result<Prepared> Prepare(std::span<const SampledSheet> sheets, const std::map<std::string, int64_t>& sizes) {
  Prepared p;
  for (const auto& s : sheets) {
    auto size = sizes.find(s.stratum);
    if (size == sizes.end()) {
      return Status::InvalidArgument("station " + s.station_id + " is in stratum '" + s.stratum +
                                     "', which has no size");
    }
    auto& list = p.by_stratum[s.stratum];
    list.push_back(&s);
    if (static_cast<int64_t>(list.size()) > size->second) {
      return Status::InvalidArgument("stratum '" + s.stratum + "' has more sheets than its " +
                                     std::to_string(size->second) + " stations");
    }
    for (const auto& [candidate, _] : s.votes) p.candidates.insert(candidate);
  }
  return p;
}

// The estimate over the given strata (name -> size) using the prepared sheets.
PvtEstimate Estimate(const Prepared& p, const std::map<std::string, int64_t>& strata) {
  PvtEstimate out;
  std::map<std::string, StratumData> valid, turnout;
  for (const auto& [name, size] : strata) {
    out.population += size;
    auto it = p.by_stratum.find(name);
    size_t n = it == p.by_stratum.end() ? 0 : it->second.size();
    out.stations_reporting += static_cast<int64_t>(n);
    if (n == 1) ++out.strata_without_variance;
    StratumData& t = turnout[name];
    t.population = size;
    if (it == p.by_stratum.end()) continue;
    for (const SampledSheet* s : it->second) {
      if (s->registered <= 0) continue;
      t.y.push_back(static_cast<double>(s->ballots_cast));
      t.x.push_back(static_cast<double>(s->registered));
    }
  }
  // Each sheet's valid votes, once: the x of every candidate's ratio.
  std::map<std::string, std::vector<double>> valid_votes;
  for (const auto& [name, sheets] : p.by_stratum) {
    std::vector<double>& totals = valid_votes[name];
    for (const SampledSheet* s : sheets) {
      double total = 0;
      for (const auto& [_, v] : s->votes) total += static_cast<double>(v);
      totals.push_back(total);
    }
  }
  for (const auto& candidate : p.candidates) {
    std::vector<StratumData> data;
    data.reserve(strata.size());
    for (const auto& [name, size] : strata) {
      StratumData d;
      d.population = size;
      if (auto it = p.by_stratum.find(name); it != p.by_stratum.end()) {
        d.x = valid_votes[name];
        for (const SampledSheet* s : it->second) {
          auto votes = s->votes.find(candidate);
          d.y.push_back(votes == s->votes.end() ? 0.0 : static_cast<double>(votes->second));
        }
      }
      data.push_back(std::move(d));
    }
    std::vector<const StratumData*> refs;
    for (const auto& d : data) refs.push_back(&d);
    out.shares[candidate] = Ratio(refs);
  }
  std::vector<const StratumData*> refs;
  for (const auto& [_, d] : turnout) refs.push_back(&d);
  out.turnout = Ratio(refs);
  return out;
}

}  // namespace

Result<PvtEstimate> EstimatePvt(std::span<const SampledSheet> sheets,
                                const std::map<std::string, int64_t>& stratum_sizes) {
  ASSIGN_OR_RETURN(Prepared p, Prepare(sheets, stratum_sizes));
  return Estimate(p, stratum_sizes);
}

Result<std::map<std::string, PvtEstimate>> EstimatePvtByStratum(std::span<const SampledSheet> sheets,
                                                                const std::map<std::string, int64_t>& stratum_sizes) {
  ASSIGN_OR_RETURN(Prepared p, Prepare(sheets, stratum_sizes));
  std::map<std::string, PvtEstimate> out;
  for (const auto& [name, _] : p.by_stratum) {
    out[name] = Estimate(p, {{name, stratum_sizes.at(name)}});
  }
  return out;
}

}  // namespace ewarn::results
