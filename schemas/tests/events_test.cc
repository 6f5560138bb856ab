#include "ewarn/schemas/events.h"

#include <gtest/gtest.h>

namespace ewarn::schemas {
namespace {

v1::Event Incident() {
  v1::Event e;
  e.mutable_header()->set_schema_version(kSchemaVersion);
  e.mutable_header()->set_event_id("m1-0001");
  e.mutable_header()->set_event_time_ms(1803544200000);
  e.mutable_incident()->set_station_id("01/01/01/005");
  e.mutable_incident()->set_category(v1::INCIDENT_CATEGORY_VIOLENCE);
  e.mutable_incident()->set_severity(4);
  return e;
}

TEST(EventsTest, RoundTripsAndEncodesDeterministically) {
  v1::Event e = Incident();
  std::string bytes = EncodeEvent(e);
  EXPECT_EQ(bytes, EncodeEvent(e));
  Result<v1::Event> back = DecodeEvent(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->incident().station_id(), "01/01/01/005");
  EXPECT_EQ(RecordKey(*back), "01/01/01/005");
  EXPECT_EQ(BodyName(*back), "incident");
}

TEST(EventsTest, RefusesUnknownSchemaVersionWithAClearMessage) {
  v1::Event e = Incident();
  e.mutable_header()->set_schema_version(9);
  Result<v1::Event> r = DecodeEvent(EncodeEvent(e));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(r.status().message(), "unknown schema version 9; this build reads up to 1");
}

TEST(EventsTest, RefusesBytesThatAreNotAnEvent) {
  Result<v1::Event> r = DecodeEvent("\xff\xff\xff garbage");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  v1::Event no_version = Incident();
  no_version.mutable_header()->clear_schema_version();
  EXPECT_EQ(DecodeEvent(EncodeEvent(no_version)).status().message(),
            "record has no schema version");
}

TEST(EventsTest, CategoriesHaveStableWireNames) {
  EXPECT_EQ(CategoryName(v1::INCIDENT_CATEGORY_VOTE_BUYING), "vote_buying");
  for (std::string_view n : {"violence", "intimidation", "vote_buying", "ballot_tampering",
                             "materials", "procedure", "access", "other"}) {
    Result<v1::IncidentCategory> c = ParseCategory(n);
    ASSERT_TRUE(c.ok()) << n;
    EXPECT_EQ(CategoryName(*c), n);
  }
  EXPECT_FALSE(ParseCategory("riot").ok());
}

TEST(EventsTest, DistrictKeysPartitionByRegionAndDistrict) {
  EXPECT_EQ(DistrictKey("LAGOS", "IKEJA"), "LAGOS/IKEJA");
  EXPECT_EQ(DistrictKeyOfArea("LAGOS/IKEJA/ANIFOWOSHE"), "LAGOS/IKEJA");
  EXPECT_EQ(DistrictKeyOfArea("LAGOS/IKEJA"), "LAGOS/IKEJA");
  EXPECT_EQ(DistrictKeyOfArea("LAGOS"), "LAGOS");
}

TEST(EventsTest, InputTopicsAreThoseFromOutside) {
  EXPECT_TRUE(IsInputTopic(topic::kInputs));
  EXPECT_TRUE(IsInputTopic(topic::kStations));
  EXPECT_TRUE(IsInputTopic(topic::kRejected));
  EXPECT_FALSE(IsInputTopic(topic::kRisk));
  EXPECT_FALSE(IsInputTopic("dlq.processing"));
  EXPECT_TRUE(IsInputTopic(topic::kContests));
  EXPECT_TRUE(IsInputTopic(topic::kPvtSamples));
}

TEST(EventsTest, ResultSheetsRoundTripWithAbsentCountsKeptAbsent) {
  v1::Event e;
  e.mutable_header()->set_schema_version(kSchemaVersion);
  e.mutable_header()->set_event_id("sheet-1");
  auto* sheet = e.mutable_result_sheet();
  sheet->set_station_id("24/09/05/011");
  sheet->set_contest("PRES-2027");
  auto* v = sheet->add_votes();
  v->set_candidate("APC");
  v->set_votes(120);
  sheet->set_ballots_issued(300);
  sheet->set_submitter_role(v1::SUBMITTER_ROLE_OBSERVER);
  auto decoded = DecodeEvent(EncodeEvent(e));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(BodyName(*decoded), "result_sheet");
  EXPECT_EQ(RecordKey(*decoded), "24/09/05/011");
  EXPECT_TRUE(decoded->result_sheet().has_ballots_issued());
  EXPECT_FALSE(decoded->result_sheet().has_registered());  // "not on the sheet", not zero
  EXPECT_EQ(decoded->result_sheet().votes(0).votes(), 120);

  v1::Event c;
  c.mutable_contest_candidate()->set_contest("PRES-2027");
  c.mutable_contest_candidate()->set_candidate("LP");
  EXPECT_EQ(RecordKey(c), "PRES-2027/LP");
}

TEST(EventsTest, SubmitterRolesHaveStableWireNames) {
  EXPECT_EQ(SubmitterRoleName(v1::SUBMITTER_ROLE_PRESIDING_OFFICER), "presiding_officer");
  EXPECT_EQ(*ParseSubmitterRole("party_agent"), v1::SUBMITTER_ROLE_PARTY_AGENT);
  auto bad = ParseSubmitterRole("judge");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("presiding_officer, observer, party_agent"), std::string::npos);
}

}  // namespace
}  // namespace ewarn::schemas
