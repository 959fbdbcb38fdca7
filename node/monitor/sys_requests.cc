#include "monitor/sys_requests.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "monitor/monitor.h"
#include "server/server.h"
#include "subject/subject.h"

namespace meridian::monitor {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kServerMonitors[] = {"STATSZ",   "VARZ",    "CONNZ",    "SUBSZ",
                                                "JSZ",      "HEALTHZ", "ACCOUNTZ", "ROUTEZ",
                                                "GATEWAYZ", "LEAFZ"};
constexpr std::string_view kAccountMonitors[] = {"CONNZ", "SUBSZ", "JSZ", "INFO", "LEAFZ", "STATZ"};

bool OneOf(std::string_view what, const auto& list) {
  for (std::string_view x : list) {
    if (x == what) return true;
  }
  return false;
}

uint64_t Number(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer()) return it->get<int64_t>() < 0 ? 0 : it->get<uint64_t>();
  return it->get<double>() < 0 ? 0 : static_cast<uint64_t>(it->get<double>());
}
bool Flag(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
std::string Text(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

struct SysRequests::Impl {
  server::Server& server;
  uint16_t http_port;
  uint64_t seq = 0;  // messages this server's system services sent, as nats-server's `seq`

  std::string Name() const {
    const auto& o = server.options();
    return o.server_name.empty() ? server.server_id() : o.server_name;
  }

  // nats-server's ServerInfo, the "server" object of every reply.
  Json ServerInfo() {
    const auto& o = server.options();
    Json j;
    j["name"] = Name();
    j["host"] = o.host;
    j["id"] = server.server_id();
    if (!o.cluster_name.empty()) j["cluster"] = o.cluster_name;
    if (o.jetstream.enabled && !o.jetstream.domain.empty()) j["domain"] = o.jetstream.domain;
    j["ver"] = server::kAdvertisedVersion;
    j["seq"] = ++seq;
    j["jetstream"] = o.jetstream.enabled;
    j["time"] = Rfc3339(UnixMs());
    return j;
  }

  // True when the request's filter (nats-server's EventFilterOptions) leaves this server out.
  bool FilteredOut(const Json& body) const {
    const auto& o = server.options();
    auto contains = [&](const char* key, const std::string& mine) {
      std::string want = Text(body, key);
      return want.empty() || mine.find(want) != std::string::npos;
    };
    if (!contains("server_name", Name()) || !contains("host", o.host) ||
        !contains("cluster", o.cluster_name)) {
      return true;
    }
    // meridian-node has no server tags: a request naming any leaves it out.
    if (auto t = body.find("tags"); t != body.end() && t->is_array() && !t->empty()) return true;
    std::string domain = Text(body, "domain");
    return !domain.empty() && domain != o.jetstream.domain;
  }

  void Reply(std::string_view account, std::string_view reply, std::string_view key,
             const std::string& data) {
    std::string out = "{\"server\":" + ServerInfo().dump() + ",\"";
    out.append(key);
    out += "\":" + data + "}";
    server.Publish(account, reply, out);
  }

  // An error reply. `null_data`: "data":null as well, as nats-server when the endpoint itself
  // failed (not the body).
  void Error(std::string_view account, std::string_view reply, int code,
             const std::string& description, bool null_data = false) {
    Json j;
    j["server"] = ServerInfo();
    if (null_data) j["data"] = nullptr;
    j["error"] = {{"code", code}, {"description", description}};
    server.Publish(account, reply, j.dump());
  }

  std::string Statsz() {
    const auto& o = server.options();
    const auto& st = server.stats();
    size_t active_accounts = 0;
    for (const auto& a : server.Accounts()) active_accounts += a.connections > 0 ? 1 : 0;
    Json j;
    j["start"] = Rfc3339(server.start_unix_ms());
    j["mem"] = RssBytes();
    j["cores"] = std::thread::hardware_concurrency();
    j["cpu"] = CpuPercent(server.start_unix_ms());
    j["connections"] = server.num_connections();
    j["total_connections"] = st.total_connections;
    j["active_accounts"] = active_accounts;
    j["subscriptions"] = server.Subscriptions().subscriptions;
    j["sent"] = {{"msgs", st.out_msgs}, {"bytes", st.out_bytes}};
    j["received"] = {{"msgs", st.in_msgs}, {"bytes", st.in_bytes}};
    j["slow_consumers"] = st.slow_consumers;
    j["active_servers"] = 1;
    if (o.jetstream.enabled) {
      j["jetstream"] = {{"config", Json::parse(JetStreamConfigJson(server))},
                        {"stats", Json::parse(JetStreamStatsJson(server))}};
    }
    return j.dump();
  }

  static ConnzOptions ConnzFrom(const Json& b) {
    ConnzOptions o;
    o.subs = Flag(b, "subscriptions");
    o.subs_detail = Flag(b, "subscriptions_detail");
    o.sort = Text(b, "sort");
    o.state = static_cast<int>(Number(b, "state"));
    o.auth = Flag(b, "auth");
    o.offset = Number(b, "offset");
    o.limit = Number(b, "limit");
    o.cid = Number(b, "cid");
    o.user = Text(b, "user");
    o.account = Text(b, "acc");
    o.filter_subject = Text(b, "filter_subject");
    return o;
  }

  static SubszOptions SubszFrom(const Json& b) {
    SubszOptions o;
    o.subs = Flag(b, "subscriptions");
    o.account = Text(b, "account");
    o.offset = Number(b, "offset");
    o.limit = Number(b, "limit");
    if (o.limit == 0) o.limit = 1024;
    return o;
  }

  // The data of a server-wide monitor, or nullopt with `error` set.
  std::optional<std::string> ServerData(std::string_view what, const Json& b, std::string& error) {
    if (what == "VARZ") return VarzJson(server, http_port);
    if (what == "CONNZ") {
      ConnzOptions o = ConnzFrom(b);
      error = ConnzOptionsError(o);
      if (!error.empty()) return std::nullopt;
      return ConnzJson(server, o);
    }
    if (what == "SUBSZ") return SubszJson(server, SubszFrom(b));
    if (what == "JSZ") {
      JszOptions o;
      o.account = Text(b, "account");
      o.streams = Flag(b, "streams") || Flag(b, "consumer");
      o.config = Flag(b, "config");
      o.accounts = Flag(b, "accounts") || o.streams;
      o.offset = Number(b, "offset");
      o.limit = Number(b, "limit");
      if (o.limit == 0) o.limit = 1024;
      return JszJson(server, o);
    }
    if (what == "HEALTHZ") return HealthzJson();
    if (what == "ACCOUNTZ") return AccountzJson(server);
    if (what == "ROUTEZ") return RoutezJson(server);
    if (what == "GATEWAYZ") return GatewayzJson(server);
    if (what == "LEAFZ") return LeafzJson(server);
    error = "unknown monitor " + std::string(what);
    return std::nullopt;
  }

  bool KnownAccount(std::string_view name) const {
    for (const auto& a : server.Accounts()) {
      if (a.name == name) return true;
    }
    return false;
  }

  std::optional<std::string> AccountData(std::string_view what, const std::string& acc,
                                         const Json& b, std::string& error) {
    if (what == "CONNZ") {
      ConnzOptions o = ConnzFrom(b);
      o.account = acc;
      error = ConnzOptionsError(o);
      if (!error.empty()) return std::nullopt;
      return ConnzJson(server, o);
    }
    if (what == "SUBSZ") {
      SubszOptions o = SubszFrom(b);
      o.subs = true;
      o.account = acc;
      return SubszJson(server, o);
    }
    if (what == "LEAFZ") return LeafzJson(server);
    if (what == "JSZ") {
      if (!server.options().jetstream.enabled) {
        error = "jetstream not enabled";
        return std::nullopt;
      }
      if (!KnownAccount(acc)) {
        error = "account \"" + acc + "\" not found";
        return std::nullopt;
      }
      JszOptions o;
      o.streams = Flag(b, "streams") || Flag(b, "consumer");
      o.config = Flag(b, "config");
      std::string detail = AccountDetailJson(server, acc, o);
      if (!detail.empty()) return detail;
      error = "account \"" + acc + "\" not jetstream enabled";
      return std::nullopt;
    }
    // INFO
    if (!KnownAccount(acc)) {
      error = "Account " + acc + " does not exist";
      return std::nullopt;
    }
    return AccountInfo(acc);
  }

  std::string AccountInfo(const std::string& acc) {
    const auto& o = server.options();
    Json j;
    j["account_name"] = acc;
    if (acc == o.system_account) j["is_system"] = true;
    j["expired"] = false;
    j["complete"] = true;
    bool js = false;
    for (const auto& a : server.JetStream()) js = js || a.account == acc;
    j["jetstream_enabled"] = js;
    j["leafnode_connections"] = 0;
    size_t conns = 0, subs = 0;
    for (const auto& a : server.Accounts()) {
      if (a.name != acc) continue;
      conns = a.connections;
      subs = a.subscriptions;
    }
    j["client_connections"] = conns;
    j["subscriptions"] = subs;
    Json exports = Json::array(), imports = Json::array();
    for (const auto& ac : o.accounts) {
      if (ac.name != acc) continue;
      for (const auto& ex : ac.exports) {
        Json e = {{"subject", ex.subject}, {"type", ex.service ? "service" : "stream"}};
        if (!ex.accounts.empty()) {
          e["token_req"] = true;
          e["approved_accounts"] = ex.accounts;
        }
        exports.push_back(std::move(e));
      }
      for (const auto& im : ac.imports) {
        Json i = {{"subject", im.subject}, {"account", im.account}};
        if (im.service && !im.to.empty()) i["to"] = im.to;
        if (!im.service && !im.prefix.empty()) i["to"] = im.prefix + "." + im.subject;
        i["type"] = im.service ? "service" : "stream";
        i["invalid"] = false;
        i["share"] = false;
        i["tracking"] = false;
        imports.push_back(std::move(i));
      }
    }
    if (acc != o.system_account) {
      // The system imports every other account has (see sys_requests.h).
      for (const char* subj : {"$SYS.REQ.ACCOUNT.PING.CONNZ", "$SYS.REQ.SERVER.PING.CONNZ",
                               "$SYS.REQ.ACCOUNT.PING.STATZ"}) {
        std::string to = std::string(subj).substr(std::string(subj).rfind('.') + 1);
        imports.push_back({{"subject", subj},
                           {"account", o.system_account},
                           {"to", "$SYS.REQ.ACCOUNT." + acc + "." + to},
                           {"type", "service"},
                           {"invalid", false},
                           {"share", false},
                           {"tracking", false}});
      }
    }
    if (!exports.empty()) j["exports"] = std::move(exports);
    if (!imports.empty()) j["imports"] = std::move(imports);
    server::SublistInfo sl = server.Subscriptions(acc);
    j["sublist_stats"] = {
        {"num_subscriptions", sl.subscriptions},
        {"num_cache", sl.cache},
        {"num_inserts", sl.inserts},
        {"num_removes", sl.removes},
        {"num_matches", sl.matches},
        {"cache_hit_rate",
         sl.matches == 0 ? 0.0 : static_cast<double>(sl.hits) / static_cast<double>(sl.matches)}};
    return j.dump();
  }

  // Parses the body; false (after replying 400) when it is not JSON. An empty body is {}.
  bool ParseBody(const server::SystemRequest& r, Json& body) {
    body = Json::object();
    if (r.payload.empty()) return true;
    body = Json::parse(r.payload, nullptr, false);
    if (body.is_discarded()) {
      if (!r.reply.empty()) Error(r.account, r.reply, 400, "request body is not valid JSON");
      return false;
    }
    if (!body.is_object()) body = Json::object();
    return true;
  }

  // Answers one served request: parses the body, applies the filter, replies.
  void Answer(const server::SystemRequest& r, std::string_view what, const std::string& account,
              bool account_scoped) {
    Json body;
    if (!ParseBody(r, body) || FilteredOut(body)) return;
    if (what == "STATSZ") {
      // Without a reply subject, nats-server publishes its statsz on $SYS.SERVER.<id>.STATSZ.
      std::string to =
          r.reply.empty() ? "$SYS.SERVER." + server.server_id() + ".STATSZ" : std::string(r.reply);
      Reply(r.account, to, "statsz", Statsz());
      return;
    }
    if (r.reply.empty()) return;
    if (what == "STATZ" || what == "PING.STATZ") {
      // Account statz: the account of the subject, or (PING) those the body lists, all when
      // none; accounts without connections only with include_unused. Nothing to show: no reply.
      std::vector<std::string> accounts;
      if (what == "STATZ") {
        accounts.push_back(account);
      } else if (auto list = body.find("accounts"); list != body.end() && list->is_array()) {
        for (const auto& a : *list) {
          if (a.is_string()) accounts.push_back(a.get<std::string>());
        }
      }
      bool empty = false;
      std::string data = AccountStatzJson(server, accounts, Flag(body, "include_unused"), &empty);
      if (!empty) Reply(r.account, r.reply, "data", data);
      return;
    }
    std::string error;
    auto data =
        account_scoped ? AccountData(what, account, body, error) : ServerData(what, body, error);
    if (!data) {
      Error(r.account, r.reply, 500, error, true);
      return;
    }
    Reply(r.account, r.reply, "data", *data);
  }

  bool Handle(const server::SystemRequest& r) {
    std::vector<std::string_view> t;
    subject::SplitTokens(r.subject, t);  // t[0] "$SYS", t[1] "REQ"
    if (!r.from_system_account) {
      // nats-server's system imports into every other account: its own connections and
      // statz.
      if (t.size() != 5 || t[3] != "PING") return false;
      if (t[4] == "CONNZ" && (t[2] == "SERVER" || t[2] == "ACCOUNT")) {
        Answer(r, "CONNZ", std::string(r.account), true);
        return true;
      }
      if (t[4] == "STATZ" && t[2] == "ACCOUNT") {
        Answer(r, "STATZ", std::string(r.account), true);
        return true;
      }
      return false;
    }
    if (t.size() >= 4 && t[2] == "SERVER") {
      if (t.size() == 4) {
        if (t[3] != "PING") return false;
        Answer(r, "STATSZ", "", false);
        return true;
      }
      if (t.size() != 5 || !OneOf(t[4], kServerMonitors)) return false;
      if (t[3] != "PING" && t[3] != server.server_id()) return false;
      Answer(r, t[4], "", false);
      return true;
    }
    if (t.size() == 5 && t[2] == "ACCOUNT" && t[3] == "PING" && t[4] == "STATZ") {
      Answer(r, "PING.STATZ", "", true);
      return true;
    }
    if (t.size() == 5 && t[2] == "ACCOUNT" && t[3] != "PING" && OneOf(t[4], kAccountMonitors)) {
      Answer(r, t[4], std::string(t[3]), true);
      return true;
    }
    return false;
  }
};

SysRequests::SysRequests(server::Server& server, uint16_t http_port)
    : impl_(std::make_unique<Impl>(Impl{server, http_port})) {
  server.SetSystemRequestHandler(
      [impl = impl_.get()](const server::SystemRequest& r) { return impl->Handle(r); });
}

SysRequests::~SysRequests() {
  impl_->server.SetSystemRequestHandler(nullptr);
}

}  // namespace meridian::monitor
