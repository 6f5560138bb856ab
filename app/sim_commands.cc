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
#include "key_files.h"
#include "ewarn/base/time.h"
#include "ewarn/schemas/events.h"
#include "ewarn/sim/evaluate.h"
#include "ewarn/sim/scenario.h"
#include "ewarn/sim/sink.h"
#include "ingest_setup.h"
#include "listen_check.h"
#include "node.h"
#include "ewarn/alerts/lifecycle.h"
#include "ewarn/base/hash.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/v1/derived.pb.h"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <mutex>
#include <set>

namespace ewarn::app {
namespace {

const FlagSpec kData{"data", "DIR", "the data directory", "", false};

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
  ASSIGN_OR_RETURN(out.tick_ms, f.GetInt("tick-ms"));
  if (seed < 0) return Status::InvalidArgument("--seed must be >= 0");
  if (out.speed < 0) return Status::InvalidArgument("--speed must be >= 0 (0: as fast as possible)");
  if (out.stations < 0) return Status::InvalidArgument("--stations must be >= 0");
  if (out.scenario.sms_fraction < 0 || out.scenario.sms_fraction > 1) {
    return Status::InvalidArgument("--sms-fraction must be from 0 to 1");
  }
  if (out.tick_ms < 0) return Status::InvalidArgument("--tick-ms must be >= 0 (0: no ticks)");
  out.scenario.seed = static_cast<uint64_t>(seed);
  out.scenario.null_day = f.Has("null-day");
  out.scenario.finals_only = f.Has("finals-only");
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
  for (auto [flag, value] : {std::pair{"max-stations", &sf.max_stations}, std::pair{"connections", &sf.connections}}) {
    auto n = f.GetInt(flag);
    if (!n.ok()) return Fail(cmd, n.status());
    if (*n <= 0) return Fail(cmd, Status::InvalidArgument(std::string("--") + flag + " must be > 0"));
    *value = *n;
  }
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
    auto address = ParseHostPort(f.Get("http"), "--http");
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
  auto node = OpenIngestNode(dir, KafkaOf(f), {.rate_per_second = 1e9, .rate_burst = 1e9});
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
  auto log = OpenLog(dir, KafkaOf(f), /*create=*/false);
  if (!log.ok()) return Fail(cmd, log.status());
  auto anomalies = sim::ReadAnomalies(**log);
  if (!anomalies.ok() && anomalies.status().code() != StatusCode::kNotFound) return Fail(cmd, anomalies.status());
  if (!anomalies.ok()) {
    std::fprintf(stderr, "ewarn evaluate: no %s topic in %s yet (have the processors run?); scoring no anomalies\n",
                 std::string(schemas::topic::kAnomalies).c_str(), dir.root.c_str());
  }
  // The false-alarm rates' denominators: the stations of the reference data the day was
  // simulated on.
  auto stations = sim::ReadStations(**log);
  if (!stations.ok() && stations.status().code() != StatusCode::kNotFound) return Fail(cmd, stations.status());
  sim::Population population = stations.ok() ? sim::PopulationOf(*stations) : sim::Population{};
  sim::Evaluation e =
      sim::Evaluate(*truth, anomalies.ok() ? *anomalies : std::vector<sim::AnomalyRecord>{}, population);
  std::fputs((f.Has("json") ? e.ToJson() + "\n" : e.ToText()).c_str(), stdout);
  return 0;
}


// --- demo: serve + simulate on the embedded log, with liaisons who answer ---

// POSTs JSON with a bearer token; the HTTP status, or -1 when the request failed.
int PostJson(const std::string& host, uint16_t port, const std::string& target, const std::string& token,
             const std::string& body) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  try {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, host);
    req.set(http::field::authorization, "Bearer " + token);
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return res.result_int();
  } catch (const std::exception&) {
    return -1;
  }
}

// The liaisons' side of the demo: a webhook endpoint on 127.0.0.1 that receives deliveries (as
// a police desk's system would) and acknowledges two alerts in three through the alert API a
// few seconds later; the third is left to escalate.
class LiaisonDesk {
 public:
  // `ack_after`: wall time a liaison takes to answer (the demo makes it two simulated minutes).
  static Result<std::unique_ptr<LiaisonDesk>> Start(std::string api_host, uint16_t api_port,
                                                    std::chrono::milliseconds ack_after) {
    std::unique_ptr<LiaisonDesk> d(new LiaisonDesk());
    d->ack_after_ = ack_after;
    d->api_host_ = std::move(api_host);
    d->api_port_ = api_port;
    ingest::HttpRouter router;
    LiaisonDesk* self = d.get();
    router.Add("POST", "/hook", [self](const ingest::HttpRequest& req) { return self->Receive(req); });
    ASSIGN_OR_RETURN(d->server_, ingest::HttpServer::Start({.host = "127.0.0.1", .port = 0}, std::move(router), nullptr));
    d->acker_ = std::jthread([self](std::stop_token stop) { self->AckLoop(stop); });
    return d;
  }
  uint16_t port() const { return server_->port(); }
  void AddToken(const std::string& liaison_id, const std::string& token) {
    std::lock_guard lock(mu_);
    tokens_[liaison_id] = token;
  }
  int64_t deliveries() const { return deliveries_; }
  int64_t acked() const { return acked_; }
  ~LiaisonDesk() {
    acker_.request_stop();
    if (acker_.joinable()) acker_.join();
    server_->Stop();
  }

 private:
  LiaisonDesk() = default;
  ingest::HttpResponse Receive(const ingest::HttpRequest& req) {
    ++deliveries_;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(req.body, ec);
    if (!ec && v.is_object()) {
      const auto& o = v.as_object();
      std::string recipient = o.contains("recipient_id") && o.at("recipient_id").is_string()
                                  ? std::string(o.at("recipient_id").as_string())
                                  : "";
      if (const auto* alerts = o.if_contains("alerts"); alerts != nullptr && alerts->is_array()) {
        for (const auto& a : alerts->as_array()) {
          if (!a.is_object() || !a.as_object().contains("alert_id")) continue;
          std::string id(a.as_object().at("alert_id").as_string());
          std::string kind = a.as_object().contains("kind") ? std::string(a.as_object().at("kind").as_string()) : "";
          // Two in three, decided by the id, so a rerun acknowledges the same ones.
          if (kind != "raised" || StableHash64(id) % 3 == 0) continue;
          std::lock_guard lock(mu_);
          pending_.push_back({std::chrono::steady_clock::now() + ack_after_, id, recipient});
        }
      }
    }
    ingest::HttpResponse r;
    r.body = "{\"ok\":true}";
    return r;
  }
  void AckLoop(std::stop_token stop) {
    while (!stop.stop_requested()) {
      std::vector<Pending> due;
      {
        std::lock_guard lock(mu_);
        auto now = std::chrono::steady_clock::now();
        for (auto it = pending_.begin(); it != pending_.end();) {
          if (it->at <= now) {
            due.push_back(*it);
            it = pending_.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (const auto& p : due) {
        std::string token;
        {
          std::lock_guard lock(mu_);
          token = tokens_[p.liaison];
        }
        if (PostJson(api_host_, api_port_, "/v1/alerts/" + p.alert_id + "/ack", token,
                     "{\"note\":\"demo desk: unit dispatched\"}") == 202) {
          ++acked_;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  struct Pending {
    std::chrono::steady_clock::time_point at;
    std::string alert_id, liaison;
  };
  std::string api_host_;
  uint16_t api_port_ = 0;
  std::chrono::milliseconds ack_after_{0};
  std::unique_ptr<ingest::HttpServer> server_;
  std::mutex mu_;  // guards tokens_ and pending_
  std::map<std::string, std::string> tokens_;
  std::vector<Pending> pending_;
  std::atomic<int64_t> deliveries_{0}, acked_{0};
  std::jthread acker_;  // last: stops before the rest goes
};

int64_t TopicMessages(store::EventLog& log, std::string_view topic) {
  auto n = log.PartitionCount(topic);
  if (!n.ok()) return 0;
  int64_t total = 0;
  for (int32_t p = 0; p < *n; ++p) {
    auto off = log.Offsets({std::string(topic), p});
    if (off.ok()) total += off->end - off->start;
  }
  return total;
}

// One line of the live summary.
void PrintSummary(Node& node, LiaisonDesk& desk, int64_t sim_ms, double events_per_s) {
  std::map<std::string, int> region_level;
  (void)node.state().Scan(processors::kRiskStore, "", [&](std::string_view key, std::string_view value) {
    if (std::count(key.begin(), key.end(), '/') != 1 || key.find('#') != std::string_view::npos) return true;
    v1::RiskAssessment a;
    if (a.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      int& l = region_level[std::string(key.substr(0, key.find('/')))];
      l = std::max(l, static_cast<int>(a.level()));
    }
    return true;
  });
  int64_t raised = 0, open = 0, acked = 0, escalated = 0;  // acked and escalated: ever
  (void)alerts::ScanAlerts(node.state(), [&](const alerts::AlertRecord& r) {
    ++raised;
    if (r.state == alerts::AlertState::kOpen) ++open;
    if (r.acked_ms > 0) ++acked;
    if (r.alert.tier() > 1) ++escalated;
    return true;
  });
  std::string regions;
  static const char* kLevel[] = {"-", "low", "ELEVATED", "HIGH", "CRITICAL"};
  for (const auto& [region, level] : region_level) {
    regions += " " + region + "=" + kLevel[std::clamp(level, 0, 4)];
  }
  std::printf("[%s] %6.0f ev/s | %lld situations, %lld findings | alerts %lld (open %lld, acked %lld, escalated "
              "%lld), delivered %lld | risk:%s\n",
              sim_ms > 0 ? FormatRfc3339(sim_ms).substr(11, 5).c_str() : "--:--", events_per_s,
              static_cast<long long>(TopicMessages(node.log(), schemas::topic::kSituations)),
              static_cast<long long>(TopicMessages(node.log(), schemas::topic::kAnomalies)),
              static_cast<long long>(raised), static_cast<long long>(open), static_cast<long long>(acked),
              static_cast<long long>(escalated), static_cast<long long>(desk.deliveries()), regions.c_str());
  std::fflush(stdout);
}

// `s` as one shell word: as it is when it is plain, else in single quotes.
std::string ShellWord(const std::string& s) {
  bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("/._-+:=,@").find(c) != std::string_view::npos;
  });
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The closing "Next:" lines, runnable as printed and again: the binary and the directories by
// absolute path (ewarn need not be on PATH), the replay into a new temporary directory each time.
void PrintNext(const DataDir& dir, const std::string& truth_path) {
  std::error_code ec;
  std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec || self.empty()) self = "ewarn";
  auto absolute = [](const std::string& path) {
    std::error_code e;
    std::filesystem::path p = std::filesystem::absolute(path, e);
    return e ? path : p.lexically_normal().string();
  };
  const std::string bin = ShellWord(self), data = ShellWord(absolute(dir.root));
  std::printf("\nNext:\n  %s evaluate --data %s --truth %s\n  %s digest --data %s\n"
              "  R=$(mktemp -d) && %s replay --data %s --into \"$R\" && %s digest --data \"$R\"   # the same line\n",
              bin.c_str(), data.c_str(), ShellWord(absolute(truth_path)).c_str(), bin.c_str(), data.c_str(),
              bin.c_str(), data.c_str(), bin.c_str());
}

int Demo(const Flags& f) {
  const std::string cmd = "demo";
  StopOnSignal interrupt;  // before any thread starts
  SystemClock clock;
  auto parsed = ParseSimFlags(f, clock.NowMs());
  if (!parsed.ok()) return Fail(cmd, parsed.status());
  SimFlags& sf = *parsed;
  auto duration = f.GetInt("duration");
  if (!duration.ok()) return Fail(cmd, duration.status());
  if (sf.stations <= 0) return Fail(cmd, Status::InvalidArgument("--stations must be > 0"));
  DataDir dir{f.Get("data")};
  std::error_code ec;
  if (std::filesystem::exists(dir.log(), ec)) {
    return Fail(cmd, Status::FailedPrecondition("'" + dir.root + "' already holds a log; the demo starts from an "
                                                "empty directory (remove it, or give another --data)"));
  }
  // Busy ports are found before the directory is made, and anything made before the day starts
  // is removed on failure, so the same command works once the port is free.
  for (const char* flag : {"http", "metrics"}) {
    if (Status s = CheckCanListen(f.Get(flag), std::string("--") + flag); !s.ok()) return Fail(cmd, s);
  }
  NewDataDirGuard guard(dir.root);
  if (Status s = CreateDataDir(dir, /*with_parents=*/true); !s.ok()) return Fail(cmd, s);
  auto node = Node::Start({.dir = dir, .http = f.Get("http"), .rate_per_second = 1e9, .metrics = f.Get("metrics")});
  if (!node.ok()) return Fail(cmd, node.status());
  Node& n = **node;
  std::string api_host = f.Get("http").substr(0, f.Get("http").rfind(':'));
  auto ack_after = std::chrono::milliseconds(
      sf.speed > 0 ? std::max<int64_t>(50, static_cast<int64_t>(120'000 / sf.speed)) : 50);
  auto desk = LiaisonDesk::Start(api_host, n.http_port(), ack_after);
  if (!desk.ok()) return Fail(cmd, desk.status());

  auto scenario = sim::Generate(sim::GenerateStations(static_cast<int>(sf.stations), sf.scenario.seed), sf.scenario);
  if (!scenario.ok()) return Fail(cmd, scenario.status());
  auto credentials = sim::Prepare(n.ingestor(), n.log(), *scenario, n.secret(), clock.NowMs());
  if (!credentials.ok()) return Fail(cmd, credentials.status());
  // Liaisons: police for every district (tier 1: the default routes reach a ward's district)
  // and the commission in every region (escalations end there), all delivering to the demo's
  // desk; ticks carry them into routing.
  std::set<std::string> regions, districts;
  for (const auto& st : scenario->stations) {
    regions.insert(st.region());
    districts.insert(sim::DistrictPath(st));
  }
  std::string hook = "http://127.0.0.1:" + std::to_string((*desk)->port()) + "/hook";
  auto add = [&](const std::string& id, v1::LiaisonRole role, const std::string& area, int tier) -> Status {
    v1::Liaison l;
    l.set_liaison_id(id);
    l.set_name(id);
    l.set_role(role);
    l.set_area(area);
    l.set_tier(tier);
    l.set_webhook_url(hook);
    l.set_language("en");
    ASSIGN_OR_RETURN(auto registered, RegisterLiaison(n.ingestor().principals(), n.log(), l, clock.NowMs()));
    (*desk)->AddToken(id, registered.first);
    return Status::Ok();
  };
  for (const auto& d : districts) {
    std::string id = "police-" + d;
    std::replace(id.begin(), id.end(), '/', '-');
    if (Status s = add(id, v1::LIAISON_ROLE_POLICE, d, 1); !s.ok()) return Fail(cmd, s);
  }
  for (const auto& r : regions) {
    if (Status s = add("commission-" + r, v1::LIAISON_ROLE_COMMISSION, r, 2); !s.ok()) return Fail(cmd, s);
  }
  std::string truth_path = f.Has("truth") ? f.Get("truth") : dir.root + "/truth.jsonl";
  if (Status s = WriteTruth(truth_path, *scenario); !s.ok()) return Fail(cmd, s);
  auto duty = n.ingestor().principals().CreateToken("demo-duty-room", ingest::Role::kDuty, "", clock.NowMs());
  if (!duty.ok()) return Fail(cmd, duty.status());
  guard.Keep();  // the day starts: what it writes is worth keeping, even if it stops early

  std::string base = "http://" + api_host + ":" + std::to_string(n.http_port());
  std::printf("ewarn demo: %zu stations in %zu districts of %zu regions (a police liaison each, the commission "
              "per region), seed %llu, speed x%g, data in %s\n",
              scenario->stations.size(), districts.size(), regions.size(), static_cast<unsigned long long>(sf.scenario.seed), sf.speed,
              dir.root.c_str());
  PrintPlan(*scenario);
  std::printf("duty room:     %s/ (sign in with the duty token: %s)\nrisk API:      %s/v1/risk (Authorization: Bearer <token>)\n",
              base.c_str(), duty->c_str(), base.c_str());
  if (f.Has("metrics")) std::printf("metrics:       http://%s/metrics\n", f.Get("metrics").c_str());
  std::printf("press Ctrl-C to stop early\n\n");
  std::fflush(stdout);

  // The simulated day goes in over the node's own HTTP API (JSON and Kannel-style SMS), so
  // ingest runs exactly as in the field.
  auto sink = sim::HttpSink::Make({.host = api_host, .port = n.http_port(), .connections = 8,
                                   .credentials = std::move(credentials).value()});
  if (!sink.ok()) return Fail(cmd, sink.status());
  std::atomic<int64_t> sim_ms{0};
  std::atomic<bool> done{false};
  Result<sim::SinkStats> stats = sim::SinkStats{};
  std::stop_source stop_run;
  std::jthread runner([&] {
    sim::RunOptions run{.speed = sf.speed, .tick_every_ms = sf.tick_ms,
                        .progress = [&](int64_t t) { sim_ms = t; }, .stop = stop_run.get_token()};
    stats = sim::Run(*scenario, **sink, run);
    done = true;
  });
  auto started = std::chrono::steady_clock::now();
  auto last = started;
  int64_t last_events = TopicMessages(n.log(), schemas::topic::kInputs);
  while (!done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto now = std::chrono::steady_clock::now();
    bool out_of_time = *duration > 0 && now - started >= std::chrono::seconds(*duration);
    if (interrupt.stopped() || out_of_time || n.failed()) stop_run.request_stop();
    if (now - last >= std::chrono::seconds(2)) {
      int64_t events = TopicMessages(n.log(), schemas::topic::kInputs);
      double secs = std::chrono::duration<double>(now - last).count();
      PrintSummary(n, **desk, sim_ms, static_cast<double>(events - last_events) / secs);
      last = now;
      last_events = events;
    }
  }
  runner.join();
  // Let the stages and the desk finish what the day produced, then stop in order.
  for (int i = 0; i < 25 && !interrupt.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  PrintSummary(n, **desk, sim_ms, 0);
  desk->reset();
  Status stopped = n.Stop();
  if (stats.ok()) PrintStats(*stats, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
                             interrupt.stopped());
  if (!stopped.ok()) return Fail(cmd, stopped);
  if (!stats.ok()) return Fail(cmd, stats.status());
  auto anomalies = sim::ReadAnomalies(n.log());
  auto truth = sim::ReadTruth(truth_path);
  if (anomalies.ok() && truth.ok()) {
    std::printf("\nHow well the detectors found what was injected (ground truth: %s):\n%s", truth_path.c_str(),
                sim::Evaluate(*truth, *anomalies).ToText().c_str());
    if (sim_ms < scenario->end_ms) {
      std::printf("(stopped at %s simulated: patterns after that were never sent, so they show as missed)\n",
                  FormatRfc3339(sim_ms).substr(11, 5).c_str());
    }
  }
  PrintNext(dir, truth_path);
  return 0;
}
}  // namespace

std::vector<Command> SimCommands() {
  return {
      {{"simulate"},
       "generate a seeded election day with injected patterns and send it in (direct or over HTTP)",
       {kData, kKafkaFlag,
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
        {"null-day", "", "a null day for false alarms: no patterns, each final count Binomial(registered, the district's turnout)"},
        {"finals-only", "", "send only the final counts (no kits, snapshots, incidents or flags), e.g. a national null day"},
        {"connections", "N", "over HTTP: concurrent keep-alive connections", "4"},
        {"truth", "FILE", "write the ground truth (JSON lines) here"}},
       "",
       Simulate},
      {{"evaluate"},
       "score derived.anomalies against a simulator's ground truth: precision, recall, delay, false alarms per 1,000 districts and stations",
       {{"data", "DIR", "the data directory", "", true},
        kKafkaFlag,
        {"truth", "FILE", "the ground truth written by `ewarn simulate --truth`", "", true},
        {"json", "", "print JSON instead of a table"}},
       "",
       Evaluate},
      {{"demo"},
       "serve + a simulated election day on the embedded log, with liaisons who answer: the first thing to run",
       {{"data", "DIR", "a new data directory for the demo", "data/demo"},
        {"http", "HOST:PORT", "the API and the duty room's map", "127.0.0.1:8080"},
        {"metrics", "HOST:PORT", "Prometheus metrics", "127.0.0.1:9464"},
        {"stations", "N", "generated polling stations", "600"},
        {"seed", "S", "random seed: the same seed gives the same day", "1"},
        {"speed", "X", "simulated seconds per second (300: the 11-hour day in about 2.2 minutes)", "300"},
        {"duration", "SECONDS", "stop after this long even if the day is not over (0: when it is)", "0"},
        {"day", "YYYY-MM-DD", "the simulated day (default: the latest day that fits before now)"},
        {"hours", "H", "simulated hours from 07:00 UTC (polls 08:00-17:00)", "11"},
        {"tick-ms", "MS", "simulated time between ticks", "60000"},
        {"sms-fraction", "F",
         "fraction of background incidents sent as SMS; an SMS is dated when the gateway receives it, so use it "
         "with --speed 1 (a compressed day would put those reports hours ahead of the rest)", "0"},
        {"truth", "FILE", "where to write the ground truth (default DIR/truth.jsonl)"}},
       "",
       Demo,
       "the demo makes a node of its own on the embedded log in --data; for Kafka, run `ewarn serve --kafka` and "
       "`ewarn simulate --http`"},
  };
}

}  // namespace ewarn::app
