#include "results_routes.h"

#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>

#include "csv_export.h"
#include "json_text.h"
#include "risk_routes.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/principals.h"
#include "ewarn/ingest/results.h"
#include "ewarn/processors/pipeline.h"
#include "ewarn/results/pvt.h"
#include "ewarn/results/tabulation.h"
#include "ewarn/schemas/events.h"

namespace ewarn::app {
namespace {

namespace json = boost::json;

ingest::HttpResponse Json(json::value v) {
  ingest::HttpResponse r;
  r.body = JsonText(v);
  return r;
}

double Rounded(double v, double unit = 1e-6) { return std::round(v / unit) * unit; }

// The latest PVT sample per contest, read from ref.pvt_samples as far as it has been appended.
class PvtSamples {
 public:
  explicit PvtSamples(store::EventLog& log) : log_(log) {}

  Result<std::optional<v1::PvtSample>> Of(const std::string& contest) {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(CatchUp());
    auto it = samples_.find(contest);
    if (it == samples_.end()) return std::optional<v1::PvtSample>();
    return std::optional<v1::PvtSample>(it->second);
  }

 private:
  Status CatchUp() {  // callers hold mu_
    const std::string topic(schemas::topic::kPvtSamples);
    auto partitions = log_.PartitionCount(topic);
    if (!partitions.ok()) return partitions.status().code() == StatusCode::kNotFound ? Status::Ok() : partitions.status();
    for (int32_t p = 0; p < *partitions; ++p) {
      store::TopicPartition tp{topic, p};
      int64_t& from = next_[p];
      while (true) {
        ASSIGN_OR_RETURN(std::vector<store::LogRecord> got, log_.Read(tp, from, 1000));
        for (const auto& r : got) {
          auto e = schemas::DecodeEvent(r.value);
          if (e.ok() && e->has_pvt_sample()) samples_[e->pvt_sample().contest()] = e->pvt_sample();
          from = r.offset + 1;
        }
        if (got.size() < 1000) break;
      }
    }
    return Status::Ok();
  }

  store::EventLog& log_;
  std::mutex mu_;
  std::map<int32_t, int64_t> next_;
  std::map<std::string, v1::PvtSample> samples_;
};

// The contest named by ?contest=, known to ref.contests (read again once when it is not, so a
// contest imported since the node started is found); else the error to answer.
Result<std::string> ContestOf(ingest::Ingestor& ingestor, store::EventLog& log, const ingest::HttpRequest& req) {
  std::string contest = ingest::ContestCode(req.Query("contest"));
  if (contest.empty()) return Status::InvalidArgument("give ?contest=CODE, one of the contests of ref.contests");
  if (ingestor.contests().Candidates(contest).empty()) RETURN_IF_ERROR(ingestor.contests().CatchUp(log));
  if (ingestor.contests().Candidates(contest).empty()) {
    std::string known;
    for (const auto& c : ingestor.contests().Contests()) known += (known.empty() ? "" : ", ") + c;
    return Status::NotFound("unknown contest '" + contest + "'" + (known.empty() ? "; none imported" : "; known: " + known));
  }
  return contest;
}

ingest::HttpResponse ContestError(const Status& s) {
  if (s.code() == StatusCode::kNotFound) return ingest::HttpResponse::Error(404, s.message(), "contest", "unknown_contest");
  if (s.code() == StatusCode::kInvalidArgument) {
    return ingest::HttpResponse::Error(400, s.message(), "contest", "missing_field");
  }
  return ingest::HttpResponse::Error(503, "the contest list could not be read: " + s.message());
}

// A counted sheet as the read side holds it (an Event with the ResultSheet, dated).
std::optional<results::CountedSheet> DecodeCounted(ingest::Ingestor& ingestor, std::string_view key,
                                                   std::string_view value) {
  size_t nul = key.find('\0'), hash = key.rfind('#');
  if (nul == std::string_view::npos || hash == std::string_view::npos || hash < nul) return std::nullopt;
  v1::Event e;
  if (!e.ParseFromArray(value.data(), static_cast<int>(value.size())) || !e.has_result_sheet()) return std::nullopt;
  results::CountedSheet c;
  c.station_id = std::string(key.substr(hash + 1));
  c.ward_path = std::string(key.substr(nul + 1, hash - nul - 1));
  c.occurred_ms = e.header().event_time_ms();
  c.sheet = std::move(*e.mutable_result_sheet());
  if (!c.sheet.has_registered()) {  // the reference's count, only where the sheet has none
    auto station = ingestor.stations().Find(c.station_id);
    if (station.ok() && station->has_value()) c.registered = (*station)->registered_voters();
  }
  return c;
}

int Depth(const std::string& area) {
  return area.empty() ? 0 : 1 + static_cast<int>(std::count(area.begin(), area.end(), '/'));
}

json::object TallyJson(const results::AreaTally& t) {
  json::object votes, shares;
  for (const auto& [c, n] : t.votes) votes[c] = n;
  for (const auto& [c, s] : t.shares) shares[c] = Rounded(s);
  return json::object{
      {"area", t.area},
      {"level", t.level},
      {"stations_expected", t.stations_expected},
      {"stations_reporting", t.stations_reporting},
      {"reporting_share", t.stations_expected > 0 ? Rounded(static_cast<double>(t.stations_reporting) /
                                                            static_cast<double>(t.stations_expected))
                                                  : 0.0},
      {"stations_with_votes", t.stations_with_votes},
      {"document_only", t.document_only},
      {"votes", std::move(votes)},
      {"shares", std::move(shares)},
      {"valid_votes", t.valid_votes},
      {"rejected", t.rejected},
      {"blank", t.blank},
      {"registered", t.registered},
      {"turnout", Rounded(t.turnout)}};
}

std::string RoleName(v1::SubmitterRole role) {
  switch (role) {
    case v1::SUBMITTER_ROLE_PRESIDING_OFFICER: return "presiding_officer";
    case v1::SUBMITTER_ROLE_OBSERVER: return "observer";
    case v1::SUBMITTER_ROLE_PARTY_AGENT: return "party_agent";
    default: return "";
  }
}

std::string Optional(bool has, int64_t v) { return has ? std::to_string(v) : ""; }

// One row per counted sheet: where, what was counted, one column per candidate.
std::string ResultsCsv(const std::vector<results::CountedSheet>& sheets, const std::vector<v1::ContestCandidate>& cands,
                       const std::string& contest) {
  std::string body = "contest,station_id,region,district,ward,sheet_id,submitter_role,occurred_at,registered,"
                     "accredited,ballots_issued,rejected,blank,document_url,document_sha256";
  std::string hxl = "#meta+contest,#loc+id,#adm1+name,#adm2+name,#adm3+name,#meta+sheet,#meta+submitter,#date+occurred,"
                    "#population+registered,#population+accredited,#indicator+ballots_issued,#indicator+rejected,"
                    "#indicator+blank,#meta+url,#meta+sha256";
  for (const auto& c : cands) {
    body += "," + CsvField("votes_" + c.candidate());
    hxl += ",#indicator+votes+" + CsvField(c.candidate());
  }
  body += "\r\n" + hxl + "\r\n";
  for (const auto& s : sheets) {
    std::vector<std::string> adm = AdminLevels(s.ward_path);
    std::vector<std::string> row = {CsvField(contest), CsvField(s.station_id), CsvField(adm[0]), CsvField(adm[1]),
                                    CsvField(adm[2]), CsvField(s.sheet.sheet_id()), RoleName(s.sheet.submitter_role()),
                                    FormatRfc3339(s.occurred_ms),
                                    s.sheet.has_registered() ? std::to_string(s.sheet.registered())
                                                             : (s.registered > 0 ? std::to_string(s.registered) : ""),
                                    Optional(s.sheet.has_accredited(), s.sheet.accredited()),
                                    Optional(s.sheet.has_ballots_issued(), s.sheet.ballots_issued()),
                                    Optional(s.sheet.has_rejected(), s.sheet.rejected()),
                                    Optional(s.sheet.has_blank(), s.sheet.blank()), CsvField(s.sheet.document().url()),
                                    CsvField(s.sheet.document().sha256())};
    std::map<std::string, int64_t> votes;
    for (const auto& v : s.sheet.votes()) votes[v.candidate()] = v.votes();
    for (const auto& c : cands) {
      auto it = votes.find(c.candidate());
      row.push_back(s.sheet.votes().empty() ? "" : std::to_string(it == votes.end() ? 0 : it->second));
    }
    body += CsvRow(row);
  }
  return body;
}

ingest::HttpResponse GetResults(ingest::Ingestor& ingestor, readside::QuerySource& queries, store::EventLog& log,
                                const ingest::HttpRequest& req) {
  auto who = QueryReader(ingestor, req, "results");
  if (!who.ok()) return ingest::StatusToHttp(who.status());
  auto contest = ContestOf(ingestor, log, req);
  if (!contest.ok()) return ContestError(contest.status());
  std::string area = req.Query("area");
  while (!area.empty() && area.back() == '/') area.pop_back();
  if (!area.empty()) {
    auto canonical = ingest::CanonicalAreaPath(area);
    if (!canonical.ok()) return ingest::HttpResponse::Error(400, canonical.status().message(), "area", "bad_value");
    area = *canonical;
    if (!ingestor.stations().IsKnownArea(area)) {
      return ingest::HttpResponse::Error(404, "no station lies in area '" + area + "'", "area", "unknown_area");
    }
  }
  // A liaison reads its own area, or a part of it: asked for more, it gets its own.
  if (!ingest::AreaCovers(who->area, area)) {
    if (!ingest::AreaCovers(area, who->area)) {
      return ingest::HttpResponse::Error(403, "'" + who->name + "' may read results for '" + who->area + "' only",
                                         "area");
    }
    area = who->area;
  }
  int depth = 1;
  if (std::string d = req.Query("depth"); !d.empty()) {
    if (d.size() != 1 || d[0] < '0' || d[0] > '3') {
      return ingest::HttpResponse::Error(400, "depth is 0 to 3: how many levels below the area to list", "depth",
                                         "bad_value");
    }
    depth = d[0] - '0';
  }
  const std::string format = req.Query("format");
  if (!format.empty() && format != "json" && format != "csv") {
    return ingest::HttpResponse::Error(400, "format is json (the default) or csv", "format", "bad_value");
  }
  if (Status ready = queries.Ready(); !ready.ok()) return ingest::StatusToHttp(ready);

  std::vector<results::CountedSheet> sheets;
  int64_t latest_ms = 0;
  std::string prefix = *contest + '\0' + area;
  Status st = queries.ScanResults(prefix, [&](std::string_view key, std::string_view value) {
    // Whole segments: "LAGOS/IKEJA" must not find "LAGOS/IKEJAX/...".
    if (!area.empty() && key.size() > prefix.size() && key[prefix.size()] != '/' && key[prefix.size()] != '#') return true;
    auto c = DecodeCounted(ingestor, key, value);
    if (c) latest_ms = std::max(latest_ms, c->occurred_ms), sheets.push_back(std::move(*c));
    return true;
  });
  if (!st.ok()) return ingest::HttpResponse::Error(503, st.message());
  std::vector<v1::ContestCandidate> candidates = ingestor.contests().Candidates(*contest);
  if (format == "csv") {
    return ExportResponse("text/csv; charset=utf-8", "results.csv", ResultsCsv(sheets, candidates, *contest));
  }
  std::vector<results::AreaTally> tallies = results::Tabulate(sheets, ingestor.stations().StationsPerArea(), area);
  json::array rows;
  for (const auto& t : tallies) {
    if (Depth(t.area) <= Depth(area) + depth) rows.emplace_back(TallyJson(t));
  }
  json::array cands;
  for (const auto& c : candidates) {
    cands.emplace_back(json::object{{"candidate", c.candidate()}, {"name", c.name()}, {"party", c.party()}});
  }
  return Json(json::object{{"contest", *contest},
                           {"area", area},
                           {"candidates", std::move(cands)},
                           {"as_of", latest_ms > 0 ? FormatRfc3339(latest_ms) : ""},
                           {"tallies", std::move(rows)}});
}

json::object RatioJson(const results::RatioEstimate& r) {
  return json::object{{"estimate", Rounded(r.value)},
                      {"standard_error", Rounded(r.standard_error)},
                      {"moe95", Rounded(r.moe95)},
                      {"moe99", Rounded(r.moe99)}};
}

json::object EstimateJson(const results::PvtEstimate& e) {
  json::object shares;
  for (const auto& [c, r] : e.shares) shares[c] = RatioJson(r);
  return json::object{{"stations_reporting", e.stations_reporting},
                      {"population", e.population},
                      {"strata_without_variance", e.strata_without_variance},
                      {"shares", std::move(shares)},
                      {"turnout", RatioJson(e.turnout)}};
}

results::SampledSheet Sampled(const results::CountedSheet& c) {
  results::SampledSheet s;
  s.station_id = c.station_id;
  s.stratum = c.ward_path.substr(0, c.ward_path.find('/'));
  int64_t valid = 0;
  for (const auto& v : c.sheet.votes()) s.votes[v.candidate()] = v.votes(), valid += v.votes();
  s.ballots_cast = valid + c.sheet.rejected() + c.sheet.blank();
  s.registered = c.sheet.has_registered() ? c.sheet.registered() : c.registered;
  return s;
}

std::string PvtCsv(const std::string& contest, const results::PvtEstimate& overall,
                   const std::map<std::string, results::PvtEstimate>& by_region) {
  std::string body =
      "contest,scope,region,measure,estimate,moe95,moe99,stations_reporting,population\r\n"
      "#meta+contest,#meta+scope,#adm1+name,#indicator+measure,#indicator+estimate,#indicator+moe95,#indicator+moe99,"
      "#indicator+reporting,#indicator+population\r\n";
  auto rows = [&](const std::string& scope, const std::string& region, const results::PvtEstimate& e) {
    auto row = [&](const std::string& measure, const results::RatioEstimate& r) {
      body += CsvRow({CsvField(contest), scope, CsvField(region), CsvField(measure), JsonText(json::value(Rounded(r.value))),
                      JsonText(json::value(Rounded(r.moe95))), JsonText(json::value(Rounded(r.moe99))),
                      std::to_string(e.stations_reporting), std::to_string(e.population)});
    };
    for (const auto& [c, r] : e.shares) row("share:" + c, r);
    row("turnout", e.turnout);
  };
  rows("all", "", overall);
  for (const auto& [region, e] : by_region) rows("region", region, e);
  return body;
}

ingest::HttpResponse GetPvt(ingest::Ingestor& ingestor, readside::QuerySource& queries, store::EventLog& log,
                            PvtSamples& samples, const ingest::HttpRequest& req) {
  // The estimate is national: the duty room's and operators', not an area liaison's.
  auto who = ingestor.Authorize(req.Header("authorization"), ingest::Role::kDuty);
  if (!who.ok()) return ingest::StatusToHttp(who.status());
  auto contest = ContestOf(ingestor, log, req);
  if (!contest.ok()) return ContestError(contest.status());
  const std::string format = req.Query("format");
  if (!format.empty() && format != "json" && format != "csv") {
    return ingest::HttpResponse::Error(400, "format is json (the default) or csv", "format", "bad_value");
  }
  const std::string official = req.Query("official");
  if (!official.empty() && official != "true" && official != "false") {
    return ingest::HttpResponse::Error(400, "official is true or false", "official", "bad_value");
  }
  auto sample = samples.Of(*contest);
  if (!sample.ok()) return ingest::HttpResponse::Error(503, sample.status().message());
  if (!sample->has_value()) {
    return ingest::HttpResponse::Error(404, "no PVT sample for contest '" + *contest + "'; draw one with ewarn pvt-sample",
                                       "contest", "no_sample");
  }
  if (Status ready = queries.Ready(); !ready.ok()) return ingest::StatusToHttp(ready);
  const v1::PvtSample& s = **sample;
  std::map<std::string, int64_t> stratum_sizes;
  for (const auto& h : s.strata()) stratum_sizes[h.region()] = h.population();

  // The sampled stations' counted sheets with votes, in the order they came in.
  std::vector<results::CountedSheet> counted;
  for (const auto& id : s.station_ids()) {
    auto place = ingestor.stations().Locate(id);
    if (!place) continue;  // a station since removed from the reference: not reporting
    std::string key = processors::CountedResultKey(*contest, place->area, id);
    Status st = queries.ScanResults(key, [&](std::string_view k, std::string_view value) {
      if (k == key) {
        auto c = DecodeCounted(ingestor, k, value);
        if (c && !c->sheet.votes().empty()) counted.push_back(std::move(*c));
      }
      return false;  // the first key at or after `key` is the only candidate
    });
    if (!st.ok()) return ingest::HttpResponse::Error(503, st.message());
  }
  std::stable_sort(counted.begin(), counted.end(),
                   [](const auto& a, const auto& b) { return a.occurred_ms < b.occurred_ms; });
  std::vector<results::SampledSheet> sheets;
  for (const auto& c : counted) sheets.push_back(Sampled(c));
  auto overall = results::EstimatePvt(sheets, stratum_sizes);
  if (!overall.ok()) return ingest::HttpResponse::Error(500, overall.status().message());
  auto by_region = results::EstimatePvtByStratum(sheets, stratum_sizes);
  if (!by_region.ok()) return ingest::HttpResponse::Error(500, by_region.status().message());
  if (format == "csv") {
    return ExportResponse("text/csv; charset=utf-8", "pvt.csv", PvtCsv(*contest, *overall, *by_region));
  }
  // Convergence: the estimate after each tenth of the reporting sheets, as they came in.
  json::array convergence;
  for (int step = 1; step <= 10 && !sheets.empty(); ++step) {
    size_t n = (sheets.size() * static_cast<size_t>(step) + 9) / 10;
    if (!convergence.empty() && n == static_cast<size_t>(convergence.back().as_object().at("stations_reporting").as_int64())) {
      continue;
    }
    auto e = results::EstimatePvt(std::span<const results::SampledSheet>(sheets).first(n), stratum_sizes);
    if (!e.ok()) continue;
    json::object point = EstimateJson(*e);
    point.erase("population");
    point["as_of"] = FormatRfc3339(counted[n - 1].occurred_ms);
    convergence.emplace_back(std::move(point));
  }
  json::object regions;
  for (const auto& [region, e] : *by_region) regions[region] = EstimateJson(e);
  json::object out{{"contest", *contest},
                   {"sample", json::object{{"size", s.station_ids_size()}, {"seed", s.seed()}, {"strata", s.strata_size()}}},
                   {"overall", EstimateJson(*overall)},
                   {"regions", std::move(regions)},
                   {"convergence", std::move(convergence)}};
  if (official == "true") {  // every counted sheet of the contest: the official tally beside the PVT
    std::vector<results::CountedSheet> all;
    Status st = queries.ScanResults(*contest + '\0', [&](std::string_view key, std::string_view value) {
      auto c = DecodeCounted(ingestor, key, value);
      if (c) all.push_back(std::move(*c));
      return true;
    });
    if (!st.ok()) return ingest::HttpResponse::Error(503, st.message());
    results::AreaTally tally = results::Tabulate(all, ingestor.stations().StationsPerArea(), "").front();
    json::object shares;
    json::array outside;
    for (const auto& [c, est] : overall->shares) {
      auto it = tally.shares.find(c);
      double share = it == tally.shares.end() ? 0 : it->second;
      shares[c] = Rounded(share);
      if (overall->stations_reporting > 1 && std::abs(share - est.value) > est.moe95) outside.emplace_back(c);
    }
    out["official"] = json::object{{"stations_reporting", tally.stations_reporting},
                                   {"stations_expected", tally.stations_expected},
                                   {"shares", std::move(shares)},
                                   {"turnout", Rounded(tally.turnout)},
                                   {"outside_moe95", std::move(outside)}};
  }
  return Json(std::move(out));
}

}  // namespace

void AddResultsRoutes(ingest::HttpRouter& router, ingest::Ingestor& ingestor, readside::QuerySource& queries,
                      store::EventLog& log) {
  auto samples = std::make_shared<PvtSamples>(log);
  router.Add("GET", "/v1/results",
             [&](const ingest::HttpRequest& req) { return GetResults(ingestor, queries, log, req); });
  router.Add("GET", "/v1/results/pvt", [&ingestor, &queries, &log, samples](const ingest::HttpRequest& req) {
    return GetPvt(ingestor, queries, log, *samples, req);
  });
}

}  // namespace ewarn::app
