// Result sheets at ingest: the contests they are checked against (ref.contests) and the
// checks themselves (README "Results").
//
// Contests are reference data: a CSV `contest,candidate,name,party` imported into
// ref.contests (`ewarn import-contests`). The directory is a view of that topic held in memory
// (contests are a few dozen rows, not a million): built at start and caught up whenever a
// sheet names a contest or candidate it does not know yet, so an import reaches a running
// server without a restart.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/ingest/json_input.h"
#include "ewarn/ingest/sms.h"
#include "ewarn/store/event_log.h"
#include "ewarn/v1/event.pb.h"

namespace ewarn::ingest {

// A contest or candidate code as stored and compared: trimmed, upper case ASCII.
std::string ContestCode(std::string_view code);

class ContestDirectory {
 public:
  // Reads ref.contests from the start (an absent topic is an empty directory).
  static Result<std::unique_ptr<ContestDirectory>> Make(store::EventLog& log);
  // Applies ref.contests records appended since the last catch-up.
  Status CatchUp(store::EventLog& log);

  // The sheet's contest and every candidate it names are known: else unknown_contest (field
  // "contest") or unknown_candidate (field "votes.<code>"), naming the code and what is known.
  // Catches up from `log` once before refusing, so a contest imported since is found.
  std::optional<InputError> Check(const v1::ResultSheet& sheet, store::EventLog& log);

  // A sheet without a contest (the SMS form may leave it out) gets the one contest whose
  // candidates include every candidate it names; unknown_candidate when none does, or
  // ambiguous_contest (naming them) when several do. Catches up once before refusing.
  std::optional<InputError> ResolveContest(v1::ResultSheet* sheet, store::EventLog& log);

  // The candidates of a contest, by code (empty when unknown).
  std::vector<v1::ContestCandidate> Candidates(std::string_view contest) const;
  std::vector<std::string> Contests() const;

 private:
  ContestDirectory() = default;
  std::optional<InputError> CheckKnown(const v1::ResultSheet& sheet) const;
  std::vector<std::string> ContestsWithAll(const v1::ResultSheet& sheet) const;

  mutable std::shared_mutex mu_;  // guards the two below
  std::map<std::string, std::map<std::string, v1::ContestCandidate>, std::less<>> contests_;
  std::vector<int64_t> next_offset_;  // per partition of ref.contests
};

// The observer's sheet an SMS "R ..." describes (submitter observer, no document).
v1::ResultSheet ResultSheetFromSms(const SmsCommand& command);

struct ContestImportSummary {
  int64_t rows = 0;
  int64_t imported = 0;
  int64_t rejected = 0;
  std::set<std::string> contests;      // the contests the file names
  std::vector<std::string> problems;   // the first few, "line 4: missing candidate"
};

// Reads a contest CSV (header contest,candidate,name,party; name and party optional), appends
// every valid row to ref.contests (creating the topic if missing), then catches `directory` up.
// IOError naming the path when unreadable; InvalidArgument naming missing header columns, or
// when no row is valid.
Result<ContestImportSummary> ImportContests(store::EventLog& log, ContestDirectory& directory,
                                            const std::string& path, int64_t now_ms);

}  // namespace ewarn::ingest
