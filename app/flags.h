// A small command-line parser for ewarn's subcommands: `--name value` and `--flag`, a usage
// text per subcommand, and clear errors for unknown or missing flags.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ewarn/base/status.h"

namespace ewarn::app {

struct FlagSpec {
  std::string name;         // without "--"
  std::string value_name;   // empty: a boolean flag
  std::string help;
  std::string default_value;
  bool required = false;
  bool repeated = false;    // may be given several times (GetAll); Get answers the last
};

class Flags {
 public:
  // Parses args (after the subcommand words). InvalidArgument names the offending flag.
  static Result<Flags> Parse(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs);
  bool help() const { return help_; }
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name) const;
  Result<int64_t> GetInt(const std::string& name) const;
  Result<double> GetDouble(const std::string& name) const;
  // Every value of a repeated flag, in the order given; empty when it was not given.
  std::vector<std::string> GetAll(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> repeated_;  // repeated flags' values
  std::map<std::string, std::string> defaults_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// "Usage: ewarn <command> [flags]\n<summary>\n\nFlags:\n  --data DIR  ...".
std::string Usage(const std::string& command, const std::string& summary,
                  const std::vector<FlagSpec>& specs, const std::string& positional = "");

}  // namespace ewarn::app
