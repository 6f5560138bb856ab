// Time for ewarn: milliseconds since the Unix epoch, UTC, as int64.
//
// Processors never read a clock: they take time from events (DESIGN §4). Edges that must stamp
// received_time (ingest, the ticker) get a Clock injected, so tests control it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ewarn/base/status.h"

namespace ewarn {

using TimeMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs NowMs() const = 0;
};

// The system clock. Stateless; safe from any thread.
class SystemClock final : public Clock {
 public:
  TimeMs NowMs() const override;
};

// A clock tests set by hand. Not thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeMs now) : now_(now) {}
  TimeMs NowMs() const override { return now_; }
  void Set(TimeMs now) { now_ = now; }
  void Advance(TimeMs delta) { now_ += delta; }

 private:
  TimeMs now_;
};

// Parses RFC 3339 ("2027-02-25T08:30:00Z", "...T08:30:00.250+01:00"). InvalidArgument otherwise.
Result<TimeMs> ParseRfc3339(std::string_view text);
// Formats as "YYYY-MM-DDTHH:MM:SS.mmmZ".
std::string FormatRfc3339(TimeMs t);

}  // namespace ewarn
