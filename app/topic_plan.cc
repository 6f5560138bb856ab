#include "topic_plan.h"

#include <algorithm>

#include "ewarn/processors/runtime.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/changelog.h"
#include "pipelines.h"

namespace ewarn::app {

std::vector<store::TopicSpec> InputTopics(int32_t partitions) {
  namespace topic = schemas::topic;
  std::vector<store::TopicSpec> specs;
  specs.push_back({.name = std::string(topic::kInputs), .partitions = partitions});
  for (auto name : {topic::kStations, topic::kMonitors, topic::kLiaisons, topic::kTokens, topic::kAreas,
                    topic::kHours, topic::kContests, topic::kPvtSamples}) {
    specs.push_back({.name = std::string(name), .partitions = 1, .compacted = true});
  }
  specs.push_back({.name = std::string(topic::kRejected), .partitions = 1});
  return specs;
}

Result<std::vector<store::TopicSpec>> ClusterTopics(store::EventLog& log, int32_t partitions) {
  namespace topic = schemas::topic;
  if (partitions < 1) return Status::InvalidArgument("--partitions must be at least 1");
  std::vector<store::TopicSpec> specs = InputTopics(partitions);
  specs.push_back({.name = std::string(processors::kProcessingDlqTopic), .partitions = 1});
  ASSIGN_OR_RETURN(v1::Rules rules, RulesFromFlag(""));
  std::vector<processors::Pipeline> pipelines = MakePipelines(partitions, rules, log);
  for (const auto& pipeline : pipelines) {
    for (const auto& spec : pipeline.outputs) specs.push_back(spec);
  }
  // Each stage's changelog (several nodes: a partition that moves is restored from it), one
  // partition per input partition. Compacted, with min.compaction.lag.ms a week: a crashed
  // writer's unfinished batch must not make the broker drop the committed values it shadows
  // before the next owner has rewritten them (store/include/ewarn/store/changelog.h).
  for (const auto& pipeline : pipelines) {
    const std::string& input = pipeline.runtime.input_topic;
    auto it = std::find_if(specs.begin(), specs.end(), [&](const store::TopicSpec& s) { return s.name == input; });
    specs.push_back(store::ChangelogTopicSpec(processors::ChangelogTopicFor(input),
                                              it == specs.end() ? partitions : it->partitions));
  }
  // The delivery workers' queue (when no stage declared it) and their record of what went out.
  auto declared = [&](std::string_view name) {
    return std::any_of(specs.begin(), specs.end(), [&](const store::TopicSpec& s) { return s.name == name; });
  };
  if (!declared(topic::kOutbox)) specs.push_back({.name = std::string(topic::kOutbox), .partitions = partitions});
  // One deliveries partition per outbox partition: a new owner of an outbox partition reads
  // only its own partition's outcomes to learn where to resume.
  if (!declared(topic::kDeliveries)) {
    specs.push_back({.name = std::string(topic::kDeliveries), .partitions = partitions});
  }
  return specs;
}

Status CreateClusterTopics(store::EventLog& log, int32_t partitions) {
  ASSIGN_OR_RETURN(auto specs, ClusterTopics(log, partitions));
  for (const auto& spec : specs) RETURN_IF_ERROR(log.CreateTopic(spec));
  return Status::Ok();
}

Result<TopicCheck> CheckClusterTopics(store::EventLog& log, const std::string& bootstrap) {
  TopicCheck check;
  Result<int32_t> inputs = log.PartitionCount(schemas::topic::kInputs);
  if (!inputs.ok() && inputs.status().code() != StatusCode::kNotFound) return inputs.status();
  ASSIGN_OR_RETURN(auto specs, ClusterTopics(log, inputs.ok() ? *inputs : 8));
  std::vector<std::string> present;
  for (const auto& spec : specs) {
    Result<int32_t> count = log.PartitionCount(spec.name);
    if (!count.ok() && count.status().code() != StatusCode::kNotFound) return count.status();
    if (!count.ok()) {
      check.problems.push_back("topic '" + spec.name + "' is missing");
      continue;
    }
    present.push_back(spec.name);
    if (*count != spec.partitions) {
      check.problems.push_back("topic '" + spec.name + "' has " + std::to_string(*count) + " partitions, not " +
                               std::to_string(spec.partitions));
    }
  }
  if (present.empty()) return check;
  ASSIGN_OR_RETURN(store::ClusterTopicSettings described, log.DescribeTopics(present));
  check.settings_unchecked = described.configs_unknown;
  for (const auto& actual : described.topics) {
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const store::TopicSpec& s) { return s.name == actual.name; });
    for (const auto& m : store::KafkaSettingMismatches(*spec, actual)) {
      check.problems.push_back("topic '" + m.topic + "' has " + m.setting + "=" + m.actual + ", it must be " +
                               m.wanted + " (" + m.why + "): kafka-configs.sh --bootstrap-server " + bootstrap +
                               " --alter --entity-type topics --entity-name " + m.topic + " --add-config " +
                               m.setting + "=" + m.wanted);
    }
  }
  return check;
}

Result<TopicCheck> RequireClusterTopics(store::EventLog& log, const std::string& bootstrap) {
  ASSIGN_OR_RETURN(TopicCheck check, CheckClusterTopics(log, bootstrap));
  if (check.problems.empty()) return check;
  bool structural = false;  // missing topics or partition counts: only a new cluster's topics fix that
  std::string all = "the Kafka topics are not as ewarn needs them:";
  for (const auto& p : check.problems) {
    all += "\n  " + p;
    structural |= p.find("--add-config") == std::string::npos;
  }
  if (structural) {
    all += "\n  run `ewarn topics create --kafka " + bootstrap + " --partitions N --replication-factor 3` first";
  }
  return Status::FailedPrecondition(all);
}

}  // namespace ewarn::app
