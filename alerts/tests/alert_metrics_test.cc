// AlertMetrics: what a Prometheus scrape shows of the alerts in the query store.
#include "ewarn/alerts/alert_metrics.h"

#include <gtest/gtest.h>

#include "ewarn/alerts/lifecycle.h"
#include "ewarn_testing.h"

namespace ewarn::alerts {
namespace {

TEST(AlertMetricsTest, CountsByLevelAndStateAndTimesAcknowledgements) {
  ewarn::testing::TempDir dir;
  auto state = store::StateStore::Open({.dir = dir.Sub("state"), .stores = {std::string(kAlertStore)}});
  ASSERT_TRUE(state.ok());
  store::CommitBatch batch;
  auto put = [&](const std::string& id, v1::RiskLevel level, AlertState s, int64_t raised, int64_t acked, int tier) {
    AlertRecord r;
    r.alert.set_alert_id(id);
    r.alert.set_level(level);
    r.alert.set_tier(tier);
    r.state = s;
    r.raised_ms = raised;
    r.updated_ms = std::max(raised, acked);
    r.acked_ms = acked;
    batch.Put(kAlertStore, id, EncodeAlertRecord(r));
  };
  put("A1", v1::RISK_LEVEL_HIGH, AlertState::kOpen, 0, 0, 1);
  put("A2", v1::RISK_LEVEL_HIGH, AlertState::kOpen, 0, 0, 2);
  put("A3", v1::RISK_LEVEL_CRITICAL, AlertState::kAcknowledged, 1'000'000, 1'090'000, 1);   // 90 s
  put("A4", v1::RISK_LEVEL_HIGH, AlertState::kResolved, 5'000'000, 5'700'000, 1);           // 700 s
  ASSERT_TRUE((*state)->Commit(std::move(batch)).ok());

  auto families = AlertMetrics(**state).Collect();
  ASSERT_EQ(families.size(), 3u);
  std::map<std::string, double> by_state;
  for (const auto& m : families[0].metric) by_state[m.label[0].value + "/" + m.label[1].value] = m.gauge.value;
  EXPECT_EQ(families[0].name, "ewarn_alerts");
  EXPECT_EQ(by_state["high/open"], 2);
  EXPECT_EQ(by_state["critical/acknowledged"], 1);
  EXPECT_EQ(by_state["high/resolved"], 1);
  const auto& h = families[1].metric.at(0).histogram;
  EXPECT_EQ(families[1].name, "ewarn_alerts_time_to_ack_seconds");
  EXPECT_EQ(h.sample_count, 2u);
  EXPECT_DOUBLE_EQ(h.sample_sum, 790);
  EXPECT_EQ(h.bucket[0].cumulative_count, 0u);  // <= 60 s
  EXPECT_EQ(h.bucket[1].cumulative_count, 1u);  // <= 120 s
  EXPECT_EQ(h.bucket[4].cumulative_count, 2u);  // <= 900 s
  EXPECT_EQ(families[2].metric.at(0).gauge.value, 1);
}

}  // namespace
}  // namespace ewarn::alerts
