// The triage queue's read model (report_index.h).
#include "report_index.h"

#include <algorithm>

#include "ewarn/ingest/ingestor.h"
#include "ewarn/schemas/events.h"

namespace ewarn::app {
namespace {

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

std::string_view SourceName(v1::Source s) {
  switch (s) {
    case v1::SOURCE_APP: return "app";
    case v1::SOURCE_WEB: return "web";
    case v1::SOURCE_SMS: return "sms";
    case v1::SOURCE_CLASSIFIER: return "classifier";
    case v1::SOURCE_KIT: return "kit";
    case v1::SOURCE_SIMULATOR: return "simulator";
    case v1::SOURCE_OPERATOR: return "operator";
    default: return "other";
  }
}

}  // namespace

std::string_view ReviewStatusName(v1::ReviewStatus status) {
  switch (status) {
    case v1::REVIEW_STATUS_VERIFIED: return "verified";
    case v1::REVIEW_STATUS_FALSE: return "false";
    case v1::REVIEW_STATUS_DUPLICATE: return "duplicate";
    case v1::REVIEW_STATUS_NEEDS_FOLLOW_UP: return "needs follow-up";
    default: return "new";
  }
}

Result<v1::ReviewStatus> ParseReviewStatus(std::string_view name) {
  if (name == "needs_follow_up") return v1::REVIEW_STATUS_NEEDS_FOLLOW_UP;
  for (auto s : {v1::REVIEW_STATUS_NEW, v1::REVIEW_STATUS_VERIFIED, v1::REVIEW_STATUS_FALSE, v1::REVIEW_STATUS_DUPLICATE,
                 v1::REVIEW_STATUS_NEEDS_FOLLOW_UP}) {
    if (ReviewStatusName(s) == name) return s;
  }
  return Status::InvalidArgument("status is one of new, verified, false, duplicate, needs follow-up; not '" +
                                 std::string(name.substr(0, 40)) + "'");
}

Status ReportIndex::CatchUp() {
  const std::string topic(schemas::topic::kInputs);
  if (next_.empty()) {
    ASSIGN_OR_RETURN(int32_t partitions, log_.PartitionCount(topic));
    for (int32_t p = 0; p < partitions; ++p) {
      ASSIGN_OR_RETURN(auto offsets, log_.Offsets({topic, p}));
      next_.push_back(std::max(offsets.start, offsets.end - window_));
    }
  }
  for (int32_t p = 0; p < static_cast<int32_t>(next_.size()); ++p) {
    for (;;) {
      ASSIGN_OR_RETURN(auto records, log_.Read({topic, p}, next_[static_cast<size_t>(p)], 4096));
      if (records.empty()) break;
      for (const auto& r : records) {
        next_[static_cast<size_t>(p)] = r.offset + 1;
        v1::Event e;
        if (e.ParseFromString(r.value)) Apply(e, p);
      }
    }
  }
  return Status::Ok();
}

void ReportIndex::Apply(const v1::Event& e, int32_t partition) {
  const v1::Header& h = e.header();
  if (e.has_review()) {
    auto it = reports_.find(e.review().report_event_id());
    if (it == reports_.end()) return;  // older than the window
    ReportEntry& r = it->second;
    const v1::ReportReview& v = e.review();
    r.status = v.status() == v1::REVIEW_STATUS_UNSPECIFIED ? r.status : v.status();
    r.assignee = v.assignee();
    r.locked_by = v.lock_until_ms() > 0 ? v.reviewer() : "";
    r.lock_until_ms = v.lock_until_ms();
    r.reviews.push_back({h.received_time_ms(), v});
    return;
  }
  if (!e.has_incident() && !e.has_hate_speech()) return;
  if (reports_.contains(h.event_id())) return;  // a republished record
  ReportEntry r;
  r.event_id = h.event_id();
  r.reference = ingest::ReportReference(h.event_id());
  r.occurred_ms = h.event_time_ms();
  r.received_ms = h.received_time_ms();
  r.source = std::string(SourceName(h.source()));
  r.principal = h.principal();
  r.partition = partition;
  if (e.has_incident()) {
    const v1::IncidentReport& i = e.incident();
    r.kind = "incident";
    r.category = std::string(schemas::CategoryName(i.category()));
    r.text = i.description();
    r.station_id = i.station_id();
    r.severity = i.severity();
    if (i.has_location()) {
      r.has_location = true;
      r.lat = i.location().lat();
      r.lon = i.location().lon();
    }
  } else {
    const v1::HateSpeechFlag& f = e.hate_speech();
    r.kind = "hate_speech";
    r.category = "hate_speech";
    r.text = f.text();
    r.station_id = f.station_id();
    r.area = f.area();
  }
  if (r.area.empty() && !r.station_id.empty()) r.area = area_of_(r.station_id);
  by_reference_[r.reference] = r.event_id;
  order_.push_back(r.event_id);
  reports_.emplace(r.event_id, std::move(r));
  while (order_.size() > capacity_) {
    auto old = reports_.find(order_.front());
    if (old != reports_.end()) {
      by_reference_.erase(old->second.reference);
      reports_.erase(old);
    }
    order_.pop_front();
  }
}

const ReportEntry* ReportIndex::Find(const std::string& event_id) const {
  auto it = reports_.find(event_id);
  return it == reports_.end() ? nullptr : &it->second;
}

const ReportEntry* ReportIndex::FindByIdOrReference(const std::string& text) const {
  if (const ReportEntry* r = Find(text)) return r;
  auto it = by_reference_.find(Upper(text));
  return it == by_reference_.end() ? nullptr : Find(it->second);
}

std::vector<const ReportEntry*> ReportIndex::Newest() const {
  std::vector<const ReportEntry*> out;
  out.reserve(order_.size());
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    if (const ReportEntry* r = Find(*it)) out.push_back(r);
  }
  return out;
}

}  // namespace ewarn::app
