// Real Kannel on loopback for tests: bearerbox + smsbox with a fake SMSC, driven by fakesmsc
// (a fake operator network from kannel-extras). Shared by tests/kannel_test.cc (SMS in) and
// alerts/tests (SMS out through sendsms). Ports are picked free on 127.0.0.1, since Kannel
// needs them in its configuration file.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "child_process.h"

namespace ewarn::testing {

inline constexpr char kBearerbox[] = "/usr/sbin/bearerbox";
inline constexpr char kSmsbox[] = "/usr/sbin/smsbox";
inline constexpr char kFakesmsc[] = "/usr/lib/kannel/test/fakesmsc";

// A port free right now on 127.0.0.1.
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// True once something accepts connections on 127.0.0.1:port.
inline bool WaitForPort(int port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The Kannel binaries this fixture needs that are not installed (empty: all there).
inline std::string MissingKannelBinary() {
  for (const char* binary : {kBearerbox, kSmsbox, kFakesmsc}) {
    if (!std::filesystem::exists(binary)) return binary;
  }
  return "";
}

struct KannelConfig {
  std::string dir;               // where kannel.conf and the logs go
  std::string sms_service_url;   // get-url for incoming SMS ("" = no sms-service)
  bool sendsms = false;          // open smsbox's sendsms port with a sendsms-user
  std::string sendsms_user = "ewarn";
  std::string sendsms_password = "ewarn-pass";
};

// bearerbox + smsbox running with a fake SMSC; stopped (SIGKILL) on destruction.
class Kannel {
 public:
  // nullopt-like: started() is false, with error() saying what did not come up.
  explicit Kannel(const KannelConfig& config) : config_(config) {
    admin_port_ = FreePort();
    smsbox_port_ = FreePort();
    smsc_port_ = FreePort();
    sendsms_port_ = config.sendsms ? FreePort() : 0;
    const std::string conf = config.dir + "/kannel.conf";
    std::ofstream out(conf);
    out << "group = core\n"
        << "admin-port = " << admin_port_ << "\nadmin-interface = 127.0.0.1\nadmin-password = test\n"
        << "admin-allow-ip = \"127.0.0.1\"\n"
        << "smsbox-port = " << smsbox_port_ << "\nsmsbox-interface = 127.0.0.1\n"
        << "box-deny-ip = \"*.*.*.*\"\nbox-allow-ip = \"127.0.0.1\"\n"
        << "log-file = \"" << config.dir << "/bearerbox.log\"\nlog-level = 1\n\n"
        << "group = smsc\nsmsc = fake\nsmsc-id = FAKE\nport = " << smsc_port_
        << "\nconnect-allow-ip = 127.0.0.1\n\n"
        << "group = smsbox\nbearerbox-host = 127.0.0.1\nlog-file = \"" << config.dir
        << "/smsbox.log\"\nlog-level = 1\n";
    if (config.sendsms) {
      out << "sendsms-port = " << sendsms_port_ << "\nsendsms-interface = 127.0.0.1\n";
    }
    out << "\n";
    if (!config.sms_service_url.empty()) {
      out << "group = sms-service\nkeyword = default\nmax-messages = 1\nomit-empty = true\n"
          << "get-url = \"" << config.sms_service_url << "\"\n\n";
    }
    if (config.sendsms) {
      out << "group = sendsms-user\nusername = " << config.sendsms_user << "\npassword = "
          << config.sendsms_password << "\nmax-messages = 3\nconcatenation = true\n\n";
    }
    out.close();
    // Kannel logs to stderr; tests read only what fakesmsc prints.
    bearerbox_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/bin/sh", "-c", "exec " + std::string(kBearerbox) + " " + conf + " >/dev/null 2>&1"});
    if (!WaitForPort(smsbox_port_, std::chrono::seconds(10))) {
      error_ = "bearerbox did not start";
      return;
    }
    smsbox_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/bin/sh", "-c", "exec " + std::string(kSmsbox) + " " + conf + " >/dev/null 2>&1"});
    if (!WaitForPort(smsc_port_, std::chrono::seconds(10))) {
      error_ = "the fake SMSC port did not open";
      return;
    }
    if (config.sendsms && !WaitForPort(sendsms_port_, std::chrono::seconds(10))) {
      error_ = "smsbox's sendsms port did not open";
      return;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));  // smsbox connects to bearerbox
  }

  bool started() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int smsc_port() const { return smsc_port_; }
  // "http://127.0.0.1:PORT/cgi-bin/sendsms" (with config.sendsms).
  std::string sendsms_url() const {
    return "http://127.0.0.1:" + std::to_string(sendsms_port_) + "/cgi-bin/sendsms";
  }

  // A phone on the fake network: fakesmsc connected to the SMSC port, sending `messages`
  // ("<from> <to> text <message>") and printing what the network delivers ("Got message ...").
  std::unique_ptr<ChildProcess> Phone(const std::string& messages_arg, int count) const {
    return std::make_unique<ChildProcess>(std::vector<std::string>{
        "/bin/sh", "-c",
        "exec " + std::string(kFakesmsc) + " -H 127.0.0.1 -r " + std::to_string(smsc_port_) +
            " -i 0.1 -m " + std::to_string(count) + " " + messages_arg + " 2>&1"});
  }

 private:
  KannelConfig config_;
  int admin_port_ = 0, smsbox_port_ = 0, smsc_port_ = 0, sendsms_port_ = 0;
  std::string error_;
  std::unique_ptr<ChildProcess> bearerbox_, smsbox_;  // smsbox_ destroyed (killed) first
};

}  // namespace ewarn::testing
