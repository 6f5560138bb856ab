// The station stage's test fixture: the stage end to end on a real embedded log and state
// store (reference stations, inputs, ticks, and reads of its outputs and risk store). Each
// module's tests (incidents_test.cc, turnout_test.cc, ...) drive the whole stage through it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <set>
#include <unordered_map>

#include "ewarn/base/hash.h"
#include "ewarn/base/time.h"
#include "ewarn/processors/digest.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/processors/rules.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/state_store.h"
#include "ewarn_testing.h"

namespace ewarn::processors::station_test {

inline constexpr int64_t kMin = 60'000;
inline constexpr int32_t kPartitions = 4;
inline const int64_t kDay = ParseRfc3339("2027-02-25T00:00:00Z").value();
inline const int64_t kOpen = kDay + 8 * 60 * kMin;  // polls open 08:00 UTC (default rules)

struct Station {
  std::string id, region, district, ward;
  double lat, lon;
  int64_t registered;
};

// Two districts; LAGOS/IKEJA has wards W1 and W2 with 12 stations each about 300 m apart.
inline std::vector<Station> MakeStations() {
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
  // Many events at once, in one append (for tests at a national scale).
  void AppendAll(const std::vector<v1::Event>& events) {
    std::unordered_map<std::string, const Station*> by_id;
    for (const Station& s : stations_) by_id[s.id] = &s;
    std::vector<store::OutRecord> recs;
    for (const v1::Event& e : events) {
      const Station& s = *by_id.at(schemas::RecordKey(e));
      recs.push_back({.topic = "in.events", .key = s.id, .value = schemas::EncodeEvent(e),
                      .timestamp_ms = e.header().event_time_ms(),
                      .partition_key = schemas::DistrictKey(s.region, s.district)});
    }
    ASSERT_TRUE(log_->Append(recs).ok());
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

}  // namespace ewarn::processors::station_test
