// MockKafkaCluster: librdkafka's own in-process Kafka cluster (rdkafka_mock.h). Brokers speak
// the real wire protocol on 127.0.0.1, so ewarn's Kafka engine and kcat talk to it as to Kafka.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "ewarn_testing.h"

namespace ewarn::testing {
namespace {
rd_kafka_mock_cluster_t* Cluster(void* p) { return static_cast<rd_kafka_mock_cluster_t*>(p); }
}  // namespace

Result<std::unique_ptr<MockKafkaCluster>> MockKafkaCluster::Start(int brokers) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The owning handle never talks to anyone; keep it quiet.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::Internal(std::string("mock cluster handle: ") + err);
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == nullptr) {
    rd_kafka_destroy(rk);
    return Status::Internal("rd_kafka_mock_cluster_new failed");
  }
  std::unique_ptr<MockKafkaCluster> cluster(new MockKafkaCluster());
  cluster->handle_ = rk;
  cluster->cluster_ = mc;
  cluster->bootstrap_ = rd_kafka_mock_cluster_bootstraps(mc);
  cluster->brokers_ = brokers;
  return cluster;
}

MockKafkaCluster::~MockKafkaCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(Cluster(cluster_));
  if (handle_ != nullptr) rd_kafka_destroy(static_cast<rd_kafka_t*>(handle_));
}

Status MockKafkaCluster::SetBrokerDown(int broker_id) {
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(Cluster(cluster_), broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Internal(rd_kafka_err2str(err));
  return Status::Ok();
}

Status MockKafkaCluster::SetBrokerUp(int broker_id) {
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(Cluster(cluster_), broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Internal(rd_kafka_err2str(err));
  return Status::Ok();
}

Status MockKafkaCluster::SetPartitionLeader(const std::string& topic, int partition, int broker_id) {
  rd_kafka_resp_err_t err = rd_kafka_mock_partition_set_leader(Cluster(cluster_), topic.c_str(), partition, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Internal(rd_kafka_err2str(err));
  return Status::Ok();
}

Status MockKafkaCluster::CreateTopic(const std::string& topic, int partitions, int replication_factor) {
  rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(Cluster(cluster_), topic.c_str(), partitions, replication_factor);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Internal("mock create topic '" + topic + "': " + rd_kafka_err2str(err));
  }
  return Status::Ok();
}

std::function<Status(const store::TopicSpec&)> MockKafkaCluster::TopicCreator() {
  return [this](const store::TopicSpec& spec) {
    return CreateTopic(spec.name, spec.partitions, std::min(brokers_, 3));
  };
}

store::KafkaLogOptions MockKafkaCluster::LogOptions(std::chrono::milliseconds request_timeout) {
  store::KafkaLogOptions options;
  options.bootstrap_servers = bootstrap_;
  options.request_timeout = request_timeout;
  options.create_topic = TopicCreator();
  return options;
}

}  // namespace ewarn::testing
