#include "harness/nats_cluster.h"

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "harness/binaries.h"
#include "harness/health.h"
#include "harness/http_client.h"
#include "harness/ports.h"

namespace meridian::harness {
namespace {

std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::optional<nlohmann::json> GetJson(uint16_t port, const std::string& path, std::string* error) {
  HttpResponse r = HttpGet("127.0.0.1", port, path, std::chrono::seconds(2));
  if (r.status != 200) {
    *error = path + ": " + (r.status ? "HTTP " + std::to_string(r.status) + " " + r.body : r.error);
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) {
    *error = path + ": not JSON: " + r.body.substr(0, 100);
    return std::nullopt;
  }
  return j;
}

}  // namespace

std::string ServerSpec::ClientUrl() const {
  return "nats://127.0.0.1:" + std::to_string(client_port);
}
std::string ServerSpec::MonitorUrl() const {
  return "http://127.0.0.1:" + std::to_string(http_port);
}
std::string ServerSpec::GatewayUrl() const {
  return "nats://127.0.0.1:" + std::to_string(gateway_port);
}
std::string ServerSpec::RouteUrl() const {
  return "nats-route://127.0.0.1:" + std::to_string(cluster_port);
}

NatsSuperCluster::NatsSuperCluster(std::filesystem::path run_dir, SuperClusterOptions options)
    : run_dir_(std::move(run_dir)), options_(std::move(options)) {
  if (options_.regions.empty()) throw std::invalid_argument("a super-cluster needs regions");
  if (options_.servers_per_region < 1) {
    throw std::invalid_argument("servers_per_region must be at least 1");
  }
  if (options_.nats_server.empty()) options_.nats_server = NatsServerBinary();
  auto plan = [&](const std::string& name, const std::string& cluster, const std::string& region,
                  int index, std::vector<std::string> tags) {
    ServerSpec s;
    s.name = name;
    s.cluster = cluster;
    s.region = region;
    s.index = index;
    if (options_.server_tags) s.tags = std::move(tags);
    s.client_port = FreeLoopbackPort();
    s.http_port = FreeLoopbackPort();
    s.cluster_port = FreeLoopbackPort();
    s.gateway_port = FreeLoopbackPort();
    s.config_path = run_dir_ / "conf" / (name + ".conf");
    s.log_path = run_dir_ / "logs" / (name + ".log");
    s.store_dir = run_dir_ / "store" / name;
    servers_.push_back(std::move(s));
  };
  for (const auto& region : options_.regions) {
    for (int i = 1; i <= options_.servers_per_region; ++i) {
      plan(region + "-" + std::to_string(i), region, region, i,
           {"az:" + std::to_string(i), "rg:" + region});
    }
  }
  if (options_.stretch_cluster) {
    // As in seed 003: each stretch node sits in a different az of its region, so the node set
    // is unique under "az:" too (the meta leader's unique_tag decides placement, and the
    // leader is usually a regional server).
    int i = 1;
    for (const auto& region : options_.regions) {
      plan(options_.stretch_name + "-" + region, options_.stretch_name, region, i,
           {"az:" + std::to_string(i), "rg:" + region});
      ++i;
    }
  }
  processes_.resize(servers_.size());
  down_by_request_.resize(servers_.size(), false);
}

NatsSuperCluster::~NatsSuperCluster() {
  for (auto& p : processes_) {
    if (p) p->Kill();
  }
}

std::vector<std::string> NatsSuperCluster::clusters() const {
  auto out = options_.regions;
  if (options_.stretch_cluster) out.push_back(options_.stretch_name);
  return out;
}

size_t NatsSuperCluster::IndexOf(const std::string& name) const {
  for (size_t i = 0; i < servers_.size(); ++i) {
    if (servers_[i].name == name) return i;
  }
  std::string known;
  for (const auto& s : servers_) known += " " + s.name;
  throw std::invalid_argument("no server named \"" + name +
                              "\" in this super-cluster; it has:" + known);
}

const ServerSpec& NatsSuperCluster::server(const std::string& name) const {
  return servers_[IndexOf(name)];
}

std::vector<const ServerSpec*> NatsSuperCluster::ServersIn(const std::string& cluster) const {
  std::vector<const ServerSpec*> out;
  for (const auto& s : servers_) {
    if (s.cluster == cluster) out.push_back(&s);
  }
  if (out.empty()) throw std::invalid_argument("no cluster named \"" + cluster + "\"");
  return out;
}

Process& NatsSuperCluster::process(const std::string& name) {
  auto& p = processes_[IndexOf(name)];
  if (!p) throw std::logic_error("server " + name + " has not been started; call Start() first");
  return *p;
}

bool NatsSuperCluster::Running(const std::string& name) {
  auto& p = processes_[IndexOf(name)];
  return p && p->Running();
}

std::string NatsSuperCluster::ClientUrls(const std::string& cluster) const {
  std::string out;
  for (const auto* s : ServersIn(cluster)) {
    if (!out.empty()) out += ',';
    out += s->ClientUrl();
  }
  return out;
}

std::optional<Credentials> NatsSuperCluster::app_user() const {
  if (!options_.accounts) return std::nullopt;
  return Credentials{"app", "app"};
}

std::optional<Credentials> NatsSuperCluster::system_user() const {
  if (!options_.accounts) return std::nullopt;
  return Credentials{"sys", "sys"};
}

std::string NatsSuperCluster::AccountsConfig(const std::string& cluster) const {
  std::ostringstream c;
  c << "# Accounts of cluster " << cluster << " (generated by the Meridian harness)\n"
    << "accounts {\n"
    << "  '$SYS': {\n"
    << "    users: [{user: sys, password: sys}]\n"
    << "  }\n"
    << "  APP: {\n"
    << "    jetstream: " << (options_.jetstream ? "enabled" : "disabled") << "\n"
    << "    users: [{user: app, password: app}]\n";
  if (auto it = options_.app_account_config.find(cluster);
      it != options_.app_account_config.end()) {
    c << "    " << it->second << "\n";
  }
  c << "  }\n"
    << "}\n"
    << "system_account: '$SYS'\n";
  return c.str();
}

std::string NatsSuperCluster::ServerConfig(const ServerSpec& s) const {
  std::ostringstream c;
  const bool stretch = options_.stretch_cluster && s.cluster == options_.stretch_name;
  c << "# " << s.name << ": cluster " << s.cluster << ", region " << s.region
    << " (generated by the Meridian harness)\n"
    << "server_name: " << s.name << "\n"
    << "listen: 127.0.0.1:" << s.client_port << "\n"
    << "http: 127.0.0.1:" << s.http_port << "\n";
  if (!s.tags.empty()) {
    c << "server_tags: [";
    for (size_t i = 0; i < s.tags.size(); ++i) c << (i ? ", " : "") << Quoted(s.tags[i]);
    c << "]\n";
  }
  if (options_.jetstream) {
    const std::string& unique = stretch && !options_.stretch_unique_tag.empty()
                                    ? options_.stretch_unique_tag
                                    : options_.unique_tag;
    c << "jetstream {\n"
      << "  store_dir: " << Quoted(s.store_dir.string()) << "\n"
      << "  max_memory_store: " << options_.max_memory_store << "\n"
      << "  max_file_store: " << options_.max_file_store << "\n";
    if (!unique.empty()) c << "  unique_tag: " << Quoted(unique) << "\n";
    c << "}\n";
  }

  c << "cluster {\n"
    << "  name: " << Quoted(s.cluster) << "\n"
    << "  listen: 127.0.0.1:" << s.cluster_port << "\n";
  if (options_.advertise) {
    if (auto a = options_.advertise(s, LinkKind::kRoute)) {
      c << "  advertise: " << Quoted(a->HostPort()) << "\n";
    }
  }
  // Every server of the cluster, itself included as in the seeds: the server skips its own
  // URL, and JetStream refuses a clustered server with no configured routes at all.
  c << "  routes: [\n";
  for (const auto& peer : servers_) {
    if (peer.cluster != s.cluster) continue;
    Endpoint to{"127.0.0.1", peer.cluster_port};
    if (options_.link_address && peer.name != s.name) {
      to = options_.link_address(Link{LinkKind::kRoute, s, peer});
    }
    c << "    " << Quoted("nats-route://" + to.HostPort()) << "  # " << peer.name
      << (peer.name == s.name ? " (itself)" : "") << "\n";
  }
  c << "  ]\n"
    << "}\n";

  c << "gateway {\n"
    << "  name: " << Quoted(s.cluster) << "\n"
    << "  listen: 127.0.0.1:" << s.gateway_port << "\n";
  if (options_.advertise) {
    if (auto a = options_.advertise(s, LinkKind::kGateway)) {
      c << "  advertise: " << Quoted(a->HostPort()) << "\n";
    }
  }
  c << "  gateways: [\n";
  for (const auto& other : clusters()) {
    if (other == s.cluster) continue;
    c << "    {name: " << Quoted(other) << ", urls: [\n";
    for (const auto* peer : ServersIn(other)) {
      Endpoint to{"127.0.0.1", peer->gateway_port};
      if (options_.link_address) to = options_.link_address(Link{LinkKind::kGateway, s, *peer});
      c << "      " << Quoted("nats://" + to.HostPort()) << "  # " << peer->name << "\n";
    }
    c << "    ]}\n";
  }
  c << "  ]\n"
    << "}\n";

  if (options_.accounts) c << "include accounts-" << s.cluster << ".conf\n";
  if (auto it = options_.cluster_config.find(s.cluster); it != options_.cluster_config.end()) {
    c << "# extra config for cluster " << s.cluster << "\n" << it->second << "\n";
  }
  if (!options_.all_servers_config.empty()) {
    c << "# extra config for every server\n" << options_.all_servers_config << "\n";
  }
  return c.str();
}

void NatsSuperCluster::WriteConfigs() {
  std::filesystem::create_directories(run_dir_ / "conf");
  auto write = [](const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path.string());
  };
  if (options_.accounts) {
    for (const auto& cluster : clusters()) {
      write(run_dir_ / "conf" / ("accounts-" + cluster + ".conf"), AccountsConfig(cluster));
    }
  }
  for (const auto& s : servers_) {
    std::filesystem::create_directories(s.store_dir);
    write(s.config_path, ServerConfig(s));
  }
}

void NatsSuperCluster::Start() {
  WriteConfigs();
  for (size_t i = 0; i < servers_.size(); ++i) {
    const auto& s = servers_[i];
    down_by_request_[i] = false;
    if (processes_[i]) {
      if (!processes_[i]->Running()) processes_[i]->Restart();
      continue;
    }
    ProcessSpec spec;
    spec.argv = {options_.nats_server.string(), "-c", s.config_path.string()};
    spec.working_dir = run_dir_;
    spec.log_path = s.log_path;
    spec.stop_signal = SIGINT;  // graceful shutdown with exit code 0 (SIGTERM exits 1)
    processes_[i] = std::make_unique<Process>(std::move(spec));
  }
  WaitUntilReady(options_.start_timeout);
}

std::string NatsSuperCluster::ReadinessProblem(size_t i) {
  const ServerSpec& s = servers_[i];
  std::string error;
  HttpResponse health = HttpGet("127.0.0.1", s.http_port, "/healthz", std::chrono::seconds(2));
  if (health.status != 200) {
    return "/healthz: " + (health.status
                               ? "HTTP " + std::to_string(health.status) + " " + health.body
                               : health.error);
  }
  size_t running_peers = 0;
  std::set<std::string> live_clusters;
  for (size_t j = 0; j < servers_.size(); ++j) {
    if (!processes_[j] || !processes_[j]->Running()) continue;
    if (j != i && servers_[j].cluster == s.cluster) ++running_peers;
    if (servers_[j].cluster != s.cluster) live_clusters.insert(servers_[j].cluster);
  }
  auto routez = GetJson(s.http_port, "/routez", &error);
  if (!routez) return error;
  size_t routes = routez->value("num_routes", 0);
  if (routes < running_peers) {
    return "has " + std::to_string(routes) + " routes, expects " + std::to_string(running_peers);
  }
  auto gatewayz = GetJson(s.http_port, "/gatewayz", &error);
  if (!gatewayz) return error;
  for (const auto& cluster : live_clusters) {
    const auto& out = (*gatewayz)["outbound_gateways"];
    if (!out.is_object() || !out.contains(cluster)) {
      return "has no outbound gateway to cluster " + cluster + " yet";
    }
  }
  if (options_.jetstream && MetaLeader(s.name).empty()) {
    return "knows no JetStream meta leader yet";
  }
  return "";
}

std::string NatsSuperCluster::MetaLeader(const std::string& name) const {
  std::string error;
  auto jsz = GetJson(server(name).http_port, "/jsz", &error);
  if (!jsz || !jsz->contains("meta_cluster")) return "";
  return (*jsz)["meta_cluster"].value("leader", "");
}

void NatsSuperCluster::WaitUntilReady(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (options_.cancel && options_.cancel()) {
      throw WaitCancelled("waiting for the super-cluster was cancelled");
    }
    std::string problems;
    std::set<std::string> leaders;
    for (size_t i = 0; i < servers_.size(); ++i) {
      auto& p = processes_[i];
      if (!p) continue;
      if (down_by_request_[i]) continue;
      if (!p->Running()) {
        throw std::runtime_error(WithLogTail(servers_[i].name + " exited (" +
                                                 p->exit_status()->Describe() + "); config " +
                                                 servers_[i].config_path.string(),
                                             *p));
      }
      std::string problem = ReadinessProblem(i);
      if (!problem.empty()) {
        problems += "  " + servers_[i].name + ": " + problem + "\n";
      } else if (options_.jetstream) {
        leaders.insert(MetaLeader(servers_[i].name));
      }
    }
    if (problems.empty() && leaders.size() > 1) {
      std::string names;
      for (const auto& l : leaders) names += " " + l;
      problems = "  servers disagree on the JetStream meta leader:" + names + "\n";
    }
    if (problems.empty()) return;
    if (std::getenv("MERIDIAN_HARNESS_TRACE")) std::cerr << problems;
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string msg = "super-cluster not ready after " + std::to_string(timeout.count()) +
                        " ms (configs and logs in " + run_dir_.string() + "):\n" + problems;
      for (size_t i = 0; i < servers_.size(); ++i) {
        if (processes_[i] && problems.find("  " + servers_[i].name + ":") != std::string::npos) {
          msg = WithLogTail(msg, *processes_[i], 10);
          break;  // one log tail keeps the message readable; the rest are on disk
        }
      }
      throw std::runtime_error(msg);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void NatsSuperCluster::StopAll(std::chrono::milliseconds grace) {
  down_by_request_.assign(servers_.size(), true);
  for (auto& p : processes_) {
    if (p && p->Running()) p->RequestStop();
  }
  for (auto& p : processes_) {
    if (p) p->Stop(grace);
  }
}

void NatsSuperCluster::StopServer(const std::string& name) {
  Process& p = process(name);
  down_by_request_[IndexOf(name)] = true;
  p.Stop();
}

void NatsSuperCluster::KillServer(const std::string& name) {
  Process& p = process(name);
  down_by_request_[IndexOf(name)] = true;
  p.Kill();
}
void NatsSuperCluster::PauseServer(const std::string& name) {
  process(name).Pause();
}
void NatsSuperCluster::ResumeServer(const std::string& name) {
  process(name).Resume();
}

void NatsSuperCluster::RestartServer(const std::string& name) {
  Process& p = process(name);
  p.Restart();
  down_by_request_[IndexOf(name)] = false;
  WaitForHealthz(p, server(name).http_port, options_.start_timeout);
}

void NatsSuperCluster::StopCluster(const std::string& cluster) {
  for (const auto* s : ServersIn(cluster)) {
    auto& p = processes_[IndexOf(s->name)];
    down_by_request_[IndexOf(s->name)] = true;
    if (p && p->Running()) p->RequestStop();
  }
  for (const auto* s : ServersIn(cluster)) StopServer(s->name);
}

void NatsSuperCluster::KillCluster(const std::string& cluster) {
  for (const auto* s : ServersIn(cluster)) KillServer(s->name);
}

void NatsSuperCluster::RestartCluster(const std::string& cluster) {
  for (const auto* s : ServersIn(cluster)) {
    process(s->name).Restart();
    down_by_request_[IndexOf(s->name)] = false;
  }
  for (const auto* s : ServersIn(cluster)) {
    WaitForHealthz(process(s->name), s->http_port, options_.start_timeout);
  }
}

std::string NatsSuperCluster::Describe() const {
  std::ostringstream d;
  for (const auto& cluster : clusters()) {
    d << "cluster " << cluster << ":\n";
    for (const auto* s : ServersIn(cluster)) {
      d << "  " << s->name << "  client " << s->ClientUrl() << "  monitor " << s->MonitorUrl()
        << "  gateway " << s->GatewayUrl() << "  route " << s->RouteUrl() << "\n";
    }
  }
  d << "configs in " << (run_dir_ / "conf").string() << ", logs in " << (run_dir_ / "logs").string()
    << "\n";
  return d.str();
}

}  // namespace meridian::harness
