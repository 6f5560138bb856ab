// The event ids a station-stage partition has processed lately (processors/README.md "Repeats
// across ingest replicas"). Each ingest replica keeps its own idempotency index, so a report
// retried through another replica reaches in.events twice with one event_id; the stage drops the
// second here, so idempotency is a function of the log and not of the node that took the retry.
//
// Bounded and deterministic: an id is kept until the partition's clock is more than the allowed
// lateness past the time it was remembered at (the later of its event time and the clock then),
// to the minute: ids are forgotten a whole minute of that time at once.
// By then a retry of it, carrying the same event time, is refused as late anyway. What is kept
// depends on the log alone, so a replay or another owner keeps the same ids.
//
// On disk: key PREFIX 'e' EVENT_ID in the station stage's store, value the 8-byte big-endian
// time it was remembered at; written (and deleted) in the stage's commit, with the offsets.
//
// Threading: one per partition, used by its task's thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/processors/runtime.h"

namespace ewarn::processors::station {

class RecentEventIds {
 public:
  // `window_ms`: the rules' allowed lateness.
  explicit RecentEventIds(int64_t window_ms) : window_ms_(window_ms) {}

  // True when `event_id` was remembered and not yet forgotten: a repeat to drop.
  bool Contains(const std::string& event_id) const { return ids_.contains(event_id); }
  // Remembers an accepted input's id, at the later of its event time `t` and the clock `now`.
  void Remember(const std::string& event_id, int64_t t, int64_t now);
  // The clock moved to `now`: forgets ids remembered more than the window before it.
  void Forget(int64_t now);
  // An id restored from the store when the task starts (`value` as written by Flush).
  // Corruption when the value is not 8 bytes.
  Status Restore(std::string_view event_id, std::string_view value);
  // Writes what changed since the last Flush (remembered and forgotten ids) into the commit.
  void Flush(TaskState& ts, const std::string& prefix);

  size_t size() const { return ids_.size(); }

 private:
  struct Entry {
    int64_t at = 0;       // remembered at (ms)
    bool stored = false;  // in the committed store (so forgetting it deletes a key)
  };
  const int64_t window_ms_;
  std::unordered_map<std::string, Entry> ids_;
  // The same ids by the minute of `at`, oldest first (views of ids_' keys, which do not move): a
  // vector per minute costs a sixth of a tree node per id.
  std::map<int64_t, std::vector<std::string_view>> by_minute_;
  std::vector<std::string> unwritten_;  // remembered since the last Flush
  std::vector<std::string> forgotten_;  // stored ids forgotten since the last Flush
};

}  // namespace ewarn::processors::station
