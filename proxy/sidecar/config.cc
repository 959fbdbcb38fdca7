#include "sidecar/config.h"

#include <filesystem>
#include <utility>

#include "config/reader.h"

namespace meridian::sidecar {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || base_dir.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

std::chrono::milliseconds Millis(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

bool IsRegionToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c == '.' || c == '*' || c == '>' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      return false;
    }
  }
  return true;
}

SidecarConfig Fill(config::Document& doc, const std::string& base_dir) {
  SidecarConfig c;
  c.file = doc.name();
  config::Table root = doc.Root();
  c.region = root.Optional<std::string>("region", "");
  if (!c.region.empty() && !IsRegionToken(c.region)) {
    root.Fail("region", "region \"" + c.region +
                            "\" is not a valid subject token: use letters, digits, '-' or '_'");
  }
  c.topology_file = Resolve(base_dir, root.Required<std::string>("topology"));
  c.log_level = root.Optional<std::string>("log_level", "info");
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    root.Fail("log_level", "log_level \"" + c.log_level +
                               "\" is not one of \"debug\", \"info\", \"warn\", \"error\"");
  }

  c.failover = root.Optional<bool>("failover", true);
  c.failover_regions = root.Optional<std::vector<std::string>>("failover_regions", {});
  for (std::size_t i = 0; i < c.failover_regions.size(); ++i) {
    const std::string& r = c.failover_regions[i];
    if (!IsRegionToken(r)) {
      root.Fail("failover_regions", "failover region \"" + r +
                                        "\" is not a valid subject token: use letters, "
                                        "digits, '-' or '_'");
    } else if (!c.region.empty() && r == c.region) {
      root.Fail("failover_regions", "failover_regions names \"" + r +
                                        "\", the sidecar's own region: list the other "
                                        "regions, nearest first");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (c.failover_regions[j] == r) {
        root.Fail("failover_regions",
                  "failover_regions names \"" + r + "\" twice: list each region once");
      }
    }
  }
  if (!c.failover && root.Has("failover_regions") && !c.failover_regions.empty()) {
    root.Fail("failover_regions",
              "failover_regions is set but failover = false: remove one of them");
  }

  if (auto listen = root.GetTable("listen")) {
    c.listen = listen->Optional<std::vector<config::HostPort>>("addresses", c.listen);
    c.unix_socket = Resolve(base_dir, listen->Optional<std::string>("unix_socket", ""));
    if (c.listen.empty() && c.unix_socket.empty()) {
      listen->Fail("addresses",
                   "listen has neither addresses nor unix_socket: applications could not "
                   "connect; give at least one");
    }
  }

  config::Table upstream = root.RequiredTable("upstream");
  c.upstream_servers = upstream.Required<std::vector<config::NatsUrl>>("servers");
  if (upstream.Has("servers") && c.upstream_servers.empty()) {
    upstream.Fail("servers", "upstream.servers is empty: list the NATS servers of this region");
  }
  c.credentials.user = upstream.Optional<std::string>("user", "");
  c.credentials.password = upstream.Optional<std::string>("password", "");
  c.credentials.token = upstream.Optional<std::string>("token", "");
  if (!c.credentials.token.empty() && !c.credentials.user.empty()) {
    upstream.Fail("token", "give either user/password or token, not both");
  }
  if (c.credentials.user.empty() && !c.credentials.password.empty()) {
    upstream.Fail("password", "password without user: add upstream.user");
  }
  c.connect_timeout = Millis(
      upstream.Optional<std::chrono::nanoseconds>("connect_timeout", std::chrono::seconds(2)));
  c.ping_interval = Millis(upstream.Optional<std::chrono::nanoseconds>(
      "ping_interval", std::chrono::milliseconds(c.ping_interval)));
  if (c.ping_interval.count() < 10) {
    upstream.Fail("ping_interval", "ping_interval must be at least 10ms (default \"2s\")");
  }
  std::int64_t pings = upstream.Optional<std::int64_t>("max_pings_out", c.max_pings_out);
  if (pings < 1 || pings > 100) {
    upstream.Fail("max_pings_out", "max_pings_out must be between 1 and 100 (default 2)");
  } else {
    c.max_pings_out = static_cast<int>(pings);
  }
  if (auto tls = upstream.GetTable("tls")) {
    c.upstream_tls.enabled = true;
    c.upstream_tls.ca_file = Resolve(base_dir, tls->Optional<std::string>("ca_file", ""));
    c.upstream_tls.cert_file = Resolve(base_dir, tls->Optional<std::string>("cert_file", ""));
    c.upstream_tls.key_file = Resolve(base_dir, tls->Optional<std::string>("key_file", ""));
    if (c.upstream_tls.cert_file.empty() != c.upstream_tls.key_file.empty()) {
      tls->Fail(c.upstream_tls.cert_file.empty() ? "cert_file" : "key_file",
                "cert_file and key_file go together: give both or neither");
    }
  }

  if (auto mon = root.GetTable("monitoring")) {
    c.monitoring = mon->Required<config::HostPort>("address");
  }

  if (auto co = root.GetTable("coordinator")) {
    c.apply_on_start = co->Optional<bool>("apply_on_start", false);
    c.drift_interval =
        Millis(co->Optional<std::chrono::nanoseconds>("drift_interval", c.drift_interval));
    c.trim = co->Optional<bool>("trim", false);
  }

  if (auto limits = root.GetTable("limits")) {
    c.max_pending = limits->Optional<config::ByteSize>("max_pending", {c.max_pending}).bytes;
    c.high_watermark =
        limits->Optional<config::ByteSize>("high_watermark", {c.high_watermark}).bytes;
    if (c.high_watermark == 0 || c.high_watermark >= c.max_pending) {
      limits->Fail("high_watermark", "high_watermark must be above 0 and below max_pending (" +
                                         std::to_string(c.max_pending) + " bytes)");
    }
    c.slow_consumer_after = Millis(
        limits->Optional<std::chrono::nanoseconds>("slow_consumer_after", c.slow_consumer_after));
    c.request_timeout =
        Millis(limits->Optional<std::chrono::nanoseconds>("request_timeout", c.request_timeout));
    if (c.request_timeout.count() <= 0) {
      limits->Fail("request_timeout", "request_timeout must be at least 1ms");
    }
    c.failover_buffer =
        limits->Optional<config::ByteSize>("failover_buffer", {c.failover_buffer}).bytes;
    if (c.failover_buffer < 1024) {
      limits->Fail("failover_buffer",
                   "failover_buffer must be at least 1KiB (default \"8MiB\"): a client "
                   "publishing during a failover needs room");
    }
    c.failover_give_up =
        Millis(limits->Optional<std::chrono::nanoseconds>("failover_give_up", c.failover_give_up));
    if (c.failover_give_up.count() < 100) {
      limits->Fail("failover_give_up", "failover_give_up must be at least 100ms (default \"60s\")");
    }
    std::int64_t pending =
        limits->Optional<std::int64_t>("pending_requests", std::int64_t(c.pending_requests));
    if (pending < 1 || pending > 1'000'000) {
      limits->Fail("pending_requests", "pending_requests must be between 1 and 1000000");
    } else {
      c.pending_requests = static_cast<std::size_t>(pending);
    }
  }
  doc.Finish();
  return c;
}

}  // namespace

std::vector<std::string> CheckFailoverRegions(const SidecarConfig& config,
                                              const std::vector<std::string>& topology_regions,
                                              const std::string& home) {
  std::vector<std::string> problems;
  for (const std::string& r : config.failover_regions) {
    bool known = false;
    for (const std::string& t : topology_regions) known = known || t == r;
    if (!known) {
      problems.push_back(config.file + ": failover_regions: region \"" + r +
                         "\" is not a region of the topology file: add [regions." + r +
                         "] there or remove it");
    } else if (!home.empty() && r == home) {
      problems.push_back(config.file + ": failover_regions: \"" + r +
                         "\" is the sidecar's own region: list the other regions");
    }
  }
  return problems;
}

SidecarConfig LoadSidecarConfig(const std::string& path) {
  config::Document doc = config::Document::FromFile(path);
  return Fill(doc, std::filesystem::path(path).parent_path().string());
}

SidecarConfig ParseSidecarConfig(std::string_view text, const std::string& name,
                                 const std::string& base_dir) {
  config::Document doc = config::Document::FromString(text, name);
  return Fill(doc, base_dir);
}

}  // namespace meridian::sidecar
