// Opening a node's ingest side: the ingest state store (DIR/ingest), the pseudonym secret and
// the Ingestor, over the node's log. Shared by `serve` and the offline ingest commands.
#pragma once

#include <memory>
#include <string>

#include "data_dir.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/ingestor.h"

namespace prometheus {
class Registry;
}

namespace ewarn::app {

struct IngestNodeOptions {
  store::EventLog* log = nullptr;  // borrowed; when null the node opens (and owns) the log
  int32_t partitions = 0;          // of in.events when creating it; 0: as it is, else 8
  prometheus::Registry* metrics = nullptr;
  double rate_per_second = 20;
  double rate_burst = 200;
  // The rules' time.allowed_lateness_ms (ingest refuses what processing would drop as late).
  int64_t allowed_lateness_ms = ingest::IngestorOptions{}.allowed_lateness_ms;
};

// Members in destruction order: the ingestor goes before what it uses.
struct IngestNode {
  std::unique_ptr<store::EventLog> owned_log;
  std::unique_ptr<store::StateStore> state;
  SystemClock clock;
  std::unique_ptr<ingest::Ingestor> ingestor;
};

Result<std::unique_ptr<IngestNode>> OpenIngestNode(const DataDir& dir, const std::string& kafka,
                                                   IngestNodeOptions options);

}  // namespace ewarn::app
