// The live feed (change_feed.h).
#include "change_feed.h"

#include <boost/json.hpp>
#include <cmath>
#include <optional>

#include "ewarn/alerts/lifecycle.h"
#include "ewarn/ingest/principals.h"
#include "ewarn/schemas/events.h"
#include "ewarn/v1/event.pb.h"

namespace ewarn::app {
namespace {

namespace json = boost::json;

std::optional<Change> ChangeOf(const v1::Event& e) {
  if (e.has_risk()) {
    const v1::RiskAssessment& a = e.risk();
    json::object o{{"id", a.subject_id()},
                   {"area", a.area()},
                   {"is_area", a.is_area()},
                   {"level", alerts::LevelName(a.level())},
                   {"previous_level", alerts::LevelName(a.previous_level())},
                   {"score", std::round(a.score() * 1000) / 1000}};
    return Change{"risk", a.subject_id(), a.area(), json::serialize(o)};
  }
  if (e.has_alert()) {
    const v1::AlertEvent& a = e.alert();
    json::object o{{"alert_id", a.alert_id()}, {"kind", alerts::KindName(a.kind())}, {"area", a.area()},
                   {"level", alerts::LevelName(a.level())}, {"subject_id", a.subject_id()}};
    return Change{"alert", a.alert_id(), a.area(), json::serialize(o)};
  }
  return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<ChangeFeed>> ChangeFeed::Start(store::EventLog& log, Options options) {
  std::unique_ptr<ChangeFeed> feed(new ChangeFeed(log, std::move(options)));
  for (std::string_view topic : {schemas::topic::kRisk, schemas::topic::kAlerts}) {
    auto partitions = log.PartitionCount(topic);
    if (!partitions.ok()) continue;  // not made yet (serve makes them): nothing to follow
    for (int32_t p = 0; p < *partitions; ++p) {
      store::TopicPartition tp{std::string(topic), p};
      ASSIGN_OR_RETURN(auto offsets, log.Offsets(tp));
      feed->next_.emplace_back(tp, offsets.end);
    }
  }
  ChangeFeed* self = feed.get();
  feed->thread_ = std::jthread([self](std::stop_token stop) { self->Run(stop); });
  return feed;
}

ChangeFeed::~ChangeFeed() { Stop(); }

void ChangeFeed::Stop() {
  std::vector<Waiter> waiting;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    waiting.swap(waiters_);
  }
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  for (auto& w : waiting) w.respond(ingest::HttpResponse::Error(503, "the node is stopping"));
}

int64_t ChangeFeed::Latest() const {
  std::lock_guard lock(mu_);
  return latest_;
}

Status ChangeFeed::PollOnce(std::vector<Change>* found) {
  for (auto& [tp, next] : next_) {
    for (;;) {
      ASSIGN_OR_RETURN(auto records, log_.Read(tp, next, 1024));
      if (records.empty()) break;
      for (const auto& r : records) {
        next = r.offset + 1;
        v1::Event e;
        if (!e.ParseFromString(r.value)) continue;
        if (auto c = ChangeOf(e)) found->push_back(std::move(*c));
      }
    }
  }
  return Status::Ok();
}

ingest::HttpResponse ChangeFeed::AnswerLocked(int64_t last_seen, const std::string& area) const {
  ingest::HttpResponse r;
  r.content_type = "text/event-stream; charset=utf-8";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = "retry: " + std::to_string(options_.retry_ms) + "\n\n";
  if (last_seen < 0) {
    r.body += "id: " + std::to_string(latest_) + "\nevent: hello\ndata: {\"latest\":" + std::to_string(latest_) + "}\n\n";
    return r;
  }
  if (last_seen > latest_ || (!ring_.empty() && last_seen < ring_.front().number - 1)) {
    r.body += "id: " + std::to_string(latest_) + "\nevent: reset\ndata: {\"latest\":" + std::to_string(latest_) + "}\n\n";
    return r;
  }
  for (const Batch& b : ring_) {
    if (b.number <= last_seen) continue;
    std::string data = "{\"changes\":[";
    bool first = true;
    for (const Change& c : b.changes) {
      if (!ingest::AreaCovers(area, c.area)) continue;
      data += (first ? "" : ",") + std::string("{\"kind\":\"") + c.kind + "\",\"change\":" + c.json + "}";
      first = false;
    }
    data += "]}";
    // Every batch moves the browser's number on, even one with nothing in its area.
    r.body += "id: " + std::to_string(b.number) + "\nevent: changes\ndata: " + data + "\n\n";
  }
  return r;
}

void ChangeFeed::Subscribe(int64_t last_seen, std::string area, ingest::HttpRespond respond) {
  ingest::HttpResponse now;
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      now = ingest::HttpResponse::Error(503, "the node is stopping");
    } else if (last_seen < 0 || last_seen != latest_) {
      now = AnswerLocked(last_seen, area);
    } else {
      waiters_.push_back({last_seen, std::move(area), std::move(respond),
                          std::chrono::steady_clock::now() + options_.hold});
      return;
    }
  }
  respond(std::move(now));
}

void ChangeFeed::AwaitShown(std::stop_token stop) const {
  auto shown = [&] {
    for (const auto& [tp, next] : next_) {
      if (!options_.shown(tp, next)) return false;
    }
    return true;
  };
  auto until = std::chrono::steady_clock::now() + options_.shown_within;
  while (!stop.stop_requested() && !shown() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void ChangeFeed::Run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::vector<Change> found;
    Status st = PollOnce(&found);  // a failed read is tried again on the next round
    (void)st;
    if (!found.empty() && options_.shown) AwaitShown(stop);
    std::vector<std::pair<ingest::HttpRespond, ingest::HttpResponse>> answers;
    {
      std::lock_guard lock(mu_);
      if (!found.empty()) {
        ring_.push_back({++latest_, std::move(found)});
        while (ring_.size() > options_.ring) ring_.pop_front();
      }
      auto now = std::chrono::steady_clock::now();
      std::vector<Waiter> still;
      for (auto& w : waiters_) {
        if (w.last_seen != latest_ || now >= w.until) {
          answers.emplace_back(std::move(w.respond), AnswerLocked(w.last_seen, w.area));
        } else {
          still.push_back(std::move(w));
        }
      }
      waiters_.swap(still);
    }
    for (auto& [respond, response] : answers) respond(std::move(response));
    std::this_thread::sleep_for(options_.poll);
  }
}

}  // namespace ewarn::app
