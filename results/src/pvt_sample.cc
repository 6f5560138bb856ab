// Drawing a PVT sample: proportional stratified allocation, then SRSWOR per region.
#include <algorithm>
#include <map>
#include <set>

#include "ewarn/results/pvt.h"

namespace ewarn::results {
namespace {

// SplitMix64: small, fast, and the same sequence everywhere (std::mt19937_64 is too, but the
// std:: distributions on top of it are not).
class Generator {
 public:
  explicit Generator(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound), without modulo bias.
  uint64_t Below(uint64_t bound) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t v;
    do {
      v = Next();
    } while (v >= limit);
    return v % bound;
  }

 private:
  uint64_t state_;
};

// Largest-remainder proportional allocation of `size` over `populations`, then at least
// min(2, N_h) per stratum, taken from the strata with the most to spare.
std::vector<int64_t> Allocate(const std::vector<int64_t>& populations, int64_t total, int64_t size) {
  const size_t k = populations.size();
  std::vector<int64_t> n(k);
  std::vector<std::pair<double, size_t>> remainders;
  int64_t given = 0;
  for (size_t h = 0; h < k; ++h) {
    double exact = static_cast<double>(size) * static_cast<double>(populations[h]) / static_cast<double>(total);
    n[h] = static_cast<int64_t>(exact);
    given += n[h];
    remainders.push_back({exact - static_cast<double>(n[h]), h});
  }
  // Ties by stratum order, so the allocation is a function of the frame alone.
  std::stable_sort(remainders.begin(), remainders.end(), [](auto a, auto b) { return a.first > b.first; });
  for (size_t i = 0; given < size; ++i, ++given) ++n[remainders[i % k].second];
  for (size_t h = 0; h < k; ++h) {
    int64_t floor = std::min<int64_t>(2, populations[h]);
    while (n[h] < floor) {
      size_t donor = k;
      for (size_t g = 0; g < k; ++g) {
        if (n[g] > std::min<int64_t>(2, populations[g]) && (donor == k || n[g] > n[donor])) donor = g;
      }
      if (donor == k) break;  // the size is too small to give every stratum two
      --n[donor];
      ++n[h];
    }
  }
  return n;
}

}  // namespace

Result<v1::PvtSample> DrawPvtSample(std::vector<FrameStation> frame, const std::string& contest, int64_t size,
                                    uint64_t seed) {
  if (size < 1) return Status::InvalidArgument("the sample size must be at least 1");
  if (size > static_cast<int64_t>(frame.size())) {
    return Status::InvalidArgument("a sample of " + std::to_string(size) + " is larger than the " +
                                   std::to_string(frame.size()) + " stations known");
  }
  // The frame's order must not matter: sort by region, then station.
  std::sort(frame.begin(), frame.end(), [](const FrameStation& a, const FrameStation& b) {
    return a.region != b.region ? a.region < b.region : a.station_id < b.station_id;
  });
  std::map<std::string, std::vector<std::string>> regions;
  std::set<std::string> seen;
  for (auto& s : frame) {
    if (!seen.insert(s.station_id).second) {
      return Status::InvalidArgument("station " + s.station_id + " is in the frame twice");
    }
    regions[s.region].push_back(std::move(s.station_id));
  }
  std::vector<int64_t> populations;
  for (const auto& [_, ids] : regions) populations.push_back(static_cast<int64_t>(ids.size()));
  std::vector<int64_t> allocation = Allocate(populations, static_cast<int64_t>(frame.size()), size);

  v1::PvtSample sample;
  sample.set_contest(contest);
  sample.set_seed(seed);
  sample.set_size(size);
  Generator rng(seed);
  std::vector<std::string> chosen;
  size_t h = 0;
  for (auto& [region, ids] : regions) {
    const int64_t n = allocation[h++];
    // Partial Fisher-Yates: the first n positions are a uniform sample without replacement.
    for (int64_t i = 0; i < n; ++i) {
      uint64_t j = static_cast<uint64_t>(i) + rng.Below(ids.size() - static_cast<uint64_t>(i));
      std::swap(ids[static_cast<size_t>(i)], ids[j]);
      chosen.push_back(ids[static_cast<size_t>(i)]);
    }
    auto* stratum = sample.add_strata();
    stratum->set_region(region);
    stratum->set_population(static_cast<int64_t>(ids.size()));
    stratum->set_sampled(n);
  }
  std::sort(chosen.begin(), chosen.end());
  for (auto& id : chosen) sample.add_station_ids(std::move(id));
  return sample;
}

}  // namespace ewarn::results
