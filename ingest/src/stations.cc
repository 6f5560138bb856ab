#include "ewarn/ingest/stations.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_set>

#include "ewarn/ingest/principals.h"
#include "csv.h"
#include "ewarn/schemas/events.h"

namespace ewarn::ingest {
namespace {

constexpr size_t kMaxProblems = 20;
constexpr size_t kAppendBatch = 5000;

// RFC 4180 fields of one record starting at `pos`; advances `pos` past the record's line end.
// Quoted fields may hold commas, doubled quotes and newlines.
void NextRecord(std::string_view data, size_t* pos, std::vector<std::string>* fields, int64_t* lines) {
  fields->clear();
  std::string field;
  bool quoted = false;
  size_t i = *pos;
  while (i < data.size()) {
    char c = data[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < data.size() && data[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++*lines;
        field.push_back(c);
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
      ++i;
      ++*lines;
      break;
    } else {
      field.push_back(c);
    }
    ++i;
  }
  fields->push_back(std::move(field));
  *pos = i;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::optional<double> ParseDouble(std::string_view s) {
  std::string t = Trim(s);
  if (t.empty()) return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || ptr != t.data() + t.size()) return std::nullopt;
  return v;
}

struct Columns {
  int station_id = -1, name = -1, region = -1, district = -1, ward = -1, lat = -1, lon = -1, registered = -1;
};

Result<Columns> MapHeader(const std::vector<std::string>& header, StationFormat format) {
  std::map<std::string, int> at;
  for (size_t i = 0; i < header.size(); ++i) at[Trim(header[i])] = static_cast<int>(i);
  auto col = [&](const std::string& name) { return at.count(name) ? at[name] : -1; };
  Columns c;
  std::vector<std::pair<std::string, int*>> required;
  if (format == StationFormat::kGeneric) {
    c = {col("station_id"), col("name"), col("region"), col("district"), col("ward"), col("lat"), col("lon"),
         col("registered_voters")};
    required = {{"station_id", &c.station_id}, {"region", &c.region}, {"district", &c.district}};
  } else {
    c = {col("delimitation"), col("name"), col("state_name"), col("local_government_name"), col("ward_name"),
         col("latitude"), col("longitude"), -1};
    required = {{"delimitation", &c.station_id}, {"state_name", &c.region}, {"local_government_name", &c.district},
                {"ward_name", &c.ward}, {"latitude", &c.lat}, {"longitude", &c.lon}};
  }
  std::string missing;
  for (const auto& [name, index] : required) {
    if (*index < 0) missing += (missing.empty() ? "" : ", ") + name;
  }
  if (!missing.empty()) {
    return Status::InvalidArgument(std::string("the header lacks required column(s): ") + missing +
                                   (format == StationFormat::kGeneric
                                        ? " (expected station_id,name,region,district,ward,lat,lon,registered_voters)"
                                        : " (expected INEC polling-unit columns)"));
  }
  return c;
}

}  // namespace

void NextCsvRecord(std::string_view data, size_t* pos, std::vector<std::string>* fields, int64_t* lines) {
  NextRecord(data, pos, fields, lines);
}

std::string AreaSegment(std::string_view name) {
  std::string out;
  bool space = false;
  for (char c : name) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == '/') c = '-';
    out.push_back(c);
  }
  return out;
}

Result<std::string> CanonicalAreaPath(std::string_view path) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("area '" + std::string(path.substr(0, 200)) + "' " + why +
                                   "; use a path REGION/DISTRICT[/WARD] of the station list");
  };
  std::string out;
  int segments = 0;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view raw = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    for (unsigned char c : raw) {
      if (c < 0x20 || c == 0x7f) return bad("holds a control character");
    }
    std::string segment = AreaSegment(raw);
    if (segment.empty()) return bad("has an empty segment");
    if (segment == "." || segment == "..") return bad("has a '" + segment + "' segment");
    if (++segments > 3) return bad("has more than three segments");
    if (!out.empty()) out.push_back('/');
    out += segment;
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

Result<ImportSummary> ReadStationsCsv(const std::string& path, StationFormat format,
                                      const std::function<Status(v1::PollingStation&&)>& sink) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read station file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string data = buffer.str();
  std::string_view view(data);
  if (view.starts_with("\xEF\xBB\xBF")) view.remove_prefix(3);  // UTF-8 BOM

  size_t pos = 0;
  int64_t line = 0;
  std::vector<std::string> fields;
  NextRecord(view, &pos, &fields, &line);
  ASSIGN_OR_RETURN(Columns c, MapHeader(fields, format));

  ImportSummary summary;
  std::unordered_set<std::string> seen;
  auto problem = [&](int64_t at, const std::string& what) {
    ++summary.rejected;
    if (summary.problems.size() < kMaxProblems) summary.problems.push_back("line " + std::to_string(at) + ": " + what);
  };
  auto get = [&](int index) -> std::string {
    return index >= 0 && static_cast<size_t>(index) < fields.size() ? Trim(fields[static_cast<size_t>(index)]) : "";
  };
  while (pos < view.size()) {
    int64_t record_line = line + 1;
    NextRecord(view, &pos, &fields, &line);
    if (fields.size() == 1 && Trim(fields[0]).empty()) continue;  // blank line
    ++summary.rows;
    v1::PollingStation s;
    s.set_station_id(get(c.station_id));
    s.set_name(get(c.name));
    s.set_region(AreaSegment(get(c.region)));
    s.set_district(AreaSegment(get(c.district)));
    s.set_ward(AreaSegment(get(c.ward)));
    if (format == StationFormat::kInec) s.set_code(s.station_id());
    if (s.station_id().empty()) {
      problem(record_line, "missing station_id");
      continue;
    }
    if (s.region().empty() || s.district().empty()) {
      problem(record_line, "station " + s.station_id() + " has no region or district");
      continue;
    }
    if (!seen.insert(s.station_id()).second) {
      problem(record_line, "duplicate station " + s.station_id() + " (the first one is kept)");
      continue;
    }
    auto lat = ParseDouble(get(c.lat));
    auto lon = ParseDouble(get(c.lon));
    bool located = lat && lon && *lat >= -90 && *lat <= 90 && *lon >= -180 && *lon <= 180 && !(*lat == 0 && *lon == 0);
    if (located) {
      s.mutable_location()->set_lat(*lat);
      s.mutable_location()->set_lon(*lon);
    } else {
      ++summary.without_location;
    }
    if (auto voters = ParseDouble(get(c.registered)); voters && *voters >= 0) {
      s.set_registered_voters(static_cast<int64_t>(*voters));
    }
    RETURN_IF_ERROR(sink(std::move(s)));
    ++summary.imported;
  }
  return summary;
}

Result<std::unique_ptr<StationDirectory>> StationDirectory::Make(store::StateStore& state) {
  std::unique_ptr<StationDirectory> dir(new StationDirectory(state));
  Status damaged;
  std::unique_lock lk(dir->placement_mu_);
  RETURN_IF_ERROR(state.Scan(kStore, "", [&](std::string_view id, std::string_view value) {
    v1::PollingStation s;
    if (!s.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      damaged = Status::Corruption("station record '" + std::string(id) + "' is damaged");
      return false;
    }
    dir->Place(s);
    ++dir->size_;
    return true;
  }));
  RETURN_IF_ERROR(damaged);
  return dir;
}

void StationDirectory::Place(const v1::PollingStation& station) {
  std::string area = schemas::WardPath(station);
  auto [it, fresh] = ward_index_.try_emplace(area, static_cast<uint32_t>(wards_.size()));
  if (fresh) {
    wards_.push_back({std::move(area), schemas::DistrictKey(station.region(), station.district())});
    stations_in_ward_.push_back(0);
  }
  auto [placed, first] = station_ward_.try_emplace(station.station_id(), it->second);
  if (!first) --stations_in_ward_[placed->second];  // a corrected station leaves its old ward
  placed->second = it->second;
  ++stations_in_ward_[it->second];
  if (fresh) {
    std::string path = AreaSegment(station.region());
    known_areas_.insert(path);
    path += "/" + AreaSegment(station.district());
    known_areas_.insert(path);
    if (!station.ward().empty()) known_areas_.insert(path + "/" + AreaSegment(station.ward()));
  }
}

bool StationDirectory::IsKnownArea(std::string_view canonical_path) const {
  std::shared_lock lk(placement_mu_);
  return known_areas_.contains(std::string(canonical_path));
}

std::map<std::string, int64_t> StationDirectory::StationsPerArea() const {
  std::shared_lock lk(placement_mu_);
  std::map<std::string, int64_t> out;
  for (size_t i = 0; i < wards_.size(); ++i) {
    if (stations_in_ward_[i] == 0) continue;
    const std::string& ward = wards_[i].area;
    for (size_t j = 0; j <= ward.size(); ++j) {
      if (j == ward.size() || ward[j] == '/') out[ward.substr(0, j)] += stations_in_ward_[i];
    }
  }
  return out;
}

std::optional<StationPlacement> StationDirectory::Locate(std::string_view station_id) const {
  std::shared_lock lk(placement_mu_);
  auto it = station_ward_.find(std::string(station_id));
  if (it == station_ward_.end()) return std::nullopt;
  return wards_[it->second];
}

Status StationDirectory::CatchUp(store::EventLog& log) {
  const std::string topic(schemas::topic::kStations);
  auto partitions = log.PartitionCount(topic);
  if (!partitions.ok()) {
    return partitions.status().code() == StatusCode::kNotFound ? Status::Ok() : partitions.status();
  }
  for (int32_t p = 0; p < *partitions; ++p) {
    store::TopicPartition tp{topic, p};
    ASSIGN_OR_RETURN(std::optional<int64_t> committed, state_.CommittedOffset(tp));
    int64_t from = committed.value_or(0);
    while (true) {
      ASSIGN_OR_RETURN(std::vector<store::LogRecord> got, log.Read(tp, from, 10000));
      if (got.empty()) break;
      store::CommitBatch batch;
      int64_t added = 0;
      std::unordered_set<std::string> in_batch;
      std::vector<v1::PollingStation> read;
      for (const auto& r : got) {
        auto e = schemas::DecodeEvent(r.value);
        if (!e.ok()) return e.status().WithContext(tp.ToString() + " offset " + std::to_string(r.offset));
        if (!e->has_station()) continue;
        const std::string& id = e->station().station_id();
        ASSIGN_OR_RETURN(std::optional<std::string> existing, state_.Get(kStore, id));
        if (!existing && in_batch.insert(id).second) ++added;
        batch.Put(kStore, id, e->station().SerializeAsString());
        read.push_back(std::move(*e->mutable_station()));
      }
      from = got.back().offset + 1;
      batch.SetOffset(tp, from);
      RETURN_IF_ERROR(state_.Commit(std::move(batch)).status());
      {
        std::unique_lock lk(placement_mu_);
        for (const auto& station : read) Place(station);
      }
      size_ += added;
    }
  }
  return Status::Ok();
}

Result<std::optional<v1::PollingStation>> StationDirectory::Find(std::string_view station_id) {
  ASSIGN_OR_RETURN(std::optional<std::string> stored, state_.Get(kStore, station_id));
  if (!stored) return std::optional<v1::PollingStation>();
  v1::PollingStation s;
  if (!s.ParseFromString(*stored)) return Status::Corruption("station record '" + std::string(station_id) + "' is damaged");
  return std::optional<v1::PollingStation>(std::move(s));
}

store::OutRecord StationRecord(v1::PollingStation station, int64_t now_ms, v1::Source source, std::string_view channel) {
  v1::Event e;
  auto* h = e.mutable_header();
  h->set_schema_version(schemas::kSchemaVersion);
  h->set_event_id("station:" + station.station_id());
  h->set_event_time_ms(now_ms);
  h->set_received_time_ms(now_ms);
  h->set_source(source);
  h->set_channel(std::string(channel));
  std::string key = station.station_id();
  *e.mutable_station() = std::move(station);
  return {.topic = std::string(schemas::topic::kStations), .key = std::move(key), .value = schemas::EncodeEvent(e),
          .timestamp_ms = now_ms};
}

Result<ImportSummary> ImportStations(store::EventLog& log, StationDirectory& directory, const std::string& path,
                                     StationFormat format, int64_t now_ms) {
  const std::string topic(schemas::topic::kStations);
  if (!log.PartitionCount(topic).ok()) {
    RETURN_IF_ERROR(log.CreateTopic({.name = topic, .partitions = 1, .compacted = true}));
  }
  std::vector<store::OutRecord> pending;
  auto flush = [&]() -> Status {
    if (pending.empty()) return Status::Ok();
    RETURN_IF_ERROR(log.Append(pending).status());
    pending.clear();
    return Status::Ok();
  };
  auto summary = ReadStationsCsv(path, format, [&](v1::PollingStation&& s) -> Status {
    pending.push_back(StationRecord(std::move(s), now_ms));
    return pending.size() >= kAppendBatch ? flush() : Status::Ok();
  });
  if (!summary.ok()) return summary.status();
  RETURN_IF_ERROR(flush());
  RETURN_IF_ERROR(directory.CatchUp(log));
  return summary;
}

}  // namespace ewarn::ingest
