// Channels against real servers on 127.0.0.1: a Beast receiver (webhook, CAP), real Kannel
// with fakesmsc (SMS), aiosmtpd (e-mail), and a scripted SMTP responder for error replies.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

#include "alerts_testing.h"
#include "child_process.h"
#include "ewarn/base/hash.h"
#include "cli_run.h"
#include "ewarn/alerts/cap.h"
#include "ewarn/alerts/channel.h"
#include "ewarn_testing.h"
#include "kannel_fixture.h"

namespace ewarn::alerts {
namespace {

using namespace std::chrono_literals;
using testing::Receiver;
using testing::SampleDelivery;
namespace ssl = boost::asio::ssl;

// A delivery id as the lifecycle makes them ("D" + 24 hex), the form alerts/README.md shows.
constexpr char kDeliveryId[] = "D1f0c9a8b7e6d5c4b3a291807";

TEST(WebhookChannelTest, PostsSignedJsonWithTheIdempotencyKey) {
  Receiver receiver;
  ManualClock clock(1803200000123);
  auto channel = MakeWebhookChannel({.secret = "s3cret", .clock = &clock});
  v1::Delivery d = SampleDelivery(kDeliveryId, v1::Delivery::CHANNEL_WEBHOOK, receiver.url());
  SendOutcome out = channel->Send(d);
  ASSERT_TRUE(out.sent()) << out.error;
  EXPECT_EQ(out.http_status, 200);
  ASSERT_EQ(receiver.count(), 1u);
  const auto r = receiver.requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hook");
  // RFC 9110 §7.2: the port is part of Host when it is not the scheme's default.
  EXPECT_EQ(r.Header("host"), "127.0.0.1:" + std::to_string(receiver.port()));
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("x-ewarn-delivery"), kDeliveryId);
  EXPECT_EQ(r.Header("x-ewarn-timestamp"), "1803200000");
  // What a receiver does: recompute the HMAC over "<timestamp>.<raw body>".
  EXPECT_EQ(r.Header("x-ewarn-signature"), WebhookSignature("s3cret", r.Header("x-ewarn-timestamp"), r.body));
  EXPECT_NE(r.Header("x-ewarn-signature"), WebhookSignature("other", r.Header("x-ewarn-timestamp"), r.body));
  EXPECT_EQ(r.body, WebhookJson(d));
}

// The python verification example of alerts/README.md, run as it is written there, against a
// real signed request and a key file in the form `ewarn serve` writes DIR/webhook.key (64 hex
// characters and a newline): it accepts the request, and refuses a changed body, another key
// and an old timestamp.
TEST(WebhookChannelTest, TheReadmeVerificationExampleChecksRealRequests) {
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "python3 missing";
  std::ifstream readme(std::string(EWARN_ALERTS_TESTDATA) + "/../../README.md");
  std::string text((std::istreambuf_iterator<char>(readme)), std::istreambuf_iterator<char>());
  size_t marker = text.find("WebhookChannelTest.TheReadmeVerificationExampleChecksRealRequests");
  ASSERT_NE(marker, std::string::npos) << "alerts/README.md lost the tested example";
  size_t begin = text.find("```python\n", marker);
  ASSERT_NE(begin, std::string::npos);
  begin += 10;
  size_t end = text.find("```", begin);
  ASSERT_NE(end, std::string::npos);
  const std::string example = text.substr(begin, end - begin);
  // The example request shows the delivery id in the form the lifecycle makes (lifecycle_test).
  std::smatch shown;
  ASSERT_TRUE(std::regex_search(text, shown, std::regex("X-Ewarn-Delivery: (\\S+)")));
  EXPECT_TRUE(std::regex_match(shown[1].str(), std::regex("D[0-9a-f]{24}"))) << shown[1];
  EXPECT_TRUE(std::regex_match(std::string(kDeliveryId), std::regex("D[0-9a-f]{24}")));
  EXPECT_LE(std::count(example.begin(), example.end(), '\n'), 12) << example;

  ewarn::testing::TempDir dir;
  const std::string key = Sha256Hex("a key like serve's");  // 64 hex characters
  std::ofstream(dir.Sub("webhook.key")) << key << "\n";
  std::ofstream(dir.Sub("other.key")) << Sha256Hex("another key") << "\n";
  std::ofstream(dir.Sub("verify.py"))
      << example
      << "\nimport json, sys\n"
         "headers = json.load(open(sys.argv[2]))\n"
         "print('valid' if verify(sys.argv[1], headers, open(sys.argv[3], 'rb').read()) else 'invalid')\n";
  Receiver receiver;
  auto channel = MakeWebhookChannel({.secret = key});  // the system clock: a fresh timestamp
  ASSERT_TRUE(channel->Send(SampleDelivery(kDeliveryId, v1::Delivery::CHANNEL_WEBHOOK, receiver.url())).sent());
  ASSERT_EQ(receiver.count(), 1u);
  const auto r = receiver.requests()[0];
  auto write_headers = [&](const std::string& timestamp, const std::string& signature) {
    std::ofstream(dir.Sub("headers.json")) << "{\"X-Ewarn-Timestamp\": \"" << timestamp
                                           << "\", \"X-Ewarn-Signature\": \"" << signature << "\"}";
  };
  auto verify = [&](const std::string& key_file, const std::string& body) {
    std::ofstream(dir.Sub("body"), std::ios::binary) << body;
    auto run = ewarn::testing::RunCli("/usr/bin/python3 " + dir.Sub("verify.py") + " " + dir.Sub(key_file) + " " +
                                      dir.Sub("headers.json") + " " + dir.Sub("body"));
    EXPECT_EQ(run.code, 0) << run.out;
    return run.out;
  };
  write_headers(r.Header("x-ewarn-timestamp"), r.Header("x-ewarn-signature"));
  EXPECT_EQ(verify("webhook.key", r.body), "valid\n");
  EXPECT_EQ(verify("webhook.key", r.body + " "), "invalid\n");
  EXPECT_EQ(verify("other.key", r.body), "invalid\n");
  // A capture replayed an hour later: signed correctly, but stale.
  std::string old = std::to_string(std::stoll(r.Header("x-ewarn-timestamp")) - 3600);
  write_headers(old, WebhookSignature(key, old, r.body));
  EXPECT_EQ(verify("webhook.key", r.body), "invalid\n");
}

// With no descriptor left (a connection flood, a leak elsewhere), Asio cannot even make its
// io_context and throws; a channel answers "retry later" instead, and the process lives on
// (before, the exception ended `ewarn serve`: issue 13.6).
TEST(WebhookChannelTest, NoDescriptorLeftIsRetryableNotACrash) {
  Receiver receiver;
  auto webhook = MakeWebhookChannel({});
  auto email = MakeEmailChannel({.host = "127.0.0.1", .port = receiver.port(),
                                 .from = "alerts@ewarn.example"});
  v1::Delivery d = SampleDelivery(kDeliveryId, v1::Delivery::CHANNEL_WEBHOOK, receiver.url());
  v1::Delivery mail = SampleDelivery(kDeliveryId, v1::Delivery::CHANNEL_EMAIL, "amina@inec.example");
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  int lowest_free = ::dup(0);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit none = saved;
  none.rlim_cur = static_cast<rlim_t>(lowest_free);  // every new descriptor is over the limit
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &none), 0);
  SendOutcome posted = webhook->Send(d);
  SendOutcome mailed = email->Send(mail);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_EQ(posted.kind, SendOutcome::Kind::kRetryable) << posted.error;
  EXPECT_NE(posted.error.find("Too many open files"), std::string::npos) << posted.error;
  EXPECT_EQ(mailed.kind, SendOutcome::Kind::kRetryable) << mailed.error;
  EXPECT_TRUE(webhook->Send(d).sent());  // descriptors back: delivered
}

TEST(WebhookChannelTest, ClassifiesAnswersAndNetworkErrors) {
  auto channel = MakeWebhookChannel({.timeouts = {.connect = 2000ms, .io = 500ms}});
  for (auto [status, kind] : std::vector<std::pair<int, SendOutcome::Kind>>{
           {204, SendOutcome::Kind::kSent}, {404, SendOutcome::Kind::kPermanent},
           {400, SendOutcome::Kind::kPermanent}, {408, SendOutcome::Kind::kRetryable},
           {429, SendOutcome::Kind::kRetryable}, {500, SendOutcome::Kind::kRetryable},
           {503, SendOutcome::Kind::kRetryable}}) {
    Receiver receiver({}, status);
    SendOutcome out = channel->Send(SampleDelivery("d", v1::Delivery::CHANNEL_WEBHOOK, receiver.url()));
    EXPECT_EQ(out.kind, kind) << status << " " << out.error;
    EXPECT_EQ(out.http_status, status);
  }
  SendOutcome refused = channel->Send(SampleDelivery("d", v1::Delivery::CHANNEL_WEBHOOK, testing::ClosedUrl()));
  EXPECT_EQ(refused.kind, SendOutcome::Kind::kRetryable) << refused.error;
  testing::BlackHole hole;
  auto start = std::chrono::steady_clock::now();
  SendOutcome hung = channel->Send(SampleDelivery("d", v1::Delivery::CHANNEL_WEBHOOK, hole.url()));
  EXPECT_EQ(hung.kind, SendOutcome::Kind::kRetryable);
  EXPECT_NE(hung.error.find("timed out"), std::string::npos) << hung.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  SendOutcome bad = channel->Send(SampleDelivery("d", v1::Delivery::CHANNEL_WEBHOOK, "ftp://x/"));
  EXPECT_EQ(bad.kind, SendOutcome::Kind::kPermanent);
}

TEST(CapChannelTest, PostsOneCapDocumentPerAlert) {
  Receiver receiver;
  auto channel = MakeWebhookChannel({.secret = "k", .cap_sender = "ewarn@inec.example"}, /*cap=*/true);
  v1::Delivery d = SampleDelivery("d-cap", v1::Delivery::CHANNEL_CAP, receiver.url("/cap"));
  *d.add_alerts() = testing::SampleAlert("alert-2");
  SendOutcome out = channel->Send(d);
  ASSERT_TRUE(out.sent()) << out.error;
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(requests[i].Header("content-type"), "application/cap+xml");
    EXPECT_EQ(requests[i].Header("x-ewarn-delivery"), "d-cap");
    EXPECT_EQ(requests[i].Header("x-ewarn-alert"), i == 0 ? "alert-1" : "alert-2");
    EXPECT_EQ(requests[i].Header("x-ewarn-signature"),
              WebhookSignature("k", requests[i].Header("x-ewarn-timestamp"), requests[i].body));
    EXPECT_NE(requests[i].body.find("<sender>ewarn@inec.example</sender>"), std::string::npos);
    if (std::filesystem::exists(testing::kXmllint)) {
      std::string why;
      EXPECT_EQ(testing::ValidateCap(requests[i].body, &why), 0) << why;
    }
    EXPECT_NE(requests[i].body.find("<identifier>ewarn-alert-" + std::to_string(i + 1) + "-raised</identifier>"),
              std::string::npos);
  }
}

// --- https ---

constexpr char kOpenssl[] = "/usr/bin/openssl";

// An https receiver: Beast over OpenSSL, with a self-signed certificate for IP 127.0.0.1 made
// by the openssl command. Answers 200 and records each request.
class TlsReceiver {
 public:
  explicit TlsReceiver(const std::string& dir)
      : cert_(dir + "/cert.pem"), ctx_(ssl::context::tls_server),
        acceptor_(ioc_, testing::tcp::endpoint(testing::net::ip::make_address("127.0.0.1"), 0)) {
    std::string cmd = std::string(kOpenssl) + " req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1" +
                      " -addext subjectAltName=IP:127.0.0.1 -keyout " + dir + "/key.pem -out " + cert_ +
                      " >/dev/null 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
    if (!ok_) return;
    ctx_.use_certificate_chain_file(cert_);
    ctx_.use_private_key_file(dir + "/key.pem", ssl::context::pem);
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TlsReceiver() {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }
  bool ok() const { return ok_; }
  const std::string& cert() const { return cert_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/hook"; }
  std::vector<testing::Received> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, testing::tcp::socket socket) {
      if (ec) return;
      boost::beast::ssl_stream<testing::tcp::socket> stream(std::move(socket), ctx_);
      stream.handshake(ssl::stream_base::server, ec);
      if (!ec) {
        boost::beast::flat_buffer buffer;
        testing::http::request<testing::http::string_body> req;
        testing::http::read(stream, buffer, req, ec);
        if (!ec) {
          {
            std::lock_guard lock(mu_);
            requests_.push_back({std::string(req.method_string()), std::string(req.target()), req.body(),
                                 {{"x-ewarn-delivery", std::string(req["X-Ewarn-Delivery"])}}});
          }
          testing::http::response<testing::http::string_body> res{testing::http::status::ok, 11};
          res.body() = "ok";
          res.prepare_payload();
          testing::http::write(stream, res, ec);
          stream.shutdown(ec);
        }
      }
      Accept();
    });
  }

  std::string cert_;
  bool ok_ = false;
  ssl::context ctx_;
  testing::net::io_context ioc_;
  testing::tcp::acceptor acceptor_;
  mutable std::mutex mu_;  // guards requests_
  std::vector<testing::Received> requests_;
  std::thread thread_;
};

TEST(WebhookChannelTest, HttpsVerifiesTheServerCertificate) {
  if (!std::filesystem::exists(kOpenssl)) GTEST_SKIP() << kOpenssl << " missing (scripts/deps.sh installs openssl)";
  ewarn::testing::TempDir dir;
  TlsReceiver receiver(dir.path());
  ASSERT_TRUE(receiver.ok()) << "openssl could not make a certificate";
  v1::Delivery d = SampleDelivery("d-tls", v1::Delivery::CHANNEL_WEBHOOK, receiver.url());

  SendOutcome trusted = MakeWebhookChannel({.secret = "k", .ca_file = receiver.cert()})->Send(d);
  ASSERT_TRUE(trusted.sent()) << trusted.error;
  ASSERT_EQ(receiver.requests().size(), 1u);
  EXPECT_EQ(receiver.requests()[0].Header("x-ewarn-delivery"), "d-tls");
  EXPECT_EQ(receiver.requests()[0].body, WebhookJson(d));

  // The system's CAs do not know this self-signed certificate: nothing is sent.
  SendOutcome untrusted = MakeWebhookChannel({.secret = "k"})->Send(d);
  EXPECT_EQ(untrusted.kind, SendOutcome::Kind::kRetryable);
  EXPECT_NE(untrusted.error.find("tls handshake"), std::string::npos) << untrusted.error;
  EXPECT_EQ(receiver.requests().size(), 1u);
}

// --- SMS through real Kannel ---

// fakesmsc prints UCS-2 text URL-encoded ('+' = space): decode to bytes, then UTF-16BE -> UTF-8
// (the BMP is enough for Cyrillic).
std::string Ucs2UrlToUtf8(const std::string& s) {
  std::string bytes;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      bytes.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      bytes.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  std::string out;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
    unsigned cp = (static_cast<unsigned char>(bytes[i]) << 8) | static_cast<unsigned char>(bytes[i + 1]);
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  return out;
}

TEST(SmsChannelTest, KannelSendsmsReachesThePhone) {
  if (std::string missing = ewarn::testing::MissingKannelBinary(); !missing.empty()) {
    GTEST_SKIP() << missing << " missing (scripts/deps.sh installs kannel, kannel-extras)";
  }
  ewarn::testing::TempDir dir;
  ewarn::testing::Kannel kannel({.dir = dir.path(), .sendsms = true});
  ASSERT_TRUE(kannel.started()) << kannel.error();
  // The phone network: fakesmsc connected to the fake SMSC. It must send something to run;
  // one message to an unrouted number (no sms-service) is dropped by Kannel.
  auto phone = kannel.Phone("'+2348000000099 3232 text hello'", 1);
  std::this_thread::sleep_for(500ms);

  auto channel = MakeSmsChannel({.sendsms_url = kannel.sendsms_url(), .username = "ewarn",
                                 .password = "ewarn-pass", .from = "3232"});
  v1::Delivery d = SampleDelivery("d-sms", v1::Delivery::CHANNEL_SMS, "+2348000000002", "en");
  SendOutcome out = channel->Send(d);
  ASSERT_TRUE(out.sent()) << out.error;
  EXPECT_EQ(out.http_status, 202);

  // fakesmsc prints "Got message N: <from> <to> text <text>".
  std::string got, seen;
  while (auto line = phone->ReadLine(15s)) {
    seen += *line + "\n";
    // (Kannel answers the phone's own message with "Request Failed": no sms-service.)
    if (line->find("Got message") != std::string::npos && line->find("+2348000000002") != std::string::npos) {
      got = *line;
      break;
    }
  }
  EXPECT_FALSE(got.empty()) << "fakesmsc printed:\n" << seen;
  EXPECT_NE(got.find("3232 +2348000000002"), std::string::npos) << got;
  EXPECT_NE(got.find("ewarn HIGH: incident cluster at W1, IKEJA"), std::string::npos) << got;
  EXPECT_NE(got.find(ShortAlertRef("alert-1")), std::string::npos) << got;

  // Russian goes as UCS-2 (coding=2); fakesmsc shows it url-encoded as "ucs2".
  v1::Delivery ru = SampleDelivery("d-sms-ru", v1::Delivery::CHANNEL_SMS, "+2348000000003", "ru");
  out = channel->Send(ru);
  ASSERT_TRUE(out.sent()) << out.error;
  got.clear();
  while (auto line = phone->ReadLine(15s)) {
    seen += *line + "\n";
    if (line->find("Got message") != std::string::npos && line->find("+2348000000003") != std::string::npos) {
      got = *line;
      break;
    }
  }
  const std::string marker = "3232 +2348000000003 ucs-2 ";
  ASSERT_NE(got.find(marker), std::string::npos) << "fakesmsc printed:\n" << seen;
  std::string encoded = got.substr(got.find(marker) + marker.size());
  encoded = encoded.substr(0, encoded.rfind('>'));
  EXPECT_EQ(Ucs2UrlToUtf8(encoded), SmsText(ru));

  auto wrong = MakeSmsChannel({.sendsms_url = kannel.sendsms_url(), .username = "ewarn",
                               .password = "wrong", .from = "3232"});
  SendOutcome denied = wrong->Send(d);
  EXPECT_EQ(denied.kind, SendOutcome::Kind::kPermanent) << denied.error;
}

// --- e-mail through a real SMTP server ---

constexpr char kPython[] = "/usr/bin/python3";

bool HaveAiosmtpd() {
  return std::system((std::string(kPython) + " -c 'import aiosmtpd' >/dev/null 2>&1").c_str()) == 0;
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(EmailChannelTest, AiosmtpdReceivesTheMessage) {
  if (!std::filesystem::exists(kPython) || !HaveAiosmtpd()) {
    GTEST_SKIP() << "python3-aiosmtpd missing (scripts/deps.sh installs it)";
  }
  ewarn::testing::TempDir dir;
  const int port = ewarn::testing::FreePort();
  ewarn::testing::ChildProcess server({"/bin/sh", "-c",
                                       std::string("exec ") + kPython + " -m aiosmtpd -n -l 127.0.0.1:" +
                                           std::to_string(port) + " -c aiosmtpd.handlers.Mailbox " +
                                           dir.Sub("mail") + " 2>&1"});
  ASSERT_TRUE(ewarn::testing::WaitForPort(port, 15s)) << "aiosmtpd did not start";

  auto channel = MakeEmailChannel({.host = "127.0.0.1", .port = port, .from = "alerts@ewarn.example"});
  v1::Delivery d = SampleDelivery("alert-1:liaison-7:email", v1::Delivery::CHANNEL_EMAIL, "amina@inec.example", "fr");
  // A line that starts with a dot must survive SMTP's end-of-data marker (dot-stuffing).
  d.mutable_alerts(0)->set_summary("first line\n.\n..two dots\r\nlast");
  SendOutcome out = channel->Send(d);
  ASSERT_TRUE(out.sent()) << out.error;

  std::string message;
  for (int i = 0; i < 100 && message.empty(); ++i) {
    if (std::filesystem::exists(dir.Sub("mail/new"))) {
      for (const auto& f : std::filesystem::directory_iterator(dir.Sub("mail/new"))) message = ReadFile(f.path());
    }
    if (message.empty()) std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(message.empty()) << "no message in the maildir";
  EXPECT_NE(message.find("Message-ID: " + EmailMessageId(d)), std::string::npos) << message;
  EXPECT_NE(message.find("X-Ewarn-Delivery: alert-1:liaison-7:email"), std::string::npos);
  EXPECT_NE(message.find("From: ewarn <alerts@ewarn.example>"), std::string::npos);
  EXPECT_NE(message.find("<amina@inec.example>"), std::string::npos);
  EXPECT_NE(message.find("Subject: =?UTF-8?B?"), std::string::npos) << "a French subject is encoded";
  EXPECT_NE(message.find("Content-Type: text/plain; charset=UTF-8"), std::string::npos);
  // The body arrives as written, dots restored (Mailbox stores '\n' line ends).
  EXPECT_NE(message.find("Bonjour Amina Bello"), std::string::npos) << message;
  EXPECT_NE(message.find("first line\n.\n..two dots\nlast"), std::string::npos) << message;
  EXPECT_NE(message.find("groupe d'incidents"), std::string::npos);
}

// A scripted SMTP server for error replies and old servers: greets, then answers each command by
// prefix (default 250; DATA 354, then 250 after the end-of-data line). One connection.
class SmtpResponder {
 public:
  explicit SmtpResponder(std::map<std::string, std::string> answers)
      : acceptor_(ioc_, testing::tcp::endpoint(testing::net::ip::make_address("127.0.0.1"), 0)),
        answers_(std::move(answers)) {
    thread_ = std::thread([this] {
      boost::system::error_code ec;
      testing::tcp::socket s(ioc_);
      acceptor_.accept(s, ec);
      if (ec) return;
      testing::net::write(s, testing::net::buffer(std::string("220 test ESMTP\r\n")), ec);
      testing::net::streambuf buf;
      bool in_data = false;
      while (!ec) {
        testing::net::read_until(s, buf, "\r\n", ec);
        if (ec) break;
        std::istream in(&buf);
        std::string line;
        std::getline(in, line);
        {
          std::lock_guard lock(mu_);
          transcript_ += line + "\n";
        }
        if (in_data) {
          if (line == ".\r") {
            in_data = false;
            testing::net::write(s, testing::net::buffer(std::string("250 queued\r\n")), ec);
          }
          continue;
        }
        std::string reply = "250 ok\r\n";
        for (const auto& [prefix, answer] : answers_) {
          if (line.rfind(prefix, 0) == 0) reply = answer + "\r\n";
        }
        if (line.rfind("EHLO", 0) == 0 && reply == "250 ok\r\n") reply = "250-test\r\n250 8BITMIME\r\n";
        if (line.rfind("DATA", 0) == 0 && reply == "250 ok\r\n") {
          reply = "354 go ahead\r\n";
          in_data = true;
        }
        testing::net::write(s, testing::net::buffer(reply), ec);
        if (line.rfind("QUIT", 0) == 0) break;
      }
    });
  }
  ~SmtpResponder() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  std::string transcript() const {
    std::lock_guard lock(mu_);
    return transcript_;
  }

 private:
  mutable std::mutex mu_;  // guards transcript_
  std::string transcript_;
  testing::net::io_context ioc_;
  testing::tcp::acceptor acceptor_;
  std::map<std::string, std::string> answers_;
  std::thread thread_;
};

TEST(EmailChannelTest, SmtpRepliesDecideRetryOrGiveUp) {
  v1::Delivery d = SampleDelivery("d-mail", v1::Delivery::CHANNEL_EMAIL, "nobody@inec.example");
  {
    SmtpResponder smtp(std::map<std::string, std::string>{{"RCPT", "550 5.1.1 <nobody@inec.example>: mailbox unavailable"}});
    SendOutcome out = MakeEmailChannel({.port = smtp.port(), .from = "a@ewarn.example"})->Send(d);
    EXPECT_EQ(out.kind, SendOutcome::Kind::kPermanent) << out.error;
    EXPECT_NE(out.error.find("550 5.1.1"), std::string::npos) << out.error;
    EXPECT_NE(out.error.find("RCPT TO"), std::string::npos) << out.error;
  }
  {
    SmtpResponder smtp(std::map<std::string, std::string>{{"RCPT", "451 4.3.0 greylisted, try later"}});
    SendOutcome out = MakeEmailChannel({.port = smtp.port(), .from = "a@ewarn.example"})->Send(d);
    EXPECT_EQ(out.kind, SendOutcome::Kind::kRetryable) << out.error;
  }
  {
    SmtpResponder smtp(std::map<std::string, std::string>{{"MAIL", "421 4.7.0 too busy"}});
    SendOutcome out = MakeEmailChannel({.port = smtp.port(), .from = "a@ewarn.example"})->Send(d);
    EXPECT_EQ(out.kind, SendOutcome::Kind::kRetryable) << out.error;
  }
  {
    // An old server without EHLO: HELO, and the non-ASCII body goes as base64.
    SmtpResponder smtp(std::map<std::string, std::string>{{"EHLO", "502 5.5.1 command not implemented"}});
    v1::Delivery fr = d;
    fr.set_language("fr");
    SendOutcome out = MakeEmailChannel({.port = smtp.port(), .from = "a@ewarn.example"})->Send(fr);
    EXPECT_TRUE(out.sent()) << out.error;
    EXPECT_NE(smtp.transcript().find("HELO ewarn.localdomain"), std::string::npos) << smtp.transcript();
    EXPECT_NE(smtp.transcript().find("Content-Transfer-Encoding: base64"), std::string::npos) << smtp.transcript();
  }
  SendOutcome refused = MakeEmailChannel({.port = ewarn::testing::FreePort(), .from = "a@ewarn.example"})->Send(d);
  EXPECT_EQ(refused.kind, SendOutcome::Kind::kRetryable) << refused.error;
  v1::Delivery injected = d;
  injected.set_address("x@y.z>\r\nRCPT TO:<evil@example.com");
  EXPECT_EQ(MakeEmailChannel({.from = "a@ewarn.example"})->Send(injected).kind, SendOutcome::Kind::kPermanent);
}

}  // namespace
}  // namespace ewarn::alerts
