// The triage queue over HTTP: recent reports with their review status, and review decisions
// as events in in.events (ReportReview, partitioned by the report's district so the station
// stage meets each decision beside its report, and a replay reproduces it).
//
//   GET  /v1/reports?status=&area=&category=&source=&since=RFC3339&format=csv|geojson
//                                   newest first (JSON: at most `limit`, default 500); CSV with
//                                   an HXL hashtag row under the header
//   GET  /v1/reports/{event_id}     one report (also by its short reference) with its audit trail
//   POST /v1/reports/{event_id}/review {"status":"false","assignee":"","note":"","lock":true}
//                                   -> 202 {"event_id"}; 400 a bad status, 404 an unknown
//                                   report, 403 outside a liaison's area, 409 while another
//                                   officer holds the lock (10 minutes from a "lock":true
//                                   decision, released by that officer's next decision)
// Who: duty and operator tokens (or sessions) everywhere, liaisons in their area. Handlers are
// thread-safe (one mutex serializes decisions, so a lock is checked and taken atomically).
#pragma once

#include <cstdint>

#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"

namespace ewarn::app {

inline constexpr int64_t kReviewLockMs = 10 * 60 * 1000;

// `ingestor`, `log` and `state` (the processors' state: the partitions' event time) must
// outlive the router; `partitions` is in.events' partition count.
void AddReviewRoutes(ingest::HttpRouter& router, ingest::Ingestor& ingestor, store::EventLog& log,
                     store::StateStore& state, int32_t partitions);

}  // namespace ewarn::app
