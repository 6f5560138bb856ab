// Results (processors/README.md "results"): which sheet counts per station and contest, and
// the findings about it: over-voting against the kits' accreditation, conflicting sheets, areas
// missing results after polls close, and two forensic tests per district: counts whose last
// digits are not uniform, and the leader's share heaped on whole percentages.
//
// State: Station.results (CountedResult per contest), District.results_latched,
// District.last_digit and District.share_heaping; the counted
// sheet is also written to the `results` store (kResultsStore) for GET /v1/results.
#include <algorithm>
#include <array>
#include <cmath>

#include "detectors.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/schemas/events.h"
#include "stats.h"
#include "station/partition.h"

namespace ewarn::processors::station {
namespace {

enum Latch : uint32_t {
  kOverVoting = 1u << 0,
  kMissing = 1u << 0,  // in District.results_latched
};

constexpr int kForensicLooks = 4;  // a forensic test's looks at a district, sharing its p-value

// Whether a forensic test looks now at a sample of `size`: the first time it reaches `min_size`,
// then each time it grew by half, at most kForensicLooks times, never after a flag. Counts the
// look in `looks` when it does.
bool LookNow(st::ForensicLooks& looks, int64_t size, int64_t min_size) {
  if (size < min_size || looks.flagged() || looks.looks() >= kForensicLooks) return false;
  if (looks.looks() > 0 && size * 2 < looks.tested() * 3) return false;
  looks.set_looks(looks.looks() + 1);
  looks.set_tested(size);
  return true;
}

// One station's counted votes per candidate, and its turnout (0 when registered is unknown).
struct StationCount {
  std::map<std::string, int64_t> votes;
  double turnout = 0;
};

// Per contest, each station's votes (for the leader-share tests).
struct StationVotes {
  std::map<std::string, std::vector<StationCount>> by_contest;
  std::vector<std::string> event_ids;  // the first sheets', as evidence
  void Add(const st::CountedResult& r, int64_t reference_registered) {
    if (r.sheet().votes().empty()) return;
    StationCount& c = by_contest[r.sheet().contest()].emplace_back();
    int64_t cast = r.sheet().rejected() + r.sheet().blank();
    for (const auto& v : r.sheet().votes()) c.votes[v.candidate()] = v.votes(), cast += v.votes();
    int64_t registered = r.sheet().has_registered() ? r.sheet().registered() : reference_registered;
    if (registered > 0) c.turnout = static_cast<double>(cast) / static_cast<double>(registered);
    if (event_ids.size() < 20) event_ids.push_back(r.event_id());
  }
};

// The candidate with the most votes over `stations` (the first by code on a tie).
std::string Leader(const std::vector<StationCount>& stations) {
  std::map<std::string, int64_t> totals;
  for (const auto& s : stations) {
    for (const auto& [c, n] : s.votes) totals[c] += n;
  }
  std::string leader;
  for (const auto& [c, n] : totals) {
    if (leader.empty() || n > totals[leader]) leader = c;
  }
  return leader;
}

int64_t Valid(const StationCount& s) {
  int64_t valid = 0;
  for (const auto& [c, n] : s.votes) valid += n;
  return valid;
}

// The last digits of a district's counted vote counts of 10 votes or more (smaller counts are
// mostly one digit, and their last digit is not uniform even when honest).
struct LastDigits {
  std::array<int64_t, 10> of{};
  int64_t counts = 0, sheets = 0;
  std::vector<std::string> event_ids;  // the first sheets', as evidence
  void Add(const st::CountedResult& r) {
    ++sheets;
    for (const auto& v : r.sheet().votes()) {
      if (v.votes() < 10) continue;
      ++of[static_cast<size_t>(v.votes() % 10)];
      ++counts;
    }
    if (event_ids.size() < 20) event_ids.push_back(r.event_id());
  }
};

int64_t VoteTotal(const v1::ResultSheet& sheet) {
  int64_t total = 0;
  for (const auto& v : sheet.votes()) total += v.votes();
  return total;
}

std::string VotesText(const v1::ResultSheet& sheet) {
  if (sheet.votes().empty()) return "no votes (document only)";
  std::string out;
  for (const auto& v : sheet.votes()) out += (out.empty() ? "" : " ") + v.candidate() + " " + std::to_string(v.votes());
  return out;
}

bool SameVotes(const v1::ResultSheet& a, const v1::ResultSheet& b) {
  if (a.votes_size() != b.votes_size()) return false;
  for (int i = 0; i < a.votes_size(); ++i) {
    if (a.votes(i).candidate() != b.votes(i).candidate() || a.votes(i).votes() != b.votes(i).votes()) return false;
  }
  return true;
}

class Results final : public Module {
 public:
  Results(Partition& p, Findings& findings) : p_(p), findings_(findings), rules_(p.rules().results()) {}

  Status Validate(const v1::Event& e, const StationRef* station) const override {
    (void)station;
    if (e.result_sheet().contest().empty()) return Status::InvalidArgument("missing_field: result sheet without contest");
    return Status::Ok();
  }

  Status OnEvent(const v1::Event& e, const StationRef* ref, StationMem* station, int64_t t, TaskState& ts) override {
    StationMem& s = *station;
    const v1::ResultSheet& in = e.result_sheet();
    p_.District(ref->district_path);  // known to the missing-results timer from the first sheet on
    st::CountedResult* counted = nullptr;
    for (auto& r : *s.state.mutable_results()) {
      if (r.sheet().contest() == in.contest()) counted = &r;
    }
    st::CountedResult incoming;
    incoming.set_event_id(e.header().event_id());
    incoming.set_occurred_ms(t);
    *incoming.mutable_sheet() = in;
    if (counted == nullptr) {
      counted = s.state.add_results();
      *counted = std::move(incoming);
      counted->set_versions(1);
    } else {
      counted->set_versions(counted->versions() + 1);
      const bool replaces = Counts(incoming, *counted);
      const st::CountedResult& winner = replaces ? incoming : *counted;
      const st::CountedResult& other = replaces ? *counted : incoming;
      // A disagreement of two sheets with votes: both versions, and which counts by which rule.
      if (Enabled() && !winner.sheet().votes().empty() && !other.sheet().votes().empty() &&
          !SameVotes(winner.sheet(), other.sheet())) {
        findings_.AtStation(
            s,
            {.detector = "results.conflict",
             .explanation = "two " + in.contest() + " sheets disagree: " + Describe(winner) + " counts over " +
                            Describe(other) + " (" + RuleName() + ")",
             .event_ids = {winner.event_id(), other.event_id()}},
            t, ts);
      }
      if (replaces) {
        int32_t versions = counted->versions();
        // A document-only sheet does not take the votes away from a sheet that has them.
        if (incoming.sheet().votes().empty() && !counted->sheet().votes().empty()) {
          *counted->mutable_sheet()->mutable_document() = incoming.sheet().document();
        } else {
          // The same numbers again (a re-sent sheet) keep what was reported about them.
          if (SameVotes(incoming.sheet(), counted->sheet())) incoming.set_latched(counted->latched());
          *counted = std::move(incoming);
        }
        counted->set_versions(versions);
      }
    }
    CheckOverVoting(s, *counted, t, ts);
    Publish(*ref, *counted, ts);
    return Status::Ok();
  }

  void OnLoaded(StationMem& s) override {
    if (!s.state.results().empty()) p_.District(s.ref->district_path);
  }

  // Once results are due (polls closed + the deadline), every minute: wards and districts of
  // this partition with too many stations without a sheet.
  void OnMinute(int64_t now, TaskState& ts) override {
    if (!Enabled()) return;
    for (auto& [district, d] : p_.districts()) {
      const auto& refs = p_.reference().StationsOf(district);
      if (refs.empty()) continue;
      // Each station's own deadline (its area's polling hours: a district may span two time
      // zones): a station counts once its results are due (and after its local midnight, the
      // next day's close is ahead again). `due` is the latest deadline among those counted.
      int64_t due = 0;
      const std::string* hours_ward = nullptr;  // neighbours mostly share a ward: one lookup for them
      int64_t station_due = 0;
      std::map<std::string, std::pair<int, int>> counts;  // area -> (stations, without a sheet)
      LastDigits digits;
      StationVotes votes;
      for (const StationRef* ref : refs) {
        if (hours_ward == nullptr || *hours_ward != ref->ward_path) {
          hours_ward = &ref->ward_path;
          station_due = p_.Hours(*ref).ClosedAt(now) + rules_.missing_after_close_ms();
        }
        if (now < station_due) continue;
        due = std::max(due, station_due);
        StationMem* s = p_.FindStation(ref->station_id);
        bool reported = s != nullptr && !s->state.results().empty();
        if (reported) {
          for (const auto& r : s->state.results()) digits.Add(r), votes.Add(r, ref->registered);
        }
        for (const std::string* area : {&ref->ward_path, &ref->district_path}) {
          auto& c = counts[*area];
          ++c.first;
          if (!reported) ++c.second;
        }
      }
      for (const auto& [area, c] : counts) Judge(area, district, d, c.first, c.second, now, due, ts);
      TestLastDigits(district, d, digits, now, ts);
      TestShareHeaping(district, d, votes, now, ts);
      TestExtremeStations(district, d, votes, now, ts);
    }
  }

 private:
  bool Enabled() const { return p_.rules().has_results(); }

  std::string RuleName() const {
    return rules_.precedence() == v1::LATEST ? "the latest counts" : "official over observer, then the latest";
  }

  // Whether `a` counts over `b` by the rules' precedence (then the event id, so a tie has one
  // answer on every run).
  bool Counts(const st::CountedResult& a, const st::CountedResult& b) const {
    if (rules_.precedence() != v1::LATEST) {
      bool a_official = a.sheet().submitter_role() == v1::SUBMITTER_ROLE_PRESIDING_OFFICER;
      bool b_official = b.sheet().submitter_role() == v1::SUBMITTER_ROLE_PRESIDING_OFFICER;
      if (a_official != b_official) return a_official;
    }
    if (a.occurred_ms() != b.occurred_ms()) return a.occurred_ms() > b.occurred_ms();
    return a.event_id() > b.event_id();
  }

  static std::string Describe(const st::CountedResult& r) {
    return "the " + std::string(schemas::SubmitterRoleName(r.sheet().submitter_role())) + "'s sheet " +
           r.event_id() + " (" + VotesText(r.sheet()) + ")";
  }

  // More votes than voters the station's kits accredited (the rule that cancels a polling
  // unit's result in Nigeria); without kit readings, the sheet's own accredited count.
  void CheckOverVoting(StationMem& s, st::CountedResult& counted, int64_t t, TaskState& ts) {
    if (!Enabled() || (counted.latched() & kOverVoting)) return;
    int64_t accredited = 0;
    std::string by = "its kits";
    for (const auto& kit : s.state.kits()) accredited += kit.accredited_total();  // kits.cc's, read only
    if (s.state.kits().empty()) {
      if (!counted.sheet().has_accredited()) return;
      accredited = counted.sheet().accredited();
      by = "the sheet";
    }
    int64_t votes = VoteTotal(counted.sheet());
    if (counted.sheet().votes().empty() ||
        static_cast<double>(votes) <= static_cast<double>(accredited) * (1 + rules_.over_voting_margin())) {
      return;
    }
    counted.set_latched(counted.latched() | kOverVoting);
    std::vector<std::string> ids = {counted.event_id()};
    for (const auto& kit : s.state.kits()) ids.push_back(kit.last_event_id());
    findings_.AtStation(s,
                        {.detector = "results.over_voting",
                         .explanation = counted.sheet().contest() + " sheet counts " + std::to_string(votes) +
                                        " votes but " + by + " accredited " + std::to_string(accredited) + " voters",
                         .event_ids = std::move(ids)},
                        t, ts);
  }

  // Beber & Scacco (2012): people who invent numbers favour some last digits; honest counts of
  // ten or more end in each digit about equally often. A chi-square test of uniformity (9 df)
  // once the district has last_digit_min_counts counts, again each time they grew by half, at
  // most kForensicLooks times, each look at an equal share of last_digit_p_value; flagged once.
  void TestLastDigits(const std::string& district, DistrictMem& d, const LastDigits& digits, int64_t now,
                      TaskState& ts) {
    const double alpha_total = rules_.last_digit_p_value();
    st::ForensicLooks& looks = *d.state.mutable_last_digit();
    if (alpha_total <= 0 || !LookNow(looks, digits.counts, std::max<int64_t>(rules_.last_digit_min_counts(), 10))) return;
    d.dirty = true;
    const double expected = static_cast<double>(digits.counts) / 10;
    double chi2 = 0;
    size_t most = 0;
    for (size_t k = 0; k < 10; ++k) {
      double off = static_cast<double>(digits.of[k]) - expected;
      chi2 += off * off / expected;
      if (std::abs(off) > std::abs(static_cast<double>(digits.of[most]) - expected)) most = k;
    }
    const double p = ChiSquareUpperTailOddDf(chi2, 9);
    const double alpha = alpha_total / kForensicLooks;
    if (p >= alpha) return;
    looks.set_flagged(true);
    findings_.AtArea(district, district,
                     {.detector = "results.last_digit",
                      .explanation = "the last digits of " + std::to_string(digits.counts) + " vote counts (of 10 or more, in " +
                                     std::to_string(digits.sheets) + " sheets) are not uniform: " +
                                     std::to_string(digits.of[most]) + " end in " + std::to_string(most) +
                                     Fmt(" where %.0f are expected; chi-square %.1f with 9 df, p = %.1e", expected, chi2, p) +
                                     Fmt(" below %.1e (Beber & Scacco's last-digit test, look %.0f", alpha,
                                         static_cast<double>(looks.looks())) +
                                     " of at most " + std::to_string(kForensicLooks) + ", from " +
                                     std::to_string(std::max<int64_t>(rules_.last_digit_min_counts(), 10)) + " counts)",
                      .event_ids = digits.event_ids,
                      .anomaly = Finding::Anomaly::kPlain},
                     now, ts);
  }

  // Kobak, Shpilkin & Pshenichnikov (2016): where results are written rather than counted, the
  // leader's share lands on whole percentages (60%, 75%) far more often than chance allows. Per
  // contest, the district's leader (most votes summed) and each station's share of its valid
  // votes; chance redraws each station's leader votes as Binomial(valid, its share), and the
  // p-value is the exact Poisson-binomial tail of the stations at a whole percentage, as the
  // turnout heaping test (turnout.cc) computes it.
  void TestShareHeaping(const std::string& district, DistrictMem& d, const StationVotes& votes, int64_t now,
                        TaskState& ts) {
    const double alpha_total = rules_.share_heaping_p_value();
    if (alpha_total <= 0) return;
    const double tolerance = p_.rules().turnout().heaping_tolerance();
    for (const auto& [contest, stations] : votes.by_contest) {
      st::ForensicLooks& looks = (*d.state.mutable_share_heaping())[contest];
      const int64_t size = static_cast<int64_t>(stations.size());
      if (!LookNow(looks, size, std::max<int64_t>(rules_.share_heaping_min_stations(), 2))) {
        if (looks.looks() == 0 && !looks.flagged()) d.state.mutable_share_heaping()->erase(contest);  // nothing kept
        continue;
      }
      d.dirty = true;
      const std::string leader = Leader(stations);
      std::vector<double> chances;
      int64_t at_whole = 0;
      double expected = 0;
      for (const auto& s : stations) {
        const int64_t valid = Valid(s);
        if (valid <= 0) continue;
        auto it = s.votes.find(leader);
        int64_t lead = it == s.votes.end() ? 0 : it->second;
        chances.push_back(ChanceOfWholePercent(valid, static_cast<double>(lead) / static_cast<double>(valid), tolerance));
        expected += chances.back();
        at_whole += AtIntegerPercent(lead, valid, tolerance) ? 1 : 0;
      }
      const double p = PoissonBinomialUpperTail(chances, at_whole);
      const double alpha = alpha_total / kForensicLooks;
      if (p >= alpha) continue;
      looks.set_flagged(true);
      findings_.AtArea(
          district, district,
          {.detector = "results.share_heaping",
           .explanation = std::to_string(at_whole) + " of " + std::to_string(chances.size()) + " stations give " + contest +
                          "'s leader " + leader + " a whole-percentage share of the valid votes" +
                          Fmt("; chance gives %.1f (exact p = %.1e below %.1e;", expected, p, alpha) +
                          " Kobak, Shpilkin & Pshenichnikov's integer-percentage test, look " +
                          std::to_string(looks.looks()) + " of at most " + std::to_string(kForensicLooks) + ")",
           .event_ids = votes.event_ids,
           .anomaly = Finding::Anomaly::kPlain},
          now, ts);
    }
  }

  // Klimek, Yegorov, Hanel & Thurner (2012): in ballot stuffing's fingerprint, stations pile up
  // where turnout and the leader's share are both near 100%. A score, not a p-value: the share of
  // the district's stations with votes that sit in that corner, flagged once per contest at
  // extreme_min_stations and extreme_share.
  void TestExtremeStations(const std::string& district, DistrictMem& d, const StationVotes& votes, int64_t now,
                           TaskState& ts) {
    const double corner = rules_.extreme_fraction();
    if (corner <= 0) return;
    for (const auto& [contest, stations] : votes.by_contest) {
      const auto& done = d.state.extreme_flagged();
      if (std::find(done.begin(), done.end(), contest) != done.end()) continue;
      const std::string leader = Leader(stations);
      int64_t extreme = 0, with_votes = 0;
      for (const auto& s : stations) {
        const int64_t valid = Valid(s);
        if (valid <= 0) continue;
        ++with_votes;
        auto it = s.votes.find(leader);
        double share = static_cast<double>(it == s.votes.end() ? 0 : it->second) / static_cast<double>(valid);
        if (s.turnout >= corner && share >= corner) ++extreme;
      }
      if (extreme < std::max(rules_.extreme_min_stations(), 1) ||
          static_cast<double>(extreme) < rules_.extreme_share() * static_cast<double>(with_votes)) {
        continue;
      }
      d.state.add_extreme_flagged(contest);
      d.dirty = true;
      findings_.AtArea(district, district,
                       {.detector = "results.extreme_stations",
                        .explanation =
                            std::to_string(extreme) + " of " + std::to_string(with_votes) + " stations" +
                            Fmt(" (%.0f%%) report turnout and ", 100.0 * static_cast<double>(extreme) /
                                                                     static_cast<double>(with_votes)) +
                            contest + "'s leader " + leader + "'s share" + Fmt(" both at %.0f%% or more", 100 * corner) +
                            " (the ballot-stuffing corner of Klimek et al.'s turnout-versus-share fingerprint)",
                        .event_ids = votes.event_ids,
                        .anomaly = Finding::Anomaly::kPlain},
                       now, ts);
    }
  }

  void Judge(const std::string& area, const std::string& district, DistrictMem& d, int stations, int missing,
             int64_t now, int64_t due, TaskState& ts) {
    if (stations < rules_.missing_min_stations()) return;
    uint32_t latched = d.state.results_latched().count(area) ? d.state.results_latched().at(area) : 0;
    double share = static_cast<double>(missing) / stations;
    if (!(latched & kMissing) && share >= rules_.missing_enter_fraction()) {
      (*d.state.mutable_results_latched())[area] = latched | kMissing;
      d.dirty = true;
      findings_.AtArea(area, district,
                       {.detector = "results.missing",
                        .explanation = std::to_string(missing) + " of " + std::to_string(stations) + Fmt(
                                           " stations (%.0f%%) have no result %.0f min after polls closed",
                                           100 * share, static_cast<double>(now - due + rules_.missing_after_close_ms()) / kMinute),
                        .anomaly = Finding::Anomaly::kPlain},
                       now, ts);
    } else if ((latched & kMissing) && share < rules_.missing_leave_fraction()) {
      (*d.state.mutable_results_latched())[area] = latched & ~kMissing;
      d.dirty = true;
    }
  }

  // The counted sheet goes to the `results` store (this node's GET /v1/results on the embedded
  // log) and to topic derived.results, from which every node's read model answers on Kafka. The
  // topic's event id names the version, so each change is its own deterministic output.
  void Publish(const StationRef& ref, const st::CountedResult& counted, TaskState& ts) {
    std::string key = CountedResultKey(counted.sheet().contest(), ref.ward_path, ref.station_id);
    v1::Event e = Derived(counted.event_id(), counted.occurred_ms());
    *e.mutable_result_sheet() = counted.sheet();
    ts.Write(kResultsStore, key, Deterministic(e));
    e.mutable_header()->set_event_id("result:" + ref.station_id + "/" + counted.sheet().contest() + "/" +
                                     std::to_string(counted.versions()));
    ts.Emit(std::string(schemas::topic::kCountedResults), std::move(key), std::move(e), ref.district_path);
  }

  Partition& p_;
  Findings& findings_;
  const v1::ResultsRules& rules_;
};

}  // namespace

std::unique_ptr<Module> MakeResults(Partition& p, Findings& findings) { return std::make_unique<Results>(p, findings); }

}  // namespace ewarn::processors::station
