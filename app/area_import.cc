// GeoJSON area boundaries (area_import.h).
#include "area_import.h"

#include <boost/json.hpp>
#include <cmath>
#include <map>

#include "ewarn/ingest/stations.h"
#include "ewarn/schemas/events.h"
#include "ewarn/v1/event.pb.h"

namespace ewarn::app {
namespace {

namespace json = boost::json;

// Reads every record of a one-partition reference topic; an absent topic is empty.
Status ForEachRecord(store::EventLog& log, std::string_view topic, const std::function<void(const v1::Event&)>& f) {
  auto partitions = log.PartitionCount(topic);
  if (!partitions.ok()) return Status::Ok();
  for (int32_t p = 0; p < *partitions; ++p) {
    ASSIGN_OR_RETURN(auto offsets, log.Offsets({std::string(topic), p}));
    for (int64_t at = offsets.start; at < offsets.end;) {
      ASSIGN_OR_RETURN(auto records, log.Read({std::string(topic), p}, at, 4096));
      if (records.empty()) break;
      for (const auto& r : records) {
        v1::Event e;
        if (e.ParseFromString(r.value)) f(e);
        at = r.offset + 1;
      }
    }
  }
  return Status::Ok();
}

// A ring of [lon, lat] positions; "" when valid, else what is wrong.
std::string ReadRing(const json::value& v, v1::Ring* ring) {
  if (!v.is_array()) return "a ring is not an array of positions";
  for (const auto& pos : v.as_array()) {
    if (!pos.is_array() || pos.as_array().size() < 2 || !pos.as_array()[0].is_number() ||
        !pos.as_array()[1].is_number()) {
      return "a position is not [lon, lat]";
    }
    double lon = pos.as_array()[0].to_number<double>(), lat = pos.as_array()[1].to_number<double>();
    if (!std::isfinite(lon) || !std::isfinite(lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90) {
      return "position [" + std::to_string(lon) + ", " + std::to_string(lat) + "] is not a longitude and latitude";
    }
    ring->add_lon(lon);
    ring->add_lat(lat);
  }
  if (ring->lon_size() < 4) return "a ring has " + std::to_string(ring->lon_size()) + " positions (at least 4)";
  if (ring->lon(0) != ring->lon(ring->lon_size() - 1) || ring->lat(0) != ring->lat(ring->lat_size() - 1)) {
    return "a ring is not closed (its last position must repeat its first)";
  }
  return "";
}

std::string ReadPolygon(const json::value& v, v1::Polygon* polygon) {
  if (!v.is_array() || v.as_array().empty()) return "a polygon has no rings";
  for (const auto& ring : v.as_array()) {
    if (std::string wrong = ReadRing(ring, polygon->add_rings()); !wrong.empty()) return wrong;
  }
  return "";
}

std::string ReadGeometry(const json::value* geometry, v1::AreaBoundary* out) {
  if (geometry == nullptr || !geometry->is_object()) return "no geometry";
  const json::object& g = geometry->as_object();
  const json::value* type = g.if_contains("type");
  const json::value* coordinates = g.if_contains("coordinates");
  if (type == nullptr || !type->is_string()) return "the geometry has no type";
  if (coordinates == nullptr) return "the geometry has no coordinates";
  if (type->as_string() == "Polygon") return ReadPolygon(*coordinates, out->add_polygons());
  if (type->as_string() == "MultiPolygon") {
    if (!coordinates->is_array() || coordinates->as_array().empty()) return "a MultiPolygon without polygons";
    for (const auto& p : coordinates->as_array()) {
      if (std::string wrong = ReadPolygon(p, out->add_polygons()); !wrong.empty()) return wrong;
    }
    return "";
  }
  return "geometry type " + std::string(type->as_string()) + " is not a Polygon or MultiPolygon";
}

}  // namespace

Result<std::set<std::string>> KnownAreas(store::EventLog& log) {
  std::set<std::string> known;
  RETURN_IF_ERROR(ForEachRecord(log, schemas::topic::kStations, [&](const v1::Event& e) {
    if (!e.has_station()) return;
    const v1::PollingStation& s = e.station();
    known.insert(s.region());
    known.insert(s.region() + "/" + s.district());
    if (!s.ward().empty()) known.insert(schemas::WardPath(s));
  }));
  return known;
}

Result<AreaImport> ParseAreas(std::string_view geojson, const std::set<std::string>& known,
                              const AreaImportOptions& options) {
  json::error_code ec;
  json::value doc = json::parse(geojson, ec);
  if (ec) return Status::InvalidArgument("not JSON: " + ec.message());
  const json::value* features = doc.is_object() ? doc.as_object().if_contains("features") : nullptr;
  if (!doc.is_object() || doc.as_object().if_contains("type") == nullptr ||
      doc.as_object().at("type") != "FeatureCollection" || features == nullptr || !features->is_array()) {
    return Status::InvalidArgument("not a GeoJSON FeatureCollection (an object with \"type\":\"FeatureCollection\" "
                                   "and a \"features\" array)");
  }
  AreaImport out;
  std::map<std::string, v1::AreaBoundary> by_area;
  auto problem = [&](int64_t number, const std::string& what) {
    ++out.problem_count;
    if (out.problems.size() < options.max_problems) out.problems.push_back("feature " + std::to_string(number) + ": " + what);
  };
  for (const auto& f : features->as_array()) {
    const int64_t number = ++out.features;
    const json::object* props = nullptr;
    if (f.is_object()) {
      const json::value* p = f.as_object().if_contains("properties");
      if (p != nullptr && p->is_object()) props = &p->as_object();
    }
    std::string path, name;
    std::string missing;
    for (const auto& key : options.properties) {
      const json::value* v = props == nullptr ? nullptr : props->if_contains(key);
      if (v == nullptr || !v->is_string() || v->as_string().empty()) {
        missing = key;
        break;
      }
      std::string value(v->as_string());
      // One property may hold the whole path ("NAIROBI/WESTLANDS"); several name one level each.
      if (options.properties.size() == 1) {
        for (size_t start = 0; start <= value.size();) {
          size_t slash = value.find('/', start);
          if (slash == std::string::npos) slash = value.size();
          path += (path.empty() ? "" : "/") + ingest::AreaSegment(value.substr(start, slash - start));
          start = slash + 1;
        }
      } else {
        path += (path.empty() ? "" : "/") + ingest::AreaSegment(value);
      }
      name = value;
    }
    if (!missing.empty()) {
      problem(number, "no string property '" + missing + "'" +
                          (props == nullptr || props->empty() ? "" : " (it has " + [&] {
                            std::string keys;
                            for (const auto& kv : *props) keys += (keys.empty() ? "" : ", ") + std::string(kv.key());
                            return keys;
                          }() + ")"));
      continue;
    }
    v1::AreaBoundary boundary;
    std::string wrong = ReadGeometry(f.as_object().if_contains("geometry"), &boundary);
    if (!wrong.empty()) {
      problem(number, "area " + path + ": invalid geometry: " + wrong);
      continue;
    }
    if (!known.contains(path)) {
      problem(number, "unknown area '" + path + "': no polling station lies in it (import the stations first, or "
                      "check the property)");
      continue;
    }
    v1::AreaBoundary& merged = by_area[path];
    if (merged.area_id().empty()) {
      merged.set_area_id(path);
      merged.set_name(name);
      int depth = static_cast<int>(std::count(path.begin(), path.end(), '/'));
      merged.set_level(depth == 0 ? v1::AREA_LEVEL_REGION : depth == 1 ? v1::AREA_LEVEL_DISTRICT : v1::AREA_LEVEL_WARD);
    }
    for (auto& p : *boundary.mutable_polygons()) *merged.add_polygons() = std::move(p);
  }
  if (out.problem_count == 0) {
    for (auto& [path, b] : by_area) out.boundaries.push_back(std::move(b));
  }
  return out;
}

Status WriteAreas(store::EventLog& log, const std::vector<v1::AreaBoundary>& boundaries, int64_t now_ms) {
  const std::string topic(schemas::topic::kAreas);
  RETURN_IF_ERROR(log.CreateTopic({.name = topic, .partitions = 1, .compacted = true}));
  std::vector<store::OutRecord> records;
  for (const auto& b : boundaries) {
    v1::Event e;
    auto* h = e.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id("area:" + b.area_id());
    h->set_event_time_ms(now_ms);
    h->set_received_time_ms(now_ms);
    h->set_source(v1::SOURCE_OPERATOR);
    *e.mutable_boundary() = b;
    records.push_back({.topic = topic, .key = b.area_id(), .value = schemas::EncodeEvent(e), .timestamp_ms = now_ms,
                       .partition = 0});
  }
  return log.Append(records).status();
}

Result<std::vector<v1::PollingStation>> ReadStations(store::EventLog& log) {
  std::map<std::string, v1::PollingStation> latest;
  RETURN_IF_ERROR(ForEachRecord(log, schemas::topic::kStations, [&](const v1::Event& e) {
    if (e.has_station()) latest[e.station().station_id()] = e.station();
  }));
  std::vector<v1::PollingStation> out;
  for (auto& [id, s] : latest) out.push_back(std::move(s));
  return out;
}

Result<std::vector<v1::AreaBoundary>> ReadAreas(store::EventLog& log) {
  std::map<std::string, v1::AreaBoundary> latest;
  RETURN_IF_ERROR(ForEachRecord(log, schemas::topic::kAreas, [&](const v1::Event& e) {
    if (e.has_boundary()) latest[e.boundary().area_id()] = e.boundary();
  }));
  std::vector<v1::AreaBoundary> out;
  for (auto& [path, b] : latest) out.push_back(std::move(b));
  return out;
}

}  // namespace ewarn::app
