// The ewarn binary as an operator uses it: help on every subcommand, clear errors with the
// right exit codes, and serve -> digest -> replay -> digest giving the same line.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "../processors/testing/counting_processor.h"
#include "ewarn/base/bytes.h"
#include "ewarn/base/time.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/event_log.h"
#include "child_process.h"
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
  EXPECT_NE(nodir.out.find("data directory '/nonexistent/ewarn' does not exist"), std::string::npos) << nodir.out;
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

// --- what a new user meets first (issue 13 items 12, 13, 17; issue 17 item 7) ---

bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

// A port on 127.0.0.1 that something else listens on while this lives.
class BusyPort {
 public:
  BusyPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 1) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(a.sin_port);
    }
  }
  ~BusyPort() { ::close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A port that was free a moment ago (for commands whose port cannot be 0).
std::string FreeAddress() { return BusyPort().address(); }

TEST(CliTest, ATypoInDataFailsAndCreatesNothing) {  // issue 13 item 13
  ewarn::testing::TempDir dir;
  CliRun serve = Ewarn("serve --data " + dir.Sub("no/such/dir") + " --duration 1");
  EXPECT_EQ(serve.code, 1) << serve.out;
  EXPECT_NE(serve.out.find("its parent '" + dir.Sub("no/such") + "' does not exist"), std::string::npos) << serve.out;
  EXPECT_FALSE(Exists(dir.Sub("no")));
  CliRun create = Ewarn("token create --data " + dir.Sub("no/such") + " --role monitor --name amina");
  EXPECT_EQ(create.code, 1) << create.out;
  EXPECT_FALSE(Exists(dir.Sub("no")));
  // Commands that only read never create the directory.
  for (const std::string cmd : {"token list", "token revoke amina", "log stat", "log dump --topic in.events",
                                "digest", "alerts list", "rejected list"}) {
    CliRun r = Ewarn(cmd + " --data " + dir.Sub("typo"));
    EXPECT_EQ(r.code, 1) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("'" + dir.Sub("typo") + "' does not exist"), std::string::npos) << cmd << ": " << r.out;
    EXPECT_FALSE(Exists(dir.Sub("typo"))) << cmd;
  }
  // A data directory without tokens is not an empty token list.
  ASSERT_EQ(Ewarn("log stat --data " + dir.path()).code, 1);
  CliRun none = Ewarn("token list --data " + dir.path());
  EXPECT_EQ(none.code, 1) << none.out;
  EXPECT_FALSE(Exists(dir.Sub("ingest")));
  // The last component alone is created, as mkdir would ("new/" names it too).
  CliRun made = Ewarn("token create --data " + dir.Sub("new/") + " --role monitor --name amina");
  EXPECT_EQ(made.code, 0) << made.out;
  EXPECT_EQ(Ewarn("token list --data " + dir.Sub("new")).code, 0);
}

TEST(CliTest, StrayArgumentsAndGroupsAreAnswered) {  // issue 13 item 13
  ewarn::testing::TempDir dir;
  CliRun junk = Ewarn("serve --data " + dir.Sub("d") + " junk --duration 1");
  EXPECT_EQ(junk.code, 2) << junk.out;
  EXPECT_NE(junk.out.find("unexpected argument 'junk'"), std::string::npos) << junk.out;
  EXPECT_FALSE(Exists(dir.Sub("d")));
  CliRun log = Ewarn("log");
  EXPECT_EQ(log.code, 2) << log.out;
  CliRun help = Ewarn("log --help");
  EXPECT_EQ(help.code, 0) << help.out;
  CliRun frob = Ewarn("log frob");
  EXPECT_EQ(frob.code, 2) << frob.out;
  EXPECT_NE(frob.out.find("unknown command 'frob'"), std::string::npos) << frob.out;
  for (const CliRun* r : {&log, &help, &frob}) {
    EXPECT_EQ(r->out.find("unknown command 'log'"), std::string::npos) << r->out;
    for (const char* sub : {"log stat", "log check", "log dump"}) EXPECT_NE(r->out.find(sub), std::string::npos) << r->out;
  }
  EXPECT_NE(Ewarn("token --help").out.find("token list"), std::string::npos);
}

TEST(CliTest, ServeWithoutHttpSaysSo) {  // issue 13 item 13
  ewarn::testing::TempDir dir;
  CliRun serve = Ewarn("serve --data " + dir.Sub("d") + " --duration 1");
  EXPECT_EQ(serve.code, 0) << serve.out;
  EXPECT_NE(serve.out.find("no --http, so no ingest or query API"), std::string::npos) << serve.out;
}

TEST(CliTest, BusyPortsAreNamedBeforeAnythingIsCreated) {  // issue 13 item 13
  ewarn::testing::TempDir dir;
  BusyPort busy;
  CliRun metrics = Ewarn("serve --data " + dir.Sub("d") + " --duration 1 --metrics " + busy.address());
  EXPECT_EQ(metrics.code, 1) << metrics.out;
  EXPECT_NE(metrics.out.find("--metrics " + busy.address() + ": the port is in use"), std::string::npos) << metrics.out;
  EXPECT_EQ(metrics.out.find("null context"), std::string::npos) << metrics.out;
  CliRun http = Ewarn("serve --data " + dir.Sub("d") + " --duration 1 --http " + busy.address());
  EXPECT_EQ(http.code, 1) << http.out;
  EXPECT_NE(http.out.find("give another with --http"), std::string::npos) << http.out;
  EXPECT_FALSE(Exists(dir.Sub("d")));
  // The demo on a busy port: told to use --http, and the same command works once it is free.
  const std::string demo = "demo --stations 30 --speed 0 --hours 2 --metrics 127.0.0.1:0 --data " + dir.Sub("demo/run");
  CliRun refused = Ewarn(demo + " --http " + busy.address());
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_NE(refused.out.find("--http"), std::string::npos) << refused.out;
  EXPECT_FALSE(Exists(dir.Sub("demo")));
  CliRun rerun = Ewarn(demo + " --http 127.0.0.1:0");
  EXPECT_EQ(rerun.code, 0) << rerun.out;
}

// Lines after "Next:" in the demo's output, as printed.
std::vector<std::string> NextCommands(const std::string& out) {
  std::vector<std::string> lines;
  size_t at = out.find("\nNext:\n");
  if (at == std::string::npos) return lines;
  std::istringstream in(out.substr(at + 7));
  for (std::string line; std::getline(in, line) && line.starts_with("  ");) lines.push_back(line.substr(2));
  return lines;
}

TEST(CliTest, TheDemosNextLinesRunAsPrintedAndAgain) {  // issue 13 item 17
  ewarn::testing::TempDir dir;
  CliRun help = Ewarn("demo --help");
  EXPECT_EQ(help.out.find("not used"), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find("--connections"), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find("--max-stations"), std::string::npos) << help.out;
  CliRun demo = Ewarn("demo --stations 30 --speed 0 --hours 3 --http 127.0.0.1:0 --metrics 127.0.0.1:0 --data " +
                      dir.Sub("demo"));
  ASSERT_EQ(demo.code, 0) << demo.out;
  std::vector<std::string> next = NextCommands(demo.out);
  ASSERT_EQ(next.size(), 3u) << demo.out;
  // With an empty PATH, from another directory, twice: no bare `ewarn`, no fixed directory.
  for (int round = 0; round < 2; ++round) {
    for (const auto& line : next) {
      CliRun r = testing::RunCli("cd / && env PATH=/usr/bin:/bin TMPDIR=" + dir.path() + " sh -c '" +
                                 std::regex_replace(line, std::regex("'"), "'\\''") + "'");
      EXPECT_EQ(r.code, 0) << line << "\n" << r.out;
    }
  }
}

TEST(CliTest, CommandsWithoutKafkaSayWhy) {  // issue 13 item 17
  for (const char* cmd : {"alerts list --data /tmp", "demo"}) {
    CliRun r = Ewarn(std::string(cmd) + " --kafka 127.0.0.1:9092");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find("--kafka is not taken here: "), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("unknown flag"), std::string::npos) << r.out;
  }
  EXPECT_NE(Ewarn("alerts list --help").out.find("No --kafka: "), std::string::npos);
}

// Issue 14.2 / 13.17: the token commands need only --kafka; nothing is left on this machine,
// the secret never reaches the topic, and --kafka-property reaches the Kafka clients.
TEST(CliTest, TokensThroughKafkaNeedNoDataDirectory) {
  auto cluster = ewarn::testing::MockKafkaCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  // The mock has no controller for CreateTopics: the topic is made as `topics create` would.
  ASSERT_TRUE((*cluster)->CreateTopic(std::string(schemas::topic::kTokens), 1).ok());
  ewarn::testing::TempDir scratch;  // the commands' TMPDIR, to see they leave nothing behind
  const std::string kafka = " --kafka " + (*cluster)->bootstrap_servers();
  auto run = [&](const std::string& args) {
    return testing::RunCli("cd " + scratch.path() + " && TMPDIR=" + scratch.path() + " " + EWARN_BIN + " " + args);
  };
  CliRun created = run("token create --role duty --name desk-1" + kafka);
  ASSERT_EQ(created.code, 0) << created.out;
  std::string token = created.out.substr(created.out.rfind("ewt_"));
  while (!token.empty() && token.back() == '\n') token.pop_back();
  EXPECT_TRUE(std::filesystem::is_empty(scratch.path())) << "token create left files in " << scratch.path();

  CliRun listed = run("token list" + kafka);
  ASSERT_EQ(listed.code, 0) << listed.out;
  EXPECT_TRUE(std::regex_search(listed.out, std::regex("desk-1 +duty .* active"))) << listed.out;
  CliRun again = run("token create --role duty --name desk-1" + kafka);
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.out.find("an active token named 'desk-1' exists"), std::string::npos) << again.out;

  auto log = store::OpenKafkaLog((*cluster)->LogOptions());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto records = (*log)->Read({std::string(schemas::topic::kTokens), 0}, 0, 100);
  ASSERT_TRUE(records.ok()) << records.status().ToString();
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->front().value.find(token.substr(token.rfind('_') + 1)), std::string::npos)
      << "the token's secret is on the log";

  CliRun revoked = run("token revoke desk-1" + kafka);
  ASSERT_EQ(revoked.code, 0) << revoked.out;
  listed = run("token list" + kafka);
  EXPECT_TRUE(std::regex_search(listed.out, std::regex("desk-1 +duty .* revoked"))) << listed.out;
  EXPECT_TRUE(std::filesystem::is_empty(scratch.path()));

  // Neither --data nor --kafka: told what to give.
  CliRun neither = run("token list");
  EXPECT_EQ(neither.code, 1);
  EXPECT_NE(neither.out.find("give --data DIR (the embedded log) or --kafka BROKERS"), std::string::npos) << neither.out;
}

TEST(CliTest, KafkaPropertiesAreCheckedAndReachTheClients) {  // issue 14.8
  // An unknown key, a value librdkafka refuses, no '=', no --kafka: usage errors naming it.
  CliRun unknown = Ewarn("token list --kafka 127.0.0.1:1 --kafka-property no.such.setting=1");
  EXPECT_EQ(unknown.code, 2) << unknown.out;
  EXPECT_NE(unknown.out.find("--kafka-property no.such.setting: No such configuration property"), std::string::npos)
      << unknown.out;
  CliRun bad_value = Ewarn("serve --data /tmp/none --kafka 127.0.0.1:1 --kafka-property socket.timeout.ms=soon");
  EXPECT_EQ(bad_value.code, 2) << bad_value.out;
  EXPECT_NE(bad_value.out.find("--kafka-property socket.timeout.ms: "), std::string::npos) << bad_value.out;
  CliRun no_equals = Ewarn("log stat --data /tmp --kafka 127.0.0.1:1 --kafka-property security.protocol");
  EXPECT_EQ(no_equals.code, 2);
  EXPECT_NE(no_equals.out.find("is not KEY=VALUE"), std::string::npos) << no_equals.out;
  CliRun no_kafka = Ewarn("log stat --data /tmp --kafka-property security.protocol=SSL");
  EXPECT_EQ(no_kafka.code, 2);
  EXPECT_NE(no_kafka.out.find("--kafka-property needs --kafka"), std::string::npos) << no_kafka.out;
  // Valid settings that contradict each other only when a client is made: this shows they
  // reach librdkafka's client configuration (PLAIN wants a user name), on every --kafka command.
  for (const char* cmd : {"token list", "log stat --data /tmp", "import-stations /dev/null", "liaison add --name x "
                          "--role police --area LAGOS"}) {
    CliRun r = Ewarn(std::string(cmd) + " --kafka 127.0.0.1:1 --kafka-property security.protocol=SASL_PLAINTEXT "
                     "--kafka-property sasl.mechanism=PLAIN");
    EXPECT_EQ(r.code, 1) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("sasl.username"), std::string::npos) << cmd << ": " << r.out;
  }
  EXPECT_NE(Ewarn("serve --help").out.find("--kafka-property KEY=VALUE"), std::string::npos);
}

TEST(CliTest, LogDumpSaysWhatTheLimitLeftOut) {  // issue 17 item 7
  ewarn::testing::TempDir dir;
  {
    auto log = store::OpenEmbeddedLog({.dir = dir.Sub("data/log")});
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->CreateTopic({.name = "in.events", .partitions = 2}).ok());
    std::vector<store::OutRecord> recs;
    for (int i = 0; i < 1300; ++i) {
      v1::Event e = processors::testing::MakeIncident("ev-" + std::to_string(i), "st-1", 2, i);
      recs.push_back({.topic = "in.events", .key = "st-1", .value = schemas::EncodeEvent(e), .partition = i % 2});
    }
    ASSERT_TRUE((*log)->Append(recs).ok());
  }
  auto lines = [](const std::string& out) {
    return std::count(out.begin(), out.end(), '\n');
  };
  const std::string dump = EWARN_BIN + std::string(" log dump --data ") + dir.Sub("data") + " --topic in.events";
  CliRun capped = testing::RunCli(dump + " 2>" + dir.Sub("err") + " | wc -l");
  EXPECT_EQ(std::stoi(capped.out), 1000);
  std::string note = ReadAll(dir.Sub("err"));
  EXPECT_NE(note.find("printed 1000 records and stopped at --limit 1000; 300 more in in.events were left out"),
            std::string::npos) << note;
  EXPECT_NE(note.find("--limit 0 or --all"), std::string::npos) << note;
  for (const char* all : {" --all", " --limit 0"}) {
    CliRun r = Ewarn(std::string("log dump --data ") + dir.Sub("data") + " --topic in.events" + all);
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(lines(r.out), 1300) << all;
    EXPECT_EQ(r.out.find("left out"), std::string::npos) << all;
  }
  CliRun ten = Ewarn(std::string("log dump --data ") + dir.Sub("data") + " --topic in.events --limit 10");
  EXPECT_NE(ten.out.find("1290 more"), std::string::npos) << ten.out;
}

// --- the README, pasted ---

std::string Readme() { return ReadAll(std::string(EWARN_SOURCE_DIR) + "/README.md"); }

// The flags of a command's --help (without --help itself).
std::set<std::string> HelpFlags(const std::string& command) {
  std::set<std::string> flags;
  std::string help = Ewarn(command + " --help").out;
  std::regex flag("\n  (--[a-z0-9-]+)");
  for (auto it = std::sregex_iterator(help.begin(), help.end(), flag); it != std::sregex_iterator(); ++it) {
    if ((*it)[1] != "--help") flags.insert((*it)[1]);
  }
  return flags;
}

TEST(CliTest, TheReadmeCommandTableMatchesHelp) {  // issue 13 item 17
  const std::string readme = Readme();
  ASSERT_FALSE(readme.empty());
  std::regex row(R"(\n\| `ewarn ([a-z -]+?) ([-(\[][^`]*)` \|)");
  std::regex flag("--[a-z0-9-]+");
  int rows = 0;
  bool serve_seen = false;
  for (auto it = std::sregex_iterator(readme.begin(), readme.end(), row); it != std::sregex_iterator(); ++it) {
    std::string command = (*it)[1], synopsis = (*it)[2];
    std::set<std::string> listed;
    for (auto f = std::sregex_iterator(synopsis.begin(), synopsis.end(), flag); f != std::sregex_iterator(); ++f) {
      listed.insert((*f)[0]);
    }
    std::set<std::string> help = HelpFlags(command);
    ++rows;
    for (const auto& f : listed) EXPECT_TRUE(help.count(f)) << "README lists " << f << " for " << command;
    if (command == "serve") {  // serve's synopsis is complete
      serve_seen = true;
      for (const auto& f : help) EXPECT_TRUE(listed.count(f)) << "README's serve synopsis lacks " << f;
    }
  }
  EXPECT_GE(rows, 9);
  EXPECT_TRUE(serve_seen);
}

// The README's report examples, run as a user pastes them (on a free port instead of 8080).
TEST(CliTest, TheReadmeReportExamplesWorkWhenPasted) {  // issue 13 item 12
  const std::string readme = Readme();
  size_t start = readme.find("```sh\nexport PATH=\"$PWD/build/app:$PATH\"");
  ASSERT_NE(start, std::string::npos);
  start += 6;
  std::string script = readme.substr(start, readme.find("```", start) - start);
  ASSERT_NE(script.find("curl"), std::string::npos);
  EXPECT_EQ(script.find("2027"), std::string::npos);
  const std::string port = FreeAddress();
  script = std::regex_replace(script, std::regex("127\\.0\\.0\\.1:8080"), port);
  int posts = 0;
  for (size_t at = script.find("\ncurl -s -w"); at != std::string::npos; at = script.find("\ncurl -s -w", at + 1)) ++posts;
  EXPECT_EQ(posts, 4);
  ewarn::testing::TempDir dir;
  { std::ofstream(dir.Sub("readme.sh")) << script; }
  const std::string bin_dir = std::filesystem::path(EWARN_BIN).parent_path().string();
  CliRun r = testing::RunCli("cd " + std::string(EWARN_SOURCE_DIR) + " && env PATH=" + bin_dir + ":$PATH TMPDIR=" +
                             dir.path() + " timeout 60 bash -e " + dir.Sub("readme.sh"));
  EXPECT_EQ(r.code, 0) << r.out;
  int accepted = 0;
  for (size_t at = r.out.find("{\"status\":\"accepted\""); at != std::string::npos;
       at = r.out.find("{\"status\":\"accepted\"", at + 1)) {
    ++accepted;
  }
  EXPECT_EQ(accepted, posts) << r.out;
  EXPECT_EQ(r.out.find(" 400\n"), std::string::npos) << r.out;
}

// The times an answer names, in ms.
std::vector<int64_t> TimesIn(const std::string& text) {
  std::vector<int64_t> out;
  std::regex t(R"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), t); it != std::sregex_iterator(); ++it) {
    auto ms = ParseRfc3339((*it)[0].str());
    if (ms.ok()) out.push_back(*ms);
  }
  return out;
}

TEST(CliTest, TimeErrorsNeverSuggestAFutureDate) {  // issue 13 item 12
  ewarn::testing::TempDir dir;
  const std::string data = dir.Sub("data");
  { std::ofstream(dir.Sub("s.csv")) << "station_id,name,region,district,ward,lat,lon,registered_voters\nS1,One,LAGOS,IKEJA,W1,6.6,3.35,500\n"; }
  ASSERT_EQ(Ewarn("import-stations --data " + data + " " + dir.Sub("s.csv")).code, 0);
  CliRun token = Ewarn("token create --data " + data + " --role monitor --name amina");
  ASSERT_EQ(token.code, 0) << token.out;
  std::string t = token.out.substr(0, token.out.size() - 1);
  t = t.substr(t.rfind('\n') + 1);
  const std::string address = FreeAddress();
  testing::ChildProcess serve({EWARN_BIN, "serve", "--data", data, "--http", address});
  ASSERT_TRUE(serve.started());
  bool listening = false;
  while (auto line = serve.ReadLine(std::chrono::seconds(20))) {
    if (line->starts_with("http: http://")) {
      listening = true;
      break;
    }
  }
  ASSERT_TRUE(listening);
  const std::string post = "curl -s -m 5 -H 'Authorization: Bearer " + t +
                           "' http://" + address + "/v1/incidents -d ";
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  CliRun future = testing::RunCli(post + "'{\"event_id\":\"f-1\",\"occurred_at\":\"" + FormatRfc3339(now + 2 * 86'400'000) +
                                  "\",\"station_id\":\"S1\",\"category\":\"violence\",\"severity\":3}'");
  EXPECT_NE(future.out.find("\"future_time\""), std::string::npos) << future.out;
  CliRun garbled = testing::RunCli(post + "'{\"event_id\":\"f-2\",\"occurred_at\":\"yesterday\",\"station_id\":\"S1\","
                                   "\"category\":\"violence\",\"severity\":3}'");
  EXPECT_NE(garbled.out.find("\"bad_time\""), std::string::npos) << garbled.out;
  // The future answer names the submitted time and the server's clock; nothing else ahead of now.
  std::vector<int64_t> named = TimesIn(future.out);
  EXPECT_EQ(named.size(), 2u) << future.out;
  int ahead = 0;
  for (int64_t ms : named) ahead += ms > now + 5 * 60'000;
  EXPECT_EQ(ahead, 1) << future.out;
  for (int64_t ms : TimesIn(garbled.out)) EXPECT_LE(ms, now) << garbled.out;
  kill(serve.pid(), SIGTERM);
  EXPECT_EQ(serve.Wait(), 0);
}

}  // namespace
}  // namespace ewarn
