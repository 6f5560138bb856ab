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
}

}  // namespace
}  // namespace ewarn::schemas
