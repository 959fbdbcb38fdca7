#include "harness/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace meridian::harness {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on fd until the deadline; false on timeout.
bool WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

}  // namespace

HttpResponse HttpGet(const std::string& host, uint16_t port, const std::string& path,
                     std::chrono::milliseconds timeout) {
  HttpResponse resp;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string where = host + ":" + std::to_string(port);
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) {
    resp.error = std::string("socket() failed: ") + ::strerror(errno);
    return resp;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    resp.error = "not an IPv4 address: " + host;
    return resp;
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      resp.error = "connect to " + where + " failed: " + ::strerror(errno);
      return resp;
    }
    if (!WaitFor(fd.get(), POLLOUT, deadline)) {
      resp.error = "connect to " + where + " timed out";
      return resp;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      resp.error = "connect to " + where + " failed: " + ::strerror(err);
      return resp;
    }
  }
  const std::string request =
      "GET " + path + " HTTP/1.0\r\nHost: " + where + "\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    if (!WaitFor(fd.get(), POLLOUT, deadline)) {
      resp.error = "sending to " + where + " timed out";
      return resp;
    }
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      resp.error = "send to " + where + " failed: " + ::strerror(errno);
      return resp;
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[16384];
  while (true) {
    if (!WaitFor(fd.get(), POLLIN, deadline)) {
      resp.error = "reading from " + where + " timed out";
      return resp;
    }
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      resp.error = "recv from " + where + " failed: " + ::strerror(errno);
      return resp;
    }
    raw.append(buf, static_cast<size_t>(n));
  }
  // "HTTP/1.x 200 OK\r\n...\r\n\r\nbody"
  auto sp = raw.find(' ');
  auto header_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/", 0) != 0 || sp == std::string::npos || header_end == std::string::npos) {
    resp.error = "malformed HTTP response from " + where + ": " + raw.substr(0, 80);
    return resp;
  }
  resp.status = std::atoi(raw.c_str() + sp + 1);
  resp.body = raw.substr(header_end + 4);
  return resp;
}

}  // namespace meridian::harness
