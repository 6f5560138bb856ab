// ewarn::store::StateStore: a processor process's durable state, on RocksDB.
//
// Named stores (one RocksDB column family each) hold derived state. One Commit() writes, in a
// single synced WriteBatch: state changes, the input offsets they account for, and the output
// records they produced (the outbox). So after a crash, state, offsets and outputs agree: a
// task resumes from the committed offsets with the matching state, and republishes any outbox
// entry that was committed but not yet marked published (outputs carry deterministic ids, so
// consumers drop the repeat). Memory is bounded: one block cache and one write-buffer manager
// shared by every column family, sizes from StateStoreOptions.
//
// Thread-safety: all methods may be called from several threads (tasks); Commit is atomic.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"

namespace ewarn::store {

struct StateStoreOptions {
  std::string dir;
  std::vector<std::string> stores;         // column families to open or create
  size_t block_cache_bytes = 128 << 20;
  size_t write_buffer_bytes = 64 << 20;    // total memtable budget across stores
  bool sync = true;                        // fsync every commit (WAL on)
};

// One atomic unit of state change. Cheap to build; applied by StateStore::Commit.
class CommitBatch {
 public:
  void Put(std::string_view store, std::string_view key, std::string value);
  void Delete(std::string_view store, std::string_view key);
  // The next offset to read from `tp` once this batch is committed.
  void SetOffset(const TopicPartition& tp, int64_t next_offset);
  // An output to publish after commit (the transactional outbox).
  void AddOutput(OutRecord record);

  // Sync this batch to disk even when the store was opened with sync=false (for rare writes
  // that cannot be rebuilt from the log, e.g. a new access token).
  void RequireDurable() { durable_ = true; }
  // Write this batch to memory only, skipping the write-ahead log (it reaches disk with the next
  // memtable flush), for data rebuilt from the log after a crash anyway, such as an index of
  // what the log holds: a crash may lose it, never half of it. Ignored with RequireDurable.
  void SkipWriteAheadLog() { skip_wal_ = true; }
  bool empty() const { return ops_.empty() && offsets_.empty() && outputs_.empty(); }
  size_t output_count() const { return outputs_.size(); }

 private:
  friend class StateStore;
  struct Op {
    std::string store, key, value;
    bool is_delete = false;
  };
  std::vector<Op> ops_;
  std::map<TopicPartition, int64_t> offsets_;
  std::vector<OutRecord> outputs_;
  bool durable_ = false;
  bool skip_wal_ = false;
};

struct OutboxEntry {
  uint64_t sequence = 0;
  OutRecord record;
};

class StateStore {
 public:
  // Opens or creates the store. IOError naming the directory when it cannot.
  static Result<std::unique_ptr<StateStore>> Open(const StateStoreOptions& options);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // nullopt when absent. NotFound for an unknown store name.
  Result<std::optional<std::string>> Get(std::string_view store, std::string_view key);
  // Visits keys with `prefix` in order until `fn` returns false.
  Status Scan(std::string_view store, std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& fn);
  // The user stores (not the internal offsets/outbox ones), sorted.
  std::vector<std::string> StoreNames() const;

  // Atomically and durably applies `batch`; its outputs enter the outbox and are returned with
  // their sequence numbers, for the caller to publish and then MarkPublished.
  Result<std::vector<OutboxEntry>> Commit(CommitBatch&& batch);
  // The committed next offset for `tp`, or nullopt when never committed.
  Result<std::optional<int64_t>> CommittedOffset(const TopicPartition& tp);
  // Outbox entries not yet marked published (after a crash), in commit order.
  Result<std::vector<OutboxEntry>> PendingOutbox(size_t max_entries);
  // Drops these entries: they are in the log now. Not synced: losing this only means a
  // republish, which consumers drop by event id.
  Status MarkPublished(std::span<const uint64_t> sequences);

  // Approximate bytes of live state (for metrics).
  uint64_t ApproximateSizeBytes();

 private:
  struct Impl;
  explicit StateStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ewarn::store
