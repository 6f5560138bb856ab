#include "reference.h"

#include <algorithm>
#include <cmath>

#include "ewarn/schemas/events.h"

namespace ewarn::processors {

Status ReferenceData::Refresh() {
  std::unique_lock lk(mu_);
  return RefreshLocked();
}

Status ReferenceData::RefreshIfStale(std::chrono::steady_clock::duration every) {
  std::unique_lock lk(mu_);
  if (std::chrono::steady_clock::now() - refreshed_at_ < every) return Status::Ok();
  return RefreshLocked();
}

std::optional<AreaHoursRef> ReferenceData::HoursOf(const StationRef& station) const {
  std::shared_lock lk(mu_);
  if (hours_by_area_.empty()) return std::nullopt;
  for (const std::string* area : {&station.ward_path, &station.district_path, &station.region}) {
    auto it = hours_by_area_.find(*area);
    if (it != hours_by_area_.end()) return it->second;
  }
  return std::nullopt;
}

Status ReferenceData::ReadHoursLocked() {
  const store::TopicPartition tp{std::string(schemas::topic::kHours), 0};
  if (!log_.PartitionCount(tp.topic).ok()) return Status::Ok();  // no hours imported: the rules'
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::LogRecord> records, log_.Read(tp, next_hours_offset_, 20000));
    if (records.empty()) return Status::Ok();
    for (const auto& r : records) {
      next_hours_offset_ = r.offset + 1;
      Result<v1::Event> e = schemas::DecodeEvent(r.value);
      if (!e.ok() || e->body_case() != v1::Event::kHours) continue;  // log check reports these
      const v1::AreaHours& h = e->hours();
      hours_by_area_[h.area_id()] = {.open_ms_of_day = h.open_ms_of_day(),
                                     .close_ms_of_day = h.close_ms_of_day(),
                                     .utc_offset_ms = int64_t{h.utc_offset_minutes()} * 60'000};
    }
  }
}

Status ReferenceData::RefreshLocked() {
  refreshed_at_ = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(ReadHoursLocked());
  const store::TopicPartition tp{std::string(schemas::topic::kStations), 0};
  if (!log_.PartitionCount(tp.topic).ok()) return Status::Ok();  // nothing imported yet
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::LogRecord> records, log_.Read(tp, next_offset_, 20000));
    if (records.empty()) return Status::Ok();
    for (const auto& r : records) {
      next_offset_ = r.offset + 1;
      Result<v1::Event> e = schemas::DecodeEvent(r.value);
      if (!e.ok() || e->body_case() != v1::Event::kStation) continue;  // log check reports these
      const v1::PollingStation& s = e->station();
      auto ref = std::make_unique<StationRef>();
      ref->station_id = s.station_id();
      ref->name = s.name();
      ref->district_path = schemas::DistrictKey(s.region(), s.district());
      ref->region = s.region();
      ref->ward_path = schemas::WardPath(s);
      ref->has_location = s.has_location();
      ref->lat = s.location().lat();
      ref->lon = s.location().lon();
      ref->registered = s.registered_voters();
      ref->index = by_id_.size() + replaced_.size();
      auto& slot = by_id_[s.station_id()];
      if (slot) {  // a correction: drop the old entry from its district index
        auto& list = by_district_[slot->district_path];
        list.erase(std::remove(list.begin(), list.end(), slot.get()), list.end());
      }
      by_district_[ref->district_path].push_back(ref.get());
      if (slot) replaced_.push_back(std::move(slot));
      slot = std::move(ref);
    }
  }
}

const StationRef* ReferenceData::Find(std::string_view station_id) {
  std::string id(station_id);
  {
    std::shared_lock lk(mu_);
    auto it = by_id_.find(id);
    if (it != by_id_.end()) return it->second.get();
  }
  std::unique_lock lk(mu_);
  if (!RefreshLocked().ok()) return nullptr;
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

namespace {

// Decodes one UTF-8 code point; advances i. Invalid bytes come back as 0.
uint32_t NextCodePoint(std::string_view s, size_t& i) {
  auto c = static_cast<unsigned char>(s[i++]);
  if (c < 0x80) return c;
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
  if (extra < 0) return 0;
  uint32_t cp = c & (0x3F >> extra);
  for (int k = 0; k < extra; ++k) {
    if (i >= s.size()) return 0;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  }
  return cp;
}

// Latin-1 supplement and Latin Extended-A letters without their accents.
char FoldLatin(uint32_t cp) {
  static const char* kLatin1 =  // U+00C0..U+00FF
      "aaaaaaaceeeeiiiidnooooo?ouuuuy?s"
      "aaaaaaaceeeeiiiidnooooo?ouuuuy?y";
  if (cp >= 0xC0 && cp <= 0xFF) return kLatin1[cp - 0xC0];
  if (cp >= 0x100 && cp <= 0x17F) {  // Extended-A: pairs of upper/lower case, base letters in order
    static const char* kExtA =
        "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkklllllll"
        "lllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
    return kExtA[cp - 0x100];
  }
  return 0;
}

// Russian/Ukrainian Cyrillic to Latin (a plain BGN-like scheme: enough to match spellings).
const char* FoldCyrillic(uint32_t cp) {
  static const char* kLower[] = {"a", "b", "v", "g", "d", "e", "zh", "z", "i", "y", "k",
                                 "l", "m", "n", "o", "p", "r", "s", "t", "u", "f", "kh",
                                 "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"};
  if (cp >= 0x410 && cp <= 0x42F) return kLower[cp - 0x410];
  if (cp >= 0x430 && cp <= 0x44F) return kLower[cp - 0x430];
  if (cp == 0x401 || cp == 0x451) return "e";
  if (cp == 0x406 || cp == 0x456) return "i";
  if (cp == 0x404 || cp == 0x454) return "ye";
  if (cp == 0x407 || cp == 0x457) return "yi";
  return nullptr;
}

}  // namespace

std::string FoldPlaceName(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = NextCodePoint(text, i);
    if (cp < 0x80) {
      char c = static_cast<char>(cp);
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out.push_back(c);
    } else if (char latin = FoldLatin(cp); latin >= 'a' && latin <= 'z') {
      out.push_back(latin);
    } else if (const char* cyr = FoldCyrillic(cp); cyr != nullptr) {
      out += cyr;
    }
  }
  return out;
}

int EditDistance(std::string_view a, std::string_view b, int limit) {
  const size_t n = a.size(), m = b.size();
  if (static_cast<int>(n > m ? n - m : m - n) > limit) return limit + 1;
  // Optimal string alignment distance with three rolling rows.
  std::vector<int> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = static_cast<int>(i);
    int row_min = cur[0];
    for (size_t j = 1; j <= m; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > limit) return limit + 1;
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

PlaceMatch ReferenceData::MatchPlace(std::string_view district_path, std::string_view text) const {
  PlaceMatch best;
  std::string want = FoldPlaceName(text);
  if (want.size() < 3) return best;
  // Small typos: one edit per six letters, at most three.
  const int limit = std::min(3, static_cast<int>(want.size() / 6));
  int best_distance = limit + 1;
  auto consider = [&](const StationRef* s, std::string_view name) {
    std::string folded = FoldPlaceName(name);
    int d = EditDistance(want, folded, limit);
    if (d < best_distance || (d == best_distance && best.station && s->station_id < best.station->station_id)) {
      best_distance = d;
      best.station = s;
      best.matched = std::string(name);
    }
  };
  std::shared_lock lk(mu_);
  auto district = by_district_.find(std::string(district_path));
  if (district == by_district_.end()) return best;
  for (const StationRef* s : district->second) {
    consider(s, s->name);
    consider(s, s->ward_path.substr(s->ward_path.rfind('/') + 1));
  }
  if (best.station == nullptr || best_distance > limit) return {};
  best.confidence = best_distance == 0 ? 0.9 : 0.9 - 0.15 * best_distance;
  return best;
}

double DistanceMeters(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kEarthRadius = 6371008.8;
  constexpr double kRad = M_PI / 180.0;
  double dlat = (lat2 - lat1) * kRad, dlon = (lon2 - lon1) * kRad;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadius * std::asin(std::min(1.0, std::sqrt(a)));
}

}  // namespace ewarn::processors
