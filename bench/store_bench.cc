// Google Benchmark micro-benchmarks for the store: durable appends to the embedded log at
// several batch sizes, many single-record appends in flight, reads, and state commits. Run: build/bench/store_bench
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <functional>
#include <mutex>

#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"
#include "ewarn_testing.h"

namespace ewarn {
namespace {

std::vector<store::OutRecord> Batch(int n, int seq) {
  std::vector<store::OutRecord> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    char key[17];
    std::snprintf(key, sizeof key, "%016d", seq * n + i);
    out.push_back({.topic = "in.events", .key = key, .value = std::string(200, 'x'), .timestamp_ms = i});
  }
  return out;
}

void BM_EmbeddedDurableAppend(benchmark::State& state) {
  ewarn::testing::TempDir dir;
  auto log = std::move(store::OpenEmbeddedLog({.dir = dir.path()})).value();
  (void)log->CreateTopic({.name = "in.events", .partitions = 8});
  int seq = 0;
  auto batch = Batch(static_cast<int>(state.range(0)), 0);
  for (auto _ : state) {
    batch[0].key = std::to_string(seq++);
    auto r = log->Append(batch);
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * state.range(0) * 216);
}
BENCHMARK(BM_EmbeddedDurableAppend)->Arg(1)->Arg(100)->Arg(1000)->UseRealTime();

// HTTP ingest's pattern: single-record durable appends, `range(0)` of them in flight at once
// (one per client connection), each completion starting the next. The log group-commits what
// is queued during each sync, so this is the ceiling of durable submissions per second.
void BM_EmbeddedAsyncAppendsInFlight(benchmark::State& state) {
  ewarn::testing::TempDir dir;
  auto log = std::move(store::OpenEmbeddedLog({.dir = dir.path()})).value();
  (void)log->CreateTopic({.name = "in.events", .partitions = 8});
  const int in_flight = static_cast<int>(state.range(0));
  constexpr int kPerIteration = 20000;
  for (auto _ : state) {
    std::mutex mu;
    std::condition_variable cv;
    int started = 0, completed = 0;
    bool failed = false;
    std::function<void()> start_one = [&] {
      int seq;
      {
        std::lock_guard lk(mu);
        if (started == kPerIteration) return;
        seq = started++;
      }
      log->AppendAsync(Batch(1, seq), [&](Result<std::vector<store::Position>> r) {
        start_one();
        // Last, and notified under the lock: once the waiter sees the final count, this
        // iteration's locals are gone.
        std::lock_guard lk(mu);
        failed |= !r.ok();
        if (++completed == kPerIteration) cv.notify_one();
      });
    };
    for (int i = 0; i < in_flight; ++i) start_one();
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return completed == kPerIteration; });
    if (failed) state.SkipWithError("an append failed");
  }
  state.SetItemsProcessed(state.iterations() * kPerIteration);
}
BENCHMARK(BM_EmbeddedAsyncAppendsInFlight)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_EmbeddedRead(benchmark::State& state) {
  ewarn::testing::TempDir dir;
  auto log = std::move(store::OpenEmbeddedLog({.dir = dir.path()})).value();
  (void)log->CreateTopic({.name = "in.events", .partitions = 1});
  for (int i = 0; i < 100; ++i) {
    auto b = Batch(1000, i);
    for (auto& r : b) r.partition = 0;
    (void)log->Append(b);
  }
  int64_t from = 0;
  for (auto _ : state) {
    auto r = log->Read({"in.events", 0}, from, 1000);
    from = (from + 1000) % 100000;
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_EmbeddedRead)->UseRealTime();

void BM_StateCommit(benchmark::State& state) {
  ewarn::testing::TempDir dir;
  auto store = std::move(store::StateStore::Open({.dir = dir.path(), .stores = {"s"}})).value();
  int seq = 0;
  for (auto _ : state) {
    store::CommitBatch batch;
    for (int i = 0; i < state.range(0); ++i) batch.Put("s", std::to_string(seq++ % 50000), std::string(100, 'v'));
    batch.SetOffset({"in.events", 0}, seq);
    auto r = store->Commit(std::move(batch));
    if (!r.ok()) state.SkipWithError(r.status().ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StateCommit)->Arg(100)->Arg(5000)->UseRealTime();

}  // namespace
}  // namespace ewarn

BENCHMARK_MAIN();
