// MockKafkaCluster: librdkafka's own in-process Kafka cluster (rdkafka_mock.h), hosted by
// store::DevKafkaCluster (what `ewarn dev-kafka` runs). Brokers speak the real wire protocol on
// 127.0.0.1, so ewarn's Kafka engine and kcat talk to it as to Kafka.
#include <algorithm>

#include "ewarn_testing.h"

namespace ewarn::testing {

Result<std::unique_ptr<MockKafkaCluster>> MockKafkaCluster::Start(int brokers) {
  ASSIGN_OR_RETURN(std::unique_ptr<store::DevKafkaCluster> dev, store::DevKafkaCluster::Start(brokers));
  return std::unique_ptr<MockKafkaCluster>(new MockKafkaCluster(std::move(dev)));
}

Status MockKafkaCluster::SetBrokerDown(int broker_id) { return cluster_->SetBrokerDown(broker_id); }
Status MockKafkaCluster::SetBrokerUp(int broker_id) { return cluster_->SetBrokerUp(broker_id); }

Status MockKafkaCluster::SetPartitionLeader(const std::string& topic, int partition, int broker_id) {
  return cluster_->SetPartitionLeader(topic, partition, broker_id);
}

Status MockKafkaCluster::CreateTopic(const std::string& topic, int partitions) {
  return cluster_->CreateTopic({.name = topic, .partitions = partitions});
}

std::function<Status(const store::TopicSpec&)> MockKafkaCluster::TopicCreator() {
  return [this](const store::TopicSpec& spec) { return cluster_->CreateTopic(spec); };
}

store::KafkaLogOptions MockKafkaCluster::LogOptions(std::chrono::milliseconds request_timeout) {
  store::KafkaLogOptions options;
  options.bootstrap_servers = bootstrap_servers();
  options.request_timeout = request_timeout;
  options.create_topic = TopicCreator();
  return options;
}

}  // namespace ewarn::testing
