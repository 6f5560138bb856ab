#include "key_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>

namespace ewarn::app {
namespace {

std::optional<std::string> ReadKey(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream buf;
  buf << in.rdbuf();
  std::string key = buf.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == ' ' || key.back() == '\r')) key.pop_back();
  return key;
}

}  // namespace

Status InstallKeyFile(const DataDir& dir, const std::string& flag, const std::string& from, const std::string& to) {
  std::optional<std::string> key = ReadKey(from);
  if (!key) return Status::InvalidArgument(flag + ": cannot read '" + from + "'");
  if (key->size() < 32 || key->find_first_of("\n ") != std::string::npos) {
    return Status::InvalidArgument(flag + ": '" + from + "' must hold one key of at least 32 characters "
                                   "(make one with: head -c 32 /dev/urandom | xxd -p -c 64)");
  }
  RETURN_IF_ERROR(CreateDataDir(dir));
  if (std::optional<std::string> present = ReadKey(to)) {
    if (*present == *key) return Status::Ok();
    return Status::FailedPrecondition(flag + ": '" + to + "' holds another key: this data directory was made with a "
                                      "different one, so its pseudonyms or signatures would not match the cluster's; "
                                      "give the cluster's key file or start on a new --data directory");
  }
  int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return Status::IOError("cannot create '" + to + "'");
  std::string line = *key + "\n";
  bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return Status::IOError("cannot write '" + to + "'");
  return Status::Ok();
}

}  // namespace ewarn::app
