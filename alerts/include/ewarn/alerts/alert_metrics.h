// Metrics of the alerts as they stand, computed from the alert stage's query store when
// Prometheus scrapes: how many alerts per level and state, and how long acknowledgements took
// (event time from raise to ack). Register with prometheus::Registry's owner, e.g.
// exposer.RegisterCollectable(std::make_shared<AlertMetrics>(state)).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "ewarn/store/state_store.h"

namespace ewarn::alerts {

class AlertMetrics final : public prometheus::Collectable {
 public:
  // `state` (opened with the alert stage's stores) must outlive this collectable.
  explicit AlertMetrics(store::StateStore& state) : state_(state) {}
  //   ewarn_alerts{level,state}                 gauge: alerts per level and state
  //   ewarn_alerts_time_to_ack_seconds          histogram over acknowledged alerts
  //   ewarn_alerts_escalated                    gauge: alerts past their first tier
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  store::StateStore& state_;
};

}  // namespace ewarn::alerts
