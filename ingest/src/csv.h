// Internal: RFC 4180 records, shared by the station and contest importers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ewarn::ingest {

// Fields of one record starting at `pos`; advances `pos` past the record's line end and counts
// the lines it spans in `lines`. Quoted fields may hold commas, doubled quotes and newlines.
void NextCsvRecord(std::string_view data, size_t* pos, std::vector<std::string>* fields, int64_t* lines);

}  // namespace ewarn::ingest
