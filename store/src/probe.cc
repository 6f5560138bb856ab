#include "ewarn/store/probe.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <mutex>

namespace ewarn::store {
namespace {

class InstrumentedLog final : public EventLog {
 public:
  InstrumentedLog(std::unique_ptr<EventLog> inner, prometheus::Registry& r)
      : inner_(std::move(inner)),
        records_(prometheus::BuildCounter()
                     .Name("ewarn_log_appended_records_total")
                     .Help("Records appended durably, by topic")
                     .Register(r)),
        batches_(prometheus::BuildCounter()
                     .Name("ewarn_log_append_batches_total")
                     .Help("Append calls, by outcome")
                     .Register(r)),
        latency_(prometheus::BuildHistogram()
                     .Name("ewarn_log_append_seconds")
                     .Help("Append latency until durable")
                     .Register(r)
                     .Add({}, prometheus::Histogram::BucketBoundaries{
                                  0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
                                  0.25, 1})),
        batch_size_(prometheus::BuildHistogram()
                        .Name("ewarn_log_append_batch_records")
                        .Help("Records per append call")
                        .Register(r)
                        .Add({}, prometheus::Histogram::BucketBoundaries{1, 10, 100, 1000,
                                                                         10000})),
        ok_(batches_.Add({{"outcome", "ok"}})),
        failed_(batches_.Add({{"outcome", "error"}})) {}

  Status CreateTopic(const TopicSpec& spec) override { return inner_->CreateTopic(spec); }
  Result<int32_t> PartitionCount(std::string_view topic) override {
    return inner_->PartitionCount(topic);
  }
  Result<std::vector<Position>> Append(std::span<const OutRecord> records) override {
    auto started = std::chrono::steady_clock::now();
    Result<std::vector<Position>> r = inner_->Append(records);
    Record(TopicRuns(records), records.size(), started, r.ok());
    return r;
  }
  void AppendAsync(std::vector<OutRecord> records, AppendDone done) override {
    // What Record needs of the records, kept aside: the records themselves move into the log.
    auto runs = TopicRuns(records);
    size_t count = records.size();
    auto started = std::chrono::steady_clock::now();
    inner_->AppendAsync(std::move(records), [this, runs = std::move(runs), count, started,
                                             done = std::move(done)](Result<std::vector<Position>> r) {
      Record(runs, count, started, r.ok());
      done(std::move(r));
    });
  }
  Result<std::vector<LogRecord>> Read(const TopicPartition& tp, int64_t from, size_t max) override {
    return inner_->Read(tp, from, max);
  }
  Result<PartitionOffsets> Offsets(const TopicPartition& tp) override { return inner_->Offsets(tp); }
  Result<std::vector<TopicStat>> Stat() override { return inner_->Stat(); }
  Result<std::unique_ptr<Consumer>> Subscribe(const ConsumerOptions& options) override {
    return inner_->Subscribe(options);
  }
  Result<int64_t> EnforceRetention(int64_t now_ms) override {
    return inner_->EnforceRetention(now_ms);
  }
  Result<ClusterTopicSettings> DescribeTopics(const std::vector<std::string>& topics) override {
    return inner_->DescribeTopics(topics);
  }

 private:
  // Consecutive records of one topic, as (topic, how many).
  static std::vector<std::pair<std::string, size_t>> TopicRuns(std::span<const OutRecord> records) {
    std::vector<std::pair<std::string, size_t>> runs;
    for (const auto& rec : records) {
      if (runs.empty() || runs.back().first != rec.topic) runs.emplace_back(rec.topic, 0);
      ++runs.back().second;
    }
    return runs;
  }

  void Record(const std::vector<std::pair<std::string, size_t>>& runs, size_t records,
              std::chrono::steady_clock::time_point started, bool ok) {
    latency_.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    batch_size_.Observe(static_cast<double>(records));
    if (!ok) {
      failed_.Increment();
      return;
    }
    ok_.Increment();
    std::lock_guard lk(mu_);
    for (const auto& [topic, count] : runs) {
      // Family::Add builds and hashes a label map; topics are few, so their counters are kept
      // here (this runs for every append, on the log's commit thread for async ones).
      auto [it, fresh] = topic_counters_.try_emplace(topic);
      if (fresh) it->second = &records_.Add({{"topic", topic}});
      it->second->Increment(static_cast<double>(count));
    }
  }

  std::unique_ptr<EventLog> inner_;
  std::mutex mu_;  // guards topic_counters_
  std::map<std::string, prometheus::Counter*, std::less<>> topic_counters_;
  prometheus::Family<prometheus::Counter>& records_;
  prometheus::Family<prometheus::Counter>& batches_;
  prometheus::Histogram& latency_;
  prometheus::Histogram& batch_size_;
  prometheus::Counter& ok_;
  prometheus::Counter& failed_;
};

}  // namespace

std::unique_ptr<EventLog> WithMetrics(std::unique_ptr<EventLog> log, prometheus::Registry& registry) {
  return std::make_unique<InstrumentedLog>(std::move(log), registry);
}

}  // namespace ewarn::store
