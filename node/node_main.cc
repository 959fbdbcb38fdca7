// meridian-node: the NATS-compatible server program. Flags follow nats-server's; see
// node/server/README.md for the config file and what is implemented.
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/reader.h"
#include "monitor/monitor.h"
#include "monitor/sys_requests.h"
#include "net/loop.h"
#include "notify/notify.h"
#include "server/config_load.h"
#include "server/nats_config_load.h"
#include "server/options.h"
#include "server/server.h"

namespace {

using meridian::server::Options;

constexpr const char* kUsage = R"(Usage: meridian-node [options]

Server options (as nats-server):
  -a, --addr, --net <host>     Bind to host address (default: 0.0.0.0)
  -p, --port <port>            Use port for clients (default: 4222)
  -n, --name, --server_name    Server name (default: the server id)
  -m, --http_port <port>       Use port for http monitoring
  -c, --config <file>          Configuration file: TOML when it ends in .toml, else
                               nats-server's format (see node/server/README.md)
  -t, --check-config           Validate the configuration and exit
  -P, --pid <file>             File to store the process id
  -l, --log <file>             File to redirect log output
  -D, --debug / -V, --trace / -DV
      --user <user>  --pass <password>  --auth <token>
      --max_payload <bytes>  --max_connections <n>  --max_control_line <n>
      --max_pending <bytes>  --cluster_name <name>
      --tls  --tlscert <file>  --tlskey <file>  --tlscacert <file>  --tlsverify
                               TLS for clients (as nats-server; or tls {} in the file)
  -js, --jetstream             Enable JetStream (global account, and [[accounts]] with
                               jetstream = true; see [jetstream] in the config file)
  -sd, --store_dir <dir>       JetStream storage directory (default: $TMPDIR/nats)
  -v, --version                Show version
  -h, --help                   Show this message

Signals: SIGTERM or SIGINT stop gracefully; SIGHUP reopens the -l log file and reloads
the config file: users, token, no_auth_user, permissions, mappings, auth timeout, ping_max
and debug/trace change live (connected clients are checked again); other settings need a
restart and make the reload fail, leaving the server unchanged. Under systemd (Type=notify,
$NOTIFY_SOCKET) it reports READY=1 once listening for clients, and STOPPING=1.
)";

struct Flags {
  std::map<std::string, std::string> values;  // canonical name -> value
  bool debug = false, trace = false, jetstream = false, check = false;
  bool tls = false, tls_verify = false;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "meridian-node: %s\n", message.c_str());
  std::exit(1);
}

Flags ParseFlags(int argc, char** argv) {
  // name -> (canonical, takes value)
  static const std::map<std::string, std::pair<std::string, bool>> kFlags = {
      {"a", {"addr", true}},
      {"addr", {"addr", true}},
      {"net", {"addr", true}},
      {"p", {"port", true}},
      {"port", {"port", true}},
      {"n", {"name", true}},
      {"name", {"name", true}},
      {"server_name", {"name", true}},
      {"m", {"http_port", true}},
      {"http_port", {"http_port", true}},
      {"c", {"config", true}},
      {"config", {"config", true}},
      {"t", {"check", false}},
      {"check-config", {"check", false}},
      {"check_config", {"check", false}},
      {"P", {"pid", true}},
      {"pid", {"pid", true}},
      {"l", {"log", true}},
      {"log", {"log", true}},
      {"D", {"debug", false}},
      {"debug", {"debug", false}},
      {"V", {"trace", false}},
      {"trace", {"trace", false}},
      {"DV", {"debugtrace", false}},
      {"user", {"user", true}},
      {"pass", {"pass", true}},
      {"auth", {"auth", true}},
      {"max_payload", {"max_payload", true}},
      {"max_connections", {"max_connections", true}},
      {"max_control_line", {"max_control_line", true}},
      {"max_pending", {"max_pending", true}},
      {"cluster_name", {"cluster_name", true}},
      {"tls", {"tls", false}},
      {"tlscert", {"tlscert", true}},
      {"tlskey", {"tlskey", true}},
      {"tlscacert", {"tlscacert", true}},
      {"tlsverify", {"tlsverify", false}},
      {"js", {"jetstream", false}},
      {"jetstream", {"jetstream", false}},
      {"sd", {"store_dir", true}},
      {"store_dir", {"store_dir", true}},
      {"v", {"version", false}},
      {"version", {"version", false}},
      {"h", {"help", false}},
      {"help", {"help", false}},
  };
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      Die("unexpected argument \"" + arg + "\"; flags start with - (see --help)");
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = kFlags.find(name);
    if (it == kFlags.end()) {
      Die("unknown or unsupported flag \"" + arg +
          "\" (see --help for the flags meridian-node "
          "supports)");
    }
    const auto& [canonical, takes_value] = it->second;
    if (takes_value && !value) {
      if (i + 1 >= argc) Die("flag \"" + arg + "\" needs a value");
      value = argv[++i];
    }
    if (canonical == "help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (canonical == "version") {
      std::printf("meridian-node version %s (nats-server %s client protocol)\n", "0.1.0",
                  meridian::server::kAdvertisedVersion);
      std::exit(0);
    }
    if (canonical == "debug") f.debug = true;
    if (canonical == "trace") f.trace = true;
    if (canonical == "debugtrace") f.debug = f.trace = true;
    if (canonical == "jetstream") f.jetstream = true;
    if (canonical == "check") f.check = true;
    if (canonical == "tls") f.tls = true;
    if (canonical == "tlsverify") f.tls = f.tls_verify = true;
    if (takes_value) f.values[canonical] = *value;
  }
  return f;
}

uint64_t Number(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0) {
    Die("--" + flag + " needs a whole number, got \"" + text + "\"");
  }
  return v;
}

void ApplyFlags(const Flags& f, Options& o) {
  auto get = [&](const char* k) -> const std::string* {
    auto it = f.values.find(k);
    return it == f.values.end() ? nullptr : &it->second;
  };
  if (auto v = get("addr")) o.host = *v;
  if (auto v = get("port")) o.port = static_cast<uint16_t>(Number("port", *v));
  if (auto v = get("name")) o.server_name = *v;
  if (auto v = get("http_port")) o.http_port = static_cast<int>(Number("http_port", *v));
  if (auto v = get("max_payload")) o.max_payload = Number("max_payload", *v);
  if (auto v = get("max_pending")) o.max_pending = Number("max_pending", *v);
  if (auto v = get("max_connections"))
    o.max_connections = static_cast<int>(Number("max_connections", *v));
  if (auto v = get("max_control_line"))
    o.max_control_line = static_cast<uint32_t>(Number("max_control_line", *v));
  if (auto v = get("cluster_name")) o.cluster_name = *v;
  if (auto v = get("auth")) o.token = *v;
  if (f.tls || get("tlscert") || get("tlskey")) o.tls.enabled = true;
  if (auto v = get("tlscert")) o.tls.cert_file = *v;
  if (auto v = get("tlskey")) o.tls.key_file = *v;
  if (auto v = get("tlscacert")) o.tls.ca_file = *v;
  if (f.tls_verify) o.tls.verify = true;
  if (o.tls.enabled && (o.tls.cert_file.empty() || o.tls.key_file.empty())) {
    Die("TLS needs a certificate and key: --tlscert <file> --tlskey <file>");
  }
  if (f.jetstream) o.jetstream.enabled = true;
  if (auto v = get("store_dir")) o.jetstream.store_dir = *v;
  auto user = get("user");
  auto pass = get("pass");
  if ((user == nullptr) != (pass == nullptr)) Die("--user and --pass must be given together");
  if (user) {
    meridian::server::User u;
    u.name = *user;
    u.password = *pass;
    o.users.push_back(std::move(u));
  }
}

spdlog::level::level_enum LogLevel(bool debug, bool trace) {
  return trace ? spdlog::level::trace : debug ? spdlog::level::debug : spdlog::level::info;
}

// SIGHUP: reopens the log file (so logrotate can move it away) and reloads the config file as
// nats-server does: users, token, no_auth_user, permissions, account mappings, auth_timeout,
// ping_max and the log level (debug/trace) change while running; command-line flags still
// override the file. A file that is invalid or changes a restart-only setting is reported and
// leaves the running server unchanged.
void Reload(const Flags& cli, const Flags& flags, meridian::server::Server& server,
            std::shared_ptr<spdlog::logger>& logger) {
  if (auto it = flags.values.find("log"); it != flags.values.end()) {
    try {
      auto level = logger->level();
      spdlog::drop("meridian-node");
      logger = spdlog::basic_logger_mt("meridian-node", it->second);
      logger->flush_on(spdlog::level::info);
      logger->set_level(level);
      spdlog::set_default_logger(logger);
      spdlog::info("SIGHUP: reopened log file {}", it->second);
    } catch (const std::exception& e) {
      spdlog::error("SIGHUP: cannot reopen log file \"{}\": {}", it->second, e.what());
    }
  }
  auto it = flags.values.find("config");
  if (it == flags.values.end()) return;
  try {
    Options fresh;
    meridian::server::NatsConfProgram program;
    meridian::server::LoadConfigFileOfEitherFormat(it->second, fresh, &program);
    ApplyFlags(cli, fresh);
    server.Reload(std::move(fresh));
    logger->set_level(LogLevel(cli.debug || program.debug.value_or(false),
                               cli.trace || program.trace.value_or(false)));
    spdlog::info("SIGHUP: reloaded {}", it->second);
  } catch (const std::exception& e) {
    spdlog::error("SIGHUP: {} was not reloaded (the running server is unchanged):\n{}", it->second,
                  e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  const Flags cli = flags;  // as given on the command line, before the config file's settings
  Options options;
  try {
    if (auto it = flags.values.find("config"); it != flags.values.end()) {
      // Logging and pid file settings from the file apply unless flags set them.
      meridian::server::NatsConfProgram program;
      meridian::server::LoadConfigFileOfEitherFormat(it->second, options, &program);
      if (program.debug.value_or(false)) flags.debug = true;
      if (program.trace.value_or(false)) flags.trace = true;
      if (!program.log_file.empty()) flags.values.emplace("log", program.log_file);
      if (!program.pid_file.empty()) flags.values.emplace("pid", program.pid_file);
    }
  } catch (const meridian::config::ConfigError& e) {
    Die(std::string("the configuration is not valid:\n") + e.what());
  } catch (const std::exception& e) {
    Die(e.what());
  }
  ApplyFlags(flags, options);
  if (flags.check) {
    try {
      meridian::net::Loop loop;
      meridian::server::Server probe(loop, options);
    } catch (const std::exception& e) {
      Die(std::string("the configuration is not valid: ") + e.what());
    }
    std::printf("meridian-node: configuration is valid\n");
    return 0;
  }

  std::shared_ptr<spdlog::logger> logger;
  if (auto it = flags.values.find("log"); it != flags.values.end()) {
    try {
      logger = spdlog::basic_logger_mt("meridian-node", it->second);
    } catch (const std::exception& e) {
      Die("cannot open log file \"" + it->second + "\": " + e.what());
    }
  } else {
    logger = spdlog::stderr_color_mt("meridian-node");
  }
  logger->flush_on(spdlog::level::info);
  logger->set_level(LogLevel(flags.debug, flags.trace));
  spdlog::set_default_logger(logger);

  signal(SIGPIPE, SIG_IGN);
  meridian::net::Loop loop;
  std::unique_ptr<meridian::server::Server> server;
  try {
    server = std::make_unique<meridian::server::Server>(loop, options);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  auto st = server->Start();
  if (!st.ok()) {
    spdlog::critical("cannot listen for clients on {}:{}: {}", options.host, options.port,
                     st.message());
    return 1;
  }
  std::unique_ptr<meridian::monitor::Monitor> monitor;
  if (options.http_port != 0) {
    monitor = std::make_unique<meridian::monitor::Monitor>(loop, *server);
    uint16_t hp = options.http_port < 0 ? 0 : static_cast<uint16_t>(options.http_port);
    auto ms = monitor->Listen(meridian::net::Endpoint::Tcp(options.http_host, hp));
    if (!ms.ok()) {
      spdlog::critical("cannot listen for monitoring on {}:{}: {}", options.http_host, hp,
                       ms.message());
      return 1;
    }
    spdlog::info("Starting http monitor on {}:{}", options.http_host, monitor->port());
  }
  // nats-server's $SYS.REQ.SERVER/ACCOUNT services, in the system account.
  auto sys_requests =
      std::make_unique<meridian::monitor::SysRequests>(*server, monitor ? monitor->port() : 0);
  std::string pid_file;
  if (auto it = flags.values.find("pid"); it != flags.values.end()) {
    pid_file = it->second;
    std::ofstream(pid_file) << getpid();
  }
  spdlog::info("Starting meridian-node (nats-server {} client protocol)",
               meridian::server::kAdvertisedVersion);
  spdlog::info("Server id is {}", server->server_id());
  if (options.jetstream.enabled) {
    spdlog::info("JetStream enabled: store directory {}, sync {}{}",
                 options.jetstream.store_dir.empty() ? "$TMPDIR/nats" : options.jetstream.store_dir,
                 options.jetstream.sync_always
                     ? std::string("always (fsync before every PubAck)")
                     : "every " + std::to_string(options.jetstream.sync_interval.count()) + " ms",
                 options.jetstream.domain.empty() ? "" : ", domain " + options.jetstream.domain);
  }
  spdlog::info("Listening for client connections on {}:{}", options.host, server->port());
  spdlog::info("Server is ready");
  // systemd (Type=notify): ready once the client listener is bound.
  const meridian::notify::Notifier notifier = meridian::notify::Notifier::FromEnvironment();
  auto report = [](const meridian::base::Status& st) {
    if (!st.ok()) spdlog::warn("{}", st.message());
  };
  const std::string serving =
      "listening for clients on " + options.host + ":" + std::to_string(server->port());

  meridian::net::Timer stop_timer;
  loop.HandleSignals([&](int sig) {
    if (sig == SIGHUP) {
      if (stop_timer.active()) return;
      report(notifier.Reloading());
      Reload(cli, flags, *server, logger);
      report(notifier.Ready(serving));
      return;
    }
    if (stop_timer.active()) return;
    report(notifier.Stopping());
    spdlog::info("Received signal {}, shutting down", sig);
    server->Shutdown();
    stop_timer = loop.After(std::chrono::milliseconds(200), [&] { loop.Stop(); });
  });
  // After the handlers are in place: systemd may signal the service as soon as it is ready.
  report(notifier.Ready(serving));
  loop.Run();
  sys_requests.reset();
  monitor.reset();
  server.reset();
  if (!pid_file.empty()) ::unlink(pid_file.c_str());
  spdlog::info("Server exiting");
  return 0;
}
