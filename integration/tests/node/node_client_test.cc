// Real clients against meridian-node and the stock nats-server: every case runs against both.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "harness/gtest_support.h"
#include "harness/http_client.h"
#include "harness/libnats_ptr.h"
#include "harness/node_script.h"
#include "node_world.h"

namespace meridian::node_it {
namespace {

using namespace std::chrono_literals;

using harness::Msg;
using harness::Nc;
using harness::Sub;

class NodeClients : public ::testing::TestWithParam<ServerKind> {
 protected:
  void Start(bool auth) { server_ = std::make_unique<TestServer>(GetParam(), dir_.path(), auth); }
  Nc Connect(const char* user = "app", const char* pass = "app", ErrorLog* errors = nullptr) {
    Nc nc;
    natsStatus s = ConnectTo(server_->url(), user, pass, nc, errors);
    if (s != NATS_OK) ADD_FAILURE() << "connect: " << natsStatus_GetText(s);
    return nc;
  }
  harness::TestRunDir dir_;
  std::unique_ptr<TestServer> server_;
};

std::string Data(natsMsg* m) {
  return std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
}

TEST_P(NodeClients, WildcardSubscriptionsReceiveMatchingPublishes) {
  Start(false);
  Nc nc = Connect(nullptr, nullptr);
  natsSubscription* raw_star = nullptr;
  natsSubscription* raw_full = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&raw_star, nc.get(), "orders.*"), NATS_OK);
  ASSERT_EQ(natsConnection_SubscribeSync(&raw_full, nc.get(), "orders.>"), NATS_OK);
  Sub star(raw_star), full(raw_full);
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "orders.a.b", "deep"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "orders.a", "shallow"), NATS_OK);
  natsMsg* m = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&m, full.get(), 2000), NATS_OK);
  EXPECT_EQ(Data(Msg(m).get()), "deep");
  ASSERT_EQ(natsSubscription_NextMsg(&m, full.get(), 2000), NATS_OK);
  Msg(m).reset();
  ASSERT_EQ(natsSubscription_NextMsg(&m, star.get(), 2000), NATS_OK);
  EXPECT_EQ(Data(Msg(m).get()), "shallow");
  EXPECT_EQ(natsSubscription_NextMsg(&m, star.get(), 200), NATS_TIMEOUT);
}

TEST_P(NodeClients, QueueGroupSharesMessagesBetweenMembers) {
  Start(false);
  Nc nc = Connect(nullptr, nullptr);
  natsSubscription *a = nullptr, *b = nullptr;
  ASSERT_EQ(natsConnection_QueueSubscribeSync(&a, nc.get(), "work", "workers"), NATS_OK);
  ASSERT_EQ(natsConnection_QueueSubscribeSync(&b, nc.get(), "work", "workers"), NATS_OK);
  Sub sa(a), sb(b);
  for (int i = 0; i < 200; ++i) natsConnection_PublishString(nc.get(), "work", "job");
  ASSERT_EQ(natsConnection_FlushTimeout(nc.get(), 2000), NATS_OK);
  std::this_thread::sleep_for(100ms);
  int pa = 0, pb = 0;
  natsSubscription_GetPending(sa.get(), &pa, nullptr);
  natsSubscription_GetPending(sb.get(), &pb, nullptr);
  EXPECT_EQ(pa + pb, 200);
  EXPECT_GT(pa, 50);
  EXPECT_GT(pb, 50);
}

void Responder(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  std::string reply = "re: " + Data(msg);
  natsConnection_PublishString(nc, natsMsg_GetReply(msg), reply.c_str());
  natsMsg_Destroy(msg);
}

TEST_P(NodeClients, RequestGetsTheResponderReply) {
  Start(false);
  Nc nc = Connect(nullptr, nullptr);
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&raw, nc.get(), "svc.echo", Responder, nullptr), NATS_OK);
  Sub svc(raw);
  natsMsg* reply = nullptr;
  ASSERT_EQ(natsConnection_RequestString(&reply, nc.get(), "svc.echo", "ping", 2000), NATS_OK);
  EXPECT_EQ(Data(Msg(reply).get()), "re: ping");
}

TEST_P(NodeClients, RequestWithoutRespondersFailsFastWithNoResponders) {
  Start(false);
  Nc nc = Connect(nullptr, nullptr);
  natsMsg* reply = nullptr;
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(natsConnection_RequestString(&reply, nc.get(), "svc.nobody", "x", 3000),
            NATS_NO_RESPONDERS);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST_P(NodeClients, HeadersTravelWithTheMessage) {
  Start(false);
  Nc nc = Connect(nullptr, nullptr);
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&raw, nc.get(), "h"), NATS_OK);
  Sub sub(raw);
  natsMsg* out = nullptr;
  natsMsg_Create(&out, "h", nullptr, "body", 4);
  natsMsgHeader_Set(out, "Trace-Id", "abc");
  ASSERT_EQ(natsConnection_PublishMsg(nc.get(), out), NATS_OK);
  natsMsg_Destroy(out);
  natsMsg* in = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&in, sub.get(), 2000), NATS_OK);
  Msg m(in);
  const char* v = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(m.get(), "Trace-Id", &v), NATS_OK);
  EXPECT_STREQ(v, "abc");
  EXPECT_EQ(Data(m.get()), "body");
}

TEST_P(NodeClients, RightPasswordConnectsAndWrongPasswordIsRefused) {
  Start(true);
  Nc good = Connect("app", "app");
  EXPECT_NE(good, nullptr);
  Nc bad;
  EXPECT_NE(ConnectTo(server_->url(), "app", "wrong", bad), NATS_OK);
  Nc none;
  EXPECT_NE(ConnectTo(server_->url(), nullptr, nullptr, none), NATS_OK);
}

TEST_P(NodeClients, PublishOutsideAllowListIsReportedAndConnectionStays) {
  Start(true);
  ErrorLog errors;
  Nc nc = Connect("limited", "limited", &errors);
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "denied.x", "no"), NATS_OK);
  natsConnection_FlushTimeout(nc.get(), 2000);
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard<std::mutex> lock(errors.mu);
    EXPECT_NE(errors.last.find("Permissions Violation for Publish to \"denied.x\""),
              std::string::npos)
        << errors.last;
  }
  EXPECT_EQ(natsConnection_FlushTimeout(nc.get(), 2000), NATS_OK);
  EXPECT_FALSE(natsConnection_IsClosed(nc.get()));
}

TEST_P(NodeClients, SubscribeToDeniedSubjectIsReported) {
  Start(true);
  ErrorLog errors;
  Nc nc = Connect("limited", "limited", &errors);
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&raw, nc.get(), "secret.plans"), NATS_OK);
  Sub sub(raw);
  natsConnection_FlushTimeout(nc.get(), 2000);
  std::this_thread::sleep_for(200ms);
  std::lock_guard<std::mutex> lock(errors.mu);
  EXPECT_NE(errors.last.find("Permissions Violation for Subscription to \"secret.plans\""),
            std::string::npos)
      << errors.last;
}

TEST_P(NodeClients, HealthzAnswersOk) {
  Start(false);
  auto r = harness::HttpGet("127.0.0.1", server_->http_port(), "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"status\":\"ok\""), std::string::npos) << r.body;
}

TEST_P(NodeClients, NatsJsClientPassesItsCoreChecks) {
  Start(true);
  auto r = harness::RunNodeScript("node_core", {"--url", server_->url()},
                                  dir_.path() / "node_core.log", 30s);
  EXPECT_TRUE(r.ok()) << r.Describe();
}

INSTANTIATE_TEST_SUITE_P(BothServers, NodeClients,
                         ::testing::Values(ServerKind::kMeridianNode, ServerKind::kNatsServer,
                                           ServerKind::kMeridianNodeNatsConf),
                         [](const auto& info) { return KindName(info.param); });

}  // namespace
}  // namespace meridian::node_it
