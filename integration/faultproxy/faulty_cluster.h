// FaultyNatsSuperCluster: a harness::NatsSuperCluster whose every inter-region link goes
// through a FaultProxy: every gateway (and, with a stretch cluster, every route between its
// nodes) is dialled at the proxy, and every server advertises the proxy's address for them, so
// addresses learned by gossip lead through the proxy too. Routes inside a region are direct.
//
// The proxy tells dialers apart by the process that owns the dialling socket (/proc, no
// privileges): a connection from a server of region A to a server of region B is on path
// (A, B), whichever listener it came through.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "faultproxy/proxy.h"
#include "harness/nats_cluster.h"

namespace meridian::faultproxy {

class FaultyNatsSuperCluster {
 public:
  // Plans the cluster and starts the proxy (one listener per proxied server port); starts no
  // server. `proxy_options.identify_source` is supplied here and must be left empty.
  FaultyNatsSuperCluster(std::filesystem::path run_dir, harness::SuperClusterOptions options = {},
                         Options proxy_options = {});
  // Kills the servers, then stops the proxy.
  ~FaultyNatsSuperCluster();

  // Writes the configs (links and advertisements pointing at the proxy), starts every server
  // and waits until the super-cluster is ready.
  void Start();

  harness::NatsSuperCluster& cluster() { return *cluster_; }
  FaultProxy& proxy() { return *proxy_; }

  // The proxy target of a server's gateway or route listener: "west-1/gateway", "xr-west/route".
  static std::string TargetName(const std::string& server, harness::LinkKind kind);
  // The proxy port standing for a server's gateway or route listener; 0 when not proxied.
  uint16_t ProxyPort(const std::string& server, harness::LinkKind kind) const;
  // Problems found in the servers' /gatewayz (and /routez for the stretch cluster): every
  // outbound gateway connection must lead to a proxy port, and every inbound gateway and every
  // route between stretch nodes must have the proxy (a socket of this process) at its other
  // end. "" when nothing goes around the proxy.
  std::string LinksAroundProxy() const;
  // The clusters `server` has an outbound gateway connection to now (its /gatewayz); empty
  // when it does not answer.
  std::vector<std::string> OutboundGateways(const std::string& server) const;

 private:
  std::string IdentifyRegion(uint16_t peer_port, uint16_t listen_port);

  std::map<std::string, uint16_t> ports_;                // target name -> proxy port
  std::map<std::string, std::string> region_of_config_;  // config path -> region
  std::mutex pid_mu_;
  std::map<int, std::string> region_of_pid_;  // cache, checked against cmdline on use
  std::unique_ptr<FaultProxy> proxy_;
  std::unique_ptr<harness::NatsSuperCluster> cluster_;
};

}  // namespace meridian::faultproxy
