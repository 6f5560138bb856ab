// Blocking calls built from Beast's async operations on a private io_context, so every step
// has a deadline (tcp_stream::expires_after) without a thread per timer.
#include "http_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <openssl/ssl.h>

namespace ewarn::alerts {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

Status Failed(std::string_view step, const Url& url, const beast::error_code& ec) {
  std::string what = ec == beast::error::timeout ? "timed out" : ec.message();
  return Status::Unavailable(std::string(step) + " " + url.host + ":" + url.port + ": " + what);
}

// Runs the io_context until the operations started on it finish. tcp_stream's expiry closes
// the socket when a deadline passes, so this cannot block past the timeouts.
template <typename Stream>
Result<HttpResponse> Exchange(net::io_context& ioc, Stream& stream, beast::tcp_stream& lowest,
                              const Url& url, const HttpRequest& request, const Timeouts& timeouts,
                              const std::function<void(std::function<void(beast::error_code)>)>& handshake) {
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  tcp::resolver::results_type endpoints;
  resolver.async_resolve(url.host, url.port, [&](beast::error_code e, tcp::resolver::results_type r) {
    ec = e;
    endpoints = std::move(r);
  });
  // Name resolution is the one step without a deadline: asio runs getaddrinfo on a helper
  // thread that cannot be interrupted. Liaison endpoints are few and their names cached by the
  // system resolver; an IP-literal URL avoids the question entirely.
  ioc.run();
  if (ec) return Failed("resolve", url, ec);

  lowest.expires_after(timeouts.connect);
  ioc.restart();
  lowest.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  ioc.run();
  if (ec) return Failed("connect", url, ec);

  lowest.expires_after(timeouts.io);
  if (handshake) {
    ioc.restart();
    handshake([&](beast::error_code e) { ec = e; });
    ioc.run();
    if (ec) return Failed("tls handshake", url, ec);
  }

  http::request<http::string_body> req;
  req.method(http::string_to_verb(request.method));
  req.target(url.target);
  req.version(11);
  req.set(http::field::host, HostHeader(url));
  req.set(http::field::user_agent, "ewarn-delivery/1");
  req.set(http::field::connection, "close");
  for (const auto& [k, v] : request.headers) req.set(k, v);
  if (!request.body.empty() || request.method == "POST") {
    req.body() = request.body;
    req.prepare_payload();
  }

  ioc.restart();
  http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e; });
  ioc.run();
  if (ec) return Failed("write to", url, ec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  ioc.restart();
  http::async_read(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
  ioc.run();
  if (ec) return Failed("read from", url, ec);
  HttpResponse out;
  out.status = static_cast<int>(parser.get().result_int());
  out.body = std::move(parser.get().body());
  return out;
}

}  // namespace

Result<Url> ParseUrl(std::string_view s) {
  Url url;
  std::string_view rest;
  if (s.starts_with("http://")) {
    rest = s.substr(7);
  } else if (s.starts_with("https://")) {
    rest = s.substr(8);
    url.tls = true;
  } else {
    return Status::InvalidArgument("not an http(s) URL: '" + std::string(s) + "'");
  }
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (url.target.front() == '?') url.target.insert(0, "/");
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    url.host = std::string(authority.substr(0, colon));
    url.port = std::string(authority.substr(colon + 1));
  } else {
    url.host = std::string(authority);
    url.port = url.tls ? "443" : "80";
  }
  if (url.host.size() > 2 && url.host.front() == '[') url.host = url.host.substr(1, url.host.size() - 2);
  if (url.host.empty() || url.port.empty() ||
      url.port.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("bad host or port in URL '" + std::string(s) + "'");
  }
  return url;
}

std::string HostHeader(const Url& url) {
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (url.port != (url.tls ? "443" : "80")) host += ":" + url.port;
  return host;
}

namespace {

Result<HttpResponse> FetchOnce(const HttpRequest& request, const Timeouts& timeouts) {
  ASSIGN_OR_RETURN(Url url, ParseUrl(request.url));
  net::io_context ioc;
  if (!url.tls) {
    beast::tcp_stream stream(ioc);
    return Exchange(ioc, stream, stream, url, request, timeouts, nullptr);
  }
  ssl::context ctx(ssl::context::tls_client);
  beast::error_code ec;
  if (request.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
  } else {
    ctx.load_verify_file(request.ca_file, ec);
  }
  if (ec) return Status::InvalidArgument("TLS: cannot load CAs '" + request.ca_file + "': " + ec.message());
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
    return Status::InvalidArgument("TLS: bad server name '" + url.host + "'");
  }
  stream.set_verify_callback(ssl::host_name_verification(url.host));
  return Exchange(ioc, stream, beast::get_lowest_layer(stream), url, request, timeouts,
                  [&](std::function<void(beast::error_code)> done) {
                    stream.async_handshake(ssl::stream_base::client, std::move(done));
                  });
}

}  // namespace

Result<HttpResponse> Fetch(const HttpRequest& request, const Timeouts& timeouts) {
  // Asio reports a failure to get a descriptor for its own machinery (the io_context's eventfd,
  // a socket) as an exception; out of descriptors is a reason to retry later, never to end
  // the process.
  try {
    return FetchOnce(request, timeouts);
  } catch (const boost::system::system_error& e) {
    return Status::Unavailable("http client: " + std::string(e.what()));
  }
}

SendOutcome OutcomeOf(const Result<HttpResponse>& response) {
  if (!response.ok()) {
    if (response.status().code() == StatusCode::kUnavailable) {
      return SendOutcome::Retryable(response.status().message());
    }
    return SendOutcome::Permanent(response.status().message());
  }
  int code = response->status;
  if (code >= 200 && code < 300) return SendOutcome::Sent(code);
  std::string body = response->body.substr(0, 200);
  std::string error = "HTTP " + std::to_string(code) + (body.empty() ? "" : ": " + body);
  if (code == 408 || code == 425 || code == 429 || code >= 500) {
    return SendOutcome::Retryable(std::move(error), code);
  }
  return SendOutcome::Permanent(std::move(error), code);
}

}  // namespace ewarn::alerts
