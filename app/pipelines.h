// What ewarn runs on a data directory, in one place, so `serve`, `replay` and `demo` run the
// same stages in the same order: the station stage over in.events, then the alert stage over
// its `risk` output.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/store/state_store.h"
#include "ewarn/v1/rules.pb.h"

namespace ewarn::app {

// The rules file given with --rules, or the built-in defaults when `path` is empty.
Result<v1::Rules> RulesFromFlag(const std::string& path);

// The stages, in data-flow order. `log` must outlive them.
std::vector<processors::Pipeline> MakePipelines(int32_t partitions, const v1::Rules& rules, store::EventLog& log);

// Every state store the stages use (plus the runtime's own).
std::vector<std::string> StoresOf(const std::vector<processors::Pipeline>& pipelines);

// Creates the stages' output topics (idempotent).
Status CreateOutputs(store::EventLog& log, const std::vector<processors::Pipeline>& pipelines);

}  // namespace ewarn::app
