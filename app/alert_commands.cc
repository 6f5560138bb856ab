// CLI for liaisons and alerts: `liaison add` registers a responder (ref.liaisons + a bearer
// token), `alerts history` prints an alert's audit trail from topic `alerts`, `alerts list`
// reads the alert stage's query-side state. Offline commands, like the ingest ones: stop
// `ewarn serve` first (the embedded log and state are locked by a running server).
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include "commands.h"
#include "data_dir.h"
#include "ewarn/alerts/lifecycle.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/principals.h"
#include "ewarn/schemas/events.h"
#include "ingest_setup.h"

namespace ewarn::app {
namespace {

const FlagSpec kData{"data", "DIR", "the data directory", "", true};

Result<v1::LiaisonRole> ParseLiaisonRole(std::string_view name) {
  if (name == "police") return v1::LIAISON_ROLE_POLICE;
  if (name == "peacekeeping") return v1::LIAISON_ROLE_PEACEKEEPING;
  if (name == "commission") return v1::LIAISON_ROLE_COMMISSION;
  return Status::InvalidArgument("--role must be police, peacekeeping or commission, not '" + std::string(name) + "'");
}

std::string_view LiaisonRoleName(v1::LiaisonRole role) {
  switch (role) {
    case v1::LIAISON_ROLE_POLICE: return "police";
    case v1::LIAISON_ROLE_PEACEKEEPING: return "peacekeeping";
    case v1::LIAISON_ROLE_COMMISSION: return "commission";
    default: return "unspecified";
  }
}

bool HasSpaceOrControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

// REGION[/DISTRICT[/WARD]]: one to three non-empty segments.
Status CheckArea(std::string_view area) {
  if (area.empty()) return Status::InvalidArgument("--area is required: the area path the liaison covers, e.g. LAGOS/IKEJA");
  size_t segments = 1;
  bool empty_segment = area.front() == '/' || area.back() == '/' || area.find("//") != std::string_view::npos;
  for (char c : area) segments += c == '/';
  if (empty_segment || segments > 3) {
    return Status::InvalidArgument("--area '" + std::string(area) + "' is not an area path REGION[/DISTRICT[/WARD]]");
  }
  return Status::Ok();
}

// http(s)://host[:port][/path], no spaces: the delivery worker POSTs alerts there.
Status CheckWebhook(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return Status::InvalidArgument("--webhook '" + std::string(url) + "' must be an http:// or https:// URL");
  }
  std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty() || host.front() == ':' || HasSpaceOrControl(url) || host.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("--webhook '" + std::string(url) + "' has no usable host");
  }
  return Status::Ok();
}

// E.164: '+' then 8..15 digits; spaces, dashes, dots and brackets are allowed and dropped.
Result<std::string> CheckPhone(std::string_view phone) {
  bool only_phone_chars = std::all_of(phone.begin(), phone.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == ' ' || c == '-' || c == '.' || c == '(' ||
           c == ')';
  });
  std::string normalized = ingest::MonitorRegistry::NormalizePhone(phone);
  size_t digits = normalized.size() - (normalized.starts_with('+') ? 1 : 0);
  if (!only_phone_chars || !normalized.starts_with('+') || digits < 8 || digits > 15) {
    return Status::InvalidArgument("--phone '" + std::string(phone) +
                                   "' is not an international number like +2348012345678 (E.164)");
  }
  return normalized;
}

Status CheckEmail(std::string_view email) {
  size_t at = email.find('@');
  bool ok = at != std::string_view::npos && at > 0 && email.find('@', at + 1) == std::string_view::npos &&
            !HasSpaceOrControl(email);
  if (ok) {
    std::string_view domain = email.substr(at + 1);
    size_t dot = domain.find('.');
    ok = dot != std::string_view::npos && dot > 0 && domain.back() != '.' && domain.find("..") == std::string_view::npos;
  }
  if (!ok) return Status::InvalidArgument("--email '" + std::string(email) + "' is not an e-mail address like name@example.org");
  return Status::Ok();
}

}  // namespace

Result<std::pair<std::string, int64_t>> RegisterLiaison(ingest::PrincipalRegistry& principals, store::EventLog& log,
                                                        const v1::Liaison& l, int64_t now) {
  const std::string& name = l.liaison_id();
  // Refuse before writing anything: a liaison's id is its token's name.
  ASSIGN_OR_RETURN(auto existing, principals.List());
  for (const auto& p : existing) {
    if (p.name == name && !p.revoked) {
      return Status::AlreadyExists("'" + name + "' already has an active token; revoke it first (ewarn token revoke " +
                                   name + ") to register it again");
    }
  }
  RETURN_IF_ERROR(log.CreateTopic({.name = std::string(schemas::topic::kLiaisons), .partitions = 1, .compacted = true}));
  v1::Event e;
  auto* h = e.mutable_header();
  h->set_schema_version(schemas::kSchemaVersion);
  h->set_event_id("liaison:" + name + "@" + std::to_string(now));
  h->set_event_time_ms(now);
  h->set_received_time_ms(now);
  h->set_source(v1::SOURCE_OPERATOR);
  h->set_channel("cli");
  *e.mutable_liaison() = l;
  std::vector<store::OutRecord> records{{.topic = std::string(schemas::topic::kLiaisons),
                                         .key = name,
                                         .value = schemas::EncodeEvent(e),
                                         .timestamp_ms = now}};
  ASSIGN_OR_RETURN(auto pos, log.Append(records));
  ASSIGN_OR_RETURN(std::string token, principals.CreateToken(name, ingest::Role::kLiaison, l.area(), now));
  return std::make_pair(std::move(token), pos.front().offset);
}

namespace {

int LiaisonAdd(const Flags& f) {
  const std::string cmd = "liaison add";
  const std::string name = f.Get("name");
  if (name.empty() || HasSpaceOrControl(name)) {
    return Fail(cmd, Status::InvalidArgument("--name must be a non-empty id without spaces, e.g. ikeja-police-1"));
  }
  auto role = ParseLiaisonRole(f.Get("role"));
  if (!role.ok()) return Fail(cmd, role.status());
  if (Status s = CheckArea(f.Get("area")); !s.ok()) return Fail(cmd, s);
  v1::Liaison l;
  l.set_liaison_id(name);
  l.set_name(name);
  l.set_role(*role);
  l.set_area(f.Get("area"));
  if (f.Get("webhook-format") != "json" && f.Get("webhook-format") != "cap") {
    return Fail(cmd, Status::InvalidArgument("--webhook-format must be json or cap, got '" + f.Get("webhook-format") + "'"));
  }
  l.set_webhook_cap(f.Get("webhook-format") == "cap");
  if (f.Has("webhook")) {
    if (Status s = CheckWebhook(f.Get("webhook")); !s.ok()) return Fail(cmd, s);
    l.set_webhook_url(f.Get("webhook"));
  }
  if (f.Has("phone")) {
    auto phone = CheckPhone(f.Get("phone"));
    if (!phone.ok()) return Fail(cmd, phone.status());
    l.set_phone(*phone);
  }
  if (f.Has("email")) {
    if (Status s = CheckEmail(f.Get("email")); !s.ok()) return Fail(cmd, s);
    l.set_email(f.Get("email"));
  }
  auto tier = f.GetInt("tier");
  if (!tier.ok()) return Fail(cmd, tier.status());
  if (*tier < 1 || *tier > 9) return Fail(cmd, Status::InvalidArgument("--tier must be 1..9 (1: first responders)"));
  l.set_tier(static_cast<int32_t>(*tier));
  std::string language = f.Get("language");
  if (language.size() < 2 || language.size() > 3 ||
      !std::all_of(language.begin(), language.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    return Fail(cmd, Status::InvalidArgument("--language must be a language code like en, fr or ru"));
  }
  l.set_language(language);

  DataDir dir{f.Get("data")};
  NewDataDirGuard guard(dir.root);
  auto access = OpenReference(dir, KafkaOf(f), /*create=*/true);
  if (!access.ok()) return Fail(cmd, access.status());
  auto principals = ingest::PrincipalRegistry::Make(*access->state, *access->log);
  if (!principals.ok()) return Fail(cmd, principals.status());
  SystemClock clock;
  auto registered = RegisterLiaison(**principals, *access->log, l, clock.NowMs());
  if (!registered.ok()) return Fail(cmd, registered.status());
  guard.Keep();
  const std::string& token = registered->first;
  const auto* pos = &registered->second;
  std::string channels;
  for (auto [has, what] : {std::pair{!l.webhook_url().empty(), "webhook"}, std::pair{!l.phone().empty(), "sms"},
                           std::pair{!l.email().empty(), "email"}}) {
    if (has) channels += std::string(channels.empty() ? "" : ", ") + what;
  }
  std::printf("registered liaison '%s' (%s, area %s, tier %d, %s) at ref.liaisons offset %lld\n", name.c_str(),
              std::string(LiaisonRoleName(l.role())).c_str(), l.area().c_str(), l.tier(),
              channels.empty() ? "no delivery address: API only" : channels.c_str(),
              static_cast<long long>(*pos));
  std::printf("routing uses it from the next tick on; its liaison token is shown once, store it safely:\n%s\n",
              token.c_str());
  return 0;
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

int AlertsHistory(const Flags& f) {
  const std::string cmd = "alerts history";
  if (f.positional().size() != 1) return Fail(cmd, Status::InvalidArgument("give one alert id"));
  const std::string id = f.positional()[0];
  DataDir dir{f.Get("data")};
  auto log = OpenLog(dir, KafkaOf(f), /*create=*/false);
  if (!log.ok()) return Fail(cmd, log.status());
  const std::string topic(schemas::topic::kAlerts);
  auto partitions = (*log)->PartitionCount(topic);
  if (!partitions.ok()) {
    return Fail(cmd, Status::NotFound("unknown alert '" + id + "': there is no topic '" + topic +
                                      "' yet (the alert stage has not run on " + dir.root + ")"));
  }
  // Alerts are keyed by id, so one partition holds an alert's whole history, in order.
  int32_t partition = store::EventLog::PartitionOf({.topic = topic, .key = id}, *partitions);
  std::set<std::string> seen;  // a republished outbox repeats event ids
  int64_t next = 0, printed = 0;
  while (true) {
    auto batch = (*log)->Read({topic, partition}, next, 5000);
    if (!batch.ok()) return Fail(cmd, batch.status());
    if (batch->empty()) break;
    for (const auto& r : *batch) {
      next = r.offset + 1;
      if (r.key != id) continue;
      auto e = schemas::DecodeEvent(r.value);
      if (!e.ok()) {
        return Fail(cmd, e.status().WithContext(topic + "/" + std::to_string(partition) + " offset " +
                                                std::to_string(r.offset)));
      }
      if (!seen.insert(e->header().event_id()).second || !e->has_alert()) continue;
      const v1::AlertEvent& a = e->alert();
      if (printed++ == 0) {
        std::printf("alert %s: %s, area %s, category %s\n", id.c_str(), a.subject_id().c_str(), a.area().c_str(),
                    a.category().c_str());
      }
      std::string line = FormatRfc3339(e->header().event_time_ms()) + "  " +
                         std::string(alerts::KindName(a.kind())) + "  level=" + std::string(alerts::LevelName(a.level())) +
                         "  tier=" + std::to_string(a.tier());
      if (a.recipient_ids_size() > 0) line += "  recipients=" + Joined(a.recipient_ids());
      if (a.deadline_ms() > 0 && a.kind() != v1::AlertEvent::KIND_ROUTED) line += "  deadline=" + FormatRfc3339(a.deadline_ms());
      if (a.kind() == v1::AlertEvent::KIND_ACKNOWLEDGED) {
        line += "  actor=" + a.actor() + "  note=" + ingest::JsonString(a.note());
      }
      if (a.silenced()) line += "  (silenced)";
      std::printf("%s\n", line.c_str());
    }
  }
  if (printed == 0) {
    return Fail(cmd, Status::NotFound("unknown alert '" + id + "': no such id in topic '" + topic + "'"));
  }
  return 0;
}

int AlertsList(const Flags& f) {
  const std::string cmd = "alerts list";
  std::optional<alerts::AlertState> want;
  if (f.Has("state")) {
    auto s = alerts::ParseAlertState(f.Get("state"));
    if (!s.ok()) return Fail(cmd, s.status());
    want = *s;
  }
  DataDir dir{f.Get("data")};
  if (Status s = RequireDataDir(dir); !s.ok()) return Fail(cmd, s);
  if (Status s = RequireDirectory(dir.state(), "state directory"); !s.ok()) return Fail(cmd, s);
  auto state = store::StateStore::Open({.dir = dir.state()});
  if (!state.ok()) return Fail(cmd, state.status().WithContext("is `ewarn serve` running on " + dir.root + "?"));
  std::vector<std::string> names = (*state)->StoreNames();
  int count = 0;
  if (std::find(names.begin(), names.end(), alerts::kAlertStore) != names.end()) {
    std::printf("%-14s %-13s %-9s %-4s %-28s %-20s %-24s %s\n", "ALERT", "STATE", "LEVEL", "TIER", "AREA", "SUBJECT",
                "RAISED", "ACKNOWLEDGED BY");
    Status s = alerts::ScanAlerts(**state, [&](const alerts::AlertRecord& r) {
      if (want && r.state != *want) return true;
      if (f.Has("area") && !alerts::AreaPrefixCovers(f.Get("area"), r.alert.area())) return true;
      ++count;
      std::printf("%-14s %-13s %-9s %-4d %-28s %-20s %-24s %s\n", r.alert.alert_id().c_str(),
                  std::string(alerts::AlertStateName(r.state)).c_str(),
                  std::string(alerts::LevelName(r.alert.level())).c_str(), r.alert.tier(), r.alert.area().c_str(),
                  r.alert.subject_id().c_str(), FormatRfc3339(r.raised_ms).c_str(), r.alert.actor().c_str());
      return true;
    });
    if (!s.ok()) return Fail(cmd, s);
  }
  std::printf("%d alerts\n", count);
  return 0;
}

}  // namespace

std::vector<Command> AlertCommands() {
  return {
      {{"liaison", "add"},
       "register a security liaison (ref.liaisons) and create its token; prints the token as the last line",
       {{"data", "DIR", "the data directory (not needed with --kafka)", ""},
        kKafkaFlag,
        {"name", "NAME", "liaison id, also its token's name (unique)", "", true},
        {"role", "ROLE", "police, peacekeeping or commission", "", true},
        {"area", "AREA", "area path it covers, e.g. LAGOS/IKEJA", "", true},
        {"webhook", "URL", "deliver alerts by HTTP POST to this http(s) URL", ""},
        {"webhook-format", "json|cap", "the webhook's body: ewarn's JSON or an OASIS CAP 1.2 document", "json"},
        {"phone", "E164", "deliver alerts by SMS to this number, e.g. +2348012345678", ""},
        {"email", "ADDRESS", "deliver alerts by e-mail", ""},
        {"tier", "N", "escalation tier, 1 = first responders (reached first)", "1"},
        {"language", "LANG", "language of SMS texts: en, fr, ru, ...", "en"}},
       "",
       LiaisonAdd},
      {{"alerts", "history"},
       "print every lifecycle event of an alert: who was told, who acknowledged, when, with which note",
       {kData, kKafkaFlag},
       "ALERT_ID",
       AlertsHistory},
      {{"alerts", "list"},
       "list alerts from the alert stage's state",
       {kData,
        {"state", "STATE", "only alerts in this state: open, acknowledged or resolved", ""},
        {"area", "AREA", "only alerts in this area (path prefix)", ""}},
       "",
       AlertsList,
       "it reads the alert stage's state in DIR/state, which stays on the node that runs the stage also when the "
       "log is on Kafka; give that node's --data (or ask a running node: GET /v1/alerts)"},
  };
}

}  // namespace ewarn::app
