// The processors ewarn runs, as one description shared by `serve`, `replay` and tests, so a
// replay runs exactly what the live system ran.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ewarn/processors/runtime.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"
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
// The event time the station stage's partition has reached (0 before its first commit). An
// input whose time the outside world does not give (an acknowledgement) is dated with it, so
// it lands in the same timeline as the events it answers, live or simulated.
Result<int64_t> PartitionEventTime(store::StateStore& state, int32_t partition);

// Latest RiskAssessment per subject: what GET /v1/risk serves. Areas under their path
// ("LAGOS/IKEJA", "LAGOS/IKEJA/W1"), stations under their ward's path, '#', their id, so one
// prefix scan returns an area with everything inside it.
inline constexpr std::string_view kRiskStore = "risk";
inline std::string StationRiskKey(std::string_view ward_path, std::string_view station_id) {
  return std::string(ward_path) + "#" + std::string(station_id);
}

// The result sheet that counts per station and contest (the station stage's results module),
// as an encoded ewarn.v1.Event with its ResultSheet: what GET /v1/results tabulates. Keyed
// contest '\0' ward path '#' station id, so one prefix scan returns a contest in an area.
inline constexpr std::string_view kResultsStore = "results";
inline std::string CountedResultKey(std::string_view contest, std::string_view ward_path, std::string_view station_id) {
  std::string key(contest);
  key.push_back('\0');
  key.append(ward_path);
  key.push_back('#');
  key.append(station_id);
  return key;
}

}  // namespace ewarn::processors
