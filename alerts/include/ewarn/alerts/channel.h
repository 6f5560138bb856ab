// ewarn::alerts channels: how one Delivery (from notify.outbox) reaches a liaison.
//
//   webhook  HTTP POST of JSON, signed (X-Ewarn-Signature), idempotency key X-Ewarn-Delivery
//   cap      the same POST carrying OASIS CAP 1.2 XML (application/cap+xml), one per alert
//   sms      Kannel's sendsms HTTP interface, a short text in the liaison's language
//   email    SMTP (EHLO, MAIL, RCPT, DATA, QUIT), Message-ID derived from the delivery id
//
// A Channel's Send blocks for at most its configured timeouts and never throws; what happened
// is a SendOutcome: sent, retryable (try again later) or permanent (never try again).
// Thread-safety: Send may be called from several threads at once (a Channel holds only its
// options). alerts/README.md documents the wire formats and signature verification.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "ewarn/base/time.h"
#include "ewarn/v1/alerts.pb.h"

namespace ewarn::alerts {

struct SendOutcome {
  enum class Kind { kSent, kRetryable, kPermanent };
  Kind kind = Kind::kSent;
  std::string error;     // empty when sent
  int http_status = 0;   // the last HTTP answer, when there was one

  bool sent() const { return kind == Kind::kSent; }
  static SendOutcome Sent(int http_status = 0) { return {Kind::kSent, "", http_status}; }
  static SendOutcome Retryable(std::string error, int http_status = 0) {
    return {Kind::kRetryable, std::move(error), http_status};
  }
  static SendOutcome Permanent(std::string error, int http_status = 0) {
    return {Kind::kPermanent, std::move(error), http_status};
  }
};

class Channel {
 public:
  virtual ~Channel() = default;
  // Sends `delivery` to delivery.address(). Never throws; bounded by the channel's timeouts.
  virtual SendOutcome Send(const v1::Delivery& delivery) = 0;
};

struct Timeouts {
  std::chrono::milliseconds connect{5000};
  std::chrono::milliseconds io{10000};  // the whole exchange after connecting
};

struct WebhookOptions {
  std::string secret;  // HMAC-SHA256 key for X-Ewarn-Signature; empty: requests are unsigned
  Timeouts timeouts;
  const Clock* clock = nullptr;  // for X-Ewarn-Timestamp (and CAP <sent>); null: system clock
  std::string cap_sender = "ewarn@localhost";  // CAP <sender> when posting CAP
  // https:// URLs: the server's certificate must chain to these PEM CAs (empty: the system's
  // CA store) and name the URL's host.
  std::string ca_file;
};

struct SmsOptions {
  // Kannel smsbox's sendsms endpoint, e.g. "http://127.0.0.1:13013/cgi-bin/sendsms".
  std::string sendsms_url;
  std::string username;
  std::string password;
  std::string from;  // sender id / short code
  Timeouts timeouts;
};

struct EmailOptions {
  std::string host = "127.0.0.1";
  int port = 25;
  std::string from;              // envelope and header sender, "alerts@ewarn.example"
  std::string helo = "ewarn.localdomain";
  Timeouts timeouts;
  const Clock* clock = nullptr;  // for the Date header; null: the system clock
};

// The channels. `cap` makes the webhook channel POST CAP 1.2 XML instead of JSON.
std::unique_ptr<Channel> MakeWebhookChannel(WebhookOptions options, bool cap = false);
std::unique_ptr<Channel> MakeSmsChannel(SmsOptions options);
std::unique_ptr<Channel> MakeEmailChannel(EmailOptions options);

// --- the formats, public so that receivers' tests and other endpoints can use them ---

// The webhook JSON body: {"delivery_id":..., "recipient_id":..., "alerts":[{...}]}.
std::string WebhookJson(const v1::Delivery& delivery);
// "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body): the X-Ewarn-Signature value.
std::string WebhookSignature(std::string_view secret, std::string_view timestamp,
                             std::string_view body);
// A short reference for an alert that fits an SMS and can be typed back ("ack 3f9a1c"):
// the first 6 hex digits of SHA-256(alert_id).
std::string ShortAlertRef(std::string_view alert_id);
// The SMS text for a delivery in its language ("en", "fr", "ru"; others fall back to "en"),
// at most 160 characters (Unicode code points).
std::string SmsText(const v1::Delivery& delivery);
// E-mail subject and plain-text body (UTF-8, '\n' line ends) in the delivery's language.
std::string EmailSubject(const v1::Delivery& delivery);
std::string EmailBody(const v1::Delivery& delivery);
// "<" + sanitized delivery_id + "@ewarn>": the same on every retry of a delivery.
std::string EmailMessageId(const v1::Delivery& delivery);

std::string_view ChannelName(v1::Delivery::Channel channel);  // "webhook", "sms", ...

}  // namespace ewarn::alerts
