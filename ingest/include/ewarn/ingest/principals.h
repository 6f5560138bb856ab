// Who may submit: principals with bearer tokens (stored hashed), SMS monitors known by a keyed
// pseudonym of their phone number, and a per-principal rate limit.
//
// Tokens look like "ewt_<token_id>_<secret>"; only SHA-256(secret) is stored, so a copy of the
// data directory (or of the log) does not leak usable tokens. Phone numbers are never stored: a
// monitor is found by HMAC-SHA-256(node secret, normalized number). Thread-safe.
//
// The log is the truth: tokens live in the compacted topic ref.tokens, monitors in
// ref.monitors. Each registry is a view of its topic in a StateStore (with the offset it has
// read up to), so every node on one log knows the same principals: a change is appended to the
// topic, and CatchUp() applies what others appended (serve calls it every second).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/base/time.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"
#include "ewarn/v1/reference.pb.h"

namespace ewarn::ingest {

enum class Role { kMonitor, kLiaison, kDuty, kOperator, kGateway };

std::string_view RoleName(Role role);
// InvalidArgument listing the roles for anything else.
Result<Role> ParseRole(std::string_view name);

struct Principal {
  std::string name;
  Role role = Role::kMonitor;
  std::string area;  // area path it may write for; "" = everywhere
  std::string token_id;
  int64_t created_ms = 0;
  bool revoked = false;
};

// Does `principal_area` include `area_path`? Segment-wise prefix: "" covers all, "LAGOS"
// covers "LAGOS/IKEJA/X", "LAGOS/IKE" does not cover "LAGOS/IKEJA". Case-insensitive.
bool AreaCovers(std::string_view principal_area, std::string_view area_path);
// Monitors, gateways (relaying monitors' SMS) and operators submit reports; liaisons and the
// duty room read and acknowledge.
bool MayWrite(const Principal& principal);

class PrincipalRegistry {
 public:
  static constexpr std::string_view kStore = "principals";
  // `state` must have store kStore; `log` holds ref.tokens (created if missing). Both must
  // outlive the registry. Catches up with the topic once.
  static Result<std::unique_ptr<PrincipalRegistry>> Make(store::StateStore& state, store::EventLog& log);

  // A new token for `name` (AlreadyExists if an active token has that name), appended durably
  // to ref.tokens. The clear token is returned once and never stored. Two processes creating
  // one name at the same instant may both succeed (each checks what it has read): revoke one.
  Result<std::string> CreateToken(const std::string& name, Role role, const std::string& area, int64_t now_ms);
  // Revokes by name or token id (appended to ref.tokens). NotFound when neither matches an
  // active token.
  Status Revoke(std::string_view name_or_token_id, int64_t now_ms = 0);
  // The principal of an "Authorization" header value "Bearer ewt_...". InvalidArgument when
  // malformed, NotFound when unknown or revoked.
  Result<Principal> Authenticate(std::string_view authorization);
  Result<std::vector<Principal>> List();
  // Applies what ref.tokens holds beyond what this view has read; returns how many records.
  // Unavailable when the log cannot be read (the view keeps answering from what it has).
  Result<int64_t> CatchUp();

 private:
  PrincipalRegistry(store::StateStore& state, store::EventLog& log) : state_(state), log_(log) {}
  Status Append(const v1::Token& token, int64_t now_ms);
  store::StateStore& state_;
  store::EventLog& log_;
  std::mutex catch_up_mu_;  // one CatchUp at a time
  std::mutex mu_;
  std::unordered_map<std::string, Principal> verified_;  // full token -> principal
};

// The reporter pseudonym of a token principal that is not a registered monitor: hex
// HMAC-SHA-256(secret, "principal:" + name), 32 characters. The whole name is keyed (not the
// phone-number normalization, which keeps only digits), so distinct names are distinct
// reporters; the prefix keeps it apart from every phone pseudonym.
std::string PrincipalPseudonym(std::string_view secret, std::string_view principal_name);

class MonitorRegistry {
 public:
  static constexpr std::string_view kStore = "monitors";
  // `state` must have store kStore; `log` holds ref.monitors (created if missing). Both must
  // outlive the registry. Catches up with the topic once.
  static Result<std::unique_ptr<MonitorRegistry>> Make(store::StateStore& state, store::EventLog& log);

  // The keyed pseudonym of a phone number: hex HMAC-SHA-256(secret, normalized number), 32
  // characters. Normalized: digits with a leading '+'; "00" becomes '+'; spaces, dashes,
  // dots and brackets are dropped.
  static std::string PhonePseudonym(std::string_view secret, std::string_view phone);
  static std::string NormalizePhone(std::string_view phone);

  // Registers (or replaces) a monitor, appended durably to ref.monitors keyed by its
  // phone_pseudonym, which must be set.
  Status Register(const v1::Monitor& monitor, int64_t now_ms = 0);
  Status Remove(std::string_view phone_pseudonym, int64_t now_ms = 0);
  Result<std::optional<v1::Monitor>> FindByPseudonym(std::string_view phone_pseudonym);
  Result<std::optional<v1::Monitor>> FindByPhone(std::string_view secret, std::string_view phone) {
    return FindByPseudonym(PhonePseudonym(secret, phone));
  }
  // The monitor registered with this monitor_id (`ewarn monitor add --name`), if any. A scan:
  // asked once per principal (the Ingestor keeps the answer).
  Result<std::optional<v1::Monitor>> FindById(std::string_view monitor_id);
  // Applies what ref.monitors holds beyond what this view has read; returns how many records.
  Result<int64_t> CatchUp();

 private:
  MonitorRegistry(store::StateStore& state, store::EventLog& log) : state_(state), log_(log) {}
  Status Append(const v1::Monitor& monitor, int64_t now_ms);
  store::StateStore& state_;
  store::EventLog& log_;
  std::mutex catch_up_mu_;
};

struct RateLimiterOptions {
  double rate_per_second = 20;
  double burst = 200;
  size_t max_tracked = 100000;  // idle buckets are dropped beyond this
};

struct RateDecision {
  bool allowed = true;
  int retry_after_seconds = 0;
};

// Token buckets per principal on an injected clock.
class RateLimiter {
 public:
  RateLimiter(RateLimiterOptions options, const Clock& clock) : options_(options), clock_(clock) {}
  RateDecision Take(std::string_view principal, int cost = 1);

 private:
  struct Bucket {
    double tokens;
    int64_t updated_ms;
  };
  RateLimiterOptions options_;
  const Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace ewarn::ingest
