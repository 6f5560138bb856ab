// The rules file (ewarn.v1.Rules): thresholds, weights and windows, loaded from textproto and
// checked before anything runs, so a bad rule is refused at load, naming line and field.
#pragma once

#include <string>
#include <string_view>

#include "ewarn/base/status.h"
#include "ewarn/v1/rules.pb.h"

namespace ewarn::processors {

// The built-in rules (processors/rules/default.textproto, compiled in).
const v1::Rules& DefaultRules();
std::string_view DefaultRulesText();

// Parses and validates textproto. InvalidArgument, e.g.
//   "my.textproto:12:5: Message type "ewarn.v1.KitRules" has no field named "silent_after""
//   "my.textproto: risk.levels[1] (HIGH): leave 0.8 must be below enter 0.7"
// Fields left out keep their default values.
Result<v1::Rules> ParseRules(std::string_view text, std::string_view source_name);
// Reads and parses a file; NotFound naming the path.
Result<v1::Rules> LoadRules(const std::string& path);

// Semantic checks (ParseRules runs them): windows positive, levels ascending with
// leave < enter, weights for known detectors only, fractions in range.
Status ValidateRules(const v1::Rules& rules, std::string_view source_name);

// The detectors a weight may name.
const std::vector<std::string>& KnownDetectors();

}  // namespace ewarn::processors
