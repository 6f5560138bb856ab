// A processor process for the crash and consumer-group tests: runs the task runtime with the
// counting processor over in.events on either engine until told to stop or caught up, printing
// "progress N" (input records accounted for, committed or not) after every poll so the test
// can kill it at chosen points. Exit 0 when caught up (with --until-caught-up).
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "../processors/testing/counting_processor.h"
#include "ewarn/processors/runtime.h"

using namespace ewarn;

int main(int argc, char** argv) {
  std::string engine = "embedded", log_dir, bootstrap, state_dir, group = "crash";
  bool until_caught_up = false;
  size_t commit_every = 2000;
  int64_t expected_total = -1;  // with Kafka: stop when this many inputs are accounted for
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return std::string(i + 1 < argc ? argv[++i] : ""); };
    if (a == "--engine") engine = next();
    else if (a == "--log") log_dir = next();
    else if (a == "--bootstrap") bootstrap = next();
    else if (a == "--state") state_dir = next();
    else if (a == "--group") group = next();
    else if (a == "--commit-every") commit_every = std::stoul(next());
    else if (a == "--until-caught-up") until_caught_up = true;
    else if (a == "--expect") expected_total = std::stoll(next());
  }
  Result<std::unique_ptr<store::EventLog>> log =
      engine == "kafka" ? store::OpenKafkaLog({.bootstrap_servers = bootstrap,
                                               .properties = {{"session.timeout.ms", "6000"},
                                                              {"heartbeat.interval.ms", "500"}}})
                        : store::OpenEmbeddedLog({.dir = log_dir});
  if (!log.ok()) {
    std::fprintf(stderr, "crash_worker: %s\n", log.status().ToString().c_str());
    return 2;
  }
  auto state = store::StateStore::Open(
      {.dir = state_dir,
       .stores = {std::string(processors::testing::kCountsStore),
                  std::string(processors::kSeenStore)}});
  if (!state.ok()) {
    std::fprintf(stderr, "crash_worker: %s\n", state.status().ToString().c_str());
    return 2;
  }
  int32_t partitions = *(*log)->PartitionCount("in.events");
  auto runtime = processors::TaskRuntime::Make(
      **log, **state,
      [](int32_t) { return std::make_unique<processors::testing::CountingProcessor>(); },
      {.group = group,
       .input_topic = "in.events",
       .stores = {std::string(processors::testing::kCountsStore)},
       .max_batch = 500,
       .commit_every_records = commit_every,
       // The test's inputs include producer retries, so remember every event id.
       .dedupe = processors::RuntimeOptions::Dedupe::kByEventId},
      nullptr);
  if (!runtime.ok()) {
    std::fprintf(stderr, "crash_worker: %s\n", runtime.status().ToString().c_str());
    return 2;
  }
  int64_t base = 0;  // inputs already committed by earlier incarnations
  for (int32_t p = 0; p < partitions; ++p) {
    auto off = (*state)->CommittedOffset({"in.events", p});
    if (off.ok() && off->has_value()) base += **off;
  }
  std::printf("started\n");
  std::fflush(stdout);
  if (until_caught_up && engine == "embedded") {
    Status st = (*runtime)->RunUntilCaughtUp();
    if (!st.ok()) {
      std::fprintf(stderr, "crash_worker: %s\n", st.ToString().c_str());
      return 1;
    }
    std::printf("done\n");
    return 0;
  }
  while (true) {
    Status st = (*runtime)->RunOnce(std::chrono::milliseconds(100));
    if (!st.ok()) {
      std::fprintf(stderr, "crash_worker: %s\n", st.ToString().c_str());
      return 1;
    }
    const auto& s = (*runtime)->stats();
    int64_t progress = base + s.processed + s.duplicates + s.skipped;
    std::printf("progress %lld\n", static_cast<long long>(progress));
    std::fflush(stdout);
    if (expected_total >= 0 && progress >= expected_total) {
      st = (*runtime)->Commit();
      if (!st.ok()) return 1;
      std::printf("done\n");
      std::fflush(stdout);
      // Stay in the group (holding partitions) until the test says stop via stdin EOF.
      if (!until_caught_up) {
        char buf[16];
        while (read(0, buf, sizeof buf) > 0) {
        }
      }
      return (*runtime)->Close().ok() ? 0 : 1;
    }
  }
}
