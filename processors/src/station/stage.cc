// The station stage (pipeline.h, processors/README.md): a task per district partition of
// in.events. The stage owns the partition: its state in memory (restored from the state store
// when the task starts, each dirty key written once per commit in Flush), its clock and
// timers, and the routing of each input to the detector modules that use it. Modules report
// findings to the risk model (risk.cc) and never call each other.
//
// Inputs are idempotent by event id within the partition (station/dedupe.h): a repeat of an id
// processed within the allowed lateness is dropped before any module sees it, whichever ingest
// replica appended it.
//
// Everything runs on event time: the partition's clock is the largest event time seen, and
// timers run whenever it passes the next whole minute, so a replay makes the same decisions
// at the same points.
#include <vector>

#include "ewarn/base/time.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/schemas/events.h"
#include "station/dedupe.h"
#include "station/partition.h"
#include "station/risk.h"

namespace ewarn::processors {
namespace {

using namespace station;

std::string PartitionPrefix(int32_t partition) {
  std::string p;
  for (int shift = 24; shift >= 0; shift -= 8) p.push_back(static_cast<char>((partition >> shift) & 0xFF));
  return p;
}

const std::string& StationIdOf(const v1::Event& e) {
  switch (e.body_case()) {
    case v1::Event::kIncident: return e.incident().station_id();
    case v1::Event::kTurnout: return e.turnout().station_id();
    case v1::Event::kKit: return e.kit().station_id();
    case v1::Event::kReview: return e.review().station_id();
    case v1::Event::kResultSheet: return e.result_sheet().station_id();
    default: return e.hate_speech().station_id();
  }
}

class StationStage final : public Processor {
 public:
  StationStage(int32_t partition, const v1::Rules& rules, ReferenceData& ref)
      : prefix_(PartitionPrefix(partition)),
        p_(partition, rules, ref),
        recent_(rules.time().allowed_lateness_ms()),
        risk_(p_),
        incidents_(MakeIncidents(p_, risk_)),
        turnout_(MakeTurnout(p_, risk_)),
        kits_(MakeKits(p_, risk_)),
        hate_speech_(MakeHateSpeech(p_, risk_)),
        results_(MakeResults(p_, risk_)),
        // Timers visit the modules in this order; a new detector is a line here and in the
        // routes below.
        all_{incidents_.get(), turnout_.get(), kits_.get(), hate_speech_.get(), results_.get()},
        // Which modules take an input, in order (a kit's reading is the kits' and turnout's).
        incident_route_{incidents_.get()},
        turnout_route_{turnout_.get()},
        kit_route_{kits_.get(), turnout_.get()},
        hate_speech_route_{hate_speech_.get()},
        // A duty-room decision on a report is the incidents' (station/reviews.cc).
        review_route_{incidents_.get()},
        results_route_{results_.get()} {}

  Status Process(const v1::Event& event, const RecordContext& where, TaskState& ts) override {
    (void)where;
    RETURN_IF_ERROR(EnsureLoaded(ts));
    const int64_t t = event.header().event_time_ms();
    // `keeps_station`: the input is about a station, which gets state (a hate-speech flag may
    // name one, but keeps none there).
    const std::vector<Module*>* route = nullptr;
    bool keeps_station = true;
    switch (event.body_case()) {
      case v1::Event::kTick:
        Advance(t, ts);
        ForwardTick(event, t, ts);
        return Status::Ok();
      case v1::Event::kAck:
      case v1::Event::kSilence:
        if (IsRepeat(event)) return Repeat(event);
        recent_.Remember(event.header().event_id(), t, p_.now());
        ForwardToAlerts(event, ts);
        return Status::Ok();
      case v1::Event::kIncident: route = &incident_route_; break;
      case v1::Event::kTurnout: route = &turnout_route_; break;
      case v1::Event::kKit: route = &kit_route_; break;
      case v1::Event::kReview: route = &review_route_; break;
      case v1::Event::kResultSheet: route = &results_route_; break;
      case v1::Event::kHateSpeech:
        route = &hate_speech_route_;
        keeps_station = false;
        break;
      default:
        return Status::InvalidArgument("wrong_body: in.events does not carry '" +
                                       std::string(schemas::BodyName(event)) + "' events");
    }
    // Before the time check: a retry of a stored report is a repeat, not a late report.
    if (IsRepeat(event)) return Repeat(event);
    RETURN_IF_ERROR(CheckTime(event, t));
    risk_.BeginEvent();
    const std::string& station_id = StationIdOf(event);
    const StationRef* ref = nullptr;
    if (keeps_station || !station_id.empty()) {
      ref = p_.reference().Find(station_id);
      if (ref == nullptr) return UnknownStation(station_id);
    }
    for (Module* m : *route) RETURN_IF_ERROR(m->Validate(event, ref));
    // Only accepted inputs are remembered: a refused one's retry is refused again the same way.
    recent_.Remember(event.header().event_id(), t, p_.now());
    Advance(t, ts);
    StationMem* s = nullptr;
    if (keeps_station) {
      s = &p_.Station(*ref);
      p_.Touch(*s);
      s->state.set_last_event_ms(std::max(s->state.last_event_ms(), t));
    }
    for (Module* m : *route) RETURN_IF_ERROR(m->OnEvent(event, ref, s, t, ts));
    if (s != nullptr) risk_.EndEvent(*s, t, ts);
    return Status::Ok();
  }

  Status Flush(TaskState& ts) override {
    p_.Flush(ts, prefix_);
    recent_.Flush(ts, prefix_);
    risk_.Flush(ts);
    return Status::Ok();
  }

 private:
  Status EnsureLoaded(TaskState& ts) {
    if (loaded_) return Status::Ok();
    loaded_ = true;
    RETURN_IF_ERROR(p_.reference().Refresh());
    Status parse_error;
    RETURN_IF_ERROR(ts.Scan(kStationStageStore, prefix_, [&](std::string_view key, std::string_view value) {
      std::string_view rest = key.substr(prefix_.size());
      if (rest.empty()) return true;
      char kind = rest[0];
      std::string id(rest.substr(1));
      bool ok = true;
      if (kind == 's') {
        const StationRef* ref = p_.reference().Find(id);
        if (ref == nullptr) return true;  // gone from the reference data: its events are refused too
        StationMem& s = p_.Restore(*ref);
        ok = s.state.ParseFromArray(value.data(), static_cast<int>(value.size()));
        for (Module* m : all_) m->OnLoaded(s);
        risk_.OnLoaded(s);
      } else if (kind == 'd') {
        DistrictMem& d = p_.District(id);
        ok = d.state.ParseFromArray(value.data(), static_cast<int>(value.size()));
        for (Module* m : all_) m->OnLoaded(id, d);
        risk_.OnLoaded(id, d);
      } else if (kind == 'm') {
        ok = p_.meta().ParseFromArray(value.data(), static_cast<int>(value.size()));
      } else if (kind == 'e') {
        parse_error = recent_.Restore(id, value);
        return parse_error.ok();
      }
      if (!ok) parse_error = Status::Corruption("station stage state for key '" + id + "' does not parse");
      return ok;
    }));
    return parse_error;
  }

  Status CheckTime(const v1::Event& e, int64_t t) const {
    const auto& time = p_.rules().time();
    if (t <= 0) return Status::InvalidArgument("missing_field: event has no event time");
    if (p_.now() > 0 && t < p_.now() - time.allowed_lateness_ms()) {
      return Status::InvalidArgument(
          "late: event time " + FormatRfc3339(t) + " is more than the allowed lateness (" +
          std::to_string(time.allowed_lateness_ms() / kMinute) + " min) behind this partition's event time " +
          FormatRfc3339(p_.now()));
    }
    int64_t received = e.header().received_time_ms();
    if (received > 0 && t > received + time.max_future_ms()) {
      return Status::InvalidArgument("future: event time " + FormatRfc3339(t) + " is ahead of its receipt (" +
                                     FormatRfc3339(received) + ")");
    }
    return Status::Ok();
  }

  // An input without an id cannot be recognised again (ingest gives every input one).
  bool IsRepeat(const v1::Event& event) const {
    return !event.header().event_id().empty() && recent_.Contains(event.header().event_id());
  }

  // Tells the runtime it dropped a repeat (counted as a duplicate; nothing changed).
  static Status Repeat(const v1::Event& event) {
    return Status::AlreadyExists("repeat: event id '" + event.header().event_id() + "' was processed already");
  }

  // Moves the partition's clock forward. Timers run when it passes a whole minute: a function
  // of the clock alone, so a task restarted from committed state runs them exactly where an
  // uninterrupted one did.
  void Advance(int64_t t, TaskState& ts) {
    int64_t previous = p_.MoveClock(t);
    if (t <= previous) return;
    recent_.Forget(t);
    if (previous > 0 && t / kMinute > previous / kMinute) {
      for (Module* m : all_) m->OnMinute(t, ts);
      risk_.OnMinute(t, ts);
    }
  }

  // The alert stage's timers (acknowledgement deadlines, grouping windows) count in minutes, and
  // its routing needs the liaisons a tick announces: a tick goes on to `risk` in a new minute or
  // with more liaisons, not every second (ewarn serve ticks every second; an idle node appended
  // 8 `risk` records a second, issue 13).
  void ForwardTick(const v1::Event& tick, int64_t t, TaskState& ts) {
    st::Meta& meta = p_.meta();
    bool new_minute = t / kMinute > meta.forwarded_tick_ms() / kMinute;
    bool more_liaisons = tick.tick().liaisons_end() > meta.forwarded_liaisons_end();
    if (!new_minute && !more_liaisons) return;
    meta.set_forwarded_tick_ms(std::max(meta.forwarded_tick_ms(), t));
    meta.set_forwarded_liaisons_end(std::max(meta.forwarded_liaisons_end(), tick.tick().liaisons_end()));
    p_.MarkMetaDirty();
    ForwardToAlerts(tick, ts);
  }

  void ForwardToAlerts(const v1::Event& event, TaskState& ts) {
    ts.EmitToPartition(std::string(schemas::topic::kRisk), schemas::RecordKey(event), event, p_.id());
  }

  const std::string prefix_;
  Partition p_;
  RecentEventIds recent_;
  RiskModel risk_;
  std::unique_ptr<Module> incidents_, turnout_, kits_, hate_speech_, results_;
  const std::vector<Module*> all_;
  const std::vector<Module*> incident_route_, turnout_route_, kit_route_, hate_speech_route_, review_route_,
      results_route_;
  bool loaded_ = false;
};

}  // namespace

Result<int64_t> PartitionEventTime(store::StateStore& state, int32_t partition) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, state.Get(kStationStageStore, PartitionPrefix(partition) + "m"));
  if (!value) return 0;
  station::st::Meta meta;
  if (!meta.ParseFromString(*value)) return Status::Corruption("station stage clock of partition " + std::to_string(partition));
  return meta.now_ms();
}

Pipeline StationPipeline(int32_t partitions, const v1::Rules& rules, store::EventLog& log) {
  Pipeline p;
  p.runtime.input_topic = std::string(schemas::topic::kInputs);
  p.runtime.stores = {std::string(kStationStageStore), std::string(kRiskStore), std::string(kResultsStore)};
  // Two threads apply the partitions (issue 4's budget is two cores): tasks share only the
  // reference data, which locks.
  p.runtime.apply_threads = 2;
  auto shared_rules = std::make_shared<v1::Rules>(rules);
  auto reference = std::make_shared<ReferenceData>(log);
  p.factory = [shared_rules, reference](int32_t partition) {
    return std::make_unique<StationStage>(partition, *shared_rules, *reference);
  };
  for (std::string_view topic : {schemas::topic::kRisk, schemas::topic::kAnomalies, schemas::topic::kSituations,
                                 schemas::topic::kIncidents, schemas::topic::kCountedResults}) {
    p.outputs.push_back({.name = std::string(topic), .partitions = partitions});
  }
  return p;
}

}  // namespace ewarn::processors
