// The ewarn CLI's subcommands. Each returns the process exit code: 0 success, 1 a failure
// reported on stderr, 2 a usage error.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ewarn/ingest/ingestor.h"
#include "ewarn/store/event_log.h"
#include "flags.h"

namespace ewarn::app {

struct Command {
  std::vector<std::string> words;  // e.g. {"log", "stat"}
  std::string summary;
  std::vector<FlagSpec> flags;
  std::string positional;          // usage text for positional arguments, if any
  std::function<int(const Flags&)> run;
  // For a command that reads a data directory but takes no --kafka: why not. Shown by --help,
  // and as the error when --kafka is given anyway.
  std::string without_kafka = "";
};

std::vector<Command> FoundationCommands();  // serve, log stat, digest, replay
std::vector<Command> IngestCommands();      // token, monitor, import-stations, rejected
std::vector<Command> AlertCommands();       // liaison add, alerts history, alerts list
std::vector<Command> SimCommands();         // simulate, evaluate
std::vector<Command> AreaCommands();        // import-areas, import-hours
std::vector<Command> ResultsCommands();     // import-contests, pvt-sample
std::vector<Command> ClusterCommands();     // topics create|check, dev-kafka

// Registers a liaison: appends it to ref.liaisons and creates its `liaison` token (named by its
// liaison id, for its area). Returns the token and the ref.liaisons offset. AlreadyExists when
// the name has an active token.
Result<std::pair<std::string, int64_t>> RegisterLiaison(ingest::PrincipalRegistry& principals, store::EventLog& log,
                                                        const v1::Liaison& liaison, int64_t now_ms);

// Prints "ewarn <command>: <status>" to stderr and returns 1.
int Fail(const std::string& command, const Status& status);

}  // namespace ewarn::app
