// Station activity: the first stage of the station pipeline (see pipeline.h).
#include "ewarn/processors/pipeline.h"
#include "ewarn/schemas/events.h"

namespace ewarn::processors {
namespace {

// Value layout: "<incidents> <hate_speech> <turnout> <kit> <last_event_time_ms>".
struct Activity {
  int64_t incidents = 0, hate_speech = 0, turnout = 0, kit = 0, last_event_ms = 0;
};

Activity ParseActivity(const std::string& v) {
  Activity a;
  std::sscanf(v.c_str(), "%ld %ld %ld %ld %ld", &a.incidents, &a.hate_speech, &a.turnout, &a.kit,
              &a.last_event_ms);
  return a;
}

std::string FormatActivity(const Activity& a) {
  return std::to_string(a.incidents) + " " + std::to_string(a.hate_speech) + " " +
         std::to_string(a.turnout) + " " + std::to_string(a.kit) + " " +
         std::to_string(a.last_event_ms);
}

class ActivityProcessor final : public Processor {
 public:
  Status Process(const v1::Event& event, const RecordContext&, TaskState& state) override {
    if (event.body_case() == v1::Event::kTick) return Status::Ok();
    std::string station = schemas::RecordKey(event);
    if (station.empty()) return Status::InvalidArgument("event has no station or area");
    ASSIGN_OR_RETURN(std::optional<std::string> prev, state.Get(kActivityStore, station));
    Activity a = prev ? ParseActivity(*prev) : Activity{};
    switch (event.body_case()) {
      case v1::Event::kIncident: ++a.incidents; break;
      case v1::Event::kHateSpeech: ++a.hate_speech; break;
      case v1::Event::kTurnout: ++a.turnout; break;
      case v1::Event::kKit: ++a.kit; break;
      default:
        return Status::InvalidArgument("in.events does not carry '" +
                                       std::string(schemas::BodyName(event)) + "' events");
    }
    a.last_event_ms = std::max(a.last_event_ms, event.header().event_time_ms());
    state.Put(kActivityStore, station, FormatActivity(a));
    return Status::Ok();
  }
};

}  // namespace

Pipeline StationPipeline(int32_t /*partitions*/) {
  Pipeline p;
  p.runtime.input_topic = std::string(schemas::topic::kInputs);
  p.runtime.stores = {std::string(kActivityStore)};
  p.factory = [](int32_t) { return std::make_unique<ActivityProcessor>(); };
  return p;
}

}  // namespace ewarn::processors
