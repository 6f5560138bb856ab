// Evaluation: truth records against the anomalies the detectors wrote.
#include "ewarn/sim/evaluate.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "ewarn/ingest/http_server.h"
#include "ewarn/schemas/events.h"
#include "topic_reader.h"

namespace ewarn::sim {
namespace {

namespace json = boost::json;
using ingest::JsonString;

// Segment-wise prefix: "A/B" is inside "A" and "A/B", not inside "A/BC".
bool Inside(std::string_view path, std::string_view area) {
  if (area.empty() || path.size() < area.size() || path.substr(0, area.size()) != area) return false;
  return path.size() == area.size() || path[area.size()] == '/';
}

bool DetectorMatches(const std::string& truth_detector, const std::string& anomaly_detector) {
  if (truth_detector == "cluster") return anomaly_detector.starts_with("cluster");
  return truth_detector == anomaly_detector;
}

std::string Cell(const std::optional<double>& v, const char* format) {
  if (!v) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, format, *v);
  return buf;
}

std::string JsonNumber(const std::optional<double>& v) {
  if (!v) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", *v);
  return buf;
}

}  // namespace

Result<TruthRecord> TruthRecord::FromJson(std::string_view line) {
  boost::system::error_code ec;
  json::value v = json::parse(line, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument("not a JSON object");
  const json::object& o = v.as_object();
  TruthRecord t;
  auto str = [&](const char* name, std::string* out) -> Status {
    auto* f = o.if_contains(name);
    if (f == nullptr || !f->is_string()) return Status::InvalidArgument(std::string(name) + " must be a string");
    *out = std::string(f->as_string());
    return Status::Ok();
  };
  auto num = [&](const char* name, int64_t* out) -> Status {
    auto* f = o.if_contains(name);
    if (f == nullptr || !f->is_int64()) return Status::InvalidArgument(std::string(name) + " must be an integer");
    *out = f->as_int64();
    return Status::Ok();
  };
  RETURN_IF_ERROR(str("pattern", &t.pattern));
  RETURN_IF_ERROR(str("detector", &t.detector));
  RETURN_IF_ERROR(str("subject", &t.subject));
  RETURN_IF_ERROR(str("area", &t.area));
  RETURN_IF_ERROR(num("start_ms", &t.start_ms));
  RETURN_IF_ERROR(num("end_ms", &t.end_ms));
  if (auto* s = o.if_contains("stations"); s != nullptr && s->is_array()) {
    for (const auto& x : s->as_array()) {
      if (!x.is_string()) return Status::InvalidArgument("stations must hold strings");
      t.stations.emplace_back(x.as_string());
    }
  }
  if (auto* d = o.if_contains("decoy"); d != nullptr && d->is_bool()) t.decoy = d->as_bool();
  return t;
}

namespace {
// The anomaly falls on the pattern's subject (station, its stations, or inside its area) within
// its time window, whatever its detector.
bool InScope(const TruthRecord& truth, const AnomalyRecord& a) {
  if (a.time_ms < truth.start_ms || a.time_ms > truth.end_ms + kMatchSlackMs) return false;
  if (a.subject_id == truth.subject) return true;
  if (std::find(truth.stations.begin(), truth.stations.end(), a.subject_id) != truth.stations.end()) return true;
  return Inside(a.subject_id, truth.area) || Inside(a.area, truth.area);
}
}  // namespace

bool Matches(const TruthRecord& truth, const AnomalyRecord& a) {
  return DetectorMatches(truth.detector, a.detector) && InScope(truth, a);
}

namespace {
// True when `a` points at injected trouble, by whichever detector: a surge found at a
// ballot-stuffed station has found the stuffing. An anomaly that a decoy explains is a false
// alarm even if it also touches a pattern.
bool PointsAtTrouble(const std::vector<TruthRecord>& truth, const AnomalyRecord& a) {
  bool true_positive = std::any_of(truth.begin(), truth.end(), [&](const TruthRecord& t) {
    return !t.decoy && InScope(t, a);
  });
  bool hits_decoy = std::any_of(truth.begin(), truth.end(), [&](const TruthRecord& t) {
    return t.decoy && InScope(t, a);
  });
  return true_positive && !hits_decoy;
}

std::optional<double> Per1000(int64_t count, int64_t of) {
  if (of <= 0) return std::nullopt;
  return 1000.0 * static_cast<double>(count) / static_cast<double>(of);
}
}  // namespace

Population PopulationOf(const std::vector<v1::PollingStation>& stations) {
  std::set<std::string> districts;
  for (const auto& s : stations) districts.insert(DistrictPath(s));
  return {.stations = static_cast<int64_t>(stations.size()), .districts = static_cast<int64_t>(districts.size())};
}

Evaluation Evaluate(const std::vector<TruthRecord>& truth, const std::vector<AnomalyRecord>& anomalies,
                    Population population) {
  Evaluation out;
  out.anomalies = static_cast<int64_t>(anomalies.size());
  out.population = population;
  std::map<std::string, FalseAlarmRate> by_detector;
  for (const auto& a : anomalies) {
    FalseAlarmRate& r = by_detector[a.detector];
    r.detector = a.detector;
    ++r.anomalies;
    if (!PointsAtTrouble(truth, a)) ++r.false_alarms;
  }
  for (auto& [detector, r] : by_detector) {
    r.per_1000_districts = Per1000(r.false_alarms, population.districts);
    r.per_1000_stations = Per1000(r.false_alarms, population.stations);
    out.false_alarms.push_back(std::move(r));
  }
  std::map<std::string, size_t> row_of;
  std::map<std::string, std::vector<double>> delays;
  for (const auto& t : truth) {
    auto [it, fresh] = row_of.emplace(t.pattern, out.rows.size());
    if (fresh) out.rows.push_back({.pattern = t.pattern, .detector = t.detector, .decoy = t.decoy});
    PatternScore& row = out.rows[it->second];
    ++row.injected;
    std::optional<int64_t> first;
    for (const auto& a : anomalies) {
      if (Matches(t, a) && (!first || a.time_ms < *first)) first = a.time_ms;
    }
    if (!first) continue;
    ++row.detected;
    if (!t.decoy) delays[t.pattern].push_back(static_cast<double>(*first - t.start_ms) / kMinuteMs);
  }
  for (auto& row : out.rows) {
    for (const auto& a : anomalies) {
      if (!DetectorMatches(row.detector, a.detector)) continue;
      ++row.detector_anomalies;
      if (PointsAtTrouble(truth, a)) ++row.detector_true;
    }
    if (row.detector_anomalies > 0) {
      row.precision = static_cast<double>(row.detector_true) / static_cast<double>(row.detector_anomalies);
    }
    if (!row.decoy && row.injected > 0) row.recall = static_cast<double>(row.detected) / row.injected;
    auto& d = delays[row.pattern];
    if (!d.empty()) {
      std::sort(d.begin(), d.end());
      size_t n = d.size();
      row.median_delay_min = n % 2 == 1 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2;
    }
  }
  return out;
}

std::string Evaluation::ToText() const {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-20s %-20s %9s %9s %10s %7s %13s\n", "PATTERN", "DETECTOR", "INJECTED", "DETECTED",
                "PRECISION", "RECALL", "MEDIAN DELAY");
  out += line;
  for (const auto& r : rows) {
    std::string detected = std::to_string(r.detected) + (r.decoy && r.detected > 0 ? " (bad)" : "");
    std::snprintf(line, sizeof line, "%-20s %-20s %9d %9s %10s %7s %13s\n", r.pattern.c_str(), r.detector.c_str(),
                  r.injected, detected.c_str(), Cell(r.precision, "%.2f").c_str(),
                  r.decoy ? "-" : Cell(r.recall, "%.2f").c_str(),
                  r.median_delay_min ? (Cell(r.median_delay_min, "%.1f") + " min").c_str() : "n/a");
    out += line;
  }
  out += std::to_string(anomalies) + " anomalies read; a decoy's DETECTED counts false alarms\n";
  std::snprintf(line, sizeof line, "\n%-26s %10s %12s %20s %19s\n", "DETECTOR", "ANOMALIES", "FALSE ALARMS",
                "PER 1,000 DISTRICTS", "PER 1,000 STATIONS");
  out += line;
  for (const auto& r : false_alarms) {
    std::snprintf(line, sizeof line, "%-26s %10lld %12lld %20s %19s\n", r.detector.c_str(),
                  static_cast<long long>(r.anomalies), static_cast<long long>(r.false_alarms),
                  Cell(r.per_1000_districts, "%.2f").c_str(), Cell(r.per_1000_stations, "%.3f").c_str());
    out += line;
  }
  out += "false alarms: anomalies pointing at no injected trouble, over " + std::to_string(population.stations) +
         " stations in " + std::to_string(population.districts) + " districts\n";
  return out;
}

std::string Evaluation::ToJson() const {
  std::string out = "{\"patterns\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    out += (i ? "," : "") + std::string("{\"pattern\":") + JsonString(r.pattern) + ",\"detector\":" +
           JsonString(r.detector) + ",\"decoy\":" + (r.decoy ? "true" : "false") +
           ",\"injected\":" + std::to_string(r.injected) + ",\"detected\":" + std::to_string(r.detected) +
           ",\"detector_anomalies\":" + std::to_string(r.detector_anomalies) +
           ",\"detector_true\":" + std::to_string(r.detector_true) + ",\"precision\":" + JsonNumber(r.precision) +
           ",\"recall\":" + JsonNumber(r.recall) + ",\"median_delay_min\":" + JsonNumber(r.median_delay_min) + "}";
  }
  out += "],\"false_alarms\":[";
  for (size_t i = 0; i < false_alarms.size(); ++i) {
    const auto& r = false_alarms[i];
    out += (i ? "," : "") + std::string("{\"detector\":") + JsonString(r.detector) +
           ",\"anomalies\":" + std::to_string(r.anomalies) + ",\"false_alarms\":" + std::to_string(r.false_alarms) +
           ",\"per_1000_districts\":" + JsonNumber(r.per_1000_districts) +
           ",\"per_1000_stations\":" + JsonNumber(r.per_1000_stations) + "}";
  }
  return out + "],\"stations\":" + std::to_string(population.stations) + ",\"districts\":" +
         std::to_string(population.districts) + ",\"anomalies\":" + std::to_string(anomalies) + "}";
}

Result<std::vector<AnomalyRecord>> ReadAnomalies(store::EventLog& log) {
  std::vector<AnomalyRecord> out;
  RETURN_IF_ERROR(internal::ForEachEvent(log, schemas::topic::kAnomalies, [&](const v1::Event& e) {
    if (e.has_anomaly()) {
      out.push_back({e.anomaly().detector(), e.anomaly().subject_id(), e.anomaly().area(), e.header().event_time_ms()});
    }
  }));
  return out;
}

Result<std::vector<TruthRecord>> ReadTruth(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read truth file '" + path + "'");
  std::vector<TruthRecord> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto t = TruthRecord::FromJson(line);
    if (!t.ok()) return t.status().WithContext(path + ":" + std::to_string(n));
    out.push_back(std::move(t).value());
  }
  return out;
}

}  // namespace ewarn::sim
