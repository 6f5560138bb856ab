// The duty room's read side: risk by area and station, as JSON or GeoJSON (the duty room at /,
// web_routes.h, draws them). Reads a readside::QuerySource: on `ewarn serve` the node's read model
// of the `risk` topic (every node answers alike, ingest-only ones too), merged with the station
// stage's own committed `risk` store on the embedded log (readside/README.md).
#pragma once

#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/readside/read_model.h"

namespace ewarn::app {

// GET /v1/risk?area=AREA[&min_level=elevated][&format=geojson|csv]   duty, operator, liaison
//     areas (regions aggregated on read: a region's level is its highest district's) and
//     stations under AREA with level, score and top factors; GeoJSON: station points; CSV
//     (a download): every area then every station, with an HXL hashtag row (csv_export.h).
// GET /v1/risk/stations/{id}                                     the station's assessment
// 503 while `queries` is not Ready() (a node still reading the log at its start).
// `ingestor` and `queries` must outlive the router.
// Who may read the query routes (risk, results): a duty or operator token, or a liaison's (then
// within its area; the routes check that). 401 without a valid token; 403 for another role,
// naming `what` may not be read.
Result<ingest::Principal> QueryReader(ingest::Ingestor& ingestor, const ingest::HttpRequest& req, std::string_view what);

void AddRiskRoutes(ingest::HttpRouter& router, ingest::Ingestor& ingestor, readside::QuerySource& queries);

}  // namespace ewarn::app
