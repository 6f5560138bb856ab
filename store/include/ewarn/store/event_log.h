// ewarn::store::EventLog: partitioned, append-only topics on one of two engines.
//
//   embedded  a durable log in RocksDB on this machine (store/README.md has the layout)
//   kafka     Apache Kafka through librdkafka (idempotent producer, acks=all)
//
// Both place a record in the partition ewarn computes (PartitionForKey of the record's
// partition key, Kafka's murmur2), so a topic's partitions hold the same records in the same
// order on either engine, and processors get the same results.
//
// Thread-safety: an EventLog may be used from many threads at once (appends from concurrent
// callers, waiting or not, are group-committed). A Consumer belongs to one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ewarn/base/status.h"

namespace ewarn::store {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
  std::string ToString() const { return topic + "/" + std::to_string(partition); }
};

struct TopicSpec {
  std::string name;
  int32_t partitions = 1;
  // Retention; a negative value keeps forever. Embedded: enforced by ApplyRetention().
  // Kafka: passed as retention.ms / retention.bytes when ewarn creates the topic.
  int64_t retention_ms = -1;
  bool compacted = false;  // Kafka cleanup.policy=compact (reference topics)
  // Kafka min.compaction.lag.ms for a compacted topic; negative: the broker's default (0).
  int64_t min_compaction_lag_ms = -1;
};

// A topic as a Kafka cluster holds it: its replication factor (metadata) and its settings
// (DescribeConfigs: retention.ms, cleanup.policy, ... including the broker's defaults).
struct TopicSettings {
  std::string name;
  int32_t replication_factor = 0;
  std::map<std::string, std::string> configs;
};

struct ClusterTopicSettings {
  std::vector<TopicSettings> topics;  // the asked-for topics that exist
  // Empty when the brokers described the settings; else why `configs` are empty (the brokers
  // do not support DescribeConfigs, like librdkafka 2.0's mock cluster). Replication factors
  // are known either way.
  std::string configs_unknown;
};

// A setting of an existing topic that differs from what its TopicSpec needs.
struct SettingMismatch {
  std::string topic;
  std::string setting;  // "retention.ms"
  std::string actual;   // "604800000"
  std::string wanted;   // "-1"
  std::string why;      // "it is replayed from offset 0"
};

// What `spec` needs on Kafka that `actual` does not have, as CreateTopic would have set it:
// retention.ms / retention.bytes -1 when the spec keeps forever (else retention.ms no shorter),
// cleanup.policy compact exactly for compacted specs (delete otherwise), and
// min.insync.replicas at least 2 where the replication factor is 3 or more. Settings the
// broker did not report are not judged.
std::vector<SettingMismatch> KafkaSettingMismatches(const TopicSpec& spec, const TopicSettings& actual);

// A record to append. `partition_key` chooses the partition (empty: use `key`), so records
// can be keyed by station yet co-partitioned by district. `partition` >= 0 overrides both.
struct OutRecord {
  std::string topic;
  std::string key;
  std::string value;
  int64_t timestamp_ms = 0;  // event time; carried as the Kafka record timestamp
  std::string partition_key;
  int32_t partition = -1;
};

struct LogRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  std::string key;
  std::string value;
};

struct Position {
  int32_t partition = 0;
  int64_t offset = 0;
};

struct PartitionOffsets {
  int32_t partition = 0;
  int64_t start = 0;  // first offset still held (after retention)
  int64_t end = 0;    // next offset to be written
};

struct TopicStat {
  std::string name;
  std::vector<PartitionOffsets> partitions;
  int64_t Messages() const {
    int64_t n = 0;
    for (const auto& p : partitions) n += p.end - p.start;
    return n;
  }
};

// Called by a Consumer when its group assigns or takes away partitions (from inside Poll, on
// the consumer's thread). OnAssigned returns, for each partition, the offset to start from
// (ewarn keeps consumed offsets in its own state store, not in Kafka).
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  virtual std::vector<int64_t> OnAssigned(const std::vector<TopicPartition>& partitions) = 0;
  // Before partitions leave: the listener commits what it has processed.
  virtual void OnRevoked(const std::vector<TopicPartition>& partitions) = 0;
};

struct ConsumerOptions {
  std::string group;                 // consumer group id
  std::vector<std::string> topics;   // subscribed topics (co-partitioned)
  RebalanceListener* listener = nullptr;  // borrowed, must outlive the consumer
  size_t max_batch = 10000;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Returns up to max_batch records in per-partition offset order, waiting at most `timeout`
  // when none are ready. May call the listener first. Unavailable when the log cannot be
  // reached; Corruption when a stored record cannot be read (naming topic/partition/offset).
  virtual Result<std::vector<LogRecord>> Poll(std::chrono::milliseconds timeout) = 0;
  // The partitions this consumer holds now.
  virtual std::vector<TopicPartition> Assignment() const = 0;
  // Stops/starts fetching from a partition (back-pressure); the position is kept.
  virtual Status Pause(const TopicPartition& tp) = 0;
  virtual Status Resume(const TopicPartition& tp) = 0;
  // Leaves the group cleanly (revoking partitions through the listener).
  virtual Status Close() = 0;
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Creates a topic; OK if it exists with the same partition count, FailedPrecondition if it
  // exists with another.
  virtual Status CreateTopic(const TopicSpec& spec) = 0;
  // NotFound for an unknown topic.
  virtual Result<int32_t> PartitionCount(std::string_view topic) = 0;

  // Appends records (to any topics, already created) and returns their positions, in input
  // order, once every one is durable: on the embedded engine, synced to disk (survives kill -9
  // and power loss); on Kafka, acknowledged by all in-sync replicas. Per partition, records
  // keep their input order. Unavailable when the engine cannot be reached in time.
  virtual Result<std::vector<Position>> Append(std::span<const OutRecord> records) = 0;

  // Append without waiting: returns at once and calls `done` exactly once with what Append
  // would have returned, from a thread of the log's own (or from this call, for an append that
  // fails before anything is sent). Servers use it so that a request waiting for its fsync or
  // its broker acknowledgement holds no thread. `done` must be quick and must not call Append
  // (it runs where the log completes appends); it may call AppendAsync.
  using AppendDone = std::function<void(Result<std::vector<Position>>)>;
  virtual void AppendAsync(std::vector<OutRecord> records, AppendDone done) = 0;

  // Reads up to `max_records` from `from` on. Fewer (or none) at the end of the partition.
  // OutOfRange-like reads (before start) begin at the partition's start.
  virtual Result<std::vector<LogRecord>> Read(const TopicPartition& tp, int64_t from,
                                              size_t max_records) = 0;

  virtual Result<PartitionOffsets> Offsets(const TopicPartition& tp) = 0;
  // Every topic with its partitions' offsets, sorted by name.
  virtual Result<std::vector<TopicStat>> Stat() = 0;

  // Joins `options.group` for `options.topics`. The embedded engine has one member per group
  // and process (it assigns every partition); Kafka balances partitions across processes
  // with the range assignor, so co-partitioned topics land together.
  virtual Result<std::unique_ptr<Consumer>> Subscribe(const ConsumerOptions& options) = 0;

  // Deletes records older than their topic's retention_ms before `now_ms`; returns how many.
  // The embedded engine does it here; Kafka brokers enforce retention themselves, so the
  // default answers InvalidArgument.
  virtual Result<int64_t> EnforceRetention(int64_t now_ms);

  // The replication factor and settings of those of `topics` that exist. Kafka only: the
  // default answers InvalidArgument (the embedded engine has no such settings).
  virtual Result<ClusterTopicSettings> DescribeTopics(const std::vector<std::string>& topics);

  // The partition ewarn assigns to `record` in a topic of `partitions` partitions.
  static int32_t PartitionOf(const OutRecord& record, int32_t partitions);
};

// --- engines ---

struct EmbeddedLogOptions {
  std::string dir;              // created if missing
  bool create_if_missing = true;
  // Group commit: appends from concurrent callers are batched into one synced write.
  bool sync = true;             // false only for benchmarks that say so
  size_t block_cache_bytes = 64 << 20;
};

// Opens (or creates) the embedded log in options.dir. IOError / Corruption with the path.
Result<std::unique_ptr<EventLog>> OpenEmbeddedLog(const EmbeddedLogOptions& options);

// Deletes, on the embedded engine, records older than each topic's retention_ms relative to
// `now_ms` (by record timestamp; whole prefixes only, offsets never reused). Returns the
// number deleted. InvalidArgument when `log` is not embedded.
inline Result<int64_t> ApplyRetention(EventLog& log, int64_t now_ms) {
  return log.EnforceRetention(now_ms);
}

struct KafkaLogOptions {
  std::string bootstrap_servers;   // "host:port,host:port"
  int32_t replication_factor = 1;  // for topics ewarn creates
  std::chrono::milliseconds request_timeout{30000};
  // Extra librdkafka properties (e.g. security.protocol), applied to every client.
  std::vector<std::pair<std::string, std::string>> properties;
  // How a missing topic is created. Empty (production): Kafka's CreateTopics admin request to
  // the controller. librdkafka 2.0's mock cluster has no controller, so tests pass
  // MockKafkaCluster::TopicCreator(), which creates the topic inside the mock; everything else
  // (metadata, produce, fetch, groups) still goes over the wire.
  std::function<Status(const TopicSpec&)> create_topic;
};

// Connects to Kafka. Unavailable, naming the servers, when no broker answers in time.
Result<std::unique_ptr<EventLog>> OpenKafkaLog(const KafkaLogOptions& options);

// Whether librdkafka takes `key`=`value` (KafkaLogOptions::properties), without connecting:
// InvalidArgument with librdkafka's reason (an unknown property, a value out of range).
Status CheckKafkaProperty(const std::string& key, const std::string& value);

}  // namespace ewarn::store
