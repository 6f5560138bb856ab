// E-mail over SMTP (RFC 5321) on Boost.Asio: EHLO, MAIL FROM, RCPT TO, DATA, QUIT.
//
// Each step runs as an async operation on a private io_context with run_for(), so a silent
// server costs at most the timeout. Replies: 2xx/3xx as expected go on, 4xx is a temporary
// refusal (retry), 5xx a permanent one (bad mailbox, policy), like an MTA treats them.
#include <openssl/evp.h>

#include <boost/asio.hpp>
#include <ctime>
#include <optional>
#include <variant>

#include "ewarn/alerts/channel.h"
#include "format.h"

namespace ewarn::alerts {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
}

// A header value: CR/LF removed (no header injection), RFC 2047 encoded-word when not ASCII.
std::string HeaderText(std::string_view s) {
  std::string clean;
  for (char c : s) clean.push_back(c == '\r' || c == '\n' ? ' ' : c);
  if (IsAscii(clean)) return clean;
  return "=?UTF-8?B?" + Base64(clean) + "?=";
}

std::string Rfc5322Date(TimeMs t) {
  std::time_t seconds = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

struct Reply {
  int code = 0;
  std::string text;  // all lines, for errors
  std::string lines;
};

class SmtpSession {
 public:
  SmtpSession(const EmailOptions& options) : options_(options), socket_(ioc_) {}

  // Non-empty: the step failed (network or timeout: always retryable).
  std::optional<std::string> Connect() {
    tcp::resolver resolver(ioc_);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port), ec);
    if (ec) return "resolve " + options_.host + ": " + ec.message();
    return Run(options_.timeouts.connect, [&](auto done) {
      net::async_connect(socket_, endpoints, [done](auto e, const auto&) { done(e); });
    }, "connect to " + Where());
  }

  std::optional<std::string> Write(const std::string& bytes) {
    return Run(options_.timeouts.io, [&](auto done) {
      net::async_write(socket_, net::buffer(bytes), [done](auto e, size_t) { done(e); });
    }, "write to " + Where());
  }

  // One reply (possibly multi-line: "250-..." continues, "250 ..." ends).
  std::variant<Reply, std::string> Read() {
    Reply reply;
    while (true) {
      if (auto err = Run(options_.timeouts.io, [&](auto done) {
            net::async_read_until(socket_, buffer_, "\r\n", [done](auto e, size_t) { done(e); });
          }, "read from " + Where())) {
        return *err;
      }
      std::istream in(&buffer_);
      std::string line;
      std::getline(in, line);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0]))) {
        return "bad SMTP reply from " + Where() + ": '" + line.substr(0, 100) + "'";
      }
      reply.code = std::stoi(line.substr(0, 3));
      reply.lines += line.substr(std::min<size_t>(4, line.size())) + "\n";
      reply.text = line;
      if (line.size() == 3 || line[3] != '-') return reply;
    }
  }

  std::string Where() const { return options_.host + ":" + std::to_string(options_.port); }

 private:
  // Starts an async operation and runs it for at most `timeout`; on timeout the socket is
  // closed, which completes the operation with an error.
  template <typename Start>
  std::optional<std::string> Run(std::chrono::milliseconds timeout, Start start, const std::string& what) {
    boost::system::error_code result;
    bool done = false;
    ioc_.restart();
    start([&](boost::system::error_code e) {
      result = e;
      done = true;
    });
    ioc_.run_for(timeout);
    if (!done) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      ioc_.restart();
      ioc_.run();
      return what + ": timed out after " + std::to_string(timeout.count()) + " ms";
    }
    if (result) return what + ": " + result.message();
    return std::nullopt;
  }

  const EmailOptions& options_;
  net::io_context ioc_;
  tcp::socket socket_;
  net::streambuf buffer_;
};

// CRLF line ends and dot-stuffing (RFC 5321 4.5.2): a line starting with '.' gets another.
std::string DataLines(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (line_start && c == '.') out.push_back('.');
    line_start = false;
    if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
      c = '\n';
    }
    if (c == '\n') {
      out += "\r\n";
      line_start = true;
    } else {
      out.push_back(c);
    }
  }
  if (!line_start) out += "\r\n";
  return out;
}

bool SafeAddress(std::string_view a) {
  return !a.empty() && a.find_first_of("<>\r\n \t") == std::string_view::npos && a.find('@') != std::string_view::npos;
}

class EmailChannel final : public Channel {
 public:
  explicit EmailChannel(EmailOptions options) : options_(std::move(options)) {}

  // Asio throws when it cannot get a descriptor (the io_context's eventfd, the socket): out of
  // descriptors is a reason to retry later, never to end the process.
  SendOutcome Send(const v1::Delivery& d) override {
    try {
      return SendOnce(d);
    } catch (const boost::system::system_error& e) {
      return SendOutcome::Retryable(std::string("email: ") + e.what());
    }
  }

 private:
  SendOutcome SendOnce(const v1::Delivery& d) {
    if (!SafeAddress(d.address())) return SendOutcome::Permanent("email: bad address '" + d.address() + "'");
    if (!SafeAddress(options_.from)) return SendOutcome::Permanent("email: bad sender '" + options_.from + "'");
    SmtpSession smtp(options_);
    if (auto err = smtp.Connect()) return SendOutcome::Retryable(*err);
    bool eight_bit = false;
    // Each command and the reply classes it accepts; anything else ends the session.
    auto step = [&](const std::string& command, int expect_class, bool quit_on_error = true,
                    std::string_view label = "") -> std::optional<SendOutcome> {
      if (!command.empty()) {
        if (auto err = smtp.Write(command)) return SendOutcome::Retryable(*err);
      }
      auto reply = smtp.Read();
      if (auto* err = std::get_if<std::string>(&reply)) return SendOutcome::Retryable(*err);
      const Reply& r = std::get<Reply>(reply);
      if (r.code / 100 == expect_class) {
        if (command.starts_with("EHLO") && r.lines.find("8BITMIME") != std::string::npos) eight_bit = true;
        return std::nullopt;
      }
      std::string what = "SMTP " + smtp.Where() + " answered '" + r.text + "'" +
                         (command.empty() ? std::string(" on connect")
                                          : " to " + (label.empty() ? command.substr(0, command.find_first_of(":\r"))
                                                                    : std::string(label)));
      if (quit_on_error) (void)smtp.Write("QUIT\r\n");
      if (r.code / 100 == 4) return SendOutcome::Retryable(what);
      return SendOutcome::Permanent(what);
    };
    if (auto o = step("", 2)) return *o;
    // An RFC 821 server refuses EHLO with 5xx; HELO then (no 8BITMIME: base64 bodies).
    if (auto o = step("EHLO " + options_.helo + "\r\n", 2, /*quit_on_error=*/false)) {
      if (o->kind != SendOutcome::Kind::kPermanent) return *o;
      if (auto h = step("HELO " + options_.helo + "\r\n", 2)) return *h;
    }
    if (auto o = step("MAIL FROM:<" + options_.from + ">" + (eight_bit ? " BODY=8BITMIME" : "") + "\r\n", 2)) return *o;
    if (auto o = step("RCPT TO:<" + d.address() + ">\r\n", 2)) return *o;
    if (auto o = step("DATA\r\n", 3)) return *o;
    if (auto o = step(Message(d, eight_bit) + ".\r\n", 2, true, "the message data")) return *o;
    (void)smtp.Write("QUIT\r\n");  // the message is accepted; QUIT's answer does not matter
    return SendOutcome::Sent();
  }

  std::string Message(const v1::Delivery& d, bool eight_bit) const {
    static const SystemClock kSystem;
    const Clock& clock = options_.clock ? *options_.clock : kSystem;
    std::string body = EmailBody(d);
    std::string head = "From: ewarn <" + options_.from + ">\r\n" +
                       "To: " + (d.recipient_name().empty() ? "" : HeaderText(d.recipient_name()) + " ") + "<" +
                       d.address() + ">\r\n" + "Subject: " + HeaderText(EmailSubject(d)) + "\r\n" +
                       "Date: " + Rfc5322Date(clock.NowMs()) + "\r\n" + "Message-ID: " + EmailMessageId(d) +
                       "\r\n" + "X-Ewarn-Delivery: " + HeaderText(d.delivery_id()) + "\r\n" +
                       "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n";
    if (eight_bit || IsAscii(body)) {
      head += std::string("Content-Transfer-Encoding: ") + (IsAscii(body) ? "7bit" : "8bit") + "\r\n";
    } else {
      // A 7-bit-only server gets base64 in 76-character lines.
      head += "Content-Transfer-Encoding: base64\r\n";
      std::string b64 = Base64(body);
      body.clear();
      for (size_t i = 0; i < b64.size(); i += 76) body += b64.substr(i, 76) + "\n";
    }
    return DataLines(head + "\r\n" + body);
  }

  EmailOptions options_;
};

}  // namespace

std::unique_ptr<Channel> MakeEmailChannel(EmailOptions options) {
  return std::make_unique<EmailChannel>(std::move(options));
}

}  // namespace ewarn::alerts
