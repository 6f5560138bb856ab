// A Kafka-protocol cluster on loopback for trying ewarn's several-node mode without a broker:
// librdkafka's mock cluster (rdkafka_mock.h) hosted in this process. Any Kafka client in any
// process (several `ewarn serve --kafka`, kcat) connects through bootstrap_servers(). It keeps
// everything in memory and is gone with the process: for laptops and tests, never production.
#pragma once

#include <memory>
#include <string>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"

namespace ewarn::store {

class DevKafkaCluster {
 public:
  static Result<std::unique_ptr<DevKafkaCluster>> Start(int brokers);
  ~DevKafkaCluster();
  DevKafkaCluster(const DevKafkaCluster&) = delete;
  DevKafkaCluster& operator=(const DevKafkaCluster&) = delete;

  const std::string& bootstrap_servers() const { return bootstrap_; }
  // The mock has no controller for CreateTopics requests, so topics are made inside it; for
  // KafkaLogOptions::create_topic. Replication is min(brokers, 3).
  Status CreateTopic(const TopicSpec& spec);
  int broker_count() const { return brokers_; }

  // Faults, for trying what a node does when the cluster misbehaves (and for tests): a broker
  // (1..broker_count) down (connections closed, new ones refused) or up again; a partition's
  // leader moved to `broker_id` (the mock picks leaders at random).
  Status SetBrokerDown(int broker_id);
  Status SetBrokerUp(int broker_id);
  Status SetPartitionLeader(const std::string& topic, int partition, int broker_id);

 private:
  DevKafkaCluster() = default;
  void* handle_ = nullptr;   // rd_kafka_t* owning the cluster
  void* cluster_ = nullptr;  // rd_kafka_mock_cluster_t*
  std::string bootstrap_;
  int brokers_ = 0;
};

}  // namespace ewarn::store
