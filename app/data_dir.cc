#include "data_dir.h"

#include <filesystem>

#include "ewarn/schemas/events.h"

namespace ewarn::app {

Status RequireDirectory(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    return Status::NotFound(what + " '" + path + "' does not exist");
  }
  return Status::Ok();
}

Result<std::unique_ptr<store::EventLog>> OpenLog(const DataDir& dir, const std::string& kafka_bootstrap,
                                                 bool create) {
  if (!kafka_bootstrap.empty()) {
    return store::OpenKafkaLog({.bootstrap_servers = kafka_bootstrap});
  }
  if (!create) RETURN_IF_ERROR(RequireDirectory(dir.log(), "data directory's log"));
  return store::OpenEmbeddedLog({.dir = dir.log(), .create_if_missing = create});
}

Status EnsureInputTopics(store::EventLog& log, int32_t partitions) {
  namespace topic = schemas::topic;
  RETURN_IF_ERROR(log.CreateTopic({.name = std::string(topic::kInputs), .partitions = partitions}));
  for (auto name : {topic::kStations, topic::kMonitors, topic::kLiaisons}) {
    RETURN_IF_ERROR(log.CreateTopic({.name = std::string(name), .partitions = 1, .compacted = true}));
  }
  return log.CreateTopic({.name = std::string(topic::kRejected), .partitions = 1});
}

}  // namespace ewarn::app
