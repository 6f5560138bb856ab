// Reading a whole topic as events: what ReadStations and ReadAnomalies share.
#pragma once

#include <functional>
#include <string_view>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"
#include "ewarn/v1/event.pb.h"

namespace ewarn::sim::internal {

// Calls `visit` for every record of every partition of `topic`, decoded, in partition then
// offset order. NotFound when the topic does not exist; Corruption naming the partition and
// offset of a record that does not decode.
Status ForEachEvent(store::EventLog& log, std::string_view topic, const std::function<void(const v1::Event&)>& visit);

}  // namespace ewarn::sim::internal
