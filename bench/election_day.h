// The election-day workload of the station-stage benchmarks (pipeline_bench, handover_bench):
// Nigeria-like reference stations (or the real INEC polling units) and an election morning of
// kit heartbeats, turnout, incidents and hate-speech flags, plus ticks. Setup, never timed.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ewarn/ingest/stations.h"
#include "ewarn/schemas/events.h"
#include "ewarn/store/event_log.h"

namespace ewarn::bench {

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Ref {
  std::string id, district_key;
  double lat, lon;
  int64_t registered;
};

inline void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

inline std::vector<Ref> GenerateStations(store::EventLog& log, int64_t n) {
  std::vector<Ref> refs;
  std::vector<store::OutRecord> batch;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> jitter(-0.05, 0.05);
  for (int64_t i = 0; i < n; ++i) {
    int64_t district = i % 774, ward = (i / 774) % 8;
    v1::Event e;
    e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
    e.mutable_header()->set_event_id("station:" + std::to_string(i));
    auto* s = e.mutable_station();
    s->set_station_id("PU" + std::to_string(i));
    s->set_name("Polling unit " + std::to_string(i));
    s->set_region("STATE" + std::to_string(district % 37));
    s->set_district("LGA" + std::to_string(district));
    s->set_ward("WARD" + std::to_string(ward));
    double lat = 4.5 + static_cast<double>(district % 28) * 0.3 + jitter(rng), lon = 3.0 + static_cast<double>(district / 28) * 0.4 + jitter(rng);
    s->mutable_location()->set_lat(lat);
    s->mutable_location()->set_lon(lon);
    s->set_registered_voters(500 + (i * 37) % 1000);
    refs.push_back({s->station_id(), schemas::DistrictKey(s->region(), s->district()), lat, lon, s->registered_voters()});
    batch.push_back({.topic = "ref.stations", .key = s->station_id(), .value = schemas::EncodeEvent(e), .partition = 0});
    if (batch.size() == 5000 || i + 1 == n) {
      Check(log.Append(batch).status(), "append stations");
      batch.clear();
    }
  }
  return refs;
}

inline std::vector<Ref> ImportInec(store::EventLog& log, const std::string& path) {
  std::vector<Ref> refs;
  std::vector<store::OutRecord> batch;
  Status st = ingest::ReadStationsCsv(path, ingest::StationFormat::kInec, [&](v1::PollingStation&& s) {
    v1::Event e;
    e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
    e.mutable_header()->set_event_id("station:" + s.station_id());
    refs.push_back({s.station_id(), schemas::DistrictKey(s.region(), s.district()), s.location().lat(), s.location().lon(),
                    s.registered_voters() > 0 ? s.registered_voters() : 800});
    *e.mutable_station() = std::move(s);
    batch.push_back({.topic = "ref.stations", .key = refs.back().id, .value = schemas::EncodeEvent(e), .partition = 0});
    if (batch.size() == 5000) {
      Check(log.Append(batch).status(), "append stations");
      batch.clear();
    }
    return Status::Ok();
  }).status();
  Check(st, "read INEC csv");
  if (!batch.empty()) Check(log.Append(batch).status(), "append stations");
  return refs;
}

// An election day: M events over 9 hours, plus ticks.
struct Mix {
  int kit, turnout, incident;  // per mille, cumulative; the rest hate speech
};

inline void AppendDay(store::EventLog& log, const std::vector<Ref>& refs, int64_t events, int32_t partitions, Mix mix) {
  const int64_t start = 1'803'974'400'000 + 8 * 3'600'000;  // 2027-03-02 08:00 UTC
  const double heartbeats_per_kit = static_cast<double>(events) * mix.kit / 1000.0 / static_cast<double>(refs.size());
  const int64_t span = std::max<int64_t>(600'000, static_cast<int64_t>(heartbeats_per_kit * 180'000));
  std::printf("event time: %.0f minutes from 08:00, %.1f heartbeats per kit\n", static_cast<double>(span) / 60'000,
              heartbeats_per_kit);
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<size_t> pick(0, refs.size() - 1);
  std::uniform_int_distribution<int> kind(0, 999);
  std::vector<store::OutRecord> batch;
  batch.reserve(1000);
  int64_t next_tick = start;
  int64_t kit_events = 0;
  auto flush = [&] {
    Check(log.Append(batch).status(), "append events");
    batch.clear();
  };
  for (int64_t i = 0; i < events; ++i) {
    int64_t t = start + span * i / events;
    while (next_tick <= t) {
      for (int32_t p = 0; p < partitions; ++p) {
        v1::Event e;
        e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
        e.mutable_header()->set_event_id("tick:" + std::to_string(p) + ":" + std::to_string(next_tick));
        e.mutable_header()->set_event_time_ms(next_tick);
        e.mutable_tick();
        batch.push_back({.topic = "in.events", .key = "tick", .value = schemas::EncodeEvent(e), .timestamp_ms = next_tick, .partition = p});
      }
      next_tick += 60'000;
    }
    // Kits report on a schedule (round robin: every kit at the same interval); people at random.
    int k = kind(rng);
    const Ref& r = k < mix.kit ? refs[static_cast<size_t>(kit_events++) % refs.size()] : refs[pick(rng)];
    v1::Event e;
    auto* h = e.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    h->set_event_id("ev" + std::to_string(i));
    h->set_event_time_ms(t);
    h->set_received_time_ms(t);
    h->set_reporter("rep" + std::to_string(i % 5000));
    double progress = 0.05 + 0.1 * static_cast<double>(i) / static_cast<double>(events);  // of the day's turnout
    if (k < mix.kit) {
      auto* kit = e.mutable_kit();
      kit->set_kit_id("K" + r.id);
      kit->set_station_id(r.id);
      kit->set_battery_pct(100 - 60 * progress);
      // Accreditation precedes voting: a kit's count leads the station's votes. It grows with
      // event time at a busy morning's pace, 7% of registered an hour (a surge is over 25%),
      // however many events the run packs into its span.
      const double hours = static_cast<double>(t - start) / 3'600'000.0;
      kit->set_accredited_total(static_cast<int64_t>(static_cast<double>(r.registered) * (0.09 + 0.07 * hours)) + 5);
      kit->set_auth_failures(static_cast<int64_t>(10 * progress));
      kit->mutable_location()->set_lat(r.lat);
      kit->mutable_location()->set_lon(r.lon);
    } else if (k < mix.turnout) {
      e.mutable_turnout()->set_station_id(r.id);
      e.mutable_turnout()->set_voters_cast(static_cast<int64_t>(static_cast<double>(r.registered) * 0.55 * progress));
    } else if (k < mix.incident) {
      auto* in = e.mutable_incident();
      in->set_station_id(r.id);
      in->set_category(static_cast<v1::IncidentCategory>(1 + i % 8));
      in->set_severity(static_cast<int>(1 + i % 5));
      in->set_description("report " + std::to_string(i % 977));
    } else {
      auto* hs = e.mutable_hate_speech();
      hs->set_station_id(r.id);
      hs->set_text("message " + std::to_string(i % 4999));
      hs->set_reach(100 + i % 10000);
      hs->set_confidence(0.5);
    }
    batch.push_back({.topic = "in.events", .key = r.id, .value = schemas::EncodeEvent(e), .timestamp_ms = t,
                     .partition_key = r.district_key});
    if (batch.size() >= 1000) flush();
  }
  if (!batch.empty()) flush();
}

}  // namespace ewarn::bench
