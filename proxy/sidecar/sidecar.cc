#include "sidecar/sidecar.h"

#include <spdlog/spdlog.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "http/prometheus.h"
#include "http/server.h"
#include "net/endpoint.h"
#include "net/listener.h"
#include "net/tls.h"
#include "rewrite/rewriter.h"
#include "session/proxy_connection.h"
#include "session/upstream_pool.h"
#include "sidecar/js_readiness.h"
#include "sidecar/region_failover.h"
#include "sidecar/upstream_probe.h"

namespace meridian::sidecar {
namespace {

std::vector<net::Endpoint> Endpoints(const std::vector<config::NatsUrl>& urls) {
  std::vector<net::Endpoint> out;
  for (const config::NatsUrl& u : urls)
    out.push_back(net::Endpoint::Tcp(u.address.host, u.address.port));
  return out;
}

// Gives the heap's free memory back to the system. glibc keeps what closed connections
// freed (their sessions, write buffers, pending tables) inside the heap, so RSS would stay at
// its peak after clients leave.
void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

std::string HostOf(const std::string& address) {
  // "127.0.0.1:4222", "[::1]:4222" -> the address part
  std::size_t colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

using Json = nlohmann::json;

void Add(rewrite::RewriteStats& to, const rewrite::RewriteStats& r) {
  to.publishes_rewritten += r.publishes_rewritten;
  to.publishes_refused += r.publishes_refused;
  to.api_forwarded += r.api_forwarded;
  to.api_answered += r.api_answered;
  to.api_fanouts += r.api_fanouts;
  to.acks_rewritten += r.acks_rewritten;
  to.deliveries_rewritten += r.deliveries_rewritten;
  to.replies_rewritten += r.replies_rewritten;
  to.replies_unparseable += r.replies_unparseable;
}

void Add(rewrite::SplitRegistryStats& to, const rewrite::SplitRegistryStats& r) {
  to.refreshes += r.refreshes;
  to.refreshes_completed += r.refreshes_completed;
  to.refreshes_abandoned += r.refreshes_abandoned;
  to.refreshes_refused += r.refreshes_refused;
  to.hits += r.hits;
  to.misses += r.misses;
  to.evicted += r.evicted;
  to.list_refused += r.list_refused;
}

Json RegistryJson(std::size_t entries, const rewrite::SplitRegistryStats& rs) {
  return {{"entries", entries},
          {"refreshes", rs.refreshes},
          {"refreshes_completed", rs.refreshes_completed},
          {"refreshes_abandoned", rs.refreshes_abandoned},
          {"refreshes_refused", rs.refreshes_refused},
          {"list_refused", rs.list_refused},
          {"hits", rs.hits},
          {"misses", rs.misses},
          {"evicted", rs.evicted}};
}

}  // namespace

struct Sidecar::Impl {
  net::Loop& loop;
  SidecarConfig config;
  TopologyFile topology;
  session::SessionCounters counters;
  std::string region;
  std::string region_error;  // why the region cannot be served, if it cannot
  std::unique_ptr<rewrite::Rewriter> rewriter;
  std::shared_ptr<const net::TlsContext> upstream_tls;
  std::unique_ptr<session::UpstreamPool> pool;
  std::unique_ptr<UpstreamProbe> probe;
  std::unique_ptr<RegionFailover> failover;  // pools, probes, rewriters of other regions
  session::ProxyEnvironment env;
  std::vector<std::unique_ptr<net::Listener>> listeners;
  std::unique_ptr<http::Server> monitoring;
  std::unordered_map<std::uint64_t, std::shared_ptr<session::ProxyConnection>> connections;
  std::uint64_t next_id = 1;
  net::Timer tick;
  bool stopping = false;
  // Connections closed since the heap was last trimmed, and when that was.
  std::size_t closed_since_trim = 0;
  std::chrono::steady_clock::time_point last_trim{};

  Impl(net::Loop& l, SidecarConfig c, TopologyFile t)
      : loop(l), config(std::move(c)), topology(std::move(t)) {}

  // Makes the rewriter for `name`; false (region_error set) when the topology cannot serve it.
  bool SetRegion(const std::string& name, const char* source) {
    if (!region.empty()) return region_error.empty();
    region = name;
    try {
      rewriter = std::make_unique<rewrite::Rewriter>(topology.topology, name);
      spdlog::info("region is \"{}\" ({})", name, source);
    } catch (const rewrite::TopologyError& e) {
      region_error = "region \"" + name + "\" (" + source + ") cannot be served: " + e.what();
      spdlog::error("{}", region_error);
      return false;
    }
    if (topology.FindRegion(name) == nullptr) {
      spdlog::warn("region \"{}\" has no [regions.{}] table in {}", name, name,
                   config.topology_file);
    }
    WatchHomeJetStream();
    return true;
  }

  // The rewriters sessions were served with: the home region's, then any failover region's.
  std::vector<std::pair<std::string, const rewrite::Rewriter*>> Rewriters() const {
    std::vector<std::pair<std::string, const rewrite::Rewriter*>> out;
    if (rewriter) out.emplace_back(region, rewriter.get());
    if (failover) {
      for (const auto& [name, rw] : failover->rewriters()) out.emplace_back(name, rw.get());
    }
    return out;
  }

  // The home probe asks JetStream about the region's write streams once the region is known.
  void WatchHomeJetStream() {
    if (probe && !region.empty() && region_error.empty() && !probe->jetstream_watched()) {
      probe->WatchJetStream(WriteStreamsOf(topology.topology.get(), region));
    }
  }

  rewrite::Rewriter* Resolve(const session::UpstreamInfo& info, std::string& refusal) {
    if (region.empty()) {
      if (info.cluster.empty()) {
        refusal =
            "meridian: the sidecar does not know its region: the upstream server is not in a "
            "named cluster; set region in the sidecar config";
        return nullptr;
      }
      SetRegion(info.cluster, "from the upstream INFO cluster");
    }
    if (!region_error.empty()) {
      refusal = "meridian: " + region_error;
      return nullptr;
    }
    return rewriter.get();
  }

  void CheckHome() {
    if (!failover || region.empty()) return;
    HomeState home;
    if (probe) {
      home.reachable = probe->reachable();
      home.every_refused = probe->every_server_refused();
      home.jetstream_ready = probe->jetstream_ready();
      home.error = probe->last_error();
      home.jetstream_reason = probe->jetstream_reason();
    }
    const bool move = failover->Check(region, home);
    if (!move) return;
    for (auto& [id, conn] : connections) conn->MoveHome();
  }

  void Accept(net::ConnectionPtr client, const std::string& listen_host, int listen_port) {
    if (stopping) {
      client->Abort();
      return;
    }
    session::InfoAdjustment info;
    info.host = listen_host;
    info.port = listen_port;
    info.credentials_supplied = !config.credentials.empty();
    if (client->peer_address().rfind("unix:", 0) != 0)
      info.client_ip = HostOf(client->peer_address());
    const std::uint64_t id = next_id++;
    auto conn = session::ProxyConnection::Start(env, std::move(client), id, std::move(info),
                                                [this](std::uint64_t done) {
                                                  // Erased later: we may be inside its call.
                                                  loop.Post([this, done] {
                                                    connections.erase(done);
                                                    ++closed_since_trim;
                                                  });
                                                });
    connections.emplace(id, std::move(conn));
  }
};

Sidecar::Sidecar(net::Loop& loop, SidecarConfig config, TopologyFile topology)
    : impl_(std::make_unique<Impl>(loop, std::move(config), std::move(topology))) {}

Sidecar::~Sidecar() {
  impl_->tick.Cancel();
  for (auto& [id, conn] : impl_->connections) conn->Shutdown();
  impl_->connections.clear();
}

net::Status Sidecar::Start() {
  Impl& s = *impl_;
  const SidecarConfig& c = s.config;
  if (!c.region.empty() && !s.SetRegion(c.region, "from the config")) {
    return net::Status::Error(s.region_error);
  }
  if (c.upstream_tls.enabled) {
    net::TlsConfig tls;
    tls.ca_file = c.upstream_tls.ca_file;
    tls.cert_file = c.upstream_tls.cert_file;
    tls.key_file = c.upstream_tls.key_file;
    auto ctx = net::TlsContext::Create(net::TlsContext::Role::kClient, tls);
    if (!ctx.ok()) return ctx.status();
    s.upstream_tls = ctx.value();
  }
  net::ConnectOptions connect;
  connect.timeout = c.connect_timeout;
  connect.connection.max_pending_output = c.max_pending;
  connect.connection.high_watermark = c.high_watermark;
  connect.connection.low_watermark = c.high_watermark / 4;
  s.pool = std::make_unique<session::UpstreamPool>(s.loop, Endpoints(c.upstream_servers), connect);

  s.env.loop = &s.loop;
  s.env.pool = s.pool.get();
  s.env.upstream_tls = s.upstream_tls;
  s.env.session.credentials = c.credentials;
  s.env.session.pending_requests = c.pending_requests;
  s.env.session.request_timeout = c.request_timeout;
  s.env.counters = &s.counters;
  s.env.slow_consumer_after = c.slow_consumer_after;
  s.env.resolve = [&s](const session::UpstreamInfo& info, std::string& refusal) {
    return s.Resolve(info, refusal);
  };
  s.failover = std::make_unique<RegionFailover>(s.loop, s.config, s.topology, s.counters,
                                                s.upstream_tls, connect);
  s.env.targets = [&s] { return s.failover->Targets(s.region, s.pool.get()); };
  s.env.resolve_region = [&s](const std::string& name, const session::UpstreamInfo&,
                              std::string& refusal) {
    return s.failover->RewriterFor(name, refusal);
  };
  s.env.on_failover = [&s](const session::FailoverEvent& e) { s.failover->Log(e); };
  s.env.session.failover_buffer = c.failover_buffer;
  s.env.failover.ping_interval = c.ping_interval;
  s.env.failover.max_pings_out = c.max_pings_out;
  s.env.failover.give_up_after = c.failover_give_up;
  s.env.failover.restore_timeout = std::max(c.connect_timeout * 2, std::chrono::milliseconds(1000));
  s.env.log = [](const char* level, const std::string& line) {
    if (std::string_view(level) == "warn") {
      spdlog::warn("{}", line);
    } else {
      spdlog::debug("{}", line);
    }
  };

  net::ConnectionOptions client_options;
  client_options.max_pending_output = c.max_pending;
  client_options.high_watermark = c.high_watermark;
  client_options.low_watermark = c.high_watermark / 4;
  for (const config::HostPort& hp : c.listen) {
    auto where = net::Endpoint::Tcp(hp.host, hp.port);
    Impl* impl = &s;
    auto listener = net::Listener::Listen(
        s.loop, where,
        [impl, host = hp.host, index = s.listeners.size()](net::ConnectionPtr conn) {
          impl->Accept(std::move(conn), host, impl->listeners[index]->port());
        },
        client_options);
    if (!listener.ok()) {
      return net::Status::Error("cannot listen on " + hp.ToString() + ": " + listener.message());
    }
    spdlog::info("listening for applications on {}", listener.value()->endpoint().ToString());
    s.listeners.push_back(std::move(listener.value()));
  }
  if (!c.unix_socket.empty()) {
    Impl* impl = &s;
    auto listener = net::Listener::Listen(
        s.loop, net::Endpoint::Unix(c.unix_socket),
        [impl](net::ConnectionPtr conn) {
          const bool has_tcp = !impl->config.listen.empty();
          impl->Accept(std::move(conn), has_tcp ? impl->config.listen[0].host : "127.0.0.1",
                       has_tcp ? impl->listeners[0]->port() : 4222);
        },
        client_options);
    if (!listener.ok()) {
      return net::Status::Error("cannot listen on unix socket " + c.unix_socket + ": " +
                                listener.message());
    }
    spdlog::info("listening for applications on unix:{}", c.unix_socket);
    s.listeners.push_back(std::move(listener.value()));
  }

  s.probe = std::make_unique<UpstreamProbe>(
      s.loop, *s.pool, s.upstream_tls, c.credentials, std::chrono::milliseconds(2000),
      [&s](const session::UpstreamInfo& info) {
        if (s.region.empty() && !info.cluster.empty()) {
          s.SetRegion(info.cluster, "from the upstream INFO cluster");
        }
      });
  s.WatchHomeJetStream();
  s.probe->Start();
  s.failover->Start();

  if (c.monitoring) {
    s.monitoring = std::make_unique<http::Server>(s.loop);
    Sidecar* self = this;
    s.monitoring->Route("GET", "/healthz", [self](const http::Request&) {
      Health h = self->health();
      nlohmann::json j;
      j["status"] = !h.ok ? "unavailable" : h.degraded ? "degraded" : "ok";
      j["region"] = self->region();
      if (h.degraded) j["served_from"] = h.served_from;
      if (!h.ok || h.degraded) j["reason"] = h.reason;
      return http::Response::Json(j.dump(), h.ok ? 200 : 503);
    });
    s.monitoring->Route("GET", "/varz", [self](const http::Request&) {
      return http::Response::Json(self->VarzJson());
    });
    s.monitoring->Route("GET", "/metrics", [self](const http::Request&) {
      http::Response r = http::Response::Text(self->MetricsText());
      r.content_type = http::kPrometheusContentType;
      return r;
    });
    net::Status st =
        s.monitoring->Listen(net::Endpoint::Tcp(c.monitoring->host, c.monitoring->port));
    if (!st.ok()) {
      return net::Status::Error("cannot serve monitoring on " + c.monitoring->ToString() + ": " +
                                st.message());
    }
    spdlog::info("monitoring on http://{}", s.monitoring->endpoint().ToString());
  }

  s.tick = s.loop.Every(std::chrono::milliseconds(250), [&s] {
    const auto now = std::chrono::steady_clock::now();
    for (auto& [id, conn] : s.connections) conn->Tick(now);
    s.CheckHome();
    // At most once a second, and only after connections went away.
    if (s.closed_since_trim > 0 && now - s.last_trim >= std::chrono::seconds(1)) {
      s.closed_since_trim = 0;
      s.last_trim = now;
      ReleaseFreeMemory();
    }
  });
  return net::Status::Ok();
}

void Sidecar::Stop() {
  Impl& s = *impl_;
  if (s.stopping) return;
  s.stopping = true;
  s.listeners.clear();
  s.tick.Cancel();
  if (s.probe) s.probe->Stop();
  if (s.failover) s.failover->Stop();
  std::vector<std::shared_ptr<session::ProxyConnection>> open;
  for (auto& [id, conn] : s.connections) open.push_back(conn);
  for (auto& conn : open) conn->Shutdown();
  s.monitoring.reset();
}

const std::string& Sidecar::region() const {
  return impl_->region;
}

Health Sidecar::health() const {
  const Impl& s = *impl_;
  if (s.stopping) return {false, false, "", "the sidecar is stopping"};
  if (s.region.empty()) {
    return {false, false, "",
            "region unknown: not configured, and no upstream INFO with a cluster name seen yet"};
  }
  if (!s.region_error.empty()) return {false, false, "", s.region_error};
  if (s.probe && s.probe->reachable()) {
    std::size_t away = 0;  // sessions served from another region
    for (const auto& [id, conn] : s.connections) {
      if (!conn->serving_region().empty()) ++away;
    }
    if (!s.failover || (!s.failover->home_down() && away == 0)) return {true, false, "", ""};
    // Back from an outage, but not yet with its JetStream ready: sessions stay elsewhere.
    std::string why = "home region \"" + s.region + "\" reachable, ";
    why += s.probe->jetstream_ready() ? "JetStream ready: sessions move back in a moment"
                                      : "JetStream not ready: " + s.probe->jetstream_reason();
    if (s.failover->AnyRegionReady(s.region) || away > 0) {
      const std::string elsewhere = s.failover->ServingRegion(s.region);
      if (!elsewhere.empty()) {
        return {true, true, elsewhere, why + "; served from region \"" + elsewhere + "\""};
      }
    }
    return {true, true, s.region,
            why + "; no other region's JetStream is ready: served from the home region"};
  }
  const std::string why = "no upstream server of region \"" + s.region +
                          "\" is reachable: " + (s.probe ? s.probe->last_error() : "");
  const std::string elsewhere = s.failover ? s.failover->ServingRegion(s.region) : "";
  if (!elsewhere.empty()) {
    return {true, true, elsewhere, why + "; served from region \"" + elsewhere + "\""};
  }
  return {false, false, "", why};
}

const session::SessionCounters& Sidecar::counters() const {
  return impl_->counters;
}

std::size_t Sidecar::pending_requests() const {
  std::size_t n = 0;
  for (const auto& [id, conn] : impl_->connections) n += conn->session().pending_requests();
  return n;
}

std::size_t Sidecar::open_connections() const {
  return impl_->counters.connections_current;
}

std::uint16_t Sidecar::port() const {
  return impl_->listeners.empty() ? 0 : impl_->listeners[0]->port();
}

std::uint16_t Sidecar::monitoring_port() const {
  return impl_->monitoring ? impl_->monitoring->port() : 0;
}

std::string Sidecar::VarzJson() const {
  const Impl& s = *impl_;
  const session::SessionCounters& c = s.counters;
  nlohmann::json j;
  j["region"] = s.region;
  j["upstream"] = s.probe ? s.probe->server() : "";
  j["upstream_reachable"] = s.probe && s.probe->reachable();
  j["connections"] = c.connections_current;
  j["total_connections"] = c.connections_total;
  j["in_msgs"] = c.msgs_in;
  j["in_bytes"] = c.bytes_in;
  j["out_msgs"] = c.msgs_out;
  j["out_bytes"] = c.bytes_out;
  j["forwarded"] = c.forwarded;
  j["rewritten"] = c.rewritten;
  j["refusals"] = c.refusals;
  j["local_answers"] = c.local_answers;
  j["answers_undelivered"] = c.answers_undelivered;
  j["unparseable_replies"] = c.unparseable_replies;
  j["fanouts"] = c.fanouts;
  j["fanouts_unanswered"] = c.fanouts_unanswered;
  j["pending_requests"] = pending_requests();
  j["pending_full"] = c.pending_full;
  j["requests_expired"] = c.requests_expired;
  j["client_protocol_errors"] = c.client_protocol_errors;
  j["upstream_protocol_errors"] = c.upstream_protocol_errors;
  j["upstream_connect_failures"] = c.upstream_connect_failures;
  j["slow_consumers"] = c.slow_consumers;
  if (s.failover) {
    Health h = health();
    std::size_t elsewhere = 0, moving = 0;
    for (const auto& [id, conn] : s.connections) {
      if (!conn->serving_region().empty()) ++elsewhere;
      if (conn->failing_over()) ++moving;
    }
    j["status"] = !h.ok ? "unavailable" : h.degraded ? "degraded" : "ok";
    j["served_from"] = h.degraded ? h.served_from : s.region;
    j["failover"] = s.failover->Varz(s.region, elsewhere, moving);
  }
  const auto rewriters = s.Rewriters();
  if (!rewriters.empty()) {
    // Totals over every region sessions were served from (home, and failover regions), and
    // the split registry of each region on its own.
    rewrite::RewriteStats r;
    rewrite::SplitRegistryStats rs;
    std::size_t entries = 0;
    Json by_region = Json::object();
    for (const auto& [name, rw] : rewriters) {
      Add(r, rw->stats());
      Add(rs, rw->split_registry().stats());
      entries += rw->split_registry().size();
      by_region[name] = RegistryJson(rw->split_registry().size(), rw->split_registry().stats());
    }
    j["rewrite"] = {{"publishes_rewritten", r.publishes_rewritten},
                    {"publishes_refused", r.publishes_refused},
                    {"api_forwarded", r.api_forwarded},
                    {"api_answered", r.api_answered},
                    {"api_fanouts", r.api_fanouts},
                    {"acks_rewritten", r.acks_rewritten},
                    {"deliveries_rewritten", r.deliveries_rewritten},
                    {"replies_rewritten", r.replies_rewritten},
                    {"replies_unparseable", r.replies_unparseable}};
    j["split_registry"] = RegistryJson(entries, rs);
    j["split_registry"]["regions"] = std::move(by_region);
  }
  return j.dump();
}

std::string Sidecar::MetricsText() const {
  const session::SessionCounters& c = impl_->counters;
  http::MetricsText m;
  const http::MetricsText::Labels region = {{"region", impl_->region}};
  m.Gauge("meridian_sidecar_up", "1 when the upstream is reachable and the region known",
          health().ok ? 1 : 0, region);
  m.Gauge("meridian_sidecar_connections", "Client connections open now",
          double(c.connections_current));
  m.Counter("meridian_sidecar_connections_total", "Client connections accepted",
            double(c.connections_total));
  m.Counter("meridian_sidecar_in_msgs_total", "PUB/HPUB from clients", double(c.msgs_in));
  m.Counter("meridian_sidecar_in_bytes_total", "Payload bytes from clients", double(c.bytes_in));
  m.Counter("meridian_sidecar_out_msgs_total", "MSG/HMSG to clients", double(c.msgs_out));
  m.Counter("meridian_sidecar_out_bytes_total", "Payload bytes to clients", double(c.bytes_out));
  m.Counter("meridian_sidecar_forwarded_total", "Messages passed on byte-for-byte",
            double(c.forwarded));
  m.Counter("meridian_sidecar_rewritten_total", "Messages passed on rewritten",
            double(c.rewritten));
  m.Counter("meridian_sidecar_refusals_total", "Publishes and requests refused by the sidecar",
            double(c.refusals));
  m.Counter("meridian_sidecar_unparseable_replies_total",
            "Replies forwarded unchanged because they were not as expected",
            double(c.unparseable_replies));
  m.Counter("meridian_sidecar_fanouts_total", "Last-by-subject gets merged across regions",
            double(c.fanouts));
  m.Gauge("meridian_sidecar_pending_requests", "Rewritten requests awaiting their reply",
          double(pending_requests()));
  m.Counter("meridian_sidecar_requests_expired_total", "Requests whose reply never came",
            double(c.requests_expired));
  m.Counter("meridian_sidecar_slow_consumers_total", "Clients closed as slow consumers",
            double(c.slow_consumers));
  m.Counter("meridian_sidecar_protocol_errors_total", "Connections closed for protocol errors",
            double(c.client_protocol_errors), {{"side", "client"}});
  m.Counter("meridian_sidecar_protocol_errors_total", "Connections closed for protocol errors",
            double(c.upstream_protocol_errors), {{"side", "upstream"}});
  // One series per region sessions were served from (the home region, failover regions).
  for (const auto& [name, rw] : impl_->Rewriters()) {
    const rewrite::SplitRegistryStats& rs = rw->split_registry().stats();
    const http::MetricsText::Labels served = {{"region", name}};
    m.Counter("meridian_sidecar_split_registry_refreshes_total",
              "Registry refreshes (CONSUMER.LIST of the read streams) started",
              double(rs.refreshes), served);
    m.Counter("meridian_sidecar_split_registry_list_refused_total",
              "CONSUMER.LIST requests of registry refreshes refused (permissions or error reply)",
              double(rs.list_refused), served);
  }
  if (impl_->failover) {
    Health h = health();
    std::size_t elsewhere = 0;
    for (const auto& [id, conn] : impl_->connections) {
      if (!conn->serving_region().empty()) ++elsewhere;
    }
    impl_->failover->Metrics(m, impl_->region, h.degraded ? h.served_from : impl_->region,
                             h.degraded, elsewhere);
  }
  return m.Take();
}

}  // namespace meridian::sidecar
