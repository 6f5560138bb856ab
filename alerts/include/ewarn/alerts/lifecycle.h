// ewarn::alerts lifecycle: risk level changes -> alerts that are raised, routed to liaisons,
// grouped into deliveries, acknowledged, escalated on event time, and resolved.
//
// AlertPipeline() describes a processors::Pipeline over topic `risk` (written by the station
// stage, partitioned like in.events: by district). One LifecycleProcessor per partition:
//
//   risk (RiskAssessment)  a subject's level changed. No open alert and level >= the lowest
//                          min_level of the routes matching its area and category: RAISED +
//                          ROUTED (tier 1) + deliveries. Open alert: UPDATED (new recipients
//                          ROUTED; a level increase is delivered again); below the minimum:
//                          RESOLVED. One alert per subject episode.
//   ack (AlertAck)         ACKNOWLEDGED (actor, note); escalation stops. An unknown, closed or
//                          already acknowledged alert is InvalidArgument (dead-lettered).
//   silence (Silence)      mutes deliveries of matching alerts (area prefix, category prefix,
//                          until_ms); the alert events are still written, with silenced=true.
//   tick (Tick)            advances event time; raises the routing bound on ref.liaisons.
//
// Every event first advances the partition's event time (the maximum seen) and fires what is
// due at it, deadlines inclusive: escalations (an open, unacknowledged alert past deadline_ms
// goes to the next tier that has liaisons in scope; after the last tier once more to the
// COMMISSION liaisons of its area and ancestors, then it stops), then grouped deliveries whose
// window ended. Nothing reads a clock: a replay of `risk` gives byte-identical outputs.
//
// Routing uses only liaisons at offsets < the latest Tick.liaisons_end the partition has seen
// (ref.liaisons is read lazily from the EventLog), so a liaison added after a tick is used from
// the next tick on, in the live run and in every replay alike.
//
// Outputs
//   alerts         key alert_id; Event{alert: AlertEvent}; event_id "<alert_id>/<n>", n = 0,1,..
//                  alert_id = "A" + first 12 hex of SHA-256(subject_id "@" raise event time ms)
//   notify.outbox  key recipient_id; Event{delivery: Delivery} with state PENDING; event_id =
//                  delivery_id = "D" + first 24 hex of SHA-256(recipient, channel, the carried
//                  alert event ids): the channel's idempotency key.
//
// State stores (open the StateStore with AlertPipeline(...).runtime.stores + "seen"):
//   alerts.by_id     key: alert_id. Value: EncodeAlertRecord(AlertRecord), the query side: the
//                    HTTP layer and the CLI read it directly (ReadAlert, ScanAlerts).
//   alerts.subjects  key: BE32 partition + subject_id -> alert_id of the subject's open episode.
//   alerts.tasks     key: BE32 partition + name: per-partition "clock" (event time, liaisons
//                    bound), "timers" (deadline, alert id), "groups" (held notifications per
//                    recipient), "silences". Private to the processor.
//
// Thread-safety: the free functions are pure or read a thread-safe StateStore.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "ewarn/base/status.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"
#include "ewarn/v1/alerts.pb.h"
#include "ewarn/v1/rules.pb.h"

namespace ewarn::alerts {

inline constexpr std::string_view kAlertsGroup = "ewarn-alerts";
inline constexpr std::string_view kAlertStore = "alerts.by_id";
inline constexpr std::string_view kSubjectStore = "alerts.subjects";
inline constexpr std::string_view kTaskStore = "alerts.tasks";

// The alert lifecycle stage: input `risk`, group "ewarn-alerts", the three stores above, output
// topics `alerts` and `notify.outbox` with `partitions` partitions. `rules` is copied; `log`
// must outlive every processor the factory makes (it reads ref.liaisons).
processors::Pipeline AlertPipeline(int32_t partitions, const v1::Rules& rules, store::EventLog& log);

enum class AlertState : uint8_t { kOpen = 1, kAcknowledged = 2, kResolved = 3 };
// "open", "acknowledged", "resolved".
std::string_view AlertStateName(AlertState state);
// InvalidArgument naming the accepted values.
Result<AlertState> ParseAlertState(std::string_view name);

// One alert as it stands now (value of alerts.by_id).
struct AlertRecord {
  // The latest picture: alert_id, area, level, subject_id, summary, category, score, factors,
  // is_area, tier (current escalation tier, 1 first), deadline_ms (0: none pending),
  // recipient_ids (everyone routed so far, sorted), actor/note (who acknowledged, with what
  // note), silenced (the last notification was muted). `kind` is the last lifecycle event.
  v1::AlertEvent alert;
  AlertState state = AlertState::kOpen;
  int32_t partition = 0;            // the task that owns it (acks must arrive there)
  int64_t raised_ms = 0;            // event time
  int64_t updated_ms = 0;           // event time of the last lifecycle event
  int64_t acked_ms = 0;             // event time of the acknowledgement, 0 if none
  int32_t events = 0;               // lifecycle events written so far (next event id suffix)
  bool escalation_exhausted = false;  // the commission escalation happened; no more deadlines
};

// Value layout: byte 1 (version), byte state, byte flags (bit 0: escalation_exhausted),
// BE32 partition, BE64 raised_ms, BE64 updated_ms, BE64 acked_ms, BE32 events, then the
// AlertEvent's protobuf bytes.
std::string EncodeAlertRecord(const AlertRecord& record);
// Corruption when the bytes are not such a record.
Result<AlertRecord> DecodeAlertRecord(std::string_view bytes);

// The alert `alert_id` from the committed state, nullopt when unknown. NotFound when `state`
// has no alerts.by_id store (the alert stage never ran on it).
Result<std::optional<AlertRecord>> ReadAlert(store::StateStore& state, std::string_view alert_id);
// Every alert in alert-id order until `fn` returns false.
Status ScanAlerts(store::StateStore& state, const std::function<bool(const AlertRecord&)>& fn);

// Segment-wise, case-insensitive area prefix: "" covers all; "LAGOS" covers "LAGOS/IKEJA/X";
// "LAGOS/IKE" does not cover "LAGOS/IKEJA". (Same rule as ingest::AreaCovers.)
bool AreaPrefixCovers(std::string_view prefix, std::string_view area);
// Detector prefix by dot segments: "" and "turnout" match "turnout.surge"; "turn" does not.
bool CategoryMatches(std::string_view prefix, std::string_view category);

// "LOW", "ELEVATED", "HIGH", "CRITICAL" ("UNSPECIFIED" otherwise) and back (case-insensitive).
std::string_view LevelName(int level);
Result<int> ParseLevel(std::string_view name);
// "raised", "updated", "routed", "acknowledged", "escalated", "resolved", "silenced".
std::string_view KindName(v1::AlertEvent::Kind kind);

}  // namespace ewarn::alerts
