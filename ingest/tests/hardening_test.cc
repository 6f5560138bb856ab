// What a new user and a hostile client hit first (issue 13, 17): reporters, time windows, areas,
// dead letters that must stay readable, and per-role rate limits. On the real log and store.
#include <gtest/gtest.h>

#include <set>

#include "ingest_fixture.h"

namespace ewarn::ingest {
namespace {

using HardeningTest = IngestTest;

std::string KannelSms(const std::string& gateway_header, const std::string& from, const std::string& text) {
  std::string token = gateway_header.substr(std::string("Authorization: Bearer ").size());
  return "/v1/sms/kannel?from=" + from + "&text=" + text + "&token=" + token;
}

TEST_F(HardeningTest, EveryTokenPrincipalIsItsOwnReporterAndALinkedMonitorIsOne) {
  // Names without digits once all became the pseudonym of "" (the phone routine keeps digits).
  for (std::string name : {"alice", "bob", "carol"}) {
    std::string auth = Token(name, Role::kMonitor, "LAGOS");
    ASSERT_EQ(Post("/v1/incidents", auth, Incident("inc-" + name)).status, 202);
  }
  std::set<std::string> reporters;
  for (const auto& e : Topic(schemas::topic::kInputs)) {
    EXPECT_EQ(e.header().reporter().size(), 32u);
    reporters.insert(e.header().reporter());
  }
  EXPECT_EQ(reporters.size(), 3u);
  EXPECT_FALSE(reporters.contains(MonitorRegistry::PhonePseudonym(kSecret, "")));

  // A monitor registered under the token's name is the same person by app and by SMS.
  v1::Monitor m;
  m.set_monitor_id("amina");
  m.set_name("amina");
  m.set_area("LAGOS/IKEJA");
  m.set_phone_pseudonym(MonitorRegistry::PhonePseudonym(kSecret, "+234 809 000 1111"));
  ASSERT_TRUE(ingestor_->monitors().Register(m).ok());
  ASSERT_EQ(Post("/v1/incidents", monitor_, Incident("inc-amina-app")).status, 202);
  RawResponse sms = Request(server_->port(), "GET", KannelSms(gateway_, "%2B2348090001111", "inc+s1+violence+4+mob"));
  ASSERT_EQ(sms.status, 200) << sms.body;
  std::set<std::string> amina;
  for (const auto& e : Topic(schemas::topic::kInputs)) {
    if (e.header().principal() == "amina" || e.header().source() == v1::SOURCE_SMS) amina.insert(e.header().reporter());
  }
  EXPECT_EQ(amina, (std::set<std::string>{m.phone_pseudonym()}));
}

}  // namespace
}  // namespace ewarn::ingest
