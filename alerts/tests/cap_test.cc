// CAP 1.2 documents validated by xmllint against tests/data/CAP-v1.2.xsd, the official OASIS
// schema (its source: tests/data/README.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

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
  EXPECT_NE(xml.find("<areaDesc>station S1, LAGOS/IKEJA/W1</areaDesc>"), std::string::npos);
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

// The schema is the official one (not a transcription of our own): its namespace, version and
// OASIS copyright line are those of docs.oasis-open.org/emergency/cap/v1.2/CAP-v1.2.xsd.
TEST_F(CapTest, ValidatesAgainstTheOfficialOasisSchema) {
  std::ifstream in(std::string(EWARN_ALERTS_TESTDATA) + "/CAP-v1.2.xsd");
  std::string xsd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(xsd.find("<!-- Copyright OASIS Open 2010 All Rights Reserved -->"), std::string::npos);
  EXPECT_NE(xsd.find("targetNamespace = \"urn:oasis:names:tc:emergency:cap:1.2\""), std::string::npos);
  EXPECT_NE(xsd.find("version = \"1.2\""), std::string::npos);
}

// Where the alert is: a station alert carries a <circle> of circle_radius_km around the station
// ("lat,lon radius", after <areaDesc>, before <geocode>); every message has <expires>.
TEST_F(CapTest, StationAlertsHaveACircleAndEveryMessageExpires) {
  v1::AlertEvent a = testing::SampleAlert();
  std::string xml = RenderCap(a, {.sent_ms = 1803200000123});
  std::string out;
  EXPECT_EQ(ValidateCap(xml, &out), 0) << out << "\n" << xml;
  EXPECT_NE(xml.find("<areaDesc>station S1, LAGOS/IKEJA/W1</areaDesc>\n      <circle>6.6018,3.3515 1</circle>\n"
                     "      <geocode>"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<expires>" + CapDateTime(1803200000123 + 6 * 3600 * 1000) + "</expires>"), std::string::npos)
      << xml;
  // What the official schema leaves as plain strings, in the forms CAP 1.2's prose requires.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(xml, m, std::regex("<identifier>([^<]*)</identifier>")));
  EXPECT_TRUE(std::regex_match(m[1].str(), std::regex("[^\\s,<&]+"))) << m[1];
  ASSERT_TRUE(std::regex_search(xml, m, std::regex("<circle>([^<]*)</circle>")));
  EXPECT_TRUE(std::regex_match(m[1].str(), std::regex("-?[0-9.]+,-?[0-9.]+ [0-9.]+"))) << m[1];
  // Cancel: the information ends when it is sent.
  a.set_kind(v1::AlertEvent::KIND_RESOLVED);
  xml = RenderCap(a, {.sent_ms = 1803200000123, .circle_radius_km = 0.5});
  EXPECT_EQ(ValidateCap(xml, &out), 0) << out << "\n" << xml;
  EXPECT_NE(xml.find("<expires>" + CapDateTime(1803200000123) + "</expires>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<circle>6.6018,3.3515 0.5</circle>"), std::string::npos) << xml;
  // An area alert, or a station without a known point: no circle, still valid.
  v1::AlertEvent area = testing::SampleAlert();
  area.set_is_area(true);
  area.set_subject_id("LAGOS/IKEJA");
  area.set_area("LAGOS/IKEJA");
  area.clear_location();
  xml = RenderCap(area, {.sent_ms = 1803200000123});
  EXPECT_EQ(ValidateCap(xml, &out), 0) << out << "\n" << xml;
  EXPECT_EQ(xml.find("<circle>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<areaDesc>LAGOS/IKEJA</areaDesc>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<expires>"), std::string::npos) << xml;
}

}  // namespace
}  // namespace ewarn::alerts
