#include "ewarn/processors/rules.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <sstream>

#include "default_rules_text.h"

namespace ewarn::processors {
namespace {

class Collector final : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(std::string_view source) : source_(source) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (first_.empty()) {
      first_ = source_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
    }
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string source_;
  std::string first_;
};

std::string LevelName(v1::RiskLevelName l) { return v1::RiskLevelName_Name(l); }

}  // namespace

const std::vector<std::string>& KnownDetectors() {
  static const std::vector<std::string> kDetectors = {
      "cluster",           "incident",          "turnout.impossible", "turnout.surge",
      "turnout.outlier",   "turnout.over_voting", "turnout.heaping",  "kit.silent",
      "kit.tamper",        "kit.gps",           "kit.auth_failures",  "kit.battery",
      "kit.area_down",     "hate.surge",        "results.over_voting", "results.conflict",
      "results.missing", "results.last_digit", "results.share_heaping",
      "results.extreme_stations"};
  return kDetectors;
}

Status ValidateRules(const v1::Rules& r, std::string_view source) {
  std::string at(source);
  auto bad = [&](const std::string& field, const std::string& why) {
    return Status::InvalidArgument(at + ": " + field + ": " + why);
  };
  auto positive = [&](const std::string& field, double v) -> Status {
    if (v <= 0) return bad(field, "must be positive, not " + std::to_string(v));
    return Status::Ok();
  };
  RETURN_IF_ERROR(positive("cluster.radius_m", r.cluster().radius_m()));
  RETURN_IF_ERROR(positive("cluster.window_ms", static_cast<double>(r.cluster().window_ms())));
  RETURN_IF_ERROR(positive("cluster.close_after_ms", static_cast<double>(r.cluster().close_after_ms())));
  RETURN_IF_ERROR(positive("turnout.surge_fraction_per_hour", r.turnout().surge_fraction_per_hour()));
  RETURN_IF_ERROR(positive("turnout.max_turnout_fraction", r.turnout().max_turnout_fraction()));
  RETURN_IF_ERROR(positive("turnout.accreditation_window_ms", static_cast<double>(r.turnout().accreditation_window_ms())));
  RETURN_IF_ERROR(positive("turnout.surge_min_voters", r.turnout().surge_min_voters()));
  RETURN_IF_ERROR(positive("kit.silent_after_ms", static_cast<double>(r.kit().silent_after_ms())));
  RETURN_IF_ERROR(positive("hate_speech.window_ms", static_cast<double>(r.hate_speech().window_ms())));
  RETURN_IF_ERROR(positive("hate_speech.baseline_ms", static_cast<double>(r.hate_speech().baseline_ms())));
  RETURN_IF_ERROR(positive("risk.half_life_ms", static_cast<double>(r.risk().half_life_ms())));
  if (r.turnout().heaping_p_value() <= 0 || r.turnout().heaping_p_value() >= 1) {
    return bad("turnout.heaping_p_value", "must be between 0 and 1");
  }
  if (r.turnout().heaping_fdr() <= 0 || r.turnout().heaping_fdr() > 1) {
    return bad("turnout.heaping_fdr", "must be in (0, 1] (the default rules have 0.05)");
  }
  RETURN_IF_ERROR(positive("turnout.heaping_retest_after_ms", static_cast<double>(r.turnout().heaping_retest_after_ms())));
  if (r.kit().area_down_fraction() <= 0 || r.kit().area_down_fraction() > 1) {
    return bad("kit.area_down_fraction", "must be in (0, 1]");
  }
  if (r.hate_speech().baseline_ms() <= r.hate_speech().window_ms()) {
    return bad("hate_speech.baseline_ms", "must be longer than window_ms");
  }
  if (r.has_results()) {  // absent: the results detectors are off (README)
    const auto& res = r.results();
    if (res.precedence() == v1::RESULT_PRECEDENCE_UNSPECIFIED) {
      return bad("results.precedence", "is missing (OFFICIAL_THEN_LATEST or LATEST)");
    }
    if (res.over_voting_margin() < 0) return bad("results.over_voting_margin", "must not be negative");
    RETURN_IF_ERROR(positive("results.missing_after_close_ms", static_cast<double>(res.missing_after_close_ms())));
    if (res.missing_enter_fraction() <= 0 || res.missing_enter_fraction() > 1) {
      return bad("results.missing_enter_fraction", "must be in (0, 1]");
    }
    if (res.missing_leave_fraction() < 0 || res.missing_leave_fraction() >= res.missing_enter_fraction()) {
      return bad("results.missing_leave_fraction", "must be at least 0 and below missing_enter_fraction");
    }
    if (res.last_digit_p_value() < 0 || res.last_digit_p_value() >= 1) {
      return bad("results.last_digit_p_value", "must be in [0, 1) (0: the last-digit test is off)");
    }
    if (res.last_digit_min_counts() < 0) return bad("results.last_digit_min_counts", "must not be negative");
    if (res.share_heaping_p_value() < 0 || res.share_heaping_p_value() >= 1) {
      return bad("results.share_heaping_p_value", "must be in [0, 1) (0: the share heaping test is off)");
    }
    if (res.extreme_fraction() < 0 || res.extreme_fraction() > 1) {
      return bad("results.extreme_fraction", "must be in [0, 1] (0: the fingerprint test is off)");
    }
    if (res.extreme_share() < 0 || res.extreme_share() > 1) return bad("results.extreme_share", "must be in [0, 1]");
    if (res.share_heaping_min_stations() < 0) {
      return bad("results.share_heaping_min_stations", "must not be negative");
    }
  }
  const auto& known = KnownDetectors();
  for (int i = 0; i < r.risk().weights_size(); ++i) {
    const auto& w = r.risk().weights(i);
    if (std::find(known.begin(), known.end(), w.detector()) == known.end()) {
      return bad("risk.weights[" + std::to_string(i) + "]", "unknown detector '" + w.detector() + "'");
    }
    if (w.weight() < 0) return bad("risk.weights[" + std::to_string(i) + "]", "weight must not be negative");
  }
  if (r.risk().levels_size() == 0) return bad("risk.levels", "at least one level is needed");
  for (int i = 0; i < r.risk().levels_size(); ++i) {
    const auto& l = r.risk().levels(i);
    std::string field = "risk.levels[" + std::to_string(i) + "] (" + LevelName(l.level()) + ")";
    if (l.level() == v1::RISK_LEVEL_NAME_UNSPECIFIED) return bad(field, "level is missing");
    if (!(l.leave() < l.enter())) {
      return bad(field, "leave " + std::to_string(l.leave()) + " must be below enter " + std::to_string(l.enter()));
    }
    if (i > 0) {
      const auto& prev = r.risk().levels(i - 1);
      if (l.level() <= prev.level() || l.enter() <= prev.enter()) {
        return bad(field, "levels must ascend in both level and enter score");
      }
    }
  }
  for (int i = 0; i < r.alerts().routes_size(); ++i) {
    const auto& route = r.alerts().routes(i);
    std::string field = "alerts.routes[" + std::to_string(i) + "]";
    if (route.roles_size() == 0) return bad(field, "names no roles");
    if (route.min_level() == v1::RISK_LEVEL_NAME_UNSPECIFIED) return bad(field, "min_level is missing");
    if (route.levels_up() < 0) return bad(field, "levels_up must not be negative");
  }
  for (int i = 0; i < r.alerts().ack_deadlines_size(); ++i) {
    if (r.alerts().ack_deadlines(i).within_ms() <= 0) {
      return bad("alerts.ack_deadlines[" + std::to_string(i) + "]", "within_ms must be positive");
    }
  }
  return Status::Ok();
}

Result<v1::Rules> ParseRules(std::string_view text, std::string_view source) {
  v1::Rules rules;
  google::protobuf::TextFormat::Parser parser;
  Collector errors(source);
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &rules)) {
    return Status::InvalidArgument(errors.first().empty() ? std::string(source) + ": not a valid rules file"
                                                          : errors.first());
  }
  RETURN_IF_ERROR(ValidateRules(rules, source));
  return rules;
}

Result<v1::Rules> LoadRules(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("rules file '" + path + "' cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  return ParseRules(text.str(), path);
}

std::string_view DefaultRulesText() { return kDefaultRulesText; }

const v1::Rules& DefaultRules() {
  static const v1::Rules kRules = [] {
    Result<v1::Rules> r = ParseRules(kDefaultRulesText, "default.textproto");
    assert(r.ok() && "the built-in rules must parse (rules_test checks)");
    return r.ok() ? *r : v1::Rules();
  }();
  return kRules;
}

}  // namespace ewarn::processors
