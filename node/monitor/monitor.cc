#include "monitor/monitor.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/server.h"
#include "server/server.h"

namespace meridian::monitor {
namespace {

using Json = nlohmann::ordered_json;

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RFC 3339 with nanoseconds in UTC, as Go's time.Time marshals ("2026-11-23T02:29:04.123Z").
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

int64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, rss = 0;
  f >> pages >> rss;
  return static_cast<int64_t>(rss) * sysconf(_SC_PAGESIZE);
}

}  // namespace

struct Monitor::Impl {
  net::Loop& loop;
  const server::Server& server;
  std::unique_ptr<http::Server> http;
};

Monitor::Monitor(net::Loop& loop, const server::Server& server)
    : impl_(std::make_unique<Impl>(Impl{loop, server, std::make_unique<http::Server>(loop)})) {
  auto json = [](std::string body) { return http::Response::Json(std::move(body)); };
  impl_->http->Route("GET", "/healthz",
                     [this, json](const http::Request&) { return json(Healthz()); });
  impl_->http->Route("GET", "/varz", [this, json](const http::Request&) { return json(Varz()); });
  impl_->http->Route("GET", "/connz", [this, json](const http::Request& r) {
    auto it = r.query.find("subs");
    bool subs = it != r.query.end() &&
                (it->second == "1" || it->second == "true" || it->second == "detail");
    auto number = [&](const char* key, size_t fallback) {
      auto q = r.query.find(key);
      if (q == r.query.end()) return fallback;
      char* end = nullptr;
      unsigned long v = std::strtoul(q->second.c_str(), &end, 10);
      return end != q->second.c_str() && *end == '\0' ? static_cast<size_t>(v) : fallback;
    };
    return json(Connz(subs, number("offset", 0), number("limit", 1024)));
  });
  impl_->http->Route("GET", "/subsz", [this, json](const http::Request&) { return json(Subsz()); });
  impl_->http->Route("GET", "/jsz", [this, json](const http::Request&) { return json(Jsz()); });
  impl_->http->Route("GET", "/leafz", [this, json](const http::Request& r) {
    auto it = r.query.find("subs");
    bool subs = it != r.query.end() &&
                (it->second == "1" || it->second == "true" || it->second == "detail");
    return json(Leafz(subs));
  });
  impl_->http->Route("GET", "/accountz",
                     [this, json](const http::Request&) { return json(Accountz()); });
}

Monitor::~Monitor() = default;

net::Status Monitor::Listen(const net::Endpoint& where) {
  return impl_->http->Listen(where);
}
uint16_t Monitor::port() const {
  return impl_->http->port();
}

std::string Monitor::Healthz() const {
  return Json{{"status", "ok"}}.dump();
}

std::string Monitor::Varz() const {
  const auto& s = impl_->server;
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
  j["http_port"] = impl_->http->port();
  j["auth_timeout"] = static_cast<double>(o.auth_timeout.count()) / 1000.0;
  j["max_control_line"] = o.max_control_line;
  j["max_payload"] = o.max_payload;
  j["max_pending"] = o.max_pending;
  j["start"] = Rfc3339(s.start_unix_ms());
  j["now"] = Rfc3339(now);
  j["uptime"] = Uptime(now - s.start_unix_ms());
  j["mem"] = RssBytes();
  j["cores"] = std::thread::hardware_concurrency();
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
  if (o.jetstream.enabled) {
    Json stats = {{"memory", 0}, {"storage", 0}, {"accounts", 0}};
    uint64_t api_total = 0, api_errors = 0;
    for (const auto& a : s.JetStream()) {
      stats["memory"] = stats["memory"].get<uint64_t>() + a.memory;
      stats["storage"] = stats["storage"].get<uint64_t>() + a.storage;
      stats["accounts"] = stats["accounts"].get<uint64_t>() + 1;
      api_total += a.api_total;
      api_errors += a.api_errors;
    }
    stats["api"] = {{"total", api_total}, {"errors", api_errors}};
    j["jetstream"] = {
        {"config",
         {{"max_memory", o.jetstream.max_memory},
          {"max_storage", o.jetstream.max_file},
          {"store_dir", o.jetstream.store_dir},
          {"sync_interval", o.jetstream.sync_always
                                ? std::string("always")
                                : std::to_string(o.jetstream.sync_interval.count()) + "ms"},
          {"domain", o.jetstream.domain}}},
        {"stats", stats}};
  }
  return j.dump();
}

std::string Monitor::Jsz() const {
  const auto& s = impl_->server;
  const auto& o = s.options();
  Json j;
  j["server_id"] = s.server_id();
  j["now"] = Rfc3339(UnixMs());
  if (!o.jetstream.enabled) {
    j["disabled"] = true;
    return j.dump();
  }
  j["config"] = {{"max_memory", o.jetstream.max_memory},
                 {"max_storage", o.jetstream.max_file},
                 {"store_dir", o.jetstream.store_dir},
                 {"sync_always", o.jetstream.sync_always},
                 {"domain", o.jetstream.domain}};
  uint64_t memory = 0, storage = 0, streams = 0, consumers = 0, total = 0, errors = 0;
  auto accounts = s.JetStream();
  for (const auto& a : accounts) {
    memory += a.memory;
    storage += a.storage;
    streams += a.streams;
    consumers += a.consumers;
    total += a.api_total;
    errors += a.api_errors;
  }
  j["memory"] = memory;
  j["storage"] = storage;
  j["accounts"] = accounts.size();
  j["streams"] = streams;
  j["consumers"] = consumers;
  j["api"] = {{"total", total}, {"errors", errors}};
  return j.dump();
}

std::string Monitor::Connz(bool with_subs, size_t offset, size_t limit) const {
  const auto& s = impl_->server;
  int64_t now = UnixMs();
  auto conns = s.Connections();
  Json list = Json::array();
  size_t shown = 0;
  for (size_t index = offset; index < conns.size() && shown < limit; ++index, ++shown) {
    const auto& c = conns[index];
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
    if (!c.user.empty()) j["authorized_user"] = c.user;
    j["account"] = c.account;
    if (with_subs && !c.subscriptions.empty()) j["subscriptions_list"] = c.subscriptions;
    list.push_back(std::move(j));
  }
  Json j;
  j["server_id"] = s.server_id();
  j["now"] = Rfc3339(now);
  j["num_connections"] = shown;
  j["total"] = conns.size();
  j["offset"] = offset;
  j["limit"] = limit;
  j["connections"] = std::move(list);
  return j.dump();
}

std::string Monitor::Subsz() const {
  auto info = impl_->server.Subscriptions();
  Json j;
  j["server_id"] = impl_->server.server_id();
  j["now"] = Rfc3339(UnixMs());
  j["num_subscriptions"] = info.subscriptions;
  j["num_cache"] = info.cache;
  j["num_inserts"] = info.inserts;
  j["num_removes"] = info.removes;
  j["num_matches"] = info.matches;
  j["cache_hit_rate"] =
      info.matches == 0 ? 0.0 : static_cast<double>(info.hits) / static_cast<double>(info.matches);
  return j.dump();
}

std::string Monitor::Leafz(bool with_subs) const {
  const auto& s = impl_->server;
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
  j["leafs"] = std::move(list);
  return j.dump();
}

std::string Monitor::Accountz() const {
  Json names = Json::array();
  for (const auto& a : impl_->server.Accounts()) names.push_back(a.name);
  Json j;
  j["server_id"] = impl_->server.server_id();
  j["now"] = Rfc3339(UnixMs());
  j["system_account"] = impl_->server.options().system_account;
  j["accounts"] = std::move(names);
  return j.dump();
}

}  // namespace meridian::monitor
