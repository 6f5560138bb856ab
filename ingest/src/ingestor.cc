// Ingestor: validation, authorization, idempotency and dead letters around durable appends.
//
// Idempotency index: store "event_ids" maps event_id -> principal '\0' content-hash. It is a
// view of in.events, written to memory only (no write-ahead log) after each durable append; what
// a crash takes from it is rebuilt at start-up by rescanning in.events from the checkpoint (the
// StateStore offsets of in.events, committed with the rescanned marks, through the write-ahead
// log, after each rescan and at shutdown). So the log stays the only thing that
// must be fsynced per request, and a retry after a crash is still recognised.
#include "ewarn/ingest/ingestor.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "ewarn/base/hash.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ticks.h"
#include "ewarn/schemas/events.h"

namespace ewarn::ingest {
namespace {

constexpr std::string_view kEventIdsStore = "event_ids";
// Partition event times live beside the ids under keys no event id can have (ids have no space).
std::string PartitionTimeKey(int32_t partition) { return " partition_time/" + std::to_string(partition); }

// Raises `slot` to `t` if it is lower (many submissions note times at once).
void RaiseTo(std::atomic<int64_t>& slot, int64_t t) {
  int64_t seen = slot.load(std::memory_order_relaxed);
  while (seen < t && !slot.compare_exchange_weak(seen, t, std::memory_order_relaxed)) {
  }
}

std::string Hours(int64_t ms) {
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + " h";
  return std::to_string(ms / 60'000) + " min";
}

// An event's idempotency mark: principal '\0' a hash of its encoding with no receive time (which
// differs on every retry). Written at submission and again by the rescan at start, which must agree.
std::string IdempotencyMark(std::string_view principal, std::string_view encoded_without_receive_time) {
  return std::string(principal) + '\0' + Sha256Hex(encoded_without_receive_time).substr(0, 16);
}

std::string EndpointOf(InputKind kind) {
  switch (kind) {
    case InputKind::kIncident: return "POST /v1/incidents";
    case InputKind::kHateSpeech: return "POST /v1/hate-speech";
    case InputKind::kTurnout: return "POST /v1/turnout";
    case InputKind::kKit: return "POST /v1/kit";
    case InputKind::kResult: return "POST /v1/results";
  }
  return "POST";
}

Result<InputKind> KindOfEndpoint(std::string_view endpoint) {
  for (InputKind k : {InputKind::kIncident, InputKind::kHateSpeech, InputKind::kTurnout, InputKind::kKit,
                     InputKind::kResult}) {
    if (EndpointOf(k) == endpoint) return k;
  }
  return Status::InvalidArgument("dead letters from '" + std::string(endpoint) + "' cannot be re-submitted here");
}

// A short reference people can read out over the phone: 6 characters of Crockford base32.
std::string Reference(std::string_view event_id) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  uint64_t h = StableHash64(event_id);
  std::string out;
  for (int i = 0; i < 6; ++i) {
    out.push_back(kAlphabet[h & 31]);
    h >>= 5;
  }
  return out;
}

std::string StationOf(const v1::Event& e) {
  switch (e.body_case()) {
    case v1::Event::kIncident: return e.incident().station_id();
    case v1::Event::kHateSpeech: return e.hate_speech().station_id();
    case v1::Event::kTurnout: return e.turnout().station_id();
    case v1::Event::kKit: return e.kit().station_id();
    case v1::Event::kResultSheet: return e.result_sheet().station_id();
    default: return "";
  }
}


Outcome Refusal(int status, std::string reason_code, std::string message, std::string field = "") {
  Outcome o;
  o.http_status = status;
  o.reason_code = std::move(reason_code);
  o.message = std::move(message);
  o.field = std::move(field);
  return o;
}

// The 503 for a principal whose reporter pseudonym cannot be looked up now.
Outcome RegistryUnavailable(const Status& lookup) {
  return Refusal(503, "registry_unavailable",
                 "the monitor registry is unavailable (" + lookup.message() + "); retry later");
}

}  // namespace

std::string Outcome::ToJson() const {
  if (!elements.empty()) {
    std::string ids, results;
    int accepted_count = 0;
    for (size_t i = 0; i < elements.size(); ++i) {
      const Outcome& e = elements[i];
      results += (i ? "," : "") + std::string("{\"index\":") + std::to_string(i) +
                 ",\"status\":" + std::to_string(e.http_status);
      if (e.accepted()) {
        ++accepted_count;
        for (const auto& id : e.event_ids) ids += (ids.empty() ? "" : ",") + JsonString(id);
        if (!e.event_ids.empty()) results += ",\"event_id\":" + JsonString(e.event_ids[0]);
        results += ",\"duplicate\":" + std::string(e.duplicates > 0 ? "true" : "false") + "}";
      } else {
        results += ",\"error\":" + JsonString(e.message);
        if (!e.field.empty()) results += ",\"field\":" + JsonString(e.field);
        results += ",\"reason\":" + JsonString(e.reason_code) + "}";
      }
    }
    return "{\"status\":" + JsonString(accepted() ? "accepted" : "partly_refused") +
           ",\"accepted\":" + std::to_string(accepted_count) +
           ",\"refused\":" + std::to_string(elements.size() - static_cast<size_t>(accepted_count)) +
           ",\"event_ids\":[" + ids + "],\"duplicates\":" + std::to_string(duplicates) +
           ",\"reference\":" + JsonString(reference) + ",\"results\":[" + results + "]}";
  }
  if (!accepted()) {
    std::string body = "{\"error\":" + JsonString(message);
    if (!field.empty()) body += ",\"field\":" + JsonString(field);
    body += ",\"reason\":" + JsonString(reason_code) + "}";
    return body;
  }
  std::string ids;
  for (const auto& id : event_ids) ids += (ids.empty() ? "" : ",") + JsonString(id);
  std::string body = "{\"status\":\"accepted\",";
  if (event_ids.size() == 1) body += "\"event_id\":" + JsonString(event_ids[0]) + ",";
  body += "\"event_ids\":[" + ids + "],\"duplicates\":" + std::to_string(duplicates) +
          ",\"reference\":" + JsonString(reference) + "}";
  return body;
}

struct Ingestor::Impl {
  store::EventLog& log;
  store::StateStore& state;
  const Clock& clock;
  IngestorOptions options;
  int32_t input_partitions;
  std::unique_ptr<PrincipalRegistry> principals;
  std::unique_ptr<MonitorRegistry> monitors;
  std::unique_ptr<StationDirectory> stations;
  // Per partition of in.events: the latest event time appended there (see PartitionEventTime).
  std::vector<std::atomic<int64_t>> partition_time;
  std::unique_ptr<RateLimiter> limiter;          // monitors
  std::unique_ptr<RateLimiter> gateway_limiter;  // gateways and operators
  std::unique_ptr<ContestDirectory> contests;  // what result sheets are checked against
  std::mutex reporters_mu;  // guards reporters
  std::unordered_map<std::string, std::string> reporters;  // principal name -> ReporterOf
  std::mutex inflight_mu;  // guards inflight, unwritten_marks, writing_marks
  // event_id -> submissions waiting for the one that claimed it (see Admit).
  std::unordered_map<std::string, std::vector<std::function<void()>>> inflight;
  // Marks of appended events not yet in the index, written in batches of kMarksPerWrite: a
  // RocksDB write per request was a tenth of the log's completion thread. They are exactly as
  // durable as written marks (the index has no write-ahead log; both are rebuilt from in.events
  // at start), and Admit looks them up with the claims.
  static constexpr size_t kMarksPerWrite = 256;
  std::unordered_map<std::string, std::string> unwritten_marks;
  bool writing_marks = false;
  std::mutex stations_mu;  // serializes RefreshStations
  // Runs RefreshReference every options.follow_reference_every. Last member: it stops (and
  // joins) before anything it uses is destroyed.
  std::jthread follower;

  prometheus::Family<prometheus::Counter>* events_total = nullptr;
  prometheus::Family<prometheus::Counter>* rejected_total = nullptr;
  std::mutex counters_mu;  // guards accepted_counters
  std::map<std::string, std::pair<prometheus::Counter*, prometheus::Counter*>, std::less<>> accepted_counters;

  Impl(store::EventLog& l, store::StateStore& s, const Clock& c, IngestorOptions o, int32_t p)
      : log(l), state(s), clock(c), options(std::move(o)), input_partitions(p), partition_time(p) {}

  // Processing's rule (processors' CheckTime), on what ingest knows of the partition's clock:
  // no time at all, or further than the allowed lateness behind `partition_now`, is dropped
  // there, so it is refused here. `where` prefixes the field in a batch.
  std::optional<Outcome> CheckEventTime(int64_t t, int64_t partition_now, int64_t now, const std::string& where) {
    const std::string window_end = FormatRfc3339(now + options.max_future_ms);
    if (t <= 0) {
      return Refusal(400, "no_event_time",
                     "occurred_at (" + FormatRfc3339(t) + ") is not a usable event time; send when it happened, " +
                         (partition_now > 0 ? "from " + FormatRfc3339(partition_now - options.allowed_lateness_ms)
                                            : std::string("after 1970-01-01T00:00:00Z")) +
                         " to " + window_end,
                     where + "occurred_at");
    }
    if (partition_now > 0 && t < partition_now - options.allowed_lateness_ms) {
      return Refusal(400, "too_late",
                     "occurred_at " + FormatRfc3339(t) + " is more than the allowed lateness (" +
                         Hours(options.allowed_lateness_ms) + ") behind this district's event time " +
                         FormatRfc3339(partition_now) + ", so it would never be processed; accepted: from " +
                         FormatRfc3339(partition_now - options.allowed_lateness_ms) + " to " + window_end,
                     where + "occurred_at");
    }
    return std::nullopt;
  }

  // The reporter pseudonym of a token principal, kept once found (it is asked for on every
  // submission, and principals are few). A principal whose name is a registered monitor's id is
  // that monitor: its reports by app and by SMS are one reporter (the phone's pseudonym).
  // Others get a pseudonym of their whole name. A monitor registered after a principal's first
  // report links it once this node has read it from ref.monitors (RefreshReference).
  Result<std::string> ReporterOf(const std::string& principal) {
    {
      std::lock_guard lk(reporters_mu);
      if (auto it = reporters.find(principal); it != reporters.end()) return it->second;
    }
    ASSIGN_OR_RETURN(std::optional<v1::Monitor> linked, monitors->FindById(principal));
    std::string reporter = linked.has_value() ? linked->phone_pseudonym()
                                              : PrincipalPseudonym(options.pseudonym_secret, principal);
    std::lock_guard lk(reporters_mu);
    return reporters.try_emplace(principal, std::move(reporter)).first->second;
  }

  void Count(const std::string& endpoint, const Outcome& o, size_t events) {
    if (events_total == nullptr) return;
    if (o.accepted()) {
      size_t fresh = events - static_cast<size_t>(o.duplicates);
      const auto& [accepted, duplicate] = AcceptedCounters(endpoint);
      if (fresh > 0) accepted->Increment(static_cast<double>(fresh));
      if (o.duplicates > 0) duplicate->Increment(o.duplicates);
    } else {
      rejected_total->Add({{"endpoint", endpoint}, {"reason", o.reason_code}}).Increment();
    }
  }

  // The accepted and duplicate series of an endpoint, found once (a family looks series up by a
  // label map built per call; endpoints are few, and every accepted request counts).
  const std::pair<prometheus::Counter*, prometheus::Counter*>& AcceptedCounters(const std::string& endpoint) {
    std::lock_guard lk(counters_mu);
    auto it = accepted_counters.find(endpoint);
    if (it == accepted_counters.end()) {
      it = accepted_counters
               .emplace(endpoint, std::pair{&events_total->Add({{"endpoint", endpoint}, {"result", "accepted"}}),
                                            &events_total->Add({{"endpoint", endpoint}, {"result", "duplicate"}})})
               .first;
    }
    return it->second;  // map nodes never move
  }

  // Appends the refusal to dlq.rejected, then answers it through `done`; a failure to append
  // turns the answer into a 503, since the input would otherwise be lost.
  void DeadLetterAsync(Outcome refusal, const std::string& endpoint, const std::string& principal,
                       std::string_view raw, std::string_view content_type, const std::string& reporter,
                       OutcomeCallback done) {
    int64_t now = clock.NowMs();
    v1::Event e;
    auto* h = e.mutable_header();
    h->set_schema_version(schemas::kSchemaVersion);
    Sha256 id;
    id.UpdateField(endpoint);
    id.UpdateField(principal);
    id.UpdateField(raw);
    id.UpdateField(std::to_string(now));
    h->set_event_id("rejected:" + id.HexDigest().substr(0, 32));
    h->set_event_time_ms(now);
    h->set_received_time_ms(now);
    h->set_source(v1::SOURCE_OPERATOR);
    h->set_channel(endpoint);
    h->set_principal(principal);
    h->set_reporter(reporter);
    auto* r = e.mutable_rejected();
    r->set_endpoint(endpoint);
    r->set_principal(principal);
    r->set_raw(std::string(raw));
    r->set_reason(refusal.message);
    r->set_field(refusal.field);
    r->set_content_type(std::string(content_type));
    r->set_reason_code(refusal.reason_code);
    std::vector<store::OutRecord> rec;
    rec.push_back({.topic = std::string(schemas::topic::kRejected),
                   .key = principal,
                   .value = schemas::EncodeEvent(e),
                   .timestamp_ms = now,
                   .partition = 0});
    log.AppendAsync(std::move(rec), [this, refusal = std::move(refusal), endpoint,
                                     done = std::move(done)](Result<std::vector<store::Position>> appended) mutable {
      if (!appended.ok()) {
        return done(Refusal(503, "log_unavailable",
                            "could not record the rejected input (" + appended.status().message() + "); retry later"));
      }
      Count(endpoint, refusal, 0);
      done(std::move(refusal));
    });
  }

  Outcome DeadLetter(Outcome refusal, const std::string& endpoint, const std::string& principal,
                     std::string_view raw, std::string_view content_type, const std::string& reporter = "") {
    return Wait([&](OutcomeCallback done) {
      DeadLetterAsync(std::move(refusal), endpoint, principal, raw, content_type, reporter, std::move(done));
    });
  }

  // 429 with the seconds to wait when `count` submissions exceed the principal's role's rate
  // (a monitor's, or the far higher one of gateways and operators).
  std::optional<Outcome> TakeRate(const Principal& principal, size_t count) {
    RateLimiter& bucket = principal.role == Role::kMonitor ? *limiter : *gateway_limiter;
    RateDecision rate = bucket.Take(principal.name, static_cast<int>(count));
    if (rate.allowed) return std::nullopt;
    Outcome o = Refusal(429, "rate_limited", "too many submissions from '" + principal.name + "'; retry in " +
                                                 std::to_string(rate.retry_after_seconds) + " s");
    o.retry_after_seconds = rate.retry_after_seconds;
    return o;
  }

  // A batch answered per element (POST /v1/turnout with an array): the whole batch is charged
  // to the rate at once (429 for all of it, as for one report), then each element is a
  // submission of its own (validated, deduplicated, a refusal kept in dlq.rejected with the
  // element's own JSON), appended together by the log's group commit. In order, as processing
  // sees them: an earlier element moves its partition's clock for the later ones.
  void SubmitEachAsync(const Principal& principal, DecodedBatch batch, const std::string& endpoint,
                       std::string_view raw, std::string_view content_type, const std::string& reporter,
                       OutcomeCallback done) {
    auto refuse = [&](Outcome o) {
      DeadLetterAsync(std::move(o), endpoint, principal.name, raw, content_type, reporter, std::move(done));
    };
    if (!MayWrite(principal)) {
      return refuse(Refusal(403, "role_may_not_write",
                            "a " + std::string(RoleName(principal.role)) + " token may not submit reports"));
    }
    if (auto limited = TakeRate(principal, batch.elements.size())) return refuse(std::move(*limited));

    struct Answers {
      std::mutex mu;
      std::vector<Outcome> elements;
      size_t left = 0;
      OutcomeCallback done;
    };
    auto answers = std::make_shared<Answers>();
    answers->elements.resize(batch.elements.size());
    answers->left = batch.elements.size();
    answers->done = std::move(done);
    auto answer = [answers](size_t i) {
      return [answers, i](Outcome o) {
        std::unique_lock lk(answers->mu);
        answers->elements[i] = std::move(o);
        if (--answers->left > 0) return;
        Outcome all;
        all.http_status = 202;
        for (const Outcome& e : answers->elements) {
          if (!e.accepted()) {
            all.http_status = 207;
            continue;
          }
          all.event_ids.insert(all.event_ids.end(), e.event_ids.begin(), e.event_ids.end());
          all.duplicates += e.duplicates;
          if (all.reference.empty()) all.reference = e.reference;
        }
        all.elements = std::move(answers->elements);
        OutcomeCallback finished = std::move(answers->done);
        lk.unlock();
        finished(std::move(all));
      };
    };
    std::map<int32_t, int64_t> batch_time;  // partition -> the latest event time of earlier elements
    const int64_t now = clock.NowMs();
    for (size_t i = 0; i < batch.elements.size(); ++i) {
      DecodedElement& element = batch.elements[i];
      if (element.error) {
        DeadLetterAsync(Refusal(400, element.error->reason_code, element.error->message, element.error->field),
                        endpoint, principal.name, element.raw, content_type, reporter, answer(i));
        continue;
      }
      if (std::optional<StationPlacement> station = stations->Locate(StationOf(element.event))) {
        store::OutRecord placed{.partition_key = station->district_key};
        int64_t& batch_now = batch_time[store::EventLog::PartitionOf(placed, input_partitions)];
        if (auto late = CheckEventTime(element.event.header().event_time_ms(), batch_now, now, "")) {
          DeadLetterAsync(std::move(*late), endpoint, principal.name, element.raw, content_type, reporter, answer(i));
          continue;
        }
        batch_now = std::max(batch_now, element.event.header().event_time_ms());
      }
      std::vector<v1::Event> one;
      one.push_back(std::move(element.event));
      AcceptAsync(principal, std::move(one), endpoint, element.raw, content_type, "http", v1::SOURCE_APP, reporter,
                  answer(i), /*charge_rate=*/false);
    }
  }

  // Validates stations and areas, then appends what is new and answers through `done`.
  // `events` have header.event_id, event_time and body set. Validation runs on the calling
  // thread; the answer may come from the log's thread.
  // `charge_rate` false: the caller already took these events from the principal's bucket.
  void AcceptAsync(const Principal& principal, std::vector<v1::Event> events, const std::string& endpoint,
                   std::string_view raw, std::string_view content_type, const std::string& channel,
                   v1::Source source, const std::string& reporter, OutcomeCallback done, bool charge_rate = true) {
    auto refuse = [&](Outcome o) {
      DeadLetterAsync(std::move(o), endpoint, principal.name, raw, content_type, reporter, std::move(done));
    };
    if (!MayWrite(principal)) {
      return refuse(Refusal(403, "role_may_not_write",
                            "a " + std::string(RoleName(principal.role)) + " token may not submit reports"));
    }
    if (charge_rate) {
      if (auto limited = TakeRate(principal, events.size())) return refuse(std::move(*limited));
    }
    const int64_t now = clock.NowMs();
    auto batch = std::make_shared<Submission>();
    batch->principal = principal.name;
    batch->endpoint = endpoint;
    batch->raw = std::string(raw);
    batch->content_type = std::string(content_type);
    batch->reporter = reporter;
    batch->events_count = events.size();
    for (size_t i = 0; i < events.size(); ++i) {
      v1::Event& e = events[i];
      const std::string where = events.size() > 1 ? "[" + std::to_string(i) + "]." : "";
      if (e.header().event_time_ms() > now + options.max_future_ms) {
        // Names the server's clock, never an example date: the fix is the time it happened.
        return refuse(Refusal(400, "future_time",
                              "occurred_at " + FormatRfc3339(e.header().event_time_ms()) +
                                  " is ahead of the server's clock (now " + FormatRfc3339(now) + "; up to " +
                                  std::to_string(options.max_future_ms / 1000) +
                                  " s ahead is accepted): send the time it happened, in UTC or with its offset",
                              where + "occurred_at"));
      }
      std::string partition_key;
      std::string station_id = StationOf(e);
      if (!station_id.empty()) {
        std::optional<StationPlacement> station = stations->Locate(station_id);
        if (!station) {
          return refuse(Refusal(400, "unknown_station",
                                "unknown station '" + station_id + "'; check the id on the station list",
                                where + "station_id"));
        }
        if (!AreaCovers(principal.area, station->area)) {
          return refuse(Refusal(403, "outside_area",
                                "station '" + station_id + "' (" + station->area + ") is outside your area " +
                                    principal.area,
                                where + "station_id"));
        }
        if (e.has_hate_speech() && !e.hate_speech().area().empty()) {
          // An area beside the station must be where the station lies (its ward, district or
          // region's district): the station decides, and the stored area must not say otherwise.
          Result<std::string> area = CanonicalAreaPath(e.hate_speech().area());
          if (!area.ok()) return refuse(Refusal(400, "bad_area", area.status().message(), where + "area"));
          std::string_view ward_path = station->area;  // "REGION/DISTRICT/" when it has no ward
          while (ward_path.ends_with('/')) ward_path.remove_suffix(1);
          Result<std::string> own = CanonicalAreaPath(ward_path);
          bool inside = own.ok() && AreaCovers(*area, *own) && std::count(area->begin(), area->end(), '/') >= 1;
          if (!inside) {
            return refuse(Refusal(400, "area_mismatch",
                                  "area " + *area + " is not where station '" + station_id + "' lies (" +
                                      station->area + "); send that area or leave area out",
                                  where + "area"));
          }
          e.mutable_hate_speech()->set_area(*area);
        }
        partition_key = std::move(station->district_key);
        if (e.has_result_sheet()) {
          if (auto error = contests->Check(e.result_sheet(), log)) {
            return refuse(Refusal(400, error->reason_code, error->message, where + error->field));
          }
        }
      } else if (e.has_hate_speech()) {
        Result<std::string> canonical = CanonicalAreaPath(e.hate_speech().area());
        if (!canonical.ok()) return refuse(Refusal(400, "bad_area", canonical.status().message(), where + "area"));
        const std::string& area = *canonical;
        if (std::count(area.begin(), area.end(), '/') < 1) {
          return refuse(Refusal(400, "bad_area", "area must be a path REGION/DISTRICT[/WARD], got '" + area + "'",
                                where + "area"));
        }
        if (!stations->IsKnownArea(area)) {
          return refuse(Refusal(400, "unknown_area",
                                "area " + area + " is not a district or ward of the station list", where + "area"));
        }
        if (!AreaCovers(principal.area, area)) {
          return refuse(Refusal(403, "outside_area", "area " + area + " is outside your area " + principal.area,
                                where + "area"));
        }
        e.mutable_hate_speech()->set_area(area);
        partition_key = schemas::DistrictKeyOfArea(area);
      }
      store::OutRecord record{.topic = std::string(schemas::topic::kInputs),
                              .key = schemas::RecordKey(e),
                              .timestamp_ms = e.header().event_time_ms(),
                              .partition_key = std::move(partition_key)};
      const int32_t partition = store::EventLog::PartitionOf(record, input_partitions);
      auto* h = e.mutable_header();
      h->set_schema_version(schemas::kSchemaVersion);
      h->set_source(source);
      h->set_channel(channel);
      h->set_principal(principal.name);
      h->set_reporter(reporter);
      batch->marks.push_back(IdempotencyMark(principal.name, schemas::EncodeEvent(e)));  // no receive time yet
      h->set_received_time_ms(now);
      batch->ids.push_back(h->event_id());
      batch->partitions.push_back(partition);
      batch->times.push_back(h->event_time_ms());
      record.value = schemas::EncodeEvent(e);
      batch->records.push_back(std::move(record));
    }
    batch->done = std::move(done);
    Admit(std::move(batch));
  }

  // A validated submission on its way into the log.
  struct Submission {
    std::string principal, endpoint, raw, content_type, reporter;
    size_t events_count = 0;
    std::vector<std::string> ids, marks;  // per event: event_id, principal '\0' content hash
    std::vector<int32_t> partitions;      // per event: its partition of in.events
    std::vector<int64_t> times;           // per event: its event time
    std::vector<store::OutRecord> records;
    std::vector<std::string> claimed;  // ids this submission holds in `inflight`
    OutcomeCallback done;
  };

  // Settles idempotency, then appends what is new. A submission first claims its ids in
  // `inflight`; one that finds an id claimed waits for that claim's release and tries again,
  // so two concurrent submissions of one id never both append. The seen-id index is read after
  // claiming: a finished submission wrote its marks before releasing its claim.
  void Admit(std::shared_ptr<Submission> batch) {
    // Marks of claimed ids found before they were written to the index. While this submission
    // holds a claim nobody else adds that id's mark, and a mark leaves unwritten_marks only
    // after it is in the index: an id missing here is either in the index or nowhere.
    std::vector<std::optional<std::string>> unwritten(batch->ids.size());
    {
      std::lock_guard lk(inflight_mu);
      for (const auto& id : batch->ids) {
        if (auto it = inflight.find(id); it != inflight.end()) {
          it->second.push_back([this, batch] { Admit(batch); });
          return;
        }
      }
      for (size_t i = 0; i < batch->ids.size(); ++i) {
        const std::string& id = batch->ids[i];
        if (inflight.try_emplace(id).second) batch->claimed.push_back(id);  // a batch may repeat an id
        if (auto m = unwritten_marks.find(id); m != unwritten_marks.end()) unwritten[i] = m->second;
      }
    }
    Outcome outcome;
    std::vector<store::OutRecord> fresh;
    std::vector<size_t> fresh_index;
    for (size_t i = 0; i < batch->ids.size(); ++i) {
      const std::string& id = batch->ids[i];
      Result<std::optional<std::string>> seen = unwritten[i];
      if (!unwritten[i]) seen = state.Get(kEventIdsStore, id);
      if (!seen.ok()) return Finish(batch, Refusal(503, "index_unavailable", seen.status().message()));
      bool repeated_in_batch = false;
      for (size_t j : fresh_index) repeated_in_batch |= batch->ids[j] == id;
      if (seen->has_value() || repeated_in_batch) {
        if (seen->has_value() && **seen != batch->marks[i]) {
          std::string where = batch->ids.size() > 1 ? "[" + std::to_string(i) + "]." : "";
          Outcome conflict = Refusal(409, "event_id_conflict",
                                     "event_id '" + id + "' was already used for a different report", where + "event_id");
          return DeadLetterAsync(std::move(conflict), batch->endpoint, batch->principal, batch->raw, batch->content_type,
                                 batch->reporter, [this, batch](Outcome o) { Finish(batch, std::move(o)); });
        }
        ++outcome.duplicates;
      } else {
        fresh.push_back(std::move(batch->records[i]));
        fresh_index.push_back(i);
      }
      outcome.event_ids.push_back(id);
    }
    // Only what will be appended is checked against the partitions' clocks (a retry of a stored
    // report is answered as the duplicate it is, however far the clock has moved), in order, as
    // processing will see it: an earlier report of this batch moves the clock for the later ones.
    std::map<int32_t, int64_t> batch_time;  // partition -> its clock as this batch moves it
    const int64_t now = clock.NowMs();
    for (size_t i : fresh_index) {
      int64_t& partition_now = batch_time[batch->partitions[i]];
      partition_now = std::max(partition_now, partition_time[batch->partitions[i]].load(std::memory_order_relaxed));
      std::string where = batch->ids.size() > 1 ? "[" + std::to_string(i) + "]." : "";
      if (auto late = CheckEventTime(batch->times[i], partition_now, now, where)) {
        return DeadLetterAsync(std::move(*late), batch->endpoint, batch->principal, batch->raw, batch->content_type,
                               batch->reporter, [this, batch](Outcome o) { Finish(batch, std::move(o)); });
      }
      partition_now = std::max(partition_now, batch->times[i]);
    }
    outcome.reference = Reference(outcome.event_ids.empty() ? "" : outcome.event_ids.front());
    if (fresh.empty()) return Finish(batch, std::move(outcome));
    log.AppendAsync(std::move(fresh), [this, batch, fresh_index = std::move(fresh_index),
                                       outcome = std::move(outcome)](Result<std::vector<store::Position>> appended) mutable {
      if (!appended.ok()) {
        return Finish(batch, Refusal(503, "log_unavailable", "the event log is unavailable (" +
                                                                 appended.status().message() +
                                                                 "); nothing was stored, retry later"));
      }
      for (size_t i : fresh_index) RaiseTo(partition_time[batch->partitions[i]], batch->times[i]);
      AddMarks(*batch, fresh_index);
      Finish(batch, std::move(outcome));
    });
  }

  // Records the marks of a durable append (before its claims are released), and writes the
  // unwritten ones to the index once there are kMarksPerWrite of them.
  void AddMarks(const Submission& batch, const std::vector<size_t>& fresh_index) {
    std::vector<std::pair<std::string, std::string>> to_write;
    {
      std::lock_guard lk(inflight_mu);
      for (size_t i : fresh_index) unwritten_marks.insert_or_assign(batch.ids[i], batch.marks[i]);
      if (writing_marks || unwritten_marks.size() < kMarksPerWrite) return;
      writing_marks = true;
      to_write.assign(unwritten_marks.begin(), unwritten_marks.end());
    }
    store::CommitBatch marks;
    for (const auto& [id, mark] : to_write) marks.Put(kEventIdsStore, id, mark);
    // A lost mark is rebuilt from the log at start-up (see the file comment), so it skips the
    // write-ahead log.
    marks.SkipWriteAheadLog();
    bool written = state.Commit(std::move(marks)).ok();
    std::lock_guard lk(inflight_mu);
    // Only now may they leave memory (kept if the write failed; the next batch retries them).
    if (written) {
      for (const auto& [id, mark] : to_write) unwritten_marks.erase(id);
    }
    writing_marks = false;
  }

  // Releases the submission's claims (re-admitting whoever waited on them) and answers.
  void Finish(const std::shared_ptr<Submission>& batch, Outcome outcome) {
    std::vector<std::function<void()>> waiting;
    {
      std::lock_guard lk(inflight_mu);
      for (const auto& id : batch->claimed) {
        auto it = inflight.find(id);
        for (auto& w : it->second) waiting.push_back(std::move(w));
        inflight.erase(it);
      }
      batch->claimed.clear();
    }
    if (outcome.accepted()) Count(batch->endpoint, outcome, batch->events_count);
    OutcomeCallback done = std::move(batch->done);
    done(std::move(outcome));
    for (auto& w : waiting) w();
  }

  Outcome Accept(const Principal& principal, std::vector<v1::Event> events, const std::string& endpoint,
                 std::string_view raw, std::string_view content_type, const std::string& channel,
                 v1::Source source, const std::string& reporter) {
    return Wait([&](OutcomeCallback done) {
      AcceptAsync(principal, std::move(events), endpoint, raw, content_type, channel, source, reporter,
                  std::move(done));
    });
  }

  // Runs `start` with a callback and waits for its outcome (for callers that may block).
  static Outcome Wait(const std::function<void(OutcomeCallback)>& start) {
    std::promise<Outcome> result;
    auto ready = result.get_future();
    start([&result](Outcome o) { result.set_value(std::move(o)); });
    return ready.get();
  }

  // Rebuilds the idempotency index and the partitions' event times from in.events past the
  // checkpoint, then moves it (the times are committed with it).
  Status RecoverSeenIds() {
    store::CommitBatch batch;
    size_t pending = 0;
    for (int32_t p = 0; p < input_partitions; ++p) {
      store::TopicPartition tp{std::string(schemas::topic::kInputs), p};
      ASSIGN_OR_RETURN(std::optional<int64_t> committed, state.CommittedOffset(tp));
      ASSIGN_OR_RETURN(std::optional<std::string> stored_time, state.Get(kEventIdsStore, PartitionTimeKey(p)));
      if (stored_time) RaiseTo(partition_time[p], std::strtoll(stored_time->c_str(), nullptr, 10));
      int64_t from = committed.value_or(0);
      while (true) {
        ASSIGN_OR_RETURN(std::vector<store::LogRecord> got, log.Read(tp, from, 5000));
        if (got.empty()) break;
        for (const auto& r : got) {
          auto e = schemas::DecodeEvent(r.value);
          if (!e.ok()) continue;
          RaiseTo(partition_time[p], e->header().event_time_ms());
          if (e->has_tick() || e->header().event_id().empty()) continue;
          e->mutable_header()->set_received_time_ms(0);
          batch.Put(kEventIdsStore, e->header().event_id(),
                    IdempotencyMark(e->header().principal(), schemas::EncodeEvent(*e)));
          ++pending;
        }
        from = got.back().offset + 1;
        if (pending >= 20000) {
          batch.SetOffset(tp, from);
          batch.Put(kEventIdsStore, PartitionTimeKey(p), std::to_string(partition_time[p].load()));
          RETURN_IF_ERROR(state.Commit(std::move(batch)).status());
          batch = store::CommitBatch();
          pending = 0;
        }
      }
      batch.SetOffset(tp, from);
      batch.Put(kEventIdsStore, PartitionTimeKey(p), std::to_string(partition_time[p].load()));
    }
    return state.Commit(std::move(batch)).status();
  }
};

std::vector<std::string> Ingestor::StoreNames() {
  return {std::string(kEventIdsStore), "stations", "principals", "monitors"};
}

Ingestor::Ingestor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Ingestor::~Ingestor() {
  impl_->follower = std::jthread();  // stops and joins it
  // Checkpoint the idempotency index so the next start rescans little.
  (void)impl_->RecoverSeenIds();
}

Result<std::unique_ptr<Ingestor>> Ingestor::Make(store::EventLog& log, store::StateStore& state, const Clock& clock,
                                                 IngestorOptions options, int32_t input_partitions,
                                                 prometheus::Registry* metrics) {
  if (options.pseudonym_secret.size() < 16) {
    return Status::InvalidArgument("the pseudonym secret must be at least 16 bytes");
  }
  RETURN_IF_ERROR(log.CreateTopic({.name = std::string(schemas::topic::kInputs), .partitions = input_partitions}));
  RETURN_IF_ERROR(log.CreateTopic({.name = std::string(schemas::topic::kStations), .partitions = 1, .compacted = true}));
  RETURN_IF_ERROR(log.CreateTopic({.name = std::string(schemas::topic::kRejected), .partitions = 1}));
  // The topic may have existed with another count; events go where the log puts them.
  ASSIGN_OR_RETURN(int32_t partitions, log.PartitionCount(schemas::topic::kInputs));
  auto impl = std::make_unique<Impl>(log, state, clock, std::move(options), partitions);
  ASSIGN_OR_RETURN(impl->principals, PrincipalRegistry::Make(state, log));
  ASSIGN_OR_RETURN(impl->monitors, MonitorRegistry::Make(state, log));
  ASSIGN_OR_RETURN(impl->stations, StationDirectory::Make(state));
  RETURN_IF_ERROR(impl->stations->CatchUp(log));
  ASSIGN_OR_RETURN(impl->contests, ContestDirectory::Make(log));
  impl->limiter = std::make_unique<RateLimiter>(
      RateLimiterOptions{.rate_per_second = impl->options.rate_per_second, .burst = impl->options.rate_burst}, clock);
  impl->gateway_limiter = std::make_unique<RateLimiter>(
      RateLimiterOptions{.rate_per_second = impl->options.gateway_rate_per_second,
                         .burst = impl->options.gateway_rate_burst},
      clock);
  RETURN_IF_ERROR(impl->RecoverSeenIds());
  if (metrics != nullptr) {
    impl->events_total = &prometheus::BuildCounter()
                              .Name("ewarn_ingest_events_total")
                              .Help("Input events by endpoint and result (accepted, duplicate)")
                              .Register(*metrics);
    impl->rejected_total = &prometheus::BuildCounter()
                                .Name("ewarn_ingest_rejected_total")
                                .Help("Rejected submissions by endpoint and reason; each is in dlq.rejected")
                                .Register(*metrics);
  }
  std::unique_ptr<Ingestor> ingestor(new Ingestor(std::move(impl)));
  if (ingestor->impl_->options.follow_reference_every.count() > 0) {
    Ingestor* self = ingestor.get();
    ingestor->impl_->follower = std::jthread([self](std::stop_token stop) {
      std::mutex mu;
      std::condition_variable_any wake;
      bool failing = false;
      while (true) {
        {
          std::unique_lock lk(mu);
          if (wake.wait_for(lk, stop, self->impl_->options.follow_reference_every, [] { return false; })) break;
          if (stop.stop_requested()) break;
        }
        Status st = self->RefreshReference();
        // Said once when it starts failing and once when it recovers, not every second.
        if (!st.ok() && !failing) {
          std::fprintf(stderr, "ewarn: cannot follow tokens, monitors and stations (%s); retrying every %lld ms\n",
                       st.ToString().c_str(), static_cast<long long>(self->impl_->options.follow_reference_every.count()));
        } else if (st.ok() && failing) {
          std::fprintf(stderr, "ewarn: following tokens, monitors and stations again\n");
        }
        failing = !st.ok();
      }
    });
  }
  return ingestor;
}

Status Ingestor::AppendTicks(int64_t event_time_ms) {
  RETURN_IF_ERROR(ingest::AppendTicks(impl_->log, event_time_ms));
  for (auto& t : impl_->partition_time) RaiseTo(t, event_time_ms);
  return Status::Ok();
}

Status Ingestor::AppendTicks(int64_t event_time_ms, const std::vector<int32_t>& partitions) {
  RETURN_IF_ERROR(ingest::AppendTicks(impl_->log, event_time_ms, partitions));
  for (int32_t p : partitions) {
    if (p < impl_->input_partitions) RaiseTo(impl_->partition_time[p], event_time_ms);
  }
  return Status::Ok();
}

int64_t Ingestor::PartitionEventTime(int32_t partition) const {
  if (partition < 0 || partition >= impl_->input_partitions) return 0;
  return impl_->partition_time[partition].load();
}

PrincipalRegistry& Ingestor::principals() { return *impl_->principals; }
MonitorRegistry& Ingestor::monitors() { return *impl_->monitors; }
StationDirectory& Ingestor::stations() { return *impl_->stations; }
ContestDirectory& Ingestor::contests() { return *impl_->contests; }
store::EventLog& Ingestor::log() { return impl_->log; }

Status Ingestor::RefreshStations() {
  std::lock_guard lk(impl_->stations_mu);
  return impl_->stations->CatchUp(impl_->log);
}

Status Ingestor::RefreshReference() {
  RETURN_IF_ERROR(impl_->principals->CatchUp().status());
  ASSIGN_OR_RETURN(int64_t monitors, impl_->monitors->CatchUp());
  if (monitors > 0) {  // a principal may now be a monitor: ReporterOf asks again
    std::lock_guard lk(impl_->reporters_mu);
    impl_->reporters.clear();
  }
  return RefreshStations();
}

Result<Principal> Ingestor::Authorize(std::string_view authorization, Role role) {
  auto principal = impl_->principals->Authenticate(authorization);
  if (!principal.ok()) return Status::PermissionDenied("unauthenticated: " + principal.status().message());
  if (principal->role != role && principal->role != Role::kOperator) {
    return Status::FailedPrecondition("a " + std::string(RoleName(principal->role)) + " token may not do this; it needs " +
                                      std::string(RoleName(role)));
  }
  return principal;
}

Outcome Ingestor::SubmitJson(InputKind kind, std::string_view authorization, std::string_view body,
                             std::string_view content_type) {
  return Impl::Wait([&](OutcomeCallback done) {
    SubmitJsonAsync(kind, authorization, body, content_type, std::move(done));
  });
}

void Ingestor::SubmitJsonAsync(InputKind kind, std::string_view authorization, std::string_view body,
                               std::string_view content_type, OutcomeCallback done) {
  const std::string endpoint = EndpointOf(kind);
  auto principal = impl_->principals->Authenticate(authorization);
  if (!principal.ok()) {
    // Not dead-lettered: without a principal it is not a report anyone is accountable for,
    // and storing it would let anyone fill the disk. Counted.
    Outcome o = Refusal(401, "unauthenticated", "a valid bearer token is required: " + principal.status().message());
    impl_->Count(endpoint, o, 0);
    return done(std::move(o));
  }
  if (kind == InputKind::kTurnout && IsJsonArray(body)) {
    DecodedBatch batch = DecodeJsonBatch(kind, body);
    if (batch.error) {
      return impl_->DeadLetterAsync(Refusal(400, batch.error->reason_code, batch.error->message, batch.error->field),
                                    endpoint, principal->name, body, content_type, "", std::move(done));
    }
    Result<std::string> reporter = impl_->ReporterOf(principal->name);
    if (!reporter.ok()) {
      Outcome o = RegistryUnavailable(reporter.status());
      impl_->Count(endpoint, o, 0);
      return done(std::move(o));
    }
    return impl_->SubmitEachAsync(*principal, std::move(batch), endpoint, body, content_type, *reporter,
                                  std::move(done));
  }
  DecodedInput decoded = DecodeJsonInput(kind, body);
  if (decoded.error) {
    return impl_->DeadLetterAsync(
        Refusal(400, decoded.error->reason_code, decoded.error->message, decoded.error->field), endpoint,
        principal->name, body, content_type, "", std::move(done));
  }
  Result<std::string> reporter = impl_->ReporterOf(principal->name);
  if (!reporter.ok()) {
    Outcome o = RegistryUnavailable(reporter.status());
    impl_->Count(endpoint, o, 0);
    return done(std::move(o));
  }
  impl_->AcceptAsync(*principal, std::move(decoded.events), endpoint, body, content_type, "http", v1::SOURCE_APP,
                     *reporter, std::move(done));
}

SmsOutcome Ingestor::SubmitSms(SmsChannel channel, std::string_view authorization, std::string_view from,
                               std::string_view text, std::string_view message_id) {
  const std::string endpoint = channel == SmsChannel::kKannel ? "sms/kannel" : "sms/twilio";
  SmsOutcome result;
  auto gateway = impl_->principals->Authenticate(authorization);
  if (!gateway.ok() || (gateway->role != Role::kGateway && gateway->role != Role::kOperator)) {
    result.outcome = Refusal(401, "unauthenticated", "an SMS gateway token is required");
    impl_->Count(endpoint, result.outcome, 0);
    return result;  // no reply: this did not come from our gateway
  }
  const std::string& secret = impl_->options.pseudonym_secret;
  std::string pseudonym = MonitorRegistry::PhonePseudonym(secret, from);
  auto monitor = impl_->monitors->FindByPhone(secret, from);
  if (!monitor.ok()) {
    result.outcome = Refusal(503, "registry_unavailable", monitor.status().message());
    result.reply = "ewarn: temporary problem, please send again later.";
    return result;
  }
  auto parsed = ParseSms(text);
  if (auto* error = std::get_if<SmsError>(&parsed)) {
    result.outcome = impl_->DeadLetter(Refusal(400, error->reason_code, error->reply), endpoint, gateway->name, text,
                                       "text/plain", pseudonym);
    result.reply = result.outcome.http_status == 503 ? "ewarn: temporary problem, please send again later."
                                                     : error->reply;
    return result;
  }
  const SmsCommand& cmd = std::get<SmsCommand>(parsed);
  if (cmd.kind == SmsCommand::Kind::kHelp) {
    result.outcome.http_status = 202;
    result.reply = SmsHelpReply(cmd.language);
    return result;
  }
  if (!monitor->has_value()) {
    result.outcome = impl_->DeadLetter(
        Refusal(403, "unknown_sender", "this phone number is not registered as a monitor"), endpoint, gateway->name,
        text, "text/plain", pseudonym);
    result.reply = "ewarn: this number is not registered. Ask your coordinator to register it.";
    return result;
  }
  // The monitor's own area limits what it may report, as for a token; the rate is the
  // gateway's (it relays many monitors).
  Principal as_monitor{.name = gateway->name, .role = gateway->role, .area = (*monitor)->area()};
  int64_t now = impl_->clock.NowMs();
  v1::Event e;
  // A gateway's retry carries the same message id; without one, the same text from the same
  // sender within the same minute is taken as a retry.
  std::string id_source = message_id.empty()
                              ? pseudonym + "|" + std::string(text) + "|" + std::to_string(now / 60000)
                              : std::string(message_id);
  e.mutable_header()->set_event_id("sms:" + Sha256Hex(endpoint + "|" + id_source).substr(0, 24));
  e.mutable_header()->set_event_time_ms(now);
  if (cmd.kind == SmsCommand::Kind::kIncident) {
    auto* inc = e.mutable_incident();
    inc->set_station_id(cmd.station_id);
    inc->set_category(cmd.category);
    inc->set_severity(cmd.severity);
    inc->set_description(cmd.text);
    inc->set_place_text(cmd.place);
  } else if (cmd.kind == SmsCommand::Kind::kResult) {
    *e.mutable_result_sheet() = ResultSheetFromSms(cmd);
    if (auto error = impl_->contests->ResolveContest(e.mutable_result_sheet(), impl_->log)) {
      result.outcome = impl_->DeadLetter(Refusal(400, error->reason_code, error->message, error->field), endpoint,
                                         gateway->name, text, "text/plain", pseudonym);
      result.reply = "ewarn: not recorded (" + error->message + ").";
      return result;
    }
  } else {
    auto* t = e.mutable_turnout();
    t->set_station_id(cmd.station_id);
    t->set_voters_cast(cmd.voters_cast);
  }
  std::vector<v1::Event> events;
  events.push_back(std::move(e));
  result.outcome = impl_->Accept(as_monitor, std::move(events), endpoint, text, "text/plain", endpoint,
                                 v1::SOURCE_SMS, pseudonym);
  if (result.outcome.accepted()) {
    result.reply = SmsAcceptedReply(cmd.language, result.outcome.reference);
  } else if (result.outcome.reason_code == "unknown_station") {
    result.reply = "ewarn: unknown station " + cmd.station_id + ". Check the station number and send again.";
  } else if (result.outcome.reason_code == "outside_area") {
    result.reply = "ewarn: station " + cmd.station_id + " is outside your area.";
  } else if (result.outcome.http_status == 429) {
    result.reply = "ewarn: too many messages; wait a minute and send again.";
  } else {
    result.reply = "ewarn: not recorded (" + result.outcome.message + ").";
  }
  return result;
}

Outcome Ingestor::RejectTooLarge(std::string_view endpoint, std::string_view authorization, uint64_t declared_bytes,
                                 uint64_t limit_bytes) {
  auto principal = impl_->principals->Authenticate(authorization);
  Outcome o = Refusal(413, "too_large",
                      "request body of " + std::to_string(declared_bytes) + " bytes is over the limit of " +
                          std::to_string(limit_bytes) + " bytes; split it or send less");
  if (!principal.ok()) {
    impl_->Count(std::string(endpoint), o, 0);
    return o;
  }
  // The body was not read, so the dead letter records that it existed and how big it was.
  return impl_->DeadLetter(std::move(o), std::string(endpoint), principal->name, "", "");
}

Result<std::vector<RejectedRecord>> Ingestor::ListRejected(int64_t from_offset, size_t limit) {
  ASSIGN_OR_RETURN(std::vector<store::LogRecord> got,
                   impl_->log.Read({std::string(schemas::topic::kRejected), 0}, from_offset, limit));
  std::vector<RejectedRecord> out;
  for (const auto& r : got) {
    auto e = schemas::DecodeEvent(r.value);
    if (!e.ok()) return e.status().WithContext("dlq.rejected/0 offset " + std::to_string(r.offset));
    const auto& rej = e->rejected();
    out.push_back({.partition = r.partition,
                   .offset = r.offset,
                   .received_ms = e->header().received_time_ms(),
                   .endpoint = rej.endpoint(),
                   .principal = rej.principal(),
                   .reason_code = rej.reason_code(),
                   .reason = rej.reason(),
                   .field = rej.field(),
                   .content_type = rej.content_type(),
                   .raw = rej.raw()});
  }
  return out;
}

Result<Outcome> Ingestor::Resubmit(int64_t offset, std::optional<std::string> replacement) {
  ASSIGN_OR_RETURN(std::vector<RejectedRecord> got, ListRejected(offset, 1));
  if (got.empty() || got[0].offset != offset) {
    return Status::NotFound("no dead letter at dlq.rejected offset " + std::to_string(offset));
  }
  const RejectedRecord& dead = got[0];
  ASSIGN_OR_RETURN(InputKind kind, KindOfEndpoint(dead.endpoint));
  ASSIGN_OR_RETURN(std::vector<Principal> all, impl_->principals->List());
  const Principal* principal = nullptr;
  for (const auto& p : all) {
    if (p.name == dead.principal && !p.revoked) principal = &p;
  }
  if (principal == nullptr) {
    return Status::FailedPrecondition("principal '" + dead.principal + "' no longer has a valid token");
  }
  std::string body = replacement.value_or(dead.raw);
  DecodedInput decoded = DecodeJsonInput(kind, body);
  if (decoded.error) {
    return impl_->DeadLetter(Refusal(400, decoded.error->reason_code, decoded.error->message, decoded.error->field),
                             dead.endpoint, principal->name, body, dead.content_type);
  }
  ASSIGN_OR_RETURN(std::string reporter, impl_->ReporterOf(principal->name));
  return impl_->Accept(*principal, std::move(decoded.events), dead.endpoint, body, dead.content_type, "http",
                       v1::SOURCE_OPERATOR, reporter);
}

std::string ReportReference(std::string_view event_id) { return Reference(event_id); }

}  // namespace ewarn::ingest
