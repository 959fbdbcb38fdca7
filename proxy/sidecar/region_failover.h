// RegionFailover: the sidecar's view of the other regions, for serving sessions from one of
// them while no server of the home region answers.
//
// It owns an UpstreamPool and an UpstreamProbe per other region of the topology file (their
// servers come from `[regions.<r>] servers`), and a rewrite::Rewriter per region a session
// was served from (so publishes get that region's token and land in its write stream, and
// reads go to its read stream). The order is the config's failover_regions, else every other
// region in file order; failover = false leaves only the home region.
//
// JetStream readiness: each probe also asks JetStream for its region's write streams
// (js_readiness.h). A region counts as ready when its servers answer and every write stream
// has a leader. Ready failover regions are tried before the others. Once the home region
// was down (the probe found no server accepting, or none answered for kHomeDownAfter), it
// is back only when its JetStream is ready too: until then sessions that need an upstream
// try the ready failover regions first, and sessions served elsewhere stay there. If no
// failover region is ready either, the home region is used as soon as it answers (never
// strand a session). Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "net/listener.h"
#include "net/loop.h"
#include "net/tls.h"
#include "rewrite/rewriter.h"
#include "session/counters.h"
#include "session/proxy_connection.h"
#include "session/upstream_pool.h"
#include "sidecar/config.h"
#include "sidecar/topology_file.h"

namespace meridian::http {
class MetricsText;
}

namespace meridian::sidecar {

class UpstreamProbe;

// What the home region's probe says, every tick.
struct HomeState {
  bool reachable = false;        // PING/PONG answered
  bool every_refused = false;    // the last connect found no server accepting
  bool jetstream_ready = false;  // reachable, and JetStream ready (js_readiness.h)
  std::string error;             // why not reachable
  std::string jetstream_reason;  // why JetStream is not ready
};

class RegionFailover {
 public:
  // `config`, `topology` and `counters` must outlive it.
  RegionFailover(net::Loop& loop, const SidecarConfig& config, const TopologyFile& topology,
                 session::SessionCounters& counters, std::shared_ptr<const net::TlsContext> tls,
                 net::ConnectOptions connect);
  ~RegionFailover();
  RegionFailover(const RegionFailover&) = delete;
  RegionFailover& operator=(const RegionFailover&) = delete;

  // Starts (stops) the probes of the other regions; none when failover is off.
  void Start();
  void Stop();

  // The regions tried after `home`, in order; empty when failover is off or home unknown.
  std::vector<std::string> Order(const std::string& home) const;
  // Where a session may be served from: the home pool (region ""), then Order(home).
  std::vector<session::FailoverTarget> Targets(const std::string& home,
                                               session::UpstreamPool* home_pool) const;
  // The rewriter for a session served from `region`; nullptr and `refusal` set when the
  // topology cannot serve it there (a virtual stream that does not list the region).
  rewrite::Rewriter* RewriterFor(const std::string& region, std::string& refusal);
  // The rewriters made so far by RewriterFor (regions sessions were served from), by region.
  const std::map<std::string, std::unique_ptr<rewrite::Rewriter>>& rewriters() const {
    return rewriters_;
  }
  // Where a session is served from while the home region is down (or back without
  // JetStream): the first region of Order(home) whose JetStream is ready, else the first
  // whose servers answer, or "" (none, or failover off).
  std::string ServingRegion(const std::string& home) const;
  // Some region of Order(home) answers and its JetStream is ready.
  bool AnyRegionReady(const std::string& home) const;
  bool RegionReady(const std::string& region) const;

  // Called every tick with the home probe's state. Logs where the sidecar serves from when
  // that changes; returns true while sessions served elsewhere should move home: the home
  // region has answered for kSettle, with its JetStream ready all that time (or, when no
  // failover region is ready either, just answered).
  bool Check(const std::string& home, const HomeState& state);
  // True from the home region going down until it is back with its JetStream ready (false
  // when failover is off).
  bool home_down() const { return config_.failover && home_down_; }
  const HomeState& home_state() const { return home_; }
  // One log line per restored session.
  void Log(const session::FailoverEvent& e);

  // The /varz "failover" object and the /metrics lines.
  nlohmann::json Varz(const std::string& home, std::size_t sessions_elsewhere,
                      std::size_t sessions_moving) const;
  void Metrics(http::MetricsText& m, const std::string& home, const std::string& served_from,
               bool degraded, std::size_t sessions_elsewhere) const;

  static constexpr std::chrono::milliseconds kSettle{1000};
  // The home probe unreachable this long counts as the home region down even while its
  // servers accept connections (e.g. all stopped). Longer than the probe takes to leave one
  // stale server (PINGs every 2 s, stale after 4.5 s), so an in-region failover never counts.
  static constexpr std::chrono::milliseconds kHomeDownAfter{5000};

 private:
  net::Loop& loop_;
  const SidecarConfig& config_;
  const TopologyFile& topology_;
  session::SessionCounters& counters_;
  std::map<std::string, std::unique_ptr<session::UpstreamPool>> pools_;
  std::map<std::string, std::unique_ptr<UpstreamProbe>> probes_;
  std::map<std::string, std::unique_ptr<rewrite::Rewriter>> rewriters_;
  std::uint64_t home_ok_since_ms_ = 0;
  std::uint64_t home_unreachable_since_ms_ = 0;
  std::uint64_t home_js_ok_since_ms_ = 0;
  bool home_was_ok_ = true;
  bool home_down_ = false;
  HomeState home_;
  std::string logged_serving_;  // what was last logged as serving while home is down
  std::string logged_js_;       // the JetStream reason last logged while home is back
};

}  // namespace meridian::sidecar
