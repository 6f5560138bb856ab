// Area boundaries from GeoJSON (`ewarn import-areas`): parsing and checking a FeatureCollection
// against the areas the stations define, before anything is written.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"
#include "ewarn/v1/reference.pb.h"

namespace ewarn::app {

struct AreaImportOptions {
  // The feature properties whose values, as area segments joined by '/', make the area path:
  // {"area"} by default (the property holds "NAIROBI/WESTLANDS"), or e.g. {"COUNTY_NAM",
  // "CONSTITUEN"} for a file that names each level in its own property.
  std::vector<std::string> properties = {"area"};
  size_t max_problems = 20;  // problems listed before the rest are only counted
};

struct AreaImport {
  std::vector<v1::AreaBoundary> boundaries;  // one per area path, features of one area merged
  int64_t features = 0;
  std::vector<std::string> problems;         // "feature 12: ..." ; empty when it may be written
  int64_t problem_count = 0;
};

// Every area path the stations of ref.stations lie in (regions, districts, wards).
Result<std::set<std::string>> KnownAreas(store::EventLog& log);

// Parses `geojson` (a FeatureCollection of Polygon / MultiPolygon features) into boundaries.
// A feature with a geometry that is not a valid polygon (rings of fewer than 4 points, not
// closed, coordinates that are not lon/lat numbers), without the property, or whose area is
// not in `known` is a problem naming its 1-based feature number; the caller writes nothing
// while there are problems. InvalidArgument when the text is not a FeatureCollection at all.
Result<AreaImport> ParseAreas(std::string_view geojson, const std::set<std::string>& known,
                              const AreaImportOptions& options);

// Appends the boundaries to ref.areas (created if missing) in one append.
Status WriteAreas(store::EventLog& log, const std::vector<v1::AreaBoundary>& boundaries, int64_t now_ms);

// Every station of ref.stations, the latest per id.
Result<std::vector<v1::PollingStation>> ReadStations(store::EventLog& log);

// Every boundary of ref.areas, the latest per area path.
Result<std::vector<v1::AreaBoundary>> ReadAreas(store::EventLog& log);

}  // namespace ewarn::app
