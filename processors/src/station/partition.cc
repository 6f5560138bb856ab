#include "station/partition.h"

#include <algorithm>
#include <cstdio>

#include "ewarn/processors/pipeline.h"
#include "ewarn/schemas/events.h"

namespace ewarn::processors::station {

Partition::Partition(int32_t id, const v1::Rules& rules, ReferenceData& reference)
    : id_(id), rules_(rules), reference_(reference) {}

std::unique_ptr<StationMem>& Partition::Slot(const StationRef& ref) {
  if (ref.index >= stations_.size()) stations_.resize(std::max(ref.index + 1, reference_.slots()));
  return stations_[ref.index];
}

StationMem& Partition::Station(const StationRef& ref) {
  std::unique_ptr<StationMem>& slot = Slot(ref);
  if (slot == nullptr) {
    slot = std::make_unique<StationMem>();
    slot->ref = &ref;
  }
  return *slot;
}

StationMem& Partition::Restore(const StationRef& ref) {
  std::unique_ptr<StationMem>& slot = Slot(ref);
  slot = std::make_unique<StationMem>();
  slot->ref = &ref;
  return *slot;
}

StationMem* Partition::FindStation(const std::string& station_id) {
  const StationRef* ref = reference_.Find(station_id);
  if (ref == nullptr || ref->index >= stations_.size()) return nullptr;
  return stations_[ref->index].get();
}

void Partition::Touch(StationMem& s) {
  if (s.dirty) return;
  s.dirty = true;
  dirty_stations_.push_back(&s);
}

int64_t Partition::NextSituationSeq() {
  meta_.set_situation_seq(meta_.situation_seq() + 1);
  meta_dirty_ = true;
  return meta_.situation_seq();
}

PollingHours Partition::Hours(const StationRef& station) const {
  if (std::optional<AreaHoursRef> h = reference_.HoursOf(station)) {
    return {.open_ms_of_day = h->open_ms_of_day, .close_ms_of_day = h->close_ms_of_day,
            .utc_offset_ms = h->utc_offset_ms};
  }
  return {.open_ms_of_day = rules_.time().polls_open_ms_of_day(),
          .close_ms_of_day = rules_.time().polls_close_ms_of_day()};
}

int64_t Partition::MoveClock(int64_t t) {
  int64_t previous = meta_.now_ms();
  if (t > previous) {
    meta_.set_now_ms(t);
    meta_dirty_ = true;
    if (t / kMinute != previous / kMinute) {
      // Hours imported while the node runs. A failed read keeps the hours known so far; the
      // next minute tries again (and the stage's own reads of the log report the outage).
      (void)reference_.RefreshIfStale(std::chrono::seconds(5));
    }
  }
  return previous;
}

void Partition::Flush(TaskState& ts, const std::string& prefix) {
  for (StationMem* s : dirty_stations_) {
    ts.Write(kStationStageStore, prefix + "s" + s->ref->station_id, Deterministic(s->state));
    s->dirty = false;
  }
  dirty_stations_.clear();
  for (auto& [path, d] : districts_) {
    if (!d.dirty) continue;
    ts.Write(kStationStageStore, prefix + "d" + path, Deterministic(d.state));
    d.dirty = false;
  }
  if (meta_dirty_) {
    ts.Write(kStationStageStore, prefix + "m", Deterministic(meta_));
    meta_dirty_ = false;
  }
}

std::string Fmt(const char* format, double a, double b, double c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, a, b, c);
  return buf;
}

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

uint64_t TextHash(std::string_view text) {
  std::string folded = FoldPlaceName(text);  // case, spacing and punctuation do not matter
  uint64_t h = 1469598103934665603ull;       // FNV-1a
  for (char c : folded) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

std::string ReporterOf(const v1::Event& e) {
  return e.header().reporter().empty() ? e.header().principal() : e.header().reporter();
}

std::string Deterministic(const google::protobuf::MessageLite& m) { return schemas::EncodeDeterministic(m); }

Status UnknownStation(const std::string& id) {
  return Status::InvalidArgument("unknown_station: '" + id + "' is not in ref.stations (removed from the reference data?)");
}

}  // namespace ewarn::processors::station
