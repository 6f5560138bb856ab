// Polling stations: importing reference CSVs into the log (ref.stations) and the directory
// ingest validates reports against.
//
// The directory is a view of ref.stations kept in a StateStore store (station_id -> encoded
// PollingStation) together with the offsets it has read, so it catches up incrementally and
// survives restarts. Areas are paths "REGION/DISTRICT/WARD" of normalized names.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"
#include "ewarn/v1/event.pb.h"
#include "ewarn/v1/reference.pb.h"

namespace ewarn::ingest {

enum class StationFormat {
  kGeneric,  // station_id,name,region,district,ward,lat,lon,registered_voters (header line)
  kInec,     // INEC polling units (../shared/data/nigeria): delimitation is the station id
};

struct ImportSummary {
  int64_t rows = 0;              // data rows read
  int64_t imported = 0;          // stations written
  int64_t without_location = 0;  // of those, kept without coordinates (none, 0,0, out of range)
  int64_t rejected = 0;          // rows refused (missing id/region/district, duplicate id)
  std::vector<std::string> problems;  // the first few, "line 17: missing station_id"
};

// An area name as a path segment: trimmed, spaces collapsed, upper case, '/' -> '-'.
std::string AreaSegment(std::string_view name);

// The one form areas are compared in: "REGION[/DISTRICT[/WARD]]", each segment as AreaSegment
// makes it ("lagos / ikeja" -> "LAGOS/IKEJA"). InvalidArgument for an empty path or segment,
// a "." or ".." segment, more than three segments, or control characters: a path is a name of
// the reference data, never something to resolve.
Result<std::string> CanonicalAreaPath(std::string_view path);

// Reads a station CSV, calling `sink` per valid station in file order. IOError naming the path
// when unreadable; InvalidArgument naming missing header columns.
Result<ImportSummary> ReadStationsCsv(const std::string& path, StationFormat format,
                                      const std::function<Status(v1::PollingStation&&)>& sink);

// Where a station lies: all ingest needs of it to authorize and partition a report.
struct StationPlacement {
  std::string area;          // "REGION/DISTRICT/WARD"
  std::string district_key;  // schemas::DistrictKey(region, district): the partition key
};

class StationDirectory {
 public:
  static constexpr std::string_view kStore = "stations";
  // `state` must have store kStore and outlive the directory.
  static Result<std::unique_ptr<StationDirectory>> Make(store::StateStore& state);
  // Applies ref.stations records appended since the last catch-up.
  Status CatchUp(store::EventLog& log);
  // The whole station record (a state-store read).
  Result<std::optional<v1::PollingStation>> Find(std::string_view station_id);
  // Its placement, from memory: asked for every report, and at India's scale (a million
  // stations) the records do not stay in RocksDB's block cache, so each Find would read and
  // checksum a block. About 80 bytes a station; wards are interned.
  std::optional<StationPlacement> Locate(std::string_view station_id) const;
  // Is `canonical_path` (CanonicalAreaPath's form) a region, district or ward of some station?
  bool IsKnownArea(std::string_view canonical_path) const;
  // Stations per region, district and ward path (schemas::WardPath's prefixes), from memory:
  // what GET /v1/results counts as expected to report.
  std::map<std::string, int64_t> StationsPerArea() const;
  int64_t size() const { return size_.load(); }

 private:
  explicit StationDirectory(store::StateStore& state) : state_(state) {}
  void Place(const v1::PollingStation& station);  // callers hold placement_mu_ exclusively

  store::StateStore& state_;
  std::atomic<int64_t> size_{0};
  mutable std::shared_mutex placement_mu_;  // guards the five below (CatchUp vs Locate)
  std::vector<StationPlacement> wards_;
  std::unordered_map<std::string, uint32_t> ward_index_;  // area -> index in wards_
  std::unordered_map<std::string, uint32_t> station_ward_;  // station id -> index in wards_
  std::unordered_set<std::string> known_areas_;  // canonical regions, districts and wards
  std::vector<int64_t> stations_in_ward_;        // per index in wards_
};

// The ref.stations record of `station`, as ImportStations writes it: key and event id from the
// station id ("station:<id>"), event and received time `now_ms`, `source` and `channel` in the
// header. For other writers of reference stations (the simulator), so the format stays one.
store::OutRecord StationRecord(v1::PollingStation station, int64_t now_ms, v1::Source source = v1::SOURCE_OPERATOR,
                               std::string_view channel = "import");

// Reads the CSV, appends every station to ref.stations (creating the topic if missing) in
// durable batches, then brings `directory` up to date.
Result<ImportSummary> ImportStations(store::EventLog& log, StationDirectory& directory, const std::string& path,
                                     StationFormat format, int64_t now_ms);

}  // namespace ewarn::ingest
