// Each notification is delivered once across the cluster (issue 14.3), as an operator runs it:
// `ewarn dev-kafka` and `ewarn serve --kafka` processes (tests/cluster_harness.h), a webhook
// receiver on 127.0.0.1 that answers slowly (so sends are on the wire at any moment), reports
// that raise dozens of alerts, then while they are being delivered a node is added, and later
// the node with sends on the wire is frozen and killed with kill -9. Every delivery id in notify.outbox
// reaches the receiver; only ids the killed node had sent before the kill come twice (its sends
// in flight, under the same X-Ewarn-Delivery); every request is signed with the one shared key.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "cluster_harness.h"
#include "ewarn/base/time.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/event_log.h"

namespace ewarn {
namespace {

using testing::LastLine;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kDistricts = 8;
constexpr int kStationsPerBatch = 12;
constexpr auto kAnswerAfter = 400ms;  // the receiver's think time: sends overlap the add and the kill

// The inode of the TCP socket whose local port is `port` and remote port `remote` (loopback).
std::string SocketInode(uint16_t port, uint16_t remote) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // header
  char want_local[8], want_remote[8];
  std::snprintf(want_local, sizeof want_local, ":%04X", port);
  std::snprintf(want_remote, sizeof want_remote, ":%04X", remote);
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string slot, local, rem, state, queues, timer, retr, uid, timeout, inode;
    in >> slot >> local >> rem >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
    if (local.ends_with(want_local) && rem.ends_with(want_remote)) return inode;
  }
  return "";
}

// Whether process `pid` holds the socket `inode`.
bool Holds(pid_t pid, const std::string& inode) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  const std::string want = "socket:[" + inode + "]";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  char target[64];
  for (dirent* e = ::readdir(d); e != nullptr && !found; e = ::readdir(d)) {
    ssize_t n = ::readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
    found = n > 0 && std::string(target, static_cast<size_t>(n)) == want;
  }
  ::closedir(d);
  return found;
}

std::string HmacHex(const std::string& key, const std::string& message) {
  unsigned char mac[32];
  unsigned int len = sizeof mac;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

// One webhook request as received.
struct Received {
  std::string delivery_id;
  bool signed_ok = false;
  bool body_matches_key = false;  // the body's delivery_id is the header's
  pid_t sender = 0;               // the serve process that sent it (0: not found)
  Clock::time_point arrived;
};

// A webhook receiver on 127.0.0.1: one thread per connection, answers 200 after kAnswerAfter.
// Knows which of the `candidates` processes sent each request, from the socket's owner.
class WebhookReceiver {
 public:
  explicit WebhookReceiver(std::string key) : key_(std::move(key)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 64);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~WebhookReceiver() {
    stop_ = true;
    acceptor_.join();
    std::vector<std::thread> handlers;
    {
      std::lock_guard lock(mu_);
      handlers.swap(handlers_);
    }
    for (auto& t : handlers) t.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  void SetCandidates(std::vector<pid_t> pids) {
    std::lock_guard lock(mu_);
    candidates_ = std::move(pids);
  }
  std::vector<Received> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }
  // Requests from `pid` received but not yet answered.
  // The delivery ids of requests from `pid` received but not yet answered.
  std::multiset<std::string> InFlightFrom(pid_t pid) const {
    std::lock_guard lock(mu_);
    auto it = in_flight_.find(pid);
    return it == in_flight_.end() ? std::multiset<std::string>{} : it->second;
  }
  size_t InFlight() const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [pid, ids] : in_flight_) n += ids.size();
    return n;
  }

 private:
  void Accept() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      int c = ::accept(fd_, reinterpret_cast<sockaddr*>(&peer), &len);
      if (c < 0) continue;
      std::lock_guard lock(mu_);
      handlers_.emplace_back([this, c, peer_port = ntohs(peer.sin_port)] { Handle(c, peer_port); });
    }
  }

  pid_t Sender(uint16_t peer_port) {
    // /proc/net/tcp is read in pieces while sockets come and go, so a read can miss one.
    std::string inode;
    for (int attempt = 0; attempt < 20 && inode.empty(); ++attempt) {
      inode = SocketInode(peer_port, port_);
      if (inode.empty()) std::this_thread::sleep_for(5ms);
    }
    if (inode.empty()) return 0;
    std::vector<pid_t> candidates;
    {
      std::lock_guard lock(mu_);
      candidates = candidates_;
    }
    for (pid_t pid : candidates) {
      if (Holds(pid, inode)) return pid;
    }
    // A node started since the last SetCandidates(): any process of ours.
    DIR* proc = ::opendir("/proc");
    pid_t found = 0;
    for (dirent* e = ::readdir(proc); e != nullptr && found == 0; e = ::readdir(proc)) {
      pid_t pid = std::atoi(e->d_name);
      if (pid > 0 && Holds(pid, inode)) found = pid;
    }
    ::closedir(proc);
    return found;
  }

  void Handle(int c, uint16_t peer_port) {
    const pid_t sender = Sender(peer_port);  // while the connection is open
    std::string request;
    size_t head = std::string::npos, length = 0;
    char buf[8192];
    for (auto end = Clock::now() + 5s; Clock::now() < end && !stop_;) {
      pollfd q{c, POLLIN, 0};
      if (::poll(&q, 1, 50) <= 0) continue;
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
      if (head == std::string::npos && (head = request.find("\r\n\r\n")) != std::string::npos) {
        std::smatch m;
        std::string headers = request.substr(0, head);
        if (std::regex_search(headers, m, std::regex("[Cc]ontent-[Ll]ength: *([0-9]+)"))) length = std::stoul(m[1].str());
      }
      if (head != std::string::npos && request.size() >= head + 4 + length) break;
    }
    if (head == std::string::npos) {
      ::close(c);
      return;
    }
    const std::string headers = request.substr(0, head);
    const std::string body = request.substr(head + 4, length);
    auto header = [&](const char* name) {
      std::smatch m;
      std::regex re(std::string("\r\n") + name + ": *([^\r\n]*)", std::regex::icase);
      return std::regex_search(headers, m, re) ? m[1].str() : "";
    };
    Received r;
    r.delivery_id = header("X-Ewarn-Delivery");
    const std::string ts = header("X-Ewarn-Timestamp");
    r.signed_ok = !ts.empty() && header("X-Ewarn-Signature") == "sha256=" + HmacHex(key_, ts + "." + body);
    r.body_matches_key = !r.delivery_id.empty() &&
                         body.find("\"delivery_id\":\"" + r.delivery_id + "\"") != std::string::npos;
    r.sender = sender;
    r.arrived = Clock::now();
    {
      std::lock_guard lock(mu_);
      received_.push_back(r);
      in_flight_[sender].insert(r.delivery_id);
    }
    std::this_thread::sleep_for(kAnswerAfter);
    std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    ::send(c, ok.data(), ok.size(), MSG_NOSIGNAL);
    ::close(c);
    std::lock_guard lock(mu_);
    auto& ids = in_flight_[sender];
    ids.erase(ids.find(r.delivery_id));
  }

  const std::string key_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> handlers_;
  std::vector<pid_t> candidates_;
  std::vector<Received> received_;
  std::map<pid_t, std::multiset<std::string>> in_flight_;
};

std::string District(int d) { return "D" + std::to_string(d); }
std::string Station(int s) { return "S" + std::to_string(s); }

TEST(ClusterDeliveryTest, ANodeAddedAndANodeKilledMidDeliveryLeaveEveryWebhookDeliveredOnceUnderOneKey) {
  const auto started = Clock::now();
  auto phase = [&](const std::string& what) {
    std::printf("%5.1f s  %s\n", std::chrono::duration<double>(Clock::now() - started).count(), what.c_str());
    std::fflush(stdout);
  };
  // The default rules without grouping: every alert event is its own notification.
  testing::TempDir rules_dir;
  const std::string rules = rules_dir.Sub("rules.textproto");
  {
    std::stringstream in;
    in << std::ifstream(std::string(EWARN_SOURCE_DIR) + "/processors/rules/default.textproto").rdbuf();
    std::string text = in.str();
    ASSERT_NE(text.find("group_window_ms: 300000"), std::string::npos);
    std::ofstream(rules) << std::regex_replace(text, std::regex("group_window_ms: 300000"), "group_window_ms: 0");
  }
  auto cluster = testing::Cluster::Start(2, {.partitions = 4, .serve_args = {"--tick-ms", "200", "--rules", rules}});
  ASSERT_NE(cluster, nullptr);
  std::string key;
  {
    std::ifstream in(cluster->webhook_key_file());
    std::getline(in, key);  // the 64 characters themselves, without the newline
  }
  WebhookReceiver receiver(key);
  auto pids = [&] {
    std::vector<pid_t> out;
    for (size_t i = 0; i < cluster->size(); ++i) out.push_back(cluster->node(i).child().pid());
    return out;
  };
  receiver.SetCandidates(pids());

  // Three batches of stations, each in its own ward, far apart; a police liaison per district.
  const int stations = 3 * kStationsPerBatch;
  const std::string csv = cluster->dir().Sub("stations.csv");
  {
    std::ofstream out(csv);
    out << "station_id,name,region,district,ward,lat,lon,registered_voters\n";
    for (int s = 0; s < stations; ++s) {
      out << Station(s) << ",School " << s << ",LAGOS," << District(s % kDistricts) << ",W" << s << ","
          << 4.0 + 0.1 * s << ",3.35,900\n";
    }
  }
  auto imported = cluster->Ewarn("import-stations " + csv);
  ASSERT_EQ(imported.code, 0) << imported.out;
  const std::string hook = "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook";
  for (int d = 0; d < kDistricts; ++d) {
    auto added = cluster->Ewarn("liaison add --name police-" + District(d) + " --role police --area LAGOS/" +
                                District(d) + " --webhook " + hook);
    ASSERT_EQ(added.code, 0) << added.out;
  }
  std::vector<std::string> monitors;
  for (int m = 0; m < 3; ++m) {
    auto made = cluster->Ewarn("token create --role monitor --name mon" + std::to_string(m));
    ASSERT_EQ(made.code, 0) << made.out;
    monitors.push_back(LastLine(made.out));
  }
  // Principals and stations reach every node within seconds (14.2); a report is then accepted.
  SystemClock clock;
  int reports = 0;
  auto report = [&](size_t node, int monitor, int station) {
    std::string body = R"({"event_id":"r-)" + std::to_string(++reports) + R"(","occurred_at":")" +
                       FormatRfc3339(clock.NowMs()) + R"(","station_id":")" + Station(station) +
                       R"(","category":"violence","severity":5,"description":"armed men at the gate, seen by monitor )" +
                       std::to_string(monitor) + R"("})";
    return testing::RunCli("curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " +
                           monitors[static_cast<size_t>(monitor)] + "' -d '" + body + "' " +
                           cluster->node(node).base() + "/v1/incidents")
        .out;
  };
  // Three monitors at every station of batch `b`, through the live nodes in turn.
  auto report_batch = [&](int b, const std::vector<size_t>& through) {
    for (int m = 0; m < 3; ++m) {
      for (int s = b * kStationsPerBatch; s < (b + 1) * kStationsPerBatch; ++s) {
        std::string code = report(through[static_cast<size_t>(s + m) % through.size()], m, s);
        ASSERT_EQ(code, "202") << "report at " << Station(s) << " by monitor " << m;
      }
    }
  };
  auto wait_until = [&](const std::function<bool()>& done, std::chrono::seconds limit) {
    for (auto end = Clock::now() + limit; Clock::now() < end;) {
      if (done()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return done();
  };
  // The liaisons are used from the tick after they reached ref.liaisons (alerts/README).
  std::this_thread::sleep_for(1s);
  phase("two nodes, liaisons and monitors ready");

  report_batch(0, {0, 1});
  ASSERT_TRUE(wait_until([&] { return receiver.InFlight() > 0; }, 60s)) << "no webhook was sent for batch 0";
  phase("batch 0 being delivered: adding a node");
  ASSERT_TRUE(cluster->AddNode().ready());
  receiver.SetCandidates(pids());
  report_batch(1, {0, 1, 2});
  phase("node 2 added, batch 1 reported");
  // Let the group settle on three owners and batch 1's deliveries start.
  std::this_thread::sleep_for(5s);
  report_batch(2, {0, 1, 2});
  // Kill the first node seen with a send on the wire.
  size_t victim = cluster->size();
  ASSERT_TRUE(wait_until([&] {
    for (size_t i = 0; i < cluster->size() && victim == cluster->size(); ++i) {
      if (!receiver.InFlightFrom(cluster->node(i).child().pid()).empty()) victim = i;
    }
    return victim < cluster->size();
  }, 60s)) << "no node had a webhook on the wire after batch 2";
  const pid_t victim_pid = cluster->node(victim).child().pid();
  // Frozen first (SIGSTOP), so that the requests it sent in its last milliseconds are seen
  // arriving with their sender still there to be named; frozen, it takes no answer in. Then
  // kill -9. Its requests still unanswered: it dies without their answer, so the partition's
  // next owner must send them again (those answered meanwhile may come again too).
  cluster->node(victim).Pause();
  std::this_thread::sleep_for(300ms);
  const std::multiset<std::string> on_the_wire = receiver.InFlightFrom(victim_pid);
  cluster->node(victim).Kill9();
  const auto killed_at = Clock::now();
  phase("kill -9 node " + std::to_string(victim) + " with " + std::to_string(on_the_wire.size()) +
        " webhook(s) on the wire");

  // What the lifecycle stages asked for: every webhook delivery id in notify.outbox.
  auto log = store::OpenKafkaLog({.bootstrap_servers = cluster->bootstrap()});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto outbox_ids = [&] {
    std::set<std::string> ids;
    auto partitions = (*log)->PartitionCount(schemas::topic::kOutbox);
    for (int32_t p = 0; partitions.ok() && p < *partitions; ++p) {
      int64_t next = 0;
      while (true) {
        auto got = (*log)->Read({std::string(schemas::topic::kOutbox), p}, next, 5000);
        if (!got.ok() || got->empty()) break;
        for (const auto& r : *got) {
          auto e = schemas::DecodeEvent(r.value);
          if (e.ok() && e->has_delivery() && e->delivery().channel() == v1::Delivery::CHANNEL_WEBHOOK) {
            ids.insert(e->delivery().delivery_id());
          }
        }
        next = got->back().offset + 1;
      }
    }
    return ids;
  };
  auto received_ids = [&] {
    std::set<std::string> ids;
    for (const auto& r : receiver.received()) ids.insert(r.delivery_id);
    return ids;
  };
  auto copies_of = [&](const std::string& id) {
    size_t n = 0;
    for (const auto& r : receiver.received()) n += r.delivery_id == id;
    return n;
  };
  // Done when every id asked for has arrived, nothing is on the wire and the outbox has
  // stopped growing (batch 2's alerts are all raised).
  std::set<std::string> wanted;
  auto unchanged_since = Clock::now();
  ASSERT_TRUE(wait_until([&] {
    std::set<std::string> now = outbox_ids();
    if (now != wanted) unchanged_since = Clock::now();
    wanted = std::move(now);
    std::set<std::string> got = received_ids();
    bool all = std::includes(got.begin(), got.end(), wanted.begin(), wanted.end());
    // The killed node's partitions move after the session timeout (10 s): its sends on the
    // wire come again then.
    bool resent = true;
    for (const auto& id : on_the_wire) resent &= copies_of(id) >= 2;
    if (!all || !resent) std::this_thread::sleep_for(300ms);
    // Every station raised an alert for its district's liaison: at least one delivery each.
    return all && resent && receiver.InFlight() == 0 && wanted.size() >= static_cast<size_t>(stations) &&
           Clock::now() - unchanged_since >= 3s;
  }, 70s)) << "of " << wanted.size() << " webhook deliveries (at least " << stations << " expected), "
           << received_ids().size() << " arrived";
  phase("every delivery arrived");

  std::map<std::string, std::vector<Received>> by_id;
  for (const auto& r : receiver.received()) by_id[r.delivery_id].push_back(r);
  int twice = 0;
  for (const auto& [id, copies] : by_id) {
    EXPECT_TRUE(wanted.contains(id)) << id << " was sent but is not in notify.outbox";
    for (const auto& c : copies) {
      EXPECT_TRUE(c.signed_ok) << id << ": the signature does not verify with the cluster's webhook key";
      EXPECT_TRUE(c.body_matches_key) << id << ": the body's delivery_id is not its X-Ewarn-Delivery";
      EXPECT_NE(c.sender, 0) << id << ": sent by no serve process of the cluster";
    }
    if (copies.size() == 1) continue;
    ++twice;
    for (const auto& c : copies) {
      std::printf("  %s from pid %d at %+.2f s from the kill\n", id.c_str(), c.sender,
                  std::chrono::duration<double>(c.arrived - killed_at).count());
    }
    // Only a send the killed node had made before it died may come again, once, after the kill.
    EXPECT_EQ(copies.size(), 2u) << id;
    EXPECT_EQ(copies[0].sender, victim_pid) << id << " came twice, first from a node that was not killed";
    EXPECT_LT(copies[0].arrived, killed_at) << id << " came twice, both after the kill";
    EXPECT_GT(copies[1].arrived, killed_at) << id << " came twice before the kill (the node added re-sent it?)";
    EXPECT_NE(copies[1].sender, victim_pid) << id;
  }
  // The sends on the wire at the kill (their answer never reached the node) are among them;
  // with 16 sends at once at most 16 repeat.
  for (const auto& id : on_the_wire) EXPECT_EQ(by_id[id].size(), 2u) << id << " was on the wire at the kill";
  EXPECT_LE(twice, 16);
  std::printf("%zu webhook deliveries, %zu requests, %d sent twice (on the wire at the kill: %zu)\n", wanted.size(),
              receiver.received().size(), twice, on_the_wire.size());
  EXPECT_LT(Clock::now() - started, 120s);
}

}  // namespace
}  // namespace ewarn
