// The pipeline's guarantees with several `ewarn serve` processes on one Kafka-protocol cluster
// (issue 14.1, 14.5, 14.7): a report retried through another node counts once; a paused owner
// that comes back after its partitions moved changes no output; each partition has one clock.
// Real processes, `ewarn dev-kafka` over loopback TCP (tests/cluster_harness.h); the test reads
// the topics itself over the same protocol.
#include <gtest/gtest.h>

#include <map>
#include <set>
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
constexpr int kDistricts = 8;  // spread over every partition of in.events

// The topics the station and alert stages write, as a consumer keeps them.
const std::vector<std::string> kOutputs = {
    std::string(schemas::topic::kIncidents), std::string(schemas::topic::kSituations),
    std::string(schemas::topic::kAnomalies), std::string(schemas::topic::kRisk),
    std::string(schemas::topic::kAlerts),    std::string(schemas::topic::kOutbox),
    "dlq.processing"};

class ClusterPipelineTest : public ::testing::Test {
 protected:
  // A cluster of `nodes` serve processes, with stations in kDistricts districts and a monitor
  // token "amina" made in every node's data directory before it starts (each node's own, as
  // tokens are local until they live in the log: the same principal through every node).
  void Start(int nodes, std::vector<std::string> serve_args = {"--tick-ms", "0"}) {
    cluster_ = testing::Cluster::Start(0, {.partitions = kPartitions, .serve_args = std::move(serve_args)});
    ASSERT_NE(cluster_, nullptr);
    testing::ImportOneStationPerDistrict(*cluster_, kDistricts);
    for (int i = 0; i < nodes; ++i) AddNode();
    auto log = store::OpenKafkaLog({.bootstrap_servers = cluster_->bootstrap()});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }

  void AddNode() {
    tokens_.push_back(testing::CreateMonitorToken(cluster_->dir().Sub("node" + std::to_string(cluster_->size()))));
    ASSERT_TRUE(cluster_->AddNode().ready());
  }

  // POST /v1/incidents through node `node`: "BODY CODE".
  std::string Report(size_t node, const std::string& id, int district, int64_t at_ms) {
    return testing::PostViolenceReport(cluster_->node(node), tokens_.at(node), id, district, at_ms);
  }

  int32_t Partitions(std::string_view topic) {
    auto n = log_->PartitionCount(topic);
    return n.ok() ? *n : 0;
  }

  std::vector<v1::Event> Read(std::string_view topic) { return testing::ReadTopicEvents(*log_, topic); }
  // How many enriched incidents derived.incidents has per reported event id.
  std::map<std::string, int> EnrichedCounts() {
    std::map<std::string, int> counts;
    for (const auto& e : Read(schemas::topic::kIncidents)) ++counts[e.enriched().event_id()];
    return counts;
  }
  // Waits until every id in `ids` has an enriched incident.
  bool WaitForEnriched(const std::set<std::string>& ids, std::chrono::seconds limit = 40s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      auto counts = EnrichedCounts();
      bool all = true;
      for (const auto& id : ids) all &= counts.contains(id);
      if (all) return true;
      std::this_thread::sleep_for(300ms);
    }
    return false;
  }
  // Waits until nothing has been appended to the output topics for `quiet`.
  void WaitForQuiet(std::chrono::milliseconds quiet, std::chrono::seconds limit) {
    auto ends = [&] {
      int64_t sum = 0;
      for (const auto& topic : kOutputs) {
        for (int32_t p = 0; p < Partitions(topic); ++p) {
          if (auto o = log_->Offsets({topic, p}); o.ok()) sum += o->end;
        }
      }
      return sum;
    };
    auto deadline = std::chrono::steady_clock::now() + limit;
    int64_t last = ends();
    auto since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(200ms);
      int64_t now = ends();
      if (now != last) {
        last = now;
        since = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - since >= quiet) {
        return;
      }
    }
  }
  processors::OutputDigest Digest() {
    auto d = processors::DigestTopics(*log_, kOutputs);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? *d : processors::OutputDigest{};
  }

  SystemClock clock_;
  std::unique_ptr<testing::Cluster> cluster_;
  std::vector<std::string> tokens_;  // "amina"'s token on each node
  std::unique_ptr<store::EventLog> log_;
};

// Issue 14.1: the phone timed out on node 0 and retried on node 1. Node 1's idempotency index
// cannot know (202, duplicates 0) and appends it again; the station stage counts it once.
TEST_F(ClusterPipelineTest, AReportRetriedThroughASecondNodeIsOneIncidentAndOneReporter) {
  Start(3);
  const int64_t t = clock_.NowMs();
  std::string first = Report(0, "retry-1", 0, t);
  EXPECT_NE(first.find("\"duplicates\":0"), std::string::npos) << first;
  EXPECT_EQ(first.substr(first.size() - 3), "202") << first;
  std::string retry = Report(1, "retry-1", 0, t);
  EXPECT_EQ(retry.substr(retry.size() - 3), "202") << retry;
  EXPECT_NE(retry.find("\"duplicates\":0"), std::string::npos) << retry;  // node 1 cannot know
  // The same node recognises its own retry.
  std::string again = Report(1, "retry-1", 0, t);
  EXPECT_NE(again.find("\"duplicates\":1"), std::string::npos) << again;
  // The log has it twice...
  int copies = 0;
  for (const auto& e : Read(schemas::topic::kInputs)) copies += e.header().event_id() == "retry-1";
  EXPECT_EQ(copies, 2);
  // ...and a later report in the same district (the same partition, so processed after both
  // copies) tells when the stage is past them.
  std::string later = Report(2, "later-1", 0, t + 1000);
  EXPECT_EQ(later.substr(later.size() - 3), "202") << later;
  ASSERT_TRUE(WaitForEnriched({"retry-1", "later-1"}));
  EXPECT_EQ(EnrichedCounts()["retry-1"], 1);
  int situations = 0;
  for (const auto& e : Read(schemas::topic::kSituations)) {
    const v1::Situation& s = e.situation();
    if (std::find(s.member_event_ids().begin(), s.member_event_ids().end(), "retry-1") == s.member_event_ids().end()) {
      continue;
    }
    ++situations;
    std::set<std::string> distinct(s.member_event_ids().begin(), s.member_event_ids().end());
    EXPECT_EQ(distinct.size(), static_cast<size_t>(s.member_event_ids_size())) << s.DebugString();
    EXPECT_EQ(s.independent_reporters(), 1) << s.DebugString();
  }
  EXPECT_GT(situations, 0);
}

// Issue 14.5: node 0 of two is stopped (SIGSTOP) long enough for the group to give its partitions
// away, reports (and retries) arrive and are processed by node 1, then node 0 comes back, still
// believing it owns them until it hears otherwise, and later gets partitions back and replays
// their tail. Nothing it does changes an output: same ids, same values, nothing counted twice;
// and what the cluster wrote equals a one-node run of the same inputs.
TEST_F(ClusterPipelineTest, APausedOwnerResumedAfterItsPartitionsMovedChangesNothing) {
  auto started = std::chrono::steady_clock::now();
  auto phase = [&](const char* what) {
    std::printf("%5.1f s  %s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), what);
  };
  Start(2);
  phase("two nodes up");
  const int64_t t = clock_.NowMs();
  std::set<std::string> ids;
  for (int d = 0; d < kDistricts; ++d) {
    std::string id = "before-" + std::to_string(d);
    std::string r = Report(static_cast<size_t>(d) % 2, id, d, t + d);
    ASSERT_EQ(r.substr(r.size() - 3), "202") << r;
    ids.insert(id);
  }
  ASSERT_TRUE(WaitForEnriched(ids));

  phase("first reports processed");
  // Reports for node 0's partitions wait until the group gives them away, past the session
  // timeout (10 s).
  cluster_->node(0).Pause();
  for (int d = 0; d < kDistricts; ++d) {
    std::string id = "while-paused-" + std::to_string(d);
    std::string r = Report(1, id, d, t + 1000 + d);
    ASSERT_EQ(r.substr(r.size() - 3), "202") << r;
    ids.insert(id);
    // A retry of an earlier report, which node 0 took, through node 1.
    std::string retry = Report(1, "before-" + std::to_string(d), d, t + d);
    ASSERT_EQ(retry.substr(retry.size() - 3), "202") << retry;
  }
  ASSERT_TRUE(WaitForEnriched(ids));
  phase("processed by node 1");
  WaitForQuiet(2s, 20s);
  phase("quiet");
  processors::OutputDigest before = Digest();
  phase("digest");

  cluster_->node(0).Resume();
  // It rejoins; whatever it still had fetched, and the tail it replays for partitions it gets
  // back, is written again with the same ids and values.
  std::this_thread::sleep_for(4s);
  WaitForQuiet(3s, 20s);
  phase("resumed and quiet again");
  processors::OutputDigest after = Digest();
  EXPECT_EQ(after.digest, before.digest);
  EXPECT_EQ(after.records, before.records);
  std::printf("outputs: %lld distinct; repeats dropped by consumers: %lld before the resume, %lld after\n",
              static_cast<long long>(after.records), static_cast<long long>(before.duplicates),
              static_cast<long long>(after.duplicates));
  for (const auto& [id, n] : EnrichedCounts()) {
    // Written more than once only as the same event (the digest above); the distinct count is one.
    EXPECT_TRUE(ids.contains(id)) << id;
  }
  std::map<std::string, std::set<std::string>> enriched_values;
  for (const auto& e : Read(schemas::topic::kIncidents)) {
    v1::Event copy = e;
    enriched_values[e.enriched().event_id()].insert(schemas::EncodeEvent(copy));
  }
  for (const auto& [id, values] : enriched_values) EXPECT_EQ(values.size(), 1u) << id << " written with different values";
  EXPECT_EQ(enriched_values.size(), ids.size());
  // And the two nodes' outputs, zombie included, equal a one-node run of the same inputs:
  // `ewarn replay` copies the inputs (keeping offsets) and runs the same stages in one process.
  const std::string one_node = cluster_->dir().Sub("one-node");
  testing::CliRun replay = cluster_->Ewarn("replay --data " + cluster_->node(1).data_dir() + " --into " + one_node);
  ASSERT_EQ(replay.code, 0) << replay.out;
  auto one_log = store::OpenEmbeddedLog({.dir = one_node + "/log"});
  ASSERT_TRUE(one_log.ok()) << one_log.status().ToString();
  auto one = processors::DigestTopics(**one_log, kOutputs);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->digest, after.digest);
  EXPECT_EQ(one->records, after.records);
  EXPECT_EQ(one->duplicates, 0);
  phase("one-node replay compared");
  // The resumed node is healthy and serves again.
  EXPECT_EQ(testing::RunCli("curl -s -o /dev/null -w '%{http_code}' " + cluster_->node(0).base() + "/healthz").out,
            "200");
}

// Issue 14.7: with three nodes ticking every 200 ms, each partition still gets one clock's ticks,
// not three: only the node whose station stage owns a partition ticks it.
TEST_F(ClusterPipelineTest, ThreeNodesTickEachPartitionFromOneClock) {
  Start(3, {"--tick-ms", "200"});
  // Ticks per partition with event times in [from, to).
  auto ticks = [&](int64_t from, int64_t to) {
    std::map<int32_t, size_t> n;
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto got = log_->Read({std::string(schemas::topic::kInputs), p}, 0, 100000);
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (!got.ok()) continue;
      for (const auto& r : *got) {
        auto e = schemas::DecodeEvent(r.value);
        if (e.ok() && e->has_tick() && e->header().event_time_ms() >= from && e->header().event_time_ms() < to) ++n[p];
      }
    }
    return n;
  };
  // The group has settled once every partition was ticked in the last second (during a
  // rebalance nobody owns a partition, so nobody ticks it).
  auto deadline = std::chrono::steady_clock::now() + 40s;
  bool settled = false;
  while (!settled && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(500ms);
    auto recent = ticks(clock_.NowMs() - 1000, clock_.NowMs());
    settled = true;
    for (int32_t p = 0; p < kPartitions; ++p) settled &= recent[p] >= 2;
  }
  ASSERT_TRUE(settled) << "some partition of in.events is ticked by nobody";
  const int64_t from = clock_.NowMs();
  std::this_thread::sleep_for(4s);
  const int64_t to = clock_.NowMs();
  auto counted = ticks(from, to);
  // One clock: about (to - from) / 200 ticks a partition; three clocks would give three times that.
  const size_t one_clock = static_cast<size_t>((to - from) / 200);
  for (int32_t p = 0; p < kPartitions; ++p) {
    EXPECT_GE(counted[p], 1u) << "partition " << p << ": nobody ticks it";
    EXPECT_LE(counted[p], one_clock + 3) << "partition " << p << " is ticked by more than one node";
  }
}

}  // namespace
}  // namespace ewarn
