// End-to-end log benchmark: the embedded engine's durable append + task commit path against
// RocksDB's own db_bench fillrandom, measured in the same run on the same disk.
//
// ewarn side: a producer thread appends N events (16-byte keys, ~200-byte encoded events) in
// synced batches of 1000 while the station pipeline's task runtime consumes them and commits
// state + offsets durably. Throughput = N / time until the last event is committed.
// Also: raw read + decode rate of the log (the ceiling for processors).
//
// Usage: log_e2e_bench [--events N] [--repeat R] [--db-bench PATH] [--dir DIR]
//                      [--dedupe origin|event-id|off]
// Prints medians over R interleaved runs of each side.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "ewarn/processors/pipeline.h"
#include "../processors/testing/counting_processor.h"
#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"

using namespace ewarn;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// Runs db_bench and returns its ops/sec for fillrandom (0 when it cannot run).
double DbBench(const std::string& db_bench, const std::string& dir, int64_t num, bool sync) {
  std::string cmd = db_bench + " --benchmarks=fillrandom --key_size=16 --value_size=200 --batch_size=1000" +
                    " --num=" + std::to_string(num) + " --sync=" + (sync ? "1" : "0") +
                    " --disable_wal=0 --compression_type=lz4 --db=" + dir + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return 0;
  char line[1024];
  double ops = 0;
  while (std::fgets(line, sizeof line, p)) {
    std::string s(line);
    if (s.starts_with("fillrandom")) {
      // "fillrandom   :       2.345 micros/op 426439 ops/sec; ..."
      size_t at = s.find(" ops/sec");
      size_t start = s.rfind(' ', at - 1);
      ops = std::stod(s.substr(start + 1, at - start - 1));
    }
  }
  pclose(p);
  std::filesystem::remove_all(dir);
  return ops;
}

v1::Event Incident(int64_t i) {
  v1::Event e;
  auto* h = e.mutable_header();
  h->set_schema_version(schemas::kSchemaVersion);
  h->set_event_id("bench-" + std::to_string(i));
  h->set_event_time_ms(1'800'000'000'000 + i);
  h->set_source(v1::SOURCE_SIMULATOR);
  auto* inc = e.mutable_incident();
  char station[17];
  std::snprintf(station, sizeof station, "%016lld", static_cast<long long>(i % 176000));
  inc->set_station_id(station);
  inc->set_category(v1::INCIDENT_CATEGORY_INTIMIDATION);
  inc->set_severity(static_cast<int>(1 + i % 5));
  inc->set_description(std::string(140, 'd'));
  return e;
}

struct EwarnRun {
  double append_rate = 0, e2e_rate = 0, read_rate = 0;
  int64_t commits = 0;
  size_t avg_value = 0;
};

EwarnRun RunEwarn(const std::string& base, int64_t events, processors::RuntimeOptions::Dedupe dedupe) {
  EwarnRun out;
  auto log = std::move(store::OpenEmbeddedLog({.dir = base + "/log"})).value();
  (void)log->CreateTopic({.name = "in.events", .partitions = 8});
  // The foundation's figure: log + task runtime with a per-station counter (one state key per
  // station, written once per commit). The full station stage has its own bench (e2e_bench).
  processors::Pipeline pipeline;
  pipeline.runtime.input_topic = "in.events";
  pipeline.runtime.stores = {std::string(processors::testing::kCountsStore)};
  pipeline.factory = [](int32_t) { return std::make_unique<processors::testing::CountingProcessor>(); };
  pipeline.runtime.dedupe = dedupe;
  std::vector<std::string> stores = pipeline.runtime.stores;
  stores.emplace_back(processors::kSeenStore);
  auto state = std::move(store::StateStore::Open({.dir = base + "/state", .stores = stores})).value();
  auto runtime = std::move(processors::TaskRuntime::Make(*log, *state, pipeline.factory, pipeline.runtime, nullptr)).value();

  // Pre-encode so the producer measures the log, not protobuf.
  std::vector<store::OutRecord> records;
  records.reserve(static_cast<size_t>(events));
  size_t value_bytes = 0;
  for (int64_t i = 0; i < events; ++i) {
    v1::Event e = Incident(i);
    records.push_back({.topic = "in.events", .key = e.incident().station_id(),
                       .value = schemas::EncodeEvent(e), .timestamp_ms = e.header().event_time_ms()});
    value_bytes += records.back().value.size();
  }
  out.avg_value = value_bytes / static_cast<size_t>(events);

  auto started = Clock::now();
  double append_seconds = 0;
  std::thread producer([&] {
    for (int64_t i = 0; i < events; i += 1000) {
      size_t n = static_cast<size_t>(std::min<int64_t>(1000, events - i));
      auto r = log->Append(std::span(records).subspan(static_cast<size_t>(i), n));
      if (!r.ok()) {
        std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
        std::exit(1);
      }
    }
    append_seconds = Seconds(started);
  });
  while (runtime->stats().processed < events) {
    Status st = runtime->RunOnce(std::chrono::milliseconds(50));
    if (!st.ok()) {
      std::fprintf(stderr, "runtime: %s\n", st.ToString().c_str());
      std::exit(1);
    }
  }
  (void)runtime->Commit();
  producer.join();
  double e2e_seconds = Seconds(started);
  out.commits = runtime->stats().commits;
  (void)runtime->Close();

  // Ceiling for processors: read + decode every record.
  auto read_started = Clock::now();
  int64_t decoded = 0;
  for (int32_t p = 0; p < 8; ++p) {
    int64_t from = 0;
    while (true) {
      auto batch = log->Read({"in.events", p}, from, 10000);
      if (!batch.ok() || batch->empty()) break;
      for (const auto& r : *batch) decoded += schemas::DecodeEvent(r.value).ok();
      from = batch->back().offset + 1;
    }
  }
  out.read_rate = static_cast<double>(decoded) / Seconds(read_started);
  out.append_rate = static_cast<double>(events) / append_seconds;
  out.e2e_rate = static_cast<double>(events) / e2e_seconds;
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t events = 1'000'000;
  int repeat = 3;
  std::string db_bench = "/usr/bin/db_bench";
  std::string base;
  std::string dedupe = "origin";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--events") events = std::stoll(argv[i + 1]);
    else if (a == "--repeat") repeat = std::stoi(argv[i + 1]);
    else if (a == "--db-bench") db_bench = argv[i + 1];
    else if (a == "--dir") base = argv[i + 1];
    else if (a == "--dedupe") dedupe = argv[i + 1];  // origin | event-id | off
  }
  ewarn::testing::TempDir tmp;
  if (base.empty()) base = tmp.path();
  using Dedupe = processors::RuntimeOptions::Dedupe;
  Dedupe mode = dedupe == "event-id" ? Dedupe::kByEventId : dedupe == "off" ? Dedupe::kOff : Dedupe::kByOrigin;

  // Interleaved so both sides see the same machine conditions.
  std::vector<double> append, e2e, read, rocks_nosync, rocks_sync;
  int64_t commits = 0;
  size_t avg_value = 0;
  for (int r = 0; r < repeat; ++r) {
    std::string dir = base + "/run" + std::to_string(r);
    EwarnRun run = RunEwarn(dir, events, mode);
    std::filesystem::remove_all(dir);
    append.push_back(run.append_rate);
    e2e.push_back(run.e2e_rate);
    read.push_back(run.read_rate);
    commits = run.commits;
    avg_value = run.avg_value;
    rocks_nosync.push_back(DbBench(db_bench, base + "/dbbench", events, false));
    rocks_sync.push_back(DbBench(db_bench, base + "/dbbench", events, true));
  }
  double ewarn_rate = Median(e2e);
  std::printf("events per run                 %lld x %d runs (avg value %zu bytes, keys 16 bytes, dedupe %s); medians:\n",
              static_cast<long long>(events), repeat, avg_value, dedupe.c_str());
  std::printf("ewarn durable append only      %.0f events/s\n", Median(append));
  std::printf("ewarn append + task commit     %.0f events/s (%lld commits per run, all fsynced)\n", ewarn_rate,
              static_cast<long long>(commits));
  std::printf("ewarn log read + decode        %.0f events/s\n", Median(read));
  double nosync = Median(rocks_nosync), sync = Median(rocks_sync);
  std::printf("db_bench fillrandom (WAL, no fsync) %.0f ops/s -> ratio %.2f\n", nosync, nosync > 0 ? ewarn_rate / nosync : 0.0);
  std::printf("db_bench fillrandom (WAL, fsync)    %.0f ops/s -> ratio %.2f\n", sync, sync > 0 ? ewarn_rate / sync : 0.0);
  return 0;
}
