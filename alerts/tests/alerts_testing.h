// Test helpers for alerts_test: a recording HTTP receiver (Beast, 127.0.0.1 port 0) that
// answers from a script, a "black hole" port that accepts TCP but never answers, sample
// deliveries, and the outbox/deliveries topics.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ewarn/schemas/events.h"
#include "ewarn/store/event_log.h"
#include "ewarn_testing.h"

namespace ewarn::alerts::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct Received {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// Answers each request with the next status of its script (then `fallback`), recording it.
class Receiver {
 public:
  explicit Receiver(std::deque<int> statuses = {}, int fallback = 200)
      : acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
        statuses_(std::move(statuses)),
        fallback_(fallback) {
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~Receiver() {
    ioc_.stop();
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  std::vector<Received> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  // Each later request is answered only after `delay` (a slow receiver).
  void set_delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(mu_);
    delay_ = delay;
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }

 private:
  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      Serve(std::move(socket));
      Accept();
    });
  }
  // One request per connection (the clients send Connection: close), served inline.
  void Serve(tcp::socket socket) {
    beast::error_code ec;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::read(socket, buffer, req, ec);
    if (ec) return;
    Received r{std::string(req.method_string()), std::string(req.target()), req.body(), {}};
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(field.value());
    }
    int status;
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(mu_);
      status = statuses_.empty() ? fallback_ : statuses_.front();
      if (!statuses_.empty()) statuses_.pop_front();
      requests_.push_back(std::move(r));
      delay = delay_;
    }
    cv_.notify_all();
    std::this_thread::sleep_for(delay);
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    if (status != 204 && status != 304) res.body() = "status " + std::to_string(status);
    res.prepare_payload();
    http::write(socket, res, ec);
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  mutable std::mutex mu_;  // guards statuses_, requests_, delay_
  mutable std::condition_variable cv_;
  std::deque<int> statuses_;
  int fallback_;
  std::chrono::milliseconds delay_{0};
  std::vector<Received> requests_;
  std::thread thread_;
};

// Listens (the kernel completes TCP handshakes) but never accepts or answers: a hung server.
class BlackHole {
 public:
  BlackHole() : acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {}
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hook";
  }

 private:
  net::io_context ioc_;
  tcp::acceptor acceptor_;
};

// A loopback URL nothing listens on (connection refused).
inline std::string ClosedUrl() {
  net::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  int port = a.local_endpoint().port();
  a.close();
  return "http://127.0.0.1:" + std::to_string(port) + "/hook";
}

inline v1::AlertEvent SampleAlert(const std::string& alert_id = "alert-1") {
  v1::AlertEvent a;
  a.set_alert_id(alert_id);
  a.set_kind(v1::AlertEvent::KIND_RAISED);
  a.set_area("LAGOS/IKEJA/W1");
  a.set_level(v1::RISK_LEVEL_HIGH);
  a.set_subject_id("S1");
  a.set_summary("3 violence reports within 20 minutes at 2 stations");
  a.set_category("cluster");
  a.set_score(0.82);
  a.set_tier(1);
  a.set_deadline_ms(1803201000000);
  a.mutable_location()->set_lat(6.6018);
  a.mutable_location()->set_lon(3.3515);
  auto* f = a.add_factors();
  f->set_detector("cluster");
  f->set_contribution(0.6);
  f->set_explanation("3 violence reports in 20 min (usual: 0.2)");
  f = a.add_factors();
  f->set_detector("hate.surge");
  f->set_contribution(0.22);
  f->set_explanation("hate speech flags 4x the district's rate");
  return a;
}

inline v1::Delivery SampleDelivery(const std::string& id, v1::Delivery::Channel channel,
                                   const std::string& address, const std::string& language = "en") {
  v1::Delivery d;
  d.set_delivery_id(id);
  d.set_alert_id("alert-1");
  d.set_recipient_id("liaison-7");
  d.set_recipient_name("Amina Bello");
  d.set_channel(channel);
  d.set_address(address);
  d.set_language(language);
  d.set_state(v1::Delivery::STATE_PENDING);
  *d.add_alerts() = SampleAlert();
  return d;
}

inline constexpr char kXmllint[] = "/usr/bin/xmllint";

// xmllint's verdict on a CAP document against tests/data/CAP-v1.2.xsd (the official OASIS
// schema, see tests/data/README.md): exit code 0 = valid. `output` gets its messages.
inline int ValidateCap(const std::string& xml, std::string* output) {
  ewarn::testing::TempDir dir;
  std::ofstream(dir.Sub("doc.xml")) << xml;
  std::string cmd = std::string(kXmllint) + " --noout --nonet --schema " + EWARN_ALERTS_TESTDATA +
                    "/CAP-v1.2.xsd " + dir.Sub("doc.xml") + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) output->append(buf);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Appends deliveries to notify.outbox (created with one partition when missing). With
// `first_origin` >= 0 each carries an origin like the lifecycle stage's outputs ("alerts"/0 at
// first_origin, first_origin + 1, ...), so a copy appended again with the same origins is a
// re-emitted output.
inline void AppendOutbox(store::EventLog& log, const std::vector<v1::Delivery>& deliveries,
                         int64_t first_origin = -1) {
  if (!log.PartitionCount(schemas::topic::kOutbox).ok()) {
    ASSERT_TRUE(log.CreateTopic({.name = std::string(schemas::topic::kOutbox), .partitions = 1}).ok());
  }
  std::vector<store::OutRecord> records;
  for (const auto& d : deliveries) {
    v1::Event e;
    e.mutable_header()->set_schema_version(schemas::kSchemaVersion);
    e.mutable_header()->set_event_id("outbox:" + d.delivery_id());
    e.mutable_header()->set_source(v1::SOURCE_PROCESSOR);
    if (first_origin >= 0) {
      auto* origin = e.mutable_header()->mutable_origin();
      origin->set_topic("alerts");
      origin->set_partition(0);
      origin->set_offset(first_origin + static_cast<int64_t>(records.size()));
    }
    *e.mutable_delivery() = d;
    records.push_back({.topic = std::string(schemas::topic::kOutbox), .key = d.recipient_id(),
                       .value = schemas::EncodeEvent(e), .timestamp_ms = 1});
  }
  ASSERT_TRUE(log.Append(records).ok());
}

// The outcome events in notify.deliveries, in log order per partition, partition 0 first.
inline std::vector<v1::Event> Outcomes(store::EventLog& log) {
  std::vector<v1::Event> out;
  auto partitions = log.PartitionCount(schemas::topic::kDeliveries);
  for (int32_t p = 0; partitions.ok() && p < *partitions; ++p) {
    auto records = log.Read({std::string(schemas::topic::kDeliveries), p}, 0, 10000);
    if (!records.ok()) continue;
    for (const auto& r : *records) {
      auto e = schemas::DecodeEvent(r.value);
      if (e.ok()) out.push_back(std::move(*e));
    }
  }
  return out;
}

}  // namespace ewarn::alerts::testing
