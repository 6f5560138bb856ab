// libFuzzer target: ParseSms on any bytes must not crash, leak or trip a sanitizer, and every
// error must carry a reply for the sender.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ewarn/ingest/sms.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = ewarn::ingest::ParseSms(text);
  if (auto* error = std::get_if<ewarn::ingest::SmsError>(&parsed)) {
    if (error->reply.empty() || error->reason_code.empty()) std::abort();
  } else {
    const auto& cmd = std::get<ewarn::ingest::SmsCommand>(parsed);
    if (cmd.kind != ewarn::ingest::SmsCommand::Kind::kHelp && cmd.station_id.empty()) std::abort();
    if (cmd.kind == ewarn::ingest::SmsCommand::Kind::kIncident && (cmd.severity < 1 || cmd.severity > 5)) std::abort();
  }
  return 0;
}
