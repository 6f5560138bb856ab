// Shared text helpers for the channels and the CAP renderer. Private to alerts/.
#pragma once

#include "ewarn/alerts/lifecycle.h"
#include "ewarn/base/text.h"

#include <string>
#include <string_view>

#include "ewarn/v1/alerts.pb.h"

namespace ewarn::alerts {

// A JSON string literal, quotes included (UTF-8 passed through, controls escaped).
using ::ewarn::JsonQuote;  // base/text.h
// XML character data / attribute value escaping (& < > " '), and drops characters XML 1.0
// cannot carry (C0 controls other than tab, LF, CR).
std::string XmlEscape(std::string_view s);
// "low", "elevated", "high", "critical" ("unspecified" otherwise).
std::string_view LevelName(v1::RiskLevel level);
// KindName ("raised", "updated", ...) is lifecycle.h's.
// The alert a short text leads with: the highest level, the first among equals.
const v1::AlertEvent& LeadAlert(const v1::Delivery& delivery);
// "ward, district" from "region/district/ward" (the path itself when shorter).
std::string PlaceName(std::string_view area_path);
// Number of Unicode code points in UTF-8 text, and the longest prefix of at most `n` of them.
size_t CodePoints(std::string_view utf8);
std::string Utf8Prefix(std::string_view utf8, size_t n);

}  // namespace ewarn::alerts
