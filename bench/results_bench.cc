// Results on read at Nigeria's scale (issue 16 "Speed"): what GET /v1/results/pvt and
// GET /v1/results compute per request, without the HTTP round trip.
//   PvtRequest     1,500 sampled stations' counted sheets decoded from their stored bytes (as the
//                  route reads them from the read model), the overall and per-region estimates,
//                  and the ten convergence estimates: everything the route does but the lookups.
//   TabulateNigeria  the official tally of 176,846 counted sheets at every level (37 regions,
//                  774 districts, 8,809 wards), as official=true and GET /v1/results?area= compute it.
//   DecodeNigeria  decoding those 176,846 stored sheets alone: the read ceiling of the tally.
//   DrawSample     ewarn pvt-sample: 1,500 of 176,846 stations, stratified by region.
// Results: BENCHMARKS.md "Results on read".
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "ewarn/results/pvt.h"
#include "ewarn/results/tabulation.h"
#include "ewarn/schemas/events.h"

namespace ewarn {
namespace {

constexpr int kUnits = 176846, kRegions = 37, kDistricts = 774, kWards = 8809, kCandidates = 18;

uint64_t Mix(uint64_t x) {  // SplitMix64's finaliser: stable pseudo-random numbers per station
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string Candidate(int c) { return "P" + std::to_string(c); }

// Station i's ward path and counted sheet: 18 parties, the first three strong, 200-700 valid votes.
results::CountedSheet MakeSheet(int i) {
  results::CountedSheet c;
  int ward = i % kWards, district = ward % kDistricts, region = district % kRegions;
  c.station_id = "PU-" + std::to_string(i);
  c.ward_path = "R" + std::to_string(region) + "/D" + std::to_string(district) + "/W" + std::to_string(ward);
  c.registered = 500 + static_cast<int64_t>(Mix(i) % 1000);
  c.occurred_ms = 1'700'000'000'000 + static_cast<int64_t>(Mix(i + 1) % 7'200'000);
  for (int k = 0; k < kCandidates; ++k) {
    auto* v = c.sheet.add_votes();
    v->set_candidate(Candidate(k));
    v->set_votes(static_cast<int64_t>(Mix(static_cast<uint64_t>(i) * 31 + k) % (k < 3 ? 200 : 10)));
  }
  c.sheet.set_rejected(static_cast<int64_t>(Mix(i + 2) % 12));
  return c;
}

results::SampledSheet Sampled(const results::CountedSheet& c) {
  results::SampledSheet s{c.station_id, c.ward_path.substr(0, c.ward_path.find('/')), {}, 0, c.registered};
  int64_t valid = 0;
  for (const auto& v : c.sheet.votes()) s.votes[v.candidate()] = v.votes(), valid += v.votes();
  s.ballots_cast = valid + c.sheet.rejected() + c.sheet.blank();
  return s;
}

void PvtRequest(benchmark::State& state) {
  // The sample's stored sheets: every 118th station (1,500 of them), encoded as the read side keeps them.
  std::vector<std::string> stored;
  std::vector<results::CountedSheet> where;  // what the route knows from the key and the reference
  std::map<std::string, int64_t> sizes;
  for (int i = 0; i < kUnits; ++i) ++sizes["R" + std::to_string(i % kWards % kDistricts % kRegions)];
  for (int i = 0; stored.size() < 1500; i += kUnits / 1500) {
    results::CountedSheet c = MakeSheet(i);
    v1::Event e;
    e.mutable_header()->set_event_time_ms(c.occurred_ms);
    *e.mutable_result_sheet() = c.sheet;
    stored.push_back(schemas::EncodeEvent(e));
    c.sheet.Clear();
    where.push_back(std::move(c));
  }
  for (auto _ : state) {
    std::vector<results::SampledSheet> sheets;
    sheets.reserve(stored.size());
    for (size_t n = 0; n < stored.size(); ++n) {
      results::CountedSheet c = where[n];
      v1::Event e;
      e.ParseFromString(stored[n]);
      c.sheet = std::move(*e.mutable_result_sheet());
      sheets.push_back(Sampled(c));
    }
    auto overall = results::EstimatePvt(sheets, sizes);
    auto regions = results::EstimatePvtByStratum(sheets, sizes);
    for (int step = 1; step <= 10; ++step) {  // the convergence points
      std::span<const results::SampledSheet> first = std::span<const results::SampledSheet>(sheets).first(sheets.size() * step / 10);
      benchmark::DoNotOptimize(results::EstimatePvt(first, sizes));
    }
    benchmark::DoNotOptimize(overall);
    benchmark::DoNotOptimize(regions);
  }
  state.counters["sheets"] = static_cast<double>(stored.size());
}
BENCHMARK(PvtRequest)->Unit(benchmark::kMillisecond);

void TabulateNigeria(benchmark::State& state) {
  std::vector<results::CountedSheet> sheets;
  std::map<std::string, int64_t> expected;
  sheets.reserve(kUnits);
  for (int i = 0; i < kUnits; ++i) {
    sheets.push_back(MakeSheet(i));
    for (const auto& area : results::AreasOf(sheets.back().ward_path)) ++expected[area];
  }
  for (auto _ : state) {
    auto tallies = results::Tabulate(sheets, expected, "");
    benchmark::DoNotOptimize(tallies);
  }
  state.counters["sheets"] = kUnits;
}
BENCHMARK(TabulateNigeria)->Unit(benchmark::kMillisecond);

// The ceiling the tally is read against: decoding the 176,846 stored sheets alone, which the
// route does before it tabulates.
void DecodeNigeria(benchmark::State& state) {
  std::vector<std::string> stored;
  for (int i = 0; i < kUnits; ++i) {
    v1::Event e;
    *e.mutable_result_sheet() = MakeSheet(i).sheet;
    stored.push_back(schemas::EncodeEvent(e));
  }
  for (auto _ : state) {
    int64_t votes = 0;
    for (const auto& bytes : stored) {
      v1::Event e;
      e.ParseFromString(bytes);
      votes += e.result_sheet().votes(0).votes();
    }
    benchmark::DoNotOptimize(votes);
  }
  state.counters["sheets"] = kUnits;
}
BENCHMARK(DecodeNigeria)->Unit(benchmark::kMillisecond);

void DrawSample(benchmark::State& state) {
  std::vector<results::FrameStation> frame;
  for (int i = 0; i < kUnits; ++i) frame.push_back({"PU-" + std::to_string(i), "R" + std::to_string(i % kWards % kDistricts % kRegions)});
  for (auto _ : state) benchmark::DoNotOptimize(results::DrawPvtSample(frame, "PRES-2027", 1500, 7));
}
BENCHMARK(DrawSample)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ewarn

BENCHMARK_MAIN();
