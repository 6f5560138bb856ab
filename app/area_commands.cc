// `ewarn import-areas`: area boundaries from GeoJSON into ref.areas, all or nothing.
// `ewarn import-hours`: polling hours per area from CSV into ref.hours, all or nothing.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "area_import.h"
#include "hours_import.h"
#include "commands.h"
#include "data_dir.h"
#include "ewarn/base/time.h"

namespace ewarn::app {
namespace {

int ImportAreas(const Flags& f) {
  const std::string cmd = "import-areas";
  if (f.positional().size() != 1) return Fail(cmd, Status::InvalidArgument("give one GeoJSON file"));
  const std::string& path = f.positional()[0];
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(cmd, Status::NotFound("cannot open '" + path + "'"));
  std::stringstream text;
  text << in.rdbuf();

  AreaImportOptions options;
  options.properties.clear();
  std::string spec = f.Get("property");
  for (size_t start = 0; start <= spec.size();) {
    size_t comma = spec.find(',', start);
    if (comma == std::string::npos) comma = spec.size();
    if (comma > start) options.properties.push_back(spec.substr(start, comma - start));
    start = comma + 1;
  }
  if (options.properties.empty()) return Fail(cmd, Status::InvalidArgument("--property names no property"));

  DataDir dir{f.Get("data")};
  auto log = OpenLog(dir, KafkaOf(f), /*create=*/false);
  if (!log.ok()) return Fail(cmd, log.status());
  auto known = KnownAreas(**log);
  if (!known.ok()) return Fail(cmd, known.status());
  auto parsed = ParseAreas(text.str(), *known, options);
  if (!parsed.ok()) return Fail(cmd, Status::InvalidArgument(path + ": " + parsed.status().message()));
  if (parsed->problem_count > 0) {
    std::fprintf(stderr, "ewarn import-areas: %s: %lld of %lld features refused; nothing imported:\n", path.c_str(),
                 static_cast<long long>(parsed->problem_count), static_cast<long long>(parsed->features));
    for (const auto& p : parsed->problems) std::fprintf(stderr, "  %s\n", p.c_str());
    if (parsed->problem_count > static_cast<int64_t>(parsed->problems.size())) {
      std::fprintf(stderr, "  ... and %lld more\n",
                   static_cast<long long>(parsed->problem_count - static_cast<int64_t>(parsed->problems.size())));
    }
    return 1;
  }
  SystemClock clock;
  if (Status s = WriteAreas(**log, parsed->boundaries, clock.NowMs()); !s.ok()) return Fail(cmd, s);
  int by_level[4] = {0, 0, 0, 0};
  for (const auto& b : parsed->boundaries) ++by_level[b.level()];
  std::printf("imported %zu areas (%d regions, %d districts, %d wards) from %lld features into ref.areas\n",
              parsed->boundaries.size(), by_level[1], by_level[2], by_level[3],
              static_cast<long long>(parsed->features));
  return 0;
}

int ImportHours(const Flags& f) {
  const std::string cmd = "import-hours";
  if (f.positional().size() != 1) return Fail(cmd, Status::InvalidArgument("give one CSV file"));
  const std::string& path = f.positional()[0];
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(cmd, Status::NotFound("cannot open '" + path + "'"));
  std::stringstream text;
  text << in.rdbuf();

  DataDir dir{f.Get("data")};
  const KafkaConnection kafka = KafkaOf(f);
  if (dir.root.empty() && !kafka.enabled()) {
    return Fail(cmd, Status::InvalidArgument("give --data DIR (the embedded log) or --kafka BROKERS"));
  }
  auto log = OpenLog(dir, kafka, /*create=*/false);
  if (!log.ok()) return Fail(cmd, log.status());
  auto known = KnownAreas(**log);
  if (!known.ok()) return Fail(cmd, known.status());
  auto parsed = ParseHours(text.str(), *known);
  if (!parsed.ok()) return Fail(cmd, Status::InvalidArgument(path + ": " + parsed.status().message()));
  if (!parsed->problems.empty()) {
    std::fprintf(stderr, "ewarn import-hours: %s: %zu problem(s) in %lld rows; nothing imported:\n", path.c_str(),
                 parsed->problems.size(), static_cast<long long>(parsed->rows));
    for (const auto& p : parsed->problems) std::fprintf(stderr, "  %s\n", p.c_str());
    return 1;
  }
  SystemClock clock;
  if (Status s = WriteHours(**log, parsed->hours, clock.NowMs()); !s.ok()) return Fail(cmd, s);
  int by_level[3] = {0, 0, 0};
  for (const auto& h : parsed->hours) {
    ++by_level[std::min<long>(2, std::count(h.area_id().begin(), h.area_id().end(), '/'))];
  }
  std::printf("imported polling hours for %zu areas (%d regions, %d districts, %d wards) into ref.hours; stations "
              "elsewhere keep the rules' hours\n",
              parsed->hours.size(), by_level[0], by_level[1], by_level[2]);
  return 0;
}

}  // namespace

std::vector<Command> AreaCommands() {
  return {
      {{"import-areas"},
       "import area boundaries (a GeoJSON FeatureCollection) into ref.areas for the duty room's map",
       {{"data", "DIR", "the data directory", "", true},
        kKafkaFlag,
        {"property", "NAME[,NAME...]",
         "the feature property holding the area path (e.g. NAIROBI/WESTLANDS), or several naming one level each",
         "area"}},
       "FILE.geojson",
       ImportAreas},
      {{"import-hours"},
       "import polling hours per area (CSV: area,open,close,tz, local times and UTC offset) into ref.hours; "
       "a station keeps its most specific area's, else the rules'",
       {{"data", "DIR", "the data directory (not needed with --kafka)", "", false}, kKafkaFlag},
       "FILE.csv",
       ImportHours},
  };
}

}  // namespace ewarn::app
