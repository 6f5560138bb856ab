#include "flags.h"

#include <charconv>

namespace ewarn::app {

Result<Flags> Flags::Parse(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs) {
  Flags f;
  std::map<std::string, const FlagSpec*> by_name;
  for (const auto& s : specs) {
    by_name[s.name] = &s;
    if (!s.default_value.empty()) f.defaults_[s.name] = s.default_value;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      f.help_ = true;
      continue;
    }
    if (!a.starts_with("--")) {
      f.positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    auto it = by_name.find(name);
    if (it == by_name.end()) return Status::InvalidArgument("unknown flag --" + name + " (see --help)");
    if (it->second->value_name.empty()) {
      f.values_[name] = inline_value ? value : "true";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        return Status::InvalidArgument("--" + name + " needs a value (" + it->second->value_name + ")");
      }
      value = args[++i];
    }
    f.values_[name] = value;
    if (it->second->repeated) f.repeated_[name].push_back(value);
  }
  if (!f.help_) {
    for (const auto& s : specs) {
      if (s.required && !f.Has(s.name)) return Status::InvalidArgument("--" + s.name + " is required");
    }
  }
  return f;
}

std::string Flags::Get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  if (auto it = defaults_.find(name); it != defaults_.end()) return it->second;
  return "";
}

std::vector<std::string> Flags::GetAll(const std::string& name) const {
  if (auto it = repeated_.find(name); it != repeated_.end()) return it->second;
  return {};
}

Result<int64_t> Flags::GetInt(const std::string& name) const {
  std::string v = Get(name);
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    return Status::InvalidArgument("--" + name + " must be a whole number, not '" + v + "'");
  }
  return out;
}

Result<double> Flags::GetDouble(const std::string& name) const {
  std::string v = Get(name);
  try {
    size_t used = 0;
    double d = std::stod(v, &used);
    if (used == v.size()) return d;
  } catch (...) {
  }
  return Status::InvalidArgument("--" + name + " must be a number, not '" + v + "'");
}

std::string Usage(const std::string& command, const std::string& summary,
                  const std::vector<FlagSpec>& specs, const std::string& positional) {
  std::string out = "Usage: ewarn " + command + " [flags]" + (positional.empty() ? "" : " " + positional) +
                    "\n" + summary + "\n\nFlags:\n";
  for (const auto& s : specs) {
    std::string left = "  --" + s.name + (s.value_name.empty() ? "" : " " + s.value_name);
    if (left.size() < 28) left.resize(28, ' ');
    out += left + " " + s.help;
    if (s.required) out += " (required)";
    if (!s.default_value.empty()) out += " [default: " + s.default_value + "]";
    if (s.repeated) out += " (repeatable)";
    out += "\n";
  }
  out += "  --help                     this text\n";
  return out;
}

}  // namespace ewarn::app
