// UpstreamPool: the NATS servers of the sidecar's region, and which one to try first.
//
// Connect() tries the servers in turn, starting with the one that last worked, and hands
// back the first connection that opens; when every server fails it reports one sentence
// naming each failure. The pool remembers what worked so new sessions go there first.
// Loop thread only; callbacks still pending when the pool is destroyed are called with an
// error (never with a dangling pool).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "net/endpoint.h"
#include "net/listener.h"
#include "net/loop.h"

namespace meridian::session {

class UpstreamPool {
 public:
  using ConnectedHandler =
      std::function<void(net::Result<net::ConnectionPtr> connection, const net::Endpoint& where)>;

  // `servers` must not be empty.
  UpstreamPool(net::Loop& loop, std::vector<net::Endpoint> servers, net::ConnectOptions options);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  void Connect(ConnectedHandler done);

  const std::vector<net::Endpoint>& servers() const;
  // Index of the server tried first.
  std::size_t preferred() const;
  // Marks a server as gone (its connection dropped): the next Connect starts after it.
  void ReportFailure(const net::Endpoint& where);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace meridian::session
