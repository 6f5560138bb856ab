// The Ingestor test fixture: a real embedded log and RocksDB state store in a temporary
// directory, three stations, a token per role, an SMS monitor, and the ingest routes on a server.
#pragma once

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ewarn/base/hash.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"
#include "raw_client.h"

namespace ewarn::ingest {

inline constexpr int64_t kNow = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
inline constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";
inline constexpr char kPhone[] = "+234 801 234 5678";

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = store::OpenEmbeddedLog({.dir = dir_.Sub("log")});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    std::ofstream csv(dir_.Sub("stations.csv"));
    csv << "station_id,name,region,district,ward,lat,lon,registered_voters\n"
           "S1,Ikeja Primary,LAGOS,IKEJA,ANIFOWOSHE,6.60,3.35,800\n"
           "S2,Alausa Hall,LAGOS,IKEJA,ALAUSA,6.61,3.36,900\n"
           "S3,Kano Central,KANO,NASSARAWA,GIGINYU,12.0,8.5,1200\n";
    csv.close();
    OpenIngestor();
    auto& directory = ingestor_->stations();
    
    auto summary = ImportStations(*log_, directory, dir_.Sub("stations.csv"), StationFormat::kGeneric, kNow);
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_TRUE(ingestor_->RefreshStations().ok());
    monitor_ = Token("amina", Role::kMonitor, "LAGOS/IKEJA");
    anywhere_ = Token("roving", Role::kMonitor, "");
    liaison_ = Token("police-ikeja", Role::kLiaison, "LAGOS");
    gateway_ = Token("kannel", Role::kGateway, "");
    operator_ = Token("ops", Role::kOperator, "");
    v1::Monitor m;
    m.set_monitor_id("sms-amina");
    m.set_name("sms-amina");
    m.set_area("LAGOS");
    m.set_phone_pseudonym(MonitorRegistry::PhonePseudonym(kSecret, kPhone));
    ASSERT_TRUE(ingestor_->monitors().Register(m).ok());
    StartServer();
  }

  // A log callback may still hold the last reference to an HTTP session after its client has
  // the answer; destroying the server under it crashes. A synchronous append completes after
  // every earlier group's callbacks are gone (the embedded log runs groups in order).
  void TearDown() override {
    if (log_ == nullptr) return;
    ASSERT_TRUE(log_->CreateTopic({.name = "test.teardown", .partitions = 1}).ok());
    ASSERT_TRUE(log_->Append(std::vector<store::OutRecord>{{.topic = "test.teardown", .key = "k", .value = "v"}}).ok());
  }

  void OpenIngestor(IngestorOptions options = {.pseudonym_secret = kSecret, .rate_per_second = 50, .rate_burst = 50}) {
    auto state = store::StateStore::Open({.dir = dir_.Sub("ingest"), .stores = Ingestor::StoreNames()});
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    state_ = std::move(state).value();
    auto ingestor = Ingestor::Make(*log_, *state_, clock_, options, 4, &metrics_);
    ASSERT_TRUE(ingestor.ok()) << ingestor.status().ToString();
    ingestor_ = std::move(ingestor).value();
  }

  void StartServer() {
    HttpRouter router;
    AddIngestRoutes(router, *ingestor_, 4096);
    auto server = HttpServer::Start({.max_body_bytes = 4096}, std::move(router));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  void Restart() {
    server_.reset();
    ingestor_.reset();
    state_.reset();
    OpenIngestor();
    StartServer();
  }

  std::string Token(const std::string& name, Role role, const std::string& area) {
    auto token = ingestor_->principals().CreateToken(name, role, area, kNow);
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    return token.ok() ? "Authorization: Bearer " + *token : "";
  }

  RawResponse Post(const std::string& path, const std::string& auth, const std::string& body) {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (!auth.empty()) headers.push_back(auth);
    return Request(server_->port(), "POST", path, headers, body);
  }

  static std::string Incident(const std::string& id, const std::string& station = "S1", int severity = 4) {
    return R"({"event_id":")" + id + R"(","occurred_at":"2023-11-14T21:00:00Z","station_id":")" + station +
           R"(","category":"violence","severity":)" + std::to_string(severity) + R"(,"description":"clash at the gate"})";
  }

  std::vector<v1::Event> Topic(std::string_view topic) {
    std::vector<v1::Event> out;
    int32_t n = *log_->PartitionCount(topic);
    for (int32_t p = 0; p < n; ++p) {
      auto got = log_->Read({std::string(topic), p}, 0, 100000);
      EXPECT_TRUE(got.ok());
      for (const auto& r : *got) {
        auto e = schemas::DecodeEvent(r.value);
        EXPECT_TRUE(e.ok());
        if (e.ok() && !e->has_tick()) out.push_back(*e);
      }
    }
    return out;
  }

  std::string AllLogBytes() {
    std::string all;
    for (auto topic : {schemas::topic::kInputs, schemas::topic::kRejected, schemas::topic::kStations}) {
      int32_t n = *log_->PartitionCount(topic);
      for (int32_t p = 0; p < n; ++p) {
        auto got = log_->Read({std::string(topic), p}, 0, 100000);
        EXPECT_TRUE(got.ok());
        for (const auto& r : *got) all += r.key + r.value;
      }
    }
    return all;
  }

  ewarn::testing::TempDir dir_;
  ManualClock clock_{kNow};
  prometheus::Registry metrics_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
  std::unique_ptr<Ingestor> ingestor_;
  std::unique_ptr<HttpServer> server_;
  std::string monitor_, anywhere_, liaison_, gateway_, operator_;
};

}  // namespace ewarn::ingest
