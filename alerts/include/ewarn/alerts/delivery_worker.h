// ewarn::alerts::DeliveryWorker: sends what the alert lifecycle put in notify.outbox.
//
// It reads ewarn.v1.Event{Delivery} records from notify.outbox (consumer group ewarn-delivery;
// any number of workers, in one process or many, share the partitions), sends each over its
// channel, and appends every attempt's outcome (SENT / RETRYING / FAILED) to notify.deliveries,
// with the outbox position it is for and the partition's done_below mark. Guarantees, across
// every worker of the group:
//   - a worker assigned an outbox partition first reads that partition's outcomes in
//     notify.deliveries to their end, then starts at done_below and skips the records finished
//     above it: an outbox record that finished (sent or permanently failed) is not sent again
//     after a restart, a rebalance or a move to another node;
//   - a record re-emitted by a rebuilt processor (origin at or below the highest already read
//     from its source partition) and a delivery id repeated in the open window are not sent;
//   - retryable failures are retried with exponential backoff up to max_attempts; a retry's
//     attempt count and due time are in its RETRYING outcome, so the next owner continues it;
//   - sends run concurrently (up to max_in_flight), each bounded by its channel's timeouts, so
//     a slow or dead endpoint holds one slot, not the queue;
//   - partitions taken away in a rebalance first finish their sends and publish the outcomes.
// A send in flight when its process dies is sent again by the partition's next owner, under
// the same delivery id (X-Ewarn-Delivery, Message-ID), by which receivers deduplicate.
// State is bounded by the open window (done_below to the read position), not the history.
//
// Thread-safety: one thread drives a worker (RunOnce/Run/RunUntilIdle); sends run on threads
// it owns. The log and state store are borrowed and must outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "ewarn/alerts/channel.h"
#include "ewarn/base/status.h"
#include "ewarn/base/time.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"

namespace prometheus {
class Registry;
}

namespace ewarn::alerts {

struct RetryPolicy {
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{300000};
  int max_attempts = 8;  // including the first; then the delivery is FAILED
};

struct DeliveryOptions {
  std::string group = "ewarn-delivery";
  std::string webhook_secret;       // HMAC key for X-Ewarn-Signature (webhook and CAP)
  std::string webhook_ca_file;      // https webhooks: PEM CAs to trust ("" = system store)
  // Kannel sendsms: base URL (".../cgi-bin/sendsms"), credentials, sender id.
  std::string sms_url;
  std::string sms_username;
  std::string sms_password;
  std::string sms_from = "ewarn";
  // SMTP relay.
  std::string smtp_host = "127.0.0.1";
  int smtp_port = 25;
  std::string smtp_from = "ewarn@localhost";
  std::string cap_sender = "ewarn@localhost";
  Timeouts timeouts;
  RetryPolicy retry;
  int max_in_flight = 16;           // concurrent sends
  int32_t outbox_partitions = 1;      // only when notify.outbox has to be created
  int32_t deliveries_partitions = 1;  // only when notify.deliveries has to be created
  // Backoff, sent_ms, X-Ewarn-Timestamp, CAP <sent>, e-mail Date. Null: the system clock. The
  // channels read it from their send threads, so it must be thread-safe (SystemClock is;
  // ManualClock is not: leave this null when sends run while a test moves a ManualClock).
  const Clock* clock = nullptr;
};

struct DeliveryStats {
  int64_t consumed = 0;    // outbox records read
  int64_t duplicates = 0;  // outbox records already finished, re-emitted, or repeated
  int64_t sent = 0;
  int64_t retried = 0;     // attempts that failed retryably and were rescheduled
  int64_t failed = 0;      // deliveries given up (permanent error or attempts exhausted)
  int64_t in_flight = 0;
  int64_t queued = 0;      // pending retries not yet due or not yet started
  int64_t skipped = 0;     // outbox records that are not a Delivery event (undecodable, ...)
};

class DeliveryWorker {
 public:
  // The state store must have been opened with (at least) StoreNames(). Creates
  // notify.outbox/notify.deliveries when missing, publishes outcome events a crash left in
  // the state store's outbox, and joins the consumer group.
  static Result<std::unique_ptr<DeliveryWorker>> Make(store::EventLog& log,
                                                      store::StateStore& state,
                                                      DeliveryOptions options,
                                                      prometheus::Registry* registry);
  // The named stores of the state store: "delivery" and "delivery_queue", empty since what was
  // finished is learned from notify.deliveries (kept so earlier state directories open). The
  // state store's own outbox holds outcome events until they are appended.
  static std::vector<std::string> StoreNames();

  ~DeliveryWorker();  // waits for sends in flight (bounded by the timeouts), commits
  DeliveryWorker(const DeliveryWorker&) = delete;
  DeliveryWorker& operator=(const DeliveryWorker&) = delete;

  // One step: poll the outbox (waiting at most `poll_timeout`), start due sends, collect
  // finished ones, commit their outcomes to the state store and append them.
  // Errors are the log's or the state store's (Unavailable, IOError, ...).
  Status RunOnce(std::chrono::milliseconds poll_timeout);
  // RunOnce until `stop` is requested; then waits for in-flight sends and commits.
  Status Run(std::stop_token stop);
  // RunOnce until nothing is in flight, queued or newly read, or `timeout` passes
  // (DeadlineExceeded-like: ResourceExhausted naming what is left). For tests and tools.
  Status RunUntilIdle(std::chrono::milliseconds timeout);

  DeliveryStats stats() const;

  // Replaces a channel (tests; or a custom transport). Call before RunOnce.
  void SetChannel(v1::Delivery::Channel channel, std::unique_ptr<Channel> impl);

 private:
  struct Impl;
  explicit DeliveryWorker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ewarn::alerts
