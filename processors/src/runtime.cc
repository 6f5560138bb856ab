#include "ewarn/processors/runtime.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <thread>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "ewarn/base/bytes.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/changelog.h"

namespace ewarn::processors {

// --- TaskState ---

std::string TaskState::CacheKey(std::string_view store, std::string_view key) {
  std::string k;
  k.reserve(store.size() + 1 + key.size());
  k.append(store);
  k.push_back('\0');
  k.append(key);
  return k;
}

Result<std::optional<std::string>> TaskState::Get(std::string_view store, std::string_view key) {
  std::string k = CacheKey(store, key);
  if (auto it = cache_.find(k); it != cache_.end()) return it->second.value;
  RETURN_IF_ERROR(WaitForCommit());
  ASSIGN_OR_RETURN(std::optional<std::string> v, store_.Get(store, key));
  cache_.emplace(std::move(k), Entry{v, false});
  return v;
}

void TaskState::Put(std::string_view store, std::string_view key, std::string value) {
  cache_[CacheKey(store, key)] = Entry{std::move(value), true};
}

void TaskState::Delete(std::string_view store, std::string_view key) {
  cache_[CacheKey(store, key)] = Entry{std::nullopt, true};
}

void TaskState::Write(std::string_view store, std::string key, std::string value) {
  if (!cache_.empty()) cache_.erase(CacheKey(store, key));  // this write is the key's last
  writes_.push_back({std::string(store), std::move(key), std::move(value)});
}

void TaskState::Emit(std::string topic, std::string key, v1::Event event, std::string partition_key) {
  auto* origin = event.mutable_header()->mutable_origin();
  origin->set_topic(input_topic_);
  origin->set_partition(partition_);
  origin->set_offset(input_offset_);
  origin->set_index(emitted_for_input_++);
  int64_t timestamp = event.header().event_time_ms() ? event.header().event_time_ms() : input_timestamp_ms_;
  outputs_.push_back({.topic = std::move(topic),
                      .key = std::move(key),
                      .value = schemas::EncodeEvent(event),
                      .timestamp_ms = timestamp,
                      .partition_key = std::move(partition_key)});
}

void TaskState::EmitToPartition(std::string topic, std::string key, v1::Event event,
                                int32_t partition) {
  Emit(std::move(topic), std::move(key), std::move(event));
  outputs_.back().partition = partition;
}

Status TaskState::Scan(std::string_view store, std::string_view prefix,
                       const std::function<bool(std::string_view, std::string_view)>& fn) {
  RETURN_IF_ERROR(WaitForCommit());
  return store_.Scan(store, prefix, fn);
}

void TaskState::Drain(store::CommitBatch& batch, std::vector<store::OutRecord>* changelog,
                      const std::string& changelog_topic, int64_t epoch, int64_t now_ms,
                      std::vector<store::OutRecord>* outputs) {
  for (auto& [k, e] : cache_) {
    if (!e.dirty) continue;
    size_t sep = k.find('\0');
    std::string_view store(k.data(), sep), key(k.data() + sep + 1, k.size() - sep - 1);
    if (changelog) changelog->push_back(store::ChangelogChange(changelog_topic, partition_, epoch, store, key, e.value, now_ms));
    if (e.value) {
      batch.Put(store, key, std::move(*e.value));
    } else {
      batch.Delete(store, key);
    }
  }
  // The cache is dropped after every commit: memory stays bounded by one commit's working set,
  // and reads fall back to RocksDB's block cache.
  cache_.clear();
  for (auto& w : writes_) {
    if (changelog) changelog->push_back(store::ChangelogChange(changelog_topic, partition_, epoch, w.store, w.key, w.value, now_ms));
    batch.Put(w.store, w.key, std::move(w.value));
  }
  writes_.clear();
  for (auto& r : outputs_) {
    if (outputs) {
      outputs->push_back(std::move(r));
    } else {
      batch.AddOutput(std::move(r));
    }
  }
  outputs_.clear();
}

// --- metrics ---

namespace {
// A processor's InvalidArgument message may start with a stable reason code ("late: ...",
// "unknown_station: ..."): it labels the metric and the dead letter. Else "invalid_event".
std::string ReasonCode(std::string_view message) {
  size_t colon = message.find(": ");
  if (colon == std::string_view::npos || colon == 0 || colon > 32) return "invalid_event";
  for (char c : message.substr(0, colon)) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return "invalid_event";
  }
  return std::string(message.substr(0, colon));
}
}  // namespace

struct TaskRuntime::Probe {
  // Every series carries the stage's input topic: serve runs several stages in one registry.
  Probe(prometheus::Registry& r, const std::string& stage)
      : stage_label{{"stage", stage}},
        records(prometheus::BuildCounter()
                    .Name("ewarn_processors_records_total")
                    .Help("Input records by outcome")
                    .Register(r)),
        processed(records.Add({{"stage", stage}, {"outcome", "processed"}})),
        duplicates(records.Add({{"stage", stage}, {"outcome", "duplicate"}})),
        skipped(records.Add({{"stage", stage}, {"outcome", "skipped"}})),
        skipped_family(prometheus::BuildCounter()
                           .Name("ewarn_processors_skipped_total")
                           .Help("Input records sent to dlq.processing, by reason")
                           .Register(r)),
        commits(prometheus::BuildCounter()
                    .Name("ewarn_processors_commits_total")
                    .Help("State commits (state + offsets + outbox in one synced batch)")
                    .Register(r)
                    .Add(stage_label)),
        outputs(prometheus::BuildCounter()
                    .Name("ewarn_processors_outputs_total")
                    .Help("Output records published from the outbox")
                    .Register(r)
                    .Add(stage_label)),
        commit_seconds(prometheus::BuildHistogram()
                           .Name("ewarn_processors_commit_seconds")
                           .Help("Commit latency, including publishing the outbox")
                           .Register(r)
                           .Add(stage_label, prometheus::Histogram::BucketBoundaries{
                                        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25,
                                        0.5, 1, 2.5})),
        batch_records(prometheus::BuildHistogram()
                          .Name("ewarn_processors_commit_records")
                          .Help("Input records per commit")
                          .Register(r)
                          .Add(stage_label, prometheus::Histogram::BucketBoundaries{
                                       1, 10, 100, 1000, 5000, 10000, 50000, 100000})),
        restored_records(prometheus::BuildCounter()
                             .Name("ewarn_processors_changelog_restored_records_total")
                             .Help("Changelog records read to restore partitions assigned to this node")
                             .Register(r)
                             .Add(stage_label)),
        restore_seconds(prometheus::BuildCounter()
                            .Name("ewarn_processors_changelog_restore_seconds_total")
                            .Help("Time spent restoring partitions from the changelog")
                            .Register(r)
                            .Add(stage_label)),
        lag_family(prometheus::BuildGauge()
                       .Name("ewarn_processors_consumer_lag")
                       .Help("Records in the log not yet processed, per partition")
                       .Register(r)) {}
  std::map<std::string, std::string> stage_label;
  prometheus::Family<prometheus::Counter>& records;
  prometheus::Counter& processed;
  prometheus::Counter& duplicates;
  prometheus::Counter& skipped;
  prometheus::Family<prometheus::Counter>& skipped_family;
  prometheus::Counter& commits;
  prometheus::Counter& outputs;
  prometheus::Histogram& commit_seconds;
  prometheus::Histogram& batch_records;
  prometheus::Counter& restored_records;
  prometheus::Counter& restore_seconds;
  prometheus::Family<prometheus::Gauge>& lag_family;
};

// --- helper threads ---

// A helper thread applying its share of the tasks (RuntimeOptions::apply_threads): work runs
// in the order posted; after a failure, later work is dropped.
class TaskRuntime::Lane {
 public:
  Lane() : thread_([this](std::stop_token stop) { Loop(stop); }) {}

  // Queues `work`, which applies `records` input records. Waits while the lane is more than
  // kMaxBacklog records behind: a slower lane holds the poller back instead of filling memory,
  // and a commit (which waits for the lanes) does not wait for a long backlog.
  void Post(std::function<Status()> work, size_t records) {
    std::unique_lock lk(mu_);
    idle_.wait(lk, [&] { return backlog_ < kMaxBacklog; });
    backlog_ += records;
    queue_.push_back({std::move(work), records});
    work_.notify_one();
  }

  // Waits until everything posted has run: the lane's failure, if it ever failed.
  Status Wait() {
    std::unique_lock lk(mu_);
    idle_.wait(lk, [&] { return queue_.empty() && !running_; });
    return error_;
  }

 private:
  static constexpr size_t kMaxBacklog = 10'000;
  struct Work {
    std::function<Status()> run;
    size_t records = 0;
  };

  void Loop(std::stop_token stop) {
    std::unique_lock lk(mu_);
    while (work_.wait(lk, stop, [&] { return !queue_.empty(); })) {
      Work w = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
      bool failed = !error_.ok();
      lk.unlock();
      Status st = failed ? Status::Ok() : w.run();
      w.run = nullptr;  // its records are freed here, not under the lock
      lk.lock();
      running_ = false;
      if (!st.ok() && error_.ok()) error_ = st;
      backlog_ -= w.records;
      idle_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable_any work_;
  std::condition_variable idle_;
  std::deque<Work> queue_;
  size_t backlog_ = 0;
  bool running_ = false;
  Status error_;
  std::jthread thread_;  // last: starts once the members it uses exist, joined before they go
};

void TaskRuntime::AssignLanes() {
  size_t i = 0;
  for (auto& [partition, task] : tasks_) task.lane = lanes_.empty() ? 0 : 1 + i++ % lanes_.size();
}

Status TaskRuntime::WaitForLanes() {
  Status first;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    Status st = lanes_[i]->Wait();
    if (!st.ok() && first.ok()) first = st;
    RuntimeStats& s = lane_stats_[i];
    stats_.processed += std::exchange(s.processed, 0);
    stats_.duplicates += std::exchange(s.duplicates, 0);
    stats_.skipped += std::exchange(s.skipped, 0);
  }
  return first;
}

Status TaskRuntime::FlushLane(size_t lane) {
  for (auto& [partition, task] : tasks_) {
    if (task.lane == lane) RETURN_IF_ERROR(task.processor->Flush(*task.state));
  }
  return Status::Ok();
}

Status TaskRuntime::FlushTasks() {
  // Each thread encodes its own tasks' state (a large part of a commit's work) in parallel.
  for (size_t i = 0; i < lanes_.size(); ++i) {
    lanes_[i]->Post([this, lane = i + 1] { return FlushLane(lane); }, 0);
  }
  Status own = FlushLane(0);
  Status helpers = WaitForLanes();
  return own.ok() ? helpers : own;
}

Status TaskRuntime::Dispatch(std::vector<store::LogRecord> batch) {
  using Share = std::vector<std::pair<Task*, store::LogRecord>>;
  std::vector<Share> shares(lanes_.size() + 1);
  for (auto& r : batch) {
    if (Task* task = Take(r)) shares[task->lane].emplace_back(task, std::move(r));
  }
  for (size_t i = 0; i < lanes_.size(); ++i) {
    Share& share = shares[i + 1];
    if (share.empty()) continue;
    size_t records = share.size();
    lanes_[i]->Post([this, i, share = std::move(share)] {
      for (const auto& [task, record] : share) RETURN_IF_ERROR(Apply(*task, record, lane_stats_[i]));
      return Status::Ok();
    }, records);
  }
  for (const auto& [task, record] : shares[0]) RETURN_IF_ERROR(Apply(*task, record, stats_));
  return Status::Ok();
}

// --- rebalance ---

class TaskRuntime::Listener final : public store::RebalanceListener {
 public:
  explicit Listener(TaskRuntime* runtime) : runtime_(runtime) {}
  std::vector<int64_t> OnAssigned(const std::vector<store::TopicPartition>& parts) override {
    return runtime_->OnAssigned(parts);
  }
  void OnRevoked(const std::vector<store::TopicPartition>& parts) override {
    runtime_->OnRevoked(parts);
  }

 private:
  TaskRuntime* runtime_;
};

std::vector<int64_t> TaskRuntime::OnAssigned(const std::vector<store::TopicPartition>& parts) {
  std::vector<int64_t> starts;
  // Tasks are replaced below: no helper may be applying records to them.
  if (Status st = WaitForLanes(); !st.ok() && deferred_error_.ok()) deferred_error_ = st;
  // Committed offsets are read below: the commit in flight must be in the store first.
  if (Status st = FinishCommit(); !st.ok() && deferred_error_.ok()) deferred_error_ = st;
  for (const auto& tp : parts) {
    int64_t start = 0, epoch = 0;
    if (!options_.changelog_topic.empty()) {
      // Before the processor exists: it may read its state when it starts.
      Result<Restored> restored = Restore(tp.partition);
      if (!restored.ok() && deferred_error_.ok()) deferred_error_ = restored.status();
      if (restored.ok()) {
        start = restored->input_offset;
        epoch = restored->epoch;
      }
    } else {
      Result<std::optional<int64_t>> committed = state_.CommittedOffset(tp);
      if (!committed.ok() && deferred_error_.ok()) deferred_error_ = committed.status();
      start = committed.ok() && committed->has_value() ? **committed : 0;
    }
    Task task;
    task.processor = factory_(tp.partition);
    task.state = std::make_unique<TaskState>(state_, tp.partition);
    task.state->wait_for_commit_ = [this] { return FinishCommit(); };
    task.next_offset = start;
    task.committed_offset = start;
    task.epoch = epoch;
    tasks_[tp.partition] = std::move(task);
    starts.push_back(start);
  }
  AssignLanes();
  NoteOwned();
  return starts;
}

void TaskRuntime::OnRevoked(const std::vector<store::TopicPartition>& parts) {
  Status st = Commit();
  if (!st.ok() && deferred_error_.ok()) deferred_error_ = st;
  (void)WaitForLanes();  // Commit waited for them already; the tasks go away below
  for (const auto& tp : parts) tasks_.erase(tp.partition);
  AssignLanes();
  NoteOwned();
}

void TaskRuntime::NoteOwned() {
  std::vector<int32_t> owned;
  for (const auto& [partition, task] : tasks_) owned.push_back(partition);
  std::lock_guard lk(owned_mu_);
  owned_ = std::move(owned);
}

std::vector<int32_t> TaskRuntime::OwnedPartitions() const {
  std::lock_guard lk(owned_mu_);
  return owned_;
}

// --- runtime ---

TaskRuntime::TaskRuntime(store::EventLog& log, store::StateStore& state, ProcessorFactory factory,
                         RuntimeOptions options, prometheus::Registry* registry)
    : log_(log),
      state_(state),
      factory_(std::move(factory)),
      options_(std::move(options)),
      listener_(std::make_unique<Listener>(this)),
      probe_(registry ? std::make_unique<Probe>(*registry, options_.input_topic) : nullptr),
      last_commit_(std::chrono::steady_clock::now()) {
  // With helpers, every task goes to one of them and this thread only polls, hands records
  // out and commits: that small share is then balanced by the scheduler, instead of weighing on
  // one thread's share of the tasks (measured: ~10% more events/s than this thread taking a share).
  if (options_.apply_threads > 1) {
    for (int i = 0; i < options_.apply_threads; ++i) {
      lane_stats_.emplace_back();
      lanes_.push_back(std::make_unique<Lane>());
    }
  }
}

TaskRuntime::~TaskRuntime() {
  if (consumer_) (void)Close();
  (void)FinishCommit();
}

Result<std::unique_ptr<TaskRuntime>> TaskRuntime::Make(store::EventLog& log,
                                                       store::StateStore& state,
                                                       ProcessorFactory factory,
                                                       RuntimeOptions options,
                                                       prometheus::Registry* registry) {
  if (options.input_topic.empty()) return Status::InvalidArgument("runtime: no input topic");
  RETURN_IF_ERROR(log.CreateTopic({.name = std::string(kProcessingDlqTopic), .partitions = 1}));
  if (!options.changelog_topic.empty()) {
    ASSIGN_OR_RETURN(int32_t partitions, log.PartitionCount(options.input_topic));
    RETURN_IF_ERROR(log.CreateTopic(store::ChangelogTopicSpec(options.changelog_topic, partitions)));
  }
  std::unique_ptr<TaskRuntime> rt(
      new TaskRuntime(log, state, std::move(factory), std::move(options), registry));
  // Outputs committed before a crash but not yet in the log go out first.
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::OutboxEntry> pending, state.PendingOutbox(10000));
    if (pending.empty()) break;
    rt->stats_.outputs += static_cast<int64_t>(pending.size());
    RETURN_IF_ERROR(rt->Publish(std::move(pending)));
  }
  ASSIGN_OR_RETURN(rt->consumer_, log.Subscribe({.group = rt->options_.group,
                                                  .topics = {rt->options_.input_topic},
                                                  .listener = rt->listener_.get(),
                                                  .max_batch = rt->options_.max_batch}));
  return rt;
}

Status TaskRuntime::Publish(std::vector<store::OutboxEntry> entries) {
  if (entries.empty()) return Status::Ok();
  std::vector<store::OutRecord> records;
  std::vector<uint64_t> sequences;
  records.reserve(entries.size());
  sequences.reserve(entries.size());
  for (auto& e : entries) {
    records.push_back(std::move(e.record));
    sequences.push_back(e.sequence);
  }
  ASSIGN_OR_RETURN(auto positions, log_.Append(records));
  (void)positions;
  if (probe_) probe_->outputs.Increment(static_cast<double>(records.size()));
  return state_.MarkPublished(sequences);
}

TaskRuntime::Task* TaskRuntime::Take(const store::LogRecord& record) {
  auto it = tasks_.find(record.partition);
  if (it == tasks_.end() || record.offset < it->second.next_offset) return nullptr;
  it->second.next_offset = record.offset + 1;
  ++pending_records_;
  ++taken_;
  ++stats_.input_records;
  return &it->second;
}

Status TaskRuntime::Apply(Task& task, const store::LogRecord& record, RuntimeStats& stats) {
  TaskState& ts = *task.state;
  RecordContext where{record.topic, record.partition, record.offset, record.timestamp_ms};
  ts.SetInput(record.topic, record.offset, record.timestamp_ms);

  auto skip = [&](const Status& why) {
    ++stats.skipped;
    std::string reason = why.code() == StatusCode::kCorruption ? "corrupt_record" : ReasonCode(why.message());
    if (probe_) {
      probe_->skipped.Increment();
      probe_->skipped_family.Add({{"stage", options_.input_topic}, {"reason", reason}}).Increment();
    }
    v1::Event dlq;
    auto* h = dlq.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id("dlq:" + record.topic + "/" + std::to_string(record.partition) + "@" +
                    std::to_string(record.offset));
    h->set_event_time_ms(record.timestamp_ms);
    h->set_source(v1::SOURCE_PROCESSOR);
    auto* rej = dlq.mutable_rejected();
    rej->set_endpoint("processors:" + record.topic);
    rej->set_raw(record.value);
    rej->set_reason(why.WithContext(record.topic + "/" + std::to_string(record.partition) +
                                    " offset " + std::to_string(record.offset))
                        .message());
    rej->set_reason_code(reason);
    ts.Emit(std::string(kProcessingDlqTopic), record.topic, std::move(dlq));
    return Status::Ok();
  };

  Result<v1::Event> event = schemas::DecodeEvent(record.value);
  if (!event.ok()) return skip(event.status());

  ASSIGN_OR_RETURN(bool repeat, IsRepeat(*event, record.partition, ts));
  if (repeat) {
    ++stats.duplicates;
    if (probe_) probe_->duplicates.Increment();
    return Status::Ok();
  }
  Status st = task.processor->Process(*event, where, ts);
  if (st.code() == StatusCode::kInvalidArgument) return skip(st);
  if (st.code() == StatusCode::kAlreadyExists) {  // a repeat the processor itself recognised
    ++stats.duplicates;
    if (probe_) probe_->duplicates.Increment();
    return Status::Ok();
  }
  RETURN_IF_ERROR(st.WithContext(record.topic + "/" + std::to_string(record.partition) +
                                 " offset " + std::to_string(record.offset)));
  ++stats.processed;
  if (probe_) probe_->processed.Increment();
  return Status::Ok();
}

Result<bool> TaskRuntime::IsRepeat(const v1::Event& event, int32_t partition, TaskState& ts) {
  if (options_.dedupe == RuntimeOptions::Dedupe::kOff) return false;
  const v1::Header& h = event.header();
  if (h.has_origin()) {
    // Key: this partition, then the producing topic/partition. Value: offset, index.
    const v1::Origin& o = h.origin();
    std::string key;
    PutBigEndian32(&key, static_cast<uint32_t>(partition));
    key += "o/" + o.topic();
    key.push_back('\0');
    PutBigEndian32(&key, static_cast<uint32_t>(o.partition()));
    std::string position;
    PutBigEndian64(&position, static_cast<uint64_t>(o.offset()));
    PutBigEndian32(&position, static_cast<uint32_t>(o.index()));
    ASSIGN_OR_RETURN(std::optional<std::string> highest, ts.Get(kSeenStore, key));
    if (highest && position <= *highest) return true;  // big-endian: bytes order like numbers
    ts.Put(kSeenStore, key, std::move(position));
    return false;
  }
  if (options_.dedupe != RuntimeOptions::Dedupe::kByEventId || h.event_id().empty()) return false;
  std::string key;
  PutBigEndian32(&key, static_cast<uint32_t>(partition));
  key += "e/" + h.event_id();
  ASSIGN_OR_RETURN(std::optional<std::string> seen, ts.Get(kSeenStore, key));
  if (seen) return true;
  ts.Put(kSeenStore, key, "");
  return false;
}

Status TaskRuntime::RunOnce(std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(std::vector<store::LogRecord> batch, consumer_->Poll(timeout));
  if (!deferred_error_.ok()) return std::exchange(deferred_error_, Status::Ok());
  Status applied = Dispatch(std::move(batch));
  if (!applied.ok()) {
    // The processor's memory may hold part of the failed record: nothing after it commits.
    std::lock_guard lk(commit_mu_);
    if (commit_error_.ok()) commit_error_ = applied;
    return applied;
  }
  bool due = pending_records_ >= options_.commit_every_records ||
             (pending_records_ > 0 &&
              std::chrono::steady_clock::now() - last_commit_ >= options_.commit_interval);
  if (due) RETURN_IF_ERROR(StartCommit());
  return Status::Ok();
}

Status TaskRuntime::Commit() {
  RETURN_IF_ERROR(StartCommit());
  return FinishCommit();
}

Status TaskRuntime::FinishCommit() {
  std::lock_guard lk(commit_mu_);
  if (!in_flight_.valid()) return commit_error_;
  Result<size_t> published = in_flight_.get();
  if (!published.ok()) {
    commit_error_ = published.status();
    return commit_error_;
  }
  stats_.outputs += static_cast<int64_t>(*published);
  return Status::Ok();
}

Status TaskRuntime::StartCommit() {
  auto started = std::chrono::steady_clock::now();
  if (Status st = FlushTasks(); !st.ok()) {
    std::lock_guard lk(commit_mu_);
    if (commit_error_.ok()) commit_error_ = st;
    return st;
  }
  RETURN_IF_ERROR(FinishCommit());
  store::CommitBatch batch;
  const bool with_changelog = !options_.changelog_topic.empty();
  std::vector<store::OutRecord> outputs, changelog;
  std::vector<std::pair<int32_t, size_t>> markers;  // partition, index of its marker in `changelog`
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  for (auto& [partition, task] : tasks_) {
    size_t changes = changelog.size();
    if (with_changelog) {
      task.state->Drain(batch, &changelog, options_.changelog_topic, task.epoch, now_ms, &outputs);
    } else {
      task.state->Drain(batch);
    }
    if (task.next_offset != task.committed_offset) {
      batch.SetOffset({options_.input_topic, partition}, task.next_offset);
    }
    if (with_changelog && (changelog.size() != changes || task.next_offset != task.committed_offset)) {
      markers.emplace_back(partition, changelog.size());
      changelog.push_back(store::ChangelogMarker(options_.changelog_topic, partition, task.epoch, task.next_offset, now_ms));
    }
  }
  if (batch.empty() && changelog.empty() && outputs.empty()) {
    last_commit_ = started;
    pending_records_ = 0;
    return Status::Ok();
  }
  for (auto& [partition, task] : tasks_) task.committed_offset = task.next_offset;
  // The synced write and the publishing (two fsyncs, the memtable inserts) overlap with
  // processing the next records. Nothing leaves before the state it follows from is durable,
  // and the next commit starts only after this one has finished, so commits and outputs keep
  // their order; a crash meanwhile loses only uncommitted work, as before.
  if (with_changelog) {
    std::lock_guard lk(commit_mu_);
    // Outputs first, then the changelog, then the local commit: whatever a crash interrupts,
    // the local state is never ahead of the changelog, and no committed state lacks its outputs
    // (processors/README.md, "Changelog").
    in_flight_ = std::async(std::launch::async, [this, batch = std::move(batch), outputs = std::move(outputs),
                                                 changelog = std::move(changelog), markers = std::move(markers),
                                                 started]() mutable -> Result<size_t> {
      store::CommitBatch own = std::move(batch);
      size_t published = outputs.size();
      if (!outputs.empty()) {
        ASSIGN_OR_RETURN(std::vector<store::Position> positions, log_.Append(outputs));
        (void)positions;
        if (probe_) probe_->outputs.Increment(static_cast<double>(published));
        outputs.clear();
      }
      ASSIGN_OR_RETURN(std::vector<store::Position> positions, AppendChangelog(std::move(changelog)));
      for (const auto& [partition, index] : markers) {
        own.SetOffset({options_.changelog_topic, partition}, positions[index].offset + 1);
      }
      ASSIGN_OR_RETURN(std::vector<store::OutboxEntry> outbox, state_.Commit(std::move(own)));
      (void)outbox;  // empty: the outputs are in the log already
      if (probe_) {
        probe_->commit_seconds.Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
      return published;
    });
  } else {
    std::lock_guard lk(commit_mu_);
    in_flight_ = std::async(std::launch::async, [this, batch = std::move(batch), started]() mutable -> Result<size_t> {
      // Freed on this thread, not by the task thread when it collects the result: a batch holds
      // a string per dirty key.
      store::CommitBatch own = std::move(batch);
      ASSIGN_OR_RETURN(std::vector<store::OutboxEntry> outbox, state_.Commit(std::move(own)));
      size_t outputs = outbox.size();
      RETURN_IF_ERROR(Publish(std::move(outbox)));
      if (probe_) {
        probe_->commit_seconds.Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
      return outputs;
    });
  }
  ++stats_.commits;
  if (probe_) {
    probe_->commits.Increment();
    probe_->batch_records.Observe(static_cast<double>(pending_records_));
    for (auto& [partition, task] : tasks_) {
      Result<store::PartitionOffsets> off = log_.Offsets({options_.input_topic, partition});
      if (!off.ok()) continue;
      probe_->lag_family.Add({{"topic", options_.input_topic}, {"partition", std::to_string(partition)}})
          .Set(static_cast<double>(off->end - task.next_offset));
    }
  }
  pending_records_ = 0;
  last_commit_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

Result<std::vector<store::Position>> TaskRuntime::AppendChangelog(std::vector<store::OutRecord> records) {
  const int64_t stop = options_.changelog_stop_after_records;
  if (stop < 0 || stop >= static_cast<int64_t>(records.size())) return log_.Append(records);
  records.resize(static_cast<size_t>(stop));
  if (!records.empty()) RETURN_IF_ERROR(log_.Append(records).status());
  return Status::Internal("test hook: commit stopped after " + std::to_string(stop) + " changelog records");
}

namespace {
// Where a store keeps the highest owner epoch its changelog checkpoint has seen, next to the
// checkpoint (an offsets entry: '#' never occurs in a Kafka topic name).
store::TopicPartition EpochSlot(const store::TopicPartition& changelog) {
  return {changelog.topic + "#owner-epoch", changelog.partition};
}
}  // namespace

Result<TaskRuntime::Restored> TaskRuntime::Restore(int32_t partition) {
  auto started = std::chrono::steady_clock::now();
  const store::TopicPartition input{options_.input_topic, partition};
  const store::TopicPartition changelog{options_.changelog_topic, partition};
  ASSIGN_OR_RETURN(std::optional<int64_t> local_input, state_.CommittedOffset(input));
  ASSIGN_OR_RETURN(std::optional<int64_t> checkpoint, state_.CommittedOffset(changelog));
  ASSIGN_OR_RETURN(std::optional<int64_t> local_epoch, state_.CommittedOffset(EpochSlot(changelog)));
  ASSIGN_OR_RETURN(store::PartitionOffsets offsets, log_.Offsets(changelog));
  // Every local commit with a changelog records its position there, so local input offsets
  // without one are state from before the changelog, which the changelog does not hold.
  if (!checkpoint && local_input.value_or(0) > 0) {
    return Status::FailedPrecondition(
        "this node's state of " + input.ToString() + " (up to offset " + std::to_string(*local_input) +
        ") predates its changelog '" + changelog.ToString() +
        "': start the node on an empty data directory; it restores the partition from the changelog");
  }
  if (checkpoint && *checkpoint > offsets.end) {
    return Status::FailedPrecondition(
        "this node's state of " + input.ToString() + " is at changelog offset " + std::to_string(*checkpoint) +
        " but '" + changelog.ToString() + "' ends at " + std::to_string(offsets.end) +
        " (was the topic deleted and made again?): start the node on an empty data directory");
  }
  const int64_t from = checkpoint.value_or(0);
  int64_t start = local_input.value_or(0);
  const bool behind = from < offsets.end;  // something was committed since this node's last commit here

  store::ChangelogRestorer restorer(local_epoch.value_or(0));
  ASSIGN_OR_RETURN(int64_t read_to, store::ReadChangelog(log_, changelog, from, restorer));
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  // Claim the partition with an epoch above every one in it. The claim counts only if nothing
  // was appended between the end read and the claim (another claimer, or a zombie's commit):
  // otherwise read that too and claim again, so the claim's epoch is above everything before it.
  int64_t epoch = 0, claimed_at = -1;
  for (int attempt = 0; claimed_at < 0; ++attempt) {
    if (attempt == 10) {
      return Status::Unavailable("could not claim '" + changelog.ToString() +
                                 "': other writers kept appending to it during 10 attempts");
    }
    epoch = restorer.epoch() + 1;
    std::vector<store::OutRecord> claim_record{store::ChangelogClaim(options_.changelog_topic, partition, epoch, now_ms)};
    ASSIGN_OR_RETURN(std::vector<store::Position> claim, log_.Append(claim_record));
    if (claim.at(0).offset == read_to) {
      claimed_at = claim[0].offset;
    } else {
      ASSIGN_OR_RETURN(read_to, store::ReadChangelog(log_, changelog, read_to, restorer));
    }
  }
  std::vector<std::string> rewrite_keys = restorer.TailKeys();
  for (std::string& key : restorer.FencedKeys()) {
    if (std::find(rewrite_keys.begin(), rewrite_keys.end(), key) == rewrite_keys.end()) {
      rewrite_keys.push_back(std::move(key));
    }
  }
  auto older_than_lag = [&](int64_t ms) { return ms > 0 && now_ms - ms > store::kChangelogMinCompactionLagMs; };
  if ((!restorer.TailKeys().empty() && older_than_lag(restorer.tail_first_timestamp_ms())) ||
      older_than_lag(restorer.fenced_first_timestamp_ms())) {
    return Status::FailedPrecondition(
        "'" + changelog.ToString() + "' holds an unfinished commit, or a fenced owner's write, older than its "
        "min.compaction.lag.ms and not rewritten since: the broker may have compacted away values it shadows, so "
        "the partition cannot be restored from it; delete the changelog topic, recreate it with `ewarn topics "
        "create` and start every node on an empty data directory (the partition is then rebuilt from its input)");
  }
  store::CommitBatch batch;
  for (const auto& [changelog_key, value] : restorer.committed()) {
    std::string_view store_name, key;
    store::SplitChangelogKey(changelog_key, &store_name, &key);
    if (value) {
      batch.Put(store_name, key, *value);
    } else {
      batch.Delete(store_name, key);
    }
  }
  if (restorer.input_offset()) start = *restorer.input_offset();
  batch.SetOffset(input, start);
  // The claim changes no state: the local state is the changelog's as of after it.
  int64_t next_checkpoint = claimed_at + 1;
  if (!rewrite_keys.empty() || restorer.fenced_marker()) {
    // An unfinished batch's records, and a zombie's, are newer than the committed values of
    // their keys: write those values again (or deletes), with a marker, so compaction can only
    // ever keep them (processors/README.md, "Changelog").
    std::vector<store::OutRecord> rewrite;
    for (const std::string& changelog_key : rewrite_keys) {
      std::string_view store_name, key;
      store::SplitChangelogKey(changelog_key, &store_name, &key);
      std::optional<std::string> value;
      if (auto it = restorer.committed().find(changelog_key); it != restorer.committed().end()) {
        value = it->second;
      } else {
        // Not changed since this node's checkpoint (nothing, without one).
        ASSIGN_OR_RETURN(value, state_.Get(store_name, key));
      }
      rewrite.push_back(
          store::ChangelogChange(options_.changelog_topic, partition, epoch, store_name, key, value, now_ms));
    }
    rewrite.push_back(store::ChangelogMarker(options_.changelog_topic, partition, epoch, start, now_ms));
    ASSIGN_OR_RETURN(std::vector<store::Position> positions, log_.Append(rewrite));
    next_checkpoint = positions.back().offset + 1;
    if (!restorer.TailKeys().empty()) ++stats_.unfinished_batches;
  }
  batch.SetOffset(changelog, next_checkpoint);
  batch.SetOffset(EpochSlot(changelog), epoch);
  ASSIGN_OR_RETURN(std::vector<store::OutboxEntry> outbox, state_.Commit(std::move(batch)));
  (void)outbox;
  stats_.fenced_records += restorer.fenced_records();
  if (!behind) return Restored{start, epoch};  // nothing to restore: this node kept the partition
  ++stats_.restored_partitions;
  stats_.restored_records += restorer.records();
  stats_.restore_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (probe_) {
    probe_->restored_records.Increment(static_cast<double>(restorer.records()));
    probe_->restore_seconds.Increment(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  return Restored{start, epoch};
}

Status TaskRuntime::Run(std::stop_token stop) {
  while (!stop.stop_requested()) RETURN_IF_ERROR(RunOnce(std::chrono::milliseconds(100)));
  return Close();
}

Status TaskRuntime::RunUntilCaughtUp(std::chrono::milliseconds idle_timeout) {
  // The first poll joins the group, so the assignment is known afterwards.
  RETURN_IF_ERROR(RunOnce(std::chrono::milliseconds(100)));
  std::map<int32_t, int64_t> targets;
  auto deadline = std::chrono::steady_clock::now() + idle_timeout;
  while (true) {
    if (tasks_.empty()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return Status::Unavailable("no partitions of '" + options_.input_topic +
                                   "' were assigned within the timeout");
      }
      RETURN_IF_ERROR(RunOnce(std::chrono::milliseconds(100)));
      continue;
    }
    if (targets.empty()) {
      for (const auto& [p, task] : tasks_) {
        ASSIGN_OR_RETURN(store::PartitionOffsets off, log_.Offsets({options_.input_topic, p}));
        targets[p] = off.end;
      }
    }
    bool done = true;
    for (const auto& [p, end] : targets) {
      auto it = tasks_.find(p);
      if (it != tasks_.end() && it->second.next_offset < end) done = false;
    }
    if (done) return Commit();
    int64_t before = taken_;
    RETURN_IF_ERROR(RunOnce(std::chrono::milliseconds(100)));
    if (taken_ != before) {
      deadline = std::chrono::steady_clock::now() + idle_timeout;
    } else if (std::chrono::steady_clock::now() > deadline) {
      return Status::Unavailable("replay of '" + options_.input_topic +
                                 "' made no progress for " +
                                 std::to_string(idle_timeout.count()) + " ms");
    }
  }
}

Status TaskRuntime::Close() {
  if (!consumer_) return Status::Ok();
  Status st = Commit();
  Status closed = consumer_->Close();
  consumer_.reset();
  tasks_.clear();
  NoteOwned();
  RETURN_IF_ERROR(st);
  return closed;
}

}  // namespace ewarn::processors
