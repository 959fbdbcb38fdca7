// Endpoint: where to listen or connect: a TCP host and port, or a Unix socket path.
//
// Parse() accepts "host:port", "[v6]:port", "nats://host:port", "tls://host:port" and
// "unix:/path"; errors say what was wrong with the text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "net/status.h"

namespace meridian::net {

struct Endpoint {
  std::string host;       // Name or numeric IPv4/IPv6 (without brackets); empty for Unix.
  uint16_t port = 0;      // 0 when listening means "pick a free port".
  std::string unix_path;  // Set for a Unix socket; then host and port are unused.

  static Endpoint Tcp(std::string host, uint16_t port) { return {std::move(host), port, {}}; }
  static Endpoint Unix(std::string path) { return {{}, 0, std::move(path)}; }
  static Result<Endpoint> Parse(std::string_view text);

  bool is_unix() const { return !unix_path.empty(); }
  // "host:port", "[::1]:port" or "unix:/path".
  std::string ToString() const;
  bool operator==(const Endpoint&) const = default;
};

}  // namespace meridian::net
