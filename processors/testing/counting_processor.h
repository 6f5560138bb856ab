// A small deterministic processor for runtime, crash and benchmark tests: per station it keeps
// an event count and a severity sum, and every 5th incident of a station it emits a summary
// with a deterministic id. Order-sensitive on purpose (the sum sequence is in the output), so
// a lost, doubled or reordered input shows in the digest.
#pragma once

#include <string>

#include "ewarn/processors/runtime.h"
#include "ewarn/schemas/events.h"

namespace ewarn::processors::testing {

inline constexpr std::string_view kCountsStore = "counts";
inline constexpr std::string_view kSummaryTopic = "derived.summaries";

class CountingProcessor final : public Processor {
 public:
  Status Process(const v1::Event& event, const RecordContext&, TaskState& state) override {
    if (event.body_case() == v1::Event::kTick) return Status::Ok();
    if (event.body_case() != v1::Event::kIncident) {
      return Status::InvalidArgument("counting processor takes incidents only");
    }
    const auto& inc = event.incident();
    if (inc.severity() < 1 || inc.severity() > 5) {
      return Status::InvalidArgument("severity " + std::to_string(inc.severity()) + " is not 1..5");
    }
    ASSIGN_OR_RETURN(std::optional<std::string> prev, state.Get(kCountsStore, inc.station_id()));
    int64_t count = 0, sum = 0;
    if (prev) {
      size_t sep = prev->find(':');
      count = std::stoll(prev->substr(0, sep));
      sum = std::stoll(prev->substr(sep + 1));
    }
    ++count;
    sum += inc.severity() * count;  // weighted by position: order matters
    state.Put(kCountsStore, inc.station_id(), std::to_string(count) + ":" + std::to_string(sum));
    if (count % 5 == 0) {
      v1::Event out;
      auto* h = out.mutable_header();
      h->set_schema_version(schemas::kSchemaVersion);
      h->set_event_id("summary:" + inc.station_id() + ":" + std::to_string(count));
      h->set_event_time_ms(event.header().event_time_ms());
      h->set_source(v1::SOURCE_PROCESSOR);
      auto* a = out.mutable_anomaly();
      a->set_detector("test.count");
      a->set_subject_id(inc.station_id());
      a->set_severity(static_cast<double>(sum));
      a->add_event_ids(event.header().event_id());
      state.Emit(std::string(kSummaryTopic), inc.station_id(), std::move(out));
    }
    return Status::Ok();
  }
};

// An incident input for station `station` with a given id, severity and time.
inline v1::Event MakeIncident(const std::string& event_id, const std::string& station,
                              int severity, int64_t time_ms) {
  v1::Event e;
  auto* h = e.mutable_header();
  h->set_schema_version(schemas::kSchemaVersion);
  h->set_event_id(event_id);
  h->set_event_time_ms(time_ms);
  h->set_source(v1::SOURCE_SIMULATOR);
  e.mutable_incident()->set_station_id(station);
  e.mutable_incident()->set_category(v1::INCIDENT_CATEGORY_VIOLENCE);
  e.mutable_incident()->set_severity(severity);
  return e;
}

}  // namespace ewarn::processors::testing
