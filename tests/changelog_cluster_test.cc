// Issue 14.4 with real processes: `ewarn serve` nodes on `ewarn dev-kafka` (librdkafka's mock
// cluster over loopback TCP). A node that takes over partitions restores them from the stage's
// changelog and reads only the input that arrived after the last commit, and the cluster's
// outputs still equal a one-node `ewarn replay` of the same inputs.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "cluster_harness.h"
#include "cluster_reports.h"
#include "ewarn/base/time.h"
#include "ewarn/processors/digest.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/event_log.h"

namespace ewarn {
namespace {

using namespace std::chrono_literals;

constexpr int kPartitions = 4;
constexpr int kDistricts = 8;

const std::vector<std::string> kOutputs = {
    std::string(schemas::topic::kIncidents), std::string(schemas::topic::kSituations),
    std::string(schemas::topic::kAnomalies), std::string(schemas::topic::kRisk),
    std::string(schemas::topic::kAlerts),    std::string(schemas::topic::kOutbox),
    "dlq.processing"};

// A port nothing listens on now (for --metrics, which takes no port 0).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// The sum of a metric's series whose labels contain `labels` ("" for all), from /metrics.
double Metric(const std::string& metrics, const std::string& name, const std::string& labels) {
  double sum = 0;
  std::regex line("^" + name + "\\{([^}]*)\\} ([0-9.e+]+)$");
  std::istringstream in(metrics);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line) && m[1].str().find(labels) != std::string::npos) sum += std::stod(m[2].str());
  }
  return sum;
}

class ChangelogClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = testing::Cluster::Start(0, {.partitions = kPartitions, .serve_args = {"--tick-ms", "0"}});
    ASSERT_NE(cluster_, nullptr);
    testing::ImportOneStationPerDistrict(*cluster_, kDistricts);
    auto log = store::OpenKafkaLog({.bootstrap_servers = cluster_->bootstrap()});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }

  void AddNode(std::vector<std::string> extra = {}) {
    tokens_.push_back(testing::CreateMonitorToken(cluster_->dir().Sub("node" + std::to_string(cluster_->size()))));
    ASSERT_TRUE(cluster_->AddNode(std::move(extra)).ready());
  }

  std::string Report(size_t node, const std::string& id, int district, int64_t at_ms) {
    return testing::PostViolenceReport(cluster_->node(node), tokens_.at(node), id, district, at_ms);
  }

  std::set<std::string> Enriched() {
    std::set<std::string> ids;
    for (const auto& e : testing::ReadTopicEvents(*log_, schemas::topic::kIncidents)) ids.insert(e.enriched().event_id());
    return ids;
  }
  bool WaitForEnriched(const std::set<std::string>& ids, std::chrono::seconds limit = 60s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      std::set<std::string> have = Enriched();
      if (std::includes(have.begin(), have.end(), ids.begin(), ids.end())) return true;
      std::this_thread::sleep_for(300ms);
    }
    return false;
  }

  SystemClock clock_;
  std::unique_ptr<testing::Cluster> cluster_;
  std::vector<std::string> tokens_;
  std::unique_ptr<store::EventLog> log_;
};

// Node 0 processes the first reports alone. Node 1 joins (taking half the partitions over from
// node 0's changelog), node 0 is killed with kill -9 (node 1 restores the other half), and the
// next reports go through node 1: it reads exactly those from in.events, none of the earlier.
TEST_F(ChangelogClusterTest, ANodeThatTakesPartitionsOverRestoresThemAndReadsOnlyTheTail) {
  AddNode();
  const int64_t t = clock_.NowMs();
  std::set<std::string> ids;
  for (int d = 0; d < kDistricts; ++d) {
    std::string id = "first-" + std::to_string(d);
    std::string r = Report(0, id, d, t + d);
    ASSERT_EQ(r.substr(r.size() - 3), "202") << r;
    ids.insert(id);
  }
  ASSERT_TRUE(WaitForEnriched(ids));
  std::this_thread::sleep_for(1s);  // node 0's last commit (every 100 ms) is in

  const int port = FreePort();
  // Not 127.0.0.1: the harness takes the first "http://127.0.0.1:" line serve prints as its API.
  AddNode({"--metrics", "0.0.0.0:" + std::to_string(port)});
  std::this_thread::sleep_for(5s);  // the group rebalances: node 1 restores its half
  cluster_->node(0).Kill9();
  // After the session timeout node 1 owns everything; reports for node 0's old partitions wait
  // in in.events until then.
  for (int d = 0; d < kDistricts; ++d) {
    std::string id = "after-" + std::to_string(d);
    std::string r = Report(1, id, d, t + 1000 + d);
    ASSERT_EQ(r.substr(r.size() - 3), "202") << r;
    ids.insert(id);
  }
  ASSERT_TRUE(WaitForEnriched(ids, 90s));
  std::this_thread::sleep_for(2s);

  std::string metrics = testing::RunCli("curl -s http://127.0.0.1:" + std::to_string(port) + "/metrics").out;
  const double read = Metric(metrics, "ewarn_processors_records_total", "stage=\"in.events\"");
  const double restored = Metric(metrics, "ewarn_processors_changelog_restored_records_total", "stage=\"in.events\"");
  EXPECT_GT(restored, 0) << metrics;
  EXPECT_EQ(read, kDistricts) << "node 1 read in.events records from before node 0's last commit";

  // The outputs equal a one-node replay of the same inputs.
  auto outputs = processors::DigestTopics(*log_, kOutputs);
  ASSERT_TRUE(outputs.ok()) << outputs.status().ToString();
  const std::string one_node = cluster_->dir().Sub("one-node");
  testing::CliRun replay = cluster_->Ewarn("replay --data " + cluster_->node(1).data_dir() + " --into " + one_node);
  ASSERT_EQ(replay.code, 0) << replay.out;
  auto one_log = store::OpenEmbeddedLog({.dir = one_node + "/log"});
  ASSERT_TRUE(one_log.ok()) << one_log.status().ToString();
  auto one = processors::DigestTopics(**one_log, kOutputs);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->digest, outputs->digest);
  EXPECT_EQ(one->records, outputs->records);
}

}  // namespace
}  // namespace ewarn
