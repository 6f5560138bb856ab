// Tokens, areas, SMS monitors and rate limits; tokens and monitors followed through Kafka.
#include "ewarn/ingest/principals.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "ewarn/ingest/ingestor.h"
#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"

namespace ewarn::ingest {
namespace {

class PrincipalsTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    registry_.reset();
    monitors_.reset();
    state_.reset();
    log_.reset();
    log_ = std::move(store::OpenEmbeddedLog({.dir = dir_.Sub("log")})).value();
    state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("state"), .stores = {"principals", "monitors"}})).value();
    registry_ = std::move(PrincipalRegistry::Make(*state_, *log_)).value();
    monitors_ = std::move(MonitorRegistry::Make(*state_, *log_)).value();
  }
  ewarn::testing::TempDir dir_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
  std::unique_ptr<PrincipalRegistry> registry_;
  std::unique_ptr<MonitorRegistry> monitors_;
};

TEST_F(PrincipalsTest, TokensAuthenticateSurviveRestartAndRevoke) {
  auto token = registry_->CreateToken("amina", Role::kMonitor, "lagos/ikeja", 5);
  ASSERT_TRUE(token.ok());
  EXPECT_TRUE(token->starts_with("ewt_"));
  auto p = registry_->Authenticate("Bearer " + *token);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "amina");
  EXPECT_EQ(p->role, Role::kMonitor);
  EXPECT_EQ(p->area, "LAGOS/IKEJA");
  EXPECT_EQ(registry_->CreateToken("amina", Role::kMonitor, "", 6).status().code(), StatusCode::kAlreadyExists);

  // Only a hash is stored: the secret part appears nowhere in the store, nor in ref.tokens.
  std::string secret = token->substr(token->rfind('_') + 1);
  ASSERT_TRUE(state_->Scan("principals", "", [&](std::string_view, std::string_view v) {
    EXPECT_EQ(v.find(secret), std::string_view::npos);
    return true;
  }).ok());
  auto records = log_->Read({std::string(schemas::topic::kTokens), 0}, 0, 100);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->front().value.find(secret), std::string::npos);

  Open();
  ASSERT_TRUE(registry_->Authenticate("Bearer " + *token).ok());
  // A wrong secret: the last character changed (to one it is not, or this would be the token).
  std::string wrong = *token;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  EXPECT_EQ(registry_->Authenticate("Bearer " + wrong).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->Authenticate("Basic abc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->Authenticate("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->Authenticate("Bearer ewt_garbage").status().code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(registry_->Revoke("amina").ok());
  EXPECT_EQ(registry_->Authenticate("Bearer " + *token).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->Revoke("amina").code(), StatusCode::kNotFound);
  auto again = registry_->CreateToken("amina", Role::kMonitor, "", 7);  // a new one after revocation
  ASSERT_TRUE(again.ok());
  auto all = registry_->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_TRUE((*all)[0].revoked);
  EXPECT_FALSE((*all)[1].revoked);
  EXPECT_EQ(ParseRole("chief").status().code(), StatusCode::kInvalidArgument);
}

TEST(AreaTest, CoversBySegments) {
  EXPECT_TRUE(AreaCovers("", "LAGOS/IKEJA/X"));
  EXPECT_TRUE(AreaCovers("LAGOS", "LAGOS/IKEJA/X"));
  EXPECT_TRUE(AreaCovers("lagos/ikeja", "LAGOS/IKEJA/X"));
  EXPECT_TRUE(AreaCovers("LAGOS/IKEJA", "LAGOS/IKEJA"));
  EXPECT_FALSE(AreaCovers("LAGOS/IKE", "LAGOS/IKEJA/X"));
  EXPECT_FALSE(AreaCovers("KANO", "LAGOS/IKEJA"));
  EXPECT_FALSE(AreaCovers("LAGOS/IKEJA/X", "LAGOS/IKEJA"));
  EXPECT_TRUE(MayWrite({.role = Role::kGateway}));
  EXPECT_FALSE(MayWrite({.role = Role::kLiaison}));
  EXPECT_FALSE(MayWrite({.role = Role::kDuty}));
}

TEST_F(PrincipalsTest, MonitorsAreFoundByAPseudonymNeverByTheNumber) {
  const std::string secret = "node-secret-0123456789abcdef";
  EXPECT_EQ(MonitorRegistry::NormalizePhone("+234 (801) 234-5678"), "+2348012345678");
  EXPECT_EQ(MonitorRegistry::NormalizePhone("002348012345678"), "+2348012345678");
  std::string pseudonym = MonitorRegistry::PhonePseudonym(secret, "+234 801 234 5678");
  EXPECT_EQ(pseudonym.size(), 32u);
  EXPECT_EQ(pseudonym, MonitorRegistry::PhonePseudonym(secret, "002348012345678"));
  EXPECT_NE(pseudonym, MonitorRegistry::PhonePseudonym("another-secret-0123456789", "+2348012345678"));
  v1::Monitor m;
  m.set_monitor_id("m1");
  m.set_area("LAGOS");
  m.set_phone_pseudonym(pseudonym);
  ASSERT_TRUE(monitors_->Register(m).ok());
  auto found = monitors_->FindByPhone(secret, "+2348012345678");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->monitor_id(), "m1");
  auto stranger = monitors_->FindByPhone(secret, "+15550001111");
  ASSERT_TRUE(stranger.ok());
  EXPECT_FALSE(stranger->has_value());
  ASSERT_TRUE(state_->Scan("monitors", "", [&](std::string_view k, std::string_view v) {
    EXPECT_EQ(std::string(k).find("2348012345678"), std::string::npos);
    EXPECT_EQ(std::string(v).find("2348012345678"), std::string::npos);
    return true;
  }).ok());
  ASSERT_TRUE(monitors_->Remove(pseudonym).ok());
  EXPECT_FALSE(monitors_->FindByPhone(secret, "+2348012345678")->has_value());
}

// --- principals on Kafka: every node's view follows ref.tokens and ref.monitors ---

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";
constexpr int64_t kNow = 1'700'000'000'000;

// One process's view: its own client of the cluster and its own state store.
struct View {
  std::unique_ptr<store::EventLog> log;
  std::unique_ptr<store::StateStore> state;
};

class KafkaPrincipalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = ewarn::testing::MockKafkaCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(cluster).value();
  }
  View Open(const std::string& name) {
    View v;
    auto log = store::OpenKafkaLog(cluster_->LogOptions());
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    if (log.ok()) v.log = std::move(log).value();
    v.state = std::move(store::StateStore::Open({.dir = dir_.Sub(name), .stores = Ingestor::StoreNames()})).value();
    return v;
  }
  // Waits up to `limit` for `done`, checking every 50 ms; returns how long it took.
  template <typename F>
  std::chrono::milliseconds WaitFor(F done, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    auto start = std::chrono::steady_clock::now();
    while (!done() && std::chrono::steady_clock::now() - start < limit) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  }
  std::unique_ptr<ewarn::testing::MockKafkaCluster> cluster_;
  ewarn::testing::TempDir dir_;
};

TEST_F(KafkaPrincipalsTest, AViewOnAnotherClientKnowsATokenAfterCatchingUpAndForgetsItWhenRevoked) {
  View cli = Open("cli"), node = Open("node");
  auto writer = PrincipalRegistry::Make(*cli.state, *cli.log);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  auto reader = PrincipalRegistry::Make(*node.state, *node.log);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto token = (*writer)->CreateToken("ops-1", Role::kOperator, "", kNow);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ((*reader)->Authenticate("Bearer " + *token).status().code(), StatusCode::kNotFound);  // not read yet
  auto applied = (*reader)->CatchUp();
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(*applied, 1);
  auto p = (*reader)->Authenticate("Bearer " + *token);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->name, "ops-1");
  EXPECT_EQ(p->role, Role::kOperator);
  // A third process (a fresh CLI) sees the name taken, revokes by name; the node's cached
  // answer goes with its next catch-up.
  View other = Open("other");
  auto revoker = PrincipalRegistry::Make(*other.state, *other.log);
  ASSERT_TRUE(revoker.ok());
  EXPECT_EQ((*revoker)->CreateToken("ops-1", Role::kDuty, "", kNow).status().code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE((*revoker)->Revoke("ops-1", kNow + 1).ok());
  ASSERT_TRUE((*reader)->CatchUp().ok());
  EXPECT_EQ((*reader)->Authenticate("Bearer " + *token).status().message(), "token has been revoked");
  auto listed = (*reader)->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE(listed->front().revoked);
}

// The node side as serve runs it: an Ingestor following the topics every 200 ms, while other
// processes (the CLI) create and revoke tokens and add monitors through their own clients.
TEST_F(KafkaPrincipalsTest, AnIngestorAcceptsANewTokenRefusesARevokedOneAndKnowsANewMonitorWithinFiveSeconds) {
  View cli = Open("cli"), node = Open("node");
  std::ofstream(dir_.Sub("stations.csv")) << "station_id,name,region,district,ward,lat,lon,registered_voters\n"
                                             "S1,Ikeja Primary,LAGOS,IKEJA,ANIFOWOSHE,6.60,3.35,800\n";
  {
    auto directory = StationDirectory::Make(*cli.state);
    ASSERT_TRUE(directory.ok());
    auto imported = ImportStations(*cli.log, **directory, dir_.Sub("stations.csv"), StationFormat::kGeneric, kNow);
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  }
  ManualClock clock(kNow);
  auto ingestor = Ingestor::Make(*node.log, *node.state, clock,
                                 {.pseudonym_secret = kSecret, .follow_reference_every = std::chrono::milliseconds(200)}, 4);
  ASSERT_TRUE(ingestor.ok()) << ingestor.status().ToString();
  auto tokens = PrincipalRegistry::Make(*cli.state, *cli.log);
  ASSERT_TRUE(tokens.ok());
  auto monitors = MonitorRegistry::Make(*cli.state, *cli.log);
  ASSERT_TRUE(monitors.ok());

  auto token = (*tokens)->CreateToken("amina", Role::kMonitor, "LAGOS", kNow);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  int n = 0;
  auto submit = [&] {
    std::string body = R"({"event_id":"r-)" + std::to_string(++n) +
                       R"(","occurred_at":"2023-11-14T21:00:00Z","station_id":"S1","category":"violence","severity":3})";
    return (*ingestor)->SubmitJson(InputKind::kIncident, "Bearer " + *token, body).http_status;
  };
  auto took = WaitFor([&] { return submit() == 202; });
  EXPECT_EQ(submit(), 202) << "a token created on another client is not accepted after " << took.count() << " ms";
  EXPECT_LT(took, std::chrono::seconds(5));

  ASSERT_TRUE((*tokens)->Revoke("amina", kNow).ok());
  took = WaitFor([&] { return submit() == 401; });
  EXPECT_EQ(submit(), 401) << "a revoked token is still accepted after " << took.count() << " ms";
  EXPECT_LT(took, std::chrono::seconds(5));

  // An SMS monitor registered through another client: its phone's SMS is accepted.
  auto gateway = (*tokens)->CreateToken("kannel", Role::kGateway, "", kNow);
  ASSERT_TRUE(gateway.ok());
  const std::string phone = "+2348012345678";
  v1::Monitor m;
  m.set_monitor_id("sms-amina");
  m.set_name("sms-amina");
  m.set_area("LAGOS");
  m.set_phone_pseudonym(MonitorRegistry::PhonePseudonym(kSecret, phone));
  auto sms = [&] {
    return (*ingestor)->SubmitSms(SmsChannel::kKannel, "Bearer " + *gateway, phone, "inc s1 violence 4 mob at gate",
                                  "k-" + std::to_string(++n));
  };
  EXPECT_FALSE(sms().outcome.accepted());  // not a monitor yet
  ASSERT_TRUE((*monitors)->Register(m, kNow).ok());
  took = WaitFor([&] { return sms().outcome.accepted(); });
  SmsOutcome last = sms();
  EXPECT_TRUE(last.outcome.accepted()) << last.outcome.ToJson() << " after " << took.count() << " ms";
  EXPECT_LT(took, std::chrono::seconds(5));
}

// Issue 14 "bad input": a node that cannot reach Kafka answers 503 with a reason, never 202,
// once the producer gives up (message.timeout.ms: KafkaLogOptions::request_timeout, or a
// --kafka-property), and accepts again when the brokers are back.
TEST_F(KafkaPrincipalsTest, AnIngestorThatCannotReachKafkaAnswers503WithAReason) {
  auto log = store::OpenKafkaLog(cluster_->LogOptions(std::chrono::seconds(3)));
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto state = store::StateStore::Open({.dir = dir_.Sub("node"), .stores = Ingestor::StoreNames()});
  ASSERT_TRUE(state.ok());
  std::ofstream(dir_.Sub("stations.csv")) << "station_id,name,region,district,ward,lat,lon,registered_voters\n"
                                             "S1,Ikeja Primary,LAGOS,IKEJA,ANIFOWOSHE,6.60,3.35,800\n";
  ManualClock clock(kNow);
  auto ingestor = Ingestor::Make(**log, **state, clock, {.pseudonym_secret = kSecret}, 4);
  ASSERT_TRUE(ingestor.ok()) << ingestor.status().ToString();
  ASSERT_TRUE(ImportStations(**log, (*ingestor)->stations(), dir_.Sub("stations.csv"), StationFormat::kGeneric, kNow).ok());
  auto token = (*ingestor)->principals().CreateToken("amina", Role::kMonitor, "", kNow);
  ASSERT_TRUE(token.ok());
  int n = 0;
  auto submit = [&] {
    std::string body = R"({"event_id":"d-)" + std::to_string(++n) +
                       R"(","occurred_at":"2023-11-14T21:00:00Z","station_id":"S1","category":"violence","severity":3})";
    return (*ingestor)->SubmitJson(InputKind::kIncident, "Bearer " + *token, body);
  };
  ASSERT_EQ(submit().http_status, 202);
  for (int b = 1; b <= cluster_->broker_count(); ++b) ASSERT_TRUE(cluster_->SetBrokerDown(b).ok());
  auto started = std::chrono::steady_clock::now();
  Outcome down = submit();
  EXPECT_EQ(down.http_status, 503) << down.ToJson();
  EXPECT_EQ(down.reason_code, "log_unavailable") << down.ToJson();
  EXPECT_NE(down.message.find("retry"), std::string::npos) << down.message;
  // Two appends give up here (the report, then its dead letter), each after the configured 3 s;
  // with librdkafka's default message timeout the first alone would take 30 s. The bound is
  // generous because a loaded CI machine stretched the 6 s to 11 s.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(25));
  for (int b = 1; b <= cluster_->broker_count(); ++b) ASSERT_TRUE(cluster_->SetBrokerUp(b).ok());
  int status = 0;
  WaitFor([&] { return (status = submit().http_status) == 202; }, std::chrono::seconds(30));
  EXPECT_EQ(status, 202) << "not accepting again once the brokers are back";
}

TEST(RateLimiterTest, BurstThenRefillAtTheRate) {
  ManualClock clock(0);
  RateLimiter limiter({.rate_per_second = 2, .burst = 4}, clock);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(limiter.Take("a").allowed);
  RateDecision d = limiter.Take("a");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 1);
  EXPECT_TRUE(limiter.Take("b").allowed);  // per principal
  clock.Advance(500);
  EXPECT_TRUE(limiter.Take("a").allowed);
  EXPECT_FALSE(limiter.Take("a").allowed);
  EXPECT_EQ(limiter.Take("a", 10).retry_after_seconds, 5);
  clock.Advance(60'000);
  EXPECT_TRUE(limiter.Take("a", 4).allowed);  // never more than the burst
  EXPECT_FALSE(limiter.Take("a").allowed);
}

}  // namespace
}  // namespace ewarn::ingest
