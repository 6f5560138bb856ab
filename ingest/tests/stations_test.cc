// Station import: generic and INEC CSVs, rows without positions kept, bad rows counted, and a
// directory that catches up incrementally from ref.stations.
#include "ewarn/ingest/stations.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "ewarn/schemas/events.h"
#include "ewarn_testing.h"

namespace ewarn::ingest {
namespace {

class StationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = std::move(store::OpenEmbeddedLog({.dir = dir_.Sub("log")})).value();
    state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("state"), .stores = {"stations"}})).value();
    directory_ = std::move(StationDirectory::Make(*state_)).value();
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.Sub(name), std::ios::binary) << text;
    return dir_.Sub(name);
  }
  ewarn::testing::TempDir dir_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<store::StateStore> state_;
  std::unique_ptr<StationDirectory> directory_;
};

TEST_F(StationsTest, GenericCsvWithQuotingBomAndBadRows) {
  std::string path = Write("s.csv",
      "\xEF\xBB\xBFstation_id,name,region,district,ward,lat,lon,registered_voters\r\n"
      "S1,\"School, \"\"Main\"\" Hall\",lagos,ikeja,  anifowoshe ,6.6,3.35,800\r\n"
      "S2,No Fix,Lagos,Ikeja,Alausa,0,0,500\n"
      ",Missing Id,Lagos,Ikeja,Alausa,6.6,3.3,1\n"
      "S3,No District,Lagos,,Alausa,6.6,3.3,1\n"
      "S1,Duplicate,Lagos,Ikeja,Alausa,6.6,3.3,1\n"
      "S4,Kenyan Ward,Uasin Gishu,Ainabkoi,AINABKOI/OLARE,abc,35.5,\n");
  auto summary = ImportStations(*log_, *directory_, path, StationFormat::kGeneric, 1000);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->rows, 6);
  EXPECT_EQ(summary->imported, 3);
  EXPECT_EQ(summary->without_location, 2);
  EXPECT_EQ(summary->rejected, 3);
  ASSERT_EQ(summary->problems.size(), 3u);
  EXPECT_EQ(summary->problems[0], "line 4: missing station_id");
  EXPECT_NE(summary->problems[2].find("line 6: duplicate station S1"), std::string::npos) << summary->problems[2];

  auto s1 = directory_->Find("S1");
  ASSERT_TRUE(s1.ok() && s1->has_value());
  EXPECT_EQ((*s1)->name(), "School, \"Main\" Hall");
  EXPECT_EQ((*s1)->region(), "LAGOS");
  EXPECT_EQ((*s1)->ward(), "ANIFOWOSHE");
  EXPECT_EQ((*s1)->registered_voters(), 800);
  EXPECT_TRUE((*s1)->has_location());
  auto s2 = directory_->Find("S2");
  ASSERT_TRUE(s2.ok() && s2->has_value());
  EXPECT_FALSE((*s2)->has_location());  // 0,0 is "no fix", kept without a position
  auto s4 = directory_->Find("S4");
  ASSERT_TRUE(s4.ok() && s4->has_value());
  EXPECT_EQ((*s4)->ward(), "AINABKOI-OLARE");  // '/' would break the area path
  EXPECT_EQ(directory_->size(), 3);
  auto none = directory_->Find("S9");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(StationsTest, MissingColumnsAndFilesAreClearErrors) {
  auto bad = ImportStations(*log_, *directory_, Write("b.csv", "id,name\n1,x\n"), StationFormat::kGeneric, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("station_id, region, district"), std::string::npos) << bad.status().message();
  auto missing = ImportStations(*log_, *directory_, dir_.Sub("nope.csv"), StationFormat::kGeneric, 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIOError);
  EXPECT_NE(missing.status().message().find("nope.csv"), std::string::npos);
}

TEST_F(StationsTest, InecFormatAndIncrementalCatchUp) {
  std::string header = "id,delimitation,name,remark,ward_id,ward_name,local_government_id,local_government_name,"
                       "state_id,state_name,latitude,longitude,formatted_address,precise_location\n";
  std::string path = Write("inec.csv", header +
      "1,01/01/01/005,ABIA POLY - ABIA POLY I,EXISTING PU,1,EZIAMA,1,ABA NORTH,1,ABIA,5.1354,7.3536,\"119 Aba-Owerri Rd, Aba\",\n"
      "2,01/01/01/006,ABIA POLY II,EXISTING PU,1,EZIAMA,1,ABA NORTH,1,ABIA,,,,\n");
  auto first = ImportStations(*log_, *directory_, path, StationFormat::kInec, 0);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->imported, 2);
  EXPECT_EQ(first->without_location, 1);
  auto s = directory_->Find("01/01/01/005");
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->region(), "ABIA");
  EXPECT_EQ((*s)->district(), "ABA NORTH");
  EXPECT_EQ((*s)->code(), "01/01/01/005");

  // A second directory on a fresh store reads everything; the first one only what is new.
  std::string more = Write("more.csv", header + "3,01/01/01/007,X,NEW PU,1,EZIAMA,1,ABA NORTH,1,ABIA,5.1,7.3,,\n");
  ASSERT_TRUE(ImportStations(*log_, *directory_, more, StationFormat::kInec, 0).ok());
  EXPECT_EQ(directory_->size(), 3);
  auto other_state = std::move(store::StateStore::Open({.dir = dir_.Sub("other"), .stores = {"stations"}})).value();
  auto other = std::move(StationDirectory::Make(*other_state)).value();
  ASSERT_TRUE(other->CatchUp(*log_).ok());
  EXPECT_EQ(other->size(), 3);
  // Reopening keeps what was read and its offsets.
  directory_.reset();
  state_.reset();
  state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("state"), .stores = {"stations"}})).value();
  directory_ = std::move(StationDirectory::Make(*state_)).value();
  EXPECT_EQ(directory_->size(), 3);
  ASSERT_TRUE(directory_->CatchUp(*log_).ok());
  EXPECT_EQ(directory_->size(), 3);
}

// Locate answers from memory what ingest needs (area and partition key), follows a station
// moved to another ward by a re-import, and is rebuilt when the directory is reopened.
TEST_F(StationsTest, LocateFollowsImportsAndReopening) {
  std::string header = "station_id,name,region,district,ward,lat,lon,registered_voters\n";
  ASSERT_TRUE(ImportStations(*log_, *directory_, Write("a.csv", header + "S1,One,Lagos,Ikeja,W1,6.6,3.3,900\n"
                                                                      "S2,Two,Lagos,Ikeja,W1,6.6,3.3,900\n"
                                                                      "S3,Three,Lagos,Epe,W9,6.6,3.3,900\n"),
                             StationFormat::kGeneric, 0)
                  .ok());
  auto s1 = directory_->Locate("S1");
  ASSERT_TRUE(s1.has_value());
  EXPECT_EQ(s1->area, "LAGOS/IKEJA/W1");
  EXPECT_EQ(s1->district_key, schemas::DistrictKey("LAGOS", "IKEJA"));
  EXPECT_EQ(directory_->Locate("S3")->area, "LAGOS/EPE/W9");
  EXPECT_FALSE(directory_->Locate("S4").has_value());
  // Redistricting: S2 moves to Epe.
  ASSERT_TRUE(ImportStations(*log_, *directory_, Write("b.csv", header + "S2,Two,Lagos,Epe,W9,6.6,3.3,900\n"),
                             StationFormat::kGeneric, 0)
                  .ok());
  EXPECT_EQ(directory_->Locate("S2")->area, "LAGOS/EPE/W9");
  EXPECT_EQ(directory_->Locate("S2")->district_key, schemas::DistrictKey("LAGOS", "EPE"));
  // What GET /v1/results expects per area: S2 counts in Epe only, once.
  const std::map<std::string, int64_t> expected = {{"LAGOS", 3}, {"LAGOS/EPE", 2}, {"LAGOS/EPE/W9", 2},
                                                   {"LAGOS/IKEJA", 1}, {"LAGOS/IKEJA/W1", 1}};
  EXPECT_EQ(directory_->StationsPerArea(), expected);
  directory_.reset();
  state_.reset();
  state_ = std::move(store::StateStore::Open({.dir = dir_.Sub("state"), .stores = {"stations"}})).value();
  directory_ = std::move(StationDirectory::Make(*state_)).value();
  EXPECT_EQ(directory_->Locate("S1")->area, "LAGOS/IKEJA/W1");
  EXPECT_EQ(directory_->Locate("S2")->area, "LAGOS/EPE/W9");
  EXPECT_EQ(directory_->size(), 3);
  EXPECT_EQ(directory_->StationsPerArea(), expected);  // rebuilt alike from the stored stations
}

TEST_F(StationsTest, ImportsNigeriasPollingUnitsInSeconds) {
  const char* shared = std::getenv("EWARN_SHARED_DATA");
  std::string path = std::string(shared ? shared : "") + "/nigeria/inec_polling_units_geocoded.csv";
  if (shared == nullptr || !std::filesystem::exists(path)) GTEST_SKIP() << "reference data not present: " << path;
  auto started = std::chrono::steady_clock::now();
  auto summary = ImportStations(*log_, *directory_, path, StationFormat::kInec, 0);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->rows, 176623);
  EXPECT_EQ(summary->imported + summary->rejected, 176623);
  EXPECT_GT(summary->without_location, 0);
  EXPECT_EQ(directory_->size(), summary->imported);
  std::printf("imported %lld Nigerian polling units in %.2f s (%lld without location, %lld rejected)\n",
              static_cast<long long>(summary->imported), secs, static_cast<long long>(summary->without_location),
              static_cast<long long>(summary->rejected));
}

}  // namespace
}  // namespace ewarn::ingest
