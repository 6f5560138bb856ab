// serve, log stat, digest, replay: the commands every ewarn node has.
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <iterator>
#include <map>
#include <thread>

#include "commands.h"
#include "data_dir.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ingest_setup.h"
#include "pipelines.h"
#include "risk_routes.h"
#include "alert_routes.h"
#include "ewarn/base/time.h"
#include "ewarn/processors/digest.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/probe.h"

namespace ewarn::app {

int Fail(const std::string& command, const Status& status) {
  std::fprintf(stderr, "ewarn %s: %s\n", command.c_str(), status.ToString().c_str());
  return 1;
}

namespace {

const FlagSpec kDataFlag{"data", "DIR", "data directory (log, state, ingest)", "", true};
const FlagSpec kRulesFlag{"rules", "FILE",
                          "rules file (textproto, ewarn.v1.Rules); default: the built-in rules", "", false};
const FlagSpec kKafkaFlag{"kafka", "HOST:PORT,...",
                          "use Apache Kafka at these brokers instead of the embedded log", "", false};

// Appends a Tick into every partition of in.events, so event time advances everywhere even
// where nothing else arrives (DESIGN §4). Ids are deterministic: "tick:<partition>:<ms>".
Status AppendTicks(store::EventLog& log, TimeMs now) {
  ASSIGN_OR_RETURN(int32_t partitions, log.PartitionCount(schemas::topic::kInputs));
  // Routing may use the liaisons registered up to here (alerts/README.md).
  int64_t liaisons_end = 0;
  if (log.PartitionCount(schemas::topic::kLiaisons).ok()) {
    ASSIGN_OR_RETURN(store::PartitionOffsets off, log.Offsets({std::string(schemas::topic::kLiaisons), 0}));
    liaisons_end = off.end;
  }
  std::vector<store::OutRecord> ticks;
  for (int32_t p = 0; p < partitions; ++p) {
    v1::Event e;
    auto* h = e.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id("tick:" + std::to_string(p) + ":" + std::to_string(now));
    h->set_event_time_ms(now);
    h->set_received_time_ms(now);
    h->set_source(v1::SOURCE_TICKER);
    e.mutable_tick()->set_liaisons_end(liaisons_end);
    ticks.push_back({.topic = std::string(schemas::topic::kInputs), .key = "tick",
                     .value = schemas::EncodeEvent(e), .timestamp_ms = now, .partition = p});
  }
  return log.Append(ticks).status();
}

int Serve(const Flags& f) {
  const std::string cmd = "serve";
  DataDir dir{f.Get("data")};
  Result<int64_t> partitions = f.GetInt("partitions");
  Result<int64_t> tick_ms = f.GetInt("tick-ms");
  Result<int64_t> duration = f.GetInt("duration");
  for (const Status& s : {partitions.status(), tick_ms.status(), duration.status()}) {
    if (!s.ok()) return Fail(cmd, s);
  }
  auto registry = std::make_shared<prometheus::Registry>();
  auto opened = OpenLog(dir, f.Get("kafka"), /*create=*/true);
  if (!opened.ok()) return Fail(cmd, opened.status());
  std::unique_ptr<store::EventLog> log = store::WithMetrics(std::move(opened).value(), *registry);
  if (Status s = EnsureInputTopics(*log, static_cast<int32_t>(*partitions)); !s.ok()) return Fail(cmd, s);
  auto rules = RulesFromFlag(f.Get("rules"));
  if (!rules.ok()) return Fail(cmd, rules.status());
  auto in_partitions = log->PartitionCount(schemas::topic::kInputs);
  if (!in_partitions.ok()) return Fail(cmd, in_partitions.status());
  std::vector<processors::Pipeline> pipelines = MakePipelines(*in_partitions, *rules, *log);
  if (Status s = CreateOutputs(*log, pipelines); !s.ok()) return Fail(cmd, s);
  auto state = store::StateStore::Open({.dir = dir.state(), .stores = StoresOf(pipelines)});
  if (!state.ok()) return Fail(cmd, state.status());
  std::vector<std::unique_ptr<processors::TaskRuntime>> runtimes;
  for (const auto& p : pipelines) {
    auto runtime = processors::TaskRuntime::Make(*log, **state, p.factory, p.runtime, registry.get());
    if (!runtime.ok()) return Fail(cmd, runtime.status());
    runtimes.push_back(std::move(runtime).value());
  }

  // Ingest: the HTTP API (JSON and SMS gateways) in front of the same log.
  std::unique_ptr<IngestNode> ingest_node;
  std::unique_ptr<ingest::HttpServer> http;
  if (f.Has("http")) {
    auto rate = f.GetDouble("rate");
    if (!rate.ok()) return Fail(cmd, rate.status());
    auto max_body = f.GetInt("max-body-kb");
    if (!max_body.ok()) return Fail(cmd, max_body.status());
    auto node = OpenIngestNode(dir, f.Get("kafka"),
                               {.log = log.get(), .partitions = static_cast<int32_t>(*partitions),
                                .metrics = registry.get(), .rate_per_second = *rate, .rate_burst = *rate * 10});
    if (!node.ok()) return Fail(cmd, node.status());
    ingest_node = std::move(node).value();
    std::string address = f.Get("http");
    size_t colon = address.rfind(':');
    auto port = colon == std::string::npos ? std::nullopt : std::optional<std::string>(address.substr(colon + 1));
    if (!port || port->empty() || port->find_first_not_of("0123456789") != std::string::npos || port->size() > 5) {
      return Fail(cmd, Status::InvalidArgument("--http wants HOST:PORT, got '" + address + "'"));
    }
    ingest::HttpServerOptions http_options{.host = address.substr(0, colon),
                                           .port = static_cast<uint16_t>(std::stoi(*port)),
                                           .max_body_bytes = static_cast<size_t>(*max_body) * 1024};
    ingest::HttpRouter router;
    ingest::AddIngestRoutes(router, *ingest_node->ingestor, http_options.max_body_bytes);
    AddRiskRoutes(router, *ingest_node->ingestor, **state);
    AddAlertRoutes(router, *ingest_node->ingestor, **state, *log, *in_partitions);
    auto server = ingest::HttpServer::Start(http_options, std::move(router), registry.get());
    if (!server.ok()) return Fail(cmd, server.status());
    http = std::move(server).value();
  }

  std::unique_ptr<prometheus::Exposer> exposer;
  if (f.Has("metrics")) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(f.Get("metrics"));
    } catch (const std::exception& e) {
      return Fail(cmd, Status::Unavailable("cannot listen for metrics on " + f.Get("metrics") +
                                           ": " + e.what()));
    }
    exposer->RegisterCollectable(registry);
  }

  // Signals are taken synchronously by this thread (sigtimedwait), not by a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // One thread per stage. On stop, each stage drains what is in its input before it leaves,
  // and stages stop in data-flow order, so the state left behind is caught up with the log
  // (and `ewarn replay` of this directory gives its digest).
  std::vector<Status> runtime_status(runtimes.size());
  std::atomic<bool> worker_done{false};
  std::vector<std::jthread> workers;
  for (size_t i = 0; i < runtimes.size(); ++i) {
    workers.emplace_back([&, i](std::stop_token stop) {
      Status st;
      while (st.ok() && !stop.stop_requested()) st = runtimes[i]->RunOnce(std::chrono::milliseconds(100));
      if (st.ok()) st = runtimes[i]->RunUntilCaughtUp(std::chrono::seconds(10));
      if (st.ok()) st = runtimes[i]->Close();
      runtime_status[i] = st;
      worker_done = true;
    });
  }
  Status ticker_status;
  std::jthread ticker([&](std::stop_token stop) {
    SystemClock clock;
    while (!stop.stop_requested()) {
      ticker_status = AppendTicks(*log, clock.NowMs());
      if (!ticker_status.ok()) return;
      for (int64_t waited = 0; waited < *tick_ms && !stop.stop_requested(); waited += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  });

  std::printf("ewarn serve: %s, in.events with %lld partitions, state in %s\n",
              f.Has("kafka") ? ("Kafka at " + f.Get("kafka")).c_str() : ("embedded log in " + dir.log()).c_str(),
              static_cast<long long>(*partitions), dir.state().c_str());
  if (exposer) std::printf("metrics: http://%s/metrics\n", f.Get("metrics").c_str());
  if (http) {
    std::string host = f.Get("http").substr(0, f.Get("http").rfind(':'));
    std::printf("http: http://%s:%u/ (ingest and risk API; the duty room's map at /map?token=...)\n", host.c_str(),
                static_cast<unsigned>(http->port()));
  }
  std::printf("press Ctrl-C to stop\n");
  std::fflush(stdout);

  auto started = std::chrono::steady_clock::now();
  while (true) {
    timespec wait{0, 200'000'000};
    if (sigtimedwait(&signals, nullptr, &wait) > 0) break;
    if (*duration > 0 && std::chrono::steady_clock::now() - started >= std::chrono::seconds(*duration)) break;
    if (worker_done || !ticker_status.ok()) break;
  }
  if (http) http->Stop();  // in-flight submissions finish their appends first
  ticker.request_stop();
  ticker.join();
  for (auto& w : workers) {
    w.request_stop();
    w.join();
  }
  const auto& stats = runtimes.front()->stats();
  std::printf("stopped: %lld events processed, %lld duplicates dropped, %lld skipped, %lld commits\n",
              static_cast<long long>(stats.processed), static_cast<long long>(stats.duplicates),
              static_cast<long long>(stats.skipped), static_cast<long long>(stats.commits));
  if (!ticker_status.ok()) return Fail(cmd, ticker_status);
  for (const Status& st : runtime_status) {
    if (!st.ok()) return Fail(cmd, st);
  }
  return 0;
}

int LogStat(const Flags& f) {
  DataDir dir{f.Get("data")};
  auto log = OpenLog(dir, f.Get("kafka"), /*create=*/false);
  if (!log.ok()) return Fail("log stat", log.status());
  auto stat = (*log)->Stat();
  if (!stat.ok()) return Fail("log stat", stat.status());
  std::printf("%-22s %10s %12s  %s\n", "topic", "partitions", "messages", "offsets (partition:start-end)");
  for (const auto& t : *stat) {
    std::string ranges;
    for (const auto& p : t.partitions) {
      if (!ranges.empty()) ranges += " ";
      ranges += std::to_string(p.partition) + ":" + std::to_string(p.start) + "-" + std::to_string(p.end);
    }
    std::printf("%-22s %10zu %12lld  %s\n", t.name.c_str(), t.partitions.size(),
                static_cast<long long>(t.Messages()), ranges.c_str());
  }
  return 0;
}

// Reads every record of every topic and decodes it; reports each one that cannot be read or
// decoded with topic, partition and offset. Exit 1 when any is found.
int LogCheck(const Flags& f) {
  DataDir dir{f.Get("data")};
  auto log = OpenLog(dir, f.Get("kafka"), /*create=*/false);
  if (!log.ok()) return Fail("log check", log.status());
  auto stat = (*log)->Stat();
  if (!stat.ok()) return Fail("log check", stat.status());
  int64_t records = 0, bad = 0;
  for (const auto& t : *stat) {
    for (const auto& p : t.partitions) {
      int64_t next = p.start;
      size_t batch_size = 5000;
      while (next < p.end) {
        auto batch = (*log)->Read({t.name, p.partition}, next, batch_size);
        if (!batch.ok()) {
          if (batch_size > 1) {  // find the unreadable record one by one
            batch_size = 1;
            continue;
          }
          std::fprintf(stderr, "%s\n", batch.status().ToString().c_str());
          ++bad;
          ++next;
          continue;
        }
        batch_size = 5000;
        if (batch->empty()) break;
        for (const auto& r : *batch) {
          ++records;
          Result<v1::Event> e = schemas::DecodeEvent(r.value);
          if (!e.ok()) {
            ++bad;
            std::fprintf(stderr, "%s\n",
                         e.status().WithContext(t.name + "/" + std::to_string(p.partition) +
                                                " offset " + std::to_string(r.offset))
                             .ToString()
                             .c_str());
          }
        }
        next = batch->back().offset + 1;
      }
    }
  }
  std::printf("%lld records checked, %lld unreadable\n", static_cast<long long>(records),
              static_cast<long long>(bad));
  return bad == 0 ? 0 : 1;
}

struct DigestLine {
  std::string state, outputs;
  int64_t output_events = 0;
};

Result<DigestLine> ComputeDigest(store::EventLog& log, store::StateStore& state) {
  DigestLine d;
  ASSIGN_OR_RETURN(d.state, processors::StateDigest(state));
  ASSIGN_OR_RETURN(std::vector<store::TopicStat> stat, log.Stat());
  std::vector<std::string> derived;
  for (const auto& t : stat) {
    if (!schemas::IsInputTopic(t.name)) derived.push_back(t.name);
  }
  ASSIGN_OR_RETURN(processors::OutputDigest out, processors::DigestTopics(log, derived));
  d.outputs = out.digest;
  d.output_events = out.records;
  return d;
}

std::string Format(const DigestLine& d) {
  return "state=" + d.state + " outputs=" + d.outputs + " output_events=" + std::to_string(d.output_events);
}

int Digest(const Flags& f) {
  DataDir dir{f.Get("data")};
  auto log = OpenLog(dir, f.Get("kafka"), /*create=*/false);
  if (!log.ok()) return Fail("digest", log.status());
  if (Status s = RequireDirectory(dir.state(), "state directory"); !s.ok()) return Fail("digest", s);
  auto state = store::StateStore::Open({.dir = dir.state()});
  if (!state.ok()) return Fail("digest", state.status());
  auto d = ComputeDigest(**log, **state);
  if (!d.ok()) return Fail("digest", d.status());
  std::printf("%s\n", Format(*d).c_str());
  return 0;
}

// Copies input topics partition by partition, keeping offsets, so the sandbox's log reads the
// same as the original's.
Result<int64_t> CopyInputs(store::EventLog& from, store::EventLog& to) {
  ASSIGN_OR_RETURN(std::vector<store::TopicStat> stat, from.Stat());
  int64_t copied = 0;
  for (const auto& t : stat) {
    if (!schemas::IsInputTopic(t.name)) continue;
    RETURN_IF_ERROR(to.CreateTopic({.name = t.name, .partitions = static_cast<int32_t>(t.partitions.size())}));
    for (const auto& p : t.partitions) {
      int64_t next = p.start;
      while (next < p.end) {
        ASSIGN_OR_RETURN(std::vector<store::LogRecord> batch, from.Read({t.name, p.partition}, next, 5000));
        if (batch.empty()) break;
        std::vector<store::OutRecord> out;
        out.reserve(batch.size());
        for (auto& r : batch) {
          out.push_back({.topic = t.name, .key = std::move(r.key), .value = std::move(r.value),
                         .timestamp_ms = r.timestamp_ms, .partition = p.partition});
        }
        next = batch.back().offset + 1;
        RETURN_IF_ERROR(to.Append(out).status());
        copied += static_cast<int64_t>(out.size());
      }
    }
  }
  return copied;
}

// The highest risk level each subject reached, from a log's `risk` topic.
std::map<std::string, int> PeakLevels(store::EventLog& log) {
  std::map<std::string, int> peak;
  auto partitions = log.PartitionCount(schemas::topic::kRisk);
  if (!partitions.ok()) return peak;
  for (int32_t p = 0; p < *partitions; ++p) {
    int64_t next = 0;
    while (true) {
      auto batch = log.Read({std::string(schemas::topic::kRisk), p}, next, 5000);
      if (!batch.ok() || batch->empty()) break;
      for (const auto& r : *batch) {
        auto e = schemas::DecodeEvent(r.value);
        if (!e.ok() || e->body_case() != v1::Event::kRisk) continue;
        int& level = peak[e->risk().subject_id()];
        level = std::max(level, static_cast<int>(e->risk().level()));
      }
      next = batch->back().offset + 1;
    }
  }
  return peak;
}

// What-if summary: which subjects reach HIGH or above under the original run and under the
// replay's rules.
void PrintWhatIf(store::EventLog& original, store::EventLog& what_if) {
  auto before = PeakLevels(original), after = PeakLevels(what_if);
  auto high = [](const std::map<std::string, int>& m) {
    std::vector<std::string> out;
    for (const auto& [subject, level] : m) {
      if (level >= v1::RISK_LEVEL_HIGH) out.push_back(subject);
    }
    return out;
  };
  std::vector<std::string> a = high(before), b = high(after), only_a, only_b;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
  std::printf("what-if: %zu subjects reach HIGH or above with these rules, %zu in the original run\n", b.size(),
              a.size());
  auto list = [](const char* label, const std::vector<std::string>& v) {
    std::printf("  %s (%zu):", label, v.size());
    for (size_t i = 0; i < v.size() && i < 20; ++i) std::printf(" %s", v[i].c_str());
    std::printf(v.size() > 20 ? " ...\n" : "\n");
  };
  list("only with these rules", only_b);
  list("only in the original", only_a);
}

int Replay(const Flags& f) {
  const std::string cmd = "replay";
  DataDir source{f.Get("data")}, sandbox{f.Get("into")};
  auto from = OpenLog(source, f.Get("kafka"), /*create=*/false);
  if (!from.ok()) return Fail(cmd, from.status());
  std::error_code ec;
  if (std::filesystem::exists(sandbox.root, ec) && !std::filesystem::is_empty(sandbox.root, ec)) {
    return Fail(cmd, Status::FailedPrecondition("'" + sandbox.root +
                                                "' is not empty; replay builds into a fresh directory"));
  }
  auto to = store::OpenEmbeddedLog({.dir = sandbox.log()});
  if (!to.ok()) return Fail(cmd, to.status());
  auto started = std::chrono::steady_clock::now();
  auto copied = CopyInputs(**from, **to);
  if (!copied.ok()) return Fail(cmd, copied.status());
  auto partitions = (*to)->PartitionCount(schemas::topic::kInputs);
  if (!partitions.ok()) return Fail(cmd, partitions.status().WithContext("the source log has no inputs"));
  auto rules = RulesFromFlag(f.Get("rules"));
  if (!rules.ok()) return Fail(cmd, rules.status());
  std::vector<processors::Pipeline> pipelines = MakePipelines(*partitions, *rules, **to);
  if (Status s = CreateOutputs(**to, pipelines); !s.ok()) return Fail(cmd, s);
  auto state = store::StateStore::Open({.dir = sandbox.state(), .stores = StoresOf(pipelines)});
  if (!state.ok()) return Fail(cmd, state.status());
  // Stage by stage: each stage's input is complete once the one before it caught up.
  processors::RuntimeStats stats;
  for (auto& p : pipelines) {
    p.runtime.group += "-replay";
    auto runtime = processors::TaskRuntime::Make(**to, **state, p.factory, p.runtime, nullptr);
    if (!runtime.ok()) return Fail(cmd, runtime.status());
    if (Status s = (*runtime)->RunUntilCaughtUp(); !s.ok()) return Fail(cmd, s);
    if (Status s = (*runtime)->Close(); !s.ok()) return Fail(cmd, s);
    if (&p == &pipelines.front()) stats = (*runtime)->stats();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto d = ComputeDigest(**to, **state);
  if (!d.ok()) return Fail(cmd, d.status());
  if (f.Has("rules")) PrintWhatIf(**from, **to);
  std::printf("replayed %lld input records into %s in %.2f s (%.0f events/s): %lld processed, "
              "%lld duplicates dropped, %lld skipped\n%s\n",
              static_cast<long long>(*copied), sandbox.root.c_str(), secs, *copied / std::max(secs, 1e-9),
              static_cast<long long>(stats.processed), static_cast<long long>(stats.duplicates),
              static_cast<long long>(stats.skipped), Format(*d).c_str());
  return 0;
}

}  // namespace

std::vector<Command> FoundationCommands() {
  return {
      {{"serve"},
       "run ingest, processors and the ticker on a data directory",
       {kDataFlag, kKafkaFlag,
        {"partitions", "N", "partitions of in.events when creating it", "8"},
        {"metrics", "ADDR:PORT", "serve Prometheus metrics, e.g. 127.0.0.1:9464"},
        {"tick-ms", "MS", "interval of ticks (event time) into every partition", "1000"},
        {"duration", "SECONDS", "stop after this long (0: until Ctrl-C or SIGTERM)", "0"},
        {"http", "ADDR:PORT", "serve the ingest HTTP API (JSON, SMS gateways), e.g. 127.0.0.1:8080 (port 0: any)"},
        {"rate", "PER_SECOND", "per-principal submission rate limit (burst: 10x)", "20"},
        {"max-body-kb", "KB", "largest request body accepted", "256"},
        kRulesFlag},
       "",
       Serve},
      {{"log", "stat"},
       "list topics, partitions, offsets and message counts",
       {kDataFlag, kKafkaFlag},
       "",
       LogStat},
      {{"log", "check"},
       "decode every record; report unreadable ones by topic, partition and offset",
       {kDataFlag, kKafkaFlag},
       "",
       LogCheck},
      {{"digest"},
       "one line: hashes of derived state and of the output stream",
       {kDataFlag, kKafkaFlag},
       "",
       Digest},
      {{"replay"},
       "rebuild all derived state from the log alone into a fresh directory",
       {kDataFlag, kKafkaFlag, {"into", "DIR", "a new data directory for the rebuilt state", "", true},
        kRulesFlag},
       "",
       Replay},
  };
}

}  // namespace ewarn::app
