// Real Kannel on loopback: fakesmsc (a fake operator network) -> bearerbox -> smsbox ->
// ewarn's sms-service endpoint -> an event in the log, and ewarn's reply back to the phone.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ewarn/base/hash.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"
#include "kannel_fixture.h"

namespace ewarn {
namespace {

using namespace std::chrono_literals;

constexpr char kPhone[] = "+2348000000001";

TEST(KannelTest, AnSmsThroughKannelBecomesAnEventAndTheReplyReachesThePhone) {
  if (std::string missing = ewarn::testing::MissingKannelBinary(); !missing.empty()) {
    GTEST_SKIP() << missing << " missing (scripts/deps.sh installs kannel, kannel-extras)";
  }
  ewarn::testing::TempDir dir;
  auto log = std::move(store::OpenEmbeddedLog({.dir = dir.Sub("log")})).value();
  auto state = std::move(store::StateStore::Open({.dir = dir.Sub("ingest"), .stores = ingest::Ingestor::StoreNames()})).value();
  SystemClock clock;
  const std::string secret = "kannel-test-secret-0123456789abcdef";
  auto ingestor = std::move(ingest::Ingestor::Make(*log, *state, clock, {.pseudonym_secret = secret}, 4)).value();
  std::ofstream(dir.Sub("stations.csv")) << "station_id,name,region,district,ward,lat,lon,registered_voters\n"
                                            "S1,School,LAGOS,IKEJA,W1,6.6,3.3,800\n";
  ASSERT_TRUE(ingest::ImportStations(*log, ingestor->stations(), dir.Sub("stations.csv"), ingest::StationFormat::kGeneric, 0).ok());
  auto token = ingestor->principals().CreateToken("kannel", ingest::Role::kGateway, "", 0);
  ASSERT_TRUE(token.ok());
  v1::Monitor monitor;
  monitor.set_monitor_id("m1");
  monitor.set_phone_pseudonym(ingest::MonitorRegistry::PhonePseudonym(secret, kPhone));
  ASSERT_TRUE(ingestor->monitors().Register(monitor).ok());
  ingest::HttpRouter router;
  ingest::AddIngestRoutes(router, *ingestor, 64 << 10);
  auto server = std::move(ingest::HttpServer::Start({}, std::move(router))).value();

  ewarn::testing::Kannel kannel(
      {.dir = dir.path(),
       .sms_service_url = "http://127.0.0.1:" + std::to_string(server->port()) +
                          "/v1/sms/kannel?from=%p&to=%P&text=%a&id=%I&token=" + *token});
  ASSERT_TRUE(kannel.started()) << kannel.error();

  // fakesmsc: "<from> <to> text <message>", then prints what the network delivers back.
  auto phone = kannel.Phone("'" + std::string(kPhone) + " 3232 text inc s1 VIOLENCE 4 fight at the gate'", 1);
  std::string reply;
  while (auto line = phone->ReadLine(20s)) {
    if (line->find("Got message") != std::string::npos) {
      reply = *line;
      break;
    }
  }
  EXPECT_NE(reply.find("ewarn: received, ref "), std::string::npos) << "no reply reached the phone: " << reply;

  // The event is in the log, with a pseudonym and no phone number.
  auto got = log->Read({"in.events", PartitionForKey(schemas::DistrictKey("LAGOS", "IKEJA"), 4)}, 0, 100);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  auto event = schemas::DecodeEvent((*got)[0].value);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->header().source(), v1::SOURCE_SMS);
  EXPECT_EQ(event->header().channel(), "sms/kannel");
  EXPECT_EQ(event->incident().station_id(), "S1");
  EXPECT_EQ(event->incident().severity(), 4);
  EXPECT_EQ(event->incident().description(), "fight at the gate");
  EXPECT_EQ(event->header().reporter(), ingest::MonitorRegistry::PhonePseudonym(secret, kPhone));
  EXPECT_EQ((*got)[0].value.find("2348000000001"), std::string::npos);
  // The reference in the reply is the one ewarn computed for this event.
  std::string ref = reply.substr(reply.find("ref ") + 4, 6);
  EXPECT_EQ(ref.size(), 6u);
}

}  // namespace
}  // namespace ewarn
