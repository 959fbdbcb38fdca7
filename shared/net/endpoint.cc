#include "net/endpoint.h"

#include <charconv>

namespace meridian::net {

Result<Endpoint> Endpoint::Parse(std::string_view text) {
  std::string_view original = text;
  if (text.starts_with("unix:")) {
    text.remove_prefix(5);
    if (text.starts_with("//")) text.remove_prefix(2);
    if (text.empty()) {
      return Status::Error("\"" + std::string(original) +
                           "\" names no socket path; write unix:/path");
    }
    return Unix(std::string(text));
  }
  for (std::string_view scheme : {"nats://", "tls://", "tcp://", "http://"}) {
    if (text.starts_with(scheme)) {
      text.remove_prefix(scheme.size());
      break;
    }
  }
  if (auto at = text.rfind('@'); at != std::string_view::npos) text.remove_prefix(at + 1);
  if (auto slash = text.find('/'); slash != std::string_view::npos) text = text.substr(0, slash);
  std::string host;
  std::string_view port_text;
  if (text.starts_with("[")) {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return Status::Error("\"" + std::string(original) +
                           "\" has an unclosed '[' around an IPv6 address; write [::1]:4222");
    }
    host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(":")) {
      return Status::Error("\"" + std::string(original) + "\" has no port; write [" + host +
                           "]:4222");
    }
    port_text = rest.substr(1);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::Error("\"" + std::string(original) + "\" has no port; write " +
                           std::string(text) + ":4222");
    }
    host = std::string(text.substr(0, colon));
    if (host.find(':') != std::string::npos) {
      return Status::Error("\"" + std::string(original) +
                           "\" looks like an IPv6 address without brackets; write [addr]:port");
    }
    port_text = text.substr(colon + 1);
  }
  if (host.empty()) {
    return Status::Error("\"" + std::string(original) + "\" has no host; write 127.0.0.1:4222");
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port > 65535) {
    return Status::Error("\"" + std::string(original) + "\" has port \"" + std::string(port_text) +
                         "\", which is not a number from 0 to 65535");
  }
  return Tcp(std::move(host), static_cast<uint16_t>(port));
}

std::string Endpoint::ToString() const {
  if (is_unix()) return "unix:" + unix_path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

}  // namespace meridian::net
