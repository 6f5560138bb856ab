#include "ewarn/ingest/dead_letters.h"

#include "ewarn/base/text.h"

namespace ewarn::ingest {
// JsonQuote renders text that is not UTF-8 as EscapeInvalidUtf8 does, so every field stays valid.
std::string DeadLetterJson(const RejectedRecord& d) {
  const bool utf8 = IsValidUtf8(d.raw);
  return "{\"offset\":" + std::to_string(d.offset) + ",\"received_ms\":" + std::to_string(d.received_ms) +
         ",\"endpoint\":" + JsonQuote(d.endpoint) + ",\"principal\":" + JsonQuote(d.principal) +
         ",\"reason\":" + JsonQuote(d.reason_code) + ",\"message\":" + JsonQuote(d.reason) +
         ",\"field\":" + JsonQuote(d.field) + ",\"content_type\":" + JsonQuote(d.content_type) +
         ",\"raw\":" + (utf8 ? JsonQuote(d.raw) : JsonQuote(EscapeInvalidUtf8(d.raw))) +
         ",\"raw_utf8\":" + (utf8 ? "true" : "false") + ",\"raw_base64\":\"" + Base64Encode(d.raw) + "\"}";
}

std::string DeadLetterPageJson(const std::vector<RejectedRecord>& records, int64_t next) {
  std::string body = "{\"rejected\":[";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0) body += ",";
    body += DeadLetterJson(records[i]);
  }
  return body + "],\"next\":" + std::to_string(next) + "}";
}

}  // namespace ewarn::ingest
