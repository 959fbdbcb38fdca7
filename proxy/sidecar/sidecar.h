// Sidecar: wires one meridian-sidecar process together on one event loop.
//
// Listeners (TCP addresses and an optional Unix socket) accept application connections;
// each becomes a session::ProxyConnection to a server of the region (UpstreamPool). One
// rewrite::Rewriter for the region serves every session; the region comes from the config
// or, when absent, from the first upstream INFO's `cluster`. An UpstreamProbe and the
// monitoring server (/healthz, /varz, /metrics) report health and counters. Loop thread
// only.
//
// Failover: a session whose upstream is lost is restored on another server of the region,
// or (failover = true) of the first region of failover_regions that answers; sessions
// served elsewhere move back once the home region's probe answers again. /healthz then
// says "degraded" with served_from (sidecar_failover.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/loop.h"
#include "net/status.h"
#include "session/counters.h"
#include "sidecar/config.h"
#include "sidecar/topology_file.h"

namespace meridian::sidecar {

struct Health {
  bool ok = false;          // serving (from the home region, or degraded from another)
  bool degraded = false;    // no server of the home region answers: served from another
  std::string served_from;  // the region serving when degraded
  std::string reason;       // why not ok, or why degraded
};

class Sidecar {
 public:
  Sidecar(net::Loop& loop, SidecarConfig config, TopologyFile topology);
  ~Sidecar();
  Sidecar(const Sidecar&) = delete;
  Sidecar& operator=(const Sidecar&) = delete;

  // Binds every listener and the monitoring address, starts the probe. An error names what
  // could not be bound, or why the configured region cannot be served.
  net::Status Start();
  // Stops accepting, closes every connection gracefully (flushing), stops the probe; the
  // loop then has nothing left and Run() returns once the sockets are closed.
  void Stop();

  // Empty until known.
  const std::string& region() const;
  Health health() const;
  const session::SessionCounters& counters() const;
  std::size_t pending_requests() const;
  std::size_t open_connections() const;
  // Bound ports (port 0 in the config picks one): the first TCP listener, and monitoring.
  std::uint16_t port() const;
  std::uint16_t monitoring_port() const;

  // /varz and /metrics bodies.
  std::string VarzJson() const;
  std::string MetricsText() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::sidecar
