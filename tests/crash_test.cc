// Exactly-once under kill -9, on both engines: a processor process is killed at random points
// (at least 20 times) while it works through 200,000 events; its final state and output
// stream must equal those of an uninterrupted run. And a consumer-group failover on Kafka: of
// two processes sharing a topic one is killed; the other takes over with the same result.
#include <gtest/gtest.h>

#include <random>

#include "../processors/testing/counting_processor.h"
#include "child_process.h"
#include "ewarn/processors/digest.h"
#include "ewarn_testing.h"

namespace ewarn {
namespace {

using namespace std::chrono_literals;
using ewarn::testing::ChildProcess;
using ewarn::testing::MockKafkaCluster;
using ewarn::testing::TempDir;

constexpr int kEvents = 200'000;
constexpr int kStations = 997;
constexpr int kMinKills = 20;

// Seeded inputs: incidents over many stations, with 1% repeated event ids (producer retries)
// and a few corrupt records, so dedupe and the dead-letter path run under crashes too.
std::vector<store::OutRecord> Inputs(int n) {
  std::mt19937_64 rng(20270225);
  std::vector<store::OutRecord> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    if (i % 50'000 == 7) {
      out.push_back({.topic = "in.events", .key = "st-x", .value = "corrupt\xff", .timestamp_ms = i});
    } else if (i % 100 == 99) {
      out.push_back(out.back());  // a byte-identical producer retry
    } else {
      std::string station = "st-" + std::to_string((i * 7919) % kStations);
      int severity = 1 + static_cast<int>(rng() % 5);
      int64_t time_ms = 1'800'000'000'000 + i;
      v1::Event e = processors::testing::MakeIncident("ev-" + std::to_string(i), station, severity, time_ms);
      out.push_back({.topic = "in.events", .key = station, .value = schemas::EncodeEvent(e),
                     .timestamp_ms = time_ms});
    }
  }
  return out;
}

Status Prepare(store::EventLog& log, int partitions, const std::vector<store::OutRecord>& inputs) {
  RETURN_IF_ERROR(log.CreateTopic({.name = "in.events", .partitions = partitions}));
  RETURN_IF_ERROR(log.CreateTopic({.name = std::string(processors::testing::kSummaryTopic), .partitions = 3}));
  RETURN_IF_ERROR(log.CreateTopic({.name = std::string(processors::kProcessingDlqTopic), .partitions = 1}));
  for (size_t i = 0; i < inputs.size(); i += 10'000) {
    size_t n = std::min<size_t>(10'000, inputs.size() - i);
    RETURN_IF_ERROR(log.Append(std::span(inputs).subspan(i, n)).status());
  }
  return Status::Ok();
}

struct Digests {
  std::string state, outputs;
  int64_t output_records = 0, output_duplicates = 0;
};

Digests Digest(store::EventLog& log, const std::string& state_dir) {
  Digests d;
  auto state = store::StateStore::Open(
      {.dir = state_dir, .stores = {std::string(processors::testing::kCountsStore)}});
  EXPECT_TRUE(state.ok()) << state.status().ToString();
  if (!state.ok()) return d;
  d.state = *processors::StateDigest(**state);
  auto out = processors::DigestTopics(log, {std::string(processors::testing::kSummaryTopic),
                                            std::string(processors::kProcessingDlqTopic)});
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  d.outputs = out->digest;
  d.output_records = out->records;
  d.output_duplicates = out->duplicates;
  return d;
}

std::vector<std::string> WorkerArgs(const std::string& engine, const std::string& where,
                                    const std::string& state_dir, const std::string& group) {
  std::vector<std::string> args = {CRASH_WORKER_PATH, "--engine", engine, "--state", state_dir,
                                   "--group", group};
  args.push_back(engine == "kafka" ? "--bootstrap" : "--log");
  args.push_back(where);
  if (engine == "kafka") {
    args.push_back("--expect");
    args.push_back(std::to_string(kEvents));
  }
  return args;
}

// Runs a worker to completion; returns its exit code.
int RunToEnd(std::vector<std::string> args) {
  args.push_back("--until-caught-up");
  ChildProcess child(args);
  while (auto line = child.ReadLine(120s)) {
    if (*line == "done") break;
  }
  return child.Wait();
}

// Kills workers at seeded random progress points; returns how many kills happened.
int RunWithKills(const std::string& engine, const std::string& where, const std::string& state_dir) {
  std::mt19937_64 rng(42);
  std::vector<int64_t> points;
  for (int i = 0; i < kMinKills + 5; ++i) points.push_back(1000 + static_cast<int64_t>(rng() % (kEvents - 6000)));
  std::sort(points.begin(), points.end());
  int kills = 0;
  size_t next = 0;
  auto deadline = std::chrono::steady_clock::now() + 240s;
  while (next < points.size() && std::chrono::steady_clock::now() < deadline) {
    // Offsets live in ewarn's state store, so each incarnation may use a fresh group and needs
    // no wait for the dead member's session to expire.
    ChildProcess child(WorkerArgs(engine, where, state_dir, "crash-" + std::to_string(kills)));
    int64_t progress = -1;
    while (auto line = child.ReadLine(60s)) {
      if (!line->starts_with("progress ")) continue;
      progress = std::stoll(line->substr(9));
      if (progress >= points[next]) {
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20'000));  // mid-commit
        child.Kill9();
        break;
      }
    }
    int code = child.Wait();
    if (code != 128 + SIGKILL) {
      ADD_FAILURE() << "worker ended (code " << code << ") before kill point " << points[next];
      return kills;
    }
    ++kills;
    while (next < points.size() && points[next] <= progress) ++next;
  }
  return kills;
}

TEST(CrashTest, EmbeddedKillNineLosesNothingAndDoublesNothing) {
  TempDir dir;
  auto inputs = Inputs(kEvents);
  for (const char* run : {"reference", "crashed"}) {
    auto log = store::OpenEmbeddedLog({.dir = dir.Sub(std::string(run) + "-log")});
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(Prepare(**log, 4, inputs).ok());
  }
  ASSERT_EQ(RunToEnd(WorkerArgs("embedded", dir.Sub("reference-log"), dir.Sub("reference-state"), "g")), 0);
  int kills = RunWithKills("embedded", dir.Sub("crashed-log"), dir.Sub("crashed-state"));
  EXPECT_GE(kills, kMinKills);
  ASSERT_EQ(RunToEnd(WorkerArgs("embedded", dir.Sub("crashed-log"), dir.Sub("crashed-state"), "g")), 0);

  Digests reference, crashed;
  {
    auto log = store::OpenEmbeddedLog({.dir = dir.Sub("reference-log")});
    reference = Digest(**log, dir.Sub("reference-state"));
  }
  {
    auto log = store::OpenEmbeddedLog({.dir = dir.Sub("crashed-log")});
    crashed = Digest(**log, dir.Sub("crashed-state"));
  }
  EXPECT_EQ(reference.output_duplicates, 0);
  EXPECT_GT(reference.output_records, kEvents / 6);
  EXPECT_EQ(crashed.state, reference.state);
  EXPECT_EQ(crashed.outputs, reference.outputs);
  EXPECT_EQ(crashed.output_records, reference.output_records);
  std::printf("embedded: %d kills; %lld outputs, %lld republished duplicates dropped\n", kills,
              static_cast<long long>(crashed.output_records),
              static_cast<long long>(crashed.output_duplicates));
}

TEST(CrashTest, KafkaKillNineLosesNothingAndDoublesNothing) {
  TempDir dir;
  auto inputs = Inputs(kEvents);
  std::vector<std::unique_ptr<MockKafkaCluster>> clusters;
  std::vector<std::unique_ptr<store::EventLog>> logs;
  for (int i = 0; i < 2; ++i) {
    auto cluster = MockKafkaCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    auto log = store::OpenKafkaLog((*cluster)->LogOptions());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_TRUE(Prepare(**log, 4, inputs).ok());
    clusters.push_back(std::move(cluster).value());
    logs.push_back(std::move(log).value());
  }
  ASSERT_EQ(RunToEnd(WorkerArgs("kafka", clusters[0]->bootstrap_servers(), dir.Sub("reference-state"), "ref")), 0);
  int kills = RunWithKills("kafka", clusters[1]->bootstrap_servers(), dir.Sub("crashed-state"));
  EXPECT_GE(kills, kMinKills);
  ASSERT_EQ(RunToEnd(WorkerArgs("kafka", clusters[1]->bootstrap_servers(), dir.Sub("crashed-state"), "final")), 0);

  Digests reference = Digest(*logs[0], dir.Sub("reference-state"));
  Digests crashed = Digest(*logs[1], dir.Sub("crashed-state"));
  EXPECT_EQ(crashed.state, reference.state);
  EXPECT_EQ(crashed.outputs, reference.outputs);
  EXPECT_EQ(crashed.output_records, reference.output_records);
  std::printf("kafka: %d kills; %lld outputs, %lld republished duplicates dropped\n", kills,
              static_cast<long long>(crashed.output_records),
              static_cast<long long>(crashed.output_duplicates));
}

TEST(ConsumerGroupTest, SurvivorTakesOverTheKilledMembersPartitions) {
  TempDir dir;
  constexpr int kGroupEvents = 40'000;
  auto inputs = Inputs(kGroupEvents);
  auto ref_cluster = MockKafkaCluster::Start(1);
  auto cluster = MockKafkaCluster::Start(3);
  ASSERT_TRUE(ref_cluster.ok() && cluster.ok());
  auto ref_log = store::OpenKafkaLog((*ref_cluster)->LogOptions());
  auto log = store::OpenKafkaLog((*cluster)->LogOptions());
  ASSERT_TRUE(ref_log.ok() && log.ok());
  ASSERT_TRUE(Prepare(**ref_log, 4, inputs).ok());
  ASSERT_TRUE(Prepare(**log, 4, inputs).ok());

  auto args = [&](const std::string& bootstrap, const std::string& state) {
    auto a = WorkerArgs("kafka", bootstrap, state, "shared");
    a[a.size() - 1] = std::to_string(kGroupEvents);  // --expect
    return a;
  };
  auto ref_args = args((*ref_cluster)->bootstrap_servers(), dir.Sub("ref-state"));
  ref_args.push_back("--until-caught-up");
  {
    ChildProcess ref(ref_args);
    while (auto line = ref.ReadLine(120s)) {
      if (*line == "done") break;
    }
    ASSERT_EQ(ref.Wait(), 0);
  }

  // Throttled commits so that both members are mid-stream when one dies.
  auto a_args = args((*cluster)->bootstrap_servers(), dir.Sub("a-state"));
  auto b_args = args((*cluster)->bootstrap_servers(), dir.Sub("b-state"));
  for (auto* v : {&a_args, &b_args}) {
    v->push_back("--commit-every");
    v->push_back("200");
  }
  ChildProcess a(a_args);
  ASSERT_EQ(a.ReadLine(30s), "started");
  ChildProcess b(b_args);
  ASSERT_EQ(b.ReadLine(30s), "started");
  // Let A make some progress, then kill it without leaving the group.
  bool a_progressed = false;
  while (auto line = a.ReadLine(60s)) {
    if (line->starts_with("progress ") && std::stoll(line->substr(9)) > 2000) {
      a_progressed = true;
      break;
    }
  }
  ASSERT_TRUE(a_progressed);
  a.Kill9();
  a.Wait();
  bool b_done = false;
  while (auto line = b.ReadLine(90s)) {
    if (*line == "done") {
      b_done = true;
      break;
    }
  }
  ASSERT_TRUE(b_done) << "the survivor did not finish all partitions";
  b.CloseStdin();
  ASSERT_EQ(b.Wait(), 0);

  Digests reference = Digest(**ref_log, dir.Sub("ref-state"));
  Digests survivor = Digest(**log, dir.Sub("b-state"));
  EXPECT_EQ(survivor.state, reference.state);
  EXPECT_EQ(survivor.outputs, reference.outputs);
}

}  // namespace
}  // namespace ewarn
