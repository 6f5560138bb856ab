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
#include "ewarn_testing.h"

using namespace ewarn;
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

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Ref {
  std::string id, district_key;
  double lat, lon;
  int64_t registered;
};

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

std::vector<Ref> GenerateStations(store::EventLog& log, int64_t n) {
  std::vector<Ref> refs;
  std::vector<store::OutRecord> batch;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> jitter(-0.05, 0.05);
  for (int64_t i = 0; i < n; ++i) {
    int64_t district = i % 774, ward = (i / 774) % 8;
    v1::Event e;
    e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
    e.mutable_header()->set_event_id("station:" + std::to_string(i));
    auto* s = e.mutable_station();
    s->set_station_id("PU" + std::to_string(i));
    s->set_name("Polling unit " + std::to_string(i));
    s->set_region("STATE" + std::to_string(district % 37));
    s->set_district("LGA" + std::to_string(district));
    s->set_ward("WARD" + std::to_string(ward));
    double lat = 4.5 + static_cast<double>(district % 28) * 0.3 + jitter(rng), lon = 3.0 + static_cast<double>(district / 28) * 0.4 + jitter(rng);
    s->mutable_location()->set_lat(lat);
    s->mutable_location()->set_lon(lon);
    s->set_registered_voters(500 + (i * 37) % 1000);
    refs.push_back({s->station_id(), schemas::DistrictKey(s->region(), s->district()), lat, lon, s->registered_voters()});
    batch.push_back({.topic = "ref.stations", .key = s->station_id(), .value = schemas::EncodeEvent(e), .partition = 0});
    if (batch.size() == 5000 || i + 1 == n) {
      Check(log.Append(batch).status(), "append stations");
      batch.clear();
    }
  }
  return refs;
}

std::vector<Ref> ImportInec(store::EventLog& log, const std::string& path) {
  std::vector<Ref> refs;
  std::vector<store::OutRecord> batch;
  Status st = ingest::ReadStationsCsv(path, ingest::StationFormat::kInec, [&](v1::PollingStation&& s) {
    v1::Event e;
    e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
    e.mutable_header()->set_event_id("station:" + s.station_id());
    refs.push_back({s.station_id(), schemas::DistrictKey(s.region(), s.district()), s.location().lat(), s.location().lon(),
                    s.registered_voters() > 0 ? s.registered_voters() : 800});
    *e.mutable_station() = std::move(s);
    batch.push_back({.topic = "ref.stations", .key = refs.back().id, .value = schemas::EncodeEvent(e), .partition = 0});
    if (batch.size() == 5000) {
      Check(log.Append(batch).status(), "append stations");
      batch.clear();
    }
    return Status::Ok();
  }).status();
  Check(st, "read INEC csv");
  if (!batch.empty()) Check(log.Append(batch).status(), "append stations");
  return refs;
}

// An election day: M events over 9 hours, plus ticks.
struct Mix {
  int kit, turnout, incident;  // per mille, cumulative; the rest hate speech
};

void AppendDay(store::EventLog& log, const std::vector<Ref>& refs, int64_t events, int32_t partitions, Mix mix) {
  const int64_t start = 1'803'974'400'000 + 8 * 3'600'000;  // 2027-03-02 08:00 UTC
  const double heartbeats_per_kit = static_cast<double>(events) * mix.kit / 1000.0 / static_cast<double>(refs.size());
  const int64_t span = std::max<int64_t>(600'000, static_cast<int64_t>(heartbeats_per_kit * 180'000));
  std::printf("event time: %.0f minutes from 08:00, %.1f heartbeats per kit\n", static_cast<double>(span) / 60'000,
              heartbeats_per_kit);
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<size_t> pick(0, refs.size() - 1);
  std::uniform_int_distribution<int> kind(0, 999);
  std::vector<store::OutRecord> batch;
  batch.reserve(1000);
  int64_t next_tick = start;
  int64_t kit_events = 0;
  auto flush = [&] {
    Check(log.Append(batch).status(), "append events");
    batch.clear();
  };
  for (int64_t i = 0; i < events; ++i) {
    int64_t t = start + span * i / events;
    while (next_tick <= t) {
      for (int32_t p = 0; p < partitions; ++p) {
        v1::Event e;
        e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
        e.mutable_header()->set_event_id("tick:" + std::to_string(p) + ":" + std::to_string(next_tick));
        e.mutable_header()->set_event_time_ms(next_tick);
        e.mutable_tick();
        batch.push_back({.topic = "in.events", .key = "tick", .value = schemas::EncodeEvent(e), .timestamp_ms = next_tick, .partition = p});
      }
      next_tick += 60'000;
    }
    // Kits report on a schedule (round robin: every kit at the same interval); people at random.
    int k = kind(rng);
    const Ref& r = k < mix.kit ? refs[static_cast<size_t>(kit_events++) % refs.size()] : refs[pick(rng)];
    v1::Event e;
    auto* h = e.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id("ev" + std::to_string(i));
    h->set_event_time_ms(t);
    h->set_received_time_ms(t);
    h->set_reporter("rep" + std::to_string(i % 5000));
    double progress = 0.05 + 0.1 * static_cast<double>(i) / static_cast<double>(events);  // of the day's turnout
    if (k < mix.kit) {
      auto* kit = e.mutable_kit();
      kit->set_kit_id("K" + r.id);
      kit->set_station_id(r.id);
      kit->set_battery_pct(100 - 60 * progress);
      // Accreditation precedes voting: a kit's count leads the station's votes. It grows with
      // event time at a busy morning's pace, 7% of registered an hour (a surge is over 25%),
      // however many events the run packs into its span.
      const double hours = static_cast<double>(t - start) / 3'600'000.0;
      kit->set_accredited_total(static_cast<int64_t>(static_cast<double>(r.registered) * (0.09 + 0.07 * hours)) + 5);
      kit->set_auth_failures(static_cast<int64_t>(10 * progress));
      kit->mutable_location()->set_lat(r.lat);
      kit->mutable_location()->set_lon(r.lon);
    } else if (k < mix.turnout) {
      e.mutable_turnout()->set_station_id(r.id);
      e.mutable_turnout()->set_voters_cast(static_cast<int64_t>(static_cast<double>(r.registered) * 0.55 * progress));
    } else if (k < mix.incident) {
      auto* in = e.mutable_incident();
      in->set_station_id(r.id);
      in->set_category(static_cast<v1::IncidentCategory>(1 + i % 8));
      in->set_severity(static_cast<int>(1 + i % 5));
      in->set_description("report " + std::to_string(i % 977));
    } else {
      auto* hs = e.mutable_hate_speech();
      hs->set_station_id(r.id);
      hs->set_text("message " + std::to_string(i % 4999));
      hs->set_reach(100 + i % 10000);
      hs->set_confidence(0.5);
    }
    batch.push_back({.topic = "in.events", .key = r.id, .value = schemas::EncodeEvent(e), .timestamp_ms = t,
                     .partition_key = r.district_key});
    if (batch.size() >= 1000) flush();
  }
  if (!batch.empty()) flush();
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
