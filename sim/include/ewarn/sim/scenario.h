// ewarn::sim: a seeded, deterministic election-day generator with injected patterns and their
// ground truth (sim/README.md).
//
// Generate() is a pure function of its inputs: the reference stations, the options (seed and
// the simulated day's start included) and nothing else. It reads no clock and no global
// randomness, so the same inputs give the same events and truth, byte for byte (StreamText(),
// TruthJsonl()). Sending the events somewhere is the sinks' business (sink.h).
//
// Thread-safety: everything here is a value or a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"
#include "ewarn/v1/reference.pb.h"

namespace ewarn::sim {

inline constexpr int64_t kMinuteMs = 60'000;
inline constexpr int64_t kHourMs = 60 * kMinuteMs;
inline constexpr int64_t kDayMs = 24 * kHourMs;

struct ScenarioOptions {
  uint64_t seed = 1;
  // 00:00 UTC of the simulated day (a multiple of kDayMs). The caller chooses it (ChooseDay);
  // the generator never looks at a clock.
  int64_t day_ms = 0;
  // The simulated span: from start_ms_of_day, `hours` long. Kits boot before polls open.
  int64_t start_ms_of_day = 7 * kHourMs;
  double hours = 11;
  // As processors/rules/default.textproto's time.polls_open/close_ms_of_day.
  int64_t polls_open_ms_of_day = 8 * kHourMs;
  int64_t polls_close_ms_of_day = 17 * kHourMs;
  int64_t heartbeat_ms = 5 * kMinuteMs;       // per kit, jittered by ±1 min
  int64_t turnout_every_ms = 15 * kMinuteMs;  // per station, jittered by ±3 min
  double incidents_per_station = 0.1;         // background reports per station per day
  int64_t flag_every_ms = 2 * kHourMs;        // background hate-speech flags per district
  // Fraction of background incidents sent as SMS ("INC <station> <category> <severity> ...")
  // through the Kannel route. SMS carry the gateway's receive time, not the simulated one, so
  // pattern incidents are always JSON.
  double sms_fraction = 0;
  bool inject_patterns = true;
  // A null day, for measuring false alarms (ewarn evaluate): no pattern is injected and each
  // station's final count is Binomial(registered, its district's turnout), the null the
  // integer-percentage test assumes (the background is otherwise nudged off whole
  // percentages, which no real count is).
  bool null_day = false;
  // Only each station's final count, and ticks: no kits, snapshots, incidents, flags,
  // monitors or patterns. A national null day for the final-count detectors in minutes
  // instead of hours. (The heaping re-test is 2 h after the close: a span of 13 h from 07:00
  // reaches it.)
  bool finals_only = false;
  // First part of every event id: ids are "<prefix>-<yyyymmdd>-<seed>-<tag>-<kind><n>", the tag
  // a hash of the other options and the station ids, so a re-run with the same inputs is
  // idempotent and a run with other inputs never collides with it.
  std::string id_prefix = "sim";
};

enum class EventKind { kIncident, kHateSpeech, kTurnout, kKit };
std::string_view EventKindName(EventKind kind);  // "incident", "hate_speech", "turnout", "kit"

// Who sends: a monitor id for incidents, else kSenderKits / kSenderOfficers / kSenderClassifier.
inline constexpr std::string_view kSenderKits = "kits";
inline constexpr std::string_view kSenderOfficers = "officers";
inline constexpr std::string_view kSenderClassifier = "classifier";

// One submission, in the ingest API's own terms.
struct SimEvent {
  int64_t time_ms = 0;  // simulated event time (occurred_at)
  EventKind kind = EventKind::kIncident;
  std::string sender;
  std::string body;      // the JSON object POSTed to /v1/<kind> (a kit: one reading)
  std::string sms_from;  // when set, sent as SMS from this phone with sms_text instead
  std::string sms_text;
  std::string pattern;   // the injected pattern it belongs to; "" for background
};

// A field monitor. Reports for `area` (a district path); `phone` is registered for SMS.
struct SimMonitor {
  std::string monitor_id;
  std::string area;
  std::string phone;
};

// Ground truth: one injected pattern (or decoy) and the detector that should (or, for a decoy,
// must not) fire. JSON line: {"pattern":...,"detector":...,"subject":...,"stations":[...],
// "area":...,"start_ms":...,"end_ms":...,"decoy":false}.
struct TruthRecord {
  std::string pattern;   // violent_cluster, turnout_surge, over_voting, integer_heaping,
                         // kit_outage, hate_surge, decoy_repeat, decoy_busy_station
  std::string detector;  // cluster, turnout.surge, turnout.over_voting, turnout.heaping,
                         // kit.area_down, hate.surge
  std::string subject;   // station id, or the area path for area detectors
  std::vector<std::string> stations;
  std::string area;      // REGION/DISTRICT/WARD or REGION/DISTRICT
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  bool decoy = false;

  std::string ToJson() const;
  // InvalidArgument naming what is missing or malformed.
  static Result<TruthRecord> FromJson(std::string_view line);
};

struct Scenario {
  uint64_t seed = 0;
  int64_t start_ms = 0, end_ms = 0;             // the simulated span
  int64_t polls_open_ms = 0, polls_close_ms = 0;
  std::vector<v1::PollingStation> stations;     // registered_voters filled in where unknown
  std::vector<SimMonitor> monitors;
  std::vector<SimEvent> events;                 // by time; ties in generation order
  std::vector<TruthRecord> truth;

  // The canonical byte form of the event stream: one line per event
  // "<time_ms>\t<kind>\t<sender>\t<body or sms:from:text>\t<pattern>".
  std::string StreamText() const;
  // The truth file: one TruthRecord JSON per line.
  std::string TruthJsonl() const;
};

// Area path of a station: "REGION/DISTRICT/WARD" (schemas::WardPath).
std::string WardPath(const v1::PollingStation& s);
// "REGION/DISTRICT" (schemas::DistrictKey).
std::string DistrictPath(const v1::PollingStation& s);

// `count` stations in regions, districts (3-5 wards each) and wards (4-8 stations each), with
// coordinates in a plausible West-African box (wards a few km across) and 500-1500 registered
// voters (each region's first station and one in fifty others: large urban ones of 2500-3500). Ids "SIM-00001"... Deterministic
// in (count, seed).
std::vector<v1::PollingStation> GenerateStations(int count, uint64_t seed);

// The stations in ref.stations (the last record per id wins, as compaction would keep).
// NotFound when the topic does not exist.
Result<std::vector<v1::PollingStation>> ReadStations(store::EventLog& log);

// At most `max_stations` of `stations`, taken as whole wards (so district and ward patterns
// stay intact) in a seeded order; all of them when they are fewer.
std::vector<v1::PollingStation> SampleWards(std::vector<v1::PollingStation> stations, size_t max_stations,
                                            uint64_t seed);

// The simulated day (00:00 UTC) closest to `now_ms` such that, sent at `speed` times real time
// from now (0 = as fast as possible), no event lies in the future of the wall clock when it is
// submitted: the latest day whose span fits.
int64_t ChooseDay(int64_t now_ms, const ScenarioOptions& options, double speed);

// Generates the day. InvalidArgument for no stations or a bad option (hours <= 0, polls not
// within the day, day_ms not at midnight). Patterns that do not fit (too few stations,
// districts or wards, or a span that ends before them) are left out; truth lists what was
// injected.
Result<Scenario> Generate(std::vector<v1::PollingStation> stations, const ScenarioOptions& options);

}  // namespace ewarn::sim
