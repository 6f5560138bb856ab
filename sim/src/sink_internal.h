// What both sinks share: events -> requests (kit readings batched), answers -> stats.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ewarn/sim/sink.h"

namespace ewarn::sim::internal {

struct Request {
  ingest::InputKind kind = ingest::InputKind::kIncident;
  bool sms = false;
  std::string token;     // without "Bearer "
  std::string body;      // JSON body, or the SMS text
  std::string sms_from;
  std::string sms_id;    // gateway message id: a re-run is idempotent
  int events = 1;        // simulated events it carries (a kit batch: many)
};

struct Answer {
  bool accepted = false;
  std::string reason;  // ingest's reason code when refused
  int duplicates = 0;
  int status = 0;
  int retry_after_seconds = 0;
};

// One request per event, except kit readings: one array per sender (up to kMaxKitBatch).
// SMS events go through the gateway when the monitors' phones are registered; else they are
// left out (see Unsendable).
std::vector<Request> Requests(std::span<const SimEvent> events, const Credentials& credentials);
// SMS events that cannot be sent with these credentials (phones not registered).
int64_t Unsendable(std::span<const SimEvent> events, const Credentials& credentials);
void Count(SinkStats& stats, const Request& request, const Answer& answer);
std::string_view KindName(ingest::InputKind kind);

}  // namespace ewarn::sim::internal
