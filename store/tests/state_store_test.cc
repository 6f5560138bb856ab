#include "ewarn/store/state_store.h"

#include <gtest/gtest.h>

#include "ewarn_testing.h"

namespace ewarn::store {
namespace {

TEST(StateStoreTest, CommitIsAtomicAcrossStateOffsetsAndOutbox) {
  ewarn::testing::TempDir dir;
  {
    auto store = StateStore::Open({.dir = dir.path(), .stores = {"counts", "clusters"}});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    CommitBatch batch;
    batch.Put("counts", "st-1", "3");
    batch.Put("clusters", "c-9", "x");
    batch.SetOffset({"in.events", 2}, 41);
    batch.AddOutput({.topic = "risk.stations", .key = "st-1", .value = "r1"});
    batch.AddOutput({.topic = "risk.stations", .key = "st-2", .value = "r2"});
    auto entries = (*store)->Commit(std::move(batch));
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    ASSERT_EQ(entries->size(), 2u);
    EXPECT_LT((*entries)[0].sequence, (*entries)[1].sequence);
    // Published one of the two before "crashing".
    uint64_t first = (*entries)[0].sequence;
    ASSERT_TRUE((*store)->MarkPublished(std::span(&first, 1)).ok());
  }
  auto store = StateStore::Open({.dir = dir.path(), .stores = {"counts", "clusters"}});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(**(*store)->Get("counts", "st-1"), "3");
  EXPECT_FALSE((*(*store)->Get("counts", "st-2")).has_value());
  EXPECT_EQ(**(*store)->CommittedOffset({"in.events", 2}), 41);
  EXPECT_FALSE((*(*store)->CommittedOffset({"in.events", 3})).has_value());
  auto pending = (*store)->PendingOutbox(100);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].record.value, "r2");
  EXPECT_EQ((*pending)[0].record.topic, "risk.stations");
  // New sequences continue after the pending one.
  CommitBatch more;
  more.AddOutput({.topic = "t", .key = "k", .value = "v"});
  auto entries = (*store)->Commit(std::move(more));
  ASSERT_TRUE(entries.ok());
  EXPECT_GT((*entries)[0].sequence, (*pending)[0].sequence);
}

// A batch that skips the write-ahead log is read back at once, kept by a clean close (RocksDB
// flushes unlogged data on close), and cannot be combined with a durable sync by mistake.
TEST(StateStoreTest, BatchesWithoutTheWriteAheadLogAreReadAndKeptOnCleanClose) {
  ewarn::testing::TempDir dir;
  {
    auto store = StateStore::Open({.dir = dir.path(), .stores = {"index"}, .sync = false});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    CommitBatch marks;
    marks.Put("index", "event-1", "seen");
    marks.SkipWriteAheadLog();
    ASSERT_TRUE((*store)->Commit(std::move(marks)).ok());
    EXPECT_EQ(**(*store)->Get("index", "event-1"), "seen");
    CommitBatch durable;  // RocksDB refuses sync without the log; durability wins
    durable.Put("index", "event-2", "seen");
    durable.SkipWriteAheadLog();
    durable.RequireDurable();
    ASSERT_TRUE((*store)->Commit(std::move(durable)).ok());
  }
  auto store = StateStore::Open({.dir = dir.path(), .stores = {"index"}, .sync = false});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(**(*store)->Get("index", "event-1"), "seen");
  EXPECT_EQ(**(*store)->Get("index", "event-2"), "seen");
}

TEST(StateStoreTest, ScanVisitsAPrefixInOrderAndUnknownStoreIsNotFound) {
  ewarn::testing::TempDir dir;
  auto store = StateStore::Open({.dir = dir.path(), .stores = {"s"}});
  ASSERT_TRUE(store.ok());
  CommitBatch batch;
  for (const char* k : {"a/2", "a/1", "b/1", "a/3"}) batch.Put("s", k, k);
  batch.Delete("s", "a/3");
  ASSERT_TRUE((*store)->Commit(std::move(batch)).ok());
  std::vector<std::string> keys;
  ASSERT_TRUE((*store)->Scan("s", "a/", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  }).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"a/1", "a/2"}));
  EXPECT_EQ((*store)->Get("nope", "k").status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*store)->StoreNames(), std::vector<std::string>{"s"});
  EXPECT_EQ(StateStore::Open({.dir = dir.path(), .stores = {"__x"}}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ewarn::store
