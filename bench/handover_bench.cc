// Hand-over of the station stage's partitions (issue 14.4). --engine mock: over librdkafka's
// mock cluster (the Kafka protocol on loopback TCP, brokers inside this process: NOT a real
// broker, which adds disks, replication and a network; and it keeps at most 5 MB per partition,
// dropping older records, so only small workloads fit: the bench checks that nothing was
// dropped). --engine embedded: the same runtime and changelog on the embedded log, which holds
// Nigeria's scale. Setup (not timed): the election morning of pipeline_bench (election_day.h)
// appended to in.events. Timed, R times:
//   (a) replay: a node on an empty state store processes every partition from offset 0, writing
//       the changelog as serve does on Kafka (and, once per run, the same without a changelog:
//       what writing it costs);
//   (b) restore: a second node on an empty state store is assigned every partition, restores
//       each from the changelog (a) wrote and is caught up without reading any input.
// Prints medians, the changelog's size, and the state digests (a, b and the run without a
// changelog must agree).
//
// Usage: handover_bench [--engine mock|embedded] [--stations N | --inec FILE] [--events M]
//                       [--repeat R] [--partitions P]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "election_day.h"
#include "ewarn/processors/digest.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/processors/rules.h"
#include "ewarn_testing.h"

using namespace ewarn;
using namespace ewarn::bench;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

struct NodeRun {
  double seconds = 0;  // from start to caught up (group join included)
  processors::RuntimeStats stats;
  std::string state_digest;
};

NodeRun RunNode(store::EventLog& log, const std::string& state_dir, int32_t partitions, const std::string& group,
                const std::string& changelog) {
  processors::Pipeline p = processors::StationPipeline(partitions, processors::DefaultRules(), log);
  for (const auto& spec : p.outputs) Check(log.CreateTopic(spec), "create outputs");
  std::vector<std::string> stores = p.runtime.stores;
  stores.emplace_back(processors::kSeenStore);
  auto state = store::StateStore::Open({.dir = state_dir, .stores = stores});  // sync = true
  Check(state.status(), "open state");
  p.runtime.group = group;
  p.runtime.changelog_topic = changelog;
  auto started = Clock::now();
  auto runtime = processors::TaskRuntime::Make(log, **state, p.factory, p.runtime, nullptr);
  Check(runtime.status(), "runtime");
  Check((*runtime)->RunUntilCaughtUp(std::chrono::seconds(120)), "run");
  NodeRun out;
  out.seconds = Seconds(started);
  out.stats = (*runtime)->stats();
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
  std::string inec, engine = "mock";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--stations") stations = std::stoll(argv[i + 1]);
    else if (a == "--events") events = std::stoll(argv[i + 1]);
    else if (a == "--repeat") repeat = std::stoi(argv[i + 1]);
    else if (a == "--partitions") partitions = std::stoi(argv[i + 1]);
    else if (a == "--inec") inec = argv[i + 1];
    else if (a == "--engine") engine = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s (see the usage at the top of bench/handover_bench.cc)\n", a.c_str());
      return 2;
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  ewarn::testing::TempDir tmp;
  std::unique_ptr<ewarn::testing::MockKafkaCluster> cluster;
  Result<std::unique_ptr<store::EventLog>> log = Status::InvalidArgument("--engine wants mock or embedded, got '" + engine + "'");
  if (engine == "mock") {
    auto started = ewarn::testing::MockKafkaCluster::Start(3);
    Check(started.status(), "mock cluster");
    cluster = std::move(started).value();
    store::KafkaLogOptions options = cluster->LogOptions(std::chrono::seconds(60));
    options.properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "300"}};
    log = store::OpenKafkaLog(options);
  } else if (engine == "embedded") {
    log = store::OpenEmbeddedLog({.dir = tmp.Sub("log")});
  }
  Check(log.status(), "open log");
  Check((*log)->CreateTopic({.name = "ref.stations", .partitions = 1}), "topic");
  Check((*log)->CreateTopic({.name = "in.events", .partitions = partitions}), "topic");
  auto setup = Clock::now();
  std::vector<Ref> refs = inec.empty() ? GenerateStations(**log, stations) : ImportInec(**log, inec);
  AppendDay(**log, refs, events, partitions, Mix{885, 985, 995});
  std::printf("setup: %zu stations, %lld events appended (%s) in %.1f s\n", refs.size(),
              static_cast<long long>(events), engine.c_str(), Seconds(setup));
  for (const std::string topic : {"ref.stations", "in.events"}) {
    for (int32_t p = 0; p < (topic == "in.events" ? partitions : 1); ++p) {
      auto offsets = (*log)->Offsets({topic, p});
      Check(offsets.status(), "offsets");
      if (offsets->start != 0) {
        std::fprintf(stderr, "%s/%d starts at %lld: the engine dropped records (the mock keeps 5 MB a partition); "
                     "use fewer events or --engine embedded\n", topic.c_str(), p, static_cast<long long>(offsets->start));
        return 1;
      }
    }
  }

  std::vector<double> replay, restore, restore_node, records_per_s;
  NodeRun a, b;
  for (int r = 0; r < repeat; ++r) {
    std::string changelog = "changelog.bench" + std::to_string(r);  // each run restores its own
    a = RunNode(**log, tmp.Sub("a" + std::to_string(r)), partitions, "replay" + std::to_string(r), changelog);
    b = RunNode(**log, tmp.Sub("b" + std::to_string(r)), partitions, "restore" + std::to_string(r), changelog);
    std::filesystem::remove_all(tmp.Sub("a" + std::to_string(r)));
    std::filesystem::remove_all(tmp.Sub("b" + std::to_string(r)));
    replay.push_back(a.seconds);
    restore.push_back(b.stats.restore_seconds);
    restore_node.push_back(b.seconds);
    records_per_s.push_back(static_cast<double>(b.stats.restored_records) / b.stats.restore_seconds);
    std::printf("run %d: replay from 0 %.1f s (%lld inputs), restore %.1f s (%lld changelog records, node caught up "
                "in %.1f s, %lld inputs read), state %.16s / %.16s\n",
                r + 1, a.seconds, static_cast<long long>(a.stats.input_records), b.stats.restore_seconds,
                static_cast<long long>(b.stats.restored_records), b.seconds,
                static_cast<long long>(b.stats.input_records), a.state_digest.c_str(), b.state_digest.c_str());
    if (a.state_digest != b.state_digest || b.stats.input_records != 0) {
      std::fprintf(stderr, "the restored node does not match the replay\n");
      return 1;
    }
  }
  NodeRun plain = RunNode(**log, tmp.Sub("plain"), partitions, "plain", "");
  std::printf("replay from 0 without a changelog: %.1f s, state %.16s%s\n", plain.seconds, plain.state_digest.c_str(),
              plain.state_digest == a.state_digest ? " (same)" : " (DIFFERENT)");
  const double per_partition_records = static_cast<double>(b.stats.restored_records) / partitions;
  std::printf("records per run                %lld inputs (%zu stations, %d partitions), medians of %d:\n",
              static_cast<long long>(a.stats.input_records), refs.size(), partitions, repeat);
  std::printf("replay from 0, all partitions  %.1f s\n", Median(replay));
  std::printf("restore, all partitions        %.1f s (node caught up in %.1f s), %.0f changelog records/s\n",
              Median(restore), Median(restore_node), Median(records_per_s));
  std::printf("changelog                      %lld records (%.2f per input), %.0f per partition\n",
              static_cast<long long>(b.stats.restored_records),
              static_cast<double>(b.stats.restored_records) / static_cast<double>(a.stats.input_records),
              per_partition_records);
  std::printf("per partition                  replay %.1f s, restore %.1f s (restores run one partition after another)\n",
              Median(replay) / partitions, Median(restore) / partitions);
  return 0;
}
