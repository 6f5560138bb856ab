// Queries from any node (issue 14.6), as an operator runs it: `ewarn dev-kafka` (librdkafka's
// mock cluster, three brokers, over TCP) and three `ewarn serve --kafka` processes in one group,
// node 1 ingest-only. Monitors report violence through the ingest-only node; /v1/risk,
// /v1/risk/stations/{id} and /v1/alerts then answer the same bytes through every node, a
// liaison of another area sees nothing of it on any node, and an ack through node 2 shows
// "acknowledged" on nodes 0 and 1 within 2 seconds.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <thread>

#include "child_process.h"
#include "cli_run.h"
#include "ewarn_testing.h"

namespace ewarn {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

testing::CliRun Ewarn(const std::string& args) { return testing::RunCli(std::string(EWARN_BIN) + " " + args); }
testing::CliRun Curl(const std::string& args) { return testing::RunCli("curl -s -m 5 " + args); }

std::string LastLine(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') + 1);
}

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

bool Eventually(const std::function<bool()>& check, std::chrono::milliseconds limit) {
  for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
    if (check()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return check();
}

// The first line of `child` matching `pattern` (its first group), "" when none comes in time.
std::string WaitForLine(ChildProcess& child, const std::string& pattern, int max_lines = 20) {
  std::regex re(pattern);
  for (int i = 0; i < max_lines; ++i) {
    auto line = child.ReadLine(30s);
    if (!line) return "";
    std::smatch m;
    if (std::regex_search(*line, m, re)) return m[1].str();
  }
  return "";
}

struct NodeTokens {
  std::string duty, liaison, other_liaison;
  std::vector<std::string> monitors;
};

TEST(AnyNodeQueriesTest, RiskAndAlertsAgreeThroughEveryNodeAndAnAckThroughOneShowsOnAllWithinTwoSeconds) {
  testing::TempDir dir;
  ChildProcess kafka({EWARN_BIN, "dev-kafka", "--brokers", "3", "--partitions", "8"});
  ASSERT_TRUE(kafka.started());
  const std::string bootstrap = WaitForLine(kafka, "^bootstrap: (\\S+)");
  ASSERT_FALSE(bootstrap.empty()) << "dev-kafka printed no bootstrap line";
  ASSERT_EQ(WaitForLine(kafka, "^(ready)"), "ready");

  {
    std::ofstream csv(dir.Sub("stations.csv"));
    csv << "station_id,name,region,district,ward,lat,lon,registered_voters\n";
    for (int i = 1; i <= 30; ++i) {
      csv << "S" << i << ",Station " << i << ",LAGOS," << (i <= 20 ? "IKEJA" : "EPE") << ",W" << i % 3 << ","
          << 6.6 + 0.002 * i << ",3.35,1000\n";
    }
    std::ofstream(dir.Sub("secret")) << "5f0c2b8e9a7d4e61b3c2a1f0e9d8c7b65f0c2b8e9a7d4e61b3c2a1f0e9d8c7b6\n";
    std::ofstream(dir.Sub("webhook.key")) << "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b\n";
  }
  auto imported = Ewarn("import-stations --data " + dir.Sub("admin") + " --kafka " + bootstrap + " " + dir.Sub("stations.csv"));
  ASSERT_EQ(imported.code, 0) << imported.out;

  // Tokens live in each node's directory here; the liaison itself is in ref.liaisons once.
  std::vector<NodeTokens> tokens(3);
  for (size_t i = 0; i < 3; ++i) {
    const std::string data = dir.Sub("node" + std::to_string(i));
    // The cluster's keys in place before `token create` would make a key of the directory's own.
    std::filesystem::create_directories(data);
    for (const char* key : {"secret", "webhook.key"}) {
      std::filesystem::copy_file(dir.Sub(key), data + "/" + key);
      std::filesystem::permissions(data + "/" + key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    }
    auto token = [&](const std::string& flags) {
      auto r = Ewarn("token create --data " + data + " " + flags);
      EXPECT_EQ(r.code, 0) << r.out;
      return LastLine(r.out);
    };
    tokens[i].duty = token("--role duty --name duty-room");
    if (i == 0) {
      auto l = Ewarn("liaison add --data " + data + " --kafka " + bootstrap +
                     " --name ward-police --role police --area LAGOS/IKEJA/W1");
      ASSERT_EQ(l.code, 0) << l.out;
      tokens[i].liaison = LastLine(l.out);
    } else {
      tokens[i].liaison = token("--role liaison --name ward-police --area LAGOS/IKEJA/W1");
    }
    tokens[i].other_liaison = token("--role liaison --name epe-police --area LAGOS/EPE");
    for (int m = 0; m < 3; ++m) tokens[i].monitors.push_back(token("--role monitor --name mon" + std::to_string(m)));
  }

  std::vector<std::unique_ptr<ChildProcess>> nodes;
  std::vector<std::string> base;
  for (size_t i = 0; i < 3; ++i) {
    std::vector<std::string> argv = {EWARN_BIN, "serve", "--kafka", bootstrap, "--data", dir.Sub("node" + std::to_string(i)),
                                     "--http", "127.0.0.1:0", "--secret-file", dir.Sub("secret"),
                                     "--webhook-key-file", dir.Sub("webhook.key"), "--tick-ms", "200", "--no-deliver"};
    if (i == 1) argv.push_back("--ingest-only");
    nodes.push_back(std::make_unique<ChildProcess>(argv));
    ASSERT_TRUE(nodes.back()->started());
    base.push_back(WaitForLine(*nodes.back(), "(http://127\\.0\\.0\\.1:[0-9]+)"));
    ASSERT_FALSE(base.back().empty()) << "node " << i << " printed no http address";
  }
  auto get = [&](size_t node, const std::string& token, const std::string& path) {
    return Curl("-H 'Authorization: Bearer " + token + "' '" + base[node] + path + "'").out;
  };
  auto code = [&](size_t node, const std::string& token, const std::string& path, const std::string& body = "") {
    return Curl("-o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " + token + "' " +
                (body.empty() ? "" : "-d '" + body + "' ") + "'" + base[node] + path + "'")
        .out;
  };

  // Three monitors report at one station through the ingest-only node.
  for (size_t m = 0; m < 3; ++m) {
    std::string body = R"({"event_id":"inc-)" + std::to_string(m) + R"(","occurred_at":")" + UtcNow() +
                       R"(","station_id":"S4","category":"violence","severity":5,"description":"armed group at the gate )" +
                       std::to_string(m) + R"("})";
    auto r = Curl("-H 'Authorization: Bearer " + tokens[1].monitors[m] + "' -d '" + body + "' " + base[1] + "/v1/incidents");
    ASSERT_NE(r.out.find("\"accepted\""), std::string::npos) << r.out;
  }

  // Every node, the ingest-only one too, sees the station high and the alert raised.
  std::regex alert_re("\"alert_id\":\"(A[0-9a-f]+)\"");
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(Eventually([&] { return get(i, tokens[i].duty, "/v1/risk/stations/S4").find("\"level\":\"high\"") !=
                                        std::string::npos; }, 90s))
        << "node " << i << ": " << get(i, tokens[i].duty, "/v1/risk/stations/S4");
    EXPECT_TRUE(Eventually([&] { return std::regex_search(get(i, tokens[i].liaison, "/v1/alerts"), alert_re); }, 30s))
        << "node " << i << ": " << get(i, tokens[i].liaison, "/v1/alerts");
  }
  // ...and answers the same bytes (the read models fold the same records).
  for (const std::string path : {"/v1/risk?area=LAGOS", "/v1/risk/stations/S4", "/v1/risk?format=geojson", "/v1/alerts"}) {
    std::string first;
    EXPECT_TRUE(Eventually([&] {
      first = get(0, tokens[0].duty, path);
      return get(1, tokens[1].duty, path) == first && get(2, tokens[2].duty, path) == first;
    }, 10s)) << path << "\nnode 0: " << first << "\nnode 1: " << get(1, tokens[1].duty, path)
             << "\nnode 2: " << get(2, tokens[2].duty, path);
  }
  std::smatch m;
  std::string listed = get(2, tokens[2].liaison, "/v1/alerts");
  ASSERT_TRUE(std::regex_search(listed, m, alert_re)) << listed;
  const std::string alert_id = m[1].str();
  EXPECT_NE(get(0, tokens[0].duty, "/v1/risk/stations/S4").find("\"event_ids\":[\"inc-0\",\"inc-1\",\"inc-2\"]"),
            std::string::npos);

  // Authorization is the same on every node: another area's liaison sees and acts on nothing.
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NE(get(i, tokens[i].other_liaison, "/v1/alerts").find("\"count\":0"), std::string::npos) << "node " << i;
    EXPECT_EQ(code(i, tokens[i].other_liaison, "/v1/alerts/" + alert_id), "403") << "node " << i;
    EXPECT_EQ(code(i, tokens[i].other_liaison, "/v1/alerts/" + alert_id + "/ack", "{}"), "403") << "node " << i;
    EXPECT_EQ(code(i, tokens[i].other_liaison, "/v1/risk/stations/S4"), "403") << "node " << i;
  }

  // An ack through node 2 is on nodes 0 and 1 within 2 s.
  auto ack = Curl("-H 'Authorization: Bearer " + tokens[2].liaison + "' -d '{\"note\":\"patrol sent\"}' " + base[2] +
                  "/v1/alerts/" + alert_id + "/ack");
  ASSERT_NE(ack.out.find("accepted"), std::string::npos) << ack.out;
  auto acked_at = std::chrono::steady_clock::now();
  auto acked_on = [&](size_t i) {
    return get(i, tokens[i].liaison, "/v1/alerts/" + alert_id).find("\"state\":\"acknowledged\"") != std::string::npos;
  };
  EXPECT_TRUE(Eventually([&] { return acked_on(0) && acked_on(1); }, 2s))
      << "node 0: " << get(0, tokens[0].liaison, "/v1/alerts/" + alert_id)
      << "\nnode 1: " << get(1, tokens[1].liaison, "/v1/alerts/" + alert_id);
  std::fflush(stdout);
  std::printf("ack through node 2 visible on nodes 0 and 1 after %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - acked_at)
                                         .count()));
  EXPECT_TRUE(Eventually([&] { return acked_on(2); }, 2s));
  std::string one = get(0, tokens[0].liaison, "/v1/alerts/" + alert_id);
  EXPECT_NE(one.find("\"acked_by\":\"ward-police\""), std::string::npos) << one;
  EXPECT_NE(one.find("\"ack_note\":\"patrol sent\""), std::string::npos) << one;
  EXPECT_TRUE(Eventually([&] {
    return get(1, tokens[1].liaison, "/v1/alerts/" + alert_id) == one &&
           get(2, tokens[2].liaison, "/v1/alerts/" + alert_id) == one;
  }, 5s));
  // A second ack, through another node, is refused: every node knows it is acknowledged.
  EXPECT_EQ(code(0, tokens[0].liaison, "/v1/alerts/" + alert_id + "/ack", "{}"), "409");
  EXPECT_EQ(code(1, tokens[1].liaison, "/v1/alerts/" + alert_id + "/ack", "{}"), "409");

  for (auto& n : nodes) kill(n->pid(), SIGTERM);
  for (size_t i = 0; i < nodes.size(); ++i) EXPECT_EQ(nodes[i]->Wait(), 0) << "node " << i;
  kill(kafka.pid(), SIGTERM);
  EXPECT_EQ(kafka.Wait(), 0);
}

}  // namespace
}  // namespace ewarn
