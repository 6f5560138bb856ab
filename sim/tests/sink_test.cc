// Sinks against the real thing: a real Ingestor on a RocksDB log in a temp dir (direct), and a
// real ingest::HttpServer on 127.0.0.1 port 0 (HTTP); ticks directly and via POST /v1/ticks.
#include "ewarn/sim/sink.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <thread>

#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ticks.h"
#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"

namespace ewarn::sim {
namespace {

constexpr int64_t kDay = 1'803'427'200'000;  // 2027-02-24T00:00:00Z
constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";
constexpr int32_t kPartitions = 4;

std::map<std::string, int64_t> CountScenario(const Scenario& s) {
  std::map<std::string, int64_t> counts;
  for (const auto& e : s.events) ++counts[e.kind == EventKind::kHateSpeech ? "hate_speech" : std::string(EventKindName(e.kind))];
  return counts;
}

class SinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = store::OpenEmbeddedLog({.dir = dir_.Sub("log")});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    auto state = store::StateStore::Open({.dir = dir_.Sub("ingest"), .stores = ingest::Ingestor::StoreNames(), .sync = false});
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    state_ = std::move(state).value();
    auto ingestor = ingest::Ingestor::Make(*log_, *state_, clock_,
                                           {.pseudonym_secret = kSecret, .rate_per_second = 1e9, .rate_burst = 1e9,
                                            .gateway_rate_per_second = 1e9, .gateway_rate_burst = 1e9},
                                           kPartitions);
    ASSERT_TRUE(ingestor.ok()) << ingestor.status().ToString();
    ingestor_ = std::move(ingestor).value();
  }

  Scenario Make(int stations, uint64_t seed, double hours, double sms_fraction) {
    ScenarioOptions o{.seed = seed, .day_ms = kDay, .hours = hours, .sms_fraction = sms_fraction};
    auto s = Generate(GenerateStations(stations, seed), o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    // SMS carry the gateway's receive time: the clock sits at the end of the simulated span.
    clock_.Set(s->end_ms);
    return std::move(s).value();
  }

  // Records per body kind across in.events.
  std::map<std::string, int64_t> CountInputs(std::vector<v1::Event>* ticks = nullptr) {
    std::map<std::string, int64_t> counts;
    for (int32_t p = 0; p < kPartitions; ++p) {
      int64_t from = 0;
      while (true) {
        auto got = log_->Read({std::string(schemas::topic::kInputs), p}, from, 10000);
        EXPECT_TRUE(got.ok());
        if (!got.ok() || got->empty()) break;
        for (const auto& r : *got) {
          auto e = schemas::DecodeEvent(r.value);
          EXPECT_TRUE(e.ok());
          ++counts[std::string(schemas::BodyName(*e))];
          if (e->has_tick() && ticks != nullptr) {
            EXPECT_EQ(r.partition, p);
            EXPECT_EQ(r.key, "tick");
            ticks->push_back(*e);
          }
        }
        from = got->back().offset + 1;
      }
    }
    return counts;
  }

  // Every event accepted (none refused), some by SMS, and stored once in in.events.
  void ExpectAllStored(const Scenario& s, const SinkStats& stats, std::vector<v1::Event>* ticks) {
    for (const auto& [reason, n] : stats.rejected) ADD_FAILURE() << n << " rejected: " << reason;
    EXPECT_EQ(stats.accepted, static_cast<int64_t>(s.events.size()));
    EXPECT_GT(stats.sent.at("sms"), 0);
    auto in_log = CountInputs(ticks);
    auto want = CountScenario(s);
    for (const char* kind : {"incident", "turnout", "kit", "hate_speech"}) EXPECT_EQ(in_log[kind], want[kind]) << kind;
  }

  testing::TempDir dir_;
  ManualClock clock_{kDay};
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
  std::unique_ptr<ingest::Ingestor> ingestor_;
};


TEST_F(SinkTest, DirectSinkDayPassesValidationWithZeroRejections) {
  // Six hours: SMS are dated when received (the clock, at the end of the span), so every report
  // of the day must lie within the allowed lateness (6 h) of that, or processing would drop it
  // as late and ingest refuses it (too_late). A longer compressed day with SMS cannot pass.
  Scenario s = Make(60, 5, 6, 0.3);
  auto credentials = Prepare(*ingestor_, *log_, s, kSecret, clock_.NowMs());
  ASSERT_TRUE(credentials.ok()) << credentials.status().ToString();
  // The generated stations are now reference data, as an import would have left them.
  auto stations = ReadStations(*log_);
  ASSERT_TRUE(stations.ok()) << stations.status().ToString();
  ASSERT_EQ(stations->size(), s.stations.size());
  for (size_t i = 0; i < s.stations.size(); ++i) {
    EXPECT_EQ((*stations)[i].SerializeAsString(), s.stations[i].SerializeAsString()) << i;
  }
  DirectSink sink(*ingestor_, *log_, *credentials);
  auto stats = sim::Run(s, sink, {.speed = 0, .tick_every_ms = 10 * kMinuteMs});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  std::vector<v1::Event> ticks;
  ExpectAllStored(s, *stats, &ticks);
  // A tick every 10 simulated minutes over 6 hours, in each partition.
  EXPECT_EQ(static_cast<int64_t>(ticks.size()), 37 * kPartitions);
  EXPECT_EQ(stats->sent.at("tick"), 37);

  // A re-run of the same day and seed is idempotent: all duplicates, nothing new stored.
  DirectSink again(*ingestor_, *log_, *credentials);
  auto rerun = sim::Run(s, again, {.speed = 0, .tick_every_ms = 0});
  ASSERT_TRUE(rerun.ok());
  EXPECT_EQ(rerun->total_rejected(), 0);
  EXPECT_EQ(rerun->duplicates, static_cast<int64_t>(s.events.size()));
  EXPECT_EQ(CountInputs()["kit"], CountScenario(s)["kit"]);
}

TEST_F(SinkTest, AppendTicksPutsOneTickInEveryPartitionWithLiaisonsEnd) {
  ASSERT_TRUE(ingest::AppendTicks(*log_, kDay + 1000).ok());  // no ref.liaisons yet: 0
  ASSERT_TRUE(log_->CreateTopic({.name = std::string(schemas::topic::kLiaisons), .partitions = 1, .compacted = true}).ok());
  std::vector<store::OutRecord> liaisons(3, {.topic = std::string(schemas::topic::kLiaisons), .key = "l", .value = "x", .partition = 0});
  ASSERT_TRUE(log_->Append(liaisons).ok());
  ASSERT_TRUE(ingest::AppendTicks(*log_, kDay + 2000).ok());
  std::vector<v1::Event> ticks;
  CountInputs(&ticks);
  ASSERT_EQ(ticks.size(), 2u * kPartitions);
  std::map<std::string, int64_t> liaisons_end;
  for (const auto& t : ticks) {
    liaisons_end[t.header().event_id()] = t.tick().liaisons_end();
    EXPECT_EQ(t.header().source(), v1::SOURCE_TICKER);
  }
  for (int p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(liaisons_end.at("tick:" + std::to_string(p) + ":" + std::to_string(kDay + 1000)), 0);
    EXPECT_EQ(liaisons_end.at("tick:" + std::to_string(p) + ":" + std::to_string(kDay + 2000)), 3);
  }
  // Without in.events there is nothing to tick.
  auto other = store::OpenEmbeddedLog({.dir = dir_.Sub("empty")});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(ingest::AppendTicks(**other, kDay).code(), StatusCode::kNotFound);
}

// A plain request, for the answers the sink does not produce.
std::pair<int, std::string> Request(uint16_t port, const std::string& target, const std::string& token,
                                    const std::string& body) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

TEST_F(SinkTest, HttpSinkAndPostTicksAgainstARealServer) {
  Scenario s = Make(30, 9, 3, 0.5);  // 07:00-10:00: a small run
  auto credentials = Prepare(*ingestor_, *log_, s, kSecret, clock_.NowMs());
  ASSERT_TRUE(credentials.ok()) << credentials.status().ToString();
  ingest::HttpRouter router;
  ingest::AddIngestRoutes(router, *ingestor_, 1 << 20);
  auto server = ingest::HttpServer::Start({.max_body_bytes = 1 << 20, .worker_threads = 8}, std::move(router));
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  auto sink = HttpSink::Make({.host = "127.0.0.1", .port = (*server)->port(), .connections = 3, .credentials = *credentials});
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  auto stats = sim::Run(s, **sink, {.speed = 0, .tick_every_ms = 30 * kMinuteMs});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  std::vector<v1::Event> ticks;
  ExpectAllStored(s, *stats, &ticks);
  EXPECT_EQ(static_cast<int64_t>(ticks.size()), 7 * kPartitions);  // 07:00, 07:30, ..., 10:00
  EXPECT_EQ(ticks.back().header().event_time_ms() % (30 * kMinuteMs), 0);

  // POST /v1/ticks: operators only, and a time is required.
  uint16_t port = (*server)->port();
  EXPECT_EQ(Request(port, "/v1/ticks", "", "{\"time_ms\":1}").first, 401);
  EXPECT_EQ(Request(port, "/v1/ticks", credentials->tokens.at("kits"), "{\"time_ms\":1}").first, 403);
  EXPECT_EQ(Request(port, "/v1/ticks", credentials->operator_token, "{\"when\":1}").first, 400);
  auto ok = Request(port, "/v1/ticks", credentials->operator_token, "{\"time\":\"2027-02-24T12:00:00Z\"}");
  EXPECT_EQ(ok.first, 200) << ok.second;
  ticks.clear();
  CountInputs(&ticks);
  int at_noon = 0;
  for (const auto& t : ticks) at_noon += t.header().event_time_ms() == kDay + 12 * kHourMs;
  EXPECT_EQ(at_noon, kPartitions);
}

TEST_F(SinkTest, PacedRunStopsWhenAsked) {
  Scenario s = Make(10, 2, 11, 0);
  auto credentials = Prepare(*ingestor_, *log_, s, kSecret, clock_.NowMs());
  ASSERT_TRUE(credentials.ok());
  DirectSink sink(*ingestor_, *log_, *credentials);
  std::stop_source stop;
  int64_t reached = 0;
  // Real time: the first step goes out at once, the next is a minute away; stop meanwhile.
  std::jthread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.request_stop();
  });
  auto started = std::chrono::steady_clock::now();
  auto stats = sim::Run(s, sink, {.speed = 1, .progress = [&](int64_t t) { reached = t; }, .stop = stop.get_token()});
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(reached, s.start_ms);
  EXPECT_EQ(stats->sent.at("tick"), 1);
}

TEST_F(SinkTest, CredentialsRoundTripThroughAFile) {
  Credentials c{.tokens = {{"SIMMON-00001", "ewt_a_b"}, {"kits", "ewt_c_d"}}, .fallback = "ewt_f", .gateway = "ewt_g",
                .operator_token = "ewt_o", .phones_registered = true};
  ASSERT_TRUE(c.Save(dir_.Sub("creds")).ok());
  auto back = Credentials::Load(dir_.Sub("creds"));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->tokens, c.tokens);
  EXPECT_EQ(back->TokenFor("officers"), "ewt_f");
  EXPECT_EQ(back->gateway, "ewt_g");
  EXPECT_EQ(back->operator_token, "ewt_o");
  EXPECT_TRUE(back->phones_registered);
  EXPECT_FALSE(Credentials::Load(dir_.Sub("missing")).ok());
}

}  // namespace
}  // namespace ewarn::sim
