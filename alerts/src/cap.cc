// OASIS CAP 1.2 (http://docs.oasis-open.org/emergency/cap/v1.2/): element order and value
// sets follow the specification's data dictionary; tests validate against a transcription of
// its schema (tests/data/cap12.xsd).
#include "ewarn/alerts/cap.h"

#include <algorithm>
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
  if (a.deadline_ms() > 0) Element(out, 4, "expires", CapDateTime(a.deadline_ms()));
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
  Element(out, 6, "areaDesc", a.area().empty() ? "unspecified" : a.area());
  out += "      <geocode>\n";
  Element(out, 8, "valueName", "ewarn:area");
  Element(out, 8, "value", a.area());
  out += "      </geocode>\n    </area>\n  </info>\n</alert>\n";
  return out;
}

}  // namespace ewarn::alerts
