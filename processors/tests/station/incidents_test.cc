// Incidents: enrichment, clustering into situations, corroboration by independent reporters.
#include "station/stage_fixture.h"

namespace ewarn::processors::station_test {
namespace {

TEST_F(StationStageTest, IndependentReportersMakeASituationThatRaisesTheStationNotItsAreas) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  Incident("a", "IK-1-0", t, "mon-a");
  Incident("b", "IK-1-1", t + 5 * kMin, "mon-b");
  Incident("c", "IK-1-0", t + 9 * kMin, "mon-c");
  Run();
  auto clusters = Anomalies("cluster");
  ASSERT_EQ(clusters.size(), 1u);
  EXPECT_EQ(clusters[0].subject_id(), "IK-1-0");
  EXPECT_EQ(clusters[0].area(), "LAGOS/IKEJA/W1");
  EXPECT_NE(clusters[0].explanation().find("independent reporters"), std::string::npos);
  // One situation, updated as it grew.
  std::set<std::string> ids;
  for (const auto& e : Read(schemas::topic::kSituations)) ids.insert(e.situation().situation_id());
  EXPECT_EQ(ids.size(), 1u);
  auto risk = Risk("IK-1-0");
  EXPECT_GE(risk.level(), v1::RISK_LEVEL_HIGH) << risk.DebugString();
  EXPECT_EQ(risk.factors(0).detector(), "cluster");
  EXPECT_FALSE(risk.factors(0).event_ids().empty());
  EXPECT_EQ(Levels("IK-1-0").back(), risk.level());
  // One troubled station is that station's alert, not its ward's and district's too.
  EXPECT_LT(Risk("LAGOS/IKEJA/W1").level(), v1::RISK_LEVEL_HIGH);
  EXPECT_LT(Risk("LAGOS/IKEJA").level(), v1::RISK_LEVEL_HIGH);
  // Every report is enriched with where it is and how sure that is.
  auto enriched = Read(schemas::topic::kIncidents);
  ASSERT_EQ(enriched.size(), 3u);
  EXPECT_EQ(enriched[0].enriched().location_source(), "station");
  EXPECT_EQ(enriched[0].enriched().area(), "LAGOS/IKEJA/W1");
  EXPECT_FALSE(enriched[0].enriched().situation_id().empty());
}

TEST_F(StationStageTest, RepeatsAndTheSameTextTwiceAreOneVoice) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  for (int i = 0; i < 5; ++i) Incident("r" + std::to_string(i), "IK-2-3", t + i * kMin, "mon-a", 5, "they burn boxes");
  // The same words from another channel (an SMS pseudonym) do not corroborate either.
  Incident("sms", "IK-2-3", t + 6 * kMin, "sms-pseudonym", 5, "They burn  boxes!");
  Run();
  EXPECT_TRUE(Anomalies("cluster").empty());
  auto situations = Read(schemas::topic::kSituations);
  ASSERT_FALSE(situations.empty());
  EXPECT_EQ(situations.back().situation().independent_reporters(), 1);
  EXPECT_LT(Risk("IK-2-3").level(), v1::RISK_LEVEL_HIGH);
}

TEST_F(StationStageTest, ReportsFarApartInSpaceOrTimeStaySeparate) {
  ImportStations();
  int64_t t = kOpen + 60 * kMin;
  Incident("a", "IK-1-0", t, "mon-a");
  Incident("b", "IK-2-0", t + kMin, "mon-b");                    // ~5.5 km away
  Incident("c", "IK-1-0", t + 3 * 60 * kMin, "mon-c");           // hours later
  Run();
  std::set<std::string> ids;
  for (const auto& e : Read(schemas::topic::kSituations)) ids.insert(e.situation().situation_id());
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_TRUE(Anomalies("cluster").empty());
}

TEST_F(StationStageTest, GazetteerGeocodesAPlaceNamedInText) {
  ImportStations();
  v1::Event e = Header("geo", kOpen + kMin, "sms-x");
  e.mutable_incident()->set_station_id("IK-1-0");
  e.mutable_incident()->set_category(v1::INCIDENT_CATEGORY_INTIMIDATION);
  e.mutable_incident()->set_severity(3);
  e.mutable_incident()->set_place_text("school ik-1-7");  // "School IK-1-7", spacing and case aside
  Append(e);
  v1::Event far = Header("far", kOpen + 2 * kMin, "app-y");
  far.mutable_incident()->set_station_id("IK-1-0");
  far.mutable_incident()->set_category(v1::INCIDENT_CATEGORY_INTIMIDATION);
  far.mutable_incident()->set_severity(2);
  far.mutable_incident()->mutable_location()->set_lat(7.5);
  far.mutable_incident()->mutable_location()->set_lon(3.35);
  Append(far);
  Run();
  auto enriched = Read(schemas::topic::kIncidents);
  ASSERT_EQ(enriched.size(), 2u);
  EXPECT_EQ(enriched[0].enriched().location_source(), "gazetteer");
  EXPECT_EQ(enriched[0].enriched().matched_place(), "School IK-1-7");
  EXPECT_NEAR(enriched[0].enriched().location().lat(), Find("IK-1-7").lat, 1e-9);
  EXPECT_TRUE(enriched[1].enriched().far_from_station());
  EXPECT_GT(enriched[1].enriched().distance_m(), 50'000);
}

}  // namespace
}  // namespace ewarn::processors::station_test
