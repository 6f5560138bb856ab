// Placeholder until the mock cluster lands (helper is writing it).
#include "ewarn_testing.h"
namespace ewarn::testing {
Result<std::unique_ptr<MockKafkaCluster>> MockKafkaCluster::Start(int) { return Status::Internal("placeholder"); }
MockKafkaCluster::~MockKafkaCluster() = default;
Status MockKafkaCluster::SetBrokerDown(int) { return Status::Internal("placeholder"); }
Status MockKafkaCluster::SetBrokerUp(int) { return Status::Internal("placeholder"); }
Status MockKafkaCluster::CreateTopic(const std::string&, int, int) { return Status::Internal("placeholder"); }
}  // namespace ewarn::testing
