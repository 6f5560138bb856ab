// The Kafka engine: librdkafka's C API behind EventLog.
//
// Producer: idempotent (enable.idempotence=true, which means acks=all and ordered retries), each
// record sent to the partition ewarn computes, so placement equals the embedded engine's.
// An append completes on its last delivery report (the poller thread), so it holds only what all
// in-sync replicas hold; Append() waits for that, AppendAsync() leaves a callback.
// Reads (Read/Offsets/Stat) use one group-less consumer handle with explicit assignment.
// Consumers join a real consumer group (range assignor) and hand assignments to the ewarn
// RebalanceListener, which supplies start offsets from ewarn's state store: Kafka's committed
// offsets are never used (enable.auto.commit=false).
//
// Every rd_kafka_resp_err_t becomes a Status here and nowhere else.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "ewarn/store/event_log.h"

namespace ewarn::store {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

struct MetadataDeleter {
  void operator()(const struct rd_kafka_metadata* m) const { rd_kafka_metadata_destroy(m); }
};
using Metadata = std::unique_ptr<const struct rd_kafka_metadata, MetadataDeleter>;

bool IsTransient(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
      return true;
    default:
      return false;
  }
}

Status FromKafka(rd_kafka_resp_err_t err, const std::string& context) {
  std::string message = context + ": " + rd_kafka_err2str(err);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  if (IsTransient(err)) return Status::Unavailable(message);
  switch (err) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Status::NotFound(message);
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return Status::ResourceExhausted(message);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return Status::PermissionDenied(message);
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
      return Status::Corruption(message);
    default:
      return Status::Internal(message);
  }
}

// Applies ewarn's settings, then the caller's extra properties (which win).
Result<rd_kafka_conf_t*> MakeConf(const KafkaLogOptions& options,
                                  const std::vector<std::pair<std::string, std::string>>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> Status {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return Status::InvalidArgument("Kafka property " + k + "=" + v + ": " + err);
    }
    return Status::Ok();
  };
  std::vector<std::pair<std::string, std::string>> all = {
      {"bootstrap.servers", options.bootstrap_servers},
      {"socket.timeout.ms", std::to_string(options.request_timeout.count())},
      {"log.connection.close", "false"},
      // librdkafka logs to stderr by default; ewarn reports errors as values instead.
      {"log_level", "3"},
  };
  all.insert(all.end(), settings.begin(), settings.end());
  all.insert(all.end(), options.properties.begin(), options.properties.end());
  for (const auto& [k, v] : all) {
    Status st = set(k, v);
    if (!st.ok()) {
      rd_kafka_conf_destroy(conf);
      return st;
    }
  }
  return conf;
}

// Remembers the last client-level error, so "cannot reach" errors can say why.
struct ClientErrors {
  std::mutex mu;
  std::string last;
  std::atomic<bool> all_brokers_down{false};
  void* owner = nullptr;  // the consumer, for the rebalance callback (which shares this opaque)

  static void Callback(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<ClientErrors*>(opaque);
    std::lock_guard lk(self->mu);
    self->last = reason;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) self->all_brokers_down = true;
  }
  std::string Last() {
    std::lock_guard lk(mu);
    return last;
  }
};

Result<Handle> NewHandle(rd_kafka_type_t type, rd_kafka_conf_t* conf, ClientErrors* errors) {
  rd_kafka_conf_set_opaque(conf, errors);
  rd_kafka_conf_set_error_cb(conf, &ClientErrors::Callback);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);  // takes conf on success
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("Kafka client: ") + err);
  }
  return Handle(rk);
}

class KafkaLog;

// One append in flight: its delivery reports count down `remaining`, and whoever brings it to
// zero (the poller's last report, or the sender when nothing was sent) completes it. The sender
// holds one count while it produces, so the append cannot complete half-sent.
struct InflightAppend {
  std::mutex mu;
  size_t remaining = 1;
  std::vector<Position> positions;
  std::vector<struct DeliverySlot> slots;
  Status send_error;
  rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string first_error_where;
  EventLog::AppendDone done;
  KafkaLog* log = nullptr;
};

struct DeliverySlot {
  InflightAppend* append;
  size_t index;
};

class KafkaConsumer;

class KafkaLog final : public EventLog {
 public:
  static Result<std::unique_ptr<EventLog>> Open(const KafkaLogOptions& options);
  ~KafkaLog() override;

  Status CreateTopic(const TopicSpec& spec) override;
  Result<int32_t> PartitionCount(std::string_view topic) override;
  Result<std::vector<Position>> Append(std::span<const OutRecord> records) override;
  void AppendAsync(std::vector<OutRecord> records, AppendDone done) override;
  Result<std::vector<LogRecord>> Read(const TopicPartition& tp, int64_t from, size_t max_records) override;
  Result<PartitionOffsets> Offsets(const TopicPartition& tp) override;
  Result<std::vector<TopicStat>> Stat() override;
  Result<std::unique_ptr<Consumer>> Subscribe(const ConsumerOptions& options) override;
  Result<ClusterTopicSettings> DescribeTopics(const std::vector<std::string>& topics) override;

  const KafkaLogOptions& options() const { return options_; }

 private:
  explicit KafkaLog(KafkaLogOptions options) : options_(std::move(options)) {}
  // Topic name -> partition count, from the cluster (refreshed on a miss).
  Result<std::map<std::string, int32_t>> ListTopics(milliseconds timeout);
  Status Unreachable(const std::string& what);
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*);
  // Drops one count of `append`; the last one completes it (and frees it).
  void Release(InflightAppend* append);
  Status AdminCreateTopic(const TopicSpec& spec);

  KafkaLogOptions options_;
  ClientErrors producer_errors_;
  ClientErrors reader_errors_;
  Handle producer_;
  Handle reader_;
  std::thread poller_;  // serves delivery reports
  std::atomic<bool> stopping_{false};

  std::mutex counts_mu_;
  std::map<std::string, int32_t, std::less<>> partition_counts_;

  // The reader consumer is assigned one partition at a time; sequential Read() calls on the
  // same partition continue without re-assigning (replay and digests read that way).
  std::mutex reader_mu_;
  std::optional<TopicPartition> reader_tp_;
  int64_t reader_next_ = -1;
};

LogRecord ToRecord(const rd_kafka_message_t* m) {
  LogRecord r;
  r.topic = rd_kafka_topic_name(m->rkt);
  r.partition = m->partition;
  r.offset = m->offset;
  rd_kafka_timestamp_type_t tstype;
  r.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
  if (m->key != nullptr) r.key.assign(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
  return r;
}

Result<std::unique_ptr<EventLog>> KafkaLog::Open(const KafkaLogOptions& options) {
  if (options.bootstrap_servers.empty()) return Status::InvalidArgument("no Kafka bootstrap servers given");
  std::unique_ptr<KafkaLog> log(new KafkaLog(options));
  const std::string timeout_ms = std::to_string(options.request_timeout.count());
  ASSIGN_OR_RETURN(rd_kafka_conf_t * pconf,
                   MakeConf(options, {{"enable.idempotence", "true"},
                                      {"acks", "all"},
                                      {"linger.ms", "2"},
                                      {"message.timeout.ms", timeout_ms},
                                      {"allow.auto.create.topics", "false"},
                                      {"partitioner", "murmur2_random"}}));
  rd_kafka_conf_set_dr_msg_cb(pconf, &KafkaLog::OnDelivery);
  ASSIGN_OR_RETURN(log->producer_, NewHandle(RD_KAFKA_PRODUCER, pconf, &log->producer_errors_));
  ASSIGN_OR_RETURN(rd_kafka_conf_t * rconf,
                   MakeConf(options, {{"group.id", "ewarn-reader"},
                                      {"enable.auto.commit", "false"},
                                      {"enable.auto.offset.store", "false"},
                                      {"auto.offset.reset", "earliest"},
                                      {"allow.auto.create.topics", "false"},
                                      {"enable.partition.eof", "true"},
                                      // A Read wants what is there now: a fetch held open for
                                      // the default 500 ms delays the offset queries queued
                                      // behind it on that broker (a read model's pass of 16
                                      // partitions took seconds, issue 14.6).
                                      {"fetch.wait.max.ms", "10"}}));
  ASSIGN_OR_RETURN(log->reader_, NewHandle(RD_KAFKA_CONSUMER, rconf, &log->reader_errors_));
  rd_kafka_poll_set_consumer(log->reader_.get());
  KafkaLog* self = log.get();
  log->poller_ = std::thread([self] {
    while (!self->stopping_) rd_kafka_poll(self->producer_.get(), 50);
  });
  // Fail fast, naming the servers, when no broker answers.
  auto topics = log->ListTopics(options.request_timeout);
  if (!topics.ok()) return topics.status();
  return std::unique_ptr<EventLog>(std::move(log));
}

KafkaLog::~KafkaLog() {
  if (producer_) rd_kafka_flush(producer_.get(), static_cast<int>(options_.request_timeout.count()));
  stopping_ = true;
  if (poller_.joinable()) poller_.join();
  if (reader_) rd_kafka_consumer_close(reader_.get());
}

Status KafkaLog::Unreachable(const std::string& what) {
  std::string why = producer_errors_.Last();
  return Status::Unavailable("cannot reach Kafka at " + options_.bootstrap_servers + " (" + what + ")" +
                             (why.empty() ? "" : ": " + why));
}

Result<std::map<std::string, int32_t>> KafkaLog::ListTopics(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    const struct rd_kafka_metadata* md = nullptr;
    // Short slices, so "all brokers down" (connection refused) ends the wait early.
    rd_kafka_resp_err_t err = rd_kafka_metadata(producer_.get(), 1, nullptr, &md, 500);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Metadata holder(md);
      std::map<std::string, int32_t> out;
      for (int i = 0; i < md->topic_cnt; ++i) {
        const auto& t = md->topics[i];
        if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR || t.topic[0] == '_') continue;
        out[t.topic] = t.partition_cnt;
      }
      std::lock_guard lk(counts_mu_);
      for (const auto& [name, n] : out) partition_counts_[name] = n;
      return out;
    }
    if (!IsTransient(err)) return FromKafka(err, "metadata from " + options_.bootstrap_servers);
    if (Clock::now() >= deadline) return Unreachable("no metadata within " + std::to_string(timeout.count()) + " ms");
    if (producer_errors_.all_brokers_down) return Unreachable("all brokers down");
  }
}

Result<int32_t> KafkaLog::PartitionCount(std::string_view topic) {
  {
    std::lock_guard lk(counts_mu_);
    auto it = partition_counts_.find(topic);
    if (it != partition_counts_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(auto topics, ListTopics(options_.request_timeout));
  auto it = topics.find(std::string(topic));
  if (it == topics.end()) return Status::NotFound("topic '" + std::string(topic) + "' does not exist");
  return it->second;
}

Status KafkaLog::CreateTopic(const TopicSpec& spec) {
  if (spec.partitions <= 0) return Status::InvalidArgument("topic '" + spec.name + "': partitions must be > 0");
  ASSIGN_OR_RETURN(auto topics, ListTopics(options_.request_timeout));
  auto it = topics.find(spec.name);
  if (it == topics.end()) {
    RETURN_IF_ERROR(options_.create_topic ? options_.create_topic(spec) : AdminCreateTopic(spec));
    // Metadata propagates asynchronously; wait until the topic is visible with its partitions.
    auto deadline = Clock::now() + options_.request_timeout;
    while (true) {
      ASSIGN_OR_RETURN(topics, ListTopics(options_.request_timeout));
      it = topics.find(spec.name);
      if (it != topics.end()) break;
      if (Clock::now() >= deadline) return Unreachable("topic '" + spec.name + "' not visible after creation");
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  if (it->second != spec.partitions) {
    return Status::FailedPrecondition("topic '" + spec.name + "' exists with " + std::to_string(it->second) +
                                      " partitions, not " + std::to_string(spec.partitions));
  }
  return Status::Ok();
}

Status KafkaLog::AdminCreateTopic(const TopicSpec& spec) {
  char err[512];
  rd_kafka_NewTopic_t* topic =
      rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, options_.replication_factor, err, sizeof err);
  if (topic == nullptr) return Status::InvalidArgument("topic '" + spec.name + "': " + err);
  // Always explicit: the broker's default (7 days) would silently cut the inputs that a
  // rebuild replays from offset 0.
  rd_kafka_NewTopic_set_config(topic, "retention.ms", std::to_string(spec.retention_ms).c_str());
  if (spec.retention_ms < 0) rd_kafka_NewTopic_set_config(topic, "retention.bytes", "-1");
  if (spec.compacted) rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "compact");
  if (spec.compacted && spec.min_compaction_lag_ms >= 0) {
    rd_kafka_NewTopic_set_config(topic, "min.compaction.lag.ms", std::to_string(spec.min_compaction_lag_ms).c_str());
  }
  // An acknowledged write survives one broker's loss only if two replicas had it.
  if (options_.replication_factor >= 3) rd_kafka_NewTopic_set_config(topic, "min.insync.replicas", "2");
  rd_kafka_queue_t* queue = rd_kafka_queue_new(producer_.get());
  rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(producer_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(admin, static_cast<int>(options_.request_timeout.count()), err,
                                            sizeof err);
  rd_kafka_AdminOptions_set_operation_timeout(admin, static_cast<int>(options_.request_timeout.count()), err,
                                              sizeof err);
  rd_kafka_CreateTopics(producer_.get(), &topic, 1, admin, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, static_cast<int>(options_.request_timeout.count()) + 1000);
  Status result = Status::Ok();
  if (ev == nullptr) {
    result = Unreachable("no controller answered CreateTopics for '" + spec.name + "'");
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = FromKafka(rd_kafka_event_error(ev), "create topic '" + spec.name + "'");
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        result = FromKafka(e, "create topic '" + spec.name + "'");
      }
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(admin);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(topic);
  return result;
}

Result<ClusterTopicSettings> KafkaLog::DescribeTopics(const std::vector<std::string>& topics) {
  const struct rd_kafka_metadata* md = nullptr;
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(producer_.get(), 1, nullptr, &md, static_cast<int>(options_.request_timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Status st = FromKafka(err, "metadata from " + options_.bootstrap_servers);
    return st.code() == StatusCode::kUnavailable ? Unreachable(st.message()) : st;
  }
  Metadata holder(md);
  ClusterTopicSettings out;
  for (const auto& name : topics) {
    for (int i = 0; i < md->topic_cnt; ++i) {
      const auto& t = md->topics[i];
      if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR || name != t.topic || t.partition_cnt == 0) continue;
      out.topics.push_back({.name = name, .replication_factor = t.partitions[0].replica_cnt});
    }
  }
  if (out.topics.empty() || md->broker_cnt == 0) return out;

  // DescribeConfigs goes to the controller unless a BROKER resource names a broker; any broker
  // answers for topics, and librdkafka 2.0's mock cluster names no controller. So ask the
  // first broker, about itself (answer unused) and the topics.
  std::vector<rd_kafka_ConfigResource_t*> resources;
  resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, std::to_string(md->brokers[0].id).c_str()));
  for (const auto& t : out.topics) resources.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.name.c_str()));
  char errstr[512];
  rd_kafka_queue_t* queue = rd_kafka_queue_new(producer_.get());
  rd_kafka_AdminOptions_t* admin = rd_kafka_AdminOptions_new(producer_.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  rd_kafka_AdminOptions_set_request_timeout(admin, static_cast<int>(options_.request_timeout.count()), errstr,
                                            sizeof errstr);
  rd_kafka_DescribeConfigs(producer_.get(), resources.data(), resources.size(), admin, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, static_cast<int>(options_.request_timeout.count()) + 1000);
  Status result = Status::Ok();
  if (ev == nullptr) {
    result = Unreachable("no broker answered DescribeConfigs");
  } else if (rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
    out.configs_unknown = std::string("the brokers do not support DescribeConfigs (") + rd_kafka_event_error_string(ev) + ")";
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = FromKafka(rd_kafka_event_error(ev), std::string("DescribeConfigs: ") + rd_kafka_event_error_string(ev));
  } else {
    size_t n = 0;
    const rd_kafka_ConfigResource_t** described =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    for (size_t i = 0; i < n && result.ok(); ++i) {
      if (rd_kafka_ConfigResource_type(described[i]) != RD_KAFKA_RESOURCE_TOPIC) continue;
      const std::string name = rd_kafka_ConfigResource_name(described[i]);
      if (rd_kafka_ConfigResource_error(described[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* why = rd_kafka_ConfigResource_error_string(described[i]);
        result = FromKafka(rd_kafka_ConfigResource_error(described[i]),
                           "settings of topic '" + name + "'" + (why != nullptr ? std::string(" (") + why + ")" : ""));
        break;
      }
      auto t = std::find_if(out.topics.begin(), out.topics.end(), [&](const TopicSettings& s) { return s.name == name; });
      if (t == out.topics.end()) continue;
      size_t count = 0;
      const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(described[i], &count);
      for (size_t e = 0; e < count; ++e) {
        const char* value = rd_kafka_ConfigEntry_value(entries[e]);
        if (value != nullptr) t->configs[rd_kafka_ConfigEntry_name(entries[e])] = value;
      }
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(admin);
  rd_kafka_queue_destroy(queue);
  for (auto* r : resources) rd_kafka_ConfigResource_destroy(r);
  RETURN_IF_ERROR(result);
  return out;
}

void KafkaLog::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  auto* slot = static_cast<DeliverySlot*>(msg->_private);
  InflightAppend* append = slot->append;
  {
    std::lock_guard lk(append->mu);
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (append->first_error == RD_KAFKA_RESP_ERR_NO_ERROR) {
        append->first_error = msg->err;
        append->first_error_where =
            std::string(rd_kafka_topic_name(msg->rkt)) + "/" + std::to_string(msg->partition);
      }
    } else {
      append->positions[slot->index] = {msg->partition, msg->offset};
    }
  }
  append->log->Release(append);
}

void KafkaLog::Release(InflightAppend* append) {
  {
    std::lock_guard lk(append->mu);
    if (--append->remaining > 0) return;
  }
  std::unique_ptr<InflightAppend> done(append);
  Status st = done->send_error;
  if (st.ok() && done->first_error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    st = FromKafka(done->first_error, "append to " + done->first_error_where);
    if (st.code() == StatusCode::kUnavailable) st = Unreachable(st.message());
  }
  if (st.ok()) {
    done->done(std::move(done->positions));
  } else {
    done->done(st);
  }
}

Result<std::vector<Position>> KafkaLog::Append(std::span<const OutRecord> records) {
  std::promise<Result<std::vector<Position>>> result;
  auto ready = result.get_future();
  // Records are copied into librdkafka's queue (RD_KAFKA_MSG_F_COPY) as they are produced.
  AppendAsync(std::vector<OutRecord>(records.begin(), records.end()),
              [&result](Result<std::vector<Position>> r) { result.set_value(std::move(r)); });
  return ready.get();
}

void KafkaLog::AppendAsync(std::vector<OutRecord> records, AppendDone done) {
  if (records.empty()) return done(std::vector<Position>{});
  // Resolve every topic first, so an unknown one fails the call before anything is sent.
  std::map<std::string, int32_t, std::less<>> counts;
  for (const auto& r : records) {
    if (counts.count(r.topic) == 0) {
      Result<int32_t> n = PartitionCount(r.topic);
      if (!n.ok()) return done(n.status());
      counts[r.topic] = *n;
    }
  }
  auto* append = new InflightAppend();
  append->log = this;
  append->done = std::move(done);
  append->positions.resize(records.size());
  append->slots.resize(records.size());
  Status send_error;
  for (size_t i = 0; i < records.size() && send_error.ok(); ++i) {
    const OutRecord& r = records[i];
    int32_t partition = PartitionOf(r, counts[r.topic]);
    if (partition < 0 || partition >= counts[r.topic]) {
      send_error = Status::InvalidArgument("topic '" + r.topic + "' has no partition " + std::to_string(partition));
      break;
    }
    append->slots[i] = {append, i};
    {
      std::lock_guard lk(append->mu);
      ++append->remaining;
    }
    while (true) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_TOPIC(r.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
          RD_KAFKA_V_TIMESTAMP(r.timestamp_ms), RD_KAFKA_V_OPAQUE(&append->slots[i]), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::this_thread::sleep_for(milliseconds(1));  // the poller drains delivery reports
        continue;
      }
      {
        std::lock_guard lk(append->mu);
        --append->remaining;
      }
      send_error = FromKafka(err, "produce to " + r.topic);
      break;
    }
  }
  if (!send_error.ok()) {
    std::lock_guard lk(append->mu);
    append->send_error = send_error;
  }
  Release(append);  // the sender's count: completes now if every report is already in
}

Result<PartitionOffsets> KafkaLog::Offsets(const TopicPartition& tp) {
  int64_t low = 0, high = 0;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(reader_.get(), tp.topic.c_str(), tp.partition, &low,
                                                             &high, static_cast<int>(options_.request_timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Status st = FromKafka(err, "offsets of " + tp.ToString());
    return st.code() == StatusCode::kUnavailable ? Unreachable(st.message()) : st;
  }
  return PartitionOffsets{tp.partition, low, high};
}

Result<std::vector<LogRecord>> KafkaLog::Read(const TopicPartition& tp, int64_t from, size_t max_records) {
  ASSIGN_OR_RETURN(int32_t n, PartitionCount(tp.topic));
  if (tp.partition < 0 || tp.partition >= n) return Status::NotFound("no partition " + tp.ToString());
  ASSIGN_OR_RETURN(PartitionOffsets offsets, Offsets(tp));
  from = std::max(from, offsets.start);
  std::vector<LogRecord> out;
  if (from >= offsets.end || max_records == 0) return out;

  std::lock_guard lk(reader_mu_);
  if (!reader_tp_ || *reader_tp_ != tp || reader_next_ != from) {
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = from;
    rd_kafka_resp_err_t err = rd_kafka_assign(reader_.get(), list.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return FromKafka(err, "read " + tp.ToString());
    reader_tp_ = tp;
    reader_next_ = from;
  }
  // Done at max_records, at the record before the end, or at end-of-partition: offsets may
  // have gaps (a compacted topic, transaction markers, records of aborted transactions), so
  // neither end - from records nor a record at end - 1 need exist.
  auto deadline = Clock::now() + options_.request_timeout;
  while (out.size() < max_records && reader_next_ < offsets.end) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      reader_tp_.reset();
      return Unreachable("reading " + tp.ToString() + " at offset " + std::to_string(reader_next_));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(reader_.get(), static_cast<int>(std::min<int64_t>(left.count(), 200)));
    if (m == nullptr) continue;
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> holder(m, rd_kafka_message_destroy);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // m->offset is where the fetch stands. At or past the end seen above, every record below
      // it has been delivered. librdkafka signals an end once per position, so the next Read
      // assigns afresh and gets its own.
      if (m->rkt != nullptr && rd_kafka_topic_name(m->rkt) == tp.topic && m->partition == tp.partition &&
          m->offset >= offsets.end) {
        reader_tp_.reset();
        break;
      }
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (IsTransient(m->err)) continue;  // librdkafka retries the fetch
      reader_tp_.reset();
      return FromKafka(m->err, "read " + tp.ToString() + " at offset " + std::to_string(reader_next_));
    }
    if (m->rkt == nullptr || rd_kafka_topic_name(m->rkt) != tp.topic || m->partition != tp.partition ||
        m->offset < reader_next_) {
      continue;  // left over from an earlier assignment
    }
    out.push_back(ToRecord(m));
    reader_next_ = m->offset + 1;
  }
  return out;
}

Result<std::vector<TopicStat>> KafkaLog::Stat() {
  ASSIGN_OR_RETURN(auto topics, ListTopics(options_.request_timeout));
  std::vector<TopicStat> out;
  for (const auto& [name, n] : topics) {  // std::map: sorted by name
    TopicStat s;
    s.name = name;
    for (int32_t p = 0; p < n; ++p) {
      ASSIGN_OR_RETURN(PartitionOffsets o, Offsets({name, p}));
      s.partitions.push_back(o);
    }
    out.push_back(std::move(s));
  }
  return out;
}

// --- consumer groups ---

class KafkaConsumer final : public Consumer {
 public:
  static Result<std::unique_ptr<Consumer>> Make(KafkaLog& log, const ConsumerOptions& options);
  ~KafkaConsumer() override { (void)Close(); }

  Result<std::vector<LogRecord>> Poll(milliseconds timeout) override;
  std::vector<TopicPartition> Assignment() const override { return assignment_; }
  Status Pause(const TopicPartition& tp) override { return SetPaused(tp, true); }
  Status Resume(const TopicPartition& tp) override { return SetPaused(tp, false); }
  Status Close() override;

 private:
  KafkaConsumer(ConsumerOptions options, std::string servers)
      : options_(std::move(options)), servers_(std::move(servers)) {}
  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                          void* opaque);
  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  Status SetPaused(const TopicPartition& tp, bool paused);
  bool Assigned(const std::string& topic, int32_t partition) const;

  ConsumerOptions options_;
  std::string servers_;
  ClientErrors errors_;
  Handle rk_;
  std::vector<TopicPartition> assignment_;
  uint64_t rebalances_ = 0;
  bool closed_ = false;
};

Result<std::unique_ptr<Consumer>> KafkaConsumer::Make(KafkaLog& log, const ConsumerOptions& options) {
  if (options.group.empty()) return Status::InvalidArgument("consumer group id is empty");
  std::unique_ptr<KafkaConsumer> c(new KafkaConsumer(options, log.options().bootstrap_servers));
  c->errors_.owner = c.get();
  ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                   MakeConf(log.options(), {{"group.id", options.group},
                                            {"enable.auto.commit", "false"},
                                            {"enable.auto.offset.store", "false"},
                                            {"auto.offset.reset", "earliest"},
                                            {"allow.auto.create.topics", "false"},
                                            // Range keeps co-partitioned topics' partition p together.
                                            {"partition.assignment.strategy", "range"},
                                            // A dead member's partitions move after 10 s, not 45.
                                            {"session.timeout.ms", "10000"},
                                            {"heartbeat.interval.ms", "1000"},
                                            {"enable.partition.eof", "false"},
                                            // Each stage is one hop of a report's way to an
                                            // answer (in.events -> risk -> alerts). A broker
                                            // that does not answer a waiting fetch when data
                                            // arrives (librdkafka's mock cluster) holds it this
                                            // long: 500 ms by default, per hop. A real broker
                                            // answers at once, so this costs only idle fetches.
                                            {"fetch.wait.max.ms", "100"}}));
  rd_kafka_conf_set_rebalance_cb(conf, &KafkaConsumer::OnRebalance);
  ASSIGN_OR_RETURN(c->rk_, NewHandle(RD_KAFKA_CONSUMER, conf, &c->errors_));
  rd_kafka_poll_set_consumer(c->rk_.get());
  PartitionList topics(rd_kafka_topic_partition_list_new(static_cast<int>(options.topics.size())));
  for (const auto& t : options.topics) {
    ASSIGN_OR_RETURN(int32_t n, log.PartitionCount(t));  // NotFound for a missing topic
    (void)n;
    rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk_.get(), topics.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return FromKafka(err, "subscribe group '" + options.group + "'");
  return std::unique_ptr<Consumer>(std::move(c));
}

void KafkaConsumer::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                                void* opaque) {
  (void)rk;
  static_cast<KafkaConsumer*>(static_cast<ClientErrors*>(opaque)->owner)->Rebalance(err, partitions);
}

void KafkaConsumer::Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
  ++rebalances_;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    std::vector<TopicPartition> tps;
    for (int i = 0; i < partitions->cnt; ++i) tps.push_back({partitions->elems[i].topic, partitions->elems[i].partition});
    std::vector<int64_t> starts;
    if (options_.listener != nullptr) starts = options_.listener->OnAssigned(tps);
    for (int i = 0; i < partitions->cnt; ++i) {
      size_t k = static_cast<size_t>(i);
      partitions->elems[i].offset = k < starts.size() ? std::max<int64_t>(0, starts[k]) : RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(rk_.get(), partitions);
    assignment_ = std::move(tps);
    std::sort(assignment_.begin(), assignment_.end());
  } else {
    if (options_.listener != nullptr && !assignment_.empty()) options_.listener->OnRevoked(assignment_);
    rd_kafka_assign(rk_.get(), nullptr);
    assignment_.clear();
  }
}

bool KafkaConsumer::Assigned(const std::string& topic, int32_t partition) const {
  for (const auto& tp : assignment_) {
    if (tp.partition == partition && tp.topic == topic) return true;
  }
  return false;
}

Result<std::vector<LogRecord>> KafkaConsumer::Poll(milliseconds timeout) {
  if (closed_) return Status::FailedPrecondition("consumer is closed");
  std::vector<LogRecord> out;
  auto deadline = Clock::now() + timeout;
  uint64_t rebalances_before = rebalances_;
  while (out.size() < options_.max_batch) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    // Wait only for the first record; then take what is already fetched.
    int wait_ms = out.empty() ? static_cast<int>(std::max<int64_t>(0, left.count())) : 0;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), wait_ms);
    if (m == nullptr) {
      if (!out.empty() || Clock::now() >= deadline) break;
      continue;
    }
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> holder(m, rd_kafka_message_destroy);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (IsTransient(m->err) || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;  // librdkafka reconnects
      if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
      return FromKafka(m->err, "group '" + options_.group + "' at " + servers_);
    }
    out.push_back(ToRecord(m));
  }
  // A rebalance inside this poll may have taken partitions away after some of their records
  // were collected: those belong to the new owner now.
  if (rebalances_ != rebalances_before) {
    std::erase_if(out, [&](const LogRecord& r) { return !Assigned(r.topic, r.partition); });
  }
  return out;
}

Status KafkaConsumer::SetPaused(const TopicPartition& tp, bool paused) {
  if (!Assigned(tp.topic, tp.partition)) return Status::NotFound(tp.ToString() + " is not assigned to this consumer");
  PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  rd_kafka_resp_err_t err =
      paused ? rd_kafka_pause_partitions(rk_.get(), list.get()) : rd_kafka_resume_partitions(rk_.get(), list.get());
  return FromKafka(err, (paused ? "pause " : "resume ") + tp.ToString());
}

Status KafkaConsumer::Close() {
  if (closed_ || !rk_) return Status::Ok();
  closed_ = true;
  // Leaves the group; the revoke arrives through the rebalance callback.
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_.get());
  rk_.reset();
  return FromKafka(err, "leave group '" + options_.group + "'");
}

Result<std::unique_ptr<Consumer>> KafkaLog::Subscribe(const ConsumerOptions& options) {
  return KafkaConsumer::Make(*this, options);
}

}  // namespace

Result<std::unique_ptr<EventLog>> OpenKafkaLog(const KafkaLogOptions& options) { return KafkaLog::Open(options); }

Status CheckKafkaProperty(const std::string& key, const std::string& value) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err);
  rd_kafka_conf_destroy(conf);
  if (res != RD_KAFKA_CONF_OK) return Status::InvalidArgument(err);
  return Status::Ok();
}

}  // namespace ewarn::store
