#include "ewarn/processors/runtime.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <set>

#include "../testing/counting_processor.h"
#include "ewarn_testing.h"

namespace ewarn::processors {
namespace {

using namespace std::chrono_literals;
using testing::CountingProcessor;
using testing::kCountsStore;
using testing::kSummaryTopic;
using testing::MakeIncident;

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = std::move(store::OpenEmbeddedLog({.dir = dir_.Sub("log")})).value();
    ASSERT_TRUE(log_->CreateTopic({.name = "in.events", .partitions = 3}).ok());
    ASSERT_TRUE(log_->CreateTopic({.name = std::string(kSummaryTopic), .partitions = 3}).ok());
    OpenState();
  }
  void OpenState() {
    state_.reset();
    state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("state"),
                                                .stores = {std::string(kCountsStore),
                                                           std::string(kSeenStore)}}))
                 .value();
  }
  void AppendIncidents(int from, int to) {
    std::vector<store::OutRecord> recs;
    for (int i = from; i < to; ++i) {
      std::string station = "st-" + std::to_string(i % 7);
      v1::Event e = MakeIncident("ev-" + std::to_string(i), station, 1 + i % 5, 1000 + i);
      recs.push_back({.topic = "in.events", .key = station, .value = schemas::EncodeEvent(e),
                      .timestamp_ms = 1000 + i});
    }
    ASSERT_TRUE(log_->Append(recs).ok());
  }
  std::unique_ptr<TaskRuntime> MakeRuntime(
      prometheus::Registry* registry = nullptr,
      RuntimeOptions::Dedupe dedupe = RuntimeOptions::Dedupe::kByEventId, int apply_threads = 1) {
    auto rt = TaskRuntime::Make(
        *log_, *state_, [](int32_t) { return std::make_unique<CountingProcessor>(); },
        {.input_topic = "in.events",
         .stores = {std::string(kCountsStore)},
         .max_batch = 7,  // small batches: many polls, several commits
         .commit_every_records = 20,
         .dedupe = dedupe,
         .apply_threads = apply_threads},
        registry);
    EXPECT_TRUE(rt.ok()) << rt.status().ToString();
    return rt.ok() ? std::move(rt).value() : nullptr;
  }
  std::string Count(const std::string& station) {
    auto v = state_->Get(kCountsStore, station);
    return v.ok() && v->has_value() ? **v : "";
  }
  int64_t Messages(const std::string& topic) {
    Result<std::vector<store::TopicStat>> stat = log_->Stat();
    for (const auto& t : *stat) {
      if (t.name == topic) return t.Messages();
    }
    return -1;
  }

  ewarn::testing::TempDir dir_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
};

TEST_F(RuntimeTest, ProcessesEveryPartitionAndPublishesOutputs) {
  AppendIncidents(0, 70);  // 10 incidents per station
  prometheus::Registry registry;
  auto rt = MakeRuntime(&registry);
  ASSERT_NE(rt, nullptr);
  ASSERT_TRUE(rt->RunUntilCaughtUp(10s).ok());
  EXPECT_EQ(rt->stats().processed, 70);
  // Station 0 got incidents 0,7,...,63: severities 1+i%5 weighted by position.
  int64_t sum = 0;
  for (int k = 0; k < 10; ++k) sum += (1 + (7 * k) % 5) * (k + 1);
  EXPECT_EQ(Count("st-0"), "10:" + std::to_string(sum));
  EXPECT_EQ(Messages(std::string(kSummaryTopic)), 14);  // 2 summaries per station
  EXPECT_GT(rt->stats().commits, 1);
  EXPECT_EQ(*state_->CommittedOffset({"in.events", 0}),
            log_->Offsets({"in.events", 0})->end);
}

TEST_F(RuntimeTest, HelperThreadsDeriveTheSameStateOutputsAndOffsets) {
  AppendIncidents(0, 70);
  prometheus::Registry registry;
  auto rt = MakeRuntime(&registry, RuntimeOptions::Dedupe::kByEventId, 3);  // a thread per partition
  ASSERT_NE(rt, nullptr);
  ASSERT_TRUE(rt->RunUntilCaughtUp(10s).ok());
  EXPECT_EQ(rt->stats().processed, 70);
  int64_t sum = 0;
  for (int k = 0; k < 10; ++k) sum += (1 + (7 * k) % 5) * (k + 1);
  EXPECT_EQ(Count("st-0"), "10:" + std::to_string(sum));  // order kept within the partition
  EXPECT_EQ(Messages(std::string(kSummaryTopic)), 14);
  for (int32_t p = 0; p < 3; ++p) {
    EXPECT_EQ(*state_->CommittedOffset({"in.events", p}), log_->Offsets({"in.events", p})->end);
  }
  // More input, and a restart with a different thread count: the same as one thread throughout.
  AppendIncidents(70, 140);
  rt.reset();  // one member per group
  rt = MakeRuntime(nullptr, RuntimeOptions::Dedupe::kByEventId, 2);
  ASSERT_NE(rt, nullptr);
  ASSERT_TRUE(rt->RunUntilCaughtUp(10s).ok());
  EXPECT_EQ(rt->stats().processed, 70);
  for (int k = 10; k < 20; ++k) sum += (1 + (7 * k) % 5) * (k + 1);
  EXPECT_EQ(Count("st-0"), "20:" + std::to_string(sum));
  EXPECT_EQ(Messages(std::string(kSummaryTopic)), 28);
}

// Fails on one event: whatever thread applies it, nothing from then on is committed.
class FailingProcessor final : public Processor {
 public:
  Status Process(const v1::Event& event, const RecordContext&, TaskState& state) override {
    if (event.header().event_id() == "ev-40") return Status::Internal("disk on fire");
    state.Put(kCountsStore, event.header().event_id(), "seen");
    return Status::Ok();
  }
};

TEST_F(RuntimeTest, AFailureOnAHelperThreadStopsTheRuntimeUncommitted) {
  AppendIncidents(0, 70);
  auto rt = TaskRuntime::Make(
      *log_, *state_, [](int32_t) { return std::make_unique<FailingProcessor>(); },
      {.input_topic = "in.events", .stores = {std::string(kCountsStore)}, .max_batch = 7,
       .commit_every_records = 20, .apply_threads = 3},
      nullptr);
  ASSERT_TRUE(rt.ok()) << rt.status().ToString();
  Status st = (*rt)->RunUntilCaughtUp(10s);
  EXPECT_NE(st.message().find("disk on fire"), std::string::npos) << st.ToString();
  EXPECT_FALSE((*rt)->Commit().ok());  // sticky: the failed task's memory is not committed
  rt->reset();
  // ev-40's partition committed nothing at or past it.
  int32_t partition = -1;
  int64_t offset = -1;
  for (int32_t p = 0; p < 3 && partition < 0; ++p) {
    auto recs = log_->Read({"in.events", p}, 0, 100);
    ASSERT_TRUE(recs.ok());
    for (const auto& r : *recs) {
      if (schemas::DecodeEvent(r.value)->header().event_id() == "ev-40") partition = p, offset = r.offset;
    }
  }
  ASSERT_GE(partition, 0);
  Result<std::optional<int64_t>> committed = state_->CommittedOffset({"in.events", partition});
  ASSERT_TRUE(committed.ok());
  EXPECT_LE(committed->value_or(0), offset);
  EXPECT_EQ(Count("ev-40"), "");
}

// Keeps a count in memory and writes it only in Flush, as the station stage keeps its state;
// every event first reads the stored count, which must be the last commit's even while that
// commit is still being written on the committer thread.
class FlushingProcessor final : public Processor {
 public:
  explicit FlushingProcessor(int32_t partition) : key_("flushed-" + std::to_string(partition)) {}
  Status Process(const v1::Event&, const RecordContext&, TaskState& state) override {
    ASSIGN_OR_RETURN(std::optional<std::string> stored, state.Get(kCountsStore, key_));
    if (stored.value_or("") != flushed_) {
      return Status::Internal("read '" + stored.value_or("") + "', the last commit wrote '" + flushed_ + "'");
    }
    ++count_;
    return Status::Ok();
  }
  Status Flush(TaskState& state) override {
    state.Put(kCountsStore, key_, "replaced");  // the Write below is the key's last word
    flushed_ = std::to_string(count_);
    state.Write(kCountsStore, key_, flushed_);
    return Status::Ok();
  }

 private:
  std::string key_, flushed_;
  int64_t count_ = 0;
};

class FlushTest : public RuntimeTest, public ::testing::WithParamInterface<int> {};

TEST_P(FlushTest, FlushWritesAreCommittedAndReadBackAfterTheCommit) {
  AppendIncidents(0, 140);
  auto rt = TaskRuntime::Make(
      *log_, *state_, [](int32_t p) { return std::make_unique<FlushingProcessor>(p); },
      {.input_topic = "in.events", .stores = {std::string(kCountsStore)}, .max_batch = 7, .commit_every_records = 20,
       .apply_threads = GetParam()},
      nullptr);
  ASSERT_TRUE(rt.ok()) << rt.status().ToString();
  Status st = (*rt)->RunUntilCaughtUp(10s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_GT((*rt)->stats().commits, 3);
  int64_t total = 0;
  for (int p = 0; p < 3; ++p) {
    std::string c = Count("flushed-" + std::to_string(p));
    ASSERT_FALSE(c.empty());
    total += std::stoll(c);
  }
  EXPECT_EQ(total, 140);
}

INSTANTIATE_TEST_SUITE_P(ApplyThreads, FlushTest, ::testing::Values(1, 2, 3));

TEST_F(RuntimeTest, ResumesFromCommittedOffsetsWithoutDoubleCounting) {
  AppendIncidents(0, 35);
  {
    auto rt = MakeRuntime();
    ASSERT_TRUE(rt->RunUntilCaughtUp(10s).ok());
  }
  AppendIncidents(35, 70);
  auto rt = MakeRuntime();
  ASSERT_TRUE(rt->RunUntilCaughtUp(10s).ok());
  EXPECT_EQ(rt->stats().processed, 35);
  EXPECT_EQ(Count("st-3").substr(0, 3), "10:");
  EXPECT_EQ(Messages(std::string(kSummaryTopic)), 14);
}

TEST_F(RuntimeTest, DropsRepeatedEventIds) {
  AppendIncidents(0, 14);
  AppendIncidents(0, 14);  // a producer retry: same ids again
  auto rt = MakeRuntime();
  ASSERT_TRUE(rt->RunUntilCaughtUp(10s).ok());
  EXPECT_EQ(rt->stats().processed, 14);
  EXPECT_EQ(rt->stats().duplicates, 14);
  EXPECT_EQ(Count("st-1").substr(0, 2), "2:");
}

TEST_F(RuntimeTest, ByOriginModeTrustsProducersOfRawInputs) {
  AppendIncidents(0, 14);
  AppendIncidents(0, 14);
  auto rt = MakeRuntime(nullptr, RuntimeOptions::Dedupe::kByOrigin);
  ASSERT_TRUE(rt->RunUntilCaughtUp(10s).ok());
  EXPECT_EQ(rt->stats().processed, 28);  // ingest, not the runtime, keeps raw ids unique
}

// Counts derived events per key: a downstream stage reading what CountingProcessor wrote.
class DownstreamCounter final : public Processor {
 public:
  Status Process(const v1::Event& event, const RecordContext&, TaskState& state) override {
    std::string key = event.anomaly().subject_id();
    ASSIGN_OR_RETURN(std::optional<std::string> prev, state.Get(kCountsStore, "down/" + key));
    state.Put(kCountsStore, "down/" + key, std::to_string(prev ? std::stoi(*prev) + 1 : 1));
    return Status::Ok();
  }
};

TEST_F(RuntimeTest, DownstreamDropsARepublishedOutboxByOrigin) {
  AppendIncidents(0, 70);
  {
    auto rt = MakeRuntime();
    ASSERT_TRUE(rt->RunUntilCaughtUp(10s).ok());
  }
  // A crash after publishing but before MarkPublished republishes outputs: simulate it by
  // appending every summary again (same bytes, same origin).
  std::vector<store::OutRecord> again;
  for (int32_t p = 0; p < 3; ++p) {
    auto recs = log_->Read({std::string(kSummaryTopic), p}, 0, 100);
    ASSERT_TRUE(recs.ok());
    for (auto& r : *recs) {
      again.push_back({.topic = r.topic, .key = r.key, .value = r.value, .partition = p});
    }
  }
  ASSERT_EQ(again.size(), 14u);
  ASSERT_TRUE(log_->Append(again).ok());
  auto down = TaskRuntime::Make(
      *log_, *state_, [](int32_t) { return std::make_unique<DownstreamCounter>(); },
      {.group = "downstream", .input_topic = std::string(kSummaryTopic),
       .stores = {std::string(kCountsStore)}, .dedupe = RuntimeOptions::Dedupe::kByOrigin},
      nullptr);
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  ASSERT_TRUE((*down)->RunUntilCaughtUp(10s).ok());
  EXPECT_EQ((*down)->stats().processed, 14);
  EXPECT_EQ((*down)->stats().duplicates, 14);
  EXPECT_EQ(Count("down/st-0"), "2");
}

TEST_F(RuntimeTest, BadRecordsGoToTheDeadLetterTopicWithWhereAndWhy) {
  v1::Event bad = MakeIncident("bad-1", "st-1", 9, 1000);
  std::vector<store::OutRecord> recs = {
      {.topic = "in.events", .key = "st-1", .value = "not a protobuf \xff\xff", .partition = 0},
      {.topic = "in.events", .key = "st-1", .value = schemas::EncodeEvent(bad), .partition = 0}};
  ASSERT_TRUE(log_->Append(recs).ok());
  AppendIncidents(0, 7);
  auto rt = MakeRuntime();
  ASSERT_TRUE(rt->RunUntilCaughtUp(10s).ok());
  EXPECT_EQ(rt->stats().skipped, 2);
  EXPECT_EQ(rt->stats().processed, 7);  // the partition did not stall
  auto dlq = log_->Read({std::string(kProcessingDlqTopic), 0}, 0, 10);
  ASSERT_TRUE(dlq.ok());
  ASSERT_EQ(dlq->size(), 2u);
  v1::Event first = *schemas::DecodeEvent((*dlq)[0].value);
  EXPECT_EQ(first.rejected().raw(), "not a protobuf \xff\xff");
  EXPECT_NE(first.rejected().reason().find("in.events/0 offset 0"), std::string::npos)
      << first.rejected().reason();
  EXPECT_EQ(first.rejected().reason_code(), "corrupt_record");
  v1::Event second = *schemas::DecodeEvent((*dlq)[1].value);
  EXPECT_NE(second.rejected().reason().find("severity 9 is not 1..5"), std::string::npos);
}

TEST_F(RuntimeTest, OutboxLeftByACrashIsPublishedOnStart) {
  // A commit whose outputs never reached the log (the process died right after committing).
  store::CommitBatch batch;
  batch.AddOutput({.topic = std::string(kSummaryTopic), .key = "st-9", .value = "pending"});
  ASSERT_TRUE(state_->Commit(std::move(batch)).ok());
  auto rt = MakeRuntime();
  ASSERT_NE(rt, nullptr);
  EXPECT_EQ(Messages(std::string(kSummaryTopic)), 1);
  EXPECT_TRUE(state_->PendingOutbox(10)->empty());
}

TEST_F(RuntimeTest, ExportsMetrics) {
  AppendIncidents(0, 21);
  prometheus::Registry registry;
  auto rt = MakeRuntime(&registry);
  ASSERT_TRUE(rt->RunUntilCaughtUp(10s).ok());
  bool found = false;
  for (const auto& family : registry.Collect()) {
    if (family.name == "ewarn_processors_records_total") {
      for (const auto& m : family.metric) {
        if (m.label[0].value == "processed") {
          EXPECT_EQ(m.counter.value, 21);
          found = true;
        }
      }
    }
  }
  EXPECT_TRUE(found);
}

// A ticker asks the runtime which partitions it owns (issue 14.7: one clock per partition): the
// answer follows the group's assignment, disjoint across members, and is empty once closed.
TEST(RuntimeOwnershipTest, OwnedPartitionsFollowTheGroupsAssignment) {
  auto cluster = ewarn::testing::MockKafkaCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  store::KafkaLogOptions options = (*cluster)->LogOptions();
  options.properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "300"}};
  auto log = store::OpenKafkaLog(options);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE((*log)->CreateTopic({.name = "in.events", .partitions = 4}).ok());
  ASSERT_TRUE((*log)->CreateTopic({.name = std::string(kSummaryTopic), .partitions = 4}).ok());
  ewarn::testing::TempDir dir;
  std::vector<std::unique_ptr<store::StateStore>> states;
  std::vector<std::unique_ptr<TaskRuntime>> members;
  for (std::string name : {"a", "b"}) {
    auto state = store::StateStore::Open({.dir = dir.Sub(name), .stores = {std::string(kCountsStore), std::string(kSeenStore)}});
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    states.push_back(std::move(state).value());
    auto rt = TaskRuntime::Make(
        **log, *states.back(), [](int32_t) { return std::make_unique<CountingProcessor>(); },
        {.input_topic = "in.events", .stores = {std::string(kCountsStore)}}, nullptr);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    EXPECT_TRUE((*rt)->OwnedPartitions().empty());  // nothing before the group assigns
    members.push_back(std::move(rt).value());
  }
  auto settle = [&](size_t a, size_t b) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline &&
           !(members[0]->OwnedPartitions().size() == a && members[1]->OwnedPartitions().size() == b)) {
      if (a > 0) {
        ASSERT_TRUE(members[0]->RunOnce(100ms).ok());
      }
      ASSERT_TRUE(members[1]->RunOnce(100ms).ok());
    }
  };
  settle(2, 2);
  std::vector<int32_t> a = members[0]->OwnedPartitions(), b = members[1]->OwnedPartitions();
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  std::set<int32_t> all(a.begin(), a.end());
  for (int32_t p : b) EXPECT_TRUE(all.insert(p).second) << "partition " << p << " owned twice";
  EXPECT_EQ(all, (std::set<int32_t>{0, 1, 2, 3}));
  // A leaves: it owns nothing at once, and B takes everything over.
  ASSERT_TRUE(members[0]->Close().ok());
  EXPECT_TRUE(members[0]->OwnedPartitions().empty());
  settle(0, 4);
  EXPECT_EQ(members[1]->OwnedPartitions(), (std::vector<int32_t>{0, 1, 2, 3}));
  ASSERT_TRUE(members[1]->Close().ok());
}

}  // namespace
}  // namespace ewarn::processors
