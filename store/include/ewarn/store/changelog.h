// ewarn::store changelog: a processor stage's state as a compacted Kafka topic, so a partition
// that moves to another node is restored from it instead of being rebuilt from its input.
//
// One changelog partition per input partition. Each commit of a partition appends:
//   a change record per state key it wrote   key: store NUL key   value: 'P' value | 'D'
//   then one commit marker                   key: NUL "marker"    value: 'M' next input offset
// (a store name is never empty, so no state key starts with NUL). A change counts only once a
// marker follows it: records after the partition's last marker are an unfinished batch (its
// writer died mid-append) and are never applied. Deletes are 'D' records, not Kafka tombstones:
// compaction keeps a key's latest record, so a restore that starts from a checkpoint still sees
// every delete after it (a tombstone would vanish after delete.retention.ms).
//
// Compaction keeps, per key, the latest record, and only touches records older than
// min.compaction.lag.ms. An unfinished batch's record is newer than the committed value of its
// key, so once older than that lag it could make the broker drop the committed value. Hence the
// next owner, after restoring, at once rewrites every key of an unfinished tail with the value
// it restored (or 'D') and a marker (ChangelogRewrite), well inside the lag; and a restore that
// finds a tail older than the lag refuses (Restore... FailedPrecondition) instead of guessing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"

namespace ewarn::store {

// Records younger than this are never compacted: the window in which a new owner must have
// rewritten an unfinished tail's keys (it does so within seconds of taking the partition). A
// week: longer than any outage after which the cluster would still be the same election's.
inline constexpr int64_t kChangelogMinCompactionLagMs = 7LL * 24 * 60 * 60 * 1000;

// The compacted changelog topic of a stage whose input has `partitions` partitions.
TopicSpec ChangelogTopicSpec(std::string topic, int32_t partitions);

// The changelog key of a state key (store NUL key), and back (false when it is no state key).
std::string ChangelogKey(std::string_view store, std::string_view key);
bool SplitChangelogKey(std::string_view changelog_key, std::string_view* store, std::string_view* key);

// A state change (nullopt: delete) or a commit marker, as a record of `topic`/`partition`.
OutRecord ChangelogChange(const std::string& topic, int32_t partition, std::string_view store,
                          std::string_view key, const std::optional<std::string>& value, int64_t now_ms);
OutRecord ChangelogMarker(const std::string& topic, int32_t partition, int64_t next_input_offset,
                          int64_t now_ms);

// Folds one changelog partition's records, in offset order (compacted or not), into the state
// they commit. Memory: the latest value of every key committed in the records fed.
class ChangelogRestorer {
 public:
  // Corruption, naming the offset, for a record that is not a changelog record.
  Status Add(const LogRecord& record);

  // Latest committed value per changelog key (nullopt: deleted), as of the last marker.
  const std::unordered_map<std::string, std::optional<std::string>>& committed() const { return committed_; }
  // The next input offset named by the last marker; nullopt when no marker was fed.
  std::optional<int64_t> input_offset() const { return input_offset_; }
  // The changelog offset after the last marker (where a later restore may continue); -1: none.
  int64_t checkpoint() const { return checkpoint_; }
  // Keys of the unfinished batch after the last marker, in order, each once; never applied.
  std::vector<std::string> TailKeys() const;
  // Timestamp of the tail's first record (0 without a tail).
  int64_t tail_first_timestamp_ms() const { return tail_.empty() ? 0 : tail_first_timestamp_ms_; }
  int64_t records() const { return records_; }

 private:
  struct Change {
    std::string key;
    std::optional<std::string> value;
  };
  std::unordered_map<std::string, std::optional<std::string>> committed_;
  std::vector<Change> tail_;  // since the last marker
  int64_t tail_first_timestamp_ms_ = 0;
  std::optional<int64_t> input_offset_;
  int64_t checkpoint_ = -1;
  int64_t records_ = 0;
};

// Reads `tp` from `from` up to the end offset it has when called, into `restorer`.
Status ReadChangelog(EventLog& log, const TopicPartition& tp, int64_t from, ChangelogRestorer& restorer);

}  // namespace ewarn::store
