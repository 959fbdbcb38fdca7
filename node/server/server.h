// Server: the NATS client-protocol server of meridian-node, on one net::Loop thread.
//
// Accepts client connections, speaks the NATS client protocol (INFO/CONNECT, PUB/HPUB,
// SUB/UNSUB with max, queue groups, request/reply with 503 no-responders, PING/PONG
// liveness), authenticates users/tokens, applies permissions, routes messages through each
// account's Sublist and subject mappings. See README.md for what is and is not implemented.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/status.h"
#include "server/options.h"

namespace meridian::net {
class Loop;
}
namespace meridian::subject {
class Sublist;
}

namespace meridian::server {

struct ServerStats {
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  uint64_t total_connections = 0;
  uint64_t slow_consumers = 0;
};

// One client connection as /connz shows it.
struct ConnectionInfo {
  uint64_t cid = 0;
  std::string ip;
  int port = 0;
  int64_t start_unix_ms = 0;
  int64_t last_activity_unix_ms = 0;
  uint64_t pending_bytes = 0;
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  std::string name, lang, version, user, account;
  std::vector<std::string> subscriptions;  // subjects
};

struct AccountInfo {
  std::string name;
  size_t connections = 0;
  size_t subscriptions = 0;
  size_t mappings = 0;
};

// One JetStream-enabled account's usage, as /varz and /jsz show it.
struct JetStreamAccountStats {
  std::string account;
  uint64_t streams = 0, consumers = 0;
  uint64_t memory = 0, storage = 0;  // bytes stored in memory / file streams
  uint64_t api_total = 0, api_errors = 0;
};

// One leaf-node connection that has finished its handshake, as /leafz shows it.
struct LeafInfo {
  std::string name;     // the far server's name
  std::string account;  // the local account it is bound to
  std::string ip;
  int port = 0;
  bool solicited = false;  // this node connected out (it is the spoke)
  std::string domain;      // the far side's JetStream domain
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  std::vector<std::string> subscriptions;  // the far side's interest ("subject [queue]")
};

struct SublistInfo {
  uint64_t subscriptions = 0, cache = 0, inserts = 0, removes = 0, matches = 0, hits = 0;
};

class Server {
 public:
  // Validates the options (accounts named by users exist, mappings parse); throws
  // std::invalid_argument with a sentence otherwise.
  Server(net::Loop& loop, Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts listening for clients.
  net::Status Start();
  // Stops accepting and closes every client (graceful: pending output is flushed).
  void Shutdown();

  // Applies a new configuration while running, as nats-server's reload: users, token,
  // no_auth_user, permissions, account mappings, exports and imports (new accounts may
  // appear), auth_timeout and
  // ping_max. Connected clients are authenticated again with their CONNECT
  // credentials and closed with 'Authorization Violation' when that fails or moves them to
  // another account; new permissions apply to them at once and subscriptions no longer
  // allowed are removed with a 'Permissions Violation for Subscription' error. Throws
  // std::invalid_argument (and changes nothing) when `fresh` is invalid or changes a setting
  // that needs a restart (listen, limits, jetstream, ...).
  void Reload(Options fresh);

  uint16_t port() const;
  // The port accepting leaf-node connections (0: not listening).
  uint16_t leaf_port() const;
  const std::string& server_id() const;
  const Options& options() const;
  int64_t start_unix_ms() const;

  // Monitoring views (loop thread only).
  const ServerStats& stats() const;
  size_t num_connections() const;
  std::vector<ConnectionInfo> Connections() const;
  std::vector<AccountInfo> Accounts() const;
  SublistInfo Subscriptions() const;
  std::vector<LeafInfo> LeafNodes() const;
  // One entry per account with a running JetStream engine (empty when JetStream is off).
  std::vector<JetStreamAccountStats> JetStream() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::server
