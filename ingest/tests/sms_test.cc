// The SMS syntax in English, French and Russian: forgiving where people slip, precise replies
// where they must fix something.
#include "ewarn/ingest/sms.h"

#include <gtest/gtest.h>

#include "ewarn/ingest/json_input.h"

namespace ewarn::ingest {
namespace {

SmsCommand Command(std::string_view text) {
  auto parsed = ParseSms(text);
  EXPECT_TRUE(std::holds_alternative<SmsCommand>(parsed))
      << text << " -> " << (std::holds_alternative<SmsError>(parsed) ? std::get<SmsError>(parsed).reply : "");
  return std::holds_alternative<SmsCommand>(parsed) ? std::get<SmsCommand>(parsed) : SmsCommand{};
}

SmsError Error(std::string_view text) {
  auto parsed = ParseSms(text);
  EXPECT_TRUE(std::holds_alternative<SmsError>(parsed)) << text;
  return std::holds_alternative<SmsError>(parsed) ? std::get<SmsError>(parsed) : SmsError{};
}

TEST(SmsTest, EnglishIncidentIsCaseAndSpacingTolerant) {
  SmsCommand c = Command("  inc   01/01/01/005  Violence 4   crowd  with\nmachetes at gate ");
  EXPECT_EQ(c.kind, SmsCommand::Kind::kIncident);
  EXPECT_EQ(c.language, SmsLanguage::kEnglish);
  EXPECT_EQ(c.station_id, "01/01/01/005");
  EXPECT_EQ(c.category, v1::INCIDENT_CATEGORY_VIOLENCE);
  EXPECT_EQ(c.severity, 4);
  EXPECT_EQ(c.text, "crowd with machetes at gate");
  c = Command("INC,s1;3*2#ballot boxes missing");
  EXPECT_EQ(c.station_id, "S1");
  EXPECT_EQ(c.category, v1::INCIDENT_CATEGORY_VOTE_BUYING);
  EXPECT_EQ(c.severity, 2);
  EXPECT_EQ(c.text, "ballot boxes missing");
  EXPECT_EQ(Command("INCIDENT S1 ballot_tampering 5").text, "");
}

TEST(SmsTest, FrenchAndRussianKeywordsAndCategories) {
  SmsCommand fr = Command("Incident BV-12 achat 3 distribution d'argent");
  EXPECT_EQ(fr.language, SmsLanguage::kFrench);
  EXPECT_EQ(fr.category, v1::INCIDENT_CATEGORY_VOTE_BUYING);
  EXPECT_EQ(Command("inc bv-12 Matériel 2").category, v1::INCIDENT_CATEGORY_MATERIALS);
  SmsCommand p = Command("P bv-12 417");
  EXPECT_EQ(p.kind, SmsCommand::Kind::kTurnout);
  EXPECT_EQ(p.language, SmsLanguage::kFrench);
  EXPECT_EQ(p.voters_cast, 417);

  SmsCommand ru = Command("ИНЦ 77-001 НАСИЛИЕ 5 драка у входа");
  EXPECT_EQ(ru.language, SmsLanguage::kRussian);
  EXPECT_EQ(ru.category, v1::INCIDENT_CATEGORY_VIOLENCE);
  EXPECT_EQ(ru.text, "драка у входа");
  EXPECT_EQ(Command("инцидент 77-001 Вброс 4").category, v1::INCIDENT_CATEGORY_BALLOT_TAMPERING);
  SmsCommand ya = Command("Явка 77-001 1200");
  EXPECT_EQ(ya.kind, SmsCommand::Kind::kTurnout);
  EXPECT_EQ(ya.language, SmsLanguage::kRussian);
  EXPECT_EQ(ya.voters_cast, 1200);
  // Case folding covers Ё and the whole alphabet (ПОМОЩЬ has Щ and Ь).
  EXPECT_EQ(Command("ПОМОЩЬ").kind, SmsCommand::Kind::kHelp);
  EXPECT_EQ(Command("aide").language, SmsLanguage::kFrench);
  EXPECT_EQ(Command("?").kind, SmsCommand::Kind::kHelp);
}

TEST(SmsTest, TextAfterAtNamesAPlaceInEveryLanguage) {
  SmsCommand c = Command("INC LA/01/05/012 violence 4 shots fired @Ikeja Grammar School");
  EXPECT_EQ(c.text, "shots fired");
  EXPECT_EQ(c.place, "Ikeja Grammar School");
  // No description, no spaces around '@', runs of spaces in the place.
  c = Command("inc s1 2 3@  Alausa   Market ");
  EXPECT_EQ(c.severity, 3);
  EXPECT_EQ(c.text, "");
  EXPECT_EQ(c.place, "Alausa Market");
  SmsCommand fr = Command("INC BV-12 fraude 4 urnes emportées @École Sainte-Marie");
  EXPECT_EQ(fr.language, SmsLanguage::kFrench);
  EXPECT_EQ(fr.text, "urnes emportées");
  EXPECT_EQ(fr.place, "École Sainte-Marie");
  SmsCommand ru = Command("ИНЦ 77-001 насилие 5 драка у входа @Школа №12");
  EXPECT_EQ(ru.language, SmsLanguage::kRussian);
  EXPECT_EQ(ru.text, "драка у входа");
  EXPECT_EQ(ru.place, "Школа №12");
  // Without '@' there is no place; an empty one is none.
  EXPECT_EQ(Command("INC S1 violence 4 crowd").place, "");
  EXPECT_EQ(Command("INC S1 violence 4 crowd @ ").place, "");
  // A long place is cut at a character boundary, not refused.
  std::string cyrillic;
  for (int i = 0; i < 100; ++i) cyrillic += "ж";  // 2 bytes each
  c = Command("INC S1 violence 4 x @" + cyrillic + "ж");
  EXPECT_LE(c.place.size(), kMaxPlaceBytes);
  EXPECT_EQ(c.place, cyrillic.substr(0, kMaxPlaceBytes));
  // The place does not hide a missing severity.
  EXPECT_EQ(Error("INC S1 violence @Ikeja").reason_code, "sms_bad_severity");
  EXPECT_NE(SmsHelpReply(SmsLanguage::kEnglish).find("@place"), std::string::npos);
}

TEST(SmsTest, ErrorsSayWhatToFixInTheSendersLanguage) {
  SmsError unknown = Error("hello there");
  EXPECT_EQ(unknown.reason_code, "sms_unknown_command");
  EXPECT_NE(unknown.reply.find("INC"), std::string::npos);
  EXPECT_EQ(Error("T").reason_code, "sms_missing_station");
  EXPECT_EQ(Error("T S1 many").reason_code, "sms_bad_number");
  EXPECT_EQ(Error("T S1 -5").reason_code, "sms_bad_number");
  SmsError cat = Error("INC S1 riot 3");
  EXPECT_EQ(cat.reason_code, "sms_bad_category");
  EXPECT_NE(cat.reply.find("violence"), std::string::npos);
  EXPECT_EQ(Error("INC S1 violence 9 x").reason_code, "sms_bad_severity");
  EXPECT_EQ(Error("INC S1 violence").reason_code, "sms_bad_severity");
  EXPECT_EQ(Error("INC S1! violence 3").reason_code, "sms_missing_station");
  SmsError fr = Error("P bv-12 beaucoup");
  EXPECT_EQ(fr.language, SmsLanguage::kFrench);
  EXPECT_NE(fr.reply.find("votants"), std::string::npos);
  SmsError ru = Error("ИНЦ 77-001 бунт 3");
  EXPECT_EQ(ru.language, SmsLanguage::kRussian);
  EXPECT_NE(ru.reply.find("категория"), std::string::npos);
  EXPECT_EQ(Error(std::string(kMaxSmsBytes + 1, 'a')).reason_code, "sms_too_long");
  EXPECT_EQ(Error("INC S1 violence 3 \xff\xfe").reason_code, "bad_encoding");
  EXPECT_EQ(Error("").reason_code, "sms_unknown_command");
}

TEST(SmsTest, RepliesAreLocalized) {
  EXPECT_EQ(SmsAcceptedReply(SmsLanguage::kEnglish, "K7F2Q9"), "ewarn: received, ref K7F2Q9. Thank you.");
  EXPECT_NE(SmsAcceptedReply(SmsLanguage::kFrench, "K7F2Q9").find("Merci"), std::string::npos);
  EXPECT_NE(SmsAcceptedReply(SmsLanguage::kRussian, "K7F2Q9").find("Спасибо"), std::string::npos);
  EXPECT_NE(SmsHelpReply(SmsLanguage::kRussian).find("ИНЦ"), std::string::npos);
}

}  // namespace
}  // namespace ewarn::ingest
