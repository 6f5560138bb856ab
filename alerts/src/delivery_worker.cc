// DeliveryWorker: outbox -> channels -> outcome events, resuming where the group left off.
//
// One loop step (RunOnce):
//   1. poll notify.outbox; a record that is not a re-emitted copy (origin at or below the
//      highest seen from its source), not finished before (learned from notify.deliveries) and
//      whose delivery id is not queued enters the queue with due = now;
//   2. collect the sends that finished; each gives an outcome event, carrying the outbox
//      position and the partition's done_below mark, and either finishes the record (SENT,
//      FAILED) or reschedules it (RETRYING, due = now + backoff);
//   3. commit the outcome events to the state store's outbox, then append them to
//      notify.deliveries (on the partition numbered like the outbox's, modulo its count);
//   4. start due queue entries as concurrent sends (std::async, at most max_in_flight).
// Nothing is committed as consumed: a worker newly assigned an outbox partition (start,
// restart, rebalance) reads that partition's outcomes in notify.deliveries to their end, starts
// at done_below, and skips the records finished above it. A crash re-reads what was open
// (queued, retrying, in flight), so nothing is lost and only the sends on the wire repeat.
// On revocation the worker first waits for that partition's sends and publishes their
// outcomes, so a clean rebalance repeats nothing.
// State is bounded by the open window: per partition, the records from done_below to the read
// position (their origins and whether they are finished), not the history.
#include "ewarn/alerts/delivery_worker.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "ewarn/schemas/events.h"
#include "format.h"

namespace ewarn::alerts {
namespace {

// Kept so that state directories of earlier versions open; nothing is written to them now
// (what was finished lives in notify.deliveries, retries are re-read from notify.outbox).
constexpr char kDoneStore[] = "delivery";
constexpr char kQueueStore[] = "delivery_queue";

// A source partition of outbox records (origin topic, partition) and a position in it.
using Source = std::pair<std::string, int32_t>;
using OriginPos = std::pair<int64_t, int32_t>;  // (offset, index): compares like the log
using Origins = std::map<Source, OriginPos>;

Origins FromProto(const google::protobuf::RepeatedPtrField<v1::OriginHigh>& highs) {
  Origins out;
  for (const auto& h : highs) out[{h.topic(), h.partition()}] = {h.offset(), h.index()};
  return out;
}

void Raise(Origins& into, const Source& source, OriginPos pos) {
  auto [it, inserted] = into.emplace(source, pos);
  if (!inserted && it->second < pos) it->second = pos;
}

// What notify.deliveries says about one outbox partition, folded from its outcome events.
// Every outcome says which outbox record it is for and what its writer knew to be done below;
// folding keeps the greatest such mark and the finished records above it, so it is bounded by
// the last owner's open window, not by the history.
struct Learned {
  int64_t done_below = 0;
  Origins origins_below;                            // highest origin per source before done_below
  std::map<int64_t, std::string> finished_above;    // outbox offset -> delivery id (SENT/FAILED)
  std::map<int64_t, std::pair<int, TimeMs>> retrying_above;  // offset -> (attempts, when recorded)
  int64_t deliveries_next = 0;                      // next notify.deliveries offset to fold

  void Fold(const v1::Delivery& outcome, TimeMs recorded_ms) {
    const v1::DeliveryProgress& p = outcome.progress();
    if (p.done_below() > done_below) {
      done_below = p.done_below();
      // origins_below is a function of done_below (of the outbox before it), so the writer
      // with the greater mark knows a superset: take its map, keeping any higher entry.
      for (const auto& [source, pos] : FromProto(p.origins_below())) Raise(origins_below, source, pos);
      finished_above.erase(finished_above.begin(), finished_above.lower_bound(done_below));
      retrying_above.erase(retrying_above.begin(), retrying_above.lower_bound(done_below));
    }
    if (p.outbox_offset() < done_below) return;
    if (outcome.state() == v1::Delivery::STATE_SENT || outcome.state() == v1::Delivery::STATE_FAILED) {
      finished_above[p.outbox_offset()] = outcome.delivery_id();
      retrying_above.erase(p.outbox_offset());
    } else if (outcome.state() == v1::Delivery::STATE_RETRYING && !finished_above.contains(p.outbox_offset())) {
      auto& [attempts, when] = retrying_above[p.outbox_offset()];
      if (outcome.attempt() >= attempts) {
        attempts = outcome.attempt();
        when = recorded_ms;
      }
    }
  }
};

// An outbox partition this worker owns: the records from done_below to the read position.
struct Owned {
  struct Slot {
    std::optional<std::pair<Source, OriginPos>> origin;  // of a record accepted for sending
    bool open = false;                                   // queued, retrying or in flight
    std::string delivery_id;                             // of a record accepted for sending
  };
  Learned learned;       // as read at assignment
  int64_t next = 0;      // next outbox offset expected
  Origins origins_read;  // highest origin per source among the records before `next`
  int64_t done_below = 0;
  Origins origins_below;
  std::map<int64_t, Slot> window;                       // offsets in [done_below, next)
  std::unordered_map<std::string, int64_t> window_ids;  // delivery id -> offset, in the window

  // Moves done_below past the records that are no longer open.
  void Advance() {
    while (!window.empty() && !window.begin()->second.open) {
      const Slot& slot = window.begin()->second;
      if (slot.origin) Raise(origins_below, slot.origin->first, slot.origin->second);
      if (!slot.delivery_id.empty()) {
        auto it = window_ids.find(slot.delivery_id);
        if (it != window_ids.end() && it->second == window.begin()->first) window_ids.erase(it);
      }
      window.erase(window.begin());
    }
    done_below = window.empty() ? next : window.begin()->first;
  }
};

struct Queued {
  v1::Delivery delivery;  // attempt = attempts made so far
  TimeMs due = 0;
  int32_t partition = 0;  // where it is in notify.outbox
  int64_t offset = 0;
};

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

  // The notify.deliveries partition that holds the outcomes of outbox partition `p`.
  int32_t DeliveriesPartition(int32_t p) const { return p % deliveries_partitions_; }

  // A newly assigned partition starts at done_below, as notify.deliveries tells it.
  std::vector<int64_t> OnAssigned(const std::vector<store::TopicPartition>& parts) override {
    std::vector<int64_t> starts;
    for (const auto& tp : parts) {
      Learned& learned = learned_[tp.partition];
      Status st = Learn(tp.partition, learned);
      if (!st.ok() && deferred_.ok()) deferred_ = st.WithContext("learning " + tp.ToString() + "'s deliveries");
      Owned owned;
      owned.learned = learned;
      owned.next = owned.done_below = learned.done_below;
      owned.origins_read = owned.origins_below = learned.origins_below;
      owned_[tp.partition] = std::move(owned);
      starts.push_back(learned.done_below);
    }
    return starts;
  }

  // Folds `partition`'s outcome events from notify.deliveries, up to its end, into `learned`.
  Status Learn(int32_t partition, Learned& learned) {
    const store::TopicPartition dtp{std::string(schemas::topic::kDeliveries), DeliveriesPartition(partition)};
    ASSIGN_OR_RETURN(store::PartitionOffsets offsets, log_.Offsets(dtp));
    learned.deliveries_next = std::max(learned.deliveries_next, offsets.start);
    while (learned.deliveries_next < offsets.end) {
      ASSIGN_OR_RETURN(std::vector<store::LogRecord> records, log_.Read(dtp, learned.deliveries_next, 5000));
      if (records.empty()) break;
      for (const auto& r : records) {
        learned.deliveries_next = r.offset + 1;
        Result<v1::Event> event = schemas::DecodeEvent(r.value);
        if (!event.ok() || !event->has_delivery() || !event->delivery().has_progress()) continue;
        if (event->delivery().progress().outbox_partition() != partition) continue;
        learned.Fold(event->delivery(), event->header().received_time_ms());
      }
    }
    return Status::Ok();
  }

  // Before partitions leave: their sends finish and their outcomes are published, so the next
  // owner learns them. Queue entries of those partitions are dropped (the next owner re-reads
  // them from the outbox).
  void OnRevoked(const std::vector<store::TopicPartition>& parts) override {
    std::set<int32_t> leaving;
    for (const auto& tp : parts) leaving.insert(tp.partition);
    for (auto& [id, f] : in_flight_) {
      if (leaving.contains(queue_.at(id).partition)) f.wait();
    }
    store::CommitBatch batch;
    Collect(batch);
    Status st = CommitAndPublish(std::move(batch));
    if (!st.ok() && deferred_.ok()) deferred_ = st.WithContext("publishing outcomes before a rebalance");
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (leaving.contains(it->second.partition) && !in_flight_.contains(it->first)) {
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    for (int32_t p : leaving) owned_.erase(p);
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

  Status CommitAndPublish(store::CommitBatch batch) {
    if (batch.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(std::vector<store::OutboxEntry> outputs, state_.Commit(std::move(batch)));
    return Publish(std::move(outputs));
  }

  Status RunOnce(std::chrono::milliseconds poll_timeout) {
    RETURN_IF_ERROR(std::exchange(deferred_, Status::Ok()));
    // Do not sleep in Poll past the next due retry or while sends may finish.
    TimeMs now = clock_.NowMs();
    auto wait = poll_timeout;
    if (!in_flight_.empty()) wait = std::min(wait, std::chrono::milliseconds(5));
    for (const auto& [id, q] : queue_) {
      if (!in_flight_.contains(id)) wait = std::min(wait, std::chrono::milliseconds(std::max<TimeMs>(0, q.due - now)));
    }
    ASSIGN_OR_RETURN(std::vector<store::LogRecord> records, consumer_->Poll(wait));
    last_poll_records_ = records.size();
    RETURN_IF_ERROR(std::exchange(deferred_, Status::Ok()));

    for (const auto& record : records) RETURN_IF_ERROR(Accept(record));
    store::CommitBatch batch;
    Collect(batch);
    RETURN_IF_ERROR(CommitAndPublish(std::move(batch)));
    StartDue();
    return Status::Ok();
  }

  // A new outbox record: queued unless it is a re-emitted copy, finished before, or its
  // delivery id is already queued or finished in the window.
  Status Accept(const store::LogRecord& record) {
    auto oit = owned_.find(record.partition);
    if (oit == owned_.end()) return Status::Ok();  // fetched before the partition left
    Owned& owned = oit->second;
    if (record.offset < owned.next) return Status::Ok();  // read twice around a rebalance
    if (record.offset > owned.next) {
      // Only retention may leave a gap; anything else was fetched before this assignment and
      // comes again from `next`.
      ASSIGN_OR_RETURN(store::PartitionOffsets offsets, log_.Offsets({record.topic, record.partition}));
      if (record.offset > offsets.start) return Status::Ok();
    }
    owned.next = record.offset + 1;
    ++stats_.consumed;
    Owned::Slot& slot = owned.window[record.offset];
    Judge(owned, record, slot);
    owned.Advance();
    return Status::Ok();
  }

  void Judge(Owned& owned, const store::LogRecord& record, Owned::Slot& slot) {
    Result<v1::Event> event = schemas::DecodeEvent(record.value);
    if (!event.ok() || !event->has_delivery() || event->delivery().delivery_id().empty()) {
      // Not ours to judge further: the lifecycle stage writes this topic. Counted and skipped.
      ++stats_.skipped;
      return;
    }
    const v1::Delivery& d = event->delivery();
    if (event->header().has_origin()) {
      const v1::Origin& o = event->header().origin();
      Source source{o.topic(), o.partition()};
      OriginPos pos{o.offset(), o.index()};
      auto high = owned.origins_read.find(source);
      if (high != owned.origins_read.end() && pos <= high->second) {
        ++stats_.duplicates;  // a rebuilt processor republished it
        return;
      }
      owned.origins_read[source] = pos;
      slot.origin = std::pair{source, pos};
    }
    if (owned.window_ids.contains(d.delivery_id())) {
      ++stats_.duplicates;  // the same delivery twice in the window
      return;
    }
    slot.delivery_id = d.delivery_id();
    owned.window_ids[d.delivery_id()] = record.offset;
    if (owned.learned.finished_above.contains(record.offset)) {
      ++stats_.duplicates;  // finished by an earlier owner
      return;
    }
    if (queue_.contains(d.delivery_id())) {  // queued from another partition
      ++stats_.duplicates;
      return;
    }
    Queued q{.delivery = d, .due = clock_.NowMs(), .partition = record.partition, .offset = record.offset};
    q.delivery.set_attempt(0);
    q.delivery.clear_progress();
    // A retry an earlier owner scheduled keeps its attempt count and its backoff.
    auto retrying = owned.learned.retrying_above.find(record.offset);
    if (retrying != owned.learned.retrying_above.end()) {
      auto [attempts, when] = retrying->second;
      q.delivery.set_attempt(attempts);
      q.due = when + Backoff(attempts).count();
    }
    slot.open = true;
    queue_.emplace(d.delivery_id(), std::move(q));
  }

  // Finished sends -> outcome events, finished records, rescheduled retries.
  void Collect(store::CommitBatch& batch) {
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      if (it->second.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        ++it;
        continue;
      }
      Attempt attempt = it->second.get();
      Apply(it->first, attempt, batch);
      it = in_flight_.erase(it);
    }
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

    // Where the partition stands once this record is (or is not yet) finished. A partition
    // revoked meanwhile (its sends were waited for first) cannot be missing here.
    v1::DeliveryProgress* progress = outcome.mutable_progress();
    progress->set_outbox_partition(q.partition);
    progress->set_outbox_offset(q.offset);
    auto oit = owned_.find(q.partition);
    if (oit != owned_.end()) {
      Owned& owned = oit->second;
      if (finished) {
        auto slot = owned.window.find(q.offset);
        if (slot != owned.window.end()) slot->second.open = false;
        owned.Advance();
      }
      progress->set_done_below(owned.done_below);
      for (const auto& [source, pos] : owned.origins_below) {
        v1::OriginHigh* h = progress->add_origins_below();
        h->set_topic(source.first);
        h->set_partition(source.second);
        h->set_offset(pos.first);
        h->set_index(pos.second);
      }
    }

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
                     .timestamp_ms = attempt.started_ms,
                     .partition = DeliveriesPartition(q.partition)});

    if (finished) {
      queue_.erase(qit);
    } else {
      q.due = clock_.NowMs() + Backoff(n).count();
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

  // Waits for every send in flight and publishes their outcomes.
  Status Drain() {
    for (auto& [id, f] : in_flight_) f.wait();
    store::CommitBatch batch;
    Collect(batch);
    return CommitAndPublish(std::move(batch));
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
  int32_t deliveries_partitions_ = 1;
  Status deferred_;                       // an error seen inside the rebalance callback
  std::map<int32_t, Learned> learned_;    // outbox partition -> folded outcomes (kept on revoke)
  std::map<int32_t, Owned> owned_;        // outbox partitions assigned now
  std::map<std::string, Queued> queue_;   // delivery id -> pending
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
  ASSIGN_OR_RETURN(impl->deliveries_partitions_, log.PartitionCount(schemas::topic::kDeliveries));
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
