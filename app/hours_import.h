// Polling hours per area from CSV (`ewarn import-hours`): parsing and checking the rows against
// the areas the stations define, before anything is written to ref.hours.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"
#include "ewarn/v1/reference.pb.h"

namespace ewarn::app {

struct HoursImport {
  std::vector<v1::AreaHours> hours;   // one per area, in file order; empty when there are problems
  int64_t rows = 0;                   // data rows read
  std::vector<std::string> problems;  // "row 3 (line 4): ..."; the caller writes nothing while any
};

// Parses CSV with a header naming the columns area, open, close and tz (any order, any case;
// other columns are ignored). open and close are local times HH:MM (close after open, at most
// 24:00); tz is the local time's offset from UTC on polling day, +HH:MM or -HH:MM, or UTC. IANA
// names (Asia/Jakarta) are refused with the reason: g++ 12's library has no time zone database.
// A row whose area is not in `known` (no station lies in it), a bad time or offset, or an area
// given twice is a problem naming the row. InvalidArgument when the header lacks a column.
Result<HoursImport> ParseHours(std::string_view csv, const std::set<std::string>& known);

// "+03:00" -> 180, "-09:30" -> -570, "UTC" -> 0; InvalidArgument saying what is expected.
Result<int32_t> ParseUtcOffset(std::string_view tz);
// "07:30" -> 27,000,000 ms; "24:00" is the end of the day. InvalidArgument otherwise.
Result<int64_t> ParseTimeOfDay(std::string_view text);

// Appends the hours to ref.hours (created if missing) in one append.
Status WriteHours(store::EventLog& log, const std::vector<v1::AreaHours>& hours, int64_t now_ms);

}  // namespace ewarn::app
