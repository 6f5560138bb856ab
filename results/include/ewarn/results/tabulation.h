// ewarn::results tabulation: totals per area of the sheets that count (GET /v1/results). Pure
// functions over the counted sheets and the stations expected per area.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ewarn/v1/results.pb.h"

namespace ewarn::results {

// A station's counted sheet, where the station lies, and its registered voters (reference).
struct CountedSheet {
  std::string station_id;
  std::string ward_path;  // region/district/ward
  int64_t registered = 0; // the reference's; the sheet's own `registered` wins when given
  int64_t occurred_ms = 0;
  v1::ResultSheet sheet;
};

struct AreaTally {
  std::string area;
  std::string level;                 // "all", "region", "district", "ward"
  int64_t stations_expected = 0;
  int64_t stations_reporting = 0;    // with a counted sheet (document-only included)
  int64_t stations_with_votes = 0;
  int64_t document_only = 0;
  std::map<std::string, int64_t> votes;
  int64_t valid_votes = 0, rejected = 0, blank = 0;
  int64_t registered = 0;            // of the stations with votes
  double turnout = 0;                // (valid + rejected + blank) / registered, stations with votes
  std::map<std::string, double> shares;  // votes / valid_votes
};

// Tallies `area` ("" for the whole country) and every region, district and ward under it,
// in path order, the area first. `expected` counts stations per area path (every level).
std::vector<AreaTally> Tabulate(const std::vector<CountedSheet>& sheets, const std::map<std::string, int64_t>& expected,
                                const std::string& area);

// The area paths a ward path belongs to: "R", "R/D", "R/D/W".
std::vector<std::string> AreasOf(const std::string& ward_path);

}  // namespace ewarn::results
