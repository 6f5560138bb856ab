// From a risk event entering the log to the webhook request arriving at a local receiver: the
// alert stage (TaskRuntime, default 100 ms commit interval, every commit fsynced) and the
// DeliveryWorker (signed webhook over loopback) on the embedded log, under a steady load.
//
// Setup: one police liaison per district with a webhook to a receiver on 127.0.0.1, a tick
// that makes them routable. Load: R risk events per second (each a station of another district
// reaching HIGH, so every one raises an alert and one delivery: no grouping in play) for S
// seconds. Latency = arrival at the receiver - the producer's append returning (steady clock).
//
// Usage: alert_latency_bench [--rate R] [--seconds S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "ewarn/alerts/delivery_worker.h"
#include "ewarn/alerts/lifecycle.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ticks.h"
#include "ewarn/processors/rules.h"
#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"

using namespace ewarn;
using SteadyClock = std::chrono::steady_clock;

namespace {

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  int rate = 50, seconds = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--rate") rate = std::stoi(argv[i + 1]);
    if (a == "--seconds") seconds = std::stoi(argv[i + 1]);
  }
  const int total = rate * seconds;
  const int32_t partitions = 4;
  ewarn::testing::TempDir tmp;
  auto log = store::OpenEmbeddedLog({.dir = tmp.Sub("log")});
  Check(log.status(), "log");
  Check((*log)->CreateTopic({.name = "in.events", .partitions = partitions}), "topic");
  Check((*log)->CreateTopic({.name = "ref.liaisons", .partitions = 1}), "topic");

  // The receiver: arrival times by alert subject.
  std::mutex mu;
  std::unordered_map<std::string, SteadyClock::time_point> sent_at;
  std::vector<double> latencies_ms;
  ingest::HttpRouter router;
  router.Add("POST", "/hook", [&](const ingest::HttpRequest& req) {
    auto now = SteadyClock::now();
    size_t at = req.body.find("\"subject_id\":\"");
    if (at != std::string::npos) {
      size_t start = at + 14, end = req.body.find('"', start);
      std::lock_guard lock(mu);
      auto it = sent_at.find(req.body.substr(start, end - start));
      if (it != sent_at.end()) {
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
        sent_at.erase(it);
      }
    }
    ingest::HttpResponse r;
    r.body = "{}";
    return r;
  });
  auto receiver = ingest::HttpServer::Start({.host = "127.0.0.1", .port = 0, .worker_threads = 8}, std::move(router), nullptr);
  Check(receiver.status(), "receiver");
  const std::string hook = "http://127.0.0.1:" + std::to_string((*receiver)->port()) + "/hook";

  // A liaison per district, then a tick so routing may use them.
  std::vector<store::OutRecord> liaisons;
  for (int d = 0; d < total; ++d) {
    v1::Event e;
    e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
    e.mutable_header()->set_event_id("liaison-" + std::to_string(d));
    auto* l = e.mutable_liaison();
    l->set_liaison_id("police-" + std::to_string(d));
    l->set_role(v1::LIAISON_ROLE_POLICE);
    l->set_area("R/D" + std::to_string(d));
    l->set_tier(1);
    l->set_webhook_url(hook);
    liaisons.push_back({.topic = "ref.liaisons", .key = l->liaison_id(), .value = schemas::EncodeEvent(e), .partition = 0});
  }
  Check((*log)->Append(liaisons).status(), "liaisons");
  const int64_t t0 = 1'803'974'400'000 + 9 * 3'600'000;
  // The alert stage reads `risk`; the station stage would forward ticks there.
  processors::Pipeline stage = alerts::AlertPipeline(partitions, processors::DefaultRules(), **log);
  Check((*log)->CreateTopic({.name = "risk", .partitions = partitions}), "risk");
  for (const auto& spec : stage.outputs) Check((*log)->CreateTopic(spec), "outputs");
  std::vector<store::OutRecord> ticks;
  for (int32_t p = 0; p < partitions; ++p) {
    v1::Event e;
    e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
    e.mutable_header()->set_event_id("tick:" + std::to_string(p));
    e.mutable_header()->set_event_time_ms(t0);
    e.mutable_tick()->set_liaisons_end(total);
    ticks.push_back({.topic = "risk", .key = "tick", .value = schemas::EncodeEvent(e), .timestamp_ms = t0, .partition = p});
  }
  Check((*log)->Append(ticks).status(), "ticks");

  std::vector<std::string> stores = stage.runtime.stores;
  stores.emplace_back(processors::kSeenStore);
  auto state = store::StateStore::Open({.dir = tmp.Sub("state"), .stores = stores});
  Check(state.status(), "state");
  auto runtime = processors::TaskRuntime::Make(**log, **state, stage.factory, stage.runtime, nullptr);
  Check(runtime.status(), "runtime");
  auto delivery_state = store::StateStore::Open({.dir = tmp.Sub("delivery"), .stores = alerts::DeliveryWorker::StoreNames()});
  Check(delivery_state.status(), "delivery state");
  auto worker = alerts::DeliveryWorker::Make(**log, **delivery_state, {.webhook_secret = "bench-key"}, nullptr);
  Check(worker.status(), "worker");
  std::jthread stage_thread([&](std::stop_token stop) { Check((*runtime)->Run(stop), "alert stage"); });
  std::jthread delivery_thread([&](std::stop_token stop) { Check((*worker)->Run(stop), "delivery"); });
  std::this_thread::sleep_for(std::chrono::seconds(2));  // groups joined

  auto started = SteadyClock::now();
  for (int i = 0; i < total; ++i) {
    std::this_thread::sleep_until(started + std::chrono::microseconds(1'000'000LL * i / rate));
    std::string subject = "ST-" + std::to_string(i);
    std::string district = "R/D" + std::to_string(i);
    v1::Event e;
    auto* h = e.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id("risk:" + subject);
    h->set_event_time_ms(t0 + 1000 + i);
    auto* r = e.mutable_risk();
    r->set_subject_id(subject);
    r->set_area(district + "/W1");
    r->set_level(v1::RISK_LEVEL_HIGH);
    r->set_previous_level(v1::RISK_LEVEL_LOW);
    r->set_score(0.8);
    auto* f = r->add_factors();
    f->set_detector("cluster");
    f->set_contribution(0.8);
    f->set_explanation("3 independent reporters");
    store::OutRecord rec{.topic = "risk", .key = subject, .value = schemas::EncodeEvent(e),
                         .timestamp_ms = h->event_time_ms(), .partition_key = district};
    {
      std::lock_guard lock(mu);
      sent_at[subject] = SteadyClock::now();  // set before the append returns: the worst case for us
    }
    Check((*log)->Append(std::span(&rec, 1)).status(), "append risk");
  }
  // Wait for the stragglers (bounded).
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard lock(mu);
      if (static_cast<int>(latencies_ms.size()) >= total) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - started).count();
  stage_thread.request_stop();
  delivery_thread.request_stop();
  stage_thread.join();
  delivery_thread.join();
  std::lock_guard lock(mu);
  std::printf("risk events %d at %d/s; webhooks received %zu in %.1f s\n", total, rate, latencies_ms.size(), elapsed);
  std::printf("risk event -> webhook arrival: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\n",
              Percentile(latencies_ms, 0.5), Percentile(latencies_ms, 0.9), Percentile(latencies_ms, 0.99),
              Percentile(latencies_ms, 1.0));
  return static_cast<int>(latencies_ms.size()) == total ? 0 : 1;
}
