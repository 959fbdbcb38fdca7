// Get: a tiny HTTP/1.1 GET client on a Loop, for health checks and tests.
//
// One request per connection ("Connection: close"); the callback runs exactly once with the
// response, or with a sentence saying what failed (connect, timeout, malformed response).
// Only http:// URLs (no TLS).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/status.h"

namespace meridian::net {
class Loop;
}

namespace meridian::http {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header with this name (case-insensitive), or empty.
  std::string_view Header(std::string_view name) const;
};

using GetHandler = std::function<void(net::Result<ClientResponse>)>;

// `url` is "http://host:port/path?query" (port defaults to 80). The whole exchange must finish
// within `timeout`. Responses over 16 MiB are refused.
void Get(net::Loop& loop, std::string_view url, std::chrono::milliseconds timeout, GetHandler done);

}  // namespace meridian::http
