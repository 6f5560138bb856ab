#include "ewarn/store/dev_kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>

namespace ewarn::store {
namespace {
rd_kafka_mock_cluster_t* Mock(void* p) { return static_cast<rd_kafka_mock_cluster_t*>(p); }

Status FromMock(rd_kafka_resp_err_t err) {
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Internal(std::string("mock cluster: ") + rd_kafka_err2str(err));
  return Status::Ok();
}
}  // namespace

Result<std::unique_ptr<DevKafkaCluster>> DevKafkaCluster::Start(int brokers) {
  if (brokers < 1 || brokers > 9) return Status::InvalidArgument("--brokers wants 1 to 9");
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);  // the owning handle talks to no one
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::Internal(std::string("mock cluster handle: ") + err);
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == nullptr) {
    rd_kafka_destroy(rk);
    return Status::Internal("librdkafka could not start its mock cluster");
  }
  std::unique_ptr<DevKafkaCluster> cluster(new DevKafkaCluster());
  cluster->handle_ = rk;
  cluster->cluster_ = mc;
  cluster->bootstrap_ = rd_kafka_mock_cluster_bootstraps(mc);
  cluster->brokers_ = brokers;
  return cluster;
}

DevKafkaCluster::~DevKafkaCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(Mock(cluster_));
  if (handle_ != nullptr) rd_kafka_destroy(static_cast<rd_kafka_t*>(handle_));
}

Status DevKafkaCluster::CreateTopic(const TopicSpec& spec) {
  rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(Mock(cluster_), spec.name.c_str(), spec.partitions, std::min(brokers_, 3));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::Internal("mock cluster: cannot create topic '" + spec.name + "': " + rd_kafka_err2str(err));
  }
  return Status::Ok();
}

Status DevKafkaCluster::SetBrokerDown(int broker_id) {
  return FromMock(rd_kafka_mock_broker_set_down(Mock(cluster_), broker_id));
}

Status DevKafkaCluster::SetBrokerUp(int broker_id) {
  return FromMock(rd_kafka_mock_broker_set_up(Mock(cluster_), broker_id));
}

Status DevKafkaCluster::SetPartitionLeader(const std::string& topic, int partition, int broker_id) {
  return FromMock(rd_kafka_mock_partition_set_leader(Mock(cluster_), topic.c_str(), partition, broker_id));
}

}  // namespace ewarn::store
