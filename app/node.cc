#include "node.h"

#include "alert_routes.h"
#include "ewarn/alerts/alert_metrics.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/probe.h"
#include "key_files.h"
#include "pipelines.h"
#include "review_routes.h"
#include "results_routes.h"
#include "risk_routes.h"
#include "topic_plan.h"

namespace ewarn::app {

Result<std::pair<std::string, uint16_t>> ParseHostPort(const std::string& address, const std::string& flag) {
  size_t colon = address.rfind(':');
  std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
  if (colon == std::string::npos || colon == 0 || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return Status::InvalidArgument(flag + " wants HOST:PORT, got '" + address + "'");
  }
  return std::make_pair(address.substr(0, colon), static_cast<uint16_t>(std::stoi(port)));
}

Result<std::unique_ptr<Node>> Node::Start(const NodeOptions& o) {
  std::unique_ptr<Node> n(new Node());
  n->registry_ = std::make_shared<prometheus::Registry>();
  n->on_kafka_ = o.kafka.enabled();
  ASSIGN_OR_RETURN(std::unique_ptr<store::EventLog> opened, OpenLog(o.dir, o.kafka, /*create=*/true));
  n->log_ = store::WithMetrics(std::move(opened), *n->registry_);
  for (const store::TopicSpec& spec : InputTopics(o.partitions)) RETURN_IF_ERROR(n->log_->CreateTopic(spec));
  ASSIGN_OR_RETURN(v1::Rules rules, RulesFromFlag(o.rules_path));
  ASSIGN_OR_RETURN(n->partitions_, n->log_->PartitionCount(schemas::topic::kInputs));
  std::vector<processors::Pipeline> pipelines = MakePipelines(n->partitions_, rules, *n->log_);
  RETURN_IF_ERROR(CreateOutputs(*n->log_, pipelines));
  ASSIGN_OR_RETURN(n->state_, store::StateStore::Open({.dir = o.dir.state(), .stores = StoresOf(pipelines)}));
  for (const auto& p : pipelines) {
    if (!o.process) break;
    processors::RuntimeOptions options = p.runtime;
    // Several nodes share the partitions: one that moves is restored from its stage's changelog.
    if (o.kafka.enabled()) options.changelog_topic = processors::ChangelogTopicFor(options.input_topic);
    ASSIGN_OR_RETURN(auto runtime, processors::TaskRuntime::Make(*n->log_, *n->state_, p.factory, options,
                                                                 n->registry_.get()));
    n->runtimes_.push_back(std::move(runtime));
  }
  ASSIGN_OR_RETURN(n->ingest_, OpenIngestNode(o.dir, o.kafka,
                                              {.log = n->log_.get(), .partitions = n->partitions_,
                                               .metrics = n->registry_.get(), .rate_per_second = o.rate_per_second,
                                               .rate_burst = o.rate_per_second * 10,
                                               .gateway_rate_per_second = o.gateway_rate_per_second,
                                               .gateway_rate_burst = o.gateway_rate_per_second * 10,
                                               .allowed_lateness_ms = rules.time().allowed_lateness_ms(),
                                               .follow_reference_every = std::chrono::seconds(1)}));
  ASSIGN_OR_RETURN(n->secret_, LoadOrCreateSecret(o.dir));

  if (!o.http.empty()) {
    ASSIGN_OR_RETURN(auto host_port, ParseHostPort(o.http, "--http"));
    ingest::HttpServerOptions http_options{.host = host_port.first, .port = host_port.second,
                                           .max_body_bytes = static_cast<size_t>(o.max_body_kb) * 1024,
                                           .io_threads = o.http_threads};
    ingest::HttpRouter router;
    ingest::AddIngestRoutes(router, *n->ingest_->ingestor, http_options.max_body_bytes);
    // Queries from any node (issue 14.6): every node folds `risk` and `alerts` itself. Only on
    // the embedded log, where this one process owns every partition, is its own state newer.
    n->read_model_ = readside::ReadModel::Start(*n->log_);
    readside::QuerySource* queries = n->read_model_.get();
    if (!o.kafka.enabled()) {
      n->local_queries_ = readside::LocalQueries(*n->state_);
      n->merged_queries_ = readside::Freshest(*n->read_model_, *n->local_queries_);
      queries = n->merged_queries_.get();
    }
    AddRiskRoutes(router, *n->ingest_->ingestor, *queries);
    AddAlertRoutes(router, *n->ingest_->ingestor, *queries, *n->log_, n->partitions_);
    AddResultsRoutes(router, *n->ingest_->ingestor, *queries, *n->log_);
    AddReviewRoutes(router, *n->ingest_->ingestor, *n->log_, *n->state_, n->partitions_);
    // The live feed announces a change once the read model shows it (a browser reloads then).
    const readside::ReadModel* model = n->read_model_.get();
    ChangeFeed::Options feed;
    feed.shown = [model](const store::TopicPartition& tp, int64_t next) { return model->HasApplied(tp, next); };
    ASSIGN_OR_RETURN(n->duty_room_, DutyRoom::Make(*n->ingest_->ingestor, *n->log_, n->secret_, feed));
    n->duty_room_->AddRoutesAndSessions(router);  // last: it lets the routes above read sessions
    ASSIGN_OR_RETURN(n->http_, ingest::HttpServer::Start(http_options, std::move(router), n->registry_.get()));
  }
  if (!o.metrics.empty()) {
    try {
      n->exposer_ = std::make_unique<prometheus::Exposer>(o.metrics);
    } catch (const std::exception& e) {
      return Status::Unavailable("cannot listen for metrics on " + o.metrics + ": " + e.what());
    }
    n->exposer_->RegisterCollectable(n->registry_);
    n->alert_metrics_ = std::make_shared<alerts::AlertMetrics>(*n->state_);
    n->exposer_->RegisterCollectable(n->alert_metrics_);
  }

  if (o.deliver && o.process) {
    ASSIGN_OR_RETURN(n->delivery_state_, store::StateStore::Open({.dir = o.dir.root + "/delivery",
                                                                  .stores = alerts::DeliveryWorker::StoreNames()}));
    alerts::DeliveryOptions delivery = o.delivery;
    if (delivery.webhook_secret.empty()) {
      ASSIGN_OR_RETURN(delivery.webhook_secret, LoadOrCreateWebhookKey(o.dir));
    }
    delivery.outbox_partitions = n->partitions_;
    ASSIGN_OR_RETURN(n->delivery_, alerts::DeliveryWorker::Make(*n->log_, *n->delivery_state_, std::move(delivery),
                                                                n->registry_.get()));
  }

  // One thread per stage. On stop each stage drains its input before it leaves.
  Node* self = n.get();
  self->runtime_status_.resize(self->runtimes_.size());
  for (size_t i = 0; i < self->runtimes_.size(); ++i) {
    self->workers_.emplace_back([self, i](std::stop_token stop) {
      Status st;
      while (st.ok() && !stop.stop_requested()) st = self->runtimes_[i]->RunOnce(std::chrono::milliseconds(100));
      if (st.ok()) st = self->runtimes_[i]->RunUntilCaughtUp(std::chrono::seconds(10));
      // In a group, a node may own nothing when it stops (more nodes than partitions, or a
      // rebalance under way as others leave): it has nothing to drain, which is no failure.
      if (st.code() == StatusCode::kUnavailable && self->on_kafka_ && self->runtimes_[i]->OwnedPartitions().empty()) {
        st = Status::Ok();
      }
      if (st.ok()) st = self->runtimes_[i]->Close();
      self->runtime_status_[i] = st;
      self->worker_done_ = true;
    });
  }
  if (self->delivery_) {
    self->delivery_thread_ = std::jthread([self](std::stop_token stop) {
      self->delivery_status_ = self->delivery_->Run(stop);
      if (!self->delivery_status_.ok()) self->worker_done_ = true;
    });
  }
  return n;
}

Status Node::Stop() {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  if (duty_room_) duty_room_->Stop();  // browsers waiting on the live feed are answered
  if (http_) http_->Stop();  // in-flight submissions finish their appends first
  for (auto& w : workers_) {  // in data-flow order: each stage drains what the one before wrote
    w.request_stop();
    w.join();
  }
  if (delivery_thread_.joinable()) {  // after the stages: what they wrote last is delivered
    delivery_thread_.request_stop();
    delivery_thread_.join();
  }
  for (const Status& st : runtime_status_) RETURN_IF_ERROR(st);
  return delivery_status_;
}

std::vector<int32_t> Node::TickPartitions() const {
  if (on_kafka_) return runtimes_.empty() ? std::vector<int32_t>{} : runtimes_.front()->OwnedPartitions();
  std::vector<int32_t> all(static_cast<size_t>(partitions_));
  for (int32_t p = 0; p < partitions_; ++p) all[static_cast<size_t>(p)] = p;
  return all;
}

Node::~Node() { (void)Stop(); }

}  // namespace ewarn::app
