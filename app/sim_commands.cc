// simulate and evaluate: an election day into a node (directly or over HTTP), and how well
// the detectors found what was injected. The logic lives in ewarn::sim; this is flags and
// printing.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <stop_token>
#include <thread>

#include "commands.h"
#include "data_dir.h"
#include "ewarn/base/time.h"
#include "ewarn/schemas/events.h"
#include "ewarn/sim/evaluate.h"
#include "ewarn/sim/scenario.h"
#include "ewarn/sim/sink.h"
#include "ingest_setup.h"

namespace ewarn::app {
namespace {

const FlagSpec kData{"data", "DIR", "the data directory", "", false};
const FlagSpec kKafka{"kafka", "HOST:PORT,...", "use Apache Kafka at these brokers instead of the embedded log", "",
                      false};

// "HOST:PORT" -> host and port; InvalidArgument otherwise.
Result<std::pair<std::string, uint16_t>> HostPort(const std::string& address) {
  size_t colon = address.rfind(':');
  std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return Status::InvalidArgument("--http wants HOST:PORT, got '" + address + "'");
  }
  return std::pair{address.substr(0, colon), static_cast<uint16_t>(std::stoi(port))};
}

// Ctrl-C and SIGTERM end a run between steps (what was sent stays sent) so the summary still
// prints. Construct it before any thread starts: threads inherit the blocked mask, so only the
// waiter takes these signals.
class StopOnSignal {
 public:
  StopOnSignal() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    waiter_ = std::jthread([this](std::stop_token done) {
      while (!done.stop_requested()) {
        timespec wait{0, 200'000'000};
        if (sigtimedwait(&signals_, nullptr, &wait) > 0) {
          source_.request_stop();
          return;
        }
      }
    });
  }
  std::stop_token token() const { return source_.get_token(); }
  bool stopped() const { return source_.stop_requested(); }

 private:
  sigset_t signals_;
  std::stop_source source_;
  std::jthread waiter_;  // last: joined before the rest goes
};

struct SimFlags {
  sim::ScenarioOptions scenario;
  double speed = 0;
  int64_t stations = 0, max_stations = 0, tick_ms = 0, connections = 0;
};

Result<SimFlags> ParseSimFlags(const Flags& f, int64_t now_ms) {
  SimFlags out;
  ASSIGN_OR_RETURN(int64_t seed, f.GetInt("seed"));
  ASSIGN_OR_RETURN(out.speed, f.GetDouble("speed"));
  ASSIGN_OR_RETURN(out.scenario.hours, f.GetDouble("hours"));
  ASSIGN_OR_RETURN(out.scenario.sms_fraction, f.GetDouble("sms-fraction"));
  ASSIGN_OR_RETURN(out.stations, f.GetInt("stations"));
  ASSIGN_OR_RETURN(out.max_stations, f.GetInt("max-stations"));
  ASSIGN_OR_RETURN(out.tick_ms, f.GetInt("tick-ms"));
  ASSIGN_OR_RETURN(out.connections, f.GetInt("connections"));
  if (seed < 0) return Status::InvalidArgument("--seed must be >= 0");
  if (out.speed < 0) return Status::InvalidArgument("--speed must be >= 0 (0: as fast as possible)");
  if (out.stations < 0 || out.max_stations <= 0) return Status::InvalidArgument("--stations >= 0, --max-stations > 0");
  if (out.scenario.sms_fraction < 0 || out.scenario.sms_fraction > 1) {
    return Status::InvalidArgument("--sms-fraction must be from 0 to 1");
  }
  if (out.tick_ms < 0) return Status::InvalidArgument("--tick-ms must be >= 0 (0: no ticks)");
  out.scenario.seed = static_cast<uint64_t>(seed);
  if (f.Has("day")) {
    auto day = ParseRfc3339(f.Get("day") + "T00:00:00Z");
    if (!day.ok()) return Status::InvalidArgument("--day wants YYYY-MM-DD, got '" + f.Get("day") + "'");
    out.scenario.day_ms = *day;
    // Ingest refuses events more than 5 minutes ahead of its clock.
    int64_t latest = sim::ChooseDay(now_ms, out.scenario, out.speed);
    if (*day > latest) {
      return Status::InvalidArgument("--day " + f.Get("day") + " would submit events from the future at --speed " +
                                     f.Get("speed") + "; the latest possible day now is " +
                                     FormatRfc3339(latest).substr(0, 10));
    }
  } else {
    out.scenario.day_ms = sim::ChooseDay(now_ms, out.scenario, out.speed);
  }
  return out;
}

void PrintPlan(const sim::Scenario& s) {
  std::map<std::string, int64_t> kinds;
  int64_t sms = 0;
  for (const auto& e : s.events) {
    ++kinds[std::string(sim::EventKindName(e.kind))];
    sms += !e.sms_from.empty();
  }
  std::printf("simulating %s to %s: %zu stations, %zu monitors, %zu events (", FormatRfc3339(s.start_ms).c_str(),
              FormatRfc3339(s.end_ms).c_str(), s.stations.size(), s.monitors.size(), s.events.size());
  bool first = true;
  for (const auto& [k, n] : kinds) {
    std::printf("%s%s %lld", first ? "" : ", ", k.c_str(), static_cast<long long>(n));
    first = false;
  }
  std::printf("; %lld incidents by SMS)\n", static_cast<long long>(sms));
  std::printf("patterns injected: %zu\n", s.truth.size());
  for (const auto& t : s.truth) {
    std::printf("  %-20s %-20s %-28s %s .. %s%s\n", t.pattern.c_str(), t.detector.c_str(), t.subject.c_str(),
                FormatRfc3339(t.start_ms).substr(11, 5).c_str(), FormatRfc3339(t.end_ms).substr(11, 5).c_str(),
                t.decoy ? "  (decoy: must not alert)" : "");
  }
  std::fflush(stdout);
}

void PrintStats(const sim::SinkStats& stats, double seconds, bool stopped) {
  std::printf("%ssent in %.1f s:", stopped ? "stopped early; " : "", seconds);
  for (const auto& [kind, n] : stats.sent) std::printf(" %s %lld", kind.c_str(), static_cast<long long>(n));
  std::printf("\naccepted %lld (of which %lld duplicates), rejected %lld, retried %lld\n",
              static_cast<long long>(stats.accepted), static_cast<long long>(stats.duplicates),
              static_cast<long long>(stats.total_rejected()), static_cast<long long>(stats.retries));
  for (const auto& [reason, n] : stats.rejected) {
    std::printf("  rejected %-24s %lld\n", reason.c_str(), static_cast<long long>(n));
  }
}

Status WriteTruth(const std::string& path, const sim::Scenario& s) {
  if (path.empty()) return Status::Ok();
  std::ofstream out(path, std::ios::trunc);
  out << s.TruthJsonl();
  out.close();
  if (!out) return Status::IOError("cannot write truth file '" + path + "'");
  std::printf("ground truth: %s (%zu records)\n", path.c_str(), s.truth.size());
  return Status::Ok();
}

int Simulate(const Flags& f) {
  const std::string cmd = "simulate";
  const bool over_http = f.Has("http");
  if (over_http == f.Has("data") && !f.Has("prepare-only")) {
    return Fail(cmd, Status::InvalidArgument("give --data DIR (direct) or --http HOST:PORT (over HTTP)"));
  }
  if (f.Has("prepare-only") && (!f.Has("data") || !f.Has("credentials"))) {
    return Fail(cmd, Status::InvalidArgument("--prepare-only needs --data DIR and --credentials FILE"));
  }
  StopOnSignal interrupt;
  SystemClock clock;
  auto parsed = ParseSimFlags(f, clock.NowMs());
  if (!parsed.ok()) return Fail(cmd, parsed.status());
  SimFlags& sf = *parsed;
  auto progress = [&](int64_t sim_ms) {
    if (sf.speed > 0 && sim_ms % sim::kHourMs == 0) {
      std::printf("  simulated %s\n", FormatRfc3339(sim_ms).substr(11, 5).c_str());
      std::fflush(stdout);
    }
  };
  sim::RunOptions run{.speed = sf.speed, .tick_every_ms = sf.tick_ms, .progress = progress, .stop = interrupt.token()};

  if (over_http) {
    if (sf.stations == 0) {
      return Fail(cmd, Status::InvalidArgument(
                           "over HTTP the simulator generates its stations: give --stations N, and register them "
                           "first with --data DIR --prepare-only --credentials FILE (same --stations and --seed)"));
    }
    auto address = HostPort(f.Get("http"));
    if (!address.ok()) return Fail(cmd, address.status());
    sim::Credentials credentials;
    if (f.Has("credentials")) {
      auto loaded = sim::Credentials::Load(f.Get("credentials"));
      if (!loaded.ok()) return Fail(cmd, loaded.status());
      credentials = std::move(loaded).value();
    } else if (f.Has("token")) {
      // One operator token for everything: no per-monitor reporters, no SMS.
      credentials = {.fallback = f.Get("token"), .gateway = f.Get("token"), .operator_token = f.Get("token")};
    } else {
      return Fail(cmd, Status::InvalidArgument("over HTTP give --token TOKEN (an operator's) or --credentials FILE"));
    }
    if (f.Has("token")) credentials.operator_token = f.Get("token");
    auto scenario = sim::Generate(sim::GenerateStations(static_cast<int>(sf.stations), sf.scenario.seed), sf.scenario);
    if (!scenario.ok()) return Fail(cmd, scenario.status());
    PrintPlan(*scenario);
    if (sf.scenario.sms_fraction > 0 && !credentials.phones_registered) {
      std::fprintf(stderr, "ewarn simulate: monitors' phones are not registered (use --credentials from "
                           "--prepare-only); SMS incidents will be skipped\n");
    }
    auto sink = sim::HttpSink::Make({.host = address->first,
                                     .port = address->second,
                                     .connections = static_cast<int>(sf.connections),
                                     .credentials = std::move(credentials)});
    if (!sink.ok()) return Fail(cmd, sink.status());
    if (Status s = WriteTruth(f.Get("truth"), *scenario); !s.ok()) return Fail(cmd, s);
    auto started = std::chrono::steady_clock::now();
    auto stats = sim::Run(*scenario, **sink, run);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!stats.ok()) {
      PrintStats((*sink)->stats(), secs, interrupt.stopped());
      return Fail(cmd, stats.status());
    }
    PrintStats(*stats, secs, interrupt.stopped());
    return 0;
  }

  DataDir dir{f.Get("data")};
  // The simulator is one principal per monitor plus a few; it is not rate limited here.
  auto node = OpenIngestNode(dir, f.Get("kafka"), {.rate_per_second = 1e9, .rate_burst = 1e9});
  if (!node.ok()) return Fail(cmd, node.status());
  store::EventLog& log = *(*node)->owned_log;  // opened by the node (no borrowed log given)
  std::vector<v1::PollingStation> stations;
  if (sf.stations > 0) {
    stations = sim::GenerateStations(static_cast<int>(sf.stations), sf.scenario.seed);
  } else {
    auto imported = sim::ReadStations(log);
    if (!imported.ok() || imported->empty()) {
      return Fail(cmd, Status::NotFound("no stations imported in " + dir.root +
                                        " (ewarn import-stations), or give --stations N to generate some"));
    }
    stations = sim::SampleWards(std::move(imported).value(), static_cast<size_t>(sf.max_stations), sf.scenario.seed);
  }
  auto scenario = sim::Generate(std::move(stations), sf.scenario);
  if (!scenario.ok()) return Fail(cmd, scenario.status());
  PrintPlan(*scenario);
  auto secret = LoadOrCreateSecret(dir);
  if (!secret.ok()) return Fail(cmd, secret.status());
  auto credentials = sim::Prepare(*(*node)->ingestor, log, *scenario, *secret, clock.NowMs());
  if (!credentials.ok()) return Fail(cmd, credentials.status());
  if (f.Has("prepare-only")) {
    if (Status s = credentials->Save(f.Get("credentials")); !s.ok()) return Fail(cmd, s);
    std::printf("prepared %s: %zu stations, %zu monitors with tokens and phones; credentials in %s\n",
                dir.root.c_str(), scenario->stations.size(), scenario->monitors.size(), f.Get("credentials").c_str());
    return 0;
  }
  if (Status s = WriteTruth(f.Get("truth"), *scenario); !s.ok()) return Fail(cmd, s);
  sim::DirectSink sink(*(*node)->ingestor, log, std::move(credentials).value());
  auto started = std::chrono::steady_clock::now();
  auto stats = sim::Run(*scenario, sink, run);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!stats.ok()) {
    PrintStats(sink.stats(), secs, interrupt.stopped());
    return Fail(cmd, stats.status());
  }
  PrintStats(*stats, secs, interrupt.stopped());
  return 0;
}

int Evaluate(const Flags& f) {
  const std::string cmd = "evaluate";
  auto truth = sim::ReadTruth(f.Get("truth"));
  if (!truth.ok()) return Fail(cmd, truth.status());
  DataDir dir{f.Get("data")};
  auto log = OpenLog(dir, f.Get("kafka"), /*create=*/false);
  if (!log.ok()) return Fail(cmd, log.status());
  auto anomalies = sim::ReadAnomalies(**log);
  if (!anomalies.ok() && anomalies.status().code() != StatusCode::kNotFound) return Fail(cmd, anomalies.status());
  if (!anomalies.ok()) {
    std::fprintf(stderr, "ewarn evaluate: no %s topic in %s yet (have the processors run?); scoring no anomalies\n",
                 std::string(schemas::topic::kAnomalies).c_str(), dir.root.c_str());
  }
  sim::Evaluation e = sim::Evaluate(*truth, anomalies.ok() ? *anomalies : std::vector<sim::AnomalyRecord>{});
  std::fputs((f.Has("json") ? e.ToJson() + "\n" : e.ToText()).c_str(), stdout);
  return 0;
}

}  // namespace

std::vector<Command> SimCommands() {
  return {
      {{"simulate"},
       "generate a seeded election day with injected patterns and send it in (direct or over HTTP)",
       {kData, kKafka,
        {"http", "HOST:PORT", "send over HTTP to a running `ewarn serve --http` instead of --data"},
        {"token", "TOKEN", "over HTTP: an operator token (ticks; everything when no --credentials)"},
        {"credentials", "FILE", "tokens written by --prepare-only (over HTTP: read; with --prepare-only: written)"},
        {"prepare-only", "", "register the stations, monitor tokens and phones in --data, write --credentials, stop"},
        {"stations", "N", "generate N stations (0: use the stations imported in --data)", "200"},
        {"max-stations", "N", "with --stations 0: simulate at most this many (whole wards)", "2000"},
        {"seed", "S", "random seed: the same seed and flags give the same day", "1"},
        {"speed", "X", "1: real time, 60: an hour a minute, 0: as fast as possible", "0"},
        {"day", "YYYY-MM-DD", "the simulated day (default: the latest day that lies wholly in the past)"},
        {"hours", "H", "simulated hours from 07:00 UTC (polls 08:00-17:00)", "11"},
        {"tick-ms", "MS", "simulated time between ticks (0: none)", "60000"},
        {"sms-fraction", "F", "fraction of background incidents sent as SMS via /v1/sms/kannel", "0"},
        {"connections", "N", "over HTTP: concurrent keep-alive connections", "4"},
        {"truth", "FILE", "write the ground truth (JSON lines) here"}},
       "",
       Simulate},
      {{"evaluate"},
       "score derived.anomalies against a simulator's ground truth: precision, recall, delay",
       {{"data", "DIR", "the data directory", "", true},
        kKafka,
        {"truth", "FILE", "the ground truth written by `ewarn simulate --truth`", "", true},
        {"json", "", "print JSON instead of a table"}},
       "",
       Evaluate},
  };
}

}  // namespace ewarn::app
