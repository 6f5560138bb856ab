// Ticks: event time advancing with no other traffic (schemas/README.md, DESIGN §4).
//
// Processors run on event time only. A Tick in every partition of in.events says "event time
// has reached T here", so windows close and deadlines fire even where nothing else arrives.
// The server's ticker appends them on the wall clock; a simulator (or a replay tool) appends
// them on simulated time, directly or over HTTP (POST /v1/ticks, operators only).
#pragma once

#include <cstdint>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"

namespace ewarn::ingest {

// Appends one Tick for `event_time_ms` to every partition of in.events, in one durable append:
// event id "tick:<partition>:<ms>", key "tick", the partition explicit, source TICKER,
// event and received time `event_time_ms`, and Tick.liaisons_end = the end offset of
// ref.liaisons partition 0 (0 when that topic does not exist), so the alert stage routes with
// the liaisons known at this point on a replay too. NotFound when in.events does not exist;
// the log's error when the append fails. Thread-safe as the log is.
Status AppendTicks(store::EventLog& log, int64_t event_time_ms);
// The same, into `partitions` of in.events only (nothing for none): with several nodes each
// partition is ticked by one of them, its owner (DESIGN §8 "one clock"). InvalidArgument for a
// partition in.events does not have.
Status AppendTicks(store::EventLog& log, int64_t event_time_ms, const std::vector<int32_t>& partitions);

}  // namespace ewarn::ingest
