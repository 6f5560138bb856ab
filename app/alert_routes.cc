// The alert API (alert_routes.h): a thin HTTP face over the read side (alerts) and in.events.
#include "alert_routes.h"

#include "alert_history.h"

#include <algorithm>
#include <boost/json.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <map>

#include "csv_export.h"
#include "json_text.h"
#include "ewarn/alerts/cap.h"
#include "ewarn/alerts/lifecycle.h"
#include "ewarn/base/hash.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/principals.h"
#include "ewarn/schemas/events.h"

namespace ewarn::app {
namespace {

namespace json = boost::json;
using ingest::HttpResponse;

constexpr std::string_view kPrefix = "/v1/alerts/";
constexpr size_t kMaxNote = 2000;
// An ack still not visible in the state after this long was refused by the stage (it is in
// dlq.processing); another may be tried.
constexpr int64_t kInFlightMs = 60000;

struct Context {
  Context(ingest::Ingestor& i, readside::QuerySource& q, store::EventLog& l, int32_t p)
      : ingestor(i), queries(q), log(l), partitions(p) {}
  ingest::Ingestor& ingestor;
  readside::QuerySource& queries;
  store::EventLog& log;
  int32_t partitions;
  SystemClock clock;
  // Acks accepted here but not yet visible in the read side (the stage applies them
  // shortly): a second ack in that window is answered 409, not dead-lettered later.
  std::mutex mu;
  std::map<std::string, int64_t> acks_in_flight;  // alert id -> accepted at; guarded by mu
};

HttpResponse Json(int status, const json::value& v) {
  HttpResponse r;
  r.status = status;
  r.body = JsonText(v);
  return r;
}

// Liaisons, the duty room and operators read alerts; monitors and gateways do not.
Result<ingest::Principal> Reader(Context& c, const ingest::HttpRequest& req) {
  std::string auth = req.Header("authorization");
  auto p = c.ingestor.Authorize(auth, ingest::Role::kLiaison);
  if (p.ok() || p.status().code() != StatusCode::kFailedPrecondition) return p;
  p = c.ingestor.Authorize(auth, ingest::Role::kDuty);
  if (p.ok() || p.status().code() != StatusCode::kFailedPrecondition) return p;
  return Status::FailedPrecondition("this token may not read or acknowledge alerts; it needs a liaison, duty or "
                                    "operator token");
}

bool MaySee(const ingest::Principal& p, const alerts::AlertRecord& r) {
  return p.role != ingest::Role::kLiaison || ingest::AreaCovers(p.area, r.alert.area());
}

// Lower case, as /v1/risk and the webhooks write levels ("high"); alerts::LevelName is for prose.
std::string LowerLevel(int level) {
  std::string name(alerts::LevelName(level));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

json::object ToJson(const alerts::AlertRecord& r) {
  const v1::AlertEvent& a = r.alert;
  json::array recipients, factors;
  for (const auto& id : a.recipient_ids()) recipients.emplace_back(id);
  for (const auto& f : a.factors()) {
    json::array ids;
    for (const auto& e : f.event_ids()) ids.emplace_back(e);
    factors.emplace_back(json::object{{"detector", f.detector()},
                                      {"contribution", f.contribution()},
                                      {"explanation", f.explanation()},
                                      {"event_ids", std::move(ids)}});
  }
  json::object o{{"alert_id", a.alert_id()},
                 {"state", alerts::AlertStateName(r.state)},
                 {"level", LowerLevel(a.level())},
                 {"area", a.area()},
                 {"subject_id", a.subject_id()},
                 {"is_area", a.is_area()},
                 {"category", a.category()},
                 {"summary", a.summary()},
                 {"score", a.score()},
                 {"tier", a.tier()},
                 {"recipient_ids", std::move(recipients)},
                 {"silenced", a.silenced()},
                 {"raised_at", FormatRfc3339(r.raised_ms)},
                 {"updated_at", FormatRfc3339(r.updated_ms)},
                 {"factors", std::move(factors)}};
  if (a.deadline_ms() > 0) o["ack_deadline"] = FormatRfc3339(a.deadline_ms());
  if (r.state == alerts::AlertState::kAcknowledged || r.acked_ms > 0) {
    o["acked_by"] = a.actor();
    o["ack_note"] = a.note();
    o["acked_at"] = FormatRfc3339(r.acked_ms);
  }
  return o;
}

// Where a station alert's station is; nullopt for an area alert or a station without a location.
std::optional<std::pair<double, double>> StationLatLon(Context& c, const alerts::AlertRecord& r) {
  if (r.alert.is_area()) return std::nullopt;
  auto station = c.ingestor.stations().Find(r.alert.subject_id());
  if (!station.ok() || !station->has_value() || !(*station)->has_location()) return std::nullopt;
  return std::make_pair((*station)->location().lat(), (*station)->location().lon());
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : " ") + id;
  return out;
}

// GET /v1/alerts?format=csv: one row per alert, the HXL hashtag row second.
HttpResponse AlertsCsv(Context& c, const std::vector<alerts::AlertRecord>& found) {
  std::string body =
      "alert_id,state,level,area,region,district,ward,subject_id,is_area,category,summary,score,tier,recipients,"
      "silenced,raised_at,updated_at,ack_deadline,acked_by,acked_at,lat,lon\r\n"
      "#meta+id,#status,#severity,#adm+path,#adm1+name,#adm2+name,#adm3+name,#loc+id,#meta+is_area,#event+category,"
      "#description,#indicator+score,#indicator+tier,#contact+recipients,#meta+silenced,#date+raised,#date+updated,"
      "#date+deadline,#contact+acked_by,#date+acked,#geo+lat,#geo+lon\r\n";
  for (const auto& r : found) {
    const v1::AlertEvent& a = r.alert;
    std::vector<std::string> adm = AdminLevels(a.area());
    auto at = StationLatLon(c, r);
    bool acked = r.state == alerts::AlertState::kAcknowledged || r.acked_ms > 0;
    body += CsvRow({CsvField(a.alert_id()), std::string(alerts::AlertStateName(r.state)), LowerLevel(a.level()),
                    CsvField(a.area()), CsvField(adm[0]), CsvField(adm[1]), CsvField(adm[2]), CsvField(a.subject_id()),
                    a.is_area() ? "true" : "false", CsvField(a.category()), CsvField(a.summary()),
                    JsonText(json::value(a.score())), std::to_string(a.tier()), CsvField(Joined(a.recipient_ids())),
                    a.silenced() ? "true" : "false", FormatRfc3339(r.raised_ms), FormatRfc3339(r.updated_ms),
                    a.deadline_ms() > 0 ? FormatRfc3339(a.deadline_ms()) : "", acked ? CsvField(a.actor()) : "",
                    acked ? FormatRfc3339(r.acked_ms) : "", at ? JsonText(json::value(at->first)) : "",
                    at ? JsonText(json::value(at->second)) : ""});
  }
  return ExportResponse("text/csv; charset=utf-8", "alerts.csv", std::move(body));
}

// GET /v1/alerts?format=geojson: a station alert is a point at its station; an area alert has
// no point of its own (the area is a polygon of GET /v1/areas), so its geometry is null, which
// RFC 7946 allows for a feature without a location.
HttpResponse AlertsGeoJson(Context& c, const std::vector<alerts::AlertRecord>& found) {
  json::array features;
  for (const auto& r : found) {
    auto at = StationLatLon(c, r);
    json::value geometry = nullptr;
    if (at) geometry = json::object{{"type", "Point"}, {"coordinates", json::array{at->second, at->first}}};
    features.emplace_back(
        json::object{{"type", "Feature"}, {"geometry", std::move(geometry)}, {"properties", ToJson(r)}});
  }
  return ExportResponse("application/geo+json", "alerts.geojson",
                        JsonText(json::object{{"type", "FeatureCollection"}, {"features", std::move(features)}}));
}

HttpResponse List(Context& c, const ingest::HttpRequest& req) {
  auto p = Reader(c, req);
  if (!p.ok()) return ingest::StatusToHttp(p.status());
  std::optional<alerts::AlertState> state;
  if (std::string s = req.Query("state"); !s.empty()) {
    auto parsed = alerts::ParseAlertState(s);
    if (!parsed.ok()) return HttpResponse::Error(400, parsed.status().message(), "state");
    state = *parsed;
  }
  int min_level = 0;
  if (std::string s = req.Query("level"); !s.empty()) {
    auto parsed = alerts::ParseLevel(s);
    if (!parsed.ok()) return HttpResponse::Error(400, parsed.status().message(), "level");
    min_level = *parsed;
  }
  std::string area = req.Query("area");
  const std::string format = req.Query("format");
  if (!format.empty() && format != "json" && format != "csv" && format != "geojson") {
    return HttpResponse::Error(400, "format is one of json, csv, geojson", "format");
  }
  if (Status ready = c.queries.Ready(); !ready.ok()) return ingest::StatusToHttp(ready);
  std::vector<alerts::AlertRecord> found;
  Status st = c.queries.ScanAlerts([&](const alerts::AlertRecord& r) {
    if (!MaySee(*p, r)) return true;
    if (state && r.state != *state) return true;
    if (r.alert.level() < min_level) return true;
    if (!area.empty() && !alerts::AreaPrefixCovers(area, r.alert.area())) return true;
    found.push_back(r);
    return true;
  });
  if (!st.ok()) return ingest::StatusToHttp(st);
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.raised_ms > b.raised_ms; });
  if (format == "csv") return AlertsCsv(c, found);
  if (format == "geojson") return AlertsGeoJson(c, found);
  json::array out;
  for (const auto& r : found) out.emplace_back(ToJson(r));
  return Json(200, json::object{{"count", found.size()}, {"alerts", std::move(out)}});
}

// The alert `id` as `p` may see it: 404 unknown, 403 outside a liaison's area.
Result<alerts::AlertRecord> Visible(Context& c, const ingest::Principal& p, const std::string& id) {
  RETURN_IF_ERROR(c.queries.Ready());
  ASSIGN_OR_RETURN(std::optional<alerts::AlertRecord> r, c.queries.ReadAlert(id));
  if (!r) return Status::NotFound("unknown alert '" + id + "'");
  if (!MaySee(p, *r)) {
    return Status::FailedPrecondition("alert '" + id + "' is in " + r->alert.area() + ", outside this token's area " +
                                      p.area);
  }
  return *r;
}

HttpResponse Get(Context& c, const ingest::HttpRequest& req) {
  std::string id = req.path.substr(kPrefix.size());
  // GET /v1/alerts/{id}.cap: the alert as an OASIS CAP 1.2 document, for public alerting systems.
  bool cap = id.ends_with(".cap");
  if (cap) id.resize(id.size() - 4);
  // GET /v1/alerts/{id}/history: its lifecycle events from topic `alerts` (alert_history.h).
  bool history = !cap && id.ends_with("/history");
  if (history) id.resize(id.size() - 8);
  if (id.empty() || id.find('/') != std::string::npos) return HttpResponse::Error(404, "no such resource");
  auto p = Reader(c, req);
  if (!p.ok()) return ingest::StatusToHttp(p.status());
  auto r = Visible(c, *p, id);
  if (!r.ok()) return ingest::StatusToHttp(r.status());
  if (history) {
    auto body = AlertHistoryJson(c.log, id);
    if (!body.ok()) return ingest::StatusToHttp(body.status());
    HttpResponse out;
    out.body = std::move(*body);
    return out;
  }
  if (cap) {
    // The record's kind is its last lifecycle event (often "routed"); a CAP reader needs the
    // message type of the alert's state: Alert while it stands as raised, Update once anything
    // changed, Cancel when resolved.
    v1::AlertEvent as_cap = r->alert;
    as_cap.set_kind(r->state == alerts::AlertState::kResolved ? v1::AlertEvent::KIND_RESOLVED
                    : r->updated_ms == r->raised_ms && r->state == alerts::AlertState::kOpen
                        ? v1::AlertEvent::KIND_RAISED
                        : v1::AlertEvent::KIND_UPDATED);
    HttpResponse out;
    out.content_type = "application/cap+xml";
    out.body = alerts::RenderCap(as_cap, {.sent_ms = r->updated_ms});
    return out;
  }
  return Json(200, ToJson(*r));
}

HttpResponse Ack(Context& c, const ingest::HttpRequest& req) {
  std::string_view rest = std::string_view(req.path).substr(kPrefix.size());
  if (!rest.ends_with("/ack")) return HttpResponse::Error(404, "no such resource");
  std::string id(rest.substr(0, rest.size() - 4));
  if (id.empty() || id.find('/') != std::string::npos) return HttpResponse::Error(404, "no such resource");
  auto p = Reader(c, req);
  if (!p.ok()) return ingest::StatusToHttp(p.status());

  std::string note;
  if (req.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    json::error_code ec;
    json::value body = json::parse(req.body, ec);
    if (ec || !body.is_object()) return HttpResponse::Error(400, "body must be a JSON object like {\"note\":\"...\"}");
    if (const json::value* n = body.as_object().if_contains("note")) {
      if (!n->is_string()) return HttpResponse::Error(400, "note must be a string", "note");
      note = std::string(n->as_string());
    }
  }
  if (note.size() > kMaxNote) {
    return HttpResponse::Error(400, "note is longer than " + std::to_string(kMaxNote) + " bytes", "note");
  }

  auto r = Visible(c, *p, id);
  if (!r.ok()) return ingest::StatusToHttp(r.status());
  if (r->state != alerts::AlertState::kOpen) {
    return HttpResponse::Error(409, "alert '" + id + "' is already " + std::string(alerts::AlertStateName(r->state)) +
                                        (r->alert.actor().empty() ? "" : " (by " + r->alert.actor() + ")"));
  }
  const int64_t now = c.clock.NowMs();
  std::string district = schemas::DistrictKeyOfArea(r->alert.area());
  int32_t partition = PartitionForKey(district, c.partitions);
  // The ack is dated on its partition's timeline (the wall clock live, simulated time in a
  // demo), never ahead of the wall clock; on any node, as far as the read side knows that time.
  int64_t event_time = now;
  if (int64_t clock = c.queries.EventTimeOf(partition); clock > 0) event_time = std::min(now, clock);
  {
    std::lock_guard lock(c.mu);
    auto [it, fresh] = c.acks_in_flight.emplace(id, now);
    if (!fresh && now - it->second < kInFlightMs) {
      return HttpResponse::Error(409, "alert '" + id + "' is already being acknowledged");
    }
    it->second = now;
  }
  v1::Event e;
  auto* h = e.mutable_header();
  h->set_schema_version(schemas::kSchemaVersion);
  h->set_event_id("ack-" + Sha256Hex(id + "\n" + p->name + "\n" + std::to_string(now)).substr(0, 24));
  h->set_event_time_ms(event_time);
  h->set_received_time_ms(now);
  h->set_source(v1::SOURCE_WEB);
  h->set_channel("http");
  h->set_principal(p->name);
  v1::AlertAck* ack = e.mutable_ack();
  ack->set_alert_id(id);
  ack->set_liaison_id(p->name);
  ack->set_note(note);
  ack->set_area(r->alert.area());
  std::vector<store::OutRecord> records{{.topic = std::string(schemas::topic::kInputs),
                                         .key = id,
                                         .value = schemas::EncodeEvent(e),
                                         .timestamp_ms = event_time,
                                         .partition_key = district,
                                         .partition = partition}};
  auto appended = c.log.Append(records);  // durable before we answer
  if (!appended.ok()) {
    std::lock_guard lock(c.mu);
    c.acks_in_flight.erase(id);
    return ingest::StatusToHttp(appended.status());
  }
  return Json(202, json::object{{"status", "accepted"}, {"alert_id", id}, {"event_id", h->event_id()}});
}


// Puts a silence's `*area` in the one canonical form and refuses it unless it is an area of the
// station list inside the principal's (issue 13.4): a raw "LAGOS/IKEJA/../../KANO" passes a
// LAGOS/IKEJA liaison's prefix check, and a misspelt area silently mutes nothing. Refused, not
// resolved, as ingest does for hate-speech areas. "" (everywhere) is only for principals
// without an area (duty, operators).
std::optional<HttpResponse> CheckSilenceArea(Context& c, const ingest::Principal& p, std::string* area) {
  while (!area->empty() && area->back() == '/') area->pop_back();  // "LAGOS/" is LAGOS, as tokens read it
  if (!area->empty()) {
    auto canonical = ingest::CanonicalAreaPath(*area);
    if (!canonical.ok()) return HttpResponse::Error(400, canonical.status().message(), "area", "bad_area");
    *area = *std::move(canonical);
    if (!c.ingestor.stations().IsKnownArea(*area)) {
      return HttpResponse::Error(400, "area " + *area + " is not a region, district or ward of the station list",
                                 "area", "unknown_area");
    }
  }
  if (!ingest::AreaCovers(p.area, *area)) {
    return HttpResponse::Error(403, "'" + p.name + "' may silence within '" + p.area + "' only", "area",
                               "outside_area");
  }
  return std::nullopt;
}

// POST /v1/silences {"area":"LAGOS/IKEJA","category":"kit","until":"RFC 3339","note":"..."}
HttpResponse PostSilence(Context& c, const ingest::HttpRequest& req) {
  auto p = Reader(c, req);
  if (!p.ok()) return ingest::StatusToHttp(p.status());
  json::error_code ec;
  json::value body = json::parse(req.body, ec);
  if (ec || !body.is_object()) {
    return HttpResponse::Error(400, "body must be a JSON object like {\"area\":\"...\",\"until\":\"RFC 3339\"}");
  }
  const json::object& o = body.as_object();
  auto text = [&](const char* key) -> std::string {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
  };
  std::string area = text("area");
  if (auto refused = CheckSilenceArea(c, *p, &area)) return *refused;
  v1::Silence silence;
  silence.set_area(area);
  silence.set_category(text("category"));
  silence.set_note(text("note"));
  auto until = ParseRfc3339(text("until"));
  if (!until.ok()) return HttpResponse::Error(400, "until must be an RFC 3339 time: " + until.status().message(), "until");
  silence.set_until_ms(*until);
  int64_t now = c.clock.NowMs();
  silence.set_silence_id("S" + Sha256Hex(p->name + "\n" + req.body + "\n" + std::to_string(now)).substr(0, 12));
  auto appended = AppendSilence(c.log, c.partitions, silence, p->name, now);
  if (!appended.ok()) return ingest::StatusToHttp(appended);
  return Json(202, json::object{{"status", "accepted"}, {"silence_id", silence.silence_id()}});
}
}  // namespace

Status AppendSilence(store::EventLog& log, int32_t partitions, const v1::Silence& silence, const std::string& principal,
                     int64_t now_ms) {
  if (silence.until_ms() <= 0) return Status::InvalidArgument("a silence needs an end (until)");
  v1::Event e;
  auto* h = e.mutable_header();
  h->set_schema_version(schemas::kSchemaVersion);
  h->set_event_time_ms(now_ms);
  h->set_received_time_ms(now_ms);
  h->set_source(v1::SOURCE_OPERATOR);
  h->set_principal(principal);
  *e.mutable_silence() = silence;
  // A district or ward: its district's partition. A region or everything: every partition,
  // since its alerts live in all of them (like ticks).
  std::vector<store::OutRecord> records;
  if (std::count(silence.area().begin(), silence.area().end(), '/') >= 1) {
    std::string district = schemas::DistrictKeyOfArea(silence.area());
    h->set_event_id("silence:" + silence.silence_id());
    records.push_back({.topic = std::string(schemas::topic::kInputs), .key = silence.area(),
                       .value = schemas::EncodeEvent(e), .timestamp_ms = now_ms,
                       .partition = PartitionForKey(district, partitions)});
  } else {
    for (int32_t p = 0; p < partitions; ++p) {
      h->set_event_id("silence:" + silence.silence_id() + ":" + std::to_string(p));
      records.push_back({.topic = std::string(schemas::topic::kInputs), .key = silence.area(),
                         .value = schemas::EncodeEvent(e), .timestamp_ms = now_ms, .partition = p});
    }
  }
  return log.Append(records).status();
}

void AddAlertRoutes(ingest::HttpRouter& router, ingest::Ingestor& ingestor, readside::QuerySource& queries,
                    store::EventLog& log, int32_t partitions) {
  auto c = std::make_shared<Context>(ingestor, queries, log, partitions);
  router.Add("GET", "/v1/alerts", [c](const ingest::HttpRequest& req) { return List(*c, req); });
  router.AddPrefix("GET", std::string(kPrefix), [c](const ingest::HttpRequest& req) { return Get(*c, req); });
  router.AddPrefix("POST", std::string(kPrefix), [c](const ingest::HttpRequest& req) { return Ack(*c, req); });
  router.Add("POST", "/v1/silences", [c](const ingest::HttpRequest& req) { return PostSilence(*c, req); });
}

}  // namespace ewarn::app
