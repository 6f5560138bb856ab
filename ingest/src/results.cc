// Result sheets at ingest: decoding a POST /v1/results body, the contest directory, and the
// contest importer.
#include "ewarn/ingest/results.h"

#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

#include "csv.h"
#include "ewarn/schemas/events.h"
#include "result_sheet_json.h"

namespace ewarn::ingest {
namespace {

namespace json = boost::json;

constexpr int64_t kMaxCount = 100'000'000;
constexpr size_t kMaxCode = 64;
constexpr size_t kMaxCandidates = 200;
constexpr size_t kMaxUrl = 2000;
constexpr size_t kMaxProblems = 20;

bool PrintableCode(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return !s.empty();
}

// Reads one object's fields; the first problem wins and names its field (with the prefix).
class SheetFields {
 public:
  SheetFields(const json::object& object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {}
  std::optional<InputError>& error() { return error_; }

  void Fail(std::string code, std::string field, std::string message) {
    if (!error_) error_ = InputError{std::move(code), prefix_ + field, std::move(message)};
  }

  const json::value* Find(std::string_view name) const {
    auto it = object_.find(name);
    return it == object_.end() || it->value().is_null() ? nullptr : &it->value();
  }

  std::string String(std::string_view name, bool required, size_t max_length) {
    const json::value* v = Find(name);
    if (v == nullptr) {
      if (required) Fail("missing_field", std::string(name), std::string(name) + " is required");
      return "";
    }
    if (!v->is_string()) return Fail("bad_type", std::string(name), std::string(name) + " must be a string"), "";
    std::string s(v->as_string().data(), v->as_string().size());
    if (required && s.empty()) Fail("missing_field", std::string(name), std::string(name) + " must not be empty");
    if (s.size() > max_length) {
      Fail("out_of_range", std::string(name),
           std::string(name) + " is longer than " + std::to_string(max_length) + " bytes");
    }
    return s;
  }

  // An integer count 0..max, from `v` (named `field` in errors).
  std::optional<int64_t> Count(const json::value& v, const std::string& field, int64_t max) {
    int64_t n = 0;
    if (v.is_int64()) {
      n = v.as_int64();
    } else if (v.is_uint64()) {
      n = v.as_uint64() > static_cast<uint64_t>(max) ? max + 1 : static_cast<int64_t>(v.as_uint64());
    } else if (v.is_double() && std::isfinite(v.as_double()) && v.as_double() == std::floor(v.as_double()) &&
               std::fabs(v.as_double()) < 9e15) {
      n = static_cast<int64_t>(v.as_double());
    } else {
      return Fail("bad_type", field, field + " must be a whole number"), std::nullopt;
    }
    if (n < 0 || n > max) {
      return Fail("out_of_range", field, field + " must be from 0 to " + std::to_string(max)), std::nullopt;
    }
    return n;
  }

  std::optional<int64_t> OptionalCount(std::string_view name, int64_t max = kMaxCount) {
    const json::value* v = Find(name);
    if (v == nullptr || error_) return std::nullopt;
    return Count(*v, std::string(name), max);
  }

 private:
  const json::object& object_;
  std::string prefix_;
  std::optional<InputError> error_;
};

bool LowerHex(std::string* s) {
  for (char& c : *s) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void DecodeDocument(SheetFields& f, const json::value& value, v1::ResultDocument* doc, const std::string& prefix) {
  if (!value.is_object()) return f.Fail("bad_type", "document", "document must be an object {url, sha256, size}");
  SheetFields d(value.as_object(), prefix + "document.");
  std::string url = d.String("url", true, kMaxUrl);
  if (!d.error() && !url.starts_with("https://") && !url.starts_with("http://")) {
    d.Fail("bad_value", "url", "document.url must be an http(s) URL");
  }
  std::string sha = d.String("sha256", true, 64);
  if (!d.error() && (sha.size() != 64 || !LowerHex(&sha))) {
    d.Fail("bad_value", "sha256", "document.sha256 must be 64 hexadecimal characters (SHA-256)");
  }
  const json::value* size = d.Find("size");
  if (!d.error() && size == nullptr) d.Fail("missing_field", "size", "document.size is required (bytes)");
  std::optional<int64_t> bytes;
  if (!d.error()) bytes = d.Count(*size, "size", int64_t{1} << 40);
  if (!d.error() && *bytes == 0) d.Fail("out_of_range", "size", "document.size must be at least 1 byte");
  if (d.error()) {
    // The inner reader's field already carries the whole prefix.
    InputError e = *d.error();
    f.error() = f.error().value_or(e);
    return;
  }
  doc->set_url(url);
  doc->set_sha256(sha);
  doc->set_size(*bytes);
}

}  // namespace

std::string ContestCode(std::string_view code) {
  size_t b = code.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = code.find_last_not_of(" \t");
  std::string out(code.substr(b, e - b + 1));
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::optional<InputError> DecodeResultSheet(const json::object& object, const std::string& prefix,
                                            v1::ResultSheet* sheet) {
  SheetFields f(object, prefix);
  sheet->set_station_id(f.String("station_id", true, 200));
  std::string contest = f.String("contest", true, kMaxCode);
  if (!f.error() && !PrintableCode(contest)) f.Fail("bad_value", "contest", "contest must be a code without spaces");
  sheet->set_contest(ContestCode(contest));
  sheet->set_sheet_id(f.String("sheet_id", false, 128));

  std::string role = f.String("submitter_role", false, 40);
  if (!f.error()) {
    if (role.empty()) {
      sheet->set_submitter_role(v1::SUBMITTER_ROLE_OBSERVER);  // documented default
    } else if (auto r = schemas::ParseSubmitterRole(role); r.ok()) {
      sheet->set_submitter_role(*r);
    } else {
      f.Fail("bad_value", "submitter_role", r.status().message());
    }
  }

  int64_t total = 0;
  if (const json::value* votes = f.Find("votes"); votes != nullptr && !f.error()) {
    if (!votes->is_object()) {
      f.Fail("bad_type", "votes", "votes must be an object {\"<candidate>\": N, ...}");
    } else if (votes->as_object().empty()) {
      f.Fail("missing_field", "votes", "votes names no candidate; leave it out for a document-only upload");
    } else if (votes->as_object().size() > kMaxCandidates) {
      f.Fail("out_of_range", "votes", "votes names more than " + std::to_string(kMaxCandidates) + " candidates");
    } else {
      std::map<std::string, int64_t> sorted;  // deterministic order on the wire
      for (const auto& [key, value] : votes->as_object()) {
        std::string code = ContestCode(std::string_view(key.data(), key.size()));
        std::string field = "votes." + std::string(key.data(), key.size());
        if (!PrintableCode(code) || code.size() > kMaxCode) {
          f.Fail("bad_value", "votes", "candidate codes are 1-64 characters without spaces");
          break;
        }
        auto n = f.Count(value, field, kMaxCount);
        if (!n) break;
        if (!sorted.emplace(code, *n).second) {
          f.Fail("duplicate_key", field, "candidate " + code + " is named twice in votes");
          break;
        }
        total += *n;
      }
      for (const auto& [code, n] : sorted) {
        auto* v = sheet->add_votes();
        v->set_candidate(code);
        v->set_votes(n);
      }
    }
  }
  if (auto n = f.OptionalCount("registered")) sheet->set_registered(*n);
  if (auto n = f.OptionalCount("accredited")) sheet->set_accredited(*n);
  if (auto n = f.OptionalCount("ballots_issued")) sheet->set_ballots_issued(*n);
  if (auto n = f.OptionalCount("rejected")) sheet->set_rejected(*n);
  if (auto n = f.OptionalCount("blank")) sheet->set_blank(*n);
  if (const json::value* doc = f.Find("document"); doc != nullptr && !f.error()) {
    DecodeDocument(f, *doc, sheet->mutable_document(), prefix);
  }
  if (f.error()) return f.error();
  if (sheet->votes().empty() && !sheet->has_document()) {
    f.Fail("missing_field", "votes", "votes or document is required (a document-only upload has no votes)");
    return f.error();
  }

  // A sheet that cannot be true whatever happened at the station: more votes than ballots
  // issued or than voters registered. (More votes than accredited voters is possible on paper
  // and is the over-voting finding, not a refusal.)
  auto above = [&](std::string_view what, int64_t n, std::string_view limit_name, int64_t limit) {
    f.Fail("out_of_range", std::string(what),
           std::string(what) + " (" + std::to_string(n) + ") exceeds " + std::string(limit_name) + " (" +
               std::to_string(limit) + ")");
  };
  if (!sheet->votes().empty()) {
    if (sheet->has_ballots_issued() && total > sheet->ballots_issued()) {
      above("votes", total, "ballots_issued", sheet->ballots_issued());
    } else if (sheet->has_registered() && total > sheet->registered()) {
      above("votes", total, "registered", sheet->registered());
    }
  }
  if (sheet->has_registered() && sheet->has_ballots_issued() && sheet->ballots_issued() > sheet->registered()) {
    above("ballots_issued", sheet->ballots_issued(), "registered", sheet->registered());
  }
  if (sheet->has_registered() && sheet->has_accredited() && sheet->accredited() > sheet->registered()) {
    above("accredited", sheet->accredited(), "registered", sheet->registered());
  }
  return f.error();
}

Result<std::unique_ptr<ContestDirectory>> ContestDirectory::Make(store::EventLog& log) {
  std::unique_ptr<ContestDirectory> dir(new ContestDirectory());
  RETURN_IF_ERROR(dir->CatchUp(log));
  return dir;
}

Status ContestDirectory::CatchUp(store::EventLog& log) {
  const std::string topic(schemas::topic::kContests);
  auto partitions = log.PartitionCount(topic);
  if (!partitions.ok()) {
    return partitions.status().code() == StatusCode::kNotFound ? Status::Ok() : partitions.status();
  }
  std::unique_lock lk(mu_);
  next_offset_.resize(static_cast<size_t>(*partitions), 0);
  for (int32_t p = 0; p < *partitions; ++p) {
    store::TopicPartition tp{topic, p};
    int64_t& from = next_offset_[static_cast<size_t>(p)];
    while (true) {
      ASSIGN_OR_RETURN(std::vector<store::LogRecord> got, log.Read(tp, from, 10000));
      if (got.empty()) break;
      for (const auto& r : got) {
        auto e = schemas::DecodeEvent(r.value);
        if (!e.ok()) return e.status().WithContext(tp.ToString() + " offset " + std::to_string(r.offset));
        if (!e->has_contest_candidate()) continue;
        const v1::ContestCandidate& c = e->contest_candidate();
        contests_[c.contest()][c.candidate()] = c;
      }
      from = got.back().offset + 1;
    }
  }
  return Status::Ok();
}

std::optional<InputError> ContestDirectory::CheckKnown(const v1::ResultSheet& sheet) const {
  std::shared_lock lk(mu_);
  auto contest = contests_.find(sheet.contest());
  if (contest == contests_.end()) {
    std::string known;
    for (const auto& [name, _] : contests_) known += (known.empty() ? "" : ", ") + name;
    return InputError{"unknown_contest", "contest",
                      "unknown contest '" + sheet.contest() + "'; known: " + (known.empty() ? "none (import them with "
                                                                                               "ewarn import-contests)"
                                                                                             : known)};
  }
  for (const auto& v : sheet.votes()) {
    if (contest->second.count(v.candidate()) != 0) continue;
    std::string known;
    for (const auto& [code, _] : contest->second) known += (known.empty() ? "" : ", ") + code;
    return InputError{"unknown_candidate", "votes." + v.candidate(),
                      "unknown candidate '" + v.candidate() + "' in contest " + sheet.contest() + "; its candidates: " +
                          known};
  }
  return std::nullopt;
}

std::optional<InputError> ContestDirectory::Check(const v1::ResultSheet& sheet, store::EventLog& log) {
  std::optional<InputError> error = CheckKnown(sheet);
  if (!error) return error;
  if (Status s = CatchUp(log); !s.ok()) {
    return InputError{"contests_unavailable", "contest", "the contest list could not be read: " + s.message()};
  }
  return CheckKnown(sheet);
}

std::vector<std::string> ContestDirectory::ContestsWithAll(const v1::ResultSheet& sheet) const {
  std::shared_lock lk(mu_);
  std::vector<std::string> out;
  for (const auto& [name, candidates] : contests_) {
    bool all = true;
    for (const auto& v : sheet.votes()) all = all && candidates.count(v.candidate()) != 0;
    if (all) out.push_back(name);
  }
  return out;
}

std::optional<InputError> ContestDirectory::ResolveContest(v1::ResultSheet* sheet, store::EventLog& log) {
  if (!sheet->contest().empty()) return std::nullopt;
  std::vector<std::string> matching = ContestsWithAll(*sheet);
  if (matching.empty()) {
    if (Status s = CatchUp(log); !s.ok()) {
      return InputError{"contests_unavailable", "contest", "the contest list could not be read: " + s.message()};
    }
    matching = ContestsWithAll(*sheet);
  }
  if (matching.size() == 1) {
    sheet->set_contest(matching[0]);
    return std::nullopt;
  }
  std::string named;
  for (const auto& v : sheet->votes()) named += (named.empty() ? "" : " ") + v.candidate();
  if (matching.empty()) {
    return InputError{"unknown_candidate", "votes", "no contest has all of the candidates " + named};
  }
  std::string which;
  for (const auto& m : matching) which += (which.empty() ? "" : ", ") + m;
  return InputError{"ambiguous_contest", "contest",
                    "candidates " + named + " stand in several contests (" + which +
                        "); name the contest after the station: R <station> <contest> ..."};
}

v1::ResultSheet ResultSheetFromSms(const SmsCommand& command) {
  v1::ResultSheet sheet;
  sheet.set_station_id(command.station_id);
  sheet.set_contest(command.contest);
  sheet.set_submitter_role(v1::SUBMITTER_ROLE_OBSERVER);
  std::map<std::string, int64_t> sorted(command.votes.begin(), command.votes.end());
  for (const auto& [code, n] : sorted) {
    auto* v = sheet.add_votes();
    v->set_candidate(code);
    v->set_votes(n);
  }
  if (command.accredited) sheet.set_accredited(*command.accredited);
  if (command.rejected) sheet.set_rejected(*command.rejected);
  return sheet;
}

std::vector<v1::ContestCandidate> ContestDirectory::Candidates(std::string_view contest) const {
  std::shared_lock lk(mu_);
  std::vector<v1::ContestCandidate> out;
  auto it = contests_.find(contest);
  if (it == contests_.end()) return out;
  for (const auto& [_, c] : it->second) out.push_back(c);
  return out;
}

std::vector<std::string> ContestDirectory::Contests() const {
  std::shared_lock lk(mu_);
  std::vector<std::string> out;
  for (const auto& [name, _] : contests_) out.push_back(name);
  return out;
}

Result<ContestImportSummary> ImportContests(store::EventLog& log, ContestDirectory& directory,
                                            const std::string& path, int64_t now_ms) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read contest file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string data = buffer.str();
  std::string_view view(data);
  if (view.starts_with("\xEF\xBB\xBF")) view.remove_prefix(3);  // UTF-8 BOM

  size_t pos = 0;
  int64_t line = 0;
  std::vector<std::string> fields;
  NextCsvRecord(view, &pos, &fields, &line);
  std::map<std::string, int> at;
  for (size_t i = 0; i < fields.size(); ++i) at[ContestCode(fields[i])] = static_cast<int>(i);
  auto column = [&](const char* name) { return at.count(name) ? at[name] : -1; };
  const int contest_col = column("CONTEST"), candidate_col = column("CANDIDATE"), name_col = column("NAME"),
            party_col = column("PARTY");
  if (contest_col < 0 || candidate_col < 0) {
    return Status::InvalidArgument("'" + path + "': the header lacks column(s) " +
                                   std::string(contest_col < 0 ? "contest " : "") +
                                   (candidate_col < 0 ? "candidate " : "") + "(expected contest,candidate,name,party)");
  }
  auto get = [&](int index) -> std::string {
    if (index < 0 || static_cast<size_t>(index) >= fields.size()) return "";
    std::string_view s = fields[static_cast<size_t>(index)];
    size_t b = s.find_first_not_of(" \t");
    size_t e = s.find_last_not_of(" \t");
    return b == std::string_view::npos ? "" : std::string(s.substr(b, e - b + 1));
  };

  ContestImportSummary summary;
  auto problem = [&](int64_t where, const std::string& what) {
    ++summary.rejected;
    if (summary.problems.size() < kMaxProblems) summary.problems.push_back("line " + std::to_string(where) + ": " + what);
  };
  std::vector<store::OutRecord> records;
  std::set<std::string> seen;
  while (pos < view.size()) {
    int64_t record_line = line + 1;
    NextCsvRecord(view, &pos, &fields, &line);
    if (fields.size() == 1 && get(0).empty()) continue;  // blank line
    ++summary.rows;
    v1::ContestCandidate c;
    c.set_contest(ContestCode(get(contest_col)));
    c.set_candidate(ContestCode(get(candidate_col)));
    c.set_name(get(name_col));
    c.set_party(get(party_col));
    if (c.contest().empty() || c.candidate().empty()) {
      problem(record_line, c.contest().empty() ? "missing contest" : "missing candidate");
      continue;
    }
    if (!PrintableCode(c.contest()) || !PrintableCode(c.candidate()) || c.contest().size() > kMaxCode ||
        c.candidate().size() > kMaxCode) {
      problem(record_line, "contest and candidate codes are 1-64 characters without spaces");
      continue;
    }
    std::string key = c.contest() + "/" + c.candidate();
    if (!seen.insert(key).second) {
      problem(record_line, "duplicate candidate " + key + " (the first one is kept)");
      continue;
    }
    summary.contests.insert(c.contest());
    v1::Event e;
    auto* h = e.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id("contest:" + key);
    h->set_event_time_ms(now_ms);
    h->set_received_time_ms(now_ms);
    h->set_source(v1::SOURCE_OPERATOR);
    h->set_channel("import");
    *e.mutable_contest_candidate() = std::move(c);
    records.push_back({.topic = std::string(schemas::topic::kContests),
                       .key = schemas::RecordKey(e),
                       .value = schemas::EncodeEvent(e),
                       .timestamp_ms = now_ms,
                       .partition = 0});
    ++summary.imported;
  }
  if (records.empty()) {
    std::string why = summary.problems.empty() ? "" : " (" + summary.problems.front() + ")";
    return Status::InvalidArgument("'" + path + "' has no valid contest row" + why);
  }
  const std::string topic(schemas::topic::kContests);
  if (!log.PartitionCount(topic).ok()) {
    RETURN_IF_ERROR(log.CreateTopic({.name = topic, .partitions = 1, .compacted = true}));
  }
  RETURN_IF_ERROR(log.Append(records).status());
  RETURN_IF_ERROR(directory.CatchUp(log));
  return summary;
}

}  // namespace ewarn::ingest
