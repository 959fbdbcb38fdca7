// UpstreamProbe: the sidecar's own connection to its region, for /healthz and for learning
// the region from the upstream INFO `cluster` when the config does not name it.
//
// It connects through the UpstreamPool, reads INFO, authenticates with the sidecar's
// credentials (if any), and PINGs every interval. The upstream counts as reachable while an
// INFO was read within the last two intervals; a lost connection is retried with backoff,
// and a stale one (no PONG for two intervals) is dropped and the next server tried.
// Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "net/backoff.h"
#include "net/connection.h"
#include "net/loop.h"
#include "net/tls.h"
#include "proto/parser.h"
#include "session/handshake.h"
#include "session/upstream_pool.h"

namespace meridian::sidecar {

class UpstreamProbe {
 public:
  using InfoHandler = std::function<void(const session::UpstreamInfo&)>;

  UpstreamProbe(net::Loop& loop, session::UpstreamPool& pool,
                std::shared_ptr<const net::TlsContext> tls, session::UpstreamCredentials creds,
                std::chrono::milliseconds interval, InfoHandler on_info);
  ~UpstreamProbe();
  UpstreamProbe(const UpstreamProbe&) = delete;
  UpstreamProbe& operator=(const UpstreamProbe&) = delete;

  void Start();
  void Stop();

  bool reachable() const;
  // The server it last reached ("127.0.0.1:4222"), and why it is unreachable, if it is.
  const std::string& server() const { return server_; }
  const std::string& last_error() const { return last_error_; }

 private:
  void Connect();
  void OnConnected(net::Result<net::ConnectionPtr> result, const net::Endpoint& where);
  std::size_t OnBytes(std::string_view data);
  void Lost(const std::string& why);

  net::Loop& loop_;
  session::UpstreamPool& pool_;
  std::shared_ptr<const net::TlsContext> tls_;
  session::UpstreamCredentials creds_;
  std::chrono::milliseconds interval_;
  InfoHandler on_info_;
  net::Backoff backoff_;
  net::ConnectionPtr conn_;
  net::Timer ping_timer_;
  net::Timer retry_timer_;
  proto::Parser parser_;
  net::Endpoint where_;
  std::string server_;
  std::string last_error_ = "not connected yet";
  std::uint64_t last_seen_ms_ = 0;  // loop clock of the last INFO or PONG
  bool info_seen_ = false;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace meridian::sidecar
