// The duty room's live feed: what changed in risk and alerts, read from the log as it is
// written and pushed to browsers as Server-Sent Events (GET /v1/events).
//
// A thread follows the `risk` topic (level changes from the station stage) and the `alerts`
// topic (alert lifecycle) from their ends at start, every `poll` (200 ms), and groups what it
// finds into numbered batches kept in a ring. A browser's EventSource asks with the last batch
// number it saw (Last-Event-ID); the answer is every newer batch, or, when there is none, the
// next one as soon as it exists (at most `hold` later, then an empty answer). Each answer is
// one complete text/event-stream response and EventSource reconnects `retry` ms after it, so
// no thread or stream is held per browser beyond a waiting callback, and nothing is missed
// between answers: the numbers continue where the last answer stopped. A browser further
// behind than the ring gets a `reset` event and reloads.
//
// Thread-safe. Stop() (or the destructor) answers every waiting browser and ends the thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ewarn/base/status.h"
#include "ewarn/ingest/http_server.h"
#include "ewarn/store/event_log.h"

namespace ewarn::app {

// One changed subject: a station's or area's risk level, or an alert's state.
struct Change {
  std::string kind;  // "risk" or "alert"
  std::string id;    // station id / area path / alert id
  std::string area;  // its area path (for a liaison's filter)
  std::string json;  // the change as a JSON object
};

class ChangeFeed {
 public:
  struct Options {
    std::chrono::milliseconds poll{200};
    std::chrono::milliseconds hold{15000};
    size_t ring = 4096;  // batches kept
    int retry_ms = 200;  // what EventSource waits before asking again
    // When set, a batch is announced only once shown(partition, next offset) holds for every
    // partition read (or after `shown_within`): browsers reload risk and alerts on a change,
    // and the query routes answer from a read model that follows the same topics.
    std::function<bool(const store::TopicPartition&, int64_t next_offset)> shown;
    std::chrono::milliseconds shown_within{2000};
  };
  // Starts following the log's `risk` and `alerts` topics from their current ends. `log` must
  // outlive the feed.
  static Result<std::unique_ptr<ChangeFeed>> Start(store::EventLog& log, Options options);
  ~ChangeFeed();

  // Answers (through `respond`, now or within `hold`) with the batches after `last_seen` that
  // `area` covers ("" sees everything). last_seen < 0: at once, only the current number.
  void Subscribe(int64_t last_seen, std::string area, ingest::HttpRespond respond);
  // The newest batch number.
  int64_t Latest() const;
  void Stop();

 private:
  ChangeFeed(store::EventLog& log, Options options) : log_(log), options_(std::move(options)) {}
  // Waits (bounded by options_.shown_within) until options_.shown holds for what was read.
  void AwaitShown(std::stop_token stop) const;
  struct Waiter {
    int64_t last_seen;
    std::string area;
    ingest::HttpRespond respond;
    std::chrono::steady_clock::time_point until;
  };
  struct Batch {
    int64_t number;
    std::vector<Change> changes;
  };
  void Run(std::stop_token stop);
  Status PollOnce(std::vector<Change>* found);
  // The answer for a browser at `last_seen` (callers hold mu_).
  ingest::HttpResponse AnswerLocked(int64_t last_seen, const std::string& area) const;

  store::EventLog& log_;
  const Options options_;
  std::vector<std::pair<store::TopicPartition, int64_t>> next_;  // feed thread only
  mutable std::mutex mu_;  // guards the members below
  std::deque<Batch> ring_;
  int64_t latest_ = 0;
  std::vector<Waiter> waiters_;
  bool stopped_ = false;
  std::jthread thread_;
};

}  // namespace ewarn::app
