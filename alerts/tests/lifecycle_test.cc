// The alert lifecycle on the real runtime, a real embedded log and a real state store: hand-made
// `risk` records in, alerts and deliveries out.
#include "ewarn/alerts/lifecycle.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "ewarn/processors/rules.h"
#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"

namespace ewarn::alerts {
namespace {

using namespace std::chrono_literals;

constexpr int32_t kPartitions = 3;
constexpr int64_t kHighDeadline = 900000;
constexpr int64_t kWindow = 300000;
constexpr std::string_view kWard = "LAGOS/IKEJA/W1";

v1::Rules TestRules() {
  v1::Rules rules = processors::DefaultRules();
  v1::AlertRules& a = *rules.mutable_alerts();
  a.Clear();
  a.set_group_window_ms(kWindow);
  auto* route = a.add_routes();
  route->set_min_level(v1::HIGH);
  route->add_roles(v1::POLICE);
  route->add_roles(v1::COMMISSION);
  route->set_levels_up(1);
  auto* peace = a.add_routes();
  peace->add_categories("cluster");
  peace->set_min_level(v1::CRITICAL);
  peace->add_roles(v1::PEACEKEEPING);
  peace->set_levels_up(2);
  auto* high = a.add_ack_deadlines();
  high->set_level(v1::HIGH);
  high->set_within_ms(kHighDeadline);
  auto* critical = a.add_ack_deadlines();
  critical->set_level(v1::CRITICAL);
  critical->set_within_ms(300000);
  return rules;
}

struct Liaison {
  std::string id;
  v1::LiaisonRole role = v1::LIAISON_ROLE_POLICE;
  std::string area;
  int tier = 1;
  std::string webhook, phone, email;
  bool cap = false;  // the webhook takes CAP 1.2 XML
};

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(dir_); }

  void Open(const ewarn::testing::TempDir& dir) {
    runtime_.reset();
    state_.reset();
    log_.reset();
    log_ = std::move(store::OpenEmbeddedLog({.dir = dir.Sub("log")})).value();
    ASSERT_TRUE(log_->CreateTopic({.name = "risk", .partitions = kPartitions}).ok());
    ASSERT_TRUE(log_->CreateTopic({.name = "ref.liaisons", .partitions = 1, .compacted = true}).ok());
    pipeline_ = AlertPipeline(kPartitions, rules_, *log_);
    for (const auto& t : pipeline_.outputs) ASSERT_TRUE(log_->CreateTopic(t).ok());
    std::vector<std::string> stores = pipeline_.runtime.stores;
    stores.emplace_back(processors::kSeenStore);
    state_ = std::move(store::StateStore::Open({.dir = dir.Sub("state"), .stores = stores})).value();
  }

  // Appends a liaison; returns ref.liaisons' end offset afterwards.
  int64_t AddLiaison(const Liaison& l) {
    v1::Event e;
    e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
    e.mutable_header()->set_event_id("liaison-" + l.id);
    v1::Liaison* x = e.mutable_liaison();
    x->set_liaison_id(l.id);
    x->set_name("Officer " + l.id);
    x->set_role(l.role);
    x->set_area(l.area);
    x->set_tier(l.tier);
    x->set_webhook_url(l.webhook);
    x->set_phone(l.phone);
    x->set_email(l.email);
    x->set_webhook_cap(l.cap);
    std::vector<store::OutRecord> r{{.topic = "ref.liaisons", .key = l.id, .value = schemas::EncodeEvent(e)}};
    auto pos = log_->Append(r);
    EXPECT_TRUE(pos.ok());
    return pos->front().offset + 1;
  }

  void Append(v1::Event e, std::string_view area) {
    e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
    e.mutable_header()->set_event_id("in-" + std::to_string(++seq_));
    std::vector<store::OutRecord> r{{.topic = "risk",
                                     .key = std::string(area),
                                     .value = schemas::EncodeEvent(e),
                                     .timestamp_ms = e.header().event_time_ms(),
                                     .partition_key = schemas::DistrictKeyOfArea(area)}};
    ASSERT_TRUE(log_->Append(r).ok());
  }

  void Tick(int64_t t, int64_t liaisons_end, std::string_view area = kWard) {
    v1::Event e;
    e.mutable_header()->set_event_time_ms(t);
    e.mutable_tick()->set_liaisons_end(liaisons_end);
    Append(std::move(e), area);
  }

  void Risk(int64_t t, const std::string& subject, v1::RiskLevel level, std::string_view area = kWard,
            const std::string& detector = "cluster") {
    v1::Event e;
    e.mutable_header()->set_event_time_ms(t);
    v1::RiskAssessment* r = e.mutable_risk();
    r->set_subject_id(subject);
    r->set_area(std::string(area));
    r->set_level(level);
    r->set_score(0.5 + 0.1 * static_cast<int>(level));
    auto* f = r->add_factors();
    f->set_detector(detector);
    f->set_contribution(0.7);
    f->set_explanation("3 reports of violence within 400 m");
    f->add_event_ids("ev-1");
    Append(std::move(e), area);
  }

  void Ack(int64_t t, const std::string& alert_id, const std::string& who, const std::string& note,
           std::string_view area = kWard) {
    v1::Event e;
    e.mutable_header()->set_event_time_ms(t);
    v1::AlertAck* a = e.mutable_ack();
    a->set_alert_id(alert_id);
    a->set_liaison_id(who);
    a->set_note(note);
    a->set_area(std::string(area));
    Append(std::move(e), area);
  }

  void Silence(int64_t t, const std::string& id, const std::string& area, const std::string& category,
               int64_t until) {
    v1::Event e;
    e.mutable_header()->set_event_time_ms(t);
    v1::Silence* s = e.mutable_silence();
    s->set_silence_id(id);
    s->set_area(area);
    s->set_category(category);
    s->set_until_ms(until);
    Append(std::move(e), area);
  }

  void Run(size_t max_batch = 10000, size_t commit_every = 50000) {
    processors::RuntimeOptions options = pipeline_.runtime;
    options.max_batch = max_batch;
    options.commit_every_records = commit_every;
    auto rt = processors::TaskRuntime::Make(*log_, *state_, pipeline_.factory, options, nullptr);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    Status st = (*rt)->RunUntilCaughtUp(10s);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_TRUE((*rt)->Close().ok());
  }

  std::vector<store::LogRecord> Records(const std::string& topic) {
    std::vector<store::LogRecord> out;
    int32_t n = *log_->PartitionCount(topic);
    for (int32_t p = 0; p < n; ++p) {
      auto got = log_->Read({topic, p}, 0, 100000);
      EXPECT_TRUE(got.ok());
      for (auto& r : *got) out.push_back(std::move(r));
    }
    return out;
  }

  std::vector<v1::Event> Events(const std::string& topic) {
    std::vector<v1::Event> out;
    for (const auto& r : Records(topic)) out.push_back(*schemas::DecodeEvent(r.value));
    return out;
  }

  // Lifecycle events of one alert, in order (one alert's events share a partition).
  std::vector<v1::AlertEvent> History(const std::string& alert_id) {
    std::vector<v1::AlertEvent> out;
    for (const auto& e : Events("alerts")) {
      if (e.alert().alert_id() == alert_id) out.push_back(e.alert());
    }
    return out;
  }

  std::vector<std::string> Kinds(const std::string& alert_id) {
    std::vector<std::string> out;
    for (const auto& a : History(alert_id)) out.emplace_back(KindName(a.kind()));
    return out;
  }

  std::set<std::string> AlertIds() {
    std::set<std::string> ids;
    for (const auto& e : Events("alerts")) ids.insert(e.alert().alert_id());
    return ids;
  }

  std::string OnlyAlert() {
    std::set<std::string> ids = AlertIds();
    EXPECT_EQ(ids.size(), 1u);
    return ids.empty() ? "" : *ids.begin();
  }

  std::vector<v1::Delivery> Deliveries(const std::string& recipient = "") {
    std::vector<v1::Delivery> out;
    for (const auto& e : Events("notify.outbox")) {
      if (recipient.empty() || e.delivery().recipient_id() == recipient) out.push_back(e.delivery());
    }
    return out;
  }

  std::vector<std::string> RoutedTo(const std::string& alert_id) {
    std::vector<std::string> out;
    for (const auto& a : History(alert_id)) {
      if (a.kind() == v1::AlertEvent::KIND_ROUTED) out.insert(out.end(), a.recipient_ids().begin(), a.recipient_ids().end());
    }
    return out;
  }

  AlertRecord Record(const std::string& alert_id) {
    auto r = ReadAlert(*state_, alert_id);
    EXPECT_TRUE(r.ok() && r->has_value()) << alert_id;
    return r.ok() && r->has_value() ? **r : AlertRecord{};
  }

  // The standard cast: ward and district police, another district's police, region police.
  int64_t StandardLiaisons() {
    AddLiaison({.id = "ward-police", .area = "LAGOS/IKEJA/W1", .webhook = "https://ward.example/hook"});
    AddLiaison({.id = "district-police", .area = "LAGOS/IKEJA", .phone = "+2348010000001",
                .email = "ikeja@police.example"});
    AddLiaison({.id = "epe-police", .area = "LAGOS/EPE", .phone = "+2348010000002"});
    return AddLiaison({.id = "region-police", .area = "LAGOS", .phone = "+2348010000003"});
  }

  v1::Rules rules_ = TestRules();
  ewarn::testing::TempDir dir_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
  std::unique_ptr<processors::TaskRuntime> runtime_;
  processors::Pipeline pipeline_;
  int seq_ = 0;
};

TEST_F(LifecycleTest, RaiseRoutesToWardAndDistrictLiaisonsOfTheAlertOnly) {
  Tick(1000, StandardLiaisons());
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Run();
  std::string id = OnlyAlert();
  EXPECT_EQ(id.size(), 13u);
  EXPECT_EQ(id[0], 'A');
  EXPECT_EQ(Kinds(id), (std::vector<std::string>{"raised", "routed"}));
  EXPECT_EQ(RoutedTo(id), (std::vector<std::string>{"district-police", "ward-police"}));
  v1::AlertEvent raised = History(id)[0];
  EXPECT_EQ(raised.area(), kWard);
  EXPECT_EQ(raised.subject_id(), "ST-1");
  EXPECT_EQ(raised.category(), "cluster");
  EXPECT_EQ(raised.level(), v1::RISK_LEVEL_HIGH);
  EXPECT_EQ(raised.deadline_ms(), 2000 + kHighDeadline);
  EXPECT_NE(raised.summary().find("3 reports of violence"), std::string::npos) << raised.summary();

  // Ward: a webhook. District: SMS and e-mail. Nobody else.
  std::vector<v1::Delivery> all = Deliveries();
  ASSERT_EQ(all.size(), 3u);
  for (const auto& d : all) {  // the X-Ewarn-Delivery form alerts/README.md shows
    EXPECT_TRUE(std::regex_match(d.delivery_id(), std::regex("D[0-9a-f]{24}"))) << d.delivery_id();
  }
  std::set<std::string> got;
  for (const auto& d : all) {
    got.insert(d.recipient_id() + " " + d.address());
    EXPECT_EQ(d.state(), v1::Delivery::STATE_PENDING);
    EXPECT_EQ(d.alert_id(), id);
    ASSERT_EQ(d.alerts_size(), 1);
    EXPECT_EQ(d.alerts(0).kind(), v1::AlertEvent::KIND_RAISED);
    EXPECT_EQ(d.delivery_id().size(), 25u);
  }
  EXPECT_EQ(got, (std::set<std::string>{"ward-police https://ward.example/hook", "district-police +2348010000001",
                                        "district-police ikeja@police.example"}));
  AlertRecord rec = Record(id);
  EXPECT_EQ(rec.state, AlertState::kOpen);
  EXPECT_EQ(rec.alert.tier(), 1);
  EXPECT_EQ(rec.raised_ms, 2000);
  EXPECT_EQ(rec.alert.deadline_ms(), 2000 + kHighDeadline);
  EXPECT_EQ(std::vector<std::string>(rec.alert.recipient_ids().begin(), rec.alert.recipient_ids().end()),
            (std::vector<std::string>{"district-police", "ward-police"}));
}

TEST_F(LifecycleTest, ALiaisonWhoseWebhookTakesCapGetsTheCapChannel) {
  AddLiaison({.id = "cap-desk", .area = "LAGOS/IKEJA/W1", .webhook = "https://alerting.example/cap", .cap = true});
  Tick(1000, AddLiaison({.id = "json-desk", .area = "LAGOS/IKEJA/W1", .webhook = "https://desk.example/hook"}));
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Run();
  std::map<std::string, v1::Delivery::Channel> channel;
  for (const auto& d : Deliveries()) channel[d.recipient_id()] = d.channel();
  EXPECT_EQ(channel["cap-desk"], v1::Delivery::CHANNEL_CAP);
  EXPECT_EQ(channel["json-desk"], v1::Delivery::CHANNEL_WEBHOOK);
}

TEST_F(LifecycleTest, BelowTheRouteMinimumNothingIsRaised) {
  Tick(1000, StandardLiaisons());
  Risk(2000, "ST-1", v1::RISK_LEVEL_ELEVATED);
  Run();
  EXPECT_TRUE(AlertIds().empty());
  EXPECT_TRUE(Deliveries().empty());
}

TEST_F(LifecycleTest, LevelIncreaseUpdatesTheSameAlertAndReachesNewRoutes) {
  int64_t end = StandardLiaisons();
  end = AddLiaison({.id = "un-lagos", .role = v1::LIAISON_ROLE_PEACEKEEPING, .area = "LAGOS", .phone = "+100"});
  Tick(1000, end);
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Risk(3000, "ST-1", v1::RISK_LEVEL_CRITICAL);
  Run();
  std::string id = OnlyAlert();
  EXPECT_EQ(Kinds(id), (std::vector<std::string>{"raised", "routed", "updated", "routed"}));
  // CRITICAL cluster: the peacekeeping route (levels_up 2) adds the region's UN liaison.
  EXPECT_EQ(RoutedTo(id), (std::vector<std::string>{"district-police", "ward-police", "un-lagos"}));
  AlertRecord rec = Record(id);
  EXPECT_EQ(rec.alert.level(), v1::RISK_LEVEL_CRITICAL);
  EXPECT_EQ(rec.alert.kind(), v1::AlertEvent::KIND_ROUTED);
  // The worse level shortens the deadline: 3000 + 300000 < 2000 + 900000.
  EXPECT_EQ(rec.alert.deadline_ms(), 303000);
  // Ward police: RAISED at once; the UPDATED is held in its group window.
  EXPECT_EQ(Deliveries("ward-police").size(), 1u);
  EXPECT_EQ(Deliveries("un-lagos").size(), 1u);
}

TEST_F(LifecycleTest, AlertsForOneLiaisonWithinTheWindowGoOutAsOneDelivery) {
  Tick(1000, StandardLiaisons());
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Risk(3000, "ST-2", v1::RISK_LEVEL_HIGH);
  Risk(4000, "ST-3", v1::RISK_LEVEL_HIGH);
  Tick(2000 + kWindow - 1, 0);
  Run();
  EXPECT_EQ(AlertIds().size(), 3u);
  ASSERT_EQ(Deliveries("ward-police").size(), 1u);  // the first, at once; two held

  Tick(2000 + kWindow, 0);  // the window ends
  Run();
  std::vector<v1::Delivery> ward = Deliveries("ward-police");
  ASSERT_EQ(ward.size(), 2u);
  EXPECT_EQ(ward[0].alerts_size(), 1);
  ASSERT_EQ(ward[1].alerts_size(), 2);
  EXPECT_EQ(ward[1].alerts(0).subject_id(), "ST-2");
  EXPECT_EQ(ward[1].alerts(1).subject_id(), "ST-3");
  EXPECT_NE(ward[1].body().find('\n'), std::string::npos) << "one line per alert";
  EXPECT_NE(ward[0].delivery_id(), ward[1].delivery_id());
  // District police has two channels: two deliveries per flush.
  EXPECT_EQ(Deliveries("district-police").size(), 4u);
}

TEST_F(LifecycleTest, SilenceMutesDeliveriesButKeepsTheAlert) {
  Tick(1000, StandardLiaisons());
  Silence(1500, "quiet-ikeja", "LAGOS/IKEJA", "cluster", 100000);
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH, kWard, "cluster");
  Risk(3000, "ST-2", v1::RISK_LEVEL_HIGH, kWard, "turnout.surge");
  Run();
  ASSERT_EQ(AlertIds().size(), 2u);
  std::string silenced_id, loud_id;
  for (const auto& e : Events("alerts")) {
    (e.alert().subject_id() == "ST-1" ? silenced_id : loud_id) = e.alert().alert_id();
  }
  for (const auto& a : History(silenced_id)) EXPECT_TRUE(a.silenced());
  EXPECT_EQ(RoutedTo(silenced_id), (std::vector<std::string>{"district-police", "ward-police"}));
  for (const auto& d : Deliveries()) EXPECT_EQ(d.alert_id(), loud_id);
  EXPECT_EQ(Deliveries().size(), 3u);
  EXPECT_TRUE(Record(silenced_id).alert.silenced());

  // After until_ms the silence no longer applies.
  Risk(400000, "ST-4", v1::RISK_LEVEL_HIGH, "LAGOS/IKEJA/W2", "cluster");
  Run();
  EXPECT_EQ(AlertIds().size(), 3u);
  EXPECT_EQ(Deliveries("district-police").size(), 4u);
}

TEST_F(LifecycleTest, AckStopsEscalation) {
  Tick(1000, StandardLiaisons());
  AddLiaison({.id = "district-police-2", .area = "LAGOS/IKEJA", .tier = 2, .phone = "+200"});
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Run();
  std::string id = OnlyAlert();
  Ack(5000, id, "ward-police", "unit on its way");
  Tick(2000 + kHighDeadline + 1, 5);
  Run();
  EXPECT_EQ(Kinds(id), (std::vector<std::string>{"raised", "routed", "acknowledged"}));
  v1::AlertEvent ack = History(id).back();
  EXPECT_EQ(ack.actor(), "ward-police");
  EXPECT_EQ(ack.note(), "unit on its way");
  AlertRecord rec = Record(id);
  EXPECT_EQ(rec.state, AlertState::kAcknowledged);
  EXPECT_EQ(rec.acked_ms, 5000);
  EXPECT_EQ(rec.alert.actor(), "ward-police");
  EXPECT_EQ(rec.alert.deadline_ms(), 0);
  EXPECT_TRUE(Deliveries("district-police-2").empty());
}

TEST_F(LifecycleTest, UnknownOrRepeatedAckIsDeadLettered) {
  Tick(1000, StandardLiaisons());
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Run();
  std::string id = OnlyAlert();
  Ack(3000, "Anope", "ward-police", "");
  Ack(4000, id, "ward-police", "first");
  Ack(5000, id, "district-police", "second");
  Run();
  std::vector<v1::Event> dlq = Events("dlq.processing");
  ASSERT_EQ(dlq.size(), 2u);
  EXPECT_NE(dlq[0].rejected().reason().find("unknown alert 'Anope'"), std::string::npos) << dlq[0].rejected().reason();
  EXPECT_NE(dlq[1].rejected().reason().find("already acknowledged"), std::string::npos) << dlq[1].rejected().reason();
  EXPECT_EQ(Record(id).alert.note(), "first");
}

TEST_F(LifecycleTest, UnacknowledgedAlertEscalatesByTierThenToTheCommissionThenStops) {
  AddLiaison({.id = "ward-police", .area = "LAGOS/IKEJA/W1", .phone = "+1"});
  AddLiaison({.id = "district-police-2", .area = "LAGOS/IKEJA", .tier = 2, .phone = "+2"});
  int64_t end = AddLiaison({.id = "inec-lagos", .role = v1::LIAISON_ROLE_COMMISSION, .area = "LAGOS",
                            .email = "lagos@inec.example"});
  Tick(1000, end);
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Tick(2000 + kHighDeadline - 1, end);  // not yet
  Run();
  std::string id = OnlyAlert();
  EXPECT_EQ(RoutedTo(id), (std::vector<std::string>{"ward-police"}));

  int64_t first_deadline = 2000 + kHighDeadline;
  Tick(first_deadline, end);  // deadlines are inclusive
  Run();
  EXPECT_EQ(Kinds(id), (std::vector<std::string>{"raised", "routed", "escalated", "routed"}));
  v1::AlertEvent esc = History(id)[2];
  EXPECT_EQ(esc.tier(), 2);
  EXPECT_EQ(esc.deadline_ms(), first_deadline + kHighDeadline);
  EXPECT_EQ(std::vector<std::string>(esc.recipient_ids().begin(), esc.recipient_ids().end()),
            (std::vector<std::string>{"district-police-2"}));
  EXPECT_EQ(Deliveries("district-police-2").size(), 1u);

  Tick(first_deadline + kHighDeadline + 10, end);
  Tick(first_deadline + 10 * kHighDeadline, end);
  Run();
  EXPECT_EQ(Kinds(id), (std::vector<std::string>{"raised", "routed", "escalated", "routed", "escalated", "routed"}));
  v1::AlertEvent last = History(id)[4];
  EXPECT_EQ(last.tier(), 3);
  EXPECT_EQ(last.deadline_ms(), 0);
  EXPECT_EQ(std::vector<std::string>(last.recipient_ids().begin(), last.recipient_ids().end()),
            (std::vector<std::string>{"inec-lagos"}));
  ASSERT_EQ(Deliveries("inec-lagos").size(), 1u);
  EXPECT_EQ(Deliveries("inec-lagos")[0].channel(), v1::Delivery::CHANNEL_EMAIL);
  AlertRecord rec = Record(id);
  EXPECT_TRUE(rec.escalation_exhausted);
  EXPECT_EQ(rec.state, AlertState::kOpen);
  EXPECT_EQ(rec.alert.recipient_ids_size(), 3);
}

// The summary is for a person reading the alert now: it follows the level up and down.
TEST_F(LifecycleTest, TheSummaryFollowsTheCurrentLevel) {
  Tick(1000, StandardLiaisons());
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Run();
  std::string id = OnlyAlert();
  EXPECT_TRUE(Record(id).alert.summary().starts_with("HIGH at ST-1")) << Record(id).alert.summary();
  Risk(3000, "ST-1", v1::RISK_LEVEL_CRITICAL);
  Run();
  EXPECT_TRUE(Record(id).alert.summary().starts_with("CRITICAL at ST-1")) << Record(id).alert.summary();
  EXPECT_NE(Record(id).alert.summary().find("(score 0.90)"), std::string::npos) << Record(id).alert.summary();
}

TEST_F(LifecycleTest, LevelDropResolvesAndTheNextRiseIsANewAlert) {
  Tick(1000, StandardLiaisons());
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Risk(3000, "ST-1", v1::RISK_LEVEL_ELEVATED);
  Run();
  std::string first = OnlyAlert();
  EXPECT_EQ(Kinds(first), (std::vector<std::string>{"raised", "routed", "resolved"}));
  EXPECT_EQ(Record(first).state, AlertState::kResolved);
  // The record and the RESOLVED event describe the level it resolved at, not the raised one.
  EXPECT_EQ(Record(first).alert.level(), v1::RISK_LEVEL_ELEVATED);
  EXPECT_TRUE(Record(first).alert.summary().starts_with("ELEVATED at ST-1")) << Record(first).alert.summary();
  EXPECT_TRUE(History(first).back().summary().starts_with("ELEVATED at ST-1")) << History(first).back().summary();
  Tick(2000 + 2 * kHighDeadline, 0);  // a resolved alert never escalates
  Risk(2000 + 2 * kHighDeadline + 1, "ST-1", v1::RISK_LEVEL_HIGH);
  Run();
  EXPECT_EQ(AlertIds().size(), 2u);
  EXPECT_EQ(Kinds(first), (std::vector<std::string>{"raised", "routed", "resolved"}));
}

TEST_F(LifecycleTest, LiaisonsAfterTheTicksBoundWaitForALaterTick) {
  AddLiaison({.id = "ward-police", .area = "LAGOS/IKEJA/W1", .phone = "+1"});
  Tick(1000, 1);
  AddLiaison({.id = "district-police", .area = "LAGOS/IKEJA", .phone = "+2"});  // offset 1
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Run();
  std::string first = OnlyAlert();
  EXPECT_EQ(RoutedTo(first), (std::vector<std::string>{"ward-police"}));
  Tick(3000, 2);
  Risk(4000, "ST-2", v1::RISK_LEVEL_HIGH);
  Run();
  for (const auto& id : AlertIds()) {
    if (id != first) {
      EXPECT_EQ(RoutedTo(id), (std::vector<std::string>{"district-police", "ward-police"}));
    }
  }
}

TEST_F(LifecycleTest, TierZeroCountsAsOneAndNoTickMeansNoLiaisonsYet) {
  AddLiaison({.id = "ward-police", .area = "LAGOS/IKEJA/W1", .tier = 0, .phone = "+1"});
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);  // no tick yet: the bound is 0
  Tick(3000, 1);
  Risk(4000, "ST-2", v1::RISK_LEVEL_HIGH);
  Run();
  ASSERT_EQ(AlertIds().size(), 2u);
  for (const auto& id : AlertIds()) {
    std::vector<std::string> want;
    if (History(id)[0].subject_id() == "ST-2") want = {"ward-police"};
    EXPECT_EQ(RoutedTo(id), want) << History(id)[0].subject_id();
  }
  EXPECT_EQ(Deliveries("ward-police").size(), 1u);
}

TEST_F(LifecycleTest, AckInAnotherPartitionThanTheAlertIsRefused) {
  Tick(1000, StandardLiaisons());
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Run();
  std::string id = OnlyAlert();
  auto partition_of = [](const std::string& district) {
    return store::EventLog::PartitionOf({.key = "x", .partition_key = district}, kPartitions);
  };
  int d = 0;  // the first district "OGUN/D<d>" outside LAGOS/IKEJA's partition
  while (partition_of("OGUN/D" + std::to_string(d)) == partition_of("LAGOS/IKEJA")) ++d;
  std::string other = "OGUN/D" + std::to_string(d) + "/W1";
  Ack(3000, id, "ward-police", "", other);
  Run();
  std::vector<v1::Event> dlq = Events("dlq.processing");
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_NE(dlq[0].rejected().reason().find("the alert lives in partition"), std::string::npos)
      << dlq[0].rejected().reason();
  EXPECT_EQ(Record(id).state, AlertState::kOpen);
}

TEST_F(LifecycleTest, QuerySideListsEveryAlert) {
  Tick(1000, StandardLiaisons());
  Risk(2000, "ST-1", v1::RISK_LEVEL_HIGH);
  Risk(2000, "LAGOS/EPE", v1::RISK_LEVEL_CRITICAL, "LAGOS/EPE");
  Run();
  std::map<std::string, AlertRecord> all;
  ASSERT_TRUE(ScanAlerts(*state_, [&](const AlertRecord& r) {
                all[r.alert.subject_id()] = r;
                return true;
              }).ok());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all["LAGOS/EPE"].alert.area(), "LAGOS/EPE");
  EXPECT_EQ(RoutedTo(all["LAGOS/EPE"].alert.alert_id()), (std::vector<std::string>{"epe-police", "region-police"}));
  auto missing = ReadAlert(*state_, "Anothing");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

// A scenario exercising every path; replayed into a fresh directory with other batch and
// commit sizes (and a restart), it must give the same output records, byte for byte.
class DeterminismTest : public LifecycleTest {
 public:
  void Feed(int part) {
    if (part == 0) {
      int64_t end = StandardLiaisons();
      end = AddLiaison({.id = "tier2", .area = "LAGOS/IKEJA", .tier = 2, .phone = "+9"});
      end = AddLiaison({.id = "inec", .role = v1::LIAISON_ROLE_COMMISSION, .area = "LAGOS", .email = "i@x"});
      Tick(1000, end);
      Silence(1100, "s1", "LAGOS/EPE", "", 50000);
      for (int i = 0; i < 20; ++i) {
        std::string area = i % 3 == 0 ? "LAGOS/EPE/W" + std::to_string(i % 2) : "LAGOS/IKEJA/W" + std::to_string(i % 4);
        Risk(2000 + i * 1000, "ST-" + std::to_string(i % 7), static_cast<v1::RiskLevel>(2 + (i / 2) % 3), area,
             i % 2 ? "cluster" : "kit.area_down");
      }
      for (int i = 1; i < 40; ++i) Tick(30000 + i * 100000, end, i % 2 ? kWard : "LAGOS/EPE/W0");
    } else {
      Ack(5000000, "Anope", "x", "");
      for (int i = 0; i < 5; ++i) Risk(5000100 + i, "ST-" + std::to_string(i), v1::RISK_LEVEL_LOW);
      Tick(9000000, 0);
    }
  }
  std::vector<std::string> Outputs() {
    std::vector<std::string> out;
    for (const char* topic : {"alerts", "notify.outbox", "dlq.processing"}) {
      for (const auto& r : Records(topic)) {
        out.push_back(std::string(topic) + "/" + std::to_string(r.partition) + "@" + std::to_string(r.offset) +
                      " " + r.key + " " + r.value);
      }
    }
    return out;
  }
};

TEST_F(DeterminismTest, TwoRunsGiveIdenticalOutputs) {
  Feed(0);
  Feed(1);
  Run();
  std::vector<std::string> first = Outputs();
  ASSERT_GT(first.size(), 50u);
  // The scenario reaches every path: escalation (to the commission too), grouping, silences,
  // resolution, a dead letter.
  std::map<std::string, int> kinds;
  for (const auto& e : Events("alerts")) {
    ++kinds[std::string(KindName(e.alert().kind()))];
    if (e.alert().silenced()) ++kinds["silenced"];
  }
  int grouped = 0;
  for (const auto& d : Deliveries()) grouped += d.alerts_size() > 1;
  EXPECT_GT(kinds["escalated"], 3);
  EXPECT_GT(kinds["resolved"], 0);
  EXPECT_GT(kinds["updated"], 0);
  EXPECT_GT(kinds["silenced"], 0);
  EXPECT_GT(grouped, 0);
  EXPECT_EQ(Events("dlq.processing").size(), 1u);
  std::set<std::string> commission;
  for (const auto& d : Deliveries("inec")) commission.insert(d.alert_id());
  EXPECT_GT(commission.size(), 0u);

  ewarn::testing::TempDir other;
  Open(other);
  seq_ = 0;
  Feed(0);
  Run(3, 2);  // tiny batches, commits everywhere
  Feed(1);
  Run(5, 7);  // and a restart: new processors rebuild their liaison view from the log
  EXPECT_EQ(Outputs(), first);
}

}  // namespace
}  // namespace ewarn::alerts
