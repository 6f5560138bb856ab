// Placeholder until the Kafka engine lands (helper is writing it).
#include "ewarn/store/event_log.h"
namespace ewarn::store {
Result<std::unique_ptr<EventLog>> OpenKafkaLog(const KafkaLogOptions&) {
  return Status::Internal("kafka engine placeholder");
}
}  // namespace ewarn::store
