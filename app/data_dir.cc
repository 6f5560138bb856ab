#include "data_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ewarn/schemas/events.h"

namespace ewarn::app {

Status RequireDirectory(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    return Status::NotFound(what + " '" + path + "' does not exist");
  }
  return Status::Ok();
}

Status RequireDataDir(const DataDir& dir) {
  if (dir.root.empty()) return Status::InvalidArgument("--data DIR is empty");
  return RequireDirectory(dir.root, "data directory");
}

Status CreateDataDir(const DataDir& dir, bool with_parents) {
  namespace fs = std::filesystem;
  if (dir.root.empty()) return Status::InvalidArgument("--data DIR is empty");
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

namespace {

// A 32-byte random key as hex in `path` (mode 0600), created on first use.
Result<std::string> LoadOrCreateKeyFile(const DataDir& dir, const std::string& path) {
  RETURN_IF_ERROR(CreateDataDir(dir));
  std::ifstream in(path);
  if (in) {
    std::stringstream buf;
    buf << in.rdbuf();
    std::string key = buf.str();
    while (!key.empty() && (key.back() == '\n' || key.back() == ' ')) key.pop_back();
    if (key.size() < 32) return Status::Corruption("key file '" + path + "' is too short");
    return key;
  }
  unsigned char raw[32];
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  if (!urandom.read(reinterpret_cast<char*>(raw), sizeof raw)) return Status::IOError("cannot read /dev/urandom");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key;
  for (unsigned char c : raw) {
    key.push_back(kHex[c >> 4]);
    key.push_back(kHex[c & 15]);
  }
  // O_EXCL: two processes starting at once must not write different keys.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return LoadOrCreateKeyFile(dir, path);
    return Status::IOError("cannot create key file '" + path + "'");
  }
  std::string line = key + "\n";
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return Status::IOError("cannot write key file '" + path + "'");
  return key;
}

}  // namespace

Result<std::string> LoadOrCreateSecret(const DataDir& dir) { return LoadOrCreateKeyFile(dir, dir.secret()); }

Result<std::string> LoadOrCreateWebhookKey(const DataDir& dir) {
  return LoadOrCreateKeyFile(dir, dir.root + "/webhook.key");
}

Status EnsureInputTopics(store::EventLog& log, int32_t partitions) {
  namespace topic = schemas::topic;
  RETURN_IF_ERROR(log.CreateTopic({.name = std::string(topic::kInputs), .partitions = partitions}));
  for (auto name : {topic::kStations, topic::kMonitors, topic::kLiaisons, topic::kTokens, topic::kAreas,
                    topic::kHours, topic::kContests, topic::kPvtSamples}) {
    RETURN_IF_ERROR(log.CreateTopic({.name = std::string(name), .partitions = 1, .compacted = true}));
  }
  return log.CreateTopic({.name = std::string(topic::kRejected), .partitions = 1});
}

}  // namespace ewarn::app
