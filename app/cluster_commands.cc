// Commands for several nodes on one Kafka cluster: `topics create|check` prepare and verify the
// topics the design relies on; `dev-kafka` hosts a Kafka-protocol cluster on loopback so three
// `serve` processes can share one on a laptop (and in the tests).
#include <signal.h>

#include <cstdio>

#include "commands.h"
#include "data_dir.h"
#include "ewarn/store/dev_kafka.h"
#include "topic_plan.h"

namespace ewarn::app {
namespace {

const FlagSpec kBrokersFlag{"kafka", "HOST:PORT,...", "the Kafka brokers", "", true};

int TopicsCreate(const Flags& f) {
  const std::string cmd = "topics create";
  Result<int64_t> partitions = f.GetInt("partitions");
  Result<int64_t> replication = f.GetInt("replication-factor");
  if (!partitions.ok()) return Fail(cmd, partitions.status());
  if (!replication.ok()) return Fail(cmd, replication.status());
  if (*replication < 1) return Fail(cmd, Status::InvalidArgument("--replication-factor must be at least 1"));
  auto log = store::OpenKafkaLog({.bootstrap_servers = f.Get("kafka"),
                                  .replication_factor = static_cast<int32_t>(*replication),
                                  .properties = KafkaOf(f).properties});
  if (!log.ok()) return Fail(cmd, log.status());
  if (Status s = CreateClusterTopics(**log, static_cast<int32_t>(*partitions)); !s.ok()) return Fail(cmd, s);
  auto specs = ClusterTopics(**log, static_cast<int32_t>(*partitions));
  if (!specs.ok()) return Fail(cmd, specs.status());
  for (const auto& spec : *specs) {
    std::printf("%s: %d partitions, %s\n", spec.name.c_str(), spec.partitions,
                spec.compacted ? "compacted" : (spec.retention_ms < 0 ? "kept forever" : "time-limited"));
  }
  std::printf("%zu topics ready (replication factor %lld%s)\n", specs->size(), static_cast<long long>(*replication),
              *replication >= 3 ? ", min.insync.replicas 2" : "");
  return 0;
}

int TopicsCheck(const Flags& f) {
  const std::string cmd = "topics check";
  auto log = store::OpenKafkaLog({.bootstrap_servers = f.Get("kafka"), .properties = KafkaOf(f).properties});
  if (!log.ok()) return Fail(cmd, log.status());
  auto check = RequireClusterTopics(**log, f.Get("kafka"));
  if (!check.ok()) return Fail(cmd, check.status());
  if (!check->settings_unchecked.empty()) {
    std::printf("every ewarn topic is there with its partition count; their settings are NOT checked: %s\n",
                check->settings_unchecked.c_str());
  } else {
    std::printf("every ewarn topic is there with its partition count and settings\n");
  }
  return 0;
}

// Waits for SIGINT or SIGTERM.
void WaitForStop() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  while (sigwaitinfo(&signals, nullptr) < 0) {
  }
}

int DevKafka(const Flags& f) {
  const std::string cmd = "dev-kafka";
  Result<int64_t> brokers = f.GetInt("brokers");
  Result<int64_t> partitions = f.GetInt("partitions");
  if (!brokers.ok()) return Fail(cmd, brokers.status());
  if (!partitions.ok()) return Fail(cmd, partitions.status());
  auto cluster = store::DevKafkaCluster::Start(static_cast<int>(*brokers));
  if (!cluster.ok()) return Fail(cmd, cluster.status());
  store::DevKafkaCluster* c = cluster->get();
  {
    auto log = store::OpenKafkaLog({.bootstrap_servers = c->bootstrap_servers(),
                                    .create_topic = [c](const store::TopicSpec& spec) { return c->CreateTopic(spec); }});
    if (!log.ok()) return Fail(cmd, log.status());
    if (Status s = CreateClusterTopics(**log, static_cast<int32_t>(*partitions)); !s.ok()) return Fail(cmd, s);
  }
  std::printf("bootstrap: %s\n", c->bootstrap_servers().c_str());
  std::printf("ready: librdkafka's mock cluster, %lld brokers, every ewarn topic made (in.events with %lld "
              "partitions); in memory only, gone when this stops (Ctrl-C or SIGTERM)\n",
              static_cast<long long>(*brokers), static_cast<long long>(*partitions));
  std::fflush(stdout);
  WaitForStop();
  return 0;
}

}  // namespace

std::vector<Command> ClusterCommands() {
  return {
      {{"topics", "create"},
       "create every topic ewarn uses on a Kafka cluster (inputs and ref.* kept forever, ref.* compacted)",
       {kBrokersFlag,
        {"partitions", "N", "partitions of in.events (and the partitioned outputs)", "8"},
        {"replication-factor", "R", "replicas of every topic; 3 in production (then min.insync.replicas=2)", "3"}},
       "",
       TopicsCreate},
      {{"topics", "check"},
       "check that every topic ewarn needs exists with its partition count, retention, cleanup.policy and min.insync.replicas (serve --kafka checks at start)",
       {kBrokersFlag},
       "",
       TopicsCheck},
      {{"dev-kafka"},
       "host a Kafka-protocol cluster on 127.0.0.1 (librdkafka's mock) with ewarn's topics, for trying several nodes",
       {{"brokers", "N", "brokers of the cluster", "3"},
        {"partitions", "N", "partitions of in.events", "8"}},
       "",
       DevKafka},
  };
}

}  // namespace ewarn::app
