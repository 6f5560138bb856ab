// CSV for the duty room's exports (GET /v1/reports, /v1/alerts, /v1/risk with format=csv): RFC 4180
// rows with CRLF, a header row then an HXL hashtag row (https://hxlstandard.org), so
// humanitarian tools (HDX, HXL Proxy) read the columns without a mapping.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ewarn/ingest/http_server.h"

namespace ewarn::app {

// One field, quoted when it holds a comma, quote or line break. A field starting with =, +, -,
// @, a tab or a carriage return is prefixed with ' so a spreadsheet shows it as text instead of
// running it as a formula (CSV injection); numbers are written by the callers, not through here.
inline std::string CsvField(std::string_view v) {
  std::string s(v);
  if (!s.empty() && std::string_view("=+-@\t\r").find(s[0]) != std::string_view::npos) s.insert(s.begin(), '\'');
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

// A row of already escaped fields (CsvField) or numbers, CRLF-terminated.
inline std::string CsvRow(const std::vector<std::string>& fields) {
  std::string row;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) row.push_back(',');
    row += fields[i];
  }
  return row + "\r\n";
}

// Region, district and ward of an area path ("LAGOS/IKEJA/W1"), "" for the levels it lacks:
// the #adm1, #adm2, #adm3 columns.
inline std::vector<std::string> AdminLevels(std::string_view area) {
  std::vector<std::string> levels(3);
  for (size_t i = 0; i < 3 && !area.empty(); ++i) {
    size_t slash = area.find('/');
    levels[i] = std::string(area.substr(0, slash));
    area = slash == std::string_view::npos ? std::string_view() : area.substr(slash + 1);
  }
  return levels;
}

// An export's answer: `body` as `content_type`, downloaded as `filename`, never cached (it holds
// what the caller's token may see).
inline ingest::HttpResponse ExportResponse(std::string content_type, std::string filename, std::string body) {
  ingest::HttpResponse out;
  out.content_type = std::move(content_type);
  out.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + filename + "\"");
  out.headers.emplace_back("Cache-Control", "no-store");
  out.body = std::move(body);
  return out;
}

}  // namespace ewarn::app
