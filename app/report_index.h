// The triage queue's read side: recent reports (incidents and hate-speech flags) from in.events
// with the duty room's review decisions applied, in memory.
//
// CatchUp() reads what in.events gained since the last call, so a review appended by this node
// is visible to the next request (the append is durable before it answers). At start it begins
// `window` records before each partition's end: the queue shows the recent day, not the whole
// log (a report older than that is unknown to the queue, 404). At most `capacity` reports are
// kept, the oldest dropped first.
//
// Thread-safety: not thread-safe; the owner serializes calls (ReviewRoutes holds a mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"
#include "ewarn/v1/event.pb.h"

namespace ewarn::app {

struct ReviewEntry {
  int64_t time_ms = 0;  // when it was received
  v1::ReportReview review;
};

struct ReportEntry {
  std::string event_id, reference, kind, category, text, station_id, area, source, principal;
  int severity = 0;
  int64_t occurred_ms = 0, received_ms = 0;
  int32_t partition = 0;
  bool has_location = false;
  double lat = 0, lon = 0;
  v1::ReviewStatus status = v1::REVIEW_STATUS_NEW;
  std::string assignee, locked_by;
  int64_t lock_until_ms = 0;
  std::vector<ReviewEntry> reviews;  // the audit trail, oldest first
};

std::string_view ReviewStatusName(v1::ReviewStatus status);
// "new", "verified", "false", "duplicate", "needs follow-up" (also "needs_follow_up").
Result<v1::ReviewStatus> ParseReviewStatus(std::string_view name);

class ReportIndex {
 public:
  // A report's area path from its station id ("" when unknown).
  using AreaOf = std::function<std::string(const std::string& station_id)>;
  ReportIndex(store::EventLog& log, AreaOf area_of, int64_t window = 200000, size_t capacity = 50000)
      : log_(log), area_of_(std::move(area_of)), window_(window), capacity_(capacity) {}

  Status CatchUp();
  // The report with this event id, or null. Valid until the next CatchUp.
  const ReportEntry* Find(const std::string& event_id) const;
  // By event id or short reference (case-insensitive), or null.
  const ReportEntry* FindByIdOrReference(const std::string& text) const;
  // Newest first.
  std::vector<const ReportEntry*> Newest() const;

 private:
  void Apply(const v1::Event& e, int32_t partition);

  store::EventLog& log_;
  AreaOf area_of_;
  const int64_t window_;
  const size_t capacity_;
  std::vector<int64_t> next_;  // per partition of in.events; empty before the first CatchUp
  std::deque<std::string> order_;  // event ids, oldest first
  std::map<std::string, ReportEntry> reports_;
  std::map<std::string, std::string> by_reference_;
};

}  // namespace ewarn::app
