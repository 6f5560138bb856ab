// Incident reports: enrich (where, how sure) -> cluster into situations -> corroborate
// (independent reporters confirm a situation: the `cluster` finding). processors/README.md.
//
// State: District.situations (OpenSituation, Member), Station.incidents, Meta.situation_seq;
// beside it, in memory only, a cell index over open situations for the neighbour search.
#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>
#include <unordered_map>

#include "ewarn/schemas/events.h"
#include "station/partition.h"
#include "station/reviews.h"

namespace ewarn::processors::station {
namespace {

constexpr size_t kMaxMembers = 64;

class Incidents final : public Module {
 public:
  Incidents(Partition& p, Findings& findings) : p_(p), findings_(findings), rules_(p.rules()) {}

  Status OnEvent(const v1::Event& e, const StationRef* ref, StationMem* s, int64_t t, TaskState& ts) override {
    if (e.has_review()) return OnReview(e.review(), *ref, *s, t, ts);
    const v1::IncidentReport& in = e.incident();
    s->state.set_incidents(s->state.incidents() + 1);

    // Enrich: where is it, and how sure are we?
    v1::Event out = Derived("inc:" + e.header().event_id(), t);
    v1::EnrichedIncident& en = *out.mutable_enriched();
    en.set_event_id(e.header().event_id());
    en.set_station_id(ref->station_id);
    en.set_station_name(ref->name);
    en.set_area(ref->ward_path);
    en.set_category(in.category());
    en.set_severity(in.severity());
    en.set_distance_m(-1);
    bool located = false;
    double lat = 0, lon = 0;
    if (in.has_location()) {
      lat = in.location().lat();
      lon = in.location().lon();
      located = true;
      en.set_location_source("gps");
      en.set_location_confidence(0.95);
      if (ref->has_location) {
        double d = DistanceMeters(lat, lon, ref->lat, ref->lon);
        en.set_distance_m(d);
        if (d > rules_.kit().gps_max_distance_m()) {
          // Far from the station it names: keep the station's place, and say so.
          en.set_far_from_station(true);
          lat = ref->lat;
          lon = ref->lon;
          en.set_location_source("station");
          en.set_location_confidence(0.5);
        }
      }
    }
    if (!located && !in.place_text().empty()) {
      PlaceMatch m = p_.reference().MatchPlace(ref->district_path, in.place_text());
      if (m.station != nullptr && m.station->has_location) {
        lat = m.station->lat;
        lon = m.station->lon;
        located = true;
        en.set_location_source("gazetteer");
        en.set_location_confidence(m.confidence);
        en.set_matched_place(m.matched);
      }
    }
    if (!located && ref->has_location) {
      lat = ref->lat;
      lon = ref->lon;
      located = true;
      en.set_location_source("station");
      en.set_location_confidence(0.8);
    }
    if (!located) {
      en.set_location_source("none");
      en.set_location_confidence(0.2);
    } else {
      en.mutable_location()->set_lat(lat);
      en.mutable_location()->set_lon(lon);
    }

    std::string situation_id = Cluster(e, *ref, located, lat, lon, t, ts);
    en.set_situation_id(situation_id);
    ts.Emit(std::string(schemas::topic::kIncidents), ref->station_id, std::move(out), ref->district_path);

    // The report itself is evidence at its station, without an anomaly of its own.
    findings_.AtStation(*s,
                        {.detector = "incident",
                         .severity = std::clamp(in.severity(), 1, 5) / 5.0,
                         .explanation = std::string(schemas::CategoryName(in.category())) + " reported (severity " +
                                        std::to_string(in.severity()) + ")",
                         .event_ids = {e.header().event_id()},
                         .anomaly = Finding::Anomaly::kNone},
                        t, ts);
    return Status::Ok();
  }

  // Situations without news for close_after_ms are closed: only those due, so a tick's work is
  // what closes, not a visit of every district.
  void OnMinute(int64_t now, TaskState& ts) override {
    while (!close_due_.empty() && std::get<0>(*close_due_.begin()) <= now) {
      auto [due, district, id] = *close_due_.begin();
      close_due_.erase(close_due_.begin());
      close_at_.erase(id);
      DistrictMem& d = p_.District(district);
      auto* list = d.state.mutable_situations();
      for (int i = 0; i < list->size(); ++i) {
        if (list->Get(i).situation().situation_id() != id) continue;
        st::OpenSituation closed = list->Get(i);
        closed.mutable_situation()->set_state(v1::Situation::STATE_CLOSED);
        EmitSituation(closed, district, now, ts);
        Unindex(district, id);
        list->DeleteSubrange(i, 1);
        d.dirty = true;
        break;
      }
    }
  }

  void OnLoaded(const std::string& district, DistrictMem& d) override {
    for (const auto& sit : d.state.situations()) {
      Index(district, sit);
      ScheduleClose(district, sit.situation());
    }
  }

 private:
  using Cells = std::unordered_multimap<int64_t, std::string>;  // cell -> open situation ids

  int64_t CellOf(double lat, double lon) const {
    // Cells of about radius_m; a match lies in the incident's cell or one of its 8 neighbours.
    double size_deg = std::max(rules_.cluster().radius_m(), 1.0) / 111'320.0;
    auto row = static_cast<int64_t>(std::floor(lat / size_deg));
    double lon_size = size_deg / std::max(0.05, std::cos(lat * M_PI / 180.0));
    auto col = static_cast<int64_t>(std::floor(lon / lon_size));
    return row * 1'000'003 + col;
  }

  void Index(const std::string& district, const st::OpenSituation& sit) {
    if (!sit.located()) return;
    cells_[district].emplace(CellOf(sit.situation().centroid().lat(), sit.situation().centroid().lon()),
                             sit.situation().situation_id());
  }

  void Unindex(const std::string& district, const std::string& id) {
    auto found = cells_.find(district);
    if (found == cells_.end()) return;
    Cells& cells = found->second;
    for (auto it = cells.begin(); it != cells.end();) {
      it = it->second == id ? cells.erase(it) : std::next(it);
    }
  }

  void ScheduleClose(const std::string& district, const v1::Situation& sit) {
    Unschedule(sit.situation_id());
    int64_t due = sit.last_seen_ms() + rules_.cluster().close_after_ms();
    close_due_.insert({due, district, sit.situation_id()});
    close_at_[sit.situation_id()] = {due, district};
  }
  void Unschedule(const std::string& id) {
    auto it = close_at_.find(id);
    if (it == close_at_.end()) return;
    close_due_.erase({it->second.first, it->second.second, id});
    close_at_.erase(it);
  }

  static st::OpenSituation* FindSituation(DistrictMem& d, const std::string& id) {
    for (auto& s : *d.state.mutable_situations()) {
      if (s.situation().situation_id() == id) return &s;
    }
    return nullptr;
  }

  // Joins the incident to a situation (creating or merging as needed); returns its id.
  std::string Cluster(const v1::Event& e, const StationRef& ref, bool located, double lat, double lon, int64_t t,
                      TaskState& ts) {
    const auto& rules = rules_.cluster();
    DistrictMem& d = p_.District(ref.district_path);
    // Candidates: open situations within the radius (neighbour cells) and the time window; a
    // report without a location joins situations of its own station only.
    std::vector<std::pair<double, std::string>> candidates;
    auto consider = [&](st::OpenSituation& s, double distance) {
      int64_t gap = t - s.situation().last_seen_ms();
      if (gap > rules.window_ms() || s.situation().first_seen_ms() - t > rules.window_ms()) return;
      candidates.emplace_back(distance, s.situation().situation_id());
    };
    if (located) {
      double size_deg = std::max(rules.radius_m(), 1.0) / 111'320.0;
      double lon_size = size_deg / std::max(0.05, std::cos(lat * M_PI / 180.0));
      std::set<std::string> seen;
      const Cells& cells = cells_[ref.district_path];
      for (int dr = -1; dr <= 1; ++dr) {
        for (int dc = -1; dc <= 1; ++dc) {
          auto range = cells.equal_range(CellOf(lat + dr * size_deg, lon + dc * lon_size));
          for (auto it = range.first; it != range.second; ++it) {
            if (!seen.insert(it->second).second) continue;
            st::OpenSituation* s = FindSituation(d, it->second);
            if (s == nullptr) continue;
            double dist = DistanceMeters(lat, lon, s->situation().centroid().lat(), s->situation().centroid().lon());
            if (dist <= rules.radius_m()) consider(*s, dist);
          }
        }
      }
    } else {
      for (auto& s : *d.state.mutable_situations()) {
        if (!s.located() && s.situation().station_id() == ref.station_id) consider(s, 0);
      }
    }
    std::sort(candidates.begin(), candidates.end());
    d.dirty = true;

    st::OpenSituation* target = nullptr;
    if (candidates.empty()) {
      int64_t seq = p_.NextSituationSeq();
      target = d.state.add_situations();
      v1::Situation& sit = *target->mutable_situation();
      sit.set_situation_id("S" + std::to_string(p_.id()) + "-" + std::to_string(seq));
      sit.set_first_seen_ms(t);
      sit.set_last_seen_ms(t);
      sit.set_area(ref.ward_path);
      sit.set_station_id(ref.station_id);
      sit.set_state(v1::Situation::STATE_OPEN);
      target->set_located(located);
      if (located) {
        sit.mutable_centroid()->set_lat(lat);
        sit.mutable_centroid()->set_lon(lon);
      }
    } else {
      target = FindSituation(d, candidates.front().second);
      // Every other candidate is within reach of this incident too: they are one situation now.
      for (size_t i = 1; i < candidates.size(); ++i) Merge(d, ref.district_path, candidates[i].second, *target, t, ts);
      target = FindSituation(d, candidates.front().second);
      target->mutable_situation()->set_state(v1::Situation::STATE_UPDATED);
    }
    AddMember(*target, e, ref, located, lat, lon, t);
    Unindex(ref.district_path, target->situation().situation_id());
    Index(ref.district_path, *target);
    ScheduleClose(ref.district_path, target->situation());
    EmitSituation(*target, ref.district_path, t, ts);
    Confirm(*target, ref.district_path, t, ts);
    return target->situation().situation_id();
  }

  void AddMember(st::OpenSituation& s, const v1::Event& e, const StationRef& ref, bool located, double lat, double lon,
                 int64_t t) {
    v1::Situation& sit = *s.mutable_situation();
    const v1::IncidentReport& in = e.incident();
    if (located && s.located()) {  // running mean of member locations
      double n = static_cast<double>(sit.member_event_ids_size());
      sit.mutable_centroid()->set_lat((sit.centroid().lat() * n + lat) / (n + 1));
      sit.mutable_centroid()->set_lon((sit.centroid().lon() * n + lon) / (n + 1));
    }
    sit.add_member_event_ids(e.header().event_id());
    sit.set_last_seen_ms(std::max(sit.last_seen_ms(), t));
    sit.set_first_seen_ms(std::min(sit.first_seen_ms(), t));
    if (std::find(sit.categories().begin(), sit.categories().end(), in.category()) == sit.categories().end()) {
      sit.add_categories(in.category());
    }
    s.set_max_severity(std::max(s.max_severity(), in.severity()));
    if (static_cast<size_t>(s.members_size()) < kMaxMembers) {
      st::Member* m = s.add_members();
      m->set_event_id(e.header().event_id());
      m->set_reporter(ReporterOf(e));
      m->set_text_hash(TextHash(in.description()));
      m->set_at_ms(t);
      m->set_severity(in.severity());
      m->set_category(in.category());
      m->set_station_id(ref.station_id);
    }
    // Independent reporters: distinct reporters, each counted only for a text nobody sent
    // before (the same report by SMS and by app, or forwarded, is one voice).
    std::set<std::string> reporters;
    std::set<uint64_t> texts;
    for (const auto& m : s.members()) {
      if (m.excluded()) continue;  // judged false or a duplicate by the duty room
      if (!texts.insert(m.text_hash()).second) continue;
      reporters.insert(m.reporter());
    }
    sit.set_independent_reporters(static_cast<int32_t>(reporters.size()));
    sit.set_confidence(std::min(1.0, rules_.cluster().reporter_confidence_step() * static_cast<double>(reporters.size())));
  }

  void Merge(DistrictMem& d, const std::string& district, const std::string& from_id, st::OpenSituation& into,
             int64_t t, TaskState& ts) {
    auto* list = d.state.mutable_situations();
    for (int i = 0; i < list->size(); ++i) {
      if (list->Get(i).situation().situation_id() != from_id) continue;
      st::OpenSituation from = list->Get(i);
      std::string into_id = into.situation().situation_id();
      for (const auto& m : from.members()) {
        if (static_cast<size_t>(into.members_size()) < kMaxMembers) *into.add_members() = m;
      }
      for (const auto& id : from.situation().member_event_ids()) into.mutable_situation()->add_member_event_ids(id);
      into.set_max_severity(std::max(into.max_severity(), from.max_severity()));
      into.set_confirmed(into.confirmed() || from.confirmed());
      into.mutable_situation()->set_first_seen_ms(std::min(into.situation().first_seen_ms(), from.situation().first_seen_ms()));
      into.mutable_situation()->set_last_seen_ms(std::max(into.situation().last_seen_ms(), from.situation().last_seen_ms()));
      from.mutable_situation()->set_state(v1::Situation::STATE_MERGED);
      from.mutable_situation()->set_merged_into(into_id);
      EmitSituation(from, d.state.situations(i).situation().area().empty() ? "" : schemas::DistrictKeyOfArea(from.situation().area()), t, ts);
      Unindex(district, from_id);
      Unschedule(from_id);
      list->DeleteSubrange(i, 1);
      return;
    }
  }

  void EmitSituation(const st::OpenSituation& s, const std::string& district, int64_t t, TaskState& ts) {
    const v1::Situation& sit = s.situation();
    v1::Event e = Derived("sit:" + sit.situation_id() + ":" + std::to_string(sit.member_event_ids_size()) + ":" +
                              std::to_string(static_cast<int>(sit.state())) + ":" + std::to_string(t),
                          t);
    *e.mutable_situation() = sit;
    ts.Emit(std::string(schemas::topic::kSituations), sit.situation_id(), std::move(e), district);
  }

  // A situation counts once enough independent reporters saw something serious: the `cluster`
  // finding at its station, reported once, its factor refreshed by every later report.
  void Confirm(st::OpenSituation& s, const std::string& district, int64_t t, TaskState& ts) {
    (void)district;
    const v1::Situation& sit = s.situation();
    bool corroborated = sit.independent_reporters() >= rules_.cluster().min_reporters() && s.max_severity() >= 3;
    if (!corroborated && !HasVerified(s)) return;
    StationMem* station = p_.FindStation(sit.station_id());
    if (station == nullptr) return;
    std::string categories;
    for (int c : sit.categories()) {
      categories += (categories.empty() ? "" : ", ") + std::string(schemas::CategoryName(static_cast<v1::IncidentCategory>(c)));
    }
    Finding f{.detector = "cluster",
              .severity = sit.confidence() * s.max_severity() / 5.0,
              .explanation = std::to_string(sit.independent_reporters()) + " independent reporters: " + categories +
                             " near " + station->ref->name + " (situation " + sit.situation_id() + ", " +
                             std::to_string(sit.member_event_ids_size()) + " reports)",
              .event_ids = CountingIds(s),
              .anomaly = s.confirmed() ? Finding::Anomaly::kNone : Finding::Anomaly::kPlain,
              .assess_now = true};
    if (f.event_ids.size() > 10) f.event_ids.resize(10);
    s.set_confirmed(true);
    findings_.AtStation(*station, f, t, ts);
  }

  // A duty-room decision on a report of this station: its situation is recounted without it (or
  // confirmed by it), and the findings it supported are taken back and reported anew.
  Status OnReview(const v1::ReportReview& review, const StationRef& ref, StationMem& s, int64_t t, TaskState& ts) {
    const bool excluded = review.status() == v1::REVIEW_STATUS_FALSE || review.status() == v1::REVIEW_STATUS_DUPLICATE;
    if (excluded) findings_.WithdrawAtStation(s, "incident", review.report_event_id());
    DistrictMem& d = p_.District(ref.district_path);
    for (auto& sit : *d.state.mutable_situations()) {
      if (!ApplyReview(sit, review)) continue;
      d.dirty = true;
      Recount(sit, rules_);
      StationMem* station = p_.FindStation(sit.situation().station_id());
      if (station != nullptr && sit.confirmed()) findings_.WithdrawAtStation(*station, "cluster", "");
      bool still = (sit.situation().independent_reporters() >= rules_.cluster().min_reporters() &&
                    sit.max_severity() >= 3) || HasVerified(sit);
      if (!still) sit.set_confirmed(false);
      sit.mutable_situation()->set_state(v1::Situation::STATE_UPDATED);
      EmitSituation(sit, ref.district_path, t, ts);
      Confirm(sit, ref.district_path, t, ts);
      break;
    }
    return Status::Ok();
  }

  // The situation's reports that count (the first ten), for its finding.
  static std::vector<std::string> CountingIds(const st::OpenSituation& s) {
    std::set<std::string> excluded;
    for (const auto& m : s.members()) {
      if (m.excluded()) excluded.insert(m.event_id());
    }
    std::vector<std::string> ids;
    for (const auto& id : s.situation().member_event_ids()) {
      if (!excluded.contains(id)) ids.push_back(id);
    }
    return ids;
  }

  Partition& p_;
  Findings& findings_;
  const v1::Rules& rules_;
  std::unordered_map<std::string, Cells> cells_;  // per district
  // When each open situation closes: (last seen + close_after_ms, district, id).
  std::set<std::tuple<int64_t, std::string, std::string>> close_due_;
  std::unordered_map<std::string, std::pair<int64_t, std::string>> close_at_;
};

}  // namespace

std::unique_ptr<Module> MakeIncidents(Partition& p, Findings& findings) {
  return std::make_unique<Incidents>(p, findings);
}

}  // namespace ewarn::processors::station
