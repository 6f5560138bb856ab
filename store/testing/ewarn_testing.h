// Test support shared by every test binary: temporary directories and an in-process Kafka
// cluster speaking the real wire protocol (librdkafka's mock cluster) on 127.0.0.1.
// Not part of the product; linked only into tests and benchmarks.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "ewarn/base/status.h"
#include "ewarn/store/dev_kafka.h"
#include "ewarn/store/event_log.h"

namespace ewarn::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// librdkafka's mock cluster (rdkafka_mock.h) running in this process: brokers listen on
// 127.0.0.1 ephemeral ports and any Kafka client (another process too, e.g. kcat) can connect
// through bootstrap_servers(). Destroying it stops the brokers.
class MockKafkaCluster {
 public:
  static Result<std::unique_ptr<MockKafkaCluster>> Start(int brokers = 3);

  const std::string& bootstrap_servers() const { return cluster_->bootstrap_servers(); }
  int broker_count() const { return cluster_->broker_count(); }
  // Takes a broker (1..broker_count) down (connections closed, new ones refused) or up.
  Status SetBrokerDown(int broker_id);
  Status SetBrokerUp(int broker_id);
  // Makes `broker_id` the leader of a partition. The mock picks each partition's leader at
  // random, so a test about one broker's partitions must pin one first.
  Status SetPartitionLeader(const std::string& topic, int partition, int broker_id);
  // Creates a topic directly on the cluster (replication min(brokers, 3)).
  Status CreateTopic(const std::string& topic, int partitions);
  // For KafkaLogOptions::create_topic: the mock has no controller for CreateTopics requests.
  std::function<Status(const store::TopicSpec&)> TopicCreator();
  // KafkaLogOptions for this cluster, with TopicCreator() and a short request timeout.
  store::KafkaLogOptions LogOptions(std::chrono::milliseconds request_timeout = std::chrono::seconds(15));

 private:
  explicit MockKafkaCluster(std::unique_ptr<store::DevKafkaCluster> cluster) : cluster_(std::move(cluster)) {}
  std::unique_ptr<store::DevKafkaCluster> cluster_;
};

}  // namespace ewarn::testing
