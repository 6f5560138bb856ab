// DeliveryWorkers sharing notify.outbox in one consumer group, on the real Kafka protocol
// (librdkafka's mock cluster over loopback TCP), each with its own RocksDB state directory and
// its own Kafka client, webhooks to a receiver on 127.0.0.1: partitions move (a worker joins,
// one is destroyed, one is killed with SIGKILL) and every delivery id still arrives once.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <stop_token>
#include <thread>

#include "alerts_testing.h"
#include "child_process.h"
#include "ewarn/alerts/delivery_worker.h"
#include "ewarn_testing.h"

namespace ewarn::alerts {
namespace {

using namespace std::chrono_literals;
using testing::Receiver;
using testing::SampleDelivery;

constexpr int32_t kPartitions = 4;

// One node's worker: its own log client and state store, driven by its own thread.
class Node {
 public:
  Node(ewarn::testing::MockKafkaCluster& cluster, const std::string& state_dir, int max_in_flight = 16) {
    log_ = std::move(store::OpenKafkaLog(cluster.LogOptions())).value();
    state_ = std::move(store::StateStore::Open({.dir = state_dir, .stores = DeliveryWorker::StoreNames()})).value();
    auto worker = DeliveryWorker::Make(*log_, *state_,
                                       {.webhook_secret = "s3cret",
                                        .timeouts = {.connect = 1000ms, .io = 5000ms},
                                        .retry = {.initial_backoff = 50ms, .max_backoff = 200ms},
                                        .max_in_flight = max_in_flight},
                                       nullptr);
    EXPECT_TRUE(worker.ok()) << worker.status().ToString();
    worker_ = std::move(worker).value();
    thread_ = std::jthread([this](std::stop_token stop) { status_ = worker_->Run(stop); });
  }
  // Stops the loop (it waits for sends in flight and publishes their outcomes) and returns
  // what the worker did; the worker is destroyed, leaving the group.
  DeliveryStats Stop() {
    thread_.request_stop();
    thread_.join();
    EXPECT_TRUE(status_.ok()) << status_.ToString();
    DeliveryStats stats = worker_->stats();
    worker_.reset();
    return stats;
  }
  ~Node() {
    if (worker_) Stop();
  }

 private:
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
  std::unique_ptr<DeliveryWorker> worker_;
  Status status_;
  std::jthread thread_;
};

class DeliveryHandoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = ewarn::testing::MockKafkaCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(cluster).value();
    log_ = std::move(store::OpenKafkaLog(cluster_->LogOptions())).value();
    for (auto topic : {schemas::topic::kOutbox, schemas::topic::kDeliveries}) {
      ASSERT_TRUE(log_->CreateTopic({.name = std::string(topic), .partitions = kPartitions}).ok());
    }
  }

  // Appends deliveries "d-<first>".."d-<first+n-1>" for eight liaisons (so every partition
  // gets some), each with an origin like the lifecycle stage's outputs.
  void Append(int first, int n, const std::string& url) {
    std::vector<store::OutRecord> records;
    for (int i = first; i < first + n; ++i) {
      v1::Delivery d = SampleDelivery("d-" + std::to_string(i), v1::Delivery::CHANNEL_WEBHOOK, url);
      d.set_recipient_id("liaison-" + std::to_string(i % 8));
      v1::Event e;
      e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
      e.mutable_header()->set_event_id(d.delivery_id());
      e.mutable_header()->set_source(v1::SOURCE_PROCESSOR);
      e.mutable_header()->mutable_origin()->set_topic("alerts");
      e.mutable_header()->mutable_origin()->set_partition(0);
      e.mutable_header()->mutable_origin()->set_offset(i);
      *e.mutable_delivery() = d;
      records.push_back({.topic = std::string(schemas::topic::kOutbox), .key = d.recipient_id(),
                         .value = schemas::EncodeEvent(e), .timestamp_ms = 1});
    }
    ASSERT_TRUE(log_->Append(records).ok());
  }

  // Waits until `receiver` has seen `n` distinct delivery ids.
  static bool WaitForDistinct(const Receiver& receiver, size_t n, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Counts(receiver).size() >= n) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  static std::map<std::string, int> Counts(const Receiver& receiver) {
    std::map<std::string, int> counts;
    for (const auto& r : receiver.requests()) ++counts[r.Header("x-ewarn-delivery")];
    return counts;
  }

  std::unique_ptr<ewarn::testing::MockKafkaCluster> cluster_;
  std::unique_ptr<store::EventLog> log_;
  ewarn::testing::TempDir dir_;
};

// The second worker joins while deliveries flow: the first gives up partitions with their sends
// finished and published, the second starts each after what was finished. Nothing twice.
TEST_F(DeliveryHandoverTest, ASecondWorkerJoiningWhileDeliveriesFlowSendsNothingTwice) {
  Receiver receiver;
  receiver.set_delay(5ms);  // sends are in flight when the group rebalances
  constexpr int kTotal = 240;  // over about 9 s: joining the group takes a few seconds
  std::atomic<bool> appended = false;
  std::jthread producer([&] {
    for (int i = 0; i < kTotal; i += 8) {
      Append(i, 8, receiver.url());
      std::this_thread::sleep_for(300ms);
    }
    appended = true;
  });
  auto first = std::make_unique<Node>(*cluster_, dir_.Sub("node-a"));
  ASSERT_TRUE(WaitForDistinct(receiver, 24, 30s)) << "the first worker delivers";
  auto second = std::make_unique<Node>(*cluster_, dir_.Sub("node-b"));
  producer.join();
  ASSERT_TRUE(appended);
  ASSERT_TRUE(WaitForDistinct(receiver, kTotal, 60s)) << Counts(receiver).size() << " of " << kTotal;
  std::this_thread::sleep_for(1s);  // a repeat would come now
  DeliveryStats a = first->Stop();
  DeliveryStats b = second->Stop();
  EXPECT_GT(b.sent, 0) << "the second worker took partitions over";
  EXPECT_EQ(a.sent + b.sent, kTotal);
  auto counts = Counts(receiver);
  ASSERT_EQ(counts.size(), static_cast<size_t>(kTotal));
  for (const auto& [id, n] : counts) EXPECT_EQ(n, 1) << id;
  int sent_outcomes = 0;
  for (const auto& e : testing::Outcomes(*log_)) sent_outcomes += e.delivery().state() == v1::Delivery::STATE_SENT;
  EXPECT_EQ(sent_outcomes, kTotal);
}

// A worker destroyed while a send is on the wire finishes it and publishes the outcome before
// it leaves; the worker that takes over (another state directory) sends only the rest.
TEST_F(DeliveryHandoverTest, AWorkerDestroyedMidDeliveryLeavesTheRestToTheNext) {
  Receiver receiver;
  receiver.set_delay(300ms);
  constexpr int kTotal = 12;
  Append(0, kTotal, receiver.url());
  auto first = std::make_unique<Node>(*cluster_, dir_.Sub("node-a"), /*max_in_flight=*/1);
  ASSERT_TRUE(receiver.WaitFor(3, 30s));
  DeliveryStats a = first->Stop();  // the third send was on the wire
  EXPECT_GE(a.sent, 3);
  EXPECT_LT(a.sent, kTotal);
  first.reset();
  receiver.set_delay(0ms);
  auto second = std::make_unique<Node>(*cluster_, dir_.Sub("node-b"));
  ASSERT_TRUE(WaitForDistinct(receiver, kTotal, 60s)) << Counts(receiver).size() << " of " << kTotal;
  std::this_thread::sleep_for(500ms);
  DeliveryStats b = second->Stop();
  EXPECT_EQ(a.sent + b.sent, kTotal);
  for (const auto& [id, n] : Counts(receiver)) EXPECT_EQ(n, 1) << id;
}

// kill -9 of a worker process in the middle of a send: the group gives its partitions to the
// survivor once its session expires; only the send that was on the wire comes twice, under the
// same key and with the same body.
TEST_F(DeliveryHandoverTest, AKilledWorkerProcessRepeatsAtMostTheSendInFlight) {
  Receiver receiver;
  receiver.set_delay(200ms);
  constexpr int kTotal = 16;
  Append(0, kTotal, receiver.url());
  size_t at_kill = 0;
  {
    ewarn::testing::ChildProcess child(
        {ALERTS_CRASH_WORKER, "--kafka", cluster_->bootstrap_servers(), dir_.Sub("killed-node")});
    ASSERT_TRUE(child.started());
    auto line = child.ReadLine(40s);
    ASSERT_TRUE(line && *line == "in-flight") << "the worker process did not start a send";
    ASSERT_TRUE(receiver.WaitFor(5, 20s));
    std::this_thread::sleep_for(100ms);  // the fifth answer is still being held back
    child.Kill9();
    EXPECT_EQ(child.Wait(), 128 + SIGKILL);
    at_kill = receiver.count();
  }
  ASSERT_LT(at_kill, static_cast<size_t>(kTotal));
  receiver.set_delay(0ms);
  auto survivor = std::make_unique<Node>(*cluster_, dir_.Sub("survivor"));
  ASSERT_TRUE(WaitForDistinct(receiver, kTotal, 60s)) << Counts(receiver).size() << " of " << kTotal;
  std::this_thread::sleep_for(500ms);
  survivor->Stop();

  auto requests = receiver.requests();
  const testing::Received& in_flight = requests[at_kill - 1];
  int repeated = 0;
  for (const auto& [id, n] : Counts(receiver)) {
    EXPECT_LE(n, 2) << id;
    if (n < 2) continue;
    ++repeated;
    EXPECT_EQ(id, in_flight.Header("x-ewarn-delivery")) << "only the send on the wire at the kill repeats";
    for (size_t i = at_kill; i < requests.size(); ++i) {
      if (requests[i].Header("x-ewarn-delivery") == id) {
        EXPECT_EQ(requests[i].body, in_flight.body);
      }
    }
  }
  EXPECT_LE(repeated, 1);
  EXPECT_EQ(requests.size(), static_cast<size_t>(kTotal + repeated));
}

}  // namespace
}  // namespace ewarn::alerts
