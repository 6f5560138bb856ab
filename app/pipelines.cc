#include "pipelines.h"

#include <algorithm>

#include "ewarn/alerts/lifecycle.h"
#include "ewarn/processors/rules.h"

namespace ewarn::app {

Result<v1::Rules> RulesFromFlag(const std::string& path) {
  if (path.empty()) return processors::DefaultRules();
  return processors::LoadRules(path);
}

std::vector<processors::Pipeline> MakePipelines(int32_t partitions, const v1::Rules& rules, store::EventLog& log) {
  std::vector<processors::Pipeline> out;
  out.push_back(processors::StationPipeline(partitions, rules, log));
  out.push_back(alerts::AlertPipeline(partitions, rules, log));
  return out;
}

std::vector<std::string> StoresOf(const std::vector<processors::Pipeline>& pipelines) {
  std::vector<std::string> stores{std::string(processors::kSeenStore)};
  for (const auto& p : pipelines) {
    for (const auto& s : p.runtime.stores) {
      if (std::find(stores.begin(), stores.end(), s) == stores.end()) stores.push_back(s);
    }
  }
  return stores;
}

Status CreateOutputs(store::EventLog& log, const std::vector<processors::Pipeline>& pipelines) {
  for (const auto& p : pipelines) {
    for (const auto& spec : p.outputs) RETURN_IF_ERROR(log.CreateTopic(spec));
  }
  return Status::Ok();
}

}  // namespace ewarn::app
