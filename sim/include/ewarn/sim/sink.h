// Sending a simulated day into ewarn: credentials, the two sinks, and the paced driver.
//
// DirectSink calls an in-process ingest::Ingestor (SubmitJson/SubmitSms with tokens, so
// validation runs exactly as over HTTP); HttpSink posts the same bodies to a server's ingest
// API with Boost.Beast over a few keep-alive connections. Run() feeds a Scenario to a sink in
// event-time order with a Tick every simulated minute, paced in real time, faster, or as fast
// as possible.
//
// Thread-safety: a sink is used by one Run at a time; HttpSink uses its own threads inside Send.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <stop_token>
#include <string>

#include "ewarn/base/status.h"
#include "ewarn/ingest/ingestor.h"
#include "ewarn/sim/scenario.h"

namespace ewarn::sim {

// Bearer tokens by sender ("ewt_..." without "Bearer "). Senders without their own token use
// `fallback`; SMS go through `gateway`, ticks through `operator_token`.
struct Credentials {
  std::map<std::string, std::string> tokens;
  std::string fallback;
  std::string gateway;
  std::string operator_token;
  bool phones_registered = false;  // monitors' phones known to the server (SMS possible)

  const std::string& TokenFor(const std::string& sender) const;
  // A text file, mode 0600: "sender token" lines plus "*fallback", "*gateway", "*operator",
  // "*phones" entries. IOError naming the path.
  Status Save(const std::string& path) const;
  static Result<Credentials> Load(const std::string& path);
};

// Makes an ingest node ready for `scenario`: appends its stations that ref.stations does not
// know, or knows differently (registered voters the generator filled in aside), and refreshes
// the directory; creates a monitor token per monitor (area = its district), tokens for kits,
// officers and the classifier, a gateway and an operator token (a previous "sim-*" token of
// the same name is revoked first), and registers every monitor's phone under
// `pseudonym_secret` (the node's secret, DIR/secret). `log` is the Ingestor's log. Returns
// the tokens; errors are the log's or the registries'. Not for a node another process serves.
Result<Credentials> Prepare(ingest::Ingestor& ingestor, store::EventLog& log, const Scenario& scenario,
                            std::string_view pseudonym_secret, int64_t now_ms);

struct SinkStats {
  std::map<std::string, int64_t> sent;       // by kind ("incident", ..., "sms", "tick")
  std::map<std::string, int64_t> rejected;   // by reason code
  int64_t accepted = 0;
  int64_t duplicates = 0;
  int64_t retries = 0;                       // 429/503 answers retried
  int64_t total_rejected() const;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Submits `events` (one simulated step, in time order) and returns when every one has been
  // answered. Kit readings may be batched. A refusal is counted, not an error; an error is a
  // transport failure that retries did not cure.
  virtual Status Send(std::span<const SimEvent> events) = 0;
  // Advances event time: a Tick in every partition of in.events.
  virtual Status Tick(int64_t event_time_ms) = 0;
  virtual const SinkStats& stats() const = 0;
};

// Through an in-process Ingestor. `ingestor` and `log` must outlive the sink.
class DirectSink final : public Sink {
 public:
  DirectSink(ingest::Ingestor& ingestor, store::EventLog& log, Credentials credentials)
      : ingestor_(ingestor), log_(log), credentials_(std::move(credentials)) {}
  Status Send(std::span<const SimEvent> events) override;
  Status Tick(int64_t event_time_ms) override;
  const SinkStats& stats() const override { return stats_; }

 private:
  ingest::Ingestor& ingestor_;
  store::EventLog& log_;
  Credentials credentials_;
  SinkStats stats_;
};

struct HttpSinkOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int connections = 4;        // concurrent keep-alive connections
  int max_retries = 20;       // per request, on 429/503/connection loss
  Credentials credentials;
};

// Over HTTP: POST /v1/{incidents,hate-speech,turnout,kit} with a bearer token, SMS as
// GET /v1/sms/kannel?from=&text=&token=, ticks as POST /v1/ticks (operator token).
class HttpSink final : public Sink {
 public:
  // Resolves the host; Unavailable naming it when it cannot.
  static Result<std::unique_ptr<HttpSink>> Make(HttpSinkOptions options);
  ~HttpSink() override;
  Status Send(std::span<const SimEvent> events) override;
  Status Tick(int64_t event_time_ms) override;
  const SinkStats& stats() const override { return stats_; }

  struct Impl;

 private:
  explicit HttpSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  SinkStats stats_;
};

struct RunOptions {
  // 1 = real time, 60 = a simulated hour per minute, 0 = as fast as possible.
  double speed = 0;
  int64_t tick_every_ms = kMinuteMs;  // simulated time between ticks; 0: no ticks
  // Called after each tick with the simulated time reached (progress display).
  std::function<void(int64_t sim_ms)> progress;
  // Checked between steps and while waiting for the next one: a stop request ends the run
  // early (what was sent stays sent), e.g. Ctrl-C in `ewarn demo`.
  std::stop_token stop;
};

// Sends the scenario: for each step of tick_every_ms simulated time, the events up to its end,
// then a Tick at its end. Paced on the steady clock when speed > 0. Returns the sink's stats
// (also when stopped early); the first transport error stops the run and is returned.
Result<SinkStats> Run(const Scenario& scenario, Sink& sink, const RunOptions& options);

}  // namespace ewarn::sim
