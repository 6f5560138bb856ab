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
  double rate_per_second = 20;  // a monitor's
  double rate_burst = 200;
  double gateway_rate_per_second = ingest::IngestorOptions{}.gateway_rate_per_second;  // gateways', operators'
  double gateway_rate_burst = ingest::IngestorOptions{}.gateway_rate_burst;
  // The rules' time.allowed_lateness_ms (ingest refuses what processing would drop as late).
  int64_t allowed_lateness_ms = ingest::IngestorOptions{}.allowed_lateness_ms;
  // IngestorOptions::follow_reference_every: nodes follow tokens, monitors and stations.
  std::chrono::milliseconds follow_reference_every{0};
};

// Members in destruction order: the ingestor goes before what it uses.
struct IngestNode {
  std::unique_ptr<store::EventLog> owned_log;
  std::unique_ptr<store::StateStore> state;
  SystemClock clock;
  std::unique_ptr<ingest::Ingestor> ingestor;
};

Result<std::unique_ptr<IngestNode>> OpenIngestNode(const DataDir& dir, const KafkaConnection& kafka,
                                                   IngestNodeOptions options);

// A directory of its own under $TMPDIR (or /tmp), removed with everything in it on destruction.
class ScratchDir {
 public:
  static Result<std::unique_ptr<ScratchDir>> Make();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// What the reference commands (token, monitor add, liaison add, import-stations) change: the
// log that holds ref.tokens, ref.monitors, ref.liaisons and ref.stations, and a view of them in
// ingest's stores. With --data DIR, the view is DIR/ingest and the log DIR/log (or Kafka with
// --kafka); with --kafka and no --data, the view is a scratch directory (read from the topics,
// removed at exit), so nothing is left on the machine that ran the command.
// Members in destruction order.
struct ReferenceAccess {
  std::unique_ptr<ScratchDir> scratch;
  std::unique_ptr<store::EventLog> log;
  std::unique_ptr<store::StateStore> state;
};

// `create`: a --data directory may be created (commands that write); else it must hold ingest
// state already. InvalidArgument when neither --data nor --kafka is given.
Result<ReferenceAccess> OpenReference(const DataDir& dir, const KafkaConnection& kafka, bool create);

}  // namespace ewarn::app
