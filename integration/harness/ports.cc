#include "harness/ports.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

namespace meridian::harness {
namespace {

// Binds 127.0.0.1:<port> (0: the kernel picks) and returns the bound port, or 0 if taken.
uint16_t TryBind(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket() failed: ") + ::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  uint16_t bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}

// The lowest port of the kernel's ephemeral range, from which it picks the local ports of
// outgoing connections.
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  in >> low;
  return low;
}

}  // namespace

// Ports are taken below the ephemeral range when there is room: a port picked by bind(0) comes
// from that range, and while its server is down (killed by a test, about to be restarted) an
// outgoing connection may take it as its local port, and the restart would then fail. Each
// process starts at its own offset to keep concurrent test processes apart; bind(0) is the
// fallback.
uint16_t FreeLoopbackPort() {
  static std::mutex mu;
  static std::set<uint16_t> handed_out;
  static const int low = EphemeralLow();
  constexpr int kFirst = 10000;
  std::lock_guard lock(mu);
  if (low - kFirst >= 1000) {
    const int span = low - kFirst;
    static int next = kFirst + static_cast<int>((::getpid() * 7919L) % span);
    for (int tries = 0; tries < span; ++tries) {
      const int candidate = next;
      next = candidate + 1 < low ? candidate + 1 : kFirst;
      auto port = static_cast<uint16_t>(candidate);
      if (handed_out.count(port) == 0 && TryBind(port) == port) {
        handed_out.insert(port);
        return port;
      }
    }
  }
  for (int attempt = 0; attempt < 1000; ++attempt) {
    uint16_t port = TryBind(0);
    if (port != 0 && handed_out.insert(port).second) return port;
  }
  throw std::runtime_error("no unused loopback port found; is the machine out of ports?");
}

}  // namespace meridian::harness
