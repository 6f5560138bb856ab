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

// What the day covered: the denominators of the false-alarm rates.
struct Population {
  int64_t stations = 0;
  int64_t districts = 0;
};

// One line per detector that wrote anything: its anomalies that point at no injected trouble
// (outside the scope of every non-decoy truth record, or inside a decoy's), per 1,000
// districts and per 1,000 stations of the day. On a null day every anomaly is one.
struct FalseAlarmRate {
  std::string detector;
  int64_t anomalies = 0;
  int64_t false_alarms = 0;
  std::optional<double> per_1000_districts;  // n/a without a population
  std::optional<double> per_1000_stations;
};

struct Evaluation {
  std::vector<PatternScore> rows;  // in order of first appearance in the truth
  std::vector<FalseAlarmRate> false_alarms;  // by detector name
  Population population;
  int64_t anomalies = 0;           // all anomalies read
  std::string ToText() const;      // plain tables; "n/a" where undefined
  // {"patterns":[{...}],"false_alarms":[{...}],"stations":N,"districts":N,"anomalies":N};
  // null where undefined.
  std::string ToJson() const;
};

// Does `anomaly` match `truth` (rules above)?
bool Matches(const TruthRecord& truth, const AnomalyRecord& anomaly);

Evaluation Evaluate(const std::vector<TruthRecord>& truth, const std::vector<AnomalyRecord>& anomalies,
                    Population population = {});

// The stations and districts of `stations` (DistrictPath).
Population PopulationOf(const std::vector<v1::PollingStation>& stations);

// Every Anomaly in derived.anomalies (all partitions); NotFound when the topic does not exist,
// Corruption naming the partition and offset of an undecodable record.
Result<std::vector<AnomalyRecord>> ReadAnomalies(store::EventLog& log);

// A truth file (one JSON record per line; blank lines skipped). IOError / InvalidArgument
// naming the path and line.
Result<std::vector<TruthRecord>> ReadTruth(const std::string& path);

}  // namespace ewarn::sim
