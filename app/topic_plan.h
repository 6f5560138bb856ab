// Every topic an ewarn cluster uses, with the settings the design relies on, in one list:
// `ewarn topics create` makes them, `ewarn topics check` and `serve --kafka` verify them, and
// `ewarn dev-kafka` makes them inside its mock cluster. On one machine (the embedded log) each
// part of ewarn still creates its own topics as it opens them.
#pragma once

#include <string>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"

namespace ewarn::app {

// What ingest writes: in.events (`partitions`), the reference tables and dlq.rejected. The
// embedded log's node creates these at start; ClusterTopics begins with them.
std::vector<store::TopicSpec> InputTopics(int32_t partitions);

// Inputs and reference tables are replayed from offset 0, so nothing is ever deleted from them
// by age (retention -1); reference topics are tables (compacted). `partitions` is in.events'
// count, which the partitioned outputs share. `log` is only handed to the stages' constructors
// (they declare their outputs), never read or written here.
Result<std::vector<store::TopicSpec>> ClusterTopics(store::EventLog& log, int32_t partitions);

// Creates what is missing (idempotent); FailedPrecondition when a topic exists with another
// partition count.
Status CreateClusterTopics(store::EventLog& log, int32_t partitions);

// What is wrong with the cluster's topics, one line each ("missing", "N partitions, not M");
// empty when everything is there. The expected partition counts follow in.events' own.
Result<std::vector<std::string>> CheckClusterTopics(store::EventLog& log);

}  // namespace ewarn::app
