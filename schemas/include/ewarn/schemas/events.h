// ewarn::schemas: the ewarn.v1 protobuf messages, topic names and the envelope codec.
//
// Every record value in every ewarn topic is an encoded ewarn.v1.Event (schemas/README.md).
// Functions here are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ewarn/base/status.h"
#include "ewarn/v1/event.pb.h"

namespace ewarn::schemas {

// The envelope version this build writes and the newest it reads.
inline constexpr uint32_t kSchemaVersion = 1;

// Topic names (schemas/README.md has keys and partitioning).
namespace topic {
inline constexpr std::string_view kInputs = "in.events";        // all field inputs + ticks
inline constexpr std::string_view kStations = "ref.stations";
inline constexpr std::string_view kMonitors = "ref.monitors";
inline constexpr std::string_view kLiaisons = "ref.liaisons";
inline constexpr std::string_view kTokens = "ref.tokens";  // Token (hashed), keyed by token id
inline constexpr std::string_view kAreas = "ref.areas";  // AreaBoundary, keyed by area path
inline constexpr std::string_view kHours = "ref.hours";  // AreaHours, keyed by area path
inline constexpr std::string_view kRejected = "dlq.rejected";
inline constexpr std::string_view kContests = "ref.contests";        // ContestCandidate
inline constexpr std::string_view kPvtSamples = "ref.pvt_samples";   // PvtSample per contest
inline constexpr std::string_view kSituations = "derived.situations";
inline constexpr std::string_view kIncidents = "derived.incidents";  // EnrichedIncident
inline constexpr std::string_view kAlerts = "alerts";
inline constexpr std::string_view kOutbox = "notify.outbox";          // Delivery to send
inline constexpr std::string_view kDeliveries = "notify.deliveries";  // Delivery outcomes
inline constexpr std::string_view kAnomalies = "derived.anomalies";
// The station stage's counted sheet per station and contest, on every change (GET /v1/results
// on every node folds it; readside/).
inline constexpr std::string_view kCountedResults = "derived.results";
// The alert stage's input: risk level changes from the station stage, plus the acks,
// silences and ticks it forwards, partitioned exactly like in.events.
inline constexpr std::string_view kRisk = "risk";
}  // namespace topic

// Topics whose records come from outside (people, devices, imports). A replay copies them;
// every other topic is derived, and a replay rebuilds it.
bool IsInputTopic(std::string_view topic);

// Serializes deterministically (same message, same bytes), so digests and ids are stable.
std::string EncodeEvent(const v1::Event& event);
// The same for any message (processors' state): sized once and written in place, not grown.
std::string EncodeDeterministic(const google::protobuf::MessageLite& message);

// Parses an envelope. Corruption when the bytes are not an Event, when the schema version is
// missing, or when it is newer than kSchemaVersion ("unknown schema version 9; this build
// reads up to 1"). Callers add where the bytes came from with Status::WithContext.
Result<v1::Event> DecodeEvent(std::string_view bytes);

// The record key an event is stored under: the station for station events, else the area,
// else the event id.
std::string RecordKey(const v1::Event& event);

// The partition key of in.events: the district path "region/district" of the station (or of
// an area path for a flag without station), so a district's stations share a task.
std::string DistrictKey(std::string_view region, std::string_view district);
// The area path "region/district/ward" of a station: what monitors' areas and the risk API's
// ward keys are written in.
std::string WardPath(const v1::PollingStation& station);
// The district key of an area path "region/district/ward" (its first two segments).
std::string DistrictKeyOfArea(std::string_view area_path);

// Lower-case wire name of a category ("vote_buying"); ParseCategory accepts those names.
std::string_view CategoryName(v1::IncidentCategory category);
Result<v1::IncidentCategory> ParseCategory(std::string_view name);

// Wire name of a result sheet's submitter role ("presiding_officer", "observer", "party_agent");
// ParseSubmitterRole accepts those names.
std::string_view SubmitterRoleName(v1::SubmitterRole role);
Result<v1::SubmitterRole> ParseSubmitterRole(std::string_view name);

// A short name for the body case, for metrics and logs: "incident", "kit", "tick", ...
std::string_view BodyName(const v1::Event& event);

}  // namespace ewarn::schemas
