#include "ewarn/ingest/principals.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "ewarn/base/hash.h"
#include "ewarn/ingest/stations.h"
#include "ewarn/schemas/events.h"

namespace ewarn::ingest {
namespace {

constexpr char kSep = '\x1f';  // unit separator; refused in names and areas
constexpr std::string_view kTokenPrefix = "ewt_";

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

std::string EncodePrincipal(const Principal& p, const std::string& secret_hash) {
  return secret_hash + kSep + p.name + kSep + std::string(RoleName(p.role)) + kSep + p.area + kSep +
         std::to_string(p.created_ms) + kSep + (p.revoked ? "1" : "0");
}

Result<std::pair<Principal, std::string>> DecodePrincipal(std::string_view token_id, std::string_view v) {
  auto parts = Split(v, kSep);
  if (parts.size() != 6) return Status::Corruption("principal record for token " + std::string(token_id) + " is damaged");
  Principal p;
  p.token_id = token_id;
  p.name = parts[1];
  ASSIGN_OR_RETURN(p.role, ParseRole(parts[2]));
  p.area = parts[3];
  p.created_ms = std::strtoll(std::string(parts[4]).c_str(), nullptr, 10);
  p.revoked = parts[5] == "1";
  return std::make_pair(std::move(p), std::string(parts[0]));
}

// Appends `body` to `topic` (one partition, compacted) under `key`, durably.
Status AppendReference(store::EventLog& log, std::string_view topic, const std::string& key, const std::string& event_id,
                       int64_t now_ms, const std::function<void(v1::Event&)>& body) {
  v1::Event e;
  auto* h = e.mutable_header();
  h->set_schema_version(schemas::kSchemaVersion);
  h->set_event_id(event_id);
  h->set_event_time_ms(now_ms);
  h->set_received_time_ms(now_ms);
  h->set_source(v1::SOURCE_OPERATOR);
  h->set_channel("cli");
  body(e);
  std::vector<store::OutRecord> records{{.topic = std::string(topic),
                                         .key = key,
                                         .value = schemas::EncodeEvent(e),
                                         .timestamp_ms = now_ms,
                                         .partition = 0}};
  return log.Append(records).status().WithContext("appending to " + std::string(topic));
}

// Reads `topic` from where `state` has read it up to and hands each event to `apply`, which
// adds its change to the batch; commits the changes with the new offset, 10,000 at a time.
// Returns how many records were applied. A missing topic holds nothing yet.
Result<int64_t> CatchUpTopic(store::EventLog& log, store::StateStore& state, std::string_view topic,
                             const std::function<Status(const v1::Event&, store::CommitBatch&)>& apply) {
  auto partitions = log.PartitionCount(topic);
  if (!partitions.ok()) {
    return partitions.status().code() == StatusCode::kNotFound ? Result<int64_t>(0) : partitions.status();
  }
  int64_t applied = 0;
  for (int32_t p = 0; p < *partitions; ++p) {
    store::TopicPartition tp{std::string(topic), p};
    ASSIGN_OR_RETURN(std::optional<int64_t> committed, state.CommittedOffset(tp));
    int64_t from = committed.value_or(0);
    while (true) {
      ASSIGN_OR_RETURN(std::vector<store::LogRecord> got, log.Read(tp, from, 10000));
      if (got.empty()) break;
      store::CommitBatch batch;
      for (const auto& r : got) {
        auto e = schemas::DecodeEvent(r.value);
        if (!e.ok()) return e.status().WithContext(tp.ToString() + " offset " + std::to_string(r.offset));
        RETURN_IF_ERROR(apply(*e, batch).WithContext(tp.ToString() + " offset " + std::to_string(r.offset)));
      }
      from = got.back().offset + 1;
      applied += static_cast<int64_t>(got.size());
      batch.SetOffset(tp, from);
      batch.RequireDurable();
      RETURN_IF_ERROR(state.Commit(std::move(batch)).status());
    }
  }
  return applied;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kMonitor: return "monitor";
    case Role::kLiaison: return "liaison";
    case Role::kDuty: return "duty";
    case Role::kOperator: return "operator";
    case Role::kGateway: return "gateway";
  }
  return "unknown";
}

Result<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kMonitor, Role::kLiaison, Role::kDuty, Role::kOperator, Role::kGateway}) {
    if (RoleName(r) == name) return r;
  }
  return Status::InvalidArgument("unknown role '" + std::string(name) +
                                 "'; use monitor, liaison, duty, operator or gateway");
}

bool AreaCovers(std::string_view principal_area, std::string_view area_path) {
  std::string mine = Upper(principal_area), theirs = Upper(area_path);
  while (!mine.empty() && mine.back() == '/') mine.pop_back();
  if (mine.empty()) return true;
  if (!theirs.starts_with(mine)) return false;
  return theirs.size() == mine.size() || theirs[mine.size()] == '/';
}

bool MayWrite(const Principal& p) {
  return p.role == Role::kMonitor || p.role == Role::kGateway || p.role == Role::kOperator;
}

// --- PrincipalRegistry ---

Result<std::unique_ptr<PrincipalRegistry>> PrincipalRegistry::Make(store::StateStore& state, store::EventLog& log) {
  RETURN_IF_ERROR(state.Get(kStore, "").status());  // NotFound when the store was not opened
  RETURN_IF_ERROR(log.CreateTopic({.name = std::string(schemas::topic::kTokens), .partitions = 1, .compacted = true}));
  std::unique_ptr<PrincipalRegistry> registry(new PrincipalRegistry(state, log));
  RETURN_IF_ERROR(registry->CatchUp().status());
  return registry;
}

Status PrincipalRegistry::Append(const v1::Token& token, int64_t now_ms) {
  std::string event_id = "token:" + token.token_id() + (token.revoked() ? ":revoked" : ":created");
  RETURN_IF_ERROR(AppendReference(log_, schemas::topic::kTokens, token.token_id(), event_id, now_ms,
                                  [&](v1::Event& e) { *e.mutable_token() = token; }));
  return CatchUp().status();
}

Result<int64_t> PrincipalRegistry::CatchUp() {
  std::lock_guard catching_up(catch_up_mu_);
  ASSIGN_OR_RETURN(int64_t applied,
                   CatchUpTopic(log_, state_, schemas::topic::kTokens, [](const v1::Event& e, store::CommitBatch& batch) {
                     if (!e.has_token()) return Status::Ok();
                     const v1::Token& t = e.token();
                     ASSIGN_OR_RETURN(Role role, ParseRole(t.role()));
                     if (t.token_id().empty() || t.secret_sha256().empty()) {
                       return Status::Corruption("token record without id or secret hash");
                     }
                     Principal p{.name = t.name(), .role = role, .area = t.area(), .token_id = t.token_id(),
                                 .created_ms = t.created_ms(), .revoked = t.revoked()};
                     batch.Put(kStore, t.token_id(), EncodePrincipal(p, t.secret_sha256()));
                     return Status::Ok();
                   }));
  if (applied > 0) {  // a revocation must not be answered from the cache
    std::lock_guard lk(mu_);
    verified_.clear();
  }
  return applied;
}

Result<std::string> PrincipalRegistry::CreateToken(const std::string& name, Role role, const std::string& area,
                                                   int64_t now_ms) {
  if (name.empty() || name.size() > 100 || name.find(kSep) != std::string::npos) {
    return Status::InvalidArgument("token name must be 1 to 100 characters");
  }
  if (area.find(kSep) != std::string::npos) return Status::InvalidArgument("bad area '" + area + "'");
  std::string canonical_area;  // "" is everywhere
  std::string_view trimmed = area;
  while (trimmed.ends_with('/')) trimmed.remove_suffix(1);  // "LAGOS/" is LAGOS, as AreaCovers reads it
  if (!trimmed.empty()) {
    ASSIGN_OR_RETURN(canonical_area, CanonicalAreaPath(trimmed));
  }
  ASSIGN_OR_RETURN(std::vector<Principal> all, List());
  for (const auto& p : all) {
    if (p.name == name && !p.revoked) {
      return Status::AlreadyExists("an active token named '" + name + "' exists; revoke it first");
    }
  }
  unsigned char id[6], secret[32];
  if (RAND_bytes(id, sizeof id) != 1 || RAND_bytes(secret, sizeof secret) != 1) {
    return Status::Internal("no randomness for a token");
  }
  Principal p{.name = name, .role = role, .area = canonical_area, .token_id = Hex(id, sizeof id), .created_ms = now_ms};
  std::string secret_hex = Hex(secret, sizeof secret);
  v1::Token record;
  record.set_token_id(p.token_id);
  record.set_name(p.name);
  record.set_role(std::string(RoleName(p.role)));
  record.set_area(p.area);
  record.set_created_ms(p.created_ms);
  record.set_secret_sha256(Sha256Hex(secret_hex));
  RETURN_IF_ERROR(Append(record, now_ms));
  return std::string(kTokenPrefix) + p.token_id + "_" + secret_hex;
}

Status PrincipalRegistry::Revoke(std::string_view name_or_token_id, int64_t now_ms) {
  RETURN_IF_ERROR(CatchUp().status());  // what other processes made or revoked counts too
  std::vector<v1::Token> revoked;
  Status st = state_.Scan(kStore, "", [&](std::string_view key, std::string_view value) {
    auto decoded = DecodePrincipal(key, value);
    if (!decoded.ok()) return true;
    auto& [p, hash] = *decoded;
    if (!p.revoked && (p.name == name_or_token_id || p.token_id == name_or_token_id)) {
      v1::Token& t = revoked.emplace_back();
      t.set_token_id(p.token_id);
      t.set_name(p.name);
      t.set_role(std::string(RoleName(p.role)));
      t.set_area(p.area);
      t.set_created_ms(p.created_ms);
      t.set_revoked(true);
      t.set_secret_sha256(hash);
    }
    return true;
  });
  RETURN_IF_ERROR(st);
  if (revoked.empty()) return Status::NotFound("no active token named or with id '" + std::string(name_or_token_id) + "'");
  for (const v1::Token& t : revoked) RETURN_IF_ERROR(Append(t, now_ms));
  return Status::Ok();
}

Result<Principal> PrincipalRegistry::Authenticate(std::string_view authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.empty()) return Status::InvalidArgument("no Authorization header");
  if (!authorization.starts_with(kBearer)) return Status::InvalidArgument("Authorization must be 'Bearer <token>'");
  std::string_view token = authorization.substr(kBearer.size());
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  {
    std::lock_guard lk(mu_);
    auto it = verified_.find(std::string(token));
    if (it != verified_.end()) return it->second;
  }
  if (!token.starts_with(kTokenPrefix)) return Status::InvalidArgument("not an ewarn token");
  std::string_view rest = token.substr(kTokenPrefix.size());
  size_t underscore = rest.find('_');
  if (underscore == std::string_view::npos) return Status::InvalidArgument("not an ewarn token");
  std::string_view id = rest.substr(0, underscore), secret = rest.substr(underscore + 1);
  ASSIGN_OR_RETURN(std::optional<std::string> stored, state_.Get(kStore, id));
  if (!stored) return Status::NotFound("unknown token");
  ASSIGN_OR_RETURN(auto decoded, DecodePrincipal(id, *stored));
  auto& [principal, hash] = decoded;
  std::string presented = Sha256Hex(secret);
  if (presented.size() != hash.size() || CRYPTO_memcmp(presented.data(), hash.data(), hash.size()) != 0) {
    return Status::NotFound("unknown token");
  }
  if (principal.revoked) return Status::NotFound("token has been revoked");
  std::lock_guard lk(mu_);
  if (verified_.size() > 100000) verified_.clear();
  verified_[std::string(token)] = principal;
  return principal;
}

Result<std::vector<Principal>> PrincipalRegistry::List() {
  std::vector<Principal> out;
  Status decode_error;
  RETURN_IF_ERROR(state_.Scan(kStore, "", [&](std::string_view key, std::string_view value) {
    auto decoded = DecodePrincipal(key, value);
    if (!decoded.ok()) {
      decode_error = decoded.status();
      return false;
    }
    out.push_back(std::move(decoded->first));
    return true;
  }));
  RETURN_IF_ERROR(decode_error);
  std::sort(out.begin(), out.end(), [](const Principal& a, const Principal& b) {
    return std::tie(a.name, a.created_ms) < std::tie(b.name, b.created_ms);
  });
  return out;
}

// --- MonitorRegistry ---

Result<std::unique_ptr<MonitorRegistry>> MonitorRegistry::Make(store::StateStore& state, store::EventLog& log) {
  RETURN_IF_ERROR(state.Get(kStore, "").status());
  RETURN_IF_ERROR(log.CreateTopic({.name = std::string(schemas::topic::kMonitors), .partitions = 1, .compacted = true}));
  std::unique_ptr<MonitorRegistry> registry(new MonitorRegistry(state, log));
  RETURN_IF_ERROR(registry->CatchUp().status());
  return registry;
}

Status MonitorRegistry::Append(const v1::Monitor& monitor, int64_t now_ms) {
  std::string event_id = "monitor:" + monitor.phone_pseudonym() + (monitor.removed() ? ":removed@" : "@") +
                         std::to_string(now_ms);
  RETURN_IF_ERROR(AppendReference(log_, schemas::topic::kMonitors, monitor.phone_pseudonym(), event_id, now_ms,
                                  [&](v1::Event& e) { *e.mutable_monitor() = monitor; }));
  return CatchUp().status();
}

Result<int64_t> MonitorRegistry::CatchUp() {
  std::lock_guard catching_up(catch_up_mu_);
  return CatchUpTopic(log_, state_, schemas::topic::kMonitors, [](const v1::Event& e, store::CommitBatch& batch) {
    if (!e.has_monitor()) return Status::Ok();
    const v1::Monitor& m = e.monitor();
    if (m.phone_pseudonym().size() != 32) return Status::Corruption("monitor record without a phone pseudonym");
    if (m.removed()) {
      batch.Delete(kStore, m.phone_pseudonym());
    } else {
      batch.Put(kStore, m.phone_pseudonym(), m.SerializeAsString());
    }
    return Status::Ok();
  });
}

std::string MonitorRegistry::NormalizePhone(std::string_view phone) {
  std::string out;
  for (size_t i = 0; i < phone.size(); ++i) {
    char c = phone[i];
    if (c >= '0' && c <= '9') {
      out.push_back(c);
    } else if (c == '+' && out.empty()) {
      out.push_back('+');
    }
  }
  if (out.starts_with("00")) out = "+" + out.substr(2);
  return out;
}

std::string MonitorRegistry::PhonePseudonym(std::string_view secret, std::string_view phone) {
  return HmacSha256Hex(secret, NormalizePhone(phone)).substr(0, 32);
}

std::string PrincipalPseudonym(std::string_view secret, std::string_view principal_name) {
  return HmacSha256Hex(secret, "principal:" + std::string(principal_name)).substr(0, 32);
}

Result<std::optional<v1::Monitor>> MonitorRegistry::FindById(std::string_view monitor_id) {
  std::optional<v1::Monitor> found;
  Status damaged;
  RETURN_IF_ERROR(state_.Scan(kStore, "", [&](std::string_view key, std::string_view value) {
    v1::Monitor m;
    if (!m.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      damaged = Status::Corruption("monitor record " + std::string(key) + " is damaged");
      return false;
    }
    if (m.monitor_id() != monitor_id) return true;
    found = std::move(m);
    return false;
  }));
  RETURN_IF_ERROR(damaged);
  return found;
}

Status MonitorRegistry::Register(const v1::Monitor& monitor, int64_t now_ms) {
  if (monitor.phone_pseudonym().size() != 32) return Status::InvalidArgument("monitor needs a phone pseudonym");
  v1::Monitor registered = monitor;
  registered.set_removed(false);
  return Append(registered, now_ms);
}

Status MonitorRegistry::Remove(std::string_view phone_pseudonym, int64_t now_ms) {
  if (phone_pseudonym.size() != 32) return Status::InvalidArgument("not a phone pseudonym: '" + std::string(phone_pseudonym) + "'");
  v1::Monitor removed;
  removed.set_phone_pseudonym(std::string(phone_pseudonym));
  removed.set_removed(true);
  return Append(removed, now_ms);
}

Result<std::optional<v1::Monitor>> MonitorRegistry::FindByPseudonym(std::string_view phone_pseudonym) {
  ASSIGN_OR_RETURN(std::optional<std::string> stored, state_.Get(kStore, phone_pseudonym));
  if (!stored) return std::optional<v1::Monitor>();
  v1::Monitor m;
  if (!m.ParseFromString(*stored)) return Status::Corruption("monitor record " + std::string(phone_pseudonym) + " is damaged");
  return std::optional<v1::Monitor>(std::move(m));
}

// --- RateLimiter ---

RateDecision RateLimiter::Take(std::string_view principal, int cost) {
  const int64_t now = clock_.NowMs();
  std::lock_guard lk(mu_);
  auto it = buckets_.find(std::string(principal));
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_tracked) {
      // Drop buckets that have refilled: forgetting them changes nothing.
      std::erase_if(buckets_, [&](const auto& kv) {
        return kv.second.tokens + (now - kv.second.updated_ms) / 1000.0 * options_.rate_per_second >= options_.burst;
      });
    }
    it = buckets_.emplace(std::string(principal), Bucket{options_.burst, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(options_.burst, b.tokens + std::max<int64_t>(0, now - b.updated_ms) / 1000.0 * options_.rate_per_second);
  b.updated_ms = now;
  if (b.tokens >= cost) {
    b.tokens -= cost;
    return {true, 0};
  }
  double missing = cost - b.tokens;
  int wait = static_cast<int>(std::ceil(missing / std::max(options_.rate_per_second, 1e-9)));
  return {false, std::max(1, wait)};
}

}  // namespace ewarn::ingest
