// The risk model (processors/README.md "risk"): every finding becomes a factor of its subject,
// decaying on event time; stations, wards and districts get scores and levels with hysteresis,
// published to the `risk` store for queries and, on a level change, to the `risk` topic.
//
// It is the stage's Findings sink: detectors report here and never see each other.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "station/partition.h"

namespace ewarn::processors::station {

class RiskModel final : public Findings {
 public:
  explicit RiskModel(Partition& p);

  void AtStation(StationMem& s, const Finding& f, int64_t t, TaskState& ts) override;
  void AtArea(const std::string& area, const std::string& district, const Finding& f, int64_t t,
              TaskState& ts) override;
  void WithdrawAtStation(StationMem& s, const std::string& detector, const std::string& event_id) override;

  // Around each input event: the event's station is re-assessed at the end when a finding (of
  // any station) was reported while it was handled.
  void BeginEvent() { changed_ = false; }
  void EndEvent(StationMem& s, int64_t t, TaskState& ts) {
    if (changed_) AssessStation(s, t, ts);
  }
  // Re-assesses the subjects whose scores crossed a threshold by decay.
  void OnMinute(int64_t now, TaskState& ts);
  void OnLoaded(StationMem& s);
  void OnLoaded(const std::string& district, DistrictMem& d);
  // Writes the assessments published since the last Flush into the `risk` store.
  void Flush(TaskState& ts);

  // Exposed for tests: the next time `subject` is re-assessed by decay (-1: not scheduled).
  int64_t DecayDue(const std::string& subject) const {
    auto it = decay_at_.find(subject);
    return it == decay_at_.end() ? -1 : it->second;
  }

 private:
  struct Child {
    double score = 0;
    int64_t at_ms = 0;
    StationMem* station = nullptr;
  };

  double Weight(const std::string& detector) const;
  void AddFactor(st::Risk& risk, const Finding& f, int64_t t);
  std::vector<v1::RiskFactor> Factors(st::Risk& risk, int64_t t) const;
  void Publish(const std::string& subject, bool is_area, const std::string& area, const std::string& district,
               st::Risk& risk, double score, std::vector<v1::RiskFactor> factors, int64_t t, const StationRef* station,
               TaskState& ts);
  void ScheduleDecay(const std::string& subject, const st::Risk& risk);
  void AssessStation(StationMem& s, int64_t t, TaskState& ts);
  void AssessArea(const std::string& area, int64_t t, TaskState& ts);
  void ReportAnomaly(const std::string& detector, const std::string& subject, const std::string& area,
                     const std::string& district, double severity, const std::string& explanation,
                     const std::vector<std::string>& event_ids, int64_t t, TaskState& ts);

  Partition& p_;
  const v1::RiskRules& rules_;
  std::unordered_map<std::string, double> weights_;
  bool changed_ = false;
  // When each subject with risk is next re-assessed (ScheduleDecay), in time then name order.
  std::set<std::pair<int64_t, std::string>> decay_due_;
  std::unordered_map<std::string, int64_t> decay_at_;
  // Per district: stations with a score, for their areas' scores.
  std::unordered_map<std::string, std::map<std::string, Child>> hot_children_;
  std::map<std::string, std::string> risk_out_;  // subject -> encoded RiskAssessment, for Flush
};

}  // namespace ewarn::processors::station
