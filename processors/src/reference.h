// Reference data as the station stage sees it: polling stations read from ref.stations, with
// a per-district index and a gazetteer of place names for geocoding free text, and the areas'
// polling hours read from ref.hours.
//
// Stations are only ever added or corrected, and ingest accepts an event only for a station
// already in ref.stations, so reading that topic further than the live run did (a replay
// reads it whole) cannot change which station an event refers to.
// Thread-safety: shared by the station stage's tasks, which may run on several threads
// (RuntimeOptions::apply_threads): lookups share a lock, reading more of the topic takes it
// alone. A StationRef stays valid for the object's lifetime, also after a correction.
//
// Polling hours are read when the stage starts and then at most every few seconds of wall time
// (RefreshIfStale, from the stage's clock): import them before the day starts, as stations.
// A replay reads ref.hours whole, so hours changed during the day apply to all of it there.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"

namespace ewarn::processors {

struct StationRef {
  std::string station_id;
  std::string name;
  std::string ward_path;      // region/district/ward
  std::string district_path;  // region/district
  std::string region;
  bool has_location = false;
  double lat = 0, lon = 0;
  int64_t registered = 0;
  // Dense, in order of arrival (a correction is a new entry): for per-station arrays.
  size_t index = 0;
};

struct PlaceMatch {
  const StationRef* station = nullptr;  // the place's station (or one in the named ward)
  double confidence = 0;                // 1 exact, lower with every edit
  std::string matched;                  // the gazetteer name it matched
};

// An area's polling hours (ref.hours): local times of day and the local time's offset from UTC.
struct AreaHoursRef {
  int64_t open_ms_of_day = 0;
  int64_t close_ms_of_day = 0;
  int64_t utc_offset_ms = 0;
};

class ReferenceData {
 public:
  explicit ReferenceData(store::EventLog& log) : log_(log) {}

  // Reads ref.stations and ref.hours records appended since the last call.
  Status Refresh();
  // Refresh, unless the last one was less than `every` ago (wall time): for a clock that
  // moves every minute of event time, which in a replay is many times a second.
  Status RefreshIfStale(std::chrono::steady_clock::duration every);
  // The station, refreshing once when it is unknown; nullptr when it still is.
  const StationRef* Find(std::string_view station_id);
  // Matches free text naming a place against station and ward names of `district_path`,
  // tolerant to case, spacing, accents, Cyrillic transliteration and small typos.
  PlaceMatch MatchPlace(std::string_view district_path, std::string_view text) const;

  // The stations of a district known so far (results.cc counts who has not reported).
  std::vector<const StationRef*> StationsOf(const std::string& district_path) const {
    std::shared_lock lk(mu_);
    auto it = by_district_.find(district_path);
    return it == by_district_.end() ? std::vector<const StationRef*>() : it->second;
  }

  // The hours of the station's most specific area that has any (ward, district, region);
  // nullopt when none has: the rules' hours apply.
  std::optional<AreaHoursRef> HoursOf(const StationRef& station) const;

  size_t size() const {
    std::shared_lock lk(mu_);
    return by_id_.size();
  }
  // Indexes handed out so far: every StationRef::index is below.
  size_t slots() const {
    std::shared_lock lk(mu_);
    return by_id_.size() + replaced_.size();
  }

 private:
  Status RefreshLocked();
  Status ReadHoursLocked();

  mutable std::shared_mutex mu_;
  store::EventLog& log_;
  int64_t next_offset_ = 0;
  std::unordered_map<std::string, std::unique_ptr<StationRef>> by_id_;
  std::unordered_map<std::string, std::vector<const StationRef*>> by_district_;
  // Entries replaced by a correction: a task may still point at them.
  std::vector<std::unique_ptr<StationRef>> replaced_;
  int64_t next_hours_offset_ = 0;
  std::unordered_map<std::string, AreaHoursRef> hours_by_area_;  // canonical area path
  std::chrono::steady_clock::time_point refreshed_at_{};
};

// Folds text for matching: lower case, Latin accents dropped, Cyrillic transliterated,
// anything but letters and digits removed. "Ikeja  Grammar-School" -> "ikejagrammarschool".
std::string FoldPlaceName(std::string_view text);
// Edit distance (insert, delete, substitute, swap of neighbours), stopping past `limit`.
int EditDistance(std::string_view a, std::string_view b, int limit);

// Great-circle distance in metres.
double DistanceMeters(double lat1, double lon1, double lat2, double lon2);

}  // namespace ewarn::processors
