#include "ewarn/schemas/events.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <array>

namespace ewarn::schemas {

std::string WardPath(const v1::PollingStation& station) {
  return station.region() + "/" + station.district() + "/" + station.ward();
}

std::string DistrictKey(std::string_view region, std::string_view district) {
  std::string k(region);
  k.push_back('/');
  k.append(district);
  return k;
}

std::string DistrictKeyOfArea(std::string_view area_path) {
  size_t first = area_path.find('/');
  if (first == std::string_view::npos) return std::string(area_path);
  size_t second = area_path.find('/', first + 1);
  return std::string(area_path.substr(0, second));
}

bool IsInputTopic(std::string_view t) {
  return t == topic::kInputs || t == topic::kStations || t == topic::kMonitors || t == topic::kTokens ||
         t == topic::kLiaisons || t == topic::kAreas || t == topic::kHours || t == topic::kRejected || t == topic::kDeliveries ||
         t == topic::kContests || t == topic::kPvtSamples;
}

std::string EncodeEvent(const v1::Event& event) { return EncodeDeterministic(event); }

std::string EncodeDeterministic(const google::protobuf::MessageLite& message) {
  // Exactly sized: a growing string costs a reallocation and a copy per doubling.
  std::string out(message.ByteSizeLong(), '\0');
  google::protobuf::io::ArrayOutputStream raw(out.data(), static_cast<int>(out.size()));
  google::protobuf::io::CodedOutputStream coded(&raw);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
  return out;
}

Result<v1::Event> DecodeEvent(std::string_view bytes) {
  v1::Event event;
  if (!event.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("record of " + std::to_string(bytes.size()) +
                              " bytes is not an ewarn.v1.Event");
  }
  uint32_t version = event.header().schema_version();
  if (version == 0) return Status::Corruption("record has no schema version");
  if (version > kSchemaVersion) {
    return Status::Corruption("unknown schema version " + std::to_string(version) +
                              "; this build reads up to " + std::to_string(kSchemaVersion));
  }
  return event;
}

std::string RecordKey(const v1::Event& e) {
  switch (e.body_case()) {
    case v1::Event::kIncident: return e.incident().station_id();
    case v1::Event::kTurnout: return e.turnout().station_id();
    case v1::Event::kKit: return e.kit().station_id();
    case v1::Event::kHateSpeech:
      return e.hate_speech().station_id().empty() ? e.hate_speech().area()
                                                  : e.hate_speech().station_id();
    case v1::Event::kStation: return e.station().station_id();
    case v1::Event::kMonitor: return e.monitor().monitor_id();
    case v1::Event::kLiaison: return e.liaison().liaison_id();
    case v1::Event::kToken: return e.token().token_id();
    case v1::Event::kArea: return e.area().area_id();
    case v1::Event::kRisk: return e.risk().subject_id();
    case v1::Event::kAlert: return e.alert().alert_id();
    case v1::Event::kDelivery: return e.delivery().recipient_id();
    case v1::Event::kSituation: return e.situation().situation_id();
    case v1::Event::kEnriched: return e.enriched().station_id();
    case v1::Event::kAnomaly: return e.anomaly().subject_id();
    case v1::Event::kAck: return e.ack().alert_id();
    case v1::Event::kSilence: return e.silence().area();
    case v1::Event::kReview: return e.review().station_id();
    case v1::Event::kBoundary: return e.boundary().area_id();
    case v1::Event::kHours: return e.hours().area_id();
    case v1::Event::kResultSheet: return e.result_sheet().station_id();
    case v1::Event::kContestCandidate:
      return e.contest_candidate().contest() + "/" + e.contest_candidate().candidate();
    case v1::Event::kPvtSample: return e.pvt_sample().contest();
    default: return e.header().event_id();
  }
}

namespace {
constexpr std::array<std::string_view, 9> kCategoryNames = {
    "unspecified", "violence",  "intimidation", "vote_buying", "ballot_tampering",
    "materials",   "procedure", "access",       "other"};
}  // namespace

std::string_view CategoryName(v1::IncidentCategory category) {
  auto i = static_cast<size_t>(category);
  return i < kCategoryNames.size() ? kCategoryNames[i] : "unspecified";
}

Result<v1::IncidentCategory> ParseCategory(std::string_view name) {
  for (size_t i = 1; i < kCategoryNames.size(); ++i) {
    if (kCategoryNames[i] == name) return static_cast<v1::IncidentCategory>(i);
  }
  return Status::InvalidArgument(
      "unknown category '" + std::string(name.substr(0, 40)) +
      "'; one of violence, intimidation, vote_buying, ballot_tampering, materials, procedure, "
      "access, other");
}

namespace {
constexpr std::array<std::string_view, 4> kSubmitterRoleNames = {"unspecified", "presiding_officer", "observer",
                                                                  "party_agent"};
}  // namespace

std::string_view SubmitterRoleName(v1::SubmitterRole role) {
  auto i = static_cast<size_t>(role);
  return i < kSubmitterRoleNames.size() ? kSubmitterRoleNames[i] : "unspecified";
}

Result<v1::SubmitterRole> ParseSubmitterRole(std::string_view name) {
  for (size_t i = 1; i < kSubmitterRoleNames.size(); ++i) {
    if (kSubmitterRoleNames[i] == name) return static_cast<v1::SubmitterRole>(i);
  }
  return Status::InvalidArgument("unknown submitter_role '" + std::string(name.substr(0, 40)) +
                                 "'; one of presiding_officer, observer, party_agent");
}

std::string_view BodyName(const v1::Event& e) {
  switch (e.body_case()) {
    case v1::Event::kIncident: return "incident";
    case v1::Event::kHateSpeech: return "hate_speech";
    case v1::Event::kTurnout: return "turnout";
    case v1::Event::kKit: return "kit";
    case v1::Event::kTick: return "tick";
    case v1::Event::kAck: return "ack";
    case v1::Event::kSilence: return "silence";
    case v1::Event::kReview: return "review";
    case v1::Event::kBoundary: return "boundary";
    case v1::Event::kHours: return "hours";
    case v1::Event::kRejected: return "rejected";
    case v1::Event::kStation: return "station";
    case v1::Event::kArea: return "area";
    case v1::Event::kMonitor: return "monitor";
    case v1::Event::kLiaison: return "liaison";
    case v1::Event::kToken: return "token";
    case v1::Event::kSituation: return "situation";
    case v1::Event::kRisk: return "risk";
    case v1::Event::kAnomaly: return "anomaly";
    case v1::Event::kEnriched: return "enriched";
    case v1::Event::kAlert: return "alert";
    case v1::Event::kDelivery: return "delivery";
    case v1::Event::kResultSheet: return "result_sheet";
    case v1::Event::kContestCandidate: return "contest_candidate";
    case v1::Event::kPvtSample: return "pvt_sample";
    case v1::Event::BODY_NOT_SET: return "empty";
  }
  return "empty";
}

}  // namespace ewarn::schemas
