// OASIS CAP 1.2 (http://docs.oasis-open.org/emergency/cap/v1.2/): element order and value
// sets follow the specification's data dictionary; tests validate every document with xmllint
// against the official OASIS schema (tests/data/CAP-v1.2.xsd, its source in tests/data/README.md).
#include "ewarn/alerts/cap.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <vector>

#include "format.h"

namespace ewarn::alerts {
namespace {

struct Grade {
  const char* urgency;
  const char* severity;
  const char* certainty;
};

// ewarn's risk level -> CAP's three scales. A risk is a forecast of trouble, so certainty is
// at most Likely ("Observed" would claim the event happened).
Grade GradeOf(v1::RiskLevel level) {
  switch (level) {
    case v1::RISK_LEVEL_CRITICAL: return {"Immediate", "Extreme", "Likely"};
    case v1::RISK_LEVEL_HIGH: return {"Expected", "Severe", "Likely"};
    case v1::RISK_LEVEL_ELEVATED: return {"Future", "Moderate", "Possible"};
    case v1::RISK_LEVEL_LOW: return {"Future", "Minor", "Unlikely"};
    default: return {"Unknown", "Unknown", "Unknown"};
  }
}

const char* MsgType(v1::AlertEvent::Kind kind) {
  switch (kind) {
    case v1::AlertEvent::KIND_RAISED: return "Alert";
    case v1::AlertEvent::KIND_RESOLVED: return "Cancel";
    default: return "Update";
  }
}

void Element(std::string& out, int indent, std::string_view name, std::string_view text) {
  out.append(indent, ' ');
  out += "<" + std::string(name) + ">" + XmlEscape(text) + "</" + std::string(name) + ">\n";
}

// A WGS 84 coordinate or a radius in CAP's plain decimal form (CAP 1.2 §3.2.4: "lat,lon r").
std::string Decimal(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return ec == std::errc() ? std::string(buf, end) : "0";
}

}  // namespace

std::string CapDateTime(TimeMs t) {
  std::time_t seconds = static_cast<std::time_t>((t >= 0 ? t : t - 999) / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  return buf;
}

std::string RenderCap(const v1::AlertEvent& a, const CapOptions& o) {
  std::string identifier = o.identifier.empty()
                               ? "ewarn-" + a.alert_id() + "-" + std::string(KindName(a.kind()))
                               : o.identifier;
  Grade grade = GradeOf(a.level());
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n";
  Element(out, 2, "identifier", identifier);
  Element(out, 2, "sender", o.sender);
  Element(out, 2, "sent", CapDateTime(o.sent_ms));
  Element(out, 2, "status", "Actual");
  Element(out, 2, "msgType", MsgType(a.kind()));
  Element(out, 2, "source", "ewarn");
  Element(out, 2, "scope", "Restricted");
  Element(out, 2, "restriction", o.restriction);
  Element(out, 2, "code", "ewarn:" + std::string(KindName(a.kind())));
  if (!o.references.empty()) Element(out, 2, "references", o.references);
  Element(out, 2, "incidents", a.alert_id());
  out += "  <info>\n";
  Element(out, 4, "language", o.language);
  Element(out, 4, "category", "Security");
  Element(out, 4, "event", a.category().empty() ? "election risk" : "election risk: " + a.category());
  Element(out, 4, "responseType", a.kind() == v1::AlertEvent::KIND_RESOLVED ? "AllClear" : "Monitor");
  Element(out, 4, "urgency", grade.urgency);
  Element(out, 4, "severity", grade.severity);
  Element(out, 4, "certainty", grade.certainty);
  Element(out, 4, "audience", "security liaisons");
  // A risk is re-assessed continuously: the picture is good for valid_for_ms, unless a newer
  // message replaces it first; a Cancel's information ends when it is sent.
  TimeMs expires = a.kind() == v1::AlertEvent::KIND_RESOLVED ? o.sent_ms : o.sent_ms + o.valid_for_ms;
  Element(out, 4, "expires", CapDateTime(expires));
  Element(out, 4, "senderName", o.sender_name);
  std::string headline = std::string(LevelName(a.level())) + " risk: " +
                         (a.category().empty() ? "election risk" : a.category()) + " at " + a.area();
  Element(out, 4, "headline", headline.substr(0, 160));
  // The top factors by contribution, each with its explanation for a person.
  std::vector<const v1::RiskFactor*> factors;
  for (const auto& f : a.factors()) factors.push_back(&f);
  std::stable_sort(factors.begin(), factors.end(),
                   [](auto* x, auto* y) { return x->contribution() > y->contribution(); });
  std::string description = a.summary();
  for (size_t i = 0; i < factors.size() && i < 5; ++i) {
    if (!description.empty()) description += "\n";
    description += "- " + factors[i]->detector() + ": " + factors[i]->explanation();
  }
  if (!description.empty()) Element(out, 4, "description", description);
  if (a.kind() != v1::AlertEvent::KIND_RESOLVED) {
    Element(out, 4, "instruction", "Acknowledge with reference " + a.alert_id() + ".");
  }
  out += "    <parameter>\n";
  Element(out, 6, "valueName", "ewarn:subject");
  Element(out, 6, "value", a.subject_id());
  out += "    </parameter>\n    <parameter>\n";
  Element(out, 6, "valueName", "ewarn:score");
  Element(out, 6, "value", std::to_string(a.score()));
  out += "    </parameter>\n    <area>\n";
  std::string where = a.area().empty() ? "unspecified" : a.area();
  if (!a.is_area() && !a.subject_id().empty()) where = "station " + a.subject_id() + ", " + where;
  Element(out, 6, "areaDesc", where);
  // A station's point with a radius around it; an area alert has no coordinates of its own
  // (its geocode names it). 0,0 is the "unknown" of ewarn's GeoPoint, never a station.
  if (a.has_location() && (a.location().lat() != 0 || a.location().lon() != 0)) {
    Element(out, 6, "circle", Decimal(a.location().lat()) + "," + Decimal(a.location().lon()) + " " +
                                  Decimal(o.circle_radius_km));
  }
  out += "      <geocode>\n";
  Element(out, 8, "valueName", "ewarn:area");
  Element(out, 8, "value", a.area());
  out += "      </geocode>\n    </area>\n  </info>\n</alert>\n";
  return out;
}

}  // namespace ewarn::alerts
