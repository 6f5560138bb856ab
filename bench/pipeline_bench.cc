// The station stage end to end (enrich + cluster + turnout/kit/hate detectors + risk) on the
// embedded log with durable commits, at Nigeria's scale, against the raw log read + decode rate
// measured in the same run (the ceiling for any processor).
//
// Setup (not timed): a reference set of N stations in 774 districts of 8 wards (or Nigeria's
// 176,623 real polling units with --inec FILE), and M events of an election morning from 08:00,
// over as much event time as gives every kit a heartbeat about every 3 minutes (as real kits
// do; sparser heartbeats would make every kit "silent"): 88.5% kit heartbeats, 10% turnout snapshots, 1% incident reports, 0.5% hate-speech
// flags (telemetry dominates an election day; --incident-heavy: 80/12/5/3), plus a tick per
// partition per minute, appended durably in batches of 1,000.
// Timed, R times interleaved: (a) read + decode every in.events record; (b) run the station
// stage from an empty state store to caught up, every commit fsynced. Prints medians, the
// ratio, the stage's CPU time (process and its thread), the digests of the state and outputs
// it derived (equal across builds that derive the same results), and the process's peak RSS.
//
// Usage: pipeline_bench [--stations N] [--events M] [--repeat R] [--partitions P] [--inec FILE]
//                       [--incident-heavy]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "ewarn/ingest/stations.h"
#include "ewarn/processors/digest.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/processors/rules.h"
#include "ewarn/schemas/events.h"
#include "election_day.h"
#include "ewarn_testing.h"

using namespace ewarn;
using namespace ewarn::bench;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// CPU seconds of the whole process (the stage's thread and RocksDB's background threads) and of
// the calling thread alone: less sensitive than wall time to other load on a shared machine.
struct CpuTimes {
  double process = 0, thread = 0;
};
double ToSeconds(const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; }
CpuTimes CpuNow() {
  rusage self{}, thread{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_THREAD, &thread);
  return {ToSeconds(self.ru_utime) + ToSeconds(self.ru_stime), ToSeconds(thread.ru_utime) + ToSeconds(thread.ru_stime)};
}


double ReadRate(store::EventLog& log, int32_t partitions, int64_t* records) {
  auto started = Clock::now();
  int64_t decoded = 0;
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t from = 0;
    while (true) {
      auto batch = log.Read({"in.events", p}, from, 10000);
      if (!batch.ok() || batch->empty()) break;
      for (const auto& r : *batch) decoded += schemas::DecodeEvent(r.value).ok();
      from = batch->back().offset + 1;
    }
  }
  *records = decoded;
  return static_cast<double>(decoded) / Seconds(started);
}

struct StageRun {
  double rate = 0;
  double cpu_process = 0, cpu_thread = 0;  // seconds
  int64_t commits = 0, outputs = 0, skipped = 0;
  std::string state_digest;  // what the run left in the state store (not timed)
};

StageRun RunStage(store::EventLog& log, const std::string& state_dir, int32_t partitions, int64_t records) {
  processors::Pipeline p = processors::StationPipeline(partitions, processors::DefaultRules(), log);
  for (const auto& spec : p.outputs) Check(log.CreateTopic(spec), "create outputs");
  std::vector<std::string> stores = p.runtime.stores;
  stores.emplace_back(processors::kSeenStore);
  auto state = store::StateStore::Open({.dir = state_dir, .stores = stores});  // sync = true
  Check(state.status(), "open state");
  p.runtime.group = "bench-" + state_dir;
  auto started = Clock::now();
  CpuTimes cpu_started = CpuNow();
  auto runtime = processors::TaskRuntime::Make(log, **state, p.factory, p.runtime, nullptr);
  Check(runtime.status(), "runtime");
  Check((*runtime)->RunUntilCaughtUp(), "run");
  StageRun out;
  out.rate = static_cast<double>(records) / Seconds(started);
  CpuTimes cpu = CpuNow();
  out.cpu_process = cpu.process - cpu_started.process;
  out.cpu_thread = cpu.thread - cpu_started.thread;
  out.commits = (*runtime)->stats().commits;
  out.outputs = (*runtime)->stats().outputs;
  out.skipped = (*runtime)->stats().skipped;
  Check((*runtime)->Close(), "close");
  runtime->reset();
  auto digest = processors::StateDigest(**state);
  Check(digest.status(), "state digest");
  out.state_digest = *digest;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t stations = 176'000, events = 2'000'000;
  int repeat = 3;
  int32_t partitions = 8;
  std::string inec;
  Mix mix{885, 985, 995};
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--incident-heavy") mix = {800, 920, 970};
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--incident-heavy") {
      --i;
      continue;
    }
    if (a == "--stations") stations = std::stoll(argv[i + 1]);
    else if (a == "--events") events = std::stoll(argv[i + 1]);
    else if (a == "--repeat") repeat = std::stoi(argv[i + 1]);
    else if (a == "--partitions") partitions = std::stoi(argv[i + 1]);
    else if (a == "--inec") inec = argv[i + 1];
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows even through a pipe
  ewarn::testing::TempDir tmp;
  auto log = store::OpenEmbeddedLog({.dir = tmp.Sub("log")});
  Check(log.status(), "open log");
  Check((*log)->CreateTopic({.name = "ref.stations", .partitions = 1}), "topic");
  Check((*log)->CreateTopic({.name = "in.events", .partitions = partitions}), "topic");
  auto setup = Clock::now();
  std::vector<Ref> refs = inec.empty() ? GenerateStations(**log, stations) : ImportInec(**log, inec);
  AppendDay(**log, refs, events, partitions, mix);
  std::printf("setup: %zu stations, %lld events appended in %.1f s\n", refs.size(), static_cast<long long>(events), Seconds(setup));

  std::vector<double> read, stage, cpu_process, cpu_thread;
  StageRun last;
  int64_t records = 0;
  for (int r = 0; r < repeat; ++r) {
    read.push_back(ReadRate(**log, partitions, &records));
    std::string state_dir = tmp.Sub("state" + std::to_string(r));
    last = RunStage(**log, state_dir, partitions, records);
    stage.push_back(last.rate);
    cpu_process.push_back(last.cpu_process);
    cpu_thread.push_back(last.cpu_thread);
    std::filesystem::remove_all(state_dir);
    std::printf("run %d: read+decode %.0f records/s, station stage %.0f records/s (CPU %.1f s, %.1f s on its thread), state %.16s\n",
                r + 1, read.back(), stage.back(), cpu_process.back(), cpu_thread.back(), last.state_digest.c_str());
  }
  if (auto stat = (*log)->Stat(); stat.ok()) {  // what the stage wrote (all runs), by topic
    std::string line = "outputs by topic (all runs):";
    for (const auto& t : *stat) {
      if (t.name != "in.events" && t.name != "ref.stations") line += " " + t.name + "=" + std::to_string(t.Messages());
    }
    std::printf("%s\n", line.c_str());
  }
  // Every run derives the same outputs, so the digest (repeats dropped) is one run's: equal
  // digests across builds mean equal results.
  auto outputs = processors::DigestTopics(**log, {"risk", "derived.anomalies", "derived.situations", "derived.incidents",
                                                  "dlq.processing"});
  Check(outputs.status(), "output digest");
  std::printf("outputs digest %.16s (%lld distinct), state digest %.16s\n", outputs->digest.c_str(),
              static_cast<long long>(outputs->records), last.state_digest.c_str());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("records per run                %lld (%zu stations, %d partitions), medians of %d:\n",
              static_cast<long long>(records), refs.size(), partitions, repeat);
  std::printf("log read + decode (ceiling)    %.0f records/s\n", Median(read));
  std::printf("station stage, durable commits %.0f records/s (%lld commits, %lld outputs, %lld skipped per run)\n",
              Median(stage), static_cast<long long>(last.commits), static_cast<long long>(last.outputs),
              static_cast<long long>(last.skipped));
  std::printf("ratio to ceiling               %.2f\n", Median(stage) / Median(read));
  std::printf("station stage CPU per run      %.1f s (%.1f s on the stage's thread), %.0f records per CPU second\n",
              Median(cpu_process), Median(cpu_thread), static_cast<double>(records) / Median(cpu_process));
  std::printf("peak RSS                       %.0f MiB\n", static_cast<double>(usage.ru_maxrss) / 1024.0);
  return 0;
}
