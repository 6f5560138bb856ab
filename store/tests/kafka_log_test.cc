// What only the Kafka engine has: brokers that go away, consumer groups across members, and other
// Kafka clients reading what ewarn wrote. All over the real wire protocol (librdkafka's mock
// cluster on 127.0.0.1); the shared EventLog contract is in event_log_test.cc.
#include <librdkafka/rdkafka.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "ewarn/base/hash.h"
#include "ewarn/store/event_log.h"
#include "ewarn_testing.h"

namespace ewarn::store {
namespace {

using namespace std::chrono_literals;
using ewarn::testing::MockKafkaCluster;

std::unique_ptr<MockKafkaCluster> StartCluster(int brokers) {
  auto cluster = MockKafkaCluster::Start(brokers);
  EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
  return cluster.ok() ? std::move(cluster).value() : nullptr;
}

std::unique_ptr<EventLog> OpenLog(MockKafkaCluster& cluster, std::chrono::milliseconds timeout = 15s) {
  auto log = OpenKafkaLog(cluster.LogOptions(timeout));
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

std::vector<OutRecord> Records(const std::string& topic, int n, int start = 0) {
  std::vector<OutRecord> out;
  for (int i = start; i < start + n; ++i) {
    out.push_back({.topic = topic, .key = "k" + std::to_string(i), .value = "v" + std::to_string(i), .timestamp_ms = 1000 + i});
  }
  return out;
}

std::multiset<std::string> Values(EventLog& log, const std::string& topic) {
  std::multiset<std::string> values;
  int32_t n = *log.PartitionCount(topic);
  for (int32_t p = 0; p < n; ++p) {
    int64_t from = 0;
    while (true) {
      auto got = log.Read({topic, p}, from, 1000);
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (!got.ok() || got->empty()) break;
      for (const auto& r : *got) values.insert(r.value);
      from = got->back().offset + 1;
    }
  }
  return values;
}

TEST(KafkaLogTest, PartitionerMatchesLibrdkafkasMurmur2) {
  // ewarn computes partitions itself (so both engines agree); they must also be where a Java
  // or librdkafka producer with the murmur2 partitioner puts the key.
  char err[256];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
  ASSERT_NE(rk, nullptr);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, "t", nullptr);
  for (int32_t partitions : {1, 3, 8, 16, 100}) {
    for (int i = 0; i < 2000; ++i) {
      std::string key = "LAGOS/IKEJA-" + std::to_string(i * 7919);
      int32_t theirs = rd_kafka_msg_partitioner_murmur2(rkt, key.data(), key.size(), partitions, nullptr, nullptr);
      ASSERT_EQ(PartitionForKey(key, partitions), theirs) << key << " over " << partitions;
    }
  }
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
}

TEST(KafkaLogTest, UnreachableClusterFailsFastNamingTheServers) {
  auto started = std::chrono::steady_clock::now();
  auto log = OpenKafkaLog({.bootstrap_servers = "127.0.0.1:1", .request_timeout = 20s});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(log.status().message().find("127.0.0.1:1"), std::string::npos) << log.status().ToString();
  // Connection refused is final for this attempt; ewarn does not sit out the whole timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
}

TEST(KafkaLogTest, AppendWaitsForABrokerThatComesBackAndWritesEachRecordOnce) {
  auto cluster = StartCluster(3);
  ASSERT_NE(cluster, nullptr);
  auto log = OpenLog(*cluster, 30s);
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->CreateTopic({.name = "in.events", .partitions = 6}).ok());
  // The mock chooses leaders at random (broker 1 led none of the 6 partitions in ~9% of runs).
  ASSERT_TRUE(cluster->SetPartitionLeader("in.events", 0, 1).ok());
  ASSERT_TRUE(log->Append(Records("in.events", 300)).ok());

  // Broker 1 leads partition 0 at least; while it is down, appends to it cannot complete.
  ASSERT_TRUE(cluster->SetBrokerDown(1).ok());
  auto pending = std::async(std::launch::async, [&] { return log->Append(Records("in.events", 600, 300)); });
  EXPECT_EQ(pending.wait_for(1500ms), std::future_status::timeout) << "append returned while a leader was down";
  ASSERT_TRUE(cluster->SetBrokerUp(1).ok());
  Result<std::vector<Position>> positions = pending.get();
  ASSERT_TRUE(positions.ok()) << positions.status().ToString();
  ASSERT_EQ(positions->size(), 600u);

  // The idempotent producer's retries leave no duplicates and no gaps.
  std::multiset<std::string> values = Values(*log, "in.events");
  ASSERT_EQ(values.size(), 900u);
  for (int i = 0; i < 900; ++i) EXPECT_EQ(values.count("v" + std::to_string(i)), 1u) << i;
}

TEST(KafkaLogTest, AppendToADownLeaderFailsAsUnavailableAfterTheTimeout) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  auto log = OpenLog(*cluster, 2s);
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->CreateTopic({.name = "in.events", .partitions = 2}).ok());
  ASSERT_TRUE(cluster->SetBrokerDown(1).ok());
  Result<std::vector<Position>> positions = log->Append(Records("in.events", 10));
  ASSERT_FALSE(positions.ok());
  EXPECT_EQ(positions.status().code(), StatusCode::kUnavailable) << positions.status().ToString();
  EXPECT_NE(positions.status().message().find(cluster->bootstrap_servers()), std::string::npos)
      << positions.status().ToString();
  ASSERT_TRUE(cluster->SetBrokerUp(1).ok());
}

// Records what the group gave and took away, answering "from the beginning".
class RecordingListener : public RebalanceListener {
 public:
  std::vector<int64_t> OnAssigned(const std::vector<TopicPartition>& partitions) override {
    std::lock_guard lk(mu_);
    for (const auto& tp : partitions) held_.insert(tp);
    return std::vector<int64_t>(partitions.size(), 0);
  }
  void OnRevoked(const std::vector<TopicPartition>& partitions) override {
    std::lock_guard lk(mu_);
    for (const auto& tp : partitions) held_.erase(tp);
    ++revocations_;
  }
  std::set<TopicPartition> held() {
    std::lock_guard lk(mu_);
    return held_;
  }

 private:
  std::mutex mu_;
  std::set<TopicPartition> held_;
  int revocations_ = 0;
};

TEST(KafkaLogTest, GroupMembersSplitPartitionsAndASurvivorTakesOverOnLeave) {
  auto cluster = StartCluster(3);
  ASSERT_NE(cluster, nullptr);
  KafkaLogOptions options = cluster->LogOptions();
  options.properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "300"}};
  auto opened = OpenKafkaLog(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto log = std::move(opened).value();
  ASSERT_TRUE(log->CreateTopic({.name = "in.events", .partitions = 4}).ok());
  ASSERT_TRUE(log->Append(Records("in.events", 400)).ok());

  RecordingListener la, lb;
  auto a = log->Subscribe({.group = "g", .topics = {"in.events"}, .listener = &la});
  auto b = log->Subscribe({.group = "g", .topics = {"in.events"}, .listener = &lb});
  ASSERT_TRUE(a.ok() && b.ok());
  // Poll both until the group has settled on a split: two partitions each (range assignor).
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline &&
         !((*a)->Assignment().size() == 2 && (*b)->Assignment().size() == 2)) {
    ASSERT_TRUE((*a)->Poll(100ms).ok());
    ASSERT_TRUE((*b)->Poll(100ms).ok());
  }
  ASSERT_EQ((*a)->Assignment().size(), 2u);
  ASSERT_EQ((*b)->Assignment().size(), 2u);
  std::set<TopicPartition> all = la.held();
  for (const auto& tp : lb.held()) EXPECT_TRUE(all.insert(tp).second) << tp.ToString() << " held twice";
  EXPECT_EQ(all.size(), 4u);

  // A leaves cleanly; B ends up with every partition and reads every record of them.
  ASSERT_TRUE((*a)->Close().ok());
  EXPECT_TRUE(la.held().empty());
  std::set<std::string> seen;
  deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline && ((*b)->Assignment().size() < 4 || seen.size() < 400)) {
    auto got = (*b)->Poll(100ms);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (const auto& r : *got) seen.insert(r.value);
  }
  EXPECT_EQ((*b)->Assignment().size(), 4u);
  EXPECT_EQ(seen.size(), 400u);
}

TEST(KafkaLogTest, KcatReadsWhatEwarnWrote) {
  if (std::system("command -v kcat >/dev/null 2>&1") != 0) GTEST_SKIP() << "kcat is not installed (scripts/deps.sh installs it)";
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  auto log = OpenLog(*cluster);
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->CreateTopic({.name = "alerts", .partitions = 1}).ok());
  std::vector<OutRecord> records;
  for (int i = 0; i < 5; ++i) {
    records.push_back({.topic = "alerts", .key = "station-" + std::to_string(i), .value = "alert " + std::to_string(i),
                       .timestamp_ms = 1700000000000 + i});
  }
  ASSERT_TRUE(log->Append(records).ok());

  // A separate process, a different Kafka client: it sees keys, values, offsets and timestamps.
  std::string command = "kcat -b " + cluster->bootstrap_servers() +
                        " -C -t alerts -p 0 -o beginning -e -q -f '%o|%k|%s|%T\\n' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 512> buf;
  while (fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  ASSERT_EQ(pclose(pipe), 0) << out;
  for (int i = 0; i < 5; ++i) {
    std::string line = std::to_string(i) + "|station-" + std::to_string(i) + "|alert " + std::to_string(i) + "|" +
                       std::to_string(1700000000000 + i);
    EXPECT_NE(out.find(line), std::string::npos) << "missing '" << line << "' in:\n" << out;
  }
}

// What `ewarn topics check` judges (issue 14.8): a replayed topic left at the broker's 7-day
// default, a table that is not compacted, a log that is, one in-sync replica of three.
TEST(KafkaLogTest, SettingMismatchesNameTheTopicTheSettingWhatItIsAndWhatItMustBe) {
  const TopicSpec inputs{.name = "in.events", .partitions = 8};
  const TopicSpec tokens{.name = "ref.tokens", .partitions = 1, .compacted = true};
  TopicSettings as_created{.name = "in.events", .replication_factor = 3,
                           .configs = {{"retention.ms", "-1"}, {"retention.bytes", "-1"},
                                       {"cleanup.policy", "delete"}, {"min.insync.replicas", "2"}}};
  EXPECT_TRUE(KafkaSettingMismatches(inputs, as_created).empty());

  TopicSettings week = as_created;
  week.configs["retention.ms"] = "604800000";  // the broker's default
  week.configs["retention.bytes"] = "1073741824";
  week.configs["min.insync.replicas"] = "1";
  auto found = KafkaSettingMismatches(inputs, week);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].topic, "in.events");
  EXPECT_EQ(found[0].setting, "retention.ms");
  EXPECT_EQ(found[0].actual, "604800000");
  EXPECT_EQ(found[0].wanted, "-1");
  EXPECT_NE(found[0].why.find("replayed from offset 0"), std::string::npos);
  EXPECT_EQ(found[1].setting, "retention.bytes");
  EXPECT_EQ(found[2].setting, "min.insync.replicas");
  EXPECT_EQ(found[2].wanted, "2");
  // One replica (a laptop's cluster): min.insync.replicas 1 is all there can be.
  week.replication_factor = 1;
  EXPECT_EQ(KafkaSettingMismatches(inputs, week).size(), 2u);

  TopicSettings table{.name = "ref.tokens", .replication_factor = 1,
                      .configs = {{"retention.ms", "-1"}, {"retention.bytes", "-1"}, {"cleanup.policy", "delete"}}};
  found = KafkaSettingMismatches(tokens, table);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].setting, "cleanup.policy");
  EXPECT_EQ(found[0].wanted, "compact");
  table.configs["cleanup.policy"] = "compact";
  EXPECT_TRUE(KafkaSettingMismatches(tokens, table).empty());
  // Compacting a log would drop earlier reports of one station.
  as_created.configs["cleanup.policy"] = "compact,delete";
  found = KafkaSettingMismatches(inputs, as_created);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].wanted, "delete");
  // A topic with a retention of its own may keep longer, never shorter.
  const TopicSpec day{.name = "digest", .partitions = 1, .retention_ms = 86400000};
  TopicSettings longer{.name = "digest", .replication_factor = 1, .configs = {{"retention.ms", "172800000"}}};
  EXPECT_TRUE(KafkaSettingMismatches(day, longer).empty());
  longer.configs["retention.ms"] = "3600000";
  EXPECT_EQ(KafkaSettingMismatches(day, longer).size(), 1u);
}

// librdkafka 2.0's mock cluster does not answer DescribeConfigs: the log says so (instead of
// waiting for a controller the mock does not have) and still gives the replication factors.
TEST(KafkaLogTest, DescribeTopicsGivesReplicationAndSaysWhenTheBrokersCannotDescribeSettings) {
  auto cluster = StartCluster(3);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("replicated", 2).ok());  // replication min(brokers, 3)
  auto log = OpenLog(*cluster);
  ASSERT_NE(log, nullptr);
  auto started = std::chrono::steady_clock::now();
  auto described = log->DescribeTopics({"replicated", "not-there"});
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  ASSERT_EQ(described->topics.size(), 1u);
  EXPECT_EQ(described->topics[0].name, "replicated");
  EXPECT_EQ(described->topics[0].replication_factor, 3);
  EXPECT_TRUE(described->topics[0].configs.empty());
  EXPECT_NE(described->configs_unknown.find("do not support DescribeConfigs"), std::string::npos)
      << described->configs_unknown;
}

}  // namespace
}  // namespace ewarn::store
