// Dead letters as operators read them (GET /v1/rejected): JSON that stays valid whatever bytes
// the refused input held. Pure functions; never throw; fuzzed (ingest/fuzz/fuzz_dead_letter.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ewarn::ingest {

struct RejectedRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t received_ms = 0;
  std::string endpoint, principal, reason_code, reason, field, content_type, raw;
};

// One dead letter as a JSON object: offset, received_ms, endpoint, principal, reason (the code),
// message, field, content_type, and the refused bytes three ways:
//   "raw_base64": exactly the bytes;
//   "raw_utf8":   whether they are well-formed UTF-8;
//   "raw":        when they are, the bytes themselves; otherwise a lossless printable rendering
//                 (EscapeInvalidUtf8: other bytes as \xHH, backslashes doubled).
// Other text fields that are not UTF-8 (a path of a refused request, say) are rendered the same
// way. The answer is always valid UTF-8 and valid JSON.
std::string DeadLetterJson(const RejectedRecord& record);

// {"rejected":[...],"next":N}: a page of dead letters, `next` the offset to ask for after it.
std::string DeadLetterPageJson(const std::vector<RejectedRecord>& records, int64_t next);

}  // namespace ewarn::ingest
