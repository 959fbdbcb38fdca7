// The sidecar's configuration file (conf/sidecar.toml documents every key in place).
//
// LoadSidecarConfig reads and validates the whole file, and throws config::ConfigError
// listing every problem as file:line:col: key: sentence (unknown keys included), so a bad
// file fails at start with all its mistakes at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/values.h"
#include "session/handshake.h"

namespace meridian::sidecar {

struct UpstreamTlsConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool enabled = false;  // a [upstream.tls] table is present
};

struct SidecarConfig {
  std::string file;  // where it was read from
  // Where applications connect (TCP); and optionally a Unix socket path.
  std::vector<config::HostPort> listen{config::HostPort{"127.0.0.1", 4222}};
  std::string unix_socket;
  std::string region;         // empty: taken from the upstream INFO `cluster`
  std::string topology_file;  // resolved against the config file's folder
  std::vector<config::NatsUrl> upstream_servers;
  session::UpstreamCredentials credentials;  // empty: clients' own credentials pass through
  UpstreamTlsConfig upstream_tls;
  std::chrono::milliseconds connect_timeout{2000};
  std::optional<config::HostPort> monitoring;  // absent: no monitoring endpoint
  // Limits.
  std::size_t max_pending = 64u << 20;    // bytes queued for one client before it is cut
  std::size_t high_watermark = 1u << 20;  // pending bytes that pause the other side
  std::chrono::milliseconds slow_consumer_after{10000};
  std::chrono::milliseconds request_timeout{10000};
  std::size_t pending_requests = 1024;  // rewritten requests in flight per connection
  std::string log_level = "info";
  // Failover. Inside the region it is always on: a lost upstream server is replaced by
  // another of [upstream] servers with the client kept connected. `failover` switches the
  // move to other regions on or off; `failover_regions` is their order (empty: every other
  // region of the topology file, in file order).
  bool failover = true;
  std::vector<std::string> failover_regions;
  std::size_t failover_buffer = 8u << 20;             // client bytes kept per session during a gap
  std::chrono::milliseconds failover_give_up{60000};  // then the client is closed with -ERR
  std::chrono::milliseconds ping_interval{2000};      // the sidecar's own PINGs per session
  int max_pings_out = 2;  // unanswered PINGs that make an upstream stale
  // [coordinator]: the topology job (proxy/topology/periodic.h). Apply the topology file at
  // start (never deleting), log drift every drift_interval (0 = never), and trim write
  // streams every trim_interval of the topology file when `trim`.
  bool apply_on_start = false;
  std::chrono::milliseconds drift_interval{0};
  bool trim = false;
};

// Checks `failover_regions` against the topology's regions: each must be one of them and
// not `home` (the sidecar's own region). Returns sentences naming the config file and key
// (empty when fine).
std::vector<std::string> CheckFailoverRegions(const SidecarConfig& config,
                                              const std::vector<std::string>& topology_regions,
                                              const std::string& home);

// Throws config::ConfigError (file:line:key sentences) when the file is unreadable, not
// TOML, or has missing, invalid or unknown keys.
SidecarConfig LoadSidecarConfig(const std::string& path);
// The same for text; `name` names it in errors, `base_dir` resolves relative paths.
SidecarConfig ParseSidecarConfig(std::string_view text, const std::string& name,
                                 const std::string& base_dir);

}  // namespace meridian::sidecar
