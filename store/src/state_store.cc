// StateStore on RocksDB: user stores are column families; "__offsets" and "__outbox" are ours.
#include "ewarn/store/state_store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "ewarn/base/bytes.h"
#include "rocksdb_util.h"

namespace ewarn::store {
namespace {

constexpr std::string_view kOffsetsFamily = "__offsets";
constexpr std::string_view kOutboxFamily = "__outbox";

std::string OffsetKey(const TopicPartition& tp) {
  std::string k = tp.topic;
  k.push_back('\0');
  PutBigEndian32(&k, static_cast<uint32_t>(tp.partition));
  return k;
}

void PutField(std::string* out, std::string_view s) {
  PutBigEndian32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

bool GetField(std::string_view* in, std::string* out) {
  if (in->size() < 4) return false;
  uint32_t n = GetBigEndian32(*in);
  if (in->size() < 4 + static_cast<size_t>(n)) return false;
  out->assign(in->substr(4, n));
  in->remove_prefix(4 + n);
  return true;
}

std::string EncodeOutRecord(const OutRecord& r) {
  std::string v;
  PutField(&v, r.topic);
  PutField(&v, r.key);
  PutField(&v, r.value);
  PutField(&v, r.partition_key);
  PutBigEndian64(&v, static_cast<uint64_t>(r.timestamp_ms));
  PutBigEndian32(&v, static_cast<uint32_t>(r.partition));
  return v;
}

Result<OutRecord> DecodeOutRecord(std::string_view v) {
  OutRecord r;
  if (!GetField(&v, &r.topic) || !GetField(&v, &r.key) || !GetField(&v, &r.value) ||
      !GetField(&v, &r.partition_key) || v.size() != 12) {
    return Status::Corruption("outbox entry is truncated");
  }
  r.timestamp_ms = static_cast<int64_t>(GetBigEndian64(v));
  r.partition = static_cast<int32_t>(GetBigEndian32(v.substr(8)));
  return r;
}

}  // namespace

void CommitBatch::Put(std::string_view store, std::string_view key, std::string value) {
  ops_.push_back({std::string(store), std::string(key), std::move(value), false});
}
void CommitBatch::Delete(std::string_view store, std::string_view key) {
  ops_.push_back({std::string(store), std::string(key), {}, true});
}
void CommitBatch::SetOffset(const TopicPartition& tp, int64_t next_offset) {
  offsets_[tp] = next_offset;
}
void CommitBatch::AddOutput(OutRecord record) { outputs_.push_back(std::move(record)); }

struct StateStore::Impl {
  std::string dir;
  bool sync = true;
  std::unique_ptr<rocksdb::DB> db;
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> families;
  std::atomic<uint64_t> next_sequence{1};

  ~Impl() {
    for (auto& [name, h] : families) db->DestroyColumnFamilyHandle(h);
  }
  Result<rocksdb::ColumnFamilyHandle*> Family(std::string_view store) {
    auto it = families.find(store);
    if (it == families.end()) {
      return Status::NotFound("state store '" + dir + "' has no store '" + std::string(store) + "'");
    }
    return it->second;
  }
};

StateStore::StateStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StateStore::~StateStore() = default;

Result<std::unique_ptr<StateStore>> StateStore::Open(const StateStoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Status::IOError("cannot create state directory '" + options.dir + "': " + ec.message());

  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // Few shards: a shard holds at most capacity / shards, and a block bigger than that is read
  // again on every use (64 shards of a 128 MiB cache are 2 MiB each).
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes, /*num_shard_bits=*/2);
  // Memtables of every store are charged to one budget, itself charged to the block cache, so
  // the process's RocksDB memory stays near block_cache_bytes + write_buffer_bytes.
  db_options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options.write_buffer_bytes, cache);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Most lookups are misses (a new event id, a station seen first): bloom filters answer them
  // without reading a block.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Filters and indexes in 4 KiB partitions under a small top level kept in the cache. A whole
  // filter of a large file is one block (1.25 bytes per key: megabytes for the ingest index of
  // event ids after a few million reports); once evicted, every lookup re-read and checksummed
  // it: an India-scale ingest fell from 49k to 4k events/s when that began (XXH3 over the block
  // was half of the HTTP thread's time).
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = rocksdb::kLZ4Compression;
  cf_options.write_buffer_size = std::max<size_t>(4 << 20, options.write_buffer_bytes / 4);
  // A memtable bloom filter too: a Get for a key that is not in the memtable skips the
  // skiplist walk (a tenth of processing time without it).
  cf_options.memtable_prefix_bloom_size_ratio = 0.1;
  cf_options.memtable_whole_key_filtering = true;

  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, std::string(kOffsetsFamily),
                                     std::string(kOutboxFamily)};
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options.dir, &existing).ok()) {
    for (auto& n : existing) names.push_back(n);
  }
  for (const auto& s : options.stores) {
    if (s.starts_with("__")) return Status::InvalidArgument("store names starting with __ are reserved");
    names.push_back(s);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) descriptors.emplace_back(n, cf_options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.dir, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "state store '" + options.dir + "'");

  auto impl = std::make_unique<Impl>();
  impl->dir = options.dir;
  impl->sync = options.sync;
  impl->db.reset(raw);
  for (auto* h : handles) impl->families[h->GetName()] = h;

  // Resume outbox sequence numbers after the highest one still pending.
  std::unique_ptr<rocksdb::Iterator> it(
      impl->db->NewIterator({}, impl->families[std::string(kOutboxFamily)]));
  it->SeekToLast();
  if (it->Valid()) impl->next_sequence = GetBigEndian64(it->key().ToStringView()) + 1;
  return std::unique_ptr<StateStore>(new StateStore(std::move(impl)));
}

Result<std::optional<std::string>> StateStore::Get(std::string_view store, std::string_view key) {
  ASSIGN_OR_RETURN(auto* family, impl_->Family(store));
  std::string value;
  rocksdb::Status s = impl_->db->Get({}, family, key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "state store '" + impl_->dir + "' get");
  return std::optional<std::string>(std::move(value));
}

Status StateStore::Scan(std::string_view store, std::string_view prefix,
                        const std::function<bool(std::string_view, std::string_view)>& fn) {
  ASSIGN_OR_RETURN(auto* family, impl_->Family(store));
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator({}, family));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!fn(it->key().ToStringView(), it->value().ToStringView())) break;
  }
  return FromRocks(it->status(), "state store '" + impl_->dir + "' scan");
}

std::vector<std::string> StateStore::StoreNames() const {
  std::vector<std::string> out;
  for (const auto& [name, h] : impl_->families) {
    if (!name.starts_with("__") && name != rocksdb::kDefaultColumnFamilyName) out.push_back(name);
  }
  return out;
}

Result<std::vector<OutboxEntry>> StateStore::Commit(CommitBatch&& batch) {
  // Into the memtables in key order: RocksDB's skiplist keeps where the previous insert ended,
  // so each insert is a short step instead of a search from the top (the commit's largest cost
  // when a processor's keys arrive in hash order). Stable: a key written twice keeps its last.
  std::vector<const CommitBatch::Op*> ordered;
  ordered.reserve(batch.ops_.size());
  for (const auto& op : batch.ops_) ordered.push_back(&op);
  std::stable_sort(ordered.begin(), ordered.end(), [](const CommitBatch::Op* a, const CommitBatch::Op* b) {
    return a->store != b->store ? a->store < b->store : a->key < b->key;
  });
  rocksdb::WriteBatch wb;
  for (const CommitBatch::Op* op : ordered) {
    ASSIGN_OR_RETURN(auto* family, impl_->Family(op->store));
    if (op->is_delete) {
      wb.Delete(family, op->key);
    } else {
      wb.Put(family, op->key, op->value);
    }
  }
  auto* offsets = impl_->families[std::string(kOffsetsFamily)];
  for (const auto& [tp, next] : batch.offsets_) {
    std::string v;
    PutBigEndian64(&v, static_cast<uint64_t>(next));
    wb.Put(offsets, OffsetKey(tp), v);
  }
  auto* outbox = impl_->families[std::string(kOutboxFamily)];
  std::vector<OutboxEntry> entries;
  entries.reserve(batch.outputs_.size());
  uint64_t seq = impl_->next_sequence.fetch_add(batch.outputs_.size());
  for (auto& r : batch.outputs_) {
    std::string k;
    PutBigEndian64(&k, seq);
    wb.Put(outbox, k, EncodeOutRecord(r));
    entries.push_back({seq++, std::move(r)});
  }
  rocksdb::WriteOptions wo;
  wo.sync = impl_->sync || batch.durable_;
  wo.disableWAL = batch.skip_wal_ && !wo.sync;
  RETURN_IF_ERROR(FromRocks(impl_->db->Write(wo, &wb), "state store '" + impl_->dir + "' commit"));
  return entries;
}

Result<std::optional<int64_t>> StateStore::CommittedOffset(const TopicPartition& tp) {
  std::string v;
  rocksdb::Status s =
      impl_->db->Get({}, impl_->families[std::string(kOffsetsFamily)], OffsetKey(tp), &v);
  if (s.IsNotFound()) return std::optional<int64_t>();
  if (!s.ok()) return FromRocks(s, "state store '" + impl_->dir + "' offsets");
  if (v.size() != 8) return Status::Corruption("state store '" + impl_->dir + "': bad offset for " + tp.ToString());
  return std::optional<int64_t>(static_cast<int64_t>(GetBigEndian64(v)));
}

Result<std::vector<OutboxEntry>> StateStore::PendingOutbox(size_t max_entries) {
  std::vector<OutboxEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator({}, impl_->families[std::string(kOutboxFamily)]));
  for (it->SeekToFirst(); it->Valid() && out.size() < max_entries; it->Next()) {
    ASSIGN_OR_RETURN(OutRecord r, DecodeOutRecord(it->value().ToStringView()));
    out.push_back({GetBigEndian64(it->key().ToStringView()), std::move(r)});
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "state store '" + impl_->dir + "' outbox"));
  return out;
}

Status StateStore::MarkPublished(std::span<const uint64_t> sequences) {
  if (sequences.empty()) return Status::Ok();
  rocksdb::WriteBatch wb;
  auto* outbox = impl_->families[std::string(kOutboxFamily)];
  for (uint64_t seq : sequences) {
    std::string k;
    PutBigEndian64(&k, seq);
    wb.Delete(outbox, k);
  }
  return FromRocks(impl_->db->Write({}, &wb), "state store '" + impl_->dir + "' outbox");
}

uint64_t StateStore::ApproximateSizeBytes() {
  uint64_t total = 0;
  for (const auto& [name, h] : impl_->families) {
    uint64_t v = 0;
    if (impl_->db->GetIntProperty(h, "rocksdb.estimate-live-data-size", &v)) total += v;
    if (impl_->db->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &v)) total += v;
  }
  return total;
}

}  // namespace ewarn::store
