// UpstreamProbe: the sidecar's own connection to its region, for /healthz and for learning
// the region from the upstream INFO `cluster` when the config does not name it.
//
// It connects through the UpstreamPool, reads INFO, authenticates with the sidecar's
// credentials (if any), and PINGs every interval. The upstream counts as reachable while an
// INFO was read within the last two intervals; a lost connection is retried with backoff,
// and a stale one (no PONG for two intervals) is dropped and the next server tried.
//
// Once WatchJetStream() names the region's write streams, it also asks JetStream on the
// same connection (JsReadiness: `$JS.API.STREAM.INFO.<write stream>` every 500 ms, or
// `$JS.API.INFO` when no virtual stream lists the region; replies on a unique inbox, 2 s
// timeout): jetstream_ready() is true only while the servers answer and every such reply
// says the stream has a leader. Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/backoff.h"
#include "net/connection.h"
#include "net/loop.h"
#include "net/tls.h"
#include "proto/parser.h"
#include "session/handshake.h"
#include "session/upstream_pool.h"
#include "sidecar/js_readiness.h"

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
  // Starts (or changes) the JetStream checks: one per write stream, none: `$JS.API.INFO`.
  void WatchJetStream(std::vector<std::string> write_streams);
  // Reachable, and JetStream answers for every write stream with a leader (true without
  // WatchJetStream: only PING/PONG is known then).
  bool jetstream_ready() const;
  bool jetstream_watched() const { return js_ != nullptr; }
  // Why jetstream_ready() is false ("no leader for foo-write-west"), empty when it is true.
  std::string jetstream_reason() const;
  // The last connect attempt found no server of the pool accepting (the whole region down,
  // not only the server the probe was on); cleared when a server answers again.
  bool every_server_refused() const { return every_server_refused_; }
  // The server it last reached ("127.0.0.1:4222"), and why it is unreachable, if it is.
  const std::string& server() const { return server_; }
  const std::string& last_error() const { return last_error_; }

 private:
  void Connect();
  void OnConnected(net::Result<net::ConnectionPtr> result, const net::Endpoint& where);
  std::size_t OnBytes(std::string_view data);
  void Lost(const std::string& why);
  void StartJetStreamPolls();
  void PollJetStream();
  void OnReply(const proto::Op& op);

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
  net::Timer js_timer_;
  std::unique_ptr<JsReadiness> js_;
  bool connected_ = false;  // CONNECT sent on the current connection
  bool every_server_refused_ = false;
  proto::Parser parser_;
  std::string inbox_;  // "_INBOX.<random>": replies to the JetStream checks come to "<inbox>.<n>"
  net::Endpoint where_;
  std::string server_;
  std::string last_error_ = "not connected yet";
  std::uint64_t last_seen_ms_ = 0;  // loop clock of the last INFO or PONG
  bool info_seen_ = false;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace meridian::sidecar
