// Listener and Connect: how connections come to exist.
//
// A Listener accepts on a TCP address (IPv4 or IPv6; port 0 picks a free port, reported by
// port()) or a Unix socket, and hands each accepted ConnectionPtr to its AcceptHandler; the
// handler must install a read handler to start reading. Destroying the Listener stops
// accepting; accepted connections live on. Connect() opens a client connection with a
// timeout and calls back exactly once. Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "net/connection.h"
#include "net/endpoint.h"
#include "net/status.h"

namespace meridian::net {

class Loop;

class Listener {
 public:
  using AcceptHandler = std::function<void(ConnectionPtr)>;

  // Binds and listens. A Unix path that exists as a socket file is replaced.
  static Result<std::unique_ptr<Listener>> Listen(Loop& loop, const Endpoint& where,
                                                  AcceptHandler on_accept,
                                                  ConnectionOptions options = {},
                                                  int backlog = 511);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // The bound port (the real one when 0 was asked); 0 for Unix sockets.
  uint16_t port() const;
  // Where it listens, with the real port ("127.0.0.1:40123", "unix:/tmp/x.sock").
  Endpoint endpoint() const;

  struct Impl;

 private:
  explicit Listener(Impl* impl) : impl_(impl) {}
  Impl* impl_;
};

struct ConnectOptions {
  std::chrono::milliseconds timeout{5000};
  ConnectionOptions connection;
};

using ConnectHandler = std::function<void(Result<ConnectionPtr>)>;

// Resolves `where` (names via the libuv thread pool), connects, and calls `done` once:
// with the connection, or with a sentence naming the endpoint and the failure (refused,
// timed out, unresolvable...). If the Loop is destroyed first, `done` gets an error.
void Connect(Loop& loop, const Endpoint& where, ConnectOptions options, ConnectHandler done);

}  // namespace meridian::net
