// The channels' formats: SMS text in three languages, webhook JSON and signature, e-mail ids.
#include <gtest/gtest.h>

#include "alerts_testing.h"
#include "ewarn/alerts/channel.h"
#include "ewarn/base/hash.h"

namespace ewarn::alerts {
namespace {

using testing::SampleAlert;
using testing::SampleDelivery;

size_t CodePointCount(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

TEST(SmsTextTest, EnglishFrenchRussianAreShortAndCarryTheAckReference) {
  const std::string ref = ShortAlertRef("alert-1");
  ASSERT_EQ(ref.size(), 6u);
  v1::Delivery d = SampleDelivery("d1", v1::Delivery::CHANNEL_SMS, "+2348000000002", "en");
  EXPECT_EQ(SmsText(d), "ewarn HIGH: incident cluster at W1, IKEJA. Ack: " + ref);
  d.set_language("fr");
  EXPECT_EQ(SmsText(d), "ewarn ÉLEVÉ: groupe d'incidents à W1, IKEJA. Accusé: " + ref);
  d.set_language("ru");
  EXPECT_EQ(SmsText(d), "ewarn ВЫСОКИЙ: серия инцидентов: W1, IKEJA. Подтв.: " + ref);
  d.set_language("xx");  // unknown: English
  EXPECT_EQ(SmsText(d).substr(0, 16), "ewarn HIGH: inci");
}

TEST(SmsTextTest, ResolvedEscalatedAndGroupedAlerts) {
  v1::Delivery d = SampleDelivery("d1", v1::Delivery::CHANNEL_SMS, "+1", "en");
  d.mutable_alerts(0)->set_kind(v1::AlertEvent::KIND_RESOLVED);
  EXPECT_EQ(SmsText(d).rfind("ewarn resolved: incident cluster at W1, IKEJA", 0), 0u) << SmsText(d);
  d.mutable_alerts(0)->set_kind(v1::AlertEvent::KIND_ESCALATED);
  *d.add_alerts() = SampleAlert("alert-2");
  d.mutable_alerts(1)->set_level(v1::RISK_LEVEL_CRITICAL);
  d.mutable_alerts(1)->set_category("turnout.surge");
  // The most severe alert leads; the others are counted.
  EXPECT_EQ(SmsText(d), "ewarn CRITICAL: turnout anomaly at W1, IKEJA (+1 more). Ack: " + ShortAlertRef("alert-2"));
}

TEST(SmsTextTest, LongPlaceNamesAreCutTo160Characters) {
  for (const char* lang : {"en", "fr", "ru"}) {
    v1::Delivery d = SampleDelivery("d1", v1::Delivery::CHANNEL_SMS, "+1", lang);
    d.mutable_alerts(0)->set_area("R/" + std::string(100, 'D') + "/Палата " + std::string(120, 'W'));
    std::string text = SmsText(d);
    EXPECT_LE(CodePointCount(text), 160u) << lang;
    EXPECT_NE(text.find(ShortAlertRef("alert-1")), std::string::npos) << "the reference survives: " << text;
  }
}

TEST(WebhookFormatTest, JsonCarriesTheAlertsAndEscapes) {
  v1::Delivery d = SampleDelivery("d\"1", v1::Delivery::CHANNEL_WEBHOOK, "http://x/");
  d.mutable_alerts(0)->set_summary("line1\nline2 \"quoted\" \\ \x01");
  std::string json = WebhookJson(d);
  EXPECT_NE(json.find("\"delivery_id\":\"d\\\"1\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"summary\":\"line1\\nline2 \\\"quoted\\\" \\\\ \\u0001\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"level\":\"high\""), std::string::npos);
  EXPECT_NE(json.find("\"kind\":\"raised\""), std::string::npos);
  EXPECT_NE(json.find("\"score\":0.82"), std::string::npos);
  EXPECT_NE(json.find("\"explanation\":\"3 violence reports in 20 min (usual: 0.2)\""), std::string::npos);
}

TEST(WebhookFormatTest, SignatureIsHmacOfTimestampDotBody) {
  EXPECT_EQ(WebhookSignature("k", "1700000000", "{}"), "sha256=" + HmacSha256Hex("k", "1700000000.{}"));
  // RFC 4231 test case 2, so the recipe in alerts/README.md can be checked by hand.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(EmailFormatTest, MessageIdIsStablePerDeliveryAndSafe) {
  v1::Delivery a = SampleDelivery("alert-1/liaison 7:email", v1::Delivery::CHANNEL_EMAIL, "a@b.c");
  v1::Delivery b = SampleDelivery("alert-1/liaison 7:emaiL", v1::Delivery::CHANNEL_EMAIL, "a@b.c");
  EXPECT_EQ(EmailMessageId(a), EmailMessageId(a));
  EXPECT_NE(EmailMessageId(a), EmailMessageId(b));
  EXPECT_EQ(EmailMessageId(a).find_first_of(" /:"), std::string::npos) << EmailMessageId(a);
  EXPECT_EQ(EmailSubject(a), "[ewarn] HIGH: incident cluster at W1, IKEJA");
  std::string body = EmailBody(a);
  EXPECT_NE(body.find("Dear Amina Bello"), std::string::npos);
  EXPECT_NE(body.find("3 violence reports in 20 min"), std::string::npos);
  EXPECT_NE(body.find("[" + ShortAlertRef("alert-1") + "]"), std::string::npos);
}

}  // namespace
}  // namespace ewarn::alerts
