// Real Kannel on loopback: fakesmsc (a fake operator network) -> bearerbox -> smsbox ->
// ewarn's sms-service endpoint -> an event in the log, and ewarn's reply back to the phone.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "child_process.h"
#include "ewarn/base/hash.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"

namespace ewarn {
namespace {

using namespace std::chrono_literals;
using ewarn::testing::ChildProcess;

constexpr char kBearerbox[] = "/usr/sbin/bearerbox";
constexpr char kSmsbox[] = "/usr/sbin/smsbox";
constexpr char kFakesmsc[] = "/usr/lib/kannel/test/fakesmsc";
constexpr char kPhone[] = "+2348000000001";

// A port free right now on 127.0.0.1 (Kannel needs fixed ports in its config).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool WaitForPort(int port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(KannelTest, AnSmsThroughKannelBecomesAnEventAndTheReplyReachesThePhone) {
  for (const char* binary : {kBearerbox, kSmsbox, kFakesmsc}) {
    if (!std::filesystem::exists(binary)) GTEST_SKIP() << binary << " missing (scripts/deps.sh installs kannel, kannel-extras)";
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

  const int admin = FreePort(), smsbox_port = FreePort(), smsc = FreePort();
  const std::string conf = dir.Sub("kannel.conf");
  std::ofstream(conf) << "group = core\n"
                      << "admin-port = " << admin << "\nadmin-interface = 127.0.0.1\nadmin-password = test\n"
                      << "admin-allow-ip = \"127.0.0.1\"\n"
                      << "smsbox-port = " << smsbox_port << "\nsmsbox-interface = 127.0.0.1\n"
                      << "box-deny-ip = \"*.*.*.*\"\nbox-allow-ip = \"127.0.0.1\"\n"
                      << "log-file = \"" << dir.Sub("bearerbox.log") << "\"\nlog-level = 1\n\n"
                      << "group = smsc\nsmsc = fake\nsmsc-id = FAKE\nport = " << smsc
                      << "\nconnect-allow-ip = 127.0.0.1\n\n"
                      << "group = smsbox\nbearerbox-host = 127.0.0.1\nlog-file = \"" << dir.Sub("smsbox.log")
                      << "\"\nlog-level = 1\n\n"
                      << "group = sms-service\nkeyword = default\nmax-messages = 1\nomit-empty = true\n"
                      << "get-url = \"http://127.0.0.1:" << server->port()
                      << "/v1/sms/kannel?from=%p&to=%P&text=%a&id=%I&token=" << *token << "\"\n";
  // Kannel logs to stderr; these tests read only what fakesmsc prints.
  ChildProcess bearerbox({"/bin/sh", "-c", "exec " + std::string(kBearerbox) + " " + conf + " >/dev/null 2>&1"});
  ASSERT_TRUE(WaitForPort(smsbox_port, 10s)) << "bearerbox did not start";
  ChildProcess smsbox({"/bin/sh", "-c", "exec " + std::string(kSmsbox) + " " + conf + " >/dev/null 2>&1"});
  ASSERT_TRUE(WaitForPort(smsc, 10s)) << "the fake SMSC port did not open";
  std::this_thread::sleep_for(1s);  // smsbox connects to bearerbox

  // fakesmsc: "<from> <to> text <message>", then prints what the network delivers back.
  ChildProcess phone({"/bin/sh", "-c", "exec " + std::string(kFakesmsc) + " -H 127.0.0.1 -r " + std::to_string(smsc) +
                                           " -i 0.1 -m 1 '" + kPhone + " 3232 text inc s1 VIOLENCE 4 fight at the gate' 2>&1"});
  std::string reply;
  while (auto line = phone.ReadLine(20s)) {
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
