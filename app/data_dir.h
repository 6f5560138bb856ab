// Where a node's data lives, and opening it: DIR/log (the embedded log, unless --kafka names
// brokers), DIR/state (processor state), DIR/ingest (tokens, idempotency), DIR/secret.
#pragma once

#include <memory>
#include <string>

#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"
#include "flags.h"

namespace ewarn::app {

struct DataDir {
  std::string root;
  std::string log() const { return root + "/log"; }
  std::string state() const { return root + "/state"; }
  std::string ingest() const { return root + "/ingest"; }
  std::string secret() const { return root + "/secret"; }
};

// Kafka as the command line names it: `--kafka BROKERS` and every `--kafka-property KEY=VALUE`
// (librdkafka settings such as security.protocol, applied to every client after ewarn's own).
struct KafkaConnection {
  std::string brokers;  // empty: the embedded log
  std::vector<std::pair<std::string, std::string>> properties;
  bool enabled() const { return !brokers.empty(); }
};

// The two flags, for every command that can use Kafka (they always go together).
inline const FlagSpec kKafkaFlag{"kafka", "HOST:PORT,...",
                                 "use Apache Kafka at these brokers instead of the embedded log", "", false};
inline const FlagSpec kKafkaPropertyFlag{"kafka-property", "KEY=VALUE",
                                         "a librdkafka setting for every Kafka client, e.g. security.protocol=SSL",
                                         "", false, /*repeated=*/true};

// Refuses a --kafka-property that is not KEY=VALUE, that librdkafka does not know or take (the
// error names it), or that comes without --kafka. main() runs it before any command that takes
// the flag, so the commands can read them with KafkaOf.
Status CheckKafkaFlags(const Flags& flags);
KafkaConnection KafkaOf(const Flags& flags);

// Opens the event log: Kafka when `kafka` is enabled, else the embedded log in dir.log(). With
// create=true the data directory is made as CreateDataDir makes it; with create=false a missing
// directory is NotFound naming it and nothing is created.
Result<std::unique_ptr<store::EventLog>> OpenLog(const DataDir& dir, const KafkaConnection& kafka, bool create);


// NotFound (naming the path) when `path` is not an existing directory.
Status RequireDirectory(const std::string& path, const std::string& what);

// For commands that only read a data directory: NotFound naming it when it does not exist.
Status RequireDataDir(const DataDir& dir);

// Makes dir.root if it is missing. Its parent must exist: a typo in --data must fail, not grow
// a new tree of directories (NotFound naming the missing parent). `with_parents`: also make
// missing parents (the demo, which always starts a directory of its own).
Status CreateDataDir(const DataDir& dir, bool with_parents = false);

// Undoes a failed command's mark on a data directory. Construct it before the command creates
// anything; call Keep() once the command succeeded. Otherwise, when the directory did not exist
// or was empty, the destructor removes what was made in it (and the directories it made), so
// the same command can simply be run again. A directory that already held data is left alone.
class NewDataDirGuard {
 public:
  explicit NewDataDirGuard(std::string root);
  ~NewDataDirGuard();
  NewDataDirGuard(const NewDataDirGuard&) = delete;
  NewDataDirGuard& operator=(const NewDataDirGuard&) = delete;
  void Keep() { keep_ = true; }

 private:
  std::string remove_;  // the topmost directory to remove, or "" to remove only root's entries
  std::string root_;
  bool was_empty_ = false;
  bool keep_ = false;
};

}  // namespace ewarn::app
