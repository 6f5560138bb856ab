#include "ingest_setup.h"

#include <cstdlib>
#include <filesystem>

#include "ewarn/schemas/events.h"
#include "key_files.h"

namespace ewarn::app {

Result<std::unique_ptr<IngestNode>> OpenIngestNode(const DataDir& dir, const KafkaConnection& kafka,
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
                                           .allowed_lateness_ms = options.allowed_lateness_ms,
                                           .follow_reference_every = options.follow_reference_every},
                                          partitions, options.metrics));
  return node;
}

Result<std::unique_ptr<ScratchDir>> ScratchDir::Make() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ewarn-view-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Status::IOError("cannot make a scratch directory like " + pattern + " (set TMPDIR to a writable directory)");
  }
  return std::unique_ptr<ScratchDir>(new ScratchDir(pattern));
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Result<ReferenceAccess> OpenReference(const DataDir& dir, const KafkaConnection& kafka, bool create) {
  ReferenceAccess access;
  std::string view_dir;
  if (dir.root.empty()) {
    if (!kafka.enabled()) return Status::InvalidArgument("give --data DIR (the embedded log) or --kafka BROKERS");
    ASSIGN_OR_RETURN(access.scratch, ScratchDir::Make());
    view_dir = access.scratch->path();
  } else {
    if (create) {
      RETURN_IF_ERROR(CreateDataDir(dir));
    } else {
      // Reading commands never make a directory: a typo in --data fails instead of answering
      // "no tokens". (Directories from before ref.tokens may hold DIR/ingest without DIR/log.)
      RETURN_IF_ERROR(RequireDataDir(dir));
      RETURN_IF_ERROR(RequireDirectory(dir.ingest(), "no tokens or monitors yet: ingest state"));
    }
    view_dir = dir.ingest();
  }
  ASSIGN_OR_RETURN(access.log, OpenLog(dir, kafka, /*create=*/true));
  // Synced: with --data the view is the node's own (tokens must survive a crash right after).
  auto state = store::StateStore::Open({.dir = view_dir, .stores = ingest::Ingestor::StoreNames(),
                                        .sync = access.scratch == nullptr});
  if (!state.ok() && state.status().message().find("lock") != std::string::npos) {
    return Status::FailedPrecondition(view_dir + " is in use (is `ewarn serve` running on it? with Kafka, leave out "
                                      "--data): " + state.status().message());
  }
  if (!state.ok()) return state.status();
  access.state = std::move(state).value();
  return access;
}

}  // namespace ewarn::app
