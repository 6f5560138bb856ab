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

struct TopicCheck {
  // What is wrong, one line each, naming the topic: "missing", "N partitions, not M", or a
  // setting with what it is, what it must be, why, and the kafka-configs command that fixes it.
  std::vector<std::string> problems;
  // Why the topics' settings (retention, cleanup.policy, min.insync.replicas) were not
  // checked (the brokers do not support DescribeConfigs); empty when they were.
  std::string settings_unchecked;
};

// Checks the cluster's topics against ClusterTopics(): each exists with its partition count
// (following in.events' own) and, where the brokers describe them, with the settings the
// design relies on. `bootstrap` only goes into the fixes printed.
Result<TopicCheck> CheckClusterTopics(store::EventLog& log, const std::string& bootstrap);

// The check `serve --kafka` and `ewarn topics check` share: FailedPrecondition listing every
// problem and how to fix it, or the check (whose settings_unchecked the caller prints).
Result<TopicCheck> RequireClusterTopics(store::EventLog& log, const std::string& bootstrap);

}  // namespace ewarn::app
