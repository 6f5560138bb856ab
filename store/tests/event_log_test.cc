// The EventLog contract, run against both engines: the embedded RocksDB log and Kafka (the real
// wire protocol, through librdkafka's mock cluster in this process).
#include "ewarn/store/event_log.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "ewarn/base/bytes.h"

#include "ewarn_testing.h"

namespace ewarn::store {
namespace {

using namespace std::chrono_literals;

class EventLogTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { log_ = Open(); }

  std::unique_ptr<EventLog> Open() {
    if (GetParam() == "embedded") {
      Result<std::unique_ptr<EventLog>> log = OpenEmbeddedLog({.dir = dir_.Sub("log")});
      EXPECT_TRUE(log.ok()) << log.status().ToString();
      return log.ok() ? std::move(log).value() : nullptr;
    }
    if (cluster_ == nullptr) {
      auto cluster = ewarn::testing::MockKafkaCluster::Start(3);
      EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
      cluster_ = std::move(cluster).value();
    }
    auto log = OpenKafkaLog(cluster_->LogOptions(10s));
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  static std::vector<OutRecord> Records(const std::string& topic, int n, int start = 0) {
    std::vector<OutRecord> out;
    for (int i = start; i < start + n; ++i) {
      out.push_back({.topic = topic,
                     .key = "station-" + std::to_string(i % 17),
                     .value = "value-" + std::to_string(i),
                     .timestamp_ms = 1000 + i});
    }
    return out;
  }

  std::vector<LogRecord> ReadAll(EventLog& log, const std::string& topic) {
    std::vector<LogRecord> all;
    int32_t n = *log.PartitionCount(topic);
    for (int32_t p = 0; p < n; ++p) {
      int64_t from = 0;
      while (true) {
        auto got = log.Read({topic, p}, from, 100);
        EXPECT_TRUE(got.ok()) << got.status().ToString();
        if (!got.ok() || got->empty()) break;
        from = got->back().offset + 1;
        for (auto& r : *got) all.push_back(std::move(r));
      }
    }
    return all;
  }

  ewarn::testing::TempDir dir_;
  std::unique_ptr<ewarn::testing::MockKafkaCluster> cluster_;
  std::unique_ptr<EventLog> log_;
};

TEST_P(EventLogTest, AppendsAreReadBackInPartitionOrder) {
  ASSERT_NE(log_, nullptr);
  ASSERT_TRUE(log_->CreateTopic({.name = "in.events", .partitions = 4}).ok());
  auto records = Records("in.events", 500);
  Result<std::vector<Position>> pos = log_->Append(records);
  ASSERT_TRUE(pos.ok()) << pos.status().ToString();
  ASSERT_EQ(pos->size(), records.size());

  std::map<int32_t, int64_t> expected_next;
  for (size_t i = 0; i < records.size(); ++i) {
    int32_t p = EventLog::PartitionOf(records[i], 4);
    EXPECT_EQ((*pos)[i].partition, p);
    EXPECT_EQ((*pos)[i].offset, expected_next[p]++);  // dense, in input order
  }
  auto all = ReadAll(*log_, "in.events");
  ASSERT_EQ(all.size(), records.size());
  for (const LogRecord& r : all) {
    size_t i = std::stoul(r.value.substr(6));
    EXPECT_EQ(r.key, records[i].key);
    EXPECT_EQ(r.timestamp_ms, records[i].timestamp_ms);
    EXPECT_EQ((*pos)[i].partition, r.partition);
    EXPECT_EQ((*pos)[i].offset, r.offset);
  }
  for (int32_t p = 0; p < 4; ++p) {
    auto off = log_->Offsets({"in.events", p});
    ASSERT_TRUE(off.ok());
    EXPECT_EQ(off->start, 0);
    EXPECT_EQ(off->end, expected_next[p]);
  }
}

TEST_P(EventLogTest, PartitionKeyCoPartitionsDifferentKeys) {
  ASSERT_NE(log_, nullptr);
  ASSERT_TRUE(log_->CreateTopic({.name = "in.events", .partitions = 8}).ok());
  std::vector<OutRecord> recs;
  for (int i = 0; i < 20; ++i) {
    recs.push_back({.topic = "in.events", .key = "st-" + std::to_string(i), .value = "v",
                    .partition_key = "LAGOS/IKEJA"});
  }
  auto pos = log_->Append(recs);
  ASSERT_TRUE(pos.ok()) << pos.status().ToString();
  for (const auto& p : *pos) EXPECT_EQ(p.partition, (*pos)[0].partition);
}

TEST_P(EventLogTest, CreateTopicIsIdempotentButRefusesAnotherPartitionCount) {
  ASSERT_NE(log_, nullptr);
  ASSERT_TRUE(log_->CreateTopic({.name = "alerts", .partitions = 2}).ok());
  EXPECT_TRUE(log_->CreateTopic({.name = "alerts", .partitions = 2}).ok());
  EXPECT_EQ(log_->CreateTopic({.name = "alerts", .partitions = 3}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(*log_->PartitionCount("alerts"), 2);
  EXPECT_EQ(log_->PartitionCount("nope").status().code(), StatusCode::kNotFound);
}

TEST_P(EventLogTest, AppendToAnUnknownTopicFailsAndWritesNothing) {
  ASSERT_NE(log_, nullptr);
  ASSERT_TRUE(log_->CreateTopic({.name = "a", .partitions = 1}).ok());
  std::vector<OutRecord> recs = {{.topic = "a", .key = "k", .value = "1"},
                                 {.topic = "missing", .key = "k", .value = "2"}};
  EXPECT_FALSE(log_->Append(recs).ok());
  if (GetParam() == "embedded") {  // a Kafka produce of the first record may already be out
    EXPECT_EQ(log_->Offsets({"a", 0})->end, 0);
  }
}

TEST_P(EventLogTest, ConcurrentAppendersAllLandExactlyOnce) {
  ASSERT_NE(log_, nullptr);
  ASSERT_TRUE(log_->CreateTopic({.name = "in.events", .partitions = 3}).ok());
  constexpr int kThreads = 8, kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; i += 10) {
        auto recs = Records("in.events", 10, t * kPerThread + i);
        auto pos = log_->Append(recs);
        EXPECT_TRUE(pos.ok()) << pos.status().ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  auto all = ReadAll(*log_, "in.events");
  ASSERT_EQ(all.size(), size_t{kThreads * kPerThread});
  std::set<std::string> values;
  for (const auto& r : all) values.insert(r.value);
  EXPECT_EQ(values.size(), all.size());
  // Per key, the order of one thread's appends is kept.
  std::map<std::string, int> last_by_thread_key;
  for (const auto& r : all) {
    int i = std::stoi(r.value.substr(6));
    std::string tk = std::to_string(i / kPerThread) + "|" + r.key;
    auto it = last_by_thread_key.find(tk);
    if (it != last_by_thread_key.end()) {
      EXPECT_LT(it->second, i);
    }
    last_by_thread_key[tk] = i;
  }
}

// Many appends in flight at once, none waited for: each completes exactly once, with the
// positions its records got, and the log holds each record once, in per-key order.
TEST_P(EventLogTest, AsyncAppendsCompleteOnceWithTheirPositions) {
  ASSERT_NE(log_, nullptr);
  ASSERT_TRUE(log_->CreateTopic({.name = "in.events", .partitions = 3}).ok());
  constexpr int kAppends = 300, kPerAppend = 3;
  std::mutex mu;
  std::condition_variable cv;
  int completed = 0;
  std::vector<int> calls(kAppends, 0);
  std::vector<std::vector<Position>> positions(kAppends);
  for (int a = 0; a < kAppends; ++a) {
    log_->AppendAsync(Records("in.events", kPerAppend, a * kPerAppend), [&, a](Result<std::vector<Position>> r) {
      std::lock_guard lk(mu);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) positions[a] = *r;
      ++calls[a];
      ++completed;
      cv.notify_all();
    });
  }
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, 30s, [&] { return completed == kAppends; }));
  }
  auto all = ReadAll(*log_, "in.events");
  ASSERT_EQ(all.size(), size_t{kAppends * kPerAppend});
  std::map<std::pair<int32_t, int64_t>, std::string> by_position;
  for (const auto& r : all) by_position[{r.partition, r.offset}] = r.value;
  std::map<std::string, int64_t> last_offset_by_key;
  for (int a = 0; a < kAppends; ++a) {
    EXPECT_EQ(calls[a], 1);
    ASSERT_EQ(positions[a].size(), size_t{kPerAppend});
    for (int i = 0; i < kPerAppend; ++i) {
      const Position& p = positions[a][i];
      EXPECT_EQ(by_position[std::pair(p.partition, p.offset)], "value-" + std::to_string(a * kPerAppend + i));
      // Appends were started in order, so one key's records keep that order.
      std::string key = "station-" + std::to_string((a * kPerAppend + i) % 17);
      if (auto it = last_offset_by_key.find(key); it != last_offset_by_key.end()) {
        EXPECT_LT(it->second, p.offset);
      }
      last_offset_by_key[key] = p.offset;
    }
  }
}

TEST_P(EventLogTest, AsyncAppendToAnUnknownTopicReportsTheError) {
  ASSERT_NE(log_, nullptr);
  std::promise<Result<std::vector<Position>>> result;
  log_->AppendAsync({{.topic = "missing", .key = "k", .value = "1"}},
                    [&](Result<std::vector<Position>> r) { result.set_value(std::move(r)); });
  auto ready = result.get_future();
  ASSERT_EQ(ready.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(ready.get().status().code(), StatusCode::kNotFound);
}

// A bad append (an unknown topic) among good ones in flight fails alone: the others, which may
// share its group commit, still land.
TEST_P(EventLogTest, ABadAsyncAppendDoesNotFailTheOthersInFlight) {
  ASSERT_NE(log_, nullptr);
  ASSERT_TRUE(log_->CreateTopic({.name = "in.events", .partitions = 2}).ok());
  std::vector<std::promise<Result<std::vector<Position>>>> results(5);
  for (size_t i = 0; i < results.size(); ++i) {
    std::vector<OutRecord> records = i == 2 ? std::vector<OutRecord>{{.topic = "missing", .key = "k", .value = "x"}}
                                            : Records("in.events", 4, static_cast<int>(i) * 4);
    log_->AppendAsync(std::move(records), [&results, i](Result<std::vector<Position>> r) { results[i].set_value(std::move(r)); });
  }
  for (size_t i = 0; i < results.size(); ++i) {
    auto ready = results[i].get_future();
    ASSERT_EQ(ready.wait_for(30s), std::future_status::ready);
    auto r = ready.get();
    if (i == 2) {
      EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
    } else {
      EXPECT_TRUE(r.ok()) << r.status().ToString();
    }
  }
  EXPECT_EQ(ReadAll(*log_, "in.events").size(), 16u);
}

class RecordingListener : public RebalanceListener {
 public:
  explicit RecordingListener(int64_t start) : start_(start) {}
  std::vector<int64_t> OnAssigned(const std::vector<TopicPartition>& parts) override {
    assigned.insert(assigned.end(), parts.begin(), parts.end());
    return std::vector<int64_t>(parts.size(), start_);
  }
  void OnRevoked(const std::vector<TopicPartition>& parts) override {
    revoked.insert(revoked.end(), parts.begin(), parts.end());
  }
  std::vector<TopicPartition> assigned, revoked;

 private:
  int64_t start_;
};

TEST_P(EventLogTest, ConsumerStartsWhereTheListenerSaysAndSeesNewAppends) {
  ASSERT_NE(log_, nullptr);
  ASSERT_TRUE(log_->CreateTopic({.name = "in.events", .partitions = 2}).ok());
  std::vector<OutRecord> recs;
  for (int i = 0; i < 10; ++i) {
    recs.push_back({.topic = "in.events", .key = "k", .value = std::to_string(i), .partition = i % 2});
  }
  ASSERT_TRUE(log_->Append(recs).ok());

  RecordingListener listener(3);  // skip offsets 0..2 of each partition
  auto consumer = log_->Subscribe({.group = "g1", .topics = {"in.events"}, .listener = &listener});
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  std::vector<LogRecord> got;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (got.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    auto batch = (*consumer)->Poll(200ms);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    for (auto& r : *batch) got.push_back(std::move(r));
  }
  ASSERT_EQ(got.size(), 4u);  // offsets 3 and 4 of both partitions
  for (const auto& r : got) EXPECT_GE(r.offset, 3);
  EXPECT_EQ(listener.assigned.size(), 2u);

  ASSERT_TRUE(log_->Append(std::vector<OutRecord>{{.topic = "in.events", .key = "k", .value = "late", .partition = 1}}).ok());
  std::vector<LogRecord> more;
  deadline = std::chrono::steady_clock::now() + 20s;
  while (more.empty() && std::chrono::steady_clock::now() < deadline) {
    auto batch = (*consumer)->Poll(200ms);
    ASSERT_TRUE(batch.ok());
    for (auto& r : *batch) more.push_back(std::move(r));
  }
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].value, "late");
  ASSERT_TRUE((*consumer)->Close().ok());
  EXPECT_EQ(listener.revoked.size(), 2u);
}

TEST_P(EventLogTest, StatListsTopicsWithCounts) {
  ASSERT_NE(log_, nullptr);
  ASSERT_TRUE(log_->CreateTopic({.name = "b.topic", .partitions = 2}).ok());
  ASSERT_TRUE(log_->CreateTopic({.name = "a.topic", .partitions = 1}).ok());
  ASSERT_TRUE(log_->Append(Records("a.topic", 7)).ok());
  auto stat = log_->Stat();
  ASSERT_TRUE(stat.ok()) << stat.status().ToString();
  ASSERT_EQ(stat->size(), 2u);
  EXPECT_EQ((*stat)[0].name, "a.topic");
  EXPECT_EQ((*stat)[0].Messages(), 7);
  EXPECT_EQ((*stat)[1].partitions.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Engines, EventLogTest, ::testing::Values("embedded", "kafka"),
                         [](const auto& info) { return info.param; });

// --- embedded-only behaviour ---

TEST(EmbeddedLogTest, SurvivesReopenWithOffsetsIntact) {
  ewarn::testing::TempDir dir;
  {
    auto log = OpenEmbeddedLog({.dir = dir.path()});
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->CreateTopic({.name = "t", .partitions = 2}).ok());
    std::vector<OutRecord> recs;
    for (int i = 0; i < 10; ++i) recs.push_back({.topic = "t", .key = "k", .value = std::to_string(i), .partition = 1});
    ASSERT_TRUE((*log)->Append(recs).ok());
  }
  auto log = OpenEmbeddedLog({.dir = dir.path()});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ((*log)->Offsets({"t", 1})->end, 10);
  auto pos = (*log)->Append(std::vector<OutRecord>{{.topic = "t", .key = "k", .value = "x", .partition = 1}});
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ((*pos)[0].offset, 10);
}

TEST(EmbeddedLogTest, MissingDirectoryIsAClearError) {
  auto log = OpenEmbeddedLog({.dir = "/nonexistent/ewarn/data/log", .create_if_missing = false});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kNotFound);
  EXPECT_NE(log.status().message().find("/nonexistent/ewarn/data/log"), std::string::npos);
}

TEST(EmbeddedLogTest, SecondOpenOfTheSameDirectoryIsRefused) {
  ewarn::testing::TempDir dir;
  auto first = OpenEmbeddedLog({.dir = dir.path()});
  ASSERT_TRUE(first.ok());
  auto second = OpenEmbeddedLog({.dir = dir.path()});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

TEST(EmbeddedLogTest, RetentionDropsOldRecordsAndKeepsOffsets) {
  ewarn::testing::TempDir dir;
  auto log = OpenEmbeddedLog({.dir = dir.path()});
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->CreateTopic({.name = "in.kit", .partitions = 1, .retention_ms = 1000}).ok());
  ASSERT_TRUE((*log)->CreateTopic({.name = "forever", .partitions = 1}).ok());
  std::vector<OutRecord> recs;
  for (int i = 0; i < 10; ++i) {
    recs.push_back({.topic = "in.kit", .key = "k", .value = std::to_string(i), .timestamp_ms = i * 500});
    recs.push_back({.topic = "forever", .key = "k", .value = std::to_string(i), .timestamp_ms = 0});
  }
  ASSERT_TRUE((*log)->Append(recs).ok());
  auto deleted = ApplyRetention(**log, 5000);  // keeps timestamps >= 4000: offsets 8, 9
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 8);
  EXPECT_EQ((*log)->Offsets({"in.kit", 0})->start, 8);
  EXPECT_EQ((*log)->Offsets({"forever", 0})->start, 0);
  auto rest = (*log)->Read({"in.kit", 0}, 0, 100);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].offset, 8);
}

TEST(EmbeddedLogTest, OneMemberPerGroupAndProcess) {
  ewarn::testing::TempDir dir;
  auto log = OpenEmbeddedLog({.dir = dir.path()});
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->CreateTopic({.name = "t", .partitions = 1}).ok());
  auto a = (*log)->Subscribe({.group = "g", .topics = {"t"}});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*log)->Subscribe({.group = "g", .topics = {"t"}}).status().code(),
            StatusCode::kFailedPrecondition);
  a->reset();
  EXPECT_TRUE((*log)->Subscribe({.group = "g", .topics = {"t"}}).ok());
}

}  // namespace
}  // namespace ewarn::store

namespace ewarn::store {
namespace {

TEST(EmbeddedLogTest, ACorruptStoredRecordIsReportedWithWhere) {
  ewarn::testing::TempDir dir;
  {
    auto log = OpenEmbeddedLog({.dir = dir.path()});
    ASSERT_TRUE((*log)->CreateTopic({.name = "in.events", .partitions = 2}).ok());
    std::vector<OutRecord> recs;
    for (int i = 0; i < 3; ++i) recs.push_back({.topic = "in.events", .key = "k", .value = "v", .partition = 1});
    ASSERT_TRUE((*log)->Append(recs).ok());
  }
  // Damage offset 1 of partition 1 behind the log's back, with RocksDB itself.
  {
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"meta", {}}, {"t/in.events", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::Open({}, dir.path(), families, &handles, &raw).ok());
    std::string key;
    PutBigEndian32(&key, 1);
    PutBigEndian64(&key, 1);
    ASSERT_TRUE(raw->Put({}, handles[2], key, "\x07garbage").ok());
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  auto log = OpenEmbeddedLog({.dir = dir.path()});
  ASSERT_TRUE(log.ok());
  auto r = (*log)->Read({"in.events", 1}, 0, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("in.events/1 offset 1"), std::string::npos) << r.status().message();
  EXPECT_TRUE((*log)->Read({"in.events", 1}, 2, 10).ok());  // the rest stays readable
}

}  // namespace
}  // namespace ewarn::store
