// The processors ewarn runs, as one description shared by `serve`, `replay` and tests, so a
// replay runs exactly what the live system ran.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ewarn/processors/runtime.h"

namespace ewarn::processors {

struct Pipeline {
  RuntimeOptions runtime;                  // input topic, stores, commit policy
  ProcessorFactory factory;                // one processor per input partition
  std::vector<store::TopicSpec> outputs;   // topics the pipeline writes (created at start)
};

// The station pipeline over in.events. `partitions` sizes the output topics.
Pipeline StationPipeline(int32_t partitions);

// Station activity: per station, how many events of each kind arrived and when (event time)
// the last one happened; the base the risk map and detectors build on.
inline constexpr std::string_view kActivityStore = "activity";

}  // namespace ewarn::processors
