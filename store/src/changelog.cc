#include "ewarn/store/changelog.h"

#include <algorithm>
#include <unordered_set>

#include "ewarn/base/bytes.h"

namespace ewarn::store {

namespace {
constexpr std::string_view kMarkerKey("\0marker", 7);
constexpr std::string_view kClaimKey("\0claim", 6);
constexpr char kPut = 'P', kDelete = 'D', kMarker = 'M', kClaim = 'C';
constexpr size_t kHeader = 1 + 8;  // kind, epoch

std::string Header(char kind, int64_t epoch) {
  std::string v(1, kind);
  PutBigEndian64(&v, static_cast<uint64_t>(epoch));
  return v;
}
}  // namespace

TopicSpec ChangelogTopicSpec(std::string topic, int32_t partitions) {
  return {.name = std::move(topic), .partitions = partitions, .retention_ms = -1, .compacted = true,
          .min_compaction_lag_ms = kChangelogMinCompactionLagMs};
}

std::string ChangelogKey(std::string_view store, std::string_view key) {
  std::string k;
  k.reserve(store.size() + 1 + key.size());
  k.append(store);
  k.push_back('\0');
  k.append(key);
  return k;
}

bool SplitChangelogKey(std::string_view changelog_key, std::string_view* store, std::string_view* key) {
  size_t sep = changelog_key.find('\0');
  if (sep == std::string_view::npos || sep == 0) return false;
  *store = changelog_key.substr(0, sep);
  *key = changelog_key.substr(sep + 1);
  return true;
}

OutRecord ChangelogChange(const std::string& topic, int32_t partition, int64_t epoch, std::string_view store,
                          std::string_view key, const std::optional<std::string>& value, int64_t now_ms) {
  std::string v = Header(value ? kPut : kDelete, epoch);
  if (value) v.append(*value);
  return {.topic = topic, .key = ChangelogKey(store, key), .value = std::move(v), .timestamp_ms = now_ms,
          .partition = partition};
}

OutRecord ChangelogMarker(const std::string& topic, int32_t partition, int64_t epoch, int64_t next_input_offset,
                          int64_t now_ms) {
  std::string v = Header(kMarker, epoch);
  PutBigEndian64(&v, static_cast<uint64_t>(next_input_offset));
  return {.topic = topic, .key = std::string(kMarkerKey), .value = std::move(v), .timestamp_ms = now_ms,
          .partition = partition};
}

OutRecord ChangelogClaim(const std::string& topic, int32_t partition, int64_t epoch, int64_t now_ms) {
  return {.topic = topic, .key = std::string(kClaimKey), .value = Header(kClaim, epoch), .timestamp_ms = now_ms,
          .partition = partition};
}

Status ChangelogRestorer::Add(const LogRecord& record) {
  auto bad = [&](std::string_view why) {
    return Status::Corruption("changelog " + record.topic + "/" + std::to_string(record.partition) + " offset " +
                              std::to_string(record.offset) + ": " + std::string(why));
  };
  if (record.value.size() < kHeader) return bad("value shorter than kind and owner epoch");
  ++records_;
  const char kind = record.value[0];
  const auto epoch = static_cast<int64_t>(GetBigEndian64(std::string_view(record.value).substr(1)));
  const bool is_marker = record.key == kMarkerKey;
  const bool is_claim = record.key == kClaimKey;
  std::string_view store, key;
  if (is_marker) {
    if (kind != kMarker || record.value.size() != kHeader + 8) return bad("malformed commit marker");
  } else if (is_claim) {
    if (kind != kClaim || record.value.size() != kHeader) return bad("malformed owner claim");
  } else {
    if (!SplitChangelogKey(record.key, &store, &key)) return bad("key names no state store");
    if (kind != kPut && !(kind == kDelete && record.value.size() == kHeader)) return bad("unknown change kind");
  }
  if (epoch < epoch_) {
    // Written by an owner older than one that claimed the partition before: a zombie's write.
    // Never applied; remembered until a committed record of the same key supersedes it.
    ++fenced_records_;
    if (is_marker) {
      if (fenced_marker_ms_ < 0) fenced_marker_ms_ = record.timestamp_ms;
    } else if (!is_claim) {
      auto [it, added] = fenced_.try_emplace(record.key, Fenced{record.offset, record.timestamp_ms});
      it->second.offset = record.offset;
    }
    return Status::Ok();
  }
  epoch_ = epoch;
  if (is_claim) return Status::Ok();
  if (is_marker) {
    // Everything since the previous marker belongs to this commit.
    for (Change& c : tail_) {
      // Only a record after the ignored one supersedes it: compaction keeps the latest.
      if (auto it = fenced_.find(c.key); it != fenced_.end() && it->second.offset < c.offset) fenced_.erase(it);
      committed_[std::move(c.key)] = std::move(c.value);
    }
    tail_.clear();
    fenced_marker_ms_ = -1;
    input_offset_ = static_cast<int64_t>(GetBigEndian64(std::string_view(record.value).substr(kHeader)));
    checkpoint_ = record.offset + 1;
    return Status::Ok();
  }
  if (tail_.empty()) tail_first_timestamp_ms_ = record.timestamp_ms;
  if (kind == kPut) {
    tail_.push_back({record.key, record.value.substr(kHeader), record.offset});
  } else {
    tail_.push_back({record.key, std::nullopt, record.offset});
  }
  return Status::Ok();
}

std::vector<std::string> ChangelogRestorer::FencedKeys() const {
  std::vector<std::string> keys;
  keys.reserve(fenced_.size());
  for (const auto& [key, fenced] : fenced_) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

int64_t ChangelogRestorer::fenced_first_timestamp_ms() const {
  int64_t first = fenced_marker_ms_ >= 0 ? fenced_marker_ms_ : INT64_MAX;
  for (const auto& [key, fenced] : fenced_) first = std::min(first, fenced.timestamp_ms);
  return first == INT64_MAX ? 0 : first;
}

std::vector<std::string> ChangelogRestorer::TailKeys() const {
  std::vector<std::string> keys;
  std::unordered_set<std::string_view> seen;
  for (const Change& c : tail_) {
    if (seen.insert(c.key).second) keys.push_back(c.key);
  }
  return keys;
}

Result<int64_t> ReadChangelog(EventLog& log, const TopicPartition& tp, int64_t from, ChangelogRestorer& restorer) {
  ASSIGN_OR_RETURN(PartitionOffsets offsets, log.Offsets(tp));
  int64_t next = std::max(from, offsets.start);
  while (next < offsets.end) {
    ASSIGN_OR_RETURN(std::vector<LogRecord> records, log.Read(tp, next, 50000));
    if (records.empty()) break;  // compaction removed the rest up to the end
    for (const LogRecord& r : records) {
      if (r.offset >= offsets.end) return offsets.end;  // written after the restore began
      RETURN_IF_ERROR(restorer.Add(r));
      next = r.offset + 1;
    }
  }
  return std::max(from, offsets.end);
}

}  // namespace ewarn::store
