#include "ewarn/ingest/ticks.h"

#include <string>
#include <vector>

#include "ewarn/schemas/events.h"

namespace ewarn::ingest {

Status AppendTicks(store::EventLog& log, int64_t event_time_ms) {
  ASSIGN_OR_RETURN(int32_t count, log.PartitionCount(schemas::topic::kInputs));
  std::vector<int32_t> all(static_cast<size_t>(count));
  for (int32_t p = 0; p < count; ++p) all[static_cast<size_t>(p)] = p;
  return AppendTicks(log, event_time_ms, all);
}

Status AppendTicks(store::EventLog& log, int64_t event_time_ms, const std::vector<int32_t>& partitions) {
  if (partitions.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(int32_t count, log.PartitionCount(schemas::topic::kInputs));
  for (int32_t p : partitions) {
    if (p < 0 || p >= count) {
      return Status::InvalidArgument("tick for partition " + std::to_string(p) + ": in.events has " +
                                     std::to_string(count) + " partitions");
    }
  }
  // A missing ref.liaisons means no liaisons yet: routing starts from offset 0.
  int64_t liaisons_end = 0;
  if (auto liaisons = log.Offsets({std::string(schemas::topic::kLiaisons), 0}); liaisons.ok()) {
    liaisons_end = liaisons->end;
  } else if (liaisons.status().code() != StatusCode::kNotFound) {
    return liaisons.status().WithContext("reading ref.liaisons' end for a tick");
  }
  std::vector<store::OutRecord> ticks;
  ticks.reserve(partitions.size());
  for (int32_t p : partitions) {
    v1::Event e;
    auto* h = e.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id("tick:" + std::to_string(p) + ":" + std::to_string(event_time_ms));
    h->set_event_time_ms(event_time_ms);
    h->set_received_time_ms(event_time_ms);
    h->set_source(v1::SOURCE_TICKER);
    e.mutable_tick()->set_liaisons_end(liaisons_end);
    ticks.push_back({.topic = std::string(schemas::topic::kInputs),
                     .key = "tick",
                     .value = schemas::EncodeEvent(e),
                     .timestamp_ms = event_time_ms,
                     .partition = p});
  }
  return log.Append(ticks).status();
}

}  // namespace ewarn::ingest
