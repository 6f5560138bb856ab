// What the several-node pipeline tests do to a tests/cluster_harness.h cluster: one station per
// district imported through `--kafka`, a monitor token per node, violence reports posted over
// HTTP, and a topic read back over the Kafka protocol. Header-only, like the harness.
#pragma once

#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_harness.h"
#include "ewarn/base/time.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/event_log.h"

namespace ewarn::testing {

inline std::string ReportDistrict(int d) { return "D" + std::to_string(d); }
inline std::string ReportStation(int d) { return "ST-" + std::to_string(d); }

// Stations ST-0..ST-(districts-1), one in each district LAGOS/D<d>, into ref.stations.
inline void ImportOneStationPerDistrict(Cluster& cluster, int districts) {
  std::string csv = cluster.dir().Sub("stations.csv");
  std::ofstream out(csv);
  out << "station_id,name,region,district,ward,lat,lon,registered_voters\n";
  for (int d = 0; d < districts; ++d) {
    out << ReportStation(d) << ",School " << d << ",LAGOS," << ReportDistrict(d) << ",W1," << 6.4 + 0.1 * d
        << ",3.35,900\n";
  }
  out.close();
  CliRun imported = cluster.Ewarn("import-stations --data " + cluster.dir().Sub("import") + " " + csv);
  ASSERT_EQ(imported.code, 0) << imported.out;
}

// A monitor token "amina" for LAGOS made in `data_dir` (the last line `token create` prints),
// or "" with a gtest failure.
inline std::string CreateMonitorToken(const std::string& data_dir) {
  CliRun token = RunCli(std::string(EWARN_BIN) + " token create --data " + data_dir +
                        " --role monitor --name amina --area LAGOS");
  EXPECT_EQ(token.code, 0) << token.out;
  if (token.code != 0) return "";
  return LastLine(token.out);
}

// POST /v1/incidents (violence, severity 4) at district `district`'s station: "BODY CODE".
inline std::string PostViolenceReport(const ServeProcess& node, const std::string& token, const std::string& id,
                                      int district, int64_t at_ms) {
  std::string body = R"({"event_id":")" + id + R"(","occurred_at":")" + FormatRfc3339(at_ms) +
                     R"(","station_id":")" + ReportStation(district) +
                     R"(","category":"violence","severity":4,"description":"report )" + id + R"("})";
  return RunCli("curl -s -w ' %{http_code}' -H 'Authorization: Bearer " + token + "' " + node.base() +
                "/v1/incidents -d '" + body + "'")
      .out;
}

// Every event of every partition of `topic`, partition by partition (undecodable records skipped).
inline std::vector<v1::Event> ReadTopicEvents(store::EventLog& log, std::string_view topic) {
  std::vector<v1::Event> events;
  auto partitions = log.PartitionCount(topic);
  for (int32_t p = 0; partitions.ok() && p < *partitions; ++p) {
    int64_t next = 0;
    while (true) {
      auto got = log.Read({std::string(topic), p}, next, 5000);
      if (!got.ok() || got->empty()) break;
      for (const auto& r : *got) {
        if (auto e = schemas::DecodeEvent(r.value); e.ok()) events.push_back(*e);
      }
      next = got->back().offset + 1;
    }
  }
  return events;
}

}  // namespace ewarn::testing
