// HttpServer on Boost.Beast: one acceptor, sessions on strands, blocking handlers on a worker
// pool, asynchronous ones on the network threads.
//
// Why asynchronous submissions: each waits for its append to be durable (an fsync, or a Kafka
// acknowledgement). Parking a thread per waiting request costs two context switches per request
// and caps concurrency at the pool size; answering from the log's completion callback instead
// lets any number of requests share one group-committed fsync.
#include "ewarn/ingest/http_server.h"
#include "ewarn/base/text.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

namespace ewarn::ingest {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);  // a stray '%' stays as it is
    }
  }
  return out;
}

}  // namespace

std::multimap<std::string, std::string> ParseQuery(std::string_view query) {
  std::multimap<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

std::string JsonString(std::string_view s) { return JsonQuote(s); }

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

std::string HttpRequest::Query(std::string_view name) const {
  auto it = query.find(std::string(name));
  return it == query.end() ? "" : it->second;
}

HttpResponse HttpResponse::Error(int status, std::string_view message, std::string_view field,
                                 std::string_view reason) {
  HttpResponse r;
  r.status = status;
  r.body = "{\"error\":" + JsonString(message);
  if (!field.empty()) r.body += ",\"field\":" + JsonString(field);
  r.body += ",\"reason\":" + JsonString(reason.empty() ? DefaultReason(status) : reason) + "}";
  return r;
}

std::string_view DefaultReason(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthenticated";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "too_large";
    case 429: return "rate_limited";
    case 431: return "headers_too_large";
    case 503: return "unavailable";
    default: return "internal_error";
  }
}

Result<uint64_t> RaiseFileDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return Status::IOError("getrlimit(RLIMIT_NOFILE) failed");
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      return Status::IOError("cannot raise RLIMIT_NOFILE from " + std::to_string(limit.rlim_cur) + " to " +
                             std::to_string(limit.rlim_max));
    }
    limit = raised;
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

uint64_t ReservedDescriptors(uint64_t fd_limit) { return std::max<uint64_t>(256, fd_limit / 4); }

size_t ConnectionCap(uint64_t fd_limit) {
  uint64_t reserved = ReservedDescriptors(fd_limit);
  uint64_t left = fd_limit > reserved ? fd_limit - reserved : 0;
  return static_cast<size_t>(std::max<uint64_t>(16, left));
}

void HttpRouter::Add(std::string method, std::string path, HttpHandler handler) {
  std::string name = method + " " + path;
  routes_.push_back({std::move(method), std::move(path), false, std::move(name), std::move(handler), nullptr});
}

void HttpRouter::AddAsync(std::string method, std::string path, AsyncHttpHandler handler) {
  std::string name = method + " " + path;
  routes_.push_back({std::move(method), std::move(path), false, std::move(name), nullptr, std::move(handler)});
}

void HttpRouter::AddPrefix(std::string method, std::string prefix, HttpHandler handler) {
  std::string name = method + " " + prefix + "*";
  routes_.push_back({std::move(method), std::move(prefix), true, std::move(name), std::move(handler), nullptr});
}

void HttpRouter::OnBodyTooLarge(std::function<HttpResponse(const HttpRequest&, uint64_t)> handler) {
  too_large_ = std::move(handler);
}

void HttpRouter::WrapHandlers(const std::function<HttpHandler(HttpHandler)>& wrap) {
  for (auto& r : routes_) {
    if (r.handler) r.handler = wrap(std::move(r.handler));
  }
}

HttpRouter::Match HttpRouter::Find(const HttpRequest& request) const {
  const Route* best = nullptr;
  bool path_known = false;
  std::string allowed;  // the methods served on this path, for a 405's Allow header
  for (const auto& r : routes_) {
    bool matches = r.prefix ? request.path.starts_with(r.path) : request.path == r.path;
    if (!matches) continue;
    path_known = true;
    if (allowed.find(r.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + r.method;
    if (r.method != request.method) continue;
    if (best == nullptr || (best->prefix && !r.prefix) ||
        (best->prefix == r.prefix && r.path.size() > best->path.size())) {
      best = &r;
    }
  }
  Match m;
  if (best == nullptr) {
    m.route = path_known ? "method_not_allowed" : "not_found";
    if (path_known) {
      m.answer = HttpResponse::Error(405, "method " + request.method + " not allowed on " + request.path +
                                              "; allowed: " + allowed);
      m.answer.headers.emplace_back("Allow", allowed);
    } else {
      m.answer = HttpResponse::Error(404, "no such endpoint: " + request.path);
    }
    return m;
  }
  m.route = best->name;
  if (best->async_handler) {
    m.async_handler = &best->async_handler;
  } else {
    m.handler = &best->handler;
  }
  return m;
}

namespace {

// Appends a header line; CR and LF in a handler's value are dropped, so no value can start a
// header or a response of its own.
void AppendHeader(std::string_view name, std::string_view value, std::string* out) {
  out->append(name).append(": ");
  for (char c : value) {
    if (c != '\r' && c != '\n') out->push_back(c);
  }
  out->append("\r\n");
}

// Handlers return errors as values; an exception here is a bug, answered, not fatal.
HttpResponse InternalError(const std::exception& e) {
  return HttpResponse::Error(500, std::string("internal error: ") + e.what());
}

}  // namespace

void FormatResponse(const HttpResponse& response, bool close_after, std::string* out) {
  auto status = static_cast<http::status>(response.status);
  std::string_view reason = http::obsolete_reason(status);
  out->clear();
  out->reserve(160 + response.body.size());
  out->append("HTTP/1.1 ").append(std::to_string(response.status)).append(" ").append(reason).append("\r\n");
  // A handler's own Server or Content-Type replaces the default; the framing headers
  // (Content-Length, Connection) are the server's alone.
  auto named = [](std::string_view a, std::string_view b) { return beast::iequals(a, b); };
  auto handler_sets = [&](std::string_view name) {
    return std::any_of(response.headers.begin(), response.headers.end(),
                       [&](const auto& h) { return named(h.first, name); });
  };
  if (!handler_sets("Server")) AppendHeader("Server", "ewarn", out);
  if (!handler_sets("Content-Type")) AppendHeader("Content-Type", response.content_type, out);
  for (const auto& [name, value] : kSecurityHeaders) {
    if (!handler_sets(name)) AppendHeader(name, value, out);
  }
  for (const auto& [name, value] : response.headers) {
    if (named(name, "Content-Length") || named(name, "Connection") || named(name, "Transfer-Encoding")) continue;
    AppendHeader(name, value, out);
  }
  // Answers without a body by definition (RFC 9110 §6.4.1) carry no length.
  if (response.status >= 200 && response.status != 204 && response.status != 304) {
    AppendHeader("Content-Length", std::to_string(response.body.size()), out);
  }
  if (close_after) AppendHeader("Connection", "close", out);
  out->append("\r\n").append(response.body);
}

HttpResponse HttpRouter::Dispatch(const HttpRequest& request, std::string* route) const {
  Match m = Find(request);
  *route = std::string(m.route);
  try {
    if (m.handler != nullptr) return (*m.handler)(request);
    if (m.async_handler != nullptr) {
      std::promise<HttpResponse> answered;
      auto ready = answered.get_future();
      (*m.async_handler)(request, [&answered](HttpResponse r) { answered.set_value(std::move(r)); });
      return ready.get();
    }
  } catch (const std::exception& e) {
    return InternalError(e);
  }
  return m.answer;
}

HttpResponse HttpRouter::BodyTooLarge(const HttpRequest& request, uint64_t declared) const {
  if (too_large_) return too_large_(request, declared);
  return HttpResponse::Error(413, "request body of " + std::to_string(declared) + " bytes is over the limit");
}

// --- the server ---

struct HttpMetrics {
  prometheus::Family<prometheus::Counter>* responses = nullptr;
  prometheus::Family<prometheus::Histogram>* latency = nullptr;
  prometheus::Counter* refused = nullptr;

  explicit HttpMetrics(prometheus::Registry* registry) {
    if (registry == nullptr) return;
    responses = &prometheus::BuildCounter()
                     .Name("ewarn_http_responses_total")
                     .Help("HTTP responses by route and status code")
                     .Register(*registry);
    latency = &prometheus::BuildHistogram()
                   .Name("ewarn_http_request_duration_seconds")
                   .Help("Time from a whole request read to its response ready, by route")
                   .Register(*registry);
    refused = &prometheus::BuildCounter()
                   .Name("ewarn_http_connections_refused_total")
                   .Help("Connections shed at accept: max_connections were open, or no descriptor was left")
                   .Register(*registry)
                   .Add({});
  }
  // `route` must outlive the server (a router's route name or a literal): series are kept by it.
  void Observe(std::string_view route, int status, double seconds) {
    if (responses == nullptr) return;
    // Families look series up by a label map; routes and codes are few, so their series are
    // kept here once found rather than looked up (a map built and hashed) per request.
    prometheus::Counter* counter;
    prometheus::Histogram* histogram;
    {
      std::lock_guard lk(mu);
      auto [c, new_counter] = counters.try_emplace({route, status});
      if (new_counter) c->second = &responses->Add({{"route", std::string(route)}, {"code", std::to_string(status)}});
      auto [h, new_histogram] = histograms.try_emplace(route);
      if (new_histogram) {
        h->second = &latency->Add({{"route", std::string(route)}}, prometheus::Histogram::BucketBoundaries{
                                                          0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                          0.25, 0.5, 1, 2.5});
      }
      counter = c->second;
      histogram = h->second;
    }
    counter->Increment();
    histogram->Observe(seconds);
  }

  std::mutex mu;  // guards counters and histograms
  std::map<std::pair<std::string_view, int>, prometheus::Counter*> counters;
  std::map<std::string_view, prometheus::Histogram*> histograms;
};

namespace {
class Session;

// Closes connections whose request or answer is overdue. One coarse periodic sweep instead of a
// timer armed and cancelled around every read and write (Beast's tcp_stream does that: a
// timer-queue insert and a cancelled handler per operation, 6% of the network thread).
// A connection is closed between `timeout` and `timeout` plus one tick after its deadline.
class DeadlineSweep {
 public:
  using Clock = std::chrono::steady_clock;
  static int64_t Now() { return Clock::now().time_since_epoch().count(); }

  void Add(Session* s) {
    std::lock_guard lk(mu_);
    sessions_.insert(s);
  }
  // Called by a session's destructor; afterwards the sweep no longer touches it.
  void Remove(Session* s) {
    std::lock_guard lk(mu_);
    sessions_.erase(s);
  }
  // Sessions past their deadline at `now`, held alive for the caller to close.
  std::vector<std::shared_ptr<Session>> Overdue(int64_t now);

 private:
  std::mutex mu_;
  std::unordered_set<Session*> sessions_;
};
}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpRouter router;
  HttpMetrics metrics;
  // Declared before the io_context: handlers it still holds when destroyed end sessions,
  // which count themselves out here.
  std::atomic<size_t> connections{0};
  std::atomic<bool> stopped{false};
  // Asynchronous handlers called and not yet answered; Stop waits for them, since their
  // answers come from threads (the log's) that outlive the server.
  std::mutex pending_mu;
  std::condition_variable pending_cv;
  size_t pending = 0;
  DeadlineSweep deadlines;
  size_t max_connections = 0;  // in force: the option's, or ConnectionCap of the fd limit
  uint64_t fd_limit = 0;       // RLIMIT_NOFILE's soft limit when the server started
  // Shedding is logged at most once per kShedLogEvery, with the count since the last line, so
  // a flood cannot fill the disk with log lines. Touched only by the accept handler, of which
  // one at a time is in flight (Accept is re-armed from it).
  uint64_t shed_unlogged = 0;
  std::optional<std::chrono::steady_clock::time_point> shed_logged_at;  // none yet: the first is logged
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  net::steady_timer sweep_timer{ioc};
  net::steady_timer accept_retry{ioc};  // after accept fails for want of descriptors
  std::unique_ptr<net::thread_pool> workers;
  std::vector<std::thread> io_threads;
  uint16_t port = 0;

  Impl(HttpServerOptions o, HttpRouter r, prometheus::Registry* registry)
      : options(std::move(o)), router(std::move(r)), metrics(registry) {}
  void Accept();
  void Sweep();
  void Shed(std::string_view why);
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // The read buffer holds a whole header of up to max_header_bytes, and some, so the parser's
  // header limit (431) is what an oversize header meets, not the buffer's size.
  Session(tcp::socket socket, HttpServer::Impl* server)
      : socket_(std::move(socket)), buffer_(server->options.max_header_bytes + 4096), server_(server) {
    ++server_->connections;
    beast::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  ~Session() {
    server_->deadlines.Remove(this);
    --server_->connections;
  }

  void Start() {
    server_->deadlines.Add(this);
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

  bool Overdue(int64_t now) const {
    int64_t d = deadline_.load(std::memory_order_relaxed);
    return d != 0 && now >= d;
  }
  // From the sweep: closes the connection if it is still overdue once on its strand (it may
  // have finished reading meanwhile).
  void Expire() {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      if (self->Overdue(DeadlineSweep::Now())) self->Close();
    });
  }

 private:
  // Headers first, then the body. The declared Content-Length is checked here, after the
  // header is complete: Beast's own body_limit check fires inside the header parser, where
  // content_length() may not be asked yet (it asserts is_header_done()), so the parser's limit
  // is lifted for the header and set again for the body (chunked bodies over it still fail).
  void Read() {
    parser_.emplace();
    parser_->body_limit(boost::none);
    parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
    SetDeadline();
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnRead(ec);
    const uint64_t limit = server_->options.max_body_bytes;
    if (auto declared = parser_->content_length(); declared && *declared > limit) {
      return Handle(ToRequest(false), /*close_after=*/true, *declared);
    }
    parser_->body_limit(limit);
    if (parser_->is_done()) return OnRead({});
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  HttpRequest ToRequest(bool with_body) {
    auto& msg = parser_->get();
    HttpRequest r;
    r.method = std::string(msg.method_string());
    std::string_view target(msg.target().data(), msg.target().size());
    size_t q = target.find('?');
    r.path = PercentDecode(target.substr(0, q), false);
    if (q != std::string_view::npos) r.query = ParseQuery(target.substr(q + 1));
    for (const auto& field : msg) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      r.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    if (with_body) r.body = std::move(msg.body());
    r.remote = remote_;
    return r;
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof) return Close();
    if (!socket_.is_open()) return;  // closed by the deadline sweep (slow or half-open) or Stop
    if (ec == http::error::body_limit) {
      // A chunked body that grew past the limit (a declared length was checked in OnHeader);
      // its real size is unknown, so it is reported as one byte over.
      return Handle(ToRequest(false), /*close_after=*/true, server_->options.max_body_bytes + 1);
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return Write(HttpResponse::Error(431, "request headers are over the limit of " +
                                                std::to_string(server_->options.max_header_bytes) + " bytes"),
                   "header_limit", 0, true);
    }
    if (ec) {
      if (ec == net::error::operation_aborted || ec == net::error::connection_reset) return Close();
      return Write(HttpResponse::Error(400, "malformed HTTP request: " + ec.message()), "malformed", 0, true);
    }
    bool keep_alive = parser_->get().keep_alive();
    Handle(ToRequest(true), !keep_alive, std::nullopt);
  }

  // Runs the handler (an asynchronous one here, a blocking one on the worker pool) and writes
  // its answer on this connection's strand.
  void Handle(HttpRequest request, bool close_after, std::optional<uint64_t> too_large) {
    deadline_.store(0, std::memory_order_relaxed);  // the answer may wait on a durable append
    auto started = std::chrono::steady_clock::now();
    HttpRouter::Match match;
    if (!too_large) match = server_->router.Find(request);
    auto respond = [self = shared_from_this(), route = too_large ? std::string_view("body_limit") : match.route, started,
                    close_after](HttpResponse response) {
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      net::post(self->socket_.get_executor(), [self, response = std::move(response), route, seconds,
                                               close_after]() mutable {
        self->Write(std::move(response), route, seconds, close_after);
      });
    };
    if (match.async_handler != nullptr) {
      if (server_->stopped) return respond(HttpResponse::Error(503, "the server is stopping; retry shortly"));
      {
        std::lock_guard lk(server_->pending_mu);
        ++server_->pending;
      }
      auto req = std::make_shared<const HttpRequest>(std::move(request));
      auto answer = [req, respond, server = server_](HttpResponse r) {
        respond(std::move(r));
        std::lock_guard lk(server->pending_mu);
        if (--server->pending == 0) server->pending_cv.notify_all();
      };
      try {
        (*match.async_handler)(*req, answer);  // a copy: the catch below may still need it
      } catch (const std::exception& e) {
        answer(InternalError(e));
      }
      return;
    }
    if (match.handler == nullptr && !too_large) return respond(std::move(match.answer));
    net::post(*server_->workers, [self = shared_from_this(), request = std::move(request), handler = match.handler,
                                  too_large, respond = std::move(respond)]() mutable {
      HttpResponse response;
      try {
        response = too_large ? self->server_->router.BodyTooLarge(request, *too_large) : (*handler)(request);
      } catch (const std::exception& e) {
        response = InternalError(e);
      }
      respond(std::move(response));
    });
  }

  // The answer is formatted into one buffer the session keeps and sent with one write: Beast's
  // generic serializer (a header container and a chain of buffer views per response) was a
  // tenth of the network thread's time for these small answers.
  void Write(HttpResponse response, std::string_view route, double seconds, bool close_after) {
    server_->metrics.Observe(route, response.status, seconds);
    FormatResponse(response, close_after, &out_);
    SetDeadline();
    net::async_write(socket_, net::buffer(out_), [self = shared_from_this(), close_after](beast::error_code ec, size_t) {
      if (ec || close_after) return self->Close();
      self->Read();
    });
  }

  void Close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
  }

  void SetDeadline() {
    deadline_.store(DeadlineSweep::Now() + std::chrono::duration_cast<DeadlineSweep::Clock::duration>(
                                               server_->options.request_timeout)
                                               .count(),
                    std::memory_order_relaxed);
  }

  tcp::socket socket_;  // its executor is this connection's strand
  // Steady-clock ticks by which the request being read (or the answer being written) must be
  // done; 0 while a handler works on the request. Read by the sweep from any thread.
  std::atomic<int64_t> deadline_{0};
  beast::flat_buffer buffer_;
  std::string out_;  // the answer being written (reused: no allocation per answer)
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl* server_;
  std::string remote_;
};

}  // namespace

std::vector<std::shared_ptr<Session>> DeadlineSweep::Overdue(int64_t now) {
  std::vector<std::shared_ptr<Session>> out;
  std::lock_guard lk(mu_);
  for (Session* s : sessions_) {
    // A session whose destructor has begun is still registered until Remove; lock() then
    // yields nothing, and the destructor waits for mu_ before the session is freed.
    if (!s->Overdue(now)) continue;
    if (auto alive = s->weak_from_this().lock()) out.push_back(std::move(alive));
  }
  return out;
}

void HttpServer::Impl::Sweep() {
  auto tick = std::clamp<std::chrono::milliseconds>(options.request_timeout / 4, std::chrono::milliseconds(10),
                                                    std::chrono::milliseconds(1000));
  sweep_timer.expires_after(tick);
  sweep_timer.async_wait([this](beast::error_code ec) {
    if (ec || stopped) return;
    // Released outside the sweep's lock: the last reference may end a session, whose
    // destructor takes that lock.
    for (auto& s : deadlines.Overdue(DeadlineSweep::Now())) s->Expire();
    Sweep();
  });
}

constexpr auto kShedLogEvery = std::chrono::seconds(10);

void HttpServer::Impl::Shed(std::string_view why) {
  if (metrics.refused != nullptr) metrics.refused->Increment();
  ++shed_unlogged;
  auto now = std::chrono::steady_clock::now();
  if (shed_logged_at && now - *shed_logged_at < kShedLogEvery) return;
  // Counts only: nothing of the request (its target may hold a ?token=) is read or logged.
  std::fprintf(stderr,
               "ewarn http: shed %llu new connection(s) (%.*s); %zu open, cap %zu of RLIMIT_NOFILE %llu; "
               "open connections are still served\n",
               static_cast<unsigned long long>(shed_unlogged), static_cast<int>(why.size()), why.data(),
               connections.load(), max_connections, static_cast<unsigned long long>(fd_limit));
  shed_unlogged = 0;
  shed_logged_at = now;
}

void HttpServer::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopped || ec == net::error::operation_aborted) return;
    if (ec == net::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system) {
      // The connection waits in the backlog; accepting again at once would spin. Retry shortly,
      // by when a connection or a store may have given a descriptor back.
      Shed("no file descriptor to accept with");
      accept_retry.expires_after(std::chrono::milliseconds(50));
      accept_retry.async_wait([this](beast::error_code e) {
        if (!e && !stopped) Accept();
      });
      return;
    }
    if (!ec && connections.load() >= max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
      Shed("at the connection cap");
    } else if (!ec) {
      std::make_shared<Session>(std::move(socket), this)->Start();
    }
    Accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options, HttpRouter router,
                                                      prometheus::Registry* metrics) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(router), metrics);
  const std::string where = impl->options.host + ":" + std::to_string(impl->options.port);
  beast::error_code ec;
  auto address = net::ip::make_address(impl->options.host, ec);
  if (ec) return Status::InvalidArgument("cannot listen on " + where + ": bad address: " + ec.message());
  tcp::endpoint endpoint(address, impl->options.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  rlimit limit{};
  impl->fd_limit = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? std::min<uint64_t>(limit.rlim_cur, 1 << 20) : 1024;
  impl->max_connections =
      impl->options.max_connections > 0 ? impl->options.max_connections : ConnectionCap(impl->fd_limit);
  impl->workers = std::make_unique<net::thread_pool>(std::max(1, impl->options.worker_threads));
  impl->Accept();
  impl->Sweep();
  for (int i = 0; i < std::max(1, impl->options.io_threads); ++i) {
    impl->io_threads.emplace_back([io = &impl->ioc] {
      pthread_setname_np(pthread_self(), "ewarn-http");  // for top -H and profiles
      io->run();
    });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->port; }

size_t HttpServer::max_connections() const { return impl_->max_connections; }

void HttpServer::Stop() {
  if (impl_->stopped.exchange(true)) return;
  net::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->sweep_timer.cancel();
    impl_->accept_retry.cancel();
  });
  // Handlers in flight finish (their appends complete); then the network threads stop.
  impl_->workers->join();
  {
    std::unique_lock lk(impl_->pending_mu);
    impl_->pending_cv.wait(lk, [&] { return impl_->pending == 0; });
  }
  impl_->ioc.stop();
  for (auto& t : impl_->io_threads) t.join();
}

HttpServer::~HttpServer() { Stop(); }

}  // namespace ewarn::ingest
