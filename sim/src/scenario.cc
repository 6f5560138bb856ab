// The election-day generator. Every random draw comes from one std::mt19937_64 seeded from
// the options, consumed in a fixed order, and turned into numbers by our own helpers (not
// <random>'s distributions, whose algorithms the standard leaves to the library), so a seed
// means the same day on every build.
#include "ewarn/sim/scenario.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>

#include "ewarn/base/hash.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/schemas/events.h"
#include "topic_reader.h"

namespace ewarn::sim {
namespace {

using ingest::JsonString;

constexpr double kPi = 3.14159265358979323846;
// Voters are accredited at the kit about this long before their vote is counted.
constexpr int64_t kAccreditationLeadMs = 10 * kMinuteMs;

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  int64_t Int(int64_t lo, int64_t hi) {  // [lo, hi]
    return lo + static_cast<int64_t>(engine_() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(double p) { return Uniform() < p; }
  // Binomial(n, p) as n trials: exact, deterministic on every toolchain, and fast enough for
  // polling stations (n is a few thousand at most).
  int64_t Binomial(int64_t n, double p) {
    int64_t k = 0;
    for (int64_t i = 0; i < n; ++i) k += Uniform() < p ? 1 : 0;
    return k;
  }
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(Int(0, static_cast<int64_t>(i) - 1))]);
  }

 private:
  std::mt19937_64 engine_;
};

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

double DistanceM(double lat1, double lon1, double lat2, double lon2) {
  double dlat = (lat2 - lat1) * kPi / 180, dlon = (lon2 - lon1) * kPi / 180;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(lat1 * kPi / 180) * std::cos(lat2 * kPi / 180) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * 6371000 * std::asin(std::min(1.0, std::sqrt(a)));
}

// A point `meters` from (lat, lon) in a random direction.
std::pair<double, double> Offset(Rng& rng, double lat, double lon, double max_m) {
  double r = max_m * std::sqrt(rng.Uniform()), bearing = rng.Uniform(0, 2 * kPi);
  double dlat = r * std::cos(bearing) / 111320.0;
  double dlon = r * std::sin(bearing) / (111320.0 * std::cos(lat * kPi / 180));
  return {lat + dlat, lon + dlon};
}

// Turnout over the day: cumulative share of a station's final count at a fraction x of the
// polling hours, from a rate with a morning and an afternoon peak (weights a, b). Smooth: the
// busiest hour carries at most ~18% of the final count.
struct Curve {
  double a = 1, b = 1;
  std::vector<double> cumulative;  // per minute of polling, 0 .. 1

  void Build(int64_t minutes) {
    cumulative.assign(static_cast<size_t>(minutes) + 1, 0);
    double total = 0;
    for (int64_t m = 1; m <= minutes; ++m) {
      double x = (static_cast<double>(m) - 0.5) / static_cast<double>(minutes);
      total += 1 + a * std::exp(-std::pow((x - 0.2) / 0.15, 2)) + b * std::exp(-std::pow((x - 0.75) / 0.15, 2));
      cumulative[static_cast<size_t>(m)] = total;
    }
    for (double& c : cumulative) c /= total;
  }
  double At(int64_t minute) const {
    if (minute <= 0) return 0;
    if (minute >= static_cast<int64_t>(cumulative.size()) - 1) return 1;
    return cumulative[static_cast<size_t>(minute)];
  }
};

// What the day holds for one station.
struct StationPlan {
  int64_t registered = 0;
  int64_t final_cast = 0;       // background final turnout (voters)
  Curve curve;
  // turnout_surge: `surge_extra` voters added linearly over [surge_start, surge_end].
  int64_t surge_start = 0, surge_end = 0, surge_extra = 0;
  // over_voting: from over_from on, reported voters_cast = ceil(1.10 * the kit's count ahead).
  int64_t over_from = 0;
  // kit_outage: no heartbeats (nor turnout, sent from the same device) in [down_from, down_to).
  int64_t down_from = 0, down_to = 0;
  bool patterned = false;       // reserved by a pattern: not reused by another
  double auth_failure_rate = 0.02;
  double battery_start = 100, battery_drain_per_hour = 4;
  int64_t final_report_ms = 0;
};

std::string DateTag(int64_t day_ms) {
  std::string t = FormatRfc3339(day_ms);  // YYYY-MM-DDT...
  return t.substr(0, 4) + t.substr(5, 2) + t.substr(8, 2);
}

class Generator {
 public:
  Generator(std::vector<v1::PollingStation> stations, const ScenarioOptions& o)
      : o_(o), rng_(o.seed ^ 0x9e3779b97f4a7c15ull) {
    s_.seed = o.seed;
    s_.stations = std::move(stations);
    s_.start_ms = o.day_ms + o.start_ms_of_day;
    s_.end_ms = s_.start_ms + static_cast<int64_t>(o.hours * kHourMs);
    s_.polls_open_ms = o.day_ms + o.polls_open_ms_of_day;
    s_.polls_close_ms = o.day_ms + o.polls_close_ms_of_day;
  }

  // Six hex digits of everything else that shapes the stream, so a run with other flags (or
  // stations) gets other ids instead of conflicting with an earlier run's.
  std::string RunTag() const {
    std::string shape = Fixed(o_.hours, 3) + "|" + std::to_string(o_.start_ms_of_day) + "|" +
                        std::to_string(o_.polls_open_ms_of_day) + "|" + std::to_string(o_.polls_close_ms_of_day) + "|" +
                        std::to_string(o_.heartbeat_ms) + "|" + std::to_string(o_.turnout_every_ms) + "|" +
                        Fixed(o_.incidents_per_station, 4) + "|" + std::to_string(o_.flag_every_ms) + "|" +
                        Fixed(o_.sms_fraction, 4) + "|" + (o_.inject_patterns ? "p" : "-");
    // Appended only when set, so the ids of every earlier kind of day stay as they were.
    if (o_.null_day) shape += "|null";
    if (o_.finals_only) shape += "|finals";
    for (const auto& st : s_.stations) shape += "|" + st.station_id();
    char tag[16];
    std::snprintf(tag, sizeof tag, "%06llx", static_cast<unsigned long long>(StableHash64(shape) & 0xffffff));
    return tag;
  }

  Scenario Run() {
    Index();
    id_base_ = o_.id_prefix + "-" + DateTag(o_.day_ms) + "-" + std::to_string(o_.seed) + "-" + RunTag() + "-";
    PlanStations();
    // Finals only: no incidents, so no monitors (whose tokens take most of Prepare's time) and
    // no patterns (each needs more than final counts).
    if (!o_.finals_only) MakeMonitors();
    if (o_.inject_patterns && !o_.null_day && !o_.finals_only) {
      InjectDecoyBusy();  // first: it wants the largest station of all
      InjectHeaping();
      InjectKitOutage();
      InjectHateSurge();
      InjectViolentCluster();
      InjectDecoyRepeat();
      InjectTurnoutSurge();
      InjectOverVoting();
    }
    EmitStations();
    if (!o_.finals_only) {
      EmitBackgroundIncidents();
      EmitFlags();
    }
    std::stable_sort(events_.begin(), events_.end(),
                     [](const SimEvent& x, const SimEvent& y) { return x.time_ms < y.time_ms; });
    s_.events = std::move(events_);
    return std::move(s_);
  }

 private:
  // --- reference -------------------------------------------------------------------------
  void Index() {
    std::sort(s_.stations.begin(), s_.stations.end(),
              [](const auto& x, const auto& y) { return x.station_id() < y.station_id(); });
    for (size_t i = 0; i < s_.stations.size(); ++i) {
      districts_[DistrictPath(s_.stations[i])].push_back(i);
      wards_[WardPath(s_.stations[i])].push_back(i);
    }
  }

  int64_t PollMinutes() const { return (s_.polls_close_ms - s_.polls_open_ms) / kMinuteMs; }

  void PlanStations() {
    plans_.resize(s_.stations.size());
    for (size_t i = 0; i < s_.stations.size(); ++i) {
      auto& st = s_.stations[i];
      auto& p = plans_[i];
      if (st.registered_voters() <= 0) {
        // Unknown (e.g. INEC units): a stable 500-1500 from the seed and the id.
        st.set_registered_voters(500 + static_cast<int64_t>(StableHash64(std::to_string(o_.seed) + st.station_id()) % 1001));
      }
      p.registered = st.registered_voters();
      p.curve.a = rng_.Uniform(0.5, 1.5);
      p.curve.b = rng_.Uniform(0.5, 1.5);
      p.curve.Build(PollMinutes());
      if (o_.null_day) {
        p.final_cast = rng_.Binomial(p.registered, DistrictTurnout(DistrictPath(st)));
      } else {
        p.final_cast = NonInteger(p.registered, static_cast<int64_t>(p.registered * rng_.Uniform(0.35, 0.75)));
      }
      p.auth_failure_rate = rng_.Uniform(0.01, 0.05);
      p.battery_start = rng_.Uniform(92, 100);
      p.battery_drain_per_hour = rng_.Uniform(2.5, 4.5);
      p.final_report_ms = s_.polls_close_ms + rng_.Int(2, 15) * kMinuteMs;
    }
  }

  // A null day's turnout of a district, 35-75 %, drawn when its first station is planned.
  double DistrictTurnout(const std::string& district) {
    auto [it, fresh] = district_turnout_.emplace(district, 0.0);
    if (fresh) it->second = rng_.Uniform(0.35, 0.75);
    return it->second;
  }

  // Nudges a final count off integer percentages (the heaping detector's tolerance is 0.05 pp).
  static int64_t NonInteger(int64_t registered, int64_t cast) {
    auto pp_off = [&](int64_t c) {
      double pct = 100.0 * static_cast<double>(c) / static_cast<double>(registered);
      return std::fabs(pct - std::round(pct));
    };
    while (pp_off(cast) <= 0.08 && cast < registered) ++cast;
    return cast;
  }

  void MakeMonitors() {
    int n = 0;
    for (const auto& [district, members] : districts_) {
      size_t count = std::max<size_t>(5, (members.size() + 3) / 4);
      for (size_t k = 0; k < count; ++k) {
        ++n;
        char id[32], phone[32];
        std::snprintf(id, sizeof id, "SIMMON-%05d", n);
        std::snprintf(phone, sizeof phone, "+1555%07d", n);
        district_monitors_[district].push_back(s_.monitors.size());
        s_.monitors.push_back({id, district, phone});
      }
    }
  }

  // --- picking places for patterns -------------------------------------------------------
  bool Fits(int64_t from, int64_t to) const { return from >= s_.start_ms && to <= s_.end_ms; }

  // The first district (seeded order) satisfying `ok` and not used by another pattern.
  std::string PickDistrict(const std::function<bool(const std::string&, const std::vector<size_t>&)>& ok) {
    std::vector<std::string> names;
    for (const auto& [d, _] : districts_) names.push_back(d);
    rng_.Shuffle(names);
    for (const auto& d : names) {
      if (used_districts_.count(d) == 0 && ok(d, districts_[d])) return d;
    }
    for (const auto& d : names) {  // few districts: share one, never a station
      if (ok(d, districts_[d])) return d;
    }
    return "";
  }

  // A free station (not patterned), preferring districts no pattern uses yet.
  std::optional<size_t> PickStation(const std::function<bool(size_t)>& ok) {
    std::vector<size_t> order(s_.stations.size());
    std::iota(order.begin(), order.end(), 0);
    rng_.Shuffle(order);
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t i : order) {
        if (plans_[i].patterned || !ok(i)) continue;
        if (pass == 0 && used_districts_.count(DistrictPath(s_.stations[i]))) continue;
        return i;
      }
    }
    return std::nullopt;
  }

  void Reserve(size_t i) {
    plans_[i].patterned = true;
    used_districts_.insert(DistrictPath(s_.stations[i]));
  }

  bool Located(size_t i) const { return s_.stations[i].has_location(); }

  // --- patterns --------------------------------------------------------------------------
  void InjectHeaping() {
    int64_t last_report = s_.polls_close_ms + 15 * kMinuteMs;
    if (!Fits(s_.polls_open_ms, last_report)) return;
    std::string d = PickDistrict([&](const std::string&, const std::vector<size_t>& m) {
      return std::count_if(m.begin(), m.end(), [&](size_t i) { return !plans_[i].patterned; }) >= 12;
    });
    if (d.empty()) return;
    used_districts_.insert(d);
    std::vector<size_t> members;  // those no other pattern has taken
    for (size_t i : districts_[d]) {
      if (!plans_[i].patterned) members.push_back(i);
    }
    // Most (80%) of the district's stations report a final count at an exact integer percentage.
    size_t heaped = (members.size() * 4 + 4) / 5;
    TruthRecord t{.pattern = "integer_heaping", .detector = "turnout.heaping", .subject = d, .area = d};
    t.start_ms = INT64_MAX;
    for (size_t k = 0; k < members.size(); ++k) {
      auto& p = plans_[members[k]];
      p.patterned = true;
      if (k >= heaped) continue;
      int64_t best = -1;
      int target = static_cast<int>(rng_.Int(40, 70));
      for (int delta = 0; delta <= 10 && best < 0; ++delta) {
        for (int sign : {1, -1}) {
          int pct = target + sign * delta;
          int64_t cast = std::llround(static_cast<double>(p.registered) * pct / 100.0);
          double off = std::fabs(100.0 * static_cast<double>(cast) / static_cast<double>(p.registered) - pct);
          if (off <= 0.04) {
            best = cast;
            break;
          }
        }
      }
      if (best < 0) continue;
      p.final_cast = best;
      t.stations.push_back(s_.stations[members[k]].station_id());
      t.start_ms = std::min(t.start_ms, p.final_report_ms);
      t.end_ms = std::max(t.end_ms, p.final_report_ms);
    }
    if (t.stations.size() >= 10) s_.truth.push_back(std::move(t));
  }

  void InjectKitOutage() {
    int64_t from = s_.polls_open_ms + 3 * kHourMs, to = from + 75 * kMinuteMs;  // 11:00-12:15
    if (!Fits(from, to)) return;
    std::string ward;
    std::string d = PickDistrict([&](const std::string& district, const std::vector<size_t>&) {
      for (const auto& [w, m] : wards_) {
        if (w.starts_with(district + "/") && m.size() >= 5 && !AnyPatterned(m)) {
          ward = w;
          return true;
        }
      }
      return false;
    });
    if (d.empty()) return;
    used_districts_.insert(d);
    const auto& members = wards_[ward];
    size_t down = (members.size() * 4 + 4) / 5;  // 80% of the ward's kits
    TruthRecord t{.pattern = "kit_outage", .detector = "kit.area_down", .subject = ward, .area = ward,
                  .start_ms = from, .end_ms = to};
    for (size_t k = 0; k < members.size(); ++k) {
      plans_[members[k]].patterned = true;
      if (k >= down) continue;
      plans_[members[k]].down_from = from;
      plans_[members[k]].down_to = to;
      t.stations.push_back(s_.stations[members[k]].station_id());
    }
    s_.truth.push_back(std::move(t));
  }

  bool AnyPatterned(const std::vector<size_t>& members) const {
    return std::any_of(members.begin(), members.end(), [&](size_t i) { return plans_[i].patterned; });
  }

  void InjectHateSurge() {
    int64_t from = s_.polls_open_ms + 6 * kHourMs, to = from + kHourMs;  // 14:00-15:00
    if (!Fits(from, to)) return;
    std::string d = PickDistrict([](const std::string&, const std::vector<size_t>&) { return true; });
    if (d.empty()) return;
    used_districts_.insert(d);
    const auto& members = districts_[d];
    // 14 flags in 50 minutes, wide reach, confident; the district's background is one flag
    // per flag_every_ms (EmitFlags), so this is far above 5x its baseline.
    for (int k = 0; k < 14; ++k) {
      int64_t t = from + k * 50 * kMinuteMs / 14 + rng_.Int(0, 2) * kMinuteMs;
      const auto& st = s_.stations[members[static_cast<size_t>(rng_.Int(0, static_cast<int64_t>(members.size()) - 1))]];
      // A campaign: many different posts (the same text from one source counts once).
      static const char* kPosts[] = {"they must not be allowed to vote here, drive them out",
                                     "do not let them near the polling unit today",
                                     "these people are not citizens, chase them from the queue",
                                     "every one of them voting is stealing our election",
                                     "gather at the school and make sure they go home"};
      Flag(t, st.station_id(), "", std::string(kPosts[k % 5]) + " #" + std::to_string(k), "group-b",
           rng_.Int(20000, 200000), rng_.Uniform(0.85, 0.98), "hate_surge");
    }
    s_.truth.push_back({.pattern = "hate_surge", .detector = "hate.surge", .subject = d, .area = d,
                        .start_ms = from, .end_ms = to});
  }

  void InjectViolentCluster() {
    auto i = PickStation([&](size_t k) { return Located(k); });
    int64_t base = s_.polls_open_ms + 2 * kHourMs + 30 * kMinuteMs;  // around 10:30
    if (!i || !Fits(base, base + 2 * kHourMs)) return;
    Reserve(*i);
    const auto& st = s_.stations[*i];
    int64_t start = base + rng_.Int(0, 60) * kMinuteMs;
    std::vector<size_t> monitors = district_monitors_[DistrictPath(st)];
    rng_.Shuffle(monitors);
    TruthRecord t{.pattern = "violent_cluster", .detector = "cluster", .subject = st.station_id(),
                  .stations = {st.station_id()}, .area = WardPath(st), .start_ms = start};
    // Four independent monitors within 20 minutes and ~600 m of the station.
    const int64_t offsets[] = {0, 4, 9, 16};
    const char* texts[] = {"armed youths attacking voters at the station", "gunshots near the polling unit, people fleeing",
                           "thugs threatening voters, ballot boxes at risk", "men with machetes chasing voters"};
    for (int k = 0; k < 4; ++k) {
      int64_t t_ms = start + offsets[k] * kMinuteMs + rng_.Int(0, 59) * 1000;
      auto [lat, lon] = Offset(rng_, st.location().lat(), st.location().lon(), 600);
      Incident(t_ms, s_.monitors[monitors[static_cast<size_t>(k) % monitors.size()]].monitor_id, st.station_id(),
               k == 2 ? "intimidation" : "violence", static_cast<int>(rng_.Int(4, 5)), texts[k], lat, lon, true,
               "violent_cluster", false);
      t.end_ms = std::max(t.end_ms, t_ms);
    }
    reserved_incidents_.push_back({st.location().lat(), st.location().lon(), start, WardPath(st)});
    s_.truth.push_back(std::move(t));
  }

  void InjectDecoyRepeat() {
    auto i = PickStation([&](size_t k) { return Located(k); });
    int64_t start = s_.polls_open_ms + 5 * kHourMs + rng_.Int(0, 60) * kMinuteMs;  // 13:00-14:00
    if (!i || !Fits(start, start + 15 * kMinuteMs)) return;
    Reserve(*i);
    const auto& st = s_.stations[*i];
    const auto& monitors = district_monitors_[DistrictPath(st)];
    const auto& monitor = s_.monitors[monitors[static_cast<size_t>(rng_.Int(0, static_cast<int64_t>(monitors.size()) - 1))]];
    auto [lat, lon] = Offset(rng_, st.location().lat(), st.location().lon(), 200);
    const int64_t offsets[] = {0, 3, 6, 10, 14};
    for (int64_t off : offsets) {
      Incident(start + off * kMinuteMs, monitor.monitor_id, st.station_id(), "violence", 4,
               "fighting at the station, please send help", lat, lon, true, "decoy_repeat", false);
    }
    reserved_incidents_.push_back({st.location().lat(), st.location().lon(), start, WardPath(st)});
    s_.truth.push_back({.pattern = "decoy_repeat", .detector = "cluster", .subject = st.station_id(),
                        .stations = {st.station_id()}, .area = WardPath(st), .start_ms = start,
                        .end_ms = start + 14 * kMinuteMs, .decoy = true});
  }

  void InjectTurnoutSurge() {
    int64_t from = s_.polls_close_ms - 90 * kMinuteMs, to = from + kHourMs;  // 15:30-16:30
    if (!Fits(s_.polls_open_ms, to)) return;
    auto i = PickStation([](size_t) { return true; });
    if (!i) return;
    Reserve(*i);
    auto& p = plans_[*i];
    p.final_cast = NonInteger(p.registered, static_cast<int64_t>(p.registered * rng_.Uniform(0.35, 0.42)));
    p.surge_start = from;
    p.surge_end = from + 50 * kMinuteMs;
    p.surge_extra = static_cast<int64_t>(std::ceil(p.registered * 0.31));
    const auto& st = s_.stations[*i];
    // The extra voters are accredited kAccreditationLeadMs before their votes count, so the
    // pattern starts, and its detection delay is measured, from the first of them at the kit.
    s_.truth.push_back({.pattern = "turnout_surge", .detector = "turnout.surge", .subject = st.station_id(),
                        .stations = {st.station_id()}, .area = WardPath(st), .start_ms = from - kAccreditationLeadMs,
                        .end_ms = to});
  }

  void InjectOverVoting() {
    int64_t from = s_.polls_close_ms - 2 * kHourMs;  // 15:00 until the final report
    auto i = PickStation([](size_t) { return true; });
    if (!i) return;
    auto& p = plans_[*i];
    if (!Fits(s_.polls_open_ms, p.final_report_ms)) return;
    Reserve(*i);
    p.final_cast = NonInteger(p.registered, static_cast<int64_t>(p.registered * rng_.Uniform(0.4, 0.55)));
    p.over_from = from;
    const auto& st = s_.stations[*i];
    s_.truth.push_back({.pattern = "over_voting", .detector = "turnout.over_voting", .subject = st.station_id(),
                        .stations = {st.station_id()}, .area = WardPath(st), .start_ms = from,
                        .end_ms = p.final_report_ms});
  }

  void InjectDecoyBusy() {
    if (!Fits(s_.polls_open_ms, s_.polls_close_ms + 15 * kMinuteMs)) return;
    // The largest free station (generated sets have a few urban ones of 2,500-3,500 voters;
    // reference data is never changed): 85% turnout on a smooth curve, its busiest hour ~15%
    // of registered, well under the 25% surge threshold.
    std::optional<size_t> i;
    for (size_t k = 0; k < s_.stations.size(); ++k) {
      if (!plans_[k].patterned && (!i || plans_[k].registered > plans_[*i].registered)) i = k;
    }
    if (!i) return;
    Reserve(*i);
    const auto& st = s_.stations[*i];
    auto& p = plans_[*i];
    p.curve.a = 1;
    p.curve.b = 1;
    p.curve.Build(PollMinutes());
    p.final_cast = NonInteger(p.registered, static_cast<int64_t>(p.registered * 0.85));
    s_.truth.push_back({.pattern = "decoy_busy_station", .detector = "turnout.surge", .subject = st.station_id(),
                        .stations = {st.station_id()}, .area = WardPath(st), .start_ms = s_.polls_open_ms,
                        .end_ms = s_.polls_close_ms, .decoy = true});
  }

  // --- per-station streams ---------------------------------------------------------------
  // Voters who have voted by `t` (background curve plus any surge).
  int64_t Cast(const StationPlan& p, int64_t t) const {
    int64_t minute = (t - s_.polls_open_ms) / kMinuteMs;
    auto v = static_cast<int64_t>(std::floor(static_cast<double>(p.final_cast) * p.curve.At(minute)));
    if (p.surge_extra > 0 && t > p.surge_start) {
      double f = std::min(1.0, static_cast<double>(t - p.surge_start) / static_cast<double>(p.surge_end - p.surge_start));
      v += static_cast<int64_t>(std::floor(f * static_cast<double>(p.surge_extra)));
    }
    return std::min(v, p.registered);
  }
  // Accredited by the kit at `t`: voters are accredited ~10 minutes before they vote, so the
  // kit's count is at least every voters_cast reported up to its next heartbeat.
  int64_t Accredited(const StationPlan& p, int64_t t) const { return Cast(p, t + kAccreditationLeadMs); }

  bool Down(const StationPlan& p, int64_t t, int64_t grace = 0) const {
    return p.down_to > p.down_from && t >= p.down_from && t < p.down_to + grace;
  }

  void EmitStations() {
    for (size_t i = 0; i < s_.stations.size(); ++i) {
      const auto& st = s_.stations[i];
      const auto& p = plans_[i];
      std::string pattern = p.surge_extra > 0 ? "turnout_surge" : p.over_from > 0 ? "over_voting" : "";
      // Turnout snapshots: every ~30 min while polls are open (every 10 min during a surge),
      // then the final count.
      std::vector<int64_t> times;
      for (int64_t t = s_.polls_open_ms + o_.turnout_every_ms; t < s_.polls_close_ms; t += o_.turnout_every_ms) {
        times.push_back(t + rng_.Int(-3, 3) * kMinuteMs + rng_.Int(0, 59) * 1000);
      }
      if (p.surge_extra > 0) {
        for (int64_t t = p.surge_start; t <= p.surge_end + 10 * kMinuteMs; t += 10 * kMinuteMs) times.push_back(t);
        std::sort(times.begin(), times.end());
      }
      if (o_.finals_only) times.clear();
      for (int64_t t : times) {
        if (t < s_.start_ms || t >= s_.end_ms || Down(p, t, 10 * kMinuteMs)) continue;
        int64_t cast = Cast(p, t);
        if (p.over_from > 0 && t >= p.over_from) {
          cast = std::min(p.registered, static_cast<int64_t>(std::ceil(1.10 * static_cast<double>(Accredited(p, t)))));
        }
        Turnout(t, st, cast, p.over_from > 0 && t >= p.over_from ? "over_voting" : pattern);
      }
      if (p.final_report_ms < s_.end_ms) {
        int64_t cast = p.final_cast + p.surge_extra;
        if (p.over_from > 0) cast = std::min(p.registered, static_cast<int64_t>(std::ceil(1.10 * static_cast<double>(cast))));
        Turnout(p.final_report_ms, st, std::min(cast, p.registered), p.over_from > 0 ? "over_voting" : pattern);
      }
      if (o_.finals_only) continue;
      // Kit heartbeats every ~5 minutes from boot to the end of the span.
      std::string kit_pattern = p.down_to > 0 ? "kit_outage" : "";
      for (int64_t t = s_.start_ms + rng_.Int(0, o_.heartbeat_ms / 1000) * 1000; t < s_.end_ms;
           t += o_.heartbeat_ms + rng_.Int(-60, 60) * 1000) {
        if (Down(p, t)) continue;
        double hours = static_cast<double>(t - s_.start_ms) / kHourMs;
        int64_t accredited = t < s_.polls_open_ms ? 0 : Accredited(p, t);
        std::string body = "{\"event_id\":" + JsonString(NextId("k")) +
                           ",\"occurred_at\":" + JsonString(FormatRfc3339(t)) +
                           ",\"kit_id\":" + JsonString("KIT-" + st.station_id()) +
                           ",\"station_id\":" + JsonString(st.station_id()) +
                           ",\"battery_pct\":" + Fixed(std::max(5.0, p.battery_start - p.battery_drain_per_hour * hours), 1) +
                           ",\"accredited_total\":" + std::to_string(accredited) +
                           ",\"auth_failures\":" + std::to_string(static_cast<int64_t>(p.auth_failure_rate * static_cast<double>(accredited))) +
                           ",\"tamper\":false";
        if (st.has_location()) {
          auto [lat, lon] = Offset(rng_, st.location().lat(), st.location().lon(), 30);
          body += ",\"lat\":" + Fixed(lat, 6) + ",\"lon\":" + Fixed(lon, 6);
        }
        body += "}";
        events_.push_back({t, EventKind::kKit, std::string(kSenderKits), std::move(body), "", "", kit_pattern});
      }
    }
  }

  void Turnout(int64_t t, const v1::PollingStation& st, int64_t cast, const std::string& pattern) {
    std::string body = "{\"event_id\":" + JsonString(NextId("t")) + ",\"occurred_at\":" + JsonString(FormatRfc3339(t)) +
                       ",\"station_id\":" + JsonString(st.station_id()) + ",\"voters_cast\":" + std::to_string(cast) +
                       ",\"registered\":" + std::to_string(st.registered_voters()) + "}";
    events_.push_back({t, EventKind::kTurnout, std::string(kSenderOfficers), std::move(body), "", "", pattern});
  }

  void Incident(int64_t t, const std::string& monitor_id, const std::string& station_id, const std::string& category,
                int severity, const std::string& text, double lat, double lon, bool located, const std::string& pattern,
                bool sms) {
    if (sms) {
      std::string phone;
      for (const auto& m : s_.monitors) {
        if (m.monitor_id == monitor_id) phone = m.phone;
      }
      events_.push_back({t, EventKind::kIncident, monitor_id, "", phone,
                         "INC " + station_id + " " + category + " " + std::to_string(severity) + " " + text, pattern});
      return;
    }
    std::string body = "{\"event_id\":" + JsonString(NextId("i")) + ",\"occurred_at\":" + JsonString(FormatRfc3339(t)) +
                       ",\"station_id\":" + JsonString(station_id) + ",\"category\":" + JsonString(category) +
                       ",\"severity\":" + std::to_string(severity) + ",\"description\":" + JsonString(text);
    if (located) body += ",\"lat\":" + Fixed(lat, 6) + ",\"lon\":" + Fixed(lon, 6);
    body += "}";
    events_.push_back({t, EventKind::kIncident, monitor_id, std::move(body), "", "", pattern});
  }

  void Flag(int64_t t, const std::string& station_id, const std::string& area, const std::string& text,
            const std::string& group, int64_t reach, double confidence, const std::string& pattern) {
    std::string body = "{\"event_id\":" + JsonString(NextId("h")) + ",\"occurred_at\":" + JsonString(FormatRfc3339(t));
    if (!station_id.empty()) body += ",\"station_id\":" + JsonString(station_id);
    if (!area.empty()) body += ",\"area\":" + JsonString(area);
    body += ",\"text\":" + JsonString(text) + ",\"target_group\":" + JsonString(group) +
            ",\"reach\":" + std::to_string(reach) + ",\"confidence\":" + Fixed(confidence, 2) + "}";
    events_.push_back({t, EventKind::kHateSpeech, std::string(kSenderClassifier), std::move(body), "", "", pattern});
  }

  // Sparse, mild, single reports, kept > 5 km or > 90 min from each other and from the
  // patterns' incidents, so no two of them ever look like a cluster.
  void EmitBackgroundIncidents() {
    static const char* kCategories[] = {"procedure", "materials", "access", "other"};
    static const char* kTexts[] = {"polling started late, materials arrived at 9", "queue very long, one officer only",
                                   "ramp missing, elderly voters struggle", "ink not indelible, rubs off",
                                   "register missing some names", "party agent argued with officer, resolved"};
    auto count = static_cast<int64_t>(std::llround(o_.incidents_per_station * static_cast<double>(s_.stations.size())));
    int64_t from = std::max(s_.start_ms, s_.polls_open_ms), to = std::min(s_.end_ms, s_.polls_close_ms);
    if (to <= from) return;
    for (int64_t n = 0; n < count; ++n) {
      for (int attempt = 0; attempt < 20; ++attempt) {
        size_t i = static_cast<size_t>(rng_.Int(0, static_cast<int64_t>(s_.stations.size()) - 1));
        int64_t t = from + rng_.Int(0, (to - from) / 1000 - 1) * 1000;
        const auto& st = s_.stations[i];
        bool clash = std::any_of(reserved_incidents_.begin(), reserved_incidents_.end(), [&](const Placed& q) {
          if (std::llabs(q.time_ms - t) > 90 * kMinuteMs) return false;
          if (q.ward == WardPath(st)) return true;
          return !st.has_location() || q.lat == 0 || DistanceM(q.lat, q.lon, st.location().lat(), st.location().lon()) < 5000;
        });
        if (clash) continue;
        const auto& monitors = district_monitors_[DistrictPath(st)];
        const auto& monitor = s_.monitors[monitors[static_cast<size_t>(rng_.Int(0, static_cast<int64_t>(monitors.size()) - 1))]];
        const char* category = kCategories[rng_.Int(0, 3)];
        const char* text = kTexts[rng_.Int(0, 5)];
        int severity = static_cast<int>(rng_.Int(1, 2));
        bool sms = rng_.Chance(o_.sms_fraction);
        double lat = 0, lon = 0;
        if (st.has_location()) std::tie(lat, lon) = Offset(rng_, st.location().lat(), st.location().lon(), 100);
        Incident(t, monitor.monitor_id, st.station_id(), category, severity, text, lat, lon, st.has_location(), "", sms);
        reserved_incidents_.push_back({st.has_location() ? st.location().lat() : 0,
                                       st.has_location() ? st.location().lon() : 0, t, WardPath(st)});
        break;
      }
    }
  }

  // Background hate speech: about one mild flag per district every flag_every_ms, evenly
  // spread (regular, not bursty, so no district's background looks like a surge).
  void EmitFlags() {
    static const char* kTexts[] = {"those people always cheat at elections", "do not trust the newcomers in this ward",
                                   "they will steal the vote again"};
    for (const auto& [d, members] : districts_) {
      int64_t t = s_.start_ms + rng_.Int(0, o_.flag_every_ms / kMinuteMs) * kMinuteMs;
      for (; t < s_.end_ms; t += o_.flag_every_ms + rng_.Int(-15, 15) * kMinuteMs) {
        bool by_area = rng_.Chance(0.5);
        const auto& st = s_.stations[members[static_cast<size_t>(rng_.Int(0, static_cast<int64_t>(members.size()) - 1))]];
        Flag(t, by_area ? "" : st.station_id(), by_area ? d : "", kTexts[rng_.Int(0, 2)], "group-a",
             rng_.Int(50, 2000), rng_.Uniform(0.3, 0.6), "");
      }
    }
  }

  std::string NextId(const char* kind) { return id_base_ + kind + std::to_string(++next_id_); }

  struct Placed {
    double lat, lon;
    int64_t time_ms;
    std::string ward;
  };

  const ScenarioOptions& o_;
  Rng rng_;
  Scenario s_;
  std::vector<StationPlan> plans_;
  std::map<std::string, std::vector<size_t>> districts_, wards_;
  std::map<std::string, std::vector<size_t>> district_monitors_;
  std::map<std::string, double> district_turnout_;  // null day only
  std::set<std::string> used_districts_;
  std::vector<Placed> reserved_incidents_;
  std::vector<SimEvent> events_;
  std::string id_base_;
  int64_t next_id_ = 0;
};

}  // namespace

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kIncident: return "incident";
    case EventKind::kHateSpeech: return "hate_speech";
    case EventKind::kTurnout: return "turnout";
    case EventKind::kKit: return "kit";
  }
  return "?";
}

std::string WardPath(const v1::PollingStation& s) { return schemas::WardPath(s); }
std::string DistrictPath(const v1::PollingStation& s) { return schemas::DistrictKey(s.region(), s.district()); }

std::string Scenario::StreamText() const {
  std::string out;
  for (const auto& e : events) {
    out += std::to_string(e.time_ms) + "\t" + std::string(EventKindName(e.kind)) + "\t" + e.sender + "\t" +
           (e.sms_from.empty() ? e.body : "sms:" + e.sms_from + ":" + e.sms_text) + "\t" + e.pattern + "\n";
  }
  return out;
}

std::string Scenario::TruthJsonl() const {
  std::string out;
  for (const auto& t : truth) out += t.ToJson() + "\n";
  return out;
}

std::string TruthRecord::ToJson() const {
  std::string list;
  for (const auto& s : stations) list += (list.empty() ? "" : ",") + JsonString(s);
  return "{\"pattern\":" + JsonString(pattern) + ",\"detector\":" + JsonString(detector) +
         ",\"subject\":" + JsonString(subject) + ",\"stations\":[" + list + "],\"area\":" + JsonString(area) +
         ",\"start_ms\":" + std::to_string(start_ms) + ",\"end_ms\":" + std::to_string(end_ms) +
         ",\"decoy\":" + (decoy ? "true" : "false") + "}";
}

std::vector<v1::PollingStation> GenerateStations(int count, uint64_t seed) {
  static const char* kRegions[] = {"SAVANNA", "COAST", "DELTA", "PLATEAU", "SAHEL", "FOREST", "HIGHLANDS", "LAKES"};
  Rng rng(seed * 0x2545f4914f6cdd1dull + 7);
  std::vector<v1::PollingStation> out;
  int region = 0, district = 0, ward = 0;
  while (static_cast<int>(out.size()) < count) {
    // A region holds 4-8 districts; a district 3-5 wards; a ward 4-8 stations.
    ++region;
    std::string region_name = std::string(kRegions[(region - 1) % 8]) + (region > 8 ? "-" + std::to_string(region) : "");
    double region_lat = 7 + rng.Uniform(0, 5), region_lon = 4 + rng.Uniform(0, 8);
    int64_t districts = rng.Int(4, 8);
    for (int64_t d = 0; d < districts && static_cast<int>(out.size()) < count; ++d) {
      ++district;
      char district_name[32];
      std::snprintf(district_name, sizeof district_name, "D%03d", district);
      double district_lat = region_lat + rng.Uniform(-0.5, 0.5), district_lon = region_lon + rng.Uniform(-0.5, 0.5);
      int64_t wards = rng.Int(3, 5);
      for (int64_t w = 0; w < wards && static_cast<int>(out.size()) < count; ++w) {
        ++ward;
        char ward_name[32];
        std::snprintf(ward_name, sizeof ward_name, "W%04d", ward);
        double ward_lat = district_lat + rng.Uniform(-0.15, 0.15), ward_lon = district_lon + rng.Uniform(-0.15, 0.15);
        int64_t stations = rng.Int(4, 8);
        for (int64_t k = 0; k < stations && static_cast<int>(out.size()) < count; ++k) {
          v1::PollingStation s;
          char id[32];
          std::snprintf(id, sizeof id, "SIM-%05d", static_cast<int>(out.size()) + 1);
          s.set_station_id(id);
          s.set_name(std::string("Polling unit ") + id);
          s.set_region(region_name);
          s.set_district(district_name);
          s.set_ward(ward_name);
          auto [lat, lon] = Offset(rng, ward_lat, ward_lon, 1500);
          s.mutable_location()->set_lat(std::round(lat * 1e6) / 1e6);
          s.mutable_location()->set_lon(std::round(lon * 1e6) / 1e6);
          // Each region's first station (its capital) and one in fifty others are large urban ones.
          bool urban = rng.Chance(0.02) || (d == 0 && w == 0 && k == 0);
          s.set_registered_voters(urban ? rng.Int(2500, 3500) : rng.Int(500, 1500));
          s.set_code(id);
          out.push_back(std::move(s));
        }
      }
    }
  }
  return out;
}

Result<std::vector<v1::PollingStation>> ReadStations(store::EventLog& log) {
  std::map<std::string, v1::PollingStation> by_id;
  RETURN_IF_ERROR(internal::ForEachEvent(log, schemas::topic::kStations, [&](const v1::Event& e) {
    if (e.has_station()) by_id[e.station().station_id()] = e.station();
  }));
  std::vector<v1::PollingStation> out;
  out.reserve(by_id.size());
  for (auto& [_, s] : by_id) out.push_back(std::move(s));
  return out;
}

std::vector<v1::PollingStation> SampleWards(std::vector<v1::PollingStation> stations, size_t max_stations,
                                            uint64_t seed) {
  if (stations.size() <= max_stations) return stations;
  std::map<std::string, std::vector<size_t>> wards;
  for (size_t i = 0; i < stations.size(); ++i) wards[WardPath(stations[i])].push_back(i);
  // Whole districts first (so district patterns have their stations), ward by ward.
  std::map<std::string, std::vector<std::string>> by_district;
  for (const auto& [w, _] : wards) by_district[w.substr(0, w.rfind('/'))].push_back(w);
  std::vector<std::string> districts;
  for (const auto& [d, _] : by_district) districts.push_back(d);
  Rng rng(seed + 11);
  rng.Shuffle(districts);
  std::vector<v1::PollingStation> out;
  for (const auto& d : districts) {
    for (const auto& w : by_district[d]) {
      const auto& members = wards[w];
      if (out.size() + members.size() > max_stations) {
        if (out.empty()) continue;
        return out;
      }
      for (size_t i : members) out.push_back(stations[i]);
    }
  }
  return out;
}

int64_t ChooseDay(int64_t now_ms, const ScenarioOptions& o, double speed) {
  auto span = static_cast<int64_t>(o.hours * kHourMs);
  // An event `off` into the span is sent off/speed after the start: it must not be ahead of
  // the wall clock then. Worst at the end when faster than real time, at the start otherwise.
  int64_t latest_start = speed <= 0 ? now_ms - span
                         : speed >= 1 ? now_ms - static_cast<int64_t>(static_cast<double>(span) * (1 - 1 / speed))
                                      : now_ms;
  int64_t day = (latest_start - o.start_ms_of_day) / kDayMs * kDayMs;
  if (day + o.start_ms_of_day > latest_start) day -= kDayMs;
  return day;
}

Result<Scenario> Generate(std::vector<v1::PollingStation> stations, const ScenarioOptions& options) {
  if (stations.empty()) return Status::InvalidArgument("no stations to simulate (import some or use --stations N)");
  if (!(options.hours > 0 && options.hours <= 24)) return Status::InvalidArgument("hours must be in (0, 24]");
  if (options.day_ms % kDayMs != 0) return Status::InvalidArgument("day_ms must be midnight UTC");
  if (options.polls_open_ms_of_day >= options.polls_close_ms_of_day || options.polls_close_ms_of_day > kDayMs) {
    return Status::InvalidArgument("polls must open before they close, within the day");
  }
  if (options.heartbeat_ms < 2 * kMinuteMs || options.turnout_every_ms < 10 * kMinuteMs) {
    return Status::InvalidArgument("heartbeats at least 2 min apart, turnout at least 10 min apart");
  }
  for (const auto& s : stations) {
    if (s.station_id().empty() || s.region().empty() || s.district().empty()) {
      return Status::InvalidArgument("station '" + s.station_id() + "' lacks an id, region or district");
    }
  }
  return Generator(std::move(stations), options).Run();
}

}  // namespace ewarn::sim
