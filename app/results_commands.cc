// CLI for results reference data: contests (ref.contests) and PVT samples (ref.pvt_samples).
// Like import-stations, these open DIR/log themselves (or Kafka), so with the embedded log
// they run while `ewarn serve` is stopped; a running server finds new contests by itself.
#include <cstdio>
#include <map>

#include "commands.h"
#include "data_dir.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/results.h"
#include "ewarn/results/pvt.h"
#include "ewarn/schemas/events.h"

namespace ewarn::app {
namespace {

const FlagSpec kData{"data", "DIR", "the data directory (not needed with --kafka)", "", false};

// Every station in ref.stations (the latest record of each), as a sampling frame.
Result<std::vector<results::FrameStation>> ReadFrame(store::EventLog& log) {
  const std::string topic(schemas::topic::kStations);
  auto partitions = log.PartitionCount(topic);
  if (!partitions.ok()) {
    return Status::NotFound("no stations: ref.stations does not exist (run ewarn import-stations first)");
  }
  std::map<std::string, std::string> region_of;
  for (int32_t p = 0; p < *partitions; ++p) {
    store::TopicPartition tp{topic, p};
    int64_t from = 0;
    while (true) {
      ASSIGN_OR_RETURN(std::vector<store::LogRecord> got, log.Read(tp, from, 10000));
      if (got.empty()) break;
      for (const auto& r : got) {
        auto e = schemas::DecodeEvent(r.value);
        if (!e.ok()) return e.status().WithContext(tp.ToString() + " offset " + std::to_string(r.offset));
        if (e->has_station()) region_of[e->station().station_id()] = e->station().region();
      }
      from = got.back().offset + 1;
    }
  }
  std::vector<results::FrameStation> frame;
  for (auto& [id, region] : region_of) frame.push_back({id, region});
  return frame;
}

int ImportContests(const Flags& f) {
  const std::string cmd = "import-contests";
  if (f.positional().size() != 1) return Fail(cmd, Status::InvalidArgument("give one CSV file"));
  DataDir dir{f.Get("data")};
  auto log = OpenLog(dir, KafkaOf(f), /*create=*/true);
  if (!log.ok()) return Fail(cmd, log.status());
  auto directory = ingest::ContestDirectory::Make(**log);
  if (!directory.ok()) return Fail(cmd, directory.status());
  SystemClock clock;
  auto summary = ingest::ImportContests(**log, **directory, f.positional()[0], clock.NowMs());
  if (!summary.ok()) return Fail(cmd, summary.status());
  std::printf("imported %lld of %lld rows, %lld rejected\n", static_cast<long long>(summary->imported),
              static_cast<long long>(summary->rows), static_cast<long long>(summary->rejected));
  for (const auto& problem : summary->problems) std::printf("  %s\n", problem.c_str());
  for (const auto& contest : (*directory)->Contests()) {
    std::string codes;
    for (const auto& c : (*directory)->Candidates(contest)) codes += " " + c.candidate();
    std::printf("contest %s:%s\n", contest.c_str(), codes.c_str());
  }
  return 0;
}

int PvtSample(const Flags& f) {
  const std::string cmd = "pvt-sample";
  auto size = f.GetInt("size");
  if (!size.ok()) return Fail(cmd, size.status());
  auto seed = f.GetInt("seed");
  if (!seed.ok()) return Fail(cmd, seed.status());
  DataDir dir{f.Get("data")};
  auto log = OpenLog(dir, KafkaOf(f), /*create=*/false);
  if (!log.ok()) return Fail(cmd, log.status());
  auto contests = ingest::ContestDirectory::Make(**log);
  if (!contests.ok()) return Fail(cmd, contests.status());
  const std::string contest = ingest::ContestCode(f.Get("contest"));
  if ((*contests)->Candidates(contest).empty()) {
    return Fail(cmd, Status::NotFound("unknown contest '" + contest + "' (import it with ewarn import-contests)"));
  }
  auto frame = ReadFrame(**log);
  if (!frame.ok()) return Fail(cmd, frame.status());
  auto sample = results::DrawPvtSample(std::move(*frame), contest, *size, static_cast<uint64_t>(*seed));
  if (!sample.ok()) return Fail(cmd, sample.status());

  SystemClock clock;
  const int64_t now = clock.NowMs();
  v1::Event e;
  auto* h = e.mutable_header();
  h->set_schema_version(schemas::kSchemaVersion);
  h->set_event_id("pvt-sample:" + contest + ":" + std::to_string(*seed) + ":" + std::to_string(*size));
  h->set_event_time_ms(now);
  h->set_received_time_ms(now);
  h->set_source(v1::SOURCE_OPERATOR);
  h->set_channel("pvt-sample");
  *e.mutable_pvt_sample() = *sample;
  const std::string topic(schemas::topic::kPvtSamples);
  if (!(*log)->PartitionCount(topic).ok()) {
    if (Status s = (*log)->CreateTopic({.name = topic, .partitions = 1, .compacted = true}); !s.ok()) {
      return Fail(cmd, s);
    }
  }
  std::vector<store::OutRecord> record{
      {.topic = topic, .key = contest, .value = schemas::EncodeEvent(e), .timestamp_ms = now, .partition = 0}};
  auto appended = (*log)->Append(record);
  if (!appended.ok()) return Fail(cmd, appended.status());
  std::printf("PVT sample for %s: %d stations (seed %lld), stored in %s\n", contest.c_str(),
              sample->station_ids_size(), static_cast<long long>(*seed), topic.c_str());
  for (const auto& s : sample->strata()) {
    std::printf("  %-24s %6lld of %7lld stations\n", s.region().c_str(), static_cast<long long>(s.sampled()),
                static_cast<long long>(s.population()));
  }
  return 0;
}

}  // namespace

std::vector<Command> ResultsCommands() {
  return {
      {{"import-contests"},
       "import the candidates of each contest from CSV (contest,candidate,name,party) into ref.contests",
       {kData, kKafkaFlag},
       "FILE",
       ImportContests},
      {{"pvt-sample"},
       "draw a stratified random PVT sample (strata: regions, proportional) and store it in ref.pvt_samples",
       {kData, kKafkaFlag,
        {"contest", "C", "the contest, e.g. PRES-2027", "", true},
        {"size", "N", "stations to draw", "", true},
        {"seed", "S", "the random seed (the same seed, stations and size give the same sample)", "", true}},
       "",
       PvtSample},
  };
}

}  // namespace ewarn::app
