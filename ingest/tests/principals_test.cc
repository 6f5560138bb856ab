// Tokens, areas, SMS monitors and rate limits.
#include "ewarn/ingest/principals.h"

#include <gtest/gtest.h>

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
    state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("state"), .stores = {"principals", "monitors"}})).value();
    registry_ = std::move(PrincipalRegistry::Make(*state_)).value();
    monitors_ = std::move(MonitorRegistry::Make(*state_)).value();
  }
  ewarn::testing::TempDir dir_;
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

  // Only a hash is stored: the secret part appears nowhere in the store.
  std::string secret = token->substr(token->rfind('_') + 1);
  ASSERT_TRUE(state_->Scan("principals", "", [&](std::string_view, std::string_view v) {
    EXPECT_EQ(v.find(secret), std::string_view::npos);
    return true;
  }).ok());

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
