// The triage queue over HTTP (review_routes.h).
#include "review_routes.h"

#include <boost/json.hpp>
#include <memory>
#include <mutex>

#include "ewarn/base/hash.h"
#include "ewarn/base/time.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/schemas/events.h"
#include "csv_export.h"
#include "report_index.h"
#include "session.h"

namespace ewarn::app {
namespace {

namespace json = boost::json;
using ingest::HttpRequest;
using ingest::HttpResponse;

constexpr std::string_view kPrefix = "/v1/reports/";
constexpr size_t kMaxNote = 2000;

struct Context {
  Context(ingest::Ingestor& i, store::EventLog& l, store::StateStore& s, int32_t p)
      : ingestor(i), log(l), state(s), partitions(p), index(l, [&i](const std::string& station) {
          auto placed = i.stations().Locate(station);
          return placed ? placed->area : std::string();
        }) {}
  ingest::Ingestor& ingestor;
  store::EventLog& log;
  store::StateStore& state;
  int32_t partitions;
  SystemClock clock;
  std::mutex mu;      // guards index; held across a decision's check and append
  ReportIndex index;
};

HttpResponse Json(int status, const json::value& v) {
  HttpResponse r;
  r.status = status;
  r.body = json::serialize(v);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

json::object ToJson(const ReportEntry& r, int64_t now_ms) {
  json::array reviews;
  for (const auto& v : r.reviews) {
    json::object o{{"time", FormatRfc3339(v.time_ms)},
                   {"reviewer", v.review.reviewer()},
                   {"status", ReviewStatusName(v.review.status())},
                   {"assignee", v.review.assignee()},
                   {"note", v.review.note()}};
    if (v.review.lock_until_ms() > 0) o["lock_until"] = FormatRfc3339(v.review.lock_until_ms());
    reviews.emplace_back(std::move(o));
  }
  json::object o{{"event_id", r.event_id},
                 {"reference", r.reference},
                 {"kind", r.kind},
                 {"category", r.category},
                 {"severity", r.severity},
                 {"text", r.text},
                 {"station_id", r.station_id},
                 {"area", r.area},
                 {"source", r.source},
                 {"occurred_at", FormatRfc3339(r.occurred_ms)},
                 {"received_at", FormatRfc3339(r.received_ms)},
                 {"status", ReviewStatusName(r.status)},
                 {"assignee", r.assignee},
                 {"reviews", std::move(reviews)}};
  if (!r.locked_by.empty() && r.lock_until_ms > now_ms) {
    o["locked_by"] = r.locked_by;
    o["lock_until"] = FormatRfc3339(r.lock_until_ms);
  }
  if (r.has_location) o["location"] = json::array{r.lat, r.lon};
  return o;
}

Result<ingest::Principal> Reader(Context& c, const HttpRequest& req) {
  return DutyRoomReader(c.ingestor, req.Header("authorization"));
}

HttpResponse List(Context& c, const HttpRequest& req) {
  auto who = Reader(c, req);
  if (!who.ok()) return ingest::StatusToHttp(who.status());
  std::optional<v1::ReviewStatus> status;
  if (std::string s = req.Query("status"); !s.empty()) {
    auto parsed = ParseReviewStatus(s);
    if (!parsed.ok()) return HttpResponse::Error(400, parsed.status().message(), "status");
    status = *parsed;
  }
  int64_t since = 0;
  if (std::string s = req.Query("since"); !s.empty()) {
    auto parsed = ParseRfc3339(s);
    if (!parsed.ok()) return HttpResponse::Error(400, "since must be an RFC 3339 time", "since");
    since = *parsed;
  }
  std::string format = req.Query("format");
  if (!format.empty() && format != "csv" && format != "geojson" && format != "json") {
    return HttpResponse::Error(400, "format is one of json, csv, geojson", "format");
  }
  size_t limit = format.empty() || format == "json" ? 500 : 100000;
  const std::string area = req.Query("area"), category = req.Query("category"), source = req.Query("source");
  std::lock_guard lock(c.mu);
  if (Status s = c.index.CatchUp(); !s.ok()) return ingest::StatusToHttp(s);
  std::vector<const ReportEntry*> found;
  for (const ReportEntry* r : c.index.Newest()) {
    if (!ingest::AreaCovers(who->area, r->area)) continue;
    if (!area.empty() && !ingest::AreaCovers(area, r->area)) continue;
    if (status && r->status != *status) continue;
    if (!category.empty() && r->category != category) continue;
    if (!source.empty() && r->source != source) continue;
    if (r->occurred_ms < since) continue;
    found.push_back(r);
    if (found.size() >= limit) break;
  }
  const int64_t now = c.clock.NowMs();
  if (format == "csv") {
    std::string body =
        "event_id,reference,kind,category,severity,text,station_id,area,lat,lon,occurred_at,source,status,assignee\r\n"
        "#meta+id,#meta+ref,#event+type,#event+category,#severity,#description,#loc+id,#adm+path,#geo+lat,"
        "#geo+lon,#date+occurred,#meta+source,#status,#contact+assignee\r\n";
    for (const ReportEntry* r : found) {
      std::string lat = r->has_location ? std::to_string(r->lat) : "", lon = r->has_location ? std::to_string(r->lon) : "";
      body += CsvRow({CsvField(r->event_id), CsvField(r->reference), CsvField(r->kind), CsvField(r->category),
                      std::to_string(r->severity), CsvField(r->text), CsvField(r->station_id), CsvField(r->area), lat,
                      lon, FormatRfc3339(r->occurred_ms), CsvField(r->source), CsvField(ReviewStatusName(r->status)),
                      CsvField(r->assignee)});
    }
    return ExportResponse("text/csv; charset=utf-8", "reports.csv", std::move(body));
  }
  if (format == "geojson") {
    json::array features;
    for (const ReportEntry* r : found) {
      auto station = c.ingestor.stations().Find(r->station_id);
      double lat = r->lat, lon = r->lon;
      bool located = r->has_location;
      if (!located && station.ok() && station->has_value() && (*station)->has_location()) {
        lat = (*station)->location().lat();
        lon = (*station)->location().lon();
        located = true;
      }
      if (!located) continue;
      json::object props = ToJson(*r, now);
      props.erase("location");
      features.emplace_back(json::object{{"type", "Feature"},
                                         {"geometry", json::object{{"type", "Point"}, {"coordinates", json::array{lon, lat}}}},
                                         {"properties", std::move(props)}});
    }
    json::object collection{{"type", "FeatureCollection"}, {"features", std::move(features)}};
    return ExportResponse("application/geo+json", "reports.geojson", json::serialize(collection));
  }
  json::array list;
  for (const ReportEntry* r : found) list.emplace_back(ToJson(*r, now));
  return Json(200, json::object{{"count", found.size()}, {"reports", std::move(list)}});
}

HttpResponse GetOne(Context& c, const HttpRequest& req) {
  std::string id = req.path.substr(kPrefix.size());
  if (id.empty() || id.find('/') != std::string::npos) return HttpResponse::Error(404, "no such resource");
  auto who = Reader(c, req);
  if (!who.ok()) return ingest::StatusToHttp(who.status());
  std::lock_guard lock(c.mu);
  if (Status s = c.index.CatchUp(); !s.ok()) return ingest::StatusToHttp(s);
  const ReportEntry* r = c.index.FindByIdOrReference(id);
  if (r == nullptr) return HttpResponse::Error(404, "unknown report '" + id + "'");
  if (!ingest::AreaCovers(who->area, r->area)) {
    return HttpResponse::Error(403, "report '" + id + "' is in " + r->area + ", outside this token's area " + who->area);
  }
  return Json(200, ToJson(*r, c.clock.NowMs()));
}

HttpResponse Review(Context& c, const HttpRequest& req) {
  std::string_view rest = std::string_view(req.path).substr(kPrefix.size());
  if (!rest.ends_with("/review")) return HttpResponse::Error(404, "no such resource");
  std::string id(rest.substr(0, rest.size() - 7));
  if (id.empty() || id.find('/') != std::string::npos) return HttpResponse::Error(404, "no such resource");
  auto who = Reader(c, req);
  if (!who.ok()) return ingest::StatusToHttp(who.status());

  json::error_code ec;
  json::value body = json::parse(req.body, ec);
  if (ec || !body.is_object()) {
    return HttpResponse::Error(400, "body must be a JSON object like {\"status\":\"verified\",\"note\":\"...\"}");
  }
  const json::object& o = body.as_object();
  auto text = [&](const char* key, std::string* out) -> bool {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) return true;
    if (!v->is_string()) return false;
    *out = std::string(v->as_string());
    return true;
  };
  std::string status_name, assignee, note, duplicate_of;
  if (!text("status", &status_name)) return HttpResponse::Error(400, "status must be a string", "status");
  if (!text("assignee", &assignee)) return HttpResponse::Error(400, "assignee must be a string", "assignee");
  if (!text("note", &note)) return HttpResponse::Error(400, "note must be a string", "note");
  if (!text("duplicate_of", &duplicate_of)) return HttpResponse::Error(400, "duplicate_of must be a string", "duplicate_of");
  if (status_name.empty()) return HttpResponse::Error(400, "status is required", "status");
  auto status = ParseReviewStatus(status_name);
  if (!status.ok()) return HttpResponse::Error(400, status.status().message(), "status");
  if (note.size() > kMaxNote) return HttpResponse::Error(400, "note is longer than 2000 bytes", "note");
  if (assignee.size() > 200) return HttpResponse::Error(400, "assignee is longer than 200 bytes", "assignee");
  bool lock = false;
  if (const json::value* v = o.if_contains("lock"); v != nullptr && !v->is_null()) {
    if (!v->is_bool()) return HttpResponse::Error(400, "lock must be true or false", "lock");
    lock = v->as_bool();
  }

  std::lock_guard guard(c.mu);
  if (Status s = c.index.CatchUp(); !s.ok()) return ingest::StatusToHttp(s);
  const ReportEntry* r = c.index.Find(id);
  if (r == nullptr) return HttpResponse::Error(404, "unknown report '" + id + "'");
  if (!ingest::AreaCovers(who->area, r->area)) {
    return HttpResponse::Error(403, "report '" + id + "' is in " + r->area + ", outside this token's area " + who->area);
  }
  const int64_t now = c.clock.NowMs();
  if (!r->locked_by.empty() && r->locked_by != who->name && r->lock_until_ms > now) {
    return HttpResponse::Error(409, "report '" + id + "' is locked by " + r->locked_by + " until " +
                                        FormatRfc3339(r->lock_until_ms));
  }
  const std::string district = schemas::DistrictKeyOfArea(r->area);
  const int32_t partition = r->partition;
  // Dated on its partition's timeline like an acknowledgement (alert_routes.cc), never ahead of
  // the wall clock.
  int64_t event_time = now;
  if (auto clock = processors::PartitionEventTime(c.state, partition); clock.ok() && *clock > 0) {
    event_time = std::min(now, *clock);
  }
  v1::Event e;
  auto* h = e.mutable_header();
  h->set_schema_version(schemas::kSchemaVersion);
  h->set_event_id("review-" + Sha256Hex(id + "\n" + who->name + "\n" + std::to_string(now) + "\n" + req.body).substr(0, 24));
  h->set_event_time_ms(event_time);
  h->set_received_time_ms(now);
  h->set_source(v1::SOURCE_WEB);
  h->set_channel("http");
  h->set_principal(who->name);
  v1::ReportReview* review = e.mutable_review();
  review->set_report_event_id(id);
  review->set_station_id(r->station_id);
  review->set_area(r->area);
  review->set_status(*status);
  review->set_reviewer(who->name);
  review->set_assignee(assignee);
  review->set_note(note);
  review->set_duplicate_of(duplicate_of);
  if (lock) review->set_lock_until_ms(now + kReviewLockMs);
  std::vector<store::OutRecord> records{{.topic = std::string(schemas::topic::kInputs),
                                         .key = r->station_id,
                                         .value = schemas::EncodeEvent(e),
                                         .timestamp_ms = event_time,
                                         .partition_key = district,
                                         .partition = partition}};
  auto appended = c.log.Append(records);  // durable before we answer; the index reads it back
  if (!appended.ok()) return ingest::StatusToHttp(appended.status());
  return Json(202, json::object{{"status", "accepted"}, {"report_event_id", id}, {"event_id", h->event_id()}});
}

}  // namespace

void AddReviewRoutes(ingest::HttpRouter& router, ingest::Ingestor& ingestor, store::EventLog& log,
                     store::StateStore& state, int32_t partitions) {
  auto c = std::make_shared<Context>(ingestor, log, state, partitions);
  router.Add("GET", "/v1/reports", [c](const HttpRequest& req) { return List(*c, req); });
  router.AddPrefix("GET", std::string(kPrefix), [c](const HttpRequest& req) { return GetOne(*c, req); });
  router.AddPrefix("POST", std::string(kPrefix), [c](const HttpRequest& req) { return Review(*c, req); });
}

}  // namespace ewarn::app
