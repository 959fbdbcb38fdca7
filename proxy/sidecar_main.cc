// meridian-sidecar: the region-aware NATS proxy that runs beside each application.
// See proxy/sidecar/README.md.
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "config/reader.h"
#include "net/loop.h"
#include "notify/notify.h"
#include "sidecar/config.h"
#include "sidecar/sidecar.h"
#include "sidecar/topology_file.h"
#include "topology/periodic.h"

namespace {

constexpr const char* kVersion = "0.1.0";

void PrintHelp() {
  std::printf(
      "meridian-sidecar %s: lets applications connect to nats://127.0.0.1:4222 and see each\n"
      "virtual stream as one global stream, served by the servers of their own region.\n"
      "\n"
      "usage:\n"
      "  meridian-sidecar --config <file>                 run\n"
      "  meridian-sidecar --config <file> --check-config  check the config and topology, exit\n"
      "  meridian-sidecar --version | --help\n"
      "\n"
      "The config file format is documented in conf/sidecar.toml, the topology in\n"
      "conf/topology.toml. SIGINT or SIGTERM stop it gracefully; SIGHUP re-reads log_level\n"
      "from the config. Under systemd (Type=notify, $NOTIFY_SOCKET) it reports READY=1 once\n"
      "it listens and an upstream server of its region answered.\n",
      kVersion);
}

int Usage(const std::string& why) {
  std::fprintf(stderr, "meridian-sidecar: %s\nRun meridian-sidecar --help for usage.\n",
               why.c_str());
  return 2;
}

// SIGHUP: re-reads the config file and applies what can change while running (log_level).
// A file with errors changes nothing. Other keys take effect at the next start.
void ReloadConfig(meridian::sidecar::SidecarConfig& running) {
  meridian::sidecar::SidecarConfig fresh;
  try {
    fresh = meridian::sidecar::LoadSidecarConfig(running.file);
  } catch (const meridian::config::ConfigError& e) {
    spdlog::error("SIGHUP: {} has errors, nothing reloaded:\n{}", running.file, e.what());
    return;
  }
  if (fresh.log_level != running.log_level) {
    spdlog::set_level(spdlog::level::from_str(fresh.log_level));
    spdlog::warn("SIGHUP: log_level is now {}", fresh.log_level);
    running.log_level = fresh.log_level;
  } else {
    spdlog::info("SIGHUP: {} re-read; log_level unchanged", running.file);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      PrintHelp();
      return 0;
    }
    if (arg == "--version") {
      std::printf("meridian-sidecar %s\n", kVersion);
      return 0;
    }
    if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--config" || arg == "-c") {
      if (i + 1 >= argc) return Usage("--config needs a file name");
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(std::strlen("--config="));
    } else {
      return Usage("unknown argument \"" + arg + "\"");
    }
  }
  if (config_path.empty()) return Usage("no config file: give --config <file>");

  meridian::sidecar::SidecarConfig config;
  meridian::sidecar::TopologyFile topology;
  try {
    config = meridian::sidecar::LoadSidecarConfig(config_path);
    topology = meridian::sidecar::LoadTopologyFile(config.topology_file);
  } catch (const meridian::config::ConfigError& e) {
    std::fprintf(stderr, "meridian-sidecar: the configuration has errors:\n%s\n", e.what());
    return 1;
  }
  if (!config.region.empty() && topology.FindRegion(config.region) == nullptr) {
    std::fprintf(stderr,
                 "meridian-sidecar: %s: region \"%s\" is not one of the regions of %s: add "
                 "[regions.%s] there or fix region\n",
                 config.file.c_str(), config.region.c_str(), config.topology_file.c_str(),
                 config.region.c_str());
    return 1;
  }
  {
    std::vector<std::string> names;
    for (const auto& r : topology.regions) names.push_back(r.name);
    std::vector<std::string> problems =
        meridian::sidecar::CheckFailoverRegions(config, names, config.region);
    if (!problems.empty()) {
      std::fprintf(stderr, "meridian-sidecar: the configuration has errors:\n");
      for (const std::string& p : problems) std::fprintf(stderr, "%s\n", p.c_str());
      return 1;
    }
  }
  if (check_only) {
    std::printf("%s and %s are valid\n", config.file.c_str(), config.topology_file.c_str());
    return 0;
  }

  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::info("meridian-sidecar {} starting with {}", kVersion, config.file);

  meridian::net::Loop loop;
  meridian::sidecar::Sidecar sidecar(loop, config, topology);
  meridian::net::Status started = sidecar.Start();
  if (!started.ok()) {
    spdlog::error("cannot start: {}", started.message());
    return 1;
  }
  if (sidecar.region().empty()) {
    spdlog::info("region not configured: it will be taken from the upstream INFO cluster");
  }
  // Ready for systemd once listening (above) and an upstream server of the region answered.
  const meridian::notify::Notifier notifier = meridian::notify::Notifier::FromEnvironment();
  auto report = [](const meridian::base::Status& st) {
    if (!st.ok()) spdlog::warn("{}", st.message());
  };
  bool ready = false;
  std::string status = "waiting for an upstream server of the region";
  report(notifier.Status(status));
  // `systemctl status` shows the health as it changes (e.g. served from another region).
  auto current_status = [&] {
    const meridian::sidecar::Health h = sidecar.health();
    if (!h.ok) return "not serving: " + h.reason;
    if (h.degraded && h.served_from != sidecar.region()) {
      return "serving region " + sidecar.region() + " from " + h.served_from;
    }
    if (h.degraded) return "serving region " + sidecar.region() + ", degraded: " + h.reason;
    return "serving region " + sidecar.region();
  };
  meridian::net::Timer readiness = loop.Every(std::chrono::milliseconds(100), [&] {
    if (!ready) {
      if (!sidecar.health().ok) return;
      ready = true;
      status = current_status();
      report(notifier.Ready(status));
      return;
    }
    if (std::string now = current_status(); now != status) {
      status = now;
      report(notifier.Status(status));
    }
  });

  // The topology job (apply at start, drift checks, trimming) runs on its own thread.
  meridian::topology::PeriodicOptions job_options;
  job_options.apply_on_start = config.apply_on_start;
  job_options.drift_interval = config.drift_interval;
  if (config.trim) job_options.trim_interval = topology.spec.trim_interval;
  meridian::topology::PeriodicJob topology_job(
      topology.spec, job_options, [](const std::string& level, const std::string& text) {
        if (level == "error") {
          spdlog::error("{}", text);
        } else if (level == "warn") {
          spdlog::warn("{}", text);
        } else {
          spdlog::info("{}", text);
        }
      });
  topology_job.Start();

  bool stopping = false;
  meridian::net::Timer drained;  // declared after the loop: destroyed before it
  meridian::net::Timer deadline;
  loop.HandleSignals([&](int signal) {
    if (signal == SIGHUP) {
      if (stopping) return;
      // systemd reloads only a started unit: before READY there is no reload to report.
      if (ready) report(notifier.Reloading());
      ReloadConfig(config);
      if (ready) report(notifier.Ready(status));
      return;
    }
    if (stopping) {
      spdlog::warn("second signal {}: stopping now", signal);
      loop.Stop();
      return;
    }
    stopping = true;
    spdlog::info("signal {}: stopping gracefully", signal);
    report(notifier.Stopping());
    readiness.Cancel();
    sidecar.Stop();
    loop.StopSignals();
    // Stop once every connection has flushed and closed, or after 3 s whatever is left.
    drained = loop.Every(std::chrono::milliseconds(20), [&] {
      if (sidecar.open_connections() == 0) loop.Stop();
    });
    deadline = loop.After(std::chrono::milliseconds(3000), [&loop] { loop.Stop(); });
  });
  loop.Run();
  spdlog::info("stopped");
  return 0;
}
