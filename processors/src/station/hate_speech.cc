// Hate speech (processors/README.md "hate speech"): per district, 5-minute buckets of flag
// weight; a surge when the last window weighs min_weight and surge_ratio times the rate of the
// preceding baseline.
//
// State: District.hate, hate_seen, hate_latched_ms.
#include <algorithm>

#include "detectors.h"
#include "ewarn/schemas/events.h"
#include "station/partition.h"

namespace ewarn::processors::station {
namespace {

constexpr int64_t kHateBucketMs = 5 * kMinute;
constexpr size_t kMaxHateSeen = 4096;

class HateSpeech final : public Module {
 public:
  HateSpeech(Partition& p, Findings& findings) : p_(p), findings_(findings), rules_(p.rules().hate_speech()) {}

  Status Validate(const v1::Event& e, const StationRef* station) const override {
    const std::string& area = e.hate_speech().area();
    if (station == nullptr && std::count(area.begin(), area.end(), '/') < 1) {
      return Status::InvalidArgument(
          "missing_field: hate-speech flag names neither a station nor a district or ward area");
    }
    return Status::Ok();
  }

  Status OnEvent(const v1::Event& e, const StationRef* ref, StationMem* s, int64_t t, TaskState& ts) override {
    (void)s;
    const v1::HateSpeechFlag& in = e.hate_speech();
    std::string district = ref != nullptr ? ref->district_path : schemas::DistrictKeyOfArea(in.area());
    DistrictMem& d = p_.District(district);
    d.dirty = true;
    // The same text from the same source counts once.
    uint64_t seen = TextHash(ReporterOf(e) + "\n" + in.text());
    auto& hashes = *d.state.mutable_hate_seen();
    if (std::find(hashes.begin(), hashes.end(), seen) != hashes.end()) return Status::Ok();
    hashes.Add(seen);
    if (static_cast<size_t>(hashes.size()) > kMaxHateSeen) hashes.erase(hashes.begin());

    int64_t bucket_start = t - ((t % kHateBucketMs) + kHateBucketMs) % kHateBucketMs;
    auto& buckets = *d.state.mutable_hate();
    st::HateBucket* bucket = nullptr;
    for (auto& b : buckets) {
      if (b.start_ms() == bucket_start) bucket = &b;
    }
    if (bucket == nullptr) {
      bucket = buckets.Add();
      bucket->set_start_ms(bucket_start);
    }
    bucket->set_weight(bucket->weight() + HateWeight(in.confidence(), in.reach()));
    if (bucket->event_ids_size() < 5) bucket->add_event_ids(e.header().event_id());
    // Forget buckets older than the baseline plus the window.
    int64_t horizon = t - rules_.baseline_ms() - rules_.window_ms();
    for (int i = buckets.size() - 1; i >= 0; --i) {
      if (buckets.Get(i).start_ms() + kHateBucketMs <= horizon) buckets.DeleteSubrange(i, 1);
    }
    if (t < d.state.hate_latched_ms()) return Status::Ok();
    double window = 0, baseline = 0;
    std::vector<std::string> ids;
    for (const auto& b : buckets) {
      if (b.start_ms() + kHateBucketMs > t - rules_.window_ms()) {
        window += b.weight();
        for (const auto& id : b.event_ids()) {
          if (ids.size() < 10) ids.push_back(id);
        }
      } else {
        baseline += b.weight();
      }
    }
    // The baseline as an expected weight per window; young districts have none yet, so the
    // minimum weight alone decides until history accumulates.
    double expected = baseline * static_cast<double>(rules_.window_ms()) /
                      static_cast<double>(std::max<int64_t>(rules_.baseline_ms(), 1));
    if (window >= rules_.min_weight() && window >= rules_.surge_ratio() * expected) {
      d.state.set_hate_latched_ms(t + rules_.window_ms());
      findings_.AtArea(district, district,
                       {.detector = "hate.surge",
                        .explanation = Fmt("hate-speech weight %.1f in the last hour against %.1f expected", window,
                                           expected),
                        .event_ids = std::move(ids)},
                       t, ts);
    }
    return Status::Ok();
  }

 private:
  Partition& p_;
  Findings& findings_;
  const v1::HateSpeechRules& rules_;
};

}  // namespace

std::unique_ptr<Module> MakeHateSpeech(Partition& p, Findings& findings) {
  return std::make_unique<HateSpeech>(p, findings);
}

}  // namespace ewarn::processors::station
