#include "sidecar/region_failover.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "http/prometheus.h"
#include "sidecar/js_readiness.h"
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
    probes_[r.name]->WatchJetStream(WriteStreamsOf(topology_.topology.get(), r.name));
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
  // Ready failover regions (servers answer, JetStream ready) first, then the others: every
  // region stays listed, so a session is never stranded while any server answers.
  std::vector<std::string> ready, others;
  for (const std::string& r : Order(home)) (RegionReady(r) ? ready : others).push_back(r);
  std::vector<session::FailoverTarget> out;
  // The home region goes first unless it was down and is not back with its JetStream.
  const bool home_first = !home_down_ || ready.empty();
  if (home_first) out.push_back({"", home_pool});
  for (const std::string& r : ready) out.push_back({r, pools_.at(r).get()});
  if (!home_first) out.push_back({"", home_pool});
  for (const std::string& r : others) out.push_back({r, pools_.at(r).get()});
  return out;
}

bool RegionFailover::RegionReady(const std::string& region) const {
  auto it = probes_.find(region);
  return it != probes_.end() && it->second->jetstream_ready();
}

bool RegionFailover::AnyRegionReady(const std::string& home) const {
  for (const std::string& r : Order(home)) {
    if (RegionReady(r)) return true;
  }
  return false;
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
    if (RegionReady(r)) return r;
  }
  for (const std::string& r : Order(home)) {
    auto it = probes_.find(r);
    if (it != probes_.end() && it->second->reachable()) return r;
  }
  return "";
}

bool RegionFailover::Check(const std::string& home, const HomeState& state) {
  home_ = state;
  const std::string& home_error = state.error;
  const std::uint64_t now = loop_.NowMs();
  if (!state.reachable) {
    home_ok_since_ms_ = 0;
    home_js_ok_since_ms_ = 0;
    if (home_unreachable_since_ms_ == 0) home_unreachable_since_ms_ = now;
    if (config_.failover &&
        (state.every_refused ||
         now - home_unreachable_since_ms_ >= static_cast<std::uint64_t>(kHomeDownAfter.count()))) {
      home_down_ = true;
    }
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
    logged_js_.clear();
    return false;
  }
  home_unreachable_since_ms_ = 0;
  if (home_ok_since_ms_ == 0) home_ok_since_ms_ = now;
  if (!home_was_ok_) {
    spdlog::warn(
        "home region \"{}\" answers again: sessions served elsewhere move back once its "
        "JetStream is ready",
        home);
    home_was_ok_ = true;
    logged_serving_.clear();
  }
  const auto settle = static_cast<std::uint64_t>(kSettle.count());
  if (state.jetstream_ready) {
    if (home_js_ok_since_ms_ == 0) home_js_ok_since_ms_ = now;
    if (now - home_js_ok_since_ms_ >= settle) {
      if (home_down_) {
        spdlog::warn(
            "home region \"{}\" is back: its JetStream is ready; sessions served elsewhere "
            "move back",
            home);
        home_down_ = false;
        logged_js_.clear();
      }
      return true;
    }
    return false;
  }
  home_js_ok_since_ms_ = 0;
  if (!config_.failover || !AnyRegionReady(home)) {
    // Nowhere better to serve from: the home region as soon as it answers (as without the
    // JetStream check).
    if (home_down_ && logged_js_ != " home") {
      spdlog::warn(
          "home region \"{}\" answers but its JetStream is not ready ({}), and no failover "
          "region's is either: sessions move back",
          home, state.jetstream_reason);
      logged_js_ = " home";
    }
    return now - home_ok_since_ms_ >= settle;
  }
  const std::string serving = ServingRegion(home);
  if (home_down_ && logged_js_ != serving) {
    spdlog::warn(
        "home region \"{}\" answers but its JetStream is not ready ({}): sessions stay on "
        "region \"{}\"",
        home, state.jetstream_reason, serving);
    logged_js_ = serving;
  }
  return false;
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
  // JetStream readiness (js_readiness.h): the home region's and each failover region's, and
  // why not ready.
  nlohmann::json ready = nlohmann::json::object();
  nlohmann::json why = nlohmann::json::object();
  if (!home.empty()) {
    ready[home] = home_.jetstream_ready;
    if (!home_.jetstream_ready) why[home] = home_.jetstream_reason;
  }
  for (const auto& [name, probe] : probes_) {
    ready[name] = probe->jetstream_ready();
    if (!probe->jetstream_ready()) why[name] = probe->jetstream_reason();
  }
  j["jetstream_ready"] = ready;
  j["jetstream_not_ready"] = why;
  j["home_down"] = home_down();
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

void RegionFailover::Metrics(http::MetricsText& m, const std::string& home,
                             const std::string& served_from, bool degraded,
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
  const char* help =
      "1 while the region's servers answer and its JetStream is ready (every write stream has "
      "a leader)";
  if (!home.empty()) {
    m.Gauge("meridian_sidecar_jetstream_ready", help, home_.jetstream_ready ? 1 : 0,
            {{"region", home}});
  }
  for (const auto& [name, probe] : probes_) {
    m.Gauge("meridian_sidecar_jetstream_ready", help, probe->jetstream_ready() ? 1 : 0,
            {{"region", name}});
  }
  m.Gauge("meridian_sidecar_home_down",
          "1 from the home region going down until it is back with its JetStream ready",
          home_down() ? 1 : 0);
}

}  // namespace meridian::sidecar
