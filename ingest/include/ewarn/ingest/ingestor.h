// ewarn::ingest::Ingestor: turns what monitors, classifiers, kits and SMS gateways send into
// validated events in the log, and everything it refuses into dead letters.
//
// For every submission: authenticate the principal (bearer token), decode and validate, check
// the station exists and lies in the principal's area, that processing will not drop it as late
// or timeless (the rules' allowed lateness behind its partition's event time as ingest knows it:
// what it appended there, ticks included), apply the principal's rate limit, then
// append durably to `in.events` (partitioned by district) and answer. The same event_id from
// the same principal with the same content is answered again as accepted and not stored twice
// (idempotent retries); with other content it is a conflict. Every refusal except a missing or
// bad token is appended to `dlq.rejected` with the raw bytes, principal and reason, so an
// operator can list, fix and re-submit it (ListRejected/Resubmit).
//
// State (tokens, monitors, station directory, seen event ids) lives in the StateStore given to
// Make, which must have been opened with StoreNames(). Thread-safe: Submit* may be called from
// many threads; concurrent appends are group-committed by the log. Two submissions of one
// event_id at once are settled in turn: the second waits for the first's append.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/dead_letters.h"
#include "ewarn/ingest/json_input.h"
#include "ewarn/ingest/principals.h"
#include "ewarn/ingest/results.h"
#include "ewarn/ingest/sms.h"
#include "ewarn/ingest/stations.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"

namespace prometheus {
class Registry;
}

namespace ewarn::ingest {

struct IngestorOptions {
  std::string pseudonym_secret;  // HMAC key for phone and reporter pseudonyms (DIR/secret)
  // Per principal. A monitor (one person, and any role without its own) is held to this:
  double rate_per_second = 20;   // sustained
  double rate_burst = 200;       // burst
  // Gateways (one relays many monitors' SMS, or a commission's whole night of counts) and
  // operators (re-submitting dead letters in bulk) have their own, far higher: 92,000 final
  // counts take under a minute, not the 77 a monitor's 20/s would (`serve --gateway-rate`).
  double gateway_rate_per_second = 2000;
  double gateway_rate_burst = 20000;
  // occurred_at may lie at most this far in the future (clock skew), in ms.
  int64_t max_future_ms = 5 * 60 * 1000;
  // The rules' time.allowed_lateness_ms: processing drops an event further than this behind its
  // partition's event time, so ingest refuses it (too_late) instead of answering 202.
  int64_t allowed_lateness_ms = 6 * 3600 * 1000;
  // How often a background thread applies what other processes appended to ref.tokens,
  // ref.monitors and ref.stations (RefreshReference). 0: no thread (offline commands). Nodes
  // use 1 s, so a token revoked anywhere answers 401 everywhere within seconds.
  std::chrono::milliseconds follow_reference_every{0};
};

// The answer to one submission, independent of the transport.
struct Outcome {
  int http_status = 202;  // 202 accepted, 400, 401, 403, 409, 413, 429, 503
  std::string reason_code;  // "" when accepted; else stable: "bad_json", "unknown_station", ...
  std::string message;      // for a person
  std::string field;        // the offending field, if one
  int retry_after_seconds = 0;
  std::vector<std::string> event_ids;  // accepted (or already accepted) ids
  int duplicates = 0;                  // of those, how many were already in the log
  std::string reference;               // short reference for people (SMS replies)

  // A batch answered per element (POST /v1/turnout with an array): each element's own answer,
  // in order. http_status is 202 when every one was accepted, else 207; event_ids and
  // duplicates are the accepted elements'.
  std::vector<Outcome> elements;

  bool accepted() const { return http_status == 202; }
  // {"status":"accepted","event_ids":[...],...} or {"error":...,"field":...}; with elements,
  // also "accepted", "refused" and "results":[{"index":0,"status":202,"event_id":...},
  // {"index":3,"status":400,"error":...,"field":...,"reason":...}].
  std::string ToJson() const;
};

enum class SmsChannel { kKannel, kTwilio };

struct SmsOutcome {
  Outcome outcome;
  std::string reply;  // the text to send back to the sender
};

class Ingestor {
 public:
  // The StateStore stores Ingestor uses; open the store with (at least) these.
  static std::vector<std::string> StoreNames();

  // Creates the topics it writes if missing (in.events with `input_partitions`, ref.stations,
  // dlq.rejected), loads the station directory from ref.stations, and recovers the seen-id
  // index from the log. `log`, `state` and `clock` must outlive the Ingestor.
  static Result<std::unique_ptr<Ingestor>> Make(store::EventLog& log, store::StateStore& state, const Clock& clock,
                                                IngestorOptions options, int32_t input_partitions,
                                                prometheus::Registry* metrics = nullptr);
  ~Ingestor();

  // A JSON body for `kind` with the request's Authorization header value.
  Outcome SubmitJson(InputKind kind, std::string_view authorization, std::string_view body,
                     std::string_view content_type = "application/json");
  // The same without waiting: validates on the calling thread (no disk waits) and calls `done`
  // once, when the events are durable or refused, possibly from the log's own thread. For
  // servers: a request waiting for its fsync holds no thread.
  using OutcomeCallback = std::function<void(Outcome)>;
  void SubmitJsonAsync(InputKind kind, std::string_view authorization, std::string_view body,
                       std::string_view content_type, OutcomeCallback done);
  // An SMS relayed by a gateway principal. `message_id` (gateway's id, may be empty) makes
  // gateway retries idempotent.
  SmsOutcome SubmitSms(SmsChannel channel, std::string_view authorization, std::string_view from,
                       std::string_view text, std::string_view message_id);
  // Records a body refused for its size (the HTTP layer did not read it).
  Outcome RejectTooLarge(std::string_view endpoint, std::string_view authorization, uint64_t declared_bytes,
                         uint64_t limit_bytes);

  // Dead letters from `from_offset` on (partition 0 of dlq.rejected), at most `limit`.
  Result<std::vector<RejectedRecord>> ListRejected(int64_t from_offset, size_t limit);
  // Re-runs a dead letter through validation as its original principal, with `replacement`
  // as the corrected body when given. The old dead letter stays (the log is immutable).
  Result<Outcome> Resubmit(int64_t offset, std::optional<std::string> replacement);

  // Appends ticks for `event_time_ms` (ingest::AppendTicks) and takes that as every partition's
  // event time, so later reports are checked against it. Use this rather than AppendTicks
  // wherever an Ingestor runs.
  Status AppendTicks(int64_t event_time_ms);
  // The same for `partitions` only (ingest::AppendTicks), raising only their event times.
  Status AppendTicks(int64_t event_time_ms, const std::vector<int32_t>& partitions);
  // The event time of partition `partition` of in.events as this Ingestor knows it: the
  // latest event time it appended there (ticks included), also across restarts; 0 for none.
  int64_t PartitionEventTime(int32_t partition) const;

  // Reference data and principals, for the CLI and the HTTP layer.
  PrincipalRegistry& principals();
  MonitorRegistry& monitors();
  StationDirectory& stations();
  ContestDirectory& contests();
  // The log it appends to (for POST /v1/ticks, which appends ticks beside the inputs).
  store::EventLog& log();
  // Loads stations appended to ref.stations since the last call (after an import).
  Status RefreshStations();
  // Applies what ref.tokens, ref.monitors and ref.stations hold beyond what this node has read
  // (tokens made or revoked, monitors added, stations imported by any process on the log).
  Status RefreshReference();

  // Authenticates `authorization` and checks the principal has `role` (operators pass too).
  Result<Principal> Authorize(std::string_view authorization, Role role);

 private:
  struct Impl;
  explicit Ingestor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ewarn::ingest

namespace ewarn::ingest {

// The short reference of an accepted report (Outcome::reference, SMS replies) from its event id.
std::string ReportReference(std::string_view event_id);

class HttpRouter;

// Registers ingest's HTTP API on `router` (README "HTTP API" and ingest/openapi.yaml):
//   POST /v1/incidents, /v1/hate-speech, /v1/turnout, /v1/kit, /v1/results   JSON, bearer token
//   GET  /v1/sms/kannel?from=&to=&text=&id=&token=               Kannel sms-service; reply in body
//   POST /v1/sms/twilio                                          Twilio webhook form; TwiML reply
//   GET  /v1/rejected?from=&limit=, POST /v1/rejected/{offset}/resubmit   operators
//   POST /v1/ticks {"time":"RFC 3339"} or {"time_ms":N}                  operators: AppendTicks
//   GET  /healthz
// Also answers over-size bodies (413, dead-lettered). `ingestor` must outlive the router.
void AddIngestRoutes(HttpRouter& router, Ingestor& ingestor, uint64_t max_body_bytes);

}  // namespace ewarn::ingest
