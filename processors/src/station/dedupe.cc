#include "station/dedupe.h"

#include <algorithm>

#include "ewarn/base/bytes.h"
#include "ewarn/processors/pipeline.h"

namespace ewarn::processors::station {
namespace {
constexpr int64_t kMinuteMs = 60'000;
// The minute `at` falls in (floor, also before 1970).
int64_t MinuteOf(int64_t at) { return at >= 0 ? at / kMinuteMs : (at - kMinuteMs + 1) / kMinuteMs; }
}  // namespace

void RecentEventIds::Remember(const std::string& event_id, int64_t t, int64_t now) {
  if (event_id.empty()) return;
  auto [it, added] = ids_.try_emplace(event_id, Entry{.at = std::max(t, now)});
  if (!added) return;
  by_minute_[MinuteOf(it->second.at)].push_back(it->first);
  unwritten_.push_back(event_id);
}

void RecentEventIds::Forget(int64_t now) {
  const int64_t horizon = now - window_ms_;
  // A minute goes once all of it is before the horizon.
  while (!by_minute_.empty() && (by_minute_.begin()->first + 1) * kMinuteMs <= horizon) {
    for (std::string_view id : by_minute_.begin()->second) {
      auto it = ids_.find(std::string(id));
      // Not yet stored: still in unwritten_, which Flush skips once the id is gone from ids_.
      if (it->second.stored) forgotten_.push_back(it->first);
      ids_.erase(it);
    }
    by_minute_.erase(by_minute_.begin());
  }
}

Status RecentEventIds::Restore(std::string_view event_id, std::string_view value) {
  if (value.size() != 8) {
    return Status::Corruption("station stage: remembered event id '" + std::string(event_id) +
                              "' has a value of " + std::to_string(value.size()) + " bytes, not 8");
  }
  auto [it, added] = ids_.try_emplace(std::string(event_id),
                                      Entry{.at = static_cast<int64_t>(GetBigEndian64(value)), .stored = true});
  if (added) by_minute_[MinuteOf(it->second.at)].push_back(it->first);
  return Status::Ok();
}

void RecentEventIds::Flush(TaskState& ts, const std::string& prefix) {
  // Deletes first: an id forgotten and remembered again in one commit ends up written (a
  // TaskState::Write replaces an earlier Delete of its key).
  for (const std::string& id : forgotten_) ts.Delete(kStationStageStore, prefix + "e" + id);
  forgotten_.clear();
  for (const std::string& id : unwritten_) {
    auto it = ids_.find(id);
    if (it == ids_.end() || it->second.stored) continue;  // forgotten already, or written
    std::string at;
    PutBigEndian64(&at, static_cast<uint64_t>(it->second.at));
    ts.Write(kStationStageStore, prefix + "e" + id, std::move(at));
    it->second.stored = true;
  }
  unwritten_.clear();
}

}  // namespace ewarn::processors::station
