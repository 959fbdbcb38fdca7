// meridian-node as a leaf node of a stock nats-server 2.9.10 hub: every case starts the hub
// (leafnodes { listen }, JetStream domain "hub") and a meridian-node whose leafnodes remote
// points at it (JetStream domain "leaf"), then checks with libnats clients on both sides.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <chrono>
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
#include "harness/ports.h"
#include "harness/process.h"

namespace meridian::leaf_it {
namespace {

using namespace std::chrono_literals;

struct NcDeleter {
  void operator()(natsConnection* c) const { natsConnection_Destroy(c); }
};
struct SubDeleter {
  void operator()(natsSubscription* s) const { natsSubscription_Destroy(s); }
};
struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using Nc = std::unique_ptr<natsConnection, NcDeleter>;
using Sub = std::unique_ptr<natsSubscription, SubDeleter>;
using Msg = std::unique_ptr<natsMsg, MsgDeleter>;

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

class LeafNode : public ::testing::Test {
 protected:
  // Starts the hub, then the node (nats.conf, or TOML when `toml`), and waits for the leaf.
  void Start(bool toml = false) {
    hub_port_ = harness::FreeLoopbackPort();
    hub_http_ = harness::FreeLoopbackPort();
    leaf_port_ = harness::FreeLoopbackPort();
    node_port_ = harness::FreeLoopbackPort();
    node_http_ = harness::FreeLoopbackPort();
    auto hub_conf = dir_.path() / "hub.conf";
    {
      std::ofstream f(hub_conf);
      f << "host: 127.0.0.1\nport: " << hub_port_ << "\nhttp: \"127.0.0.1:" << hub_http_
        << "\"\nserver_name: hub\njetstream { domain: hub, store_dir: \""
        << (dir_.path() / "hub-js").string() << "\" }\nleafnodes { listen: \"127.0.0.1:"
        << leaf_port_ << "\" }\n";
    }
    harness::ProcessSpec hub;
    hub.argv = {harness::NatsServerBinary().string(), "-c", hub_conf.string()};
    hub.log_path = dir_.path() / "hub.log";
    hub_ = std::make_unique<harness::Process>(hub);
    harness::WaitForHealthz(*hub_, hub_http_);

    std::filesystem::path node_conf;
    const std::string url = "nats-leaf://127.0.0.1:" + std::to_string(leaf_port_);
    const std::string store = (dir_.path() / "node-js").string();
    if (toml) {
      node_conf = dir_.path() / "node.toml";
      std::ofstream f(node_conf);
      f << "server_name = \"leafnode\"\nhost = \"127.0.0.1\"\nport = " << node_port_
        << "\nhttp_host = \"127.0.0.1\"\nhttp_port = " << node_http_
        << "\n[jetstream]\ndomain = \"leaf\"\nstore_dir = \"" << store
        << "\"\n[leafnodes]\nreconnect = \"500ms\"\n[[leafnodes.remotes]]\nurls = [\"" << url
        << "\"]\n";
    } else {
      node_conf = dir_.path() / "node.conf";
      std::ofstream f(node_conf);
      f << "server_name: leafnode\nhost: 127.0.0.1\nport: " << node_port_
        << "\nhttp: \"127.0.0.1:" << node_http_ << "\"\njetstream { domain: leaf, store_dir: \""
        << store << "\" }\nleafnodes {\n  reconnect: \"500ms\"\n  remotes: [ { url: \"" << url
        << "\" } ]\n}\n";
    }
    harness::ProcessSpec node;
    node.argv = {harness::OurBinary("meridian-node").string(), "-c", node_conf.string()};
    node.log_path = dir_.path() / "node.log";
    node_ = std::make_unique<harness::Process>(node);
    harness::WaitForHealthz(*node_, node_http_);
    ASSERT_TRUE(WaitFor([&] { return HubLeafCount() == 1; }))
        << harness::WithLogTail("the node never connected to the hub", *node_);
  }

  nlohmann::json Leafz() {
    auto r = harness::HttpGet("127.0.0.1", hub_http_, "/leafz?subs=1");
    if (r.status != 200) return nlohmann::json::object();
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_object() ? j : nlohmann::json::object();
  }
  int HubLeafCount() { return Leafz().value("leafnodes", 0); }
  // The interest the node announced to the hub.
  std::vector<std::string> HubLeafSubs() {
    std::vector<std::string> out;
    auto j = Leafz();
    if (!j.contains("leafs") || !j["leafs"].is_array() || j["leafs"].empty()) return out;
    for (const auto& s : j["leafs"][0].value("subscriptions_list", nlohmann::json::array())) {
      if (s.is_string()) out.push_back(s.get<std::string>());
    }
    return out;
  }
  bool HubSeesLeafSub(const std::string& subject) {
    for (const auto& s : HubLeafSubs()) {
      if (s == subject) return true;
    }
    return false;
  }

  harness::TestRunDir dir_;
  uint16_t hub_port_ = 0, hub_http_ = 0, leaf_port_ = 0, node_port_ = 0, node_http_ = 0;
  std::unique_ptr<harness::Process> hub_, node_;
};

TEST_F(LeafNode, MessagesFlowBothWaysWithWildcardsAndHeaders) {
  Start();
  Nc node = Connect(node_port_);
  Nc hub = Connect(hub_port_);

  // Hub -> node: the node's wildcard subscription is announced with LS+.
  Sub on_node = Subscribe(node.get(), "orders.>");
  ASSERT_TRUE(WaitFor([&] { return HubSeesLeafSub("orders.>"); }));
  ASSERT_EQ(natsConnection_PublishString(hub.get(), "orders.eu.1", "from hub"), NATS_OK);
  natsMsg* hm = nullptr;
  ASSERT_EQ(natsMsg_Create(&hm, "orders.eu.2", nullptr, "with header", 11), NATS_OK);
  natsMsgHeader_Set(hm, "X-Leaf", "hub");
  ASSERT_EQ(natsConnection_PublishMsg(hub.get(), hm), NATS_OK);
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

  // Node -> hub: the hub's interest reaches the node.
  Sub on_hub = Subscribe(hub.get(), "events.*");
  ASSERT_TRUE(WaitForRoute(node.get(), "events.probe"));
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

TEST_F(LeafNode, QueueGroupsAcrossPreferLocalMembers) {
  Start();
  Nc node = Connect(node_port_);
  Nc hub = Connect(hub_port_);
  // Members only on the hub: everything the node publishes reaches them, once each.
  Sub h1 = Subscribe(hub.get(), "work", "workers");
  Sub h2 = Subscribe(hub.get(), "work", "workers");
  Sub marker = Subscribe(hub.get(), "marker");
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
    for (const auto& s : HubLeafSubs()) {
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

  // Members only on the node: what the hub publishes reaches them, once each.
  Sub n1 = Subscribe(node.get(), "jobs", "crew");
  Sub n2 = Subscribe(node.get(), "jobs", "crew");
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& s : HubLeafSubs()) {
      if (s.rfind("jobs", 0) == 0) return true;
    }
    return false;
  }));
  for (int i = 0; i < 20; ++i) natsConnection_PublishString(hub.get(), "jobs", "remote job");
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

TEST_F(LeafNode, RequestReplyBothWays) {
  Start();
  Nc node = Connect(node_port_);
  Nc hub = Connect(hub_port_);
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&raw, hub.get(), "svc.hub", Responder, nullptr), NATS_OK);
  Sub hub_svc(raw);
  ASSERT_EQ(natsConnection_Subscribe(&raw, node.get(), "svc.node", Responder, nullptr), NATS_OK);
  Sub node_svc(raw);
  ASSERT_EQ(natsConnection_FlushTimeout(node.get(), 5000), NATS_OK);
  ASSERT_EQ(natsConnection_FlushTimeout(hub.get(), 5000), NATS_OK);

  ASSERT_TRUE(WaitForRoute(node.get(), "svc.hub"));
  natsMsg* reply = nullptr;
  ASSERT_EQ(natsConnection_RequestString(&reply, node.get(), "svc.hub", "from node", 5000),
            NATS_OK);
  EXPECT_EQ(Data(Msg(reply).get()), "re: from node");

  ASSERT_TRUE(WaitFor([&] { return HubSeesLeafSub("svc.node"); }));
  ASSERT_EQ(natsConnection_RequestString(&reply, hub.get(), "svc.node", "from hub", 5000),
            NATS_OK);
  EXPECT_EQ(Data(Msg(reply).get()), "re: from hub");
}

TEST_F(LeafNode, UnsubscribeRemovesInterestOnBothSides) {
  Start();
  Nc node = Connect(node_port_);
  Nc hub = Connect(hub_port_);
  // The node's subscription goes away: LS- and the hub answers no-responders.
  Sub on_node = Subscribe(node.get(), "temp.node");
  ASSERT_TRUE(WaitFor([&] { return HubSeesLeafSub("temp.node"); }));
  ASSERT_EQ(natsSubscription_Unsubscribe(on_node.get()), NATS_OK);
  ASSERT_EQ(natsConnection_FlushTimeout(node.get(), 5000), NATS_OK);
  ASSERT_TRUE(WaitFor([&] { return !HubSeesLeafSub("temp.node"); }));
  natsMsg* reply = nullptr;
  EXPECT_EQ(natsConnection_RequestString(&reply, hub.get(), "temp.node", "x", 2000),
            NATS_NO_RESPONDERS);

  // The hub's subscription goes away: the node stops forwarding and answers no-responders.
  Sub on_hub = Subscribe(hub.get(), "temp.hub");
  ASSERT_TRUE(WaitForRoute(node.get(), "temp.hub"));
  ASSERT_EQ(natsSubscription_Unsubscribe(on_hub.get()), NATS_OK);
  ASSERT_EQ(natsConnection_FlushTimeout(hub.get(), 5000), NATS_OK);
  EXPECT_TRUE(WaitFor([&] {
    natsMsg* r = nullptr;
    natsStatus s = natsConnection_RequestString(&r, node.get(), "temp.hub", "x", 300);
    natsMsg_Destroy(r);
    return s == NATS_NO_RESPONDERS;
  }));
}

TEST_F(LeafNode, ReconnectsAfterTheHubIsKilledAndRestarted) {
  Start();
  Nc node = Connect(node_port_);
  Sub on_node = Subscribe(node.get(), "after.>");
  ASSERT_TRUE(WaitFor([&] { return HubSeesLeafSub("after.>"); }));
  hub_->Kill();
  hub_->Restart();
  harness::WaitForHealthz(*hub_, hub_http_);
  // The node reconnects on its own and announces its interest again.
  ASSERT_TRUE(WaitFor([&] { return HubSeesLeafSub("after.>"); }))
      << harness::WithLogTail("the node did not come back", *node_);
  Nc hub = Connect(hub_port_);
  ASSERT_EQ(natsConnection_PublishString(hub.get(), "after.restart", "back"), NATS_OK);
  Msg m = Next(on_node.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "back");
  // And the hub's interest reaches the node again.
  Sub on_hub = Subscribe(hub.get(), "again");
  ASSERT_TRUE(WaitForRoute(node.get(), "again"));
  ASSERT_EQ(natsConnection_PublishString(node.get(), "again", "both ways"), NATS_OK);
  m = Next(on_hub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "both ways");
}

TEST_F(LeafNode, NodeClientReachesHubJetStreamThroughItsDomain) {
  Start();
  Nc hub = Connect(hub_port_);
  auto created = Request(hub.get(), "$JS.API.STREAM.CREATE.HUBS",
                         R"({"name":"HUBS","subjects":["hubs.>"],"storage":"memory"})");
  ASSERT_FALSE(created.contains("error")) << created.dump();
  Nc node = Connect(node_port_);
  ASSERT_TRUE(WaitForRoute(node.get(), "$JS.hub.API.STREAM.INFO.HUBS"));
  auto info = Request(node.get(), "$JS.hub.API.STREAM.INFO.HUBS", "");
  ASSERT_TRUE(info.is_object());
  EXPECT_FALSE(info.contains("error")) << info.dump();
  EXPECT_EQ(info["config"].value("name", ""), "HUBS");
  // The plain API stays local: the node's own JetStream has no such stream.
  auto local = Request(node.get(), "$JS.API.STREAM.INFO.HUBS", "");
  ASSERT_TRUE(local.contains("error")) << local.dump();
  EXPECT_EQ(local["error"].value("code", 0), 404);
}

TEST_F(LeafNode, HubClientReachesNodeJetStreamThroughItsDomain) {
  Start(/*toml=*/true);
  Nc node = Connect(node_port_);
  auto created = Request(node.get(), "$JS.API.STREAM.CREATE.NODES",
                         R"({"name":"NODES","subjects":["nodes.>"],"storage":"file"})");
  ASSERT_FALSE(created.contains("error")) << created.dump();
  auto ack = Request(node.get(), "nodes.1", "stored on the node");
  EXPECT_EQ(ack.value("stream", ""), "NODES") << ack.dump();
  Nc hub = Connect(hub_port_);
  ASSERT_TRUE(WaitFor([&] { return HubSeesLeafSub("$JS.leaf.API.STREAM.>"); }));
  auto info = Request(hub.get(), "$JS.leaf.API.STREAM.INFO.NODES", "");
  ASSERT_TRUE(info.is_object());
  EXPECT_FALSE(info.contains("error")) << info.dump();
  EXPECT_EQ(info["config"].value("name", ""), "NODES");
  EXPECT_EQ(info["state"].value("messages", 0), 1);
  // The hub's plain API is its own.
  auto local = Request(hub.get(), "$JS.API.STREAM.INFO.NODES", "");
  ASSERT_TRUE(local.contains("error")) << local.dump();
  EXPECT_EQ(local["error"].value("code", 0), 404);
  // The node announced its loop-detection subject too.
  bool lds = false;
  for (const auto& s : HubLeafSubs()) lds = lds || s.rfind("$LDS.", 0) == 0;
  EXPECT_TRUE(lds);
}

TEST_F(LeafNode, AcceptingLeafConnectionsIsRefusedWithASentence) {
  auto conf = dir_.path() / "listen.conf";
  {
    std::ofstream f(conf);
    f << "port: " << harness::FreeLoopbackPort() << "\nleafnodes { listen: \"127.0.0.1:"
      << harness::FreeLoopbackPort() << "\" }\n";
  }
  harness::ProcessSpec spec;
  spec.argv = {harness::OurBinary("meridian-node").string(), "-c", conf.string()};
  spec.log_path = dir_.path() / "listen.log";
  harness::Process p(spec);
  auto status = p.Wait(20s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited && status->code != 0) << status->Describe();
  EXPECT_NE(p.LogTail().find("accepting leaf-node connections is not supported"),
            std::string::npos)
      << p.LogTail();
}

}  // namespace
}  // namespace meridian::leaf_it
