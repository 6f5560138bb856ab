// Principals across a cluster (issue 14.2): tokens, SMS monitors and liaisons made with
// `--kafka` and no data directory hold on every `serve` node within 5 s, revocation included.
// Three serve processes on one `ewarn dev-kafka`, over the real Kafka protocol.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "cluster_harness.h"
#include "ewarn/base/time.h"

namespace ewarn {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kWithin = std::chrono::seconds(5);

// The last line of a command's output: where `token create` and `liaison add` print the token.
std::string LastLine(std::string out) {
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.substr(out.rfind('\n') + 1);
}

std::string HttpCode(const std::string& curl_args) {
  return testing::RunCli("curl -s -o /dev/null -w '%{http_code}' " + curl_args).out;
}

// POST /v1/incidents at `base` with `token`: the HTTP status.
std::string SubmitIncident(const std::string& base, const std::string& token, int n) {
  SystemClock clock;
  const std::string body = R"({"event_id":"cluster-)" + std::to_string(n) + R"(","occurred_at":")" +
                           FormatRfc3339(clock.NowMs() - 60'000) +
                           R"(","station_id":"S1","category":"violence","severity":3})";
  return HttpCode("-H 'Authorization: Bearer " + token + "' -H 'Content-Type: application/json' -d '" + body + "' " +
                  base + "/v1/incidents");
}

// Asks `answer` every 100 ms until it returns `want` or `limit` passes; true when it did.
template <typename F>
bool Eventually(F answer, const std::string& want, std::chrono::milliseconds limit, std::string* last) {
  const auto deadline = Clock::now() + limit;
  while (true) {
    *last = answer();
    if (*last == want) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

TEST(PrincipalsClusterTest, ATokenMadeAndRevokedThroughKafkaHoldsOnEveryNodeWithinFiveSeconds) {
  auto cluster = testing::Cluster::Start(3, {.partitions = 4});
  ASSERT_NE(cluster, nullptr);
  const std::string stations = cluster->dir().Sub("stations.csv");
  std::ofstream(stations) << "station_id,name,region,district,ward,lat,lon,registered_voters\n"
                             "S1,Ikeja Primary,LAGOS,IKEJA,ANIFOWOSHE,6.60,3.35,800\n";
  testing::CliRun imported = cluster->Ewarn("import-stations " + stations);
  ASSERT_EQ(imported.code, 0) << imported.out;

  testing::CliRun created = cluster->Ewarn("token create --role monitor --name amina --area LAGOS");
  ASSERT_EQ(created.code, 0) << created.out;
  const auto made = Clock::now();
  const std::string token = LastLine(created.out);
  ASSERT_TRUE(token.starts_with("ewt_")) << created.out;
  int n = 0;
  for (size_t i = 0; i < cluster->size(); ++i) {
    std::string last;
    // The station import and the token both reach every node through the topics.
    bool accepted = Eventually([&] { return SubmitIncident(cluster->node(i).base(), token, ++n); }, "202",
                               std::chrono::duration_cast<std::chrono::milliseconds>(made + kWithin - Clock::now()),
                               &last);
    EXPECT_TRUE(accepted) << "node " << i << " answered " << last << " to a token made 5 s ago";
  }

  testing::CliRun revoked = cluster->Ewarn("token revoke amina");
  ASSERT_EQ(revoked.code, 0) << revoked.out;
  const auto revoked_at = Clock::now();
  for (size_t i = 0; i < cluster->size(); ++i) {
    std::string last;
    bool refused = Eventually([&] { return SubmitIncident(cluster->node(i).base(), token, ++n); }, "401",
                              std::chrono::duration_cast<std::chrono::milliseconds>(revoked_at + kWithin - Clock::now()),
                              &last);
    EXPECT_TRUE(refused) << "node " << i << " still answers " << last << " to a token revoked 5 s ago";
  }
  testing::CliRun listed = cluster->Ewarn("token list");
  EXPECT_NE(listed.out.find("revoked"), std::string::npos) << listed.out;
}

TEST(PrincipalsClusterTest, AMonitorAndALiaisonAddedThroughKafkaAreKnownOnOtherNodes) {
  auto cluster = testing::Cluster::Start(2, {.partitions = 4});
  ASSERT_NE(cluster, nullptr);
  const std::string stations = cluster->dir().Sub("stations.csv");
  std::ofstream(stations) << "station_id,name,region,district,ward,lat,lon,registered_voters\n"
                             "S1,Ikeja Primary,LAGOS,IKEJA,ANIFOWOSHE,6.60,3.35,800\n";
  ASSERT_EQ(cluster->Ewarn("import-stations " + stations).code, 0);
  testing::CliRun gateway = cluster->Ewarn("token create --role gateway --name kannel");
  ASSERT_EQ(gateway.code, 0) << gateway.out;
  const std::string gateway_token = LastLine(gateway.out);

  // Without the cluster's pseudonym key the phone could not be found by any node: refused.
  testing::CliRun keyless = cluster->Ewarn("monitor add --phone +2348012345678 --name sms-amina --area LAGOS");
  EXPECT_EQ(keyless.code, 1) << keyless.out;
  EXPECT_NE(keyless.out.find("give --secret-file FILE"), std::string::npos) << keyless.out;

  testing::CliRun added = cluster->Ewarn("monitor add --phone +2348012345678 --name sms-amina --area LAGOS "
                                         "--secret-file " + cluster->secret_file());
  ASSERT_EQ(added.code, 0) << added.out;
  const auto made = Clock::now();
  int n = 0;
  auto sms = [&](size_t node) {
    return testing::RunCli("curl -s '" + cluster->node(node).base() +
                           "/v1/sms/kannel?from=%2B2348012345678&text=inc+s1+violence+4+mob+at+gate&id=k-" +
                           std::to_string(++n) + "&token=" + gateway_token + "'")
        .out;
  };
  for (size_t i = 0; i < cluster->size(); ++i) {
    std::string last;
    bool received = false;
    while (!received && Clock::now() < made + kWithin) {
      last = sms(i);
      received = last.find("ewarn: received, ref ") != std::string::npos;
      if (!received) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(received) << "node " << i << " replied '" << last << "' to the new monitor's SMS";
  }

  testing::CliRun liaison = cluster->Ewarn("liaison add --name ikeja-police --role police --area LAGOS/IKEJA");
  ASSERT_EQ(liaison.code, 0) << liaison.out;
  const std::string liaison_token = LastLine(liaison.out);
  const auto registered = Clock::now();
  for (size_t i = 0; i < cluster->size(); ++i) {
    std::string last;
    bool known = Eventually(
        [&] { return HttpCode("-H 'Authorization: Bearer " + liaison_token + "' " + cluster->node(i).base() + "/v1/alerts"); },
        "200", std::chrono::duration_cast<std::chrono::milliseconds>(registered + kWithin - Clock::now()), &last);
    EXPECT_TRUE(known) << "node " << i << " answered " << last << " to the new liaison's token";
  }
}

}  // namespace
}  // namespace ewarn
