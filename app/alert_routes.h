// The alert API over HTTP, served next to ingest's routes:
//   GET  /v1/alerts?state=&area=&level=   alerts from the alert stage's state, newest raise first;
//                                         state: open|acknowledged|resolved, area: path prefix,
//                                         level: low|elevated|high|critical (that level and above);
//        &format=csv|geojson              the same alerts as a download: CSV with an HXL
//                                         hashtag row (csv_export.h), GeoJSON with station
//                                         alerts at their station and area alerts unplaced
//   GET  /v1/alerts/{id}                  one alert (404 unknown)
//   POST /v1/alerts/{id}/ack  {"note":""} appends an AlertAck to in.events (partitioned by the
//                                         alert's district) -> 202; 409 when it is already
//                                         acknowledged or resolved (or an ack is in flight)
//   POST /v1/silences {"area","category","until","note"}  mutes deliveries of alerts in the area
//                                         (path prefix) and category (detector prefix) until
//                                         `until`; the alerts are still raised and recorded -> 202
// Who: liaison tokens see and acknowledge only alerts in their area (ingest::AreaCovers; 403
// otherwise), duty and operator tokens everything; monitor and gateway tokens get 403, a missing
// or unknown token 401. Reads go to a readside::QuerySource: on `ewarn serve` the node's read
// model folded from topic `alerts`, so every node, ingest-only ones too, lists the same alerts
// and an ack made through any node shows on all of them once the alert stage (wherever it runs)
// has applied it (readside/README.md). 503 while that source is not Ready(). The 409 for an ack
// in flight is per node: a second ack through another node in that window is appended and the
// alert stage refuses it (dlq.processing), as it refuses any ack of an acknowledged alert.
#pragma once

#include <cstdint>

#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/readside/read_model.h"
#include "ewarn/store/event_log.h"
#include "ewarn/v1/event.pb.h"

namespace ewarn::app {

// Registers the routes above. `ingestor`, `queries` and `log` must outlive the router;
// `partitions` is in.events' partition count. Handlers are thread-safe.
void AddAlertRoutes(ingest::HttpRouter& router, ingest::Ingestor& ingestor, readside::QuerySource& queries,
                    store::EventLog& log, int32_t partitions);

// Appends a silence to in.events: to its district's partition, or to every partition for a
// region or the whole country. InvalidArgument without an end; the log's errors otherwise.
Status AppendSilence(store::EventLog& log, int32_t partitions, const v1::Silence& silence, const std::string& principal,
                     int64_t now_ms);

}  // namespace ewarn::app
