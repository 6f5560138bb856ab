// ewarn::store changelog: a processor stage's state as a compacted Kafka topic, so a partition
// that moves to another node is restored from it instead of being rebuilt from its input.
//
// One changelog partition per input partition. Each record carries its writer's owner epoch E
// (8 bytes big-endian after the kind byte):
//   a claim, when a node takes the partition  key: NUL "claim"   value: 'C' E
//   a change record per state key it wrote     key: store NUL key value: 'P' E value | 'D' E
//   then one commit marker                     key: NUL "marker"  value: 'M' E next input offset
// (a store name is never empty, so no state key starts with NUL). A change counts only once a
// marker follows it: records after the partition's last marker are an unfinished batch (its
// writer died mid-append) and are never applied. Deletes are 'D' records, not Kafka tombstones:
// compaction keeps a key's latest record, so a restore that starts from a checkpoint still sees
// every delete after it (a tombstone would vanish after delete.retention.ms).
//
// Fencing (librdkafka's mock cluster has no transactional fencing, so the log fences itself):
// a node that takes a partition reads its changelog to the end, then appends a claim with epoch
// (highest epoch seen) + 1 and tags everything it writes there with it. A restorer ignores every
// record whose epoch is lower than the highest seen before it: a zombie's (an owner paused past a
// rebalance, then resuming) writes after a newer claim never count.
//
// Compaction keeps, per key, the latest record, and only touches records older than
// min.compaction.lag.ms. An unfinished batch's record, and an ignored zombie's record or marker,
// is newer than the committed value of its key, so once older than that lag it could make the
// broker drop the committed value. Hence the next owner, after restoring, at once rewrites every
// such key with the value it restored (or 'D') and a marker, well inside the lag; and a restore
// that finds such a record older than the lag, not yet superseded, refuses (FailedPrecondition)
// instead of guessing.
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

// A state change (nullopt: delete), a commit marker or an owner's claim, as a record of
// `topic`/`partition` written by the owner of `epoch`.
OutRecord ChangelogChange(const std::string& topic, int32_t partition, int64_t epoch, std::string_view store,
                          std::string_view key, const std::optional<std::string>& value, int64_t now_ms);
OutRecord ChangelogMarker(const std::string& topic, int32_t partition, int64_t epoch, int64_t next_input_offset,
                          int64_t now_ms);
OutRecord ChangelogClaim(const std::string& topic, int32_t partition, int64_t epoch, int64_t now_ms);

// Folds one changelog partition's records, in offset order (compacted or not), into the state
// they commit. Memory: the latest value of every key committed in the records fed.
class ChangelogRestorer {
 public:
  // `epoch`: the highest epoch seen before the first record fed (a local checkpoint's).
  explicit ChangelogRestorer(int64_t epoch = 0) : epoch_(epoch) {}

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
  // State keys of ignored (fenced) records that no committed record of the same key follows,
  // sorted: the next owner must rewrite them. Also whether an ignored marker is unsuperseded
  // (the next owner's marker supersedes it) and the oldest such record's timestamp (0: none).
  std::vector<std::string> FencedKeys() const;
  bool fenced_marker() const { return fenced_marker_ms_ >= 0; }
  int64_t fenced_first_timestamp_ms() const;
  // The highest epoch seen (claims, changes and markers); a new owner claims one more.
  int64_t epoch() const { return epoch_; }
  // Records ignored because a newer owner had claimed the partition before them.
  int64_t fenced_records() const { return fenced_records_; }
  int64_t records() const { return records_; }

 private:
  struct Change {
    std::string key;
    std::optional<std::string> value;
    int64_t offset;
  };
  struct Fenced {
    int64_t offset;        // of the latest ignored record of the key
    int64_t timestamp_ms;  // of the oldest one not superseded
  };
  std::unordered_map<std::string, std::optional<std::string>> committed_;
  std::vector<Change> tail_;  // since the last marker
  // Ignored records no later committed record of their key supersedes; the marker's time (-1: none).
  std::unordered_map<std::string, Fenced> fenced_;
  int64_t fenced_marker_ms_ = -1;
  int64_t epoch_ = 0;
  int64_t fenced_records_ = 0;
  int64_t tail_first_timestamp_ms_ = 0;
  std::optional<int64_t> input_offset_;
  int64_t checkpoint_ = -1;
  int64_t records_ = 0;
};

// Reads `tp` from `from` up to the end offset it has when called, into `restorer`; returns that end.
Result<int64_t> ReadChangelog(EventLog& log, const TopicPartition& tp, int64_t from, ChangelogRestorer& restorer);

}  // namespace ewarn::store
