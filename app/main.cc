// ewarn: the command-line entry point. Thin: it finds the subcommand and parses its flags.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "data_dir.h"
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

// The commands under a group word ("log": log stat, log check, log dump); empty when `word`
// starts none.
std::vector<ewarn::app::Command> Group(const std::vector<ewarn::app::Command>& commands, const std::string& word) {
  std::vector<ewarn::app::Command> group;
  for (const auto& c : commands) {
    if (c.words.size() > 1 && c.words[0] == word) group.push_back(c);
  }
  return group;
}

std::string GroupUsage(const std::string& word, const std::vector<ewarn::app::Command>& group) {
  std::string out = "Usage: ewarn " + word + " <command> [flags]\n\nCommands:\n";
  for (const auto& c : group) {
    std::string name;
    for (const auto& w : c.words) name += (name.empty() ? "" : " ") + w;
    name.resize(std::max<size_t>(name.size(), 18), ' ');
    out += "  " + name + " " + c.summary + "\n";
  }
  out += "\nRun 'ewarn " + word + " <command> --help' for its flags.\n";
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
  for (auto& c : ewarn::app::ClusterCommands()) commands.push_back(std::move(c));
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
    // "ewarn log", "ewarn log --help", "ewarn log frob": what the group offers.
    if (auto group = Group(commands, args[0]); !group.empty()) {
      bool help = args.size() > 1 && (args[1] == "--help" || args[1] == "-h" || args[1] == "help");
      if (help) {
        std::fputs(GroupUsage(args[0], group).c_str(), stdout);
        return 0;
      }
      if (args.size() > 1) std::fprintf(stderr, "ewarn %s: unknown command '%s'\n\n", args[0].c_str(), args[1].c_str());
      std::fputs(GroupUsage(args[0], group).c_str(), stderr);
      return 2;
    }
    std::fprintf(stderr, "ewarn: unknown command '%s'\n\n%s", args[0].c_str(), Overview(commands).c_str());
    return 2;
  }
  std::string name;
  for (const auto& w : best->words) name += (name.empty() ? "" : " ") + w;
  std::vector<std::string> rest(args.begin() + static_cast<long>(best->words.size()), args.end());
  // Every command that takes --kafka takes --kafka-property too, checked here once for all.
  std::vector<ewarn::app::FlagSpec> specs = best->flags;
  auto has_flag = [&](const std::string& flag) {
    return std::any_of(specs.begin(), specs.end(), [&](const auto& s) { return s.name == flag; });
  };
  const bool takes_kafka = has_flag(ewarn::app::kKafkaFlag.name);
  if (takes_kafka && !has_flag(ewarn::app::kKafkaPropertyFlag.name)) {
    auto kafka = std::find_if(specs.begin(), specs.end(), [](const auto& s) { return s.name == "kafka"; });
    specs.insert(kafka + 1, ewarn::app::kKafkaPropertyFlag);
  }
  auto usage = [&] {
    std::string text = ewarn::app::Usage(name, best->summary, specs, best->positional);
    if (!best->without_kafka.empty()) text += "\nNo --kafka: " + best->without_kafka + "\n";
    return text;
  };
  ewarn::Result<ewarn::app::Flags> flags = ewarn::app::Flags::Parse(rest, specs);
  if (!flags.ok()) {
    std::string message = flags.status().message();
    if (!best->without_kafka.empty() && (message.starts_with("unknown flag --kafka ") || message.starts_with("unknown flag --kafka-property "))) {
      message = "--kafka is not taken here: " + best->without_kafka;
    }
    std::fprintf(stderr, "ewarn %s: %s\n\n%s", name.c_str(), message.c_str(), usage().c_str());
    return 2;
  }
  if (flags->help()) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  // A stray word is a mistake (a flag without its "--", a value too many), never ignored.
  if (best->positional.empty() && !flags->positional().empty()) {
    std::fprintf(stderr, "ewarn %s: unexpected argument '%s' (this command takes flags only)\n\n%s", name.c_str(),
                 flags->positional()[0].c_str(), usage().c_str());
    return 2;
  }
  if (takes_kafka) {
    if (ewarn::Status st = ewarn::app::CheckKafkaFlags(*flags); !st.ok()) {
      std::fprintf(stderr, "ewarn %s: %s\n", name.c_str(), st.message().c_str());
      return 2;
    }
  }
  return best->run(*flags);
}
