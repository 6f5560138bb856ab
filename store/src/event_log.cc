#include "ewarn/store/event_log.h"

#include "ewarn/base/hash.h"

namespace ewarn::store {

Result<int64_t> EventLog::EnforceRetention(int64_t) {
  return Status::InvalidArgument("retention is enforced by the broker on Kafka (retention.ms)");
}

int32_t EventLog::PartitionOf(const OutRecord& record, int32_t partitions) {
  if (record.partition >= 0) return record.partition;
  return PartitionForKey(record.partition_key.empty() ? record.key : record.partition_key,
                         partitions);
}

}  // namespace ewarn::store
