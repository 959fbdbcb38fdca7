// Super-clusters that tests break: each test starts its own small one (one server per region,
// no auth), so a killed server never leaks into another test.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "harness/gtest_support.h"
#include "harness/nats_cluster.h"
#include "libnats_client.h"

namespace meridian::harness {
namespace {

using namespace std::chrono_literals;

SuperClusterOptions OneServerPerRegion() {
  SuperClusterOptions opts;
  opts.servers_per_region = 1;
  opts.accounts = false;
  return opts;
}

bool GoneWithin(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(SuperClusterFaults, EveryServerIsGoneAfterTheOwnerIsDestroyedEvenAfterASigkill) {
  TestRunDir dir;
  std::vector<pid_t> pids;
  {
    NatsSuperCluster cluster(dir.path(), OneServerPerRegion());
    cluster.Start();
    for (const auto& s : cluster.servers()) pids.push_back(cluster.process(s.name).pid());
    cluster.KillServer("west-1");
    EXPECT_FALSE(cluster.Running("west-1"));
    EXPECT_EQ(cluster.process("west-1").exit_status()->signal, SIGKILL);
  }
  ASSERT_EQ(pids.size(), 3u);
  for (pid_t pid : pids) EXPECT_TRUE(GoneWithin(pid, 2s)) << "pid " << pid << " survived";
}

TEST(SuperClusterFaults, RestartedServerRejoinsAndSeesTheMetaLeader) {
  TestRunDir dir;
  NatsSuperCluster cluster(dir.path(), OneServerPerRegion());
  cluster.Start();
  cluster.KillServer("central-1");
  cluster.WaitUntilReady(30s);  // the two others stay ready without it
  cluster.RestartServer("central-1");
  cluster.WaitUntilReady(30s);
  EXPECT_TRUE(cluster.Running("central-1"));
  EXPECT_FALSE(cluster.MetaLeader("central-1").empty());
  EXPECT_EQ(cluster.MetaLeader("central-1"), cluster.MetaLeader("east-1"));
}

TEST(SuperClusterFaults, WithoutAccountsClientsConnectWithoutCredentialsAndUseJetStream) {
  TestRunDir dir;
  NatsSuperCluster cluster(dir.path(), OneServerPerRegion());
  cluster.Start();
  EXPECT_FALSE(cluster.app_user());
  plumbing::Connection nc = plumbing::Connect(cluster.ClientUrls("east"), "", "", "no-auth");
  jsCtx* raw = nullptr;
  plumbing::Check(natsConnection_JetStream(&raw, nc.get(), nullptr), "JetStream");
  plumbing::JetStream js(raw);
  const char* subjects[] = {"noauth.>"};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "NOAUTH";
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  jsPlacement placement;
  jsPlacement_Init(&placement);
  placement.Cluster = "west";
  cfg.Placement = &placement;
  jsStreamInfo* si = nullptr;
  plumbing::Check(js_AddStream(&si, js.get(), &cfg, nullptr, nullptr), "create NOAUTH");
  ASSERT_NE(si->Cluster, nullptr);
  EXPECT_STREQ(si->Cluster->Leader, "west-1");
  jsStreamInfo_Destroy(si);
  jsPubAck* ack = nullptr;
  plumbing::Check(js_Publish(&ack, js.get(), "noauth.x", "x", 1, nullptr, nullptr), "publish");
  EXPECT_STREQ(ack->Stream, "NOAUTH");
  jsPubAck_Destroy(ack);
}

TEST(SuperClusterConfig, LinkAddressHookRedirectsEveryRouteAndGatewayUrl) {
  TestRunDir dir;
  SuperClusterOptions opts;
  opts.servers_per_region = 2;
  opts.regions = {"east", "west"};
  std::vector<std::string> links;
  opts.link_address = [&](const Link& link) {
    links.push_back(link.from.name + (link.kind == LinkKind::kRoute ? " route " : " gw ") +
                    link.to.name);
    return Endpoint{"127.0.0.9", static_cast<uint16_t>(link.kind == LinkKind::kRoute
                                                           ? link.to.cluster_port + 1
                                                           : link.to.gateway_port + 1)};
  };
  opts.advertise = [](const ServerSpec& s, LinkKind kind) -> std::optional<Endpoint> {
    if (kind == LinkKind::kGateway) return Endpoint{"127.0.0.8", s.gateway_port};
    return std::nullopt;
  };
  NatsSuperCluster cluster(dir.path(), opts);
  const ServerSpec& east1 = cluster.server("east-1");
  const std::string conf = cluster.ServerConfig(east1);
  const auto& east2 = cluster.server("east-2");
  const auto& west1 = cluster.server("west-1");
  EXPECT_NE(conf.find("\"nats-route://127.0.0.9:" + std::to_string(east2.cluster_port + 1) + "\""),
            std::string::npos)
      << conf;
  EXPECT_NE(conf.find("\"nats://127.0.0.9:" + std::to_string(west1.gateway_port + 1) + "\""),
            std::string::npos)
      << conf;
  EXPECT_NE(conf.find("advertise: \"127.0.0.8:" + std::to_string(east1.gateway_port) + "\""),
            std::string::npos)
      << conf;
  EXPECT_EQ(conf.find("127.0.0.1:" + std::to_string(east2.cluster_port)), std::string::npos);
  EXPECT_EQ(links, (std::vector<std::string>{"east-1 route east-2", "east-1 gw west-1",
                                             "east-1 gw west-2"}));
}

TEST(SuperClusterConfig, PerClusterTextGoesIntoThatClustersFilesOnly) {
  TestRunDir dir;
  SuperClusterOptions opts;
  opts.servers_per_region = 1;
  opts.app_account_config["west"] = "mappings = { \"foo.>\": \"foo.west.>\" }";
  opts.cluster_config["east"] = "max_payload: 65536";
  NatsSuperCluster cluster(dir.path(), opts);
  EXPECT_NE(cluster.AccountsConfig("west").find("\"foo.>\": \"foo.west.>\""), std::string::npos);
  EXPECT_EQ(cluster.AccountsConfig("east").find("foo.west"), std::string::npos);
  EXPECT_NE(cluster.ServerConfig(cluster.server("east-1")).find("max_payload: 65536"),
            std::string::npos);
  EXPECT_EQ(cluster.ServerConfig(cluster.server("west-1")).find("max_payload"), std::string::npos);
}

TEST(SuperClusterConfig, PerRegionAccountMappingsLoadInStockServers) {
  TestRunDir dir;
  SuperClusterOptions opts = OneServerPerRegion();
  opts.accounts = true;
  for (const auto& r : opts.regions) {
    opts.app_account_config[r] = "mappings = { \"foo.>\": \"foo." + r + ".>\" }";
  }
  NatsSuperCluster cluster(dir.path(), opts);
  cluster.Start();
  plumbing::Connection nc = plumbing::Connect(cluster.ClientUrls("west"), "app", "app", "map");
  natsSubscription* raw = nullptr;
  plumbing::Check(natsConnection_SubscribeSync(&raw, nc.get(), "foo.>"), "subscribe");
  plumbing::Subscription sub(raw);
  plumbing::Check(natsConnection_PublishString(nc.get(), "foo.test", "x"), "publish");
  natsMsg* m = nullptr;
  plumbing::Check(natsSubscription_NextMsg(&m, sub.get(), 5000), "receive");
  EXPECT_STREQ(natsMsg_GetSubject(m), "foo.west.test");
  natsMsg_Destroy(m);
}

}  // namespace
}  // namespace meridian::harness
