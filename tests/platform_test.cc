// The platform as a user drives it: the real `ewarn` binary imports stations, registers a
// liaison and tokens, serves on 127.0.0.1; three monitors report violence at one station over
// HTTP; the duty room sees the station's risk rise (JSON and GeoJSON) and the liaison sees,
// acknowledges and audits the alert; a replay of the log rebuilds the same digest.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "child_process.h"
#include "cli_run.h"
#include "ewarn_testing.h"

namespace ewarn {
namespace {

using testing::LastLine;
using testing::Curl;
using testing::Eventually;
using testing::UtcNow;

using namespace std::chrono_literals;

testing::CliRun Ewarn(const std::string& args) { return testing::RunCli(std::string(EWARN_BIN) + " " + args); }

// The http://127.0.0.1:PORT serve prints among its first lines, or "".
std::string HttpBase(testing::ChildProcess& serve) {
  for (int i = 0; i < 10; ++i) {
    auto line = serve.ReadLine(10s);
    if (!line) return "";
    std::smatch m;
    if (std::regex_search(*line, m, std::regex("http://127\\.0\\.0\\.1:[0-9]+"))) return m[0].str();
  }
  return "";
}

TEST(PlatformTest, ReportsRaiseRiskAndAnAlertThatALiaisonAcknowledgesAndReplayAgrees) {
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
  auto liaison = Ewarn("liaison add --data " + data + " --name ward-police --role police --area LAGOS/IKEJA/W1");
  ASSERT_EQ(liaison.code, 0) << liaison.out;
  const std::string liaison_token = LastLine(liaison.out);
  auto other = Ewarn("liaison add --data " + data + " --name other-police --role police --area LAGOS/EPE");
  ASSERT_EQ(other.code, 0) << other.out;
  const std::string other_token = LastLine(other.out);
  const std::string duty = LastLine(Ewarn("token create --data " + data + " --role duty --name duty-room").out);
  std::vector<std::string> monitors;
  for (int i = 0; i < 3; ++i) {
    monitors.push_back(LastLine(Ewarn("token create --data " + data + " --role monitor --name mon" + std::to_string(i)).out));
  }

  testing::ChildProcess serve({EWARN_BIN, "serve", "--data", data, "--http", "127.0.0.1:0", "--tick-ms", "200",
                               "--duration", "120"});
  ASSERT_TRUE(serve.started());
  const std::string base = HttpBase(serve);
  ASSERT_FALSE(base.empty()) << "serve printed no http address";

  // Three monitors, one station, within minutes: a situation.
  for (int i = 0; i < 3; ++i) {
    std::string body = R"({"event_id":"inc-)" + std::to_string(i) + R"(","occurred_at":")" + UtcNow() +
                       R"(","station_id":"S4","category":"violence","severity":5,"description":"armed group at the gate )" +
                       std::to_string(i) + R"("})";
    auto r = Curl("-H 'Authorization: Bearer " + monitors[static_cast<size_t>(i)] + "' -d '" + body + "' " + base + "/v1/incidents");
    ASSERT_NE(r.out.find("\"accepted\""), std::string::npos) << r.out;
  }
  const std::string as_duty = "-H 'Authorization: Bearer " + duty + "' ";
  EXPECT_TRUE(Eventually([&] {
    return Curl(as_duty + base + "/v1/risk/stations/S4").out.find("\"level\":\"high\"") != std::string::npos;
  })) << Curl(as_duty + base + "/v1/risk/stations/S4").out;
  auto station = Curl(as_duty + base + "/v1/risk/stations/S4").out;
  EXPECT_NE(station.find("independent reporters"), std::string::npos) << station;
  EXPECT_NE(station.find("\"event_ids\":[\"inc-0\",\"inc-1\",\"inc-2\"]"), std::string::npos) << station;
  auto geo = Curl(as_duty + "'" + base + "/v1/risk?format=geojson'").out;
  EXPECT_NE(geo.find("\"FeatureCollection\""), std::string::npos) << geo;
  EXPECT_NE(geo.find("\"S4\""), std::string::npos) << geo;
  auto areas = Curl(as_duty + "'" + base + "/v1/risk?area=LAGOS'").out;
  EXPECT_NE(areas.find("\"id\":\"LAGOS\""), std::string::npos) << areas;  // the region, aggregated on read
  EXPECT_EQ(Curl("-o /dev/null -w '%{http_code}' " + base + "/v1/risk").out, "401");
  EXPECT_EQ(Curl("-o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " + monitors[0] + "' " + base + "/v1/risk").out, "403");
  EXPECT_NE(Curl("-L " + base + "/map").out.find("ewarn duty room"), std::string::npos);  // moved to /

  // The liaison of that ward sees the alert; another area's liaison does not.
  const std::string as_liaison = "-H 'Authorization: Bearer " + liaison_token + "' ";
  std::string alert_id;
  EXPECT_TRUE(Eventually([&] {
    std::smatch m;
    std::string out = Curl(as_liaison + base + "/v1/alerts").out;
    if (!std::regex_search(out, m, std::regex("\"alert_id\":\"(A[0-9a-f]+)\""))) return false;
    alert_id = m[1].str();
    return true;
  }));
  ASSERT_FALSE(alert_id.empty());
  EXPECT_NE(Curl("-H 'Authorization: Bearer " + other_token + "' " + base + "/v1/alerts").out.find("\"count\":0"),
            std::string::npos);
  auto ack = Curl(as_liaison + "-d '{\"note\":\"patrol sent\"}' " + base + "/v1/alerts/" + alert_id + "/ack");
  EXPECT_NE(ack.out.find("accepted"), std::string::npos) << ack.out;
  EXPECT_TRUE(Eventually([&] {
    return Curl(as_liaison + base + "/v1/alerts/" + alert_id).out.find("\"state\":\"acknowledged\"") != std::string::npos;
  }));

  // A silence: the duty room may mute deliveries anywhere; a liaison only in its own area.
  auto silence = Curl(as_duty + "-d '{\"area\":\"LAGOS/IKEJA\",\"category\":\"kit\",\"until\":\"2030-01-01T00:00:00Z\","
                      "\"note\":\"kits being replaced\"}' " + base + "/v1/silences");
  EXPECT_NE(silence.out.find("\"silence_id\""), std::string::npos) << silence.out;
  EXPECT_EQ(Curl("-o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " + other_token +
                 "' -d '{\"area\":\"LAGOS/IKEJA\",\"until\":\"2030-01-01T00:00:00Z\"}' " + base + "/v1/silences")
                .out,
            "403");
  EXPECT_EQ(Curl("-o /dev/null -w '%{http_code}' " + as_duty + "-d '{\"area\":\"LAGOS\"}' " + base + "/v1/silences").out,
            "400");
  // The alert as CAP 1.2 for public alerting systems.
  auto cap = Curl(as_liaison + base + "/v1/alerts/" + alert_id + ".cap").out;
  EXPECT_NE(cap.find("urn:oasis:names:tc:emergency:cap:1.2"), std::string::npos) << cap;

  kill(serve.pid(), SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
  auto history = Ewarn("alerts history --data " + data + " " + alert_id);
  EXPECT_EQ(history.code, 0) << history.out;
  EXPECT_NE(history.out.find("actor=ward-police"), std::string::npos) << history.out;
  EXPECT_NE(history.out.find("patrol sent"), std::string::npos) << history.out;

  auto original = Ewarn("digest --data " + data);
  ASSERT_EQ(original.code, 0) << original.out;
  auto replay = Ewarn("replay --data " + data + " --into " + dir.Sub("rebuilt"));
  ASSERT_EQ(replay.code, 0) << replay.out;
  EXPECT_EQ(Ewarn("digest --data " + dir.Sub("rebuilt")).out, original.out);
}

// serve is killed (-9) right after acknowledging reports; after a restart, retries of those
// reports are recognised (answered as duplicates) and the log holds each report once. The
// idempotency index skips RocksDB's write-ahead log, so this pins its rebuild from the log.
TEST(PlatformTest, RetriesAfterAKillNineAreRecognisedAndStoredOnce) {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  {
    std::ofstream csv(dir.Sub("stations.csv"));
    csv << "station_id,name,region,district,ward,lat,lon,registered_voters\n";
    for (int i = 1; i <= 5; ++i) csv << "S" << i << ",Station " << i << ",LAGOS,IKEJA,W1,6.6,3.35,1000\n";
  }
  ASSERT_EQ(Ewarn("import-stations --data " + data + " " + dir.Sub("stations.csv")).code, 0);
  const std::string monitor = LastLine(Ewarn("token create --data " + data + " --role monitor --name mon").out);
  // The retry re-sends the same reports, occurred_at included.
  std::vector<std::string> bodies;
  for (int i = 0; i < 20; ++i) {
    bodies.push_back(R"({"event_id":"r-)" + std::to_string(i) + R"(","occurred_at":")" + UtcNow() +
                     R"(","station_id":"S2","category":"access","severity":2,"description":"queue )" +
                     std::to_string(i) + R"("})");
  }
  auto serve_and_post = [&](const std::string& expect) {
    testing::ChildProcess serve({EWARN_BIN, "serve", "--data", data, "--http", "127.0.0.1:0", "--ingest-only"});
    ASSERT_TRUE(serve.started());
    const std::string base = HttpBase(serve);
    ASSERT_FALSE(base.empty()) << "serve printed no http address";
    for (const std::string& body : bodies) {
      auto r = Curl("-H 'Authorization: Bearer " + monitor + "' -d '" + body + "' " + base + "/v1/incidents");
      EXPECT_NE(r.out.find(expect), std::string::npos) << r.out;
    }
    kill(serve.pid(), SIGKILL);
    serve.Wait();
  };
  serve_and_post("\"duplicates\":0");
  serve_and_post("\"duplicates\":1");
  auto dump = Ewarn("log dump --data " + data + " --topic in.events");
  ASSERT_EQ(dump.code, 0) << dump.out;
  for (int i = 0; i < 20; ++i) {
    std::string id = "\"r-" + std::to_string(i) + "\"";
    size_t first = dump.out.find(id);
    EXPECT_NE(first, std::string::npos) << id;
    EXPECT_EQ(dump.out.find(id, first + 1), std::string::npos) << id << " stored twice";
  }
}

}  // namespace
}  // namespace ewarn
