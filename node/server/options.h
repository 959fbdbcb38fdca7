// What a meridian-node server is configured with: listen address, limits, and the accounts,
// users and permissions it authenticates against. Filled from flags and the TOML config
// (config_load.h), or directly by tests.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "subject/mapping.h"

namespace meridian::server {

// The nats-server release whose client behaviour this server implements (advertised in INFO).
inline constexpr const char* kAdvertisedVersion = "2.9.10";
inline constexpr const char* kAdvertisedGo = "go1.19.8";
inline constexpr const char* kGlobalAccount = "$G";

// Allow/deny subject patterns. Empty allow: everything not denied is allowed.
struct SubjectPermission {
  std::vector<std::string> allow;
  std::vector<std::string> deny;
};

struct Permissions {
  SubjectPermission publish;
  SubjectPermission subscribe;
  bool empty() const {
    return publish.allow.empty() && publish.deny.empty() && subscribe.allow.empty() &&
           subscribe.deny.empty();
  }
};

struct User {
  std::string name;
  std::string password;  // plain text, or a bcrypt hash ("$2a$...", see password.h)
  std::string account;   // empty: the global account
  Permissions permissions;
  std::string nkey;  // a public user nkey ("U..."): the user signs the INFO nonce instead
};

struct MappingConfig {
  std::string source;
  std::vector<subject::MappingDestination> destinations;
};

// An account offers subjects to every other account: a stream (its messages are copied to
// importers) or a service (importers' requests reach its responders; one reply returns).
struct ExportConfig {
  std::string subject;  // may hold wildcards
  bool service = false;
  // A private export: only these accounts may import it. Empty: every account may.
  std::vector<std::string> accounts;
};

// An account takes a stream or service another account exports. Stream: messages on
// `subject` in `account` are delivered here on `prefix` + "." + subject (no prefix: as is).
// Service: requests published here on `to` (empty: `subject`) go to `subject` in `account`.
struct ImportConfig {
  bool service = false;
  std::string account;
  std::string subject;
  std::string prefix;  // stream only
  std::string to;      // service only
};

struct AccountConfig {
  std::string name;
  std::vector<MappingConfig> mappings;
  std::vector<ExportConfig> exports;
  std::vector<ImportConfig> imports;
  bool jetstream = false;  // this account gets its own JetStream engine (when enabled)
};

// JetStream on this node (node/jetstream). Each JetStream-enabled account has its own engine
// and directory, <store_dir>/jetstream/<account>/, as nats-server lays it out.
struct JetStreamOptions {
  bool enabled = false;
  std::string store_dir;    // empty: <temp dir>/nats/jetstream, as nats-server
  int64_t max_memory = -1;  // bytes; -1: no limit (shown, not enforced yet)
  int64_t max_file = -1;
  bool sync_always = true;  // fdatasync before every PubAck (group commit)
  std::chrono::milliseconds sync_interval{std::chrono::minutes(2)};  // when !sync_always
  std::string domain;
};

// TLS for clients, as nats-server's `tls {}` block: INFO says tls_required and the client
// upgrades right after reading it. verify: clients must present a certificate the CA signed.
struct TlsOptions {
  bool enabled = false;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  bool verify = false;
  std::chrono::milliseconds timeout{std::chrono::seconds(2)};  // for the handshake
  // TLS first (nats-server 2.10's handshake_first): the client starts the TLS handshake right
  // after connecting and INFO is sent over TLS. With a fallback, a client that sends nothing
  // within it gets the plaintext INFO and upgrades as usual (both kinds can connect).
  bool handshake_first = false;
  std::chrono::milliseconds handshake_first_fallback{0};  // 0: no fallback
};

// nats-server's default fallback for handshake_first "auto".
inline constexpr std::chrono::milliseconds kTlsFirstAutoFallback{50};

// One leaf-node remote this node connects to (nats-server's `leafnodes { remotes: [...] }`): the
// node is the leaf (spoke) and the remote server the hub.
struct LeafRemoteOptions {
  // "nats-leaf://[user:password@]host:port" (also nats://, leaf://, tls-less only); tried in
  // order, round-robin.
  std::vector<std::string> urls;
  std::string account;  // the local account bound to the connection; empty: $G
  // TLS to the hub (remote `tls { ca_file, cert_file, key_file }`, or a tls:// URL): also used
  // when the hub's INFO says tls_required. ca_file empty: the system's CAs.
  bool tls = false;
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  // Subjects that never go to the hub (deny_exports) and that are never taken from it
  // (deny_imports: no interest announced, and sent to the hub as the CONNECT's deny_pub).
  std::vector<std::string> deny_exports, deny_imports;
};

struct LeafNodeOptions {
  std::vector<LeafRemoteOptions> remotes;
  // Delay between connect attempts (nats-server's `reconnect`, default 1s): the first retry
  // comes after a quarter of it, growing with jitter to it.
  std::chrono::milliseconds reconnect{std::chrono::seconds(1)};
  // Accepting leaf connections (`leafnodes { listen }`), bound to the global account; port -1:
  // off, 0: a free port (tests).
  std::string host = "0.0.0.0";
  int port = -1;
  // Accepting side: `leafnodes { tls { cert_file, key_file, ca_file, verify, timeout } }`
  // (leafs upgrade right after INFO, as nats-server 2.9).
  bool tls = false;
  std::string tls_cert_file, tls_key_file, tls_ca_file;
  bool tls_verify = false;
  std::chrono::milliseconds tls_timeout{std::chrono::seconds(2)};
};

struct Options {
  std::string server_name;  // empty: the server id
  std::string host = "0.0.0.0";
  uint16_t port = 4222;  // 0: a free port (tests)
  std::string http_host = "0.0.0.0";
  int http_port = 0;         // 0: no monitoring; -1: a free port (tests)
  std::string cluster_name;  // for cluster-scoped mappings

  uint64_t max_payload = 1024 * 1024;
  uint32_t max_control_line = 4096;
  uint64_t max_pending = 64 * 1024 * 1024;
  // A client whose socket write stays blocked this long (it stopped reading) is closed as a
  // slow consumer, as nats-server's write_deadline; 0: never.
  std::chrono::milliseconds write_deadline{std::chrono::seconds(10)};
  int max_connections = 65536;
  int max_subscriptions = 0;  // per connection; 0: unlimited
  std::chrono::milliseconds ping_interval{std::chrono::minutes(2)};
  int ping_max = 2;
  std::chrono::milliseconds auth_timeout{std::chrono::seconds(2)};
  std::chrono::milliseconds first_ping_delay{std::chrono::seconds(2)};

  // Authentication: users (with accounts) or one token; neither: no auth.
  std::vector<User> users;
  std::string token;
  // A client that presents no credentials is logged in as this user (nats-server's
  // no_auth_user); empty: such clients are refused when auth is required.
  std::string no_auth_user;
  std::vector<AccountConfig> accounts;  // mappings of the global account: name "$G"
  std::string system_account = "$SYS";

  JetStreamOptions jetstream;
  TlsOptions tls;
  LeafNodeOptions leafnodes;
};

}  // namespace meridian::server
