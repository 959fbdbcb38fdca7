// Reconnector: keeps trying to connect to one of a list of endpoints, with Backoff.
//
// Start() tries the endpoints in order, round-robin; after each failure it waits
// backoff.Next() before the next try. On success it calls on_connected and stops (call
// Start() again after that connection is lost; the backoff was reset by the success).
// Stop() or destroying it cancels a pending try. Loop thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/backoff.h"
#include "net/endpoint.h"
#include "net/listener.h"
#include "net/loop.h"

namespace meridian::net {

class Reconnector {
 public:
  using ConnectedHandler = std::function<void(ConnectionPtr, const Endpoint&)>;
  using FailedHandler = std::function<void(const Endpoint&, const std::string& error)>;

  Reconnector(Loop& loop, std::vector<Endpoint> endpoints, Backoff backoff, ConnectOptions options,
              ConnectedHandler on_connected, FailedHandler on_failed = nullptr);
  ~Reconnector();
  Reconnector(const Reconnector&) = delete;
  Reconnector& operator=(const Reconnector&) = delete;

  // Tries at once if not already trying.
  void Start();
  void Stop();
  bool running() const { return running_; }
  // Failed tries since the last success.
  uint32_t failures() const { return failures_; }

 private:
  void TryNext();

  Loop& loop_;
  std::vector<Endpoint> endpoints_;
  Backoff backoff_;
  ConnectOptions options_;
  ConnectedHandler on_connected_;
  FailedHandler on_failed_;
  size_t next_ = 0;
  uint32_t failures_ = 0;
  bool running_ = false;
  Timer retry_;
  // Shared with in-flight connect callbacks so they can tell this object is gone or restarted.
  std::shared_ptr<uint64_t> generation_;
};

}  // namespace meridian::net
