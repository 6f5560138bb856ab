// The ingest API end to end: HTTP in, durable events (or dead letters) out, on a real embedded
// log and a real RocksDB state store in a temporary directory.
#include "ewarn/ingest/ingestor.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>

#include "ewarn/base/hash.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"
#include "raw_client.h"
#include "ingest_fixture.h"

namespace ewarn::ingest {
namespace {

using namespace std::chrono_literals;

TEST_F(IngestTest, AcceptedIncidentIsDurableInItsDistrictsPartition) {
  RawResponse r = Post("/v1/incidents", monitor_, Incident("inc-1"));
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_NE(r.body.find("\"event_id\":\"inc-1\""), std::string::npos) << r.body;
  auto events = Topic(schemas::topic::kInputs);
  ASSERT_EQ(events.size(), 1u);
  const v1::Event& e = events[0];
  EXPECT_EQ(e.header().event_id(), "inc-1");
  EXPECT_EQ(e.header().event_time_ms(), kNow - 4400'000);
  EXPECT_EQ(e.header().received_time_ms(), kNow);
  EXPECT_EQ(e.header().principal(), "amina");
  EXPECT_EQ(e.incident().category(), v1::INCIDENT_CATEGORY_VIOLENCE);
  EXPECT_EQ(e.incident().severity(), 4);
  // Co-partitioned by district: the partition of "LAGOS/IKEJA", keyed by station.
  int32_t want = PartitionForKey(schemas::DistrictKey("LAGOS", "IKEJA"), 4);
  auto got = log_->Read({"in.events", want}, 0, 100);
  ASSERT_TRUE(got.ok());
  int found = 0;
  for (const auto& rec : *got) found += rec.key == "S1";
  EXPECT_EQ(found, 1);
}

TEST_F(IngestTest, RetriesAreIdempotentAndConflictingReuseIsRefused) {
  ASSERT_EQ(Post("/v1/incidents", monitor_, Incident("inc-1")).status, 202);
  RawResponse again = Post("/v1/incidents", monitor_, Incident("inc-1"));
  EXPECT_EQ(again.status, 202);
  EXPECT_NE(again.body.find("\"duplicates\":1"), std::string::npos) << again.body;
  // Same id, different report: not silently dropped, not stored as the same thing.
  RawResponse conflict = Post("/v1/incidents", monitor_, Incident("inc-1", "S1", 2));
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  EXPECT_NE(conflict.body.find("\"field\":\"event_id\""), std::string::npos);
  EXPECT_EQ(Topic(schemas::topic::kInputs).size(), 1u);
  // And after a restart, the retry is still recognised.
  Restart();
  RawResponse later = Post("/v1/incidents", monitor_, Incident("inc-1"));
  EXPECT_EQ(later.status, 202);
  EXPECT_NE(later.body.find("\"duplicates\":1"), std::string::npos) << later.body;
  EXPECT_EQ(Topic(schemas::topic::kInputs).size(), 1u);
}

// Submissions of one event_id in flight at once (a double-tapped "send", a client retrying
// before its first answer): each is answered, the log holds the report once, and a
// different report under the same id is refused, whichever order they settle in.
TEST_F(IngestTest, ConcurrentSubmissionsOfOneIdAreSettledInTurn) {
  constexpr int kSame = 12;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Outcome> outcomes;
  auto collect = [&](Outcome o) {
    std::lock_guard lk(mu);
    outcomes.push_back(std::move(o));
    cv.notify_all();
  };
  const std::string auth = "Bearer " + monitor_.substr(monitor_.rfind(' ') + 1);
  for (int i = 0; i < kSame; ++i) {
    ingestor_->SubmitJsonAsync(InputKind::kIncident, auth, Incident("twice"), "application/json", collect);
  }
  ingestor_->SubmitJsonAsync(InputKind::kIncident, auth, Incident("twice", "S1", 1), "application/json", collect);
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(30), [&] { return outcomes.size() == kSame + 1; }));
  }
  int fresh = 0, duplicates = 0, conflicts = 0;
  for (const Outcome& o : outcomes) {
    if (o.http_status == 409) {
      ++conflicts;
    } else {
      ASSERT_EQ(o.http_status, 202) << o.message;
      (o.duplicates == 0 ? fresh : duplicates) += 1;
    }
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(duplicates, kSame - 1);
  EXPECT_EQ(conflicts, 1);
  ASSERT_EQ(Topic(schemas::topic::kInputs).size(), 1u);
  EXPECT_EQ(Topic(schemas::topic::kInputs)[0].incident().severity(), 4);
}

// The idempotency marks are written to the index in batches; ids whose marks are written and
// ids whose marks are still waiting are both recognised, before and after a restart.
TEST_F(IngestTest, RetriesAreRecognisedWhetherTheirMarksAreWrittenYetOrNot) {
  const std::string auth = "Bearer " + monitor_.substr(monitor_.rfind(' ') + 1);
  auto submit_all = [&](int n, int severity) {
    std::vector<Outcome> out;
    for (int i = 0; i < n; ++i) {
      clock_.Advance(100);  // within the rate limit (50/s)
      out.push_back(ingestor_->SubmitJson(InputKind::kIncident, auth, Incident("many-" + std::to_string(i), "S1", severity),
                                          "application/json"));
    }
    return out;
  };
  constexpr int kIds = 700;  // more than two batches of marks, and some left over
  for (const Outcome& o : submit_all(kIds, 4)) ASSERT_EQ(o.http_status, 202) << o.message;
  for (const Outcome& o : submit_all(kIds, 4)) {
    ASSERT_EQ(o.http_status, 202) << o.message;
    EXPECT_EQ(o.duplicates, 1);
  }
  for (const Outcome& o : submit_all(kIds, 2)) EXPECT_EQ(o.http_status, 409) << o.message;
  EXPECT_EQ(Topic(schemas::topic::kInputs).size(), static_cast<size_t>(kIds));
  Restart();
  const std::string auth_again = "Bearer " + monitor_.substr(monitor_.rfind(' ') + 1);
  Outcome first = ingestor_->SubmitJson(InputKind::kIncident, auth_again, Incident("many-0"), "application/json");
  Outcome last = ingestor_->SubmitJson(InputKind::kIncident, auth_again, Incident("many-699"), "application/json");
  EXPECT_EQ(first.duplicates, 1);
  EXPECT_EQ(last.duplicates, 1);
  EXPECT_EQ(Topic(schemas::topic::kInputs).size(), static_cast<size_t>(kIds));
}

TEST_F(IngestTest, BadInputIsAnswered400AndKeptAsADeadLetter) {
  RawResponse bad = Post("/v1/incidents", monitor_, R"({"event_id":"x","occurred_at":"2023-11-14T21:00:00Z","station_id":"S1","category":"violence","severity":9})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("\"field\":\"severity\""), std::string::npos) << bad.body;
  RawResponse garbage = Post("/v1/turnout", monitor_, "{not json");
  EXPECT_EQ(garbage.status, 400);
  RawResponse unknown = Post("/v1/incidents", monitor_, Incident("inc-9", "NOPE"));
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("unknown station"), std::string::npos) << unknown.body;
  EXPECT_NE(unknown.body.find("\"field\":\"station_id\""), std::string::npos);

  auto dead = Topic(schemas::topic::kRejected);
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_EQ(dead[1].rejected().raw(), "{not json");
  EXPECT_EQ(dead[1].rejected().endpoint(), "POST /v1/turnout");
  EXPECT_EQ(dead[1].rejected().principal(), "amina");
  EXPECT_EQ(dead[2].rejected().reason_code(), "unknown_station");
  EXPECT_TRUE(Topic(schemas::topic::kInputs).empty());
}

TEST_F(IngestTest, TokensRolesAndAreasAreEnforced) {
  EXPECT_EQ(Post("/v1/incidents", "", Incident("a")).status, 401);
  EXPECT_EQ(Post("/v1/incidents", "Authorization: Bearer ewt_nope_nope", Incident("a")).status, 401);
  EXPECT_EQ(Post("/v1/incidents", liaison_, Incident("a")).status, 403);
  RawResponse outside = Post("/v1/incidents", monitor_, Incident("b", "S3"));
  EXPECT_EQ(outside.status, 403) << outside.body;
  EXPECT_NE(outside.body.find("outside your area"), std::string::npos);
  EXPECT_EQ(Post("/v1/incidents", anywhere_, Incident("c", "S3")).status, 202);
  // Revoked tokens stop working at once.
  ASSERT_TRUE(ingestor_->principals().Revoke("roving").ok());
  EXPECT_EQ(Post("/v1/incidents", anywhere_, Incident("d", "S3")).status, 401);
  // 401s are not dead letters (no accountable principal); 403s are.
  EXPECT_EQ(Topic(schemas::topic::kRejected).size(), 2u);
}

TEST_F(IngestTest, OversizeBodiesAnd429sAreAnsweredAndRecorded) {
  RawResponse big = Post("/v1/incidents", monitor_, std::string(5000, ' ') + Incident("big"));
  EXPECT_EQ(big.status, 413) << big.body;
  int accepted = 0, limited = 0;
  std::string retry_after;
  for (int i = 0; i < 60; ++i) {
    RawResponse r = Post("/v1/incidents", monitor_, Incident("burst-" + std::to_string(i)));
    accepted += r.status == 202;
    if (r.status == 429) {
      ++limited;
      size_t at = r.headers.find("Retry-After: ");
      if (at != std::string::npos) retry_after = r.headers.substr(at + 13, r.headers.find("\r\n", at) - at - 13);
    }
  }
  EXPECT_EQ(accepted, 50);  // the burst
  EXPECT_EQ(limited, 10);
  EXPECT_FALSE(retry_after.empty());
  EXPECT_GE(std::stoi(retry_after), 1);
  // Time passes, the bucket refills.
  clock_.Advance(2000);
  EXPECT_EQ(Post("/v1/incidents", monitor_, Incident("after")).status, 202);
  auto dead = Topic(schemas::topic::kRejected);
  ASSERT_EQ(dead.size(), 11u);
  EXPECT_EQ(dead[0].rejected().reason_code(), "too_large");
}

TEST_F(IngestTest, KitBatchesAndOtherInputsAreAccepted) {
  std::string kits = "[";
  for (int i = 0; i < 5; ++i) {
    kits += std::string(i ? "," : "") + R"({"event_id":"kit-)" + std::to_string(i) +
            R"(","occurred_at":"2023-11-14T21:00:00Z","kit_id":"K1","station_id":"S2","battery_pct":80,"accredited_total":)" +
            std::to_string(10 * i) + R"(,"auth_failures":0,"tamper":false})";
  }
  kits += "]";
  RawResponse r = Post("/v1/kit", monitor_, kits);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_NE(r.body.find("kit-4"), std::string::npos);
  EXPECT_EQ(Post("/v1/turnout", monitor_, R"({"event_id":"t1","occurred_at":"2023-11-14T21:00:00Z","station_id":"S1","voters_cast":120})").status, 202);
  EXPECT_EQ(Post("/v1/hate-speech", monitor_, R"({"event_id":"h1","occurred_at":"2023-11-14T21:00:00Z","area":"lagos/ikeja","text":"...","target_group":"x","reach":500,"confidence":0.8})").status, 202);
  EXPECT_EQ(Topic(schemas::topic::kInputs).size(), 7u);
}

TEST_F(IngestTest, OperatorsListAndResubmitDeadLetters) {
  ASSERT_EQ(Post("/v1/incidents", monitor_, Incident("fixme", "S9")).status, 400);
  RawResponse list = Request(server_->port(), "GET", "/v1/rejected?from=0", {operator_});
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_NE(list.body.find("unknown_station"), std::string::npos) << list.body;
  EXPECT_EQ(Request(server_->port(), "GET", "/v1/rejected", {monitor_}).status, 403);
  // The operator fixes the station id and re-submits as the original monitor.
  RawResponse fixed = Request(server_->port(), "POST", "/v1/rejected/0/resubmit", {operator_}, Incident("fixme", "S2"));
  ASSERT_EQ(fixed.status, 202) << fixed.body;
  auto inputs = Topic(schemas::topic::kInputs);
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0].header().principal(), "amina");
  EXPECT_EQ(inputs[0].incident().station_id(), "S2");
}

TEST_F(IngestTest, KannelSmsBecomesAnEventAndThePhoneNumberNeverReachesTheLog) {
  std::string token = gateway_.substr(std::string("Authorization: Bearer ").size());
  RawResponse r = Request(server_->port(), "GET",
                          "/v1/sms/kannel?from=%2B2348012345678&to=3232&text=inc+s1+violence+4+mob+at+gate&id=k-1&token=" + token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.body.empty());
  auto inputs = Topic(schemas::topic::kInputs);
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0].header().source(), v1::SOURCE_SMS);
  EXPECT_EQ(inputs[0].incident().station_id(), "S1");
  EXPECT_EQ(inputs[0].header().reporter(), MonitorRegistry::PhonePseudonym(kSecret, kPhone));
  // The gateway's retry of the same message id is not stored twice.
  Request(server_->port(), "GET", "/v1/sms/kannel?from=%2B2348012345678&text=inc+s1+violence+4+mob+at+gate&id=k-1&token=" + token);
  EXPECT_EQ(Topic(schemas::topic::kInputs).size(), 1u);
  // A bad SMS gets a reply saying how to fix it, and is kept.
  RawResponse bad = Request(server_->port(), "GET", "/v1/sms/kannel?from=%2B2348012345678&text=inc+s1+violence+9&token=" + token);
  EXPECT_EQ(bad.status, 200);
  EXPECT_FALSE(bad.body.empty());
  // An unregistered sender is told so.
  RawResponse stranger = Request(server_->port(), "GET", "/v1/sms/kannel?from=%2B15550001111&text=T+S1+50&token=" + token);
  EXPECT_NE(stranger.body.find("not registered"), std::string::npos) << stranger.body;
  std::string all = AllLogBytes();
  for (std::string number : {"2348012345678", "15550001111", "801 234 5678"}) {
    EXPECT_EQ(all.find(number), std::string::npos) << number << " found in the log";
  }
  // Without the gateway's token nothing is accepted and nothing is replied.
  RawResponse anonymous = Request(server_->port(), "GET", "/v1/sms/kannel?from=%2B2348012345678&text=T+S1+50");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_TRUE(anonymous.body.empty());
}

TEST_F(IngestTest, PlaceNamesReachTheLogFromJsonAndSms) {
  std::string body = Incident("placed");
  body.insert(body.size() - 1, R"(,"place":"Ikeja Grammar School")");
  ASSERT_EQ(Post("/v1/incidents", monitor_, body).status, 202);
  std::string token = gateway_.substr(std::string("Authorization: Bearer ").size());
  RawResponse r = Request(server_->port(), "GET",
                          "/v1/sms/kannel?from=%2B2348012345678&text=inc+s2+violence+4+shots+fired+%40Alausa+Market"
                          "&id=k-place&token=" + token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("received"), std::string::npos) << r.body;
  auto inputs = Topic(schemas::topic::kInputs);
  ASSERT_EQ(inputs.size(), 2u);
  std::map<std::string, const v1::IncidentReport*> by_station;
  for (const auto& e : inputs) by_station[e.incident().station_id()] = &e.incident();
  ASSERT_TRUE(by_station.count("S1") && by_station.count("S2"));
  EXPECT_EQ(by_station["S1"]->place_text(), "Ikeja Grammar School");
  EXPECT_EQ(by_station["S2"]->place_text(), "Alausa Market");
  EXPECT_EQ(by_station["S2"]->description(), "shots fired");
}

TEST_F(IngestTest, TwilioWebhookGetsTwiml) {
  std::string token = gateway_.substr(std::string("Authorization: Bearer ").size());
  RawResponse r = Request(server_->port(), "POST", "/v1/sms/twilio?token=" + token,
                          {"Content-Type: application/x-www-form-urlencoded"},
                          "From=%2B2348012345678&To=%2B15005550006&Body=T+S2+345&MessageSid=SM123");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<Response><Message>"), std::string::npos) << r.body;
  auto inputs = Topic(schemas::topic::kInputs);
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0].turnout().voters_cast(), 345);
}

TEST_F(IngestTest, MetricsCountAcceptedAndRejectedByReason) {
  Post("/v1/incidents", monitor_, Incident("m1"));
  Post("/v1/incidents", monitor_, Incident("m2", "NOPE"));
  std::string text = prometheus::TextSerializer().Serialize(metrics_.Collect());
  EXPECT_NE(text.find("ewarn_ingest_events_total{endpoint=\"POST /v1/incidents\",result=\"accepted\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("ewarn_ingest_rejected_total{endpoint=\"POST /v1/incidents\",reason=\"unknown_station\"} 1"), std::string::npos);
}

TEST_F(IngestTest, HealthzAnswers) {
  RawResponse r = Request(server_->port(), "GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"stations\":3"), std::string::npos) << r.body;
}

// With several nodes each ticks only the partitions it owns (issue 14.7): ticks go to those
// partitions alone and move only their clocks; a partition in.events lacks is refused by name.
TEST_F(IngestTest, TicksForSomePartitionsTouchOnlyThose) {
  const int64_t t = kNow;
  ASSERT_TRUE(ingestor_->AppendTicks(t, {1, 3}).ok());
  for (int32_t p = 0; p < 4; ++p) {
    auto got = log_->Read({"in.events", p}, 0, 100);
    ASSERT_TRUE(got.ok());
    size_t ticks = 0;
    for (const auto& r : *got) ticks += schemas::DecodeEvent(r.value)->has_tick();
    EXPECT_EQ(ticks, p == 1 || p == 3 ? 1u : 0u) << "partition " << p;
    EXPECT_EQ(ingestor_->PartitionEventTime(p), p == 1 || p == 3 ? t : 0) << "partition " << p;
  }
  EXPECT_TRUE(ingestor_->AppendTicks(t + 1000, {}).ok());  // a node that owns nothing ticks nothing
  Status bad = ingestor_->AppendTicks(t, {4});
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("in.events has 4 partitions"), std::string::npos) << bad.ToString();
}

}  // namespace
}  // namespace ewarn::ingest
