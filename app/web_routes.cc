// The duty room's server side (web_routes.h).
#include "web_routes.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <map>

#include "area_import.h"
#include "ewarn/schemas/events.h"
#include "web_assets.h"

namespace ewarn::app {
namespace {

constexpr std::string_view kPagePolicy =
    "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";

namespace json = boost::json;
using ingest::HttpRequest;
using ingest::HttpResponse;

// Coordinates to 1e-5 degrees (about a metre): half the bytes of the source's 15 digits.
void AppendCoordinate(std::string* out, double lon, double lat) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "[%.5f,%.5f]", lon, lat);
  out->append(buf);
}

void AppendRing(std::string* out, const v1::Ring& ring) {
  out->push_back('[');
  for (int i = 0; i < ring.lon_size() && i < ring.lat_size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendCoordinate(out, ring.lon(i), ring.lat(i));
  }
  out->push_back(']');
}

std::string_view LevelOfDepth(size_t slashes) {
  return slashes == 0 ? "region" : slashes == 1 ? "district" : "ward";
}

// The convex hull of points (lon, lat), counter-clockwise and closed (Andrew's monotone chain);
// fewer than three distinct points get a small square around their extent.
v1::Ring Hull(std::vector<std::pair<double, double>> pts) {
  std::sort(pts.begin(), pts.end());
  pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
  v1::Ring ring;
  auto add = [&](double lon, double lat) {
    ring.add_lon(lon);
    ring.add_lat(lat);
  };
  if (pts.size() < 3) {
    double x0 = pts.front().first - 0.01, x1 = pts.back().first + 0.01;
    double y0 = std::min(pts.front().second, pts.back().second) - 0.01;
    double y1 = std::max(pts.front().second, pts.back().second) + 0.01;
    add(x0, y0), add(x1, y0), add(x1, y1), add(x0, y1), add(x0, y0);
    return ring;
  }
  auto cross = [](auto o, auto a, auto b) {
    return (a.first - o.first) * (b.second - o.second) - (a.second - o.second) * (b.first - o.first);
  };
  std::vector<std::pair<double, double>> h(2 * pts.size());
  size_t k = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    while (k >= 2 && cross(h[k - 2], h[k - 1], pts[i]) <= 0) --k;
    h[k++] = pts[i];
  }
  for (size_t i = pts.size() - 1, t = k + 1; i > 0; --i) {
    while (k >= t && cross(h[k - 2], h[k - 1], pts[i - 1]) <= 0) --k;
    h[k++] = pts[i - 1];
  }
  h.resize(k);  // closed: the last point is the first
  for (const auto& [lon, lat] : h) add(lon, lat);
  return ring;
}

HttpResponse Json(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

struct DutyRoom::Geometry {
  int64_t areas_end = -1, stations_end = -1;
  struct Feature {
    std::string area;
    std::string json;
  };
  std::map<std::string, std::vector<Feature>> by_level;  // "region" | "district" | "ward"
  struct Point {
    std::string ward;
    std::string json;  // [id,name,ward,lat,lon]
  };
  std::vector<Point> stations;
};

DutyRoom::DutyRoom(ingest::Ingestor& ingestor, store::EventLog& log, const std::string& secret)
    : ingestor_(ingestor), log_(log), codec_(secret) {}

DutyRoom::~DutyRoom() { Stop(); }

Result<std::unique_ptr<DutyRoom>> DutyRoom::Make(ingest::Ingestor& ingestor, store::EventLog& log,
                                                 const std::string& node_secret, ChangeFeed::Options feed) {
  std::unique_ptr<DutyRoom> room(new DutyRoom(ingestor, log, node_secret));
  ASSIGN_OR_RETURN(room->feed_, ChangeFeed::Start(log, std::move(feed)));
  return room;
}

void DutyRoom::Stop() {
  if (feed_) feed_->Stop();
}

Result<std::shared_ptr<const DutyRoom::Geometry>> DutyRoom::CurrentGeometry() {
  auto end_of = [&](std::string_view topic) -> int64_t {
    auto o = log_.Offsets({std::string(topic), 0});
    return o.ok() ? o->end : 0;
  };
  int64_t areas_end = end_of(schemas::topic::kAreas), stations_end = end_of(schemas::topic::kStations);
  std::lock_guard lock(mu_);
  if (geometry_ && geometry_->areas_end == areas_end && geometry_->stations_end == stations_end) return geometry_;
  auto g = std::make_shared<Geometry>();
  g->areas_end = areas_end;
  g->stations_end = stations_end;
  ASSIGN_OR_RETURN(auto boundaries, ReadAreas(log_));
  ASSIGN_OR_RETURN(auto stations, ReadStations(log_));
  std::map<std::string, std::vector<std::pair<double, double>>> points;  // area path -> station points
  for (const auto& s : stations) {
    std::string ward = schemas::WardPath(s);
    if (!s.has_location()) continue;
    std::string row = json::serialize(json::array{s.station_id(), s.name(), ward});
    row.pop_back();  // the closing ']': the coordinates follow, to 1e-5 degrees
    char coordinates[48];
    std::snprintf(coordinates, sizeof coordinates, ",%.5f,%.5f]", s.location().lat(), s.location().lon());
    g->stations.push_back({ward, row + coordinates});
    std::pair<double, double> p{s.location().lon(), s.location().lat()};
    points[s.region()].push_back(p);
    points[s.region() + "/" + s.district()].push_back(p);
    if (!s.ward().empty()) points[ward].push_back(p);
  }
  auto feature = [](const std::string& area, std::string_view name, bool derived, const std::string& coordinates) {
    std::string level(LevelOfDepth(static_cast<size_t>(std::count(area.begin(), area.end(), '/'))));
    json::object props{{"area", area}, {"name", name}, {"level", level}};
    if (derived) props["derived"] = "stations";
    return std::make_pair(level, "{\"type\":\"Feature\",\"properties\":" + json::serialize(props) +
                                     ",\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":" + coordinates + "}}");
  };
  std::map<std::string, bool> drawn;
  for (const auto& b : boundaries) {
    std::string coordinates = "[";
    for (int p = 0; p < b.polygons_size(); ++p) {
      coordinates += p > 0 ? ",[" : "[";
      for (int r = 0; r < b.polygons(p).rings_size(); ++r) {
        if (r > 0) coordinates.push_back(',');
        AppendRing(&coordinates, b.polygons(p).rings(r));
      }
      coordinates.push_back(']');
    }
    coordinates.push_back(']');
    auto [level, json] = feature(b.area_id(), b.area_id().substr(b.area_id().rfind('/') + 1), false, coordinates);
    g->by_level[level].push_back({b.area_id(), std::move(json)});
    drawn[b.area_id()] = true;
  }
  for (const auto& [area, pts] : points) {
    if (drawn.contains(area)) continue;
    std::string coordinates = "[[";
    AppendRing(&coordinates, Hull(pts));
    coordinates += "]]";
    auto [level, json] = feature(area, area.substr(area.rfind('/') + 1), true, coordinates);
    g->by_level[level].push_back({area, std::move(json)});
  }
  geometry_ = std::move(g);
  return geometry_;
}

void DutyRoom::AddRoutesAndSessions(ingest::HttpRouter& router) {
  for (const WebAsset& asset : WebAssets()) {
    auto serve = [&asset](const HttpRequest&) {
      HttpResponse r;
      r.content_type = std::string(asset.content_type);
      r.body = std::string(asset.body);
      r.headers.emplace_back("Cache-Control", "no-cache");
      // The duty room runs only its own files (no inline script or style, nothing from
      // elsewhere); the API's answers keep the server's stricter default-src 'none'.
      if (r.content_type.starts_with("text/html")) r.headers.emplace_back("Content-Security-Policy", kPagePolicy);
      return r;
    };
    router.Add("GET", std::string(asset.path), serve);
    if (asset.path == "/index.html") router.Add("GET", "/", serve);
  }
  router.Add("GET", "/map", [](const HttpRequest&) {
    HttpResponse r;
    r.status = 302;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "The duty room moved to /\n";
    r.headers.emplace_back("Location", "/");
    return r;
  });
  router.Add("GET", "/v1/areas", [this](const HttpRequest& req) {
    auto who = DutyRoomReader(ingestor_, req.Header("authorization"));
    if (!who.ok()) return ingest::StatusToHttp(who.status());
    std::string level = req.Query("level");
    if (level.empty()) level = "region";
    if (level != "region" && level != "district" && level != "ward") {
      return HttpResponse::Error(400, "level is one of region, district, ward", "level");
    }
    auto g = CurrentGeometry();
    if (!g.ok()) return ingest::StatusToHttp(g.status());
    std::string body = "{\"type\":\"FeatureCollection\",\"features\":[";
    bool first = true;
    if (auto it = (*g)->by_level.find(level); it != (*g)->by_level.end()) {
      for (const auto& f : it->second) {
        if (!ingest::AreaCovers(who->area, f.area) && !ingest::AreaCovers(f.area, who->area)) continue;
        if (!first) body.push_back(',');
        body += f.json;
        first = false;
      }
    }
    body += "]}";
    HttpResponse r = Json(std::move(body));
    r.content_type = "application/geo+json";
    return r;
  });
  router.Add("GET", "/v1/stations", [this](const HttpRequest& req) {
    auto who = DutyRoomReader(ingestor_, req.Header("authorization"));
    if (!who.ok()) return ingest::StatusToHttp(who.status());
    auto g = CurrentGeometry();
    if (!g.ok()) return ingest::StatusToHttp(g.status());
    std::string body = "{\"stations\":[";
    bool first = true;
    for (const auto& s : (*g)->stations) {
      if (!ingest::AreaCovers(who->area, s.ward)) continue;
      if (!first) body.push_back(',');
      body += s.json;
      first = false;
    }
    body += "]}";
    return Json(std::move(body));
  });
  // Asynchronous: a browser waiting for the next change holds no thread. It reads the cookie
  // itself (WrapHandlers leaves asynchronous routes alone).
  router.AddAsync("GET", "/v1/events", [this](const HttpRequest& req, ingest::HttpRespond respond) {
    std::string authorization = req.Header("authorization");
    if (authorization.empty()) {
      if (auto token = codec_.Open(CookieValue(req, kSessionCookie), clock_.NowMs()); token.ok()) {
        authorization = "Bearer " + *token;
      }
    }
    auto who = DutyRoomReader(ingestor_, authorization);
    if (!who.ok()) return respond(ingest::StatusToHttp(who.status()));
    std::string last = req.Header("last-event-id");
    if (last.empty()) last = req.Query("since");
    int64_t last_seen = -1;
    if (!last.empty()) {
      char* end = nullptr;
      last_seen = std::strtoll(last.c_str(), &end, 10);
      if (end == last.c_str() || *end != '\0' || last_seen < 0) {
        return respond(HttpResponse::Error(400, "Last-Event-ID is a batch number", "last-event-id"));
      }
    }
    feed_->Subscribe(last_seen, who->area, std::move(respond));
  });
  AddSessionRoutes(router, codec_, clock_, ingestor_);
  router.WrapHandlers([this](ingest::HttpHandler h) { return WithSession(codec_, clock_, std::move(h)); });
}

}  // namespace ewarn::app
