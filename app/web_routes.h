// The duty room's server side (web/README.md): the embedded pages at /, sign-in sessions, area
// boundaries and station points for the map, and the live feed.
//
//   GET  /, /index.html, /signin.html, /css/*, /js/*, /vendor/leaflet/*   the embedded files
//   GET  /map                          302 to / (the old page's address)
//   GET  /v1/areas?level=region|district|ward   GeoJSON of the areas' boundaries (ref.areas);
//                                      an area without one is drawn as its stations' extent
//                                      (convex hull), marked "derived":"stations"
//   GET  /v1/stations                  every station with a location: {"stations":[[id,name,
//                                      ward path,lat,lon],...]}
//   GET  /v1/events                    Server-Sent Events of risk and alert changes (ChangeFeed)
// Who: duty and operator tokens or sessions see everything, liaisons their area (areas that
// contain or lie in it); 401 otherwise. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "change_feed.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/store/event_log.h"
#include "session.h"

namespace ewarn::app {

class DutyRoom {
 public:
  // `ingestor` and `log` must outlive the DutyRoom; `node_secret` keys the session cookies;
  // `feed` configures the live feed (ChangeFeed::Options).
  static Result<std::unique_ptr<DutyRoom>> Make(ingest::Ingestor& ingestor, store::EventLog& log,
                                                const std::string& node_secret, ChangeFeed::Options feed = {});
  ~DutyRoom();

  // Registers the routes above and the sign-in API, then lets every blocking route of `router`
  // (risk, alerts, reviews...) read the session cookie: call it after all other routes.
  void AddRoutesAndSessions(ingest::HttpRouter& router);
  // Answers the browsers waiting on the live feed; call before stopping the HTTP server.
  void Stop();

 private:
  struct Geometry;  // boundaries and station points, rebuilt when ref.areas or ref.stations grow
  DutyRoom(ingest::Ingestor& ingestor, store::EventLog& log, const std::string& secret);
  Result<std::shared_ptr<const Geometry>> CurrentGeometry();

  ingest::Ingestor& ingestor_;
  store::EventLog& log_;
  SystemClock clock_;
  SessionCodec codec_;
  std::unique_ptr<ChangeFeed> feed_;
  std::mutex mu_;  // guards geometry_
  std::shared_ptr<const Geometry> geometry_;
};

}  // namespace ewarn::app
