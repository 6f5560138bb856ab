// Runs a command line through the shell for CLI tests: exit code and output (stdout and stderr
// together, in order).
#pragma once

#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <thread>

namespace ewarn::testing {

struct CliRun {
  int code = -1;     // exit code; -1 when it did not exit normally
  std::string out;   // stdout and stderr together
};

inline CliRun RunCli(const std::string& command_line) {
  CliRun r;
  FILE* p = popen((command_line + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The last line of a command's output (what `token create` and `liaison add` print last: the token).
inline std::string LastLine(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') + 1);
}

// The wall clock as RFC 3339 to the second ("2026-12-04T04:55:00Z"), for reports stamped now.
inline std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// curl is a real HTTP client and keeps the tests honest about what goes over the wire.
inline CliRun Curl(const std::string& args) { return RunCli("curl -s -m 5 " + args); }

// Polls `check` every 50 ms for up to `limit`, then once more.
inline bool Eventually(const std::function<bool()>& check, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return check();
}

}  // namespace ewarn::testing
