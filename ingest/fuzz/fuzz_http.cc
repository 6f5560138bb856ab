// libFuzzer target: the HTTP request path on any bytes. Beast's request parser (with the
// server's header limit and a 64 KiB body limit), the request as the server builds it, the
// router, and ingest's routes down to validation and the log, on a real embedded log and state
// store in a temporary directory. Every answer must be a real status, and every JSON answer
// valid UTF-8 JSON. Tokens: "Bearer MONITOR", "Bearer GATEWAY", "Bearer OPERATOR" (or
// ?token=GATEWAY) stand for real ones, so inputs reach past authentication.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "ewarn/base/text.h"
#include "ewarn/base/time.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/store/event_log.h"
#include "ewarn/store/state_store.h"

namespace {

namespace http = boost::beast::http;

// The node under test. libFuzzer calls a plain function, so it lives in one static, made once.
struct Node {
  std::filesystem::path dir;
  ewarn::ManualClock clock{*ewarn::ParseRfc3339("2027-02-25T12:00:00Z")};
  std::unique_ptr<ewarn::store::EventLog> log;
  std::unique_ptr<ewarn::store::StateStore> state;
  std::unique_ptr<ewarn::ingest::Ingestor> ingestor;
  ewarn::ingest::HttpRouter router;
  std::map<std::string, std::string> tokens;  // placeholder -> real token

  Node() {
    char tmpl[] = "/tmp/ewarn-fuzz-http-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    dir = tmpl;
    log = Must(ewarn::store::OpenEmbeddedLog({.dir = dir / "log", .sync = false}));
    state = Must(ewarn::store::StateStore::Open(
        {.dir = dir / "ingest", .stores = ewarn::ingest::Ingestor::StoreNames(), .sync = false}));
    // Rate limits out of the way: every input should reach validation.
    ingestor = Must(ewarn::ingest::Ingestor::Make(
        *log, *state, clock, {.pseudonym_secret = "fuzz-secret-0123456789abcdef", .rate_per_second = 1e12, .rate_burst = 1e12,
                                 .gateway_rate_per_second = 1e12, .gateway_rate_burst = 1e12},
        4));
    std::ofstream(dir / "stations.csv") << "station_id,name,region,district,ward,lat,lon,registered_voters\n"
                                           "S1,Ikeja Primary,LAGOS,IKEJA,ANIFOWOSHE,6.60,3.35,800\n"
                                           "S2,Kano Central,KANO,NASSARAWA,GIGINYU,12.0,8.5,1200\n";
    Must(ewarn::ingest::ImportStations(*log, ingestor->stations(), dir / "stations.csv",
                                       ewarn::ingest::StationFormat::kGeneric, clock.NowMs()));
    auto& principals = ingestor->principals();
    tokens["MONITOR"] = Must(principals.CreateToken("amina", ewarn::ingest::Role::kMonitor, "LAGOS", 0));
    tokens["GATEWAY"] = Must(principals.CreateToken("kannel", ewarn::ingest::Role::kGateway, "", 0));
    tokens["OPERATOR"] = Must(principals.CreateToken("ops", ewarn::ingest::Role::kOperator, "", 0));
    ewarn::v1::Monitor m;
    m.set_monitor_id("amina");
    m.set_area("LAGOS");
    m.set_phone_pseudonym(ewarn::ingest::MonitorRegistry::PhonePseudonym("fuzz-secret-0123456789abcdef", "+2348012345678"));
    if (!ingestor->monitors().Register(m).ok()) std::abort();
    ewarn::ingest::AddIngestRoutes(router, *ingestor, 64 << 10);
  }
  ~Node() {
    ingestor.reset();
    state.reset();
    log.reset();
    std::filesystem::remove_all(dir);
  }

  template <typename T>
  static T Must(ewarn::Result<T> r) {
    if (!r.ok()) std::abort();
    return std::move(r).value();
  }

  std::string Real(const std::string& value, std::string_view prefix) const {
    if (!value.starts_with(prefix)) return value;
    auto it = tokens.find(value.substr(prefix.size()));
    return it == tokens.end() ? value : std::string(prefix) + it->second;
  }
};

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The server's path decoding (a stray '%' stays as it is; '+' is not a space in a path).
std::string DecodePath(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Node node;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 << 10);
  parser.body_limit(64 << 10);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (!ec && !parser.is_done() && used < size) {
    size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (n == 0) break;
    used += n;
  }
  if (ec || !parser.is_done()) return 0;  // the server answers these 400/413/431 before routing
  auto& msg = parser.get();
  ewarn::ingest::HttpRequest req;
  req.method = std::string(msg.method_string());
  std::string_view target(msg.target().data(), msg.target().size());
  size_t q = target.find('?');
  req.path = DecodePath(target.substr(0, q));
  if (q != std::string_view::npos) req.query = ewarn::ingest::ParseQuery(target.substr(q + 1));
  for (auto& [name, value] : req.query) {
    if (name == "token") value = node.Real("Bearer " + value, "Bearer ").substr(7);
  }
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value(field.value());
    if (name == "authorization") value = node.Real(value, "Bearer ");
    req.headers.emplace_back(std::move(name), std::move(value));
  }
  req.body = std::move(msg.body());
  req.remote = "127.0.0.1";
  std::string route;
  ewarn::ingest::HttpResponse r = node.router.Dispatch(req, &route);
  if (r.status < 100 || r.status > 599) std::abort();
  if (r.content_type.starts_with("application/json")) {
    if (!ewarn::IsValidUtf8(r.body)) std::abort();
    boost::system::error_code jec;
    boost::json::parse(r.body, jec);
    if (jec) std::abort();
  }
  return 0;
}
