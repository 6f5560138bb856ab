// The embedded engine: partitioned topics in one RocksDB database.
//
// Layout (store/README.md): column family "meta" maps topic name -> TopicSpec; each topic has
// a column family "t/<topic>" whose keys are big-endian (partition u32, offset u64), so a
// partition is one contiguous, ordered key range. Values: 1 format byte (1), big-endian
// timestamp i64, big-endian key length u32, key, value.
//
// Appends are group-committed: callers queue their records (Append waits, AppendAsync leaves a
// callback); one committer thread takes everything queued, writes it as one WriteBatch with
// sync=true, and completes each append (waking only its own caller). While it syncs, new appends
// queue up for the next group, so the fsync is shared by everything that arrived meanwhile.
// Readers see only offsets below each partition's `visible_end`, which advances after the
// synced write, so a consumer never observes a record that a crash could take back.
#include <pthread.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <tuple>

#include "ewarn/base/bytes.h"
#include "ewarn/store/event_log.h"
#include "rocksdb_util.h"

namespace ewarn::store {
namespace {

constexpr char kRecordFormat = 1;
constexpr std::string_view kMetaFamily = "meta";
constexpr std::string_view kTopicFamilyPrefix = "t/";

std::string PartitionPrefix(int32_t partition) {
  std::string k;
  PutBigEndian32(&k, static_cast<uint32_t>(partition));
  return k;
}

std::string RecordKeyOf(int32_t partition, int64_t offset) {
  std::string k = PartitionPrefix(partition);
  PutBigEndian64(&k, static_cast<uint64_t>(offset));
  return k;
}

std::string EncodeSpec(const TopicSpec& spec) {
  std::string v;
  PutBigEndian32(&v, static_cast<uint32_t>(spec.partitions));
  PutBigEndian64(&v, static_cast<uint64_t>(spec.retention_ms));
  v.push_back(spec.compacted ? 1 : 0);
  return v;
}

Result<TopicSpec> DecodeSpec(std::string_view name, std::string_view v) {
  if (v.size() != 13) return Status::Corruption("topic '" + std::string(name) + "': bad metadata");
  TopicSpec spec;
  spec.name = name;
  spec.partitions = static_cast<int32_t>(GetBigEndian32(v));
  spec.retention_ms = static_cast<int64_t>(GetBigEndian64(v.substr(4)));
  spec.compacted = v[12] != 0;
  return spec;
}

void EncodeValue(const OutRecord& r, std::string* out) {
  out->reserve(13 + r.key.size() + r.value.size());
  out->push_back(kRecordFormat);
  PutBigEndian64(out, static_cast<uint64_t>(r.timestamp_ms));
  PutBigEndian32(out, static_cast<uint32_t>(r.key.size()));
  out->append(r.key);
  out->append(r.value);
}

struct Topic {
  TopicSpec spec;
  rocksdb::ColumnFamilyHandle* family = nullptr;
  // Next offset to assign; touched only by the commit thread.
  std::vector<int64_t> next;
  // Offsets below this are durable and readable.
  std::unique_ptr<std::atomic<int64_t>[]> visible_end;
  std::unique_ptr<std::atomic<int64_t>[]> start;
};

class EmbeddedLog;

class EmbeddedConsumer final : public Consumer {
 public:
  EmbeddedConsumer(EmbeddedLog* log, ConsumerOptions options) : log_(log), options_(std::move(options)) {}
  ~EmbeddedConsumer() override { (void)Close(); }
  Result<std::vector<LogRecord>> Poll(std::chrono::milliseconds timeout) override;
  std::vector<TopicPartition> Assignment() const override { return assignment_; }
  Status Pause(const TopicPartition& tp) override;
  Status Resume(const TopicPartition& tp) override;
  Status Close() override;

 private:
  Status AssignAll();
  EmbeddedLog* log_;
  ConsumerOptions options_;
  bool assigned_ = false;
  bool closed_ = false;
  std::vector<TopicPartition> assignment_;
  std::vector<int64_t> position_;
  std::vector<bool> paused_;
  size_t next_partition_ = 0;  // round-robin fairness across partitions
};

class EmbeddedLog final : public EventLog {
 public:
  static Result<std::unique_ptr<EventLog>> Open(const EmbeddedLogOptions& options);
  ~EmbeddedLog() override {
    {
      std::lock_guard lk(commit_mu_);
      stopping_ = true;
    }
    commit_cv_.notify_one();
    committer_.join();  // completes what is queued first
    for (auto& [name, topic] : topics_) db_->DestroyColumnFamilyHandle(topic->family);
    db_->DestroyColumnFamilyHandle(meta_);
  }

  Status CreateTopic(const TopicSpec& spec) override;
  Result<int32_t> PartitionCount(std::string_view topic) override;
  Result<std::vector<Position>> Append(std::span<const OutRecord> records) override;
  void AppendAsync(std::vector<OutRecord> records, AppendDone done) override;
  Result<std::vector<LogRecord>> Read(const TopicPartition& tp, int64_t from,
                                      size_t max_records) override;
  Result<PartitionOffsets> Offsets(const TopicPartition& tp) override;
  Result<std::vector<TopicStat>> Stat() override;
  Result<std::unique_ptr<Consumer>> Subscribe(const ConsumerOptions& options) override;

  Result<int64_t> EnforceRetention(int64_t now_ms) override;
  // Blocks until something is appended or `timeout` passes.
  void WaitForAppend(std::chrono::milliseconds timeout, uint64_t seen_generation);
  uint64_t generation() const { return generation_.load(); }
  void ReleaseGroup(const std::string& group) {
    std::lock_guard lk(groups_mu_);
    groups_.erase(group);
  }

 private:
  EmbeddedLog(std::unique_ptr<rocksdb::DB> db, rocksdb::ColumnFamilyHandle* meta, std::string dir,
              bool sync)
      : db_(std::move(db)), meta_(meta), dir_(std::move(dir)), sync_(sync) {
    committer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ewarn-log");  // for top -H and profiles
      CommitLoop();
    });
  }
  Result<Topic*> Find(std::string_view name);
  Status LoadTopic(const TopicSpec& spec, rocksdb::ColumnFamilyHandle* family);
  void Enqueue(std::unique_ptr<struct PendingAppend> append);
  void CommitLoop();
  Status WriteGroup(std::vector<std::unique_ptr<struct PendingAppend>>& group);

  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* meta_;
  std::string dir_;
  bool sync_;

  std::shared_mutex topics_mu_;  // guards topics_ (the map; Topic internals see above)
  std::map<std::string, std::unique_ptr<Topic>, std::less<>> topics_;

  std::mutex commit_mu_;  // guards queue_ and stopping_
  std::condition_variable commit_cv_;
  std::vector<std::unique_ptr<struct PendingAppend>> queue_;
  bool stopping_ = false;
  std::thread committer_;  // runs CommitLoop until the log is destroyed

  std::mutex append_mu_;  // pairs with append_cv_ for consumers waiting on new data
  std::condition_variable append_cv_;
  std::atomic<uint64_t> generation_{0};

  std::mutex groups_mu_;  // guards groups_
  std::set<std::string> groups_;
};

struct PendingAppend {
  std::vector<OutRecord> owned;         // AppendAsync's records (Append's stay with its caller)
  std::span<const OutRecord> records;   // what to write
  std::vector<std::pair<Topic*, int32_t>> placement;  // per record, resolved by Enqueue
  std::vector<Position> positions;
  EventLog::AppendDone done;
};

Result<std::unique_ptr<EventLog>> EmbeddedLog::Open(const EmbeddedLogOptions& options) {
  if (options.dir.empty()) return Status::InvalidArgument("embedded log: no directory given");
  std::error_code ec;
  if (!std::filesystem::exists(options.dir, ec)) {
    if (!options.create_if_missing) {
      return Status::NotFound("embedded log directory '" + options.dir + "' does not exist");
    }
    std::filesystem::create_directories(options.dir, ec);
    if (ec) return Status::IOError("cannot create '" + options.dir + "': " + ec.message());
  }

  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = rocksdb::kLZ4Compression;
  cf_options.write_buffer_size = 32 << 20;

  std::vector<std::string> families;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, options.dir, &families);
  if (!s.ok()) {
    if (std::filesystem::exists(options.dir + "/CURRENT")) {
      return FromRocks(s, "embedded log '" + options.dir + "'");
    }
    families = {rocksdb::kDefaultColumnFamilyName};
  }
  if (std::find(families.begin(), families.end(), kMetaFamily) == families.end()) {
    families.emplace_back(kMetaFamily);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& f : families) descriptors.emplace_back(f, cf_options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(db_options, options.dir, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "embedded log '" + options.dir + "'");
  std::unique_ptr<rocksdb::DB> db(raw);

  rocksdb::ColumnFamilyHandle* meta = nullptr;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> topic_families;
  for (auto* h : handles) {
    if (h->GetName() == kMetaFamily) {
      meta = h;
    } else if (h->GetName().starts_with(kTopicFamilyPrefix)) {
      topic_families[h->GetName().substr(kTopicFamilyPrefix.size())] = h;
    } else {
      db->DestroyColumnFamilyHandle(h);
    }
  }
  std::unique_ptr<EmbeddedLog> log(new EmbeddedLog(std::move(db), meta, options.dir, options.sync));

  std::unique_ptr<rocksdb::Iterator> it(log->db_->NewIterator({}, meta));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string name = it->key().ToString();
    ASSIGN_OR_RETURN(TopicSpec spec, DecodeSpec(name, it->value().ToString()));
    auto f = topic_families.find(name);
    if (f == topic_families.end()) {
      return Status::Corruption("embedded log '" + options.dir + "': topic '" + name +
                                "' has metadata but no data family");
    }
    RETURN_IF_ERROR(log->LoadTopic(spec, f->second));
    topic_families.erase(f);
  }
  // A family without metadata: a crash between creating it and recording it; drop the handle,
  // CreateTopic will reuse the family.
  for (auto& [name, h] : topic_families) log->db_->DestroyColumnFamilyHandle(h);
  return std::unique_ptr<EventLog>(std::move(log));
}

Status EmbeddedLog::LoadTopic(const TopicSpec& spec, rocksdb::ColumnFamilyHandle* family) {
  auto topic = std::make_unique<Topic>();
  topic->spec = spec;
  topic->family = family;
  topic->next.assign(spec.partitions, 0);
  topic->visible_end = std::make_unique<std::atomic<int64_t>[]>(spec.partitions);
  topic->start = std::make_unique<std::atomic<int64_t>[]>(spec.partitions);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, family));
  for (int32_t p = 0; p < spec.partitions; ++p) {
    int64_t start = 0, end = 0;
    it->Seek(PartitionPrefix(p));
    if (it->Valid() && it->key().starts_with(PartitionPrefix(p))) {
      start = static_cast<int64_t>(GetBigEndian64(it->key().ToStringView().substr(4)));
      it->SeekForPrev(RecordKeyOf(p, INT64_MAX));
      end = static_cast<int64_t>(GetBigEndian64(it->key().ToStringView().substr(4))) + 1;
    }
    if (!it->status().ok()) return FromRocks(it->status(), "topic '" + spec.name + "'");
    topic->next[p] = end;
    topic->visible_end[p] = end;
    topic->start[p] = start;
  }
  topics_[spec.name] = std::move(topic);
  return Status::Ok();
}

Status EmbeddedLog::CreateTopic(const TopicSpec& spec) {
  if (spec.name.empty() || spec.partitions <= 0) {
    return Status::InvalidArgument("topic needs a name and at least one partition");
  }
  std::unique_lock lk(topics_mu_);
  if (auto it = topics_.find(spec.name); it != topics_.end()) {
    if (it->second->spec.partitions != spec.partitions) {
      return Status::FailedPrecondition(
          "topic '" + spec.name + "' exists with " + std::to_string(it->second->spec.partitions) +
          " partitions, not " + std::to_string(spec.partitions));
    }
    return Status::Ok();
  }
  rocksdb::ColumnFamilyOptions cf_options;
  rocksdb::ColumnFamilyHandle* family = nullptr;
  rocksdb::Status s = db_->CreateColumnFamily(cf_options, std::string(kTopicFamilyPrefix) + spec.name,
                                              &family);
  if (!s.ok()) return FromRocks(s, "creating topic '" + spec.name + "'");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db_->Put(wo, meta_, spec.name, EncodeSpec(spec));
  if (!s.ok()) return FromRocks(s, "creating topic '" + spec.name + "'");
  return LoadTopic(spec, family);
}

Result<Topic*> EmbeddedLog::Find(std::string_view name) {
  std::shared_lock lk(topics_mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return Status::NotFound("topic '" + std::string(name) + "' does not exist");
  return it->second.get();
}

Result<int32_t> EmbeddedLog::PartitionCount(std::string_view topic) {
  ASSIGN_OR_RETURN(Topic * t, Find(topic));
  return t->spec.partitions;
}

Result<std::vector<Position>> EmbeddedLog::Append(std::span<const OutRecord> records) {
  if (records.empty()) return std::vector<Position>{};
  std::promise<Result<std::vector<Position>>> result;
  auto append = std::make_unique<PendingAppend>();
  append->records = records;
  append->done = [&result](Result<std::vector<Position>> r) { result.set_value(std::move(r)); };
  auto ready = result.get_future();
  Enqueue(std::move(append));
  return ready.get();
}

void EmbeddedLog::AppendAsync(std::vector<OutRecord> records, AppendDone done) {
  if (records.empty()) return done(std::vector<Position>{});
  auto append = std::make_unique<PendingAppend>();
  append->owned = std::move(records);
  append->records = append->owned;
  append->done = std::move(done);
  Enqueue(std::move(append));
}

void EmbeddedLog::Enqueue(std::unique_ptr<PendingAppend> append) {
  // An append naming an unknown topic or partition fails alone, here, rather than failing the
  // whole group it would join (other callers' appends with it).
  // Topics are never dropped, so what is resolved here still holds when the group is written.
  append->placement.reserve(append->records.size());
  for (const OutRecord& r : append->records) {
    Result<Topic*> topic = Find(r.topic);
    if (!topic.ok()) return append->done(topic.status());
    int32_t part = EventLog::PartitionOf(r, (*topic)->spec.partitions);
    if (part >= (*topic)->spec.partitions) {
      return append->done(Status::InvalidArgument("topic '" + r.topic + "' has no partition " + std::to_string(part)));
    }
    append->placement.emplace_back(*topic, part);
  }
  {
    std::lock_guard lk(commit_mu_);
    queue_.push_back(std::move(append));
  }
  commit_cv_.notify_one();
}

void EmbeddedLog::CommitLoop() {
  std::vector<std::unique_ptr<PendingAppend>> group;
  std::unique_lock lk(commit_mu_);
  while (true) {
    commit_cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued is done
    group.swap(queue_);
    lk.unlock();
    Status st = WriteGroup(group);
    for (auto& p : group) {
      if (st.ok()) {
        p->done(std::move(p->positions));
      } else {
        p->done(st);
      }
    }
    group.clear();
    lk.lock();
  }
}

Status EmbeddedLog::WriteGroup(std::vector<std::unique_ptr<PendingAppend>>& group) {
  // Offsets in arrival order; then the records go into the batch sorted by topic and
  // partition, so each partition's run is a sequence of ascending keys: RocksDB's memtable
  // continues each insert from the previous one instead of searching its skiplist from the
  // top (a group of concurrent requests interleaves partitions).
  struct Placed {
    Topic* topic;
    int32_t partition;
    int64_t offset;
    const OutRecord* record;
  };
  std::vector<Placed> placed;
  for (auto& p : group) {
    p->positions.clear();
    p->positions.reserve(p->records.size());
    for (size_t i = 0; i < p->records.size(); ++i) {
      auto [t, part] = p->placement[i];
      int64_t offset = t->next[part]++;
      placed.push_back({t, part, offset, &p->records[i]});
      p->positions.push_back({part, offset});
    }
  }
  std::stable_sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  });
  rocksdb::WriteBatch batch;
  std::string value;
  for (const Placed& r : placed) {
    value.clear();
    EncodeValue(*r.record, &value);
    batch.Put(r.topic->family, RecordKeyOf(r.partition, r.offset), value);
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) {
    // Nothing was written for the whole group; roll back the offsets handed out.
    for (const Placed& r : placed) r.topic->next[r.partition] = r.topic->visible_end[r.partition].load();
    return FromRocks(s, "appending to embedded log '" + dir_ + "'");
  }
  for (const Placed& r : placed) r.topic->visible_end[r.partition].store(r.topic->next[r.partition]);
  {
    std::lock_guard alk(append_mu_);
    generation_.fetch_add(1);
  }
  append_cv_.notify_all();
  return Status::Ok();
}

void EmbeddedLog::WaitForAppend(std::chrono::milliseconds timeout, uint64_t seen_generation) {
  std::unique_lock lk(append_mu_);
  append_cv_.wait_for(lk, timeout, [&] { return generation_.load() != seen_generation; });
}

Result<std::vector<LogRecord>> EmbeddedLog::Read(const TopicPartition& tp, int64_t from,
                                                 size_t max_records) {
  ASSIGN_OR_RETURN(Topic * t, Find(tp.topic));
  if (tp.partition < 0 || tp.partition >= t->spec.partitions) {
    return Status::InvalidArgument(tp.ToString() + ": no such partition");
  }
  std::vector<LogRecord> out;
  int64_t end = t->visible_end[tp.partition].load();
  from = std::max(from, t->start[tp.partition].load());
  if (from >= end || max_records == 0) return out;
  int64_t last = std::min<int64_t>(end, from + static_cast<int64_t>(max_records));
  std::string upper = RecordKeyOf(tp.partition, last);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, t->family));
  out.reserve(static_cast<size_t>(last - from));
  for (it->Seek(RecordKeyOf(tp.partition, from)); it->Valid(); it->Next()) {
    std::string_view k = it->key().ToStringView();
    std::string_view v = it->value().ToStringView();
    int64_t offset = static_cast<int64_t>(GetBigEndian64(k.substr(4)));
    if (v.size() < 13 || v[0] != kRecordFormat) {
      return Status::Corruption(tp.ToString() + " offset " + std::to_string(offset) +
                                ": record format " + (v.empty() ? "missing" : std::to_string(int(v[0]))) +
                                " is unknown or truncated (embedded log '" + dir_ + "')");
    }
    uint32_t key_len = GetBigEndian32(v.substr(9));
    if (13 + static_cast<size_t>(key_len) > v.size()) {
      return Status::Corruption(tp.ToString() + " offset " + std::to_string(offset) +
                                ": key length exceeds record (embedded log '" + dir_ + "')");
    }
    LogRecord r;
    r.topic = tp.topic;
    r.partition = tp.partition;
    r.offset = offset;
    r.timestamp_ms = static_cast<int64_t>(GetBigEndian64(v.substr(1)));
    r.key.assign(v.substr(13, key_len));
    r.value.assign(v.substr(13 + key_len));
    out.push_back(std::move(r));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading " + tp.ToString());
  return out;
}

Result<PartitionOffsets> EmbeddedLog::Offsets(const TopicPartition& tp) {
  ASSIGN_OR_RETURN(Topic * t, Find(tp.topic));
  if (tp.partition < 0 || tp.partition >= t->spec.partitions) {
    return Status::InvalidArgument(tp.ToString() + ": no such partition");
  }
  return PartitionOffsets{tp.partition, t->start[tp.partition].load(),
                          t->visible_end[tp.partition].load()};
}

Result<std::vector<TopicStat>> EmbeddedLog::Stat() {
  std::shared_lock lk(topics_mu_);
  std::vector<TopicStat> out;
  for (const auto& [name, t] : topics_) {
    TopicStat s;
    s.name = name;
    for (int32_t p = 0; p < t->spec.partitions; ++p) {
      s.partitions.push_back({p, t->start[p].load(), t->visible_end[p].load()});
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::unique_ptr<Consumer>> EmbeddedLog::Subscribe(const ConsumerOptions& options) {
  if (options.topics.empty()) return Status::InvalidArgument("subscribe: no topics");
  for (const auto& t : options.topics) RETURN_IF_ERROR(Find(t).status());
  std::lock_guard lk(groups_mu_);
  if (!groups_.insert(options.group).second) {
    return Status::FailedPrecondition("group '" + options.group +
                                      "' already has a member in this process (the embedded "
                                      "log has one member per group)");
  }
  return std::unique_ptr<Consumer>(new EmbeddedConsumer(this, options));
}

Result<int64_t> EmbeddedLog::EnforceRetention(int64_t now_ms) {
  int64_t deleted = 0;
  std::shared_lock lk(topics_mu_);
  for (auto& [name, t] : topics_) {
    if (t->spec.retention_ms < 0) continue;
    int64_t cutoff = now_ms - t->spec.retention_ms;
    for (int32_t p = 0; p < t->spec.partitions; ++p) {
      int64_t start = t->start[p].load(), end = t->visible_end[p].load();
      int64_t first_kept = start;
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, t->family));
      for (it->Seek(RecordKeyOf(p, start)); it->Valid(); it->Next()) {
        std::string_view k = it->key().ToStringView();
        int64_t off = static_cast<int64_t>(GetBigEndian64(k.substr(4)));
        if (off >= end) break;
        if (static_cast<int64_t>(GetBigEndian64(it->value().ToStringView().substr(1))) >= cutoff) break;
        first_kept = off + 1;
      }
      if (first_kept == start) continue;
      rocksdb::WriteOptions wo;
      wo.sync = true;
      rocksdb::Status s =
          db_->DeleteRange(wo, t->family, RecordKeyOf(p, start), RecordKeyOf(p, first_kept));
      if (!s.ok()) return FromRocks(s, "retention on topic '" + name + "'");
      t->start[p].store(first_kept);
      deleted += first_kept - start;
    }
  }
  return deleted;
}

// --- consumer ---

Status EmbeddedConsumer::AssignAll() {
  for (const auto& topic : options_.topics) {
    ASSIGN_OR_RETURN(int32_t n, log_->PartitionCount(topic));
    for (int32_t p = 0; p < n; ++p) assignment_.push_back({topic, p});
  }
  position_.assign(assignment_.size(), 0);
  paused_.assign(assignment_.size(), false);
  if (options_.listener != nullptr) {
    std::vector<int64_t> starts = options_.listener->OnAssigned(assignment_);
    for (size_t i = 0; i < assignment_.size() && i < starts.size(); ++i) {
      position_[i] = std::max<int64_t>(0, starts[i]);
    }
  }
  assigned_ = true;
  return Status::Ok();
}

Result<std::vector<LogRecord>> EmbeddedConsumer::Poll(std::chrono::milliseconds timeout) {
  if (closed_) return Status::FailedPrecondition("consumer is closed");
  if (!assigned_) RETURN_IF_ERROR(AssignAll());
  std::vector<LogRecord> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    uint64_t gen = log_->generation();
    for (size_t n = 0; n < assignment_.size() && out.size() < options_.max_batch; ++n) {
      size_t i = (next_partition_ + n) % assignment_.size();
      if (paused_[i]) continue;
      ASSIGN_OR_RETURN(std::vector<LogRecord> got,
                       log_->Read(assignment_[i], position_[i], options_.max_batch - out.size()));
      if (got.empty()) continue;
      position_[i] = got.back().offset + 1;
      for (auto& r : got) out.push_back(std::move(r));
    }
    if (!assignment_.empty()) next_partition_ = (next_partition_ + 1) % assignment_.size();
    auto now = std::chrono::steady_clock::now();
    if (!out.empty() || now >= deadline) return out;
    log_->WaitForAppend(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now), gen);
  }
}

Status EmbeddedConsumer::Pause(const TopicPartition& tp) {
  for (size_t i = 0; i < assignment_.size(); ++i) {
    if (assignment_[i] == tp) {
      paused_[i] = true;
      return Status::Ok();
    }
  }
  return Status::NotFound(tp.ToString() + " is not assigned to this consumer");
}

Status EmbeddedConsumer::Resume(const TopicPartition& tp) {
  for (size_t i = 0; i < assignment_.size(); ++i) {
    if (assignment_[i] == tp) {
      paused_[i] = false;
      return Status::Ok();
    }
  }
  return Status::NotFound(tp.ToString() + " is not assigned to this consumer");
}

Status EmbeddedConsumer::Close() {
  if (closed_) return Status::Ok();
  closed_ = true;
  if (assigned_ && options_.listener != nullptr) options_.listener->OnRevoked(assignment_);
  assignment_.clear();
  log_->ReleaseGroup(options_.group);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<EventLog>> OpenEmbeddedLog(const EmbeddedLogOptions& options) {
  return EmbeddedLog::Open(options);
}


}  // namespace ewarn::store
