// Decoding JSON submissions (POST /v1/incidents, /v1/hate-speech, /v1/turnout, /v1/kit, /v1/results) into
// ewarn.v1 events. Pure functions: no I/O, never throw, safe on any bytes (fuzzed).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ewarn/v1/event.pb.h"

namespace ewarn::ingest {

enum class InputKind { kIncident, kHateSpeech, kTurnout, kKit, kResult };

// What is wrong with a submission: answered as 400 {"error": message, "field": field}.
struct InputError {
  std::string reason_code;  // stable: bad_json, missing_field, bad_type, out_of_range, bad_value,
                            // unknown_category, bad_time, batch_too_large, duplicate_key
  std::string field;        // "severity"; "[3].battery_pct" in a batch; "" for the whole body
  std::string message;      // for a person: what is wrong and what is expected
};

struct DecodedInput {
  std::vector<v1::Event> events;     // empty when error is set
  std::optional<InputError> error;
};

// A batch (POST /v1/kit, /v1/turnout with an array) holds at most this many reports.
inline constexpr size_t kMaxBatch = 1000;
inline constexpr size_t kMaxKitBatch = kMaxBatch;
// A place name for geocoding (JSON "place", SMS text after '@'): a name, not a description.
inline constexpr size_t kMaxPlaceBytes = 120;

// Decodes one JSON object (kit and turnout: also an array of up to kMaxBatch objects,
// all-or-nothing). An object that repeats a key is refused (duplicate_key, the key named).
// Sets header.event_id, header.event_time_ms (from occurred_at) and the body; the caller sets
// everything else. An incident's optional "place" (at most kMaxPlaceBytes) becomes
// IncidentReport.place_text. Unknown fields are ignored, so clients may send more than this version
// reads (forward compatibility).
DecodedInput DecodeJsonInput(InputKind kind, std::string_view body);

// One element of a batch answered per element: its own JSON text (what a refusal keeps in
// dlq.rejected) and its event, or what is wrong with it (fields without an index prefix).
struct DecodedElement {
  std::string raw;
  v1::Event event;
  std::optional<InputError> error;
};

struct DecodedBatch {
  std::vector<DecodedElement> elements;  // empty when error is set
  std::optional<InputError> error;       // the body as a whole: not JSON, a repeated key, not 1..kMaxBatch
};

// Does the body hold a JSON array (its first character past white space is '[')?
bool IsJsonArray(std::string_view body);
// Decodes a JSON array of 1 to kMaxBatch reports, each element on its own: one bad element
// leaves the others whole (POST /v1/turnout answers per element).
DecodedBatch DecodeJsonBatch(InputKind kind, std::string_view body);

}  // namespace ewarn::ingest
