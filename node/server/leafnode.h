// Leaf-node connections of meridian-node, both sides: the node connects out to a hub
// (nats-server's `leafnodes { remotes: [...] }`, the node is the spoke) or accepts leaf nodes
// (`leafnodes { listen }`, the node is the hub), and speaks the leafnode protocol of
// nats-server 2.9.10: INFO/CONNECT, PING/PONG, LS+/LS- interest (queue groups with weights),
// LMSG/HMSG both ways, `$LDS.` loop detection, the permissions the hub sends, and the
// JetStream domain rules (denies on `$JS.API.>`, `$KV.>`, `$OBJ.>`; interest in this node's
// `$JS.<domain>.API` subjects). The server (server.cc) routes: it implements LeafHost and calls
// the connection for local interest changes and messages bound for the hub.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/connection.h"
#include "server/options.h"

namespace meridian::net {
class Loop;
class TlsContext;
}  // namespace meridian::net

namespace meridian::server {

// A remote URL split up: nats-leaf://[user[:password]@]host[:port] (also nats:// and leaf://;
// the port defaults to 7422).
struct LeafUrl {
  std::string host;
  uint16_t port = 7422;
  std::string user, password;
  bool tls = false;  // tls://
};
// Empty when `url` is usable, else a sentence saying what is wrong.
std::string ValidateLeafUrl(const std::string& url);
bool ParseLeafUrl(const std::string& url, LeafUrl& out, std::string* error);

class LeafConnection;

// What a leaf connection needs from the server. Loop thread only.
class LeafHost {
 public:
  virtual ~LeafHost() = default;
  // The handshake is done: from now on the remote's interest and messages arrive.
  virtual void LeafUp(LeafConnection* leaf) = 0;
  // The connection is gone: drop every interest it announced.
  virtual void LeafDown(LeafConnection* leaf) = 0;
  // An accepted connection closed for good: the host may delete it (not from inside this call).
  virtual void LeafFinished(LeafConnection* leaf) = 0;
  // An accepted leaf's CONNECT credentials: false refuses it; else `account` is the local
  // account it is bound to and `jetstream` whether that account has JetStream.
  virtual bool AuthorizeLeaf(const std::string& user, const std::string& password,
                             std::string* account, bool* jetstream) = 0;
  // Whether accepted leafs must present credentials (INFO auth_required).
  virtual bool LeafAuthRequired() const = 0;
  // The remote's interest in subject (queue: a group with `weight` members); weight 0: gone.
  virtual void LeafInterest(LeafConnection* leaf, std::string_view subject, std::string_view queue,
                            uint32_t weight) = 0;
  // A message from the remote; `queues`: the queue groups it is meant for (blank separated).
  virtual void LeafMessage(LeafConnection* leaf, std::string_view subject, std::string_view reply,
                           std::string_view queues, std::string_view headers,
                           std::string_view payload) = 0;
  // Calls `each` for every subscription in `account` that `leaf` should learn about
  // (subject, queue): as nats-server, a solicited connection (spoke) hears of local clients'
  // and accepted leafs' subscriptions, an accepted one (hub side) of all but its own.
  virtual void ForEachLocalInterest(
      LeafConnection* leaf,
      const std::function<void(std::string_view subject, std::string_view queue)>& each) = 0;
};

// What every leaf connection of the node shares.
struct LeafSettings {
  std::string server_id, server_name, cluster;
  std::string domain;      // this node's JetStream domain
  bool jetstream = false;  // JetStream is on for the bound account
  std::chrono::milliseconds ping_interval{std::chrono::minutes(2)};
  int ping_max = 2;
  uint64_t max_payload = 1024 * 1024;
  std::chrono::milliseconds reconnect{std::chrono::seconds(1)};
  // Accepting side: the leaf port advertised in INFO (leafnode_urls) and the bound account.
  std::string listen_host;
  uint16_t listen_port = 0;
  std::string accept_account;
  // Accepting side with TLS: INFO says tls_required and the leaf upgrades right after it.
  std::shared_ptr<const net::TlsContext> accept_tls;
  std::chrono::milliseconds accept_tls_timeout{std::chrono::seconds(2)};
};

// One leaf connection: solicited (reconnecting until Stop()) or accepted (ends when closed).
class LeafConnection {
 public:
  // Solicited: connects to the remote's URLs.
  LeafConnection(net::Loop& loop, LeafHost& host, LeafRemoteOptions remote, LeafSettings settings,
                 std::string loop_detection_subject);
  // Accepted on the leaf port: sends INFO and waits for the leaf's CONNECT.
  LeafConnection(net::Loop& loop, LeafHost& host, net::ConnectionPtr conn, uint64_t cid,
                 LeafSettings settings, std::string loop_detection_subject);
  ~LeafConnection();
  LeafConnection(const LeafConnection&) = delete;
  LeafConnection& operator=(const LeafConnection&) = delete;

  void Start();
  void Stop();

  // The local account bound to this connection.
  const std::string& account() const;
  // True for connections this node made (it is the spoke), false for accepted ones.
  bool solicited() const;
  bool up() const;
  // The hub's server name and JetStream domain (from its INFO), once connected.
  const std::string& remote_server() const;
  const std::string& remote_domain() const;
  uint64_t connects() const;  // handshakes completed so far
  // "ip:port" of the far side while connected, else empty.
  std::string peer_address() const;

  // A local subscription appeared (+1) or went away (-1): announced to the hub with LS+/LS-
  // as nats-server does (plain subjects once per subject, queue groups with their weight).
  void LocalInterest(std::string_view subject, std::string_view queue, int delta);
  // Whether a message on `subject` may go to the hub (export permissions and JetStream denies).
  bool CanSend(std::string_view subject) const;
  // A consumer went away: LS- for the `$JS.ACK.<stream>.<consumer>.>` (and `$JS.FC.` same
  // form) interest its deliveries announced on this connection, if they did.
  void WithdrawReplies(std::string_view stream, std::string_view consumer);
  // Sends LMSG/HMSG (`queues`: blank-separated group names the hub should deliver it to).
  void Send(std::string_view subject, std::string_view reply, std::string_view queues,
            std::string_view headers, std::string_view payload);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::server
