// Server: the NATS client-protocol server of meridian-node, on one net::Loop thread.
//
// Accepts client connections, speaks the NATS client protocol (INFO/CONNECT, PUB/HPUB,
// SUB/UNSUB with max, queue groups, request/reply with 503 no-responders, PING/PONG
// liveness), authenticates users/tokens, applies permissions, routes messages through each
// account's Sublist and subject mappings. See README.md for what is and is not implemented.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
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

// One subscription as /connz and /subsz list it.
struct SubscriptionInfo {
  std::string subject, queue, sid;
  uint64_t msgs = 0;  // delivered
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
  std::vector<std::string> subscriptions;              // subjects
  std::vector<SubscriptionInfo> subscription_details;  // the same, in the same order
};

struct AccountInfo {
  std::string name;
  size_t connections = 0;
  size_t subscriptions = 0;
  size_t mappings = 0;
  // Messages its clients published (in) and messages delivered to its clients (out).
  uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0;
  uint64_t slow_consumers = 0;
};

// One JetStream-enabled account's usage, as /varz and /jsz show it.
struct JetStreamAccountStats {
  std::string account;
  uint64_t streams = 0, consumers = 0;
  uint64_t memory = 0, storage = 0;  // bytes stored in memory / file streams
  uint64_t messages = 0;             // stored in all streams
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

// A message published on a subject under "$SYS.REQ." (see Server::SetSystemRequestHandler).
struct SystemRequest {
  std::string_view account;  // the publisher's account
  bool from_system_account = false;
  std::string_view subject, reply, headers, payload;
};
// Returns true when it serves the subject for that account (a requester then gets no 503
// no-responders, even when the handler chose not to answer, as with a filtered ping).
using SystemRequestHandler = std::function<bool(const SystemRequest&)>;

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
  // nats-server's JSZ stream_detail array of one account's streams ("[]" without JetStream).
  std::string JetStreamStreamDetails(std::string_view account, bool with_config) const;

  // The subscription statistics of one account's sublist (all zero for an unknown one).
  SublistInfo Subscriptions(std::string_view account) const;

  // nats-server's system services ($SYS.REQ.SERVER.PING, ...; node/monitor/sys_requests.h):
  // every message published on a subject under "$SYS.REQ." is handed to `handler` after its
  // delivery to subscribers. Loop thread only; one handler (a new one replaces it).
  void SetSystemRequestHandler(SystemRequestHandler handler);
  // Publishes a message from the server itself to the subscribers of `subject` in `account`
  // (the replies of system services). Loop thread only; false when the account is unknown.
  bool Publish(std::string_view account, std::string_view subject, std::string_view payload);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::server
