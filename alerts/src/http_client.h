// A small blocking HTTP/1.1 client on Boost.Beast for the channels: one request per
// connection, connect and exchange deadlines, http:// and https:// (OpenSSL, peer verified
// against the system's CA store). Private to alerts/.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ewarn/base/text.h"

#include "ewarn/alerts/channel.h"
#include "ewarn/base/status.h"

namespace ewarn::alerts {

struct Url {
  bool tls = false;
  std::string host;
  std::string port;    // "80" when absent
  std::string target;  // path + query, "/" when absent
};
// InvalidArgument for anything but http(s)://host[:port][/path].
Result<Url> ParseUrl(std::string_view url);
// The Host header for `url` (RFC 9110 §7.2): the host, bracketed when an IPv6 literal, and
// ":port" unless the port is the scheme's default (80 for http, 443 for https).
std::string HostHeader(const Url& url);

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string ca_file;  // https: PEM CAs to trust instead of the system's store ("" = system)
};
struct HttpResponse {
  int status = 0;
  std::string body;
};

// InvalidArgument for a bad URL; Unavailable (naming the step) for DNS, connect, TLS, I/O
// errors and timeouts.
Result<HttpResponse> Fetch(const HttpRequest& request, const Timeouts& timeouts);

// 2xx sent; 408, 425, 429, 5xx, Unavailable retryable; other answers and errors permanent.
SendOutcome OutcomeOf(const Result<HttpResponse>& response);

// RFC 3986 unreserved characters kept, everything else %XX (for query values).
using ::ewarn::UrlEncode;  // base/text.h

}  // namespace ewarn::alerts
