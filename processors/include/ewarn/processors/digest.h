// Digests that prove two runs derived the same thing (DESIGN §4: `ewarn digest`).
//
// State digest: SHA-256 over every user store of a StateStore (store name, then each key and
// value in key order). Output digest: per output topic, the records as a consumer keeps them,
// i.e. with repeated event ids dropped (a republished outbox entry is the same event): SHA-256
// over the distinct (event id, value) pairs in id order, and over each key's sequence of
// distinct ids in log order, so a lost, doubled, altered or reordered output changes it.
#pragma once

#include <string>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"

namespace ewarn::processors {

Result<std::string> StateDigest(store::StateStore& state);

struct OutputDigest {
  std::string digest;
  int64_t records = 0;     // distinct events
  int64_t duplicates = 0;  // repeated ids dropped
};
// Topics that do not exist are skipped (they hold nothing).
Result<OutputDigest> DigestTopics(store::EventLog& log, const std::vector<std::string>& topics);

}  // namespace ewarn::processors
