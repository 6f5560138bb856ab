// ewarn::readside: what the duty room's queries read (risk and alerts), from one of two places.
//
//   LocalQueries  the stages' committed state on this node (the `risk` and `alerts.by_id`
//                 stores). Complete only where one process owns every partition (the embedded log).
//   ReadModel     built from the `risk` and `alerts` output topics, read from every partition
//                 with the log's group-less reads (no consumer group, so it never takes a
//                 partition from a stage), kept in memory. Every node of a cluster, ingest-only
//                 ones included, builds the same model from the same records, so every node
//                 answers the same; an acknowledgement made through any node is visible on all
//                 of them one poll after the alert stage publishes it.
//
// The read model's risk is the last assessment the `risk` topic carried per subject, and that
// topic carries one each time a subject's level changes: levels are current, scores and factors
// are as of the last level change, and a subject whose level never left low is absent (queries
// answer it as low). Alerts are complete: the `alerts` topic has every lifecycle event, and
// folding them gives the alert stage's own AlertRecord (readside/README.md says how).
//
// Freshest() puts the two together: per subject the newer of the two answers. `ewarn serve` on the
// embedded log uses it (one process, so its own state is the newest; the answers are exactly the
// stages'); on Kafka every node answers from its ReadModel alone, so that every node answers alike.
//
// Thread-safety: every QuerySource method may be called from many threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ewarn/alerts/lifecycle.h"
#include "ewarn/base/status.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"

namespace ewarn::readside {

// What GET /v1/risk and /v1/alerts read. Risk keys and values follow processors::kRiskStore
// (areas under their path, stations under "ward#id"; values are encoded RiskAssessments).
class QuerySource {
 public:
  virtual ~QuerySource() = default;
  // Risk entries whose key starts with `prefix`, in key order, until `fn` returns false.
  virtual Status ScanRisk(std::string_view prefix,
                          const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;
  // The risk entry under `key`, nullopt when there is none.
  virtual Result<std::optional<std::string>> GetRisk(std::string_view key) = 0;
  // Every alert in alert-id order until `fn` returns false.
  virtual Status ScanAlerts(const std::function<bool(const alerts::AlertRecord&)>& fn) = 0;
  // The alert `alert_id`, nullopt when unknown.
  virtual Result<std::optional<alerts::AlertRecord>> ReadAlert(std::string_view alert_id) = 0;
  // Counted result sheets (processors::kResultsStore layout: CountedResultKey(contest, ward path,
  // station) -> an encoded Event holding the ResultSheet that counts, dated with its event time)
  // whose key starts with `prefix`, in key order, until `fn` returns false.
  virtual Status ScanResults(std::string_view prefix,
                             const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;
  // The latest event time known for task partition `partition` (what an acknowledgement made
  // now is dated with, so a simulated clock is not overtaken by the wall clock); 0 when unknown.
  virtual int64_t EventTimeOf(int32_t partition) = 0;
  // OK when answers are complete as far as this source can know; Unavailable while it has not
  // yet read what the log held at its start (answering then would show, say, an acknowledged
  // alert as open).
  virtual Status Ready() = 0;
};

// Queries over the committed state of this node's stages. `state` must outlive the result.
std::unique_ptr<QuerySource> LocalQueries(store::StateStore& state);

// Per subject the newer of `a`'s and `b`'s answers: for risk the later assessment (assessed_ms,
// `a` on a tie), for a counted sheet the later event time (`a` on a tie), for an alert the record with more lifecycle events folded (`a` on a tie); the
// later event time; ready when either is. Both must outlive the result.
std::unique_ptr<QuerySource> Freshest(QuerySource& a, QuerySource& b);

struct ReadModelOptions {
  // How long the reader waits after a pass that found nothing new.
  std::chrono::milliseconds poll_interval{100};
  size_t max_batch = 5000;  // records per Read() call
  // health() turns Unavailable when a read has not come back for this long (all brokers down).
  std::chrono::milliseconds stall_after{3000};
};

class ReadModel final : public QuerySource {
 public:
  // Starts the reader thread: `risk`, `alerts` and `derived.results` (the counted sheets) from
  // offset 0 of every partition, then
  // whatever is appended. Topics that do not exist yet are looked for again on every pass.
  // `log` must outlive the model.
  static std::unique_ptr<ReadModel> Start(store::EventLog& log, ReadModelOptions options = {});
  ~ReadModel() override;  // stops the reader thread
  ReadModel(const ReadModel&) = delete;
  ReadModel& operator=(const ReadModel&) = delete;

  // True once one pass has read every partition to its end without an error.
  bool caught_up() const;
  // OK; Unavailable while a read has hung for options.stall_after, or why the last pass failed
  // (the log unreachable). The next answer clears it. Queries keep answering what is held.
  Status health() const;
  // Records applied so far, and those skipped (undecodable, or a repeat of an alert event).
  int64_t applied() const;
  int64_t skipped() const;
  // True once every record of `tp` before `next_offset` is in the answers (the live feed waits
  // for it, so a browser that reloads on a change reads the change).
  bool HasApplied(const store::TopicPartition& tp, int64_t next_offset) const;

  Status ScanRisk(std::string_view prefix,
                  const std::function<bool(std::string_view key, std::string_view value)>& fn) override;
  Result<std::optional<std::string>> GetRisk(std::string_view key) override;
  Status ScanAlerts(const std::function<bool(const alerts::AlertRecord&)>& fn) override;
  Result<std::optional<alerts::AlertRecord>> ReadAlert(std::string_view alert_id) override;
  // Per station and contest the sheet of the highest version `derived.results` carried (its event
  // id "result:<station>/<contest>/<version>"; a republished older version is ignored).
  Status ScanResults(std::string_view prefix,
                     const std::function<bool(std::string_view key, std::string_view value)>& fn) override;
  // The latest event time of the records read from `risk` partition `partition` (the task's:
  // the station stage forwards a tick there every minute of event time, and acks and silences).
  int64_t EventTimeOf(int32_t partition) override;
  // Unavailable until caught_up().
  Status Ready() override;

  struct Impl;  // read_model.cc only

 private:
  explicit ReadModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ewarn::readside
