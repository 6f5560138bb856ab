// Polling hours from CSV (hours_import.h).
#include "hours_import.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>

#include "ewarn/ingest/stations.h"
#include "ewarn/schemas/events.h"
#include "ewarn/v1/event.pb.h"

namespace ewarn::app {
namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// One CSV line's fields: commas separate, a field in double quotes may hold commas and "".
std::vector<std::string> SplitCsvLine(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back().push_back(c);
    }
  }
  for (auto& f : fields) f = Trim(f);
  return fields;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool Digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string HhMm(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld", static_cast<long long>(ms / 3'600'000),
                static_cast<long long>(ms / 60'000 % 60));
  return buf;
}

}  // namespace

Result<int64_t> ParseTimeOfDay(std::string_view text) {
  const std::string t = Trim(text);
  size_t colon = t.find(':');
  const std::string h = t.substr(0, colon), m = colon == std::string::npos ? "" : t.substr(colon + 1);
  if (colon == std::string::npos || h.size() > 2 || m.size() != 2 || !Digits(h) || !Digits(m)) {
    return Status::InvalidArgument("'" + t + "' is not a time of day HH:MM (e.g. 07:30)");
  }
  int hours = std::stoi(h), minutes = std::stoi(m);
  if (minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) {
    return Status::InvalidArgument("'" + t + "' is not a time of day between 00:00 and 24:00");
  }
  return (int64_t{hours} * 60 + minutes) * 60'000;
}

Result<int32_t> ParseUtcOffset(std::string_view tz) {
  const std::string t = Trim(tz);
  if (t == "UTC" || t == "Z" || t == "utc") return 0;
  if (t.find('/') != std::string::npos) {
    return Status::InvalidArgument("time zone '" + t +
                                   "': IANA names are not supported (this build's C++ library has no time zone "
                                   "database); give the offset from UTC on polling day, e.g. +07:00");
  }
  const std::string digits = t.size() > 1 ? t.substr(1) : "";
  size_t colon = digits.find(':');
  const std::string h = digits.substr(0, colon), m = colon == std::string::npos ? "00" : digits.substr(colon + 1);
  if ((t.empty() || (t[0] != '+' && t[0] != '-')) || h.size() != 2 || m.size() != 2 || !Digits(h) || !Digits(m)) {
    return Status::InvalidArgument("time zone '" + t + "' is not an offset from UTC like +03:00, -05:00 or UTC");
  }
  int minutes = std::stoi(h) * 60 + std::stoi(m);
  if (std::stoi(m) > 59 || minutes > 14 * 60 || (t[0] == '-' && minutes > 12 * 60)) {
    return Status::InvalidArgument("time zone '" + t + "' is outside -12:00 to +14:00");
  }
  return t[0] == '-' ? -minutes : minutes;
}

Result<HoursImport> ParseHours(std::string_view csv, const std::set<std::string>& known) {
  HoursImport out;
  std::map<std::string, int64_t> row_of_area;  // canonical path -> the row that gave it
  std::vector<std::string> header;
  int col_area = -1, col_open = -1, col_close = -1, col_tz = -1;
  int64_t line_no = 0;
  for (size_t pos = 0; pos < csv.size();) {
    size_t end = csv.find('\n', pos);
    if (end == std::string_view::npos) end = csv.size();
    std::string_view line = csv.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty()) continue;
    std::vector<std::string> fields = SplitCsvLine(line);
    if (header.empty()) {
      header = fields;
      for (int i = 0; i < static_cast<int>(fields.size()); ++i) {
        const std::string name = Lower(fields[static_cast<size_t>(i)]);
        if (name == "area") col_area = i;
        if (name == "open") col_open = i;
        if (name == "close") col_close = i;
        if (name == "tz") col_tz = i;
      }
      std::string missing;
      for (auto [col, name] : {std::pair{col_area, "area"}, {col_open, "open"}, {col_close, "close"}, {col_tz, "tz"}}) {
        if (col < 0) missing += (missing.empty() ? "" : ", ") + std::string(name);
      }
      if (!missing.empty()) {
        return Status::InvalidArgument("the header (line " + std::to_string(line_no) + ") lacks the column(s) " +
                                       missing + ": the first line must name area,open,close,tz");
      }
      continue;
    }
    const int64_t row = ++out.rows;
    const std::string where = "row " + std::to_string(row) + " (line " + std::to_string(line_no) + ")";
    auto field = [&](int col) { return col < static_cast<int>(fields.size()) ? fields[static_cast<size_t>(col)] : ""; };
    Result<std::string> area = ingest::CanonicalAreaPath(field(col_area));
    if (!area.ok()) {
      out.problems.push_back(where + ": area '" + field(col_area) + "': " + area.status().message());
      continue;
    }
    if (!known.contains(*area)) {
      out.problems.push_back(where + ": unknown area '" + *area +
                             "': no polling station lies in it (import the stations first, or check the spelling)");
      continue;
    }
    if (auto it = row_of_area.find(*area); it != row_of_area.end()) {
      out.problems.push_back(where + ": area '" + *area + "' is given twice (also row " +
                             std::to_string(it->second) + "); give each area once");
      continue;
    }
    row_of_area[*area] = row;
    Result<int64_t> open = ParseTimeOfDay(field(col_open));
    Result<int64_t> close = ParseTimeOfDay(field(col_close));
    Result<int32_t> offset = ParseUtcOffset(field(col_tz));
    if (!open.ok()) out.problems.push_back(where + ": open " + open.status().message());
    if (!close.ok()) out.problems.push_back(where + ": close " + close.status().message());
    if (!offset.ok()) out.problems.push_back(where + ": " + offset.status().message());
    if (!open.ok() || !close.ok() || !offset.ok()) continue;
    if (*close <= *open) {
      out.problems.push_back(where + ": close " + HhMm(*close) + " is not after open " + HhMm(*open) +
                             " (polls open and close on one local day)");
      continue;
    }
    v1::AreaHours h;
    h.set_area_id(*area);
    h.set_open_ms_of_day(*open);
    h.set_close_ms_of_day(*close);
    h.set_utc_offset_minutes(*offset);
    h.set_time_zone(field(col_tz));
    out.hours.push_back(std::move(h));
  }
  if (header.empty()) return Status::InvalidArgument("the file is empty: the first line must name area,open,close,tz");
  if (out.rows == 0) out.problems.push_back("no rows after the header: nothing to import");
  if (!out.problems.empty()) out.hours.clear();
  return out;
}

Status WriteHours(store::EventLog& log, const std::vector<v1::AreaHours>& hours, int64_t now_ms) {
  const std::string topic(schemas::topic::kHours);
  RETURN_IF_ERROR(log.CreateTopic({.name = topic, .partitions = 1, .compacted = true}));
  std::vector<store::OutRecord> records;
  for (const auto& h : hours) {
    v1::Event e;
    auto* header = e.mutable_header();
    header->set_schema_version(schemas::kSchemaVersion);
    header->set_event_id("hours:" + h.area_id());
    header->set_event_time_ms(now_ms);
    header->set_received_time_ms(now_ms);
    header->set_source(v1::SOURCE_OPERATOR);
    *e.mutable_hours() = h;
    records.push_back({.topic = topic, .key = h.area_id(), .value = schemas::EncodeEvent(e), .timestamp_ms = now_ms,
                       .partition = 0});
  }
  return log.Append(records).status();
}

}  // namespace ewarn::app
