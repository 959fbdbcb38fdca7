#include "faultproxy/faulty_cluster.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "harness/http_client.h"
#include "harness/ports.h"

namespace meridian::faultproxy {
namespace {

// The inode of the TCP socket on 127.0.0.1:local_port connected to 127.0.0.1:remote_port.
std::string SocketInode(uint16_t local_port, uint16_t remote_port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, st, queues, tr, retr, uid, timeout, inode;
    if (!(f >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >> inode)) {
      continue;
    }
    auto port_of = [](const std::string& a) {
      size_t colon = a.find(':');
      return colon == std::string::npos
                 ? 0u
                 : static_cast<unsigned>(std::strtoul(a.c_str() + colon + 1, nullptr, 16));
    };
    if (port_of(local) == local_port && port_of(remote) == remote_port) return inode;
  }
  return "";
}

bool OwnsSocket(int pid, const std::string& inode) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (!d) return false;
  const std::string want = "socket:[" + inode + "]";
  bool found = false;
  char buf[64];
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string link = dir + "/" + e->d_name;
    ssize_t n = readlink(link.c_str(), buf, sizeof buf);
    if (n > 0 && std::string(buf, static_cast<size_t>(n)) == want) {
      found = true;
      break;
    }
  }
  closedir(d);
  return found;
}

std::vector<std::string> Cmdline(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

}  // namespace

std::string FaultyNatsSuperCluster::TargetName(const std::string& server, harness::LinkKind kind) {
  return server + (kind == harness::LinkKind::kGateway ? "/gateway" : "/route");
}

FaultyNatsSuperCluster::FaultyNatsSuperCluster(std::filesystem::path run_dir,
                                               harness::SuperClusterOptions options,
                                               Options proxy_options) {
  if (proxy_options.identify_source) {
    throw std::invalid_argument(
        "FaultyNatsSuperCluster names dialers itself; leave Options::identify_source empty");
  }
  if (options.link_address || options.advertise) {
    throw std::invalid_argument(
        "FaultyNatsSuperCluster sets link_address and advertise itself; leave them empty");
  }
  proxy_options.identify_source = [this](uint16_t peer, uint16_t listen) {
    return IdentifyRegion(peer, listen);
  };
  const std::string stretch = options.stretch_cluster ? options.stretch_name : std::string();
  auto proxied = [stretch](const harness::ServerSpec& s, harness::LinkKind kind) {
    return kind == harness::LinkKind::kGateway || (!stretch.empty() && s.cluster == stretch);
  };
  options.link_address = [this, proxied](const harness::Link& link) {
    if (!proxied(link.to, link.kind)) {
      return harness::Endpoint{"127.0.0.1", link.kind == harness::LinkKind::kGateway
                                                ? link.to.gateway_port
                                                : link.to.cluster_port};
    }
    return harness::Endpoint{"127.0.0.1", ports_.at(TargetName(link.to.name, link.kind))};
  };
  options.advertise = [this, proxied](const harness::ServerSpec& s,
                                      harness::LinkKind kind) -> std::optional<harness::Endpoint> {
    if (!proxied(s, kind)) return std::nullopt;
    return harness::Endpoint{"127.0.0.1", ports_.at(TargetName(s.name, kind))};
  };
  cluster_ = std::make_unique<harness::NatsSuperCluster>(std::move(run_dir), std::move(options));
  for (const auto& s : cluster_->servers()) region_of_config_[s.config_path.string()] = s.region;
  proxy_ = std::make_unique<FaultProxy>(std::move(proxy_options));
  for (const auto& s : cluster_->servers()) {
    for (auto kind : {harness::LinkKind::kGateway, harness::LinkKind::kRoute}) {
      if (!proxied(s, kind)) continue;
      const std::string name = TargetName(s.name, kind);
      uint16_t port = kind == harness::LinkKind::kGateway ? s.gateway_port : s.cluster_port;
      ports_[name] =
          proxy_->AddTarget(name, s.region, "127.0.0.1", port, harness::FreeLoopbackPort());
    }
  }
}

FaultyNatsSuperCluster::~FaultyNatsSuperCluster() {
  cluster_.reset();  // servers first, so they do not see the proxy vanish under them
  proxy_.reset();
}

void FaultyNatsSuperCluster::Start() {
  cluster_->Start();
}

uint16_t FaultyNatsSuperCluster::ProxyPort(const std::string& server,
                                           harness::LinkKind kind) const {
  auto it = ports_.find(TargetName(server, kind));
  return it == ports_.end() ? 0 : it->second;
}

std::string FaultyNatsSuperCluster::IdentifyRegion(uint16_t peer_port, uint16_t listen_port) {
  const std::string inode = SocketInode(peer_port, listen_port);
  if (inode.empty()) return "";
  std::lock_guard<std::mutex> lock(pid_mu_);
  auto region_of = [&](int pid) -> std::string {
    auto args = Cmdline(pid);
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] != "-c") continue;
      auto it = region_of_config_.find(args[i + 1]);
      if (it != region_of_config_.end()) return it->second;
    }
    return "";
  };
  for (auto it = region_of_pid_.begin(); it != region_of_pid_.end();) {
    if (region_of(it->first) != it->second) {
      it = region_of_pid_.erase(it);  // exited (or the pid was reused)
      continue;
    }
    if (OwnsSocket(it->first, inode)) return it->second;
    ++it;
  }
  // A server started since the last look: find our servers among the visible processes.
  DIR* d = opendir("/proc");
  if (!d) return "";
  std::string found;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || region_of_pid_.count(static_cast<int>(pid))) continue;
    std::string region = region_of(static_cast<int>(pid));
    if (region.empty()) continue;
    region_of_pid_[static_cast<int>(pid)] = region;
    if (found.empty() && OwnsSocket(static_cast<int>(pid), inode)) found = region;
  }
  closedir(d);
  return found;
}

std::vector<std::string> FaultyNatsSuperCluster::OutboundGateways(const std::string& server) const {
  std::vector<std::string> out;
  auto r = harness::HttpGet("127.0.0.1", cluster_->server(server).http_port, "/gatewayz",
                            std::chrono::seconds(2));
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200 || j.is_discarded() || !j.contains("outbound_gateways") ||
      !j["outbound_gateways"].is_object()) {
    return out;
  }
  for (const auto& [cluster, gw] : j["outbound_gateways"].items()) {
    if (gw.contains("connection")) out.push_back(cluster);
  }
  return out;
}

std::string FaultyNatsSuperCluster::LinksAroundProxy() const {
  std::set<uint16_t> proxy_ports;
  for (const auto& [name, port] : ports_) proxy_ports.insert(port);
  // A connection a server dialled leads to a proxy port; one it accepted comes from a socket
  // this process (the proxy) owns.
  auto through_proxy = [&](uint16_t remote_port, uint16_t listener_port) {
    if (proxy_ports.count(remote_port)) return true;
    std::string inode = SocketInode(remote_port, listener_port);
    return !inode.empty() && OwnsSocket(static_cast<int>(getpid()), inode);
  };
  std::string problems;
  const auto& opts = cluster_->options();
  for (const auto& s : cluster_->servers()) {
    auto r = harness::HttpGet("127.0.0.1", s.http_port, "/gatewayz", std::chrono::seconds(2));
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (r.status != 200 || j.is_discarded()) {
      problems += s.name + ": /gatewayz did not answer\n";
      continue;
    }
    if (j.contains("outbound_gateways") && j["outbound_gateways"].is_object()) {
      for (const auto& [cluster, gw] : j["outbound_gateways"].items()) {
        uint16_t port = gw.contains("connection") ? gw["connection"].value("port", 0) : 0;
        if (!proxy_ports.count(port)) {
          problems += s.name + ": outbound gateway to " + cluster + " connects to port " +
                      std::to_string(port) + ", not a proxy port\n";
        }
      }
    }
    if (j.contains("inbound_gateways") && j["inbound_gateways"].is_object()) {
      for (const auto& [cluster, list] : j["inbound_gateways"].items()) {
        for (const auto& gw : list) {
          uint16_t port = gw.contains("connection") ? gw["connection"].value("port", 0) : 0;
          if (!through_proxy(port, s.gateway_port)) {
            problems += s.name + ": inbound gateway from " + cluster +
                        " (127.0.0.1:" + std::to_string(port) +
                        ") does not come through the proxy\n";
          }
        }
      }
    }
    if (!opts.stretch_cluster || s.cluster != opts.stretch_name) continue;
    auto rr = harness::HttpGet("127.0.0.1", s.http_port, "/routez", std::chrono::seconds(2));
    auto rj = nlohmann::json::parse(rr.body, nullptr, false);
    if (rr.status != 200 || rj.is_discarded()) {
      problems += s.name + ": /routez did not answer\n";
      continue;
    }
    for (const auto& route : rj.value("routes", nlohmann::json::array())) {
      uint16_t port = route.value("port", 0);
      if (!through_proxy(port, s.cluster_port)) {
        problems += s.name + ": route with 127.0.0.1:" + std::to_string(port) +
                    " does not go through the proxy\n";
      }
    }
  }
  return problems;
}

}  // namespace meridian::faultproxy
