// CAP 1.2 documents validated by xmllint against tests/data/cap12.xsd (our transcription of
// the CAP 1.2 element rules).
#include <gtest/gtest.h>

#include <filesystem>

#include "alerts_testing.h"
#include "ewarn/alerts/cap.h"

namespace ewarn::alerts {
namespace {

using testing::kXmllint;
using testing::ValidateCap;

class CapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kXmllint)) GTEST_SKIP() << kXmllint << " missing (scripts/deps.sh installs libxml2-utils)";
  }
};

TEST_F(CapTest, RenderedAlertsValidateForEveryKindAndLevel) {
  for (auto kind : {v1::AlertEvent::KIND_RAISED, v1::AlertEvent::KIND_UPDATED, v1::AlertEvent::KIND_ESCALATED,
                    v1::AlertEvent::KIND_RESOLVED}) {
    for (auto level : {v1::RISK_LEVEL_UNSPECIFIED, v1::RISK_LEVEL_LOW, v1::RISK_LEVEL_ELEVATED, v1::RISK_LEVEL_HIGH,
                       v1::RISK_LEVEL_CRITICAL}) {
      v1::AlertEvent a = testing::SampleAlert();
      a.set_kind(kind);
      a.set_level(level);
      std::string xml = RenderCap(a, {.sent_ms = 1803200000123});
      std::string out;
      EXPECT_EQ(ValidateCap(xml, &out), 0) << out << "\n" << xml;
    }
  }
}

TEST_F(CapTest, FieldsAreMappedAndEscaped) {
  v1::AlertEvent a = testing::SampleAlert("a<1>&\"x\"");
  a.set_summary("fight <at> the gate & \"more\"\x01");
  a.set_kind(v1::AlertEvent::KIND_RESOLVED);
  a.set_level(v1::RISK_LEVEL_CRITICAL);
  std::string xml = RenderCap(a, {.sender = "ewarn@inec.example", .sent_ms = 1803200000123,
                                  .identifier = "ewarn-a1-resolved"});
  std::string out;
  EXPECT_EQ(ValidateCap(xml, &out), 0) << out << "\n" << xml;
  EXPECT_NE(xml.find("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">"), std::string::npos);
  EXPECT_NE(xml.find("<sent>" + FormatRfc3339(1803200000123).substr(0, 19) + "+00:00</sent>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<msgType>Cancel</msgType>"), std::string::npos);
  EXPECT_NE(xml.find("<scope>Restricted</scope>"), std::string::npos);
  EXPECT_NE(xml.find("<category>Security</category>"), std::string::npos);
  EXPECT_NE(xml.find("<urgency>Immediate</urgency>"), std::string::npos);
  EXPECT_NE(xml.find("<severity>Extreme</severity>"), std::string::npos);
  EXPECT_NE(xml.find("<certainty>Likely</certainty>"), std::string::npos);
  EXPECT_NE(xml.find("<description>fight &lt;at&gt; the gate &amp; &quot;more&quot;\n- cluster"), std::string::npos) << xml;
  EXPECT_NE(xml.find("- cluster: 3 violence reports in 20 min (usual: 0.2)"), std::string::npos);
  EXPECT_NE(xml.find("<areaDesc>LAGOS/IKEJA/W1</areaDesc>"), std::string::npos);
  EXPECT_EQ(xml.find('\x01'), std::string::npos);
  EXPECT_EQ(CapDateTime(0), "1970-01-01T00:00:00+00:00");
}

TEST_F(CapTest, MalformedDocumentsFailValidation) {
  std::string good = RenderCap(testing::SampleAlert(), {.sent_ms = 1803200000123});
  std::string out;
  ASSERT_EQ(ValidateCap(good, &out), 0) << out;
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string xml = good;
    size_t at = xml.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return xml.replace(at, from.size(), to);
  };
  const std::vector<std::string> bad = {
      replace("<msgType>Alert</msgType>", "<msgType>Alarm</msgType>"),       // not in the value set
      replace("<status>Actual</status>\n", ""),                              // required element
      replace("+00:00</sent>", "Z</sent>"),                                  // CAP forbids Z
      replace("<category>Security</category>", "<category>Politics</category>"),
      replace("<scope>Restricted</scope>", "<scope>Restricted</scope><scope>Public</scope>"),
      replace("urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1"),
      replace("</alert>", ""),                                               // not well-formed
  };
  for (const auto& xml : bad) {
    std::string why;
    EXPECT_NE(ValidateCap(xml, &why), 0) << "accepted:\n" << xml;
  }
}

}  // namespace
}  // namespace ewarn::alerts
