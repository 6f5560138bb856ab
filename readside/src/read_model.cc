// The read side (read_model.h): local queries over the stages' state, and the read model folded
// from the `risk`, `alerts` and `derived.results` topics by a reader thread.
#include "ewarn/readside/read_model.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "ewarn/base/hash.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/schemas/events.h"

namespace ewarn::readside {
namespace {

class LocalStateQueries final : public QuerySource {
 public:
  explicit LocalStateQueries(store::StateStore& state) : state_(state) {}
  Status ScanRisk(std::string_view prefix,
                  const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return state_.Scan(processors::kRiskStore, prefix, fn);
  }
  Result<std::optional<std::string>> GetRisk(std::string_view key) override {
    return state_.Get(processors::kRiskStore, key);
  }
  Status ScanAlerts(const std::function<bool(const alerts::AlertRecord&)>& fn) override {
    return alerts::ScanAlerts(state_, fn);
  }
  Result<std::optional<alerts::AlertRecord>> ReadAlert(std::string_view alert_id) override {
    return alerts::ReadAlert(state_, alert_id);
  }
  Status ScanResults(std::string_view prefix,
                     const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return state_.Scan(processors::kResultsStore, prefix, fn);
  }
  int64_t EventTimeOf(int32_t partition) override {
    auto t = processors::PartitionEventTime(state_, partition);
    return t.ok() ? *t : 0;  // a store without the station stage's clock knows no time
  }
  Status Ready() override { return Status::Ok(); }  // committed state is all it will ever have

 private:
  store::StateStore& state_;
};

int64_t AssessedMs(std::string_view value) {
  v1::RiskAssessment a;
  return a.ParseFromArray(value.data(), static_cast<int>(value.size())) ? a.assessed_ms() : -1;
}

int64_t EventTimeMs(std::string_view value) {
  v1::Event e;
  return e.ParseFromArray(value.data(), static_cast<int>(value.size())) ? e.header().event_time_ms() : -1;
}

// Merges two key-ordered scans: per key `a`'s value unless `newer(b's, a's)`.
Status MergeScans(const std::function<Status(const std::function<bool(std::string_view, std::string_view)>&)>& scan_a,
                  const std::function<Status(const std::function<bool(std::string_view, std::string_view)>&)>& scan_b,
                  const std::function<bool(std::string_view b, std::string_view a)>& newer,
                  const std::function<bool(std::string_view, std::string_view)>& fn) {
  std::map<std::string, std::string, std::less<>> merged;
  RETURN_IF_ERROR(scan_a([&](std::string_view key, std::string_view value) {
    merged.emplace(key, value);
    return true;
  }));
  RETURN_IF_ERROR(scan_b([&](std::string_view key, std::string_view value) {
    auto [it, fresh] = merged.try_emplace(std::string(key), value);
    if (!fresh && newer(value, it->second)) it->second = value;
    return true;
  }));
  for (const auto& [key, value] : merged) {
    if (!fn(key, value)) break;
  }
  return Status::Ok();
}

class FreshestQueries final : public QuerySource {
 public:
  FreshestQueries(QuerySource& a, QuerySource& b) : a_(a), b_(b) {}

  Status ScanRisk(std::string_view prefix,
                  const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return MergeScans([&](const auto& f) { return a_.ScanRisk(prefix, f); },
                      [&](const auto& f) { return b_.ScanRisk(prefix, f); },
                      [](std::string_view b, std::string_view a) { return AssessedMs(b) > AssessedMs(a); }, fn);
  }
  Status ScanResults(std::string_view prefix,
                     const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return MergeScans([&](const auto& f) { return a_.ScanResults(prefix, f); },
                      [&](const auto& f) { return b_.ScanResults(prefix, f); },
                      [](std::string_view b, std::string_view a) { return EventTimeMs(b) > EventTimeMs(a); }, fn);
  }
  Result<std::optional<std::string>> GetRisk(std::string_view key) override {
    ASSIGN_OR_RETURN(std::optional<std::string> a, a_.GetRisk(key));
    ASSIGN_OR_RETURN(std::optional<std::string> b, b_.GetRisk(key));
    if (a && b) return AssessedMs(*b) > AssessedMs(*a) ? b : a;
    return a ? a : b;
  }
  Status ScanAlerts(const std::function<bool(const alerts::AlertRecord&)>& fn) override {
    std::map<std::string, alerts::AlertRecord> merged;
    RETURN_IF_ERROR(a_.ScanAlerts([&](const alerts::AlertRecord& r) {
      merged.emplace(r.alert.alert_id(), r);
      return true;
    }));
    RETURN_IF_ERROR(b_.ScanAlerts([&](const alerts::AlertRecord& r) {
      auto [it, fresh] = merged.try_emplace(r.alert.alert_id(), r);
      if (!fresh && r.events > it->second.events) it->second = r;
      return true;
    }));
    for (const auto& [id, record] : merged) {
      if (!fn(record)) break;
    }
    return Status::Ok();
  }
  Result<std::optional<alerts::AlertRecord>> ReadAlert(std::string_view alert_id) override {
    ASSIGN_OR_RETURN(std::optional<alerts::AlertRecord> a, a_.ReadAlert(alert_id));
    ASSIGN_OR_RETURN(std::optional<alerts::AlertRecord> b, b_.ReadAlert(alert_id));
    if (a && b) return b->events > a->events ? b : a;
    return a ? a : b;
  }
  int64_t EventTimeOf(int32_t partition) override {
    return std::max(a_.EventTimeOf(partition), b_.EventTimeOf(partition));
  }
  Status Ready() override {
    Status a = a_.Ready();
    return a.ok() ? a : b_.Ready().ok() ? Status::Ok() : a;
  }

 private:
  QuerySource& a_;
  QuerySource& b_;
};

// The n of an alert event id "<alert_id>/<n>"; -1 when it has no such suffix.
int64_t AlertEventNumber(std::string_view event_id) {
  size_t slash = event_id.rfind('/');
  if (slash == std::string_view::npos) return -1;
  int64_t n = -1;
  auto [end, ec] = std::from_chars(event_id.data() + slash + 1, event_id.data() + event_id.size(), n);
  return ec == std::errc() && end == event_id.data() + event_id.size() ? n : -1;
}

}  // namespace

std::unique_ptr<QuerySource> LocalQueries(store::StateStore& state) {
  return std::make_unique<LocalStateQueries>(state);
}

std::unique_ptr<QuerySource> Freshest(QuerySource& a, QuerySource& b) {
  return std::make_unique<FreshestQueries>(a, b);
}

struct ReadModel::Impl {
  Impl(store::EventLog& l, ReadModelOptions o) : log(l), options(o) {}

  store::EventLog& log;
  const ReadModelOptions options;

  mutable std::shared_mutex mu;
  std::map<std::string, std::string, std::less<>> risk;                 // kRiskStore layout
  std::map<std::string, int64_t, std::less<>> risk_assessed;            // key -> assessed_ms
  std::map<std::string, alerts::AlertRecord, std::less<>> alerts_by_id;  // guarded by mu
  // derived.results: CountedResultKey -> (version, encoded Event); guarded by mu
  std::map<std::string, std::pair<int64_t, std::string>, std::less<>> results;
  std::map<int32_t, int64_t> event_time;  // `risk` partition -> latest event time; guarded by mu
  std::map<store::TopicPartition, int64_t> applied_to;  // next offset not yet applied; guarded by mu

  std::map<store::TopicPartition, int64_t> next;  // reader thread only
  int32_t task_partitions = 0;                    // of `risk` (= in.events); reader thread only
  std::atomic<bool> caught_up{false};
  std::atomic<int64_t> applied{0}, skipped{0};
  mutable std::mutex health_mu;
  Status health;  // guarded by health_mu

  // A read that does not come back is how an unreachable Kafka often shows (librdkafka waits
  // for a leader): the time of the last answer, so health() can say so while the read hangs.
  std::atomic<bool> in_pass{false};
  std::atomic<int64_t> last_answer_ms{0};  // steady clock
  static int64_t SteadyMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void Answered() { last_answer_ms = SteadyMs(); }

  std::mutex wake_mu;
  std::condition_variable_any wake;
  std::jthread reader;

  void ApplyRisk(const v1::Event& e) {
    const v1::RiskAssessment& a = e.risk();
    std::string key = a.is_area() ? a.subject_id() : processors::StationRiskKey(a.area(), a.subject_id());
    std::unique_lock lock(mu);
    auto [it, fresh] = risk_assessed.try_emplace(key, a.assessed_ms());
    if (!fresh && a.assessed_ms() < it->second) return;  // a republished older assessment
    it->second = a.assessed_ms();
    risk[key] = schemas::EncodeDeterministic(a);
  }

  // Folds one lifecycle event into the alert's record, as the alert stage builds it: the
  // latest picture, recipients accumulated, state from the kind, times from event time.
  bool ApplyAlert(const v1::Event& e) {
    const v1::AlertEvent& a = e.alert();
    const int64_t n = AlertEventNumber(e.header().event_id());
    const int64_t t = e.header().event_time_ms();
    std::unique_lock lock(mu);
    alerts::AlertRecord& r = alerts_by_id[a.alert_id()];
    if (n >= 0 && n < r.events) return false;  // already folded (a republished record)
    std::set<std::string> recipients(r.alert.recipient_ids().begin(), r.alert.recipient_ids().end());
    recipients.insert(a.recipient_ids().begin(), a.recipient_ids().end());
    if (r.events == 0) r.raised_ms = t;
    r.alert = a;
    r.alert.clear_recipient_ids();
    for (const auto& id : recipients) r.alert.add_recipient_ids(id);
    // The alert task's partition: its district's, as for every input of that district.
    if (task_partitions > 0) r.partition = PartitionForKey(schemas::DistrictKeyOfArea(a.area()), task_partitions);
    r.updated_ms = t;
    r.events = static_cast<int32_t>(n >= 0 ? n + 1 : r.events + 1);
    if (a.kind() == v1::AlertEvent::KIND_ACKNOWLEDGED) {
      r.state = alerts::AlertState::kAcknowledged;
      r.acked_ms = t;
    } else if (a.kind() == v1::AlertEvent::KIND_RESOLVED) {
      r.state = alerts::AlertState::kResolved;
    }
    return true;
  }

  // A counted sheet: kept when its version is above the one held (record key = store key).
  bool ApplyResult(const store::LogRecord& record, const v1::Event& e) {
    const int64_t version = AlertEventNumber(e.header().event_id());  // "result:<station>/<contest>/<version>"
    std::unique_lock lock(mu);
    auto [it, fresh] = results.try_emplace(record.key, version, record.value);
    if (!fresh && version <= it->second.first) return false;  // a republished or older version
    it->second = {version, record.value};
    return true;
  }

  void Apply(const store::TopicPartition& tp, const store::LogRecord& record) {
    auto e = schemas::DecodeEvent(record.value);
    if (e.ok() && tp.topic == schemas::topic::kRisk) {
      std::unique_lock lock(mu);
      int64_t& t = event_time[tp.partition];
      t = std::max(t, e->header().event_time_ms());
    }
    bool used = false;
    if (e.ok() && e->body_case() == v1::Event::kRisk) {
      ApplyRisk(*e);
      used = true;
    } else if (e.ok() && e->body_case() == v1::Event::kAlert) {
      used = ApplyAlert(*e);
    } else if (e.ok() && e->body_case() == v1::Event::kResultSheet && tp.topic == schemas::topic::kCountedResults) {
      used = ApplyResult(record, *e);
    } else if (e.ok()) {
      return;  // the acks, silences and ticks `risk` forwards to the alert stage
    }
    (used ? applied : skipped).fetch_add(1);
  }

  // Reads every partition of the three topics to its end. True when something new was read.
  Result<bool> Pass() {
    bool progressed = false;
    for (std::string_view topic : {schemas::topic::kRisk, schemas::topic::kAlerts, schemas::topic::kCountedResults}) {
      auto partitions = log.PartitionCount(topic);
      if (!partitions.ok() && partitions.status().code() == StatusCode::kNotFound) continue;  // not made yet
      if (!partitions.ok()) return partitions.status();
      if (topic == schemas::topic::kRisk || task_partitions == 0) task_partitions = *partitions;
      for (int32_t p = 0; p < *partitions; ++p) {
        store::TopicPartition tp{std::string(topic), p};
        int64_t& from = next[tp];
        while (true) {
          ASSIGN_OR_RETURN(std::vector<store::LogRecord> records, log.Read(tp, from, options.max_batch));
          Answered();
          for (const auto& r : records) {
            Apply(tp, r);
            from = r.offset + 1;
          }
          if (!records.empty()) {
            std::unique_lock lock(mu);
            applied_to[tp] = from;
          }
          if (!records.empty()) progressed = true;
          if (records.size() < options.max_batch) break;
        }
      }
    }
    return progressed;
  }

  void Run(std::stop_token stop) {
    while (!stop.stop_requested()) {
      Answered();
      in_pass = true;
      Result<bool> pass = Pass();
      in_pass = false;
      {
        std::lock_guard lock(health_mu);
        health = pass.ok() ? Status::Ok() : pass.status().WithContext("read model (risk, alerts)");
      }
      if (pass.ok()) caught_up = true;
      if (pass.ok() && *pass) continue;  // more may be waiting
      std::unique_lock lock(wake_mu);
      wake.wait_for(lock, stop, options.poll_interval, [] { return false; });
    }
  }
};

ReadModel::ReadModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<ReadModel> ReadModel::Start(store::EventLog& log, ReadModelOptions options) {
  std::unique_ptr<ReadModel> model(new ReadModel(std::make_unique<Impl>(log, options)));
  Impl* impl = model->impl_.get();
  impl->reader = std::jthread([impl](std::stop_token stop) { impl->Run(stop); });
  return model;
}

ReadModel::~ReadModel() {
  impl_->reader.request_stop();
  if (impl_->reader.joinable()) impl_->reader.join();
}

bool ReadModel::caught_up() const { return impl_->caught_up; }
int64_t ReadModel::applied() const { return impl_->applied; }
int64_t ReadModel::skipped() const { return impl_->skipped; }

Status ReadModel::health() const {
  const int64_t silent_ms = Impl::SteadyMs() - impl_->last_answer_ms;
  if (impl_->in_pass && silent_ms > impl_->options.stall_after.count()) {
    return Status::Unavailable("read model (risk, alerts): the log has not answered for " +
                               std::to_string(silent_ms / 1000) + " s");
  }
  std::lock_guard lock(impl_->health_mu);
  return impl_->health;
}

Status ReadModel::ScanRisk(std::string_view prefix,
                           const std::function<bool(std::string_view, std::string_view)>& fn) {
  std::shared_lock lock(impl_->mu);
  for (auto it = impl_->risk.lower_bound(prefix); it != impl_->risk.end() && it->first.starts_with(prefix); ++it) {
    if (!fn(it->first, it->second)) break;
  }
  return Status::Ok();
}

Result<std::optional<std::string>> ReadModel::GetRisk(std::string_view key) {
  std::shared_lock lock(impl_->mu);
  auto it = impl_->risk.find(key);
  if (it == impl_->risk.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status ReadModel::ScanAlerts(const std::function<bool(const alerts::AlertRecord&)>& fn) {
  std::shared_lock lock(impl_->mu);
  for (const auto& [id, record] : impl_->alerts_by_id) {
    if (!fn(record)) break;
  }
  return Status::Ok();
}

Result<std::optional<alerts::AlertRecord>> ReadModel::ReadAlert(std::string_view alert_id) {
  std::shared_lock lock(impl_->mu);
  auto it = impl_->alerts_by_id.find(alert_id);
  if (it == impl_->alerts_by_id.end()) return std::optional<alerts::AlertRecord>();
  return std::optional<alerts::AlertRecord>(it->second);
}

Status ReadModel::ScanResults(std::string_view prefix,
                              const std::function<bool(std::string_view, std::string_view)>& fn) {
  std::shared_lock lock(impl_->mu);
  for (auto it = impl_->results.lower_bound(prefix); it != impl_->results.end() && it->first.starts_with(prefix);
       ++it) {
    if (!fn(it->first, it->second.second)) break;
  }
  return Status::Ok();
}

bool ReadModel::HasApplied(const store::TopicPartition& tp, int64_t next_offset) const {
  if (next_offset <= 0) return true;
  std::shared_lock lock(impl_->mu);
  auto it = impl_->applied_to.find(tp);
  return it != impl_->applied_to.end() && it->second >= next_offset;
}

int64_t ReadModel::EventTimeOf(int32_t partition) {
  std::shared_lock lock(impl_->mu);
  auto it = impl_->event_time.find(partition);
  return it == impl_->event_time.end() ? 0 : it->second;
}

Status ReadModel::Ready() {
  if (impl_->caught_up) return Status::Ok();
  Status why = health();
  return Status::Unavailable("the read side is still reading the log's risk and alerts" +
                             (why.ok() ? std::string() : " (" + why.message() + ")"));
}

}  // namespace ewarn::readside
