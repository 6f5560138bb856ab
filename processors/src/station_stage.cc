// The station stage: enrich -> cluster -> turnout / kit / hate-speech detectors -> risk, per
// district partition of in.events (pipeline.h, processors/README.md).
//
// State lives in memory, decoded, for the whole partition (restored from the state store
// when the task starts), and each dirty station / district / meta key is written once per
// commit in Flush(). Everything runs on event time: the partition's clock is the largest event
// time seen, and timers (situation closing, silent kits, risk decay) run whenever it passes the
// next whole minute, so a replay makes the same decisions at the same points.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>

#include "detectors.h"
#include "ewarn/base/hash.h"
#include "ewarn/base/time.h"
#include "ewarn/processors/pipeline.h"
#include "state.pb.h"
#include "ewarn/schemas/events.h"
#include "reference.h"

namespace ewarn::processors {
namespace {

namespace st = ewarn::processors::state;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kHateBucketMs = 5 * kMinute;
constexpr size_t kMaxMembers = 64;
constexpr size_t kMaxHateSeen = 4096;
constexpr double kHotEpsilon = 0.01;

// Latch bits: a finding is reported once and not again until its condition clears.
enum Latch : uint32_t {
  kLatchImpossibleHigh = 1u << 0,
  kLatchDecreasing = 1u << 1,
  kLatchOverVoting = 1u << 2,
  kLatchOutlier = 1u << 3,
  kKitBattery = 1u << 0,
  kKitTamper = 1u << 1,
  kKitGps = 1u << 2,
  kKitAuth = 1u << 3,
  kKitSilent = 1u << 4,
  kKitParked = 1u << 5,  // silent outside polling hours: not watched until it reports again
  kDistrictHeaping = 1u << 0,
  kWardAreaDown = 1u << 0,
};

std::string Fmt(const char* format, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, a, b, c);
  return buf;
}

// A rise of `voters` over `ms` as a share of the registered voters per hour, the elapsed time
// counted as at least `min_hours`: the measure both surge tests hold against
// surge_fraction_per_hour.
double SharePerHour(int64_t voters, int64_t registered, int64_t ms, double min_hours) {
  return static_cast<double>(voters) / static_cast<double>(registered) /
         std::max(min_hours, static_cast<double>(ms) / kHour);
}

std::string PartitionPrefix(int32_t partition) {
  std::string p;
  for (int shift = 24; shift >= 0; shift -= 8) p.push_back(static_cast<char>((partition >> shift) & 0xFF));
  return p;
}

// State bytes must not depend on map iteration order: digests compare them across runs.
std::string Deterministic(const google::protobuf::MessageLite& m) { return schemas::EncodeDeterministic(m); }

uint64_t TextHash(std::string_view text) {
  std::string folded = FoldPlaceName(text);  // case, spacing and punctuation do not matter
  uint64_t h = 1469598103934665603ull;       // FNV-1a
  for (char c : folded) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

std::string ReporterOf(const v1::Event& e) {
  return e.header().reporter().empty() ? e.header().principal() : e.header().reporter();
}

// A station's latest turnout count, kept in an array beside its district's other stations:
// the outlier test reads every peer's on each turnout report, and a scan of one small array
// costs a fraction of chasing each peer's state.
struct LatestTurnout {
  bool reported = false;
  int64_t at_ms = 0;
  int64_t voters_cast = 0;
  int64_t registered = 0;
};

struct StationMem;

// A district's stations that have state (for peers and final counts), in the order they got it.
struct DistrictStations {
  std::vector<StationMem*> stations;
  std::vector<LatestTurnout> latest;  // latest[i] is stations[i]'s
};

struct StationMem {
  st::Station state;
  const StationRef* ref = nullptr;
  bool dirty = false;
  DistrictStations* district = nullptr;  // where it is listed, at `slot`
  size_t slot = 0;
};

struct DistrictMem {
  st::District state;
  bool dirty = false;
  // Cell index over open situations (cell -> situation ids), for the neighbour search.
  std::unordered_multimap<int64_t, std::string> cells;
};

class StationStage final : public Processor {
 public:
  StationStage(int32_t partition, const v1::Rules& rules, ReferenceData& ref)
      : partition_(partition), prefix_(PartitionPrefix(partition)), rules_(rules), ref_(ref) {
    for (const auto& w : rules_.risk().weights()) weights_[w.detector()] = w.weight();
  }

  Status Process(const v1::Event& event, const RecordContext& where, TaskState& ts) override {
    RETURN_IF_ERROR(EnsureLoaded(ts));
    const int64_t t = event.header().event_time_ms();
    switch (event.body_case()) {
      case v1::Event::kTick:
        Advance(t, ts);
        ForwardToAlerts(event, ts);
        return Status::Ok();
      case v1::Event::kAck:
      case v1::Event::kSilence:
        ForwardToAlerts(event, ts);
        return Status::Ok();
      case v1::Event::kIncident:
      case v1::Event::kHateSpeech:
      case v1::Event::kTurnout:
      case v1::Event::kKit:
        break;
      default:
        return Status::InvalidArgument("wrong_body: in.events does not carry '" +
                                       std::string(schemas::BodyName(event)) + "' events");
    }
    RETURN_IF_ERROR(CheckTime(event, t));
    (void)where;
    station_changed_ = false;
    switch (event.body_case()) {
      case v1::Event::kIncident: return OnIncident(event, t, ts);
      case v1::Event::kHateSpeech: return OnHateSpeech(event, t, ts);
      case v1::Event::kTurnout: return OnTurnout(event, t, ts);
      default: return OnKit(event, t, ts);
    }
  }

  Status Flush(TaskState& ts) override {
    for (StationMem* s : dirty_stations_) {
      ts.Write(kStationStageStore, prefix_ + "s" + s->ref->station_id, Deterministic(s->state));
      s->dirty = false;
    }
    dirty_stations_.clear();
    for (auto& [path, d] : districts_) {
      if (!d.dirty) continue;
      ts.Write(kStationStageStore, prefix_ + "d" + path, Deterministic(d.state));
      d.dirty = false;
    }
    if (meta_dirty_) {
      ts.Write(kStationStageStore, prefix_ + "m", Deterministic(meta_));
      meta_dirty_ = false;
    }
    for (auto& [subject, value] : risk_out_) ts.Write(kRiskStore, subject, std::move(value));
    risk_out_.clear();
    return Status::Ok();
  }

 private:
  // --- state ---

  Status EnsureLoaded(TaskState& ts) {
    if (loaded_) return Status::Ok();
    loaded_ = true;
    RETURN_IF_ERROR(ref_.Refresh());
    Status parse_error;
    RETURN_IF_ERROR(ts.Scan(kStationStageStore, prefix_, [&](std::string_view key, std::string_view value) {
      std::string_view rest = key.substr(prefix_.size());
      if (rest.empty()) return true;
      char kind = rest[0];
      std::string id(rest.substr(1));
      bool ok = true;
      if (kind == 's') {
        const StationRef* ref = ref_.Find(id);
        if (ref == nullptr) return true;  // gone from the reference data: its events are refused too
        std::unique_ptr<StationMem>& slot = Slot(*ref);
        slot = std::make_unique<StationMem>();
        StationMem& s = *slot;
        ok = s.state.ParseFromArray(value.data(), static_cast<int>(value.size()));
        s.ref = ref;
        Enlist(s);
        // Hot and child scores exactly as the last Publish left them (see AssessStation).
        ScheduleDecay(id, s.state.risk());
        WatchKitsOnLoad(s);
        if (s.state.risk().score() >= kHotEpsilon) {
          hot_children_[s.ref->district_path][id] = {s.state.risk().score(), s.state.risk().score_ms(), &s};
        }
      } else if (kind == 'd') {
        DistrictMem& d = districts_[id];
        ok = d.state.ParseFromArray(value.data(), static_cast<int>(value.size()));
        for (const auto& sit : d.state.situations()) IndexSituation(d, sit);
        for (const auto& [area, risk] : d.state.area_risk()) {
          ScheduleDecay(area, risk);
        }
      } else if (kind == 'm') {
        ok = meta_.ParseFromArray(value.data(), static_cast<int>(value.size()));
      }
      if (!ok) parse_error = Status::Corruption("station stage state for key '" + id + "' does not parse");
      return ok;
    }));
    return parse_error;
  }

  // A station's place in this partition, by its dense reference index: an array slot where
  // a second hash lookup per event used to be.
  std::unique_ptr<StationMem>& Slot(const StationRef& ref) {
    if (ref.index >= stations_.size()) stations_.resize(std::max(ref.index + 1, ref_.slots()));
    return stations_[ref.index];
  }

  StationMem& Station(const StationRef& ref) {
    std::unique_ptr<StationMem>& slot = Slot(ref);
    if (slot == nullptr) {
      slot = std::make_unique<StationMem>();
      slot->ref = &ref;
      Enlist(*slot);
    }
    return *slot;
  }

  StationMem* FindStation(const std::string& id) {
    const StationRef* ref = ref_.Find(id);
    if (ref == nullptr || ref->index >= stations_.size()) return nullptr;
    return stations_[ref->index].get();
  }

  // Lists a station among its district's (a StationMem never moves, so the pointers stay valid).
  void Enlist(StationMem& s) {
    DistrictStations& d = district_stations_[s.ref->district_path];
    s.district = &d;
    s.slot = d.stations.size();
    d.stations.push_back(&s);
    d.latest.emplace_back();
    NoteTurnout(s);
  }

  // Copies the station's latest snapshot and registered count into its district's array.
  static void NoteTurnout(const StationMem& s) {
    LatestTurnout& l = s.district->latest[s.slot];
    const st::TurnoutSnapshot* latest = LatestSnapshot(s);
    l.reported = latest != nullptr;
    l.at_ms = latest != nullptr ? latest->at_ms() : 0;
    l.voters_cast = latest != nullptr ? latest->voters_cast() : 0;
    l.registered = s.state.registered();
  }

  // Marks a station for the next Flush (kept in a list: a partition holds tens of thousands).
  void Touch(StationMem& s) {
    if (s.dirty) return;
    s.dirty = true;
    dirty_stations_.push_back(&s);
  }

  DistrictMem& District(const std::string& path) { return districts_[path]; }

  // --- time ---

  Status CheckTime(const v1::Event& e, int64_t t) {
    const auto& time = rules_.time();
    if (t <= 0) return Status::InvalidArgument("missing_field: event has no event time");
    if (meta_.now_ms() > 0 && t < meta_.now_ms() - time.allowed_lateness_ms()) {
      return Status::InvalidArgument(
          "late: event time " + FormatRfc3339(t) + " is more than the allowed lateness (" +
          std::to_string(time.allowed_lateness_ms() / kMinute) + " min) behind this partition's event time " +
          FormatRfc3339(meta_.now_ms()));
    }
    int64_t received = e.header().received_time_ms();
    if (received > 0 && t > received + time.max_future_ms()) {
      return Status::InvalidArgument("future: event time " + FormatRfc3339(t) +
                                     " is ahead of its receipt (" + FormatRfc3339(received) + ")");
    }
    return Status::Ok();
  }

  bool PollsOpen(int64_t t) const {
    int64_t of_day = ((t % kDay) + kDay) % kDay;
    return of_day >= rules_.time().polls_open_ms_of_day() && of_day < rules_.time().polls_close_ms_of_day();
  }
  int64_t PollsOpenedAt(int64_t t) const { return t - ((t % kDay) + kDay) % kDay + rules_.time().polls_open_ms_of_day(); }
  int64_t PollsClosedAt(int64_t t) const { return t - ((t % kDay) + kDay) % kDay + rules_.time().polls_close_ms_of_day(); }

  // Moves the partition's clock forward. Timers run when it passes a whole minute: a
  // function of the clock alone, so a task restarted from committed state runs them exactly
  // where an uninterrupted one did.
  void Advance(int64_t t, TaskState& ts) {
    int64_t previous = meta_.now_ms();
    if (t <= previous) return;
    meta_.set_now_ms(t);
    meta_dirty_ = true;
    if (previous > 0 && t / kMinute > previous / kMinute) RunTimers(t, ts);
  }

  void RunTimers(int64_t now, TaskState& ts) {
    CloseSituations(now, ts);
    CheckSilentKits(now, ts);
    // Decay: each subject was scheduled for when its score crosses its level's leave score (or
    // fades below kHotEpsilon); only those due are re-assessed.
    while (!decay_due_.empty() && decay_due_.begin()->first <= now) {
      std::string subject = decay_due_.begin()->second;
      decay_due_.erase(decay_due_.begin());
      decay_at_.erase(subject);
      if (subject.find('/') == std::string::npos) {
        if (StationMem* s = FindStation(subject)) AssessStation(*s, now, ts);
      } else {
        AssessArea(subject, now, ts);
      }
    }
  }

  // All factors decay with one half-life, so a score falls as score * 2^(-dt / half_life) and
  // the moment it crosses a threshold is known in advance.
  void ScheduleDecay(const std::string& subject, const st::Risk& risk) {
    if (auto it = decay_at_.find(subject); it != decay_at_.end()) {
      decay_due_.erase({it->second, subject});
      decay_at_.erase(it);
    }
    if (!IsHot(risk)) return;
    double target = kHotEpsilon;
    if (risk.level() > v1::RISK_LEVEL_LOW) {
      for (const auto& l : rules_.risk().levels()) {
        if (static_cast<int>(l.level()) == risk.level()) target = l.leave();
      }
    }
    int64_t when = risk.score_ms();
    if (risk.score() > target && target > 0) {
      double h = static_cast<double>(rules_.risk().half_life_ms());
      when += static_cast<int64_t>(std::ceil(h * std::log2(risk.score() / target))) + 1;
    }
    decay_due_.insert({when, subject});
    decay_at_[subject] = when;
  }

  // --- outputs ---

  v1::Event Derived(const std::string& id, int64_t t) {
    v1::Event e;
    auto* h = e.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id(id);
    h->set_event_time_ms(t);
    h->set_source(v1::SOURCE_PROCESSOR);
    h->set_channel("processors/station");
    return e;
  }

  void ForwardToAlerts(const v1::Event& event, TaskState& ts) {
    ts.EmitToPartition(std::string(schemas::topic::kRisk), schemas::RecordKey(event), event, partition_);
  }

  void ReportAnomaly(const std::string& detector, const std::string& subject, const std::string& area,
                     const std::string& district, double severity, const std::string& explanation,
                     std::vector<std::string> event_ids, int64_t t, TaskState& ts) {
    v1::Event e = Derived("an:" + detector + ":" + subject + ":" + std::to_string(t), t);
    auto* a = e.mutable_anomaly();
    a->set_detector(detector);
    a->set_subject_id(subject);
    a->set_area(area);
    a->set_severity(severity);
    a->set_explanation(explanation);
    for (auto& id : event_ids) a->add_event_ids(id);
    ts.Emit(std::string(schemas::topic::kAnomalies), subject, std::move(e), district);
  }

  double Weight(const std::string& detector) const {
    auto it = weights_.find(detector);
    return it == weights_.end() ? 0 : it->second;
  }

  // Adds (or refreshes) a factor: one per detector; the larger of the decayed old and the new.
  void AddFactor(st::Risk& risk, const std::string& detector, double severity, int64_t t,
                 const std::string& explanation, const std::vector<std::string>& event_ids) {
    double contribution = Weight(detector) * severity;
    if (contribution <= 0) return;
    const int64_t half_life = rules_.risk().half_life_ms();
    for (auto& f : *risk.mutable_factors()) {
      if (f.detector() != detector) continue;
      double old = Decay(f.contribution(), f.at_ms(), t, half_life);
      f.set_contribution(std::max(old, contribution));
      f.set_at_ms(t);
      f.set_explanation(explanation);
      f.clear_event_ids();
      for (const auto& id : event_ids) f.add_event_ids(id);
      return;
    }
    st::Factor* f = risk.add_factors();
    f->set_detector(detector);
    f->set_contribution(contribution);
    f->set_at_ms(t);
    f->set_explanation(explanation);
    for (const auto& id : event_ids) f->add_event_ids(id);
  }

  // Decayed factors of `risk` at t, largest first; drops those that have faded away.
  std::vector<v1::RiskFactor> Factors(st::Risk& risk, int64_t t) const {
    std::vector<v1::RiskFactor> out;
    auto* factors = risk.mutable_factors();
    for (int i = factors->size() - 1; i >= 0; --i) {
      const st::Factor& f = factors->Get(i);
      double c = Decay(f.contribution(), f.at_ms(), t, rules_.risk().half_life_ms());
      if (c < kHotEpsilon) {
        factors->DeleteSubrange(i, 1);
        continue;
      }
      v1::RiskFactor rf;
      rf.set_detector(f.detector());
      rf.set_contribution(c);
      rf.set_explanation(f.explanation());
      for (const auto& id : f.event_ids()) rf.add_event_ids(id);
      out.push_back(std::move(rf));
    }
    std::sort(out.begin(), out.end(), [](const v1::RiskFactor& a, const v1::RiskFactor& b) {
      return a.contribution() != b.contribution() ? a.contribution() > b.contribution() : a.detector() < b.detector();
    });
    return out;
  }

  // Publishes the assessment for queries, and a `risk` event when the level changed.
  void Publish(const std::string& subject, bool is_area, const std::string& area, const std::string& district,
               st::Risk& risk, double score, std::vector<v1::RiskFactor> factors, int64_t t,
               const StationRef* station, TaskState& ts) {
    int previous = std::max(risk.level(), static_cast<int>(v1::RISK_LEVEL_LOW));
    int level = NextRiskLevel(previous, score, rules_.risk());
    risk.set_level(level);
    risk.set_score(score);
    risk.set_score_ms(t);
    v1::RiskAssessment a;
    a.set_subject_id(subject);
    a.set_is_area(is_area);
    a.set_score(score);
    a.set_level(static_cast<v1::RiskLevel>(level));
    a.set_previous_level(static_cast<v1::RiskLevel>(previous));
    a.set_area(area);
    a.set_assessed_ms(t);
    if (station != nullptr) {
      a.set_name(station->name);
      if (station->has_location) {
        a.mutable_location()->set_lat(station->lat);
        a.mutable_location()->set_lon(station->lon);
      }
    }
    int keep = std::max(1, rules_.risk().top_factors());
    if (static_cast<int>(factors.size()) > keep) factors.resize(static_cast<size_t>(keep));
    for (auto& f : factors) *a.add_factors() = std::move(f);
    risk_out_[station != nullptr ? StationRiskKey(station->ward_path, subject) : subject] = Deterministic(a);
    if (level != previous) {
      v1::Event e = Derived("risk:" + subject + ":" + std::to_string(t) + ":" + std::to_string(level), t);
      *e.mutable_risk() = std::move(a);
      ts.Emit(std::string(schemas::topic::kRisk), subject, std::move(e), district);
    }
    ScheduleDecay(subject, risk);
  }

  static bool IsHot(const st::Risk& risk) {
    return risk.score() >= kHotEpsilon || risk.level() > v1::RISK_LEVEL_LOW;
  }

  void AssessStation(StationMem& s, int64_t t, TaskState& ts) {
    const StationRef& ref = *s.ref;
    st::Risk& risk = *s.state.mutable_risk();
    std::vector<v1::RiskFactor> factors = Factors(risk, t);
    double score = 0;
    for (const auto& f : factors) score += f.contribution();
    Touch(s);
    int before = risk.level();
    Publish(ref.station_id, false, ref.ward_path, ref.district_path, risk, score, factors, t, &ref, ts);
    // The station's share in its areas: replace its old contribution in their sums.
    auto& children = hot_children_[ref.district_path];
    auto it = children.find(ref.station_id);
    double old_score = it == children.end() ? 0 : it->second.score;
    int64_t old_at = it == children.end() ? t : it->second.at_ms;
    bool was_child = it != children.end(), is_child = score >= kHotEpsilon;
    if (!was_child && !is_child && before == risk.level()) return;  // not part of any area score
    if (is_child) {
      children[ref.station_id] = {score, t, &s};
    } else if (was_child) {
      children.erase(it);
    }
    for (const std::string* area : {&ref.ward_path, &ref.district_path}) {
      st::Risk& ar = (*District(ref.district_path).state.mutable_area_risk())[*area];
      const int64_t h = rules_.risk().half_life_ms();
      double sum = Decay(ar.stations_sum(), ar.stations_at_ms(), t, h) - (was_child ? Decay(old_score, old_at, t, h) : 0) +
                   (is_child ? score : 0);
      ar.set_stations_count(ar.stations_count() + (is_child ? 1 : 0) - (was_child ? 1 : 0));
      ar.set_stations_sum(ar.stations_count() > 0 ? std::max(0.0, sum) : 0.0);
      ar.set_stations_at_ms(t);
      AssessArea(*area, t, ts);
    }
  }

  // An area's score: its own findings (integer-percentage heaping, kits down, hate speech)
  // plus area_station_weight times the sum of its stations' scores (kept incrementally: an
  // area's assessment does not visit its stations). A single troubled station therefore raises
  // its own alert, not one for its ward and district as well.
  void AssessArea(const std::string& area, int64_t t, TaskState& ts) {
    std::string district = schemas::DistrictKeyOfArea(area);
    DistrictMem& d = District(district);
    st::Risk& risk = (*d.state.mutable_area_risk())[area];
    std::vector<v1::RiskFactor> factors = Factors(risk, t);
    double score = 0;
    for (const auto& f : factors) score += f.contribution();
    double stations = rules_.risk().area_station_weight() *
                      Decay(risk.stations_sum(), risk.stations_at_ms(), t, rules_.risk().half_life_ms());
    score += stations;
    if (risk.stations_count() > 0) {
      v1::RiskFactor f;
      f.set_detector("stations");
      f.set_contribution(stations);
      f.set_explanation(std::to_string(risk.stations_count()) + " station(s) at risk in the area");
      // Which ones, when the level is about to change (the alert says where to go).
      if (NextRiskLevel(std::max(risk.level(), 1), score, rules_.risk()) != std::max(risk.level(), 1)) {
        std::vector<std::pair<double, const StationMem*>> top;
        for (const auto& [id, child] : hot_children_[district]) {
          if (area == district || child.station->ref->ward_path == area) top.emplace_back(child.score, child.station);
        }
        std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
          return a.first != b.first ? a.first > b.first : a.second->ref->station_id < b.second->ref->station_id;
        });
        std::string names;
        for (size_t i = 0; i < top.size() && i < 3; ++i) {
          names += (i ? ", " : ": ") + top[i].second->ref->station_id + " (" + top[i].second->ref->name + ")";
        }
        f.set_explanation(f.explanation() + names);
      }
      factors.push_back(std::move(f));
    }
    std::stable_sort(factors.begin(), factors.end(), [](const v1::RiskFactor& a, const v1::RiskFactor& b) {
      return a.contribution() > b.contribution();
    });
    d.dirty = true;
    Publish(area, true, area, district, risk, score, std::move(factors), t, nullptr, ts);
  }

  // --- enrich + cluster ---

  Status OnIncident(const v1::Event& e, int64_t t, TaskState& ts) {
    const v1::IncidentReport& in = e.incident();
    const StationRef* ref = ref_.Find(in.station_id());
    if (ref == nullptr) return UnknownStation(in.station_id());
    Advance(t, ts);
    StationMem& s = Station(*ref);
    s.state.set_incidents(s.state.incidents() + 1);
    s.state.set_last_event_ms(std::max(s.state.last_event_ms(), t));
    Touch(s);

    // Enrich: where is it, and how sure are we?
    v1::Event out = Derived("inc:" + e.header().event_id(), t);
    v1::EnrichedIncident& en = *out.mutable_enriched();
    en.set_event_id(e.header().event_id());
    en.set_station_id(ref->station_id);
    en.set_station_name(ref->name);
    en.set_area(ref->ward_path);
    en.set_category(in.category());
    en.set_severity(in.severity());
    en.set_distance_m(-1);
    bool located = false;
    double lat = 0, lon = 0;
    if (in.has_location()) {
      lat = in.location().lat();
      lon = in.location().lon();
      located = true;
      en.set_location_source("gps");
      en.set_location_confidence(0.95);
      if (ref->has_location) {
        double d = DistanceMeters(lat, lon, ref->lat, ref->lon);
        en.set_distance_m(d);
        if (d > rules_.kit().gps_max_distance_m()) {
          // Far from the station it names: keep the station's place, and say so.
          en.set_far_from_station(true);
          lat = ref->lat;
          lon = ref->lon;
          en.set_location_source("station");
          en.set_location_confidence(0.5);
        }
      }
    }
    if (!located && !in.place_text().empty()) {
      PlaceMatch m = ref_.MatchPlace(ref->district_path, in.place_text());
      if (m.station != nullptr && m.station->has_location) {
        lat = m.station->lat;
        lon = m.station->lon;
        located = true;
        en.set_location_source("gazetteer");
        en.set_location_confidence(m.confidence);
        en.set_matched_place(m.matched);
      }
    }
    if (!located && ref->has_location) {
      lat = ref->lat;
      lon = ref->lon;
      located = true;
      en.set_location_source("station");
      en.set_location_confidence(0.8);
    }
    if (!located) {
      en.set_location_source("none");
      en.set_location_confidence(0.2);
    } else {
      en.mutable_location()->set_lat(lat);
      en.mutable_location()->set_lon(lon);
    }

    std::string situation_id = Cluster(e, *ref, located, lat, lon, t, ts);
    en.set_situation_id(situation_id);
    ts.Emit(std::string(schemas::topic::kIncidents), ref->station_id, std::move(out), ref->district_path);

    AddFactor(*s.state.mutable_risk(), "incident", std::clamp(in.severity(), 1, 5) / 5.0, t,
              std::string(schemas::CategoryName(in.category())) + " reported (severity " +
                  std::to_string(in.severity()) + ")",
              {e.header().event_id()});
    AssessStation(s, t, ts);
    return Status::Ok();
  }

  int64_t CellOf(double lat, double lon) const {
    // Cells of about radius_m; a match lies in the incident's cell or one of its 8 neighbours.
    double size_deg = std::max(rules_.cluster().radius_m(), 1.0) / 111'320.0;
    auto row = static_cast<int64_t>(std::floor(lat / size_deg));
    double lon_size = size_deg / std::max(0.05, std::cos(lat * M_PI / 180.0));
    auto col = static_cast<int64_t>(std::floor(lon / lon_size));
    return row * 1'000'003 + col;
  }

  void IndexSituation(DistrictMem& d, const st::OpenSituation& sit) {
    if (!sit.located()) return;
    d.cells.emplace(CellOf(sit.situation().centroid().lat(), sit.situation().centroid().lon()),
                    sit.situation().situation_id());
  }

  void UnindexSituation(DistrictMem& d, const std::string& id) {
    for (auto it = d.cells.begin(); it != d.cells.end();) {
      it = it->second == id ? d.cells.erase(it) : std::next(it);
    }
  }

  st::OpenSituation* FindSituation(DistrictMem& d, const std::string& id) {
    for (auto& s : *d.state.mutable_situations()) {
      if (s.situation().situation_id() == id) return &s;
    }
    return nullptr;
  }

  // Joins the incident to a situation (creating or merging as needed); returns its id.
  std::string Cluster(const v1::Event& e, const StationRef& ref, bool located, double lat, double lon,
                      int64_t t, TaskState& ts) {
    const auto& rules = rules_.cluster();
    DistrictMem& d = District(ref.district_path);
    // Candidates: open situations within the radius (neighbour cells) and the time window; a
    // report without a location joins situations of its own station only.
    std::vector<std::pair<double, std::string>> candidates;
    auto consider = [&](st::OpenSituation& s, double distance) {
      int64_t gap = t - s.situation().last_seen_ms();
      if (gap > rules.window_ms() || s.situation().first_seen_ms() - t > rules.window_ms()) return;
      candidates.emplace_back(distance, s.situation().situation_id());
    };
    if (located) {
      double size_deg = std::max(rules.radius_m(), 1.0) / 111'320.0;
      double lon_size = size_deg / std::max(0.05, std::cos(lat * M_PI / 180.0));
      std::set<std::string> seen;
      for (int dr = -1; dr <= 1; ++dr) {
        for (int dc = -1; dc <= 1; ++dc) {
          auto range = d.cells.equal_range(CellOf(lat + dr * size_deg, lon + dc * lon_size));
          for (auto it = range.first; it != range.second; ++it) {
            if (!seen.insert(it->second).second) continue;
            st::OpenSituation* s = FindSituation(d, it->second);
            if (s == nullptr) continue;
            double dist = DistanceMeters(lat, lon, s->situation().centroid().lat(), s->situation().centroid().lon());
            if (dist <= rules.radius_m()) consider(*s, dist);
          }
        }
      }
    } else {
      for (auto& s : *d.state.mutable_situations()) {
        if (!s.located() && s.situation().station_id() == ref.station_id) consider(s, 0);
      }
    }
    std::sort(candidates.begin(), candidates.end());
    d.dirty = true;

    st::OpenSituation* target = nullptr;
    if (candidates.empty()) {
      meta_.set_situation_seq(meta_.situation_seq() + 1);
      meta_dirty_ = true;
      target = d.state.add_situations();
      v1::Situation& sit = *target->mutable_situation();
      sit.set_situation_id("S" + std::to_string(partition_) + "-" + std::to_string(meta_.situation_seq()));
      sit.set_first_seen_ms(t);
      sit.set_last_seen_ms(t);
      sit.set_area(ref.ward_path);
      sit.set_station_id(ref.station_id);
      sit.set_state(v1::Situation::STATE_OPEN);
      target->set_located(located);
      if (located) {
        sit.mutable_centroid()->set_lat(lat);
        sit.mutable_centroid()->set_lon(lon);
      }
    } else {
      target = FindSituation(d, candidates.front().second);
      // Every other candidate is within reach of this incident too: they are one situation now.
      for (size_t i = 1; i < candidates.size(); ++i) MergeSituation(d, candidates[i].second, *target, t, ts);
      target = FindSituation(d, candidates.front().second);
      target->mutable_situation()->set_state(v1::Situation::STATE_UPDATED);
    }
    AddMember(*target, e, ref, located, lat, lon, t);
    UnindexSituation(d, target->situation().situation_id());
    IndexSituation(d, *target);
    EmitSituation(*target, ref.district_path, t, ts);
    Confirm(*target, ref.district_path, t, ts);
    return target->situation().situation_id();
  }

  void AddMember(st::OpenSituation& s, const v1::Event& e, const StationRef& ref, bool located, double lat,
                 double lon, int64_t t) {
    v1::Situation& sit = *s.mutable_situation();
    const v1::IncidentReport& in = e.incident();
    if (located && s.located()) {  // running mean of member locations
      double n = static_cast<double>(sit.member_event_ids_size());
      sit.mutable_centroid()->set_lat((sit.centroid().lat() * n + lat) / (n + 1));
      sit.mutable_centroid()->set_lon((sit.centroid().lon() * n + lon) / (n + 1));
    }
    sit.add_member_event_ids(e.header().event_id());
    sit.set_last_seen_ms(std::max(sit.last_seen_ms(), t));
    sit.set_first_seen_ms(std::min(sit.first_seen_ms(), t));
    if (std::find(sit.categories().begin(), sit.categories().end(), in.category()) == sit.categories().end()) {
      sit.add_categories(in.category());
    }
    s.set_max_severity(std::max(s.max_severity(), in.severity()));
    if (static_cast<size_t>(s.members_size()) < kMaxMembers) {
      st::Member* m = s.add_members();
      m->set_event_id(e.header().event_id());
      m->set_reporter(ReporterOf(e));
      m->set_text_hash(TextHash(in.description()));
      m->set_at_ms(t);
      m->set_severity(in.severity());
      m->set_category(in.category());
      m->set_station_id(ref.station_id);
    }
    // Independent reporters: distinct reporters, each counted only for a text nobody sent
    // before (the same report by SMS and by app, or forwarded, is one voice).
    std::set<std::string> reporters;
    std::set<uint64_t> texts;
    for (const auto& m : s.members()) {
      if (!texts.insert(m.text_hash()).second) continue;
      reporters.insert(m.reporter());
    }
    sit.set_independent_reporters(static_cast<int32_t>(reporters.size()));
    sit.set_confidence(std::min(1.0, rules_.cluster().reporter_confidence_step() * static_cast<double>(reporters.size())));
  }

  void MergeSituation(DistrictMem& d, const std::string& from_id, st::OpenSituation& into, int64_t t, TaskState& ts) {
    auto* list = d.state.mutable_situations();
    for (int i = 0; i < list->size(); ++i) {
      if (list->Get(i).situation().situation_id() != from_id) continue;
      st::OpenSituation from = list->Get(i);
      std::string into_id = into.situation().situation_id();
      for (const auto& m : from.members()) {
        if (static_cast<size_t>(into.members_size()) < kMaxMembers) *into.add_members() = m;
      }
      for (const auto& id : from.situation().member_event_ids()) into.mutable_situation()->add_member_event_ids(id);
      into.set_max_severity(std::max(into.max_severity(), from.max_severity()));
      into.set_confirmed(into.confirmed() || from.confirmed());
      into.mutable_situation()->set_first_seen_ms(std::min(into.situation().first_seen_ms(), from.situation().first_seen_ms()));
      into.mutable_situation()->set_last_seen_ms(std::max(into.situation().last_seen_ms(), from.situation().last_seen_ms()));
      from.mutable_situation()->set_state(v1::Situation::STATE_MERGED);
      from.mutable_situation()->set_merged_into(into_id);
      EmitSituation(from, d.state.situations(i).situation().area().empty() ? "" : schemas::DistrictKeyOfArea(from.situation().area()), t, ts);
      UnindexSituation(d, from_id);
      list->DeleteSubrange(i, 1);
      return;
    }
  }

  void EmitSituation(const st::OpenSituation& s, const std::string& district, int64_t t, TaskState& ts) {
    const v1::Situation& sit = s.situation();
    v1::Event e = Derived("sit:" + sit.situation_id() + ":" + std::to_string(sit.member_event_ids_size()) + ":" +
                              std::to_string(static_cast<int>(sit.state())) + ":" + std::to_string(t),
                          t);
    *e.mutable_situation() = sit;
    ts.Emit(std::string(schemas::topic::kSituations), sit.situation_id(), std::move(e), district);
  }

  // A situation counts once enough independent reporters saw something serious.
  void Confirm(st::OpenSituation& s, const std::string& district, int64_t t, TaskState& ts) {
    const v1::Situation& sit = s.situation();
    if (sit.independent_reporters() < rules_.cluster().min_reporters() || s.max_severity() < 3) return;
    StationMem* station = FindStation(sit.station_id());
    if (station == nullptr) return;
    double severity = sit.confidence() * s.max_severity() / 5.0;
    std::string categories;
    for (int c : sit.categories()) {
      categories += (categories.empty() ? "" : ", ") + std::string(schemas::CategoryName(static_cast<v1::IncidentCategory>(c)));
    }
    std::string explanation = std::to_string(sit.independent_reporters()) + " independent reporters: " + categories +
                              " near " + station->ref->name + " (situation " + sit.situation_id() + ", " +
                              std::to_string(sit.member_event_ids_size()) + " reports)";
    std::vector<std::string> ids(sit.member_event_ids().begin(), sit.member_event_ids().end());
    if (ids.size() > 10) ids.resize(10);
    if (!s.confirmed()) {
      s.set_confirmed(true);
      ReportAnomaly("cluster", sit.station_id(), sit.area(), district, severity, explanation, ids, t, ts);
    }
    AddFactor(*station->state.mutable_risk(), "cluster", severity, t, explanation, ids);
    Touch(*station);
    AssessStation(*station, t, ts);
  }

  void CloseSituations(int64_t now, TaskState& ts) {
    for (auto& [path, d] : districts_) {
      auto* list = d.state.mutable_situations();
      for (int i = list->size() - 1; i >= 0; --i) {
        if (now - list->Get(i).situation().last_seen_ms() < rules_.cluster().close_after_ms()) continue;
        st::OpenSituation closed = list->Get(i);
        closed.mutable_situation()->set_state(v1::Situation::STATE_CLOSED);
        EmitSituation(closed, path, now, ts);
        UnindexSituation(d, closed.situation().situation_id());
        list->DeleteSubrange(i, 1);
        d.dirty = true;
      }
    }
  }

  // --- turnout ---

  Status OnTurnout(const v1::Event& e, int64_t t, TaskState& ts) {
    const v1::TurnoutUpdate& in = e.turnout();
    const StationRef* ref = ref_.Find(in.station_id());
    if (ref == nullptr) return UnknownStation(in.station_id());
    if (in.voters_cast() < 0) return Status::InvalidArgument("invalid_field: voters_cast is negative");
    Advance(t, ts);
    StationMem& s = Station(*ref);
    Touch(s);
    s.state.set_last_event_ms(std::max(s.state.last_event_ms(), t));
    const auto& rules = rules_.turnout();
    int64_t registered = in.registered() > 0 ? in.registered() : ref->registered;
    s.state.set_registered(registered);
    const std::string& id = e.header().event_id();
    auto& snaps = *s.state.mutable_snapshots();

    // (a) impossible: above registered, or a cumulative count that went down.
    int64_t before = -1;
    for (const auto& snap : snaps) {
      if (snap.at_ms() <= t) before = std::max(before, snap.voters_cast());
    }
    if (registered > 0 && static_cast<double>(in.voters_cast()) > registered * rules.max_turnout_fraction()) {
      if (!(s.state.latched() & kLatchImpossibleHigh)) {
        s.state.set_latched(s.state.latched() | kLatchImpossibleHigh);
        Found(s, "turnout.impossible", 1.0,
              std::to_string(in.voters_cast()) + " votes cast with " + std::to_string(registered) + " registered",
              {id}, t, ts);
      }
    }
    if (before > in.voters_cast() && !(s.state.latched() & kLatchDecreasing)) {
      s.state.set_latched(s.state.latched() | kLatchDecreasing);
      Found(s, "turnout.impossible", 1.0,
            "cumulative votes went down from " + std::to_string(before) + " to " + std::to_string(in.voters_cast()),
            {id}, t, ts);
    }

    // (b) surge: the fastest rise against registered voters, as a rate per hour, from any
    // snapshot of the last hour (or the one before it) over at least a quarter of an hour:
    // a surge shows within one reporting interval instead of being averaged over the hour.
    if (registered > 0 && t >= s.state.surge_latched_ms()) {
      const st::TurnoutSnapshot* base = nullptr;
      double fastest = 0;
      const st::TurnoutSnapshot* before_hour = nullptr;
      for (const auto& snap : snaps) {
        if (snap.at_ms() >= t) continue;
        if (snap.at_ms() < t - kHour) {
          if (before_hour == nullptr || snap.at_ms() > before_hour->at_ms()) before_hour = &snap;
          continue;
        }
        double rate = SharePerHour(in.voters_cast() - snap.voters_cast(), registered, t - snap.at_ms(), 0.25);
        if (base == nullptr || rate > fastest) base = &snap, fastest = rate;
      }
      if (base == nullptr && before_hour != nullptr) {
        base = before_hour;
        fastest = SharePerHour(in.voters_cast() - base->voters_cast(), registered, t - base->at_ms(), 1.0);
      }
      if (base != nullptr && fastest > rules.surge_fraction_per_hour()) {
        double rise = static_cast<double>(in.voters_cast() - base->voters_cast()) / static_cast<double>(registered);
        s.state.set_surge_latched_ms(t + kHour);
        Found(s, "turnout.surge", 1.0,
              Fmt("turnout rose by %.0f%% of registered voters in %.0f min", 100 * rise,
                  static_cast<double>(t - base->at_ms()) / kMinute),
              {base->event_id(), id}, t, ts);
      }
    }

    // Keep the last hour's snapshots and the newest.
    st::TurnoutSnapshot snap;
    snap.set_at_ms(t);
    snap.set_voters_cast(in.voters_cast());
    snap.set_event_id(id);
    snaps.Add(std::move(snap));
    std::sort(snaps.begin(), snaps.end(), [](const auto& a, const auto& b) { return a.at_ms() < b.at_ms(); });
    int64_t newest = snaps.rbegin()->at_ms();
    while (snaps.size() > 1 && snaps.begin()->at_ms() < newest - kHour - 30 * kMinute) snaps.erase(snaps.begin());
    NoteTurnout(s);

    CheckOverVoting(s, t, ts);
    CheckOutlier(s, t, ts);
    if (t >= PollsClosedAt(t)) CheckHeaping(ref->district_path, t, ts);
    if (station_changed_) AssessStation(s, t, ts);  // heartbeats without findings: nothing to re-assess
    return Status::Ok();
  }

  // Snapshots are kept in time order (OnTurnout sorts them), so the latest is the last.
  static const st::TurnoutSnapshot* LatestSnapshot(const StationMem& s) {
    return s.state.snapshots().empty() ? nullptr : &*s.state.snapshots().rbegin();
  }

  // (d) over-voting: more votes than the kit accredited voters. Only a kit reading within half
  // an hour of the count is evidence: a stale accreditation count lags the votes by design.
  void CheckOverVoting(StationMem& s, int64_t t, TaskState& ts) {
    const st::TurnoutSnapshot* latest = LatestSnapshot(s);
    if (latest == nullptr) return;
    int64_t voters = latest->voters_cast();
    int64_t accredited = 0;
    for (const auto& k : s.state.kits()) {
      if (std::abs(k.last_seen_ms() - latest->at_ms()) <= 30 * kMinute) accredited = std::max(accredited, k.accredited_total());
    }
    if (accredited <= 0) return;
    int64_t excess = voters - accredited;
    bool over = excess >= 10 &&
                static_cast<double>(voters) > static_cast<double>(accredited) * (1 + rules_.turnout().over_voting_margin());
    if (over && !(s.state.latched() & kLatchOverVoting)) {
      s.state.set_latched(s.state.latched() | kLatchOverVoting);
      Found(s, "turnout.over_voting", 1.0,
            std::to_string(voters) + " votes cast but the kit accredited " + std::to_string(accredited) + " voters",
            {}, t, ts);
    } else if (!over && excess < 0) {
      s.state.set_latched(s.state.latched() & ~kLatchOverVoting);
    }
  }

  // (c) outlier among the district's stations with a recent count (robust z on median/MAD).
  void CheckOutlier(StationMem& s, int64_t t, TaskState& ts) {
    if (s.state.registered() <= 0 || (s.state.latched() & kLatchOutlier)) return;
    const st::TurnoutSnapshot* latest = LatestSnapshot(s);
    if (latest == nullptr) return;
    double mine = static_cast<double>(latest->voters_cast()) / static_cast<double>(s.state.registered());
    std::vector<double> peers;
    const std::vector<LatestTurnout>& latest_of = s.district->latest;
    for (size_t i = 0; i < latest_of.size(); ++i) {
      const LatestTurnout& last = latest_of[i];
      if (i == s.slot || last.registered <= 0 || !last.reported || last.at_ms < t - kHour) continue;
      peers.push_back(static_cast<double>(last.voters_cast) / static_cast<double>(last.registered));
    }
    if (static_cast<int>(peers.size()) < rules_.turnout().outlier_min_peers()) return;
    double median = Median(peers);
    double z = RobustZ(mine, std::move(peers));
    if (std::abs(z) > rules_.turnout().outlier_robust_z() && std::abs(mine - median) > 0.15) {
      s.state.set_latched(s.state.latched() | kLatchOutlier);
      Found(s, "turnout.outlier", 1.0,
            Fmt("turnout %.0f%% against a district median of %.0f%% (robust z %.1f)", 100 * mine, 100 * median, z), {},
            t, ts);
    }
  }

  // (e) integer-percentage heaping across a district's final counts.
  void CheckHeaping(const std::string& district, int64_t t, TaskState& ts) {
    DistrictMem& d = District(district);
    if (d.state.latched() & kDistrictHeaping) return;
    int64_t closed = PollsClosedAt(t);
    std::vector<std::pair<int64_t, int64_t>> finals;
    for (const StationMem* st : district_stations_[district].stations) {
      if (st->state.snapshots().empty()) continue;
      const auto& last = *st->state.snapshots().rbegin();
      if (last.at_ms() < closed || last.at_ms() >= closed + kDay) continue;
      finals.emplace_back(last.voters_cast(), st->state.registered());
    }
    if (static_cast<int>(finals.size()) < rules_.turnout().heaping_min_stations()) return;
    std::sort(finals.begin(), finals.end());  // one summation order, whatever the load order
    HeapingResult r = IntegerPercentTest(finals, rules_.turnout().heaping_tolerance());
    if (r.p_value >= rules_.turnout().heaping_p_value()) return;
    d.state.set_latched(d.state.latched() | kDistrictHeaping);
    d.dirty = true;
    std::string explanation = std::to_string(r.at_integer) + " of " + std::to_string(r.stations) +
                              " final turnouts at a whole percentage; chance gives " + Fmt("%.1f (p = %.1e)", r.expected, r.p_value);
    AreaFinding(district, district, "turnout.heaping", 1.0, explanation, t, ts);
  }

  // --- kits ---

  Status OnKit(const v1::Event& e, int64_t t, TaskState& ts) {
    const v1::KitTelemetry& in = e.kit();
    const StationRef* ref = ref_.Find(in.station_id());
    if (ref == nullptr) return UnknownStation(in.station_id());
    if (in.kit_id().empty()) return Status::InvalidArgument("missing_field: kit telemetry without kit_id");
    Advance(t, ts);
    StationMem& s = Station(*ref);
    Touch(s);
    s.state.set_last_event_ms(std::max(s.state.last_event_ms(), t));
    st::Kit* kit = nullptr;
    for (auto& k : *s.state.mutable_kits()) {
      if (k.kit_id() == in.kit_id()) kit = &k;
    }
    if (kit == nullptr) {
      kit = s.state.add_kits();
      kit->set_kit_id(in.kit_id());
      kit->set_first_seen_ms(t);
      ++ward_kits_[ref->ward_path].first;
    } else {
      Unwatch(s, *kit);
    }
    const auto& rules = rules_.kit();
    const std::string& id = e.header().event_id();
    kit->set_last_seen_ms(std::max(kit->last_seen_ms(), t));
    kit->set_last_event_id(id);
    kit->set_battery_pct(in.battery_pct());
    kit->set_accredited_total(std::max(kit->accredited_total(), in.accredited_total()));
    kit->set_auth_failures(std::max(kit->auth_failures(), in.auth_failures()));
    kit->set_tamper(in.tamper());
    if (kit->latched() & kKitSilent) {  // back
      kit->set_latched(kit->latched() & ~kKitSilent);
      --ward_kits_[ref->ward_path].second;
      CheckWardKits(ref->ward_path, ref->district_path, t, ts);
    }
    kit->set_latched(kit->latched() & ~kKitParked);
    Watch(s, *kit);

    // The explanation is built only for a finding: heartbeats are the bulk of the traffic.
    auto latch = [&](uint32_t bit, bool condition, bool cleared, const std::string& detector, double severity,
                     const auto& explain) {
      if (condition && !(kit->latched() & bit)) {
        kit->set_latched(kit->latched() | bit);
        Found(s, detector, severity, explain(), {id}, t, ts);
      } else if (cleared) {
        kit->set_latched(kit->latched() & ~bit);
      }
    };
    latch(kKitBattery, in.battery_pct() < rules.low_battery_pct(), in.battery_pct() >= rules.low_battery_pct() + 5,
          "kit.battery", 1.0, [&] { return "kit " + in.kit_id() + Fmt(" battery at %.0f%%", in.battery_pct()); });
    latch(kKitTamper, in.tamper(), !in.tamper(), "kit.tamper", 1.0,
          [&] { return "kit " + in.kit_id() + " reports tampering"; });
    double distance = -1;
    if (in.has_location() && ref->has_location) {
      distance = DistanceMeters(in.location().lat(), in.location().lon(), ref->lat, ref->lon);
    }
    kit->set_distance_m(distance);
    latch(kKitGps, distance > rules.gps_max_distance_m(), distance >= 0 && distance <= rules.gps_max_distance_m(),
          "kit.gps", 1.0, [&] { return "kit " + in.kit_id() + Fmt(" is %.0f m from its station", distance); });
    double attempts = static_cast<double>(kit->auth_failures() + kit->accredited_total());
    double rate = attempts > 0 ? static_cast<double>(kit->auth_failures()) / attempts : 0;
    latch(kKitAuth, attempts >= rules.auth_failure_min_attempts() && rate > rules.auth_failure_rate(),
          rate <= rules.auth_failure_rate() * 0.8, "kit.auth_failures", 1.0,
          [&] { return "kit " + in.kit_id() + Fmt(" fails %.0f%% of %.0f fingerprint checks", 100 * rate, attempts); });
    CheckAccreditationSurge(s, *kit, in.accredited_total(), id, t, ts);
    CheckOverVoting(s, t, ts);
    if (station_changed_) AssessStation(s, t, ts);  // heartbeats without findings: nothing to re-assess
    return Status::Ok();
  }

  // (b) surge, as the kit sees it: voters are accredited before they vote, and a kit reports
  // every few minutes where turnout comes every quarter or half hour, so stuffing shows here
  // first. The rise since the kit's newest reading at least accreditation_window_ms old (and
  // within the hour) is a rate per hour against registered voters, by at least
  // surge_min_voters (a small station's few busy minutes are not a surge). Only readings taken
  // while polls are open count: a kit's first count of the day holds everyone accredited
  // before it was switched on.
  void CheckAccreditationSurge(StationMem& s, st::Kit& kit, int64_t accredited, const std::string& id, int64_t t,
                               TaskState& ts) {
    const auto& rules = rules_.turnout();
    const int64_t window = rules.accreditation_window_ms();
    auto& at = *kit.mutable_recent_at_ms();
    auto& count = *kit.mutable_recent_accredited();
    int base = -1;  // the newest reading at least a window old
    for (int i = 0; i < at.size() && at[i] <= t - window; ++i) base = i;
    int64_t registered = s.state.registered() > 0 ? s.state.registered() : s.ref->registered;
    if (base >= 0 && registered > 0 && PollsOpen(t) && at[base] >= std::max(PollsOpenedAt(t), t - kHour) &&
        t >= s.state.surge_latched_ms()) {
      int64_t rise = accredited - count[base];
      if (rise >= rules.surge_min_voters() &&
          SharePerHour(rise, registered, t - at[base], 0) > rules.surge_fraction_per_hour()) {
        s.state.set_surge_latched_ms(t + kHour);
        Found(s, "turnout.surge", 1.0,
              "kit " + kit.kit_id() +
                  Fmt(" accredited %.0f voters (%.0f%% of registered) in %.0f min", static_cast<double>(rise),
                      100.0 * static_cast<double>(rise) / static_cast<double>(registered),
                      static_cast<double>(t - at[base]) / kMinute),
              {id}, t, ts);
      }
    }
    // Keep this reading, in time order, and what can still be a base: the readings younger
    // than a window and the newest older one (any older is never the newest base again).
    int at_index = at.size();
    at.Add(t);
    count.Add(accredited);
    for (; at_index > 0 && at[at_index - 1] > at[at_index]; --at_index) {
      at.SwapElements(at_index - 1, at_index);
      count.SwapElements(at_index - 1, at_index);
    }
    int newest_old = -1;
    for (int i = 0; i < at.size() && at[i] <= at[at.size() - 1] - window; ++i) newest_old = i;
    if (newest_old > 0) {
      at.erase(at.begin(), at.begin() + newest_old);
      count.erase(count.begin(), count.begin() + newest_old);
    }
  }

  // --- silent kits: a deadline per kit, re-armed by every heartbeat ---

  void Watch(const StationMem& s, const st::Kit& kit) {
    if (kit.latched() & (kKitSilent | kKitParked)) return;
    silent_due_.insert({kit.last_seen_ms() + rules_.kit().silent_after_ms(), s.ref->station_id, kit.kit_id()});
  }
  void Unwatch(const StationMem& s, const st::Kit& kit) {
    silent_due_.erase({kit.last_seen_ms() + rules_.kit().silent_after_ms(), s.ref->station_id, kit.kit_id()});
  }
  // After a restart: the same deadlines and ward counts the uninterrupted run would hold.
  void WatchKitsOnLoad(const StationMem& s) {
    for (const auto& kit : s.state.kits()) {
      auto& counts = ward_kits_[s.ref->ward_path];
      ++counts.first;
      if (kit.latched() & kKitSilent) ++counts.second;
      Watch(s, kit);
    }
  }

  // Kits past their deadline: silent if polls are open (a kit not heard since before an hour
  // ahead of opening is not in service today: parked until it reports).
  void CheckSilentKits(int64_t now, TaskState& ts) {
    std::vector<std::tuple<int64_t, std::string, std::string>> rearm;
    while (!silent_due_.empty() && std::get<0>(*silent_due_.begin()) < now) {
      auto [deadline, station_id, kit_id] = *silent_due_.begin();
      silent_due_.erase(silent_due_.begin());
      StationMem* found = FindStation(station_id);
      if (found == nullptr) continue;
      StationMem& s = *found;
      st::Kit* kit = nullptr;
      for (auto& k : *s.state.mutable_kits()) {
        if (k.kit_id() == kit_id) kit = &k;
      }
      if (kit == nullptr) continue;
      Touch(s);
      int64_t opened = PollsOpenedAt(now);
      if (!PollsOpen(now) || kit->last_seen_ms() < opened - kHour) {
        if (now < opened && kit->last_seen_ms() >= opened - kHour) {
          // Heard in the hour before opening: keep watching (the same key, so its next heartbeat
          // still finds and replaces it); it is judged once polls are open.
          rearm.emplace_back(deadline, station_id, kit_id);
        } else {
          kit->set_latched(kit->latched() | kKitParked);
        }
        continue;
      }
      kit->set_latched(kit->latched() | kKitSilent);
      auto& counts = ward_kits_[s.ref->ward_path];
      ++counts.second;
      Found(s, "kit.silent", 1.0,
            "kit " + kit_id + " silent for " + std::to_string((now - kit->last_seen_ms()) / kMinute) + " min",
            {kit->last_event_id()}, now, ts);
      AssessStation(s, now, ts);
      CheckWardKits(s.ref->ward_path, s.ref->district_path, now, ts);
    }
    for (auto& r : rearm) silent_due_.insert(r);
  }

  // A ward is down when area_down_fraction of its kits (3 or more) are silent.
  void CheckWardKits(const std::string& ward, const std::string& district, int64_t now, TaskState& ts) {
    auto [total, down_now] = ward_kits_[ward];
    DistrictMem& d = District(district);
    uint32_t latched = d.state.ward_latched().count(ward) ? d.state.ward_latched().at(ward) : 0;
    bool down = total >= 3 && static_cast<double>(down_now) >= rules_.kit().area_down_fraction() * total;
    if (down && !(latched & kWardAreaDown)) {
      (*d.state.mutable_ward_latched())[ward] = latched | kWardAreaDown;
      d.dirty = true;
      AreaFinding(ward, district, "kit.area_down", 1.0,
                  std::to_string(down_now) + " of " + std::to_string(total) + " kits in the ward are silent", now, ts);
    } else if (down_now == 0 && (latched & kWardAreaDown)) {
      (*d.state.mutable_ward_latched())[ward] = latched & ~kWardAreaDown;
      d.dirty = true;
    }
  }

  // --- hate speech ---

  Status OnHateSpeech(const v1::Event& e, int64_t t, TaskState& ts) {
    const v1::HateSpeechFlag& in = e.hate_speech();
    std::string district;
    const StationRef* ref = nullptr;
    if (!in.station_id().empty()) {
      ref = ref_.Find(in.station_id());
      if (ref == nullptr) return UnknownStation(in.station_id());
      district = ref->district_path;
    } else if (std::count(in.area().begin(), in.area().end(), '/') >= 1) {
      district = schemas::DistrictKeyOfArea(in.area());
    } else {
      return Status::InvalidArgument("missing_field: hate-speech flag names neither a station nor a district or ward area");
    }
    Advance(t, ts);
    DistrictMem& d = District(district);
    d.dirty = true;
    // The same text from the same source counts once.
    uint64_t seen = TextHash(ReporterOf(e) + "\n" + in.text());
    auto& hashes = *d.state.mutable_hate_seen();
    if (std::find(hashes.begin(), hashes.end(), seen) != hashes.end()) return Status::Ok();
    hashes.Add(seen);
    if (static_cast<size_t>(hashes.size()) > kMaxHateSeen) hashes.erase(hashes.begin());

    const auto& rules = rules_.hate_speech();
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
    int64_t horizon = t - rules.baseline_ms() - rules.window_ms();
    for (int i = buckets.size() - 1; i >= 0; --i) {
      if (buckets.Get(i).start_ms() + kHateBucketMs <= horizon) buckets.DeleteSubrange(i, 1);
    }
    if (t < d.state.hate_latched_ms()) return Status::Ok();
    double window = 0, baseline = 0;
    std::vector<std::string> ids;
    for (const auto& b : buckets) {
      if (b.start_ms() + kHateBucketMs > t - rules.window_ms()) {
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
    double expected = baseline * static_cast<double>(rules.window_ms()) / static_cast<double>(std::max<int64_t>(rules.baseline_ms(), 1));
    if (window >= rules.min_weight() && window >= rules.surge_ratio() * expected) {
      d.state.set_hate_latched_ms(t + rules.window_ms());
      AreaFinding(district, district, "hate.surge", 1.0,
                  Fmt("hate-speech weight %.1f in the last hour against %.1f expected", window, expected), t, ts, ids);
    }
    return Status::Ok();
  }

  // --- findings into risk ---

  void Found(StationMem& s, const std::string& detector, double severity, const std::string& explanation,
             std::vector<std::string> ids, int64_t t, TaskState& ts) {
    ReportAnomaly(detector, s.ref->station_id, s.ref->ward_path, s.ref->district_path, severity,
                  s.ref->name + ": " + explanation, ids, t, ts);
    AddFactor(*s.state.mutable_risk(), detector, severity, t, explanation, ids);
    Touch(s);
    station_changed_ = true;
  }

  void AreaFinding(const std::string& area, const std::string& district, const std::string& detector, double severity,
                   const std::string& explanation, int64_t t, TaskState& ts, std::vector<std::string> ids = {}) {
    ReportAnomaly(detector, area, area, district, severity, explanation, ids, t, ts);
    DistrictMem& d = District(district);
    AddFactor((*d.state.mutable_area_risk())[area], detector, severity, t, explanation, ids);
    d.dirty = true;
    AssessArea(area, t, ts);
    if (area != district) AssessArea(district, t, ts);
  }

  static Status UnknownStation(const std::string& id) {
    return Status::InvalidArgument("unknown_station: '" + id + "' is not in ref.stations (removed from the reference data?)");
  }

  const int32_t partition_;
  const std::string prefix_;
  const v1::Rules& rules_;
  ReferenceData& ref_;
  std::unordered_map<std::string, double> weights_;
  bool loaded_ = false;
  // This partition's stations with state, by StationRef::index (null: none yet).
  std::vector<std::unique_ptr<StationMem>> stations_;
  std::map<std::string, DistrictMem> districts_;  // ordered: timers visit districts in one order
  st::Meta meta_;
  bool meta_dirty_ = false;
  // When each subject with risk is next re-assessed (ScheduleDecay), in time then name order.
  std::set<std::pair<int64_t, std::string>> decay_due_;
  std::unordered_map<std::string, int64_t> decay_at_;
  // Kits watched for silence: (deadline, station, kit), deadline = last heartbeat +
  // silent_after_ms; and per ward, kits seen and kits silent now.
  std::set<std::tuple<int64_t, std::string, std::string>> silent_due_;
  std::unordered_map<std::string, std::pair<int, int>> ward_kits_;
  bool station_changed_ = false;  // a finding touched the current station's risk
  // Per district: stations with a score, for their areas' scores.
  struct Child {
    double score = 0;
    int64_t at_ms = 0;
    StationMem* station = nullptr;
  };
  std::unordered_map<std::string, std::map<std::string, Child>> hot_children_;
  // Per district, its stations that have state; and the stations to write at the next Flush.
  std::unordered_map<std::string, DistrictStations> district_stations_;
  std::vector<StationMem*> dirty_stations_;
  std::map<std::string, std::string> risk_out_;  // subject -> encoded RiskAssessment, for Flush
};

}  // namespace

Result<int64_t> PartitionEventTime(store::StateStore& state, int32_t partition) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, state.Get(kStationStageStore, PartitionPrefix(partition) + "m"));
  if (!value) return 0;
  st::Meta meta;
  if (!meta.ParseFromString(*value)) return Status::Corruption("station stage clock of partition " + std::to_string(partition));
  return meta.now_ms();
}

Pipeline StationPipeline(int32_t partitions, const v1::Rules& rules, store::EventLog& log) {
  Pipeline p;
  p.runtime.input_topic = std::string(schemas::topic::kInputs);
  p.runtime.stores = {std::string(kStationStageStore), std::string(kRiskStore)};
  // Two threads apply the partitions (issue 4's budget is two cores): tasks share only the
  // reference data, which locks.
  p.runtime.apply_threads = 2;
  auto shared_rules = std::make_shared<v1::Rules>(rules);
  auto reference = std::make_shared<ReferenceData>(log);
  p.factory = [shared_rules, reference](int32_t partition) {
    return std::make_unique<StationStage>(partition, *shared_rules, *reference);
  };
  for (std::string_view topic : {schemas::topic::kRisk, schemas::topic::kAnomalies, schemas::topic::kSituations,
                                 schemas::topic::kIncidents}) {
    p.outputs.push_back({.name = std::string(topic), .partitions = partitions});
  }
  return p;
}

}  // namespace ewarn::processors
