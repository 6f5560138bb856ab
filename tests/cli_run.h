// Runs a command line through the shell for CLI tests: exit code and output (stdout and stderr
// together, in order).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

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

}  // namespace ewarn::testing
