// The duty room's read side: risk by area and station, as JSON or GeoJSON (the duty room at /,
// web_routes.h, draws them). Reads the station stage's `risk` store directly (committed state, at
// most one commit interval old).
#pragma once

#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/store/state_store.h"

namespace ewarn::app {

// GET /v1/risk?area=AREA[&min_level=elevated][&format=geojson]   duty, operator, liaison
//     areas (regions aggregated on read: a region's level is its highest district's) and
//     stations under AREA with level, score and top factors; GeoJSON: station points.
// GET /v1/risk/stations/{id}                                     the station's assessment
// `ingestor` and `state` must outlive the router.
void AddRiskRoutes(ingest::HttpRouter& router, ingest::Ingestor& ingestor, store::StateStore& state);

}  // namespace ewarn::app
