// Cluster mode as an operator meets it: `ewarn dev-kafka` hosting the Kafka protocol for several
// `serve` processes, the topic plan checked at start, and the shared keys required.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <thread>
#include <sstream>

#include "cluster_harness.h"
#include "ewarn/base/time.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/event_log.h"

namespace ewarn {
namespace {

std::string HttpCode(const std::string& url) {
  return testing::RunCli("curl -s -o /dev/null -w '%{http_code}' " + url).out;
}

TEST(ClusterTest, ThreeServeProcessesShareOneDevKafkaClusterWhoseTopicsCheckOut) {
  auto cluster = testing::Cluster::Start(3, {.partitions = 4});
  ASSERT_NE(cluster, nullptr);
  for (size_t i = 0; i < cluster->size(); ++i) {
    EXPECT_EQ(HttpCode(cluster->node(i).base() + "/healthz"), "200") << "node " << i;
  }
  testing::CliRun check = cluster->Ewarn("topics check");
  EXPECT_EQ(check.code, 0) << check.out;
  EXPECT_NE(check.out.find("every ewarn topic is there"), std::string::npos) << check.out;
  // librdkafka's mock cluster cannot describe topic settings (DescribeConfigs): said, not hidden.
  EXPECT_NE(check.out.find("settings are NOT checked: the brokers do not support DescribeConfigs"), std::string::npos)
      << check.out;
  // A clean stop from every node: each leaves the group and drains.
  for (size_t i = 0; i < cluster->size(); ++i) EXPECT_EQ(cluster->node(i).Terminate(), 0) << "node " << i;
}

TEST(ClusterTest, ServeOnKafkaRefusesWithoutTheSharedKeysOrWithADifferentOne) {
  auto cluster = testing::Cluster::Start(0, {.partitions = 2});
  ASSERT_NE(cluster, nullptr);
  const std::string data = cluster->dir().Sub("lonely");
  testing::CliRun no_keys = cluster->Ewarn("serve --data " + data + " --duration 1");
  EXPECT_EQ(no_keys.code, 1) << no_keys.out;
  EXPECT_NE(no_keys.out.find("--secret-file FILE is missing"), std::string::npos) << no_keys.out;

  const std::string keys = " --secret-file " + cluster->secret_file() + " --webhook-key-file " +
                           cluster->webhook_key_file();
  testing::CliRun ok = cluster->Ewarn("serve --data " + data + " --duration 1" + keys);
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("in.events with 2 partitions"), std::string::npos) << ok.out;  // the cluster's count

  const std::string other = cluster->dir().Sub("other.key");
  std::ofstream(other) << std::string(64, 'c') << "\n";
  testing::CliRun wrong = cluster->Ewarn("serve --data " + data + " --duration 1 --secret-file " + other +
                                         " --webhook-key-file " + cluster->webhook_key_file());
  EXPECT_EQ(wrong.code, 1) << wrong.out;
  EXPECT_NE(wrong.out.find("holds another key"), std::string::npos) << wrong.out;

  std::ofstream(other, std::ios::trunc) << "short\n";
  testing::CliRun short_key = cluster->Ewarn("serve --data " + cluster->dir().Sub("fresh") +
                                             " --duration 1 --webhook-key-file " + cluster->webhook_key_file() +
                                             " --secret-file " + other);
  EXPECT_EQ(short_key.code, 1) << short_key.out;
  EXPECT_NE(short_key.out.find("at least 32 characters"), std::string::npos) << short_key.out;
}

TEST(ClusterTest, AClusterWithoutEwarnsTopicsIsNamedAndServeRefusesToStart) {
  // A bare Kafka-protocol cluster: nothing has made ewarn's topics yet.
  auto bare = testing::MockKafkaCluster::Start(1);
  ASSERT_TRUE(bare.ok()) << bare.status().message();
  const std::string kafka = " --kafka " + (*bare)->bootstrap_servers();
  testing::CliRun check = testing::RunCli(std::string(EWARN_BIN) + " topics check" + kafka);
  EXPECT_EQ(check.code, 1) << check.out;
  EXPECT_NE(check.out.find("topic 'in.events' is missing"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("topic 'ref.monitors' is missing"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("ewarn topics create"), std::string::npos) << check.out;

  testing::TempDir dir;
  std::ofstream(dir.Sub("k")) << std::string(64, 'a') << "\n";
  testing::CliRun serve = testing::RunCli(std::string(EWARN_BIN) + " serve --data " + dir.Sub("d") + kafka +
                                          " --duration 1 --secret-file " + dir.Sub("k") + " --webhook-key-file " +
                                          dir.Sub("k"));
  EXPECT_EQ(serve.code, 1) << serve.out;
  EXPECT_NE(serve.out.find("topic 'in.events' is missing"), std::string::npos) << serve.out;
  EXPECT_NE(serve.out.find("ewarn topics create --kafka"), std::string::npos) << serve.out;
}

TEST(ClusterTest, AnUnreachableClusterIsNamed) {
  testing::CliRun check = testing::RunCli(std::string(EWARN_BIN) + " topics check --kafka 127.0.0.1:1");
  EXPECT_EQ(check.code, 1) << check.out;
  EXPECT_NE(check.out.find("127.0.0.1:1"), std::string::npos) << check.out;
}

// Bad input (issue 14): the brokers stop answering while a node runs (the dev-kafka process
// frozen, as in a network partition). A report then gets 503, not 202, once the append has
// waited message.timeout.ms (here 4 s; by default the 30 s request timeout); after the brokers
// come back every report answered 202 is in in.events, and the phone's retry of a 503'd
// report is taken.
TEST(ClusterTest, BrokersUnreachableMidRunGive503AndNothingAcknowledgedIsLost) {
  auto cluster = testing::Cluster::Start(1, {.partitions = 2, .serve_args = {"--kafka-property", "message.timeout.ms=4000"}});
  ASSERT_NE(cluster, nullptr);
  const std::string stations = cluster->dir().Sub("stations.csv");
  std::ofstream(stations) << "station_id,name,region,district,ward,lat,lon,registered_voters\n"
                             "S1,Ikeja Primary,LAGOS,IKEJA,ANIFOWOSHE,6.60,3.35,800\n";
  ASSERT_EQ(cluster->Ewarn("import-stations " + stations).code, 0);
  testing::CliRun token = cluster->Ewarn("token create --role monitor --name amina");
  ASSERT_EQ(token.code, 0) << token.out;
  std::string t = token.out.substr(0, token.out.find_last_not_of('\n') + 1);
  t = t.substr(t.rfind('\n') + 1);
  SystemClock clock;
  auto submit = [&](const std::string& id) {
    const std::string body = R"({"event_id":")" + id + R"(","occurred_at":")" + FormatRfc3339(clock.NowMs() - 1000) +
                             R"(","station_id":"S1","category":"violence","severity":3})";
    return testing::RunCli("curl -s -m 60 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " + t +
                           "' -d '" + body + "' " + cluster->node(0).base() + "/v1/incidents")
        .out;
  };
  std::set<std::string> acknowledged;
  int n = 0;
  // The token reaches the node within seconds (14.2).
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       acknowledged.empty() && std::chrono::steady_clock::now() < end;) {
    std::string id = "before-" + std::to_string(++n);
    if (submit(id) == "202") acknowledged.insert(id);
  }
  ASSERT_FALSE(acknowledged.empty()) << "the node never took a report";
  for (int i = 0; i < 3; ++i) {
    std::string id = "before-" + std::to_string(++n);
    ASSERT_EQ(submit(id), "202") << id;
    acknowledged.insert(id);
  }

  cluster->PauseKafka();
  auto paused_at = std::chrono::steady_clock::now();
  EXPECT_EQ(submit("while-down"), "503");
  auto answered_after = std::chrono::steady_clock::now() - paused_at;
  EXPECT_LT(answered_after, std::chrono::seconds(15));
  std::printf("with the brokers frozen, a report was refused after %.1f s\n",
              std::chrono::duration<double>(answered_after).count());
  cluster->ResumeKafka();

  // Back: new reports and the phone's retry of the refused one are taken.
  std::string retried;
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(40);
       retried != "202" && std::chrono::steady_clock::now() < end;) {
    retried = submit("while-down");
    if (retried != "202") std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_EQ(retried, "202") << "the node did not take reports again after the brokers came back";
  acknowledged.insert("while-down");
  ASSERT_EQ(submit("after"), "202");
  acknowledged.insert("after");

  auto log = store::OpenKafkaLog({.bootstrap_servers = cluster->bootstrap()});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  std::set<std::string> stored;
  for (int32_t p = 0; p < 2; ++p) {
    int64_t next = 0;
    while (true) {
      auto got = (*log)->Read({std::string(schemas::topic::kInputs), p}, next, 1000);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      if (got->empty()) break;
      for (const auto& r : *got) {
        if (auto e = schemas::DecodeEvent(r.value); e.ok()) stored.insert(e->header().event_id());
      }
      next = got->back().offset + 1;
    }
  }
  for (const auto& id : acknowledged) EXPECT_TRUE(stored.contains(id)) << id << " was answered 202 and is not in in.events";
  EXPECT_EQ(cluster->node(0).Terminate(), 0);
}

// The README's "three nodes on a laptop", run as pasted (on other ports than 8081-8083).
TEST(ClusterTest, TheReadmeThreeNodeWalkThroughWorksWhenPasted) {
  std::stringstream readme;
  readme << std::ifstream(std::string(EWARN_SOURCE_DIR) + "/README.md").rdbuf();
  const std::string text = readme.str();
  size_t start = text.find("```sh\nPATH=\"$PWD/build/app:$PATH\"; W=$(mktemp -d)");
  ASSERT_NE(start, std::string::npos) << "README lost its three-node walk-through";
  start += 6;
  std::string script = text.substr(start, text.find("```", start) - start);
  const int base = 20000 + static_cast<int>(std::random_device{}() % 20000);
  script = std::regex_replace(script, std::regex("127\\.0\\.0\\.1:808\\$i"),
                              "127.0.0.1:$((" + std::to_string(base) + "+i))");
  testing::TempDir dir;
  // If a line fails, bash -e exits and its background jobs (the cluster, the nodes) would keep
  // the output pipe open until ctest's timeout; the trap stops them so the failure is reported.
  { std::ofstream(dir.Sub("three.sh")) << "trap 'kill $(jobs -p) 2>/dev/null' EXIT\n" << script; }
  const std::string bin_dir = std::filesystem::path(EWARN_BIN).parent_path().string();
  testing::CliRun r = testing::RunCli("cd " + std::string(EWARN_SOURCE_DIR) + " && env PATH=" + bin_dir +
                                      ":$PATH TMPDIR=" + dir.path() + " timeout 90 bash -e " + dir.Sub("three.sh"));
  EXPECT_EQ(r.code, 0) << r.out;
  int healthy = 0;
  for (size_t at = r.out.find("{\"status\":\"ok\""); at != std::string::npos; at = r.out.find("{\"status\":\"ok\"", at + 1)) {
    ++healthy;
  }
  EXPECT_EQ(healthy, 3) << r.out;
  EXPECT_NE(r.out.find("every ewarn topic is there"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ewarn
