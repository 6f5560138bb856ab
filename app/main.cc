// ewarn: the command-line entry point. Thin: it finds the subcommand and parses its flags.
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "ewarn/ingest/http_server.h"

namespace {

std::string Overview(const std::vector<ewarn::app::Command>& commands) {
  std::string out =
      "ewarn: election early-warning and incident platform\n\nUsage: ewarn <command> [flags]\n\n"
      "Commands:\n";
  for (const auto& c : commands) {
    std::string name;
    for (const auto& w : c.words) name += (name.empty() ? "" : " ") + w;
    name.resize(std::max<size_t>(name.size(), 18), ' ');
    out += "  " + name + " " + c.summary + "\n";
  }
  out += "\nRun 'ewarn <command> --help' for its flags.\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Before any store opens: every command gets the most descriptors the system allows it, and
  // `serve` derives its connection cap from what that leaves (ingest::ConnectionCap).
  if (auto raised = ewarn::ingest::RaiseFileDescriptorLimit(); !raised.ok()) {
    std::fprintf(stderr, "ewarn: %s\n", raised.status().message().c_str());
  }
  std::vector<ewarn::app::Command> commands = ewarn::app::FoundationCommands();
  for (auto& c : ewarn::app::IngestCommands()) commands.push_back(std::move(c));
  for (auto& c : ewarn::app::AlertCommands()) commands.push_back(std::move(c));
  for (auto& c : ewarn::app::SimCommands()) commands.push_back(std::move(c));
  for (auto& c : ewarn::app::AreaCommands()) commands.push_back(std::move(c));
  for (auto& c : ewarn::app::ResultsCommands()) commands.push_back(std::move(c));
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(Overview(commands).c_str(), args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const ewarn::app::Command* best = nullptr;
  for (const auto& c : commands) {
    if (c.words.size() > args.size()) continue;
    if (!std::equal(c.words.begin(), c.words.end(), args.begin())) continue;
    if (best == nullptr || c.words.size() > best->words.size()) best = &c;
  }
  if (best == nullptr) {
    std::fprintf(stderr, "ewarn: unknown command '%s'\n\n%s", args[0].c_str(), Overview(commands).c_str());
    return 2;
  }
  std::string name;
  for (const auto& w : best->words) name += (name.empty() ? "" : " ") + w;
  std::vector<std::string> rest(args.begin() + static_cast<long>(best->words.size()), args.end());
  ewarn::Result<ewarn::app::Flags> flags = ewarn::app::Flags::Parse(rest, best->flags);
  if (!flags.ok()) {
    std::fprintf(stderr, "ewarn %s: %s\n\n%s", name.c_str(), flags.status().message().c_str(),
                 ewarn::app::Usage(name, best->summary, best->flags, best->positional).c_str());
    return 2;
  }
  if (flags->help()) {
    std::fputs(ewarn::app::Usage(name, best->summary, best->flags, best->positional).c_str(), stdout);
    return 0;
  }
  return best->run(*flags);
}
