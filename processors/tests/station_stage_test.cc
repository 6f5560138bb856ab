// The station stage end to end on a real embedded log and state store: each detector, risk
// and its hysteresis, bad input, restart and replay determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "ewarn/base/hash.h"
#include "ewarn/base/time.h"
#include "ewarn/processors/digest.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/processors/rules.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/state_store.h"
#include "ewarn_testing.h"

namespace ewarn::processors {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int32_t kPartitions = 4;
const int64_t kDay = ParseRfc3339("2027-02-25T00:00:00Z").value();
const int64_t kOpen = kDay + 8 * 60 * kMin;  // polls open 08:00 UTC (default rules)

struct Station {
  std::string id, region, district, ward;
  double lat, lon;
  int64_t registered;
};

// Two districts; LAGOS/IKEJA has wards W1 and W2 with 12 stations each about 300 m apart.
std::vector<Station> MakeStations() {
  std::vector<Station> out;
  for (int w = 1; w <= 2; ++w) {
    for (int i = 0; i < 12; ++i) {
      out.push_back({"IK-" + std::to_string(w) + "-" + std::to_string(i), "LAGOS", "IKEJA", "W" + std::to_string(w),
                     6.60 + 0.05 * w + 0.003 * (i % 4), 3.35 + 0.003 * (i / 4), 1000});
    }
  }
  for (int i = 0; i < 12; ++i) {
    out.push_back({"EP-" + std::to_string(i), "LAGOS", "MUSHIN", "E1", 6.58 + 0.003 * i, 3.98, 800 + 10 * i});
  }
  return out;
}

class StationStageTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(dir_); }

  void Open(const testing::TempDir& dir) {
    runtime_.reset();
    state_.reset();
    log_ = std::move(store::OpenEmbeddedLog({.dir = dir.Sub("log")})).value();
    ASSERT_TRUE(log_->CreateTopic({.name = "in.events", .partitions = kPartitions}).ok());
    ASSERT_TRUE(log_->CreateTopic({.name = "ref.stations", .partitions = 1}).ok());
    pipeline_ = StationPipeline(kPartitions, rules_, *log_);
    for (const auto& spec : pipeline_.outputs) ASSERT_TRUE(log_->CreateTopic(spec).ok());
    std::vector<std::string> stores = pipeline_.runtime.stores;
    stores.emplace_back(kSeenStore);
    state_ = std::move(store::StateStore::Open({.dir = dir.Sub("state"), .stores = stores})).value();
  }

  void ImportStations() {
    std::vector<store::OutRecord> recs;
    for (const Station& s : stations_) {
      v1::Event e = Header("station:" + s.id, kDay);
      auto* p = e.mutable_station();
      p->set_station_id(s.id);
      p->set_name("School " + s.id);
      p->set_region(s.region);
      p->set_district(s.district);
      p->set_ward(s.ward);
      p->mutable_location()->set_lat(s.lat);
      p->mutable_location()->set_lon(s.lon);
      p->set_registered_voters(s.registered);
      recs.push_back({.topic = "ref.stations", .key = s.id, .value = schemas::EncodeEvent(e), .partition = 0});
    }
    ASSERT_TRUE(log_->Append(recs).ok());
  }

  static v1::Event Header(const std::string& id, int64_t t, const std::string& reporter = "") {
    v1::Event e;
    auto* h = e.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id(id);
    h->set_event_time_ms(t);
    h->set_received_time_ms(t);
    h->set_source(v1::SOURCE_APP);
    h->set_reporter(reporter);
    return e;
  }

  const Station& Find(const std::string& id) const {
    return *std::find_if(stations_.begin(), stations_.end(), [&](const Station& s) { return s.id == id; });
  }

  void Append(const v1::Event& e) {
    const Station& s = Find(schemas::RecordKey(e));
    store::OutRecord r{.topic = "in.events", .key = s.id, .value = schemas::EncodeEvent(e),
                       .timestamp_ms = e.header().event_time_ms(),
                       .partition_key = schemas::DistrictKey(s.region, s.district)};
    ASSERT_TRUE(log_->Append(std::span(&r, 1)).ok());
  }
  void AppendRaw(const std::string& partition_key, const v1::Event& e) {
    store::OutRecord r{.topic = "in.events", .key = schemas::RecordKey(e), .value = schemas::EncodeEvent(e),
                       .timestamp_ms = e.header().event_time_ms(), .partition_key = partition_key};
    ASSERT_TRUE(log_->Append(std::span(&r, 1)).ok());
  }

  void Incident(const std::string& id, const std::string& station, int64_t t, const std::string& reporter,
                int severity = 5, const std::string& text = "", v1::IncidentCategory c = v1::INCIDENT_CATEGORY_VIOLENCE) {
    v1::Event e = Header(id, t, reporter);
    auto* in = e.mutable_incident();
    in->set_station_id(station);
    in->set_category(c);
    in->set_severity(severity);
    in->set_description(text.empty() ? "report " + id : text);
    Append(e);
  }
  void Turnout(const std::string& id, const std::string& station, int64_t t, int64_t voters) {
    v1::Event e = Header(id, t);
    e.mutable_turnout()->set_station_id(station);
    e.mutable_turnout()->set_voters_cast(voters);
    Append(e);
  }
  void Kit(const std::string& id, const std::string& station, int64_t t, int64_t accredited, double battery = 90,
           bool tamper = false, int64_t failures = 0) {
    v1::Event e = Header(id, t);
    auto* k = e.mutable_kit();
    k->set_kit_id("K-" + station);
    k->set_station_id(station);
    k->set_battery_pct(battery);
    k->set_accredited_total(accredited);
    k->set_auth_failures(failures);
    k->set_tamper(tamper);
    Append(e);
  }
  void Hate(const std::string& id, const std::string& station, int64_t t, const std::string& reporter,
            const std::string& text, int64_t reach = 50000, double confidence = 0.9) {
    v1::Event e = Header(id, t, reporter);
    auto* h = e.mutable_hate_speech();
    h->set_station_id(station);
    h->set_text(text);
    h->set_reach(reach);
    h->set_confidence(confidence);
    Append(e);
  }
  // A tick in every partition.
  void Tick(int64_t t) {
    std::vector<store::OutRecord> recs;
    for (int32_t p = 0; p < kPartitions; ++p) {
      v1::Event e = Header("tick:" + std::to_string(p) + ":" + std::to_string(t), t);
      e.mutable_tick();
      e.mutable_header()->set_source(v1::SOURCE_TICKER);
      recs.push_back({.topic = "in.events", .key = "tick", .value = schemas::EncodeEvent(e), .timestamp_ms = t,
                      .partition = p});
    }
    ASSERT_TRUE(log_->Append(recs).ok());
  }
  void TicksEveryMinute(int64_t from, int64_t to) {
    for (int64_t t = from; t <= to; t += kMin) Tick(t);
  }

  void Run() {
    if (!runtime_) {
      auto rt = TaskRuntime::Make(*log_, *state_, pipeline_.factory, pipeline_.runtime, nullptr);
      ASSERT_TRUE(rt.ok()) << rt.status().ToString();
      runtime_ = std::move(rt).value();
    }
    Status st = runtime_->RunUntilCaughtUp(std::chrono::seconds(20));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  std::vector<v1::Event> Read(std::string_view topic) {
    std::vector<v1::Event> out;
    auto n = log_->PartitionCount(topic);
    if (!n.ok()) return out;
    for (int32_t p = 0; p < *n; ++p) {
      int64_t next = 0;
      while (true) {
        auto batch = log_->Read({std::string(topic), p}, next, 1000);
        if (!batch.ok() || batch->empty()) break;
        for (const auto& r : *batch) out.push_back(schemas::DecodeEvent(r.value).value());
        next = batch->back().offset + 1;
      }
    }
    std::stable_sort(out.begin(), out.end(), [](const v1::Event& a, const v1::Event& b) {
      return a.header().event_time_ms() < b.header().event_time_ms();
    });
    return out;
  }
  std::vector<v1::Anomaly> Anomalies(const std::string& detector) {
    std::vector<v1::Anomaly> out;
    for (const auto& e : Read(schemas::topic::kAnomalies)) {
      if (e.anomaly().detector() == detector) out.push_back(e.anomaly());
    }
    return out;
  }
  // Level changes of a subject, in order.
  std::vector<int> Levels(const std::string& subject) {
    std::vector<int> out;
    for (const auto& e : Read(schemas::topic::kRisk)) {
      if (e.body_case() == v1::Event::kRisk && e.risk().subject_id() == subject) out.push_back(e.risk().level());
    }
    return out;
  }
  v1::RiskAssessment Risk(const std::string& subject) {
    v1::RiskAssessment a;
    std::string key = subject;
    if (subject.find('/') == std::string::npos) {
      const Station& s = Find(subject);
      key = StationRiskKey(s.region + "/" + s.district + "/" + s.ward, subject);
    }
    auto v = state_->Get(kRiskStore, key);
    if (v.ok() && v->has_value()) a.ParseFromString(**v);
    return a;
  }
  std::string Digest() {
    std::vector<std::string> topics;
    for (const auto& spec : pipeline_.outputs) topics.push_back(spec.name);
    topics.emplace_back("dlq.processing");
    return StateDigest(*state_).value() + "/" + DigestTopics(*log_, topics).value().digest;
  }

  testing::TempDir dir_;
  v1::Rules rules_ = DefaultRules();
  std::vector<Station> stations_ = MakeStations();
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
  std::unique_ptr<TaskRuntime> runtime_;
  Pipeline pipeline_;
};

TEST_F(StationStageTest, IndependentReportersMakeASituationThatRaisesTheStationNotItsAreas) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  Incident("a", "IK-1-0", t, "mon-a");
  Incident("b", "IK-1-1", t + 5 * kMin, "mon-b");
  Incident("c", "IK-1-0", t + 9 * kMin, "mon-c");
  Run();
  auto clusters = Anomalies("cluster");
  ASSERT_EQ(clusters.size(), 1u);
  EXPECT_EQ(clusters[0].subject_id(), "IK-1-0");
  EXPECT_EQ(clusters[0].area(), "LAGOS/IKEJA/W1");
  EXPECT_NE(clusters[0].explanation().find("independent reporters"), std::string::npos);
  // One situation, updated as it grew.
  std::set<std::string> ids;
  for (const auto& e : Read(schemas::topic::kSituations)) ids.insert(e.situation().situation_id());
  EXPECT_EQ(ids.size(), 1u);
  auto risk = Risk("IK-1-0");
  EXPECT_GE(risk.level(), v1::RISK_LEVEL_HIGH) << risk.DebugString();
  EXPECT_EQ(risk.factors(0).detector(), "cluster");
  EXPECT_FALSE(risk.factors(0).event_ids().empty());
  EXPECT_EQ(Levels("IK-1-0").back(), risk.level());
  // One troubled station is that station's alert, not its ward's and district's too.
  EXPECT_LT(Risk("LAGOS/IKEJA/W1").level(), v1::RISK_LEVEL_HIGH);
  EXPECT_LT(Risk("LAGOS/IKEJA").level(), v1::RISK_LEVEL_HIGH);
  // Every report is enriched with where it is and how sure that is.
  auto enriched = Read(schemas::topic::kIncidents);
  ASSERT_EQ(enriched.size(), 3u);
  EXPECT_EQ(enriched[0].enriched().location_source(), "station");
  EXPECT_EQ(enriched[0].enriched().area(), "LAGOS/IKEJA/W1");
  EXPECT_FALSE(enriched[0].enriched().situation_id().empty());
}

TEST_F(StationStageTest, RepeatsAndTheSameTextTwiceAreOneVoice) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  for (int i = 0; i < 5; ++i) Incident("r" + std::to_string(i), "IK-2-3", t + i * kMin, "mon-a", 5, "they burn boxes");
  // The same words from another channel (an SMS pseudonym) do not corroborate either.
  Incident("sms", "IK-2-3", t + 6 * kMin, "sms-pseudonym", 5, "They burn  boxes!");
  Run();
  EXPECT_TRUE(Anomalies("cluster").empty());
  auto situations = Read(schemas::topic::kSituations);
  ASSERT_FALSE(situations.empty());
  EXPECT_EQ(situations.back().situation().independent_reporters(), 1);
  EXPECT_LT(Risk("IK-2-3").level(), v1::RISK_LEVEL_HIGH);
}

TEST_F(StationStageTest, ReportsFarApartInSpaceOrTimeStaySeparate) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  Incident("a", "IK-1-0", t, "mon-a");
  Incident("b", "IK-2-0", t + kMin, "mon-b");                    // ~5.5 km away
  Incident("c", "IK-1-0", t + 3 * 60 * kMin, "mon-c");           // hours later
  Run();
  std::set<std::string> ids;
  for (const auto& e : Read(schemas::topic::kSituations)) ids.insert(e.situation().situation_id());
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_TRUE(Anomalies("cluster").empty());
}

TEST_F(StationStageTest, GazetteerGeocodesAPlaceNamedInText) {
  ImportStations();
  v1::Event e = Header("geo", kOpen + kMin, "sms-x");
  e.mutable_incident()->set_station_id("IK-1-0");
  e.mutable_incident()->set_category(v1::INCIDENT_CATEGORY_INTIMIDATION);
  e.mutable_incident()->set_severity(3);
  e.mutable_incident()->set_place_text("school ik-1-7");  // "School IK-1-7", spacing and case aside
  Append(e);
  v1::Event far = Header("far", kOpen + 2 * kMin, "app-y");
  far.mutable_incident()->set_station_id("IK-1-0");
  far.mutable_incident()->set_category(v1::INCIDENT_CATEGORY_INTIMIDATION);
  far.mutable_incident()->set_severity(2);
  far.mutable_incident()->mutable_location()->set_lat(7.5);
  far.mutable_incident()->mutable_location()->set_lon(3.35);
  Append(far);
  Run();
  auto enriched = Read(schemas::topic::kIncidents);
  ASSERT_EQ(enriched.size(), 2u);
  EXPECT_EQ(enriched[0].enriched().location_source(), "gazetteer");
  EXPECT_EQ(enriched[0].enriched().matched_place(), "School IK-1-7");
  EXPECT_NEAR(enriched[0].enriched().location().lat(), Find("IK-1-7").lat, 1e-9);
  EXPECT_TRUE(enriched[1].enriched().far_from_station());
  EXPECT_GT(enriched[1].enriched().distance_m(), 50'000);
}

TEST_F(StationStageTest, TurnoutImpossibleSurgeAndOverVoting) {
  ImportStations();
  int64_t t = kOpen;
  Turnout("t1", "IK-1-0", t + 60 * kMin, 100);
  Turnout("t2", "IK-1-0", t + 90 * kMin, 90);       // went down
  Turnout("t3", "IK-1-1", t + 60 * kMin, 1200);     // 1,000 registered
  Turnout("t4", "IK-1-2", t + 60 * kMin, 100);
  Turnout("t5", "IK-1-2", t + 100 * kMin, 450);     // +35 % of registered in 40 min
  Kit("k1", "IK-1-3", t + 60 * kMin, 200);
  Turnout("t6", "IK-1-3", t + 61 * kMin, 300);      // 300 votes, 200 accredited
  Kit("k2", "IK-1-4", t + 60 * kMin, 200);
  Turnout("t7", "IK-1-4", t + 61 * kMin, 205);      // within the margin
  Run();
  auto impossible = Anomalies("turnout.impossible");
  ASSERT_EQ(impossible.size(), 2u);
  std::set<std::string> subjects{impossible[0].subject_id(), impossible[1].subject_id()};
  EXPECT_EQ(subjects, (std::set<std::string>{"IK-1-0", "IK-1-1"}));
  auto surge = Anomalies("turnout.surge");
  ASSERT_EQ(surge.size(), 1u);
  EXPECT_EQ(surge[0].subject_id(), "IK-1-2");
  auto over = Anomalies("turnout.over_voting");
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0].subject_id(), "IK-1-3");
  EXPECT_GE(Risk("IK-1-3").level(), v1::RISK_LEVEL_HIGH);
}

// Stuffing shows at the kit before any turnout report: the extra voters are accredited before
// they vote, and a kit reports every few minutes.
TEST_F(StationStageTest, AnAccreditationSurgeAtTheKitIsATurnoutSurge) {
  ImportStations();
  // IK-1-5 (1,000 registered): 6 accreditations per 5 min, then from 2 h in, 40 (48 % an hour).
  int64_t count = 0;
  for (int64_t m = -5; m <= 180; m += 5) {
    if (m > 0) count += m > 120 ? 40 : 6;
    Kit("s" + std::to_string(m), "IK-1-5", kOpen + m * kMin, count);
  }
  // IK-1-6: the first count after opening holds everyone accredited before the kit reported.
  Kit("o0", "IK-1-6", kOpen - 3 * kMin, 0);
  Kit("o1", "IK-1-6", kOpen + 2 * kMin, 90);
  Kit("o2", "IK-1-6", kOpen + 7 * kMin, 96);
  // IK-1-7: silent for half an hour, then back with 50 more: 10 % an hour over the gap.
  Kit("g0", "IK-1-7", kOpen + 60 * kMin, 300);
  Kit("g1", "IK-1-7", kOpen + 90 * kMin, 350);
  Kit("g2", "IK-1-7", kOpen + 95 * kMin, 356);
  Run();
  auto surge = Anomalies("turnout.surge");
  ASSERT_EQ(surge.size(), 1u);  // once: the finding holds for the hour
  EXPECT_EQ(surge[0].subject_id(), "IK-1-5");
  EXPECT_NE(surge[0].explanation().find("kit K-IK-1-5 accredited 40 voters (4% of registered) in 5 min"),
            std::string::npos)
      << surge[0].explanation();
  EXPECT_EQ(std::vector<std::string>(surge[0].event_ids().begin(), surge[0].event_ids().end()),
            (std::vector<std::string>{"s125"}));
  for (const auto& e : Read(schemas::topic::kAnomalies)) {
    if (e.anomaly().detector() == "turnout.surge") {
      EXPECT_EQ(e.header().event_time_ms(), kOpen + 125 * kMin);
    }
  }
  EXPECT_GE(Risk("IK-1-5").level(), v1::RISK_LEVEL_ELEVATED);
}

TEST_F(StationStageTest, AnAccreditationSurgeNeedsSurgeMinVoters) {
  rules_.mutable_turnout()->set_surge_min_voters(50);
  testing::TempDir dir;
  Open(dir);
  ImportStations();
  // Both rise faster than a surge (48 % and 60 % of registered an hour); only IK-1-9's 60
  // voters reach the 50.
  Kit("a0", "IK-1-8", kOpen + 60 * kMin, 100);
  Kit("a1", "IK-1-8", kOpen + 65 * kMin, 140);
  Kit("b0", "IK-1-9", kOpen + 60 * kMin, 100);
  Kit("b1", "IK-1-9", kOpen + 66 * kMin, 160);
  // IK-1-10's heartbeats come 6 then 4 minutes apart: the base is the newest reading at least a
  // window old, here 10 minutes back, over which 60 voters is 36 % an hour.
  Kit("c0", "IK-1-10", kOpen + 60 * kMin, 100);
  Kit("c1", "IK-1-10", kOpen + 66 * kMin, 110);
  Kit("c2", "IK-1-10", kOpen + 70 * kMin, 160);
  Run();
  std::set<std::string> subjects;
  for (const auto& a : Anomalies("turnout.surge")) subjects.insert(a.subject_id());
  EXPECT_EQ(subjects, (std::set<std::string>{"IK-1-9", "IK-1-10"}));
}

TEST_F(StationStageTest, TurnoutOutlierAgainstPeers) {
  ImportStations();
  int64_t t = kOpen + 3 * 60 * kMin;
  for (int i = 0; i < 12; ++i) Turnout("p" + std::to_string(i), "IK-1-" + std::to_string(i), t, 300 + 5 * i);
  for (int i = 0; i < 11; ++i) Turnout("q" + std::to_string(i), "IK-2-" + std::to_string(i), t, 310 + 4 * i);
  Turnout("odd", "IK-2-11", t + kMin, 950);
  Run();
  auto outliers = Anomalies("turnout.outlier");
  ASSERT_EQ(outliers.size(), 1u);
  EXPECT_EQ(outliers[0].subject_id(), "IK-2-11");
}

TEST_F(StationStageTest, IntegerPercentHeapingInADistrict) {
  ImportStations();
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> turnout(0.4, 0.7);
  int64_t closed = kDay + 17 * 60 * kMin;
  for (int i = 0; i < 12; ++i) {  // MUSHIN: natural counts
    const Station& s = Find("EP-" + std::to_string(i));
    int64_t v = static_cast<int64_t>(turnout(rng) * static_cast<double>(s.registered)) | 1;
    Turnout("ep" + std::to_string(i), s.id, closed + i * kMin, v);
  }
  int n = 0;
  for (int w = 1; w <= 2; ++w) {  // IKEJA: whole percentages of 1,000 registered
    for (int i = 0; i < 12; ++i) {
      Turnout("ik" + std::to_string(n), "IK-" + std::to_string(w) + "-" + std::to_string(i), closed + n * kMin,
              10 * (45 + n % 20));
      ++n;
    }
  }
  Run();
  auto heaping = Anomalies("turnout.heaping");
  ASSERT_EQ(heaping.size(), 1u);
  EXPECT_EQ(heaping[0].subject_id(), "LAGOS/IKEJA");
  EXPECT_GE(Risk("LAGOS/IKEJA").level(), v1::RISK_LEVEL_HIGH);
  EXPECT_LT(Risk("LAGOS/MUSHIN").level(), v1::RISK_LEVEL_ELEVATED);
}

TEST_F(StationStageTest, KitsSilentDownBatteryTamperAndFingerprintFailures) {
  ImportStations();
  int64_t t = kOpen + 10 * kMin;
  for (int i = 0; i < 12; ++i) Kit("h" + std::to_string(i), "IK-2-" + std::to_string(i), t, 10);
  // Two hours on: 8 of 12 kits in W2 keep reporting, then 5 go silent at once.
  for (int64_t m = 5; m <= 120; m += 5) {
    for (int i = 0; i < 12; ++i) {
      if (i < 5 && m > 30) continue;
      Kit("h" + std::to_string(i) + "-" + std::to_string(m), "IK-2-" + std::to_string(i), t + m * kMin, 10 + m);
    }
    Tick(t + m * kMin);
  }
  Kit("b", "IK-1-0", t, 10, 9.0);
  Kit("x", "IK-1-1", t, 10, 80, /*tamper=*/true);
  Kit("f", "IK-1-2", t, 30, 80, false, /*failures=*/40);
  Run();
  auto silent = Anomalies("kit.silent");
  EXPECT_EQ(silent.size(), 5u);
  auto down = Anomalies("kit.area_down");
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].subject_id(), "LAGOS/IKEJA/W2");
  // Detected within the silence threshold plus a minute of its start.
  int64_t silent_from = t + 30 * kMin;
  EXPECT_LE(Read(schemas::topic::kAnomalies).size(), 20u);
  for (const auto& e : Read(schemas::topic::kAnomalies)) {
    if (e.anomaly().detector() == "kit.area_down") {
      EXPECT_LE(e.header().event_time_ms() - silent_from, rules_.kit().silent_after_ms() + 6 * kMin);
    }
  }
  EXPECT_EQ(Anomalies("kit.battery").size(), 1u);
  EXPECT_EQ(Anomalies("kit.tamper").size(), 1u);
  EXPECT_EQ(Anomalies("kit.auth_failures").size(), 1u);
  auto ward = Levels("LAGOS/IKEJA/W2");
  ASSERT_FALSE(ward.empty());
  EXPECT_GE(*std::max_element(ward.begin(), ward.end()), v1::RISK_LEVEL_HIGH);
  EXPECT_GE(Risk("IK-1-1").level(), v1::RISK_LEVEL_HIGH);  // tamper
}

TEST_F(StationStageTest, AKitSilentSinceBeforeOpeningIsJudgedOncePollsOpen) {
  ImportStations();
  Kit("early", "IK-1-0", kOpen - 5 * kMin, 0);          // then nothing
  Kit("steady0", "IK-1-1", kOpen - 5 * kMin, 0);
  for (int m = 0; m <= 20; m += 4) Kit("steady" + std::to_string(m + 1), "IK-1-1", kOpen + m * kMin, m);
  TicksEveryMinute(kOpen - 10 * kMin, kOpen + 20 * kMin);
  Run();
  auto silent = Anomalies("kit.silent");
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(silent[0].subject_id(), "IK-1-0");
  // Not while polls were closed: at the first minute past its 8-minute threshold.
  for (const auto& e : Read(schemas::topic::kAnomalies)) {
    if (e.anomaly().detector() == "kit.silent") {
      EXPECT_GE(e.header().event_time_ms(), kOpen);
      EXPECT_LE(e.header().event_time_ms(), kOpen + 5 * kMin);
    }
  }
}

TEST_F(StationStageTest, HateSpeechSurgeAgainstTheDistrictsBaseline) {
  ImportStations();
  int64_t t = kOpen;
  // A quiet baseline: a flag every 40 minutes for six hours.
  for (int i = 0; i < 9; ++i) Hate("base" + std::to_string(i), "EP-1", t + i * 40 * kMin, "clf", "text " + std::to_string(i), 500, 0.6);
  // The same text from the same source, many times: counted once.
  for (int i = 0; i < 12; ++i) Hate("dup" + std::to_string(i), "IK-1-0", t + 60 * kMin + i * kMin, "clf", "same words");
  Run();
  EXPECT_TRUE(Anomalies("hate.surge").empty());
  // Then a burst of different messages in IKEJA.
  for (int i = 0; i < 8; ++i) Hate("s" + std::to_string(i), "IK-1-" + std::to_string(i), t + 7 * 60 * kMin + i * 3 * kMin, "mon" + std::to_string(i), "msg " + std::to_string(i));
  Run();
  auto surges = Anomalies("hate.surge");
  ASSERT_EQ(surges.size(), 1u);
  EXPECT_EQ(surges[0].subject_id(), "LAGOS/IKEJA");
  EXPECT_GE(Risk("LAGOS/IKEJA").level(), v1::RISK_LEVEL_HIGH);
}

TEST_F(StationStageTest, RiskDecaysOnEventTimeAndFallsBack) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  Turnout("x", "IK-1-1", t, 1200);  // 1,000 registered: impossible, weight 0.8
  TicksEveryMinute(t, t + 4 * 60 * kMin);
  Run();
  std::vector<int> levels = Levels("IK-1-1");
  ASSERT_EQ(levels.size(), 3u) << ::testing::PrintToString(levels);
  EXPECT_EQ(levels.front(), v1::RISK_LEVEL_HIGH);
  EXPECT_EQ(levels.back(), v1::RISK_LEVEL_LOW);
  // Hysteresis: each step down once, no flapping back up.
  for (size_t i = 1; i < levels.size(); ++i) EXPECT_LT(levels[i], levels[i - 1]) << ::testing::PrintToString(levels);
}

TEST_F(StationStageTest, BadInputIsDeadLetteredAndThePartitionMovesOn) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  v1::Event unknown = Header("ghost", t);
  unknown.mutable_turnout()->set_station_id("NOPE");
  AppendRaw("LAGOS/IKEJA", unknown);
  Turnout("ok1", "IK-1-0", t, 10);
  Turnout("late", "IK-1-0", t - 7 * 60 * kMin, 5);  // beyond 6 h of allowed lateness
  v1::Event future = Header("future", t + 60 * kMin);
  future.mutable_header()->set_received_time_ms(t);
  future.mutable_turnout()->set_station_id("IK-1-0");
  Append(future);
  v1::Event nokit = Header("nokit", t);
  nokit.mutable_kit()->set_station_id("IK-1-0");
  Append(nokit);
  Turnout("ok2", "IK-1-0", t + kMin, 20);
  Run();
  auto dlq = Read("dlq.processing");
  ASSERT_EQ(dlq.size(), 4u);
  std::string reasons;
  for (const auto& e : dlq) reasons += e.rejected().reason() + "\n";
  EXPECT_NE(reasons.find("unknown_station: 'NOPE'"), std::string::npos) << reasons;
  std::set<std::string> codes;
  for (const auto& e : dlq) codes.insert(e.rejected().reason_code());
  EXPECT_EQ(codes, (std::set<std::string>{"unknown_station", "late", "future", "missing_field"}));
  EXPECT_NE(reasons.find("late"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("future"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("kit_id"), std::string::npos) << reasons;
  EXPECT_EQ(runtime_->stats().skipped, 4);
  EXPECT_GE(runtime_->stats().processed, 2);
}


TEST_F(StationStageTest, RestartFromCommittedStateEqualsAnUninterruptedRun) {
  ImportStations();
  auto feed = [&](int part) {
    int64_t t0 = kOpen + part * 90 * kMin;
    for (int i = 0; i < 12; ++i) {
      Kit("k" + std::to_string(part) + "-" + std::to_string(i), "IK-2-" + std::to_string(i), t0, 50 * part + i);
      Turnout("t" + std::to_string(part) + "-" + std::to_string(i), "IK-1-" + std::to_string(i), t0 + kMin, 100 * part + i);
    }
    Incident("i" + std::to_string(part) + "a", "IK-1-0", t0 + 2 * kMin, "m1");
    Incident("i" + std::to_string(part) + "b", "IK-1-1", t0 + 3 * kMin, "m2");
    Hate("h" + std::to_string(part), "EP-2", t0, "c", "t" + std::to_string(part));
    TicksEveryMinute(t0 + 4 * kMin, t0 + 80 * kMin);
  };
  // Uninterrupted.
  for (int part = 0; part < 4; ++part) feed(part);
  Run();
  std::string whole = Digest();
  // Again in a fresh directory, with the process restarted (new runtime and processors, state
  // from the store) between parts.
  testing::TempDir other;
  Open(other);
  ImportStations();
  for (int part = 0; part < 4; ++part) {
    feed(part);
    Run();
    ASSERT_TRUE(runtime_->Close().ok());
    runtime_.reset();
  }
  EXPECT_EQ(Digest(), whole);
}

TEST_F(StationStageTest, InterleavingAcrossPartitionsDoesNotChangeTheResult) {
  ImportStations();
  // Per-partition order is what the log guarantees; across partitions any interleaving may
  // happen. Build one day of events, then append them in two different interleavings.
  struct Item {
    std::string district;
    std::function<void()> append;
  };
  auto build = [&](std::vector<Item>& items) {
    for (int i = 0; i < 12; ++i) {
      std::string a = "IK-1-" + std::to_string(i), b = "EP-" + std::to_string(i);
      int64_t t = kOpen + i * 7 * kMin;
      items.push_back({"IKEJA", [=, this] { Incident("x" + a, a, t, "m" + std::to_string(i % 4)); }});
      items.push_back({"MUSHIN", [=, this] { Turnout("y" + b, b, t, 40 * i); }});
      items.push_back({"MUSHIN", [=, this] { Kit("z" + b, b, t + kMin, 40 * i + 5); }});
      items.push_back({"IKEJA", [=, this] { Hate("w" + a, a, t, "mon" + std::to_string(i), "msg" + std::to_string(i)); }});
    }
  };
  ASSERT_NE(PartitionForKey("LAGOS/IKEJA", kPartitions), PartitionForKey("LAGOS/MUSHIN", kPartitions));
  std::vector<Item> items;
  build(items);
  for (auto& it : items) it.append();
  Run();
  std::string first = Digest();

  testing::TempDir other;
  Open(other);
  ImportStations();
  std::vector<Item> again;
  build(again);
  // All of MUSHIN first, then all of IKEJA: each district keeps its own order.
  for (auto& it : again) {
    if (it.district == "MUSHIN") it.append();
  }
  for (auto& it : again) {
    if (it.district == "IKEJA") it.append();
  }
  Run();
  // Ticks are not involved, so the per-partition sequences are identical.
  EXPECT_EQ(Digest(), first);
}

}  // namespace
}  // namespace ewarn::processors
