// Review decisions on incident reports (reviews.h).
#include "station/reviews.h"

#include <algorithm>
#include <set>

namespace ewarn::processors::station {

bool ApplyReview(state::OpenSituation& s, const v1::ReportReview& review) {
  for (auto& m : *s.mutable_members()) {
    if (m.event_id() != review.report_event_id()) continue;
    bool excluded = review.status() == v1::REVIEW_STATUS_FALSE || review.status() == v1::REVIEW_STATUS_DUPLICATE;
    bool verified = review.status() == v1::REVIEW_STATUS_VERIFIED;
    if (m.excluded() == excluded && m.verified() == verified) return false;
    m.set_excluded(excluded);
    m.set_verified(verified);
    return true;
  }
  return false;
}

void Recount(state::OpenSituation& s, const v1::Rules& rules) {
  std::set<std::string> reporters;
  std::set<uint64_t> texts;
  int32_t max_severity = 0;
  for (const auto& m : s.members()) {
    if (m.excluded()) continue;
    max_severity = std::max(max_severity, m.severity());
    if (!texts.insert(m.text_hash()).second) continue;
    reporters.insert(m.reporter());
  }
  // Members beyond the kept ones still weigh with their severity.
  if (s.members_size() >= s.situation().member_event_ids_size()) s.set_max_severity(max_severity);
  v1::Situation& sit = *s.mutable_situation();
  sit.set_independent_reporters(static_cast<int32_t>(reporters.size()));
  sit.set_confidence(std::min(1.0, rules.cluster().reporter_confidence_step() * static_cast<double>(reporters.size())));
}

bool HasVerified(const state::OpenSituation& s) {
  return std::any_of(s.members().begin(), s.members().end(), [](const auto& m) { return m.verified() && !m.excluded(); });
}

}  // namespace ewarn::processors::station
