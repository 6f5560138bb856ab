#include "ingest_setup.h"

#include "ewarn/schemas/events.h"

namespace ewarn::app {

Result<std::unique_ptr<IngestNode>> OpenIngestNode(const DataDir& dir, const std::string& kafka,
                                                   IngestNodeOptions options) {
  auto node = std::make_unique<IngestNode>();
  ASSIGN_OR_RETURN(std::string secret, LoadOrCreateSecret(dir));
  store::EventLog* log = options.log;
  if (log == nullptr) {
    ASSIGN_OR_RETURN(node->owned_log, OpenLog(dir, kafka, /*create=*/true));
    log = node->owned_log.get();
  }
  int32_t partitions = options.partitions;
  if (partitions <= 0) {
    auto existing = log->PartitionCount(schemas::topic::kInputs);
    partitions = existing.ok() ? *existing : 8;
  }
  // Unsynced: the idempotency index and station directory are rebuilt from the (synced) log
  // after a crash; tokens and monitors ask for durable commits themselves.
  auto state = store::StateStore::Open(
      {.dir = dir.ingest(), .stores = ingest::Ingestor::StoreNames(), .sync = false});
  if (!state.ok()) {
    return state.status().WithContext("ingest state in " + dir.ingest() + " (is another ewarn using it?)");
  }
  node->state = std::move(state).value();
  ASSIGN_OR_RETURN(node->ingestor,
                   ingest::Ingestor::Make(*log, *node->state, node->clock,
                                          {.pseudonym_secret = secret,
                                           .rate_per_second = options.rate_per_second,
                                           .rate_burst = options.rate_burst,
                                           .allowed_lateness_ms = options.allowed_lateness_ms},
                                          partitions, options.metrics));
  return node;
}

}  // namespace ewarn::app
