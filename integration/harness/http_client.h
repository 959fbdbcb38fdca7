// A tiny blocking HTTP/1.0 GET client for monitoring endpoints on loopback.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace meridian::harness {

struct HttpResponse {
  int status = 0;     // 0 when no response was received
  std::string body;   // the response body
  std::string error;  // why there is no response (connection refused, timeout, ...)
};

// GET http://<host>:<port><path>. Never throws for network errors: they are in `error`.
HttpResponse HttpGet(const std::string& host, uint16_t port, const std::string& path,
                     std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace meridian::harness
