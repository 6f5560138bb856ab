// Results on read (issue 16.6, 16.9), through the real binary and curl: result sheets posted to
// `serve` are tabulated per area by GET /v1/results (official over observer, a liaison inside
// its area only, CSV per station) and estimated by GET /v1/results/pvt from the stored PVT
// sample, beside the official tally. Once on the embedded log, once with two stage nodes and an
// ingest-only node on `ewarn dev-kafka`, where every node must answer the same bytes.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "cluster_harness.h"

namespace ewarn {
namespace {

namespace json = boost::json;
using testing::Curl;
using testing::Eventually;
using testing::LastLine;
using testing::UtcNow;
using namespace std::chrono_literals;

constexpr int kStations = 24;  // S1-S10 LAGOS/IKEJA (W1: S1-S6), S11-S20 KANO, S21-S24 OYO
constexpr int kReporting = 22;  // S19 and S20 (KANO) never send a sheet
bool Reports(int i) { return i != 19 && i != 20; }

std::string WardOf(int i) {
  if (i <= 6) return "LAGOS,IKEJA,W1";
  if (i <= 10) return "LAGOS,IKEJA,W2";
  if (i <= 20) return "KANO,NASSARAWA,G1";
  return "OYO,IBADAN,B1";
}
int64_t VotesA(int i) { return 300 + 10 * i; }
int64_t VotesB(int i) { return 200 + 5 * (i % 7); }

void WriteInputs(const testing::TempDir& dir) {
  std::ofstream csv(dir.Sub("stations.csv"));
  csv << "station_id,name,region,district,ward,lat,lon,registered_voters\n";
  for (int i = 1; i <= kStations; ++i) csv << "S" << i << ",Station " << i << "," << WardOf(i) << ",6.5,3.3,1000\n";
  std::ofstream(dir.Sub("contests.csv")) << "contest,candidate,name,party\nPRES-2027,A,Candidate A,Party A\n"
                                            "PRES-2027,B,Candidate B,Party B\nSEN-2027,A,Candidate A,Party A\n";
}

std::string Sheet(int i, const std::string& role, int64_t a, int64_t b, const std::string& id) {
  std::string registered = i % 2 == 0 ? R"("registered":1000,)" : "";  // else the reference's 1000
  return R"({"event_id":")" + id + R"(","occurred_at":")" + UtcNow() + R"(","station_id":"S)" + std::to_string(i) +
         R"(","contest":"PRES-2027","votes":{"A":)" + std::to_string(a) + R"(,"B":)" + std::to_string(b) + "}," +
         registered + R"("rejected":)" + std::to_string(i % 3) + R"(,"submitter_role":")" + role + R"("})";
}

struct Tokens {
  std::string duty, monitor, liaison;
};

// Posts the sheets through `base`: official ones for every station that Reports(), and after S5's an observer's copy
// that disagrees (it must not count: official over observer). S6 comes after it in the same
// partition, so once every sheet is counted the observer's has been applied.
void PostSheets(const std::string& base, const Tokens& t) {
  auto post = [&](const std::string& body) {
    auto r = Curl("-H 'Authorization: Bearer " + t.monitor + "' -d '" + body + "' " + base + "/v1/results");
    ASSERT_NE(r.out.find("\"accepted\""), std::string::npos) << body << ": " << r.out;
  };
  for (int i = 1; i <= kStations; ++i) {
    if (!Reports(i)) continue;
    post(Sheet(i, "presiding_officer", VotesA(i), VotesB(i), "ec8a-" + std::to_string(i)));
    if (i == 5) post(Sheet(5, "observer", 1, 999, "obs-5"));
  }
}

const json::object& TallyOf(const json::value& answer, const std::string& area) {
  for (const auto& t : answer.at("tallies").as_array()) {
    if (t.at("area").as_string() == area) return t.as_object();
  }
  static const json::object none;
  ADD_FAILURE() << "no tally for '" << area << "' in " << json::serialize(answer);
  return none;
}

// What every node must answer once the sheets are in; `get(token, path)` is one node's answer.
void CheckAnswers(const std::function<std::string(const std::string&, const std::string&)>& get,
                  const std::function<std::string(const std::string&, const std::string&)>& code, const Tokens& t) {
  int64_t a = 0, b = 0, rejected = 0, w1_a = 0;
  for (int i = 1; i <= kStations; ++i) {
    if (Reports(i)) a += VotesA(i), b += VotesB(i), rejected += i % 3, w1_a += i <= 6 ? VotesA(i) : 0;
  }
  json::value all = json::parse(get(t.duty, "/v1/results?contest=pres-2027"));
  EXPECT_EQ(all.at("contest").as_string(), "PRES-2027");
  ASSERT_EQ(all.at("tallies").as_array().size(), 4u) << all;  // the country and its three regions (depth 1)
  const json::object& country = TallyOf(all, "");
  EXPECT_EQ(country.at("level").as_string(), "all");
  EXPECT_EQ(country.at("stations_expected").as_int64(), kStations);
  EXPECT_EQ(country.at("stations_reporting").as_int64(), kReporting);
  EXPECT_EQ(country.at("votes").at("A").as_int64(), a);
  EXPECT_EQ(country.at("votes").at("B").as_int64(), b);
  EXPECT_EQ(country.at("rejected").as_int64(), rejected);
  EXPECT_EQ(country.at("registered").as_int64(), 1000 * kReporting);
  EXPECT_NEAR(country.at("shares").at("A").to_number<double>(), double(a) / double(a + b), 1e-6);
  EXPECT_NEAR(country.at("turnout").to_number<double>(), double(a + b + rejected) / (1000.0 * kReporting), 1e-6);
  const json::object& kano = TallyOf(all, "KANO");
  EXPECT_EQ(kano.at("stations_expected").as_int64(), 10);
  EXPECT_EQ(kano.at("stations_reporting").as_int64(), 8);
  EXPECT_NEAR(kano.at("reporting_share").to_number<double>(), 0.8, 1e-9);

  json::value lagos = json::parse(get(t.duty, "/v1/results?contest=PRES-2027&area=lagos&depth=2"));
  ASSERT_EQ(lagos.at("tallies").as_array().size(), 4u) << lagos;  // LAGOS, its district, its two wards
  EXPECT_EQ(TallyOf(lagos, "LAGOS/IKEJA/W1").at("votes").at("A").as_int64(), w1_a);  // S5's observer copy lost
  EXPECT_EQ(TallyOf(lagos, "LAGOS/IKEJA/W2").at("level").as_string(), "ward");

  // A liaison reads its ward and nothing else.
  json::value own = json::parse(get(t.liaison, "/v1/results?contest=PRES-2027"));
  EXPECT_EQ(own.at("area").as_string(), "LAGOS/IKEJA/W1");
  EXPECT_EQ(TallyOf(own, "LAGOS/IKEJA/W1").at("stations_reporting").as_int64(), 6);
  EXPECT_EQ(code(t.liaison, "/v1/results?contest=PRES-2027&area=KANO"), "403");
  EXPECT_EQ(code(t.liaison, "/v1/results/pvt?contest=PRES-2027"), "403");  // the national estimate
  EXPECT_EQ(code(t.monitor, "/v1/results?contest=PRES-2027"), "403");
  EXPECT_EQ(code(t.duty, "/v1/results"), "400");
  std::string unknown = get(t.duty, "/v1/results?contest=GOV-2027");
  EXPECT_NE(unknown.find("unknown contest 'GOV-2027'"), std::string::npos) << unknown;
  EXPECT_EQ(code(t.duty, "/v1/results?contest=PRES-2027&depth=9"), "400");

  // CSV: a header, the HXL row, one row per counted sheet.
  std::string csv = get(t.duty, "/v1/results?contest=PRES-2027&format=csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2 + kReporting) << csv;
  EXPECT_NE(csv.find("PRES-2027,S5,LAGOS,IKEJA,W1,,presiding_officer,"), std::string::npos) << csv;

  // The PVT from the stored sample (12 of 24, two per region at least), beside the official tally.
  json::value pvt = json::parse(get(t.duty, "/v1/results/pvt?contest=PRES-2027&official=true"));
  const json::object& overall = pvt.at("overall").as_object();
  EXPECT_EQ(pvt.at("sample").at("size").as_int64(), 12);
  EXPECT_EQ(overall.at("population").as_int64(), kStations);
  const int64_t reporting = overall.at("stations_reporting").as_int64();
  EXPECT_GE(reporting, 10);  // S19 and S20 may be in the sample (KANO's 5 of 10)
  EXPECT_LE(reporting, 12);
  double est = overall.at("shares").at("A").at("estimate").to_number<double>();
  double moe99 = overall.at("shares").at("A").at("moe99").to_number<double>();
  double official = pvt.at("official").at("shares").at("A").to_number<double>();
  EXPECT_GT(moe99, 0);
  EXPECT_LE(std::abs(est - official), moe99) << pvt;
  EXPECT_TRUE(pvt.at("official").at("outside_moe95").as_array().empty()) << pvt;
  EXPECT_EQ(pvt.at("official").at("stations_reporting").as_int64(), kReporting);
  EXPECT_EQ(pvt.at("regions").as_object().size(), 3u);
  const auto& convergence = pvt.at("convergence").as_array();
  ASSERT_FALSE(convergence.empty());
  EXPECT_EQ(convergence.back().at("stations_reporting").as_int64(), reporting);
  std::string pvt_csv = get(t.duty, "/v1/results/pvt?contest=PRES-2027&format=csv");
  EXPECT_NE(pvt_csv.find("PRES-2027,all,,share:A,"), std::string::npos) << pvt_csv;
  EXPECT_NE(pvt_csv.find("PRES-2027,region,KANO,turnout,"), std::string::npos) << pvt_csv;
  std::string no_sample = get(t.duty, "/v1/results/pvt?contest=SEN-2027");
  EXPECT_NE(no_sample.find("no PVT sample for contest 'SEN-2027'"), std::string::npos) << no_sample;
}

TEST(ResultsRoutesTest, SheetsAreTabulatedAndEstimatedOnTheEmbeddedLog) {
  testing::TempDir dir;
  WriteInputs(dir);
  const std::string data = " --data " + dir.Sub("data");
  auto ewarn = [&](const std::string& args) {
    auto r = testing::RunCli(std::string(EWARN_BIN) + " " + args + data);
    EXPECT_EQ(r.code, 0) << args << ": " << r.out;
    return LastLine(r.out);
  };
  ewarn("import-stations " + dir.Sub("stations.csv"));
  ewarn("import-contests " + dir.Sub("contests.csv"));
  ewarn("pvt-sample --contest PRES-2027 --size 12 --seed 7");
  Tokens t{ewarn("token create --role duty --name duty-room"), ewarn("token create --role monitor --name mon"),
           ewarn("liaison add --name ward-police --role police --area LAGOS/IKEJA/W1")};
  testing::ServeProcess serve({EWARN_BIN, "serve", "--data", dir.Sub("data"), "--http", "127.0.0.1:0", "--tick-ms",
                               "200", "--no-deliver"},
                              dir.Sub("data"));
  ASSERT_TRUE(serve.ready());
  auto get = [&](const std::string& token, const std::string& path) {
    return Curl("-H 'Authorization: Bearer " + token + "' '" + serve.base() + path + "'").out;
  };
  auto code = [&](const std::string& token, const std::string& path) {
    return Curl("-o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " + token + "' '" + serve.base() + path + "'").out;
  };
  PostSheets(serve.base(), t);
  const std::string reporting = "\"stations_reporting\":" + std::to_string(kReporting);
  ASSERT_TRUE(Eventually([&] { return get(t.duty, "/v1/results?contest=PRES-2027").find(reporting) != std::string::npos; },
                         30s))
      << get(t.duty, "/v1/results?contest=PRES-2027");
  CheckAnswers(get, code, t);
}

TEST(ResultsRoutesTest, EveryNodeOfAClusterAnswersTheSameResults) {
  // Nodes 0 and 1 run the stages; node 2 is ingest-only and answers from the log alone.
  auto cluster = testing::Cluster::Start(2, {.serve_args = {"--tick-ms", "200", "--no-deliver"}});
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->AddNode({"--ingest-only"}).ready());
  WriteInputs(cluster->dir());
  auto ewarn = [&](const std::string& args) {
    auto r = cluster->Ewarn(args);
    EXPECT_EQ(r.code, 0) << args << ": " << r.out;
    return LastLine(r.out);
  };
  ewarn("import-stations " + cluster->dir().Sub("stations.csv"));
  ewarn("import-contests " + cluster->dir().Sub("contests.csv"));
  ewarn("pvt-sample --contest PRES-2027 --size 12 --seed 7");
  Tokens t{ewarn("token create --role duty --name duty-room"), ewarn("token create --role monitor --name mon"),
           ewarn("liaison add --name ward-police --role police --area LAGOS/IKEJA/W1")};
  auto get_on = [&](size_t node, const std::string& token, const std::string& path) {
    return Curl("-H 'Authorization: Bearer " + token + "' '" + cluster->node(node).base() + path + "'").out;
  };
  const std::string reporting = "\"stations_reporting\":" + std::to_string(kReporting);
  // Principals, stations and contests reach every node within seconds.
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(Eventually([&] { return get_on(i, t.duty, "/v1/results?contest=PRES-2027").find("\"tallies\"") !=
                                        std::string::npos; }, 15s))
        << "node " << i << ": " << get_on(i, t.duty, "/v1/results?contest=PRES-2027");
  }
  PostSheets(cluster->node(2).base(), t);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(Eventually([&] { return get_on(i, t.duty, "/v1/results?contest=PRES-2027").find(reporting) !=
                                        std::string::npos; }, 30s))
        << "node " << i << ": " << get_on(i, t.duty, "/v1/results?contest=PRES-2027");
  }
  for (const std::string path : {"/v1/results?contest=PRES-2027&depth=3", "/v1/results?contest=PRES-2027&format=csv",
                                 "/v1/results/pvt?contest=PRES-2027&official=true"}) {
    const std::string first = get_on(0, t.duty, path);
    EXPECT_EQ(get_on(1, t.duty, path), first) << path;
    EXPECT_EQ(get_on(2, t.duty, path), first) << path;
  }
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE("node " + std::to_string(i));
    auto get = [&](const std::string& token, const std::string& path) { return get_on(i, token, path); };
    auto code = [&](const std::string& token, const std::string& path) {
      return Curl("-o /dev/null -w '%{http_code}' -H 'Authorization: Bearer " + token + "' '" + cluster->node(i).base() +
                  path + "'")
          .out;
    };
    CheckAnswers(get, code, t);
  }
}

}  // namespace
}  // namespace ewarn
