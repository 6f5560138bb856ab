// The processors ewarn runs, as one description shared by `serve`, `replay` and tests, so a
// replay runs exactly what the live system ran.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "ewarn/processors/runtime.h"
#include "ewarn/store/event_log.h"
#include "ewarn/v1/rules.pb.h"

namespace ewarn::processors {

struct Pipeline {
  RuntimeOptions runtime;                  // input topic, stores, commit policy
  ProcessorFactory factory;                // one processor per input partition
  std::vector<store::TopicSpec> outputs;   // topics the pipeline writes (created at start)
};

// The station stage over in.events (processors/README.md): enrich, cluster, turnout, kit and
// hate-speech detectors, and risk per station, ward and district. Writes
//   derived.incidents   EnrichedIncident per incident report (location, confidence, situation)
//   derived.situations  Situation on every change (open, updated, merged, closed)
//   derived.anomalies   Anomaly per finding (detector, subject, explanation, event ids)
//   risk                RiskAssessment when a subject's level changes, plus the acks, silences
//                       and ticks it forwards: the alert stage's input, partitioned like
//                       in.events (`partitions` must be in.events' partition count)
// `log` (for reference data: ref.stations) must outlive the pipeline's processors.
Pipeline StationPipeline(int32_t partitions, const v1::Rules& rules, store::EventLog& log);

// The station stage's own state (stations, districts, partition clock), keyed by partition.
inline constexpr std::string_view kStationStageStore = "station_stage";
// Latest RiskAssessment per subject (station id or area path): what GET /v1/risk serves.
inline constexpr std::string_view kRiskStore = "risk";

}  // namespace ewarn::processors
