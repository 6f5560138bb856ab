// Results on read (issue 16.6): the tabulation of the counted sheets per area, and the parallel
// vote tabulation's estimate from the stored PVT sample. Both read the counted sheets from a
// readside::QuerySource: on Kafka every node's model of topic derived.results (so every node
// answers alike), on the embedded log the station stage's own `results` store merged with it.
#pragma once

#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/readside/read_model.h"
#include "ewarn/store/event_log.h"

namespace ewarn::app {

// GET /v1/results?contest=C[&area=AREA][&depth=N][&format=csv]      duty, operator, liaison
//     the area ("" the whole country; a liaison's own area at most) and the levels below it down
//     to `depth` (default 1, at most 3): stations expected and reporting, votes and shares per
//     candidate, valid, rejected and blank votes, turnout. format=csv: one row per station's
//     counted sheet, with an HXL hashtag row.
// GET /v1/results/pvt?contest=C[&official=true][&format=csv]        duty, operator
//     the PVT estimate from the contest's sample (ewarn pvt-sample): each candidate's share and
//     turnout with 95% and 99% margins, overall and per region, how it converged as sheets came
//     in, and with official=true the tally of every counted sheet beside it, each share marked
//     when it lies outside the PVT's 95% margin.
// 503 while `queries` is not Ready(). Everything passed must outlive the router.
void AddResultsRoutes(ingest::HttpRouter& router, ingest::Ingestor& ingestor, readside::QuerySource& queries,
                      store::EventLog& log);

}  // namespace ewarn::app
