#include "server/server.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"
#include "net/tls.h"
#include "proto/parser.h"
#include "server/jetstream_glue.h"
#include "server/leafnode.h"
#include "server/nkey.h"
#include "server/password.h"
#include "server/permissions.h"
#include "spdlog/spdlog.h"
#include "subject/mapping.h"
#include "subject/subject.h"
#include "subject/sublist.h"

namespace meridian::server {
namespace {

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomServerId() {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::random_device rd;
  std::string id = "N";
  for (int i = 0; i < 55; ++i) id.push_back(kAlphabet[rd() % 32]);
  return id;
}

// Appends decimal `v` to `p`; returns the new end.
char* PutUint(char* p, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *p++ = tmp[--n];
  return p;
}

char* PutView(char* p, std::string_view s) {
  if (s.empty()) return p;  // an empty view may have a null data()
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// A duration as Go prints it (nats-server's log lines): "10s", "500ms", "1.5s", "2m0s".
std::string GoDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string out;
  if (ms >= 60000) {
    out = std::to_string(ms / 60000) + "m";
    ms %= 60000;
  }
  out += std::to_string(ms / 1000);
  if (ms % 1000 != 0) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms % 1000));
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "s";
}

constexpr std::string_view kNoRespondersHeader = "NATS/1.0 503\r\n\r\n";

// Messages with at most this many header and payload bytes are queued as one piece.
constexpr size_t kWholeMessageBytes = 512;

}  // namespace

struct Client;
struct Account;

struct Subscription {
  Client* client = nullptr;
  std::string subject;
  std::string queue;
  std::string sid;
  uint64_t max = 0;  // 0: unlimited
  uint64_t delivered = 0;
  bool dead = false;
  // A subscription of the server itself (JetStream's external sources): no client; each
  // message goes to this function (routed subject, shown subject, reply, headers, payload).
  std::function<void(std::string_view, std::string_view, std::string_view, std::string_view,
                     std::string_view)>
      internal;
};

// Imports, resolved to accounts (see ExportConfig/ImportConfig in options.h).
struct StreamRoute {  // kept by the exporting account
  Account* importer = nullptr;
  std::string subject;  // the imported subject filter
  std::string prefix;
};
struct ServiceRoute {  // kept by the importing account
  std::string local;   // the subject requests are published on here
  Account* exporter = nullptr;
  std::string remote;  // the exported subject they go to
};
struct PendingResponse {  // kept by the exporting account, keyed by the reply it sees
  Account* requester = nullptr;
  std::string reply;
};

struct Account {
  std::string name;
  subject::Sublist sublist;
  std::vector<subject::SubjectMapping> mappings;
  std::vector<StreamRoute> streams_out;
  std::vector<ServiceRoute> services_in;
  std::unordered_map<std::string, PendingResponse> responses;
  size_t connections = 0;
  // Publishes answered from a client's last-subject match (see PubMatch), counted into
  // /subsz's matches and cache hits with the sublist's own.
  uint64_t last_subject_hits = 0;
  bool jetstream_enabled = false;
  std::unique_ptr<AccountJetStream> js;  // set by Start() when jetstream_enabled
  std::unordered_map<Subscription*, std::unique_ptr<Subscription>> internal_subs;
  // As nats-server's account statz: messages its clients published, messages delivered to
  // its clients, slow consumers among them.
  uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0, slow_consumers = 0;
};

// A CONNECT's settings, applied once the client is admitted (at once, or when a bcrypt check
// on the thread pool has passed).
struct ConnectSettings {
  bool verbose = true, pedantic = true, echo = true, headers = false, no_responders = false;
  int protocol = 0;
  std::string name, lang, version;
};

enum class AuthVerdict { kRefused, kAdmitted, kNeedsBcrypt };

struct Client {
  uint64_t cid = 0;
  net::ConnectionPtr conn;
  proto::Parser parser{proto::Direction::kClientToServer};
  Account* account = nullptr;
  const Permissions* perms = nullptr;
  bool connect_received = false;
  bool closed = false;
  bool verbose = true, pedantic = true, echo = true, headers = false, no_responders = false;
  int protocol = 0;
  std::string name, lang, version, user;
  // CONNECT credentials, kept to authenticate the client again when the config is reloaded.
  std::string connect_user, connect_pass, connect_token, connect_nkey, connect_sig;
  std::string nonce;  // sent in INFO when some user authenticates with an nkey
  // The CONNECT password is being checked against a bcrypt hash on the thread pool: reading
  // is paused and no op is handled until the verdict (ops after CONNECT wait in net's tail).
  bool auth_pending = false;
  ConnectSettings pending_connect;
  // The configured bcrypt hash the CONNECT password was verified against (a reload that keeps
  // the hash does not run bcrypt again), and the last one it failed against.
  std::string verified_hash, rejected_hash;
  // auth_pending for a reload's check of an admitted client (its user's hash changed).
  bool recheck = false;
  std::unordered_map<std::string, std::unique_ptr<Subscription>> subs;
  int pings_out = 0;
  bool active_since_ping = false;
  int64_t start_unix_ms = 0;
  int64_t last_activity_unix_ms = 0;
  uint64_t in_msgs = 0, out_msgs = 0, in_bytes = 0, out_bytes = 0;
  // The match result of this client's last published subject, valid while its account's
  // sublist has seen no insert or remove since (`generation`): a publisher repeating a subject
  // skips the sublist's hash lookup and the shared_ptr copy (see PubMatch).
  Account* last_account = nullptr;
  std::string last_subject;
  uint64_t last_generation = 0;
  std::shared_ptr<const subject::MatchResult> last_match;
  net::Timer auth_timer;
  net::Timer tls_timer;  // closes a client that has not finished the TLS handshake
  net::Timer tls_first_timer;  // handshake_first with a fallback: INFO first after this
  net::Timer first_ping_timer;
  std::string ip;
  int port = 0;
  // Set for the stand-in of a leaf-node connection (leafnode.h): its subscriptions are the
  // hub's interest, and messages to them go out as LMSG. It has no `conn`.
  LeafConnection* leaf = nullptr;
};

struct Server::Impl : LeafHost {
  net::Loop& loop;
  Options options;
  std::string server_id;
  int64_t start_unix_ms = UnixMs();
  std::unique_ptr<net::Listener> listener;
  std::map<std::string, std::unique_ptr<Account>, std::less<>> accounts;
  Account* global = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Client>> clients;
  std::vector<std::unique_ptr<Client>> dead_clients;
  std::vector<std::unique_ptr<Subscription>> dead_subs;
  int depth = 0;  // > 0 while handling input: frees are deferred
  uint64_t next_cid = 1;
  ServerStats stats;
  net::Timer ping_timer;
  net::Timer js_timer;
  std::string line;    // MSG control line scratch, reused
  std::string mapped;  // mapping output scratch, reused
  subject::FastPercentSource percent;
  uint64_t rng_state = 0x9E3779B97F4A7C15ull;
  bool shutting_down = false;
  std::vector<std::vector<User>> retired_users;  // see Reload
  std::shared_ptr<const net::TlsContext> tls;    // set when options.tls.enabled
  std::shared_ptr<const net::TlsContext> leaf_tls;  // set when options.leafnodes.tls
  uint64_t response_seq = 0;
  SystemRequestHandler sys_handler;  // $SYS.REQ.> services, see Server::SetSystemRequestHandler
  // Service requests whose reply has not come back, per exporting account, at most this many
  // (the oldest is forgotten first).
  static constexpr size_t kMaxPendingResponses = 100000;

  Impl(net::Loop& l, Options o) : loop(l), options(std::move(o)), server_id(RandomServerId()) {
    line.reserve(options.max_control_line + 128);
    auto add = [&](const std::string& name) -> Account* {
      auto& slot = accounts[name];
      if (!slot) {
        slot = std::make_unique<Account>();
        slot->name = name;
      }
      return slot.get();
    };
    global = add(kGlobalAccount);
    if (!options.system_account.empty()) add(options.system_account);
    for (const auto& ac : options.accounts) {
      Account* a = add(ac.name);
      for (const auto& m : ac.mappings) {
        auto mapping = subject::SubjectMapping::Create(m.source, m.destinations,
                                                       subject::TransformRules::V210());
        if (!mapping.ok()) {
          throw std::invalid_argument("account \"" + ac.name + "\": mapping of \"" + m.source +
                                      "\" is invalid: " + mapping.message());
        }
        a->mappings.push_back(std::move(mapping).value());
      }
      if (ac.jetstream) a->jetstream_enabled = true;
    }
    // As nats-server: $G has JetStream only in the pre-accounts set-up, i.e. when no account
    // other than $G and the system account is configured (globalAccountOnly); otherwise only
    // the accounts configured with jetstream have it (JSZ then does not count $G).
    bool global_only = true;
    for (const auto& ac : options.accounts) {
      if (ac.name != kGlobalAccount && ac.name != options.system_account) global_only = false;
    }
    if (options.jetstream.enabled && global_only) global->jetstream_enabled = true;
    CheckImports(options.accounts);
    ResolveImports(options.accounts, accounts);
    for (const auto& u : options.users) has_nkey_users = has_nkey_users || !u.nkey.empty();
    if (options.tls.enabled) {
      net::TlsConfig tc;
      tc.cert_file = options.tls.cert_file;
      tc.key_file = options.tls.key_file;
      tc.ca_file = options.tls.ca_file;
      tc.require_client_cert = options.tls.verify;
      if (options.tls.verify && tc.ca_file.empty()) {
        throw std::invalid_argument(
            "tls verify needs ca_file: the CA that signs the client certificates");
      }
      auto ctx = net::TlsContext::Create(net::TlsContext::Role::kServer, tc);
      if (!ctx.ok()) throw std::invalid_argument("tls: " + ctx.message());
      tls = ctx.value();
    }
    if (options.leafnodes.tls) {
      net::TlsConfig tc;
      tc.cert_file = options.leafnodes.tls_cert_file;
      tc.key_file = options.leafnodes.tls_key_file;
      tc.ca_file = options.leafnodes.tls_ca_file;
      tc.require_client_cert = options.leafnodes.tls_verify;
      auto ctx = net::TlsContext::Create(net::TlsContext::Role::kServer, tc);
      if (!ctx.ok()) throw std::invalid_argument("leafnodes tls: " + ctx.message());
      leaf_tls = ctx.value();
    }
    for (const auto& r : options.leafnodes.remotes) {
      if (!r.account.empty() && !accounts.count(r.account)) {
        throw std::invalid_argument("leafnodes remote names account \"" + r.account +
                                    "\", which is not configured; add it to the accounts");
      }
      for (const auto& u : r.urls) {
        std::string why = ValidateLeafUrl(u);
        if (!why.empty()) throw std::invalid_argument(why);
      }
    }
    if (!options.no_auth_user.empty() && FindUser(options.no_auth_user) == nullptr) {
      throw std::invalid_argument("no_auth_user \"" + options.no_auth_user +
                                  "\" is not a configured user; add it to the users");
    }
    for (const auto& u : options.users) {
      if (!u.account.empty() && !accounts.count(u.account)) {
        throw std::invalid_argument("user \"" + u.name + "\" names account \"" + u.account +
                                    "\", which is not configured; add it under [[accounts]]");
      }
    }
  }

  // Throws std::invalid_argument when an import names an account that is not configured or
  // a subject that account does not export to it, or a private export lists an account that
  // is not configured (nats-server refuses such configs too, with the texts quoted here).
  static void CheckImports(const std::vector<AccountConfig>& configs) {
    for (const auto& ac : configs) {
      for (const auto& ex : ac.exports) {
        for (const auto& name : ex.accounts) {
          bool known = false;
          for (const auto& other : configs) known = known || other.name == name;
          if (!known) {
            throw std::invalid_argument("account \"" + ac.name + "\": \"" + name +
                                        "\" account not defined for " +
                                        (ex.service ? "service" : "stream") + " export \"" +
                                        ex.subject + "\"");
          }
        }
      }
    }
    for (const auto& ac : configs) {
      for (const auto& im : ac.imports) {
        const char* kind = im.service ? "service" : "stream";
        const AccountConfig* exporter = nullptr;
        for (const auto& other : configs) {
          if (other.name == im.account) exporter = &other;
        }
        if (exporter == nullptr) {
          throw std::invalid_argument("account \"" + ac.name + "\" imports " + kind + " \"" +
                                      im.subject + "\" from account \"" + im.account +
                                      "\", which is not configured");
        }
        bool exported = false, authorized = false;
        std::string listed;  // the accounts of private exports that cover the subject
        for (const auto& ex : exporter->exports) {
          if (ex.service != im.service || !subject::SubjectIsSubsetOf(im.subject, ex.subject)) {
            continue;
          }
          exported = true;
          bool allowed = ex.accounts.empty();
          for (const auto& name : ex.accounts) {
            allowed = allowed || name == ac.name;
            listed += (listed.empty() ? "" : ", ") + name;
          }
          authorized = authorized || allowed;
        }
        if (!authorized) {
          // nats-server: Error adding stream import "s": stream import not authorized
          std::string text = "account \"" + ac.name + "\": Error adding " + kind + " import \"" +
                             im.subject + "\": " + kind + " import not authorized (";
          if (!exported) {
            text += "account \"" + im.account +
                    "\" does not export it; add it to that account's exports)";
          } else {
            text += "account \"" + im.account + "\" exports it only to " + listed +
                    "; add \"" + ac.name + "\" to that export's accounts)";
          }
          throw std::invalid_argument(text);
        }
      }
    }
  }

  // Turns each account's imports (checked by CheckImports) into routes.
  static void ResolveImports(const std::vector<AccountConfig>& configs,
                             std::map<std::string, std::unique_ptr<Account>, std::less<>>& accs) {
    for (auto& [name, a] : accs) {
      a->streams_out.clear();
      a->services_in.clear();
    }
    for (const auto& ac : configs) {
      Account* importer = accs.find(ac.name)->second.get();
      for (const auto& im : ac.imports) {
        Account* exporter = accs.find(im.account)->second.get();
        if (im.service) {
          importer->services_in.push_back(
              {im.to.empty() ? im.subject : im.to, exporter, im.subject});
        } else {
          exporter->streams_out.push_back({importer, im.subject, im.prefix});
        }
      }
    }
  }

  bool has_nkey_users = false;  // INFO then carries a nonce
  // Expires with the server: thread-pool work finishing later must not touch it.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  bool auth_required() const { return !options.users.empty() || !options.token.empty(); }

  uint64_t NextRandom() {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
  }

  std::string InfoJson(const Client& c) const {
    nlohmann::ordered_json j;
    j["server_id"] = server_id;
    j["server_name"] = options.server_name.empty() ? server_id : options.server_name;
    j["version"] = kAdvertisedVersion;
    j["proto"] = 1;
    j["go"] = kAdvertisedGo;
    j["host"] = options.host;
    j["port"] = listener ? listener->port() : options.port;
    j["headers"] = true;
    if (options.jetstream.enabled) j["jetstream"] = true;
    if (auth_required()) j["auth_required"] = true;
    if (!c.nonce.empty()) j["nonce"] = c.nonce;
    if (tls) {
      j["tls_required"] = true;
      if (options.tls.verify) j["tls_verify"] = true;
    }
    j["max_payload"] = options.max_payload;
    j["client_id"] = c.cid;
    j["client_ip"] = c.ip;
    // As nats-server with a named cluster block: clients (and the sidecar, which takes its
    // region from it) learn the cluster name. meridian-node has no routes; only the name.
    if (!options.cluster_name.empty()) j["cluster"] = options.cluster_name;
    return j.dump();
  }

  void Accept(net::ConnectionPtr conn) {
    if (shutting_down) {
      conn->Abort();
      return;
    }
    auto owned = std::make_unique<Client>();
    Client* c = owned.get();
    c->cid = next_cid++;
    c->conn = conn;
    c->start_unix_ms = c->last_activity_unix_ms = UnixMs();
    const std::string& peer = conn->peer_address();
    auto colon = peer.rfind(':');
    c->ip = peer.substr(0, colon);
    if (c->ip.size() > 2 && c->ip.front() == '[') c->ip = c->ip.substr(1, c->ip.size() - 2);
    if (colon != std::string::npos) c->port = std::atoi(peer.c_str() + colon + 1);
    proto::Limits limits;
    limits.max_control_line = options.max_control_line;
    limits.max_payload = options.max_payload;
    limits.headers_allowed = false;
    c->parser.set_limits(limits);
    ++stats.total_connections;

    if (has_nkey_users) c->nonce = MakeNonce();
    std::string info = "INFO " + InfoJson(*c) + " \r\n";
    // TLS first (handshake_first): INFO waits for the handshake and goes out encrypted.
    const bool tls_first = tls && options.tls.handshake_first;
    if (!tls_first) conn->Write(info);
    if (static_cast<int>(clients.size()) >= options.max_connections) {
      conn->Write("-ERR 'maximum connections exceeded'\r\n");
      conn->Close();
      return;
    }
    clients.emplace(c->cid, std::move(owned));
    conn->SetCloseHandler([this, c](const net::CloseInfo& info) { OnClosed(c, info); });
    auto read_protocol = [this, c](std::string_view data) { return OnRead(c, data); };
    if (!tls) {
      conn->SetReadHandler(read_protocol);
    } else if (!tls_first || options.tls.handshake_first_fallback.count() == 0) {
      // INFO first (as nats-server 2.9: in plain text, then the client starts TLS), or TLS
      // first without fallback (INFO is queued now and sent once the handshake is done). A
      // failed handshake closes the connection (net reports it to OnClosed).
      conn->SetReadHandler(read_protocol);
      conn->StartTls(tls, "", [](const net::Status&) {});
      if (tls_first) conn->Write(info);
    } else {
      // TLS first with a fallback, as nats-server: a client that sends something (its
      // ClientHello) within the fallback delay gets TLS first; one that waits for INFO gets it
      // in plain text when the delay has passed, and upgrades as usual.
      conn->SetReadHandler([this, c, info, read_protocol](std::string_view) -> size_t {
        c->tls_first_timer.Cancel();
        c->conn->SetReadHandler(read_protocol);
        c->conn->StartTls(tls, "", [](const net::Status&) {});
        c->conn->Write(info);
        return 0;  // the bytes are TLS: net hands them to the handshake
      });
      c->tls_first_timer = loop.After(options.tls.handshake_first_fallback,
                                      [this, c, info, read_protocol] {
                                        if (c->closed) return;
                                        c->conn->Write(info);
                                        c->conn->SetReadHandler(read_protocol);
                                        c->conn->StartTls(tls, "", [](const net::Status&) {});
                                      });
    }
    if (tls) {
      c->tls_timer = loop.After(options.tls.timeout + options.tls.handshake_first_fallback, [c] {
        if (!c->closed && !c->conn->tls_active()) c->conn->Abort();
      });
    }
    if (auth_required()) {
      c->auth_timer = loop.After(options.auth_timeout, [this, c] {
        if (!c->connect_received && !c->closed) CloseWithError(c, "Authentication Timeout");
      });
    }
    c->first_ping_timer = loop.After(options.first_ping_delay, [this, c] {
      if (!c->closed) SendPing(c);
    });
  }

  void SendPing(Client* c) {
    if (c->pings_out + 1 > options.ping_max) {
      CloseWithError(c, "Stale Connection");
      return;
    }
    ++c->pings_out;
    c->conn->Write("PING\r\n");
  }

  void PingTick() {
    std::vector<Client*> all;
    all.reserve(clients.size());
    for (auto& [id, c] : clients) all.push_back(c.get());
    for (Client* c : all) {
      if (c->closed) continue;
      if (c->active_since_ping && c->pings_out == 0) {
        c->active_since_ping = false;
        continue;
      }
      c->active_since_ping = false;
      SendPing(c);
    }
  }

  void CloseWithError(Client* c, std::string_view text) {
    if (c->closed) return;
    std::string msg = "-ERR '";
    msg.append(text);
    msg.append("'\r\n");
    c->conn->Write(msg);
    c->conn->Close();
  }

  void SendErr(Client* c, std::string_view text) {
    std::string_view parts[3] = {"-ERR '", text, "'\r\n"};
    c->conn->Write(parts);
  }

  void SendOk(Client* c) {
    if (c->verbose) c->conn->Write("+OK\r\n");
  }

  size_t OnRead(Client* c, std::string_view data) {
    if (c->closed) return data.size();
    ++depth;
    c->last_activity_unix_ms = UnixMs();
    c->active_since_ping = true;
    c->parser.Feed(data);
    proto::Op op;
    proto::Parser::Result r;
    while (!c->closed && (r = c->parser.Next(op)) == proto::Parser::Result::kOp) {
      if (!HandleOp(c, op)) break;
    }
    if (c->auth_pending && !c->closed) {
      // Parked until the bcrypt verdict: the bytes after CONNECT stay unconsumed in the
      // connection (reading is paused) and are handed to us again when it resumes.
      size_t consumed = data.size() - c->parser.unconsumed();
      --depth;
      if (depth == 0) {
        dead_subs.clear();
        dead_clients.clear();
      }
      return consumed;
    }
    if (!c->closed && c->parser.failed()) {
      const auto& err = c->parser.error();
      if (!err.err_text.empty()) {
        CloseWithError(c, err.err_text);
      } else {
        c->conn->Close();
      }
    }
    --depth;
    if (depth == 0) {
      dead_subs.clear();
      dead_clients.clear();
    }
    return data.size();
  }

  // Returns false when the connection is being closed and nothing more should be read.
  bool HandleOp(Client* c, const proto::Op& op) {
    if (!c->connect_received && auth_required() && op.kind != proto::OpKind::kConnect) {
      CloseWithError(c, "Authorization Violation");
      return false;
    }
    switch (op.kind) {
      case proto::OpKind::kConnect:
        return HandleConnect(c, op.text);
      case proto::OpKind::kPub:
      case proto::OpKind::kHpub:
        HandlePub(c, op);
        return true;
      case proto::OpKind::kSub:
        HandleSub(c, op);
        return true;
      case proto::OpKind::kUnsub:
        HandleUnsub(c, op);
        return true;
      case proto::OpKind::kPing:
        c->conn->Write("PONG\r\n");
        return true;
      case proto::OpKind::kPong:
        c->pings_out = 0;
        return true;
      case proto::OpKind::kOk:
      case proto::OpKind::kInfo:
        return true;
      case proto::OpKind::kErr:
        c->conn->Close();
        return false;
      default:
        CloseWithError(c, "Unknown Protocol Operation");
        return false;
    }
  }

  const User* FindUser(std::string_view name) const {
    for (const auto& u : options.users) {
      if (u.name == name) return &u;
    }
    return nullptr;
  }

  // Checks the client's CONNECT credentials against the current users/token. On success sets
  // the account, permissions (nullptr: everything allowed) and user name to show. With
  // `bcrypt_hash` set, a password that needs a bcrypt check (one not yet verified against
  // that hash) is not checked here: the verdict is kNeedsBcrypt and the hash is returned, for
  // the caller to check off the loop thread; without it, bcrypt runs here.
  AuthVerdict Authenticate(const Client& c, Account*& account, const Permissions*& perms,
                           std::string& user_name, std::string* bcrypt_hash = nullptr) const {
    constexpr auto kRefused = AuthVerdict::kRefused;
    account = global;
    perms = nullptr;
    user_name = c.connect_user;
    if (!auth_required()) return AuthVerdict::kAdmitted;
    if (!options.token.empty() && c.connect_token == options.token) return AuthVerdict::kAdmitted;
    if (options.users.empty()) return kRefused;
    const User* u = nullptr;
    if (!c.connect_nkey.empty()) {
      // nkey users prove their key by signing this connection's nonce.
      for (const auto& candidate : options.users) {
        if (candidate.nkey == c.connect_nkey) u = &candidate;
      }
      if (u == nullptr || c.nonce.empty() ||
          !VerifyNkeySignature(c.connect_nkey, c.nonce, c.connect_sig)) {
        return kRefused;
      }
      user_name = u->nkey;
    } else if (!options.no_auth_user.empty() && c.connect_user.empty() && c.connect_pass.empty() &&
               c.connect_token.empty()) {
      // No credentials at all: nats-server logs the client in as no_auth_user.
      u = FindUser(options.no_auth_user);
      user_name = options.no_auth_user;
    } else {
      u = FindUser(c.connect_user);
      if (u != nullptr && !u->nkey.empty()) u = nullptr;
      if (u != nullptr && IsBcryptHash(u->password) && u->password == c.verified_hash) {
        // Verified against this very hash already (before a reload).
      } else if (u != nullptr && IsBcryptHash(u->password) && u->password == c.rejected_hash) {
        u = nullptr;
      } else if (u != nullptr && IsBcryptHash(u->password) && bcrypt_hash != nullptr) {
        *bcrypt_hash = u->password;
        return AuthVerdict::kNeedsBcrypt;
      } else if (u != nullptr && !PasswordMatches(u->password, c.connect_pass)) {
        u = nullptr;
      }
    }
    if (u == nullptr) return kRefused;
    if (!u->account.empty()) account = accounts.find(u->account)->second.get();
    if (!u->permissions.empty()) perms = &u->permissions;
    return AuthVerdict::kAdmitted;
  }

  bool HandleConnect(Client* c, std::string_view text) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      CloseWithError(c, "Unknown Protocol Operation");
      return false;
    }
    auto get_bool = [&](const char* key, bool fallback) {
      auto it = j.find(key);
      return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
    };
    auto get_str = [&](const char* key) {
      auto it = j.find(key);
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (j.contains("account") || j.contains("new_account")) {
      CloseWithError(c, "Authorization Violation");
      return false;
    }
    int protocol = 0;
    if (auto it = j.find("protocol"); it != j.end() && it->is_number_integer()) {
      protocol = it->get<int>();
    }
    if (protocol < 0 || protocol > 1) {
      CloseWithError(c, "invalid client protocol");
      return false;
    }
    bool headers = get_bool("headers", false);
    bool no_responders = get_bool("no_responders", false);
    if (no_responders && !headers) {
      CloseWithError(c, "no responders requires headers support");
      return false;
    }
    ConnectSettings settings;
    settings.verbose = get_bool("verbose", true);
    settings.pedantic = get_bool("pedantic", true);
    settings.echo = get_bool("echo", true);
    settings.headers = headers;
    settings.no_responders = no_responders;
    settings.protocol = protocol;
    settings.name = get_str("name");
    settings.lang = get_str("lang");
    settings.version = get_str("version");
    if (!c->connect_received) {
      c->connect_user = get_str("user");
      c->connect_pass = get_str("pass");
      c->connect_token = get_str("auth_token");
      c->connect_nkey = get_str("nkey");
      c->connect_sig = get_str("sig");
      c->pending_connect = std::move(settings);
      return Admit(c);
    }
    ApplyConnect(c, settings);
    return true;
  }

  // Authenticates a client whose first CONNECT was read (settings in pending_connect) and
  // applies it. A bcrypt password is checked on the thread pool meanwhile the client is parked
  // (auth_pending; returns false so that no further op is handled); the verdict comes back to
  // BcryptVerdict, which calls this again. Returns false when the client is refused or parked.
  bool Admit(Client* c) {
    Account* account = global;
    const Permissions* perms = nullptr;
    std::string user_name;
    std::string hash;
    switch (Authenticate(*c, account, perms, user_name, &hash)) {
      case AuthVerdict::kRefused:
        CloseWithError(c, "Authorization Violation");
        return false;
      case AuthVerdict::kNeedsBcrypt:
        StartBcrypt(c, std::move(hash));
        return false;
      case AuthVerdict::kAdmitted:
        break;
    }
    c->account = account;
    c->perms = perms;
    ++account->connections;
    c->user = user_name;
    c->auth_timer.Cancel();
    ApplyConnect(c, c->pending_connect);
    return true;
  }

  void StartBcrypt(Client* c, std::string hash) {
    c->auth_pending = true;
    c->conn->PauseReading();
    struct Check {
      std::string hash, pass;
      bool ok = false;
    };
    auto check = std::make_shared<Check>(Check{std::move(hash), c->connect_pass, false});
    // The verdict finds the client again by id: it may have closed (and been freed) meanwhile,
    // and the server may be gone (`alive`).
    loop.QueueWork([check] { check->ok = PasswordMatches(check->hash, check->pass); },
                   [this, check, cid = c->cid, alive = std::weak_ptr<bool>(alive)] {
                     if (alive.expired()) return;
                     BcryptVerdict(cid, check->ok, check->hash);
                   });
  }

  void BcryptVerdict(uint64_t cid, bool ok, const std::string& hash) {
    auto it = clients.find(cid);
    // Gone, or being closed (auth timeout, shutdown): nothing to admit.
    if (it == clients.end() || it->second->closed || it->second->conn->closing()) return;
    Client* c = it->second.get();
    c->auth_pending = false;
    ++depth;
    if (c->recheck) {
      // A reload's check: authenticated again with the users as they are now (a later reload
      // may have changed them again, which may start another check).
      c->recheck = false;
      (ok ? c->verified_hash : c->rejected_hash) = hash;
      Reauthenticate(c);
      if (!c->auth_pending && !c->closed && !c->conn->closing()) c->conn->ResumeReading();
    } else if (!ok) {
      CloseWithError(c, "Authorization Violation");
    } else {
      c->verified_hash = hash;
      // Authenticated again with the current users (a reload may have come meanwhile); the
      // verified hash makes this quick unless the user's password changed.
      if (Admit(c) && !c->auth_pending) c->conn->ResumeReading();
    }
    --depth;
    if (depth == 0) {
      dead_subs.clear();
      dead_clients.clear();
    }
  }

  void ApplyConnect(Client* c, const ConnectSettings& s) {
    c->connect_received = true;
    c->verbose = s.verbose;
    c->pedantic = s.pedantic;
    c->echo = s.echo;
    c->headers = s.headers;
    c->no_responders = s.no_responders;
    c->protocol = s.protocol;
    c->name = s.name;
    c->lang = s.lang;
    c->version = s.version;
    proto::Limits limits = c->parser.limits();
    limits.headers_allowed = s.headers;
    c->parser.set_limits(limits);
    SendOk(c);
  }

  Account* AccountOf(Client* c) {
    if (c->account == nullptr) {
      c->account = global;
      ++global->connections;
    }
    return c->account;
  }

  void HandleSub(Client* c, const proto::Op& op) {
    if (!subject::IsValidSubscribeSubject(op.subject) ||
        (!op.queue.empty() && !subject::IsValidQueueGroup(op.queue))) {
      SendErr(c, "Invalid Subject");
      return;
    }
    if (c->perms != nullptr && !CanSubscribe(c->perms->subscribe, op.subject)) {
      std::string text = "Permissions Violation for Subscription to \"";
      text.append(op.subject);
      text.append("\"");
      if (!op.queue.empty()) {
        text.append(" using queue \"");
        text.append(op.queue);
        text.append("\"");
      }
      SendErr(c, text);
      return;
    }
    if (c->subs.count(std::string(op.sid))) {
      SendOk(c);
      return;
    }
    if (options.max_subscriptions > 0 &&
        static_cast<int>(c->subs.size()) >= options.max_subscriptions) {
      SendErr(c, "maximum subscriptions exceeded");
      return;
    }
    auto sub = std::make_unique<Subscription>();
    sub->client = c;
    sub->subject = op.subject;
    sub->queue = op.queue;
    sub->sid = op.sid;
    Account* acc = AccountOf(c);
    auto st = acc->sublist.Insert(sub->subject, reinterpret_cast<uintptr_t>(sub.get()), sub->queue);
    if (!st.ok()) {
      SendErr(c, "Invalid Subject");
      return;
    }
    if (!leafs.empty()) NotifyLeafs(acc, sub->subject, sub->queue, +1, c);
    c->subs.emplace(sub->sid, std::move(sub));
    SendOk(c);
  }

  void RemoveSub(Subscription* sub) {
    if (sub->dead) return;
    sub->dead = true;
    Client* c = sub->client;
    c->account->sublist.Remove(sub->subject, reinterpret_cast<uintptr_t>(sub), sub->queue);
    if (!leafs.empty()) NotifyLeafs(c->account, sub->subject, sub->queue, -1, c);
    auto it = c->subs.find(sub->sid);
    if (it != c->subs.end()) {
      dead_subs.push_back(std::move(it->second));
      c->subs.erase(it);
    }
    if (depth == 0) dead_subs.clear();
  }

  void HandleUnsub(Client* c, const proto::Op& op) {
    auto it = c->subs.find(std::string(op.sid));
    if (it != c->subs.end()) {
      Subscription* sub = it->second.get();
      if (op.has_max_msgs && op.max_msgs > sub->delivered) {
        sub->max = op.max_msgs;
      } else {
        RemoveSub(sub);
      }
    }
    SendOk(c);
  }

  void HandlePub(Client* c, const proto::Op& op) {
    ++c->in_msgs;
    c->in_bytes += op.total_size();
    ++stats.in_msgs;
    stats.in_bytes += op.total_size();
    Account* acc = AccountOf(c);
    ++acc->in_msgs;
    acc->in_bytes += op.total_size();
    if (c->pedantic && !subject::IsValidPublishSubject(op.subject)) {
      SendErr(c, "Invalid Publish Subject");
      return;
    }
    if (c->perms != nullptr && !CanPublish(c->perms->publish, op.subject)) {
      std::string text = "Permissions Violation for Publish to \"";
      text.append(op.subject);
      text.append("\"");
      SendErr(c, text);
      return;
    }
    if (!op.reply.empty() && IsReservedReply(op.reply)) {
      std::string text = "Permissions Violation for Publish with Reply of \"";
      text.append(op.reply);
      text.append("\"");
      SendErr(c, text);
      return;
    }
    SendOk(c);
    std::string_view subj = op.subject;
    if (!domain_api_prefix.empty()) subj = DomainStoreSubject(subj);
    for (const auto& m : acc->mappings) {
      auto outcome = m.Map(subj, options.cluster_name, percent, mapped);
      if (outcome == subject::MapOutcome::kNoMatch) continue;
      if (outcome == subject::MapOutcome::kDropped) return;
      subj = mapped;
      break;
    }
    bool delivered = DeliverTo(PubMatch(c, acc, subj), c, subj, op.reply, op.headers, op.payload);
    if (acc->js && acc->js->Handle(subj, op.reply, op.headers, op.payload)) delivered = true;
    if (!acc->streams_out.empty() || !acc->services_in.empty() || !acc->responses.empty()) {
      if (RouteAcrossAccounts(c, acc, subj, op.reply, op.headers, op.payload)) delivered = true;
    }
    if (sys_handler && subj.rfind("$SYS.REQ.", 0) == 0 &&
        sys_handler({acc->name, acc->name == options.system_account, subj, op.reply, op.headers,
                     op.payload})) {
      delivered = true;
    }
    if (!delivered && !op.reply.empty() && c->no_responders) SendNoResponders(c, acc, op.reply);
  }

  // Imports and exports: a reply to an imported service request goes back to the requester;
  // stream exports copy the message to importers; service imports send it, with a reply
  // subject of the exporter's own (_R_.<n>), to the exporting account. One level: messages
  // that crossed an account are not routed on again.
  bool RouteAcrossAccounts(Client* from, Account* acc, std::string_view subj,
                           std::string_view reply, std::string_view headers,
                           std::string_view payload, std::string_view shown = {}) {
    bool delivered = false;
    if (auto it = acc->responses.find(std::string(subj)); it != acc->responses.end()) {
      PendingResponse back = std::move(it->second);
      acc->responses.erase(it);
      delivered = DeliverAcross(nullptr, back.requester, back.reply, "", headers, payload, {}) ||
                  delivered;
    }
    for (const auto& route : acc->streams_out) {
      if (!subject::SubjectMatches(route.subject, subj)) continue;
      std::string to =
          route.prefix.empty() ? std::string(subj) : route.prefix + "." + std::string(subj);
      delivered = DeliverAcross(from, route.importer, to, reply, headers, payload, shown) ||
                  delivered;
    }
    for (const auto& route : acc->services_in) {
      if (!subject::SubjectMatches(route.local, subj)) continue;
      std::string remote = MapServiceSubject(route.local, route.remote, subj);
      std::string remote_reply;
      if (!reply.empty()) {
        remote_reply = "_R_." + std::to_string(NextRandom() % 1000000000000ull) + "." +
                       std::to_string(++response_seq);
        if (route.exporter->responses.size() >= kMaxPendingResponses) {
          route.exporter->responses.erase(route.exporter->responses.begin());
        }
        route.exporter->responses[remote_reply] = {acc, std::string(reply)};
      }
      bool sent = DeliverAcross(nullptr, route.exporter, remote, remote_reply, headers, payload, {});
      if (!sent && !remote_reply.empty()) route.exporter->responses.erase(remote_reply);
      delivered = sent || delivered;
    }
    return delivered;
  }

  // A message crossing into account `acc` (an import): its subscribers, then its JetStream
  // (API requests through a service import, flow-control answers, stream subjects).
  bool DeliverAcross(Client* from, Account* acc, std::string_view subj, std::string_view reply,
                     std::string_view headers, std::string_view payload, std::string_view shown) {
    bool delivered = Deliver(from, acc, subj, reply, headers, payload, shown);
    if (acc->js && acc->js->Handle(subj, reply, headers, payload)) delivered = true;
    return delivered;
  }

  // The exporter's subject for a request on `subj` through a service import of `remote` as
  // `local`: literal -> as exported; with wildcards, the tokens `local`'s wildcards matched
  // fill `remote`'s in order ("$JS.hub.API.>" -> "$JS.API.>").
  static std::string MapServiceSubject(std::string_view local, std::string_view remote,
                                       std::string_view subj) {
    if (!subject::HasWildcard(remote)) return std::string(remote);
    auto split = [](std::string_view v) {
      std::vector<std::string_view> t;
      size_t start = 0;
      for (size_t i = 0; i <= v.size(); ++i) {
        if (i == v.size() || v[i] == '.') {
          t.push_back(v.substr(start, i - start));
          start = i + 1;
        }
      }
      return t;
    };
    auto lt = split(local), st = split(subj), rt = split(remote);
    std::vector<std::string> stars;
    std::string rest;
    for (size_t i = 0; i < lt.size() && i < st.size(); ++i) {
      if (lt[i] == "*") {
        stars.emplace_back(st[i]);
      } else if (lt[i] == ">") {
        for (size_t j = i; j < st.size(); ++j) {
          if (!rest.empty()) rest.push_back('.');
          rest.append(st[j]);
        }
        break;
      }
    }
    if (stars.empty() && rest.empty()) return std::string(subj);  // local had no wildcard
    std::string out;
    size_t star = 0;
    for (const auto& tok : rt) {
      if (!out.empty()) out.push_back('.');
      if (tok == "*" && star < stars.size()) {
        out.append(stars[star++]);
      } else if (tok == ">") {
        out.append(rest);
      } else {
        out.append(tok);
      }
    }
    return out;
  }

  // An internal subscription of the server in `acc` (see Subscription::internal).
  Subscription* AddInternalSub(Account* acc, std::string_view subj,
                               decltype(Subscription::internal) fn) {
    auto sub = std::make_unique<Subscription>();
    sub->subject.assign(subj);
    sub->internal = std::move(fn);
    Subscription* raw = sub.get();
    acc->sublist.Insert(raw->subject, reinterpret_cast<uintptr_t>(raw), raw->queue);
    acc->internal_subs.emplace(raw, std::move(sub));
    // The JetStream engine's deliver and reply subjects are interest like a client's: the far
    // side of a leaf connection must send the deliveries and answers across.
    if (!leafs.empty()) NotifyLeafs(acc, raw->subject, raw->queue, +1, nullptr);
    return raw;
  }

  void RemoveInternalSub(Account* acc, Subscription* sub) {
    auto it = acc->internal_subs.find(sub);
    if (it == acc->internal_subs.end() || sub->dead) return;
    sub->dead = true;
    acc->sublist.Remove(sub->subject, reinterpret_cast<uintptr_t>(sub), sub->queue);
    if (!leafs.empty()) NotifyLeafs(acc, sub->subject, sub->queue, -1, nullptr);
    dead_subs.push_back(std::move(it->second));  // a match snapshot may still list it
    acc->internal_subs.erase(it);
    if (depth == 0) dead_subs.clear();
  }

  void SendNoResponders(Client* c, Account* acc, std::string_view reply) {
    auto result = acc->sublist.Match(reply);
    for (auto id : result->plain) {
      auto* sub = reinterpret_cast<Subscription*>(id);
      if (sub->client != c || sub->dead) continue;
      SendMsg(sub, reply, {}, kNoRespondersHeader, {});
      return;
    }
    for (const auto& q : result->queues) {
      for (auto id : q.members) {
        auto* sub = reinterpret_cast<Subscription*>(id);
        if (sub->client != c || sub->dead) continue;
        SendMsg(sub, reply, {}, kNoRespondersHeader, {});
        return;
      }
    }
  }

  // A wildcard subscription may match subjects its owner's subscribe deny list names
  // ("foo.*" with deny "foo.secret"): as nats-server, those messages are not delivered.
  static bool DeniedOnDelivery(const Subscription* sub, std::string_view subj) {
    const Permissions* perms = sub->client->perms;
    if (perms == nullptr || perms->subscribe.deny.empty()) return false;
    for (const auto& p : perms->subscribe.deny) {
      if (subject::SubjectMatches(p, subj)) return true;
    }
    return false;
  }

  static uint64_t Generation(const subject::Sublist& sl) {
    return sl.Stats().inserts + sl.Stats().removes;
  }

  // The subscribers of `subj` in `acc` for a message client `c` publishes. The result is kept
  // in the client (a publisher mostly repeats its subject) and stays valid while it is used:
  // only this client's next publish replaces it, and publishes do not nest.
  const subject::MatchResult& PubMatch(Client* c, Account* acc, std::string_view subj) {
    uint64_t gen = Generation(acc->sublist);
    if (c->last_match && c->last_account == acc && c->last_generation == gen &&
        c->last_subject == subj) {
      ++acc->last_subject_hits;
      return *c->last_match;
    }
    c->last_match = acc->sublist.Match(subj);
    c->last_account = acc;
    c->last_generation = gen;
    c->last_subject.assign(subj);
    return *c->last_match;
  }

  // Delivers to the subscribers of `subj`; the MSG line shows `shown` when not empty (JetStream
  // deliveries are routed by the deliver subject but show the stored message's subject).
  bool Deliver(Client* from, Account* acc, std::string_view subj, std::string_view reply,
               std::string_view headers, std::string_view payload, std::string_view shown = {}) {
    // Held for the delivery: a delivery may unsubscribe (max reached), which must not free it.
    auto result = acc->sublist.Match(subj);
    return DeliverTo(*result, from, subj, reply, headers, payload, shown);
  }

  // Delivers to the subscribers in `result` (`subj`'s match, which the caller keeps alive).
  // Leaf-node stand-ins get one LMSG per message, carrying the names of the queue groups that
  // picked them; as nats-server, a queue group prefers local members, and a message that came
  // from a leaf goes to no queue group the leaf did not name (leaf_queue_filter).
  bool DeliverTo(const subject::MatchResult& result, Client* from, std::string_view subj,
                 std::string_view reply, std::string_view headers, std::string_view payload,
                 std::string_view shown = {}) {
    if (result.empty()) return false;
    std::string_view as = shown.empty() ? subj : shown;
    bool delivered = false;
    const bool from_leaf = from != nullptr && from->leaf != nullptr;
    std::vector<std::pair<Client*, std::string>> to_leafs;  // allocates only when used
    auto add_leaf = [&](Client* leaf, std::string_view queue) {
      for (auto& [c, queues] : to_leafs) {
        if (c != leaf) continue;
        if (!queue.empty()) queues.append(queues.empty() ? "" : " ").append(queue);
        return;
      }
      to_leafs.emplace_back(leaf, std::string(queue));
    };
    for (auto id : result.plain) {
      auto* sub = reinterpret_cast<Subscription*>(id);
      if (sub->internal) {
        if (sub->dead) continue;
        sub->internal(subj, as, reply, headers, payload);
        delivered = true;
        continue;
      }
      if (sub->dead || sub->client->closed) continue;
      if (from != nullptr && !from->echo && sub->client == from) continue;
      if (sub->client->leaf != nullptr) {
        add_leaf(sub->client, {});
        continue;
      }
      if (DeniedOnDelivery(sub, subj)) continue;
      SendMsg(sub, as, reply, headers, payload);
      delivered = true;
    }
    for (const auto& q : result.queues) {
      size_t n = q.members.size();
      if (n == 0) continue;
      if (from_leaf && !QueueListed(leaf_queue_filter, q.name)) continue;
      size_t start = NextRandom() % n;
      Client* fallback = nullptr;  // a leaf that has members of this group
      bool sent = false;
      for (size_t i = 0; i < n; ++i) {
        auto* sub = reinterpret_cast<Subscription*>(q.members[(start + i) % n]);
        if (sub->dead || sub->client->closed) continue;
        if (from != nullptr && !from->echo && sub->client == from) continue;
        if (sub->client->leaf != nullptr) {
          if (fallback == nullptr && sub->client->leaf->CanSend(subj)) fallback = sub->client;
          continue;
        }
        if (DeniedOnDelivery(sub, subj)) continue;
        SendMsg(sub, as, reply, headers, payload);
        delivered = true;
        sent = true;
        break;
      }
      if (!sent && fallback != nullptr) add_leaf(fallback, q.name);
    }
    for (const auto& [c, queues] : to_leafs) {
      if (!c->leaf->CanSend(subj)) continue;
      if (!shown.empty() && shown != subj && reply.starts_with("$JS.ACK.")) {
        // A JetStream delivery: as nats-server, it travels under the deliver subject with the
        // stored subject after an `@` in the reply, which the far side shows.
        std::string r(reply);
        r.append("@").append(shown);
        c->leaf->Send(subj, r, queues, headers, payload);
      } else {
        c->leaf->Send(subj, reply, queues, headers, payload);
      }
      ++c->out_msgs;
      c->out_bytes += headers.size() + payload.size();
      ++stats.out_msgs;
      stats.out_bytes += headers.size() + payload.size();
      delivered = true;
    }
    return delivered;
  }

  static bool QueueListed(std::string_view list, std::string_view name) {
    std::string_view f[16];
    size_t n = proto::SplitArgs(list, f, 16);
    for (size_t i = 0; i < std::min<size_t>(n, 16); ++i) {
      if (f[i] == name) return true;
    }
    return false;
  }

  // ---- leaf nodes (leafnode.h): the server side of LeafHost ----

  // "$JS.<domain>.API." with JetStream and a domain, else empty.
  std::string domain_api_prefix = options.jetstream.enabled && !options.jetstream.domain.empty()
                                      ? "$JS." + options.jetstream.domain + ".API."
                                      : std::string();

  // As nats-server's JetStream domain mappings: `$JS.<domain>.API.$KV.>` is `$KV.>` and
  // `$JS.<domain>.API.$OBJ.>` is `$OBJ.>` (KV and object store through a domain). The rest of
  // `$JS.<domain>.API` is answered by the JetStream glue itself.
  std::string_view DomainStoreSubject(std::string_view subj) const {
    if (!subj.starts_with(domain_api_prefix)) return subj;
    std::string_view rest = subj.substr(domain_api_prefix.size());
    return rest.starts_with("$KV.") || rest.starts_with("$OBJ.") ? rest : subj;
  }

  std::vector<std::unique_ptr<LeafConnection>> leafs;
  std::unordered_map<LeafConnection*, std::unique_ptr<Client>> leaf_clients;
  std::string leaf_queue_filter;  // the queue names of the leaf message being routed

  // Tells the leaf connections of `acc` that `owner` (a client or a leaf stand-in) gained or
  // lost a subscription (`owner` null: an internal subscription of the server, such as the
  // JetStream engine's). As nats-server: never back to the leaf it came from, and a
  // solicited connection (spoke) only hears of clients, internal subscriptions and accepted
  // leafs.
  void NotifyLeafs(Account* acc, std::string_view subject, std::string_view queue, int delta,
                   Client* owner) {
    LeafConnection* from = owner != nullptr ? owner->leaf : nullptr;
    for (auto& l : leafs) {
      if (l->account() != acc->name || l.get() == from) continue;
      if (from != nullptr && l->solicited() && from->solicited()) continue;
      l->LocalInterest(subject, queue, delta);
    }
  }

  // Accepting leaf connections (leafnodes { listen }).
  std::unique_ptr<net::Listener> leaf_listener;
  std::vector<std::unique_ptr<LeafConnection>> dead_leafs;
  std::map<std::string, std::string> lds;  // loop-detection subject per account

  const std::string& LoopDetectionSubject(const std::string& account) {
    auto& subject = lds[account];
    if (subject.empty()) subject = "$LDS." + RandomServerId().substr(1, 22);
    return subject;
  }

  LeafSettings MakeLeafSettings(const std::string& account) {
    LeafSettings s;
    s.server_id = server_id;
    s.server_name = options.server_name.empty() ? server_id : options.server_name;
    s.cluster = options.cluster_name;
    s.domain = options.jetstream.domain;
    s.jetstream = options.jetstream.enabled && accounts.find(account)->second->jetstream_enabled;
    s.ping_interval = options.ping_interval;
    s.ping_max = options.ping_max;
    s.max_payload = options.max_payload;
    s.reconnect = options.leafnodes.reconnect;
    s.listen_host = options.leafnodes.host;
    s.listen_port = leaf_listener ? leaf_listener->port() : 0;
    s.accept_account = kGlobalAccount;
    s.accept_tls = leaf_tls;
    s.accept_tls_timeout = options.leafnodes.tls_timeout;
    return s;
  }

  net::Status ListenLeafNodes(const net::ConnectionOptions& copts) {
    if (options.leafnodes.port < 0) return net::Status::Ok();
    auto l = net::Listener::Listen(
        loop,
        net::Endpoint::Tcp(options.leafnodes.host, static_cast<uint16_t>(options.leafnodes.port)),
        [this](net::ConnectionPtr conn) {
          if (shutting_down) {
            conn->Abort();
            return;
          }
          auto leaf = std::make_unique<LeafConnection>(loop, *this, std::move(conn), next_cid++,
                                                       MakeLeafSettings(kGlobalAccount),
                                                       LoopDetectionSubject(kGlobalAccount));
          LeafConnection* raw = leaf.get();
          leafs.push_back(std::move(leaf));
          raw->Start();
        },
        copts);
    if (!l.ok()) return l.status();
    leaf_listener = std::move(l).value();
    spdlog::info("Listening for leafnode connections on {}:{}", options.leafnodes.host,
                 leaf_listener->port());
    return net::Status::Ok();
  }

  // As nats-server without a leafnodes authorization block: a leaf authenticates as one of the
  // server's users (plain or bcrypt password, checked here) and is bound to its account;
  // without users or a token, to the global account.
  bool AuthorizeLeaf(const std::string& user, const std::string& password, std::string* account,
                     bool* jetstream) override {
    *account = kGlobalAccount;
    if (auth_required()) {
      const User* u = FindUser(user);
      if (u == nullptr || !u->nkey.empty() || user.empty() ||
          !PasswordMatches(u->password, password)) {
        return false;
      }
      if (!u->account.empty()) *account = u->account;
    }
    *jetstream = options.jetstream.enabled && accounts.find(*account)->second->jetstream_enabled;
    return true;
  }
  bool LeafAuthRequired() const override { return auth_required(); }

  void LeafFinished(LeafConnection* leaf) override {
    for (auto it = leafs.begin(); it != leafs.end(); ++it) {
      if (it->get() != leaf) continue;
      dead_leafs.push_back(std::move(*it));
      leafs.erase(it);
      break;
    }
    loop.Post([this, alive = std::weak_ptr<bool>(alive)] {
      if (!alive.expired()) dead_leafs.clear();
    });
  }

  void StartLeafNodes() {
    for (const auto& r : options.leafnodes.remotes) {
      std::string account = r.account.empty() ? kGlobalAccount : r.account;
      leafs.push_back(std::make_unique<LeafConnection>(loop, *this, r, MakeLeafSettings(account),
                                                       LoopDetectionSubject(account)));
    }
    for (auto& l : leafs) l->Start();
  }

  void LeafUp(LeafConnection* leaf) override {
    auto c = std::make_unique<Client>();
    c->cid = next_cid++;
    c->leaf = leaf;
    c->echo = false;  // never back to the leaf it came from
    c->headers = true;
    c->verbose = false;
    c->connect_received = true;
    c->account = accounts.find(leaf->account())->second.get();
    c->name = leaf->remote_server();
    c->start_unix_ms = c->last_activity_unix_ms = UnixMs();
    leaf_clients[leaf] = std::move(c);
  }

  void LeafDown(LeafConnection* leaf) override {
    auto it = leaf_clients.find(leaf);
    if (it == leaf_clients.end()) return;
    Client* c = it->second.get();
    c->closed = true;
    ++depth;
    // RemoveSub withdraws what this leaf announced from the other leafs (hub side).
    std::vector<Subscription*> subs;
    for (auto& [key, s] : c->subs) subs.push_back(s.get());
    for (Subscription* s : subs) RemoveSub(s);
    dead_clients.push_back(std::move(it->second));
    leaf_clients.erase(it);
    --depth;
    if (depth == 0) {
      dead_subs.clear();
      dead_clients.clear();
    }
  }

  void LeafInterest(LeafConnection* leaf, std::string_view subject, std::string_view queue,
                    uint32_t weight) override {
    auto it = leaf_clients.find(leaf);
    if (it == leaf_clients.end()) return;
    Client* c = it->second.get();
    std::string key(subject);
    if (!queue.empty()) key.append(" ").append(queue);
    auto found = c->subs.find(key);
    if (weight == 0) {
      if (found != c->subs.end()) {
        ++depth;
        RemoveSub(found->second.get());
        --depth;
        if (depth == 0) dead_subs.clear();
      }
      return;
    }
    if (found != c->subs.end()) return;  // a queue group's new weight: one member stands for it
    if (!subject::IsValidSubscribeSubject(subject) ||
        (!queue.empty() && !subject::IsValidQueueGroup(queue))) {
      return;
    }
    auto sub = std::make_unique<Subscription>();
    sub->client = c;
    sub->subject = subject;
    sub->queue = queue;
    sub->sid = key;
    if (!c->account->sublist
             .Insert(sub->subject, reinterpret_cast<uintptr_t>(sub.get()), sub->queue)
             .ok()) {
      return;
    }
    if (leafs.size() > 1) NotifyLeafs(c->account, sub->subject, sub->queue, +1, c);
    c->subs.emplace(key, std::move(sub));
  }

  void LeafMessage(LeafConnection* leaf, std::string_view subject, std::string_view reply,
                   std::string_view queues, std::string_view headers,
                   std::string_view payload) override {
    auto it = leaf_clients.find(leaf);
    if (it == leaf_clients.end()) return;
    Client* c = it->second.get();
    ++c->in_msgs;
    c->in_bytes += headers.size() + payload.size();
    ++stats.in_msgs;
    stats.in_bytes += headers.size() + payload.size();
    c->last_activity_unix_ms = UnixMs();
    Account* acc = c->account;
    std::string_view subj = subject;
    std::string_view shown;
    // A JetStream delivery from the far side: routed by its subject (the deliver subject),
    // shown with the stored subject after the `@` of its reply.
    if (reply.starts_with("$JS.ACK.")) {
      auto at = reply.rfind('@');
      if (at != std::string_view::npos && at + 1 < reply.size()) {
        shown = reply.substr(at + 1);
        reply = reply.substr(0, at);
      }
    }
    std::string mapped_subject;
    if (shown.empty()) {
      if (!domain_api_prefix.empty()) subj = DomainStoreSubject(subj);
      for (const auto& m : acc->mappings) {
        auto outcome = m.Map(subj, options.cluster_name, percent, mapped);
        if (outcome == subject::MapOutcome::kNoMatch) continue;
        if (outcome == subject::MapOutcome::kDropped) return;
        mapped_subject = mapped;
        subj = mapped_subject;
        break;
      }
    }
    ++depth;
    leaf_queue_filter.assign(queues);
    Deliver(c, acc, subj, reply, headers, payload, shown);
    leaf_queue_filter.clear();
    if (shown.empty()) {
      if (acc->js) acc->js->Handle(subj, reply, headers, payload);
      if (!acc->streams_out.empty() || !acc->services_in.empty() || !acc->responses.empty()) {
        RouteAcrossAccounts(c, acc, subj, reply, headers, payload);
      }
    }
    --depth;
    if (depth == 0) {
      dead_subs.clear();
      dead_clients.clear();
    }
  }

  void ForEachLocalInterest(
      LeafConnection* leaf,
      const std::function<void(std::string_view, std::string_view)>& each) override {
    const std::string& account = leaf->account();
    for (auto& [id, c] : clients) {
      if (c->closed || c->account == nullptr || c->account->name != account) continue;
      for (auto& [sid, sub] : c->subs) {
        if (!sub->dead) each(sub->subject, sub->queue);
      }
    }
    if (auto a = accounts.find(account); a != accounts.end()) {
      for (auto& [raw, sub] : a->second->internal_subs) {
        if (!sub->dead) each(sub->subject, sub->queue);
      }
    }
    for (auto& [l, c] : leaf_clients) {
      if (l == leaf || c->closed || c->account->name != account) continue;
      if (leaf->solicited() && l->solicited()) continue;
      for (auto& [key, sub] : c->subs) {
        if (!sub->dead) each(sub->subject, sub->queue);
      }
    }
  }

  void SendMsg(Subscription* sub, std::string_view subj, std::string_view reply,
               std::string_view headers, std::string_view payload) {
    Client* to = sub->client;
    bool with_headers = !headers.empty() && to->headers;
    size_t body = (with_headers ? headers.size() : 0) + payload.size();
    // A small message is built whole in the scratch line and queued with one copy (one
    // append to the connection's output instead of four).
    const bool whole = body <= kWholeMessageBytes;
    size_t need = subj.size() + sub->sid.size() + reply.size() + 64 + (whole ? body : 0);
    if (line.capacity() < need) line.reserve(need);
    line.resize(need);
    char* p = line.data();
    if (with_headers) {
      p = PutView(p, "HMSG ");
    } else {
      p = PutView(p, "MSG ");
    }
    p = PutView(p, subj);
    *p++ = ' ';
    p = PutView(p, sub->sid);
    *p++ = ' ';
    if (!reply.empty()) {
      p = PutView(p, reply);
      *p++ = ' ';
    }
    size_t total = payload.size();
    if (with_headers) {
      p = PutUint(p, headers.size());
      *p++ = ' ';
      total += headers.size();
    }
    p = PutUint(p, total);
    *p++ = '\r';
    *p++ = '\n';
    if (whole) {
      if (with_headers) p = PutView(p, headers);
      p = PutView(p, payload);
      *p++ = '\r';
      *p++ = '\n';
      to->conn->Write(std::string_view(line.data(), p - line.data()));
    } else {
      std::string_view parts[4] = {std::string_view(line.data(), p - line.data()),
                                   with_headers ? headers : std::string_view(), payload,
                                   "\r\n"};
      to->conn->Write(parts);
    }
    ++to->out_msgs;
    to->out_bytes += total;
    ++to->account->out_msgs;
    to->account->out_bytes += total;
    ++stats.out_msgs;
    stats.out_bytes += total;
    ++sub->delivered;
    if (sub->max != 0 && sub->delivered >= sub->max) RemoveSub(sub);
  }

  // A message the server itself publishes into `acc` (JetStream deliveries, PubAcks, API
  // replies). May run inside the handling of a client's input (re-entrant) or from a timer.
  void InternalSend(Account* acc, std::string_view subj, std::string_view reply,
                    std::string_view headers, std::string_view payload, std::string_view shown) {
    ++depth;
    Deliver(nullptr, acc, subj, reply, headers, payload, shown);
    // Across accounts too (JetStream replies to imported API requests, deliveries to an
    // importing account, flow-control answers to the exporter).
    if (!acc->streams_out.empty() || !acc->services_in.empty() || !acc->responses.empty()) {
      RouteAcrossAccounts(nullptr, acc, subj, reply, headers, payload, shown);
    }
    --depth;
    if (depth == 0) {
      dead_subs.clear();
      dead_clients.clear();
    }
  }

  bool HasInterest(Account* acc, std::string_view subj, bool across = true) {
    // Through stream exports: an importer's subscribers are interest here too.
    if (across) {
      for (const auto& route : acc->streams_out) {
        if (!subject::SubjectMatches(route.subject, subj)) continue;
        std::string to =
            route.prefix.empty() ? std::string(subj) : route.prefix + "." + std::string(subj);
        if (HasInterest(route.importer, to, false)) return true;
      }
    }
    auto result = acc->sublist.Match(subj);
    for (auto id : result->plain) {
      if (!reinterpret_cast<Subscription*>(id)->dead) return true;
    }
    for (const auto& q : result->queues) {
      for (auto id : q.members) {
        if (!reinterpret_cast<Subscription*>(id)->dead) return true;
      }
    }
    return false;
  }

  void StartJetStream() {
    if (!options.jetstream.enabled) return;
    const std::string& name = options.server_name.empty() ? server_id : options.server_name;
    for (auto& [n, a] : accounts) {
      if (!a->jetstream_enabled || a->js) continue;
      Account* acc = a.get();
      acc->js = std::make_unique<AccountJetStream>(
          loop, options.jetstream, acc->name, name,
          [this, acc](std::string_view s, std::string_view r, std::string_view h,
                      std::string_view p,
                      std::string_view shown) { InternalSend(acc, s, r, h, p, shown); },
          [this, acc](std::string_view s) { return HasInterest(acc, s); },
          [this, acc](std::string_view s, AccountJetStream::InboundFn fn) -> void* {
            return AddInternalSub(acc, s, std::move(fn));
          },
          [this, acc](void* sub) { RemoveInternalSub(acc, static_cast<Subscription*>(sub)); });
      // As nats-server, whose consumer's ack subscription leaves the Sublist: the leafs this
      // consumer's deliveries went to get LS- for its `$JS.ACK.<stream>.<consumer>.>`.
      acc->js->SetConsumerDeleted([this, acc](const std::string& s, const std::string& c) {
        for (auto& leaf : leafs) {
          if (leaf->account() == acc->name) leaf->WithdrawReplies(s, c);
        }
      });
    }
    js_timer = loop.Every(std::chrono::milliseconds(100), [this] {
      for (auto& [n, a] : accounts) {
        if (a->js) a->js->Tick();
      }
    });
  }

  void StopJetStream() {
    js_timer.Cancel();
    for (auto& [n, a] : accounts) {
      if (a->js) a->js->Close();
    }
  }

  // The settings Reload may not change, named as in the config file.
  static std::vector<std::string> RestartOnlyChanges(const Options& a, const Options& b) {
    std::vector<std::string> out;
    auto check = [&](bool same, const char* name) {
      if (!same) out.push_back(name);
    };
    check(a.server_name == b.server_name, "server_name");
    check(a.host == b.host && a.port == b.port, "listen (host/port)");
    check(a.http_host == b.http_host && a.http_port == b.http_port, "http (monitoring port)");
    check(a.cluster_name == b.cluster_name, "cluster_name");
    check(a.max_payload == b.max_payload, "max_payload");
    check(a.max_control_line == b.max_control_line, "max_control_line");
    check(a.max_pending == b.max_pending, "max_pending");
    check(a.write_deadline == b.write_deadline, "write_deadline");
    check(a.max_connections == b.max_connections, "max_connections");
    check(a.max_subscriptions == b.max_subscriptions, "max_subscriptions");
    check(a.system_account == b.system_account, "system_account");
    check(a.ping_interval == b.ping_interval, "ping_interval");
    check(a.tls.enabled == b.tls.enabled && a.tls.cert_file == b.tls.cert_file &&
              a.tls.key_file == b.tls.key_file && a.tls.ca_file == b.tls.ca_file &&
              a.tls.verify == b.tls.verify && a.tls.timeout == b.tls.timeout &&
              a.tls.handshake_first == b.tls.handshake_first &&
              a.tls.handshake_first_fallback == b.tls.handshake_first_fallback,
          "tls");
    check(a.jetstream.enabled == b.jetstream.enabled &&
              a.jetstream.store_dir == b.jetstream.store_dir &&
              a.jetstream.domain == b.jetstream.domain &&
              a.jetstream.max_memory == b.jetstream.max_memory &&
              a.jetstream.max_file == b.jetstream.max_file &&
              a.jetstream.sync_always == b.jetstream.sync_always &&
              a.jetstream.sync_interval == b.jetstream.sync_interval,
          "jetstream");
    auto js_accounts = [](const Options& o) {
      std::map<std::string, bool> m;
      for (const auto& ac : o.accounts) m[ac.name] = m[ac.name] || ac.jetstream;
      std::vector<std::string> out;
      for (const auto& [name, js] : m) {
        if (js) out.push_back(name);
      }
      return out;
    };
    check(js_accounts(a) == js_accounts(b), "jetstream of an account");
    auto leaf_remotes = [](const Options& o) {
      std::vector<std::pair<std::vector<std::string>, std::string>> out;
      for (const auto& r : o.leafnodes.remotes) {
        out.emplace_back(r.urls, r.account + "|" + r.tls_ca_file + "|" + r.tls_cert_file + "|" +
                                     r.tls_key_file + "|" + (r.tls ? "tls" : ""));
        for (const auto& d : r.deny_imports) out.back().second += "|i:" + d;
        for (const auto& d : r.deny_exports) out.back().second += "|e:" + d;
      }
      return out;
    };
    check(leaf_remotes(a) == leaf_remotes(b) && a.leafnodes.reconnect == b.leafnodes.reconnect &&
              a.leafnodes.host == b.leafnodes.host && a.leafnodes.port == b.leafnodes.port &&
              a.leafnodes.tls == b.leafnodes.tls &&
              a.leafnodes.tls_cert_file == b.leafnodes.tls_cert_file &&
              a.leafnodes.tls_key_file == b.leafnodes.tls_key_file &&
              a.leafnodes.tls_ca_file == b.leafnodes.tls_ca_file &&
              a.leafnodes.tls_verify == b.leafnodes.tls_verify,
          "leafnodes");
    return out;
  }

  void Reload(Options fresh) {
    auto fixed = RestartOnlyChanges(options, fresh);
    if (!fixed.empty()) {
      std::string names;
      for (const auto& n : fixed) names += (names.empty() ? "" : ", ") + n;
      throw std::invalid_argument("the new configuration changes " + names +
                                  ", which only take effect at a restart; nothing was "
                                  "reloaded (restore those settings or restart the server)");
    }
    // Validate everything before changing anything.
    std::map<std::string, std::vector<subject::SubjectMapping>> mappings;
    for (const auto& ac : fresh.accounts) {
      auto& list = mappings[ac.name];
      for (const auto& m : ac.mappings) {
        auto mapping = subject::SubjectMapping::Create(m.source, m.destinations,
                                                       subject::TransformRules::V210());
        if (!mapping.ok()) {
          throw std::invalid_argument("account \"" + ac.name + "\": mapping of \"" + m.source +
                                      "\" is invalid: " + mapping.message());
        }
        list.push_back(std::move(mapping).value());
      }
    }
    CheckImports(fresh.accounts);
    bool no_auth_found = fresh.no_auth_user.empty();
    for (const auto& u : fresh.users) {
      no_auth_found = no_auth_found || u.name == fresh.no_auth_user;
      if (!u.account.empty() && !mappings.count(u.account) && !accounts.count(u.account)) {
        throw std::invalid_argument("user \"" + u.name + "\" names account \"" + u.account +
                                    "\", which is not configured");
      }
    }
    if (!no_auth_found) {
      throw std::invalid_argument("no_auth_user \"" + fresh.no_auth_user +
                                  "\" is not a configured user");
    }
    // Apply. Accounts that disappeared stay (their clients are re-checked below) but lose
    // their mappings.
    for (auto& [name, a] : accounts) a->mappings.clear();
    for (auto& [name, list] : mappings) {
      auto& slot = accounts[name];
      if (!slot) {
        slot = std::make_unique<Account>();
        slot->name = name;
      }
      slot->mappings = std::move(list);
    }
    // Clients being closed may still point at the old users' permissions until they are
    // gone: the old list is kept (moving a vector keeps its elements where they are).
    retired_users.push_back(std::move(options.users));
    options.users = std::move(fresh.users);
    has_nkey_users = false;
    for (const auto& u : options.users) has_nkey_users = has_nkey_users || !u.nkey.empty();
    options.token = std::move(fresh.token);
    options.no_auth_user = std::move(fresh.no_auth_user);
    options.accounts = std::move(fresh.accounts);
    ResolveImports(options.accounts, accounts);
    options.auth_timeout = fresh.auth_timeout;
    options.ping_max = fresh.ping_max;
    // Existing clients, as nats-server: authenticated again with their CONNECT credentials
    // (closed with an Authorization Violation when that fails or moves them to another
    // account); the new permissions apply, and subscriptions they no longer allow are removed
    // with a Permissions Violation.
    std::vector<Client*> all;
    for (auto& [id, c] : clients) {
      if (c->connect_received && !c->closed) all.push_back(c.get());
    }
    ++depth;
    for (Client* c : all) {
      // One being checked already is authenticated again with these users by its verdict.
      if (!c->auth_pending) Reauthenticate(c);
    }
    --depth;
    if (depth == 0) {
      dead_subs.clear();
      dead_clients.clear();
    }
  }

  // Authenticates an admitted client again with the current users (Reload). A password whose
  // bcrypt hash changed is checked on the thread pool, the client parked meanwhile (as at
  // CONNECT); its verdict comes back here through BcryptVerdict.
  void Reauthenticate(Client* c) {
    Account* account = nullptr;
    const Permissions* perms = nullptr;
    std::string user, hash;
    switch (Authenticate(*c, account, perms, user, &hash)) {
      case AuthVerdict::kNeedsBcrypt:
        c->recheck = true;
        StartBcrypt(c, std::move(hash));
        return;
      case AuthVerdict::kRefused:
        CloseWithError(c, "Authorization Violation");
        return;
      case AuthVerdict::kAdmitted:
        break;
    }
    if (account != AccountOf(c)) {
      CloseWithError(c, "Authorization Violation");
      return;
    }
    c->perms = perms;
    if (perms == nullptr) return;
    std::vector<Subscription*> denied;
    for (auto& [sid, sub] : c->subs) {
      if (!CanSubscribe(perms->subscribe, sub->subject)) denied.push_back(sub.get());
    }
    for (Subscription* sub : denied) {
      SendErr(c, "Permissions Violation for Subscription to \"" + sub->subject + "\"");
      RemoveSub(sub);
    }
  }

  void OnClosed(Client* c, const net::CloseInfo& info) {
    if (info.reason == net::CloseReason::kSlowConsumer ||
        info.reason == net::CloseReason::kWriteDeadline) {
      ++stats.slow_consumers;
      if (c->account != nullptr) ++c->account->slow_consumers;
      // As nats-server logs them (its notice level is our info).
      if (info.reason == net::CloseReason::kWriteDeadline) {
        spdlog::info("{}:{} - cid:{} - Slow Consumer Detected: WriteDeadline of {} exceeded ({})",
                     c->ip, c->port, c->cid, GoDuration(options.write_deadline), info.detail);
      } else {
        spdlog::info("{}:{} - cid:{} - Slow Consumer Detected: MaxPending of {} exceeded ({})",
                     c->ip, c->port, c->cid, options.max_pending, info.detail);
      }
    }
    c->closed = true;
    c->auth_timer.Cancel();
    c->tls_timer.Cancel();
    c->tls_first_timer.Cancel();
    c->first_ping_timer.Cancel();
    std::vector<Subscription*> subs;
    for (auto& [sid, s] : c->subs) subs.push_back(s.get());
    for (Subscription* s : subs) RemoveSub(s);
    if (c->account != nullptr) --c->account->connections;
    c->conn->DetachHandlers();
    auto it = clients.find(c->cid);
    if (it != clients.end()) {
      dead_clients.push_back(std::move(it->second));
      clients.erase(it);
    }
    if (depth == 0) {
      dead_subs.clear();
      dead_clients.clear();
    }
  }
};

Server::Server(net::Loop& loop, Options options)
    : impl_(std::make_unique<Impl>(loop, std::move(options))) {}

Server::~Server() {
  if (impl_) {
    impl_->StopJetStream();
    for (auto& [id, c] : impl_->clients) c->conn->DetachHandlers();
    for (auto& [id, c] : impl_->clients) c->conn->Abort();
  }
}

net::Status Server::Start() {
  net::ConnectionOptions copts;
  copts.max_pending_output = impl_->options.max_pending;
  copts.write_deadline_ms = static_cast<uint32_t>(impl_->options.write_deadline.count());
  // 16 KiB reads (net's loop-wide buffer; a connection keeps only an unconsumed tail, of this
  // size). 64 KiB reads measured no faster in node_bench and answer subscribers in bigger,
  // later bursts.
  copts.read_buffer_bytes = 16 * 1024;
  copts.max_input_buffer =
      std::max<size_t>(8 * 1024 * 1024, impl_->options.max_payload * 2 + 65536);
  auto l = net::Listener::Listen(
      impl_->loop, net::Endpoint::Tcp(impl_->options.host, impl_->options.port),
      [this](net::ConnectionPtr conn) { impl_->Accept(std::move(conn)); }, copts);
  if (!l.ok()) return l.status();
  try {
    impl_->StartJetStream();
  } catch (const std::exception& e) {
    return net::Status::Error(e.what());
  }
  impl_->listener = std::move(l).value();
  if (auto st = impl_->ListenLeafNodes(copts); !st.ok()) return st;
  impl_->StartLeafNodes();
  impl_->ping_timer =
      impl_->loop.Every(impl_->options.ping_interval, [this] { impl_->PingTick(); });
  return net::Status::Ok();
}

void Server::Reload(Options fresh) {
  impl_->Reload(std::move(fresh));
}

void Server::Shutdown() {
  impl_->shutting_down = true;
  impl_->listener.reset();
  impl_->ping_timer.Cancel();
  impl_->StopJetStream();
  impl_->leaf_listener.reset();
  std::vector<LeafConnection*> leafs;
  for (auto& leaf : impl_->leafs) leafs.push_back(leaf.get());
  for (LeafConnection* leaf : leafs) leaf->Stop();
  std::vector<Client*> all;
  for (auto& [id, c] : impl_->clients) all.push_back(c.get());
  for (Client* c : all) c->conn->Close();
}

uint16_t Server::leaf_port() const {
  return impl_->leaf_listener ? impl_->leaf_listener->port() : 0;
}
uint16_t Server::port() const {
  return impl_->listener ? impl_->listener->port() : impl_->options.port;
}
const std::string& Server::server_id() const {
  return impl_->server_id;
}
const Options& Server::options() const {
  return impl_->options;
}
int64_t Server::start_unix_ms() const {
  return impl_->start_unix_ms;
}
const ServerStats& Server::stats() const {
  return impl_->stats;
}
size_t Server::num_connections() const {
  return impl_->clients.size();
}

std::vector<ConnectionInfo> Server::Connections() const {
  std::vector<ConnectionInfo> out;
  for (const auto& [id, c] : impl_->clients) {
    ConnectionInfo i;
    i.cid = c->cid;
    i.ip = c->ip;
    i.port = c->port;
    i.start_unix_ms = c->start_unix_ms;
    i.last_activity_unix_ms = c->last_activity_unix_ms;
    i.pending_bytes = c->conn->pending_output();
    i.in_msgs = c->in_msgs;
    i.out_msgs = c->out_msgs;
    i.in_bytes = c->in_bytes;
    i.out_bytes = c->out_bytes;
    i.name = c->name;
    i.lang = c->lang;
    i.version = c->version;
    i.user = c->user;
    i.account = c->account ? c->account->name : kGlobalAccount;
    for (const auto& [sid, s] : c->subs) {
      i.subscriptions.push_back(s->subject);
      i.subscription_details.push_back({s->subject, s->queue, s->sid, s->delivered});
    }
    out.push_back(std::move(i));
  }
  std::sort(out.begin(), out.end(),
            [](const ConnectionInfo& a, const ConnectionInfo& b) { return a.cid < b.cid; });
  return out;
}

std::vector<AccountInfo> Server::Accounts() const {
  std::vector<AccountInfo> out;
  for (const auto& [name, a] : impl_->accounts) {
    out.push_back({name, a->connections, a->sublist.Count(), a->mappings.size(), a->in_msgs,
                   a->in_bytes, a->out_msgs, a->out_bytes, a->slow_consumers});
  }
  return out;
}

std::vector<JetStreamAccountStats> Server::JetStream() const {
  std::vector<JetStreamAccountStats> out;
  for (const auto& [name, a] : impl_->accounts) {
    if (!a->js) continue;
    JetStreamAccountStats s = a->js->Stats();
    s.account = name;
    out.push_back(std::move(s));
  }
  return out;
}

std::string Server::JetStreamStreamDetails(std::string_view account, bool with_config) const {
  auto it = impl_->accounts.find(account);
  if (it == impl_->accounts.end() || !it->second->js) return "[]";
  return it->second->js->StreamDetailsJson(with_config);
}

std::vector<LeafInfo> Server::LeafNodes() const {
  std::vector<LeafInfo> out;
  for (const auto& leaf : impl_->leafs) {
    auto it = impl_->leaf_clients.find(leaf.get());
    if (it == impl_->leaf_clients.end()) continue;
    const Client& c = *it->second;
    LeafInfo i;
    i.name = leaf->remote_server();
    i.account = leaf->account();
    std::string peer = leaf->peer_address();
    auto colon = peer.rfind(':');
    i.ip = peer.substr(0, colon);
    if (i.ip.size() > 2 && i.ip.front() == '[') i.ip = i.ip.substr(1, i.ip.size() - 2);
    if (colon != std::string::npos) i.port = std::atoi(peer.c_str() + colon + 1);
    i.solicited = leaf->solicited();
    i.domain = leaf->remote_domain();
    i.in_msgs = c.in_msgs;
    i.out_msgs = c.out_msgs;
    i.in_bytes = c.in_bytes;
    i.out_bytes = c.out_bytes;
    for (const auto& [key, sub] : c.subs) {
      if (!sub->dead) i.subscriptions.push_back(key);
    }
    std::sort(i.subscriptions.begin(), i.subscriptions.end());
    out.push_back(std::move(i));
  }
  return out;
}

SublistInfo Server::Subscriptions() const {
  return Subscriptions({});
}

SublistInfo Server::Subscriptions(std::string_view account) const {
  SublistInfo s;
  for (const auto& [name, a] : impl_->accounts) {
    if (!account.empty() && name != account) continue;
    const auto& st = a->sublist.Stats();
    s.subscriptions += a->sublist.Count();
    s.cache += a->sublist.CacheCount();
    s.inserts += st.inserts;
    s.removes += st.removes;
    s.matches += st.matches + a->last_subject_hits;
    s.hits += st.cache_hits + a->last_subject_hits;
  }
  return s;
}

void Server::SetSystemRequestHandler(SystemRequestHandler handler) {
  impl_->sys_handler = std::move(handler);
}

bool Server::Publish(std::string_view account, std::string_view subject, std::string_view payload) {
  auto it = impl_->accounts.find(account);
  if (it == impl_->accounts.end()) return false;
  impl_->InternalSend(it->second.get(), subject, {}, {}, payload, {});
  return true;
}

}  // namespace meridian::server
