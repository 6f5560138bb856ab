// libFuzzer target: DecodeJsonInput for every endpoint on any bytes: no crash, no leak, and
// exactly one of events or error.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ewarn/ingest/json_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  using ewarn::ingest::InputKind;
  for (InputKind kind : {InputKind::kIncident, InputKind::kHateSpeech, InputKind::kTurnout, InputKind::kKit}) {
    ewarn::ingest::DecodedInput d = ewarn::ingest::DecodeJsonInput(kind, body);
    if (d.error.has_value() == !d.events.empty()) std::abort();
    for (const auto& e : d.events) {
      if (e.header().event_id().empty()) std::abort();
    }
  }
  return 0;
}
