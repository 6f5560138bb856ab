// Credentials, Prepare, DirectSink and the paced driver.
#include "ewarn/sim/sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "ewarn/ingest/ticks.h"
#include "ewarn/schemas/events.h"
#include "sink_internal.h"

namespace ewarn::sim {

const std::string& Credentials::TokenFor(const std::string& sender) const {
  auto it = tokens.find(sender);
  return it == tokens.end() ? fallback : it->second;
}

Status Credentials::Save(const std::string& path) const {
  std::string text = "# ewarn simulate credentials: sender token (keep private)\n";
  for (const auto& [sender, token] : tokens) text += sender + " " + token + "\n";
  if (!fallback.empty()) text += "*fallback " + fallback + "\n";
  if (!gateway.empty()) text += "*gateway " + gateway + "\n";
  if (!operator_token.empty()) text += "*operator " + operator_token + "\n";
  text += std::string("*phones ") + (phones_registered ? "yes" : "no") + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return Status::IOError("cannot write credentials file '" + path + "'");
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok ? Status::Ok() : Status::IOError("cannot write credentials file '" + path + "'");
}

Result<Credentials> Credentials::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read credentials file '" + path + "'");
  Credentials c;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.find(' ');
    if (space == std::string::npos) {
      return Status::InvalidArgument(path + ":" + std::to_string(n) + ": expected 'sender token'");
    }
    std::string key = line.substr(0, space), value = line.substr(space + 1);
    if (key == "*fallback") c.fallback = value;
    else if (key == "*gateway") c.gateway = value;
    else if (key == "*operator") c.operator_token = value;
    else if (key == "*phones") c.phones_registered = value == "yes";
    else c.tokens[key] = value;
  }
  return c;
}

int64_t SinkStats::total_rejected() const {
  int64_t n = 0;
  for (const auto& [_, count] : rejected) n += count;
  return n;
}

Result<Credentials> Prepare(ingest::Ingestor& ingestor, store::EventLog& log, const Scenario& scenario,
                            std::string_view pseudonym_secret, int64_t now_ms) {
  // Stations ref.stations does not know yet, or knows otherwise (a generated set of another
  // seed), in the import's record format.
  const std::string topic(schemas::topic::kStations);
  if (!log.PartitionCount(topic).ok()) {
    RETURN_IF_ERROR(log.CreateTopic({.name = topic, .partitions = 1, .compacted = true}));
  }
  std::vector<store::OutRecord> pending;
  for (const auto& s : scenario.stations) {
    ASSIGN_OR_RETURN(std::optional<v1::PollingStation> known, ingestor.stations().Find(s.station_id()));
    if (known) {
      // Registered voters the generator filled in for a station without them are sent with
      // every turnout update; the reference record itself stays as imported.
      v1::PollingStation as_known = s;
      if (known->registered_voters() == 0) as_known.set_registered_voters(0);
      if (known->SerializeAsString() == as_known.SerializeAsString()) continue;
    }
    pending.push_back(ingest::StationRecord(s, now_ms, v1::SOURCE_SIMULATOR, "simulator"));
    if (pending.size() >= 5000) {
      RETURN_IF_ERROR(log.Append(pending).status());
      pending.clear();
    }
  }
  if (!pending.empty()) RETURN_IF_ERROR(log.Append(pending).status());
  RETURN_IF_ERROR(ingestor.RefreshStations());

  Credentials c;
  auto token = [&](const std::string& name, ingest::Role role, const std::string& area) -> Result<std::string> {
    // A re-run replaces the previous run's token (its clear text is gone).
    Status revoked = ingestor.principals().Revoke(name);
    if (!revoked.ok() && revoked.code() != StatusCode::kNotFound) return revoked;
    return ingestor.principals().CreateToken(name, role, area, now_ms);
  };
  for (const auto& m : scenario.monitors) {
    ASSIGN_OR_RETURN(c.tokens[m.monitor_id], token("sim-" + m.monitor_id, ingest::Role::kMonitor, m.area));
    v1::Monitor monitor;
    monitor.set_monitor_id(m.monitor_id);
    monitor.set_name(m.monitor_id);
    monitor.set_area(m.area);
    monitor.set_language("en");
    monitor.set_phone_pseudonym(ingest::MonitorRegistry::PhonePseudonym(pseudonym_secret, m.phone));
    RETURN_IF_ERROR(ingestor.monitors().Register(monitor));
  }
  for (std::string_view sender : {kSenderKits, kSenderOfficers, kSenderClassifier}) {
    ASSIGN_OR_RETURN(c.tokens[std::string(sender)], token("sim-" + std::string(sender), ingest::Role::kMonitor, ""));
  }
  ASSIGN_OR_RETURN(c.gateway, token("sim-gateway", ingest::Role::kGateway, ""));
  ASSIGN_OR_RETURN(c.operator_token, token("sim-operator", ingest::Role::kOperator, ""));
  c.fallback = c.operator_token;
  c.phones_registered = true;
  return c;
}

namespace internal {

constexpr size_t kMaxBatchBytes = 64 << 10;

std::vector<Request> Requests(std::span<const SimEvent> events, const Credentials& credentials) {
  std::vector<Request> out;
  std::map<std::string, size_t> kit_batch;  // sender -> index of its open batch
  for (const auto& e : events) {
    if (!e.sms_from.empty() && credentials.phones_registered) {
      out.push_back({.kind = ingest::InputKind::kIncident,
                     .sms = true,
                     .token = credentials.gateway,
                     .body = e.sms_text,
                     .sms_from = e.sms_from,
                     .sms_id = "sim:" + std::to_string(e.time_ms) + ":" + e.sms_from,
                     .events = 1});
      continue;
    }
    if (!e.sms_from.empty()) continue;  // cannot be sent: counted by the caller as skipped
    ingest::InputKind kind = e.kind == EventKind::kIncident   ? ingest::InputKind::kIncident
                             : e.kind == EventKind::kHateSpeech ? ingest::InputKind::kHateSpeech
                             : e.kind == EventKind::kTurnout    ? ingest::InputKind::kTurnout
                                                                : ingest::InputKind::kKit;
    if (kind == ingest::InputKind::kKit) {
      auto it = kit_batch.find(e.sender);
      // Batches stay well under a server's body limit (256 KB by default) and kMaxKitBatch.
      if (it != kit_batch.end() && out[it->second].events < static_cast<int>(ingest::kMaxKitBatch) &&
          out[it->second].body.size() + e.body.size() < kMaxBatchBytes) {
        Request& r = out[it->second];
        r.body.back() = ',';
        r.body += e.body + "]";
        ++r.events;
        continue;
      }
      kit_batch[e.sender] = out.size();
      out.push_back({.kind = kind, .token = credentials.TokenFor(e.sender), .body = "[" + e.body + "]", .events = 1});
      continue;
    }
    out.push_back({.kind = kind, .token = credentials.TokenFor(e.sender), .body = e.body, .events = 1});
  }
  return out;
}

int64_t Unsendable(std::span<const SimEvent> events, const Credentials& credentials) {
  if (credentials.phones_registered) return 0;
  return std::count_if(events.begin(), events.end(), [](const SimEvent& e) { return !e.sms_from.empty(); });
}

void Count(SinkStats& stats, const Request& r, const Answer& a) {
  stats.sent[r.sms ? "sms" : std::string(KindName(r.kind))] += r.events;
  if (a.accepted) {
    stats.accepted += r.events;
    stats.duplicates += a.duplicates;
  } else {
    stats.rejected[a.reason.empty() ? "unknown" : a.reason] += r.events;
  }
}

std::string_view KindName(ingest::InputKind kind) {
  switch (kind) {
    case ingest::InputKind::kIncident: return "incident";
    case ingest::InputKind::kHateSpeech: return "hate_speech";
    case ingest::InputKind::kTurnout: return "turnout";
    case ingest::InputKind::kKit: return "kit";
    case ingest::InputKind::kResult: return "result_sheet";
  }
  return "?";
}

}  // namespace internal

Status DirectSink::Send(std::span<const SimEvent> events) {
  if (int64_t n = internal::Unsendable(events, credentials_); n > 0) stats_.rejected["sms_phone_unregistered"] += n;
  for (const auto& r : internal::Requests(events, credentials_)) {
    internal::Answer a;
    for (int attempt = 0;; ++attempt) {
      if (r.sms) {
        ingest::SmsOutcome o =
            ingestor_.SubmitSms(ingest::SmsChannel::kKannel, "Bearer " + r.token, r.sms_from, r.body, r.sms_id);
        a = {o.outcome.accepted(), o.outcome.reason_code, o.outcome.duplicates, o.outcome.http_status,
             o.outcome.retry_after_seconds};
      } else {
        ingest::Outcome o = ingestor_.SubmitJson(r.kind, "Bearer " + r.token, r.body);
        a = {o.accepted(), o.reason_code, o.duplicates, o.http_status, o.retry_after_seconds};
      }
      if ((a.status != 429 && a.status != 503) || attempt >= 20) break;
      ++stats_.retries;
      std::this_thread::sleep_for(std::chrono::milliseconds(100 + 1000 * std::min(a.retry_after_seconds, 5)));
    }
    internal::Count(stats_, r, a);
  }
  return Status::Ok();
}

Status DirectSink::Tick(int64_t event_time_ms) {
  RETURN_IF_ERROR(ingest::AppendTicks(log_, event_time_ms));
  ++stats_.sent["tick"];
  return Status::Ok();
}

Result<SinkStats> Run(const Scenario& scenario, Sink& sink, const RunOptions& options) {
  const int64_t step = options.tick_every_ms > 0 ? options.tick_every_ms : kHourMs;
  const auto wall_start = std::chrono::steady_clock::now();
  size_t next = 0;
  for (int64_t until = scenario.start_ms;; until += step) {
    if (options.speed > 0) {
      auto due = wall_start + std::chrono::milliseconds(
                                  static_cast<int64_t>(static_cast<double>(until - scenario.start_ms) / options.speed));
      // In slices, so a stop request is seen within 100 ms.
      while (!options.stop.stop_requested() && std::chrono::steady_clock::now() < due) {
        std::this_thread::sleep_until(std::min(due, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
      }
    }
    if (options.stop.stop_requested()) break;
    size_t end = next;
    while (end < scenario.events.size() && scenario.events[end].time_ms <= until) ++end;
    if (end > next) RETURN_IF_ERROR(sink.Send(std::span(scenario.events).subspan(next, end - next)));
    next = end;
    if (options.tick_every_ms > 0) RETURN_IF_ERROR(sink.Tick(until));
    if (options.progress) options.progress(until);
    if (until >= scenario.end_ms && next >= scenario.events.size()) break;
  }
  return sink.stats();
}

}  // namespace ewarn::sim
