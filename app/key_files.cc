#include "key_files.h"

#include <fcntl.h>
#include <cerrno>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>

namespace ewarn::app {
namespace {

std::optional<std::string> ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buf;
  buf << in.rdbuf();
  std::string key = buf.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == ' ' || key.back() == '\r')) key.pop_back();
  return key;
}

Status WriteNewKeyFile(const std::string& path, const std::string& key) {
  // O_EXCL: two processes starting at once must not write different keys.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists(path);
    return Status::IOError("cannot create key file '" + path + "'");
  }
  std::string line = key + "\n";
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return Status::IOError("cannot write key file '" + path + "'");
  return Status::Ok();
}

Result<std::string> LoadOrCreateKeyFile(const DataDir& dir, const std::string& path) {
  RETURN_IF_ERROR(CreateDataDir(dir));
  if (::access(path.c_str(), F_OK) == 0) return ReadKeyFile("key file", path);
  unsigned char raw[32];
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  if (!urandom.read(reinterpret_cast<char*>(raw), sizeof raw)) return Status::IOError("cannot read /dev/urandom");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key;
  for (unsigned char c : raw) {
    key.push_back(kHex[c >> 4]);
    key.push_back(kHex[c & 15]);
  }
  Status st = WriteNewKeyFile(path, key);
  if (st.code() == StatusCode::kAlreadyExists) return ReadKeyFile("key file", path);  // another process won
  RETURN_IF_ERROR(st);
  return key;
}

}  // namespace

Result<std::string> ReadKeyFile(const std::string& flag, const std::string& path) {
  std::optional<std::string> key = ReadTrimmed(path);
  if (!key) return Status::InvalidArgument(flag + ": cannot read '" + path + "'");
  if (key->size() < 32 || key->find_first_of("\n ") != std::string::npos) {
    return Status::InvalidArgument(flag + ": '" + path + "' must hold one key of at least 32 characters "
                                   "(make one with: head -c 32 /dev/urandom | xxd -p -c 64)");
  }
  return *key;
}

Result<std::string> LoadOrCreateSecret(const DataDir& dir) { return LoadOrCreateKeyFile(dir, dir.secret()); }

Result<std::string> LoadOrCreateWebhookKey(const DataDir& dir) {
  return LoadOrCreateKeyFile(dir, dir.root + "/webhook.key");
}

Status InstallKeyFile(const DataDir& dir, const std::string& flag, const std::string& from, const std::string& to) {
  ASSIGN_OR_RETURN(std::string key, ReadKeyFile(flag, from));
  RETURN_IF_ERROR(CreateDataDir(dir));
  if (std::optional<std::string> present = ReadTrimmed(to)) {
    if (*present == key) return Status::Ok();
    return Status::FailedPrecondition(flag + ": '" + to + "' holds another key: this data directory was made with a "
                                      "different one, so its pseudonyms or signatures would not match the cluster's; "
                                      "give the cluster's key file or start on a new --data directory");
  }
  return WriteNewKeyFile(to, key);
}

}  // namespace ewarn::app
