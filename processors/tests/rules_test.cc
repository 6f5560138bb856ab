#include "ewarn/processors/rules.h"

#include <gtest/gtest.h>

#include <google/protobuf/text_format.h>

#include <fstream>
#include <functional>

#include "ewarn_testing.h"

namespace ewarn::processors {
namespace {

TEST(RulesTest, DefaultRulesParseAndValidate) {
  Result<v1::Rules> r = ParseRules(DefaultRulesText(), "default.textproto");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name(), "default");
  EXPECT_EQ(DefaultRules().kit().silent_after_ms(), 480000);
  EXPECT_EQ(DefaultRules().risk().levels_size(), 3);
}

TEST(RulesTest, SyntaxErrorsNameLineAndColumn) {
  Result<v1::Rules> r = ParseRules("name: \"x\"\nkit {\n  silent_after: 5\n}\n", "my.textproto");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("my.textproto:3:"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("silent_after"), std::string::npos) << r.status().message();
}

// Prints `rules` as textproto after `change`, then parses it as a user's file would be.
Result<v1::Rules> ParseChanged(const std::function<void(v1::Rules&)>& change, std::string_view name) {
  v1::Rules rules = DefaultRules();
  change(rules);
  std::string text;
  google::protobuf::TextFormat::PrintToString(rules, &text);
  return ParseRules(text, name);
}

TEST(RulesTest, SemanticErrorsNameTheField) {
  Result<v1::Rules> r = ParseChanged([](v1::Rules& x) { x.mutable_risk()->mutable_levels(2)->set_leave(2.5); },
                                     "what-if.textproto");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("what-if.textproto: risk.levels[2] (CRITICAL): leave"),
            std::string::npos)
      << r.status().message();

  r = ParseChanged([](v1::Rules& x) {
        auto* w = x.mutable_risk()->add_weights();
        w->set_detector("astrology");
        w->set_weight(1);
      }, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown detector 'astrology'"), std::string::npos);

  r = ParseChanged([](v1::Rules& x) { x.mutable_alerts()->mutable_routes(1)->clear_roles(); }, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("alerts.routes[1]: names no roles"), std::string::npos)
      << r.status().message();

  r = ParseChanged([](v1::Rules& x) { x.mutable_kit()->set_silent_after_ms(0); }, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("kit.silent_after_ms: must be positive"), std::string::npos);

  // A rules file written before the accreditation surge test existed is told what it lacks.
  r = ParseChanged([](v1::Rules& x) { x.mutable_turnout()->clear_surge_min_voters(); }, "old.textproto");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("old.textproto: turnout.surge_min_voters: must be positive"), std::string::npos)
      << r.status().message();
}

TEST(RulesTest, LoadRulesReadsFilesAndNamesMissingOnes) {
  ewarn::testing::TempDir dir;
  std::ofstream(dir.Sub("r.textproto")) << DefaultRulesText();
  EXPECT_TRUE(LoadRules(dir.Sub("r.textproto")).ok());
  Result<v1::Rules> missing = LoadRules(dir.Sub("nope.textproto"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.textproto"), std::string::npos);
}

}  // namespace
}  // namespace ewarn::processors
