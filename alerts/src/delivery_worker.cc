// DeliveryWorker: outbox -> channels -> outcome events, with a durable retry queue.
//
// One loop step (RunOnce):
//   1. poll notify.outbox; every new delivery id (not finished, not queued) enters the queue
//      with due = now;
//   2. collect the sends that finished; each gives an outcome event and either a finished
//      mark (SENT, FAILED) or a rescheduled queue entry (RETRYING, due = now + backoff);
//   3. commit, in one StateStore batch: consumed offsets, queue changes, finished marks and
//      the outcome events (the state store's outbox), then append the events to
//      notify.deliveries;
//   4. start due queue entries as concurrent sends (std::async, at most max_in_flight).
// Sends start only after the queue entry that describes them is committed (step 4 follows 3),
// so a crash never loses a delivery: it is re-read from the queue and sent again. Each send
// is bounded by its channel's timeouts and runs on its own thread, so a slow or unreachable
// endpoint occupies one slot while the loop keeps consuming and sending to others. Threads
// per send keep this simple; max_in_flight bounds them.
#include "ewarn/alerts/delivery_worker.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <future>
#include <map>
#include <thread>

#include "ewarn/base/bytes.h"
#include "ewarn/schemas/events.h"
#include "format.h"

namespace ewarn::alerts {
namespace {

constexpr char kDoneStore[] = "delivery";
constexpr char kQueueStore[] = "delivery_queue";

struct Queued {
  v1::Delivery delivery;  // attempt = attempts made so far
  TimeMs due = 0;
};

std::string EncodeQueued(const Queued& q) {
  std::string out;
  PutBigEndian64(&out, static_cast<uint64_t>(q.due));
  q.delivery.AppendToString(&out);
  return out;
}

Result<Queued> DecodeQueued(std::string_view bytes) {
  Queued q;
  if (bytes.size() < 8 || !q.delivery.ParseFromArray(bytes.data() + 8, static_cast<int>(bytes.size() - 8))) {
    return Status::Corruption("delivery queue entry does not decode");
  }
  q.due = static_cast<TimeMs>(GetBigEndian64(bytes));
  return q;
}

struct Attempt {
  SendOutcome outcome;
  TimeMs started_ms = 0;
  double seconds = 0;
};

// --- metrics ---

struct Probe {
  explicit Probe(prometheus::Registry& r)
      : deliveries(prometheus::BuildCounter()
                       .Name("ewarn_alerts_deliveries_total")
                       .Help("Delivery attempts by channel and outcome (sent, retrying, failed)")
                       .Register(r)),
        failures(prometheus::BuildCounter()
                     .Name("ewarn_alerts_delivery_failures_total")
                     .Help("Delivery attempts that did not succeed (retryable or permanent), by channel")
                     .Register(r)),
        seconds(prometheus::BuildHistogram()
                    .Name("ewarn_alerts_delivery_seconds")
                    .Help("Duration of one delivery attempt (connect to answer)")
                    .Register(r)) {}
  prometheus::Family<prometheus::Counter>& deliveries;
  prometheus::Family<prometheus::Counter>& failures;
  prometheus::Family<prometheus::Histogram>& seconds;

  void Record(std::string_view channel, std::string_view outcome, double secs) {
    deliveries.Add({{"channel", std::string(channel)}, {"outcome", std::string(outcome)}}).Increment();
    if (outcome != "sent") failures.Add({{"channel", std::string(channel)}}).Increment();
    seconds
        .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
        .Observe(secs);
  }
};

}  // namespace

// --- the worker ---

struct DeliveryWorker::Impl final : store::RebalanceListener {
  Impl(store::EventLog& log, store::StateStore& state, DeliveryOptions options, prometheus::Registry* registry)
      : log_(log),
        state_(state),
        options_(std::move(options)),
        clock_(options_.clock ? *options_.clock : system_clock_),
        probe_(registry ? std::make_unique<Probe>(*registry) : nullptr) {
    WebhookOptions web{.secret = options_.webhook_secret, .timeouts = options_.timeouts,
                       .clock = options_.clock, .cap_sender = options_.cap_sender,
                       .ca_file = options_.webhook_ca_file};
    channels_[v1::Delivery::CHANNEL_WEBHOOK] = MakeWebhookChannel(web, false);
    channels_[v1::Delivery::CHANNEL_CAP] = MakeWebhookChannel(web, true);
    channels_[v1::Delivery::CHANNEL_SMS] = MakeSmsChannel({.sendsms_url = options_.sms_url,
                                                           .username = options_.sms_username,
                                                           .password = options_.sms_password,
                                                           .from = options_.sms_from,
                                                           .timeouts = options_.timeouts});
    channels_[v1::Delivery::CHANNEL_EMAIL] = MakeEmailChannel({.host = options_.smtp_host,
                                                               .port = options_.smtp_port,
                                                               .from = options_.smtp_from,
                                                               .timeouts = options_.timeouts,
                                                               .clock = options_.clock});
  }

  // Offsets come from the worker's own state store, committed with the queue (not Kafka's).
  std::vector<int64_t> OnAssigned(const std::vector<store::TopicPartition>& parts) override {
    std::vector<int64_t> starts;
    for (const auto& tp : parts) {
      auto committed = state_.CommittedOffset(tp);
      if (!committed.ok() && deferred_.ok()) deferred_ = committed.status();
      starts.push_back(committed.ok() && committed->has_value() ? **committed : 0);
    }
    return starts;
  }
  // Every RunOnce commits what it consumed before returning, so nothing is left to commit.
  void OnRevoked(const std::vector<store::TopicPartition>&) override {}

  Status Load() {
    Status bad;
    RETURN_IF_ERROR(state_.Scan(kQueueStore, "", [&](std::string_view key, std::string_view value) {
      Result<Queued> q = DecodeQueued(value);
      if (!q.ok()) {
        bad = q.status().WithContext("delivery_queue key '" + std::string(key) + "'");
        return false;
      }
      queue_.emplace(std::string(key), std::move(*q));
      return true;
    }));
    return bad;
  }

  Status PublishPending() {
    while (true) {
      ASSIGN_OR_RETURN(std::vector<store::OutboxEntry> pending, state_.PendingOutbox(1000));
      if (pending.empty()) return Status::Ok();
      RETURN_IF_ERROR(Publish(std::move(pending)));
    }
  }

  Status Publish(std::vector<store::OutboxEntry> entries) {
    if (entries.empty()) return Status::Ok();
    std::vector<store::OutRecord> records;
    std::vector<uint64_t> sequences;
    for (auto& e : entries) {
      records.push_back(std::move(e.record));
      sequences.push_back(e.sequence);
    }
    ASSIGN_OR_RETURN(auto positions, log_.Append(records));
    (void)positions;
    return state_.MarkPublished(sequences);
  }

  Status RunOnce(std::chrono::milliseconds poll_timeout) {
    RETURN_IF_ERROR(deferred_);
    // Do not sleep in Poll past the next due retry or while sends may finish.
    TimeMs now = clock_.NowMs();
    auto wait = poll_timeout;
    if (!in_flight_.empty()) wait = std::min(wait, std::chrono::milliseconds(5));
    for (const auto& [id, q] : queue_) {
      if (!in_flight_.contains(id)) wait = std::min(wait, std::chrono::milliseconds(std::max<TimeMs>(0, q.due - now)));
    }
    ASSIGN_OR_RETURN(std::vector<store::LogRecord> records, consumer_->Poll(wait));
    last_poll_records_ = records.size();
    RETURN_IF_ERROR(deferred_);

    store::CommitBatch batch;
    for (const auto& record : records) {
      batch.SetOffset({record.topic, record.partition}, record.offset + 1);
      RETURN_IF_ERROR(Accept(record, batch));
    }
    RETURN_IF_ERROR(Collect(batch));
    if (!batch.empty()) {
      ASSIGN_OR_RETURN(std::vector<store::OutboxEntry> outputs, state_.Commit(std::move(batch)));
      RETURN_IF_ERROR(Publish(std::move(outputs)));
    }
    StartDue();
    return Status::Ok();
  }

  // A new outbox record: queue it unless its delivery id is finished or already queued.
  Status Accept(const store::LogRecord& record, store::CommitBatch& batch) {
    ++stats_.consumed;
    Result<v1::Event> event = schemas::DecodeEvent(record.value);
    if (!event.ok() || !event->has_delivery() || event->delivery().delivery_id().empty()) {
      // Not ours to judge further: the lifecycle stage writes this topic. Counted and skipped.
      ++stats_.skipped;
      return Status::Ok();
    }
    const v1::Delivery& d = event->delivery();
    if (queue_.contains(d.delivery_id())) {
      ++stats_.duplicates;
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(std::optional<std::string> done, state_.Get(kDoneStore, d.delivery_id()));
    if (done) {
      ++stats_.duplicates;
      return Status::Ok();
    }
    Queued q{.delivery = d, .due = clock_.NowMs()};
    q.delivery.set_attempt(0);
    batch.Put(kQueueStore, d.delivery_id(), EncodeQueued(q));
    queue_.emplace(d.delivery_id(), std::move(q));
    return Status::Ok();
  }

  // Finished sends -> outcome events, finished marks, rescheduled retries.
  Status Collect(store::CommitBatch& batch) {
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      if (it->second.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        ++it;
        continue;
      }
      Attempt attempt = it->second.get();
      Apply(it->first, attempt, batch);
      it = in_flight_.erase(it);
    }
    return Status::Ok();
  }

  void Apply(const std::string& id, const Attempt& attempt, store::CommitBatch& batch) {
    auto qit = queue_.find(id);
    if (qit == queue_.end()) return;  // cannot happen: only queued ids are sent
    Queued& q = qit->second;
    q.delivery.set_attempt(q.delivery.attempt() + 1);
    const int n = q.delivery.attempt();
    v1::Delivery outcome = q.delivery;
    outcome.set_error(attempt.outcome.error);
    outcome.set_sent_ms(attempt.started_ms);
    outcome.set_http_status(attempt.outcome.http_status);
    std::string_view label;
    bool finished = true;
    if (attempt.outcome.kind == SendOutcome::Kind::kSent) {
      outcome.set_state(v1::Delivery::STATE_SENT);
      label = "sent";
      ++stats_.sent;
    } else if (attempt.outcome.kind == SendOutcome::Kind::kRetryable && n < options_.retry.max_attempts) {
      outcome.set_state(v1::Delivery::STATE_RETRYING);
      label = "retrying";
      finished = false;
      ++stats_.retried;
    } else {
      outcome.set_state(v1::Delivery::STATE_FAILED);
      if (attempt.outcome.kind == SendOutcome::Kind::kRetryable) {
        outcome.set_error("gave up after " + std::to_string(n) + " attempts: " + attempt.outcome.error);
      }
      label = "failed";
      ++stats_.failed;
    }
    std::string_view channel = ChannelName(q.delivery.channel());
    if (probe_) probe_->Record(channel, label, attempt.seconds);

    // The outcome event carries the alerts' ids and kinds, not their whole content.
    for (auto& a : *outcome.mutable_alerts()) {
      v1::AlertEvent slim;
      slim.set_alert_id(a.alert_id());
      slim.set_kind(a.kind());
      a = std::move(slim);
    }
    v1::Event event;
    auto* h = event.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id(id + ":" + std::to_string(n));
    h->set_event_time_ms(attempt.started_ms);
    h->set_received_time_ms(clock_.NowMs());
    h->set_source(v1::SOURCE_PROCESSOR);
    h->set_channel("delivery/" + std::string(channel));
    *event.mutable_delivery() = outcome;
    batch.AddOutput({.topic = std::string(schemas::topic::kDeliveries),
                     .key = id,
                     .value = schemas::EncodeEvent(event),
                     .timestamp_ms = attempt.started_ms});

    if (finished) {
      v1::Delivery mark = outcome;  // the final state, without the alerts
      mark.clear_alerts();
      batch.Put(kDoneStore, id, mark.SerializeAsString());
      batch.Delete(kQueueStore, id);
      queue_.erase(qit);
    } else {
      q.due = clock_.NowMs() + Backoff(n).count();
      batch.Put(kQueueStore, id, EncodeQueued(q));
    }
  }

  // initial * 2^(attempt-1), capped.
  std::chrono::milliseconds Backoff(int attempt) const {
    auto b = options_.retry.initial_backoff;
    for (int i = 1; i < attempt && b < options_.retry.max_backoff; ++i) b *= 2;
    return std::min(b, options_.retry.max_backoff);
  }

  void StartDue() {
    TimeMs now = clock_.NowMs();
    std::vector<std::pair<TimeMs, const std::string*>> due;
    for (const auto& [id, q] : queue_) {
      if (q.due <= now && !in_flight_.contains(id)) due.emplace_back(q.due, &id);
    }
    std::sort(due.begin(), due.end());
    for (const auto& [when, id] : due) {
      if (static_cast<int>(in_flight_.size()) >= std::max(1, options_.max_in_flight)) break;
      const v1::Delivery& d = queue_.at(*id).delivery;
      auto cit = channels_.find(d.channel());
      Channel* channel = cit == channels_.end() ? nullptr : cit->second.get();
      // The clock is read here, on the worker's thread (a ManualClock is not thread-safe).
      TimeMs started_ms = clock_.NowMs();
      in_flight_.emplace(*id, std::async(std::launch::async, [channel, d, started_ms] {
        Attempt a;
        a.started_ms = started_ms;
        auto start = std::chrono::steady_clock::now();
        a.outcome = channel ? channel->Send(d)
                            : SendOutcome::Permanent("no channel for " + std::string(ChannelName(d.channel())));
        a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return a;
      }));
    }
  }

  // Waits for every send in flight and commits their outcomes.
  Status Drain() {
    for (auto& [id, f] : in_flight_) f.wait();
    store::CommitBatch batch;
    RETURN_IF_ERROR(Collect(batch));
    if (batch.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(std::vector<store::OutboxEntry> outputs, state_.Commit(std::move(batch)));
    return Publish(std::move(outputs));
  }

  bool Idle() const { return in_flight_.empty() && queue_.empty() && last_poll_records_ == 0; }

  store::EventLog& log_;
  store::StateStore& state_;
  DeliveryOptions options_;
  SystemClock system_clock_;
  const Clock& clock_;
  std::unique_ptr<Probe> probe_;
  std::map<v1::Delivery::Channel, std::unique_ptr<Channel>> channels_;
  std::unique_ptr<store::Consumer> consumer_;
  Status deferred_;                       // an error seen inside the rebalance callback
  std::map<std::string, Queued> queue_;   // delivery id -> pending (mirrors delivery_queue)
  std::map<std::string, std::future<Attempt>> in_flight_;
  size_t last_poll_records_ = 1;
  DeliveryStats stats_;
};

DeliveryWorker::DeliveryWorker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DeliveryWorker::~DeliveryWorker() {
  (void)impl_->Drain();
  if (impl_->consumer_) (void)impl_->consumer_->Close();
}

std::vector<std::string> DeliveryWorker::StoreNames() { return {kDoneStore, kQueueStore}; }

Result<std::unique_ptr<DeliveryWorker>> DeliveryWorker::Make(store::EventLog& log, store::StateStore& state,
                                                             DeliveryOptions options,
                                                             prometheus::Registry* registry) {
  if (options.group.empty()) return Status::InvalidArgument("delivery: no consumer group");
  if (options.retry.max_attempts < 1) return Status::InvalidArgument("delivery: max_attempts must be >= 1");
  for (auto [topic, partitions] : {std::pair{schemas::topic::kOutbox, options.outbox_partitions},
                                   std::pair{schemas::topic::kDeliveries, options.deliveries_partitions}}) {
    Result<int32_t> count = log.PartitionCount(topic);
    if (count.ok()) continue;
    if (count.status().code() != StatusCode::kNotFound) return count.status();
    RETURN_IF_ERROR(log.CreateTopic({.name = std::string(topic), .partitions = partitions}));
  }
  auto impl = std::make_unique<Impl>(log, state, std::move(options), registry);
  // Outcome events committed before a crash but not yet appended go out first.
  RETURN_IF_ERROR(impl->PublishPending());
  RETURN_IF_ERROR(impl->Load());
  ASSIGN_OR_RETURN(impl->consumer_, log.Subscribe({.group = impl->options_.group,
                                                    .topics = {std::string(schemas::topic::kOutbox)},
                                                    .listener = impl.get(),
                                                    .max_batch = 1000}));
  return std::unique_ptr<DeliveryWorker>(new DeliveryWorker(std::move(impl)));
}

Status DeliveryWorker::RunOnce(std::chrono::milliseconds poll_timeout) { return impl_->RunOnce(poll_timeout); }

Status DeliveryWorker::Run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    Status st = impl_->RunOnce(std::chrono::milliseconds(100));
    if (!st.ok()) {
      (void)impl_->Drain();
      return st;
    }
  }
  return impl_->Drain();
}

Status DeliveryWorker::RunUntilIdle(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    RETURN_IF_ERROR(impl_->RunOnce(std::chrono::milliseconds(20)));
    if (impl_->Idle()) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::ResourceExhausted("delivery: not idle after " + std::to_string(timeout.count()) + " ms (" +
                                       std::to_string(impl_->in_flight_.size()) + " in flight, " +
                                       std::to_string(impl_->queue_.size()) + " queued)");
    }
  }
}

DeliveryStats DeliveryWorker::stats() const {
  DeliveryStats s = impl_->stats_;
  s.in_flight = static_cast<int64_t>(impl_->in_flight_.size());
  s.queued = static_cast<int64_t>(impl_->queue_.size()) - s.in_flight;
  return s;
}

void DeliveryWorker::SetChannel(v1::Delivery::Channel channel, std::unique_ptr<Channel> impl) {
  impl_->channels_[channel] = std::move(impl);
}

}  // namespace ewarn::alerts
