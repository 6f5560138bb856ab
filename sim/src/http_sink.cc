// HttpSink: a small synchronous Boost.Beast client, one keep-alive connection per worker
// thread. Sync calls keep it simple; concurrency comes from the connections, which is also how
// field devices arrive at a real server.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "ewarn/sim/sink.h"
#include "ewarn/base/text.h"
#include "sink_internal.h"

namespace ewarn::sim {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Reply {
  int status = 0;
  std::string body;
  int retry_after = 0;
};


std::string_view PathOf(ingest::InputKind kind) {
  switch (kind) {
    case ingest::InputKind::kIncident: return "/v1/incidents";
    case ingest::InputKind::kHateSpeech: return "/v1/hate-speech";
    case ingest::InputKind::kTurnout: return "/v1/turnout";
    case ingest::InputKind::kKit: return "/v1/kit";
    case ingest::InputKind::kResult: return "/v1/results";
  }
  return "/";
}

}  // namespace

struct HttpSink::Impl {
  HttpSinkOptions options;
  tcp::resolver::results_type endpoints;

  struct Connection {
    net::io_context io;
    beast::tcp_stream stream{io};
    bool open = false;
  };
  std::vector<std::unique_ptr<Connection>> connections;

  // One exchange on `c`, reconnecting when the server closed the keep-alive connection.
  Result<Reply> Exchange(Connection& c, http::verb verb, const std::string& target, const std::string& token,
                         const std::string& body) {
    beast::error_code ec;
    if (!c.open) {
      c.stream.expires_after(std::chrono::seconds(10));
      c.stream.connect(endpoints, ec);
      if (ec) return Status::Unavailable("cannot connect to " + options.host + ":" + std::to_string(options.port) + ": " + ec.message());
      c.open = true;
    }
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, options.host);
    req.set(http::field::user_agent, "ewarn-simulate");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    c.stream.expires_after(std::chrono::seconds(60));
    http::write(c.stream, req, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    if (!ec) http::read(c.stream, buffer, res, ec);
    if (ec) {
      c.stream.socket().close(ec);
      c.open = false;
      return Status::Unavailable("HTTP exchange with " + options.host + " failed: " + ec.message());
    }
    if (!res.keep_alive()) {
      c.stream.socket().close(ec);
      c.open = false;
    }
    Reply r{static_cast<int>(res.result_int()), std::move(res.body()), 0};
    if (auto it = res.find("Retry-After"); it != res.end()) r.retry_after = std::atoi(std::string(it->value()).c_str());
    return r;
  }

  // Sends `request`, retrying transport failures, 429 and 503.
  Result<internal::Answer> Submit(Connection& c, const internal::Request& request, std::atomic<int64_t>& retries) {
    for (int attempt = 0;; ++attempt) {
      Result<Reply> reply = request.sms
          ? Exchange(c, http::verb::get,
                     "/v1/sms/kannel?from=" + UrlEncode(request.sms_from) + "&text=" + UrlEncode(request.body) +
                         "&id=" + UrlEncode(request.sms_id) + "&token=" + UrlEncode(request.token),
                     "", "")
          : Exchange(c, http::verb::post, std::string(PathOf(request.kind)), request.token, request.body);
      bool retry = !reply.ok() || reply->status == 429 || reply->status == 503;
      if (!retry) return Interpret(request, *reply);
      if (attempt >= options.max_retries) {
        if (!reply.ok()) return reply.status();
        return Interpret(request, *reply);
      }
      ++retries;
      int wait_ms = reply.ok() ? 100 + 1000 * std::min(reply->retry_after, 5) : 200;
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
  }

  static internal::Answer Interpret(const internal::Request& request, const Reply& reply) {
    internal::Answer a;
    a.status = reply.status;
    if (request.sms) {
      // Kannel's route answers 200 with the reply text for the sender.
      a.accepted = reply.status == 200 && reply.body.starts_with("ewarn: received");
      if (!a.accepted) a.reason = reply.status == 401 ? "unauthenticated" : "sms_refused";
      return a;
    }
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(reply.body, ec);
    const boost::json::object* o = !ec && v.is_object() ? &v.as_object() : nullptr;
    a.accepted = reply.status == 202;
    if (a.accepted) {
      if (o != nullptr && o->contains("duplicates") && o->at("duplicates").is_int64()) {
        a.duplicates = static_cast<int>(o->at("duplicates").as_int64());
      }
    } else if (o != nullptr && o->contains("reason") && o->at("reason").is_string()) {
      a.reason = std::string(o->at("reason").as_string());
    } else {
      a.reason = "http_" + std::to_string(reply.status);
    }
    return a;
  }
};

Result<std::unique_ptr<HttpSink>> HttpSink::Make(HttpSinkOptions options) {
  auto impl = std::make_unique<Impl>();
  net::io_context io;
  tcp::resolver resolver(io);
  beast::error_code ec;
  impl->endpoints = resolver.resolve(options.host, std::to_string(options.port), ec);
  if (ec) return Status::Unavailable("cannot resolve '" + options.host + "': " + ec.message());
  for (int i = 0; i < std::max(1, options.connections); ++i) {
    impl->connections.push_back(std::make_unique<Impl::Connection>());
  }
  impl->options = std::move(options);
  return std::unique_ptr<HttpSink>(new HttpSink(std::move(impl)));
}

HttpSink::HttpSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpSink::~HttpSink() = default;

Status HttpSink::Send(std::span<const SimEvent> events) {
  const Credentials& credentials = impl_->options.credentials;
  if (int64_t n = internal::Unsendable(events, credentials); n > 0) stats_.rejected["sms_phone_unregistered"] += n;
  std::vector<internal::Request> requests = internal::Requests(events, credentials);
  std::vector<internal::Answer> answers(requests.size());
  std::atomic<size_t> next{0};
  std::atomic<int64_t> retries{0};
  std::mutex mu;
  Status first_error;  // guarded by mu
  auto work = [&](Impl::Connection& c) {
    for (size_t i = next++; i < requests.size(); i = next++) {
      auto a = impl_->Submit(c, requests[i], retries);
      if (!a.ok()) {
        std::lock_guard lk(mu);
        if (first_error.ok()) first_error = a.status();
        return;
      }
      answers[i] = std::move(a).value();
    }
  };
  size_t threads = std::min(impl_->connections.size(), requests.size());
  if (threads <= 1) {
    if (!requests.empty()) work(*impl_->connections[0]);
  } else {
    std::vector<std::jthread> pool;
    for (size_t t = 0; t < threads; ++t) pool.emplace_back([&, t] { work(*impl_->connections[t]); });
  }
  stats_.retries += retries;
  RETURN_IF_ERROR(first_error);
  for (size_t i = 0; i < requests.size(); ++i) internal::Count(stats_, requests[i], answers[i]);
  return Status::Ok();
}

Status HttpSink::Tick(int64_t event_time_ms) {
  auto reply = impl_->Exchange(*impl_->connections[0], http::verb::post, "/v1/ticks",
                               impl_->options.credentials.operator_token,
                               "{\"time_ms\":" + std::to_string(event_time_ms) + "}");
  if (!reply.ok()) {  // one reconnect: the server may have closed an idle connection
    reply = impl_->Exchange(*impl_->connections[0], http::verb::post, "/v1/ticks",
                            impl_->options.credentials.operator_token,
                            "{\"time_ms\":" + std::to_string(event_time_ms) + "}");
  }
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return Status::FailedPrecondition("POST /v1/ticks answered " + std::to_string(reply->status) + ": " + reply->body);
  }
  ++stats_.sent["tick"];
  return Status::Ok();
}

}  // namespace ewarn::sim
