// Tabulation of counted result sheets per area.
#include "ewarn/results/tabulation.h"

namespace ewarn::results {
namespace {

const char* LevelOf(const std::string& area) {
  if (area.empty()) return "all";
  size_t slashes = 0;
  for (char c : area) slashes += c == '/';
  return slashes == 0 ? "region" : slashes == 1 ? "district" : "ward";
}

bool Under(const std::string& path, const std::string& area) {
  return area.empty() || path == area || (path.size() > area.size() && path.starts_with(area) && path[area.size()] == '/');
}

}  // namespace

std::vector<std::string> AreasOf(const std::string& ward_path) {
  std::vector<std::string> out;
  for (size_t i = 0; i <= ward_path.size(); ++i) {
    if (i == ward_path.size() || ward_path[i] == '/') out.push_back(ward_path.substr(0, i));
  }
  return out;
}

std::vector<AreaTally> Tabulate(const std::vector<CountedSheet>& sheets, const std::map<std::string, int64_t>& expected,
                                const std::string& area) {
  std::map<std::string, AreaTally> tallies;
  auto tally = [&](const std::string& path) -> AreaTally& {
    AreaTally& t = tallies[path];
    if (t.level.empty()) {
      t.area = path;
      t.level = LevelOf(path);
      auto e = expected.find(path);
      t.stations_expected = e == expected.end() ? 0 : e->second;
    }
    return t;
  };
  tally(area);
  if (area.empty()) {
    for (const auto& [path, n] : expected) {
      if (path.find('/') == std::string::npos) tally(path), tallies[""].stations_expected += n;
    }
  }
  for (const auto& [path, n] : expected) {
    if (Under(path, area)) tally(path);
  }
  for (const CountedSheet& c : sheets) {
    if (!Under(c.ward_path, area)) continue;
    std::vector<std::string> paths = AreasOf(c.ward_path);
    if (area.empty()) paths.insert(paths.begin(), "");
    for (const std::string& path : paths) {
      if (!Under(path, area)) continue;
      AreaTally& t = tally(path);
      ++t.stations_reporting;
      if (c.sheet.votes().empty()) {
        ++t.document_only;
        continue;
      }
      ++t.stations_with_votes;
      for (const auto& v : c.sheet.votes()) {
        t.votes[v.candidate()] += v.votes();
        t.valid_votes += v.votes();
      }
      t.rejected += c.sheet.rejected();
      t.blank += c.sheet.blank();
      t.registered += c.sheet.has_registered() ? c.sheet.registered() : c.registered;
    }
  }
  std::vector<AreaTally> out;
  out.reserve(tallies.size());
  for (auto& [path, t] : tallies) {
    for (const auto& [candidate, n] : t.votes) {
      t.shares[candidate] = t.valid_votes > 0 ? static_cast<double>(n) / static_cast<double>(t.valid_votes) : 0;
    }
    if (t.registered > 0) {
      t.turnout = static_cast<double>(t.valid_votes + t.rejected + t.blank) / static_cast<double>(t.registered);
    }
    out.push_back(std::move(t));
  }
  return out;  // map order: the area first (a prefix sorts before what extends it)
}

}  // namespace ewarn::results
