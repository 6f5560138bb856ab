// Small text encoders shared by the HTTP-speaking modules (ingest, alerts, sim).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace ewarn {

// A JSON string literal, quotes included: '"' '\' and control characters escaped, UTF-8 passed
// through as is. Text that is not UTF-8 is quoted as EscapeInvalidUtf8 renders it, so the
// literal is always valid JSON.
std::string JsonQuote(std::string_view s);

// Is `s` well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF)?
bool IsValidUtf8(std::string_view s);

// `s` as valid UTF-8 text, losslessly: well-formed UTF-8 is kept, every other byte is written
// \xHH and every backslash \\, so the bytes can be recovered. For showing raw input to people.
std::string EscapeInvalidUtf8(std::string_view s);

// Standard base64 (RFC 4648 section 4) with padding, and back; Decode returns false on anything
// else.
std::string Base64Encode(std::string_view bytes);
bool Base64Decode(std::string_view text, std::string* out);

// Percent-encoding for URL query values (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view s);

}  // namespace ewarn
