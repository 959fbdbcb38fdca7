// Server: a small HTTP/1.1 server for monitoring endpoints (/healthz, /varz, /metrics).
//
// Routes are exact method + path pairs; a path that exists with another method answers 405,
// an unknown path 404, a malformed request 400, and a request over max_request_bytes 413
// (then the connection closes). Keep-alive and pipelining work; handlers run on the loop
// thread and must not block. Create, use and destroy it on its Loop's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/request.h"
#include "net/endpoint.h"
#include "net/status.h"

namespace meridian::net {
class Loop;
}

namespace meridian::http {

struct ServerOptions {
  size_t max_request_bytes = 64 * 1024;  // request line + headers + body
  uint32_t idle_timeout_ms = 60000;      // a keep-alive connection idle this long is closed
};

class Server {
 public:
  using Handler = std::function<Response(const Request&)>;

  explicit Server(net::Loop& loop, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Adds or replaces the handler for `method` (e.g. "GET") and exact `path` ("/healthz").
  // A GET route also answers HEAD (without a body).
  void Route(std::string method, std::string path, Handler handler);

  // Starts listening (port 0: a free port; see port()). Call once.
  net::Status Listen(const net::Endpoint& where);
  uint16_t port() const;
  net::Endpoint endpoint() const;
  size_t open_connections() const;
  uint64_t requests_served() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::http
