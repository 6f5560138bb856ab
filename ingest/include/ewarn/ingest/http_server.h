// ewarn::ingest::HttpServer: a small HTTP/1.1 server on Boost.Beast, with Beast kept out of this
// header so other modules (alerts acknowledgements, the duty-room map) can add routes.
//
// Hardened for the open network: a request must arrive whole within `request_timeout` (slow and
// half-open connections are closed), headers and bodies over their limits are answered 431/413
// without reading the rest, connections beyond `max_connections` (by default derived from the
// file-descriptor limit, so a flood of connections never starves the stores of descriptors)
// are shed at accept while the open ones are still served. Every answer carries the security
// headers below (a handler may replace any of them with its own). Handlers that
// may block run on a worker pool so a slow disk never stalls the network threads; handlers
// that never block (AddAsync: ingest's submissions, which answer when their group-committed
// append is durable) run on the network threads and hold no thread while they wait.
//
// Thread-safety: handlers are called concurrently from several threads; register every route
// before Start(). Stop() (or the destructor) closes the listener and every connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ewarn/base/status.h"

namespace prometheus {
class Registry;
}

namespace ewarn::ingest {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string, percent-decoded
  std::multimap<std::string, std::string> query;  // decoded ('+' is a space)
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote;  // peer address

  // The first value of header `name` (lower case), or "".
  std::string Header(std::string_view name) const;
  // The first value of query parameter `name`, or "".
  std::string Query(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // {"error": message, "field": field, "reason": reason} with `status`. `field` is left out
  // when empty; an empty `reason` becomes the status's generic one (DefaultReason).
  static HttpResponse Error(int status, std::string_view message, std::string_view field = "",
                            std::string_view reason = "");
};

// The stable `reason` code of an error answer that names none of its own: 400 bad_request,
// 401 unauthenticated, 403 forbidden, 404 not_found, 405 method_not_allowed, 409 conflict,
// 413 too_large, 429 rate_limited, 431 headers_too_large, 503 unavailable, 500 and others
// internal_error.
std::string_view DefaultReason(int status);

// Sent with every answer unless the handler sets a header of the same name: no framing by
// other sites, no MIME sniffing, no Referer leaving the page, and a CSP that allows nothing
// (JSON needs nothing; an HTML page sets its own policy for what it uses).
inline constexpr std::pair<std::string_view, std::string_view> kSecurityHeaders[] = {
    {"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
};

// A handler that may block (a disk read, a synchronous append): run on the worker pool.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;
// Answers a request; call it exactly once, from any thread.
using HttpRespond = std::function<void(HttpResponse)>;
// A handler that never blocks: run on a network thread, it answers through `respond`, at once
// or later (e.g. when its append is durable), so a waiting request holds no thread.
using AsyncHttpHandler = std::function<void(const HttpRequest&, HttpRespond respond)>;

class HttpRouter {
 public:
  // Exact path match for `method`. `name` labels metrics ("POST /v1/incidents").
  void Add(std::string method, std::string path, HttpHandler handler);
  void AddAsync(std::string method, std::string path, AsyncHttpHandler handler);
  // Paths starting with `prefix` (longest prefix wins over shorter ones; exact routes first).
  void AddPrefix(std::string method, std::string prefix, HttpHandler handler);
  // Called instead of a route when a body is over the limit; gets the request without its body
  // and the declared length. Default: a plain 413.
  void OnBodyTooLarge(std::function<HttpResponse(const HttpRequest&, uint64_t declared)> handler);
  // Replaces each blocking handler registered so far by wrap(handler), e.g. to turn a session
  // cookie into the Authorization header the handlers read. Asynchronous handlers (ingest's
  // submissions, the hot path) are left as they are.
  void WrapHandlers(const std::function<HttpHandler(HttpHandler)>& wrap);

  // The route for a request: exactly one of `handler`, `async_handler` is set, or neither and
  // `answer` holds the 404/405.
  struct Match {
    // For metrics: "POST /v1/incidents", "not_found", ...; lives as long as the router.
    std::string_view route;
    const HttpHandler* handler = nullptr;
    const AsyncHttpHandler* async_handler = nullptr;
    HttpResponse answer;
  };
  Match Find(const HttpRequest& request) const;

  // Finds the handler and runs it, waiting for an asynchronous one; 404/405 answers otherwise.
  // `route` gets the matched route's name. (Tests and in-process callers; the server uses Find.)
  HttpResponse Dispatch(const HttpRequest& request, std::string* route) const;
  HttpResponse BodyTooLarge(const HttpRequest& request, uint64_t declared) const;

 private:
  struct Route {
    std::string method, path;
    bool prefix = false;
    std::string name;  // "POST /v1/incidents", "GET /v1/risk/stations/*": built once, for metrics
    HttpHandler handler;
    AsyncHttpHandler async_handler;
  };
  std::vector<Route> routes_;
  std::function<HttpResponse(const HttpRequest&, uint64_t)> too_large_;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port, see HttpServer::port()
  size_t max_body_bytes = 256 << 10;
  size_t max_header_bytes = 16 << 10;
  // The whole request (headers and body) must arrive within this, and an idle keep-alive
  // connection is closed after it.
  std::chrono::milliseconds request_timeout{10000};
  // Connections served at once; more are closed at accept (shed) and counted. 0: derived from
  // the process's RLIMIT_NOFILE soft limit (ConnectionCap), so the stores, logs and Kafka keep
  // the descriptors they need however many clients connect.
  size_t max_connections = 0;
  // Network threads: they parse, run the asynchronous handlers (validation, encoding) and write.
  int io_threads = 1;
  // For blocking handlers (SMS, operators' reads, queries).
  int worker_threads = 16;
};

class HttpServer {
 public:
  // Binds and starts serving. Unavailable naming the address when it cannot bind.
  static Result<std::unique_ptr<HttpServer>> Start(HttpServerOptions options, HttpRouter router,
                                                   prometheus::Registry* metrics = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  // The connection cap in force (max_connections, or the one derived from the limit).
  size_t max_connections() const;
  // Stops accepting, closes connections and waits for the threads. Idempotent.
  void Stop();

  struct Impl;  // defined in http_server.cc only

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The HTTP/1.1 wire form of `response` into `out` (replacing its content): status line,
// Server and Content-Type (unless the response's headers name their own), the response's
// headers (CR and LF dropped from their values; Content-Length, Connection and
// Transfer-Encoding are the server's and skipped), Content-Length, "Connection: close" when
// `close_after`, then the body.
void FormatResponse(const HttpResponse& response, bool close_after, std::string* out);

// Raises the soft RLIMIT_NOFILE to the hard limit (call once at process start, before the
// stores open) and returns the soft limit now in force, or the error of getrlimit/setrlimit.
Result<uint64_t> RaiseFileDescriptorLimit();
// Descriptors kept for everything but HTTP connections (RocksDB files, the log's segments,
// Kafka sockets, stderr, the metrics listener): a quarter of `fd_limit`, at least 256.
uint64_t ReservedDescriptors(uint64_t fd_limit);
// Connections an HTTP server may hold under `fd_limit` descriptors: what the reserve leaves
// (at least 16, so a tiny limit still serves someone).
size_t ConnectionCap(uint64_t fd_limit);

// Splits "a=1&b=x+y%21" into decoded pairs (also used for form bodies).
std::multimap<std::string, std::string> ParseQuery(std::string_view query);
// The HTTP answer to a failed Status: PermissionDenied 401, FailedPrecondition 403, NotFound
// 404, InvalidArgument 400, Unavailable 503, anything else 500.
HttpResponse StatusToHttp(const Status& s);
// JSON string literal of `s` (quotes included), escaping what JSON requires.
std::string JsonString(std::string_view s);

}  // namespace ewarn::ingest
