// An alert's history as the duty room shows it: every lifecycle event of topic `alerts` for
// one alert id, oldest first (the HTTP face of `ewarn alerts history`).
#pragma once

#include <string>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"

namespace ewarn::app {

// {"alert_id":ID,"history":[{"time","kind","level","tier","recipient_ids","deadline","actor",
// "note","silenced"}...]}. NotFound when the topic holds no event of the alert.
Result<std::string> AlertHistoryJson(store::EventLog& log, const std::string& alert_id);

}  // namespace ewarn::app
