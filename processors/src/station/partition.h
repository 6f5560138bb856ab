// What the station stage's modules share within one partition (processors/README.md "The
// station stage"): the partition's stations and districts in memory, its clock and polling
// hours, the sink every finding goes through, and the interface a detector module implements.
//
// Threading: one Partition per task, used by one thread at a time (the task's helper); only
// the reference data behind it is shared between tasks, and it locks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reference.h"
#include "ewarn/base/status.h"
#include "ewarn/processors/runtime.h"
#include "ewarn/v1/rules.pb.h"
#include "state.pb.h"

namespace ewarn::processors::station {

namespace st = ewarn::processors::state;

inline constexpr int64_t kMinute = 60'000;
inline constexpr int64_t kHour = 60 * kMinute;
inline constexpr int64_t kDay = 24 * kHour;

struct TurnoutPeers;  // turnout.cc: a district's latest counts, side by side

// A station with state in this partition. The record `state` is one message on disk; each of
// its fields belongs to one module (state.proto says which), and no module writes another's.
struct StationMem {
  st::Station state;
  const StationRef* ref = nullptr;
  bool dirty = false;
  // turnout.cc's place for this station among its district's latest counts (null: not listed).
  TurnoutPeers* peers = nullptr;
  size_t peer_slot = 0;
};

struct DistrictMem {
  st::District state;
  bool dirty = false;
};

// When polls are open: times of day in the station's local time, which is UTC plus
// utc_offset_ms (the rules' hours are UTC: offset 0). Local days, so a close east of UTC
// comes earlier in UTC than the same close in the west.
struct PollingHours {
  int64_t open_ms_of_day = 0;
  int64_t close_ms_of_day = 0;
  int64_t utc_offset_ms = 0;

  bool Open(int64_t t) const {
    int64_t of_day = OfDay(t + utc_offset_ms);
    return of_day >= open_ms_of_day && of_day < close_ms_of_day;
  }
  // This local day's opening and close, as UTC event times.
  int64_t OpenedAt(int64_t t) const { return LocalMidnight(t) + open_ms_of_day; }
  int64_t ClosedAt(int64_t t) const { return LocalMidnight(t) + close_ms_of_day; }

 private:
  static int64_t OfDay(int64_t t) { return ((t % kDay) + kDay) % kDay; }
  // The UTC time at which the local day holding t began.
  int64_t LocalMidnight(int64_t t) const { return t - OfDay(t + utc_offset_ms); }
};

// The partition's state in memory, owned by the stage (stage.cc), lent to the modules.
class Partition {
 public:
  Partition(int32_t id, const v1::Rules& rules, ReferenceData& reference);

  int32_t id() const { return id_; }
  const v1::Rules& rules() const { return rules_; }
  ReferenceData& reference() { return reference_; }
  // The partition's event time: the largest seen (ticks included).
  int64_t now() const { return meta_.now_ms(); }
  // A station's polling hours: its most specific area's in the reference data (ref.hours),
  // else the rules'.
  PollingHours Hours(const StationRef& station) const;

  // The station's state, created (empty) when it has none yet.
  StationMem& Station(const StationRef& ref);
  // The station's state, or null when it has none (or is unknown).
  StationMem* FindStation(const std::string& station_id);
  // Marks a station for the next Flush.
  void Touch(StationMem& s);
  DistrictMem& District(const std::string& path) { return districts_[path]; }
  // Ordered by path: timers visit districts in one order.
  std::map<std::string, DistrictMem>& districts() { return districts_; }

  // The situation counter (incidents.cc's): the next situation's number.
  int64_t NextSituationSeq();

  // --- for the stage ---
  // Moves the clock to t; returns the previous time (t is never behind it). Each new minute
  // also reads reference data imported since (at most every few seconds of wall time).
  int64_t MoveClock(int64_t t);
  // A station restored from the state store (key `s<id>`): its place in the array.
  StationMem& Restore(const StationRef& ref);
  st::Meta& meta() { return meta_; }
  void MarkMetaDirty() { meta_dirty_ = true; }
  // Writes every dirty station, district and the clock into the commit.
  void Flush(TaskState& ts, const std::string& prefix);

 private:
  std::unique_ptr<StationMem>& Slot(const StationRef& ref);

  const int32_t id_;
  const v1::Rules& rules_;
  ReferenceData& reference_;
  // This partition's stations with state, by StationRef::index (null: none yet): an array slot
  // where a second hash lookup per event would be.
  std::vector<std::unique_ptr<StationMem>> stations_;
  std::map<std::string, DistrictMem> districts_;
  std::vector<StationMem*> dirty_stations_;  // a partition holds tens of thousands
  st::Meta meta_;
  bool meta_dirty_ = false;
};

// What a detector found. The risk model (risk.cc) turns it into an anomaly on
// derived.anomalies and a factor in the subject's risk.
struct Finding {
  enum class Anomaly {
    kNamed,  // an anomaly whose explanation starts with the station's name
    kPlain,  // an anomaly with the explanation as it is
    kNone,   // no anomaly: evidence that only raises risk (an incident report)
  };
  std::string detector;
  double severity = 1.0;
  std::string explanation;
  std::vector<std::string> event_ids;
  Anomaly anomaly = Anomaly::kNamed;
  // Re-assess the station before returning (a timer visiting many stations; a situation
  // confirmed at another station), rather than once when the event is handled.
  bool assess_now = false;
};

// The one way a module reports what it found. Modules never call each other.
class Findings {
 public:
  virtual ~Findings() = default;
  // About a station. The event's station is re-assessed once the event is handled.
  virtual void AtStation(StationMem& s, const Finding& f, int64_t t, TaskState& ts) = 0;
  // About an area (a ward or district path of `district`): re-assessed at once, with its district.
  virtual void AtArea(const std::string& area, const std::string& district, const Finding& f, int64_t t,
                      TaskState& ts) = 0;
  // Takes back what `detector` found at a station (its factor goes) when the duty room judged
  // the evidence false: only if the factor cites `event_id`, or whatever it cites when
  // `event_id` is empty. The station is re-assessed once the event is handled.
  virtual void WithdrawAtStation(StationMem& s, const std::string& detector, const std::string& event_id) = 0;
};

// A detector module: owns its slice of the partition's state and reacts to the inputs the
// stage routes to it (stage.cc's table), to the clock, and to a restart.
class Module {
 public:
  virtual ~Module() = default;
  // Refuses an input it cannot use (InvalidArgument, reason code first), before the clock
  // moves. `station` is the event's station, or null when it names none.
  virtual Status Validate(const v1::Event& e, const StationRef* station) const {
    (void)e, (void)station;
    return Status::Ok();
  }
  // An input, validated, at event time t (the clock is already there). `s` is the event's
  // station state (null for inputs that keep none, e.g. a hate-speech flag).
  virtual Status OnEvent(const v1::Event& e, const StationRef* station, StationMem* s, int64_t t, TaskState& ts) = 0;
  // The clock passed a whole minute.
  virtual void OnMinute(int64_t now, TaskState& ts) { (void)now, (void)ts; }
  // State restored when the task starts: rebuild what the module keeps beside it.
  virtual void OnLoaded(StationMem& s) { (void)s; }
  virtual void OnLoaded(const std::string& district, DistrictMem& d) { (void)district, (void)d; }
};

// Helpers shared by modules.
std::string Fmt(const char* format, double a, double b = 0, double c = 0);
// A derived event's header (id, event time, processor source).
v1::Event Derived(const std::string& id, int64_t t);
// Hash of a text with case, spacing and punctuation folded away.
uint64_t TextHash(std::string_view text);
// Who sent an input: its reporter pseudonym, else its principal.
std::string ReporterOf(const v1::Event& e);
// State bytes must not depend on map iteration order: digests compare them across runs.
std::string Deterministic(const google::protobuf::MessageLite& m);
Status UnknownStation(const std::string& id);

// The modules (each in its own file).
std::unique_ptr<Module> MakeIncidents(Partition& p, Findings& findings);
std::unique_ptr<Module> MakeTurnout(Partition& p, Findings& findings);
std::unique_ptr<Module> MakeKits(Partition& p, Findings& findings);
std::unique_ptr<Module> MakeHateSpeech(Partition& p, Findings& findings);
std::unique_ptr<Module> MakeResults(Partition& p, Findings& findings);

}  // namespace ewarn::processors::station
