#include "monitor/monitor.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/server.h"
#include "server/jetstream_glue.h"
#include "server/server.h"
#include "subject/subject.h"

namespace meridian::monitor {
namespace {

using Json = nlohmann::ordered_json;

// Go duration text as nats-server prints uptime ("1h2m3s", "4s").
std::string Uptime(int64_t ms) {
  int64_t s = ms / 1000;
  int64_t d = s / 86400, h = (s % 86400) / 3600, m = (s % 3600) / 60, sec = s % 60;
  std::string out;
  if (d) out += std::to_string(d) + "d";
  if (d || h) out += std::to_string(h) + "h";
  if (d || h || m) out += std::to_string(m) + "m";
  out += std::to_string(sec) + "s";
  return out;
}

// nats-server's JetStreamConfig. Typed as nats-server 2.10+ (which added them) types them, so
// that Go clients decode it: sync_interval in nanoseconds, sync_always a bool; empty values are
// left out (Go's omitempty).
Json JetStreamConfig(const server::JetStreamOptions& js, bool with_store_dir) {
  Json c = {{"max_memory", js.max_memory}, {"max_storage", js.max_file}};
  // As nats-server: the directory the accounts are in, <store_dir>/jetstream.
  if (with_store_dir) c["store_dir"] = server::JetStreamStoreDir(js);
  if (js.sync_always) {
    c["sync_always"] = true;
  } else {
    c["sync_interval"] = static_cast<int64_t>(js.sync_interval.count()) * 1000000;
  }
  if (!js.domain.empty()) c["domain"] = js.domain;
  return c;
}

// nats-server's JetStreamStats over every account with JetStream (nothing is reserved and
// there are no replicated assets on a single node: those are 0).
Json JetStreamStats(const server::Server& s) {
  uint64_t memory = 0, storage = 0, total = 0, errors = 0;
  auto accounts = s.JetStream();
  for (const auto& a : accounts) {
    memory += a.memory;
    storage += a.storage;
    total += a.api_total;
    errors += a.api_errors;
  }
  return {{"memory", memory},
          {"storage", storage},
          {"reserved_memory", 0},
          {"reserved_storage", 0},
          {"accounts", accounts.size()},
          {"ha_assets", 0},
          {"api", {{"total", total}, {"errors", errors}}}};
}

}  // namespace

double CpuPercent(int64_t start_unix_ms) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  double cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  double wall_s = static_cast<double>(UnixMs() - start_unix_ms) / 1000.0;
  if (wall_s <= 0) return 0;
  return static_cast<double>(static_cast<int64_t>(cpu_s / wall_s * 10000.0)) / 100.0;
}

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Rfc3339(int64_t unix_ms) {
  std::time_t secs = unix_ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

int64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, rss = 0;
  f >> pages >> rss;
  return static_cast<int64_t>(rss) * sysconf(_SC_PAGESIZE);
}

struct Monitor::Impl {
  net::Loop& loop;
  const server::Server& server;
  std::unique_ptr<http::Server> http;
};

Monitor::Monitor(net::Loop& loop, const server::Server& server)
    : impl_(std::make_unique<Impl>(Impl{loop, server, std::make_unique<http::Server>(loop)})) {
  auto json = [](std::string body) { return http::Response::Json(std::move(body)); };
  auto flag = [](const http::Request& r, const char* key) {
    auto it = r.query.find(key);
    return it != r.query.end() &&
           (it->second == "1" || it->second == "true" || it->second == "detail");
  };
  auto number = [](const http::Request& r, const char* key, size_t fallback) {
    auto q = r.query.find(key);
    if (q == r.query.end()) return fallback;
    char* end = nullptr;
    unsigned long long v = std::strtoull(q->second.c_str(), &end, 10);
    return end != q->second.c_str() && *end == '\0' ? static_cast<size_t>(v) : fallback;
  };
  auto text = [](const http::Request& r, const char* key) {
    auto q = r.query.find(key);
    return q == r.query.end() ? std::string() : q->second;
  };
  const server::Server* s = &server;
  impl_->http->Route("GET", "/healthz",
                     [json](const http::Request&) { return json(HealthzJson()); });
  impl_->http->Route("GET", "/varz", [this, json](const http::Request&) { return json(Varz()); });
  impl_->http->Route("GET", "/connz", [=](const http::Request& r) {
    ConnzOptions o;
    o.subs = flag(r, "subs");
    o.auth = flag(r, "auth");
    o.offset = number(r, "offset", 0);
    o.limit = number(r, "limit", 1024);
    o.cid = number(r, "cid", 0);
    o.user = text(r, "user");
    o.account = text(r, "acc");
    o.filter_subject = text(r, "filter_subject");
    o.subs_detail = text(r, "subs") == "detail";
    o.sort = text(r, "sort");
    std::string state = text(r, "state");
    o.state = state == "closed" ? 1 : state == "all" || state == "any" ? 2 : 0;
    if (std::string error = ConnzOptionsError(o); !error.empty()) {
      return http::Response::Text(error, 400);
    }
    return json(ConnzJson(*s, o));
  });
  impl_->http->Route("GET", "/subsz", [=](const http::Request& r) {
    SubszOptions o;
    o.subs = flag(r, "subs");
    o.account = text(r, "acc");
    o.offset = number(r, "offset", 0);
    o.limit = number(r, "limit", 1024);
    return json(SubszJson(*s, o));
  });
  impl_->http->Route("GET", "/jsz", [=](const http::Request& r) {
    JszOptions o;
    o.account = text(r, "acc");
    o.streams = flag(r, "streams") || flag(r, "consumers");
    o.config = flag(r, "config");
    o.accounts = flag(r, "accounts") || o.streams;
    o.offset = number(r, "offset", 0);
    o.limit = number(r, "limit", 1024);
    if (o.limit == 0) o.limit = 1024;
    return json(JszJson(*s, o));
  });
  impl_->http->Route("GET", "/accountz",
                     [=](const http::Request&) { return json(AccountzJson(*s)); });
  impl_->http->Route("GET", "/accstatz", [=](const http::Request& r) {
    std::vector<std::string> accounts;
    std::string list = text(r, "accs");
    for (size_t at = 0; at < list.size();) {
      size_t comma = list.find(',', at);
      if (comma == std::string::npos) comma = list.size();
      if (comma > at) accounts.push_back(list.substr(at, comma - at));
      at = comma + 1;
    }
    return json(AccountStatzJson(*s, accounts, flag(r, "unused")));
  });
  impl_->http->Route("GET", "/routez", [=](const http::Request&) { return json(RoutezJson(*s)); });
  impl_->http->Route("GET", "/gatewayz",
                     [=](const http::Request&) { return json(GatewayzJson(*s)); });
  impl_->http->Route("GET", "/leafz",
                     [=](const http::Request& r) { return json(LeafzJson(*s, flag(r, "subs"))); });
}

Monitor::~Monitor() = default;

net::Status Monitor::Listen(const net::Endpoint& where) {
  return impl_->http->Listen(where);
}
uint16_t Monitor::port() const {
  return impl_->http->port();
}

std::string Monitor::Healthz() const {
  return HealthzJson();
}
std::string Monitor::Varz() const {
  return VarzJson(impl_->server, impl_->http->port());
}
std::string Monitor::Connz(bool with_subs, size_t offset, size_t limit) const {
  ConnzOptions o;
  o.subs = with_subs;
  o.offset = offset;
  o.limit = limit;
  return ConnzJson(impl_->server, o);
}
std::string Monitor::Subsz() const {
  return SubszJson(impl_->server, {});
}
std::string Monitor::Accountz() const {
  return AccountzJson(impl_->server);
}
std::string Monitor::Jsz() const {
  return JszJson(impl_->server);
}
std::string Monitor::Leafz(bool with_subs) const {
  return LeafzJson(impl_->server, with_subs);
}

std::string HealthzJson() {
  return Json{{"status", "ok"}}.dump();
}

std::string VarzJson(const server::Server& s, uint16_t http_port) {
  const auto& o = s.options();
  const auto& st = s.stats();
  int64_t now = UnixMs();
  Json j;
  j["server_id"] = s.server_id();
  j["server_name"] = o.server_name.empty() ? s.server_id() : o.server_name;
  j["version"] = server::kAdvertisedVersion;
  j["proto"] = 1;
  j["go"] = server::kAdvertisedGo;
  j["host"] = o.host;
  j["port"] = s.port();
  j["auth_required"] = !o.users.empty() || !o.token.empty();
  j["max_connections"] = o.max_connections;
  j["ping_interval"] = o.ping_interval.count() * 1000000;
  j["ping_max"] = o.ping_max;
  j["http_host"] = o.http_host;
  j["http_port"] = http_port;
  j["http_base_path"] = "";
  j["https_port"] = 0;
  j["auth_timeout"] = static_cast<double>(o.auth_timeout.count()) / 1000.0;
  j["max_control_line"] = o.max_control_line;
  j["max_payload"] = o.max_payload;
  j["max_pending"] = o.max_pending;
  // No routes, gateways, leaf nodes, MQTT or websocket: as nats-server shows them unconfigured.
  for (const char* none : {"cluster", "gateway", "leaf", "mqtt", "websocket"}) {
    j[none] = Json::object();
  }
  if (!o.cluster_name.empty()) j["cluster"]["name"] = o.cluster_name;
  if (o.jetstream.enabled) {
    j["jetstream"] = {{"config", JetStreamConfig(o.jetstream, true)}, {"stats", JetStreamStats(s)}};
  }
  if (o.tls.enabled) {
    j["tls_required"] = true;
    if (o.tls.verify) j["tls_verify"] = true;
  }
  j["tls_timeout"] = static_cast<double>(o.tls.timeout.count()) / 1000.0;
  j["write_deadline"] = static_cast<int64_t>(o.write_deadline.count()) * 1000000;
  j["start"] = Rfc3339(s.start_unix_ms());
  j["now"] = Rfc3339(now);
  j["uptime"] = Uptime(now - s.start_unix_ms());
  j["mem"] = RssBytes();
  j["cores"] = std::thread::hardware_concurrency();
  j["cpu"] = CpuPercent(s.start_unix_ms());
  j["connections"] = s.num_connections();
  j["total_connections"] = st.total_connections;
  j["routes"] = 0;
  j["remotes"] = 0;
  j["leafnodes"] = s.LeafNodes().size();
  j["in_msgs"] = st.in_msgs;
  j["out_msgs"] = st.out_msgs;
  j["in_bytes"] = st.in_bytes;
  j["out_bytes"] = st.out_bytes;
  j["slow_consumers"] = st.slow_consumers;
  j["subscriptions"] = s.Subscriptions().subscriptions;
  j["system_account"] = o.system_account;
  return j.dump();
}

std::string JetStreamStatsJson(const server::Server& s) {
  return JetStreamStats(s).dump();
}

std::string JetStreamConfigJson(const server::Server& s) {
  return JetStreamConfig(s.options().jetstream, false).dump();
}

namespace {
// nats-server's AccountDetail without stream_detail. Account limits are not enforced, i.e.
// unlimited, which nats-server shows as reserved = the largest uint64.
Json AccountDetail(const server::Server& s, const server::JetStreamAccountStats& a,
                   const JszOptions& o) {
  constexpr uint64_t kUnlimited = ~uint64_t{0};
  Json j = {{"name", a.account},
            {"id", a.account},
            {"memory", a.memory},
            {"storage", a.storage},
            {"reserved_memory", kUnlimited},
            {"reserved_storage", kUnlimited},
            {"accounts", 0},
            {"ha_assets", 0},
            {"api", {{"total", a.api_total}, {"errors", a.api_errors}}}};
  if (o.streams) {
    Json streams = Json::parse(s.JetStreamStreamDetails(a.account, o.config), nullptr, false);
    if (streams.is_array() && !streams.empty()) j["stream_detail"] = std::move(streams);
  }
  return j;
}
}  // namespace

std::string AccountDetailJson(const server::Server& s, const std::string& account,
                              const JszOptions& o) {
  for (const auto& a : s.JetStream()) {
    if (a.account == account) return AccountDetail(s, a, o).dump();
  }
  return {};
}

std::string JszJson(const server::Server& s, const JszOptions& opts) {
  const auto& o = s.options();
  Json j;
  j["server_id"] = s.server_id();
  j["now"] = Rfc3339(UnixMs());
  if (!o.jetstream.enabled) {
    j["disabled"] = true;
    return j.dump();
  }
  j["config"] = JetStreamConfig(o.jetstream, true);
  uint64_t memory = 0, storage = 0, streams = 0, consumers = 0, total = 0, errors = 0;
  uint64_t messages = 0;
  auto accounts = s.JetStream();
  for (const auto& a : accounts) {
    memory += a.memory;
    storage += a.storage;
    messages += a.messages;
    streams += a.streams;
    consumers += a.consumers;
    total += a.api_total;
    errors += a.api_errors;
  }
  j["memory"] = memory;
  j["storage"] = storage;
  j["reserved_memory"] = 0;
  j["reserved_storage"] = 0;
  j["accounts"] = accounts.size();
  j["ha_assets"] = 0;
  j["api"] = {{"total", total}, {"errors", errors}};
  j["streams"] = streams;
  j["consumers"] = consumers;
  j["messages"] = messages;
  // A single node: the bytes of its streams are what memory and file storage hold.
  j["bytes"] = memory + storage;
  // account_details, as nats-server: the named account, else all with `accounts` (by name
  // from `offset`, at most `limit`).
  Json details = Json::array();
  std::sort(accounts.begin(), accounts.end(),
            [](const auto& a, const auto& b) { return a.account < b.account; });
  bool named = false;
  for (const auto& a : accounts) named = named || a.account == opts.account;
  size_t index = 0;
  for (const auto& a : accounts) {
    if (named ? a.account != opts.account : !opts.accounts) continue;
    if (!named && (index++ < opts.offset || details.size() >= opts.limit)) continue;
    details.push_back(AccountDetail(s, a, opts));
  }
  if (!details.empty()) j["account_details"] = std::move(details);
  return j.dump();
}

std::string ConnzOptionsError(const ConnzOptions& o) {
  static const char* const kSorts[] = {"",        "cid",       "start",    "subs",       "pending",
                                       "msgs_to", "msgs_from", "bytes_to", "bytes_from", "last",
                                       "idle",    "uptime",    "stop",     "reason"};
  if (std::find(std::begin(kSorts), std::end(kSorts), o.sort) == std::end(kSorts)) {
    return "invalid sorting option: " + o.sort;
  }
  if ((o.sort == "stop" || o.sort == "reason") && o.state != 1) {
    return "sort by " + o.sort + " only valid on closed connections";
  }
  return {};
}

std::string ConnzJson(const server::Server& s, const ConnzOptions& o) {
  int64_t now = UnixMs();
  auto conns = s.Connections();
  if (o.state == 1) conns.clear();  // no closed connections are kept
  // Filters, as nats-server's Connz: a cid alone, else account, user, subject interest.
  std::vector<const server::ConnectionInfo*> picked;
  for (const auto& c : conns) {
    if (o.cid != 0 && c.cid != o.cid) continue;
    if (o.cid == 0) {
      if (!o.account.empty() && c.account != o.account) continue;
      if (!o.user.empty() && c.user != o.user) continue;
      if (!o.account.empty() && !o.filter_subject.empty() && o.filter_subject != ">") {
        bool collides = false;
        for (const auto& sub : c.subscriptions) {
          collides = collides || subject::SubjectsCollide(o.filter_subject, sub);
        }
        if (!collides) continue;
      }
    }
    picked.push_back(&c);
  }
  // Sorted as nats-server sorts (largest first but for cid, start and uptime), ties by cid.
  auto key = [&](const server::ConnectionInfo& c) -> int64_t {
    auto n = [](uint64_t v) { return static_cast<int64_t>(v); };
    if (o.sort == "subs") return -n(c.subscriptions.size());
    if (o.sort == "pending") return -n(c.pending_bytes);
    if (o.sort == "msgs_to") return -n(c.out_msgs);
    if (o.sort == "msgs_from") return -n(c.in_msgs);
    if (o.sort == "bytes_to") return -n(c.out_bytes);
    if (o.sort == "bytes_from") return -n(c.in_bytes);
    if (o.sort == "last") return -c.last_activity_unix_ms;
    if (o.sort == "idle") return -(c.last_activity_unix_ms - c.start_unix_ms);
    if (o.sort == "uptime") return now - c.start_unix_ms;
    return 0;  // cid, start
  };
  std::stable_sort(picked.begin(), picked.end(),
                   [&](const server::ConnectionInfo* a, const server::ConnectionInfo* b) {
                     return key(*a) < key(*b);
                   });
  const size_t limit = o.cid != 0 ? 1 : (o.limit == 0 ? 1024 : o.limit);
  Json list = Json::array();
  size_t shown = 0;
  for (size_t index = o.offset; index < picked.size() && shown < limit; ++index, ++shown) {
    const auto& c = *picked[index];
    Json j;
    j["cid"] = c.cid;
    j["kind"] = "Client";
    j["type"] = "nats";
    j["ip"] = c.ip;
    j["port"] = c.port;
    j["start"] = Rfc3339(c.start_unix_ms);
    j["last_activity"] = Rfc3339(c.last_activity_unix_ms);
    j["uptime"] = Uptime(now - c.start_unix_ms);
    j["idle"] = Uptime(now - c.last_activity_unix_ms);
    j["pending_bytes"] = c.pending_bytes;
    j["in_msgs"] = c.in_msgs;
    j["out_msgs"] = c.out_msgs;
    j["in_bytes"] = c.in_bytes;
    j["out_bytes"] = c.out_bytes;
    j["subscriptions"] = c.subscriptions.size();
    if (!c.name.empty()) j["name"] = c.name;
    if (!c.lang.empty()) j["lang"] = c.lang;
    if (!c.version.empty()) j["version"] = c.version;
    if (o.auth && !c.user.empty()) j["authorized_user"] = c.user;
    if (o.auth && c.account != server::kGlobalAccount) j["account"] = c.account;
    if (o.subs_detail && !c.subscription_details.empty()) {
      Json details = Json::array();
      for (const auto& sub : c.subscription_details) {
        Json d;  // as nats-server's connz detail: no account
        d["subject"] = sub.subject;
        if (!sub.queue.empty()) d["qgroup"] = sub.queue;
        d["sid"] = sub.sid;
        d["msgs"] = sub.msgs;
        d["cid"] = c.cid;
        details.push_back(std::move(d));
      }
      j["subscriptions_list_detail"] = std::move(details);
    } else if (o.subs && !c.subscriptions.empty()) {
      j["subscriptions_list"] = c.subscriptions;
    }
    list.push_back(std::move(j));
  }
  Json j;
  j["server_id"] = s.server_id();
  j["now"] = Rfc3339(now);
  j["num_connections"] = shown;
  j["total"] = picked.size();
  j["offset"] = o.offset;
  j["limit"] = limit;
  j["connections"] = std::move(list);
  return j.dump();
}

std::string SubszJson(const server::Server& s, const SubszOptions& o) {
  const size_t limit = o.limit == 0 ? 1024 : o.limit;
  auto info = o.account.empty() ? s.Subscriptions() : s.Subscriptions(o.account);
  Json j;
  j["server_id"] = s.server_id();
  j["now"] = Rfc3339(UnixMs());
  j["num_subscriptions"] = info.subscriptions;
  j["num_cache"] = info.cache;
  j["num_inserts"] = info.inserts;
  j["num_removes"] = info.removes;
  j["num_matches"] = info.matches;
  j["cache_hit_rate"] =
      info.matches == 0 ? 0.0 : static_cast<double>(info.hits) / static_cast<double>(info.matches);
  Json list = Json::array();
  size_t total = 0;
  if (o.subs) {
    for (const auto& c : s.Connections()) {
      if (!o.account.empty() && c.account != o.account) continue;
      for (const auto& sub : c.subscription_details) {
        if (total++ < o.offset || list.size() >= limit) continue;
        Json d;
        d["account"] = c.account;
        d["subject"] = sub.subject;
        if (!sub.queue.empty()) d["qgroup"] = sub.queue;
        d["sid"] = sub.sid;
        d["msgs"] = sub.msgs;
        d["cid"] = c.cid;
        list.push_back(std::move(d));
      }
    }
  }
  j["total"] = total;
  j["offset"] = o.offset;
  j["limit"] = limit;
  if (!list.empty()) j["subscriptions_list"] = std::move(list);
  return j.dump();
}

std::string LeafzJson(const server::Server& s, bool with_subs) {
  Json j;
  j["server_id"] = s.server_id();
  j["now"] = Rfc3339(UnixMs());
  auto leafs = s.LeafNodes();
  j["leafnodes"] = leafs.size();
  Json list = Json::array();
  for (const auto& l : leafs) {
    Json e;
    e["name"] = l.name;
    e["is_spoke"] = l.solicited;
    e["account"] = l.account;
    e["ip"] = l.ip;
    e["port"] = l.port;
    if (!l.domain.empty()) e["domain"] = l.domain;
    e["in_msgs"] = l.in_msgs;
    e["out_msgs"] = l.out_msgs;
    e["in_bytes"] = l.in_bytes;
    e["out_bytes"] = l.out_bytes;
    e["subscriptions"] = l.subscriptions.size();
    if (with_subs) e["subscriptions_list"] = l.subscriptions;
    list.push_back(std::move(e));
  }
  if (list.empty()) {
    j["leafs"] = nullptr;  // as nats-server shows none
  } else {
    j["leafs"] = std::move(list);
  }
  return j.dump();
}

std::string AccountzJson(const server::Server& s) {
  Json names = Json::array();
  for (const auto& a : s.Accounts()) names.push_back(a.name);
  Json j;
  j["server_id"] = s.server_id();
  j["now"] = Rfc3339(UnixMs());
  j["system_account"] = s.options().system_account;
  j["accounts"] = std::move(names);
  return j.dump();
}

std::string AccountStatzJson(const server::Server& s, const std::vector<std::string>& accounts,
                             bool include_unused, bool* empty) {
  Json list = Json::array();
  for (const auto& a : s.Accounts()) {
    if (!accounts.empty() &&
        std::find(accounts.begin(), accounts.end(), a.name) == accounts.end()) {
      continue;
    }
    if (a.connections == 0 && !include_unused) continue;
    Json j;
    j["acc"] = a.name;
    j["conns"] = a.connections;
    j["leafnodes"] = 0;
    j["total_conns"] = a.connections;
    j["sent"] = {{"msgs", a.out_msgs}, {"bytes", a.out_bytes}};
    j["received"] = {{"msgs", a.in_msgs}, {"bytes", a.in_bytes}};
    j["slow_consumers"] = a.slow_consumers;
    list.push_back(std::move(j));
  }
  if (empty != nullptr) *empty = list.empty();
  Json j;
  j["server_id"] = s.server_id();
  j["now"] = Rfc3339(UnixMs());
  j["account_statz"] = std::move(list);
  return j.dump();
}

std::string RoutezJson(const server::Server& s) {
  Json j;
  j["server_id"] = s.server_id();
  j["now"] = Rfc3339(UnixMs());
  j["num_routes"] = 0;
  j["routes"] = Json::array();
  return j.dump();
}

std::string GatewayzJson(const server::Server& s) {
  Json j;
  j["server_id"] = s.server_id();
  j["now"] = Rfc3339(UnixMs());
  j["outbound_gateways"] = Json::object();
  j["inbound_gateways"] = Json::object();
  return j.dump();
}


}  // namespace meridian::monitor
