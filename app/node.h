// A running ewarn node: the log, the processing stages, the ingest + query HTTP API and the
// metrics endpoint, as `ewarn serve` and `ewarn demo` run them. Start() opens everything and
// starts a thread per stage; Stop() stops the HTTP API first (in-flight submissions finish),
// then drains the stages in data-flow order, so the state left behind is caught up with the
// log and `ewarn replay` of the directory gives its digest.
#pragma once

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "data_dir.h"
#include "ewarn/alerts/delivery_worker.h"
#include "ewarn/base/status.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/processors/runtime.h"
#include "ewarn/readside/read_model.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"
#include "ingest_setup.h"
#include "web_routes.h"

namespace ewarn::app {

struct NodeOptions {
  DataDir dir;
  KafkaConnection kafka;      // brokers (+ librdkafka properties); none: the embedded log in dir.log()
  int32_t partitions = 8;     // of in.events when creating it
  std::string rules_path;     // empty: the built-in rules
  std::string http;           // "HOST:PORT" to serve the HTTP API; empty: none
  double rate_per_second = 20;           // a monitor's submissions (burst 10x)
  double gateway_rate_per_second = 2000;  // a gateway's or operator's (burst 10x)
  int64_t max_body_kb = 256;
  int http_threads = 1;       // network threads of the HTTP server
  std::string metrics;        // "HOST:PORT" for Prometheus; empty: none
  // Deliver alerts (webhook, CAP, SMS through Kannel, e-mail over SMTP) from notify.outbox.
  // The webhook signing key is DIR/webhook.key (created on first use). Never in a replay.
  bool deliver = true;
  alerts::DeliveryOptions delivery;
  // Run the processing stages (and delivery). Off: an ingest tier that only accepts and stores
  // submissions; the stages run in another process (on Kafka) or catch up when a full node next
  // opens the directory.
  bool process = true;
};

class Node {
 public:
  // Opens and starts everything; errors name what failed (a busy directory, a port in use, a
  // bad rules file, an unreachable broker).
  static Result<std::unique_ptr<Node>> Start(const NodeOptions& options);
  ~Node();

  store::EventLog& log() { return *log_; }
  store::StateStore& state() { return *state_; }
  ingest::Ingestor& ingestor() { return *ingest_->ingestor; }
  const std::string& secret() const { return secret_; }
  int32_t partitions() const { return partitions_; }
  uint16_t http_port() const { return http_ ? http_->port() : 0; }
  prometheus::Registry& registry() { return *registry_; }
  // True once a stage has stopped by itself (an error): the caller should Stop().
  bool failed() const { return worker_done_; }
  // The station stage's counters; null on an ingest-only node.
  const processors::RuntimeStats* station_stats() const {
    return runtimes_.empty() ? nullptr : &runtimes_.front()->stats();
  }
  // The in.events partitions this node's ticker ticks now: on Kafka those its station stage
  // owns (none on an ingest-only node), so each partition has one clock however many nodes
  // run; on the embedded log, one process per directory, all of them. Thread-safe.
  std::vector<int32_t> TickPartitions() const;
  // Null when the node does not deliver.
  const alerts::DeliveryWorker* delivery() const { return delivery_.get(); }

  // Stops and drains (idempotent); the first stage error, if any.
  Status Stop();

 private:
  Node() = default;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
  std::unique_ptr<IngestNode> ingest_;
  std::string secret_;
  int32_t partitions_ = 0;
  bool on_kafka_ = false;
  std::vector<std::unique_ptr<processors::TaskRuntime>> runtimes_;
  // What the query routes read (readside/README.md): the read model of `risk` and `alerts`
  // on every node; on the embedded log merged with this node's own state. Before the routes.
  std::unique_ptr<readside::ReadModel> read_model_;
  std::unique_ptr<readside::QuerySource> local_queries_, merged_queries_;
  std::unique_ptr<DutyRoom> duty_room_;  // before http_: its feed answers browsers through the server
  std::unique_ptr<ingest::HttpServer> http_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Collectable> alert_metrics_;  // the exposer keeps a weak_ptr
  std::vector<Status> runtime_status_;
  std::atomic<bool> worker_done_{false};
  std::vector<std::jthread> workers_;
  // Delivery: its own state store (the record of what was sent) and thread.
  std::unique_ptr<store::StateStore> delivery_state_;
  std::unique_ptr<alerts::DeliveryWorker> delivery_;
  Status delivery_status_;
  std::jthread delivery_thread_;
  bool stopped_ = false;
};

// "HOST:PORT" -> (host, port). InvalidArgument naming the flag otherwise.
Result<std::pair<std::string, uint16_t>> ParseHostPort(const std::string& address, const std::string& flag);

}  // namespace ewarn::app
