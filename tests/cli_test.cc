// The ewarn binary as an operator uses it: help on every subcommand, clear errors with the
// right exit codes, and serve -> digest -> replay -> digest giving the same line.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <array>
#include <cstdio>

#include "../processors/testing/counting_processor.h"
#include "ewarn/base/bytes.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/event_log.h"
#include "cli_run.h"
#include "ewarn_testing.h"

namespace ewarn {
namespace {

using testing::CliRun;

CliRun Ewarn(const std::string& args) { return testing::RunCli(std::string(EWARN_BIN) + " " + args); }

TEST(CliTest, EverySubcommandHasHelp) {
  CliRun overview = Ewarn("--help");
  ASSERT_EQ(overview.code, 0);
  for (const char* cmd : {"serve", "log stat", "log check", "digest", "replay"}) {
    EXPECT_NE(overview.out.find(cmd), std::string::npos) << cmd;
    CliRun r = Ewarn(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("Usage: ewarn " + std::string(cmd)), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--data DIR"), std::string::npos) << r.out;
  }
}

TEST(CliTest, UsageErrorsExitTwoAndFailuresExitOne) {
  EXPECT_EQ(Ewarn("frobnicate").code, 2);
  CliRun unknown = Ewarn("digest --data /tmp/x --colour red");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.out.find("unknown flag --colour"), std::string::npos);
  CliRun missing = Ewarn("replay --data /tmp/x");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.out.find("--into is required"), std::string::npos);
  CliRun nodir = Ewarn("digest --data /nonexistent/ewarn");
  EXPECT_EQ(nodir.code, 1);
  EXPECT_NE(nodir.out.find("'/nonexistent/ewarn/log' does not exist"), std::string::npos) << nodir.out;
  CliRun nobroker = Ewarn("log stat --data /tmp --kafka 127.0.0.1:1");
  EXPECT_EQ(nobroker.code, 1);
  EXPECT_NE(nobroker.out.find("127.0.0.1:1"), std::string::npos) << nobroker.out;
}

std::string Line(const std::string& out, const std::string& prefix) {
  size_t at = out.find(prefix);
  if (at == std::string::npos) return "";
  return out.substr(at, out.find('\n', at) - at);
}

TEST(CliTest, ReplayOfAServedDirectoryGivesTheSameDigest) {
  ewarn::testing::TempDir dir;
  {
    auto log = store::OpenEmbeddedLog({.dir = dir.Sub("data/log")});
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->CreateTopic({.name = "in.events", .partitions = 4}).ok());
    std::vector<store::OutRecord> recs;
    for (int i = 0; i < 3000; ++i) {
      std::string station = "st-" + std::to_string(i % 101);
      v1::Event e = processors::testing::MakeIncident("ev-" + std::to_string(i), station, 1 + i % 5, i);
      recs.push_back({.topic = "in.events", .key = station, .value = schemas::EncodeEvent(e)});
    }
    recs.push_back({.topic = "in.events", .key = "st-1", .value = "not an event"});
    ASSERT_TRUE((*log)->Append(recs).ok());
  }
  CliRun serve = Ewarn("serve --data " + dir.Sub("data") + " --partitions 4 --duration 3 --tick-ms 500");
  ASSERT_EQ(serve.code, 0) << serve.out;
  EXPECT_NE(serve.out.find("1 skipped"), std::string::npos) << serve.out;

  CliRun stat = Ewarn("log stat --data " + dir.Sub("data"));
  ASSERT_EQ(stat.code, 0) << stat.out;
  EXPECT_NE(Line(stat.out, "in.events").find(" 4 "), std::string::npos) << stat.out;
  EXPECT_NE(Line(stat.out, "dlq.processing").find(" 1 "), std::string::npos) << stat.out;

  CliRun original = Ewarn("digest --data " + dir.Sub("data"));
  ASSERT_EQ(original.code, 0) << original.out;
  CliRun replay = Ewarn("replay --data " + dir.Sub("data") + " --into " + dir.Sub("replayed"));
  ASSERT_EQ(replay.code, 0) << replay.out;
  CliRun replayed = Ewarn("digest --data " + dir.Sub("replayed"));
  ASSERT_EQ(replayed.code, 0) << replayed.out;
  EXPECT_EQ(Line(replayed.out, "state="), Line(original.out, "state="));
  EXPECT_NE(Line(original.out, "state="), "");
  // The replay's own summary line carries the same digest.
  EXPECT_NE(replay.out.find(Line(original.out, "state=")), std::string::npos) << replay.out;

  CliRun again = Ewarn("replay --data " + dir.Sub("data") + " --into " + dir.Sub("replayed"));
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.out.find("is not empty"), std::string::npos);
}

TEST(CliTest, ContestsAreImportedAndAPvtSampleIsDrawnAndStored) {
  ewarn::testing::TempDir dir;
  std::string stations = "station_id,name,region,district,ward,lat,lon,registered_voters\n";
  for (const char* region : {"LAGOS", "KANO", "KANO2"}) {
    for (int i = 0; i < (std::string(region) == "KANO2" ? 3 : 30); ++i) {
      stations += std::string(region) + "-" + std::to_string(i) + ",S," + region + ",D,W,6.5,3.3,500\n";
    }
  }
  FILE* f = std::fopen(dir.Sub("stations.csv").c_str(), "w");
  std::fputs(stations.c_str(), f);
  std::fclose(f);
  f = std::fopen(dir.Sub("contests.csv").c_str(), "w");
  std::fputs("contest,candidate,name,party\nPRES-2027,APC,A,All Progressives Congress\nPRES-2027,lp,B,Labour\n,X,,\n", f);
  std::fclose(f);
  const std::string data = " --data " + dir.Sub("data");
  ASSERT_EQ(Ewarn("import-stations" + data + " " + dir.Sub("stations.csv")).code, 0);

  CliRun contests = Ewarn("import-contests" + data + " " + dir.Sub("contests.csv"));
  ASSERT_EQ(contests.code, 0) << contests.out;
  EXPECT_NE(contests.out.find("imported 2 of 3 rows, 1 rejected"), std::string::npos) << contests.out;
  EXPECT_NE(contests.out.find("line 4: missing contest"), std::string::npos) << contests.out;
  EXPECT_NE(contests.out.find("contest PRES-2027: APC LP"), std::string::npos) << contests.out;
  CliRun absent = Ewarn("import-contests" + data + " " + dir.Sub("nope.csv"));
  EXPECT_EQ(absent.code, 1);
  EXPECT_NE(absent.out.find("nope.csv"), std::string::npos) << absent.out;
  EXPECT_EQ(Ewarn("import-contests" + data).code, 1);  // no file

  CliRun sample = Ewarn("pvt-sample" + data + " --contest PRES-2027 --size 12 --seed 7");
  ASSERT_EQ(sample.code, 0) << sample.out;
  EXPECT_NE(sample.out.find("PVT sample for PRES-2027: 12 stations (seed 7)"), std::string::npos) << sample.out;
  EXPECT_NE(Line(sample.out, "  KANO2").find(" 2 of       3"), std::string::npos) << sample.out;  // at least two
  CliRun stat = Ewarn("log stat" + data);
  EXPECT_NE(Line(stat.out, "ref.pvt_samples").find(" 1 "), std::string::npos) << stat.out;
  EXPECT_NE(Line(stat.out, "ref.contests").find(" 2 "), std::string::npos) << stat.out;
  {
    auto log = store::OpenEmbeddedLog({.dir = dir.Sub("data/log")});
    ASSERT_TRUE(log.ok());
    auto got = (*log)->Read({"ref.pvt_samples", 0}, 0, 10);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u);
    auto e = schemas::DecodeEvent((*got)[0].value);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->pvt_sample().station_ids_size(), 12);
    EXPECT_EQ(e->pvt_sample().contest(), "PRES-2027");
  }
  CliRun unknown = Ewarn("pvt-sample" + data + " --contest SEN-2027 --size 5 --seed 1");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.out.find("unknown contest 'SEN-2027'"), std::string::npos) << unknown.out;
  CliRun too_big = Ewarn("pvt-sample" + data + " --contest PRES-2027 --size 500 --seed 1");
  EXPECT_EQ(too_big.code, 1);
  EXPECT_NE(too_big.out.find("larger than the 63 stations"), std::string::npos) << too_big.out;
  EXPECT_EQ(Ewarn("pvt-sample" + data + " --contest PRES-2027 --seed 1").code, 2);  // --size is required
}

TEST(CliTest, LogCheckNamesACorruptRecordAndExitsNonZero) {
  ewarn::testing::TempDir dir;
  {
    auto log = store::OpenEmbeddedLog({.dir = dir.Sub("data/log")});
    ASSERT_TRUE((*log)->CreateTopic({.name = "in.events", .partitions = 2}).ok());
    v1::Event good = processors::testing::MakeIncident("ev-1", "st-1", 2, 0);
    std::vector<store::OutRecord> recs = {
        {.topic = "in.events", .key = "st-1", .value = schemas::EncodeEvent(good), .partition = 1},
        {.topic = "in.events", .key = "st-1", .value = schemas::EncodeEvent(good), .partition = 1},
        {.topic = "in.events", .key = "st-1", .value = "\x08\x01 junk", .partition = 0}};
    ASSERT_TRUE((*log)->Append(recs).ok());
  }
  {  // damage in.events/1 offset 1 underneath the log
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"meta", {}}, {"t/in.events", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::Open({}, dir.Sub("data/log"), families, &handles, &raw).ok());
    std::string key;
    PutBigEndian32(&key, 1);
    PutBigEndian64(&key, 1);
    ASSERT_TRUE(raw->Put({}, handles[2], key, "\x07").ok());
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  CliRun check = Ewarn("log check --data " + dir.Sub("data"));
  EXPECT_EQ(check.code, 1);
  EXPECT_NE(check.out.find("in.events/1 offset 1"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("in.events/0 offset 0"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("2 unreadable"), std::string::npos) << check.out;
}

std::string ReadAll(const std::string& path) {
  std::string out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) out.append(buf.data(), n);
  std::fclose(f);
  return out;
}

TEST(CliTest, SimulateIsDeterministicIdempotentAndEvaluated) {
  ewarn::testing::TempDir dir;
  const std::string flags = " --stations 40 --seed 3 --tick-ms 600000";
  CliRun first = Ewarn("simulate --data " + dir.Sub("a") + flags + " --truth " + dir.Sub("a.jsonl"));
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("rejected 0,"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("violent_cluster"), std::string::npos) << first.out;
  // Same seed and flags into another directory: the same ground truth, byte for byte.
  CliRun second = Ewarn("simulate --data " + dir.Sub("b") + flags + " --truth " + dir.Sub("b.jsonl"));
  ASSERT_EQ(second.code, 0) << second.out;
  EXPECT_FALSE(ReadAll(dir.Sub("a.jsonl")).empty());
  EXPECT_EQ(ReadAll(dir.Sub("a.jsonl")), ReadAll(dir.Sub("b.jsonl")));
  // Again into the first: everything is a duplicate, nothing is refused.
  CliRun again = Ewarn("simulate --data " + dir.Sub("a") + flags);
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("rejected 0,"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("(of which 0 duplicates)"), std::string::npos) << again.out;

  CliRun table = Ewarn("evaluate --data " + dir.Sub("a") + " --truth " + dir.Sub("a.jsonl"));
  ASSERT_EQ(table.code, 0) << table.out;
  EXPECT_NE(table.out.find("PRECISION"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("violent_cluster"), std::string::npos) << table.out;
  CliRun json = Ewarn("evaluate --json --data " + dir.Sub("a") + " --truth " + dir.Sub("a.jsonl"));
  ASSERT_EQ(json.code, 0) << json.out;
  EXPECT_NE(json.out.find("{\"patterns\":["), std::string::npos) << json.out;

  EXPECT_EQ(Ewarn("simulate --stations 5").code, 1);  // neither --data nor --http
  EXPECT_EQ(Ewarn("evaluate --data " + dir.Sub("a")).code, 2);  // --truth is required
  EXPECT_EQ(Ewarn("simulate --help").code, 0);
}

}  // namespace
}  // namespace ewarn
