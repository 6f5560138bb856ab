#include "risk_routes.h"

#include <boost/json.hpp>

#include <algorithm>
#include <map>

#include "csv_export.h"
#include "json_text.h"
#include "ewarn/base/time.h"
#include "ewarn/base/hash.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/schemas/events.h"
#include "ewarn/v1/derived.pb.h"

namespace ewarn::app {
namespace {

namespace json = boost::json;

std::string LevelName(int level) {
  switch (level) {
    case v1::RISK_LEVEL_ELEVATED: return "elevated";
    case v1::RISK_LEVEL_HIGH: return "high";
    case v1::RISK_LEVEL_CRITICAL: return "critical";
    default: return "low";
  }
}

int ParseLevel(std::string_view name) {
  for (int l = v1::RISK_LEVEL_LOW; l <= v1::RISK_LEVEL_CRITICAL; ++l) {
    if (LevelName(l) == name) return l;
  }
  return -1;
}

json::object ToJson(const v1::RiskAssessment& a, bool with_events) {
  json::object o;
  o["id"] = a.subject_id();
  if (!a.name().empty()) o["name"] = a.name();
  o["area"] = a.area();
  o["level"] = LevelName(a.level());
  o["score"] = std::round(a.score() * 1000) / 1000;
  o["assessed_ms"] = a.assessed_ms();
  if (a.has_location()) o["location"] = json::array{a.location().lat(), a.location().lon()};
  json::array factors;
  for (const auto& f : a.factors()) {
    json::object fo{{"detector", f.detector()},
                    {"contribution", std::round(f.contribution() * 1000) / 1000},
                    {"explanation", f.explanation()}};
    if (with_events) {
      json::array ids;
      for (const auto& id : f.event_ids()) ids.emplace_back(id);
      fo["event_ids"] = std::move(ids);
    }
    factors.emplace_back(std::move(fo));
  }
  o["factors"] = std::move(factors);
  return o;
}

// GET /v1/risk?format=csv: areas then stations, one row each with its top factor; the HXL
// hashtag row second.
std::string RiskCsvHeader() {
  return "kind,id,name,area,region,district,ward,level,score,assessed_at,top_detector,top_explanation,lat,lon\r\n"
         "#meta+type,#loc+id,#loc+name,#adm+path,#adm1+name,#adm2+name,#adm3+name,#severity,#indicator+score,"
         "#date+assessed,#indicator+detector,#description,#geo+lat,#geo+lon\r\n";
}

std::string RiskCsvRow(const v1::RiskAssessment& a) {
  std::vector<std::string> adm = AdminLevels(a.area());
  const v1::RiskFactor* top = a.factors_size() > 0 ? &a.factors(0) : nullptr;
  return CsvRow({a.is_area() ? "area" : "station", CsvField(a.subject_id()), CsvField(a.name()), CsvField(a.area()),
                 CsvField(adm[0]), CsvField(adm[1]), CsvField(adm[2]), LevelName(a.level()),
                 JsonText(json::value(std::round(a.score() * 1000) / 1000)),
                 a.assessed_ms() > 0 ? FormatRfc3339(a.assessed_ms()) : "", top ? CsvField(top->detector()) : "",
                 top ? CsvField(top->explanation()) : "",
                 a.has_location() ? JsonText(json::value(a.location().lat())) : "",
                 a.has_location() ? JsonText(json::value(a.location().lon())) : ""});
}

ingest::HttpResponse Json(json::value v) {
  ingest::HttpResponse r;
  r.body = JsonText(v);
  return r;
}

ingest::HttpResponse GetRisk(ingest::Ingestor& ingestor, readside::QuerySource& queries, const ingest::HttpRequest& req) {
  auto who = QueryReader(ingestor, req, "risk");
  if (!who.ok()) return ingest::StatusToHttp(who.status());  // 401 no token, 403 wrong role
  if (Status ready = queries.Ready(); !ready.ok()) return ingest::StatusToHttp(ready);
  std::string area = req.Query("area");
  while (!area.empty() && area.back() == '/') area.pop_back();
  if (!ingest::AreaCovers(who->area, area) && !ingest::AreaCovers(area, who->area)) {
    return ingest::HttpResponse::Error(403, "'" + who->name + "' may read risk for '" + who->area + "' only", "area");
  }
  // An area no station lies in is a mistake (a typo, another country's name), not "no risk".
  if (!area.empty()) {
    auto canonical = ingest::CanonicalAreaPath(area);
    if (!canonical.ok()) return ingest::HttpResponse::Error(400, canonical.status().message(), "area", "bad_value");
    area = *canonical;
  }
  if (!area.empty() && !ingestor.stations().IsKnownArea(area)) {
    return ingest::HttpResponse::Error(404, "no station lies in area '" + area + "'; areas are REGION[/DISTRICT[/WARD]] "
                                            "of the imported stations", "area", "unknown_area");
  }
  int min_level = v1::RISK_LEVEL_LOW;
  if (std::string m = req.Query("min_level"); !m.empty()) {
    min_level = ParseLevel(m);
    if (min_level < 0) {
      return ingest::HttpResponse::Error(400, "min_level is one of low, elevated, high, critical", "min_level",
                                         "bad_value");
    }
  }
  const std::string format = req.Query("format");
  if (!format.empty() && format != "json" && format != "geojson" && format != "csv") {
    return ingest::HttpResponse::Error(400, "format is json (the default), geojson or csv", "format", "bad_value");
  }
  bool geojson = format == "geojson";
  std::vector<v1::RiskAssessment> areas, stations;
  Status st = queries.ScanRisk(area, [&](std::string_view key, std::string_view value) {
    // A prefix scan also finds "LAGOS/IKEJAX" for "LAGOS/IKEJA": keep whole segments only.
    if (key.size() > area.size() && !area.empty() && key[area.size()] != '/' && key[area.size()] != '#') return true;
    v1::RiskAssessment a;
    if (!a.ParseFromArray(value.data(), static_cast<int>(value.size()))) return true;
    if (!ingest::AreaCovers(who->area, a.area())) return true;
    if (a.level() < min_level) return true;
    (a.is_area() ? areas : stations).push_back(std::move(a));
    return true;
  });
  if (!st.ok()) return ingest::HttpResponse::Error(503, st.message());
  // Regions, on read: a region is as risky as its riskiest district.
  std::map<std::string, v1::RiskAssessment> regions;
  for (const auto& a : areas) {
    if (std::count(a.subject_id().begin(), a.subject_id().end(), '/') != 1) continue;
    std::string region = a.subject_id().substr(0, a.subject_id().find('/'));
    v1::RiskAssessment& r = regions[region];
    if (r.subject_id().empty() || a.score() > r.score()) {
      r.set_subject_id(region);
      r.set_area(region);
      r.set_is_area(true);
      r.set_score(a.score());
      r.set_assessed_ms(a.assessed_ms());
      r.clear_factors();
      auto* f = r.add_factors();
      f->set_detector(a.factors_size() > 0 ? a.factors(0).detector() : "district");
      f->set_contribution(a.score());
      f->set_explanation("district " + a.subject_id());
    }
    r.set_level(std::max(r.level(), a.level()));
  }
  auto by_risk = [](const v1::RiskAssessment& a, const v1::RiskAssessment& b) {
    return a.score() != b.score() ? a.score() > b.score() : a.subject_id() < b.subject_id();
  };
  std::sort(stations.begin(), stations.end(), by_risk);
  if (geojson) {
    json::array features;
    for (const auto& s : stations) {
      if (!s.has_location()) continue;
      json::object props = ToJson(s, false);
      props.erase("location");
      features.emplace_back(json::object{
          {"type", "Feature"},
          {"geometry", json::object{{"type", "Point"}, {"coordinates", json::array{s.location().lon(), s.location().lat()}}}},
          {"properties", std::move(props)}});
    }
    return ExportResponse("application/geo+json", "risk.geojson",
                          JsonText(json::object{{"type", "FeatureCollection"}, {"features", std::move(features)}}));
  }
  std::vector<const v1::RiskAssessment*> area_rows;
  for (const auto& [name, r] : regions) {
    if (area.empty() || area == name) area_rows.push_back(&r);
  }
  std::sort(areas.begin(), areas.end(), by_risk);
  for (const auto& a : areas) area_rows.push_back(&a);
  if (format == "csv") {  // every area, then every station (no 500 cap: an export is the whole answer)
    std::string body = RiskCsvHeader();
    for (const auto* a : area_rows) body += RiskCsvRow(*a);
    for (const auto& s : stations) body += RiskCsvRow(s);
    return ExportResponse("text/csv; charset=utf-8", "risk.csv", std::move(body));
  }
  json::array area_list, station_list;
  for (const auto* a : area_rows) area_list.emplace_back(ToJson(*a, false));
  size_t limit = 500;
  for (size_t i = 0; i < stations.size() && i < limit; ++i) station_list.emplace_back(ToJson(stations[i], false));
  return Json(json::object{{"area", area},
                           {"areas", std::move(area_list)},
                           {"stations", std::move(station_list)},
                           {"stations_total", stations.size()}});
}

ingest::HttpResponse GetStation(ingest::Ingestor& ingestor, readside::QuerySource& queries,
                                const ingest::HttpRequest& req) {
  auto who = QueryReader(ingestor, req, "risk");
  if (!who.ok()) return ingest::StatusToHttp(who.status());  // 401 no token, 403 wrong role
  std::string id = req.path.substr(std::string_view("/v1/risk/stations/").size());
  auto station = ingestor.stations().Find(id);
  if (!station.ok()) return ingest::HttpResponse::Error(503, station.status().message());
  if (!station->has_value()) {
    return ingest::HttpResponse::Error(404, "unknown station '" + id + "'", "", "unknown_station");
  }
  const v1::PollingStation& ps = **station;
  std::string ward = schemas::WardPath(ps);
  if (!ingest::AreaCovers(who->area, ward)) {
    return ingest::HttpResponse::Error(403, "station '" + id + "' is outside '" + who->area + "'");
  }
  if (Status ready = queries.Ready(); !ready.ok()) return ingest::StatusToHttp(ready);
  auto value = queries.GetRisk(processors::StationRiskKey(ward, id));
  if (!value.ok()) return ingest::HttpResponse::Error(503, value.status().message());
  v1::RiskAssessment a;
  if (value->has_value()) {
    a.ParseFromString(**value);
  } else {  // nothing has happened there yet
    a.set_subject_id(id);
    a.set_area(ward);
    a.set_name(ps.name());
    a.set_level(v1::RISK_LEVEL_LOW);
  }
  return Json(ToJson(a, true));
}

}  // namespace

Result<ingest::Principal> QueryReader(ingest::Ingestor& ingestor, const ingest::HttpRequest& req, std::string_view what) {
  std::string auth = req.Header("authorization");  // or the duty room's session (session.h)
  auto p = ingestor.Authorize(auth, ingest::Role::kDuty);
  if (p.ok() || p.status().code() == StatusCode::kPermissionDenied) return p;  // no valid token
  p = ingestor.Authorize(auth, ingest::Role::kLiaison);
  if (p.ok() || p.status().code() != StatusCode::kFailedPrecondition) return p;
  return Status::FailedPrecondition("this token may not read " + std::string(what) +
                                    "; it needs a duty, operator or liaison token");
}

void AddRiskRoutes(ingest::HttpRouter& router, ingest::Ingestor& ingestor, readside::QuerySource& queries) {
  router.Add("GET", "/v1/risk", [&](const ingest::HttpRequest& req) { return GetRisk(ingestor, queries, req); });
  router.AddPrefix("GET", "/v1/risk/stations/",
                   [&](const ingest::HttpRequest& req) { return GetStation(ingestor, queries, req); });
}

}  // namespace ewarn::app
