#include "topic_reader.h"

#include <string>
#include <vector>

#include "ewarn/schemas/events.h"

namespace ewarn::sim {

namespace internal {

Status ForEachEvent(store::EventLog& log, std::string_view topic_name, const std::function<void(const v1::Event&)>& visit) {
  const std::string topic(topic_name);
  ASSIGN_OR_RETURN(int32_t partitions, log.PartitionCount(topic));
  for (int32_t p = 0; p < partitions; ++p) {
    for (int64_t from = 0;;) {
      ASSIGN_OR_RETURN(std::vector<store::LogRecord> got, log.Read({topic, p}, from, 10000));
      if (got.empty()) break;
      for (const auto& r : got) {
        auto e = schemas::DecodeEvent(r.value);
        if (!e.ok()) return e.status().WithContext(topic + "/" + std::to_string(p) + " offset " + std::to_string(r.offset));
        visit(*e);
      }
      from = got.back().offset + 1;
    }
  }
  return Status::Ok();
}

}  // namespace internal

}  // namespace ewarn::sim
