// The HTTP channels: webhook (JSON), CAP (XML over the same POST) and SMS through Kannel.
#include <algorithm>

#include "ewarn/alerts/cap.h"
#include "ewarn/alerts/channel.h"
#include "format.h"
#include "http_client.h"

namespace ewarn::alerts {
namespace {

const Clock& ClockOr(const Clock* clock) {
  static const SystemClock kSystem;
  return clock ? *clock : kSystem;
}

class WebhookChannel final : public Channel {
 public:
  WebhookChannel(WebhookOptions options, bool cap) : options_(std::move(options)), cap_(cap) {}

  SendOutcome Send(const v1::Delivery& d) override {
    if (!cap_) return Post(d, WebhookJson(d), "application/json", "");
    // CAP carries one alert per document: one POST per alert, all under the delivery's key
    // (X-Ewarn-Alert tells them apart). A retry re-posts all; receivers drop repeats by
    // (X-Ewarn-Delivery, X-Ewarn-Alert) or by the CAP identifier.
    if (d.alerts().empty()) return SendOutcome::Permanent("delivery has no alerts");
    SendOutcome last;
    for (const auto& alert : d.alerts()) {
      CapOptions cap{.sender = options_.cap_sender, .sent_ms = ClockOr(options_.clock).NowMs(),
                     .language = d.language().empty() ? "en" : d.language()};
      last = Post(d, RenderCap(alert, cap), "application/cap+xml", alert.alert_id());
      if (!last.sent()) return last;
    }
    return last;
  }

 private:
  SendOutcome Post(const v1::Delivery& d, std::string body, std::string_view content_type,
                   std::string_view alert_id) {
    HttpRequest req{.method = "POST", .url = d.address(), .ca_file = options_.ca_file};
    std::string timestamp = std::to_string(ClockOr(options_.clock).NowMs() / 1000);
    req.headers = {{"Content-Type", std::string(content_type)},
                   {"X-Ewarn-Delivery", d.delivery_id()},
                   {"X-Ewarn-Timestamp", timestamp}};
    if (!alert_id.empty()) req.headers.emplace_back("X-Ewarn-Alert", std::string(alert_id));
    if (!options_.secret.empty()) {
      req.headers.emplace_back("X-Ewarn-Signature", WebhookSignature(options_.secret, timestamp, body));
    }
    req.body = std::move(body);
    return OutcomeOf(Fetch(req, options_.timeouts));
  }

  WebhookOptions options_;
  bool cap_;
};

// Kannel's sendsms answers 202 "0: Accepted for delivery" or "3: Queued for later delivery";
// 4xx for bad credentials or arguments (permanent), 503 when the box is overloaded (retry).
class SmsChannel final : public Channel {
 public:
  explicit SmsChannel(SmsOptions options) : options_(std::move(options)) {}

  SendOutcome Send(const v1::Delivery& d) override {
    if (options_.sendsms_url.empty()) return SendOutcome::Permanent("sms: no sendsms URL configured");
    if (d.address().empty()) return SendOutcome::Permanent("sms: no phone number");
    std::string text = SmsText(d);
    std::string url = options_.sendsms_url;
    url += url.find('?') == std::string::npos ? "?" : "&";
    url += "username=" + UrlEncode(options_.username) + "&password=" + UrlEncode(options_.password) +
           "&from=" + UrlEncode(options_.from) + "&to=" + UrlEncode(d.address()) +
           "&text=" + UrlEncode(text) + "&charset=UTF-8";
    // Non-ASCII text (fr accents, ru Cyrillic) goes as UCS-2 (coding=2); Kannel splits it.
    bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return (c & 0x80) == 0; });
    if (!ascii) url += "&coding=2";
    return OutcomeOf(Fetch({.method = "GET", .url = url}, options_.timeouts));
  }

 private:
  SmsOptions options_;
};

}  // namespace

std::unique_ptr<Channel> MakeWebhookChannel(WebhookOptions options, bool cap) {
  return std::make_unique<WebhookChannel>(std::move(options), cap);
}

std::unique_ptr<Channel> MakeSmsChannel(SmsOptions options) {
  return std::make_unique<SmsChannel>(std::move(options));
}

}  // namespace ewarn::alerts
