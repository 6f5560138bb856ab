// serve, log stat, digest, replay: the commands every ewarn node has.
#include <google/protobuf/util/json_util.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include "commands.h"
#include "data_dir.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/ingest/ticks.h"
#include "ingest_setup.h"
#include "key_files.h"
#include "topic_plan.h"
#include "ewarn/schemas/events.h"
#include "listen_check.h"
#include "node.h"
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

// Where alerts go out: Kannel's sendsms and an SMTP relay (webhooks need nothing here).
Status DeliveryFlags(const Flags& f, alerts::DeliveryOptions& d) {
  d.sms_url = f.Get("sms-url");
  d.sms_username = f.Get("sms-user");
  d.sms_password = f.Get("sms-password");
  if (f.Has("smtp")) {
    ASSIGN_OR_RETURN(auto host_port, ParseHostPort(f.Get("smtp"), "--smtp"));
    d.smtp_host = host_port.first;
    d.smtp_port = host_port.second;
  }
  if (f.Has("smtp-from")) d.smtp_from = f.Get("smtp-from");
  return Status::Ok();
}

int Serve(const Flags& f) {
  const std::string cmd = "serve";
  Result<int64_t> partitions = f.GetInt("partitions");
  Result<int64_t> tick_ms = f.GetInt("tick-ms");
  Result<int64_t> duration = f.GetInt("duration");
  Result<int64_t> stop_timeout = f.GetInt("stop-timeout");
  Result<double> rate = f.GetDouble("rate");
  Result<double> gateway_rate = f.GetDouble("gateway-rate");
  Result<int64_t> max_body = f.GetInt("max-body-kb");
  Result<int64_t> http_threads = f.GetInt("http-threads");
  for (const Status& s : {partitions.status(), tick_ms.status(), duration.status(), stop_timeout.status(),
                          rate.status(), gateway_rate.status(), max_body.status(), http_threads.status()}) {
    if (!s.ok()) return Fail(cmd, s);
  }
  if (!(*rate > 0) || !(*gateway_rate > 0)) {
    return Fail(cmd, Status::InvalidArgument("--rate and --gateway-rate are submissions per second: give a number above 0"));
  }
  // Signals are taken synchronously by this thread (sigtimedwait), not by a handler; blocked
  // before any thread starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  NodeOptions options{.dir = DataDir{f.Get("data")},
                      .kafka = KafkaOf(f),
                      .partitions = static_cast<int32_t>(*partitions),
                      .rules_path = f.Get("rules"),
                      .http = f.Get("http"),
                      .rate_per_second = *rate,
                      .gateway_rate_per_second = *gateway_rate,
                      .max_body_kb = *max_body,
                      .http_threads = static_cast<int>(*http_threads),
                      .metrics = f.Get("metrics"),
                      .deliver = !f.Has("no-deliver"),
                      .process = !f.Has("ingest-only")};
  if (Status s = DeliveryFlags(f, options.delivery); !s.ok()) return Fail(cmd, s);
  // What can be checked before anything is created is checked first: a mistake must not leave
  // a half-made data directory behind.
  if (auto rules = RulesFromFlag(options.rules_path); !rules.ok()) return Fail(cmd, rules.status());
  for (const char* flag : {"http", "metrics"}) {
    if (!f.Has(flag)) continue;
    if (Status s = CheckCanListen(f.Get(flag), std::string("--") + flag); !s.ok()) return Fail(cmd, s);
  }
  if (f.Has("kafka")) {
    // Every node of a cluster must hold the same keys, and the topics are made once, by an
    // operator, with the settings the design relies on (`ewarn topics create`).
    for (const char* flag : {"secret-file", "webhook-key-file"}) {
      if (f.Has(flag)) continue;
      return Fail(cmd, Status::InvalidArgument(
                           std::string("with --kafka every node needs the cluster's keys: --") + flag +
                           " FILE is missing (give every node the same --secret-file and --webhook-key-file; make "
                           "each once with: head -c 32 /dev/urandom | xxd -p -c 64 > FILE)"));
    }
    auto log = OpenLog(options.dir, options.kafka, /*create=*/false);
    if (!log.ok()) return Fail(cmd, log.status());
    auto check = RequireClusterTopics(**log, f.Get("kafka"));
    if (!check.ok()) return Fail(cmd, check.status());
    if (!check->settings_unchecked.empty()) {
      std::fprintf(stderr, "ewarn %s: the topics' settings are not checked: %s\n", cmd.c_str(),
                   check->settings_unchecked.c_str());
    }
    auto inputs = (*log)->PartitionCount(schemas::topic::kInputs);
    if (!inputs.ok()) return Fail(cmd, inputs.status());
    options.partitions = *inputs;  // the cluster's, whatever --partitions says
  }
  NewDataDirGuard guard(options.dir.root);
  if (Status s = CreateDataDir(options.dir); !s.ok()) return Fail(cmd, s);
  if (f.Has("secret-file")) {
    if (Status s = InstallKeyFile(options.dir, "--secret-file", f.Get("secret-file"), options.dir.secret()); !s.ok()) {
      return Fail(cmd, s);
    }
  }
  if (f.Has("webhook-key-file")) {
    if (Status s = InstallKeyFile(options.dir, "--webhook-key-file", f.Get("webhook-key-file"),
                                  options.dir.root + "/webhook.key");
        !s.ok()) {
      return Fail(cmd, s);
    }
  }
  auto node = Node::Start(options);
  if (!node.ok()) return Fail(cmd, node.status());
  guard.Keep();

  Status ticker_status;
  // --tick-ms 0: no wall-clock ticker (a simulator drives event time, POST /v1/ticks).
  std::jthread ticker([&](std::stop_token stop) {
    SystemClock clock;
    while (*tick_ms > 0 && !stop.stop_requested()) {
      // Only the partitions this node's station stage owns: one clock per partition (issue 14.7).
      ticker_status = (*node)->ingestor().AppendTicks(clock.NowMs(), (*node)->TickPartitions());
      if (!ticker_status.ok()) return;
      for (int64_t waited = 0; waited < *tick_ms && !stop.stop_requested(); waited += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  });

  std::printf("ewarn serve: %s, in.events with %d partitions, state in %s\n",
              f.Has("kafka") ? ("Kafka at " + f.Get("kafka")).c_str() : ("embedded log in " + options.dir.log()).c_str(),
              (*node)->partitions(), options.dir.state().c_str());
  if (f.Has("metrics")) std::printf("metrics: http://%s/metrics\n", f.Get("metrics").c_str());
  if (f.Has("http")) {
    std::string host = f.Get("http").substr(0, f.Get("http").rfind(':'));
    std::printf("http: http://%s:%u/ (ingest and risk API; the duty room at /, sign in with a duty or liaison token)\n", host.c_str(),
                static_cast<unsigned>((*node)->http_port()));
  } else {
    std::printf("http: none: no --http, so no ingest or query API and no map (e.g. --http 127.0.0.1:8080)\n");
  }
  std::printf("press Ctrl-C to stop\n");
  std::fflush(stdout);

  auto started = std::chrono::steady_clock::now();
  while (true) {
    timespec wait{0, 200'000'000};
    if (sigtimedwait(&signals, nullptr, &wait) > 0) break;
    if (*duration > 0 && std::chrono::steady_clock::now() - started >= std::chrono::seconds(*duration)) break;
    if ((*node)->failed() || !ticker_status.ok()) break;
  }
  ticker.request_stop();
  ticker.join();
  // Stopping drains the stages; whatever they are doing, the process ends within
  // --stop-timeout seconds, or at a second signal. Leaving then loses nothing: state and offsets
  // are committed together, so the next start redoes only what was not committed.
  std::jthread watchdog([&](std::stop_token stop) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::max<int64_t>(*stop_timeout, 1));
    while (!stop.stop_requested()) {
      timespec wait{0, 100'000'000};
      bool again = sigtimedwait(&signals, nullptr, &wait) > 0;
      if (again || std::chrono::steady_clock::now() >= deadline) {
        std::fprintf(stderr,
                     "ewarn serve: %s; exiting without the stages' last commit (the next start resumes from the "
                     "one before)\n",
                     again ? "second signal while stopping" : "stages did not stop within --stop-timeout");
        std::fflush(stderr);
        std::_Exit(1);
      }
    }
  });
  Status stopped = (*node)->Stop();
  watchdog.request_stop();
  watchdog.join();
  if (const auto* stats = (*node)->station_stats()) {
    std::printf("stopped: %lld events processed, %lld duplicates dropped, %lld skipped, %lld commits\n",
                static_cast<long long>(stats->processed), static_cast<long long>(stats->duplicates),
                static_cast<long long>(stats->skipped), static_cast<long long>(stats->commits));
  } else {
    std::printf("stopped (ingest only: the stages catch up when a full node next runs)\n");
  }
  if (!ticker_status.ok()) return Fail(cmd, ticker_status);
  if (!stopped.ok()) return Fail(cmd, stopped);
  return 0;
}

int LogStat(const Flags& f) {
  DataDir dir{f.Get("data")};
  auto log = OpenLog(dir, KafkaOf(f), /*create=*/false);
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
  auto log = OpenLog(dir, KafkaOf(f), /*create=*/false);
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

// Prints records of a topic as JSON lines (protobuf's JSON mapping), for operators.
int LogDump(const Flags& f) {
  const std::string cmd = "log dump";
  DataDir dir{f.Get("data")};
  auto log = OpenLog(dir, KafkaOf(f), /*create=*/false);
  if (!log.ok()) return Fail(cmd, log.status());
  auto limit_flag = f.GetInt("limit");
  if (!limit_flag.ok()) return Fail(cmd, limit_flag.status());
  if (*limit_flag < 0) return Fail(cmd, Status::InvalidArgument("--limit must be >= 0 (0: every record)"));
  const int64_t limit = *limit_flag == 0 || f.Has("all") ? std::numeric_limits<int64_t>::max() : *limit_flag;
  const std::string topic = f.Get("topic");
  auto partitions = (*log)->PartitionCount(topic);
  if (!partitions.ok()) return Fail(cmd, partitions.status());
  int64_t printed = 0;
  std::vector<store::PartitionOffsets> offsets;
  for (int32_t p = 0; p < *partitions; ++p) {
    auto off = (*log)->Offsets({topic, p});
    if (!off.ok()) return Fail(cmd, off.status());
    offsets.push_back(*off);
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  int64_t left_out = 0;  // records past the limit, by offset
  for (int32_t p = 0; p < *partitions; ++p) {
    const store::PartitionOffsets& off = offsets[static_cast<size_t>(p)];
    int64_t next = off.start;
    while (next < off.end && printed < limit) {
      auto batch = (*log)->Read({topic, p}, next, 1000);
      if (!batch.ok()) return Fail(cmd, batch.status());
      if (batch->empty()) break;
      for (const auto& r : *batch) {
        if (printed >= limit) break;
        ++printed;
        next = r.offset + 1;
        auto e = schemas::DecodeEvent(r.value);
        std::string json;
        if (e.ok()) (void)google::protobuf::util::MessageToJsonString(*e, &json, options);
        std::printf("{\"partition\":%d,\"offset\":%lld,\"key\":\"%s\",\"event\":%s}\n", p,
                    static_cast<long long>(r.offset), r.key.c_str(), e.ok() ? json.c_str() : "null");
      }
    }
    left_out += std::max<int64_t>(0, off.end - next);
  }
  std::fflush(stdout);
  // On stderr, so the JSON lines on stdout stay machine-readable.
  if (left_out > 0) {
    std::fprintf(stderr,
                 "ewarn log dump: printed %lld records and stopped at --limit %lld; %lld more in %s were left out "
                 "(--limit N for more, --limit 0 or --all for every record)\n",
                 static_cast<long long>(printed), static_cast<long long>(*limit_flag),
                 static_cast<long long>(left_out), topic.c_str());
  }
  return 0;
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
  auto log = OpenLog(dir, KafkaOf(f), /*create=*/false);
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

// Visits the decodable events of every partition of `topic` (none when it does not exist; a
// what-if summary reads what it can, `ewarn log check` is where unreadable records are named).
void ForEachReadableEvent(store::EventLog& log, std::string_view topic, const std::function<void(const v1::Event&)>& visit) {
  auto partitions = log.PartitionCount(topic);
  for (int32_t p = 0; partitions.ok() && p < *partitions; ++p) {
    int64_t next = 0;
    while (true) {
      auto batch = log.Read({std::string(topic), p}, next, 5000);
      if (!batch.ok() || batch->empty()) break;
      for (const auto& r : *batch) {
        if (auto e = schemas::DecodeEvent(r.value); e.ok()) visit(*e);
      }
      next = batch->back().offset + 1;
    }
  }
}

// The highest risk level each subject reached, from a log's `risk` topic.
std::map<std::string, int> PeakLevels(store::EventLog& log) {
  std::map<std::string, int> peak;
  ForEachReadableEvent(log, schemas::topic::kRisk, [&](const v1::Event& e) {
    if (e.body_case() != v1::Event::kRisk) return;
    int& level = peak[e.risk().subject_id()];
    level = std::max(level, static_cast<int>(e.risk().level()));
  });
  return peak;
}

// The subjects an alert was raised for, from a log's `alerts` topic.
std::vector<std::string> AlertedSubjects(store::EventLog& log) {
  std::set<std::string> subjects;
  ForEachReadableEvent(log, schemas::topic::kAlerts, [&](const v1::Event& e) {
    if (e.body_case() == v1::Event::kAlert && e.alert().kind() == v1::AlertEvent::KIND_RAISED) {
      subjects.insert(e.alert().subject_id());
    }
  });
  return {subjects.begin(), subjects.end()};
}

// What-if summary: which subjects reach HIGH or above, and which are alerted, under the
// original run and under the replay's rules.
void PrintWhatIf(store::EventLog& original, store::EventLog& what_if) {
  if (!original.PartitionCount(schemas::topic::kAlerts).ok()) {
    std::printf("what-if: the original directory holds inputs only (it was never served), so there is nothing to "
                "compare; replay it once with the default rules and compare the two\n");
  }
  {
    std::vector<std::string> a = AlertedSubjects(original), b = AlertedSubjects(what_if), only_a, only_b;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
    std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
    std::printf("what-if: alerts for %zu subjects with these rules, %zu in the original run; %zu only with these "
                "rules, %zu only in the original\n",
                b.size(), a.size(), only_b.size(), only_a.size());
    for (size_t i = 0; i < only_b.size() && i < 20; ++i) std::printf("  + %s\n", only_b[i].c_str());
    for (size_t i = 0; i < only_a.size() && i < 20; ++i) std::printf("  - %s\n", only_a[i].c_str());
  }
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
  auto from = OpenLog(source, KafkaOf(f), /*create=*/false);
  if (!from.ok()) return Fail(cmd, from.status());
  std::error_code ec;
  if (std::filesystem::exists(sandbox.root, ec) && !std::filesystem::is_empty(sandbox.root, ec)) {
    return Fail(cmd, Status::FailedPrecondition("'" + sandbox.root +
                                                "' is not empty; replay builds into a fresh directory"));
  }
  auto rules = RulesFromFlag(f.Get("rules"));
  if (!rules.ok()) return Fail(cmd, rules.status());
  NewDataDirGuard guard(sandbox.root);  // a failed replay leaves nothing that makes the rerun fail
  if (Status s = CreateDataDir(sandbox); !s.ok()) return Fail(cmd, s);
  auto to = store::OpenEmbeddedLog({.dir = sandbox.log()});
  if (!to.ok()) return Fail(cmd, to.status());
  auto started = std::chrono::steady_clock::now();
  auto copied = CopyInputs(**from, **to);
  if (!copied.ok()) return Fail(cmd, copied.status());
  auto partitions = (*to)->PartitionCount(schemas::topic::kInputs);
  if (!partitions.ok()) return Fail(cmd, partitions.status().WithContext("the source log has no inputs"));
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
  guard.Keep();
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
        {"partitions", "N", "partitions of in.events when creating it (with --kafka: the cluster's own)", "8"},
        {"metrics", "ADDR:PORT", "serve Prometheus metrics, e.g. 127.0.0.1:9464"},
        {"tick-ms", "MS", "interval of wall-clock ticks (event time) into the partitions this node processes (on Kafka: those its station stage owns; all on the embedded log); 0: none", "1000"},
        {"duration", "SECONDS", "stop after this long (0: until Ctrl-C or SIGTERM)", "0"},
        {"stop-timeout", "SECONDS", "on stop, exit after this long even if the stages have not drained", "30"},
        {"http", "ADDR:PORT", "serve the ingest HTTP API (JSON, SMS gateways), e.g. 127.0.0.1:8080 (port 0: any)"},
        {"rate", "PER_SECOND", "a monitor token's submission rate limit (burst: 10x)", "20"},
        {"gateway-rate", "PER_SECOND", "a gateway or operator token's submission rate limit (burst: 10x)", "2000"},
        {"max-body-kb", "KB", "largest request body accepted", "256"},
        {"http-threads", "N", "network threads of the HTTP API (parsing, validation, answers)", "1"},
        kRulesFlag,
        {"secret-file", "FILE", "the pseudonym key (required with --kafka: the same file on every node); default DIR/secret, made on first use"},
        {"webhook-key-file", "FILE", "the webhook signing key (required with --kafka: the same on every node); default DIR/webhook.key"},
        {"no-deliver", "", "do not deliver alerts (another node does)"},
        {"ingest-only", "", "accept and store submissions only: no processing stages, no delivery (an ingest tier)"},
        {"sms-url", "URL", "Kannel sendsms for SMS alerts, e.g. http://127.0.0.1:13013/cgi-bin/sendsms"},
        {"sms-user", "NAME", "Kannel sendsms username"},
        {"sms-password", "PASSWORD", "Kannel sendsms password"},
        {"smtp", "HOST:PORT", "SMTP relay for e-mail alerts", "127.0.0.1:25"},
        {"smtp-from", "ADDRESS", "sender of e-mail alerts", "ewarn@localhost"}},
       "",
       Serve},
      {{"log", "stat"},
       "list topics, partitions, offsets and message counts",
       {kDataFlag, kKafkaFlag},
       "",
       LogStat},
      {{"log", "dump"},
       "print a topic's records as JSON lines",
       {kDataFlag, kKafkaFlag, {"topic", "TOPIC", "the topic, e.g. derived.anomalies", "", true},
        {"limit", "N", "at most this many records (0: all); how many were left out goes to stderr", "1000"},
        {"all", "", "every record of the topic (as --limit 0)"}},
       "",
       LogDump},
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
