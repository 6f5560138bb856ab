// OASIS Common Alerting Protocol 1.2 rendering of an ewarn alert event.
//
// The CAP channel posts this document; the HTTP API serves it at GET /v1/alerts/{id}.cap.
// Pure and thread-safe.
#pragma once

#include <string>

#include "ewarn/base/time.h"
#include "ewarn/v1/alerts.pb.h"

namespace ewarn::alerts {

struct CapOptions {
  std::string sender = "ewarn@localhost";  // CAP <sender>: the originating system's id
  std::string sender_name = "ewarn early warning";
  TimeMs sent_ms = 0;       // CAP <sent>, rendered as YYYY-MM-DDThh:mm:ss+00:00
  std::string language = "en";
  // CAP <identifier>; empty: "ewarn-" + alert_id + "-" + kind ("raised", "updated", ...).
  std::string identifier;
  // CAP <references> ("sender,identifier,sent ..."), for Update/Cancel messages when known.
  std::string references;
  // CAP <restriction> (required by CAP when scope is Restricted).
  std::string restriction = "Election security liaisons only";
  // <expires> is sent_ms + valid_for_ms (a Cancel expires when sent): risk is re-assessed
  // continuously, so a message is stale after a few hours unless replaced sooner.
  TimeMs valid_for_ms = 6 * 3600 * 1000;
  // The radius of a station alert's <circle> around the station, in km (CAP's unit).
  double circle_radius_km = 1.0;
};

// A CAP 1.2 <alert> (UTF-8, XML-escaped). msgType: RAISED -> Alert, UPDATED/ESCALATED (and
// other kinds) -> Update, RESOLVED -> Cancel. status Actual, scope Restricted, one <info> with
// category Security; urgency/severity/certainty from the risk level; the description lists the
// top factors' explanations; <expires> always (see valid_for_ms); <area> has the area path (and
// the station for a station alert) in <areaDesc>, a <circle> "lat,lon radius_km" around the
// station when its point is known, and the area path as geocode "ewarn:area".
std::string RenderCap(const v1::AlertEvent& alert, const CapOptions& options);

// CAP's dateTime form: "2027-02-25T08:30:00+00:00" (CAP forbids "Z").
std::string CapDateTime(TimeMs t);

}  // namespace ewarn::alerts
