// Turnout detectors (processors/README.md "turnout"): impossible counts, surges (between
// turnout reports, and at the kit's accreditation count), outliers against the district's
// stations, over-voting against the kit's accreditations, and integer-percentage heaping
// across a district's final counts.
//
// State: Station.snapshots, registered, latched, surge_latched_ms; Kit.recent_at_ms and
// recent_accredited (the readings the accreditation surge compares with); District.latched
// (heaping). It reads, never writes, the kits' counts that kits.cc keeps.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "detectors.h"
#include "ewarn/schemas/events.h"
#include "stats.h"
#include "station/partition.h"

namespace ewarn::processors::station {

// A station's latest turnout count, kept in an array beside its district's other stations:
// the outlier test reads every peer's on each turnout report, and a scan of one small array
// costs a fraction of chasing each peer's state.
struct LatestTurnout {
  bool reported = false;
  int64_t at_ms = 0;
  int64_t voters_cast = 0;
  int64_t registered = 0;
};

// A district's stations with a turnout count, in the order they got one.
struct TurnoutPeers {
  std::vector<StationMem*> stations;
  std::vector<LatestTurnout> latest;  // latest[i] is stations[i]'s
};

namespace {

// Latch bits in Station.latched and District.latched: a finding is reported once and not
// again until its condition clears.
enum Latch : uint32_t {
  kLatchImpossibleHigh = 1u << 0,
  kLatchDecreasing = 1u << 1,
  kLatchOverVoting = 1u << 2,
  kLatchOutlier = 1u << 3,
  kDistrictHeaping = 1u << 0,
};

// A rise of `voters` over `ms` as a share of the registered voters per hour, the elapsed time
// counted as at least `min_hours`: the measure both surge tests hold against
// surge_fraction_per_hour.
double SharePerHour(int64_t voters, int64_t registered, int64_t ms, double min_hours) {
  return static_cast<double>(voters) / static_cast<double>(registered) /
         std::max(min_hours, static_cast<double>(ms) / kHour);
}

// Snapshots are kept in time order (OnTurnout sorts them), so the latest is the last.
const st::TurnoutSnapshot* LatestSnapshot(const StationMem& s) {
  return s.state.snapshots().empty() ? nullptr : &*s.state.snapshots().rbegin();
}

class Turnout final : public Module {
 public:
  Turnout(Partition& p, Findings& findings) : p_(p), findings_(findings), rules_(p.rules().turnout()) {}

  Status Validate(const v1::Event& e, const StationRef* station) const override {
    (void)station;
    if (e.has_turnout() && e.turnout().voters_cast() < 0) {
      return Status::InvalidArgument("invalid_field: voters_cast is negative");
    }
    return Status::Ok();
  }

  Status OnEvent(const v1::Event& e, const StationRef* ref, StationMem* s, int64_t t, TaskState& ts) override {
    if (e.has_kit()) {
      OnKit(e, *s, t, ts);
    } else {
      OnTurnout(e, *ref, *s, t, ts);
    }
    return Status::Ok();
  }

  void OnLoaded(StationMem& s) override {
    if (!s.state.snapshots().empty()) Enlist(s);
  }
  void OnLoaded(const std::string& district, DistrictMem& d) override {
    if (d.state.heaping().close_ms() > 0) QueueLooks(district, d.state.heaping());
  }

 private:
  void OnTurnout(const v1::Event& e, const StationRef& ref, StationMem& s, int64_t t, TaskState& ts) {
    const v1::TurnoutUpdate& in = e.turnout();
    int64_t registered = in.registered() > 0 ? in.registered() : ref.registered;
    s.state.set_registered(registered);
    const std::string& id = e.header().event_id();
    auto& snaps = *s.state.mutable_snapshots();

    // (a) impossible: above registered, or a cumulative count that went down.
    int64_t before = -1;
    for (const auto& snap : snaps) {
      if (snap.at_ms() <= t) before = std::max(before, snap.voters_cast());
    }
    if (registered > 0 && static_cast<double>(in.voters_cast()) > registered * rules_.max_turnout_fraction()) {
      if (!(s.state.latched() & kLatchImpossibleHigh)) {
        s.state.set_latched(s.state.latched() | kLatchImpossibleHigh);
        Found(s, "turnout.impossible",
              std::to_string(in.voters_cast()) + " votes cast with " + std::to_string(registered) + " registered",
              {id}, t, ts);
      }
    }
    if (before > in.voters_cast() && !(s.state.latched() & kLatchDecreasing)) {
      s.state.set_latched(s.state.latched() | kLatchDecreasing);
      Found(s, "turnout.impossible",
            "cumulative votes went down from " + std::to_string(before) + " to " + std::to_string(in.voters_cast()),
            {id}, t, ts);
    }

    // (b) surge: the fastest rise against registered voters, as a rate per hour, from any
    // snapshot of the last hour (or the one before it) over at least a quarter of an hour:
    // a surge shows within one reporting interval instead of being averaged over the hour.
    if (registered > 0 && t >= s.state.surge_latched_ms()) {
      const st::TurnoutSnapshot* base = nullptr;
      double fastest = 0;
      const st::TurnoutSnapshot* before_hour = nullptr;
      for (const auto& snap : snaps) {
        if (snap.at_ms() >= t) continue;
        if (snap.at_ms() < t - kHour) {
          if (before_hour == nullptr || snap.at_ms() > before_hour->at_ms()) before_hour = &snap;
          continue;
        }
        double rate = SharePerHour(in.voters_cast() - snap.voters_cast(), registered, t - snap.at_ms(), 0.25);
        if (base == nullptr || rate > fastest) base = &snap, fastest = rate;
      }
      if (base == nullptr && before_hour != nullptr) {
        base = before_hour;
        fastest = SharePerHour(in.voters_cast() - base->voters_cast(), registered, t - base->at_ms(), 1.0);
      }
      if (base != nullptr && fastest > rules_.surge_fraction_per_hour()) {
        double rise = static_cast<double>(in.voters_cast() - base->voters_cast()) / static_cast<double>(registered);
        s.state.set_surge_latched_ms(t + kHour);
        Found(s, "turnout.surge",
              Fmt("turnout rose by %.0f%% of registered voters in %.0f min", 100 * rise,
                  static_cast<double>(t - base->at_ms()) / kMinute),
              {base->event_id(), id}, t, ts);
      }
    }

    // Keep the last hour's snapshots and the newest.
    st::TurnoutSnapshot snap;
    snap.set_at_ms(t);
    snap.set_voters_cast(in.voters_cast());
    snap.set_event_id(id);
    snaps.Add(std::move(snap));
    std::sort(snaps.begin(), snaps.end(), [](const auto& a, const auto& b) { return a.at_ms() < b.at_ms(); });
    int64_t newest = snaps.rbegin()->at_ms();
    while (snaps.size() > 1 && snaps.begin()->at_ms() < newest - kHour - 30 * kMinute) snaps.erase(snaps.begin());
    if (s.peers == nullptr) Enlist(s);
    NoteTurnout(s);

    CheckOverVoting(s, t, ts);
    CheckOutlier(s, t, ts);
    ScheduleLooks(ref.district_path, p_.Hours(ref).ClosedAt(t));
  }

  void OnKit(const v1::Event& e, StationMem& s, int64_t t, TaskState& ts) {
    st::Kit* kit = nullptr;
    for (auto& k : *s.state.mutable_kits()) {
      if (k.kit_id() == e.kit().kit_id()) kit = &k;
    }
    if (kit != nullptr) CheckAccreditationSurge(s, *kit, e.kit().accredited_total(), e.header().event_id(), t, ts);
    CheckOverVoting(s, t, ts);
  }

  void Found(StationMem& s, const std::string& detector, std::string explanation, std::vector<std::string> ids,
             int64_t t, TaskState& ts) {
    findings_.AtStation(s, {.detector = detector, .explanation = std::move(explanation), .event_ids = std::move(ids)}, t,
                        ts);
  }

  // Lists a station among its district's (a StationMem never moves, so the pointers stay valid).
  void Enlist(StationMem& s) {
    TurnoutPeers& d = peers_[s.ref->district_path];
    s.peers = &d;
    s.peer_slot = d.stations.size();
    d.stations.push_back(&s);
    d.latest.emplace_back();
    NoteTurnout(s);
  }

  // Copies the station's latest snapshot and registered count into its district's array.
  static void NoteTurnout(const StationMem& s) {
    LatestTurnout& l = s.peers->latest[s.peer_slot];
    const st::TurnoutSnapshot* latest = LatestSnapshot(s);
    l.reported = latest != nullptr;
    l.at_ms = latest != nullptr ? latest->at_ms() : 0;
    l.voters_cast = latest != nullptr ? latest->voters_cast() : 0;
    l.registered = s.state.registered();
  }

  // (b) surge, as the kit sees it: voters are accredited before they vote, and a kit reports
  // every few minutes where turnout comes every quarter or half hour, so stuffing shows here
  // first. The rise since the kit's newest reading at least accreditation_window_ms old (and
  // within the hour) is a rate per hour against registered voters, by at least
  // surge_min_voters (a small station's few busy minutes are not a surge). Only readings taken
  // while polls are open count: a kit's first count of the day holds everyone accredited
  // before it was switched on.
  void CheckAccreditationSurge(StationMem& s, st::Kit& kit, int64_t accredited, const std::string& id, int64_t t,
                               TaskState& ts) {
    const int64_t window = rules_.accreditation_window_ms();
    auto& at = *kit.mutable_recent_at_ms();
    auto& count = *kit.mutable_recent_accredited();
    int base = -1;  // the newest reading at least a window old
    for (int i = 0; i < at.size() && at[i] <= t - window; ++i) base = i;
    int64_t registered = s.state.registered() > 0 ? s.state.registered() : s.ref->registered;
    const PollingHours hours = p_.Hours(*s.ref);
    if (base >= 0 && registered > 0 && hours.Open(t) && at[base] >= std::max(hours.OpenedAt(t), t - kHour) &&
        t >= s.state.surge_latched_ms()) {
      int64_t rise = accredited - count[base];
      if (rise >= rules_.surge_min_voters() &&
          SharePerHour(rise, registered, t - at[base], 0) > rules_.surge_fraction_per_hour()) {
        s.state.set_surge_latched_ms(t + kHour);
        Found(s, "turnout.surge",
              "kit " + kit.kit_id() +
                  Fmt(" accredited %.0f voters (%.0f%% of registered) in %.0f min", static_cast<double>(rise),
                      100.0 * static_cast<double>(rise) / static_cast<double>(registered),
                      static_cast<double>(t - at[base]) / kMinute),
              {id}, t, ts);
      }
    }
    // Keep this reading, in time order, and what can still be a base: the readings younger
    // than a window and the newest older one (any older is never the newest base again).
    int at_index = at.size();
    at.Add(t);
    count.Add(accredited);
    for (; at_index > 0 && at[at_index - 1] > at[at_index]; --at_index) {
      at.SwapElements(at_index - 1, at_index);
      count.SwapElements(at_index - 1, at_index);
    }
    int newest_old = -1;
    for (int i = 0; i < at.size() && at[i] <= at[at.size() - 1] - window; ++i) newest_old = i;
    if (newest_old > 0) {
      at.erase(at.begin(), at.begin() + newest_old);
      count.erase(count.begin(), count.begin() + newest_old);
    }
  }

  // (d) over-voting: more votes than the kit accredited voters. Only a kit reading within half
  // an hour of the count is evidence: a stale accreditation count lags the votes by design.
  void CheckOverVoting(StationMem& s, int64_t t, TaskState& ts) {
    const st::TurnoutSnapshot* latest = LatestSnapshot(s);
    if (latest == nullptr) return;
    int64_t voters = latest->voters_cast();
    int64_t accredited = 0;
    for (const auto& k : s.state.kits()) {
      if (std::abs(k.last_seen_ms() - latest->at_ms()) <= 30 * kMinute) accredited = std::max(accredited, k.accredited_total());
    }
    if (accredited <= 0) return;
    int64_t excess = voters - accredited;
    bool over = excess >= 10 &&
                static_cast<double>(voters) > static_cast<double>(accredited) * (1 + rules_.over_voting_margin());
    if (over && !(s.state.latched() & kLatchOverVoting)) {
      s.state.set_latched(s.state.latched() | kLatchOverVoting);
      Found(s, "turnout.over_voting",
            std::to_string(voters) + " votes cast but the kit accredited " + std::to_string(accredited) + " voters", {},
            t, ts);
    } else if (!over && excess < 0) {
      s.state.set_latched(s.state.latched() & ~kLatchOverVoting);
    }
  }

  // (c) outlier among the district's stations with a recent count (robust z on median/MAD).
  void CheckOutlier(StationMem& s, int64_t t, TaskState& ts) {
    if (s.state.registered() <= 0 || (s.state.latched() & kLatchOutlier)) return;
    const st::TurnoutSnapshot* latest = LatestSnapshot(s);
    if (latest == nullptr) return;
    double mine = static_cast<double>(latest->voters_cast()) / static_cast<double>(s.state.registered());
    std::vector<double> peers;
    const std::vector<LatestTurnout>& latest_of = s.peers->latest;
    for (size_t i = 0; i < latest_of.size(); ++i) {
      const LatestTurnout& last = latest_of[i];
      if (i == s.peer_slot || last.registered <= 0 || !last.reported || last.at_ms < t - kHour) continue;
      peers.push_back(static_cast<double>(last.voters_cast) / static_cast<double>(last.registered));
    }
    if (static_cast<int>(peers.size()) < rules_.outlier_min_peers()) return;
    double median = Median(peers);
    double z = RobustZ(mine, std::move(peers));
    if (std::abs(z) > rules_.outlier_robust_z() && std::abs(mine - median) > 0.15) {
      s.state.set_latched(s.state.latched() | kLatchOutlier);
      Found(s, "turnout.outlier",
            Fmt("turnout %.0f%% against a district median of %.0f%% (robust z %.1f)", 100 * mine, 100 * median, z), {},
            t, ts);
    }
  }

  // (e) integer-percentage heaping (Kobak, Shpilkin & Pshenichnikov 2016), processors/README.md
  // "What the heaping p-value means". Each district is looked at up to kLooks times a day, at
  // fixed points of event time: when its polls close, over the counts it has then (reported
  // before the close or not), then r, 2r and 4r later (r = heaping_retest_after_ms), each
  // re-test only if its counts changed. A look that tests spends half of what is left of the
  // day's heaping_p_value (the last look all of it), a look that does not test spends nothing:
  // the spent shares never add up to more than one (alpha spending), and a district whose
  // counts all come after the close gets half the budget at its first test, not a quarter.
  // Between looks nothing is tested, so the order in which counts arrive does not matter.
  static constexpr int kLooks = 4;
  int64_t LookAt(int64_t close_ms, int look) const {
    return look == 1 ? close_ms : close_ms + (rules_.heaping_retest_after_ms() << (look - 2));
  }
  // The share of the day's budget a test at `look` spends, `spent` being spent already.
  static double LookShare(int look, double spent) { return look == kLooks ? 1 - spent : (1 - spent) / 2; }
  void ScheduleLooks(const std::string& district, int64_t close_ms) {
    DistrictMem& d = p_.District(district);
    st::HeapingLooks& looks = *d.state.mutable_heaping();
    if (looks.close_ms() == close_ms) return;
    if (looks.close_ms() > close_ms) return;  // a late count of an earlier day
    looks.Clear();
    looks.set_close_ms(close_ms);
    d.state.set_latched(d.state.latched() & ~kDistrictHeaping);
    d.dirty = true;
    QueueLooks(district, looks);
  }
  void QueueLooks(const std::string& district, const st::HeapingLooks& looks) {
    for (int look = looks.looks() + 1; look <= kLooks; ++look) {
      looks_due_.insert({LookAt(looks.close_ms(), look), look, district});
    }
  }

  // What one look tests: each station's latest count of the day and its chance of a whole
  // percentage under the published null (the count redrawn as Binomial(registered, observed
  // turnout)), in one order whatever the load order.
  struct Counts {
    std::vector<std::pair<int64_t, int64_t>> finals;  // (voters, registered)
    void Add(const TurnoutPeers& peers, int64_t close_ms) {
      for (const StationMem* st : peers.stations) {
        if (st->state.snapshots().empty() || st->state.registered() <= 0) continue;
        const auto& last = *st->state.snapshots().rbegin();
        if (last.at_ms() <= close_ms - kDay || last.at_ms() >= close_ms + kDay) continue;
        finals.emplace_back(last.voters_cast(), st->state.registered());
      }
    }
    // The counts in one order, and a hash of them: a re-test runs only when they changed (a
    // late count replacing a station's earlier one changes them without adding a station).
    uint64_t Fingerprint() {
      std::sort(finals.begin(), finals.end());
      uint64_t h = 1469598103934665603ull;
      for (const auto& [voters, registered] : finals) {
        for (int64_t v : {voters, registered}) h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ull;
      }
      return h;
    }
  };
  struct Tested {
    int stations = 0, at_integer = 0;
    double expected = 0, p_value = 1;
  };
  Tested Test(Counts& c) const {
    std::sort(c.finals.begin(), c.finals.end());
    Tested r;
    std::vector<double> chances;
    for (const auto& [voters, registered] : c.finals) {
      double rate = std::min(1.0, static_cast<double>(voters) / static_cast<double>(registered));
      chances.push_back(ChanceOfWholePercent(registered, rate, rules_.heaping_tolerance()));
      r.expected += chances.back();
      r.at_integer += AtIntegerPercent(voters, registered, rules_.heaping_tolerance()) ? 1 : 0;
    }
    r.stations = static_cast<int>(c.finals.size());
    r.p_value = PoissonBinomialUpperTail(chances, r.at_integer);
    return r;
  }

  void OnMinute(int64_t now, TaskState& ts) override {
    while (!looks_due_.empty() && std::get<0>(*looks_due_.begin()) <= now) {
      // One batch: the districts whose look is due at the same time (one close of polls).
      auto [due, look, first] = *looks_due_.begin();
      std::vector<std::string> batch;
      while (!looks_due_.empty() && std::get<0>(*looks_due_.begin()) == due && std::get<1>(*looks_due_.begin()) == look) {
        batch.push_back(std::get<2>(*looks_due_.begin()));
        looks_due_.erase(looks_due_.begin());
      }
      Look(batch, look, now, ts);
    }
  }

  void Look(const std::vector<std::string>& districts, int look, int64_t now, TaskState& ts) {
    struct Candidate {
      std::string area;
      Tested result;
      double alpha = 0;  // this test's share of heaping_p_value
    };
    std::vector<Candidate> tested;
    std::map<std::string, Counts> regions;  // this look's districts, pooled by region
    for (const std::string& district : districts) {
      DistrictMem& d = p_.District(district);
      st::HeapingLooks& looks = *d.state.mutable_heaping();
      if (looks.looks() >= look) continue;
      looks.set_looks(look);
      d.dirty = true;
      Counts c;
      if (auto it = peers_.find(district); it != peers_.end()) c.Add(it->second, looks.close_ms());
      std::string region = district.substr(0, district.find('/'));
      Counts& pooled = regions[region];
      pooled.finals.insert(pooled.finals.end(), c.finals.begin(), c.finals.end());
      // A re-test only when counts changed: the same counts are the same answer.
      uint64_t fingerprint = c.Fingerprint();
      bool changed = look == 1 || fingerprint != looks.counts_hash();
      looks.set_stations_tested(static_cast<int>(c.finals.size()));
      looks.set_counts_hash(fingerprint);
      if (looks.flagged() || !changed || static_cast<int>(c.finals.size()) < rules_.heaping_min_stations()) continue;
      double share = LookShare(look, looks.alpha_spent());
      looks.set_alpha_spent(looks.alpha_spent() + share);
      tested.push_back({district, Test(c), rules_.heaping_p_value() * share});
    }
    Decide(tested, [&](const Candidate& c) {
      DistrictMem& d = p_.District(c.area);
      d.state.mutable_heaping()->set_flagged(true);
      d.state.set_latched(d.state.latched() | kDistrictHeaping);
      d.dirty = true;
      findings_.AtArea(c.area, c.area, {.detector = "turnout.heaping", .explanation = Explain(c.result, look)}, now, ts);
    });
    // The region beside its districts: small districts cannot show what their sum can.
    std::vector<Candidate> regional;
    auto& region_looks = *p_.meta().mutable_heaping_regions();
    for (auto& [region, counts] : regions) {
      st::HeapingLooks& looks = region_looks[region];
      int64_t close_ms = p_.District(districts.front()).state.heaping().close_ms();
      if (looks.close_ms() != close_ms) {
        looks.Clear();
        looks.set_close_ms(close_ms);
      }
      p_.MarkMetaDirty();
      uint64_t fingerprint = counts.Fingerprint();
      bool changed = look == 1 || fingerprint != looks.counts_hash();
      looks.set_looks(look);
      looks.set_stations_tested(static_cast<int>(counts.finals.size()));
      looks.set_counts_hash(fingerprint);
      if (looks.flagged() || !changed || static_cast<int>(counts.finals.size()) < rules_.heaping_min_stations()) continue;
      double share = LookShare(look, looks.alpha_spent());
      looks.set_alpha_spent(looks.alpha_spent() + share);
      regional.push_back({region, Test(counts), rules_.heaping_p_value() * share});
    }
    Decide(regional, [&](const Candidate& c) {
      region_looks[c.area].set_flagged(true);
      // An anomaly for the region's districts in this partition (regions span partitions, and
      // risk is kept per district): its risk goes to no subject, routing sees the anomaly.
      v1::Event e = Derived("an:turnout.heaping_region:" + c.area + ":p" + std::to_string(p_.id()) + ":" +
                                std::to_string(now),
                            now);
      auto* a = e.mutable_anomaly();
      a->set_detector("turnout.heaping_region");
      a->set_subject_id(c.area);
      a->set_area(c.area);
      a->set_severity(1.0);
      a->set_explanation("districts of " + c.area + " in partition " + std::to_string(p_.id()) + ": " +
                         Explain(c.result, look));
      ts.Emit(std::string(schemas::topic::kAnomalies), c.area, std::move(e), districts.front());
    });
  }

  // Flags those whose exact p-value is within this look's share of the day's budget and
  // passes Benjamini-Hochberg among everything tested at the look.
  template <typename Candidate, typename Flag>
  void Decide(const std::vector<Candidate>& tested, const Flag& flag) const {
    std::vector<double> p;
    for (const auto& c : tested) p.push_back(c.result.p_value);
    std::vector<bool> discovered = BenjaminiHochberg(p, rules_.heaping_fdr());
    for (size_t i = 0; i < tested.size(); ++i) {
      if (discovered[i] && tested[i].result.p_value <= tested[i].alpha) flag(tested[i]);
    }
  }

  static std::string Explain(const Tested& r, int look) {
    return std::to_string(r.at_integer) + " of " + std::to_string(r.stations) +
           (look == 1 ? " counts at the close" : " counts with the late ones") +
           " at a whole percentage; chance gives " + Fmt("%.1f (exact p = %.1e)", r.expected, r.p_value);
  }

  Partition& p_;
  Findings& findings_;
  const v1::TurnoutRules& rules_;
  std::unordered_map<std::string, TurnoutPeers> peers_;  // per district
  // Heaping looks due: (time, look 1 or 2, district).
  std::set<std::tuple<int64_t, int, std::string>> looks_due_;
};

}  // namespace

std::unique_ptr<Module> MakeTurnout(Partition& p, Findings& findings) {
  return std::make_unique<Turnout>(p, findings);
}

}  // namespace ewarn::processors::station
