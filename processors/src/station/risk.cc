#include "station/risk.h"

#include <algorithm>
#include <cmath>

#include "detectors.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/schemas/events.h"

namespace ewarn::processors::station {
namespace {

constexpr double kHotEpsilon = 0.01;

bool IsHot(const st::Risk& risk) { return risk.score() >= kHotEpsilon || risk.level() > v1::RISK_LEVEL_LOW; }

}  // namespace

RiskModel::RiskModel(Partition& p) : p_(p), rules_(p.rules().risk()) {
  for (const auto& w : rules_.weights()) weights_[w.detector()] = w.weight();
}

void RiskModel::AtStation(StationMem& s, const Finding& f, int64_t t, TaskState& ts) {
  if (f.anomaly != Finding::Anomaly::kNone) {
    ReportAnomaly(f.detector, s.ref->station_id, s.ref->ward_path, s.ref->district_path, f.severity,
                  f.anomaly == Finding::Anomaly::kNamed ? s.ref->name + ": " + f.explanation : f.explanation,
                  f.event_ids, t, ts);
  }
  AddFactor(*s.state.mutable_risk(), f, t);
  p_.Touch(s);
  changed_ = true;
  if (f.assess_now) AssessStation(s, t, ts);
}

void RiskModel::AtArea(const std::string& area, const std::string& district, const Finding& f, int64_t t,
                       TaskState& ts) {
  ReportAnomaly(f.detector, area, area, district, f.severity, f.explanation, f.event_ids, t, ts);
  DistrictMem& d = p_.District(district);
  AddFactor((*d.state.mutable_area_risk())[area], f, t);
  d.dirty = true;
  AssessArea(area, t, ts);
  if (area != district) AssessArea(district, t, ts);
}

void RiskModel::WithdrawAtStation(StationMem& s, const std::string& detector, const std::string& event_id) {
  auto* factors = s.state.mutable_risk()->mutable_factors();
  for (int i = factors->size() - 1; i >= 0; --i) {
    const st::Factor& f = factors->Get(i);
    if (f.detector() != detector) continue;
    if (!event_id.empty() && std::find(f.event_ids().begin(), f.event_ids().end(), event_id) == f.event_ids().end()) {
      continue;
    }
    factors->DeleteSubrange(i, 1);
  }
  p_.Touch(s);
  changed_ = true;
}

void RiskModel::ReportAnomaly(const std::string& detector, const std::string& subject, const std::string& area,
                              const std::string& district, double severity, const std::string& explanation,
                              const std::vector<std::string>& event_ids, int64_t t, TaskState& ts) {
  v1::Event e = Derived("an:" + detector + ":" + subject + ":" + std::to_string(t), t);
  auto* a = e.mutable_anomaly();
  a->set_detector(detector);
  a->set_subject_id(subject);
  a->set_area(area);
  a->set_severity(severity);
  a->set_explanation(explanation);
  for (const auto& id : event_ids) a->add_event_ids(id);
  ts.Emit(std::string(schemas::topic::kAnomalies), subject, std::move(e), district);
}

double RiskModel::Weight(const std::string& detector) const {
  auto it = weights_.find(detector);
  return it == weights_.end() ? 0 : it->second;
}

// Adds (or refreshes) a factor: one per detector; the larger of the decayed old and the new.
void RiskModel::AddFactor(st::Risk& risk, const Finding& finding, int64_t t) {
  double contribution = Weight(finding.detector) * finding.severity;
  if (contribution <= 0) return;
  for (auto& f : *risk.mutable_factors()) {
    if (f.detector() != finding.detector) continue;
    double old = Decay(f.contribution(), f.at_ms(), t, rules_.half_life_ms());
    f.set_contribution(std::max(old, contribution));
    f.set_at_ms(t);
    f.set_explanation(finding.explanation);
    f.clear_event_ids();
    for (const auto& id : finding.event_ids) f.add_event_ids(id);
    return;
  }
  st::Factor* f = risk.add_factors();
  f->set_detector(finding.detector);
  f->set_contribution(contribution);
  f->set_at_ms(t);
  f->set_explanation(finding.explanation);
  for (const auto& id : finding.event_ids) f->add_event_ids(id);
}

// Decayed factors of `risk` at t, largest first; drops those that have faded away.
std::vector<v1::RiskFactor> RiskModel::Factors(st::Risk& risk, int64_t t) const {
  std::vector<v1::RiskFactor> out;
  auto* factors = risk.mutable_factors();
  for (int i = factors->size() - 1; i >= 0; --i) {
    const st::Factor& f = factors->Get(i);
    double c = Decay(f.contribution(), f.at_ms(), t, rules_.half_life_ms());
    if (c < kHotEpsilon) {
      factors->DeleteSubrange(i, 1);
      continue;
    }
    v1::RiskFactor rf;
    rf.set_detector(f.detector());
    rf.set_contribution(c);
    rf.set_explanation(f.explanation());
    for (const auto& id : f.event_ids()) rf.add_event_ids(id);
    out.push_back(std::move(rf));
  }
  std::sort(out.begin(), out.end(), [](const v1::RiskFactor& a, const v1::RiskFactor& b) {
    return a.contribution() != b.contribution() ? a.contribution() > b.contribution() : a.detector() < b.detector();
  });
  return out;
}

// Publishes the assessment for queries, and a `risk` event when the level changed.
void RiskModel::Publish(const std::string& subject, bool is_area, const std::string& area, const std::string& district,
                        st::Risk& risk, double score, std::vector<v1::RiskFactor> factors, int64_t t,
                        const StationRef* station, TaskState& ts) {
  int previous = std::max(risk.level(), static_cast<int>(v1::RISK_LEVEL_LOW));
  int level = NextRiskLevel(previous, score, rules_);
  risk.set_level(level);
  risk.set_score(score);
  risk.set_score_ms(t);
  v1::RiskAssessment a;
  a.set_subject_id(subject);
  a.set_is_area(is_area);
  a.set_score(score);
  a.set_level(static_cast<v1::RiskLevel>(level));
  a.set_previous_level(static_cast<v1::RiskLevel>(previous));
  a.set_area(area);
  a.set_assessed_ms(t);
  if (station != nullptr) {
    a.set_name(station->name);
    if (station->has_location) {
      a.mutable_location()->set_lat(station->lat);
      a.mutable_location()->set_lon(station->lon);
    }
  }
  int keep = std::max(1, rules_.top_factors());
  if (static_cast<int>(factors.size()) > keep) factors.resize(static_cast<size_t>(keep));
  for (auto& f : factors) *a.add_factors() = std::move(f);
  risk_out_[station != nullptr ? StationRiskKey(station->ward_path, subject) : subject] = Deterministic(a);
  if (level != previous) {
    v1::Event e = Derived("risk:" + subject + ":" + std::to_string(t) + ":" + std::to_string(level), t);
    *e.mutable_risk() = std::move(a);
    ts.Emit(std::string(schemas::topic::kRisk), subject, std::move(e), district);
  }
  ScheduleDecay(subject, risk);
}

// All factors decay with one half-life, so a score falls as score * 2^(-dt / half_life) and
// the moment it crosses a threshold is known in advance.
void RiskModel::ScheduleDecay(const std::string& subject, const st::Risk& risk) {
  if (auto it = decay_at_.find(subject); it != decay_at_.end()) {
    decay_due_.erase({it->second, subject});
    decay_at_.erase(it);
  }
  if (!IsHot(risk)) return;
  double target = kHotEpsilon;
  if (risk.level() > v1::RISK_LEVEL_LOW) {
    for (const auto& l : rules_.levels()) {
      if (static_cast<int>(l.level()) == risk.level()) target = l.leave();
    }
  }
  // Strictly after the assessment: a score exactly at its level's leave score keeps the level
  // (scores that all decayed by exactly one half-life since simultaneous findings get there
  // easily), and a re-assessment due at once would find the same score and be due at once
  // again: the timer looped forever on that area (issue 17). A millisecond later it has left.
  int64_t when = risk.score_ms() + 1;
  if (risk.score() > target && target > 0) {
    double h = static_cast<double>(rules_.half_life_ms());
    when += static_cast<int64_t>(std::ceil(h * std::log2(risk.score() / target)));
  }
  decay_due_.insert({when, subject});
  decay_at_[subject] = when;
}

void RiskModel::OnMinute(int64_t now, TaskState& ts) {
  // Each subject was scheduled for when its score crosses its level's leave score (or fades
  // below kHotEpsilon); only those due are re-assessed.
  while (!decay_due_.empty() && decay_due_.begin()->first <= now) {
    std::string subject = decay_due_.begin()->second;
    decay_due_.erase(decay_due_.begin());
    decay_at_.erase(subject);
    if (subject.find('/') == std::string::npos) {
      if (StationMem* s = p_.FindStation(subject)) AssessStation(*s, now, ts);
    } else {
      AssessArea(subject, now, ts);
    }
  }
}

void RiskModel::OnLoaded(StationMem& s) {
  // Hot and child scores exactly as the last Publish left them (see AssessStation).
  const std::string& id = s.ref->station_id;
  ScheduleDecay(id, s.state.risk());
  if (s.state.risk().score() >= kHotEpsilon) {
    hot_children_[s.ref->district_path][id] = {s.state.risk().score(), s.state.risk().score_ms(), &s};
  }
}

void RiskModel::OnLoaded(const std::string& district, DistrictMem& d) {
  (void)district;
  for (const auto& [area, risk] : d.state.area_risk()) ScheduleDecay(area, risk);
}

void RiskModel::AssessStation(StationMem& s, int64_t t, TaskState& ts) {
  const StationRef& ref = *s.ref;
  st::Risk& risk = *s.state.mutable_risk();
  std::vector<v1::RiskFactor> factors = Factors(risk, t);
  double score = 0;
  for (const auto& f : factors) score += f.contribution();
  p_.Touch(s);
  int before = risk.level();
  Publish(ref.station_id, false, ref.ward_path, ref.district_path, risk, score, factors, t, &ref, ts);
  // The station's share in its areas: replace its old contribution in their sums.
  auto& children = hot_children_[ref.district_path];
  auto it = children.find(ref.station_id);
  double old_score = it == children.end() ? 0 : it->second.score;
  int64_t old_at = it == children.end() ? t : it->second.at_ms;
  bool was_child = it != children.end(), is_child = score >= kHotEpsilon;
  if (!was_child && !is_child && before == risk.level()) return;  // not part of any area score
  if (is_child) {
    children[ref.station_id] = {score, t, &s};
  } else if (was_child) {
    children.erase(it);
  }
  for (const std::string* area : {&ref.ward_path, &ref.district_path}) {
    st::Risk& ar = (*p_.District(ref.district_path).state.mutable_area_risk())[*area];
    const int64_t h = rules_.half_life_ms();
    double sum = Decay(ar.stations_sum(), ar.stations_at_ms(), t, h) - (was_child ? Decay(old_score, old_at, t, h) : 0) +
                 (is_child ? score : 0);
    ar.set_stations_count(ar.stations_count() + (is_child ? 1 : 0) - (was_child ? 1 : 0));
    ar.set_stations_sum(ar.stations_count() > 0 ? std::max(0.0, sum) : 0.0);
    ar.set_stations_at_ms(t);
    AssessArea(*area, t, ts);
  }
}

// An area's score: its own findings (integer-percentage heaping, kits down, hate speech) plus
// area_station_weight times the sum of its stations' scores (kept incrementally: an area's
// assessment does not visit its stations). A single troubled station therefore raises its own
// alert, not one for its ward and district as well.
void RiskModel::AssessArea(const std::string& area, int64_t t, TaskState& ts) {
  std::string district = schemas::DistrictKeyOfArea(area);
  DistrictMem& d = p_.District(district);
  st::Risk& risk = (*d.state.mutable_area_risk())[area];
  std::vector<v1::RiskFactor> factors = Factors(risk, t);
  double score = 0;
  for (const auto& f : factors) score += f.contribution();
  double stations = rules_.area_station_weight() * Decay(risk.stations_sum(), risk.stations_at_ms(), t, rules_.half_life_ms());
  score += stations;
  if (risk.stations_count() > 0) {
    v1::RiskFactor f;
    f.set_detector("stations");
    f.set_contribution(stations);
    f.set_explanation(std::to_string(risk.stations_count()) + " station(s) at risk in the area");
    // Which ones, when the level is about to change (the alert says where to go).
    if (NextRiskLevel(std::max(risk.level(), 1), score, rules_) != std::max(risk.level(), 1)) {
      std::vector<std::pair<double, const StationMem*>> top;
      for (const auto& [id, child] : hot_children_[district]) {
        if (area == district || child.station->ref->ward_path == area) top.emplace_back(child.score, child.station);
      }
      std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second->ref->station_id < b.second->ref->station_id;
      });
      std::string names;
      for (size_t i = 0; i < top.size() && i < 3; ++i) {
        names += (i ? ", " : ": ") + top[i].second->ref->station_id + " (" + top[i].second->ref->name + ")";
      }
      f.set_explanation(f.explanation() + names);
    }
    factors.push_back(std::move(f));
  }
  std::stable_sort(factors.begin(), factors.end(), [](const v1::RiskFactor& a, const v1::RiskFactor& b) {
    return a.contribution() > b.contribution();
  });
  d.dirty = true;
  Publish(area, true, area, district, risk, score, std::move(factors), t, nullptr, ts);
}

void RiskModel::Flush(TaskState& ts) {
  for (auto& [subject, value] : risk_out_) ts.Write(kRiskStore, subject, std::move(value));
  risk_out_.clear();
}

}  // namespace ewarn::processors::station
