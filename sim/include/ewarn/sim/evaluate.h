// Scoring the detectors against a simulator's ground truth (sim/README.md "Evaluation").
//
// An anomaly matches a truth record when its detector is the record's detector (for "cluster",
// any detector starting with "cluster"), its subject is the record's subject or one of its
// stations or lies inside its area (segment-wise prefix, on the subject or the anomaly's area),
// and its time is within [start_ms, end_ms + 30 min]. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/sim/scenario.h"
#include "ewarn/store/event_log.h"

namespace ewarn::sim {

inline constexpr int64_t kMatchSlackMs = 30 * kMinuteMs;

struct AnomalyRecord {
  std::string detector;
  std::string subject_id;
  std::string area;
  int64_t time_ms = 0;  // when detected (event time)
};

// One line per pattern type (decoys included).
struct PatternScore {
  std::string pattern;
  std::string detector;
  bool decoy = false;
  int injected = 0;
  int detected = 0;              // for a decoy: how many tripped the detector (bad)
  int64_t detector_anomalies = 0;   // all anomalies of the detector
  int64_t detector_true = 0;        // of those, matching a non-decoy record of that detector
  std::optional<double> precision;  // detector_true / detector_anomalies
  std::optional<double> recall;     // detected / injected (non-decoy patterns only)
  std::optional<double> median_delay_min;  // first match - start_ms, over detected records
};

struct Evaluation {
  std::vector<PatternScore> rows;  // in order of first appearance in the truth
  int64_t anomalies = 0;           // all anomalies read
  std::string ToText() const;      // a plain table; "n/a" where undefined
  std::string ToJson() const;      // {"patterns":[{...}],"anomalies":N}; null where undefined
};

// Does `anomaly` match `truth` (rules above)?
bool Matches(const TruthRecord& truth, const AnomalyRecord& anomaly);

Evaluation Evaluate(const std::vector<TruthRecord>& truth, const std::vector<AnomalyRecord>& anomalies);

// Every Anomaly in derived.anomalies (all partitions); NotFound when the topic does not exist,
// Corruption naming the partition and offset of an undecodable record.
Result<std::vector<AnomalyRecord>> ReadAnomalies(store::EventLog& log);

// A truth file (one JSON record per line; blank lines skipped). IOError / InvalidArgument
// naming the path and line.
Result<std::vector<TruthRecord>> ReadTruth(const std::string& path);

}  // namespace ewarn::sim
