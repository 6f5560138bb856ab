#include "listen_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "node.h"

namespace ewarn::app {

Status CheckCanListen(const std::string& address, const std::string& flag) {
  auto host_port = ParseHostPort(address, flag);
  if (!host_port.ok()) return host_port.status();
  const auto& [host, port] = *host_port;
  if (port == 0) return Status::Ok();
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  std::string bare = host.size() > 2 && host.front() == '[' && host.back() == ']' ? host.substr(1, host.size() - 2) : host;
  if (inet_pton(AF_INET, bare.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    length = sizeof *v4;
  } else if (inet_pton(AF_INET6, bare.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    length = sizeof *v6;
  } else {
    return Status::Ok();
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Ok();  // nothing learned; the server reports its own error
  int one = 1;
  // As the servers bind: SO_REUSEADDR, so a port in TIME_WAIT is not mistaken for a busy one.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&storage), length);
  int error = errno;
  ::close(fd);
  if (rc == 0) return Status::Ok();
  if (error == EADDRINUSE) {
    return Status::FailedPrecondition(flag + " " + address +
                                      ": the port is in use (another ewarn, or another program, listens there); "
                                      "give another with " + flag + " " + host + ":PORT" +
                                      (flag == "--http" ? " (port 0: any free port)" : ""));
  }
  return Status::FailedPrecondition(flag + " " + address + ": cannot listen there: " + std::strerror(error));
}

}  // namespace ewarn::app
