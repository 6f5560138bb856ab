// ewarn::processors runtime: tasks that turn input partitions into state and outputs with
// exactly-once effect (DESIGN §3).
//
// A TaskRuntime joins a consumer group for one input topic; each assigned partition is a task
// with its own Processor. For every batch it:
//   1. decodes records (ewarn.v1.Event) and drops event ids the partition has already seen;
//   2. lets the processor update a write-back cache (each dirty key written once per commit)
//      and emit outputs with deterministic ids;
//   3. commits state + consumed offsets + outputs (outbox) in one synced RocksDB WriteBatch;
//   4. appends the outbox to the log, then marks it published.
// Steps 3 and 4 of a periodic commit run on a committer thread while the next records are
// processed; the next commit (and any read of the state store) waits for them first.
// A crash anywhere loses nothing (offsets only move with the state) and doubles nothing that a
// consumer keeps (a republished output has the same event id; step 1 drops it downstream).
// A partition new to this process (rebalance) starts from its committed offset, or from the
// beginning when this process has none, rebuilding that partition's state from the log.
//
// With a changelog (RuntimeOptions::changelog_topic, several nodes on Kafka), a commit instead
//   a. appends the outputs and waits for the brokers' acknowledgement;
//   b. appends, per partition, each state change and then a commit marker with the next input
//      offset to the partition's changelog (store/include/ewarn/store/changelog.h), and waits;
//   c. commits state + input offsets + the changelog position after the marker, locally.
// A crash before (c) leaves local state behind the changelog, never ahead: the next owner, here
// or elsewhere, restores the partition from the changelog (records after its last marker are an
// unfinished batch and are ignored, then rewritten with the restored values), and replays the
// input only from the marker's offset; outputs of (a) that it derives again carry the same
// origins, so consumers drop them. processors/README.md has the argument in full.
//
// With RuntimeOptions::apply_threads > 1, that many helper threads apply the records, each its
// share of the tasks, while the driving thread polls, hands records out and commits.
//
// Processors read no clock and no unseeded randomness: results depend on the log alone.
// Thread-safety: a TaskRuntime is driven by one thread (Run or RunOnce).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"
#include "ewarn/v1/event.pb.h"

namespace prometheus {
class Registry;
}

namespace ewarn::processors {

// A task's view of its state: reads go through a cache to the StateStore, writes stay in the
// cache until the runtime commits. Outputs are published after that commit.
class TaskState {
 public:
  TaskState(store::StateStore& store, int32_t partition) : store_(store), partition_(partition) {}
  int32_t partition() const { return partition_; }

  // NotFound for a store the runtime was not configured with.
  Result<std::optional<std::string>> Get(std::string_view store, std::string_view key);
  void Put(std::string_view store, std::string_view key, std::string value);
  void Delete(std::string_view store, std::string_view key);
  // For Processor::Flush, of state the processor keeps in memory and does not read back
  // through Get before the commit: `value` goes straight to the commit batch, without a cache
  // entry (a tenth of the station stage's commit time went into that cache). Replaces a Put or
  // Delete of the key earlier in this commit.
  void Write(std::string_view store, std::string key, std::string value);
  // An output to `topic` under `key` (partitioned by `partition_key` when given). The runtime
  // stamps header.origin with the input record being processed, so consumers can drop repeats;
  // the event id must be a deterministic function of the inputs.
  void Emit(std::string topic, std::string key, v1::Event event, std::string partition_key = "");
  // The same, into an explicit partition of `topic` (e.g. forwarding a tick to the same
  // partition number of a co-partitioned topic).
  void EmitToPartition(std::string topic, std::string key, v1::Event event, int32_t partition);
  // Visits committed keys of `store` with `prefix` (not the uncommitted cache): for a processor
  // restoring its in-memory state when its task starts.
  Status Scan(std::string_view store, std::string_view prefix,
              const std::function<bool(std::string_view key, std::string_view value)>& fn);

 private:
  friend class TaskRuntime;
  struct Entry {
    std::optional<std::string> value;  // nullopt: deleted (or known absent)
    bool dirty = false;
  };
  // Cache key: store name, NUL, key (store names never contain NUL).
  static std::string CacheKey(std::string_view store, std::string_view key);
  // Moves this commit's state changes into `batch`. With `changelog`, each change also becomes a
  // record there (of this partition of `changelog_topic`, tagged with owner `epoch`) and outputs go to `outputs` (published
  // before the commit) instead of the batch's outbox.
  void Drain(store::CommitBatch& batch, std::vector<store::OutRecord>* changelog = nullptr,
             const std::string& changelog_topic = "", int64_t epoch = 0, int64_t now_ms = 0,
             std::vector<store::OutRecord>* outputs = nullptr);
  // Waits for the runtime's commit in flight, so reads of the store see every earlier write.
  Status WaitForCommit() { return wait_for_commit_ ? wait_for_commit_() : Status::Ok(); }
  void SetInput(std::string_view topic, int64_t offset, int64_t timestamp_ms) {
    input_topic_ = topic;
    input_offset_ = offset;
    input_timestamp_ms_ = timestamp_ms;
    emitted_for_input_ = 0;
  }

  store::StateStore& store_;
  int32_t partition_;
  std::string input_topic_;
  int64_t input_offset_ = 0;
  int64_t input_timestamp_ms_ = 0;
  int32_t emitted_for_input_ = 0;
  std::unordered_map<std::string, Entry> cache_;
  struct PendingWrite {
    std::string store, key, value;
  };
  std::vector<PendingWrite> writes_;
  std::vector<store::OutRecord> outputs_;
  std::function<Status()> wait_for_commit_;  // set by the runtime
};

// What record is being processed, for explanations and error messages.
struct RecordContext {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
};

class Processor {
 public:
  virtual ~Processor() = default;
  // Applies one input event. InvalidArgument (bad content) skips the event: it is counted and
  // written to dlq.processing with the reason. AlreadyExists says the event is a repeat the
  // processor dropped (e.g. the station stage's event-id window): counted as a duplicate, and
  // the processor must have changed nothing for it. Any other error stops the runtime, uncommitted.
  virtual Status Process(const v1::Event& event, const RecordContext& where, TaskState& state) = 0;
  // Called before every commit: a processor that keeps decoded state in memory writes its
  // dirty keys here (each once per commit, however many events touched it).
  virtual Status Flush(TaskState& /*state*/) { return Status::Ok(); }
};

using ProcessorFactory = std::function<std::unique_ptr<Processor>(int32_t partition)>;

struct RuntimeOptions {
  std::string group = "ewarn-processors";
  std::string input_topic;
  // State stores the processors use (plus the runtime's own "seen" store).
  std::vector<std::string> stores;
  size_t max_batch = 10000;
  // Commit when this many records are pending or this long has passed since the last commit.
  // Commit points do not change results, only how much is redone after a crash.
  size_t commit_every_records = 50000;
  std::chrono::milliseconds commit_interval{100};
  // How repeats are dropped (a crashed task republishes its outbox; a producer may retry):
  //   kByOrigin   derived inputs carry header.origin; per producing partition the highest
  //               origin seen is kept (one key per producer) and anything not above it is a
  //               repeat. Inputs without origin come from ingest, which keeps event ids unique.
  //   kByEventId  additionally remember every event id (one key per event: safe for any
  //               producer, about 40% slower; see BENCHMARKS.md).
  //   kOff        process everything.
  enum class Dedupe { kByOrigin, kByEventId, kOff };
  Dedupe dedupe = Dedupe::kByOrigin;
  // Threads applying records. 1: the driving thread. More: that many helper threads, the
  // tasks dealt out among them, a task always to the same one, so each partition's records
  // are applied in order and results do not depend on the count; the driving thread polls,
  // hands records out and commits. Processors of different tasks then run at the same time:
  // what they share must be safe to use from several threads.
  int apply_threads = 1;
  // The compacted topic (ChangelogTopicFor) each commit also writes its state changes to, so a
  // node assigned a partition restores it from there and reads only the input's tail. Empty: no
  // changelog (one node on the embedded log, where state never moves).
  std::string changelog_topic;
  // For crash tests only: a commit appends this many of its changelog records and then fails,
  // as a writer killed mid-append would. Negative: never.
  int64_t changelog_stop_after_records = -1;
};

// The changelog topic of the stage reading `input_topic`.
inline std::string ChangelogTopicFor(std::string_view input_topic) {
  return "changelog." + std::string(input_topic);
}

struct RuntimeStats {
  int64_t processed = 0;
  int64_t duplicates = 0;
  int64_t skipped = 0;   // bad records, sent to dlq.processing
  int64_t commits = 0;
  int64_t outputs = 0;
  // Changelog restores on assignment: partitions restored and changelog records read.
  int64_t restored_partitions = 0;
  int64_t restored_records = 0;
  double restore_seconds = 0;
  // Unfinished batches (a writer died mid-append) found after a changelog's last marker:
  // ignored, and their keys rewritten with the restored values.
  int64_t unfinished_batches = 0;
  // Changelog records ignored by restores because a newer owner had claimed the partition before
  // them (a zombie's writes); their keys are rewritten like an unfinished batch's.
  int64_t fenced_records = 0;
  // Input records read, ever: after a restore, only the input's tail.
  int64_t input_records = 0;
};

inline constexpr std::string_view kSeenStore = "seen";
inline constexpr std::string_view kProcessingDlqTopic = "dlq.processing";

class TaskRuntime {
 public:
  // Subscribes to options.input_topic; republishes any outbox left by a crash first.
  // `registry` may be null (no metrics).
  static Result<std::unique_ptr<TaskRuntime>> Make(store::EventLog& log, store::StateStore& state,
                                                   ProcessorFactory factory, RuntimeOptions options,
                                                   prometheus::Registry* registry);
  ~TaskRuntime();

  // Polls once (waiting up to `timeout`), processes, and commits when a commit is due.
  Status RunOnce(std::chrono::milliseconds timeout);
  // Runs until `stop` is requested, then commits and leaves the group.
  Status Run(std::stop_token stop);
  // Processes until every assigned partition reached the end offset it had when called, then
  // commits. For replay and tests.
  Status RunUntilCaughtUp(std::chrono::milliseconds idle_timeout = std::chrono::seconds(30));
  // Commits pending state and publishes the outbox now; returns once both are done.
  Status Commit();
  // Leaves the group (commits first).
  Status Close();

  const RuntimeStats& stats() const { return stats_; }
  // The input partitions this runtime has tasks for now (what the consumer group assigned it),
  // in order; empty before the first assignment. Thread-safe, unlike the rest: for a ticker on
  // another thread (`ewarn serve` ticks only the partitions its station stage owns, issue 14.7).
  std::vector<int32_t> OwnedPartitions() const;

 private:
  class Listener;
  struct Probe;
  class Lane;
  struct Task;
  TaskRuntime(store::EventLog& log, store::StateStore& state, ProcessorFactory factory,
              RuntimeOptions options, prometheus::Registry* registry);
  Status Publish(std::vector<store::OutboxEntry> entries);
  // Builds the commit batch (processors' dirty state, offsets, outbox) on this thread and starts
  // writing and publishing it on the committer thread. Finishes the previous commit first.
  Status StartCommit();
  // Waits for the commit in flight, if any: its error when it failed.
  Status FinishCommit();
  // With a changelog: brings this store's state of `partition` up to the changelog's last
  // commit marker of its newest owner (rewriting an unfinished tail and a zombie's keys), claims
  // the partition with the next owner epoch, and returns the input offset to start from.
  struct Restored {
    int64_t input_offset;  // where the task reads on
    int64_t epoch;         // this node's claim on the partition's changelog
  };
  Result<Restored> Restore(int32_t partition);
  // Appends a commit's changelog records (obeying changelog_stop_after_records).
  Result<std::vector<store::Position>> AppendChangelog(std::vector<store::OutRecord> records);
  // The record's task when it is next in its partition (and counts it as taken), else null.
  Task* Take(const store::LogRecord& record);
  Status Apply(Task& task, const store::LogRecord& record, RuntimeStats& stats);
  // Hands each helper its tasks' records of `batch` (and applies any of this thread's).
  Status Dispatch(std::vector<store::LogRecord> batch);
  // Every thread finishes the records it was given and flushes its tasks' processors.
  Status FlushTasks();
  Status FlushLane(size_t lane);
  // Waits until the helpers have applied everything handed to them; adds up their counts.
  // A helper's failure is returned every time after (its task's memory is not to be committed).
  Status WaitForLanes();
  // Deals the tasks out to the helpers, in partition order (to this thread without helpers).
  void AssignLanes();
  // True when `event` was already processed by this partition (see RuntimeOptions::Dedupe).
  Result<bool> IsRepeat(const v1::Event& event, int32_t partition, TaskState& ts);
  std::vector<int64_t> OnAssigned(const std::vector<store::TopicPartition>& parts);
  void OnRevoked(const std::vector<store::TopicPartition>& parts);
  // Publishes tasks_' partitions for OwnedPartitions.
  void NoteOwned();

  struct Task {
    std::unique_ptr<Processor> processor;
    std::unique_ptr<TaskState> state;
    int64_t next_offset = 0;      // next to process
    int64_t committed_offset = 0;
    int64_t epoch = 0;            // this owner's claim in the changelog (0: none)
    size_t lane = 0;              // who applies its records: helper lane - 1, 0 the driving thread
  };

  store::EventLog& log_;
  store::StateStore& state_;
  ProcessorFactory factory_;
  RuntimeOptions options_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Probe> probe_;
  std::unique_ptr<store::Consumer> consumer_;
  std::map<int32_t, Task> tasks_;
  Status deferred_error_;  // an error raised inside a rebalance callback
  size_t pending_records_ = 0;
  int64_t taken_ = 0;  // records taken for processing, ever (progress)
  std::chrono::steady_clock::time_point last_commit_;
  RuntimeStats stats_;
  // Helper threads (lane i + 1) and their counts since the last WaitForLanes. After tasks_:
  // they stop before the tasks they apply go away.
  std::vector<RuntimeStats> lane_stats_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  // Guards in_flight_ and commit_error_: a helper's TaskState may wait for the commit.
  std::mutex commit_mu_;
  // The commit being written and published (its output count); last, so it is waited for
  // before the members it uses go away.
  std::future<Result<size_t>> in_flight_;
  // Guards owned_, a copy of tasks_' keys for other threads (OwnedPartitions).
  mutable std::mutex owned_mu_;
  std::vector<int32_t> owned_;
  // Sticky: after a failed commit the processors' memory is ahead of the store (the failed
  // batch's state is gone from their caches), so no later commit may claim offsets past it.
  Status commit_error_;
};

}  // namespace ewarn::processors
