// Duty-room sessions: a browser signs in once with its token and from then on carries an
// HttpOnly, SameSite=Strict cookie instead, so the token never sits in a URL, the page's
// script or its history.
//
// The cookie is the token itself, sealed with AES-256-GCM under a key derived from the node's
// secret (DIR/secret) together with its expiry: any node of a cluster opens it (they share the
// secret, DESIGN §8), nothing is stored per session, and revoking the token ends every session
// made from it at once (each request still authenticates the token). A copy of the cookie
// shows neither the token nor, after its expiry, anything usable.
//
// Thread-safe: SessionCodec is immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ewarn/base/status.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"

namespace ewarn::app {

inline constexpr std::string_view kSessionCookie = "ewarn_session";
// A duty shift.
inline constexpr int64_t kSessionLifetimeMs = 8LL * 3600 * 1000;

class SessionCodec {
 public:
  // `node_secret`: the node's secret bytes; the key is derived from it, never used raw.
  explicit SessionCodec(std::string_view node_secret);

  // The cookie value carrying `token` until `expires_ms` (base64url, no padding).
  std::string Seal(std::string_view token, int64_t expires_ms) const;
  // The token in a cookie value. PermissionDenied when it does not open (forged, damaged, made
  // by another key) or has expired at `now_ms`.
  Result<std::string> Open(std::string_view cookie, int64_t now_ms) const;

 private:
  unsigned char key_[32];
};

// The value of cookie `name` in the request's Cookie headers, or "".
std::string CookieValue(const ingest::HttpRequest& request, std::string_view name);

// A handler that reads the session cookie when the request has no Authorization header, and
// hands `inner` the request with "Authorization: Bearer <token>" added. A missing, bad or
// expired cookie passes the request on unchanged, so `inner` answers 401 as for no token. A
// state-changing request (not GET/HEAD) whose Origin header names another site is refused 403
// before `inner` runs, on top of SameSite=Strict.
ingest::HttpHandler WithSession(const SessionCodec& codec, const Clock& clock, ingest::HttpHandler inner);

// The principal of an Authorization header value who may use the duty room: duty and operator
// tokens (everything), liaison tokens (their area). 401 unknown token, 403 other roles.
Result<ingest::Principal> DutyRoomReader(ingest::Ingestor& ingestor, std::string_view authorization);

// Registers the sign-in API (`codec`, `clock` and `ingestor` must outlive the router):
//   POST   /v1/session {"token":"ewt_..."}  -> 200 {"name","role","area","expires_at"} and the cookie;
//                                             401 unknown token, 403 a monitor or gateway token
//   GET    /v1/session                       -> who the cookie (or bearer token) is; 401 otherwise
//   DELETE /v1/session                       -> 200, the cookie cleared (sign-out)
void AddSessionRoutes(ingest::HttpRouter& router, const SessionCodec& codec, const Clock& clock,
                      ingest::Ingestor& ingestor);

}  // namespace ewarn::app
