#include "data_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>


namespace ewarn::app {

Status RequireDirectory(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    return Status::NotFound(what + " '" + path + "' does not exist");
  }
  return Status::Ok();
}

Status RequireDataDir(const DataDir& dir) {
  if (dir.root.empty()) return Status::InvalidArgument("give --data DIR (or --kafka BROKERS where the command takes it)");
  return RequireDirectory(dir.root, "data directory");
}

Status CreateDataDir(const DataDir& dir, bool with_parents) {
  namespace fs = std::filesystem;
  if (dir.root.empty()) return Status::InvalidArgument("give --data DIR (or --kafka BROKERS where the command takes it)");
  std::error_code ec;
  if (fs::is_directory(dir.root, ec)) return Status::Ok();
  if (fs::exists(dir.root, ec)) return Status::FailedPrecondition("data directory '" + dir.root + "' is not a directory");
  fs::path path = fs::path(dir.root).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();  // "dir/" names dir
  fs::path parent = path.parent_path();
  if (parent.empty()) parent = ".";
  if (!with_parents && !fs::is_directory(parent, ec)) {
    return Status::NotFound("cannot create data directory '" + dir.root + "': its parent '" + parent.string() +
                            "' does not exist (check the path, or create the parent first)");
  }
  if (with_parents) {
    fs::create_directories(dir.root, ec);
  } else {
    fs::create_directory(dir.root, ec);
  }
  if (ec) return Status::IOError("cannot create data directory '" + dir.root + "': " + ec.message());
  return Status::Ok();
}

NewDataDirGuard::NewDataDirGuard(std::string root) : root_(std::move(root)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (root_.empty()) {
    keep_ = true;
    return;
  }
  fs::path path = fs::absolute(root_, ec).lexically_normal();
  if (ec) {
    keep_ = true;
    return;
  }
  if (!path.has_filename()) path = path.parent_path();  // "dir/" names dir
  if (fs::exists(path, ec)) {
    was_empty_ = fs::is_directory(path, ec) && fs::is_empty(path, ec);
    if (!was_empty_) keep_ = true;
    return;
  }
  // The topmost missing ancestor: everything from there down is this command's.
  fs::path top = path;
  while (top.has_parent_path() && top.parent_path() != top && !fs::exists(top.parent_path(), ec)) top = top.parent_path();
  remove_ = top.string();
}

NewDataDirGuard::~NewDataDirGuard() {
  namespace fs = std::filesystem;
  if (keep_) return;
  std::error_code ec;
  if (!remove_.empty()) {
    fs::remove_all(remove_, ec);
    return;
  }
  if (was_empty_) {
    for (const auto& entry : fs::directory_iterator(root_, ec)) fs::remove_all(entry.path(), ec);
  }
}

namespace {

// "KEY=VALUE" split at its first '=' (values such as sasl.jaas.config hold more).
std::pair<std::string, std::string> SplitProperty(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos) return {text, ""};
  return {text.substr(0, eq), text.substr(eq + 1)};
}

}  // namespace

Status CheckKafkaFlags(const Flags& flags) {
  std::vector<std::string> given = flags.GetAll(kKafkaPropertyFlag.name);
  if (!given.empty() && flags.Get(kKafkaFlag.name).empty()) {
    return Status::InvalidArgument("--kafka-property needs --kafka BROKERS (it configures the Kafka clients)");
  }
  for (const std::string& text : given) {
    auto [key, value] = SplitProperty(text);
    if (text.find('=') == std::string::npos || key.empty()) {
      return Status::InvalidArgument("--kafka-property '" + text + "' is not KEY=VALUE, e.g. security.protocol=SSL");
    }
    if (key == "bootstrap.servers") {
      return Status::InvalidArgument("--kafka-property bootstrap.servers: give the brokers with --kafka instead");
    }
    if (Status st = store::CheckKafkaProperty(key, value); !st.ok()) {
      return Status::InvalidArgument("--kafka-property " + key + ": " + st.message());
    }
  }
  return Status::Ok();
}

KafkaConnection KafkaOf(const Flags& flags) {
  KafkaConnection kafka{.brokers = flags.Get(kKafkaFlag.name)};
  for (const std::string& text : flags.GetAll(kKafkaPropertyFlag.name)) kafka.properties.push_back(SplitProperty(text));
  return kafka;
}

Result<std::unique_ptr<store::EventLog>> OpenLog(const DataDir& dir, const KafkaConnection& kafka, bool create) {
  if (kafka.enabled()) {
    return store::OpenKafkaLog({.bootstrap_servers = kafka.brokers, .properties = kafka.properties});
  }
  if (!create) {
    RETURN_IF_ERROR(RequireDataDir(dir));
    RETURN_IF_ERROR(RequireDirectory(dir.log(), "data directory's log"));
  } else {
    RETURN_IF_ERROR(CreateDataDir(dir));
  }
  return store::OpenEmbeddedLog({.dir = dir.log(), .create_if_missing = create});
}


}  // namespace ewarn::app
