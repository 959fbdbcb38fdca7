#include "sidecar/region_failover.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "http/prometheus.h"
#include "sidecar/upstream_probe.h"

namespace meridian::sidecar {

RegionFailover::RegionFailover(net::Loop& loop, const SidecarConfig& config,
                               const TopologyFile& topology, session::SessionCounters& counters,
                               std::shared_ptr<const net::TlsContext> tls,
                               net::ConnectOptions connect)
    : loop_(loop), config_(config), topology_(topology), counters_(counters) {
  if (!config_.failover) return;
  for (const RegionEntry& r : topology_.regions) {
    if (r.name == config_.region || r.servers.empty()) continue;
    std::vector<net::Endpoint> servers;
    for (const config::NatsUrl& u : r.servers) {
      servers.push_back(net::Endpoint::Tcp(u.address.host, u.address.port));
    }
    auto pool = std::make_unique<session::UpstreamPool>(loop_, std::move(servers), connect);
    probes_[r.name] = std::make_unique<UpstreamProbe>(loop_, *pool, tls, config_.credentials,
                                                      std::chrono::milliseconds(2000), nullptr);
    pools_[r.name] = std::move(pool);
  }
}

RegionFailover::~RegionFailover() {
  Stop();
  probes_.clear();  // before the pools they use
}

void RegionFailover::Start() {
  for (auto& [name, probe] : probes_) probe->Start();
}

void RegionFailover::Stop() {
  for (auto& [name, probe] : probes_) probe->Stop();
}

std::vector<std::string> RegionFailover::Order(const std::string& home) const {
  std::vector<std::string> out;
  if (!config_.failover || home.empty()) return out;
  auto add = [&](const std::string& name) {
    if (name != home && pools_.count(name) > 0) out.push_back(name);
  };
  if (!config_.failover_regions.empty()) {
    for (const std::string& r : config_.failover_regions) add(r);
  } else {
    for (const RegionEntry& r : topology_.regions) add(r.name);
  }
  return out;
}

std::vector<session::FailoverTarget> RegionFailover::Targets(
    const std::string& home, session::UpstreamPool* home_pool) const {
  std::vector<session::FailoverTarget> out{{"", home_pool}};
  for (const std::string& r : Order(home)) out.push_back({r, pools_.at(r).get()});
  return out;
}

rewrite::Rewriter* RegionFailover::RewriterFor(const std::string& region, std::string& refusal) {
  auto it = rewriters_.find(region);
  if (it != rewriters_.end()) return it->second.get();
  if (!topology_.topology) {
    refusal =
        "meridian: the topology has no virtual streams to serve from region \"" + region + "\"";
    return nullptr;
  }
  try {
    auto rw = std::make_unique<rewrite::Rewriter>(topology_.topology, region);
    rewrite::Rewriter* raw = rw.get();
    rewriters_.emplace(region, std::move(rw));
    return raw;
  } catch (const rewrite::TopologyError& e) {
    refusal = "meridian: cannot serve this session from region \"" + region + "\": " + e.what();
    return nullptr;
  }
}

std::string RegionFailover::ServingRegion(const std::string& home) const {
  for (const std::string& r : Order(home)) {
    auto it = probes_.find(r);
    if (it != probes_.end() && it->second->reachable()) return r;
  }
  return "";
}

bool RegionFailover::Check(const std::string& home, bool home_reachable,
                           const std::string& home_error) {
  if (!home_reachable) {
    home_ok_since_ms_ = 0;
    const std::string serving = ServingRegion(home);
    if (home_was_ok_ || serving != logged_serving_) {
      if (!config_.failover) {
        spdlog::warn(
            "no server of home region \"{}\" answers ({}); failover to other regions "
            "is off",
            home, home_error);
      } else if (serving.empty()) {
        spdlog::warn(
            "no server of home region \"{}\" answers ({}), and no failover region "
            "does either",
            home, home_error);
      } else {
        spdlog::warn(
            "degraded: no server of home region \"{}\" answers ({}): serving from "
            "region \"{}\"",
            home, home_error, serving);
      }
      logged_serving_ = serving;
    }
    home_was_ok_ = false;
    return false;
  }
  const std::uint64_t now = loop_.NowMs();
  if (home_ok_since_ms_ == 0) home_ok_since_ms_ = now;
  if (!home_was_ok_) {
    spdlog::warn("home region \"{}\" answers again: sessions served elsewhere move back", home);
    home_was_ok_ = true;
    logged_serving_.clear();
  }
  return now - home_ok_since_ms_ >= static_cast<std::uint64_t>(kSettle.count());
}

void RegionFailover::Log(const session::FailoverEvent& e) {
  const auto gap_ms = std::chrono::duration_cast<std::chrono::milliseconds>(e.gap).count();
  auto where = [](const std::string& server, const std::string& region) {
    return server + (region.empty() ? " (home region)" : " (region " + region + ")");
  };
  spdlog::info("connection {}: {} from {} to {} after a gap of {} ms ({})", e.connection,
               e.home_return ? "moved back" : "failed over", where(e.from_server, e.from_region),
               where(e.to_server, e.to_region), gap_ms, e.why);
}

nlohmann::json RegionFailover::Varz(const std::string& home, std::size_t sessions_elsewhere,
                                    std::size_t sessions_moving) const {
  const session::SessionCounters& c = counters_;
  nlohmann::json j;
  j["enabled"] = config_.failover;
  j["regions"] = Order(home);
  nlohmann::json reach = nlohmann::json::object();
  for (const auto& [name, probe] : probes_) reach[name] = probe->reachable();
  j["regions_reachable"] = reach;
  j["failovers"] = c.failovers;
  j["failovers_to_region"] = c.failovers_to_region;
  j["returns_home"] = c.returns_home;
  j["last_gap_ms"] = c.failover_last_gap_ms;
  j["max_gap_ms"] = c.failover_max_gap_ms;
  j["upstream_losses"] = c.upstream_losses;
  j["upstream_stale"] = c.upstream_stale;
  j["buffer_overflows"] = c.failover_buffer_overflows;
  j["refused"] = c.failovers_refused;
  j["abandoned"] = c.failovers_abandoned;
  j["sessions_served_elsewhere"] = sessions_elsewhere;
  j["sessions_failing_over"] = sessions_moving;
  return j;
}

void RegionFailover::Metrics(http::MetricsText& m, const std::string& served_from, bool degraded,
                             std::size_t sessions_elsewhere) const {
  const session::SessionCounters& c = counters_;
  m.Gauge("meridian_sidecar_degraded",
          "1 while no server of the home region answers and another region serves",
          degraded ? 1 : 0, {{"served_from", served_from}});
  m.Counter("meridian_sidecar_failovers_total",
            "Sessions restored on another upstream server after a loss", double(c.failovers));
  m.Counter("meridian_sidecar_failovers_to_region_total",
            "Failovers that went to a server of another region", double(c.failovers_to_region));
  m.Counter("meridian_sidecar_returns_home_total", "Sessions moved back to the home region",
            double(c.returns_home));
  m.Gauge("meridian_sidecar_failover_last_gap_ms",
          "Upstream loss to session restored, latest failover (ms)",
          double(c.failover_last_gap_ms));
  m.Gauge("meridian_sidecar_failover_max_gap_ms", "Longest failover gap so far (ms)",
          double(c.failover_max_gap_ms));
  m.Counter("meridian_sidecar_upstream_losses_total",
            "Upstream connections lost under a connected client", double(c.upstream_losses));
  m.Counter("meridian_sidecar_upstream_stale_total",
            "Upstream connections found stale (PINGs unanswered)", double(c.upstream_stale));
  m.Counter("meridian_sidecar_failover_closed_total", "Clients closed during a failover, by reason",
            double(c.failover_buffer_overflows), {{"reason", "buffer_full"}});
  m.Counter("meridian_sidecar_failover_closed_total", "Clients closed during a failover, by reason",
            double(c.failovers_refused), {{"reason", "nonce_signature"}});
  m.Counter("meridian_sidecar_failover_closed_total", "Clients closed during a failover, by reason",
            double(c.failovers_abandoned), {{"reason", "no_upstream"}});
  m.Gauge("meridian_sidecar_sessions_served_elsewhere", "Open sessions served from another region",
          double(sessions_elsewhere));
}

}  // namespace meridian::sidecar
