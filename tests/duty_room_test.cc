// The duty room's server side without a browser (the browser journeys are
// web/tests/duty_room_test.mjs): sealed session cookies, area boundaries from GeoJSON (Kenya's
// real counties and constituencies among them), and the triage API's refusals.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "area_import.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/ingest/stations.h"
#include "ewarn/store/event_log.h"
#include "ewarn_testing.h"
#include "review_routes.h"
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

}  // namespace
}  // namespace ewarn::app
