// CLI for ingest's offline administration: tokens, SMS monitors, station import, dead letters.
// These open DIR/ingest (and DIR/log) themselves, so they run while `ewarn serve` is stopped;
// against a running server, operators use the HTTP API (README "Operating").
#include <cstdio>

#include "commands.h"
#include "data_dir.h"
#include "key_files.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/ingest/principals.h"
#include "ewarn/ingest/stations.h"
#include "ingest_setup.h"

namespace ewarn::app {
namespace {

// --data is optional here: with --kafka these commands need nothing on this machine.
const FlagSpec kData{"data", "DIR", "the data directory (not needed with --kafka)", "", false};
const FlagSpec kRequiredData{"data", "DIR", "the data directory", "", true};

// The pseudonym secret a monitor's phone is keyed with: it must be the one the nodes use, or
// their SMS never find the monitor. --secret-file (what `serve --secret-file` reads), else
// DIR/secret of --data (made on first use, as serve makes it).
Result<std::string> MonitorSecret(const Flags& f, const DataDir& dir) {
  if (f.Has("secret-file")) {
    return ReadKeyFile("--secret-file", f.Get("secret-file"));
  }
  if (dir.root.empty()) {
    return Status::InvalidArgument(
        "with --kafka and no --data, give --secret-file FILE: the pseudonym secret the nodes are started with "
        "(serve --secret-file), so their SMS find this monitor");
  }
  return LoadOrCreateSecret(dir);
}

int TokenCreate(const Flags& f) {
  const std::string cmd = "token create";
  auto role = ingest::ParseRole(f.Get("role"));
  if (!role.ok()) return Fail(cmd, role.status());
  DataDir dir{f.Get("data")};
  NewDataDirGuard guard(dir.root);
  auto access = OpenReference(dir, KafkaOf(f), /*create=*/true);
  if (!access.ok()) return Fail(cmd, access.status());
  auto registry = ingest::PrincipalRegistry::Make(*access->state, *access->log);
  if (!registry.ok()) return Fail(cmd, registry.status());
  SystemClock clock;
  auto token = (*registry)->CreateToken(f.Get("name"), *role, f.Get("area"), clock.NowMs());
  if (!token.ok()) return Fail(cmd, token.status());
  guard.Keep();
  std::printf("created %s token for '%s'%s; it is shown once, store it safely:\n%s\n", f.Get("role").c_str(),
              f.Get("name").c_str(), f.Get("area").empty() ? "" : (" (area " + f.Get("area") + ")").c_str(),
              token->c_str());
  return 0;
}

int TokenRevoke(const Flags& f) {
  const std::string cmd = "token revoke";
  if (f.positional().size() != 1) return Fail(cmd, Status::InvalidArgument("give one token name or id"));
  auto access = OpenReference(DataDir{f.Get("data")}, KafkaOf(f), /*create=*/false);
  if (!access.ok()) return Fail(cmd, access.status());
  auto registry = ingest::PrincipalRegistry::Make(*access->state, *access->log);
  if (!registry.ok()) return Fail(cmd, registry.status());
  SystemClock clock;
  if (Status s = (*registry)->Revoke(f.positional()[0], clock.NowMs()); !s.ok()) return Fail(cmd, s);
  std::printf("revoked %s\n", f.positional()[0].c_str());
  return 0;
}

int TokenList(const Flags& f) {
  const std::string cmd = "token list";
  auto access = OpenReference(DataDir{f.Get("data")}, KafkaOf(f), /*create=*/false);
  if (!access.ok()) return Fail(cmd, access.status());
  auto registry = ingest::PrincipalRegistry::Make(*access->state, *access->log);
  if (!registry.ok()) return Fail(cmd, registry.status());
  auto all = (*registry)->List();
  if (!all.ok()) return Fail(cmd, all.status());
  std::printf("%-24s %-10s %-30s %-18s %s\n", "NAME", "ROLE", "AREA", "TOKEN ID", "STATE");
  for (const auto& p : *all) {
    std::printf("%-24s %-10s %-30s %-18s %s\n", p.name.c_str(), std::string(ingest::RoleName(p.role)).c_str(),
                p.area.empty() ? "(all)" : p.area.c_str(), p.token_id.c_str(), p.revoked ? "revoked" : "active");
  }
  return 0;
}

int MonitorAdd(const Flags& f) {
  const std::string cmd = "monitor add";
  DataDir dir{f.Get("data")};
  NewDataDirGuard guard(dir.root);
  auto secret = MonitorSecret(f, dir);
  if (!secret.ok()) return Fail(cmd, secret.status());
  auto access = OpenReference(dir, KafkaOf(f), /*create=*/true);
  if (!access.ok()) return Fail(cmd, access.status());
  auto monitors = ingest::MonitorRegistry::Make(*access->state, *access->log);
  if (!monitors.ok()) return Fail(cmd, monitors.status());
  v1::Monitor m;
  m.set_monitor_id(f.Get("name"));
  m.set_name(f.Get("name"));
  m.set_area(f.Get("area"));
  m.set_language(f.Get("language"));
  m.set_phone_pseudonym(ingest::MonitorRegistry::PhonePseudonym(*secret, f.Get("phone")));
  SystemClock clock;
  if (Status s = (*monitors)->Register(m, clock.NowMs()); !s.ok()) return Fail(cmd, s);
  guard.Keep();
  // The number itself is not stored anywhere; only its keyed pseudonym.
  std::printf("registered monitor '%s' (pseudonym %s)\n", m.name().c_str(), m.phone_pseudonym().c_str());
  return 0;
}

int ImportStations(const Flags& f) {
  const std::string cmd = "import-stations";
  if (f.positional().size() != 1) return Fail(cmd, Status::InvalidArgument("give one CSV file"));
  ingest::StationFormat format;
  if (f.Get("format") == "generic") {
    format = ingest::StationFormat::kGeneric;
  } else if (f.Get("format") == "inec") {
    format = ingest::StationFormat::kInec;
  } else {
    return Fail(cmd, Status::InvalidArgument("--format must be generic or inec, not '" + f.Get("format") + "'"));
  }
  DataDir dir{f.Get("data")};
  NewDataDirGuard guard(dir.root);
  auto access = OpenReference(dir, KafkaOf(f), /*create=*/true);
  if (!access.ok()) return Fail(cmd, access.status());
  auto directory = ingest::StationDirectory::Make(*access->state);
  if (!directory.ok()) return Fail(cmd, directory.status());
  SystemClock clock;
  auto started = std::chrono::steady_clock::now();
  auto summary = ingest::ImportStations(*access->log, **directory, f.positional()[0], format, clock.NowMs());
  if (!summary.ok()) return Fail(cmd, summary.status());
  guard.Keep();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("imported %lld of %lld rows in %.2f s: %lld without a usable location (kept), %lld rejected\n",
              static_cast<long long>(summary->imported), static_cast<long long>(summary->rows), secs,
              static_cast<long long>(summary->without_location), static_cast<long long>(summary->rejected));
  for (const auto& problem : summary->problems) std::printf("  %s\n", problem.c_str());
  std::printf("stations known: %lld\n", static_cast<long long>((*directory)->size()));
  return 0;
}

int RejectedList(const Flags& f) {
  const std::string cmd = "rejected list";
  auto from = f.GetInt("from");
  auto limit = f.GetInt("limit");
  if (!from.ok()) return Fail(cmd, from.status());
  if (!limit.ok()) return Fail(cmd, limit.status());
  DataDir dir{f.Get("data")};
  if (Status s = RequireDataDir(dir); !s.ok()) return Fail(cmd, s);
  auto node = OpenIngestNode(dir, KafkaOf(f), {});
  if (!node.ok()) return Fail(cmd, node.status());
  auto got = (*node)->ingestor->ListRejected(*from, static_cast<size_t>(*limit));
  if (!got.ok()) return Fail(cmd, got.status());
  for (const auto& d : *got) {
    std::string raw = d.raw.substr(0, 200);
    for (char& c : raw) {
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    }
    std::printf("offset %lld  %s  %s  principal=%s  reason=%s%s: %s\n  raw: %s\n", static_cast<long long>(d.offset),
                FormatRfc3339(d.received_ms).c_str(), d.endpoint.c_str(), d.principal.c_str(), d.reason_code.c_str(),
                d.field.empty() ? "" : (" field=" + d.field).c_str(), d.reason.c_str(), raw.c_str());
  }
  std::printf("%zu dead letters\n", got->size());
  return 0;
}

int RejectedResubmit(const Flags& f) {
  const std::string cmd = "rejected resubmit";
  auto offset = f.GetInt("offset");
  if (!offset.ok()) return Fail(cmd, offset.status());
  std::optional<std::string> replacement;
  if (f.Has("file")) {
    FILE* in = std::fopen(f.Get("file").c_str(), "rb");
    if (in == nullptr) return Fail(cmd, Status::NotFound("cannot open '" + f.Get("file") + "'"));
    std::string body;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) body.append(buf, n);
    std::fclose(in);
    replacement = std::move(body);
  }
  DataDir dir{f.Get("data")};
  if (Status s = RequireDataDir(dir); !s.ok()) return Fail(cmd, s);
  auto node = OpenIngestNode(dir, KafkaOf(f), {});
  if (!node.ok()) return Fail(cmd, node.status());
  auto outcome = (*node)->ingestor->Resubmit(*offset, replacement);
  if (!outcome.ok()) return Fail(cmd, outcome.status());
  std::printf("%d %s\n", outcome->http_status, outcome->ToJson().c_str());
  return outcome->accepted() ? 0 : 1;
}

}  // namespace

std::vector<Command> IngestCommands() {
  return {
      {{"token", "create"},
       "create a bearer token for a person or system; prints it as the last line",
       {kData,
        kKafkaFlag,
        {"role", "ROLE", "monitor, liaison, duty, operator or gateway", "", true},
        {"name", "NAME", "who holds it (unique)", "", true},
        {"area", "AREA", "area path it may write for, e.g. LAGOS/IKEJA (default: everywhere)", ""}},
       "",
       TokenCreate},
      {{"token", "revoke"},
       "revoke a token by its name or token id (every node refuses it within seconds)",
       {kData, kKafkaFlag},
       "NAME_OR_TOKEN_ID",
       TokenRevoke},
      {{"token", "list"}, "list tokens (never their secrets)", {kData, kKafkaFlag}, "", TokenList},
      {{"monitor", "add"},
       "register a field monitor's phone for SMS (stored only as a keyed pseudonym)",
       {kData,
        kKafkaFlag,
        {"secret-file", "FILE", "the nodes' pseudonym secret (serve --secret-file); default: DIR/secret", ""},
        {"phone", "E164", "the monitor's phone number, e.g. +2348012345678", "", true},
        {"name", "NAME", "monitor id / name", "", true},
        {"area", "AREA", "area path the monitor reports for (default: everywhere)", ""},
        {"language", "LANG", "en, fr or ru (replies follow the message's language)", "en"}},
       "",
       MonitorAdd},
      {{"import-stations"},
       "import polling stations from CSV into ref.stations",
       {kData, kKafkaFlag, {"format", "FORMAT", "generic (station_id,name,region,district,ward,lat,lon,registered_voters) or inec", "generic"}},
       "FILE",
       ImportStations},
      {{"rejected", "list"},
       "list dead letters (rejected inputs) with their reasons",
       {kRequiredData, kKafkaFlag, {"from", "OFFSET", "first offset", "0"}, {"limit", "N", "at most this many", "100"}},
       "",
       RejectedList},
      {{"rejected", "resubmit"},
       "run a dead letter through validation again, optionally with a corrected body",
       {kRequiredData, kKafkaFlag, {"offset", "OFFSET", "its offset in dlq.rejected", "", true},
        {"file", "FILE", "the corrected body (default: the original bytes)", ""}},
       "",
       RejectedResubmit},
  };
}

}  // namespace ewarn::app
