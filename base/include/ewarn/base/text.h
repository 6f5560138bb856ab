// Small text encoders shared by the HTTP-speaking modules (ingest, alerts, sim).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace ewarn {

// A JSON string literal, quotes included: '"' '\' and control characters escaped, UTF-8 passed
// through as is.
std::string JsonQuote(std::string_view s);

// Percent-encoding for URL query values (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view s);

}  // namespace ewarn
