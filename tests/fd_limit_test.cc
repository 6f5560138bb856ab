// Issue 13.6: a flood of idle connections under `ulimit -n 1024` must never stop the node. The
// real binary runs under prlimit --nofile=1024:1024 (soft and hard, as `ulimit -n 1024` sets
// them, so raising the soft limit gains nothing); this test holds 1,100 idle connections to it,
// reopening each one the server sheds or times out. Meanwhile monitors that connected first
// keep reporting on their keep-alive connections, and their violence reports raise an alert
// whose webhook the node must deliver during the flood: a delivery needs a descriptor of its
// own, as the stores do when they open a file, so it fails whenever the flood has taken them
// all (before the fix it never arrived). Afterwards a new connection's report is acknowledged
// and the node is still up.
//
// The flood lasts EWARN_FLOOD_SECONDS (default 30 s; the issue's reproduction used 60 s). The
// node used to exit within ~12 s; 30 s covers the alert's raise and delivery, and two rounds of
// the server's 10 s idle timeout (every flood connection closed and reopened, so descriptors
// churn at the cap).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>
#include <thread>
#include <vector>

#include "child_process.h"
#include "cli_run.h"
#include "ewarn_testing.h"
#include "raw_client.h"

namespace ewarn {
namespace {

using testing::LastLine;
using testing::UtcNow;

using namespace std::chrono_literals;
using ingest::RawClient;

testing::CliRun Ewarn(const std::string& args) { return testing::RunCli(std::string(EWARN_BIN) + " " + args); }

std::string Report(const std::string& token, int n, bool keep_alive, const std::string& category = "procedure",
                   int severity = 2) {
  // Violence at S4 (ward W1, the liaison's), each in its own words; the rest at S1.
  std::string station = category == "violence" ? "S4" : "S1";
  std::string body = R"({"event_id":"fd-)" + std::to_string(n) + R"(","occurred_at":")" + UtcNow() +
                     R"(","station_id":")" + station + R"(","category":")" + category +
                     R"(","severity":)" + std::to_string(severity) + R"(,"description":"seen by monitor )" +
                     std::to_string(n) + R"("})";
  return "POST /v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         (keep_alive ? "" : "Connection: close\r\n") + "\r\n" + body;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// A webhook endpoint: accepts on 127.0.0.1, reads one request per connection, answers 200.
class WebhookReceiver {
 public:
  WebhookReceiver() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~WebhookReceiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  int received() const { return received_; }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string request;
      char buf[4096];
      for (auto end = std::chrono::steady_clock::now() + 2s; std::chrono::steady_clock::now() < end;) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 100) <= 0) continue;
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
        size_t head = request.find("\r\n\r\n");
        std::smatch m;
        if (head != std::string::npos &&
            std::regex_search(request, m, std::regex("[Cc]ontent-[Ll]ength: ([0-9]+)")) &&
            request.size() >= head + 4 + std::stoul(m[1].str())) {
          break;
        }
      }
      if (request.find("X-Ewarn-Delivery") != std::string::npos) ++received_;
      std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      ::send(c, ok.data(), ok.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> received_{0};
  std::thread thread_;
};

bool Alive(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == 0; }

// Closed by the server (EOF or reset) without anything to read: to be reopened.
bool ClosedByPeer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) <= 0;
}

TEST(FdLimitTest, AConnectionFloodUnderUlimit1024NeverStopsTheNode) {
  constexpr int kFlood = 1100;
  rlimit own{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &own), 0);
  own.rlim_cur = own.rlim_max;
  setrlimit(RLIMIT_NOFILE, &own);
  if (own.rlim_cur < kFlood + 200) GTEST_SKIP() << "the flood needs 1,300 descriptors here, have " << own.rlim_cur;
  const char* seconds_env = std::getenv("EWARN_FLOOD_SECONDS");
  const auto flood_for = std::chrono::seconds(seconds_env != nullptr ? std::atoi(seconds_env) : 30);

  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  {
    std::ofstream csv(dir.Sub("stations.csv"));
    csv << "station_id,name,region,district,ward,lat,lon,registered_voters\n";
    for (int i = 1; i <= 30; ++i) {
      csv << "S" << i << ",Station " << i << ",LAGOS,IKEJA,W" << i % 3 << "," << 6.6 + 0.002 * i << ",3.35,1000\n";
    }
  }
  ASSERT_EQ(Ewarn("import-stations --data " + data + " " + dir.Sub("stations.csv")).code, 0);
  WebhookReceiver webhook;
  auto liaison = Ewarn("liaison add --data " + data + " --name ward-police --role police --area LAGOS/IKEJA/W1 " +
                       "--webhook http://127.0.0.1:" + std::to_string(webhook.port()) + "/hook");
  ASSERT_EQ(liaison.code, 0) << liaison.out;
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i) {
    tokens.push_back(LastLine(Ewarn("token create --data " + data + " --role monitor --name fd-mon" +
                                    std::to_string(i)).out));
    ASSERT_EQ(tokens.back().rfind("ewt_", 0), 0u) << tokens.back();
  }
  const std::string& token = tokens[0];

  // stderr joins stdout so the shedding log is read here; exec keeps the pid ewarn's.
  testing::ChildProcess serve({"/bin/sh", "-c",
                               "exec /usr/bin/prlimit --nofile=1024:1024 -- " + std::string(EWARN_BIN) +
                                   " serve --data " + data + " --http 127.0.0.1:0 --tick-ms 200 2>&1"});
  ASSERT_TRUE(serve.started());
  uint16_t port = 0;
  std::vector<std::string> output;
  for (int i = 0; i < 20 && port == 0; ++i) {
    auto line = serve.ReadLine(10s);
    if (!line) break;
    output.push_back(*line);
    std::smatch m;
    if (std::regex_search(*line, m, std::regex("http://127\\.0\\.0\\.1:([0-9]+)"))) port = std::stoi(m[1].str());
  }
  ASSERT_NE(port, 0) << "serve printed no http address";
  auto drain = [&] {
    while (auto line = serve.ReadLine(20ms)) output.push_back(*line);  // under 2 ms it never polls
  };

  // Monitors connected before the flood keep their connections and are served throughout.
  std::vector<std::unique_ptr<RawClient>> monitors;
  for (int i = 0; i < 3; ++i) {
    monitors.push_back(std::make_unique<RawClient>(port));
    ASSERT_TRUE(monitors.back()->Send(Report(tokens[i], 100 + i, true)));
    ASSERT_NE(monitors.back()->Receive(5s, "}").find("HTTP/1.1 202"), std::string::npos);
  }
  RawClient& monitor = *monitors[0];

  std::vector<std::unique_ptr<RawClient>> flood;
  for (int i = 0; i < kFlood; ++i) flood.push_back(std::make_unique<RawClient>(port));
  int reopened = 0, reports = 1;
  bool violence_reported = false;
  auto next_report = std::chrono::steady_clock::now() + 3s;
  for (auto end = std::chrono::steady_clock::now() + flood_for; std::chrono::steady_clock::now() < end;) {
    ASSERT_TRUE(Alive(serve.pid())) << "serve exited during the flood:\n" << Joined(output);
    for (auto& c : flood) {
      if (!c->connected() || ClosedByPeer(c->fd())) {
        c = std::make_unique<RawClient>(port);
        ++reopened;
      }
    }
    if (!violence_reported && std::chrono::steady_clock::now() >= next_report) {
      // Three monitors, one station, within seconds: a situation, an alert, a webhook.
      for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(monitors[i]->Send(Report(tokens[i], 200 + i, true, "violence", 5)));
        std::string r = monitors[i]->Receive(5s, "}");
        ASSERT_NE(r.find("HTTP/1.1 202"), std::string::npos) << "violence report " << i << " during the flood: " << r;
      }
      violence_reported = true;
    }
    if (std::chrono::steady_clock::now() >= next_report) {
      ASSERT_TRUE(monitor.Send(Report(token, reports, true))) << reports;
      std::string r = monitor.Receive(5s, "}");
      ASSERT_NE(r.find("HTTP/1.1 202"), std::string::npos) << "report " << reports << " during the flood: " << r;
      ++reports;
      next_report += 3s;
    }
    drain();
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GT(reopened, 0) << "the server shed nothing: was the flood over its cap?";
  EXPECT_GE(webhook.received(), 1) << "the alert's webhook was not delivered during the flood";
  flood.clear();

  // A new client after the flood: acknowledged; the node is up and says so.
  std::this_thread::sleep_for(300ms);
  auto after = ingest::Request(port, "POST", "/v1/incidents",
                               {"Authorization: Bearer " + token, "Content-Type: application/json"},
                               R"({"event_id":"fd-after","occurred_at":")" + UtcNow() +
                                   R"(","station_id":"S1","category":"procedure","severity":2})");
  EXPECT_EQ(after.status, 202) << after.body;
  EXPECT_EQ(ingest::Request(port, "GET", "/healthz").status, 200);
  EXPECT_TRUE(Alive(serve.pid()));
  drain();
  // Shedding was logged, at most once per 10 s, with counts only (no token, no request).
  int shed_lines = 0;
  for (const auto& line : output) {
    if (line.find("ewarn http: shed") != std::string::npos) ++shed_lines;
    EXPECT_EQ(line.find(token), std::string::npos) << line;
  }
  EXPECT_GE(shed_lines, 1) << Joined(output);
  EXPECT_LE(shed_lines, static_cast<int>(flood_for / 10s) + 2) << Joined(output);
  kill(serve.pid(), SIGTERM);
  EXPECT_EQ(serve.Wait(), 0) << Joined(output);
}

}  // namespace
}  // namespace ewarn
