// The channels' formats: webhook JSON, SMS text in en/fr/ru, e-mail subject and body.
#include <charconv>
#include <vector>

#include "ewarn/alerts/channel.h"
#include "ewarn/base/hash.h"
#include "format.h"

namespace ewarn::alerts {
namespace {

// The words a short message needs, per language. Anything else falls back to English.
struct Words {
  std::string_view low, elevated, high, critical;
  std::string_view resolved, escalated, updated;
  std::string_view at;       // "{category} at {place}"
  std::string_view ack;      // "Ack: {ref}"
  std::string_view more;     // "(+{n} more)"
  std::string_view cluster, incident, turnout, kit, hate, risk;
  std::string_view dear, alerts_for_you, area, subject, score, factors, deadline, reply_ack;
};

constexpr Words kEnglish{
    "LOW", "ELEVATED", "HIGH", "CRITICAL", "resolved", "escalated", "update", " at ", "Ack", "more",
    "incident cluster", "incident", "turnout anomaly", "voter-ID kit problem", "hate speech surge",
    "risk", "Dear", "ewarn has alerts for you", "Area", "Subject", "Score", "Why", "Acknowledge by",
    "To acknowledge, reply with the reference"};
constexpr Words kFrench{
    "FAIBLE", "MODÉRÉ", "ÉLEVÉ", "CRITIQUE", "résolu", "escaladé", "mise à jour", " à ", "Accusé",
    "autres", "groupe d'incidents", "incident", "anomalie de participation",
    "problème de kit biométrique", "hausse des discours de haine", "risque", "Bonjour",
    "ewarn a des alertes pour vous", "Zone", "Sujet", "Score", "Motifs", "Accuser réception avant",
    "Pour accuser réception, répondez avec la référence"};
constexpr Words kRussian{
    "НИЗКИЙ", "ПОВЫШЕННЫЙ", "ВЫСОКИЙ", "КРИТИЧЕСКИЙ", "снято", "эскалация", "обновление", ": ",
    "Подтв.", "ещё", "серия инцидентов", "инцидент", "аномалия явки", "сбой комплекта ИДИ",
    "рост языка вражды", "риск", "Здравствуйте", "ewarn: для вас есть оповещения", "Район",
    "Объект", "Оценка", "Причины", "Подтвердить до", "Чтобы подтвердить, ответьте ссылкой"};

const Words& WordsFor(std::string_view language) {
  if (language.starts_with("fr")) return kFrench;
  if (language.starts_with("ru")) return kRussian;
  return kEnglish;
}

std::string_view LevelWord(const Words& w, v1::RiskLevel level) {
  switch (level) {
    case v1::RISK_LEVEL_LOW: return w.low;
    case v1::RISK_LEVEL_ELEVATED: return w.elevated;
    case v1::RISK_LEVEL_HIGH: return w.high;
    case v1::RISK_LEVEL_CRITICAL: return w.critical;
    default: return w.risk;
  }
}

std::string_view CategoryWord(const Words& w, std::string_view detector) {
  if (detector.starts_with("cluster")) return w.cluster;
  if (detector.starts_with("turnout")) return w.turnout;
  if (detector.starts_with("kit")) return w.kit;
  if (detector.starts_with("hate")) return w.hate;
  if (detector.starts_with("incident")) return w.incident;
  return w.risk;
}

std::string Number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "0";
  return std::string(buf, end);
}

// "HIGH", "HIGH (escalated)", "resolved" for the lead alert.
std::string Headline(const Words& w, const v1::AlertEvent& a) {
  std::string level(LevelWord(w, a.level()));
  switch (a.kind()) {
    case v1::AlertEvent::KIND_RESOLVED: return std::string(w.resolved);
    case v1::AlertEvent::KIND_ESCALATED: return level + " (" + std::string(w.escalated) + ")";
    case v1::AlertEvent::KIND_UPDATED: return level + " (" + std::string(w.updated) + ")";
    default: return level;
  }
}

}  // namespace

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') break;  // not allowed in XML 1.0
        out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string_view LevelName(v1::RiskLevel level) {
  switch (level) {
    case v1::RISK_LEVEL_LOW: return "low";
    case v1::RISK_LEVEL_ELEVATED: return "elevated";
    case v1::RISK_LEVEL_HIGH: return "high";
    case v1::RISK_LEVEL_CRITICAL: return "critical";
    default: return "unspecified";
  }
}

std::string_view ChannelName(v1::Delivery::Channel channel) {
  switch (channel) {
    case v1::Delivery::CHANNEL_WEBHOOK: return "webhook";
    case v1::Delivery::CHANNEL_SMS: return "sms";
    case v1::Delivery::CHANNEL_EMAIL: return "email";
    case v1::Delivery::CHANNEL_CAP: return "cap";
    default: return "unspecified";
  }
}

const v1::AlertEvent& LeadAlert(const v1::Delivery& delivery) {
  static const v1::AlertEvent kEmpty;
  const v1::AlertEvent* lead = delivery.alerts().empty() ? &kEmpty : &delivery.alerts(0);
  for (const auto& a : delivery.alerts()) {
    if (a.level() > lead->level()) lead = &a;
  }
  return *lead;
}

std::string PlaceName(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  if (parts.empty()) return "";
  if (parts.size() < 3) return std::string(parts.back());
  return std::string(parts[2]) + ", " + std::string(parts[1]);
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

std::string Utf8Prefix(std::string_view s, size_t n) {
  size_t i = 0, seen = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80 && seen++ == n) break;
  }
  return std::string(s.substr(0, i));
}

std::string ShortAlertRef(std::string_view alert_id) { return Sha256Hex(alert_id).substr(0, 6); }

std::string WebhookSignature(std::string_view secret, std::string_view timestamp,
                             std::string_view body) {
  std::string message;
  message.reserve(timestamp.size() + 1 + body.size());
  message.append(timestamp).append(".").append(body);
  return "sha256=" + HmacSha256Hex(secret, message);
}

std::string WebhookJson(const v1::Delivery& d) {
  std::string out = "{\"delivery_id\":" + JsonQuote(d.delivery_id()) +
                    ",\"recipient_id\":" + JsonQuote(d.recipient_id()) +
                    ",\"recipient_name\":" + JsonQuote(d.recipient_name()) +
                    ",\"channel\":" + JsonQuote(ChannelName(d.channel())) +
                    ",\"language\":" + JsonQuote(d.language()) + ",\"alerts\":[";
  for (int i = 0; i < d.alerts_size(); ++i) {
    const v1::AlertEvent& a = d.alerts(i);
    if (i) out += ",";
    out += "{\"alert_id\":" + JsonQuote(a.alert_id()) + ",\"ref\":" + JsonQuote(ShortAlertRef(a.alert_id())) +
           ",\"kind\":" + JsonQuote(KindName(a.kind())) + ",\"area\":" + JsonQuote(a.area()) +
           ",\"is_area\":" + (a.is_area() ? "true" : "false") +
           ",\"level\":" + JsonQuote(LevelName(a.level())) +
           ",\"subject_id\":" + JsonQuote(a.subject_id()) + ",\"summary\":" + JsonQuote(a.summary()) +
           ",\"category\":" + JsonQuote(a.category()) + ",\"score\":" + Number(a.score()) +
           ",\"tier\":" + std::to_string(a.tier()) + ",\"deadline_ms\":" + std::to_string(a.deadline_ms()) +
           ",\"factors\":[";
    for (int j = 0; j < a.factors_size(); ++j) {
      const v1::RiskFactor& f = a.factors(j);
      if (j) out += ",";
      out += "{\"detector\":" + JsonQuote(f.detector()) + ",\"contribution\":" + Number(f.contribution()) +
             ",\"explanation\":" + JsonQuote(f.explanation()) + "}";
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

std::string SmsText(const v1::Delivery& d) {
  constexpr size_t kMax = 160;
  const Words& w = WordsFor(d.language());
  const v1::AlertEvent& a = LeadAlert(d);
  std::string head = "ewarn " + Headline(w, a) + ": " + std::string(CategoryWord(w, a.category()));
  std::string tail;
  if (d.alerts_size() > 1) tail += " (+" + std::to_string(d.alerts_size() - 1) + " " + std::string(w.more) + ")";
  tail += ". " + std::string(w.ack) + ": " + ShortAlertRef(a.alert_id());
  std::string place = PlaceName(a.area());
  // The place gives way first when the text is too long (a ward name can be long).
  size_t fixed = CodePoints(head) + CodePoints(w.at) + CodePoints(tail);
  if (fixed + CodePoints(place) > kMax) place = fixed + 1 < kMax ? Utf8Prefix(place, kMax - fixed - 1) + "~" : "";
  std::string text = head + (place.empty() ? "" : std::string(w.at) + place) + tail;
  return Utf8Prefix(text, kMax);
}

std::string EmailSubject(const v1::Delivery& d) {
  const Words& w = WordsFor(d.language());
  const v1::AlertEvent& a = LeadAlert(d);
  std::string subject = "[ewarn] " + Headline(w, a) + ": " + std::string(CategoryWord(w, a.category())) +
                        std::string(w.at) + PlaceName(a.area());
  if (d.alerts_size() > 1) subject += " (+" + std::to_string(d.alerts_size() - 1) + " " + std::string(w.more) + ")";
  return subject;
}

std::string EmailBody(const v1::Delivery& d) {
  const Words& w = WordsFor(d.language());
  std::string out = std::string(w.dear) + " " + d.recipient_name() + ",\n\n" + std::string(w.alerts_for_you) + ":\n";
  for (const auto& a : d.alerts()) {
    out += "\n* " + Headline(w, a) + ": " + std::string(CategoryWord(w, a.category())) + std::string(w.at) +
           PlaceName(a.area()) + " [" + ShortAlertRef(a.alert_id()) + "]\n";
    if (!a.summary().empty()) out += "  " + a.summary() + "\n";
    out += "  " + std::string(w.area) + ": " + a.area() + "\n";
    out += "  " + std::string(w.subject) + ": " + a.subject_id() + "\n";
    out += "  " + std::string(w.score) + ": " + Number(a.score()) + "\n";
    if (a.factors_size() > 0) {
      out += "  " + std::string(w.factors) + ":\n";
      for (int j = 0; j < a.factors_size() && j < 5; ++j) out += "   - " + a.factors(j).explanation() + "\n";
    }
    if (a.deadline_ms() > 0) out += "  " + std::string(w.deadline) + ": " + FormatRfc3339(a.deadline_ms()) + "\n";
  }
  out += "\n" + std::string(w.reply_ack) + ".\n-- \newarn (alert " + d.delivery_id() + ")\n";
  return out;
}

std::string EmailMessageId(const v1::Delivery& d) {
  std::string local;
  for (unsigned char c : d.delivery_id()) {
    local.push_back(std::isalnum(c) || c == '.' || c == '-' || c == '_' ? static_cast<char>(c) : '.');
  }
  // Long or odd ids are still unique: the hash keeps two ids apart after sanitizing.
  return "<" + local.substr(0, 64) + "." + Sha256Hex(d.delivery_id()).substr(0, 12) + "@ewarn>";
}

}  // namespace ewarn::alerts
