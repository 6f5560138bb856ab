// libFuzzer target: the dead-letter encoder (GET /v1/rejected) on any bytes in any field. The
// page must be valid UTF-8 and valid JSON, raw_base64 must give the bytes back exactly, and the
// printable `raw` must too (its escapes undone) when the bytes are not UTF-8.
#include <boost/json.hpp>
#include <boost/json/src.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ewarn/base/text.h"
#include "ewarn/ingest/dead_letters.h"

namespace {

// Undoes EscapeInvalidUtf8: "\\" -> '\', "\xHH" -> the byte.
std::string Unescape(std::string_view s) {
  auto hex = [](char c) { return c <= '9' ? c - '0' : c - 'A' + 10; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
    } else if (i + 1 < s.size() && s[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (i + 3 < s.size() && s[i + 1] == 'x') {
      out.push_back(static_cast<char>(hex(s[i + 2]) * 16 + hex(s[i + 3])));
      i += 3;
    } else {
      std::abort();  // EscapeInvalidUtf8 writes no other backslash
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Fields split at 0x1e (record separator): endpoint, principal, reason code, reason, field,
  // content type, raw; the raw bytes may hold 0x1e themselves.
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> fields;
  while (fields.size() < 6) {
    size_t at = in.find('\x1e');
    if (at == std::string_view::npos) break;
    fields.emplace_back(in.substr(0, at));
    in.remove_prefix(at + 1);
  }
  fields.resize(6);
  ewarn::ingest::RejectedRecord r{.offset = static_cast<int64_t>(size),
                                  .received_ms = 1700000000000,
                                  .endpoint = fields[0],
                                  .principal = fields[1],
                                  .reason_code = fields[2],
                                  .reason = fields[3],
                                  .field = fields[4],
                                  .content_type = fields[5],
                                  .raw = std::string(in)};
  std::string page = ewarn::ingest::DeadLetterPageJson({r, r}, r.offset + 1);
  if (!ewarn::IsValidUtf8(page)) std::abort();
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(page, ec);
  if (ec) std::abort();
  const auto& first = v.at("rejected").as_array().at(0).as_object();
  std::string bytes;
  if (!ewarn::Base64Decode(std::string(first.at("raw_base64").as_string()), &bytes) || bytes != r.raw) std::abort();
  const std::string raw(first.at("raw").as_string());
  if (first.at("raw_utf8").as_bool() ? raw != r.raw : Unescape(raw) != r.raw) std::abort();
  if (std::string(first.at("principal").as_string()).empty() != r.principal.empty()) std::abort();
  return 0;
}
