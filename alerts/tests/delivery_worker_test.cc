// DeliveryWorker end to end on a real embedded log and state store, webhooks on 127.0.0.1.
#include "ewarn/alerts/delivery_worker.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <signal.h>

#include "alerts_testing.h"
#include "child_process.h"
#include "ewarn_testing.h"

namespace ewarn::alerts {
namespace {

using namespace std::chrono_literals;
using testing::Receiver;
using testing::SampleDelivery;

class DeliveryWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = std::move(store::OpenEmbeddedLog({.dir = dir_.Sub("log")})).value();
    OpenState();
  }
  void OpenState() {
    state_.reset();
    state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("state"), .stores = DeliveryWorker::StoreNames()}))
                 .value();
  }
  DeliveryOptions Options() {
    return {.webhook_secret = "s3cret",
            .timeouts = {.connect = 1000ms, .io = 1000ms},
            .retry = {.initial_backoff = 20ms, .max_backoff = 100ms, .max_attempts = 5}};
  }
  std::unique_ptr<DeliveryWorker> Worker(DeliveryOptions options, prometheus::Registry* registry = nullptr) {
    auto w = DeliveryWorker::Make(*log_, *state_, std::move(options), registry);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? std::move(w).value() : nullptr;
  }
  // (state, attempt, http_status) of each outcome event for `id`.
  std::vector<std::tuple<v1::Delivery::State, int, int>> Trail(const std::string& id) {
    std::vector<std::tuple<v1::Delivery::State, int, int>> out;
    for (const auto& e : testing::Outcomes(*log_)) {
      if (e.delivery().delivery_id() == id) {
        out.emplace_back(e.delivery().state(), e.delivery().attempt(), e.delivery().http_status());
      }
    }
    return out;
  }

  ewarn::testing::TempDir dir_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
};

double Metric(prometheus::Registry& registry, const std::string& name,
              const std::map<std::string, std::string>& labels) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      std::map<std::string, std::string> got;
      for (const auto& l : m.label) got[l.name] = l.value;
      if (got != labels) continue;
      if (family.type == prometheus::MetricType::Histogram) return static_cast<double>(m.histogram.sample_count);
      return m.counter.value;
    }
  }
  return 0;
}

TEST_F(DeliveryWorkerTest, WebhookArrivesSignedOnceAndTheOutcomeIsRecorded) {
  Receiver receiver;
  prometheus::Registry registry;
  testing::AppendOutbox(*log_, {SampleDelivery("alert-1:liaison-7:webhook", v1::Delivery::CHANNEL_WEBHOOK,
                                               receiver.url())});
  auto worker = Worker(Options(), &registry);
  ASSERT_TRUE(worker->RunUntilIdle(10s).ok());
  ASSERT_EQ(receiver.count(), 1u);
  const auto r = receiver.requests()[0];
  EXPECT_EQ(r.Header("x-ewarn-delivery"), "alert-1:liaison-7:webhook");
  EXPECT_EQ(r.Header("x-ewarn-signature"), WebhookSignature("s3cret", r.Header("x-ewarn-timestamp"), r.body));

  auto outcomes = testing::Outcomes(*log_);
  ASSERT_EQ(outcomes.size(), 1u);
  const v1::Event& e = outcomes[0];
  EXPECT_EQ(e.header().event_id(), "alert-1:liaison-7:webhook:1");
  EXPECT_EQ(e.header().source(), v1::SOURCE_PROCESSOR);
  EXPECT_EQ(e.header().channel(), "delivery/webhook");
  EXPECT_EQ(e.delivery().state(), v1::Delivery::STATE_SENT);
  EXPECT_EQ(e.delivery().attempt(), 1);
  EXPECT_EQ(e.delivery().http_status(), 200);
  EXPECT_GT(e.delivery().sent_ms(), 0);
  EXPECT_EQ(e.delivery().recipient_id(), "liaison-7");
  ASSERT_EQ(e.delivery().alerts_size(), 1);
  EXPECT_EQ(e.delivery().alerts(0).alert_id(), "alert-1");
  auto records = log_->Read({"notify.deliveries", 0}, 0, 10);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ((*records)[0].key, "alert-1:liaison-7:webhook");

  EXPECT_EQ(Metric(registry, "ewarn_alerts_deliveries_total", {{"channel", "webhook"}, {"outcome", "sent"}}), 1);
  EXPECT_EQ(Metric(registry, "ewarn_alerts_delivery_failures_total", {{"channel", "webhook"}}), 0);
  EXPECT_EQ(Metric(registry, "ewarn_alerts_delivery_seconds", {}), 1);
  EXPECT_EQ(worker->stats().sent, 1);
}

TEST_F(DeliveryWorkerTest, FiveHundredTwiceThenOkIsOneLogicalDeliveryWithBackoff) {
  Receiver receiver({500, 500, 200});
  prometheus::Registry registry;
  testing::AppendOutbox(*log_, {SampleDelivery("d-retry", v1::Delivery::CHANNEL_WEBHOOK, receiver.url())});
  auto worker = Worker(Options(), &registry);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(worker->RunUntilIdle(10s).ok());
  // Backoff 20 ms then 40 ms.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 60ms);
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) EXPECT_EQ(r.Header("x-ewarn-delivery"), "d-retry");
  EXPECT_EQ(requests[0].body, requests[2].body);
  using S = v1::Delivery;
  EXPECT_EQ(Trail("d-retry"), (std::vector<std::tuple<S::State, int, int>>{
                                  {S::STATE_RETRYING, 1, 500}, {S::STATE_RETRYING, 2, 500}, {S::STATE_SENT, 3, 200}}));
  EXPECT_EQ(Metric(registry, "ewarn_alerts_deliveries_total", {{"channel", "webhook"}, {"outcome", "retrying"}}), 2);
  EXPECT_EQ(Metric(registry, "ewarn_alerts_delivery_failures_total", {{"channel", "webhook"}}), 2);
  auto outcomes = testing::Outcomes(*log_);
  EXPECT_EQ(outcomes[1].header().event_id(), "d-retry:2");
  EXPECT_NE(outcomes[0].delivery().error().find("HTTP 500"), std::string::npos);
}

TEST_F(DeliveryWorkerTest, NotFoundFailsPermanentlyWithoutRetry) {
  Receiver receiver({}, 404);
  testing::AppendOutbox(*log_, {SampleDelivery("d-404", v1::Delivery::CHANNEL_WEBHOOK, receiver.url())});
  auto worker = Worker(Options());
  ASSERT_TRUE(worker->RunUntilIdle(10s).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(worker->RunOnce(20ms).ok());
  EXPECT_EQ(receiver.count(), 1u);
  using S = v1::Delivery;
  EXPECT_EQ(Trail("d-404"), (std::vector<std::tuple<S::State, int, int>>{{S::STATE_FAILED, 1, 404}}));
  EXPECT_EQ(worker->stats().failed, 1);
}

TEST_F(DeliveryWorkerTest, RetriesStopAtMaxAttempts) {
  Receiver receiver({}, 503);
  DeliveryOptions options = Options();
  options.retry.max_attempts = 3;
  testing::AppendOutbox(*log_, {SampleDelivery("d-503", v1::Delivery::CHANNEL_WEBHOOK, receiver.url())});
  auto worker = Worker(options);
  ASSERT_TRUE(worker->RunUntilIdle(10s).ok());
  EXPECT_EQ(receiver.count(), 3u);
  using S = v1::Delivery;
  EXPECT_EQ(Trail("d-503"), (std::vector<std::tuple<S::State, int, int>>{
                                {S::STATE_RETRYING, 1, 503}, {S::STATE_RETRYING, 2, 503}, {S::STATE_FAILED, 3, 503}}));
  EXPECT_NE(testing::Outcomes(*log_).back().delivery().error().find("gave up after 3 attempts"), std::string::npos);
}

TEST_F(DeliveryWorkerTest, DeadAndHungEndpointsDoNotDelayOthers) {
  Receiver receiver;
  testing::BlackHole hole;
  DeliveryOptions options = Options();
  options.timeouts = {.connect = 3000ms, .io = 3000ms};
  options.retry.initial_backoff = 60s;  // one attempt each within this test
  testing::AppendOutbox(*log_, {SampleDelivery("d-hung", v1::Delivery::CHANNEL_WEBHOOK, hole.url()),
                                SampleDelivery("d-dead", v1::Delivery::CHANNEL_WEBHOOK, testing::ClosedUrl()),
                                SampleDelivery("d-ok", v1::Delivery::CHANNEL_WEBHOOK, receiver.url())});
  auto worker = Worker(options);
  auto start = std::chrono::steady_clock::now();
  while (receiver.count() == 0 && std::chrono::steady_clock::now() - start < 5s) {
    ASSERT_TRUE(worker->RunOnce(10ms).ok());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "the working endpoint waited for the others";
  ASSERT_EQ(receiver.count(), 1u);
  EXPECT_EQ(receiver.requests()[0].Header("x-ewarn-delivery"), "d-ok");
  while (Trail("d-ok").empty() || Trail("d-dead").empty()) ASSERT_TRUE(worker->RunOnce(10ms).ok());
  EXPECT_EQ(std::get<0>(Trail("d-dead")[0]), v1::Delivery::STATE_RETRYING);
  EXPECT_EQ(std::get<0>(Trail("d-ok")[0]), v1::Delivery::STATE_SENT);
  EXPECT_TRUE(Trail("d-hung").empty()) << "still waiting for its timeout";
  EXPECT_EQ(worker->stats().in_flight, 1);
}

// What was finished is learned from notify.deliveries, not from the worker's own store: a
// worker on a fresh state directory (another node) resumes after it, and a copy re-emitted by
// a rebuilt lifecycle stage (same origin) is not sent.
TEST_F(DeliveryWorkerTest, RestartAndReplayNeverResend) {
  Receiver receiver;
  v1::Delivery d = SampleDelivery("d-once", v1::Delivery::CHANNEL_WEBHOOK, receiver.url());
  testing::AppendOutbox(*log_, {d}, /*first_origin=*/0);
  {
    auto worker = Worker(Options());
    ASSERT_TRUE(worker->RunUntilIdle(10s).ok());
  }
  ASSERT_EQ(receiver.count(), 1u);
  state_.reset();
  state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("other-node"), .stores = DeliveryWorker::StoreNames()}))
               .value();
  testing::AppendOutbox(*log_, {d}, /*first_origin=*/0);
  auto worker = Worker(Options());
  ASSERT_TRUE(worker->RunUntilIdle(10s).ok());
  EXPECT_EQ(worker->stats().consumed, 1) << "resumed after the finished record";
  EXPECT_EQ(worker->stats().duplicates, 1);
  EXPECT_EQ(receiver.count(), 1u);
  EXPECT_EQ(Trail("d-once").size(), 1u);
}

// A finished record above an open one: the next owner starts at the open one (done_below)
// and skips the finished one; the retry keeps its attempt count.
TEST_F(DeliveryWorkerTest, TheNextOwnerSkipsWhatFinishedAboveAnOpenRetry) {
  Receiver receiver({500}, 200);
  Receiver other;
  DeliveryOptions options = Options();
  options.retry.initial_backoff = 60s;  // the first worker never retries
  v1::Delivery first = SampleDelivery("d-open", v1::Delivery::CHANNEL_WEBHOOK, receiver.url());
  v1::Delivery second = SampleDelivery("d-done", v1::Delivery::CHANNEL_WEBHOOK, other.url());
  testing::AppendOutbox(*log_, {first, second}, 0);
  {
    auto worker = Worker(options);
    while (Trail("d-open").empty() || Trail("d-done").empty()) ASSERT_TRUE(worker->RunOnce(10ms).ok());
  }
  ASSERT_EQ(receiver.count(), 1u);
  ASSERT_EQ(other.count(), 1u);
  auto outcomes = testing::Outcomes(*log_);
  ASSERT_EQ(outcomes.size(), 2u);
  for (const auto& e : outcomes) {
    EXPECT_EQ(e.delivery().progress().done_below(), 0) << "offset 0 is still open";
    EXPECT_EQ(e.delivery().progress().outbox_offset(), e.delivery().delivery_id() == "d-open" ? 0 : 1);
  }
  state_.reset();
  state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("other-node"), .stores = DeliveryWorker::StoreNames()}))
               .value();
  options.retry.initial_backoff = 20ms;
  auto worker = Worker(options);
  ASSERT_TRUE(worker->RunUntilIdle(10s).ok());
  EXPECT_EQ(worker->stats().consumed, 2);
  EXPECT_EQ(worker->stats().duplicates, 1);
  EXPECT_EQ(other.count(), 1u) << "d-done was not sent again";
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].Header("x-ewarn-delivery"), "d-open");
  using S = v1::Delivery;
  EXPECT_EQ(Trail("d-open"), (std::vector<std::tuple<S::State, int, int>>{{S::STATE_RETRYING, 1, 500},
                                                                           {S::STATE_SENT, 2, 200}}))
      << "the retry kept its attempt count";
  EXPECT_EQ(Trail("d-done").size(), 1u);
  EXPECT_EQ(testing::Outcomes(*log_).back().delivery().progress().done_below(), 2);
}

TEST_F(DeliveryWorkerTest, PendingRetriesSurviveARestart) {
  Receiver receiver({500}, 200);
  DeliveryOptions options = Options();
  options.retry.initial_backoff = 200ms;
  testing::AppendOutbox(*log_, {SampleDelivery("d-durable", v1::Delivery::CHANNEL_WEBHOOK, receiver.url())});
  {
    auto worker = Worker(options);
    while (Trail("d-durable").empty()) ASSERT_TRUE(worker->RunOnce(10ms).ok());
    EXPECT_EQ(worker->stats().queued, 1);
  }  // stopped before the retry was due
  ASSERT_EQ(receiver.count(), 1u);
  OpenState();
  auto worker = Worker(options);
  ASSERT_TRUE(worker->RunUntilIdle(10s).ok());
  EXPECT_EQ(worker->stats().consumed, 1) << "the open record was read again from the outbox";
  EXPECT_EQ(receiver.count(), 2u);
  using S = v1::Delivery;
  EXPECT_EQ(Trail("d-durable"), (std::vector<std::tuple<S::State, int, int>>{{S::STATE_RETRYING, 1, 500},
                                                                              {S::STATE_SENT, 2, 200}}));
}

// kill -9 while a send is on the wire: no outcome says it finished, so the restarted worker
// reads it again from the outbox and sends it again, under the same idempotency key.
TEST_F(DeliveryWorkerTest, ACrashDuringASendLosesNothing) {
  Receiver receiver;
  receiver.set_delay(800ms);  // the first request is still unanswered when the worker dies
  testing::AppendOutbox(*log_, {SampleDelivery("d-crash", v1::Delivery::CHANNEL_WEBHOOK, receiver.url())});
  state_.reset();
  log_.reset();
  {
    ewarn::testing::ChildProcess worker({ALERTS_CRASH_WORKER, dir_.Sub("log"), dir_.Sub("state")});
    ASSERT_TRUE(worker.started());
    auto line = worker.ReadLine(10s);
    ASSERT_TRUE(line && *line == "in-flight") << "the worker process did not start a send";
    ASSERT_TRUE(receiver.WaitFor(1, 5s));
    worker.Kill9();
    EXPECT_EQ(worker.Wait(), 128 + SIGKILL);
  }
  ASSERT_EQ(receiver.count(), 1u);
  receiver.set_delay(0ms);

  log_ = std::move(store::OpenEmbeddedLog({.dir = dir_.Sub("log")})).value();
  OpenState();
  EXPECT_TRUE(Trail("d-crash").empty()) << "the worker died before any outcome";
  DeliveryOptions options = Options();
  options.timeouts.io = 5000ms;  // the receiver finishes the dead worker's request first
  auto worker = Worker(options);
  ASSERT_TRUE(worker->RunUntilIdle(10s).ok());
  EXPECT_EQ(worker->stats().consumed, 1) << "the open record was read again from the outbox";
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Header("x-ewarn-delivery"), "d-crash");
  EXPECT_EQ(requests[1].Header("x-ewarn-delivery"), "d-crash");
  using S = v1::Delivery;
  EXPECT_EQ(Trail("d-crash"), (std::vector<std::tuple<S::State, int, int>>{{S::STATE_SENT, 1, 200}}));
}

TEST_F(DeliveryWorkerTest, EachChannelIsRoutedAndMisconfiguredOnesFail) {
  Receiver receiver;
  v1::Delivery unknown = SampleDelivery("d-none", v1::Delivery::CHANNEL_UNSPECIFIED, "x");
  testing::AppendOutbox(*log_, {SampleDelivery("d-cap", v1::Delivery::CHANNEL_CAP, receiver.url("/cap")),
                                SampleDelivery("d-sms", v1::Delivery::CHANNEL_SMS, "+2348000000002"), unknown});
  auto worker = Worker(Options());  // no sendsms URL configured
  ASSERT_TRUE(worker->RunUntilIdle(10s).ok());
  ASSERT_EQ(receiver.count(), 1u);
  EXPECT_EQ(receiver.requests()[0].Header("content-type"), "application/cap+xml");
  EXPECT_EQ(std::get<0>(Trail("d-cap").at(0)), v1::Delivery::STATE_SENT);
  ASSERT_EQ(Trail("d-sms").size(), 1u);
  EXPECT_EQ(std::get<0>(Trail("d-sms")[0]), v1::Delivery::STATE_FAILED);
  ASSERT_EQ(Trail("d-none").size(), 1u);
  EXPECT_EQ(std::get<0>(Trail("d-none")[0]), v1::Delivery::STATE_FAILED);
  for (const auto& e : testing::Outcomes(*log_)) {
    if (e.delivery().delivery_id() == "d-sms") {
      EXPECT_EQ(e.header().channel(), "delivery/sms");
      EXPECT_NE(e.delivery().error().find("no sendsms URL"), std::string::npos) << e.delivery().error();
    }
  }
}

TEST_F(DeliveryWorkerTest, RecordsThatAreNotDeliveriesAreSkipped) {
  Receiver receiver;
  ASSERT_TRUE(log_->CreateTopic({.name = "notify.outbox", .partitions = 1}).ok());
  std::vector<store::OutRecord> junk = {{.topic = "notify.outbox", .key = "x", .value = "not an event"}};
  ASSERT_TRUE(log_->Append(junk).ok());
  testing::AppendOutbox(*log_, {SampleDelivery("d-after-junk", v1::Delivery::CHANNEL_WEBHOOK, receiver.url())});
  auto worker = Worker(Options());
  ASSERT_TRUE(worker->RunUntilIdle(10s).ok());
  EXPECT_EQ(worker->stats().skipped, 1);
  EXPECT_EQ(receiver.count(), 1u);
}

}  // namespace
}  // namespace ewarn::alerts
