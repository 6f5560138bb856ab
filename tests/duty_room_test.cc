// The duty room's server side without a browser (the browser journeys are
// web/tests/duty_room_test.mjs): sealed session cookies, area boundaries from GeoJSON (Kenya's
// real counties and constituencies among them), the triage API's refusals, and the exports of
// alerts and risk (CSV with an HXL row, GeoJSON).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "alert_routes.h"
#include "area_import.h"
#include "ewarn/alerts/lifecycle.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/ingest/stations.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/readside/read_model.h"
#include "ewarn/store/event_log.h"
#include "ewarn_testing.h"
#include "review_routes.h"
#include "risk_routes.h"
#include "session.h"

namespace ewarn::app {
namespace {

namespace json = boost::json;

// --- sessions ---

TEST(SessionTest, ASealedTokenOpensUntilItsExpiryAndOnlyWithItsKey) {
  SessionCodec codec("node secret"), other("another node's secret");
  std::string cookie = codec.Seal("ewt_abc_123", 2'000);
  EXPECT_EQ(cookie.find("ewt_abc_123"), std::string::npos) << "the token must not be readable in the cookie";
  auto opened = codec.Open(cookie, 1'999);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, "ewt_abc_123");
  EXPECT_EQ(codec.Open(cookie, 2'000).status().code(), StatusCode::kPermissionDenied);  // expired
  EXPECT_EQ(other.Open(cookie, 1'000).status().code(), StatusCode::kPermissionDenied);  // another key
  std::string tampered = cookie;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(codec.Open(tampered, 1'000).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(codec.Open("not a cookie!", 1'000).status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(codec.Seal("ewt_abc_123", 2'000), cookie) << "each seal has its own nonce";
}

TEST(SessionTest, TheCookieBecomesTheAuthorizationHeaderAndAForeignOriginIsRefused) {
  SessionCodec codec("node secret");
  ManualClock clock(1'000);
  std::string seen;
  ingest::HttpHandler handler = WithSession(codec, clock, [&](const ingest::HttpRequest& r) {
    seen = r.Header("authorization");
    return ingest::HttpResponse{};
  });
  ingest::HttpRequest req;
  req.method = "GET";
  req.headers = {{"cookie", "a=b; " + std::string(kSessionCookie) + "=" + codec.Seal("ewt_x_y", 5'000) + "; c=d"},
                 {"host", "duty.example:8080"}};
  handler(req);
  EXPECT_EQ(seen, "Bearer ewt_x_y");

  clock.Set(6'000);  // expired: passed on without a token, so the route answers 401
  handler(req);
  EXPECT_EQ(seen, "");

  clock.Set(1'000);
  req.method = "POST";
  req.headers.emplace_back("origin", "https://evil.example");
  EXPECT_EQ(handler(req).status, 403);
  req.headers.back().second = "http://duty.example:8080";
  EXPECT_EQ(handler(req).status, 200);
  EXPECT_EQ(seen, "Bearer ewt_x_y");
}

// --- area boundaries ---

std::string Square(double x0, double y0, double x1, double y1) {
  std::ostringstream s;
  s << "[[[" << x0 << "," << y0 << "],[" << x1 << "," << y0 << "],[" << x1 << "," << y1 << "],[" << x0 << "," << y1
    << "],[" << x0 << "," << y0 << "]]]";
  return s.str();
}

std::string Feature(const std::string& props, const std::string& geometry) {
  return R"({"type":"Feature","properties":)" + props + R"(,"geometry":)" + geometry + "}";
}

class AreasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = std::move(store::OpenEmbeddedLog({.dir = dir_.Sub("log")})).value();
    state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("ingest"), .stores = ingest::Ingestor::StoreNames()})).value();
    directory_ = std::move(ingest::StationDirectory::Make(*state_)).value();
  }
  void Stations(const std::string& csv_body) {
    std::ofstream csv(dir_.Sub("stations.csv"));
    csv << "station_id,name,region,district,ward,lat,lon,registered_voters\n" << csv_body;
    csv.close();
    auto summary = ingest::ImportStations(*log_, *directory_, dir_.Sub("stations.csv"), ingest::StationFormat::kGeneric, 1);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  }

  testing::TempDir dir_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
  std::unique_ptr<ingest::StationDirectory> directory_;
};

TEST_F(AreasTest, PolygonsOfKnownAreasAreImportedAndSeveralFeaturesOfOneAreaMerge) {
  Stations("S1,One,LAGOS,IKEJA,W1,6.6,3.35,1\nS2,Two,LAGOS,EPE,E1,6.6,3.95,1\n");
  std::string geo = R"({"type":"FeatureCollection","features":[)" +
                    Feature(R"({"area":"Lagos"})", R"({"type":"Polygon","coordinates":)" + Square(3, 6, 4, 7) + "}") + "," +
                    Feature(R"({"area":"LAGOS/ikeja"})", R"({"type":"Polygon","coordinates":)" + Square(3.3, 6.5, 3.4, 6.7) + "}") + "," +
                    Feature(R"({"area":"LAGOS/IKEJA"})",
                            R"({"type":"MultiPolygon","coordinates":[)" + Square(3.4, 6.5, 3.5, 6.7) + "]}") + "]}";
  auto known = KnownAreas(*log_);
  ASSERT_TRUE(known.ok());
  auto parsed = ParseAreas(geo, *known, {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_TRUE(parsed->problems.empty()) << parsed->problems.front();
  ASSERT_EQ(parsed->boundaries.size(), 2u);
  ASSERT_TRUE(WriteAreas(*log_, parsed->boundaries, 1).ok());
  auto stored = ReadAreas(*log_);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_EQ((*stored)[0].area_id(), "LAGOS");
  EXPECT_EQ((*stored)[0].level(), v1::AREA_LEVEL_REGION);
  EXPECT_EQ((*stored)[1].area_id(), "LAGOS/IKEJA");
  EXPECT_EQ((*stored)[1].polygons_size(), 2);  // two features, one MultiPolygon
}

TEST_F(AreasTest, InvalidGeometryUnknownAreasAndAWrongPropertyAreRefusedByFeatureNumberWithNothingWritten) {
  Stations("S1,One,LAGOS,IKEJA,W1,6.6,3.35,1\n");
  const std::string good = Feature(R"({"area":"LAGOS"})", R"({"type":"Polygon","coordinates":)" + Square(3, 6, 4, 7) + "}");
  std::string geo = R"({"type":"FeatureCollection","features":[)" + good + "," +
                    Feature(R"({"area":"LAGOS/NOWHERE"})", R"({"type":"Polygon","coordinates":)" + Square(3, 6, 4, 7) + "}") + "," +
                    Feature(R"({"area":"LAGOS"})", R"({"type":"Polygon","coordinates":[[[3,6],[4,6],[4,7],[3,7]]]})") + "," +
                    Feature(R"({"area":"LAGOS"})", R"({"type":"Polygon","coordinates":[[[3,6],[4,6],[400,7],[3,6]]]})") + "," +
                    Feature(R"({"area":"LAGOS"})", R"({"type":"Point","coordinates":[3,6]})") + "," +
                    Feature(R"({"NAME":"LAGOS"})", R"({"type":"Polygon","coordinates":)" + Square(3, 6, 4, 7) + "}") + "]}";
  auto known = KnownAreas(*log_);
  ASSERT_TRUE(known.ok());
  auto parsed = ParseAreas(geo, *known, {});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->problem_count, 5);
  EXPECT_NE(parsed->problems[0].find("feature 2: unknown area 'LAGOS/NOWHERE'"), std::string::npos) << parsed->problems[0];
  EXPECT_NE(parsed->problems[1].find("feature 3: area LAGOS: invalid geometry: a ring is not closed"), std::string::npos)
      << parsed->problems[1];
  EXPECT_NE(parsed->problems[2].find("feature 4: area LAGOS: invalid geometry: position [400"), std::string::npos)
      << parsed->problems[2];
  EXPECT_NE(parsed->problems[3].find("feature 5: area LAGOS: invalid geometry: geometry type Point"), std::string::npos)
      << parsed->problems[3];
  EXPECT_NE(parsed->problems[4].find("feature 6: no string property 'area' (it has NAME)"), std::string::npos)
      << parsed->problems[4];
  EXPECT_TRUE(parsed->boundaries.empty()) << "nothing is half-imported";
  auto wrong = ParseAreas(R"({"type":"Feature"})", *known, {});
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
}

// Kenya's 47 counties and 295 constituencies (IEBC 2013, ../shared/data/kenya) with its 24,583
// polling places. The boundary files spell a few names unlike the polling-place list; the
// aliases below are that data's own inconsistencies, fixed here as an importer's user would.
TEST_F(AreasTest, KenyasCountiesAndConstituenciesImportWithItsPollingPlaces) {
  const char* shared = std::getenv("EWARN_SHARED_DATA");
  const std::string kenya = std::string(shared ? shared : "") + "/kenya";
  if (!std::filesystem::exists(kenya + "/ke2013_iebc_constituencies.geojson")) {
    GTEST_SKIP() << "Kenya's reference data is absent (" << kenya << "); see ../shared/data/README.md";
  }
  {  // The polling places as the generic station CSV (they have no ids: numbered in file order).
    std::ifstream in(kenya + "/ke2013_iebc_polling_stations.csv");
    std::ofstream out(dir_.Sub("kenya.csv"));
    out << "station_id,name,region,district,ward,lat,lon,registered_voters\n";
    std::string line;
    std::getline(in, line);
    int n = 0;
    auto quoted = [](std::string s) {
      for (char& c : s) c = c == ',' ? ' ' : c == '/' ? '-' : c;  // '/' separates an area path
      return s;
    };
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::string cell;
      bool q = false;
      for (char c : line) {
        if (c == '"') q = !q;
        else if (c == ',' && !q) f.push_back(cell), cell.clear();
        else cell.push_back(c);
      }
      f.push_back(cell);
      if (f.size() < 6) continue;
      out << "KE" << ++n << "," << quoted(f[3]) << "," << quoted(f[0]) << "," << quoted(f[1]) << "," << quoted(f[2])
          << "," << f[4] << "," << f[5] << ",0\n";
    }
  }
  auto summary = ingest::ImportStations(*log_, *directory_, dir_.Sub("kenya.csv"), ingest::StationFormat::kGeneric, 1);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->imported, 24583);

  // The polling places' ELGEYO/MARAKWET is ELGEYO-MARAKWET above: '/' separates an area path.
  const std::map<std::string, std::string> county_alias = {{"ELEGEYO-MARAKWET", "ELGEYO-MARAKWET"}};
  const std::map<std::string, std::string> constituency_alias = {
      {"BARINGO NORTH", "BARINGO  NORTH"}, {"WEBUTE WEST", "WEBUYE WEST"}, {"LUNGA LUNGA", "LUNGALUNGA"}};
  // The source's one feature without a name (the diaspora) is no area of the polling places.
  auto prepare = [&](const std::string& file, bool constituencies) {
    std::ifstream in(kenya + "/" + file);
    std::stringstream text;
    text << in.rdbuf();
    json::value doc = json::parse(text.str());
    json::array kept;
    for (auto& f : doc.as_object()["features"].as_array()) {
      json::object& props = f.as_object()["properties"].as_object();
      if (!props["COUNTY_NAM"].is_string()) continue;
      std::string county(props["COUNTY_NAM"].as_string());
      if (county_alias.contains(county)) county = county_alias.at(county);
      props["COUNTY_NAM"] = county;
      if (constituencies) {
        std::string c(props["CONSTITUEN"].as_string());
        if (constituency_alias.contains(c)) c = constituency_alias.at(c);
        // MARAKWET WEST lies in ELGEYO/MARAKWET, not WEST POKOT, in the polling-place list.
        if (c == "MARAKWET WEST") props["COUNTY_NAM"] = "ELGEYO/MARAKWET";
        props["CONSTITUEN"] = c;
      }
      kept.push_back(f);
    }
    doc.as_object()["features"] = kept;
    return json::serialize(doc);
  };
  auto known = KnownAreas(*log_);
  ASSERT_TRUE(known.ok());

  auto counties = ParseAreas(prepare("ke2013_iebc_counties.geojson", false), *known, {.properties = {"COUNTY_NAM"}});
  ASSERT_TRUE(counties.ok()) << counties.status().ToString();
  ASSERT_EQ(counties->problem_count, 0) << counties->problems.front();
  EXPECT_EQ(counties->boundaries.size(), 47u);
  ASSERT_TRUE(WriteAreas(*log_, counties->boundaries, 1).ok());

  auto constituencies = ParseAreas(prepare("ke2013_iebc_constituencies.geojson", true), *known,
                                   {.properties = {"COUNTY_NAM", "CONSTITUEN"}});
  ASSERT_TRUE(constituencies.ok()) << constituencies.status().ToString();
  ASSERT_EQ(constituencies->problem_count, 0) << constituencies->problems.front();
  std::set<std::string> districts;
  for (const auto& b : constituencies->boundaries) districts.insert(b.area_id());
  EXPECT_EQ(districts.size(), 290u) << "290 constituencies with polling places (295 features: islands and parts merge)";
  ASSERT_TRUE(WriteAreas(*log_, constituencies->boundaries, 1).ok());
  auto stored = ReadAreas(*log_);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), 47u + 290u);

  // As published, the file is refused with what is wrong, and nothing of it is written.
  std::ifstream raw(kenya + "/ke2013_iebc_constituencies.geojson");
  std::stringstream raw_text;
  raw_text << raw.rdbuf();
  auto refused = ParseAreas(raw_text.str(), *known, {.properties = {"COUNTY_NAM", "CONSTITUEN"}});
  ASSERT_TRUE(refused.ok());
  EXPECT_GT(refused->problem_count, 0);
  EXPECT_TRUE(refused->boundaries.empty());
  EXPECT_NE(refused->problems.front().find("unknown area"), std::string::npos) << refused->problems.front();
}

// --- the triage API's refusals ---

class ReviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = std::move(store::OpenEmbeddedLog({.dir = dir_.Sub("log")})).value();
    state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("ingest"), .stores = ingest::Ingestor::StoreNames()})).value();
    processor_state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("state"), .stores = {"station_stage"}})).value();
    auto ingestor = ingest::Ingestor::Make(*log_, *state_, clock_, {.pseudonym_secret = "review-test-secret-0123456789"}, 4);
    ASSERT_TRUE(ingestor.ok()) << ingestor.status().ToString();
    ingestor_ = std::move(*ingestor);
    std::ofstream csv(dir_.Sub("stations.csv"));
    csv << "station_id,name,region,district,ward,lat,lon,registered_voters\n"
           "S1,One,LAGOS,IKEJA,W1,6.6,3.35,1\nS2,Two,LAGOS,EPE,E1,6.6,3.95,1\n";
    csv.close();
    ASSERT_TRUE(ingest::ImportStations(*log_, ingestor_->stations(), dir_.Sub("stations.csv"),
                                       ingest::StationFormat::kGeneric, 1).ok());
    ASSERT_TRUE(ingestor_->RefreshStations().ok());
    AddReviewRoutes(router_, *ingestor_, *log_, *processor_state_, 4);
    monitor_ = Token("mon1", ingest::Role::kMonitor, "");
    duty_ = Token("duty-a", ingest::Role::kDuty, "");
    duty_b_ = Token("duty-b", ingest::Role::kDuty, "");
    epe_ = Token("epe-police", ingest::Role::kLiaison, "LAGOS/EPE");
  }
  std::string Token(const std::string& name, ingest::Role role, const std::string& area) {
    auto token = ingestor_->principals().CreateToken(name, role, area, clock_.NowMs());
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    return token.ok() ? "Bearer " + *token : std::string();
  }
  ingest::HttpResponse Call(const std::string& method, const std::string& path, const std::string& auth,
                            const std::string& body = "") {
    ingest::HttpRequest req;
    req.method = method;
    req.path = path;
    req.headers = {{"authorization", auth}};
    req.body = body;
    std::string route;
    return router_.Dispatch(req, &route);
  }

  testing::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_, processor_state_;
  std::unique_ptr<ingest::Ingestor> ingestor_;
  ingest::HttpRouter router_;
  std::string monitor_, duty_, duty_b_, epe_;
};

TEST_F(ReviewTest, UnknownIs404OutsideTheLiaisonsAreaIs403LockedIs409AndEachDecisionIsAnEvent) {
  std::string now = FormatRfc3339(clock_.NowMs() - 60'000);
  auto outcome = ingestor_->SubmitJson(ingest::InputKind::kIncident, monitor_,
                                       R"({"event_id":"r1","occurred_at":")" + now +
                                           R"(","station_id":"S1","category":"violence","severity":4,"description":"x"})");
  ASSERT_TRUE(outcome.accepted()) << outcome.ToJson();

  EXPECT_EQ(Call("POST", "/v1/reports/nope/review", duty_, R"({"status":"false"})").status, 404);
  EXPECT_EQ(Call("POST", "/v1/reports/r1/review", epe_, R"({"status":"false"})").status, 403);
  EXPECT_EQ(Call("GET", "/v1/reports/r1", epe_).status, 403);
  EXPECT_EQ(Call("POST", "/v1/reports/r1/review", monitor_, R"({"status":"false"})").status, 403);
  EXPECT_EQ(Call("POST", "/v1/reports/r1/review", "", R"({"status":"false"})").status, 401);
  auto bad = Call("POST", "/v1/reports/r1/review", duty_, R"({"status":"maybe"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("\"field\":\"status\""), std::string::npos) << bad.body;

  auto locked = Call("POST", "/v1/reports/r1/review", duty_,
                     R"({"status":"needs follow-up","assignee":"duty-a","lock":true,"note":"calling the monitor"})");
  EXPECT_EQ(locked.status, 202) << locked.body;
  auto second = Call("POST", "/v1/reports/r1/review", duty_b_, R"({"status":"verified"})");
  EXPECT_EQ(second.status, 409) << second.body;
  EXPECT_NE(second.body.find("locked by duty-a"), std::string::npos) << second.body;
  EXPECT_EQ(Call("POST", "/v1/reports/r1/review", duty_, R"({"status":"false","note":"no such event"})").status, 202);
  EXPECT_EQ(Call("POST", "/v1/reports/r1/review", duty_b_, R"({"status":"false"})").status, 202) << "released";

  auto one = json::parse(Call("GET", "/v1/reports/r1", duty_).body).as_object();
  EXPECT_EQ(one["status"], "false");
  ASSERT_EQ(one["reviews"].as_array().size(), 3u);
  EXPECT_EQ(one["reviews"].as_array()[0].as_object()["note"], "calling the monitor");
  EXPECT_EQ(one["reviews"].as_array()[1].as_object()["reviewer"], "duty-a");
  EXPECT_EQ(Call("GET", "/v1/reports/" + std::string(one["reference"].as_string()), duty_).status, 200);

  // Three ReportReview events in in.events, in the report's partition.
  int reviews = 0;
  auto partitions = log_->PartitionCount("in.events");
  ASSERT_TRUE(partitions.ok());
  for (int32_t p = 0; p < *partitions; ++p) {
    auto records = log_->Read({"in.events", p}, 0, 1000);
    ASSERT_TRUE(records.ok());
    for (const auto& r : *records) {
      v1::Event e;
      ASSERT_TRUE(e.ParseFromString(r.value));
      if (e.has_review()) {
        ++reviews;
        EXPECT_EQ(e.review().report_event_id(), "r1");
        EXPECT_EQ(e.review().area(), "LAGOS/IKEJA/W1");
      }
    }
  }
  EXPECT_EQ(reviews, 3);

  auto csv = Call("GET", "/v1/reports", duty_);
  EXPECT_EQ(csv.status, 200);
  ingest::HttpRequest req;
  req.method = "GET";
  req.path = "/v1/reports";
  req.query = {{"format", "csv"}};
  req.headers = {{"authorization", duty_}};
  std::string route;
  auto exported = router_.Dispatch(req, &route);
  EXPECT_EQ(exported.content_type, "text/csv; charset=utf-8");
  EXPECT_NE(exported.body.find("\r\n#meta+id,#meta+ref,"), std::string::npos) << exported.body;
}

// --- exports of alerts and risk ---

// The alert and risk routes over committed stage state written with the stages' own encodings
// (alerts::EncodeAlertRecord, RiskAssessment under processors::StationRiskKey), read through
// readside::LocalQueries as a node with those stages reads it.
class ExportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = std::move(store::OpenEmbeddedLog({.dir = dir_.Sub("log")})).value();
    state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("ingest"), .stores = ingest::Ingestor::StoreNames()})).value();
    auto ingestor = ingest::Ingestor::Make(*log_, *state_, clock_, {.pseudonym_secret = "exports-test-secret-0123456789"}, 4);
    ASSERT_TRUE(ingestor.ok()) << ingestor.status().ToString();
    ingestor_ = std::move(*ingestor);
    std::ofstream csv(dir_.Sub("stations.csv"));
    csv << "station_id,name,region,district,ward,lat,lon,registered_voters\n"
           "S1,=cmd|' /C calc'!A0,LAGOS,IKEJA,W1,6.6,3.35,1\nS2,Two,LAGOS,EPE,E1,6.5,3.95,1\n";
    csv.close();
    ASSERT_TRUE(ingest::ImportStations(*log_, ingestor_->stations(), dir_.Sub("stations.csv"),
                                       ingest::StationFormat::kGeneric, 1).ok());
    ASSERT_TRUE(ingestor_->RefreshStations().ok());
    stage_state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("state"),
                                                      .stores = {std::string(processors::kRiskStore),
                                                                 std::string(alerts::kAlertStore)}})).value();
    store::CommitBatch batch;
    Risk(batch, "LAGOS/IKEJA", "", true, v1::RISK_LEVEL_HIGH, 0.8, "violence", "3 reports, one \"confirmed\"");
    Risk(batch, "LAGOS/IKEJA/W1", "", true, v1::RISK_LEVEL_HIGH, 0.8, "violence", "+3 reports");
    Risk(batch, "LAGOS/EPE", "", true, v1::RISK_LEVEL_ELEVATED, 0.4, "kit", "kit silent");
    Risk(batch, "S1", "=cmd|' /C calc'!A0", false, v1::RISK_LEVEL_HIGH, 0.8, "violence", "3 reports", "LAGOS/IKEJA/W1",
         6.6, 3.35);
    Risk(batch, "S2", "Two", false, v1::RISK_LEVEL_ELEVATED, 0.4, "kit", "kit silent", "LAGOS/EPE/E1", 6.5, 3.95);
    Alert(batch, "A1", "S1", false, "LAGOS/IKEJA/W1", v1::RISK_LEVEL_HIGH, alerts::AlertState::kOpen,
          "-2+3 violence at S1", 1000);
    Alert(batch, "A2", "LAGOS/EPE", true, "LAGOS/EPE", v1::RISK_LEVEL_ELEVATED, alerts::AlertState::kAcknowledged,
          "kits silent, EPE", 2000);
    ASSERT_TRUE(stage_state_->Commit(std::move(batch)).ok());
    queries_ = readside::LocalQueries(*stage_state_);
    AddAlertRoutes(router_, *ingestor_, *queries_, *log_, 4);
    AddRiskRoutes(router_, *ingestor_, *queries_);
    duty_ = Token("duty-a", ingest::Role::kDuty, "");
    ikeja_ = Token("ikeja-police", ingest::Role::kLiaison, "LAGOS/IKEJA");
    epe_ = Token("epe-police", ingest::Role::kLiaison, "LAGOS/EPE");
  }
  void Risk(store::CommitBatch& batch, const std::string& id, const std::string& name, bool is_area, v1::RiskLevel level,
            double score, const std::string& detector, const std::string& explanation, const std::string& ward = "",
            double lat = 0, double lon = 0) {
    v1::RiskAssessment a;
    a.set_subject_id(id);
    a.set_name(name);
    a.set_area(is_area ? id : ward);
    a.set_is_area(is_area);
    a.set_level(level);
    a.set_score(score);
    a.set_assessed_ms(1'700'000'000'000);
    if (!is_area) {
      a.mutable_location()->set_lat(lat);
      a.mutable_location()->set_lon(lon);
    }
    auto* f = a.add_factors();
    f->set_detector(detector);
    f->set_contribution(score);
    f->set_explanation(explanation);
    batch.Put(processors::kRiskStore, is_area ? id : processors::StationRiskKey(ward, id), a.SerializeAsString());
  }
  void Alert(store::CommitBatch& batch, const std::string& id, const std::string& subject, bool is_area,
             const std::string& area, v1::RiskLevel level, alerts::AlertState state, const std::string& summary, int64_t raised) {
    alerts::AlertRecord r;
    r.alert.set_alert_id(id);
    r.alert.set_subject_id(subject);
    r.alert.set_is_area(is_area);
    r.alert.set_area(area);
    r.alert.set_level(level);
    r.alert.set_summary(summary);
    r.alert.set_category(is_area ? "kit" : "violence");
    r.alert.set_score(0.5);
    r.alert.set_tier(1);
    r.alert.add_recipient_ids("lagos-police");
    r.state = state;
    r.raised_ms = r.updated_ms = 1'700'000'000'000 + raised;
    if (state == alerts::AlertState::kAcknowledged) {
      r.acked_ms = r.raised_ms + 60'000;
      r.alert.set_actor("epe-police");
    }
    batch.Put(alerts::kAlertStore, id, alerts::EncodeAlertRecord(r));
  }
  std::string Token(const std::string& name, ingest::Role role, const std::string& area) {
    auto token = ingestor_->principals().CreateToken(name, role, area, clock_.NowMs());
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    return token.ok() ? "Bearer " + *token : std::string();
  }
  ingest::HttpResponse Get(const std::string& target, const std::string& auth) {
    ingest::HttpRequest req;
    req.method = "GET";
    size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = ingest::ParseQuery(target.substr(q + 1));
    req.headers = {{"authorization", auth}};
    std::string route;
    return router_.Dispatch(req, &route);
  }
  static std::vector<std::string> Lines(const std::string& body) {
    std::vector<std::string> lines;
    for (size_t at = 0; at < body.size();) {
      size_t end = body.find("\r\n", at);
      if (end == std::string::npos) end = body.size();
      lines.push_back(body.substr(at, end - at));
      at = end + 2;
    }
    return lines;
  }
  static std::string Disposition(const ingest::HttpResponse& r) {
    for (const auto& [k, v] : r.headers) {
      if (k == "Content-Disposition") return v;
    }
    return "";
  }

  testing::TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_, stage_state_;
  std::unique_ptr<ingest::Ingestor> ingestor_;
  std::unique_ptr<readside::QuerySource> queries_;
  ingest::HttpRouter router_;
  std::string duty_, ikeja_, epe_;
};

TEST_F(ExportsTest, AlertsCsvHasAnHxlRowFollowsTheFiltersAndAreasAndDefusesFormulas) {
  auto r = Get("/v1/alerts?format=csv", duty_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(Disposition(r), "attachment; filename=\"alerts.csv\"");
  auto lines = Lines(r.body);
  ASSERT_EQ(lines.size(), 4u) << r.body;
  EXPECT_TRUE(lines[0].starts_with("alert_id,state,level,area,region,district,ward,")) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("#meta+id,#status,#severity,#adm+path,#adm1+name,#adm2+name,#adm3+name,")) << lines[1];
  EXPECT_TRUE(lines[1].ends_with(",#geo+lat,#geo+lon")) << lines[1];
  // Newest raise first; the station alert located at its station, the area alert without a point.
  EXPECT_TRUE(lines[2].starts_with("A2,acknowledged,elevated,LAGOS/EPE,LAGOS,EPE,,LAGOS/EPE,true,kit,")) << lines[2];
  EXPECT_NE(lines[2].find(",epe-police,"), std::string::npos) << lines[2];
  EXPECT_TRUE(lines[2].ends_with(",,")) << lines[2];
  EXPECT_TRUE(lines[3].starts_with("A1,open,high,LAGOS/IKEJA/W1,LAGOS,IKEJA,W1,S1,false,violence,'-2+3 violence at S1,"))
      << lines[3] << " (a leading - is prefixed with ' so a spreadsheet does not compute it)";
  EXPECT_TRUE(lines[3].ends_with(",6.6,3.35")) << lines[3];

  // The JSON answer's filters: state, level (and above), area.
  EXPECT_EQ(Lines(Get("/v1/alerts?format=csv&state=open", duty_).body).size(), 3u);
  EXPECT_EQ(Lines(Get("/v1/alerts?format=csv&level=high", duty_).body).size(), 3u);
  auto epe_only = Lines(Get("/v1/alerts?format=csv&area=LAGOS/EPE", duty_).body);
  ASSERT_EQ(epe_only.size(), 3u);
  EXPECT_TRUE(epe_only[2].starts_with("A2,"));
  // A liaison gets its area's alerts only, whatever it asks for.
  auto ikeja = Lines(Get("/v1/alerts?format=csv", ikeja_).body);
  ASSERT_EQ(ikeja.size(), 3u);
  EXPECT_TRUE(ikeja[2].starts_with("A1,"));
  auto none = Get("/v1/alerts?format=csv&area=LAGOS/EPE", ikeja_);
  EXPECT_EQ(none.status, 200);
  EXPECT_EQ(Lines(none.body).size(), 2u) << "only the header and the HXL row: " << none.body;
  EXPECT_EQ(Get("/v1/alerts?format=csv", "").status, 401);
  auto bad = Get("/v1/alerts?format=xlsx", duty_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("format is one of json, csv, geojson"), std::string::npos) << bad.body;
}

TEST_F(ExportsTest, AlertsGeoJsonPlacesStationAlertsAtTheirStationAndKeepsAreaAlertsWithoutAPoint) {
  auto r = Get("/v1/alerts?format=geojson", duty_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/geo+json");
  EXPECT_EQ(Disposition(r), "attachment; filename=\"alerts.geojson\"");
  auto doc = json::parse(r.body).as_object();
  EXPECT_EQ(doc["type"], "FeatureCollection");
  auto& features = doc["features"].as_array();
  ASSERT_EQ(features.size(), 2u);
  auto& area_alert = features[0].as_object();
  EXPECT_TRUE(area_alert["geometry"].is_null());
  EXPECT_EQ(area_alert["properties"].as_object()["alert_id"], "A2");
  EXPECT_EQ(area_alert["properties"].as_object()["acked_by"], "epe-police");
  auto& station_alert = features[1].as_object();
  EXPECT_EQ(station_alert["properties"].as_object()["alert_id"], "A1");
  auto& coords = station_alert["geometry"].as_object()["coordinates"].as_array();
  EXPECT_DOUBLE_EQ(coords[0].to_number<double>(), 3.35) << "GeoJSON is [lon, lat]";
  EXPECT_DOUBLE_EQ(coords[1].to_number<double>(), 6.6);
  auto epe = json::parse(Get("/v1/alerts?format=geojson", epe_).body).as_object();
  ASSERT_EQ(epe["features"].as_array().size(), 1u);
  EXPECT_EQ(epe["features"].as_array()[0].as_object()["properties"].as_object()["alert_id"], "A2");
  EXPECT_EQ(json::parse(Get("/v1/alerts?format=geojson&state=resolved", duty_).body).as_object()["features"].as_array().size(),
            0u);
}

TEST_F(ExportsTest, RiskCsvListsAreasThenStationsWithAnHxlRowWithinTheCallersArea) {
  auto r = Get("/v1/risk?format=csv", duty_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(Disposition(r), "attachment; filename=\"risk.csv\"");
  auto lines = Lines(r.body);
  ASSERT_EQ(lines.size(), 2u + 4u + 2u) << r.body;  // header, HXL; LAGOS, IKEJA, IKEJA/W1, EPE; S1, S2
  EXPECT_EQ(lines[0], "kind,id,name,area,region,district,ward,level,score,assessed_at,top_detector,top_explanation,lat,lon");
  EXPECT_EQ(lines[1], "#meta+type,#loc+id,#loc+name,#adm+path,#adm1+name,#adm2+name,#adm3+name,#severity,#indicator+score,"
                      "#date+assessed,#indicator+detector,#description,#geo+lat,#geo+lon");
  EXPECT_TRUE(lines[2].starts_with("area,LAGOS,,LAGOS,LAGOS,,,high,0.8,")) << "the region, from its riskiest district: "
                                                                          << lines[2];
  EXPECT_NE(r.body.find("area,LAGOS/IKEJA,,LAGOS/IKEJA,LAGOS,IKEJA,,high,0.8,2023-11-14T22:13:20.000Z,violence,"
                        "\"3 reports, one \"\"confirmed\"\"\",,\r\n"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("area,LAGOS/IKEJA/W1,,LAGOS/IKEJA/W1,LAGOS,IKEJA,W1,high,0.8,2023-11-14T22:13:20.000Z,violence,'+3 reports"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("station,S1,'=cmd|' /C calc'!A0,LAGOS/IKEJA/W1,LAGOS,IKEJA,W1,high,0.8,"), std::string::npos)
      << "a station name that is a formula is written as text: " << r.body;
  EXPECT_TRUE(lines.back().starts_with("station,S2,Two,LAGOS/EPE/E1,LAGOS,EPE,E1,elevated,0.4,")) << lines.back();
  EXPECT_TRUE(lines.back().ends_with(",kit,kit silent,6.5,3.95")) << lines.back();

  // The JSON answer's filters: area and min_level.
  auto epe = Lines(Get("/v1/risk?format=csv&area=LAGOS/EPE", duty_).body);
  ASSERT_EQ(epe.size(), 4u) << "EPE and S2";
  EXPECT_TRUE(epe[2].starts_with("area,LAGOS/EPE,"));
  EXPECT_TRUE(epe[3].starts_with("station,S2,"));
  auto high = Get("/v1/risk?format=csv&min_level=high", duty_).body;
  EXPECT_EQ(high.find("EPE"), std::string::npos) << high;
  EXPECT_NE(high.find("station,S1,"), std::string::npos) << high;
  // A liaison of another area gets none of IKEJA, and is refused IKEJA outright.
  auto theirs = Get("/v1/risk?format=csv", epe_).body;
  EXPECT_EQ(theirs.find("IKEJA"), std::string::npos) << theirs;
  EXPECT_NE(theirs.find("station,S2,"), std::string::npos) << theirs;
  EXPECT_EQ(Get("/v1/risk?format=csv&area=LAGOS/IKEJA", epe_).status, 403);
  EXPECT_EQ(Get("/v1/risk?format=csv", "").status, 401);
  EXPECT_EQ(Get("/v1/risk?format=xml", duty_).status, 400);

  // GeoJSON of risk: station points, as a download too.
  auto points = Get("/v1/risk?format=geojson", epe_);
  EXPECT_EQ(Disposition(points), "attachment; filename=\"risk.geojson\"");
  auto features = json::parse(points.body).as_object()["features"].as_array();
  ASSERT_EQ(features.size(), 1u);
  EXPECT_EQ(features[0].as_object()["properties"].as_object()["id"], "S2");
}

}  // namespace
}  // namespace ewarn::app
