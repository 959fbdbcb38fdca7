// meridian-node and a stock nats-server 2.9.10 joined by a leaf-node connection, each case run
// twice: the node as the leaf (its leafnodes remote points at the stock server's
// leafnodes { listen }) and the node as the hub (a stock nats-server leaf connects to the
// node's leafnodes { listen }). The hub side has JetStream domain "hub", the leaf side "leaf";
// libnats clients on both sides check what crosses.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness/binaries.h"
#include "harness/gtest_support.h"
#include "harness/health.h"
#include "harness/http_client.h"
#include "harness/libnats_ptr.h"
#include "harness/ports.h"
#include "harness/process.h"

namespace meridian::leaf_it {
namespace {

using namespace std::chrono_literals;

using harness::Msg;
using harness::Nc;
using harness::Sub;

constexpr const char* kProbe = "probe";

std::string Data(natsMsg* m) {
  return std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
}

// Polls `cond` every 50 ms for up to 20 s.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

Nc Connect(uint16_t port) {
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  std::string url = "nats://127.0.0.1:" + std::to_string(port);
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetAllowReconnect(opts, false);
  natsOptions_SetTimeout(opts, 3000);
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) ADD_FAILURE() << "connect to " << url << ": " << natsStatus_GetText(s);
  return Nc(nc);
}

Sub Subscribe(natsConnection* nc, const char* subject, const char* queue = nullptr) {
  natsSubscription* s = nullptr;
  natsStatus st = queue ? natsConnection_QueueSubscribeSync(&s, nc, subject, queue)
                        : natsConnection_SubscribeSync(&s, nc, subject);
  EXPECT_EQ(st, NATS_OK) << subject;
  EXPECT_EQ(natsConnection_FlushTimeout(nc, 5000), NATS_OK);
  return Sub(s);
}

// The next message on `sub` that is not a probe of WaitForRoute; nullptr on timeout.
Msg Next(natsSubscription* sub, int64_t timeout_ms = 5000) {
  while (true) {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub, timeout_ms) != NATS_OK) return nullptr;
    Msg msg(m);
    if (Data(msg.get()) != kProbe) return msg;
  }
}

// Waits until a message published on `subject` through `nc` reaches some subscriber (no 503
// no-responders any more): the probes it sends carry the payload "probe", which Next skips.
bool WaitForRoute(natsConnection* nc, const char* subject) {
  return WaitFor([&] {
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_RequestString(&reply, nc, subject, kProbe, 300);
    natsMsg_Destroy(reply);
    return s != NATS_NO_RESPONDERS;
  });
}

nlohmann::json Request(natsConnection* nc, const std::string& subject, const std::string& body) {
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_Request(&reply, nc, subject.c_str(), body.data(),
                                        static_cast<int>(body.size()), 5000);
  if (s != NATS_OK) {
    ADD_FAILURE() << "request " << subject << ": " << natsStatus_GetText(s);
    return nlohmann::json();
  }
  Msg m(reply);
  return nlohmann::json::parse(Data(m.get()), nullptr, false);
}

// Which side meridian-node plays: the leaf (it solicits; the stock server listens) or the hub
// (it listens; a stock nats-server connects to it as a leaf).
enum class Role { kNodeIsLeaf, kNodeIsHub };

class LeafNode : public ::testing::TestWithParam<Role> {
 protected:
  bool node_is_hub() const { return GetParam() == Role::kNodeIsHub; }
  // JetStream domains: the hub side is "hub", the leaf side "leaf".
  std::string node_domain() const { return node_is_hub() ? "hub" : "leaf"; }
  std::string stock_domain() const { return node_is_hub() ? "leaf" : "hub"; }

  // Starts the listening side, then the soliciting one, and waits for the leaf connection
  // (the node reads nats.conf, or TOML when `toml`).
  void Start(bool toml = false) {
    stock_port_ = harness::FreeLoopbackPort();
    stock_http_ = harness::FreeLoopbackPort();
    leaf_port_ = harness::FreeLoopbackPort();
    node_port_ = harness::FreeLoopbackPort();
    node_http_ = harness::FreeLoopbackPort();
    const std::string url = "nats-leaf://127.0.0.1:" + std::to_string(leaf_port_);
    auto stock_conf = dir_.path() / "stock.conf";
    {
      std::ofstream f(stock_conf);
      f << "host: 127.0.0.1\nport: " << stock_port_ << "\nhttp: \"127.0.0.1:" << stock_http_
        << "\"\nserver_name: stock\njetstream { domain: " << stock_domain() << ", store_dir: \""
        << (dir_.path() / "stock-js").string() << "\" }\n";
      if (node_is_hub()) {
        f << "leafnodes { reconnect: 1, remotes: [ { url: \"" << url << "\" } ] }\n";
      } else {
        f << "leafnodes { listen: \"127.0.0.1:" << leaf_port_ << "\" }\n";
      }
    }
    harness::ProcessSpec stock;
    stock.argv = {harness::NatsServerBinary().string(), "-c", stock_conf.string()};
    stock.log_path = dir_.path() / "stock.log";

    std::filesystem::path node_conf;
    const std::string store = (dir_.path() / "node-js").string();
    if (toml) {
      node_conf = dir_.path() / "node.toml";
      std::ofstream f(node_conf);
      f << "server_name = \"node\"\nhost = \"127.0.0.1\"\nport = " << node_port_
        << "\nhttp_host = \"127.0.0.1\"\nhttp_port = " << node_http_ << "\n[jetstream]\ndomain = \""
        << node_domain() << "\"\nstore_dir = \"" << store << "\"\n[leafnodes]\n";
      if (node_is_hub()) {
        f << "host = \"127.0.0.1\"\nport = " << leaf_port_ << "\n";
      } else {
        f << "reconnect = \"500ms\"\n[[leafnodes.remotes]]\nurls = [\"" << url << "\"]\n";
      }
    } else {
      node_conf = dir_.path() / "node.conf";
      std::ofstream f(node_conf);
      f << "server_name: node\nhost: 127.0.0.1\nport: " << node_port_
        << "\nhttp: \"127.0.0.1:" << node_http_ << "\"\njetstream { domain: " << node_domain()
        << ", store_dir: \"" << store << "\" }\n";
      if (node_is_hub()) {
        f << "leafnodes { listen: \"127.0.0.1:" << leaf_port_ << "\" }\n";
      } else {
        f << "leafnodes {\n  reconnect: \"500ms\"\n  remotes: [ { url: \"" << url << "\" } ]\n}\n";
      }
    }
    harness::ProcessSpec node;
    node.argv = {harness::OurBinary("meridian-node").string(), "-c", node_conf.string()};
    node.log_path = dir_.path() / "node.log";

    if (node_is_hub()) {
      node_ = std::make_unique<harness::Process>(node);
      harness::WaitForHealthz(*node_, node_http_);
      stock_ = std::make_unique<harness::Process>(stock);
      harness::WaitForHealthz(*stock_, stock_http_);
    } else {
      stock_ = std::make_unique<harness::Process>(stock);
      harness::WaitForHealthz(*stock_, stock_http_);
      node_ = std::make_unique<harness::Process>(node);
      harness::WaitForHealthz(*node_, node_http_);
    }
    ASSERT_TRUE(WaitFor([&] { return StockLeafCount() == 1; }))
        << harness::WithLogTail("no leaf connection between the servers", *node_);
  }
  // The side that solicits (and reconnects) and the one that listens.
  harness::Process& listening() { return node_is_hub() ? *node_ : *stock_; }
  uint16_t listening_http() const { return node_is_hub() ? node_http_ : stock_http_; }

  // The stock server's view of the connection: its subscriptions are the node's interest.
  nlohmann::json Leafz() {
    auto r = harness::HttpGet("127.0.0.1", stock_http_, "/leafz?subs=1");
    if (r.status != 200) return nlohmann::json::object();
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_object() ? j : nlohmann::json::object();
  }
  int StockLeafCount() { return Leafz().value("leafnodes", 0); }
  // The interest the node announced to the stock.
  std::vector<std::string> StockLeafSubs() {
    std::vector<std::string> out;
    auto j = Leafz();
    if (!j.contains("leafs") || !j["leafs"].is_array() || j["leafs"].empty()) return out;
    for (const auto& s : j["leafs"][0].value("subscriptions_list", nlohmann::json::array())) {
      if (s.is_string()) out.push_back(s.get<std::string>());
    }
    return out;
  }
  // The node's /leafz?subs=1: the stock side's interest as the node holds it.
  std::vector<std::string> NodeLeafSubs() {
    std::vector<std::string> out;
    auto r = harness::HttpGet("127.0.0.1", node_http_, "/leafz?subs=1");
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("leafs") || !j["leafs"].is_array() || j["leafs"].empty()) {
      return out;
    }
    for (const auto& s : j["leafs"][0].value("subscriptions_list", nlohmann::json::array())) {
      if (s.is_string()) out.push_back(s.get<std::string>());
    }
    return out;
  }
  bool NodeSeesSub(const std::string& subject) {
    for (const auto& s : NodeLeafSubs()) {
      if (s == subject) return true;
    }
    return false;
  }
  bool StockSeesSub(const std::string& subject) {
    for (const auto& s : StockLeafSubs()) {
      if (s == subject) return true;
    }
    return false;
  }

  harness::TestRunDir dir_;
  uint16_t stock_port_ = 0, stock_http_ = 0, leaf_port_ = 0, node_port_ = 0, node_http_ = 0;
  std::unique_ptr<harness::Process> stock_, node_;
};

TEST_P(LeafNode, MessagesFlowBothWaysWithWildcardsAndHeaders) {
  Start();
  Nc node = Connect(node_port_);
  Nc stock = Connect(stock_port_);

  // Stock -> node: the node's wildcard subscription is announced with LS+.
  Sub on_node = Subscribe(node.get(), "orders.>");
  ASSERT_TRUE(WaitFor([&] { return StockSeesSub("orders.>"); }));
  ASSERT_EQ(natsConnection_PublishString(stock.get(), "orders.eu.1", "from hub"), NATS_OK);
  natsMsg* hm = nullptr;
  ASSERT_EQ(natsMsg_Create(&hm, "orders.eu.2", nullptr, "with header", 11), NATS_OK);
  natsMsgHeader_Set(hm, "X-Leaf", "hub");
  ASSERT_EQ(natsConnection_PublishMsg(stock.get(), hm), NATS_OK);
  natsMsg_Destroy(hm);
  Msg m = Next(on_node.get());
  ASSERT_TRUE(m);
  EXPECT_STREQ(natsMsg_GetSubject(m.get()), "orders.eu.1");
  EXPECT_EQ(Data(m.get()), "from hub");
  m = Next(on_node.get());
  ASSERT_TRUE(m);
  const char* value = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(m.get(), "X-Leaf", &value), NATS_OK);
  EXPECT_STREQ(value, "hub");
  EXPECT_EQ(Data(m.get()), "with header");

  // Node -> stock: the stock server's interest reaches the node (its /leafz lists it).
  Sub on_hub = Subscribe(stock.get(), "events.*");
  ASSERT_TRUE(WaitFor([&] { return NodeSeesSub("events.*"); }));
  auto varz = nlohmann::json::parse(harness::HttpGet("127.0.0.1", node_http_, "/varz").body,
                                    nullptr, false);
  EXPECT_EQ(varz.value("leafnodes", 0), 1);
  ASSERT_EQ(natsConnection_PublishString(node.get(), "events.a", "from node"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(node.get(), "events.a.b", "too deep"), NATS_OK);
  ASSERT_EQ(natsMsg_Create(&hm, "events.h", nullptr, "end", 3), NATS_OK);
  natsMsgHeader_Set(hm, "X-Leaf", "node");
  ASSERT_EQ(natsConnection_PublishMsg(node.get(), hm), NATS_OK);
  natsMsg_Destroy(hm);
  m = Next(on_hub.get());
  ASSERT_TRUE(m);
  EXPECT_STREQ(natsMsg_GetSubject(m.get()), "events.a");
  EXPECT_EQ(Data(m.get()), "from node");
  m = Next(on_hub.get());  // events.a.b does not match events.* and never arrives
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "end");
  ASSERT_EQ(natsMsgHeader_Get(m.get(), "X-Leaf", &value), NATS_OK);
  EXPECT_STREQ(value, "node");
}

TEST_P(LeafNode, QueueGroupsAcrossPreferLocalMembers) {
  Start();
  Nc node = Connect(node_port_);
  Nc stock = Connect(stock_port_);
  // Members only on the hub: everything the node publishes reaches them, once each.
  Sub h1 = Subscribe(stock.get(), "work", "workers");
  Sub h2 = Subscribe(stock.get(), "work", "workers");
  Sub marker = Subscribe(stock.get(), "marker");
  ASSERT_TRUE(WaitForRoute(node.get(), "work"));
  ASSERT_TRUE(WaitForRoute(node.get(), "marker"));
  // Drop the probes (they went to the group and to the marker subscriber).
  ASSERT_EQ(natsConnection_PublishString(node.get(), "marker", "sync"), NATS_OK);
  ASSERT_TRUE(Next(marker.get()));
  for (natsSubscription* s : {h1.get(), h2.get()}) {
    natsMsg* m = nullptr;
    while (natsSubscription_NextMsg(&m, s, 0) == NATS_OK) natsMsg_Destroy(m);
  }
  for (int i = 0; i < 40; ++i) natsConnection_PublishString(node.get(), "work", "job");
  ASSERT_EQ(natsConnection_PublishString(node.get(), "marker", "after 40"), NATS_OK);
  Msg mk = Next(marker.get());
  ASSERT_TRUE(mk);
  EXPECT_EQ(Data(mk.get()), "after 40");
  int p1 = 0, p2 = 0;
  natsSubscription_GetPending(h1.get(), &p1, nullptr);
  natsSubscription_GetPending(h2.get(), &p2, nullptr);
  EXPECT_EQ(p1 + p2, 40);

  // A member on the node too: the node's own member gets what the node publishes.
  Sub local = Subscribe(node.get(), "work", "workers");
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& s : StockLeafSubs()) {
      if (s.rfind("work", 0) == 0) return true;
    }
    return false;
  }));
  for (natsSubscription* s : {h1.get(), h2.get()}) {
    natsMsg* m = nullptr;
    while (natsSubscription_NextMsg(&m, s, 0) == NATS_OK) natsMsg_Destroy(m);
  }
  for (int i = 0; i < 40; ++i) natsConnection_PublishString(node.get(), "work", "local job");
  ASSERT_EQ(natsConnection_PublishString(node.get(), "marker", "after 80"), NATS_OK);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(Next(local.get())) << i;
  mk = Next(marker.get());
  ASSERT_TRUE(mk);
  EXPECT_EQ(Data(mk.get()), "after 80");
  natsSubscription_GetPending(h1.get(), &p1, nullptr);
  natsSubscription_GetPending(h2.get(), &p2, nullptr);
  EXPECT_EQ(p1 + p2, 0);

  // Members only on the node: what the stock publishes reaches them, once each.
  Sub n1 = Subscribe(node.get(), "jobs", "crew");
  Sub n2 = Subscribe(node.get(), "jobs", "crew");
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& s : StockLeafSubs()) {
      if (s.rfind("jobs", 0) == 0) return true;
    }
    return false;
  }));
  for (int i = 0; i < 20; ++i) natsConnection_PublishString(stock.get(), "jobs", "remote job");
  int got = 0;
  ASSERT_TRUE(WaitFor([&] {
    int a = 0, b = 0;
    natsSubscription_GetPending(n1.get(), &a, nullptr);
    natsSubscription_GetPending(n2.get(), &b, nullptr);
    got = a + b;
    return got >= 20;
  }));
  EXPECT_EQ(got, 20);
}

void Responder(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  std::string reply = "re: " + Data(msg);
  natsConnection_PublishString(nc, natsMsg_GetReply(msg), reply.c_str());
  natsMsg_Destroy(msg);
}

TEST_P(LeafNode, RequestReplyBothWays) {
  Start();
  Nc node = Connect(node_port_);
  Nc stock = Connect(stock_port_);
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&raw, stock.get(), "svc.hub", Responder, nullptr), NATS_OK);
  Sub hub_svc(raw);
  ASSERT_EQ(natsConnection_Subscribe(&raw, node.get(), "svc.node", Responder, nullptr), NATS_OK);
  Sub node_svc(raw);
  ASSERT_EQ(natsConnection_FlushTimeout(node.get(), 5000), NATS_OK);
  ASSERT_EQ(natsConnection_FlushTimeout(stock.get(), 5000), NATS_OK);

  ASSERT_TRUE(WaitForRoute(node.get(), "svc.hub"));
  natsMsg* reply = nullptr;
  ASSERT_EQ(natsConnection_RequestString(&reply, node.get(), "svc.hub", "from node", 5000),
            NATS_OK);
  EXPECT_EQ(Data(Msg(reply).get()), "re: from node");

  ASSERT_TRUE(WaitFor([&] { return StockSeesSub("svc.node"); }));
  ASSERT_EQ(natsConnection_RequestString(&reply, stock.get(), "svc.node", "from hub", 5000),
            NATS_OK);
  EXPECT_EQ(Data(Msg(reply).get()), "re: from hub");
}

TEST_P(LeafNode, UnsubscribeRemovesInterestOnBothSides) {
  Start();
  Nc node = Connect(node_port_);
  Nc stock = Connect(stock_port_);
  // The node's subscription goes away: LS- and the stock answers no-responders.
  Sub on_node = Subscribe(node.get(), "temp.node");
  ASSERT_TRUE(WaitFor([&] { return StockSeesSub("temp.node"); }));
  ASSERT_EQ(natsSubscription_Unsubscribe(on_node.get()), NATS_OK);
  ASSERT_EQ(natsConnection_FlushTimeout(node.get(), 5000), NATS_OK);
  ASSERT_TRUE(WaitFor([&] { return !StockSeesSub("temp.node"); }));
  natsMsg* reply = nullptr;
  EXPECT_EQ(natsConnection_RequestString(&reply, stock.get(), "temp.node", "x", 2000),
            NATS_NO_RESPONDERS);

  // The hub's subscription goes away: the node stops forwarding and answers no-responders.
  Sub on_hub = Subscribe(stock.get(), "temp.hub");
  ASSERT_TRUE(WaitForRoute(node.get(), "temp.hub"));
  ASSERT_EQ(natsSubscription_Unsubscribe(on_hub.get()), NATS_OK);
  ASSERT_EQ(natsConnection_FlushTimeout(stock.get(), 5000), NATS_OK);
  EXPECT_TRUE(WaitFor([&] {
    natsMsg* r = nullptr;
    natsStatus s = natsConnection_RequestString(&r, node.get(), "temp.hub", "x", 300);
    natsMsg_Destroy(r);
    return s == NATS_NO_RESPONDERS;
  }));
}

TEST_P(LeafNode, ReconnectsAfterTheListeningSideIsKilledAndRestarted) {
  Start();
  // As the leaf, the node keeps its clients while the hub is away, and announces their
  // interest again when it is back.
  Nc node;
  Sub on_node;
  if (!node_is_hub()) {
    node = Connect(node_port_);
    on_node = Subscribe(node.get(), "after.>");
    ASSERT_TRUE(WaitFor([&] { return StockSeesSub("after.>"); }));
  }
  listening().Kill();
  listening().Restart();
  harness::WaitForHealthz(listening(), listening_http());
  if (node_is_hub()) {
    node = Connect(node_port_);
    on_node = Subscribe(node.get(), "after.>");
  }
  // The leaf reconnects on its own.
  ASSERT_TRUE(WaitFor([&] { return StockSeesSub("after.>"); }))
      << harness::WithLogTail("the leaf connection did not come back", *node_);
  Nc stock = Connect(stock_port_);
  ASSERT_EQ(natsConnection_PublishString(stock.get(), "after.restart", "back"), NATS_OK);
  Msg m = Next(on_node.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "back");
  // And the stock server's interest reaches the node again.
  Sub on_stock = Subscribe(stock.get(), "again");
  ASSERT_TRUE(WaitForRoute(node.get(), "again"));
  ASSERT_EQ(natsConnection_PublishString(node.get(), "again", "both ways"), NATS_OK);
  m = Next(on_stock.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "both ways");
}

TEST_P(LeafNode, NodeClientReachesTheStockServersJetStreamThroughItsDomain) {
  Start();
  Nc stock = Connect(stock_port_);
  auto created = Request(stock.get(), "$JS.API.STREAM.CREATE.HUBS",
                         R"({"name":"HUBS","subjects":["hubs.>"],"storage":"memory"})");
  ASSERT_FALSE(created.contains("error")) << created.dump();
  Nc node = Connect(node_port_);
  ASSERT_TRUE(
      WaitForRoute(node.get(), ("$JS." + stock_domain() + ".API.STREAM.INFO.HUBS").c_str()));
  auto info = Request(node.get(), "$JS." + stock_domain() + ".API.STREAM.INFO.HUBS", "");
  ASSERT_TRUE(info.is_object());
  EXPECT_FALSE(info.contains("error")) << info.dump();
  EXPECT_EQ(info["config"].value("name", ""), "HUBS");
  // The plain API stays local: the node's own JetStream has no such stream.
  auto local = Request(node.get(), "$JS.API.STREAM.INFO.HUBS", "");
  ASSERT_TRUE(local.contains("error")) << local.dump();
  EXPECT_EQ(local["error"].value("code", 0), 404);
  // A push consumer of the stock stream delivering to a node client: the message arrives
  // under its stored subject.
  Sub deliveries = Subscribe(node.get(), "dlv.node");
  ASSERT_TRUE(WaitFor([&] { return StockSeesSub("dlv.node"); }));
  auto ack = Request(stock.get(), "hubs.1", "stored on the stock server");
  EXPECT_EQ(ack.value("stream", ""), "HUBS") << ack.dump();
  auto consumer = Request(stock.get(), "$JS.API.CONSUMER.CREATE.HUBS",
                          R"({"stream_name":"HUBS","config":{"deliver_subject":"dlv.node",)"
                          R"("ack_policy":"none","deliver_policy":"all"}})");
  ASSERT_FALSE(consumer.contains("error")) << consumer.dump();
  Msg m = Next(deliveries.get());
  ASSERT_TRUE(m);
  EXPECT_STREQ(natsMsg_GetSubject(m.get()), "hubs.1");
  EXPECT_EQ(Data(m.get()), "stored on the stock server");
}

TEST_P(LeafNode, StockClientReachesTheNodesJetStreamThroughItsDomain) {
  Start(/*toml=*/true);
  Nc node = Connect(node_port_);
  auto created = Request(node.get(), "$JS.API.STREAM.CREATE.NODES",
                         R"({"name":"NODES","subjects":["nodes.>"],"storage":"file"})");
  ASSERT_FALSE(created.contains("error")) << created.dump();
  auto ack = Request(node.get(), "nodes.1", "stored on the node");
  EXPECT_EQ(ack.value("stream", ""), "NODES") << ack.dump();
  Nc stock = Connect(stock_port_);
  ASSERT_TRUE(WaitFor([&] { return StockSeesSub("$JS." + node_domain() + ".API.STREAM.>"); }));
  auto info = Request(stock.get(), "$JS." + node_domain() + ".API.STREAM.INFO.NODES", "");
  ASSERT_TRUE(info.is_object());
  EXPECT_FALSE(info.contains("error")) << info.dump();
  EXPECT_EQ(info["config"].value("name", ""), "NODES");
  EXPECT_EQ(info["state"].value("messages", 0), 1);
  // The stock server's plain API is its own.
  auto local = Request(stock.get(), "$JS.API.STREAM.INFO.NODES", "");
  ASSERT_TRUE(local.contains("error")) << local.dump();
  EXPECT_EQ(local["error"].value("code", 0), 404);
  // A KV put through the node's domain lands in the node's bucket stream.
  auto kv = Request(node.get(), "$JS.API.STREAM.CREATE.KV_B",
                    R"({"name":"KV_B","subjects":["$KV.B.>"],"storage":"file"})");
  ASSERT_FALSE(kv.contains("error")) << kv.dump();
  auto put = Request(stock.get(), "$JS." + node_domain() + ".API.$KV.B.k1", "v1");
  EXPECT_EQ(put.value("stream", ""), "KV_B") << put.dump();
  EXPECT_EQ(put.value("seq", 0), 1) << put.dump();
  // A push consumer of the node's stream delivering to a stock client: the message arrives
  // under its stored subject.
  Sub deliveries = Subscribe(stock.get(), "dlv.stock");
  ASSERT_TRUE(WaitForRoute(node.get(), "dlv.stock"));
  auto consumer = Request(node.get(), "$JS.API.CONSUMER.CREATE.NODES",
                          R"({"stream_name":"NODES","config":{"deliver_subject":"dlv.stock",)"
                          R"("ack_policy":"explicit","deliver_policy":"all"}})");
  ASSERT_FALSE(consumer.contains("error")) << consumer.dump();
  Msg m = Next(deliveries.get());
  ASSERT_TRUE(m);
  EXPECT_STREQ(natsMsg_GetSubject(m.get()), "nodes.1");
  EXPECT_EQ(Data(m.get()), "stored on the node");
  // The stock client's ack crosses back and the node's consumer sees it.
  ASSERT_NE(natsMsg_GetReply(m.get()), nullptr);
  ASSERT_EQ(natsConnection_Publish(stock.get(), natsMsg_GetReply(m.get()), "", 0), NATS_OK);
  const std::string name = consumer.value("name", "");
  ASSERT_FALSE(name.empty()) << consumer.dump();
  EXPECT_TRUE(WaitFor([&] {
    auto ci = Request(node.get(), "$JS.API.CONSUMER.INFO.NODES." + name, "");
    return ci.value("num_ack_pending", -1) == 0 && ci["ack_floor"].value("stream_seq", 0) == 1;
  }));
  // The node announced its loop-detection subject too.
  bool lds = false;
  for (const auto& s : StockLeafSubs()) lds = lds || s.rfind("$LDS.", 0) == 0;
  EXPECT_TRUE(lds);
  // The consumer's ack interest, announced with its first delivery, is withdrawn (LS-) when
  // the consumer is deleted, as the stock server does for its own consumers (below).
  // (The stock server announces `$JS.ACK.<stream>.<consumer>.*.*.*.*.*`, the node `...>`.)
  auto has = [](const std::vector<std::string>& subs, const std::string& prefix) {
    return std::any_of(subs.begin(), subs.end(),
                       [&](const std::string& s) { return s.rfind(prefix, 0) == 0; });
  };
  const std::string node_ack = "$JS.ACK.NODES." + name + ".";
  EXPECT_TRUE(WaitFor([&] { return has(StockLeafSubs(), node_ack); }));
  auto deleted = Request(node.get(), "$JS.API.CONSUMER.DELETE.NODES." + name, "");
  ASSERT_EQ(deleted.value("success", false), true) << deleted.dump();
  EXPECT_TRUE(WaitFor([&] { return !has(StockLeafSubs(), node_ack); }))
      << nlohmann::json(StockLeafSubs()).dump();
  // The same with the stock server's consumer delivering to a node client.
  auto stk = Request(stock.get(), "$JS.API.STREAM.CREATE.STK",
                     R"({"name":"STK","subjects":["stk.>"],"storage":"memory"})");
  ASSERT_FALSE(stk.contains("error")) << stk.dump();
  auto stk_ack = Request(stock.get(), "stk.1", "stored on the stock server");
  ASSERT_EQ(stk_ack.value("seq", 0), 1) << stk_ack.dump();
  Sub node_deliveries = Subscribe(node.get(), "dlv.node");
  ASSERT_TRUE(WaitForRoute(stock.get(), "dlv.node"));
  auto stock_consumer = Request(stock.get(), "$JS.API.CONSUMER.CREATE.STK",
                                R"({"stream_name":"STK","config":{"deliver_subject":"dlv.node",)"
                                R"("ack_policy":"explicit","deliver_policy":"all"}})");
  ASSERT_FALSE(stock_consumer.contains("error")) << stock_consumer.dump();
  Msg sm = Next(node_deliveries.get());
  ASSERT_TRUE(sm);
  const std::string stock_name = stock_consumer.value("name", "");
  const std::string stock_ack = "$JS.ACK.STK." + stock_name + ".";
  EXPECT_TRUE(WaitFor([&] { return has(NodeLeafSubs(), stock_ack); }))
      << nlohmann::json(NodeLeafSubs()).dump();
  auto stock_deleted = Request(stock.get(), "$JS.API.CONSUMER.DELETE.STK." + stock_name, "");
  ASSERT_EQ(stock_deleted.value("success", false), true) << stock_deleted.dump();
  EXPECT_TRUE(WaitFor([&] { return !has(NodeLeafSubs(), stock_ack); }))
      << nlohmann::json(NodeLeafSubs()).dump();
}

// A node stream sourcing (R) and mirroring (M) the stock side's stream O through the stock
// JetStream domain, across the leaf connection (the node as the leaf and as the hub): the
// engine's deliver and API reply subjects are announced as interest, the deliveries come
// back as `<$JS.ACK reply>@<stored subject>`, and the node stores the stored subject. Every
// message once, in order, with Nats-Stream-Source; lag 0; after kill -9 of the stock server
// and more publishes, R and M resume with no gaps or duplicates.
TEST_P(LeafNode, NodeStreamSourcesAndMirrorsAStockStreamAcrossTheLeaf) {
  Start();
  const std::string api = "$JS." + stock_domain() + ".API";
  Nc stock = Connect(stock_port_);
  auto created = Request(stock.get(), "$JS.API.STREAM.CREATE.O",
                         R"({"name":"O","subjects":["o.>"],"storage":"file"})");
  ASSERT_FALSE(created.contains("error")) << created.dump();
  struct Origin {
    uint64_t seq;
    std::string subject, data;
  };
  std::vector<Origin> origin;
  int counter = 0;
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i) {
      ++counter;
      std::string subject = "o." + std::to_string(counter);
      std::string data = "m" + std::to_string(counter);
      auto ack = Request(stock.get(), subject, data);
      ASSERT_TRUE(ack.contains("seq")) << ack.dump();
      origin.push_back({ack["seq"].get<uint64_t>(), subject, data});
    }
  };
  publish(10);

  Nc node = Connect(node_port_);
  ASSERT_TRUE(WaitForRoute(node.get(), (api + ".STREAM.INFO.O").c_str()));
  auto r = Request(node.get(), "$JS.API.STREAM.CREATE.R",
                   R"({"name":"R","storage":"file","sources":[{"name":"O","external":)"
                   R"({"api":")" + api + R"(","deliver":"deliver.hub.r"}}]})");
  ASSERT_FALSE(r.contains("error")) << r.dump();
  auto m = Request(node.get(), "$JS.API.STREAM.CREATE.M",
                   R"({"name":"M","storage":"file","mirror":{"name":"O","external":)"
                   R"({"api":")" + api + R"(","deliver":"deliver.hub.m"}}})");
  ASSERT_FALSE(m.contains("error")) << m.dump();

  auto info = [&](const std::string& stream) {
    return Request(node.get(), "$JS.API.STREAM.INFO." + stream, "");
  };
  // Both caught up with the origin, lag 0.
  auto caught_up = [&] {
    auto ri = info("R");
    auto mi = info("M");
    if (!ri.contains("state") || !mi.contains("state")) return false;
    if (ri["state"].value("messages", 0u) != origin.size()) return false;
    if (mi["state"].value("last_seq", 0u) != origin.back().seq) return false;
    if (!ri.contains("sources") || ri["sources"].empty()) return false;
    if (ri["sources"][0].value("lag", 1u) != 0) return false;
    return mi.contains("mirror") && mi["mirror"].value("lag", 1u) == 0;
  };
  auto check = [&] {
    ASSERT_TRUE(WaitFor(caught_up, 60s))
        << info("R").dump() << "\n"
        << info("M").dump() << harness::WithLogTail("", *node_);
    jsCtx* ctx = nullptr;
    ASSERT_EQ(natsConnection_JetStream(&ctx, node.get(), nullptr), NATS_OK);
    for (const char* stream : {"R", "M"}) {
      const bool is_r = std::string(stream) == "R";
      for (size_t i = 0; i < origin.size(); ++i) {
        uint64_t seq = is_r ? i + 1 : origin[i].seq;
        natsMsg* got = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        ASSERT_EQ(js_GetMsg(&got, ctx, stream, seq, nullptr, &code), NATS_OK)
            << stream << " seq " << seq;
        Msg hold(got);
        EXPECT_STREQ(natsMsg_GetSubject(got), origin[i].subject.c_str()) << stream << " " << seq;
        EXPECT_EQ(Data(got), origin[i].data) << stream << " " << seq;
        const char* source = nullptr;
        if (is_r) {
          ASSERT_EQ(natsMsgHeader_Get(got, "Nats-Stream-Source", &source), NATS_OK);
          std::string s(source);
          EXPECT_TRUE(s.rfind("O:", 0) == 0) << s;
          EXPECT_TRUE(s.ends_with(" " + std::to_string(origin[i].seq))) << s;
        } else {
          EXPECT_NE(natsMsgHeader_Get(got, "Nats-Stream-Source", &source), NATS_OK);
        }
      }
      auto si = info(stream);
      EXPECT_EQ(si["state"].value("messages", 0u), origin.size()) << si.dump();
    }
    jsCtx_Destroy(ctx);
  };
  check();
  if (HasFatalFailure()) return;

  // kill -9 of the stock server (O is on file storage), then more messages.
  stock.reset();
  stock_->Kill();
  stock_->Restart();
  harness::WaitForHealthz(*stock_, stock_http_);
  ASSERT_TRUE(WaitFor([&] { return StockLeafCount() == 1; }))
      << harness::WithLogTail("the leaf connection did not come back", *node_);
  stock = Connect(stock_port_);
  publish(10);
  check();
  if (HasFatalFailure()) return;

  // The engine's deliver subjects are announced while R and M exist, withdrawn (LS-) when
  // they are deleted.
  auto announced = [&](const std::string& prefix) {
    for (const auto& s : StockLeafSubs()) {
      if (s.rfind(prefix, 0) == 0) return true;
    }
    return false;
  };
  EXPECT_TRUE(announced("deliver.hub.r.")) << nlohmann::json(StockLeafSubs()).dump();
  EXPECT_TRUE(announced("deliver.hub.m.")) << nlohmann::json(StockLeafSubs()).dump();
  for (const char* stream : {"R", "M"}) {
    auto d = Request(node.get(), std::string("$JS.API.STREAM.DELETE.") + stream, "");
    EXPECT_TRUE(d.value("success", false)) << d.dump();
  }
  EXPECT_TRUE(WaitFor([&] { return !announced("deliver.hub."); }))
      << nlohmann::json(StockLeafSubs()).dump();
}

// The reverse: a stock stream R sourcing and a stock mirror M of the node's stream O through
// the node's JetStream domain (the node's push consumers deliver across with `@<stored
// subject>`; the stock side's flow-control replies and acks come back). Every message once,
// in order; after kill -9 of the node and more publishes, no gaps or duplicates.
TEST_P(LeafNode, StockStreamSourcesAndMirrorsANodeStreamAcrossTheLeaf) {
  Start();
  const std::string api = "$JS." + node_domain() + ".API";
  Nc node = Connect(node_port_);
  auto created = Request(node.get(), "$JS.API.STREAM.CREATE.O",
                         R"({"name":"O","subjects":["o.>"],"storage":"file"})");
  ASSERT_FALSE(created.contains("error")) << created.dump();
  struct Origin {
    uint64_t seq;
    std::string subject, data;
  };
  std::vector<Origin> origin;
  int counter = 0;
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i) {
      ++counter;
      std::string subject = "o." + std::to_string(counter);
      std::string data = "m" + std::to_string(counter);
      auto ack = Request(node.get(), subject, data);
      ASSERT_TRUE(ack.contains("seq")) << ack.dump();
      origin.push_back({ack["seq"].get<uint64_t>(), subject, data});
    }
  };
  publish(10);

  Nc stock = Connect(stock_port_);
  ASSERT_TRUE(WaitForRoute(stock.get(), (api + ".STREAM.INFO.O").c_str()));
  auto r = Request(stock.get(), "$JS.API.STREAM.CREATE.R",
                   R"({"name":"R","storage":"file","sources":[{"name":"O","external":)"
                   R"({"api":")" + api + R"(","deliver":"deliver.node.r"}}]})");
  ASSERT_FALSE(r.contains("error")) << r.dump();
  auto m = Request(stock.get(), "$JS.API.STREAM.CREATE.M",
                   R"({"name":"M","storage":"file","mirror":{"name":"O","external":)"
                   R"({"api":")" + api + R"(","deliver":"deliver.node.m"}}})");
  ASSERT_FALSE(m.contains("error")) << m.dump();

  auto info = [&](const std::string& stream) {
    return Request(stock.get(), "$JS.API.STREAM.INFO." + stream, "");
  };
  auto caught_up = [&] {
    auto ri = info("R");
    auto mi = info("M");
    if (!ri.contains("state") || !mi.contains("state")) return false;
    if (ri["state"].value("messages", 0u) != origin.size()) return false;
    return mi["state"].value("last_seq", 0u) == origin.back().seq &&
           mi["state"].value("messages", 0u) == origin.size();
  };
  auto check = [&] {
    ASSERT_TRUE(WaitFor(caught_up, 60s))
        << info("R").dump() << "\n"
        << info("M").dump() << harness::WithLogTail("", *node_) << stock_->LogTail();
    jsCtx* ctx = nullptr;
    ASSERT_EQ(natsConnection_JetStream(&ctx, stock.get(), nullptr), NATS_OK);
    for (const char* stream : {"R", "M"}) {
      const bool is_r = std::string(stream) == "R";
      for (size_t i = 0; i < origin.size(); ++i) {
        uint64_t seq = is_r ? i + 1 : origin[i].seq;
        natsMsg* got = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        ASSERT_EQ(js_GetMsg(&got, ctx, stream, seq, nullptr, &code), NATS_OK)
            << stream << " seq " << seq;
        Msg hold(got);
        EXPECT_STREQ(natsMsg_GetSubject(got), origin[i].subject.c_str()) << stream << " " << seq;
        EXPECT_EQ(Data(got), origin[i].data) << stream << " " << seq;
        if (is_r) {
          const char* source = nullptr;
          ASSERT_EQ(natsMsgHeader_Get(got, "Nats-Stream-Source", &source), NATS_OK);
          EXPECT_TRUE(std::string(source).ends_with(" " + std::to_string(origin[i].seq)))
              << source;
        }
      }
    }
    jsCtx_Destroy(ctx);
  };
  check();
  if (HasFatalFailure()) return;

  // kill -9 of the node (O is on file storage), then more messages.
  node.reset();
  node_->Kill();
  node_->Restart();
  harness::WaitForHealthz(*node_, node_http_);
  ASSERT_TRUE(WaitFor([&] { return StockLeafCount() == 1; }))
      << harness::WithLogTail("the leaf connection did not come back", *node_);
  node = Connect(node_port_);
  publish(10);
  check();
}

TEST(LeafNodeConfig, UnsupportedLeafSettingsAreRefusedWithASentence) {
  harness::TestRunDir dir_;
  auto conf = dir_.path() / "listen.conf";
  {
    std::ofstream f(conf);
    f << "port: " << harness::FreeLoopbackPort()
      << "\nleafnodes { listen: \"127.0.0.1:" << harness::FreeLoopbackPort()
      << "\", authorization { user: a, password: b } }\n";
  }
  harness::ProcessSpec spec;
  spec.argv = {harness::OurBinary("meridian-node").string(), "-c", conf.string()};
  spec.log_path = dir_.path() / "listen.log";
  harness::Process p(spec);
  auto status = p.Wait(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited && status->code != 0) << status->Describe();
  EXPECT_NE(p.LogTail().find("leafnodes.authorization"), std::string::npos) << p.LogTail();
  EXPECT_NE(p.LogTail().find("not supported yet"), std::string::npos) << p.LogTail();
}

// Credentials: user and password in the remote URL, checked by the listening side.
class LeafAuth : public ::testing::Test {
 protected:
  std::unique_ptr<harness::Process> Run(const std::string& program, const std::string& name,
                                        const std::string& conf, uint16_t http) {
    auto path = dir_.path() / (name + ".conf");
    std::ofstream(path) << conf;
    harness::ProcessSpec spec;
    spec.argv = {program, "-c", path.string()};
    spec.log_path = dir_.path() / (name + ".log");
    auto p = std::make_unique<harness::Process>(spec);
    harness::WaitForHealthz(*p, http);
    return p;
  }
  static nlohmann::json Leafz(uint16_t http) {
    auto j =
        nlohmann::json::parse(harness::HttpGet("127.0.0.1", http, "/leafz").body, nullptr, false);
    return j.is_object() ? j : nlohmann::json::object();
  }
  harness::TestRunDir dir_;
};

TEST_F(LeafAuth, NodePresentsUrlCredentialsToAStockHub) {
  uint16_t leaf_port = harness::FreeLoopbackPort(), hub_http = harness::FreeLoopbackPort();
  auto hub = Run(harness::NatsServerBinary().string(), "hub",
                 "port: " + std::to_string(harness::FreeLoopbackPort()) +
                     "\nhttp: \"127.0.0.1:" + std::to_string(hub_http) +
                     "\"\nleafnodes { listen: \"127.0.0.1:" + std::to_string(leaf_port) +
                     "\", authorization { user: leafy, password: pw } }\n",
                 hub_http);
  auto node_conf = [&](const std::string& password, uint16_t http) {
    return "port: " + std::to_string(harness::FreeLoopbackPort()) +
           "\nhttp: \"127.0.0.1:" + std::to_string(http) +
           "\"\nleafnodes { remotes: [ { url: \"nats-leaf://leafy:" + password +
           "@127.0.0.1:" + std::to_string(leaf_port) + "\" } ] }\n";
  };
  // A wrong password: the hub says so and the node keeps trying.
  uint16_t bad_http = harness::FreeLoopbackPort();
  auto bad = Run(harness::OurBinary("meridian-node").string(), "bad", node_conf("nope", bad_http),
                 bad_http);
  EXPECT_TRUE(WaitFor([&] {
    return harness::TailOfFile(bad->log_path(), 50).find("Authorization Violation") !=
           std::string::npos;
  })) << bad->LogTail();
  bad->Stop();
  uint16_t good_http = harness::FreeLoopbackPort();
  auto good = Run(harness::OurBinary("meridian-node").string(), "good", node_conf("pw", good_http),
                  good_http);
  EXPECT_TRUE(WaitFor([&] { return Leafz(hub_http).value("leafnodes", 0) == 1; }))
      << good->LogTail();
}

TEST_F(LeafAuth, StockLeafAuthenticatesAsANodeUserAndIsBoundToItsAccount) {
  uint16_t leaf_port = harness::FreeLoopbackPort(), node_http = harness::FreeLoopbackPort();
  auto node = Run(harness::OurBinary("meridian-node").string(), "node",
                  "port: " + std::to_string(harness::FreeLoopbackPort()) +
                      "\nhttp: \"127.0.0.1:" + std::to_string(node_http) +
                      "\"\naccounts { APP: { users: [ {user: leafy, password: pw} ] } }\n"
                      "leafnodes { listen: \"127.0.0.1:" +
                      std::to_string(leaf_port) + "\" }\n",
                  node_http);
  uint16_t stock_http = harness::FreeLoopbackPort();
  auto stock = Run(harness::NatsServerBinary().string(), "stock",
                   "port: " + std::to_string(harness::FreeLoopbackPort()) +
                       "\nhttp: \"127.0.0.1:" + std::to_string(stock_http) +
                       "\"\nleafnodes { remotes: [ { url: \"nats-leaf://leafy:pw@127.0.0.1:" +
                       std::to_string(leaf_port) + "\" } ] }\n",
                   stock_http);
  ASSERT_TRUE(WaitFor([&] { return Leafz(node_http).value("leafnodes", 0) == 1; }))
      << node->LogTail();
  EXPECT_EQ(Leafz(node_http)["leafs"][0].value("account", ""), "APP");
}

// The node as the hub of two stock leafs: interest and messages go from one leaf to the other
// through the node (it forwards an accepted leaf's interest to the other leafs).
TEST_F(LeafAuth, NodeHubRelaysBetweenTwoStockLeafs) {
  uint16_t leaf_port = harness::FreeLoopbackPort(), node_http = harness::FreeLoopbackPort();
  auto node = Run(harness::OurBinary("meridian-node").string(), "node",
                  "port: " + std::to_string(harness::FreeLoopbackPort()) +
                      "\nhttp: \"127.0.0.1:" + std::to_string(node_http) +
                      "\"\nleafnodes { listen: \"127.0.0.1:" + std::to_string(leaf_port) + "\" }\n",
                  node_http);
  auto leaf_conf = [&](uint16_t port, uint16_t http) {
    return "port: " + std::to_string(port) + "\nhttp: \"127.0.0.1:" + std::to_string(http) +
           "\"\nleafnodes { remotes: [ { url: \"nats-leaf://127.0.0.1:" +
           std::to_string(leaf_port) + "\" } ] }\n";
  };
  uint16_t a_port = harness::FreeLoopbackPort(), a_http = harness::FreeLoopbackPort();
  uint16_t b_port = harness::FreeLoopbackPort(), b_http = harness::FreeLoopbackPort();
  auto a = Run(harness::NatsServerBinary().string(), "a", leaf_conf(a_port, a_http), a_http);
  auto b = Run(harness::NatsServerBinary().string(), "b", leaf_conf(b_port, b_http), b_http);
  ASSERT_TRUE(WaitFor([&] { return Leafz(node_http).value("leafnodes", 0) == 2; }))
      << node->LogTail();
  Nc on_a = Connect(a_port);
  Nc on_b = Connect(b_port);
  Sub sub = Subscribe(on_b.get(), "relay.x");
  ASSERT_TRUE(WaitForRoute(on_a.get(), "relay.x"));
  ASSERT_EQ(natsConnection_PublishString(on_a.get(), "relay.x", "from a to b"), NATS_OK);
  Msg m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "from a to b");
  // B's subscription goes away: A answers no-responders again.
  ASSERT_EQ(natsSubscription_Unsubscribe(sub.get()), NATS_OK);
  ASSERT_EQ(natsConnection_FlushTimeout(on_b.get(), 5000), NATS_OK);
  EXPECT_TRUE(WaitFor([&] {
    natsMsg* r = nullptr;
    natsStatus s = natsConnection_RequestString(&r, on_a.get(), "relay.x", "x", 300);
    natsMsg_Destroy(r);
    return s == NATS_NO_RESPONDERS;
  }));
}

// A CA and a certificate for localhost/127.0.0.1 it signed (openssl CLI) in `d`: ca.pem,
// server.pem, server.key.
void MakeTestPki(const std::filesystem::path& d) {
  std::filesystem::create_directories(d);
  std::ofstream(d / "ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  const std::string q = "cd '" + d.string() + "' && ";
  const char* steps[] = {
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
      "-out ca.pem -days 2 -subj '/CN=Meridian Leaf Test CA'",
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
      "-out server.csr -subj /CN=localhost",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "-out server.pem -days 2 -extfile ext.cnf",
  };
  for (const char* step : steps) {
    std::string cmd = q + step + " > openssl.log 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n"
                                           << harness::TailOfFile(d / "openssl.log", 10);
  }
}

// TLS on the leaf connection, the node on either side; a message crosses each way.
class LeafTls : public LeafAuth {
 protected:
  void Check(uint16_t node_port, uint16_t stock_port) {
    Nc node = Connect(node_port);
    Nc stock = Connect(stock_port);
    Sub on_stock = Subscribe(stock.get(), "secure.in");
    ASSERT_TRUE(WaitForRoute(node.get(), "secure.in"));
    ASSERT_EQ(natsConnection_PublishString(node.get(), "secure.in", "over tls"), NATS_OK);
    Msg m = Next(on_stock.get());
    ASSERT_TRUE(m);
    EXPECT_EQ(Data(m.get()), "over tls");
    Sub on_node = Subscribe(node.get(), "secure.out");
    ASSERT_TRUE(WaitForRoute(stock.get(), "secure.out"));
    ASSERT_EQ(natsConnection_PublishString(stock.get(), "secure.out", "back"), NATS_OK);
    m = Next(on_node.get());
    ASSERT_TRUE(m);
    EXPECT_EQ(Data(m.get()), "back");
  }
};

TEST_F(LeafTls, NodeLeafToAStockHubWithTls) {
  auto pki = dir_.path() / "pki";
  MakeTestPki(pki);
  uint16_t leaf_port = harness::FreeLoopbackPort(), hub_http = harness::FreeLoopbackPort();
  uint16_t hub_port = harness::FreeLoopbackPort(), node_port = harness::FreeLoopbackPort();
  auto hub =
      Run(harness::NatsServerBinary().string(), "hub",
          "port: " + std::to_string(hub_port) + "\nhttp: \"127.0.0.1:" + std::to_string(hub_http) +
              "\"\nleafnodes { listen: \"127.0.0.1:" + std::to_string(leaf_port) +
              "\", tls { cert_file: \"" + (pki / "server.pem").string() + "\", key_file: \"" +
              (pki / "server.key").string() + "\" } }\n",
          hub_http);
  uint16_t node_http = harness::FreeLoopbackPort();
  auto node = Run(
      harness::OurBinary("meridian-node").string(), "node",
      "port: " + std::to_string(node_port) + "\nhttp: \"127.0.0.1:" + std::to_string(node_http) +
          "\"\nleafnodes { remotes: [ { url: \"nats-leaf://localhost:" + std::to_string(leaf_port) +
          "\", tls { ca_file: \"" + (pki / "ca.pem").string() + "\" } } ] }\n",
      node_http);
  ASSERT_TRUE(WaitFor([&] { return Leafz(hub_http).value("leafnodes", 0) == 1; }))
      << node->LogTail();
  Check(node_port, hub_port);
}

TEST_F(LeafTls, StockLeafToANodeHubWithTls) {
  auto pki = dir_.path() / "pki";
  MakeTestPki(pki);
  uint16_t leaf_port = harness::FreeLoopbackPort(), node_http = harness::FreeLoopbackPort();
  uint16_t node_port = harness::FreeLoopbackPort(), stock_port = harness::FreeLoopbackPort();
  auto node = Run(harness::OurBinary("meridian-node").string(), "node",
                  "port: " + std::to_string(node_port) +
                      "\nhttp: \"127.0.0.1:" + std::to_string(node_http) +
                      "\"\nleafnodes { listen: \"127.0.0.1:" + std::to_string(leaf_port) +
                      "\", tls { cert_file: \"" + (pki / "server.pem").string() +
                      "\", key_file: \"" + (pki / "server.key").string() + "\" } }\n",
                  node_http);
  uint16_t stock_http = harness::FreeLoopbackPort();
  auto stock = Run(
      harness::NatsServerBinary().string(), "stock",
      "port: " + std::to_string(stock_port) + "\nhttp: \"127.0.0.1:" + std::to_string(stock_http) +
          "\"\nleafnodes { remotes: [ { url: \"nats-leaf://localhost:" + std::to_string(leaf_port) +
          "\", tls { ca_file: \"" + (pki / "ca.pem").string() + "\" } } ] }\n",
      stock_http);
  ASSERT_TRUE(WaitFor([&] { return Leafz(node_http).value("leafnodes", 0) == 1; }))
      << node->LogTail() << stock->LogTail();
  Check(node_port, stock_port);
}

// A leaf connection spoken by hand (the stock and the node hub are given the same one).
class RawLeaf {
 public:
  explicit RawLeaf(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawLeaf() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  void Send(const std::string& text) {
    ASSERT_EQ(write(fd_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  // Reads until `want` has arrived `times` times (true), or the far side closed / 20 s passed.
  bool ReadUntil(const std::string& want, int times = 1) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (Count(want) < times) {
      if (closed_ || std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) {
        closed_ = true;
      } else {
        in_.append(buf, static_cast<size_t>(n));
      }
    }
    return true;
  }
  // Waits for the far side to close (true) for up to 20 s.
  bool ReadUntilClosed() {
    ReadUntil(std::string(1, '\0'));  // never sent: reads until closed or the deadline
    return closed_;
  }
  const std::string& received() const { return in_; }

 private:
  int Count(const std::string& want) const {
    int n = 0;
    for (size_t at = in_.find(want); at != std::string::npos; at = in_.find(want, at + 1)) ++n;
    return n;
  }
  int fd_ = -1;
  bool closed_ = false;
  std::string in_;
};

// As nats-server 2.9.10 (processLeafSub): a leaf's LS+ for a literal subject the hub may not
// send it (its CONNECT deny_pub) gets -ERR 'Permissions Violation for Subscription to "..."'
// and the connection is closed; a wildcard over such subjects, and allowed subjects, are fine.
class LeafSubPermissions : public LeafAuth, public ::testing::WithParamInterface<bool> {};

TEST_P(LeafSubPermissions, LiteralSubjectTheHubMayNotSendClosesTheLeaf) {
  const bool node_hub = GetParam();
  uint16_t leaf_port = harness::FreeLoopbackPort(), http = harness::FreeLoopbackPort();
  auto hub = Run(node_hub ? harness::OurBinary("meridian-node").string()
                          : harness::NatsServerBinary().string(),
                 "hub",
                 "port: " + std::to_string(harness::FreeLoopbackPort()) +
                     "\nhttp: \"127.0.0.1:" + std::to_string(http) +
                     "\"\nleafnodes { listen: \"127.0.0.1:" + std::to_string(leaf_port) + "\" }\n",
                 http);
  RawLeaf leaf(leaf_port);
  ASSERT_TRUE(leaf.ok());
  ASSERT_TRUE(leaf.ReadUntil("\r\n")) << leaf.received();  // INFO
  leaf.Send(R"(CONNECT {"name":"rawleaf","deny_pub":["secret.>"]})"
            "\r\nPING\r\n");
  ASSERT_TRUE(leaf.ReadUntil("PONG\r\n")) << leaf.received() << hub->LogTail();
  ASSERT_TRUE(WaitFor([&] { return Leafz(http).value("leafnodes", 0) == 1; }));
  leaf.Send("LS+ secret.*\r\nLS+ open.x\r\nPING\r\n");  // allowed: the connection stays
  ASSERT_TRUE(leaf.ReadUntil("PONG\r\n", 2)) << leaf.received();
  EXPECT_EQ(leaf.received().find("-ERR"), std::string::npos) << leaf.received();
  leaf.Send("LS+ secret.x\r\n");
  EXPECT_TRUE(leaf.ReadUntilClosed()) << leaf.received();
  EXPECT_NE(leaf.received().find("-ERR 'Permissions Violation for Subscription to \"secret.x\"'"),
            std::string::npos)
      << leaf.received();
  EXPECT_TRUE(WaitFor([&] { return Leafz(http).value("leafnodes", 0) == 0; }));
}

INSTANTIATE_TEST_SUITE_P(Hubs, LeafSubPermissions, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "NodeHub" : "StockHub");
                         });

INSTANTIATE_TEST_SUITE_P(Roles, LeafNode, ::testing::Values(Role::kNodeIsLeaf, Role::kNodeIsHub),
                         [](const ::testing::TestParamInfo<Role>& info) {
                           return std::string(info.param == Role::kNodeIsLeaf ? "NodeIsLeaf"
                                                                              : "NodeIsHub");
                         });

}  // namespace
}  // namespace meridian::leaf_it
