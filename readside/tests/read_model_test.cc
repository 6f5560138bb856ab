// The read model folded from `risk` and `alerts` equals what the stages themselves keep: the
// alert stage's AlertRecords field by field, the station stage's risk levels; on the embedded
// log and over Kafka's wire protocol (librdkafka's mock cluster), with repeats dropped and the
// log's loss and return reported.
#include "ewarn/readside/read_model.h"

#include <gtest/gtest.h>

#include <thread>

#include "ewarn/alerts/lifecycle.h"
#include "ewarn/base/hash.h"
#include "ewarn/base/time.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/processors/rules.h"
#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"

namespace ewarn::readside {
namespace {

using namespace std::chrono_literals;

constexpr int32_t kPartitions = 4;
constexpr int64_t kMin = 60'000;
const int64_t kOpen = ParseRfc3339("2027-02-25T08:00:00Z").value();

v1::Event Header(const std::string& id, int64_t t, const std::string& reporter = "") {
  v1::Event e;
  e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
  e.mutable_header()->set_event_id(id);
  e.mutable_header()->set_event_time_ms(t);
  e.mutable_header()->set_received_time_ms(t);
  e.mutable_header()->set_reporter(reporter);
  return e;
}

// Stations in two districts, a liaison for IKEJA, and a morning with a violent situation there.
Status Feed(store::EventLog& log) {
  RETURN_IF_ERROR(log.CreateTopic({.name = "in.events", .partitions = kPartitions}));
  RETURN_IF_ERROR(log.CreateTopic({.name = "ref.stations", .partitions = 1}));
  RETURN_IF_ERROR(log.CreateTopic({.name = "ref.liaisons", .partitions = 1}));
  std::vector<store::OutRecord> refs;
  for (std::string district : {"IKEJA", "EPE"}) {
    for (int i = 0; i < 6; ++i) {
      v1::Event e = Header("st-" + district + std::to_string(i), kOpen);
      auto* s = e.mutable_station();
      s->set_station_id(district + "-" + std::to_string(i));
      s->set_name("School " + std::to_string(i));
      s->set_region("LAGOS");
      s->set_district(district);
      s->set_ward("W" + std::to_string(i % 2));
      s->mutable_location()->set_lat(6.5 + 0.002 * i);
      s->mutable_location()->set_lon(district == "EPE" ? 3.9 : 3.3);
      s->set_registered_voters(1000);
      refs.push_back({.topic = "ref.stations", .key = s->station_id(), .value = schemas::EncodeEvent(e), .partition = 0});
    }
  }
  RETURN_IF_ERROR(log.Append(refs).status());
  v1::Event l = Header("liaison", kOpen);
  l.mutable_liaison()->set_liaison_id("ikeja-police");
  l.mutable_liaison()->set_role(v1::LIAISON_ROLE_POLICE);
  l.mutable_liaison()->set_area("LAGOS/IKEJA");
  l.mutable_liaison()->set_webhook_url("http://127.0.0.1:9/hook");
  store::OutRecord lr{.topic = "ref.liaisons", .key = "ikeja-police", .value = schemas::EncodeEvent(l), .partition = 0};
  RETURN_IF_ERROR(log.Append(std::span(&lr, 1)).status());

  std::vector<store::OutRecord> events;
  for (int m = 0; m <= 90; ++m) {
    int64_t t = kOpen + m * kMin;
    for (int32_t p = 0; p < kPartitions; ++p) {
      v1::Event tick = Header("tick:" + std::to_string(p) + ":" + std::to_string(t), t);
      tick.mutable_tick()->set_liaisons_end(1);
      events.push_back({.topic = "in.events", .key = "tick", .value = schemas::EncodeEvent(tick), .timestamp_ms = t, .partition = p});
    }
    if (m >= 30 && m < 36) {
      v1::Event in = Header("inc" + std::to_string(m), t, "mon" + std::to_string(m % 4));
      in.mutable_incident()->set_station_id("IKEJA-3");
      in.mutable_incident()->set_category(v1::INCIDENT_CATEGORY_VIOLENCE);
      in.mutable_incident()->set_severity(5);
      in.mutable_incident()->set_description("clash " + std::to_string(m));
      events.push_back({.topic = "in.events", .key = schemas::RecordKey(in), .value = schemas::EncodeEvent(in),
                        .timestamp_ms = t, .partition_key = "LAGOS/IKEJA"});
    }
  }
  return log.Append(events).status();
}

// Runs both stages over what `log` holds, resuming from what `state_dir` committed.
void RunStages(store::EventLog& log, const std::string& state_dir) {
  const v1::Rules& rules = processors::DefaultRules();
  std::vector<processors::Pipeline> stages = {processors::StationPipeline(kPartitions, rules, log),
                                              alerts::AlertPipeline(kPartitions, rules, log)};
  std::vector<std::string> stores{std::string(processors::kSeenStore)};
  for (const auto& p : stages) {
    for (const auto& s : p.runtime.stores) stores.push_back(s);
    for (const auto& spec : p.outputs) ASSERT_TRUE(log.CreateTopic(spec).ok());
  }
  auto state = store::StateStore::Open({.dir = state_dir, .stores = stores});
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  for (auto& p : stages) {
    auto rt = processors::TaskRuntime::Make(log, **state, p.factory, p.runtime, nullptr);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    Status st = (*rt)->RunUntilCaughtUp(60s);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE((*rt)->Close().ok());
  }
}

// An acknowledgement of `alert` as the HTTP API appends it.
Status AppendAck(store::EventLog& log, const alerts::AlertRecord& alert, int64_t t) {
  v1::Event e = Header("ack-" + alert.alert.alert_id(), t);
  e.mutable_header()->set_principal("ikeja-police");
  e.mutable_ack()->set_alert_id(alert.alert.alert_id());
  e.mutable_ack()->set_liaison_id("ikeja-police");
  e.mutable_ack()->set_note("patrol sent");
  e.mutable_ack()->set_area(alert.alert.area());
  store::OutRecord r{.topic = "in.events", .key = alert.alert.alert_id(), .value = schemas::EncodeEvent(e),
                     .timestamp_ms = t, .partition = alert.partition};
  return log.Append(std::span(&r, 1)).status();
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

std::map<std::string, alerts::AlertRecord> AlertsOf(QuerySource& q) {
  std::map<std::string, alerts::AlertRecord> out;
  EXPECT_TRUE(q.ScanAlerts([&](const alerts::AlertRecord& r) {
    out[r.alert.alert_id()] = r;
    return true;
  }).ok());
  return out;
}

std::map<std::string, int> RiskLevelsOf(QuerySource& q) {
  std::map<std::string, int> out;
  EXPECT_TRUE(q.ScanRisk("", [&](std::string_view key, std::string_view value) {
    v1::RiskAssessment a;
    EXPECT_TRUE(a.ParseFromArray(value.data(), static_cast<int>(value.size())));
    if (a.level() > v1::RISK_LEVEL_LOW) out[std::string(key)] = a.level();  // absent reads as low
    return true;
  }).ok());
  return out;
}

// Every field the query API shows, and the bookkeeping the model can know.
void ExpectSameAlerts(const std::map<std::string, alerts::AlertRecord>& want,
                      const std::map<std::string, alerts::AlertRecord>& got) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [id, w] : want) {
    auto it = got.find(id);
    ASSERT_NE(it, got.end()) << id;
    const alerts::AlertRecord& g = it->second;
    EXPECT_EQ(schemas::EncodeDeterministic(g.alert), schemas::EncodeDeterministic(w.alert)) << id;
    EXPECT_EQ(g.state, w.state) << id;
    EXPECT_EQ(g.partition, w.partition) << id;
    EXPECT_EQ(g.raised_ms, w.raised_ms) << id;
    EXPECT_EQ(g.updated_ms, w.updated_ms) << id;
    EXPECT_EQ(g.acked_ms, w.acked_ms) << id;
    EXPECT_EQ(g.events, w.events) << id;
  }
}

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<store::EventLog> log;
  std::map<std::string, alerts::AlertRecord> alerts;  // the alert stage's own records
  std::map<std::string, int> risk;                    // the station stage's levels above low
};

// Runs the morning, acknowledges the first open alert, runs the stages on, and keeps what the
// stages' state says.
void Prepare(Fixture& f) {
  auto log = store::OpenEmbeddedLog({.dir = f.dir.Sub("log")});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  f.log = std::move(*log);
  ASSERT_TRUE(Feed(*f.log).ok());
  RunStages(*f.log, f.dir.Sub("state"));
  {
    auto state = store::StateStore::Open({.dir = f.dir.Sub("state")});
    ASSERT_TRUE(state.ok());
    auto before = AlertsOf(*LocalQueries(**state));
    ASSERT_FALSE(before.empty()) << "the morning raised no alert";
    ASSERT_TRUE(AppendAck(*f.log, before.begin()->second, kOpen + 91 * kMin).ok());
  }
  RunStages(*f.log, f.dir.Sub("state"));
  auto state = store::StateStore::Open({.dir = f.dir.Sub("state")});
  ASSERT_TRUE(state.ok());
  auto local = LocalQueries(**state);
  f.alerts = AlertsOf(*local);
  f.risk = RiskLevelsOf(*local);
  ASSERT_EQ(f.alerts.begin()->second.state, alerts::AlertState::kAcknowledged);
  ASSERT_FALSE(f.risk.empty());
}

TEST(ReadModelTest, FoldsTheTopicsIntoWhatTheStagesKeep) {
  Fixture f;
  ASSERT_NO_FATAL_FAILURE(Prepare(f));
  auto model = ReadModel::Start(*f.log);
  ASSERT_TRUE(WaitFor([&] { return model->caught_up(); }, 10s)) << model->health().ToString();
  EXPECT_TRUE(model->health().ok());
  ExpectSameAlerts(f.alerts, AlertsOf(*model));
  EXPECT_EQ(RiskLevelsOf(*model), f.risk);
  EXPECT_EQ(model->skipped(), 0);

  // Point reads agree with the scans.
  const auto& [id, acked] = *f.alerts.begin();
  auto one = model->ReadAlert(id);
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->alert.actor(), "ikeja-police");
  EXPECT_EQ((*one)->alert.note(), "patrol sent");
  auto none = model->ReadAlert("Anope");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  const auto& [risk_key, risk_level] = *f.risk.begin();
  auto risk = model->GetRisk(risk_key);
  ASSERT_TRUE(risk.ok() && risk->has_value());
  v1::RiskAssessment a;
  ASSERT_TRUE(a.ParseFromString(**risk));
  EXPECT_EQ(a.level(), risk_level);
}

// What `ewarn serve` on the embedded log answers: the model merged with the stages' own state
// gives exactly the stages' answers (risk bytes, alert records), and where that state is behind
// (a copy from before the ack, as on a node that no longer runs a partition) the model's newer
// answer wins.
TEST(ReadModelTest, FreshestOfTheModelAndTheStagesStateIsTheNewerOfTheTwo) {
  Fixture f;
  ASSERT_NO_FATAL_FAILURE(Prepare(f));
  auto model = ReadModel::Start(*f.log);
  ASSERT_TRUE(WaitFor([&] { return model->caught_up(); }, 10s)) << model->health().ToString();
  auto state = store::StateStore::Open({.dir = f.dir.Sub("state")});
  ASSERT_TRUE(state.ok());
  auto local = LocalQueries(**state);
  auto merged = Freshest(*model, *local);
  ASSERT_TRUE(merged->Ready().ok());
  ExpectSameAlerts(f.alerts, AlertsOf(*merged));
  std::map<std::string, std::string> want, got;
  ASSERT_TRUE(local->ScanRisk("", [&](std::string_view k, std::string_view v) { return want.emplace(k, v).second; }).ok());
  ASSERT_TRUE(merged->ScanRisk("", [&](std::string_view k, std::string_view v) { return got.emplace(k, v).second; }).ok());
  EXPECT_EQ(got, want);  // scores and factors as current as the stage's, not as of the last level change
  for (const auto& [key, value] : want) {
    auto one = merged->GetRisk(key);
    ASSERT_TRUE(one.ok() && one->has_value()) << key;
    EXPECT_EQ(**one, value) << key;
  }
  const alerts::AlertRecord& acked = f.alerts.begin()->second;
  for (int32_t p = 0; p < kPartitions; ++p) {
    EXPECT_GE(merged->EventTimeOf(p), local->EventTimeOf(p)) << p;
    EXPECT_GT(model->EventTimeOf(p), kOpen) << p;  // the minute ticks forwarded to `risk`
  }

  // A state from before the ack: the merge shows the model's acknowledged record.
  testing::TempDir before;
  {
    auto log = store::OpenEmbeddedLog({.dir = before.Sub("log")});
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE(Feed(**log).ok());
    RunStages(**log, before.Sub("state"));
  }
  auto stale = store::StateStore::Open({.dir = before.Sub("state")});
  ASSERT_TRUE(stale.ok());
  auto stale_local = LocalQueries(**stale);
  auto old = stale_local->ReadAlert(acked.alert.alert_id());
  ASSERT_TRUE(old.ok() && old->has_value());
  ASSERT_EQ((*old)->state, alerts::AlertState::kOpen);
  auto merged_stale = Freshest(*stale_local, *model);
  auto now = merged_stale->ReadAlert(acked.alert.alert_id());
  ASSERT_TRUE(now.ok() && now->has_value());
  EXPECT_EQ((*now)->state, alerts::AlertState::kAcknowledged);
  ExpectSameAlerts(f.alerts, AlertsOf(*merged_stale));
}

TEST(ReadModelTest, ARepublishedAlertEventChangesNothing) {
  Fixture f;
  ASSERT_NO_FATAL_FAILURE(Prepare(f));
  // After a crash a stage publishes its committed outbox again: the same records twice.
  Result<std::vector<store::LogRecord>> first = std::vector<store::LogRecord>();
  for (int32_t p = 0; p < kPartitions && first.ok() && first->empty(); ++p) first = f.log->Read({"alerts", p}, 0, 1);
  ASSERT_TRUE(first.ok() && first->size() == 1);
  store::OutRecord again{.topic = "alerts", .key = (*first)[0].key, .value = (*first)[0].value,
                         .timestamp_ms = (*first)[0].timestamp_ms, .partition = (*first)[0].partition};
  ASSERT_TRUE(f.log->Append(std::span(&again, 1)).ok());
  auto model = ReadModel::Start(*f.log);
  ASSERT_TRUE(WaitFor([&] { return model->caught_up(); }, 10s));
  ExpectSameAlerts(f.alerts, AlertsOf(*model));
  EXPECT_EQ(model->skipped(), 1);
}

TEST(ReadModelTest, SeesWhatIsAppendedAfterItCaughtUp) {
  testing::TempDir dir;
  auto log = store::OpenEmbeddedLog({.dir = dir.Sub("log")});
  ASSERT_TRUE(log.ok());
  auto model = ReadModel::Start(**log, {.poll_interval = 50ms});
  // No topics yet (a node that started before the stages made them): caught up on nothing.
  ASSERT_TRUE(WaitFor([&] { return model->caught_up(); }, 5s)) << model->health().ToString();
  EXPECT_TRUE(AlertsOf(*model).empty());
  ASSERT_TRUE((*log)->CreateTopic({.name = "alerts", .partitions = 2}).ok());
  v1::Event e = Header("A1/0", kOpen);
  e.mutable_alert()->set_alert_id("A1");
  e.mutable_alert()->set_kind(v1::AlertEvent::KIND_RAISED);
  e.mutable_alert()->set_area("LAGOS/IKEJA/W1");
  store::OutRecord r{.topic = "alerts", .key = "A1", .value = schemas::EncodeEvent(e), .timestamp_ms = kOpen, .partition = 1};
  ASSERT_TRUE((*log)->Append(std::span(&r, 1)).ok());
  ASSERT_TRUE(WaitFor([&] { return AlertsOf(*model).count("A1") == 1; }, 2s));
  auto a1 = model->ReadAlert("A1");
  ASSERT_TRUE(a1.ok() && a1->has_value());
  EXPECT_EQ((*a1)->state, alerts::AlertState::kOpen);
  EXPECT_EQ((*a1)->partition, PartitionForKey("LAGOS/IKEJA", 2));  // the task's, not the topic's
  EXPECT_EQ((*a1)->raised_ms, kOpen);
}

// Over the wire: the same topics copied into a three-broker mock cluster give the same model;
// with every broker down the model says so (and keeps answering what it has), and recovers.
TEST(ReadModelTest, OverKafkaTheSameModelAndTheLogsLossReported) {
  Fixture f;
  ASSERT_NO_FATAL_FAILURE(Prepare(f));
  auto cluster = testing::MockKafkaCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto kafka = store::OpenKafkaLog((*cluster)->LogOptions(2s));
  ASSERT_TRUE(kafka.ok()) << kafka.status().ToString();
  for (std::string topic : {"risk", "alerts"}) {
    ASSERT_TRUE((*kafka)->CreateTopic({.name = topic, .partitions = kPartitions}).ok());
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto records = f.log->Read({topic, p}, 0, 100000);
      ASSERT_TRUE(records.ok());
      std::vector<store::OutRecord> copy;
      for (const auto& r : *records) {
        copy.push_back({.topic = topic, .key = r.key, .value = r.value, .timestamp_ms = r.timestamp_ms, .partition = p});
      }
      ASSERT_TRUE((*kafka)->Append(copy).ok());
    }
  }
  auto model = ReadModel::Start(**kafka, {.poll_interval = 50ms});
  ASSERT_TRUE(WaitFor([&] { return model->caught_up(); }, 20s)) << model->health().ToString();
  EXPECT_TRUE(model->Ready().ok());
  ExpectSameAlerts(f.alerts, AlertsOf(*model));
  EXPECT_EQ(RiskLevelsOf(*model), f.risk);
  for (std::string topic : {"risk", "alerts"}) {
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto end = (*kafka)->Offsets({topic, p});
      ASSERT_TRUE(end.ok());
      EXPECT_TRUE(model->HasApplied({topic, p}, end->end)) << topic << p;
      EXPECT_FALSE(model->HasApplied({topic, p}, end->end + 1)) << topic << p;
    }
  }

  for (int b = 1; b <= 3; ++b) ASSERT_TRUE((*cluster)->SetBrokerDown(b).ok());
  EXPECT_TRUE(WaitFor([&] { return !model->health().ok(); }, 15s));
  EXPECT_EQ(model->health().code(), StatusCode::kUnavailable) << model->health().ToString();
  ExpectSameAlerts(f.alerts, AlertsOf(*model));  // still answers from what it holds
  for (int b = 1; b <= 3; ++b) ASSERT_TRUE((*cluster)->SetBrokerUp(b).ok());
  EXPECT_TRUE(WaitFor([&] { return model->health().ok(); }, 20s)) << model->health().ToString();
}

// A model that has not read the log yet says so instead of answering (every broker down at its
// start), and answers once it has.
TEST(ReadModelTest, NotReadyUntilItHasReadTheLog) {
  auto cluster = testing::MockKafkaCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  auto kafka = store::OpenKafkaLog((*cluster)->LogOptions(2s));
  ASSERT_TRUE(kafka.ok()) << kafka.status().ToString();
  ASSERT_TRUE((*kafka)->CreateTopic({.name = "alerts", .partitions = 2}).ok());
  for (int b = 1; b <= 3; ++b) ASSERT_TRUE((*cluster)->SetBrokerDown(b).ok());
  auto model = ReadModel::Start(**kafka, {.poll_interval = 50ms});
  std::this_thread::sleep_for(500ms);
  Status ready = model->Ready();
  EXPECT_EQ(ready.code(), StatusCode::kUnavailable) << ready.ToString();
  EXPECT_NE(ready.message().find("still reading the log"), std::string::npos) << ready.ToString();
  for (int b = 1; b <= 3; ++b) ASSERT_TRUE((*cluster)->SetBrokerUp(b).ok());
  EXPECT_TRUE(WaitFor([&] { return model->Ready().ok(); }, 20s)) << model->Ready().ToString();
}

// Three nodes over the wire: the stages run on one Kafka client, two other clients each keep a
// model; an acknowledgement appended through one of those clients reaches the stage, and both
// models show it acknowledged, equal to the stage's own records.
TEST(ReadModelTest, OverKafkaAnAckThroughAnyNodeShowsOnEveryNode) {
  auto cluster = testing::MockKafkaCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  std::vector<std::unique_ptr<store::EventLog>> nodes;
  for (int i = 0; i < 3; ++i) {
    auto kafka = store::OpenKafkaLog((*cluster)->LogOptions(2s));
    ASSERT_TRUE(kafka.ok()) << kafka.status().ToString();
    nodes.push_back(std::move(*kafka));
  }
  testing::TempDir dir;
  ASSERT_TRUE(Feed(*nodes[0]).ok());
  RunStages(*nodes[0], dir.Sub("state"));
  auto model1 = ReadModel::Start(*nodes[1], {.poll_interval = 50ms});
  auto model2 = ReadModel::Start(*nodes[2], {.poll_interval = 50ms});
  ASSERT_TRUE(WaitFor([&] { return model1->caught_up() && model2->caught_up(); }, 20s));
  std::map<std::string, alerts::AlertRecord> before;
  {
    auto state = store::StateStore::Open({.dir = dir.Sub("state")});
    ASSERT_TRUE(state.ok());
    before = AlertsOf(*LocalQueries(**state));
  }
  ASSERT_FALSE(before.empty());
  ASSERT_TRUE(WaitFor([&] { return AlertsOf(*model1).size() == before.size(); }, 5s));
  ExpectSameAlerts(before, AlertsOf(*model1));
  ExpectSameAlerts(before, AlertsOf(*model2));
  EXPECT_EQ(RiskLevelsOf(*model1), RiskLevelsOf(*model2));

  const alerts::AlertRecord& open = before.begin()->second;
  ASSERT_EQ(open.state, alerts::AlertState::kOpen);
  ASSERT_TRUE(AppendAck(*nodes[1], open, kOpen + 91 * kMin).ok());
  RunStages(*nodes[0], dir.Sub("state"));
  auto acked = [&](ReadModel& m) {
    auto r = m.ReadAlert(open.alert.alert_id());
    return r.ok() && r->has_value() && (*r)->state == alerts::AlertState::kAcknowledged;
  };
  EXPECT_TRUE(WaitFor([&] { return acked(*model1) && acked(*model2); }, 2s));
  auto state = store::StateStore::Open({.dir = dir.Sub("state")});
  ASSERT_TRUE(state.ok());
  auto after = AlertsOf(*LocalQueries(**state));
  ExpectSameAlerts(after, AlertsOf(*model1));
  ExpectSameAlerts(after, AlertsOf(*model2));
  auto one = model2->ReadAlert(open.alert.alert_id());
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->alert.actor(), "ikeja-police");
}

}  // namespace
}  // namespace ewarn::readside
