#include "server/leafnode.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "net/backoff.h"
#include "net/connection.h"
#include "net/endpoint.h"
#include "net/loop.h"
#include "net/reconnector.h"
#include "net/tls.h"
#include "proto/parser.h"
#include "server/permissions.h"
#include "spdlog/spdlog.h"
#include "subject/subject.h"

namespace meridian::server {
namespace {

constexpr std::string_view kLoopDetectionPrefix = "$LDS.";
// As nats-server (leafNodeReconnectDelayAfterLoopDetected).
constexpr std::chrono::seconds kLoopReconnectDelay{30};
// A hub that does not finish the handshake within this long is dropped and tried again.
constexpr std::chrono::seconds kHandshakeTimeout{5};

// nats-server's denyAllClientJs: a leaf connection of a non-system account never carries the
// plain JetStream API (nor KV/object store subjects); those stay inside each domain.
const std::vector<std::string>& JsDenies() {
  static const std::vector<std::string> kDenies = {"$JS.API.>", "$KV.>", "$OBJ.>"};
  return kDenies;
}

// The subjects nats-server maps from `$JS.<domain>.API` to the local API (generateJSMappingTable):
// announced to the hub so that its clients reach this node's JetStream through the domain.
std::vector<std::string> DomainApiSubjects(const std::string& domain) {
  std::vector<std::string> out;
  for (const char* suffix : {"INFO", "STREAM.>", "CONSUMER.>", "DIRECT.>", "META.>", "SERVER.>",
                             "ACCOUNT.>", "$KV.>", "$OBJ.>"}) {
    out.push_back("$JS." + domain + ".API." + suffix);
  }
  return out;
}

std::vector<std::string> JsonStrings(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

// The hub's permission block in INFO ("import"/"export": {allow, deny}).
void ReadPermission(const nlohmann::json& info, const char* key, SubjectPermission& out) {
  auto it = info.find(key);
  if (it == info.end() || !it->is_object()) return;
  out.allow = JsonStrings(*it, "allow");
  out.deny = JsonStrings(*it, "deny");
}

}  // namespace

bool ParseLeafUrl(const std::string& url, LeafUrl& out, std::string* error) {
  std::string_view s = url;
  auto fail = [&](std::string why) {
    if (error) *error = "leaf remote url \"" + url + "\": " + why;
    return false;
  };
  auto scheme = s.find("://");
  if (scheme != std::string_view::npos) {
    std::string_view name = s.substr(0, scheme);
    if (name != "nats-leaf" && name != "nats" && name != "leaf" && name != "tls") {
      if (name == "ws" || name == "wss") {
        return fail("WebSocket leaf connections are not supported yet by meridian-node");
      }
      return fail("unknown scheme \"" + std::string(name) + "\" (use nats-leaf://host:port)");
    }
    s.remove_prefix(scheme + 3);
  }
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  out = LeafUrl{};
  out.tls = url.starts_with("tls://");
  if (auto at = s.rfind('@'); at != std::string_view::npos) {
    std::string_view creds = s.substr(0, at);
    s.remove_prefix(at + 1);
    auto colon = creds.find(':');
    out.user = std::string(creds.substr(0, colon));
    if (colon != std::string_view::npos) out.password = std::string(creds.substr(colon + 1));
  }
  auto colon = s.rfind(':');
  if (colon != std::string_view::npos && s.find(']') == std::string_view::npos) {
    std::string port(s.substr(colon + 1));
    s = s.substr(0, colon);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) == 0 ||
        std::stoi(port) > 65535) {
      return fail("the port is not a number from 1 to 65535");
    }
    out.port = static_cast<uint16_t>(std::stoi(port));
  }
  if (s.size() > 2 && s.front() == '[') s = s.substr(1, s.size() - 2);
  if (s.empty()) return fail("no host");
  out.host = std::string(s);
  return true;
}

std::string ValidateLeafUrl(const std::string& url) {
  LeafUrl u;
  std::string error;
  return ParseLeafUrl(url, u, &error) ? std::string() : error;
}

struct LeafConnection::Impl {
  net::Loop& loop;
  LeafHost& host;
  LeafRemoteOptions remote;
  LeafSettings settings;
  std::string lds;  // this account's loop-detection subject
  LeafConnection* self = nullptr;
  bool solicited = true;
  uint64_t cid = 0;  // accepted: our id for it, sent in INFO (client_id)
  std::vector<LeafUrl> urls;
  std::unique_ptr<net::Reconnector> reconnector;
  net::Timer retry;      // the next connect attempt after a lost connection
  net::Timer handshake;  // drops a hub that does not finish the handshake
  net::Timer tls_timer;  // accepted with TLS: drops a leaf that does not finish the TLS one
  net::Timer ping;
  net::ConnectionPtr conn;
  std::string conn_host;  // the host name a solicited connection went to (TLS verifies it)
  bool conn_tls = false;  // that URL was tls://
  std::shared_ptr<const net::TlsContext> client_tls;
  proto::Parser parser{proto::Direction::kLeaf};
  bool stopped = true;
  bool info_received = false;
  bool is_up = false;
  int pings_out = 0;
  bool active = false;
  std::chrono::milliseconds next_delay{0};
  uint64_t connects = 0;
  std::string remote_server, remote_domain;
  // publish: what may go to the far side; subscribe: what interest may be announced to it.
  // `granted` is what the far side said (the hub's INFO import/export, a leaf's deny_pub);
  // `perms` adds the JetStream denies once the handshake is done.
  Permissions granted;
  Permissions perms;
  // Local interest announced to the hub: key "subject" or "subject queue" -> count / weight.
  std::map<std::string, int32_t, std::less<>> smap;
  std::string line;  // scratch for message lines

  Impl(net::Loop& l, LeafHost& h, LeafRemoteOptions r, LeafSettings s, std::string d)
      : loop(l), host(h), remote(std::move(r)), settings(std::move(s)), lds(std::move(d)) {
    if (remote.account.empty()) remote.account = kGlobalAccount;
    for (const auto& u : remote.urls) {
      LeafUrl parsed;
      if (ParseLeafUrl(u, parsed, nullptr)) urls.push_back(parsed);
    }
  }

  void Start() {
    stopped = false;
    if (!solicited) {
      Accepted();
      return;
    }
    std::vector<net::Endpoint> endpoints;
    for (const auto& u : urls) endpoints.push_back(net::Endpoint::Tcp(u.host, u.port));
    net::ConnectOptions copts;
    copts.timeout = std::chrono::seconds(2);
    copts.connection.max_input_buffer =
        std::max<size_t>(8 * 1024 * 1024, settings.max_payload * 2 + 65536);
    copts.connection.max_pending_output = 64 * 1024 * 1024;
    auto ceiling = std::max(settings.reconnect, std::chrono::milliseconds(4));
    reconnector = std::make_unique<net::Reconnector>(
        loop, endpoints, net::Backoff(ceiling / 4, ceiling), copts,
        [this](net::ConnectionPtr c, const net::Endpoint& where) {
          Connected(std::move(c), where);
        },
        [](const net::Endpoint& where, const std::string& error) {
          spdlog::debug("Error trying to connect as leafnode to remote server {}: {}",
                        where.ToString(), error);
        });
    reconnector->Start();
  }

  void Stop() {
    stopped = true;
    retry.Cancel();
    handshake.Cancel();
    ping.Cancel();
    if (reconnector) reconnector->Stop();
    if (conn) {
      auto c = conn;
      Lost();
      c->Close();
    }
  }

  const LeafUrl* UrlOf(const net::Endpoint& where) const {
    for (const auto& u : urls) {
      if (u.host == where.host && u.port == where.port) return &u;
    }
    return nullptr;
  }

  void Connected(net::ConnectionPtr c, const net::Endpoint& where) {
    if (stopped) {
      c->Abort();
      return;
    }
    conn = c;
    parser.Reset();
    proto::Limits limits;
    limits.max_control_line = 64 * 1024;  // INFO of a big cluster
    limits.max_payload = settings.max_payload;
    parser.set_limits(limits);
    info_received = false;
    is_up = false;
    pings_out = 0;
    smap.clear();
    perms = Permissions{};
    granted = Permissions{};
    const LeafUrl* url = UrlOf(where);
    std::string user = url ? url->user : "", pass = url ? url->password : "";
    conn_host = where.host;
    conn_tls = url != nullptr && url->tls;
    c->SetCloseHandler([this](const net::CloseInfo& info) {
      spdlog::info("Leafnode connection {} {} closed: {} {}", solicited ? "to" : "from",
                   remote_server, net::CloseReasonName(info.reason), info.detail);
      Lost();
    });
    c->SetReadHandler(
        [this, user, pass](std::string_view data) { return OnRead(data, user, pass); });
    handshake = loop.After(kHandshakeTimeout, [this] {
      if (conn && !is_up) {
        spdlog::warn("Leafnode handshake with {} did not finish; closing", remote_server);
        conn->Close();
      }
    });
  }

  // An accepted leaf: INFO first, then its CONNECT within the handshake timeout.
  void Accepted() {
    auto c = conn;
    conn.reset();
    Connected(c, net::Endpoint{});
    if (!conn) return;
    nlohmann::ordered_json j;
    j["server_id"] = settings.server_id;
    j["server_name"] = settings.server_name;
    j["version"] = kAdvertisedVersion;
    j["proto"] = 1;
    j["go"] = kAdvertisedGo;
    j["host"] = settings.listen_host;
    j["port"] = settings.listen_port;
    j["headers"] = true;
    if (host.LeafAuthRequired()) j["auth_required"] = true;
    if (settings.accept_tls) j["tls_required"] = true;
    j["max_payload"] = settings.max_payload;
    if (settings.jetstream) j["jetstream"] = true;
    j["client_id"] = cid;
    if (!settings.domain.empty()) j["domain"] = settings.domain;
    j["info_on_connect"] = true;
    // A soliciting nats-server takes an INFO without leafnode_urls for a wrong port; with an
    // unspecified listen address there is no one address to advertise.
    const bool any = settings.listen_host.empty() || settings.listen_host == "0.0.0.0" ||
                     settings.listen_host == "::";
    j["leafnode_urls"] =
        any ? nlohmann::ordered_json::array()
            : nlohmann::ordered_json::array(
                  {settings.listen_host + ":" + std::to_string(settings.listen_port)});
    conn->Write("INFO " + j.dump() + "\r\n");
    // The leaf starts TLS after reading INFO (in plain text); a failed or missing handshake
    // closes the connection (net reports it; the handshake timer covers a silent leaf).
    if (settings.accept_tls) {
      conn->StartTls(settings.accept_tls, "", [](const net::Status&) {});
      tls_timer = loop.After(settings.accept_tls_timeout, [this] {
        if (conn && !conn->tls_active()) conn->Abort();
      });
    }
  }

  // The leaf's CONNECT (accepting side), as nats-server's processLeafNodeConnect.
  void HandleConnect(std::string_view text) {
    if (solicited || info_received) {
      Fail("Unknown Protocol Operation");
      return;
    }
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) {
      Fail("Unknown Protocol Operation");
      return;
    }
    if (!j.value("lang", std::string()).empty()) {
      Fail("attempted to connect to leaf node port");
      return;
    }
    if (!j.value("gateway", std::string()).empty()) {
      Fail("Rejecting connection from gateway on the leafnode port");
      return;
    }
    std::string cluster = j.value("cluster", std::string());
    if (!settings.cluster.empty() && cluster == settings.cluster) {
      Fail("Leafnode has same cluster name as the hub cluster");
      return;
    }
    std::string account;
    bool jetstream = false;
    if (!host.AuthorizeLeaf(j.value("user", std::string()), j.value("pass", std::string()),
                            &account, &jetstream)) {
      spdlog::warn("Leafnode connection from {} refused: Authorization Violation",
                   conn->peer_address());
      Fail("Authorization Violation");
      return;
    }
    remote.account = account;
    settings.jetstream = jetstream;
    info_received = true;
    remote_server = j.value("name", j.value("server_id", std::string()));
    remote_domain = j.value("domain", std::string());
    for (const auto& d : JsonStrings(j, "deny_pub")) granted.publish.deny.push_back(d);
    nlohmann::ordered_json info;
    info["server_id"] = settings.server_id;
    info["server_name"] = settings.server_name;
    info["version"] = kAdvertisedVersion;
    info["headers"] = true;
    info["client_id"] = cid;
    if (!settings.domain.empty()) info["domain"] = settings.domain;
    info["connect_info"] = true;
    info["remote_account"] = remote.account;
    conn->Write("INFO " + info.dump() + "\r\n");
    Finish();
  }

  // The connection is gone (or being dropped): forget it and try again later.
  void Lost() {
    if (!conn) return;
    conn->DetachHandlers();
    conn.reset();
    handshake.Cancel();
    tls_timer.Cancel();
    ping.Cancel();
    if (is_up) {
      is_up = false;
      host.LeafDown(self);
    }
    smap.clear();
    if (!solicited) {
      stopped = true;
      host.LeafFinished(self);
      return;
    }
    if (stopped) return;
    auto delay = next_delay.count() > 0 ? next_delay : settings.reconnect;
    next_delay = std::chrono::milliseconds(0);
    retry = loop.After(delay, [this] {
      if (!stopped) reconnector->Start();
    });
  }

  void Fail(std::string_view err) {
    if (!conn) return;
    std::string msg = "-ERR '" + std::string(err) + "'\r\n";
    conn->Write(msg);
    auto c = conn;
    Lost();
    c->Close();
  }

  size_t OnRead(std::string_view data, const std::string& user, const std::string& pass) {
    active = true;
    parser.Feed(data);
    proto::Op op;
    proto::Parser::Result r;
    while (conn && (r = parser.Next(op)) == proto::Parser::Result::kOp) {
      Handle(op, user, pass);
    }
    if (conn && parser.failed()) {
      spdlog::warn("Leafnode protocol error from {}: {}", remote_server, parser.error().reason);
      auto c = conn;
      Lost();
      c->Close();
    }
    return data.size();
  }

  void Handle(const proto::Op& op, const std::string& user, const std::string& pass) {
    switch (op.kind) {
      case proto::OpKind::kInfo:
        if (solicited) HandleInfo(op.text, user, pass);
        return;
      case proto::OpKind::kConnect:
        HandleConnect(op.text);
        return;
      case proto::OpKind::kPing:
        conn->Write("PONG\r\n");
        return;
      case proto::OpKind::kPong:
        pings_out = 0;
        return;
      case proto::OpKind::kOk:
        return;
      case proto::OpKind::kErr: {
        spdlog::error("Leafnode error from {}: {}", remote_server, op.text);
        // As nats-server (leafProcessErr): the far side closes when it means to; a loop or
        // the same cluster name makes a soliciting side wait 30 s before trying again, and a
        // loop closes at once.
        if (op.text.find("same cluster name") != std::string_view::npos) {
          next_delay = kLoopReconnectDelay;
        }
        if (op.text.find("Loop detected") != std::string_view::npos) {
          next_delay = kLoopReconnectDelay;
          auto c = conn;
          Lost();
          c->Close();
        }
        return;
      }
      case proto::OpKind::kLeafSub:
        if (!is_up) return;
        if (op.subject == lds) {
          next_delay = kLoopReconnectDelay;
          std::string err = "Loop detected for leafnode account=\"" + remote.account +
                            "\". Delaying attempt to reconnect for 30s";
          spdlog::error("{}", err);
          Fail(err);
          return;
        }
        // A literal subject we may not send to the other side (its $LDS., $GR. and _GR_.
        // aside): as nats-server 2.9.10 (processLeafSub/leafPermViolation), the hub answers
        // -ERR 'Permissions Violation for Subscription to "<subject>"' and closes; a spoke
        // ignores it (the hub told it its permissions).
        if (!subject::HasWildcard(op.subject) && !op.subject.starts_with(kLoopDetectionPrefix) &&
            !op.subject.starts_with("$GR.") && !op.subject.starts_with("_GR_.") &&
            !CanPublish(perms.publish, op.subject)) {
          if (!solicited) {
            spdlog::error(
                "Leafnode connection from {}: Subscription Violation on \"{}\" - Check "
                "other side configuration",
                conn ? conn->peer_address() : std::string(), op.subject);
            Fail("Permissions Violation for Subscription to \"" + std::string(op.subject) + "\"");
          }
          return;
        }
        host.LeafInterest(self, op.subject, op.queue, op.queue.empty() ? 1 : op.weight);
        return;
      case proto::OpKind::kLeafUnsub:
        if (is_up) host.LeafInterest(self, op.subject, op.queue, 0);
        return;
      case proto::OpKind::kLeafMsg:
      case proto::OpKind::kLeafHmsg:
        if (is_up) host.LeafMessage(self, op.subject, op.reply, op.queues, op.headers, op.payload);
        return;
      default:
        Fail("Unknown Protocol Operation");
        return;
    }
  }

  void HandleInfo(std::string_view text, const std::string& user, const std::string& pass) {
    nlohmann::json info = nlohmann::json::parse(text, nullptr, false);
    if (!info.is_object()) {
      Fail("Unknown Protocol Operation");
      return;
    }
    const bool first = !info_received;
    if (first) {
      info_received = true;
      // A client or route port answers without leafnode_urls (nats-server checks the same).
      if (!info.contains("leafnode_urls")) {
        spdlog::error(
            "Leafnode remote {} is not a leafnode port (its INFO has no leafnode_urls); "
            "attempted to connect to the wrong port",
            conn->peer_address());
        auto c = conn;
        Lost();
        c->Close();
        return;
      }
      remote_server = info.value("server_name", info.value("server_id", std::string()));
      remote_domain = info.value("domain", std::string());
      // As nats-server 2.9: TLS right after the hub's INFO when either side asks for it; the
      // CONNECT is queued and goes out encrypted once the handshake is done.
      const bool tls = info.value("tls_required", false) || remote.tls || conn_tls;
      if (tls && !StartClientTls()) return;
      SendConnect(user, pass, tls);
    }
    if (info.contains("import") || info.contains("export")) {
      granted = Permissions{};
      ReadPermission(info, "export", granted.publish);
      ReadPermission(info, "import", granted.subscribe);
      if (is_up) ApplyDenies();  // a later INFO (the hub reloaded): keep the JetStream denies
    }
    const bool finish =
        (first && !info.value("info_on_connect", false)) || info.value("connect_info", false);
    if (finish && !is_up) Finish();
  }

  bool StartClientTls() {
    if (!client_tls) {
      net::TlsConfig tc;
      tc.ca_file = remote.tls_ca_file;
      tc.cert_file = remote.tls_cert_file;
      tc.key_file = remote.tls_key_file;
      auto ctx = net::TlsContext::Create(net::TlsContext::Role::kClient, tc);
      if (!ctx.ok()) {
        spdlog::error("Leafnode TLS to {}: {}", remote_server, ctx.message());
        auto c = conn;
        Lost();
        c->Close();
        return false;
      }
      client_tls = ctx.value();
    }
    conn->StartTls(client_tls, conn_host, [this](const net::Status& st) {
      if (!st.ok())
        spdlog::error("Leafnode TLS handshake with {} failed: {}", remote_server, st.message());
    });
    return true;
  }

  void SendConnect(const std::string& user, const std::string& pass, bool tls) {
    nlohmann::ordered_json j;
    j["version"] = kAdvertisedVersion;
    if (!user.empty()) {
      j["user"] = user;
      j["pass"] = pass;
    }
    j["tls_required"] = tls;
    j["server_id"] = settings.server_id;
    if (!settings.domain.empty()) j["domain"] = settings.domain;
    j["name"] = settings.server_name;
    if (!settings.cluster.empty()) j["cluster"] = settings.cluster;
    j["headers"] = true;
    if (settings.jetstream) j["jetstream"] = true;
    if (!remote.deny_imports.empty()) j["deny_pub"] = remote.deny_imports;
    conn->Write("CONNECT " + j.dump() + "\r\n");
  }

  // The hub accepted us: merge the JetStream denies, announce local interest, start pinging.
  void Finish() {
    handshake.Cancel();
    ApplyDenies();
    is_up = true;
    ++connects;
    spdlog::info("Leafnode connection {} for account: {} with remote {} (domain \"{}\")",
                 solicited ? "created" : "accepted", remote.account, remote_server, remote_domain);
    host.LeafUp(self);
    std::string out;
    auto add = [&](const std::string& key, int32_t n) { smap[key] += n; };
    host.ForEachLocalInterest(self, [&](std::string_view subj, std::string_view queue) {
      if (!CanSubscribe(perms.subscribe, subj)) return;
      add(Key(subj, queue), 1);
    });
    if (settings.jetstream && !settings.domain.empty()) {
      for (const auto& s : DomainApiSubjects(settings.domain)) add(s, 1);
    }
    add(lds, 1);
    for (const auto& [key, n] : smap) AppendSub(out, key, n);
    if (!out.empty()) conn->Write(out);
    ping = loop.Every(settings.ping_interval, [this] { PingTick(); });
  }

  void ApplyDenies() {
    perms = granted;
    for (const auto& d : remote.deny_exports) perms.publish.deny.push_back(d);
    for (const auto& d : remote.deny_imports) perms.subscribe.deny.push_back(d);
    for (const auto& d : JsDenies()) {
      perms.publish.deny.push_back(d);
      perms.subscribe.deny.push_back(d);
    }
    // Different domains (or none on the far side): requests for this domain must not leave
    // through this connection (nats-server's guard against two sides with the same domain).
    if (!settings.domain.empty() && settings.jetstream && settings.domain != remote_domain) {
      perms.publish.deny.push_back("$JS." + settings.domain + ".API.>");
    }
  }

  void PingTick() {
    if (!conn) return;
    if (active && pings_out == 0) {
      active = false;
      return;
    }
    active = false;
    if (pings_out + 1 > settings.ping_max) {
      Fail("Stale Connection");
      return;
    }
    ++pings_out;
    conn->Write("PING\r\n");
  }

  static std::string Key(std::string_view subject, std::string_view queue) {
    std::string key(subject);
    if (!queue.empty()) {
      key += ' ';
      key += queue;
    }
    return key;
  }

  static void AppendSub(std::string& out, const std::string& key, int32_t n) {
    if (n > 0) {
      out += "LS+ ";
      out += key;
      if (key.find(' ') != std::string::npos) {
        out += ' ';
        out += std::to_string(n);
      }
    } else {
      out += "LS- ";
      out += key;
    }
    out += "\r\n";
  }

  // A consumer's delivery is going out: the far side's ack (or flow-control reply) must find
  // its way back. nats-server's consumers hold `$JS.ACK.<stream>.<consumer>.>` in the Sublist
  // and so announce it; this node's JetStream engine is not in the Sublist, so the first
  // delivery of each consumer across the connection announces it (ahead of the message, on the
  // same connection). Withdrawn (LS-) when the consumer goes away (WithdrawReplies), as
  // nats-server's consumer removes its ack subscription.
  void AnnounceReplies(std::string_view reply) {
    size_t dots = 0, end = 0;
    for (size_t i = 0; i < reply.size(); ++i) {
      if (reply[i] == '.' && ++dots == 4) {
        end = i;
        break;
      }
    }
    if (end == 0) return;
    std::string key(reply.substr(0, end));
    key += ".>";
    if (smap.count(key)) return;
    smap[key] = 1;
    std::string out;
    AppendSub(out, key, 1);
    conn->Write(out);
  }

  void WithdrawReplies(std::string_view stream, std::string_view consumer) {
    if (!is_up || !conn) return;
    std::string out;
    for (const char* prefix : {"$JS.ACK.", "$JS.FC."}) {
      std::string key = std::string(prefix).append(stream).append(".").append(consumer);
      key += ".>";
      auto it = smap.find(key);
      if (it == smap.end()) continue;
      smap.erase(it);
      AppendSub(out, key, 0);
    }
    if (!out.empty()) conn->Write(out);
  }

  void LocalInterest(std::string_view subject, std::string_view queue, int delta) {
    if (!is_up || !conn) return;
    if (!CanSubscribe(perms.subscribe, subject)) return;
    std::string key = Key(subject, queue);
    auto it = smap.find(key);
    int32_t n = it == smap.end() ? 0 : it->second;
    // As nats-server's updateSmap: queue groups send their new weight each time, plain
    // subjects only when the first appears or the last goes.
    const bool update = !queue.empty() || n == 0 || n + delta <= 0;
    n += delta;
    if (n > 0) {
      smap[key] = n;
    } else if (it != smap.end()) {
      smap.erase(it);
    }
    if (!update) return;
    std::string out;
    AppendSub(out, key, n);
    conn->Write(out);
  }

  void Send(std::string_view subject, std::string_view reply, std::string_view queues,
            std::string_view headers, std::string_view payload) {
    if (!conn || !is_up) return;
    if (reply.starts_with("$JS.ACK.") || reply.starts_with("$JS.FC.")) AnnounceReplies(reply);
    line.clear();
    line += headers.empty() ? "LMSG " : "HMSG ";
    line += subject;
    line += ' ';
    if (!queues.empty()) {
      if (!reply.empty()) {
        line += "+ ";
        line += reply;
        line += ' ';
      } else {
        line += "| ";
      }
      line += queues;
      line += ' ';
    } else if (!reply.empty()) {
      line += reply;
      line += ' ';
    }
    if (!headers.empty()) {
      line += std::to_string(headers.size());
      line += ' ';
    }
    line += std::to_string(headers.size() + payload.size());
    line += "\r\n";
    std::string_view parts[4] = {line, headers, payload, "\r\n"};
    conn->Write(parts);
  }
};

LeafConnection::LeafConnection(net::Loop& loop, LeafHost& host, LeafRemoteOptions remote,
                               LeafSettings settings, std::string loop_detection_subject)
    : impl_(std::make_unique<Impl>(loop, host, std::move(remote), std::move(settings),
                                   std::move(loop_detection_subject))) {
  impl_->self = this;
}

LeafConnection::LeafConnection(net::Loop& loop, LeafHost& host, net::ConnectionPtr conn,
                               uint64_t cid, LeafSettings settings,
                               std::string loop_detection_subject)
    : impl_(std::make_unique<Impl>(loop, host, LeafRemoteOptions{}, std::move(settings),
                                   std::move(loop_detection_subject))) {
  impl_->self = this;
  impl_->solicited = false;
  impl_->cid = cid;
  impl_->conn = std::move(conn);
  if (!impl_->settings.accept_account.empty())
    impl_->remote.account = impl_->settings.accept_account;
}

LeafConnection::~LeafConnection() {
  impl_->stopped = true;
  impl_->retry.Cancel();
  impl_->handshake.Cancel();
  impl_->tls_timer.Cancel();
  impl_->ping.Cancel();
  impl_->reconnector.reset();
  if (impl_->conn) {
    impl_->conn->DetachHandlers();
    impl_->conn->Abort();
  }
}

void LeafConnection::Start() {
  impl_->Start();
}
void LeafConnection::Stop() {
  impl_->Stop();
}
const std::string& LeafConnection::account() const {
  return impl_->remote.account;
}
bool LeafConnection::solicited() const {
  return impl_->solicited;
}
bool LeafConnection::up() const {
  return impl_->is_up;
}
const std::string& LeafConnection::remote_server() const {
  return impl_->remote_server;
}
const std::string& LeafConnection::remote_domain() const {
  return impl_->remote_domain;
}
std::string LeafConnection::peer_address() const {
  return impl_->conn ? impl_->conn->peer_address() : std::string();
}
uint64_t LeafConnection::connects() const {
  return impl_->connects;
}
void LeafConnection::LocalInterest(std::string_view subject, std::string_view queue, int delta) {
  impl_->LocalInterest(subject, queue, delta);
}
bool LeafConnection::CanSend(std::string_view subject) const {
  return impl_->is_up && CanPublish(impl_->perms.publish, subject);
}
void LeafConnection::WithdrawReplies(std::string_view stream, std::string_view consumer) {
  impl_->WithdrawReplies(stream, consumer);
}
void LeafConnection::Send(std::string_view subject, std::string_view reply, std::string_view queues,
                          std::string_view headers, std::string_view payload) {
  impl_->Send(subject, reply, queues, headers, payload);
}

}  // namespace meridian::server
