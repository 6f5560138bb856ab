// ingest's HTTP routes: transport details (headers, forms, TwiML) around the Ingestor.
#include <boost/json.hpp>
#include <charconv>

#include "ewarn/base/time.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/ingest/ticks.h"

namespace ewarn::ingest {
namespace {

HttpResponse FromOutcome(const Outcome& o) {
  HttpResponse r;
  r.status = o.http_status;
  r.body = o.ToJson();
  if (o.retry_after_seconds > 0) r.headers.emplace_back("Retry-After", std::to_string(o.retry_after_seconds));
  return r;
}

// Gateways cannot always set headers: a token may also come as ?token= or as the password of
// HTTP Basic auth (Twilio's https://user:token@host/ webhook form).
std::string Authorization(const HttpRequest& req) {
  std::string header = req.Header("authorization");
  if (header.starts_with("Basic ")) {
    std::string decoded;
    std::string_view b64 = std::string_view(header).substr(6);
    static constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    for (char c : b64) {
      size_t v = kAlphabet.find(c);
      if (v == std::string_view::npos) break;
      acc = (acc << 6) | static_cast<uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        decoded.push_back(static_cast<char>((acc >> bits) & 0xff));
      }
    }
    size_t colon = decoded.find(':');
    return colon == std::string::npos ? "" : "Bearer " + decoded.substr(colon + 1);
  }
  if (!header.empty()) return header;
  std::string token = req.Query("token");
  return token.empty() ? "" : "Bearer " + token;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// {"time":"2027-02-25T08:30:00Z"} or {"time_ms":1803457800000}: the tick's event time.
Result<int64_t> TickTime(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value root = boost::json::parse(body, ec);
  if (ec || !root.is_object()) return Status::InvalidArgument("expected a JSON object {\"time\":\"RFC 3339\"}");
  const auto& o = root.as_object();
  if (auto* t = o.if_contains("time"); t != nullptr && t->is_string()) {
    return ParseRfc3339(std::string_view(t->as_string().data(), t->as_string().size()));
  }
  if (auto* t = o.if_contains("time_ms"); t != nullptr && t->is_int64() && t->as_int64() >= 0) return t->as_int64();
  return Status::InvalidArgument("give \"time\" (RFC 3339) or \"time_ms\" (a non-negative integer)");
}

}  // namespace

HttpResponse StatusToHttp(const Status& s) {
  switch (s.code()) {
    case StatusCode::kPermissionDenied: return HttpResponse::Error(401, s.message());
    case StatusCode::kFailedPrecondition: return HttpResponse::Error(403, s.message());
    case StatusCode::kNotFound: return HttpResponse::Error(404, s.message());
    case StatusCode::kInvalidArgument: return HttpResponse::Error(400, s.message());
    case StatusCode::kUnavailable: return HttpResponse::Error(503, s.message());
    default: return HttpResponse::Error(500, s.message());
  }
}

void AddIngestRoutes(HttpRouter& router, Ingestor& ingestor, uint64_t max_body_bytes) {
  for (auto [path, kind] : {std::pair{"/v1/incidents", InputKind::kIncident},
                            std::pair{"/v1/hate-speech", InputKind::kHateSpeech},
                            std::pair{"/v1/turnout", InputKind::kTurnout}, std::pair{"/v1/kit", InputKind::kKit},
                            std::pair{"/v1/results", InputKind::kResult}}) {
    router.AddAsync("POST", path, [&ingestor, kind = kind](const HttpRequest& req, HttpRespond respond) {
      ingestor.SubmitJsonAsync(kind, req.Header("authorization"), req.body, req.Header("content-type"),
                               [respond = std::move(respond)](Outcome o) { respond(FromOutcome(o)); });
    });
  }

  router.Add("GET", "/v1/sms/kannel", [&ingestor](const HttpRequest& req) {
    SmsOutcome o = ingestor.SubmitSms(SmsChannel::kKannel, Authorization(req), req.Query("from"), req.Query("text"),
                                      req.Query("id"));
    HttpResponse r;
    // Kannel sends the body back to the sender; a 401 gets an empty body, so nothing is sent.
    r.status = o.outcome.http_status == 401 ? 401 : 200;
    r.content_type = "text/plain; charset=utf-8";
    r.body = o.reply;
    return r;
  });

  router.Add("POST", "/v1/sms/twilio", [&ingestor](const HttpRequest& req) {
    auto form = ParseQuery(req.body);
    auto get = [&](const char* k) {
      auto it = form.find(k);
      return it == form.end() ? std::string() : it->second;
    };
    SmsOutcome o = ingestor.SubmitSms(SmsChannel::kTwilio, Authorization(req), get("From"), get("Body"),
                                      get("MessageSid"));
    HttpResponse r;
    r.status = o.outcome.http_status == 401 ? 401 : 200;
    r.content_type = "application/xml";
    r.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>";
    if (!o.reply.empty()) r.body += "<Message>" + XmlEscape(o.reply) + "</Message>";
    r.body += "</Response>";
    return r;
  });

  router.Add("GET", "/v1/rejected", [&ingestor](const HttpRequest& req) {
    auto principal = ingestor.Authorize(req.Header("authorization"), Role::kOperator);
    if (!principal.ok()) return StatusToHttp(principal.status());
    // Absent means the default; present and not a non-negative integer is the caller's mistake.
    std::optional<int64_t> from = 0, limit = 100;
    if (std::string f = req.Query("from"); !f.empty()) from = ParseInt(f);
    if (!from || *from < 0) return HttpResponse::Error(400, "from must be an offset (an integer >= 0)", "from", "bad_value");
    if (std::string l = req.Query("limit"); !l.empty()) limit = ParseInt(l);
    if (!limit) return HttpResponse::Error(400, "limit must be an integer (clamped to 1..1000)", "limit", "bad_value");
    limit = std::clamp<int64_t>(*limit, 1, 1000);
    auto got = ingestor.ListRejected(*from, static_cast<size_t>(*limit));
    if (!got.ok()) return StatusToHttp(got.status());
    int64_t next = got->empty() ? *from : got->back().offset + 1;
    std::string body = DeadLetterPageJson(*got, next);
    HttpResponse r;
    r.body = std::move(body);
    return r;
  });

  router.AddPrefix("POST", "/v1/rejected/", [&ingestor](const HttpRequest& req) {
    auto principal = ingestor.Authorize(req.Header("authorization"), Role::kOperator);
    if (!principal.ok()) return StatusToHttp(principal.status());
    std::string_view rest = std::string_view(req.path).substr(std::string_view("/v1/rejected/").size());
    size_t slash = rest.find('/');
    auto offset = ParseInt(rest.substr(0, slash));
    if (!offset || slash == std::string_view::npos || rest.substr(slash) != "/resubmit") {
      return HttpResponse::Error(404, "use POST /v1/rejected/{offset}/resubmit");
    }
    std::optional<std::string> replacement;
    if (!req.body.empty()) replacement = req.body;
    auto outcome = ingestor.Resubmit(*offset, replacement);
    if (!outcome.ok()) return StatusToHttp(outcome.status());
    return FromOutcome(*outcome);
  });

  // Simulated (or replayed) time: a simulator driving a server started with --tick-ms 0 moves
  // event time itself. Operators only: a tick far in the future would close every window.
  router.Add("POST", "/v1/ticks", [&ingestor](const HttpRequest& req) {
    auto principal = ingestor.Authorize(req.Header("authorization"), Role::kOperator);
    if (!principal.ok()) return StatusToHttp(principal.status());
    auto time = TickTime(req.body);
    if (!time.ok()) return HttpResponse::Error(400, time.status().message(), "time");
    if (Status s = ingestor.AppendTicks(*time); !s.ok()) return StatusToHttp(s);
    HttpResponse r;
    r.body = "{\"status\":\"ticked\",\"time_ms\":" + std::to_string(*time) + "}";
    return r;
  });

  router.Add("GET", "/healthz", [&ingestor](const HttpRequest&) {
    HttpResponse r;
    r.body = "{\"status\":\"ok\",\"stations\":" + std::to_string(ingestor.stations().size()) + "}";
    return r;
  });

  router.OnBodyTooLarge([&ingestor, max_body_bytes](const HttpRequest& req, uint64_t declared) {
    return FromOutcome(ingestor.RejectTooLarge(req.method + " " + req.path, req.Header("authorization"), declared,
                                               max_body_bytes));
  });
}

}  // namespace ewarn::ingest
