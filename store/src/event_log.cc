#include "ewarn/store/event_log.h"

#include <optional>

#include "ewarn/base/hash.h"

namespace ewarn::store {

Result<int64_t> EventLog::EnforceRetention(int64_t) {
  return Status::InvalidArgument("retention is enforced by the broker on Kafka (retention.ms)");
}

std::vector<SettingMismatch> KafkaSettingMismatches(const TopicSpec& spec, const TopicSettings& actual) {
  std::vector<SettingMismatch> out;
  auto reported = [&](const std::string& key) -> const std::string* {
    auto it = actual.configs.find(key);
    return it == actual.configs.end() ? nullptr : &it->second;
  };
  auto as_number = [](const std::string& v) -> std::optional<int64_t> {
    try {
      size_t used = 0;
      int64_t n = std::stoll(v, &used);
      if (used == v.size()) return n;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  };
  if (const std::string* ms = reported("retention.ms")) {
    std::optional<int64_t> n = as_number(*ms);
    bool forever = n && *n < 0;
    if (spec.retention_ms < 0 && !forever) {
      out.push_back({spec.name, "retention.ms", *ms, "-1", "it is replayed from offset 0, so nothing may expire"});
    } else if (spec.retention_ms >= 0 && !forever && (!n || *n < spec.retention_ms)) {
      out.push_back({spec.name, "retention.ms", *ms, std::to_string(spec.retention_ms),
                     "records are needed for at least that long"});
    }
  }
  if (const std::string* bytes = reported("retention.bytes"); bytes != nullptr && spec.retention_ms < 0) {
    std::optional<int64_t> n = as_number(*bytes);
    if (!n || *n >= 0) {
      out.push_back({spec.name, "retention.bytes", *bytes, "-1", "it is replayed from offset 0, so nothing may expire"});
    }
  }
  if (const std::string* policy = reported("cleanup.policy")) {
    if (spec.compacted && *policy != "compact") {
      out.push_back({spec.name, "cleanup.policy", *policy, "compact", "it is a table: the latest record per key counts"});
    } else if (!spec.compacted && policy->find("compact") != std::string::npos) {
      out.push_back({spec.name, "cleanup.policy", *policy, "delete",
                     "it is a log: compaction would drop earlier records that share a key"});
    }
  }
  if (const std::string* isr = reported("min.insync.replicas"); isr != nullptr && actual.replication_factor >= 3) {
    std::optional<int64_t> n = as_number(*isr);
    if (!n || *n < 2) {
      out.push_back({spec.name, "min.insync.replicas", *isr, "2",
                     "with " + std::to_string(actual.replication_factor) +
                         " replicas an acknowledged write must be on two, to survive one broker's loss"});
    }
  }
  return out;
}

Result<ClusterTopicSettings> EventLog::DescribeTopics(const std::vector<std::string>&) {
  return Status::InvalidArgument("topic settings exist on Kafka only");
}

int32_t EventLog::PartitionOf(const OutRecord& record, int32_t partitions) {
  if (record.partition >= 0) return record.partition;
  return PartitionForKey(record.partition_key.empty() ? record.key : record.partition_key,
                         partitions);
}

}  // namespace ewarn::store
