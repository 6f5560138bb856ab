#include "ewarn/store/changelog.h"

#include <unordered_set>

#include "ewarn/base/bytes.h"

namespace ewarn::store {

namespace {
constexpr std::string_view kMarkerKey("\0marker", 7);
constexpr char kPut = 'P', kDelete = 'D', kMarker = 'M';
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

OutRecord ChangelogChange(const std::string& topic, int32_t partition, std::string_view store,
                          std::string_view key, const std::optional<std::string>& value, int64_t now_ms) {
  std::string v;
  if (value) {
    v.reserve(1 + value->size());
    v.push_back(kPut);
    v.append(*value);
  } else {
    v.push_back(kDelete);
  }
  return {.topic = topic, .key = ChangelogKey(store, key), .value = std::move(v), .timestamp_ms = now_ms,
          .partition = partition};
}

OutRecord ChangelogMarker(const std::string& topic, int32_t partition, int64_t next_input_offset,
                          int64_t now_ms) {
  std::string v(1, kMarker);
  PutBigEndian64(&v, static_cast<uint64_t>(next_input_offset));
  return {.topic = topic, .key = std::string(kMarkerKey), .value = std::move(v), .timestamp_ms = now_ms,
          .partition = partition};
}

Status ChangelogRestorer::Add(const LogRecord& record) {
  auto bad = [&](std::string_view why) {
    return Status::Corruption("changelog " + record.topic + "/" + std::to_string(record.partition) + " offset " +
                              std::to_string(record.offset) + ": " + std::string(why));
  };
  if (record.value.empty()) return bad("empty value");
  ++records_;
  if (record.key == kMarkerKey) {
    if (record.value[0] != kMarker || record.value.size() != 9) return bad("malformed commit marker");
    // Everything since the previous marker belongs to this commit.
    for (Change& c : tail_) committed_[std::move(c.key)] = std::move(c.value);
    tail_.clear();
    input_offset_ = static_cast<int64_t>(GetBigEndian64(std::string_view(record.value).substr(1)));
    checkpoint_ = record.offset + 1;
    return Status::Ok();
  }
  std::string_view store, key;
  if (!SplitChangelogKey(record.key, &store, &key)) return bad("key names no state store");
  if (tail_.empty()) tail_first_timestamp_ms_ = record.timestamp_ms;
  if (record.value[0] == kPut) {
    tail_.push_back({record.key, record.value.substr(1)});
  } else if (record.value[0] == kDelete && record.value.size() == 1) {
    tail_.push_back({record.key, std::nullopt});
  } else {
    return bad("unknown change kind");
  }
  return Status::Ok();
}

std::vector<std::string> ChangelogRestorer::TailKeys() const {
  std::vector<std::string> keys;
  std::unordered_set<std::string_view> seen;
  for (const Change& c : tail_) {
    if (seen.insert(c.key).second) keys.push_back(c.key);
  }
  return keys;
}

Status ReadChangelog(EventLog& log, const TopicPartition& tp, int64_t from, ChangelogRestorer& restorer) {
  ASSIGN_OR_RETURN(PartitionOffsets offsets, log.Offsets(tp));
  int64_t next = std::max(from, offsets.start);
  while (next < offsets.end) {
    ASSIGN_OR_RETURN(std::vector<LogRecord> records, log.Read(tp, next, 50000));
    if (records.empty()) break;  // compaction removed the rest up to the end
    for (const LogRecord& r : records) {
      if (r.offset >= offsets.end) return Status::Ok();  // written after the restore began
      RETURN_IF_ERROR(restorer.Add(r));
      next = r.offset + 1;
    }
  }
  return Status::Ok();
}

}  // namespace ewarn::store
