// Metrics for the event log: wraps any EventLog and counts what passes through it.
//   ewarn_log_appended_records_total{topic}, ewarn_log_append_batches_total,
//   ewarn_log_append_seconds (latency until durable), ewarn_log_append_batch_records.
#pragma once

#include <memory>

#include "ewarn/store/event_log.h"

namespace prometheus {
class Registry;
}

namespace ewarn::store {

// Returns `log` instrumented; `registry` must outlive the result. Thread-safe like `log`.
std::unique_ptr<EventLog> WithMetrics(std::unique_ptr<EventLog> log, prometheus::Registry& registry);

}  // namespace ewarn::store
