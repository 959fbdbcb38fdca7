// A super-cluster of stock nats-servers on loopback: one cluster per region (routes inside,
// gateways between), optionally a stretch cluster with one node per region, JetStream on,
// accounts $SYS and APP. Configs are written to files in the run directory (inspectable, and
// kept when a test fails); gateway and route addresses can be redirected per link, so a fault
// proxy can sit on every link between servers.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/process.h"

namespace meridian::harness {

struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string HostPort() const { return host + ":" + std::to_string(port); }
};

enum class LinkKind { kRoute, kGateway };

struct ServerSpec {
  std::string name;               // "west-1"; stretch nodes "xr-west"
  std::string cluster;            // "west", or the stretch cluster's name
  std::string region;             // the region the server sits in ("west" also for "xr-west")
  int index = 0;                  // 1-based within its cluster
  std::vector<std::string> tags;  // server_tags, e.g. {"az:1", "rg:west"}
  // The ports the server listens on (all on 127.0.0.1), chosen when the cluster is planned.
  uint16_t client_port = 0, http_port = 0, cluster_port = 0, gateway_port = 0;
  std::filesystem::path config_path, log_path, store_dir;

  std::string ClientUrl() const;   // nats://127.0.0.1:<client_port>
  std::string MonitorUrl() const;  // http://127.0.0.1:<http_port>
  std::string GatewayUrl() const;  // nats://127.0.0.1:<gateway_port> (the real listener)
  std::string RouteUrl() const;    // nats-route://127.0.0.1:<cluster_port> (the real listener)
};

// One directed connection a server makes: `from` dials `to`'s route or gateway listener.
struct Link {
  LinkKind kind;
  const ServerSpec& from;
  const ServerSpec& to;
};

struct Credentials {
  std::string user, password;
};

struct SuperClusterOptions {
  std::vector<std::string> regions = {"east", "central", "west"};
  int servers_per_region = 3;
  // true: accounts $SYS (system, sys/sys) and APP (JetStream, app/app). false: no auth; clients
  // land in the global account, which then has JetStream.
  bool accounts = true;
  bool jetstream = true;
  bool server_tags = true;  // "az:<index>" and "rg:<region>" on every server
  // jetstream unique_tag of the regional clusters ("az:"); "" = none. Placement is checked by
  // the meta leader with its own unique_tag, wherever the stream goes.
  std::string unique_tag;
  bool stretch_cluster = false;  // one extra node per region, forming cluster `stretch_name`
  std::string stretch_name = "xr";
  // The stretch cluster's unique_tag; "" = the same as `unique_tag`. Seed 003 gives it "rg:"
  // while the regions have "az:", but 2.9.10 checks placement with the *meta leader's*
  // unique_tag: while a stretch node leads, R3 streams in a region fail with "server tag not
  // unique" (and the other way round). So the default keeps one tag everywhere; stretch nodes
  // get distinct az tags, which keeps their replicas in distinct regions too.
  std::string stretch_unique_tag;
  // Extra text per cluster name (a region, or the stretch cluster): `config` at the top level
  // of each of its servers' files, `app_account_config` inside the APP account block (e.g.
  // `mappings = { "foo.>": "foo.west.>" }`). `all_servers_config` goes into every file.
  std::map<std::string, std::string> cluster_config;
  std::map<std::string, std::string> app_account_config;
  std::string all_servers_config;
  // Where `link.from` dials `link.to` (default: the real listener). Called for every route to
  // a peer and every gateway URL when configs are written, in Start(): the ports are known
  // from the constructor on, so a proxy can be started in between. (A server's route to
  // itself, which the generator lists as the seeds do, is never redirected.)
  std::function<Endpoint(const Link&)> link_address;
  // What a server advertises to its peers for routes or gateways (default: nothing, which
  // means its listener). Peers learn these addresses by gossip and dial them too.
  std::function<std::optional<Endpoint>(const ServerSpec&, LinkKind)> advertise;
  int64_t max_memory_store = 64 << 20;
  int64_t max_file_store = 1LL << 30;
  std::chrono::milliseconds start_timeout = std::chrono::seconds(60);
  // Polled while waiting for readiness; when it returns true, the wait throws WaitCancelled
  // (the demo uses it to honour Ctrl-C during start-up).
  std::function<bool()> cancel;
  std::filesystem::path nats_server;  // empty: NatsServerBinary()
};

struct WaitCancelled : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class NatsSuperCluster {
 public:
  // Plans the servers (names, tags, free ports, paths under `run_dir`); starts nothing.
  NatsSuperCluster(std::filesystem::path run_dir, SuperClusterOptions options = {});
  // Kills every server that is still running (use StopAll() for a graceful stop).
  ~NatsSuperCluster();
  NatsSuperCluster(const NatsSuperCluster&) = delete;
  NatsSuperCluster& operator=(const NatsSuperCluster&) = delete;

  // Writes the configs, starts every server and returns once WaitUntilReady() holds.
  void Start();
  // Every running server answers /healthz with 200, has routes to the running servers of its
  // cluster and gateways to every other cluster that has a running server, and all running
  // servers name the same JetStream meta leader. Servers stopped or killed through this class
  // are left out; one that died on its own is an error. Throws with details and a log tail on
  // timeout. MERIDIAN_HARNESS_TRACE=1 prints what is still missing on every poll.
  void WaitUntilReady(std::chrono::milliseconds timeout);
  // Asks every server to stop (SIGINT: nats-server shuts down cleanly and exits 0), waits for
  // all of them in parallel, and SIGKILLs those still running after `grace`.
  void StopAll(std::chrono::milliseconds grace = std::chrono::seconds(10));

  // One server, by name ("west-2").
  void StopServer(const std::string& name);
  void KillServer(const std::string& name);
  void PauseServer(const std::string& name);
  void ResumeServer(const std::string& name);
  // Starts a stopped or killed server (or restarts a running one) with the same config and
  // store, and waits until it answers /healthz.
  void RestartServer(const std::string& name);
  // Every server of a cluster ("west", or the stretch cluster's name).
  void StopCluster(const std::string& cluster);
  void KillCluster(const std::string& cluster);
  void RestartCluster(const std::string& cluster);

  const std::vector<ServerSpec>& servers() const { return servers_; }
  const ServerSpec& server(const std::string& name) const;
  std::vector<const ServerSpec*> ServersIn(const std::string& cluster) const;
  std::vector<std::string> clusters() const;  // regions, then the stretch cluster if any
  Process& process(const std::string& name);
  bool Running(const std::string& name);
  // "nats://127.0.0.1:a,nats://127.0.0.1:b,...": every server of the cluster, for clients.
  std::string ClientUrls(const std::string& cluster) const;
  const SuperClusterOptions& options() const { return options_; }
  std::optional<Credentials> app_user() const;     // nullopt without accounts
  std::optional<Credentials> system_user() const;  // nullopt without accounts
  // The JetStream meta leader as `name` sees it (/jsz), "" if none.
  std::string MetaLeader(const std::string& name) const;
  const std::filesystem::path& run_dir() const { return run_dir_; }
  // A multi-line listing: clusters, servers, URLs, config and log paths.
  std::string Describe() const;

  // The config text of one server and of one cluster's accounts file (also written to disk by
  // Start()); exposed so tests can check the generator.
  std::string ServerConfig(const ServerSpec& server) const;
  std::string AccountsConfig(const std::string& cluster) const;

 private:
  size_t IndexOf(const std::string& name) const;
  void WriteConfigs();
  std::string ReadinessProblem(size_t i);  // "" when server i is ready

  std::filesystem::path run_dir_;
  SuperClusterOptions options_;
  std::vector<ServerSpec> servers_;
  std::vector<std::unique_ptr<Process>> processes_;  // parallel to servers_; null until started
  std::vector<bool> down_by_request_;  // stopped or killed by the caller: not waited for
};

}  // namespace meridian::harness
