// An alert's history (alert_history.h).
#include "alert_history.h"

#include <boost/json.hpp>
#include <set>

#include "ewarn/alerts/lifecycle.h"
#include "ewarn/base/time.h"
#include "ewarn/schemas/events.h"

namespace ewarn::app {

Result<std::string> AlertHistoryJson(store::EventLog& log, const std::string& alert_id) {
  namespace json = boost::json;
  const std::string topic(schemas::topic::kAlerts);
  ASSIGN_OR_RETURN(int32_t partitions, log.PartitionCount(topic));
  // Alerts are keyed by id, so one partition holds an alert's whole history, in order.
  int32_t partition = store::EventLog::PartitionOf({.topic = topic, .key = alert_id}, partitions);
  std::set<std::string> seen;  // a republished outbox repeats event ids
  json::array history;
  ASSIGN_OR_RETURN(auto offsets, log.Offsets({topic, partition}));
  for (int64_t next = offsets.start; next < offsets.end;) {
    ASSIGN_OR_RETURN(auto batch, log.Read({topic, partition}, next, 5000));
    if (batch.empty()) break;
    for (const auto& r : batch) {
      next = r.offset + 1;
      if (r.key != alert_id) continue;
      auto e = schemas::DecodeEvent(r.value);
      if (!e.ok() || !e->has_alert() || !seen.insert(e->header().event_id()).second) continue;
      const v1::AlertEvent& a = e->alert();
      json::array recipients;
      for (const auto& id : a.recipient_ids()) recipients.emplace_back(id);
      json::object o{{"time", FormatRfc3339(e->header().event_time_ms())},
                     {"kind", alerts::KindName(a.kind())},
                     {"level", alerts::LevelName(a.level())},
                     {"tier", a.tier()},
                     {"recipient_ids", std::move(recipients)},
                     {"silenced", a.silenced()}};
      if (a.deadline_ms() > 0) o["deadline"] = FormatRfc3339(a.deadline_ms());
      if (!a.actor().empty()) o["actor"] = a.actor();
      if (!a.note().empty()) o["note"] = a.note();
      history.emplace_back(std::move(o));
    }
  }
  if (history.empty()) return Status::NotFound("unknown alert '" + alert_id + "'");
  return json::serialize(json::object{{"alert_id", alert_id}, {"history", std::move(history)}});
}

}  // namespace ewarn::app
