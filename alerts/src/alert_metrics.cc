#include "ewarn/alerts/alert_metrics.h"

#include <array>
#include <cctype>
#include <limits>
#include <map>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include "ewarn/alerts/lifecycle.h"

namespace ewarn::alerts {

std::vector<prometheus::MetricFamily> AlertMetrics::Collect() const {
  static constexpr std::array<double, 9> kBounds = {60, 120, 300, 600, 900, 1800, 3600, 7200, 14400};
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  std::array<uint64_t, kBounds.size()> buckets{};
  uint64_t acked = 0, escalated = 0;
  double ack_sum = 0;
  Status st = ScanAlerts(state_, [&](const AlertRecord& r) {
    std::string level(LevelName(r.alert.level()));
    for (char& c : level) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ++counts[{level, std::string(AlertStateName(r.state))}];
    if (r.alert.tier() > 1) ++escalated;
    if (r.acked_ms > 0) {
      double seconds = static_cast<double>(r.acked_ms - r.raised_ms) / 1000.0;
      ++acked;
      ack_sum += seconds;
      for (size_t i = 0; i < kBounds.size(); ++i) {
        if (seconds <= kBounds[i]) ++buckets[i];
      }
    }
    return true;
  });
  std::vector<prometheus::MetricFamily> out;
  if (!st.ok()) return out;  // a scrape shows what it can; the store's errors surface elsewhere
  prometheus::MetricFamily by_state{"ewarn_alerts", "Alerts by level and state", prometheus::MetricType::Gauge, {}};
  for (const auto& [key, n] : counts) {
    prometheus::ClientMetric m;
    m.label = {{"level", key.first}, {"state", key.second}};
    m.gauge.value = static_cast<double>(n);
    by_state.metric.push_back(std::move(m));
  }
  out.push_back(std::move(by_state));
  prometheus::MetricFamily ack{"ewarn_alerts_time_to_ack_seconds",
                               "Event time from an alert's raise to its acknowledgement",
                               prometheus::MetricType::Histogram, {}};
  prometheus::ClientMetric h;
  h.histogram.sample_count = acked;
  h.histogram.sample_sum = ack_sum;
  for (size_t i = 0; i < kBounds.size(); ++i) h.histogram.bucket.push_back({buckets[i], kBounds[i]});
  h.histogram.bucket.push_back({acked, std::numeric_limits<double>::infinity()});
  ack.metric.push_back(std::move(h));
  out.push_back(std::move(ack));
  prometheus::MetricFamily esc{"ewarn_alerts_escalated", "Alerts escalated past their first tier",
                               prometheus::MetricType::Gauge, {}};
  prometheus::ClientMetric e;
  e.gauge.value = static_cast<double>(escalated);
  esc.metric.push_back(std::move(e));
  out.push_back(std::move(esc));
  return out;
}

}  // namespace ewarn::alerts
