// End to end at Nigeria or India scale (issue 6): the real `ewarn serve` as a child process, fed
// over its HTTP API by an open-loop load generator inside this bench, so the whole production
// path runs: HTTP ingest -> embedded log (durable) -> station stage -> alert stage -> webhook.
//
// Setup (not timed), with the ewarn CLI only: N stations in 774 districts (a CSV through
// `ewarn import-stations`), tokens for a kit gateway, presiding officers, a classifier, field
// monitors and an operator, and a police liaison for every district that will get an injected
// trouble, whose webhook is a receiver inside this bench on 127.0.0.1.
//
// Load, in event time (E0 = yesterday 09:00 UTC, polls open; event time advances at wall time x
// the phase's speed):
//   - every kit heartbeats once per event minute, spread evenly; the gateway posts what is due
//     every 100 ms as JSON arrays of at most --batch readings (POST /v1/kit);
//   - every station's presiding officer reports turnout every --turnout-minutes (POST /v1/turnout);
//   - mild incidents, 0.1 per station per day (severity 1-2, so never a cluster), and one mild
//     hate-speech flag per district every 2 h (the simulator's background rates);
//   - every --trouble-every wall seconds a violent cluster: 4 monitors report violence (severity
//     5) at one station of a fresh district at the same moment, so the station goes HIGH and the
//     district's police liaison gets a webhook (latency: the reports' occurred_at, mapped back to
//     wall time, to the webhook's arrival);
//   - POST /v1/ticks (operator) every wall second at the current event time (serve runs with
//     --tick-ms 0, so event time is the bench's).
// Phases: x1 for S s, x--speed for S s, x1 for S s; then the load stops and the bench waits (at
// most --drain-seconds) for the stages to catch up. Every second it samples offered and
// acknowledged events, request latencies, the station and alert stages' consumer lag (serve's
// Prometheus metrics), serve's RSS and the CPU used by serve, the bench and everything else.
// After serve stops, the ceilings of the same run: `ewarn log check` (every record read and
// decoded: the raw log read rate), `ewarn replay` (rebuild from the inputs: replay speed),
// RocksDB's db_bench (durable writes) and nginx serving a static file to wrk (HTTP requests).
//
// Why not ewarn::sim's Generate()/HttpSink: Generate() materialises the whole day in memory
// (India with one heartbeat a minute: ~140 M events) and HttpSink sends step by step, waiting
// for every answer; an open-loop bench must keep offering load when the server falls behind and
// measure that backlog. The bench depends on nothing but base, the CLI and the HTTP API.
//
// Usage: e2e_bench [--stations N] [--speed X] [--phase-seconds S] [--connections K]
//                  [--ewarn PATH] [--work DIR] [--keep] [--batch B] [--turnout-minutes M]
//                  [--trouble-every S] [--drain-seconds S] [--print-every S] [--partitions P]
//                  [--no-ceilings] [--kafka-nodes N] [--compare-kafka-nodes 1,2,...]
//
// Kafka mode (issue 14, "Speed"): --kafka-nodes N runs `ewarn dev-kafka --brokers 3 --partitions
// P` (librdkafka's mock cluster over loopback TCP: NOT a real broker) as one more child, does the
// setup through `--kafka`, starts N `ewarn serve --kafka` nodes (each its own data directory, the
// cluster's shared key files) and spreads every lane's connections over the nodes; ticks go to
// the first node (POST /v1/ticks ticks every partition); lags, records, RSS and CPU are summed
// over the nodes (dev-kafka's CPU is in "other"). The mock keeps only ~5 MB per partition and
// drops older records silently, so after the run `ewarn log stat --kafka` must show every
// partition of every topic still starting at offset 0 and in.events holding at least the
// acknowledged events, or the run is refused. --compare-kafka-nodes 1,2,1,2 runs those node
// counts one after another in the same invocation, same load, and prints the medians per node
// count and their ratio. No ceilings in Kafka mode (they read a data directory).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/json/src.hpp>  // Boost.JSON is header-only here: this is its one translation unit

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/base/text.h"
#include "ewarn/base/time.h"

using namespace ewarn;
namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Steady = std::chrono::steady_clock;

namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int kTroubleReporters = 4;  // independent monitors per injected cluster
constexpr int kMonitors = 8;          // monitor tokens: background incidents rotate over them

double SecondsSince(Steady::time_point t) { return std::chrono::duration<double>(Steady::now() - t).count(); }

std::string Commas(double value) {
  auto v = static_cast<int64_t>(value < 0 ? value - 0.5 : value + 0.5);
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

double Percentile(std::vector<float> v, double p) {
  if (v.empty()) return 0;
  size_t at = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
  return v[at];
}

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  int64_t stations = 176'000;
  int districts = 774;
  double speed = 5;         // the peak's multiplier of real time
  int phase_seconds = 60;
  int connections = 32;
  int batch = 500;          // kit readings per POST /v1/kit (the API takes up to 1000, 256 KiB)
  int turnout_minutes = 60;
  int trouble_every = 5;    // wall seconds between injected clusters
  int drain_seconds = 120;
  int print_every = 5;
  int partitions = 8;
  std::string ewarn;        // default: ../app/ewarn next to this binary
  std::string work = "/tmp";
  bool keep = false;
  bool ceilings = true;
  int kafka_nodes = 0;                   // 0: embedded log (one serve, --data)
  std::vector<int> compare_kafka_nodes;  // node counts to run one after another
};

constexpr const char* kUsage =
    "usage: e2e_bench [--stations N (176000)] [--speed X (5)] [--phase-seconds S (60)] [--connections K (32)]\n"
    "                 [--ewarn PATH (../app/ewarn beside this binary)] [--work DIR (/tmp)] [--keep]\n"
    "                 [--batch B (500)] [--turnout-minutes M (60)] [--trouble-every S (5)]\n"
    "                 [--drain-seconds S (120)] [--print-every S (5)] [--partitions P (8)] [--no-ceilings]\n"
    "                 [--kafka-nodes N (0: embedded log)] [--compare-kafka-nodes 1,2,1,2]\n";

Result<Options> ParseOptions(int argc, char** argv) {
  Options o;
  auto number = [](const std::string& flag, const char* text, auto& out) -> Status {
    std::string_view s(text);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc() || end != s.data() + s.size() || out <= 0) {
      return Status::InvalidArgument(flag + " wants a positive number, got '" + std::string(s) + "'");
    }
    return Status::Ok();
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--keep") {
      o.keep = true;
      continue;
    }
    if (a == "--no-ceilings") {
      o.ceilings = false;
      continue;
    }
    if (a == "--help" || a == "-h") return Status::InvalidArgument("help");
    if (i + 1 >= argc) return Status::InvalidArgument(a + " needs a value (or is unknown)");
    const char* v = argv[++i];
    if (a == "--stations") RETURN_IF_ERROR(number(a, v, o.stations));
    else if (a == "--speed") RETURN_IF_ERROR(number(a, v, o.speed));
    else if (a == "--phase-seconds") RETURN_IF_ERROR(number(a, v, o.phase_seconds));
    else if (a == "--connections") RETURN_IF_ERROR(number(a, v, o.connections));
    else if (a == "--batch") RETURN_IF_ERROR(number(a, v, o.batch));
    else if (a == "--turnout-minutes") RETURN_IF_ERROR(number(a, v, o.turnout_minutes));
    else if (a == "--trouble-every") RETURN_IF_ERROR(number(a, v, o.trouble_every));
    else if (a == "--drain-seconds") RETURN_IF_ERROR(number(a, v, o.drain_seconds));
    else if (a == "--print-every") RETURN_IF_ERROR(number(a, v, o.print_every));
    else if (a == "--partitions") RETURN_IF_ERROR(number(a, v, o.partitions));
    else if (a == "--kafka-nodes") RETURN_IF_ERROR(number(a, v, o.kafka_nodes));
    else if (a == "--compare-kafka-nodes") {
      for (std::string_view rest(v); !rest.empty();) {
        size_t comma = rest.find(',');
        std::string item(rest.substr(0, comma));
        int n = 0;
        RETURN_IF_ERROR(number(a, item.c_str(), n));
        o.compare_kafka_nodes.push_back(n);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    }
    else if (a == "--ewarn") o.ewarn = v;
    else if (a == "--work") o.work = v;
    else return Status::InvalidArgument("unknown flag " + a);
  }
  if (!o.compare_kafka_nodes.empty() && o.kafka_nodes > 0) {
    return Status::InvalidArgument("give --kafka-nodes or --compare-kafka-nodes, not both");
  }
  if (o.kafka_nodes > 0 || !o.compare_kafka_nodes.empty()) o.ceilings = false;  // they read a data directory
  if (o.batch > 1000) return Status::InvalidArgument("--batch is at most 1000 (the API's limit)");
  if (o.stations < o.districts) return Status::InvalidArgument("--stations must be at least 774 (one per district)");
  if (o.ewarn.empty()) {
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    o.ewarn = (self.parent_path().parent_path() / "app" / "ewarn").string();
  }
  if (access(o.ewarn.c_str(), X_OK) != 0) {
    return Status::NotFound("no ewarn binary at " + o.ewarn + "; build it (cmake --build build --target ewarn) or pass --ewarn PATH");
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Processes and directories

// A fresh directory under --work, removed with everything in it unless --keep.
class WorkDir {
 public:
  static Result<std::unique_ptr<WorkDir>> Make(const std::string& parent, bool keep) {
    std::string pattern = (fs::path(parent) / "ewarn-e2e-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return Status::IOError("cannot create a directory under " + parent + ": " + std::strerror(errno));
    }
    return std::unique_ptr<WorkDir>(new WorkDir(pattern, keep));
  }
  ~WorkDir() {
    if (keep_) {
      std::printf("kept %s\n", path_.c_str());
      return;
    }
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  std::string Sub(const std::string& name) const { return (fs::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

 private:
  WorkDir(std::string path, bool keep) : path_(std::move(path)), keep_(keep) {}
  std::string path_;
  bool keep_;
};

// A child process (the ewarn binary) with stdout and stderr in a file. Killed (SIGKILL) when
// this object goes away while it still runs, and by the kernel when the bench dies
// (PR_SET_PDEATHSIG), so no serve outlives a run.
class Child {
 public:
  static Result<std::unique_ptr<Child>> Spawn(const std::vector<std::string>& args, const std::string& output) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError("cannot write " + output + ": " + std::strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
      close(fd);
      return Status::Internal(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {  // only async-signal-safe calls until exec
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);  // the bench blocks SIGINT/SIGTERM for sigtimedwait
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fd);
    return std::unique_ptr<Child>(new Child(pid));
  }
  ~Child() {
    if (!exit_code_) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }

  // The exit code (128 + signal when killed) once it ended; nullopt while it runs.
  std::optional<int> Poll() {
    if (exit_code_) return exit_code_;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) exit_code_ = Decode(status);
    return exit_code_;
  }
  // SIGTERM, then SIGKILL when it has not ended within `grace`. Returns the exit code.
  int Stop(std::chrono::seconds grace) {
    if (Poll()) return *exit_code_;
    kill(pid_, SIGTERM);
    auto deadline = Steady::now() + grace;
    while (!Poll() && Steady::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!exit_code_) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      exit_code_ = Decode(status);
    }
    return *exit_code_;
  }

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  static int Decode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }
  pid_t pid_;
  std::optional<int> exit_code_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string LastLine(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

std::string Tail(const std::string& text, size_t bytes) {
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

// Ctrl-C or SIGTERM since the last look. They are blocked in every thread and taken here or
// by the sampling loop, never by a handler, so every exit runs the destructors.
bool Interrupted(const sigset_t& signals) {
  timespec zero{0, 0};
  return sigtimedwait(&signals, nullptr, &zero) > 0;
}

// Runs a command (ewarn, or a ceiling's program) to its end; its output, or an error quoting it.
Result<std::string> RunTool(const std::vector<std::string>& args, const std::string& output, const sigset_t& signals) {
  ASSIGN_OR_RETURN(auto child, Child::Spawn(args, output));
  std::optional<int> exited;
  while (!(exited = child->Poll())) {
    if (Interrupted(signals)) return Status::Internal("interrupted");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int code = *exited;
  std::string text = ReadFile(output);
  if (code != 0) {
    std::string cmd;
    for (size_t i = 1; i < args.size(); ++i) cmd += (i > 1 ? " " : "") + args[i];
    return Status::Internal("`" + fs::path(args[0]).filename().string() + " " + cmd + "` exited with " +
                            std::to_string(code) + ":\n" + Tail(text, 2000));
  }
  return text;
}

Result<uint16_t> FreePort() {
  net::io_context io;
  tcp::acceptor acceptor(io);
  beast::error_code ec;
  acceptor.open(tcp::v4(), ec);
  if (!ec) acceptor.bind({net::ip::make_address("127.0.0.1"), 0}, ec);
  if (ec) return Status::Unavailable("no free port on 127.0.0.1: " + ec.message());
  return acceptor.local_endpoint().port();
}

// ---------------------------------------------------------------------------------------------
// /proc: memory and CPU

int64_t StatusKib(pid_t pid, const std::string& field) {  // "VmRSS", "VmHWM"
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field + ":")) return std::atoll(line.c_str() + field.size() + 1);
  }
  return 0;
}

// utime + stime of a process or thread, in seconds, from a /proc/.../stat file.
double CpuSeconds(const std::string& stat_path, std::string* comm = nullptr) {
  std::string text = ReadFile(stat_path);
  size_t open = text.find('('), close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return 0;
  if (comm) *comm = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::atof(field.c_str());
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The whole machine's CPU seconds (all cores): busy (everything but idle and iowait, so also
// the hypervisor's steal), and idle waiting for I/O.
struct MachineCpu {
  double busy = 0, iowait = 0;
};
MachineCpu ReadMachineCpu() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  double total = 0, idle = 0, iowait = 0, v = 0;
  for (int i = 0; i < 8 && in >> v; ++i) {  // user nice system idle iowait irq softirq steal
    total += v;
    if (i == 3) idle = v;
    if (i == 4) iowait = v;
  }
  const auto hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {(total - idle - iowait) / hz, iowait / hz};
}

// CPU seconds of each thread of `pid`, by thread id (name in `names`).
std::map<int, double> ThreadCpu(pid_t pid, std::map<int, std::string>* names) {
  std::map<int, double> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    int tid = std::atoi(entry.path().filename().c_str());
    std::string comm;
    out[tid] = CpuSeconds(entry.path().string() + "/stat", &comm);
    (*names)[tid] = comm;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTTP: a keep-alive client, and the webhook receiver

struct Reply {
  int status = 0;
  std::string body;
};

// One keep-alive connection to 127.0.0.1:port, synchronous. Not thread-safe: one per thread.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port) : endpoint_(net::ip::make_address("127.0.0.1"), port) {}

  Result<Reply> Request(http::verb verb, const std::string& target, const std::string& token, std::string body) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (verb == http::verb::post) req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.keep_alive(true);
    req.prepare_payload();
    // A kept-alive connection the server has closed fails on first use: reconnect once. A
    // report sent twice this way is a duplicate to the server (same event_id), not a new event.
    bool reused = open_;
    Result<Reply> r = Once(req);
    if (!r.ok() && reused) r = Once(req);
    return r;
  }

 private:
  Result<Reply> Once(const http::request<http::string_body>& req) {
    beast::error_code ec;
    if (!open_) {
      stream_.expires_after(std::chrono::seconds(10));
      stream_.connect(endpoint_, ec);
      if (ec) return Status::Unavailable("cannot connect to 127.0.0.1:" + std::to_string(endpoint_.port()) + ": " + ec.message());
      open_ = true;
    }
    stream_.expires_after(std::chrono::seconds(60));
    http::write(stream_, req, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    if (!ec) http::read(stream_, buffer, res, ec);
    if (ec) {
      stream_.socket().close(ec);
      open_ = false;
      return Status::Unavailable(std::string(req.target()) + ": " + ec.message());
    }
    if (!res.keep_alive()) {
      stream_.socket().close(ec);
      open_ = false;
    }
    return Reply{static_cast<int>(res.result_int()), std::move(res.body())};
  }

  net::io_context io_;
  tcp::endpoint endpoint_;
  beast::tcp_stream stream_{io_};
  bool open_ = false;
};

// The liaisons' webhook endpoint: answers 200 to every POST and hands the body to `on_post`
// (called on the receiver's one thread).
class WebhookReceiver {
 public:
  using Handler = std::function<void(const std::string& body)>;

  static Result<std::unique_ptr<WebhookReceiver>> Start(Handler on_post) {
    std::unique_ptr<WebhookReceiver> r(new WebhookReceiver(std::move(on_post)));
    beast::error_code ec;
    r->acceptor_.open(tcp::v4(), ec);
    if (!ec) r->acceptor_.bind({net::ip::make_address("127.0.0.1"), 0}, ec);
    if (!ec) r->acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return Status::Unavailable("webhook receiver cannot listen on 127.0.0.1: " + ec.message());
    r->Accept();
    WebhookReceiver* self = r.get();
    r->thread_ = std::jthread([self] { self->io_.run(); });
    return r;
  }
  ~WebhookReceiver() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(tcp::socket socket, const Handler& handler) : stream(std::move(socket)), on_post(handler) {}
    void Read() {
      req = {};
      http::async_read(stream, buffer, req, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (!ec) self->Respond();
      });
    }
    void Respond() {
      on_post(req.body());
      res = {http::status::ok, req.version()};
      res.set(http::field::content_type, "application/json");
      res.body() = "{}";
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::async_write(stream, res, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (!ec && self->res.keep_alive()) self->Read();
      });
    }
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::response<http::string_body> res;
    const Handler& on_post;
  };

  explicit WebhookReceiver(Handler on_post) : on_post_(std::move(on_post)) {}
  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      std::make_shared<Session>(std::move(socket), on_post_)->Read();
      Accept();
    });
  }

  Handler on_post_;  // declared first: sessions pending in io_ refer to it until io_ is gone
  net::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::jthread thread_;
};

// ---------------------------------------------------------------------------------------------
// Serve's Prometheus metrics: consumer lag and records per stage

struct ServeMetrics {
  double station_lag = 0, alert_lag = 0;          // records behind, summed over partitions
  double station_records = 0, alert_records = 0;  // records taken (processed, duplicate, skipped)
};

ServeMetrics ParseMetrics(const std::string& text) {
  ServeMetrics m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    double value = std::atof(line.c_str() + space + 1);
    // The station stage reads in.events, the alert stage risk (label topic= or stage=).
    bool station = line.find("=\"in.events\"") != std::string::npos;
    bool alert = line.find("=\"risk\"") != std::string::npos;
    double* into = nullptr;
    if (line.starts_with("ewarn_processors_consumer_lag{")) {
      into = station ? &m.station_lag : alert ? &m.alert_lag : nullptr;
    } else if (line.starts_with("ewarn_processors_records_total{")) {
      into = station ? &m.station_records : alert ? &m.alert_records : nullptr;
    }
    if (into != nullptr) *into += value;
  }
  return m;
}

Result<ServeMetrics> Scrape(HttpClient& metrics) {
  ASSIGN_OR_RETURN(Reply r, metrics.Request(http::verb::get, "/metrics", "", ""));
  if (r.status != 200) return Status::Unavailable("GET /metrics answered " + std::to_string(r.status));
  return ParseMetrics(r.body);
}

// ---------------------------------------------------------------------------------------------
// The workload: stations, what each event says, and when it is due in event time

struct Station {
  std::string id;
  int32_t district;
  double lat, lon;
  int64_t registered;
  double final_turnout;  // 0.40-0.70 of registered by close
};

struct Tokens {
  std::string kits, officers, classifier, operator_token;
  std::vector<std::string> monitors;
};

// Phases of wall time and event-time speed; event time is E0 + the integral of speed.
struct Phase {
  std::string name;
  double speed;
  double seconds;
};

class Schedule {
 public:
  explicit Schedule(std::vector<Phase> phases) : phases_(std::move(phases)) {}
  const std::vector<Phase>& phases() const { return phases_; }
  double LoadSeconds() const {
    double s = 0;
    for (const auto& p : phases_) s += p.seconds;
    return s;
  }
  // Event seconds since E0 at `wall` seconds since the start; after the phases, real time.
  double EventSeconds(double wall) const {
    double event = 0;
    for (const auto& p : phases_) {
      double in_phase = std::min(wall, p.seconds);
      event += in_phase * p.speed;
      wall -= in_phase;
      if (wall <= 0) return event;
    }
    return event + wall;
  }
  int PhaseAt(double wall) const {
    for (size_t i = 0; i < phases_.size(); ++i) {
      if (wall < phases_[i].seconds) return static_cast<int>(i);
      wall -= phases_[i].seconds;
    }
    return static_cast<int>(phases_.size());  // after the load: draining
  }

 private:
  std::vector<Phase> phases_;
};

struct Trouble {
  size_t station;    // index into Workload::stations
  double wall;       // seconds after the start of the load
  int64_t event_ms;  // occurred_at of its reports
};

// Immutable once built; the generator's threads share it read-only.
struct Workload {
  std::vector<Station> stations;
  std::vector<std::string> district_paths;  // "STATE3/LGA40"
  int64_t e0_ms = 0;
  int64_t polls_open_ms = 0, polls_close_ms = 0;
  int64_t turnout_every_ms = 0;
  int64_t incident_every_ms = 0;  // between background incidents over all stations
  int64_t flag_every_ms = 0;      // between background hate-speech flags over all districts
  std::string run;                // event-id prefix
  std::vector<Trouble> troubles;

  int64_t n() const { return static_cast<int64_t>(stations.size()); }
  int64_t KitTime(int64_t c) const { return e0_ms + c * kMinuteMs / n(); }
  int64_t KitsDue(int64_t event_ms) const { return (event_ms - e0_ms) * n() / kMinuteMs; }
  int64_t TurnoutTime(int64_t c) const { return e0_ms + c * turnout_every_ms / n(); }
  int64_t TurnoutsDue(int64_t event_ms) const { return (event_ms - e0_ms) * n() / turnout_every_ms; }
  int64_t IncidentTime(int64_t c) const { return e0_ms + c * incident_every_ms; }
  int64_t FlagTime(int64_t c) const { return e0_ms + c * flag_every_ms; }

  // Cumulative fraction of the day's turnout at `t`: linear over the polls (enough for the
  // detectors: far below a surge, never decreasing).
  double Progress(int64_t t) const {
    return std::clamp(static_cast<double>(t - polls_open_ms) / static_cast<double>(polls_close_ms - polls_open_ms), 0.0, 1.0);
  }
  int64_t VotersCast(const Station& s, int64_t t) const {
    return static_cast<int64_t>(static_cast<double>(s.registered) * s.final_turnout * Progress(t));
  }

  std::string KitBatch(int64_t first, int64_t count) const {
    std::string body = "[";
    body.reserve(static_cast<size_t>(count) * 240);
    char buf[512];
    for (int64_t c = first; c < first + count; ++c) {
      const Station& s = stations[static_cast<size_t>(c % n())];
      int64_t t = KitTime(c);
      // A kit accredits a voter ~10 min before the vote, so its count leads the station's
      // turnout (no over-voting); battery drains 3.5 %/h from 95 %.
      int64_t accredited = VotersCast(s, t + 10 * kMinuteMs) + 5;
      double battery = std::max(20.0, 95.0 - 3.5 * static_cast<double>(t - e0_ms) / kHourMs);
      int len = std::snprintf(buf, sizeof buf,
                              "%s{\"event_id\":\"%s-k%lld\",\"occurred_at\":\"%s\",\"kit_id\":\"KIT-%s\","
                              "\"station_id\":\"%s\",\"battery_pct\":%.1f,\"accredited_total\":%lld,"
                              "\"auth_failures\":%lld,\"tamper\":false,\"lat\":%.5f,\"lon\":%.5f}",
                              c == first ? "" : ",", run.c_str(), static_cast<long long>(c), FormatRfc3339(t).c_str(),
                              s.id.c_str(), s.id.c_str(), battery, static_cast<long long>(accredited),
                              static_cast<long long>(accredited / 50), s.lat, s.lon);
      body.append(buf, static_cast<size_t>(len));
    }
    body += "]";
    return body;
  }
  std::string Turnout(int64_t c) const {
    const Station& s = stations[static_cast<size_t>(c % n())];
    int64_t t = TurnoutTime(c);
    return "{\"event_id\":\"" + run + "-t" + std::to_string(c) + "\",\"occurred_at\":\"" + FormatRfc3339(t) +
           "\",\"station_id\":\"" + s.id + "\",\"voters_cast\":" + std::to_string(VotersCast(s, t)) + "}";
  }
  std::string Incident(int64_t c) const {
    static constexpr const char* kMild[] = {"procedure", "materials", "access", "other"};
    // A multiplicative hash spreads consecutive incidents over the country.
    const Station& s = stations[static_cast<size_t>((static_cast<uint64_t>(c) * 2654435761u) % static_cast<uint64_t>(n()))];
    return "{\"event_id\":\"" + run + "-i" + std::to_string(c) + "\",\"occurred_at\":\"" +
           FormatRfc3339(IncidentTime(c)) + "\",\"station_id\":\"" + s.id + "\",\"category\":\"" + kMild[c % 4] +
           "\",\"severity\":" + std::to_string(1 + c % 2) + ",\"description\":\"queue not moving, report " +
           std::to_string(c) + "\"}";
  }
  std::string Flag(int64_t c) const {
    const std::string& area = district_paths[static_cast<size_t>(c) % district_paths.size()];
    return "{\"event_id\":\"" + run + "-h" + std::to_string(c) + "\",\"occurred_at\":\"" + FormatRfc3339(FlagTime(c)) +
           "\",\"area\":" + JsonQuote(area) + ",\"text\":\"post " + std::to_string(c) +
           " about the other side\",\"target_group\":\"opponents\",\"reach\":" + std::to_string(50 + c * 37 % 1950) +
           ",\"confidence\":" + std::to_string(0.3 + 0.3 * static_cast<double>(c % 10) / 10.0) + "}";
  }
  std::string TroubleReport(size_t trouble, int reporter) const {
    // Each monitor in their own words: the station stage counts one voice per distinct text.
    static constexpr const char* kWords[kTroubleReporters] = {
        "armed men attacking voters in the queue", "gunshots near the polling unit, people running",
        "thugs beating voters and seizing ballot boxes", "violent attack at the school gate, injuries"};
    const Trouble& tr = troubles[trouble];
    const Station& s = stations[tr.station];
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "{\"event_id\":\"%s-x%zu-%d\",\"occurred_at\":\"%s\",\"station_id\":\"%s\",\"category\":\"violence\","
                  "\"severity\":5,\"description\":\"%s\",\"lat\":%.5f,\"lon\":%.5f}",
                  run.c_str(), trouble, reporter, FormatRfc3339(tr.event_ms).c_str(), s.id.c_str(), kWords[reporter],
                  s.lat + 0.0003 * reporter, s.lon);
    return buf;
  }
};

// Stations in `districts` districts of 37 states; ~25 stations a ward (Nigeria: 176,846
// polling units in 8,809 wards). Station i is in district i % districts, so stations of one
// district are spread over the id range; coordinates on a grid of districts ~11 km across.
void MakeStations(Workload& w, int64_t count, int districts) {
  for (int d = 0; d < districts; ++d) w.district_paths.push_back("STATE" + std::to_string(d % 37) + "/LGA" + std::to_string(d));
  w.stations.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    auto d = static_cast<int32_t>(i % districts);
    uint64_t h = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
    double jitter_lat = static_cast<double>((h >> 20) % 1000) / 10000.0 - 0.05;
    double jitter_lon = static_cast<double>((h >> 40) % 1000) / 10000.0 - 0.05;
    w.stations.push_back({.id = "PS" + std::to_string(i),
                          .district = d,
                          .lat = 4.5 + (d % 28) * 0.3 + jitter_lat,
                          .lon = 3.0 + (d / 28) * 0.4 + jitter_lon,
                          .registered = 500 + (i * 37) % 1000,
                          .final_turnout = 0.4 + static_cast<double>((h >> 8) % 300) / 1000.0});
  }
}

int64_t WardOf(int64_t i, int64_t districts, int64_t wards) { return (i / districts) % wards; }

Status WriteStationsCsv(const Workload& w, int districts, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return Status::IOError("cannot write " + path);
  const int64_t wards = std::max<int64_t>(1, (w.n() / districts + 12) / 25);
  std::fprintf(f, "station_id,name,region,district,ward,lat,lon,registered_voters\n");
  for (int64_t i = 0; i < w.n(); ++i) {
    const Station& s = w.stations[static_cast<size_t>(i)];
    std::fprintf(f, "%s,Polling station %lld,STATE%d,LGA%d,W%lld,%.5f,%.5f,%lld\n", s.id.c_str(),
                 static_cast<long long>(i), s.district % 37, s.district,
                 static_cast<long long>(WardOf(i, districts, wards)), s.lat, s.lon,
                 static_cast<long long>(s.registered));
  }
  return std::fclose(f) == 0 ? Status::Ok() : Status::IOError("cannot write " + path);
}

// ---------------------------------------------------------------------------------------------
// The load generator: a scheduler that queues what is due, K senders that post it

enum class Kind { kKits, kTurnout, kIncident, kFlag, kTrouble };

struct Work {
  Kind kind;
  int64_t first = 0;  // kits: first heartbeat number; others: the report's number
  int64_t count = 1;  // events in the request
  int reporter = 0;   // trouble reports: which monitor
};

struct LatencySample {
  float ack_ms;  // request sent -> 202 (retries included); waiting in the generator is not
  bool kits;
};

class LoadGenerator {
 public:
  struct Counters {
    int64_t offered = 0, acked = 0, duplicates_or_rejected = 0, requests = 0, retries = 0, failures = 0;
  };

  // Senders are different clients: half the connections carry the kit gateway's batches, half
  // the officers' turnout and the background reports, and the monitors who report an injected
  // cluster have a connection each (as their phones would), so that report never waits in the
  // generator behind other traffic: its alert latency is the platform's.
  // With several nodes, each lane's connections go round the nodes (`ports`, one per node).
  LoadGenerator(const Workload& w, const Tokens& tokens, const Schedule& schedule, std::vector<uint16_t> ports,
                const Options& o)
      : w_(w), tokens_(tokens), schedule_(schedule), batch_(o.batch) {
    size_t in_lane[3] = {0, 0, 0};
    for (int i = 0; i < std::max(2, o.connections) + kTroubleReporters; ++i) {
      int l = i < kTroubleReporters ? kTroubleLane : kKitLane + i % 2;
      uint16_t port = ports[in_lane[l]++ % ports.size()];
      Lane& lane = lanes_[l];
      senders_.emplace_back([this, &lane, port](std::stop_token stop) { SendLoop(stop, lane, port); });
    }
  }
  ~LoadGenerator() {
    scheduler_.request_stop();
    for (auto& s : senders_) s.request_stop();
  }

  void Start(Steady::time_point start) {
    scheduler_ = std::jthread([this, start](std::stop_token stop) { ScheduleLoop(stop, start); });
  }
  Counters counters() const {
    return {offered_.load(), acked_.load(), refused_.load(), requests_.load(), retries_.load(), failures_.load()};
  }
  int64_t backlog() const { return backlog_.load(); }  // offered, not yet answered
  bool offering() const { return !offering_done_.load(); }
  std::vector<LatencySample> TakeLatencies() {
    std::lock_guard lock(mu_);
    return std::exchange(latencies_, {});
  }
  std::vector<std::string> Errors() const {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  struct Lane {
    std::deque<Work> queue;  // guarded by mu_
    std::condition_variable_any cv;
  };

  static constexpr int kKitLane = 0, kPeopleLane = 1, kTroubleLane = 2;
  void Push(Work w) {
    Lane& lane = lanes_[w.kind == Kind::kKits ? kKitLane : w.kind == Kind::kTrouble ? kTroubleLane : kPeopleLane];
    offered_ += w.count;
    backlog_ += w.count;
    {
      std::lock_guard lock(mu_);
      lane.queue.push_back(w);
    }
    lane.cv.notify_one();
  }

  // Every 100 ms: queue everything due by now in event time (a gateway forwards what its kits
  // sent in the last 100 ms as one or more batches).
  void ScheduleLoop(std::stop_token stop, Steady::time_point start) {
    int64_t kits = 0, turnouts = 0, incidents = 0, flags = 0;
    size_t troubles = 0;
    for (auto step = start; !stop.stop_requested(); step += std::chrono::milliseconds(100)) {
      std::this_thread::sleep_until(step);
      double wall = std::chrono::duration<double>(Steady::now() - start).count();
      if (wall >= schedule_.LoadSeconds()) break;
      int64_t event = w_.e0_ms + static_cast<int64_t>(schedule_.EventSeconds(wall) * 1000);
      for (int64_t due = w_.KitsDue(event); kits < due;) {
        int64_t count = std::min<int64_t>(batch_, due - kits);
        Push({.kind = Kind::kKits, .first = kits, .count = count});
        kits += count;
      }
      for (int64_t due = w_.TurnoutsDue(event); turnouts < due; ++turnouts) {
        Push({.kind = Kind::kTurnout, .first = turnouts});
      }
      for (; w_.IncidentTime(incidents) <= event; ++incidents) Push({.kind = Kind::kIncident, .first = incidents});
      for (; w_.FlagTime(flags) <= event; ++flags) Push({.kind = Kind::kFlag, .first = flags});
      for (; troubles < w_.troubles.size() && w_.troubles[troubles].wall <= wall; ++troubles) {
        for (int r = 0; r < kTroubleReporters; ++r) {
          Push({.kind = Kind::kTrouble, .first = static_cast<int64_t>(troubles), .reporter = r});
        }
      }
    }
    {
      std::lock_guard lock(mu_);  // a sender checks the flag under mu_: no lost wake-up
      offering_done_ = true;
    }
    for (Lane& lane : lanes_) lane.cv.notify_all();
  }

  struct Request {
    std::string path, token, body;
  };
  Request Render(const Work& w) const {
    switch (w.kind) {
      case Kind::kKits: return {"/v1/kit", tokens_.kits, w_.KitBatch(w.first, w.count)};
      case Kind::kTurnout: return {"/v1/turnout", tokens_.officers, w_.Turnout(w.first)};
      case Kind::kIncident:
        return {"/v1/incidents", tokens_.monitors[static_cast<size_t>(w.first % kMonitors)], w_.Incident(w.first)};
      case Kind::kFlag: return {"/v1/hate-speech", tokens_.classifier, w_.Flag(w.first)};
      case Kind::kTrouble:
        return {"/v1/incidents", tokens_.monitors[static_cast<size_t>(w.reporter)],
                w_.TroubleReport(static_cast<size_t>(w.first), w.reporter)};
    }
    return {};
  }

  void SendLoop(std::stop_token stop, Lane& lane, uint16_t port) {
    HttpClient client(port);
    while (true) {
      Work w;
      {
        std::unique_lock lock(mu_);
        lane.cv.wait(lock, stop, [&] { return !lane.queue.empty() || offering_done_; });
        if (stop.stop_requested() || lane.queue.empty()) return;
        w = lane.queue.front();
        lane.queue.pop_front();
      }
      Request r = Render(w);
      auto sent = Steady::now();
      int status = 0;
      std::string answer;
      // 429/503 and lost connections are retried (the same event_id, so never stored twice).
      for (int attempt = 0; attempt < 50 && !stop.stop_requested(); ++attempt) {
        Result<Reply> reply = client.Request(http::verb::post, r.path, r.token, r.body);
        ++requests_;
        if (reply.ok() && reply->status != 429 && reply->status != 503) {
          status = reply->status;
          answer = std::move(reply->body);
          break;
        }
        ++retries_;
        answer = reply.ok() ? reply->body : reply.status().ToString();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      auto done = Steady::now();
      if (status == 202) {
        acked_ += w.count;
        std::lock_guard lock(mu_);
        latencies_.push_back({std::chrono::duration<float, std::milli>(done - sent).count(), w.kind == Kind::kKits});
      } else {
        (status == 0 ? failures_ : refused_) += w.count;
        std::lock_guard lock(mu_);
        if (errors_.size() < 5) errors_.push_back(r.path + " -> " + std::to_string(status) + " " + Tail(answer, 300));
      }
      backlog_ -= w.count;
    }
  }

  const Workload& w_;
  const Tokens& tokens_;
  const Schedule& schedule_;
  const int batch_;
  mutable std::mutex mu_;  // guards the lanes' queues, latencies_, errors_
  Lane lanes_[3];          // kit gateway, officers and background reports, injected clusters
  std::vector<LatencySample> latencies_;
  std::vector<std::string> errors_;
  std::atomic<int64_t> offered_{0}, acked_{0}, refused_{0}, requests_{0}, retries_{0}, failures_{0}, backlog_{0};
  std::atomic<bool> offering_done_{false};
  std::vector<std::jthread> senders_;  // after the state they use: joined first
  std::jthread scheduler_;
};

// ---------------------------------------------------------------------------------------------
// Alerts that reach the receiver

class AlertLog {
 public:
  explicit AlertLog(const Workload& w) {
    for (size_t t = 0; t < w.troubles.size(); ++t) trouble_of_[w.stations[w.troubles[t].station].id] = t;
    arrivals_.resize(w.troubles.size());
  }
  // A webhook body: {"alerts":[{"kind":"raised","subject_id":...}, ...], ...}.
  void OnWebhook(const std::string& body) {
    auto now = Steady::now();
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec);
    std::lock_guard lock(mu_);
    ++deliveries_;
    if (ec || !v.is_object() || !v.as_object().contains("alerts") || !v.at("alerts").is_array()) {
      ++unreadable_;
      return;
    }
    for (const auto& a : v.at("alerts").as_array()) {
      if (!a.is_object() || !a.as_object().contains("subject_id") || !a.at("subject_id").is_string()) continue;
      ++alert_events_;
      auto it = trouble_of_.find(std::string(a.at("subject_id").as_string()));
      if (it == trouble_of_.end()) {
        ++other_;
      } else if (!arrivals_[it->second]) {
        arrivals_[it->second] = now;
      }
    }
  }
  struct Snapshot {
    int64_t deliveries = 0, alert_events = 0, other = 0, unreadable = 0;
    std::vector<std::optional<Steady::time_point>> arrivals;  // first webhook per trouble
  };
  Snapshot Get() const {
    std::lock_guard lock(mu_);
    return {deliveries_, alert_events_, other_, unreadable_, arrivals_};
  }

 private:
  std::unordered_map<std::string, size_t> trouble_of_;  // station id -> trouble (read-only)
  mutable std::mutex mu_;                               // guards what follows
  int64_t deliveries_ = 0, alert_events_ = 0, other_ = 0, unreadable_ = 0;
  std::vector<std::optional<Steady::time_point>> arrivals_;
};

// ---------------------------------------------------------------------------------------------
// Samples and the report

struct Sample {
  double wall;  // seconds since the start of the load
  int phase;    // index into the schedule; phases().size() while draining
  LoadGenerator::Counters counters;
  int64_t backlog;
  ServeMetrics metrics;
  int64_t rss_kib;
  double serve_cpu, bench_cpu;  // cumulative CPU seconds
  MachineCpu machine;
  int64_t deliveries;
  std::vector<LatencySample> latencies;  // answered during the second before
};

// Cores used between two samples by serve, the bench, everything else, and idle in iowait.
struct CpuSplit {
  double serve, bench, other, iowait;
  std::string ToString() const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f/%.2f/%.2f/%.2f", serve, bench, other, iowait);
    return buf;
  }
};
CpuSplit Cores(const Sample& first, const Sample& last) {
  double secs = last.wall - first.wall;
  CpuSplit c{(last.serve_cpu - first.serve_cpu) / secs, (last.bench_cpu - first.bench_cpu) / secs, 0,
             (last.machine.iowait - first.machine.iowait) / secs};
  c.other = std::max(0.0, (last.machine.busy - first.machine.busy) / secs - c.serve - c.bench);
  return c;
}

struct PhaseReport {
  std::string name;
  double speed = 0, seconds = 0;
  double offered = 0, acked = 0, station_rate = 0;  // per second
  double requests = 0;                               // HTTP requests sent, per second
  double ack_p50 = 0, ack_p99 = 0, kit_p99 = 0, report_p99 = 0;  // request -> 202, ms
  double station_lag_max = 0, station_lag_end = 0, alert_lag_max = 0, alert_lag_end = 0;
  double behind_mid = 0, behind_end = 0;  // events offered and not yet through both stages
  double backlog_end = 0;                 // of which not yet acknowledged by ingest
  CpuSplit cores{};
  bool growing = false;
};

PhaseReport Summarize(const std::vector<Sample>& samples, size_t from, size_t to, const Phase& phase) {
  PhaseReport r{.name = phase.name, .speed = phase.speed};
  if (to <= from || from == 0) return r;  // no second of it, or no baseline
  const Sample &first = samples[from - 1], &last = samples[to - 1];
  double secs = last.wall - first.wall;
  r.seconds = secs;
  r.offered = static_cast<double>(last.counters.offered - first.counters.offered) / secs;
  r.acked = static_cast<double>(last.counters.acked - first.counters.acked) / secs;
  r.requests = static_cast<double>(last.counters.requests - first.counters.requests) / secs;
  r.station_rate = (last.metrics.station_records - first.metrics.station_records) / secs;
  std::vector<float> ack, kit, report;
  for (size_t i = from; i < to; ++i) {
    const Sample& s = samples[i];
    for (const auto& l : s.latencies) {
      ack.push_back(l.ack_ms);
      (l.kits ? kit : report).push_back(l.ack_ms);
    }
    r.station_lag_max = std::max(r.station_lag_max, s.metrics.station_lag);
    r.alert_lag_max = std::max(r.alert_lag_max, s.metrics.alert_lag);
  }
  r.ack_p50 = Percentile(ack, 0.5);
  r.ack_p99 = Percentile(ack, 0.99);
  r.kit_p99 = Percentile(kit, 0.99);
  r.report_p99 = Percentile(report, 0.99);
  r.station_lag_end = last.metrics.station_lag;
  r.alert_lag_end = last.metrics.alert_lag;
  // Behind: offered but not yet acknowledged (waiting in the generator or in a request), plus
  // both stages' lag. Growing: more than 2 s of the phase's input behind at its end, and more
  // than at its middle (a backlog that is being worked off is bounded).
  auto behind = [](const Sample& s) { return static_cast<double>(s.backlog) + s.metrics.station_lag + s.metrics.alert_lag; };
  r.behind_mid = behind(samples[from + (to - from) / 2]);
  r.behind_end = behind(last);
  r.backlog_end = static_cast<double>(last.backlog);
  r.growing = r.behind_end > 2 * std::max(r.offered, 1.0) && r.behind_end > r.behind_mid;
  r.cores = Cores(first, last);
  return r;
}

void PrintHeader() {
  std::printf("%6s %-9s %10s %10s %10s %14s %12s %10s %8s %24s %7s\n", "t(s)", "phase", "offered/s", "acked/s",
              "backlog", "ack p50/p99ms", "station lag", "alert lag", "RSS MiB", "CPU serve/bench/other/io", "alerts");
}

void PrintLine(const std::vector<Sample>& samples, size_t from, size_t to, const Schedule& schedule) {
  const Sample &first = samples[from - 1], &last = samples[to - 1];
  double secs = last.wall - first.wall;
  std::vector<float> ack;
  for (size_t i = from; i < to; ++i) {
    for (const auto& l : samples[i].latencies) ack.push_back(l.ack_ms);
  }
  std::string phase = last.phase < static_cast<int>(schedule.phases().size())
                          ? schedule.phases()[static_cast<size_t>(last.phase)].name
                          : "drain";
  char lat[40];
  std::snprintf(lat, sizeof lat, "%.0f/%.0f", Percentile(ack, 0.5), Percentile(ack, 0.99));
  std::printf("%6.0f %-9s %10s %10s %10s %14s %12s %10s %8lld %24s %7lld\n", last.wall, phase.c_str(),
              Commas(static_cast<double>(last.counters.offered - first.counters.offered) / secs).c_str(),
              Commas(static_cast<double>(last.counters.acked - first.counters.acked) / secs).c_str(),
              Commas(static_cast<double>(last.backlog)).c_str(), lat, Commas(last.metrics.station_lag).c_str(),
              Commas(last.metrics.alert_lag).c_str(), static_cast<long long>(last.rss_kib / 1024),
              Cores(first, last).ToString().c_str(),
              static_cast<long long>(last.deliveries));
}

std::string MachineLine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model;
  while (std::getline(in, line)) {
    if (line.starts_with("model name")) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::ifstream os("/etc/os-release");
  std::string pretty;
  while (std::getline(os, line)) {
    if (line.starts_with("PRETTY_NAME=")) pretty = line.substr(13, line.size() - 14);
  }
  return pretty + ", " + std::to_string(std::thread::hardware_concurrency()) + " vCPU (" + model + ")";
}

// ---------------------------------------------------------------------------------------------
// The run

// The day: yesterday from 09:00 UTC, so every event is in the past when sent (ingest refuses
// the future) and the polls (08:00-17:00) are open throughout.
Result<Workload> PlanDay(const Options& o, const Schedule& schedule) {
  Workload w;
  const int64_t now_ms = SystemClock().NowMs();
  w.e0_ms = now_ms / kDayMs * kDayMs - kDayMs + 9 * kHourMs;
  w.polls_open_ms = w.e0_ms - kHourMs;
  w.polls_close_ms = w.e0_ms + 8 * kHourMs;
  if (schedule.EventSeconds(schedule.LoadSeconds() + o.drain_seconds) * 1000 > 7 * kHourMs) {
    return Status::InvalidArgument("the run spans more than 7 h of event time; shorten --phase-seconds or --speed");
  }
  w.turnout_every_ms = o.turnout_minutes * kMinuteMs;
  w.incident_every_ms = std::max<int64_t>(1, 11 * kHourMs / std::max<int64_t>(1, o.stations / 10));
  w.flag_every_ms = std::max<int64_t>(1, 2 * kHourMs / o.districts);
  w.run = "e2e" + std::to_string(now_ms / 1000);
  MakeStations(w, o.stations, o.districts);
  for (double wall = 3; wall < schedule.LoadSeconds(); wall += o.trouble_every) {
    // A fresh district each time (97 and 774 are coprime), so each trouble has its own
    // liaison and no grouping window holds its first notification.
    size_t t = w.troubles.size();
    if (t >= static_cast<size_t>(o.districts)) break;
    size_t district = (t * 97 + 5) % static_cast<size_t>(o.districts);
    size_t station = district + static_cast<size_t>(o.districts) * (t % 7);
    if (station >= w.stations.size()) station = district;
    w.troubles.push_back({station, wall, w.e0_ms + static_cast<int64_t>(schedule.EventSeconds(wall) * 1000)});
  }
  return w;
}

// The data directory, with the CLI while serve is stopped: stations, tokens, and a police
// liaison (webhook `hook`) for each trouble's district.
// `log` is {"--data", DIR} or {"--kafka", BROKERS}.
Result<Tokens> PrepareData(const Options& o, const Workload& w, const WorkDir& work, const std::string& hook,
                           const std::vector<std::string>& log, const sigset_t& signals) {
  auto with_log = [&log](std::vector<std::string> args) {  // the flags after the command's words
    args.insert(args.end(), log.begin(), log.end());
    return args;
  };
  const std::string csv = work.Sub("stations.csv"), tool_out = work.Sub("tool.out");
  const std::string& ewarn = o.ewarn;
  RETURN_IF_ERROR(WriteStationsCsv(w, o.districts, csv));
  auto step = Steady::now();
  RETURN_IF_ERROR(RunTool({ewarn, "import-stations", log[0], log[1], csv}, tool_out, signals).status());
  std::printf("setup: %s stations imported in %.1f s\n", Commas(static_cast<double>(w.n())).c_str(), SecondsSince(step));
  Tokens tokens;
  auto token = [&](const std::string& name, const std::string& role) -> Result<std::string> {
    ASSIGN_OR_RETURN(std::string out, RunTool(with_log({ewarn, "token", "create", "--role", role, "--name", name}),
                                              tool_out, signals));
    return LastLine(out);  // the token is printed last
  };
  ASSIGN_OR_RETURN(tokens.kits, token("kit-gateway", "gateway"));
  ASSIGN_OR_RETURN(tokens.officers, token("presiding-officers", "monitor"));
  ASSIGN_OR_RETURN(tokens.classifier, token("classifier", "monitor"));
  ASSIGN_OR_RETURN(tokens.operator_token, token("operator", "operator"));
  for (int m = 0; m < kMonitors; ++m) {
    ASSIGN_OR_RETURN(std::string t, token("monitor-" + std::to_string(m), "monitor"));
    tokens.monitors.push_back(t);
  }
  step = Steady::now();
  for (const Trouble& t : w.troubles) {
    const Station& s = w.stations[t.station];
    RETURN_IF_ERROR(RunTool(with_log({ewarn, "liaison", "add", "--name", "police-lga" + std::to_string(s.district), "--role",
                                      "police", "--area", w.district_paths[static_cast<size_t>(s.district)], "--webhook", hook}),
                            tool_out, signals)
                        .status());
  }
  std::printf("setup: %zu tokens, %zu police liaisons (webhook %s) in %.1f s\n", tokens.monitors.size() + 4,
              w.troubles.size(), hook.c_str(), SecondsSince(step));
  return tokens;
}

// POST /v1/ticks: event time in every partition of in.events.
Status Tick(HttpClient& client, const Tokens& tokens, int64_t event_ms) {
  ASSIGN_OR_RETURN(Reply r, client.Request(http::verb::post, "/v1/ticks", tokens.operator_token,
                                           "{\"time_ms\":" + std::to_string(event_ms) + "}"));
  if (r.status != 200) return Status::Internal("POST /v1/ticks answered " + std::to_string(r.status) + ": " + r.body);
  return Status::Ok();
}

// The ceilings of the same run, on the directory serve left: every record read and decoded
// (`ewarn log check`), and the inputs replayed through both stages (`ewarn replay`).
// The number before `unit` in `text` after `after` ("... 261394 ops/sec", "Requests/sec: 66513.39"),
// or 0.
double NumberNear(const std::string& text, std::string_view after, std::string_view unit, bool number_follows) {
  size_t at = text.find(after);
  if (at == std::string::npos) return 0;
  if (number_follows) return std::atof(text.c_str() + at + after.size());
  size_t end = text.find(unit, at);
  if (end == std::string::npos) return 0;
  size_t start = text.rfind(' ', end - 1);
  return start == std::string::npos ? 0 : std::atof(text.c_str() + start + 1);
}

// RocksDB's own db_bench, as in the log's section of BENCHMARKS.md: fillrandom, 16-byte keys,
// 200-byte values, batches of 1,000, the WAL fsynced per batch (as ewarn's appends are).
Result<double> DbBenchWritesPerSecond(const WorkDir& work, const sigset_t& signals) {
  if (!fs::exists("/usr/bin/db_bench")) return Status::NotFound("db_bench is not installed (rocksdb-tools)");
  ASSIGN_OR_RETURN(std::string out,
                   RunTool({"/usr/bin/db_bench", "--benchmarks=fillrandom", "--key_size=16", "--value_size=200",
                            "--batch_size=1000", "--num=1000000", "--disable_wal=0", "--compression_type=lz4",
                            "--sync=1", "--db=" + work.Sub("db_bench")},
                           work.Sub("tool.out"), signals));
  double rate = NumberNear(out, "fillrandom", " ops/sec", false);
  if (rate <= 0) return Status::Internal("db_bench printed no fillrandom rate:\n" + Tail(out, 500));
  return rate;
}

// nginx serving a static 100-byte file to wrk (2 threads, 64 keep-alive connections, 5 s) on
// loopback, as bench/http_bench.sh measures it.
Result<double> NginxRequestsPerSecond(const WorkDir& work, const sigset_t& signals) {
  if (!fs::exists("/usr/sbin/nginx") || !fs::exists("/usr/bin/wrk")) {
    return Status::NotFound("nginx or wrk is not installed");
  }
  ASSIGN_OR_RETURN(uint16_t port, FreePort());
  const std::string dir = work.Sub("nginx");
  fs::create_directories(dir + "/www");
  std::ofstream(dir + "/www/static.txt") << std::string(100, 'x');
  std::ofstream(dir + "/nginx.conf")
      << "worker_processes 2;\ndaemon off;\npid " << dir << "/nginx.pid;\nerror_log " << dir << "/error.log warn;\n"
      << "events { worker_connections 1024; }\nhttp {\n  access_log off;\n  keepalive_requests 1000000;\n"
      << "  server {\n    listen 127.0.0.1:" << port << ";\n    root " << dir << "/www;\n    location / { }\n  }\n}\n";
  // nginx's workers run as www-data: they must be able to walk to the file.
  std::error_code ec;
  for (const auto& p : {work.path(), dir, dir + "/www"}) {
    fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec, ec);
  }
  ASSIGN_OR_RETURN(auto nginx, Child::Spawn({"/usr/sbin/nginx", "-c", dir + "/nginx.conf", "-p", dir},
                                            work.Sub("nginx.out")));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto out = RunTool({"/usr/bin/wrk", "-t2", "-c64", "-d5s", "http://127.0.0.1:" + std::to_string(port) + "/static.txt"},
                     work.Sub("tool.out"), signals);
  nginx->Stop(std::chrono::seconds(5));  // SIGTERM: the master takes its workers down with it
  if (!out.ok()) return out.status();
  double rate = NumberNear(*out, "Requests/sec:", "", true);
  if (rate <= 0) return Status::Internal("wrk printed no rate:\n" + Tail(*out, 500));
  return rate;
}

Status MeasureCeilings(const Options& o, const WorkDir& work, const std::vector<PhaseReport>& reports,
                       const sigset_t& signals) {
  const std::string data = work.Sub("data"), tool_out = work.Sub("tool.out");
  auto step = Steady::now();
  ASSIGN_OR_RETURN(std::string checked, RunTool({o.ewarn, "log", "check", "--data", data}, tool_out, signals));
  double check_secs = SecondsSince(step);
  long long records = 0;
  std::sscanf(LastLine(checked).c_str(), "%lld", &records);  // "N records checked, M unreadable"
  double read_rate = static_cast<double>(records) / check_secs;
  std::printf("ceiling, same run: log read + decode (ewarn log check, every topic) %s records in %.1f s = %s records/s\n",
              Commas(static_cast<double>(records)).c_str(), check_secs, Commas(read_rate).c_str());
  step = Steady::now();
  ASSIGN_OR_RETURN(std::string replayed,
                   RunTool({o.ewarn, "replay", "--data", data, "--into", work.Sub("replay")}, tool_out, signals));
  double replay_secs = SecondsSince(step);
  long long inputs = 0;
  if (size_t at = replayed.find("replayed "); at != std::string::npos) {
    std::sscanf(replayed.c_str() + at, "replayed %lld", &inputs);
  }
  double replay_rate = static_cast<double>(inputs) / replay_secs;
  std::printf("ceiling, same run: replay (ewarn replay, both stages) %s input events in %.1f s = %s events/s\n",
              Commas(static_cast<double>(inputs)).c_str(), replay_secs, Commas(replay_rate).c_str());
  for (const auto& r : reports) {
    std::printf("ratios %-9s acked %.3f of the log read rate, %.2f of replay speed\n", r.name.c_str(), r.acked / read_rate,
                r.acked / replay_rate);
  }
  // The other two ceilings, in the same run: after serve, so they do not compete with it.
  auto db_bench = DbBenchWritesPerSecond(work, signals);
  if (db_bench.ok()) {
    std::printf("ceiling, same run: db_bench fillrandom, WAL fsynced per batch of 1,000: %s writes/s\n",
                Commas(*db_bench).c_str());
  } else {
    std::printf("ceiling, same run: db_bench not measured: %s\n", db_bench.status().message().c_str());
  }
  auto nginx = NginxRequestsPerSecond(work, signals);
  if (nginx.ok()) {
    std::printf("ceiling, same run: nginx, static 100 B, wrk -t2 -c64 -d5s: %s requests/s\n", Commas(*nginx).c_str());
  } else {
    std::printf("ceiling, same run: nginx not measured: %s\n", nginx.status().message().c_str());
  }
  for (const auto& r : reports) {
    if (db_bench.ok()) std::printf("ratios %-9s acked events %.3f of db_bench's writes/s\n", r.name.c_str(), r.acked / *db_bench);
    if (nginx.ok()) {
      std::printf("ratios %-9s HTTP requests %.3f of nginx's requests/s\n", r.name.c_str(), r.requests / *nginx);
    }
  }
  return Status::Ok();
}

// One `ewarn serve` of the run, with its ports and output file.
struct ServeNode {
  std::unique_ptr<Child> child;
  uint16_t http_port = 0, metrics_port = 0;
  std::string output;
};

// The serve processes of a run: one on the embedded log, or N on `ewarn dev-kafka`. The nodes
// are declared after the cluster, so they go first.
struct Deployment {
  std::unique_ptr<Child> kafka;  // null on the embedded log
  std::string bootstrap, kafka_output;
  std::vector<ServeNode> nodes;
};

// `ewarn dev-kafka --brokers 3 --partitions P`, up when it has printed `bootstrap: ...` and `ready`.
Status StartDevKafka(const Options& o, const WorkDir& work, Deployment& d, const sigset_t& signals) {
  d.kafka_output = work.Sub("dev-kafka.out");
  ASSIGN_OR_RETURN(d.kafka, Child::Spawn({o.ewarn, "dev-kafka", "--brokers", "3", "--partitions", std::to_string(o.partitions)},
                                         d.kafka_output));
  auto started = Steady::now();
  while (true) {
    std::string text = ReadFile(d.kafka_output);
    size_t at = text.find("bootstrap: ");
    if (at != std::string::npos && text.find("\nready", at) != std::string::npos) {
      size_t eol = text.find('\n', at);
      d.bootstrap = text.substr(at + 11, eol - at - 11);
      return Status::Ok();
    }
    if (d.kafka->Poll() || SecondsSince(started) > 60) {
      return Status::Internal("ewarn dev-kafka did not get ready; its output (" + d.kafka_output + "):\n" + Tail(text, 2000));
    }
    if (Interrupted(signals)) return Status::Internal("interrupted");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// What a run measured, for --compare-kafka-nodes.
struct RunSummary {
  int nodes = 1;
  PhaseReport peak;
  double alert_p50_s = 0, alert_max_s = 0;
  size_t injected = 0, alerted = 0;
  bool drained = false;
  double drain_s = 0;
  int64_t acked = 0, in_events = 0;  // acknowledged by ingest; records in in.events (Kafka mode)
};

// After a Kafka run: every partition of every topic must still start at offset 0 (the mock
// drops a partition's oldest records past ~5 MB without a word), and in.events must hold at
// least what ingest acknowledged. Returns in.events' record count.
Result<int64_t> CheckNothingDropped(const Options& o, const WorkDir& work, const std::string& bootstrap, int64_t acked,
                                    const sigset_t& signals) {
  ASSIGN_OR_RETURN(std::string out, RunTool({o.ewarn, "log", "stat", "--kafka", bootstrap, "--data", work.Sub("node0")},
                                             work.Sub("stat.out"), signals));
  std::istringstream lines(out);
  std::string line, dropped;
  int64_t in_events = -1;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string topic, partitions, range;
    long long messages = 0;
    if (!(fields >> topic >> partitions >> messages)) continue;
    int64_t ends = 0;
    while (fields >> range) {  // partition:start-end
      size_t colon = range.find(':'), dash = range.find('-');
      if (colon == std::string::npos || dash == std::string::npos) continue;
      if (range.substr(colon + 1, dash - colon - 1) != "0") dropped += " " + topic + "/" + range;
      ends += std::atoll(range.c_str() + dash + 1);
    }
    if (topic == "in.events") in_events = ends;
  }
  if (in_events < 0) return Status::Internal("`ewarn log stat --kafka` listed no in.events:\n" + Tail(out, 1000));
  if (!dropped.empty()) {
    return Status::FailedPrecondition("the mock cluster dropped records (partitions no longer starting at 0:" + dropped +
                                      "); not reporting this run: use fewer --stations or shorter phases");
  }
  if (in_events < acked) {
    return Status::FailedPrecondition("in.events holds " + std::to_string(in_events) + " records but ingest acknowledged " +
                                      std::to_string(acked) + " events; not reporting this run");
  }
  return in_events;
}

Result<RunSummary> Run(const Options& o, const sigset_t& signals) {
  auto setup_started = Steady::now();
  ASSIGN_OR_RETURN(auto work, WorkDir::Make(o.work, o.keep));
  const std::string data = work->Sub("data"), ewarn = o.ewarn;
  const bool kafka = o.kafka_nodes > 0;
  const int node_count = kafka ? o.kafka_nodes : 1;
  std::printf("e2e_bench: %s stations in %d districts, phases of %d s at x1, x%g, x1; %d connections, kit batches "
              "of %d; %s; work dir %s\nmachine: %s\n",
              Commas(static_cast<double>(o.stations)).c_str(), o.districts, o.phase_seconds, o.speed, o.connections,
              o.batch,
              kafka ? (std::to_string(node_count) + " serve node(s) on `ewarn dev-kafka` (librdkafka's mock cluster, not a real broker)").c_str()
                    : "embedded log",
              work->path().c_str(), MachineLine().c_str());
  if (double load[3]; getloadavg(load, 3) == 3) std::printf("load average before the run: %.2f %.2f %.2f\n", load[0], load[1], load[2]);

  Schedule schedule({{"x1", 1, static_cast<double>(o.phase_seconds)},
                     {"peak", o.speed, static_cast<double>(o.phase_seconds)},
                     {"x1-again", 1, static_cast<double>(o.phase_seconds)}});
  ASSIGN_OR_RETURN(const Workload w, PlanDay(o, schedule));

  AlertLog alerts(w);
  ASSIGN_OR_RETURN(auto receiver, WebhookReceiver::Start([&alerts](const std::string& body) { alerts.OnWebhook(body); }));
  const std::string hook = "http://127.0.0.1:" + std::to_string(receiver->port()) + "/hook";
  Deployment d;
  std::vector<std::string> log_args{"--data", data};
  const std::string secret_file = work->Sub("secret.key"), webhook_key_file = work->Sub("webhook.key");
  if (kafka) {
    RETURN_IF_ERROR(StartDevKafka(o, *work, d, signals));
    log_args = {"--kafka", d.bootstrap};
    std::ofstream(secret_file) << std::string(64, 'a') << "\n";
    std::ofstream(webhook_key_file) << std::string(64, 'b') << "\n";
    std::printf("setup: ewarn dev-kafka up, bootstrap %s\n", d.bootstrap.c_str());
  }
  ASSIGN_OR_RETURN(const Tokens tokens, PrepareData(o, w, *work, hook, log_args, signals));

  // serve, with the bench's ticks as its only clock.
  auto step = Steady::now();
  for (int i = 0; i < node_count; ++i) {
    ServeNode n;
    ASSIGN_OR_RETURN(n.http_port, FreePort());
    ASSIGN_OR_RETURN(n.metrics_port, FreePort());
    n.output = work->Sub(kafka ? "serve" + std::to_string(i) + ".log" : "serve.log");
    std::vector<std::string> args{ewarn, "serve", "--http", "127.0.0.1:" + std::to_string(n.http_port), "--metrics",
                                  "127.0.0.1:" + std::to_string(n.metrics_port), "--tick-ms", "0", "--rate", "100000000",
                                  "--gateway-rate", "100000000"};  // the bench measures the platform, not the limiter
    if (kafka) {
      for (const std::string& a : {std::string("--kafka"), d.bootstrap, std::string("--data"), work->Sub("node" + std::to_string(i)),
                                   std::string("--secret-file"), secret_file, std::string("--webhook-key-file"), webhook_key_file}) {
        args.push_back(a);
      }
    } else {
      for (const std::string& a : {std::string("--data"), data, std::string("--partitions"), std::to_string(o.partitions)}) {
        args.push_back(a);
      }
    }
    ASSIGN_OR_RETURN(n.child, Child::Spawn(args, n.output));
    d.nodes.push_back(std::move(n));
  }
  std::vector<uint16_t> http_ports;
  for (const ServeNode& n : d.nodes) http_ports.push_back(n.http_port);
  auto serve_failed = [&](const std::string& what) {
    std::string out;
    for (const ServeNode& n : d.nodes) out += "\nserve's output (" + n.output + "):\n" + Tail(ReadFile(n.output), 3000 / d.nodes.size());
    return Status::Internal(what + ";" + out);
  };
  auto exited = [&]() -> std::optional<std::string> {  // a node that ended, as text
    for (size_t i = 0; i < d.nodes.size(); ++i) {
      if (auto code = d.nodes[i].child->Poll()) return "ewarn serve (node " + std::to_string(i) + ") exited with " + std::to_string(*code);
    }
    if (d.kafka && d.kafka->Poll()) return "ewarn dev-kafka exited with " + std::to_string(*d.kafka->Poll());
    return std::nullopt;
  };
  HttpClient control(d.nodes[0].http_port);
  std::vector<std::unique_ptr<HttpClient>> metrics_clients;
  for (const ServeNode& n : d.nodes) {
    metrics_clients.push_back(std::make_unique<HttpClient>(n.metrics_port));
    HttpClient health(n.http_port);
    for (bool up = false; !up;) {
      if (auto e = exited()) return serve_failed(*e);
      if (Interrupted(signals)) return Status::Internal("interrupted");
      if (SecondsSince(step) > 600) return serve_failed("ewarn serve did not answer /healthz within 10 minutes");
      auto r = health.Request(http::verb::get, "/healthz", "", "");
      up = r.ok() && r->status == 200;
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  // Every node's metrics, summed (the nodes share the partitions); each node's own in `per_node`.
  auto scrape_all = [&](std::vector<ServeMetrics>* per_node) -> Result<ServeMetrics> {
    ServeMetrics sum;
    for (auto& c : metrics_clients) {
      ASSIGN_OR_RETURN(ServeMetrics m, Scrape(*c));
      sum.station_lag += m.station_lag;
      sum.alert_lag += m.alert_lag;
      sum.station_records += m.station_records;
      sum.alert_records += m.alert_records;
      if (per_node) per_node->push_back(m);
    }
    return sum;
  };
  // Ticks (every partition, from the first node) until both stages run (reference data loaded,
  // liaisons routable) and, with several nodes, every node's station stage has taken some: the
  // group has shared the partitions out.
  for (int64_t ticked_at = -1;;) {
    if (SecondsSince(step) - static_cast<double>(ticked_at) >= 1) {
      RETURN_IF_ERROR(Tick(control, tokens, w.e0_ms - kMinuteMs));
      ticked_at = static_cast<int64_t>(SecondsSince(step));
    }
    std::vector<ServeMetrics> per_node;
    auto m = scrape_all(&per_node);
    bool every_node = m.ok() && std::all_of(per_node.begin(), per_node.end(), [](const ServeMetrics& n) { return n.station_records > 0; });
    if (m.ok() && m->station_records >= o.partitions && m->alert_records >= o.partitions && every_node) break;
    if (auto e = exited()) return serve_failed(*e);
    if (Interrupted(signals)) return Status::Internal("interrupted");
    if (SecondsSince(step) > 900) return serve_failed("the stages did not take the first tick within 15 minutes");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::printf("setup: %d serve node(s) up and both stages running %.1f s after start (pid", node_count, SecondsSince(step));
  for (const ServeNode& n : d.nodes) std::printf(" %d", static_cast<int>(n.child->pid()));
  std::printf("); setup took %.0f s in all\n\n", SecondsSince(setup_started));
  const pid_t first_pid = d.nodes[0].child->pid();

  // The load. Ticks come from their own thread so that a slow tick never delays the samples.
  auto start = Steady::now() + std::chrono::milliseconds(200);
  std::unique_ptr<LoadGenerator> load = std::make_unique<LoadGenerator>(w, tokens, schedule, http_ports, o);
  load->Start(start);
  Status tick_status;
  std::atomic<bool> ticks_failed{false};
  std::jthread ticker([&](std::stop_token stop) {
    HttpClient client(d.nodes[0].http_port);
    for (auto at = start + std::chrono::seconds(1); !stop.stop_requested(); at += std::chrono::seconds(1)) {
      std::this_thread::sleep_until(at);
      double wall = std::chrono::duration<double>(Steady::now() - start).count();
      Status s = Tick(client, tokens, w.e0_ms + static_cast<int64_t>(schedule.EventSeconds(wall) * 1000));
      if (!s.ok()) {
        tick_status = s;
        ticks_failed = true;
        return;
      }
    }
  });

  std::vector<Sample> samples;
  std::map<int, double> peak_cpu_start, peak_cpu_end;  // serve's threads, at the peak's ends
  std::map<int, std::string> thread_names;
  auto sample = [&](double wall) {
    Sample s{.wall = wall, .phase = schedule.PhaseAt(wall - 1e-6)};  // second (wall-1, wall]
    s.counters = load->counters();
    s.backlog = load->backlog();
    auto m = scrape_all(nullptr);
    s.metrics = m.ok() ? *m : (samples.empty() ? ServeMetrics{} : samples.back().metrics);
    s.rss_kib = 0;
    s.serve_cpu = 0;
    for (const ServeNode& n : d.nodes) {  // summed over the nodes
      s.rss_kib += StatusKib(n.child->pid(), "VmRSS");
      s.serve_cpu += CpuSeconds("/proc/" + std::to_string(n.child->pid()) + "/stat");
    }
    s.bench_cpu = CpuSeconds("/proc/self/stat");
    s.machine = ReadMachineCpu();
    s.deliveries = alerts.Get().deliveries;
    s.latencies = load->TakeLatencies();
    samples.push_back(std::move(s));
  };
  sample(0);
  std::printf("time series (a line per %d s and per phase; lags in records, summed over partitions; CPU in cores):\n",
              o.print_every);
  PrintHeader();
  size_t printed = 1;  // samples[printed..] are not in a line yet
  bool interrupted = false, drained = false;
  const double load_seconds = schedule.LoadSeconds();
  for (int second = 1;; ++second) {
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(start + std::chrono::seconds(second) - Steady::now());
    if (wait.count() > 0) {
      timespec ts{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
      if (sigtimedwait(&signals, nullptr, &ts) > 0) {
        interrupted = true;
        break;
      }
    }
    const double wall = second;
    sample(wall);
    const int phase = samples.back().phase;
    if (phase == 1 && peak_cpu_start.empty()) peak_cpu_start = ThreadCpu(first_pid, &thread_names);
    if (phase == 2 && peak_cpu_end.empty()) peak_cpu_end = ThreadCpu(first_pid, &thread_names);
    bool phase_ends = schedule.PhaseAt(wall + 1 - 1e-6) != phase;
    if (samples.size() - printed >= static_cast<size_t>(o.print_every) || phase_ends) {
      PrintLine(samples, printed, samples.size(), schedule);
      printed = samples.size();
    }
    if (auto e = exited()) return serve_failed(*e + " under load");
    if (ticks_failed) return tick_status;
    if (wall >= load_seconds) {
      const Sample& s = samples.back();
      // Caught up: nothing waits in the generator, and each stage is within a few ticks.
      drained = !load->offering() && s.backlog == 0 && s.metrics.station_lag <= 100 && s.metrics.alert_lag <= 100;
      if (drained || wall >= load_seconds + o.drain_seconds) break;
    }
  }
  if (printed < samples.size()) PrintLine(samples, printed, samples.size(), schedule);
  ticker.request_stop();
  ticker.join();
  int64_t hwm_kib = 0;
  for (const ServeNode& n : d.nodes) hwm_kib += StatusKib(n.child->pid(), "VmHWM");
  const std::vector<std::string> errors = load->Errors();
  load.reset();  // before serve stops, so no sender waits on it

  // Summary per phase.
  std::printf("\n== end to end: %s stations, %d districts, %d partitions, %d connections, kit batches of %d, "
              "turnout every %d min, %s ==\n",
              Commas(static_cast<double>(w.n())).c_str(), o.districts, o.partitions, o.connections, o.batch,
              o.turnout_minutes,
              kafka ? (std::to_string(node_count) + " node(s) on the mock cluster (not a real broker)").c_str() : "embedded log");
  std::printf("| phase | s | offered ev/s | acked ev/s | station stage rec/s | ack p50 / p99 ms | kit batch / report p99 ms "
              "| station lag max / end | alert lag max / end | behind at end (s of input) | backlog | CPU serve/bench/other/iowait |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
  std::vector<PhaseReport> reports;
  for (size_t p = 0; p < schedule.phases().size(); ++p) {
    size_t from = 0, to = 0;  // samples[from, to) are phase p's seconds; samples[from - 1] its baseline
    for (size_t i = 1; i < samples.size(); ++i) {
      if (samples[i].phase != static_cast<int>(p)) continue;
      if (from == 0) from = i;
      to = i + 1;
    }
    if (from == 0) continue;  // interrupted before it
    PhaseReport r = Summarize(samples, from, to, schedule.phases()[p]);
    reports.push_back(r);
    std::printf("| %s x%g | %.0f | %s | %s | %s | %.0f / %.0f | %.0f / %.0f | %s / %s | %s / %s | %s (%.1f) | %s | %s |\n",
                r.name.c_str(), r.speed, r.seconds, Commas(r.offered).c_str(), Commas(r.acked).c_str(),
                Commas(r.station_rate).c_str(), r.ack_p50, r.ack_p99, r.kit_p99, r.report_p99,
                Commas(r.station_lag_max).c_str(), Commas(r.station_lag_end).c_str(), Commas(r.alert_lag_max).c_str(),
                Commas(r.alert_lag_end).c_str(), Commas(r.behind_end).c_str(), r.behind_end / std::max(r.offered, 1.0),
                r.growing ? "**growing**" : "bounded", r.cores.ToString().c_str());
  }
  if (drained) {
    std::printf("drain: everything processed %.0f s after the load stopped\n", samples.back().wall - load_seconds);
  } else {
    const Sample& s = samples.back();
    std::printf("drain: NOT caught up %.0f s after the load stopped%s: generator backlog %s events, station lag %s, "
                "alert lag %s\n",
                samples.back().wall - load_seconds, interrupted ? " (interrupted)" : "", Commas(static_cast<double>(s.backlog)).c_str(),
                Commas(s.metrics.station_lag).c_str(), Commas(s.metrics.alert_lag).c_str());
  }
  // The verdict the issue asks for: the peak taken as offered, its backlog bounded, and
  // everything through both stages once the load is over; if not, where the events wait.
  for (const PhaseReport& r : reports) {
    if (r.name != "peak") continue;
    bool kept_up = r.acked >= 0.97 * r.offered && !r.growing;
    std::printf("verdict: x%g (%s events/s offered) with bounded lag: %s (acknowledged %.0f%% of the offered events in the peak%s)\n",
                r.speed, Commas(r.offered).c_str(), kept_up && drained ? "sustained" : "NOT sustained",
                100 * r.acked / std::max(r.offered, 1.0), drained ? ", all processed after it" : ", not caught up after it");
    if (!kept_up) {
      const char* where = r.backlog_end >= r.station_lag_end && r.backlog_end >= r.alert_lag_end
                              ? "in front of HTTP ingest (offered, not yet acknowledged)"
                              : r.station_lag_end >= r.alert_lag_end ? "in the station stage's lag" : "in the alert stage's lag";
      std::printf("verdict: at the peak's end %s events were behind, most of them %s; station stage took %s rec/s\n",
                  Commas(r.behind_end).c_str(), where, Commas(r.station_rate).c_str());
    }
  }
  const auto& last = samples.back().counters;
  std::printf("requests: %s sent, %s events acknowledged, %s refused, %s failed, %s retried (429/503/connection)\n",
              Commas(static_cast<double>(last.requests)).c_str(), Commas(static_cast<double>(last.acked)).c_str(),
              Commas(static_cast<double>(last.duplicates_or_rejected)).c_str(), Commas(static_cast<double>(last.failures)).c_str(),
              Commas(static_cast<double>(last.retries)).c_str());
  for (const auto& e : errors) std::printf("  refused or failed: %s\n", e.c_str());

  // Alerts: occurred_at of a trouble's reports (as wall time) -> first webhook for its station.
  AlertLog::Snapshot a = alerts.Get();
  std::vector<float> alert_ms;
  size_t injected = 0;
  for (size_t t = 0; t < w.troubles.size(); ++t) {
    if (w.troubles[t].wall > samples.back().wall) continue;
    ++injected;
    if (a.arrivals[t]) {
      alert_ms.push_back(std::chrono::duration<float, std::milli>(
                             *a.arrivals[t] - (start + std::chrono::milliseconds(static_cast<int64_t>(w.troubles[t].wall * 1000))))
                             .count());
    }
  }
  std::printf("alerts: %zu violent clusters injected, %zu reached their liaison's webhook; report -> webhook (wall) "
              "p50 %.2f s, p90 %.2f s, max %.2f s; webhooks %lld carrying %lld alert events (%lld about other subjects)\n",
              injected, alert_ms.size(), Percentile(alert_ms, 0.5) / 1000, Percentile(alert_ms, 0.9) / 1000,
              Percentile(alert_ms, 1.0) / 1000, static_cast<long long>(a.deliveries), static_cast<long long>(a.alert_events),
              static_cast<long long>(a.other));
  std::printf("serve peak RSS (VmHWM): %lld MiB\n", static_cast<long long>(hwm_kib / 1024));

  // CPU by thread over the peak: stages are one thread each, so a stage at ~1 core is saturated.
  if (!peak_cpu_start.empty() && !peak_cpu_end.empty()) {
    std::vector<std::pair<double, int>> busiest;
    for (const auto& [tid, cpu] : peak_cpu_end) {
      auto it = peak_cpu_start.find(tid);
      busiest.push_back({cpu - (it == peak_cpu_start.end() ? 0 : it->second), tid});
    }
    std::sort(busiest.rbegin(), busiest.rend());
    double peak_secs = schedule.phases()[1].seconds;
    std::string line;
    for (size_t i = 0; i < std::min<size_t>(6, busiest.size()); ++i) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s%s[%d] %.2f", i ? ", " : "", thread_names[busiest[i].second].c_str(),
                    busiest[i].second, busiest[i].first / peak_secs);
      line += buf;
    }
    std::printf("serve's busiest threads in the peak (cores; each stage is one thread%s): %s\n",
                kafka ? "; node 0 only" : "", line.c_str());
  }

  RunSummary summary;
  summary.nodes = node_count;
  summary.alert_p50_s = Percentile(alert_ms, 0.5) / 1000;
  summary.alert_max_s = Percentile(alert_ms, 1.0) / 1000;
  summary.injected = injected;
  summary.alerted = alert_ms.size();
  summary.drained = drained;
  summary.drain_s = samples.back().wall - load_seconds;
  summary.acked = last.acked;
  for (const PhaseReport& r : reports) {
    if (r.name == "peak") summary.peak = r;
  }

  // Stop serve (it drains its stages), then the ceilings on the directory it leaves.
  step = Steady::now();
  for (size_t i = 0; i < d.nodes.size(); ++i) {
    int code = d.nodes[i].child->Stop(std::chrono::seconds(120));
    std::printf("serve%s stopped in %.1f s (exit %d)\n", kafka ? (" node " + std::to_string(i)).c_str() : "", SecondsSince(step), code);
  }
  if (interrupted) return Status::Internal("interrupted");
  if (kafka) {
    ASSIGN_OR_RETURN(summary.in_events, CheckNothingDropped(o, *work, d.bootstrap, last.acked, signals));
    std::printf("mock cluster: nothing dropped (every partition of every topic starts at offset 0; in.events holds %s "
                "records, %s events acknowledged)\n",
                Commas(static_cast<double>(summary.in_events)).c_str(), Commas(static_cast<double>(last.acked)).c_str());
    d.kafka->Stop(std::chrono::seconds(10));
  }
  if (o.ceilings) RETURN_IF_ERROR(MeasureCeilings(o, *work, reports, signals));
  return summary;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// --compare-kafka-nodes: the runs in the order given, same load, then a table of every run,
// the medians per node count and each count's ratio to the first count's medians.
Status Compare(const Options& o, const sigset_t& signals) {
  std::vector<RunSummary> runs;
  for (size_t i = 0; i < o.compare_kafka_nodes.size(); ++i) {
    Options one = o;
    one.kafka_nodes = o.compare_kafka_nodes[i];
    one.compare_kafka_nodes.clear();
    std::printf("\n######## run %zu of %zu: %d node(s) on the mock cluster ########\n", i + 1, o.compare_kafka_nodes.size(),
                one.kafka_nodes);
    ASSIGN_OR_RETURN(RunSummary r, Run(one, signals));
    runs.push_back(r);
  }
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("\n== nodes on the mock cluster (librdkafka's, in one process over loopback: NOT a real broker), the peak "
              "(x%g, %d s), %s stations; load average after: %.2f %.2f %.2f ==\n",
              o.speed, o.phase_seconds, Commas(static_cast<double>(o.stations)).c_str(), load[0], load[1], load[2]);
  std::printf("| run | nodes | offered ev/s | acked ev/s | ack p50 / p99 ms | report -> webhook p50 / max s | clusters alerted "
              "| behind at end | drained after load | CPU serve(all nodes)/bench/other |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunSummary& r = runs[i];
    std::printf("| %zu | %d | %s | %s | %.0f / %.0f | %.2f / %.2f | %zu / %zu | %s | %s | %s |\n", i + 1, r.nodes,
                Commas(r.peak.offered).c_str(), Commas(r.peak.acked).c_str(), r.peak.ack_p50, r.peak.ack_p99, r.alert_p50_s,
                r.alert_max_s, r.alerted, r.injected, Commas(r.peak.behind_end).c_str(),
                r.drained ? (std::to_string(static_cast<int>(r.drain_s)) + " s").c_str() : "NOT drained",
                r.peak.cores.ToString().c_str());
  }
  struct Medians {
    double acked, p99, alert_p50, behind;
  };
  std::map<int, Medians> medians;
  std::vector<int> order;
  for (int n : o.compare_kafka_nodes) {
    if (medians.contains(n)) continue;
    std::vector<double> acked, p99, alert, behind;
    for (const RunSummary& r : runs) {
      if (r.nodes != n) continue;
      acked.push_back(r.peak.acked);
      p99.push_back(r.peak.ack_p99);
      alert.push_back(r.alert_p50_s);
      behind.push_back(r.peak.behind_end);
    }
    medians[n] = {Median(acked), Median(p99), Median(alert), Median(behind)};
    order.push_back(n);
  }
  std::printf("\n| nodes | runs | acked ev/s (median) | ack p99 ms | report -> webhook p50 s | behind at end | ratio acked to %d node(s) "
              "| ratio p99 |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n",
              order[0]);
  const Medians& base = medians[order[0]];
  for (int n : order) {
    const Medians& m = medians[n];
    long count = std::count_if(runs.begin(), runs.end(), [n](const RunSummary& r) { return r.nodes == n; });
    std::printf("| %d | %ld | %s | %.0f | %.2f | %s | %.2f | %.2f |\n", n, count, Commas(m.acked).c_str(), m.p99, m.alert_p50,
                Commas(m.behind).c_str(), m.acked / std::max(base.acked, 1.0), m.p99 / std::max(base.p99, 1.0));
  }
  std::printf("(the mock is not a real broker; nodes on one machine share its cores, so the ratio measures the cost of "
              "coordination, not scale-out)\n");
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows even through a pipe
  Result<Options> options = ParseOptions(argc, argv);
  if (!options.ok()) {
    if (options.status().message() != "help") std::fprintf(stderr, "e2e_bench: %s\n", options.status().message().c_str());
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  // Ctrl-C and SIGTERM are taken by the sampling loop (sigtimedwait), so every exit path runs
  // the destructors: serve killed, work directory removed. Blocked before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Status s = options->compare_kafka_nodes.empty() ? Run(*options, signals).status() : Compare(*options, signals);
  if (!s.ok()) {
    std::fprintf(stderr, "e2e_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
