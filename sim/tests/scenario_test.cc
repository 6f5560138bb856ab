// The generator: determinism, and every injected pattern (and the background) having the
// properties the detectors' thresholds in processors/rules/default.textproto rely on.
#include "ewarn/sim/scenario.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "ewarn/base/time.h"
#include "ewarn/ingest/stations.h"

namespace ewarn::sim {
namespace {

namespace json = boost::json;

constexpr int64_t kDay = 1'803'427'200'000;  // 2027-02-24T00:00:00Z

ScenarioOptions Options(uint64_t seed) {
  ScenarioOptions o;
  o.seed = seed;
  o.day_ms = kDay;
  o.sms_fraction = 0.2;
  return o;
}

Scenario Make(int stations, uint64_t seed) {
  auto s = Generate(GenerateStations(stations, seed), Options(seed));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : Scenario{};
}

// The 150-station day most tests look at, generated once.
const Scenario& Day() {
  static const Scenario day = Make(150, 7);
  return day;
}

// Decoded view of the stream, per station.
struct Reading {
  int64_t t;
  int64_t value;   // voters_cast or accredited_total
  double battery = 0;
  double lat = 0, lon = 0;
};

struct View {
  std::map<std::string, std::vector<Reading>> turnout, kit;
  std::map<std::string, int64_t> registered;
  std::map<std::string, const v1::PollingStation*> station;
  std::vector<std::pair<const SimEvent*, json::object>> incidents, flags;
};

View Decode(const Scenario& s) {
  View v;
  for (const auto& st : s.stations) {
    v.registered[st.station_id()] = st.registered_voters();
    v.station[st.station_id()] = &st;
  }
  for (const auto& e : s.events) {
    if (!e.sms_from.empty()) continue;
    json::object o = json::parse(e.body).as_object();
    EXPECT_EQ(ParseRfc3339(std::string(o.at("occurred_at").as_string())).value(), e.time_ms);
    switch (e.kind) {
      case EventKind::kTurnout:
        v.turnout[std::string(o.at("station_id").as_string())].push_back({e.time_ms, o.at("voters_cast").as_int64()});
        break;
      case EventKind::kKit: {
        Reading r{e.time_ms, o.at("accredited_total").as_int64(), o.at("battery_pct").to_number<double>()};
        if (o.contains("lat")) r.lat = o.at("lat").to_number<double>(), r.lon = o.at("lon").to_number<double>();
        v.kit[std::string(o.at("station_id").as_string())].push_back(r);
        break;
      }
      case EventKind::kIncident: v.incidents.emplace_back(&e, std::move(o)); break;
      case EventKind::kHateSpeech: v.flags.emplace_back(&e, std::move(o)); break;
    }
  }
  return v;
}

// The latest kit reading at or before t.
const Reading* KitAt(const std::vector<Reading>& kit, int64_t t) {
  const Reading* last = nullptr;
  for (const auto& r : kit) {
    if (r.t <= t) last = &r;
  }
  return last;
}

// The largest rise of a cumulative count within any `window`.
int64_t MaxRise(const std::vector<Reading>& readings, int64_t window) {
  int64_t best = 0;
  for (size_t i = 0; i < readings.size(); ++i) {
    for (size_t j = i + 1; j < readings.size() && readings[j].t - readings[i].t <= window; ++j) {
      best = std::max(best, readings[j].value - readings[i].value);
    }
  }
  return best;
}

double PercentOff(int64_t cast, int64_t registered) {
  double pct = 100.0 * static_cast<double>(cast) / static_cast<double>(registered);
  return std::fabs(pct - std::round(pct));
}

const TruthRecord* Find(const Scenario& s, const std::string& pattern) {
  for (const auto& t : s.truth) {
    if (t.pattern == pattern) return &t;
  }
  return nullptr;
}

double Meters(double lat1, double lon1, double lat2, double lon2) {
  double k = 3.14159265358979 / 180;
  double x = (lon2 - lon1) * k * std::cos((lat1 + lat2) / 2 * k), y = (lat2 - lat1) * k;
  return std::sqrt(x * x + y * y) * 6371000;
}

TEST(ScenarioTest, SameSeedSameBytesOtherSeedOtherBytes) {
  const Scenario& a = Day();
  Scenario b = Make(150, 7), c = Make(150, 8);
  ASSERT_FALSE(a.events.empty());
  EXPECT_EQ(a.StreamText(), b.StreamText());
  EXPECT_EQ(a.TruthJsonl(), b.TruthJsonl());
  EXPECT_NE(a.StreamText(), c.StreamText());
  EXPECT_NE(a.TruthJsonl(), c.TruthJsonl());
  for (size_t i = 1; i < a.events.size(); ++i) ASSERT_LE(a.events[i - 1].time_ms, a.events[i].time_ms);
  // Truth records read back as written.
  for (const auto& t : a.truth) {
    auto back = TruthRecord::FromJson(t.ToJson());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->ToJson(), t.ToJson());
  }
}

TEST(ScenarioTest, InjectsEveryPatternWithItsDetector) {
  const Scenario& s = Day();
  std::map<std::string, std::string> want = {
      {"violent_cluster", "cluster"},           {"turnout_surge", "turnout.surge"},
      {"over_voting", "turnout.over_voting"},   {"integer_heaping", "turnout.heaping"},
      {"kit_outage", "kit.area_down"},          {"hate_surge", "hate.surge"},
      {"decoy_repeat", "cluster"},              {"decoy_busy_station", "turnout.surge"}};
  for (const auto& [pattern, detector] : want) {
    const TruthRecord* t = Find(s, pattern);
    ASSERT_NE(t, nullptr) << pattern;
    EXPECT_EQ(t->detector, detector);
    EXPECT_EQ(t->decoy, pattern.starts_with("decoy"));
    EXPECT_LT(t->start_ms, t->end_ms + 1) << pattern;
    EXPECT_GE(t->start_ms, s.start_ms);
    EXPECT_LE(t->end_ms, s.end_ms);
  }
  EXPECT_EQ(std::count(Find(s, "integer_heaping")->subject.begin(), Find(s, "integer_heaping")->subject.end(), '/'), 1);
  EXPECT_EQ(std::count(Find(s, "kit_outage")->subject.begin(), Find(s, "kit_outage")->subject.end(), '/'), 2);
}

TEST(ScenarioTest, PatternsHaveTheirProperties) {
  const Scenario& s = Day();
  View v = Decode(s);

  // turnout_surge: > 25% of registered within an hour, inside the truth window.
  const TruthRecord* surge = Find(s, "turnout_surge");
  ASSERT_NE(surge, nullptr);
  EXPECT_GT(MaxRise(v.turnout[surge->subject], kHourMs), v.registered[surge->subject] / 4);

  // over_voting: voters_cast > 1.05 x the kit's latest accredited_total.
  const TruthRecord* over = Find(s, "over_voting");
  ASSERT_NE(over, nullptr);
  int over_reports = 0;
  for (const auto& r : v.turnout[over->subject]) {
    const Reading* k = KitAt(v.kit[over->subject], r.t);
    if (r.t >= over->start_ms && k != nullptr && static_cast<double>(r.value) > 1.05 * static_cast<double>(k->value)) {
      ++over_reports;
    }
  }
  EXPECT_GE(over_reports, 3);

  // integer_heaping: the listed stations' final turnouts are integer percentages.
  const TruthRecord* heap = Find(s, "integer_heaping");
  ASSERT_NE(heap, nullptr);
  EXPECT_GE(heap->stations.size(), 10u);
  for (const auto& id : heap->stations) {
    EXPECT_LE(PercentOff(v.turnout[id].back().value, v.registered[id]), 0.05) << id;
  }

  // kit_outage: >= 60% of the ward's kits silent for the whole window (>= 1 h, polls open).
  const TruthRecord* outage = Find(s, "kit_outage");
  ASSERT_NE(outage, nullptr);
  EXPECT_GE(outage->end_ms - outage->start_ms, kHourMs);
  EXPECT_GE(outage->start_ms, s.polls_open_ms);
  EXPECT_LE(outage->end_ms, s.polls_close_ms);
  int in_ward = 0;
  for (const auto& st : s.stations) in_ward += WardPath(st) == outage->subject;
  EXPECT_GE(static_cast<double>(outage->stations.size()), 0.6 * in_ward);
  for (const auto& id : outage->stations) {
    for (const auto& r : v.kit[id]) EXPECT_FALSE(r.t >= outage->start_ms && r.t < outage->end_ms) << id;
  }

  // hate_surge: >= 5x the district's hourly baseline of the 6 h before, confident and wide.
  const TruthRecord* hate = Find(s, "hate_surge");
  ASSERT_NE(hate, nullptr);
  auto in_district = [&](const json::object& o) {
    if (o.contains("area")) return std::string(o.at("area").as_string()) == hate->subject;
    return DistrictPath(*v.station[std::string(o.at("station_id").as_string())]) == hate->subject;
  };
  int surge_flags = 0, before = 0;
  for (const auto& [e, o] : v.flags) {
    if (!in_district(o)) continue;
    if (e->time_ms >= hate->start_ms && e->time_ms < hate->start_ms + kHourMs) {
      ++surge_flags;
      if (e->pattern == "hate_surge") {  // the background may add a mild one
        EXPECT_GE(o.at("confidence").to_number<double>(), 0.8);
        EXPECT_GE(o.at("reach").as_int64(), 10000);
      }
    } else if (e->time_ms < hate->start_ms && e->time_ms >= hate->start_ms - 6 * kHourMs) {
      ++before;
    }
  }
  EXPECT_GE(surge_flags, 5 * std::max(1.0, before / 6.0));

  // violent_cluster: >= 3 monitors, severity 4-5, within 20 min and 1 km of the station.
  const TruthRecord* cluster = Find(s, "violent_cluster");
  ASSERT_NE(cluster, nullptr);
  std::set<std::string> reporters;
  const auto* st = v.station[cluster->subject];
  for (const auto& [e, o] : v.incidents) {
    if (e->pattern != "violent_cluster") continue;
    reporters.insert(e->sender);
    EXPECT_GE(o.at("severity").as_int64(), 4);
    EXPECT_LE(e->time_ms - cluster->start_ms, 20 * kMinuteMs);
    EXPECT_LT(Meters(st->location().lat(), st->location().lon(), o.at("lat").to_number<double>(),
                     o.at("lon").to_number<double>()), 1000);
  }
  EXPECT_GE(reporters.size(), 3u);

  // decoy_repeat: one monitor, five copies of one report.
  std::set<std::string> senders, texts;
  int copies = 0;
  for (const auto& [e, o] : v.incidents) {
    if (e->pattern != "decoy_repeat") continue;
    ++copies;
    senders.insert(e->sender);
    json::object rest = o;
    rest.erase("event_id");
    rest.erase("occurred_at");
    texts.insert(json::serialize(rest));
  }
  EXPECT_EQ(copies, 5);
  EXPECT_EQ(senders.size(), 1u);
  EXPECT_EQ(texts.size(), 1u);

  // decoy_busy_station: large, high turnout, yet no hour over 25% of registered.
  const TruthRecord* busy = Find(s, "decoy_busy_station");
  ASSERT_NE(busy, nullptr);
  EXPECT_GE(v.registered[busy->subject], 2500);
  EXPECT_GE(v.turnout[busy->subject].back().value, v.registered[busy->subject] * 8 / 10);
  EXPECT_LT(MaxRise(v.turnout[busy->subject], kHourMs), v.registered[busy->subject] / 4);
}

TEST(ScenarioTest, BackgroundStaysUnderEveryThreshold) {
  const Scenario& s = Day();
  View v = Decode(s);
  std::set<std::string> patterned;
  for (const auto& t : s.truth) {
    for (const auto& id : t.stations) patterned.insert(id);
    if (t.pattern == "integer_heaping" || t.pattern == "kit_outage") {
      for (const auto& st : s.stations) {
        if (WardPath(st).starts_with(t.area)) patterned.insert(st.station_id());
      }
    }
  }
  int background = 0;
  for (const auto& st : s.stations) {
    const std::string& id = st.station_id();
    if (patterned.count(id)) continue;
    ++background;
    const auto& turnout = v.turnout[id];
    const auto& kit = v.kit[id];
    ASSERT_FALSE(turnout.empty());
    ASSERT_FALSE(kit.empty());
    double final_share = static_cast<double>(turnout.back().value) / static_cast<double>(st.registered_voters());
    EXPECT_GE(final_share, 0.34) << id;
    EXPECT_LE(final_share, 0.76) << id;
    EXPECT_GT(PercentOff(turnout.back().value, st.registered_voters()), 0.05) << id;
    EXPECT_LT(MaxRise(turnout, kHourMs), st.registered_voters() / 4) << id;
    for (const auto& r : turnout) {
      const Reading* k = KitAt(kit, r.t);
      ASSERT_NE(k, nullptr) << id;
      EXPECT_GE(k->value, r.value) << id << " at " << r.t;  // accredited >= voters_cast
    }
    for (size_t i = 0; i < kit.size(); ++i) {
      EXPECT_GT(kit[i].battery, 30);
      EXPECT_LT(Meters(kit[i].lat, kit[i].lon, st.location().lat(), st.location().lon()), 200);
      if (i > 0) {
        EXPECT_LE(kit[i].t - kit[i - 1].t, 7 * kMinuteMs) << id;  // never silent
        EXPECT_GE(kit[i].value, kit[i - 1].value);
        EXPECT_LT(kit[i].battery, kit[i - 1].battery + 1e-9);
      }
    }
  }
  EXPECT_GT(background, 100);

  // Background incidents: mild, single, and never two within 1.5 km and 30 min.
  std::vector<std::pair<int64_t, const v1::PollingStation*>> mild;
  for (const auto& e : s.events) {
    if (e.kind != EventKind::kIncident || !e.pattern.empty()) continue;
    std::string station;
    if (e.sms_from.empty()) {
      json::object o = json::parse(e.body).as_object();
      EXPECT_LE(o.at("severity").as_int64(), 2);
      station = std::string(o.at("station_id").as_string());
    } else {
      EXPECT_TRUE(e.sms_text.starts_with("INC ")) << e.sms_text;
      station = e.sms_text.substr(4, e.sms_text.find(' ', 4) - 4);
    }
    mild.emplace_back(e.time_ms, v.station[station]);
  }
  EXPECT_GE(mild.size(), 10u);
  for (size_t i = 0; i < mild.size(); ++i) {
    for (size_t j = i + 1; j < mild.size(); ++j) {
      if (std::llabs(mild[i].first - mild[j].first) > 30 * kMinuteMs) continue;
      EXPECT_GT(Meters(mild[i].second->location().lat(), mild[i].second->location().lon(),
                       mild[j].second->location().lat(), mild[j].second->location().lon()), 1500);
    }
  }
}

// A null day: no truth, and final counts spread like Binomial(registered, the district's
// turnout), so whole percentages come as often as chance gives (the background nudges them
// away); finals only leaves out everything else.
TEST(ScenarioTest, ANullDayHasBinomialFinalsAndNoPatterns) {
  ScenarioOptions o = Options(11);
  o.null_day = true;
  o.finals_only = true;
  auto made = Generate(GenerateStations(3'000, 11), o);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const Scenario& s = *made;
  EXPECT_TRUE(s.truth.empty());
  ASSERT_EQ(s.events.size(), s.stations.size());  // one final count each, nothing else
  View v = Decode(s);
  EXPECT_TRUE(v.kit.empty() && v.incidents.empty() && v.flags.empty());
  // Within 0.05 pp of a whole percentage: windows 0.1 pp wide, one per percentage point, so
  // about 10 % of stations under the binomial null (the background has none).
  int near_whole = 0;
  std::map<std::string, std::vector<double>> by_district;
  for (const auto& [id, readings] : v.turnout) {
    ASSERT_EQ(readings.size(), 1u);
    int64_t cast = readings[0].value, registered = v.registered[id];
    near_whole += PercentOff(cast, registered) <= 0.05 ? 1 : 0;
    by_district[DistrictPath(*v.station[id])].push_back(static_cast<double>(cast) / static_cast<double>(registered));
    EXPECT_GE(readings[0].t, s.polls_close_ms);
  }
  double share = static_cast<double>(near_whole) / static_cast<double>(v.turnout.size());
  EXPECT_GT(share, 0.06) << near_whole;
  EXPECT_LT(share, 0.14) << near_whole;
  // One turnout per district: its stations' shares lie within a few binomial deviations of each
  // other (1,500 voters at 50 %: 1.3 pp; 500: 2.2 pp).
  for (const auto& [district, shares] : by_district) {
    auto [lo, hi] = std::minmax_element(shares.begin(), shares.end());
    EXPECT_LT(*hi - *lo, 0.16) << district;
  }
  // The same inputs give the same bytes; other options other ids.
  auto again = Generate(GenerateStations(3'000, 11), o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->StreamText(), s.StreamText());
  o.finals_only = false;
  auto full = Generate(GenerateStations(300, 11), o);
  ASSERT_TRUE(full.ok());
  EXPECT_TRUE(full->truth.empty());
  EXPECT_GT(Decode(*full).kit.size(), 0u);
}

TEST(ScenarioTest, ChooseDayKeepsEveryEventInThePast) {
  ScenarioOptions o;
  const int64_t now = kDay + 10 * kHourMs;  // 10:00 on the day
  // As fast as possible: the whole span (07:00-18:00) must be over: yesterday.
  EXPECT_EQ(ChooseDay(now, o, 0), kDay - kDayMs);
  // Real time: starting at 07:00 today is in the past and stays behind the clock.
  EXPECT_EQ(ChooseDay(now, o, 1), kDay);
  EXPECT_EQ(ChooseDay(kDay + 6 * kHourMs, o, 1), kDay - kDayMs);
  // 60x: 11 simulated hours take 11 minutes, so the day must start >= ~10.8 h before now.
  EXPECT_EQ(ChooseDay(kDay + 18 * kHourMs, o, 60), kDay);
  EXPECT_EQ(ChooseDay(kDay + 17 * kHourMs, o, 60), kDay - kDayMs);
}

TEST(ScenarioTest, SamplesWholeWardsAndRefusesBadInput) {
  auto all = GenerateStations(400, 3);
  auto some = SampleWards(all, 100, 3);
  EXPECT_LE(some.size(), 100u);
  EXPECT_GE(some.size(), 60u);
  std::map<std::string, int> in_all, in_some;
  for (const auto& s : all) ++in_all[WardPath(s)];
  for (const auto& s : some) ++in_some[WardPath(s)];
  for (const auto& [ward, n] : in_some) EXPECT_EQ(n, in_all[ward]) << ward;
  EXPECT_EQ(SampleWards(all, 1000, 3).size(), 400u);

  EXPECT_FALSE(Generate({}, Options(1)).ok());
  ScenarioOptions bad = Options(1);
  bad.day_ms += 1;
  EXPECT_FALSE(Generate(all, bad).ok());
  // Few stations: the patterns that do not fit are left out, the rest still works.
  auto small = Generate(GenerateStations(8, 1), Options(1));
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(Find(*small, "integer_heaping"), nullptr);
  EXPECT_FALSE(small->events.empty());
}

// Nigeria's INEC polling units (../shared/data): no registered voters, many without or with
// shared coordinates. The generator fills in voters and still injects every pattern.
TEST(ScenarioTest, InjectsEveryPatternIntoNigeriasPollingUnits) {
  const char* shared = std::getenv("EWARN_SHARED_DATA");
  std::string path = std::string(shared ? shared : "") + "/nigeria/inec_polling_units_geocoded.csv";
  if (shared == nullptr || !std::filesystem::exists(path)) GTEST_SKIP() << "reference data not present: " << path;
  std::vector<v1::PollingStation> all;
  auto read = ingest::ReadStationsCsv(path, ingest::StationFormat::kInec, [&](v1::PollingStation&& s) {
    all.push_back(std::move(s));
    return Status::Ok();
  });
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_GT(all.size(), 170000u);
  auto sample = SampleWards(std::move(all), 400, 11);
  ASSERT_GE(sample.size(), 250u);
  auto s = Generate(std::move(sample), Options(11));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  for (const auto& st : s->stations) {
    ASSERT_GE(st.registered_voters(), 500) << st.station_id();
  }
  for (const char* pattern : {"violent_cluster", "turnout_surge", "over_voting", "integer_heaping", "kit_outage",
                              "hate_surge", "decoy_repeat", "decoy_busy_station"}) {
    EXPECT_NE(Find(*s, pattern), nullptr) << pattern;
  }
  View v = Decode(*s);
  const TruthRecord* heap = Find(*s, "integer_heaping");
  ASSERT_NE(heap, nullptr);
  for (const auto& id : heap->stations) EXPECT_LE(PercentOff(v.turnout[id].back().value, v.registered[id]), 0.05);
  EXPECT_TRUE(v.station[Find(*s, "violent_cluster")->subject]->has_location());
}

}  // namespace
}  // namespace ewarn::sim
