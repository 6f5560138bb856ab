// The changelog (issue 14.4) and its owner epochs (issue 14.5): the restore algorithm over
// compacted record lists, and the runtime restoring moved partitions on the real Kafka protocol
// (librdkafka's mock cluster), with a zombie owner committing after a newer owner's claim.
#include "ewarn/store/changelog.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "../testing/counting_processor.h"
#include "ewarn/processors/digest.h"
#include "ewarn/processors/runtime.h"
#include "ewarn_testing.h"

namespace ewarn::processors {
namespace {

using namespace std::chrono_literals;
using testing::CountingProcessor;
using testing::kCountsStore;
using testing::kSummaryTopic;
using testing::MakeIncident;
using State = std::map<std::string, std::string>;  // changelog key -> value

// --- the algorithm over record lists ---

// A changelog partition as a writer and its successors leave it, with the state each marker
// commits, built with the same record functions the runtime uses.
struct History {
  std::vector<store::LogRecord> records;
  State committed;       // the truth: state after the last complete batch of the newest owner
  int64_t input = 0;     // next input offset of that batch
  int64_t epoch = 1;     // the newest owner's (its claim is left out where it does not matter)

  void Add(store::OutRecord r) {
    records.push_back({.topic = r.topic, .partition = 0, .offset = static_cast<int64_t>(records.size()),
                       .timestamp_ms = r.timestamp_ms, .key = std::move(r.key), .value = std::move(r.value)});
  }
  // A batch of changes; `complete` false: the writer dies before its marker (and after `cut`
  // of its changes).
  void Batch(const std::vector<std::pair<std::string, std::optional<std::string>>>& changes, int64_t next_input,
             bool complete = true, size_t cut = SIZE_MAX) {
    for (size_t i = 0; i < changes.size() && (complete || i < cut); ++i) {
      Add(store::ChangelogChange("cl", 0, epoch, "s", changes[i].first, changes[i].second, 1));
    }
    if (!complete) return;
    for (const auto& [k, v] : changes) {
      if (v) {
        committed[store::ChangelogKey("s", k)] = *v;
      } else {
        committed.erase(store::ChangelogKey("s", k));
      }
    }
    Add(store::ChangelogMarker("cl", 0, epoch, next_input, 1));
    input = next_input;
  }
  // A batch by an owner of an older epoch, appended after the newer owner's claim: a zombie's.
  // It changes nothing of the truth.
  void ZombieBatch(int64_t zombie_epoch,
                   const std::vector<std::pair<std::string, std::optional<std::string>>>& changes,
                   int64_t next_input) {
    for (const auto& [k, v] : changes) Add(store::ChangelogChange("cl", 0, zombie_epoch, "s", k, v, 1));
    Add(store::ChangelogMarker("cl", 0, zombie_epoch, next_input, 1));
  }
  // What the runtime does when a node takes the partition: restore, claim the next epoch, then
  // rewrite every key of an unfinished tail or of a zombie's unsuperseded writes, and a marker.
  void TakeOver() {
    store::ChangelogRestorer r;
    for (const auto& rec : records) ASSERT_TRUE(r.Add(rec).ok());
    epoch = r.epoch() + 1;
    Add(store::ChangelogClaim("cl", 0, epoch, 1));
    std::vector<std::string> keys = r.TailKeys();
    for (const std::string& ck : r.FencedKeys()) {
      if (std::find(keys.begin(), keys.end(), ck) == keys.end()) keys.push_back(ck);
    }
    if (keys.empty() && !r.fenced_marker()) return;
    for (const std::string& ck : keys) {
      std::string_view s, k;
      ASSERT_TRUE(store::SplitChangelogKey(ck, &s, &k));
      auto it = committed.find(ck);
      Add(store::ChangelogChange("cl", 0, epoch, s, k,
                                 it == committed.end() ? std::nullopt : std::optional(it->second), 1));
    }
    Add(store::ChangelogMarker("cl", 0, epoch, input, 1));
  }
  void RewriteTail() { TakeOver(); }
};

// Kafka's compaction rule: a record whose key has a later record in the cleanable range
// [0, cleanable_end) is removed (offsets are kept). Records at or after cleanable_end (younger
// than min.compaction.lag.ms, or in the active segment) are neither removed nor used.
std::vector<store::LogRecord> Compact(const std::vector<store::LogRecord>& records, int64_t cleanable_end) {
  std::map<std::string, int64_t> latest;
  for (const auto& r : records) {
    if (r.offset < cleanable_end) latest[r.key] = r.offset;
  }
  std::vector<store::LogRecord> out;
  for (const auto& r : records) {
    if (r.offset < cleanable_end && latest[r.key] != r.offset) continue;
    out.push_back(r);
  }
  return out;
}

struct Restored {
  State state;
  std::optional<int64_t> input;
};
// Restores `records` from offset `from` onto `base` (the state a checkpoint there had, whose
// highest owner epoch was `epoch`).
Restored RestoreAll(const std::vector<store::LogRecord>& records, int64_t from = 0, State base = {},
                    int64_t epoch = 0) {
  store::ChangelogRestorer r(epoch);
  for (const auto& rec : records) {
    if (rec.offset >= from) {
      EXPECT_TRUE(r.Add(rec).ok());
    }
  }
  for (const auto& [k, v] : r.committed()) {
    if (v) {
      base[k] = *v;
    } else {
      base.erase(k);
    }
  }
  return {std::move(base), r.input_offset()};
}
State Restore(const std::vector<store::LogRecord>& records, int64_t from = 0, State base = {}) {
  return RestoreAll(records, from, std::move(base)).state;
}

TEST(ChangelogRestorerTest, AppliesMarkedBatchesOnlyAndReportsTheUnfinishedTail) {
  History h;
  h.Batch({{"a", "1"}, {"b", "1"}}, 10);
  h.Batch({{"a", "2"}, {"b", std::nullopt}}, 20);
  h.Batch({{"a", "3"}, {"c", "3"}}, 30, /*complete=*/false, /*cut=*/1);
  store::ChangelogRestorer r;
  for (const auto& rec : h.records) ASSERT_TRUE(r.Add(rec).ok());
  EXPECT_EQ(r.input_offset(), 20);
  EXPECT_EQ(r.checkpoint(), 6);  // after the second marker
  EXPECT_EQ(r.TailKeys(), (std::vector<std::string>{store::ChangelogKey("s", "a")}));
  EXPECT_EQ(Restore(h.records), (State{{store::ChangelogKey("s", "a"), "2"}}));  // b deleted, a's "3" ignored
  // Not a changelog record: a clear error naming the offset.
  store::LogRecord junk{.topic = "cl", .offset = 7, .key = "no-separator", .value = std::string("P\0\0\0\0\0\0\0\1", 9)};
  Status st = r.Add(junk);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("offset 7"), std::string::npos) << st.message();
}

// Random histories with unfinished batches (each rewritten by the next owner), compacted at
// every possible boundary: the restore always equals the truth, from the start or from any
// checkpoint onto the state that checkpoint had.
TEST(ChangelogRestorerTest, CompactedViewsRestoreTheCommittedState) {
  std::mt19937 rng(14);
  for (int round = 0; round < 40; ++round) {
    History h;
    std::vector<std::pair<int64_t, State>> checkpoints;  // (offset after a marker, state then)
    for (int batch = 0; batch < 12; ++batch) {
      std::vector<std::pair<std::string, std::optional<std::string>>> changes;
      int n = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < n; ++i) {
        std::string key(1, static_cast<char>('a' + rng() % 6));
        if (rng() % 4 == 0) {
          changes.emplace_back(key, std::nullopt);
        } else {
          changes.emplace_back(key, std::to_string(round) + "." + std::to_string(batch) + "." + std::to_string(i));
        }
      }
      if (rng() % 4 == 0) {
        h.Batch(changes, h.input + 5, /*complete=*/false, rng() % changes.size() + 1);
        h.RewriteTail();
      } else {
        h.Batch(changes, h.input + 5);
      }
      checkpoints.emplace_back(static_cast<int64_t>(h.records.size()), h.committed);
    }
    const int64_t end = static_cast<int64_t>(h.records.size());
    for (int64_t cleanable = 0; cleanable <= end; ++cleanable) {
      std::vector<store::LogRecord> view = Compact(h.records, cleanable);
      ASSERT_EQ(Restore(view), h.committed) << "round " << round << ", compacted below " << cleanable;
      for (const auto& [offset, state] : checkpoints) {
        ASSERT_EQ(Restore(view, offset, state), h.committed)
            << "round " << round << ", from checkpoint " << offset << ", compacted below " << cleanable;
      }
    }
  }
}

// Why the tail is rewritten at once, and why min.compaction.lag.ms must cover the time until
// then: a compaction that may use an unfinished batch's record drops the committed value.
TEST(ChangelogRestorerTest, AnUnrewrittenTailCompactedAwayLosesTheCommittedValue) {
  History h;
  h.Batch({{"a", "1"}}, 10);
  h.Batch({{"a", "2"}}, 20, /*complete=*/false);
  const int64_t end = static_cast<int64_t>(h.records.size());
  EXPECT_EQ(Restore(Compact(h.records, end - 1)), h.committed);  // the tail younger than the lag
  EXPECT_NE(Restore(Compact(h.records, end)), h.committed);      // it was not: "a" is gone
  h.RewriteTail();
  EXPECT_EQ(Restore(Compact(h.records, static_cast<int64_t>(h.records.size()))), h.committed);
}

// A zombie (owner of epoch 1, paused past a rebalance) commits after the new owner's claim
// (epoch 2): its records and marker are ignored, reported as fenced until the next owner
// rewrites their keys; before that rewrite a compaction could let them shadow committed values.
TEST(ChangelogRestorerTest, AZombiesBatchesAfterANewerClaimAreIgnored) {
  const std::string a = store::ChangelogKey("s", "a"), b = store::ChangelogKey("s", "b"),
                    c = store::ChangelogKey("s", "c");
  History h;
  h.Batch({{"a", "1"}, {"b", "1"}}, 10);
  h.TakeOver();  // epoch 2
  EXPECT_EQ(h.epoch, 2);
  h.Batch({{"a", "2"}}, 20);
  h.ZombieBatch(1, {{"a", "zombie"}, {"c", "zombie"}}, 15);
  h.Batch({{"b", "3"}}, 30);  // the new owner keeps running, unaware
  {
    store::ChangelogRestorer r;
    for (const auto& rec : h.records) ASSERT_TRUE(r.Add(rec).ok());
    EXPECT_EQ(r.fenced_records(), 3);
    EXPECT_EQ(r.FencedKeys(), (std::vector<std::string>{a, c}));
    EXPECT_FALSE(r.fenced_marker());  // the owner's later marker supersedes the zombie's
    EXPECT_EQ(r.epoch(), 2);
    EXPECT_TRUE(r.TailKeys().empty());
  }
  Restored restored = RestoreAll(h.records);
  EXPECT_EQ(restored.state, (State{{a, "2"}, {b, "3"}}));
  EXPECT_EQ(restored.input, 30);
  // Compacted before any rewrite: the zombie's "a" is a's latest record, so the broker dropped
  // the owner's "a" = "2" and the restore lacks it.
  EXPECT_NE(Restore(Compact(h.records, static_cast<int64_t>(h.records.size()))), h.committed);
  // The next owner rewrites a and c (c as a delete): every compaction then restores the truth.
  h.TakeOver();
  {
    store::ChangelogRestorer r;
    for (const auto& rec : h.records) ASSERT_TRUE(r.Add(rec).ok());
    EXPECT_TRUE(r.FencedKeys().empty());
    EXPECT_EQ(r.epoch(), 3);
  }
  for (int64_t cleanable = 0; cleanable <= static_cast<int64_t>(h.records.size()); ++cleanable) {
    Restored view = RestoreAll(Compact(h.records, cleanable));
    EXPECT_EQ(view.state, h.committed) << "compacted below " << cleanable;
    EXPECT_EQ(view.input, 30) << "compacted below " << cleanable;
  }
}

// A zombie's marker after the owner's last one: until superseded it is reported, since under
// compaction it would be the only marker left and the owner's last batch would look unfinished.
TEST(ChangelogRestorerTest, AZombiesLastMarkerIsRewrittenToo) {
  History h;
  h.Batch({{"a", "1"}}, 10);
  h.TakeOver();
  h.Batch({{"b", "2"}}, 20);
  h.ZombieBatch(1, {{"a", "zombie"}}, 15);
  store::ChangelogRestorer r;
  for (const auto& rec : h.records) ASSERT_TRUE(r.Add(rec).ok());
  EXPECT_TRUE(r.fenced_marker());
  EXPECT_NE(RestoreAll(Compact(h.records, static_cast<int64_t>(h.records.size()))).input, 20);
  h.TakeOver();
  for (int64_t cleanable = 0; cleanable <= static_cast<int64_t>(h.records.size()); ++cleanable) {
    Restored view = RestoreAll(Compact(h.records, cleanable));
    EXPECT_EQ(view.state, h.committed) << "compacted below " << cleanable;
    EXPECT_EQ(view.input, 20) << "compacted below " << cleanable;
  }
}

// Random histories of owners taking over (each claim rewriting what it must), unfinished
// batches, and zombies of every older epoch committing after newer claims, ending with the
// takeover a zombie's return causes; compacted by Kafka's rule at every boundary: restores
// from the start and from every owner's checkpoint (with its epoch) equal the newest owner's.
TEST(ChangelogRestorerTest, ZombiesInCompactedViewsChangeNothing) {
  std::mt19937 rng(145);
  for (int round = 0; round < 40; ++round) {
    History h;
    struct Checkpoint {
      int64_t offset;
      State state;
      int64_t epoch;
    };
    std::vector<Checkpoint> checkpoints;
    auto changes = [&](const std::string& tag) {
      std::vector<std::pair<std::string, std::optional<std::string>>> out;
      int n = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < n; ++i) {
        std::string key(1, static_cast<char>('a' + rng() % 6));
        if (rng() % 4 == 0) {
          out.emplace_back(key, std::nullopt);
        } else {
          out.emplace_back(key, tag + std::to_string(round) + "." + std::to_string(h.records.size()) + "." +
                                    std::to_string(i));
        }
      }
      return out;
    };
    for (int step = 0; step < 16; ++step) {
      switch (rng() % 6) {
        case 0:
          h.TakeOver();
          break;
        case 1:
          if (h.epoch > 1) {
            h.ZombieBatch(1 + static_cast<int64_t>(rng() % (h.epoch - 1)), changes("zombie"), h.input + 3);
          }
          continue;  // no checkpoint of the owner's
        case 2: {
          auto batch = changes("");
          h.Batch(batch, h.input + 5, /*complete=*/false, rng() % batch.size() + 1);
          h.TakeOver();
          break;
        }
        default:
          h.Batch(changes(""), h.input + 5);
      }
      checkpoints.push_back({static_cast<int64_t>(h.records.size()), h.committed, h.epoch});
    }
    h.TakeOver();
    const int64_t end = static_cast<int64_t>(h.records.size());
    for (int64_t cleanable = 0; cleanable <= end; ++cleanable) {
      std::vector<store::LogRecord> view = Compact(h.records, cleanable);
      Restored all = RestoreAll(view);
      ASSERT_EQ(all.state, h.committed) << "round " << round << ", compacted below " << cleanable;
      ASSERT_EQ(all.input.value_or(0), h.input) << "round " << round << ", compacted below " << cleanable;
      for (const Checkpoint& cp : checkpoints) {
        ASSERT_EQ(RestoreAll(view, cp.offset, cp.state, cp.epoch).state, h.committed)
            << "round " << round << ", from checkpoint " << cp.offset << ", compacted below " << cleanable;
      }
    }
  }
}

// --- the runtime on the Kafka protocol ---

class ChangelogRuntimeTest : public ::testing::Test {
 protected:
  static constexpr int32_t kPartitions = 3;
  void SetUp() override {
    auto cluster = ewarn::testing::MockKafkaCluster::Start(3);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(cluster).value();
    store::KafkaLogOptions options = cluster_->LogOptions();
    options.properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "300"}};
    auto log = store::OpenKafkaLog(options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    ASSERT_TRUE(log_->CreateTopic({.name = "in.events", .partitions = kPartitions}).ok());
    ASSERT_TRUE(log_->CreateTopic({.name = std::string(kSummaryTopic), .partitions = kPartitions}).ok());
    // The one-node reference: the same inputs on the embedded log, no changelog.
    reference_log_ = std::move(store::OpenEmbeddedLog({.dir = dir_.Sub("reference-log")})).value();
    ASSERT_TRUE(reference_log_->CreateTopic({.name = "in.events", .partitions = kPartitions}).ok());
    ASSERT_TRUE(reference_log_->CreateTopic({.name = std::string(kSummaryTopic), .partitions = kPartitions}).ok());
  }

  void AppendIncidents(int from, int to) {
    std::vector<store::OutRecord> recs;
    for (int i = from; i < to; ++i) {
      std::string station = "st-" + std::to_string(i % 11);
      v1::Event e = MakeIncident("ev-" + std::to_string(i), station, 1 + i % 5, 1000 + i);
      recs.push_back({.topic = "in.events", .key = station, .value = schemas::EncodeEvent(e), .timestamp_ms = 1000 + i});
    }
    ASSERT_TRUE(log_->Append(recs).ok());
    ASSERT_TRUE(reference_log_->Append(recs).ok());
  }

  std::unique_ptr<store::StateStore> OpenState(const std::string& name) {
    auto state = store::StateStore::Open(
        {.dir = dir_.Sub(name), .stores = {std::string(kCountsStore), std::string(kSeenStore)}});
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    return state.ok() ? std::move(state).value() : nullptr;
  }

  RuntimeOptions Options(int64_t stop_after = -1) {
    return {.input_topic = "in.events",
            .stores = {std::string(kCountsStore)},
            .max_batch = 7,
            .commit_every_records = 20,
            .dedupe = RuntimeOptions::Dedupe::kByEventId,
            .changelog_topic = ChangelogTopicFor("in.events"),
            .changelog_stop_after_records = stop_after};
  }

  std::unique_ptr<TaskRuntime> Node(store::StateStore& state, RuntimeOptions options) {
    auto rt = TaskRuntime::Make(*log_, state, [](int32_t) { return std::make_unique<CountingProcessor>(); },
                                std::move(options), nullptr);
    EXPECT_TRUE(rt.ok()) << rt.status().ToString();
    return rt.ok() ? std::move(rt).value() : nullptr;
  }

  // Runs `rt` until it owns every partition and has processed every input.
  void CatchUp(TaskRuntime& rt) {
    auto deadline = std::chrono::steady_clock::now() + 40s;
    while (rt.OwnedPartitions().size() != static_cast<size_t>(kPartitions)) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the group never assigned every partition";
      ASSERT_TRUE(rt.RunOnce(100ms).ok());
    }
    Status st = rt.RunUntilCaughtUp(20s);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  struct Digests {
    std::string state, outputs;
    bool operator==(const Digests&) const = default;
  };
  Digests Reference() {
    auto state = OpenState("reference-state");
    auto rt = TaskRuntime::Make(*reference_log_, *state, [](int32_t) { return std::make_unique<CountingProcessor>(); },
                                {.input_topic = "in.events", .stores = {std::string(kCountsStore)},
                                 .dedupe = RuntimeOptions::Dedupe::kByEventId},
                                nullptr);
    EXPECT_TRUE(rt.ok());
    EXPECT_TRUE((*rt)->RunUntilCaughtUp(10s).ok());
    return {*StateDigest(*state), DigestTopics(*reference_log_, {std::string(kSummaryTopic)})->digest};
  }
  Digests Of(store::StateStore& state) {
    return {*StateDigest(state), DigestTopics(*log_, {std::string(kSummaryTopic)})->digest};
  }

  ewarn::testing::TempDir dir_;
  std::unique_ptr<ewarn::testing::MockKafkaCluster> cluster_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::EventLog> reference_log_;
};

// (a) Node A processes the first part and leaves; node B, on an empty store, is assigned every
// partition, restores them from the changelog and reads only the inputs A had not committed.
TEST_F(ChangelogRuntimeTest, AMovedPartitionIsRestoredAndOnlyTheTailIsRead) {
  AppendIncidents(0, 110);
  auto state_a = OpenState("a");
  auto a = Node(*state_a, Options());
  ASSERT_NE(a, nullptr);
  CatchUp(*a);
  EXPECT_EQ(a->stats().restored_partitions, 0);  // a fresh changelog: nothing to restore
  ASSERT_TRUE(a->Close().ok());

  AppendIncidents(110, 150);
  auto state_b = OpenState("b");
  auto b = Node(*state_b, Options());
  ASSERT_NE(b, nullptr);
  CatchUp(*b);
  EXPECT_EQ(b->stats().restored_partitions, kPartitions);
  EXPECT_GT(b->stats().restored_records, 0);
  EXPECT_EQ(b->stats().input_records, 40) << "B read in.events from before A's last commit";
  EXPECT_EQ(b->stats().unfinished_batches, 0);
  EXPECT_EQ(Of(*state_b), Reference());

  // A comes back on its old store: it continues from its own checkpoint with the changelog's
  // newer part (B's commits), again reading no input it already had.
  ASSERT_TRUE(b->Close().ok());
  AppendIncidents(150, 170);
  a = Node(*state_a, Options());
  ASSERT_NE(a, nullptr);
  CatchUp(*a);
  EXPECT_EQ(a->stats().restored_partitions, kPartitions);
  EXPECT_EQ(a->stats().input_records, 20);
  EXPECT_EQ(Of(*state_a), Reference());
}

// (b) A writer dies between its changelog records and its marker (the test hook stops its
// commit after a few records, as kill -9 would): the next owner ignores the partial batch,
// rewrites its keys, and ends with the one-node digests; so does a third node restoring the
// whole changelog (partial batch and rewrite included) afterwards.
TEST_F(ChangelogRuntimeTest, APartialBatchIsNeverApplied) {
  AppendIncidents(0, 60);
  auto state_a = OpenState("a");
  {
    auto a = Node(*state_a, Options());
    ASSERT_NE(a, nullptr);
    CatchUp(*a);
    ASSERT_TRUE(a->Close().ok());
  }
  AppendIncidents(60, 120);
  auto state_z = OpenState("z");
  {
    // Restores from A's changelog, then dies in its first commit, after 3 changelog records:
    // the first partition's batch is cut before its marker.
    auto z = Node(*state_z, Options(/*stop_after=*/3));
    ASSERT_NE(z, nullptr);
    Status st;
    auto deadline = std::chrono::steady_clock::now() + 40s;
    while (st.ok() && std::chrono::steady_clock::now() < deadline) st = z->RunOnce(100ms);
    ASSERT_EQ(st.code(), StatusCode::kInternal) << st.ToString();
    EXPECT_NE(st.message().find("test hook"), std::string::npos) << st.message();
    EXPECT_EQ(z->stats().restored_partitions, kPartitions);
  }  // leaves the group without committing anything more
  auto state_b = OpenState("b");
  auto b = Node(*state_b, Options());
  ASSERT_NE(b, nullptr);
  CatchUp(*b);
  EXPECT_EQ(b->stats().unfinished_batches, 1);
  EXPECT_EQ(b->stats().input_records, 60) << "B should resume from A's last markers";
  EXPECT_EQ(Of(*state_b), Reference());
  ASSERT_TRUE(b->Close().ok());

  auto state_c = OpenState("c");
  auto c = Node(*state_c, Options());
  ASSERT_NE(c, nullptr);
  CatchUp(*c);
  EXPECT_EQ(c->stats().unfinished_batches, 0);  // B's rewrite and marker closed it
  EXPECT_EQ(c->stats().input_records, 0);
  EXPECT_EQ(Of(*state_c), Reference());
}

// (c) Two owners of every partition at once (issue 14.5): Z owns them, pauses (its runtime is
// not polled) while N takes them in another group (as the group would after Z's session
// timed out), restores Z's commits and claims the next epoch; then Z resumes, unaware, and
// commits part of the newer inputs: its changelog writes come after N's claim and N's later
// commits. A third node restoring afterwards ignores them (and rewrites their keys): its state
// and output digests equal a one-node run; without fencing it would take Z's older values and
// marker and redo inputs N already counted.
TEST_F(ChangelogRuntimeTest, AZombiesCommitsAfterANewerClaimChangeNothing) {
  AppendIncidents(0, 60);
  auto state_z = OpenState("z");
  RuntimeOptions zombie_options = Options();
  zombie_options.group = "zombie-group";  // keeps every partition while N has them too
  auto z = Node(*state_z, zombie_options);
  ASSERT_NE(z, nullptr);
  CatchUp(*z);  // claims epoch 1 on every partition
  ASSERT_EQ(z->stats().restored_partitions, 0);

  AppendIncidents(60, 100);
  auto state_n = OpenState("n");
  auto n = Node(*state_n, Options());
  ASSERT_NE(n, nullptr);
  CatchUp(*n);  // restores Z's commits, claims epoch 2
  EXPECT_EQ(n->stats().restored_partitions, kPartitions);
  AppendIncidents(100, 160);
  ASSERT_TRUE(n->RunUntilCaughtUp(20s).ok());

  // Z resumes: a few polls (a part of 60..160), then it commits and leaves.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(z->RunOnce(100ms).ok());
  ASSERT_TRUE(z->Close().ok());
  EXPECT_GT(z->stats().commits, 1);
  EXPECT_LT(z->stats().input_records, 160) << "Z should stop short of N, so its values are older";

  // N keeps running, unaware, and commits once more after Z's writes.
  AppendIncidents(160, 170);
  ASSERT_TRUE(n->RunUntilCaughtUp(20s).ok());
  EXPECT_EQ(Of(*state_n), Reference());
  ASSERT_TRUE(n->Close().ok());

  auto state_c = OpenState("c");
  auto c = Node(*state_c, Options());
  ASSERT_NE(c, nullptr);
  CatchUp(*c);
  EXPECT_GT(c->stats().fenced_records, 0) << "Z's commits should be in the changelog after N's claim";
  EXPECT_EQ(c->stats().input_records, 0) << "C should resume from N's last markers, not Z's";
  EXPECT_EQ(Of(*state_c), Reference());
  ASSERT_TRUE(c->Close().ok());

  // C rewrote what Z left: nothing in the changelog can shadow a committed value any more.
  for (int32_t p = 0; p < kPartitions; ++p) {
    store::ChangelogRestorer r;
    ASSERT_TRUE(store::ReadChangelog(*log_, {ChangelogTopicFor("in.events"), p}, 0, r).ok());
    EXPECT_TRUE(r.FencedKeys().empty()) << "partition " << p;
    EXPECT_FALSE(r.fenced_marker()) << "partition " << p;
    EXPECT_EQ(r.epoch(), 3) << "partition " << p;
  }
}

// State from before the changelog is not silently extended: the node says what to do.
TEST_F(ChangelogRuntimeTest, StateFromBeforeTheChangelogIsRefusedClearly) {
  AppendIncidents(0, 30);
  auto state = OpenState("old");
  {
    RuntimeOptions without = Options();
    without.changelog_topic.clear();
    auto old = Node(*state, without);
    ASSERT_NE(old, nullptr);
    CatchUp(*old);
    ASSERT_TRUE(old->Close().ok());
  }
  auto rt = Node(*state, Options());
  ASSERT_NE(rt, nullptr);
  Status st;
  auto deadline = std::chrono::steady_clock::now() + 40s;
  while (st.ok() && std::chrono::steady_clock::now() < deadline) st = rt->RunOnce(100ms);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("empty data directory"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace ewarn::processors
