// nats-server's $SYS.REQ services (node/monitor/sys_requests.h) through raw sockets.
#include "monitor/sys_requests.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "monitor/monitor.h"
#include "net/listener.h"
#include "net/loop.h"
#include "raw_client.h"
#include "server/server.h"

namespace meridian::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class SysRequestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.server_name = "n1";
    o.cluster_name = "east";
    o.accounts.push_back({"APP", {}});
    o.users.push_back({"sys", "sys", "$SYS", {}});
    o.users.push_back({"app", "app", "APP", {}});
    server_ = std::make_unique<Server>(loop_, std::move(o));
    ASSERT_TRUE(server_->Start().ok());
    sys_ = std::make_unique<monitor::SysRequests>(*server_, 8222);
  }
  void TearDown() override {
    sys_.reset();
    server_.reset();
  }
  std::unique_ptr<RawClient> Login(const std::string& user) {
    auto c = std::make_unique<RawClient>(loop_, server_->port());
    c->Send("CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true,\"user\":\"" +
            user + "\",\"pass\":\"" + user + "\"}\r\nSUB _INBOX.r 1\r\nPING\r\n");
    EXPECT_TRUE(c->WaitFor("PONG\r\n"));
    c->received().clear();
    return c;
  }
  // Publishes a request with reply _INBOX.r, then a PING: the server answers in handling the
  // publish, so everything it answers arrives before the PONG. Returns what arrived.
  static std::string Ask(RawClient& c, const std::string& subject, const std::string& body = "") {
    c.received().clear();
    c.Send("PUB " + subject + " _INBOX.r " + std::to_string(body.size()) + "\r\n" + body +
           "\r\nPING\r\n");
    EXPECT_TRUE(c.WaitFor("PONG\r\n")) << c.received();
    return c.received();
  }
  // The JSON payload of the (one) MSG in `received`, or null.
  static json Reply(const std::string& received) {
    auto at = received.find("MSG _INBOX.r 1 ");
    if (at == std::string::npos) return nullptr;
    auto line_end = received.find("\r\n", at);
    size_t size = std::stoul(received.substr(received.rfind(' ', line_end) + 1));
    return json::parse(received.substr(line_end + 2, size));
  }
  net::Loop loop_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<monitor::SysRequests> sys_;
};

TEST_F(SysRequestsTest, PingAnswersStatszInNatsServersEnvelope) {
  auto sys = Login("sys");
  json r = Reply(Ask(*sys, "$SYS.REQ.SERVER.PING"));
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r["server"]["name"], "n1");
  EXPECT_EQ(r["server"]["id"], server_->server_id());
  EXPECT_EQ(r["server"]["cluster"], "east");
  EXPECT_EQ(r["server"]["ver"], "2.9.10");
  EXPECT_EQ(r["server"]["jetstream"], false);
  EXPECT_EQ(r["statsz"]["connections"], 1);
  EXPECT_EQ(r["statsz"]["active_servers"], 1);
  uint64_t seq = r["server"]["seq"];
  // A second ping: a new sequence number, and the new connection counted.
  auto app = Login("app");
  json again = Reply(Ask(*sys, "$SYS.REQ.SERVER.PING.STATSZ"));
  EXPECT_GT(again["server"]["seq"].get<uint64_t>(), seq);
  EXPECT_EQ(again["statsz"]["connections"], 2);
  EXPECT_EQ(again["statsz"]["active_accounts"], 2);
}

TEST_F(SysRequestsTest, DirectRequestsNameThisServersIdOnly) {
  auto sys = Login("sys");
  json varz = Reply(Ask(*sys, "$SYS.REQ.SERVER." + server_->server_id() + ".VARZ"));
  EXPECT_EQ(varz["data"]["server_name"], "n1");
  EXPECT_EQ(varz["data"]["http_port"], 8222);
  json health = Reply(Ask(*sys, "$SYS.REQ.SERVER." + server_->server_id() + ".HEALTHZ"));
  EXPECT_EQ(health["data"]["status"], "ok");
  std::string other = Ask(*sys, "$SYS.REQ.SERVER.NOTTHISSERVER.VARZ");
  EXPECT_NE(other.find("503"), std::string::npos) << other;
  std::string unknown = Ask(*sys, "$SYS.REQ.SERVER.PING.IDZ");  // not in 2.9.10
  EXPECT_NE(unknown.find("503"), std::string::npos) << unknown;
}

TEST_F(SysRequestsTest, OtherAccountsHaveOnlyTheirOwnConnz) {
  auto sys = Login("sys");
  auto app = Login("app");
  for (const char* subject :
       {"$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.VARZ", "$SYS.REQ.ACCOUNT.APP.CONNZ"}) {
    std::string got = Ask(*app, subject);
    EXPECT_NE(got.find("HMSG _INBOX.r 1 "), std::string::npos) << subject << ": " << got;
    EXPECT_NE(got.find("503"), std::string::npos) << subject << ": " << got;
  }
  for (const char* subject : {"$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.CONNZ"}) {
    json connz = Reply(Ask(*app, subject));
    ASSERT_EQ(connz["data"]["connections"].size(), 1u) << connz;
    EXPECT_EQ(connz["data"]["total"], 1);
  }
  // The system account sees both, or one account's with a filter.
  EXPECT_EQ(Reply(Ask(*sys, "$SYS.REQ.SERVER.PING.CONNZ"))["data"]["total"], 2);
  json filtered = Reply(Ask(*sys, "$SYS.REQ.SERVER.PING.CONNZ", R"({"acc":"APP","auth":true})"));
  ASSERT_EQ(filtered["data"]["connections"].size(), 1u) << filtered;
  EXPECT_EQ(filtered["data"]["connections"][0]["authorized_user"], "app");
  EXPECT_EQ(filtered["data"]["connections"][0]["account"], "APP");
  json by_account = Reply(Ask(*sys, "$SYS.REQ.ACCOUNT.APP.CONNZ"));
  EXPECT_EQ(by_account["data"]["total"], 1);
}

TEST_F(SysRequestsTest, ConnzSortsStatesAndDetailsAsNatsServer) {
  auto sys = Login("sys");
  auto app = Login("app");
  app->Send("SUB a 2\r\nSUB b 3\r\nSUB c q 4\r\nPING\r\n");
  ASSERT_TRUE(app->WaitFor("PONG\r\n"));
  // By cid, sys (connected first) comes first; by subscriptions, app (4) before sys (1).
  json by_cid = Reply(Ask(*sys, "$SYS.REQ.SERVER.PING.CONNZ"));
  json by_subs = Reply(Ask(*sys, "$SYS.REQ.SERVER.PING.CONNZ", R"({"sort":"subs"})"));
  ASSERT_EQ(by_subs["data"]["connections"].size(), 2u) << by_subs;
  EXPECT_EQ(by_subs["data"]["connections"][0]["subscriptions"], 4) << by_subs;
  EXPECT_EQ(by_subs["data"]["connections"][0]["cid"], by_cid["data"]["connections"][1]["cid"]);
  // No closed connections are kept.
  json closed = Reply(Ask(*sys, "$SYS.REQ.SERVER.PING.CONNZ", R"({"state":1})"));
  EXPECT_EQ(closed["data"]["total"], 0) << closed;
  EXPECT_TRUE(closed["data"]["connections"].empty()) << closed;
  json bad = Reply(Ask(*sys, "$SYS.REQ.SERVER.PING.CONNZ", R"({"sort":"bogus"})"));
  EXPECT_EQ(bad["error"]["description"], "invalid sorting option: bogus") << bad;
  EXPECT_TRUE(bad.contains("data") && bad["data"].is_null()) << bad;
  json detail = Reply(
      Ask(*sys, "$SYS.REQ.SERVER.PING.CONNZ", R"({"acc":"APP","subscriptions_detail":true})"));
  ASSERT_EQ(detail["data"]["connections"].size(), 1u) << detail;
  const json& list = detail["data"]["connections"][0]["subscriptions_list_detail"];
  ASSERT_EQ(list.size(), 4u) << detail;
  bool queue_seen = false;
  for (const auto& d : list) queue_seen = queue_seen || (d.value("qgroup", "") == "q");
  EXPECT_TRUE(queue_seen) << detail;
}

TEST_F(SysRequestsTest, AFilterThatLeavesThisServerOutGetsNoReplyAndNo503) {
  auto sys = Login("sys");
  for (const char* body : {R"({"server_name":"other"})", R"({"cluster":"west"})",
                           R"({"tags":["az:1"]})", R"({"domain":"hub"})"}) {
    std::string got = Ask(*sys, "$SYS.REQ.SERVER.PING.VARZ", body);
    EXPECT_EQ(got, "PONG\r\n") << body;
  }
  // Substrings match, as nats-server's filter.
  EXPECT_EQ(Reply(Ask(*sys, "$SYS.REQ.SERVER.PING", R"({"server_name":"n"})"))["server"]["name"],
            "n1");
}

TEST_F(SysRequestsTest, ABodyThatIsNotJsonGetsA400Error) {
  auto sys = Login("sys");
  json r = Reply(Ask(*sys, "$SYS.REQ.SERVER.PING.CONNZ", "{nope"));
  EXPECT_EQ(r["error"]["code"], 400) << r;
  EXPECT_FALSE(r.contains("data"));
}

TEST_F(SysRequestsTest, AccountSubszAndInfoDescribeThatAccount) {
  auto sys = Login("sys");
  auto app = Login("app");
  app->Send("SUB orders.> 9\r\nPING\r\n");
  ASSERT_TRUE(app->WaitFor("PONG\r\n"));
  json subsz = Reply(Ask(*sys, "$SYS.REQ.ACCOUNT.APP.SUBSZ"));
  EXPECT_EQ(subsz["data"]["num_subscriptions"], 2) << subsz;  // _INBOX.r and orders.>
  ASSERT_EQ(subsz["data"]["subscriptions_list"].size(), 2u) << subsz;
  for (const auto& s : subsz["data"]["subscriptions_list"]) EXPECT_EQ(s["account"], "APP");
  json info = Reply(Ask(*sys, "$SYS.REQ.ACCOUNT.APP.INFO"));
  EXPECT_EQ(info["data"]["account_name"], "APP");
  EXPECT_EQ(info["data"]["client_connections"], 1);
  EXPECT_EQ(info["data"]["subscriptions"], 2);
  json missing = Reply(Ask(*sys, "$SYS.REQ.ACCOUNT.NOPE.INFO"));
  EXPECT_EQ(missing["error"]["description"], "Account NOPE does not exist");
  json jsz = Reply(Ask(*sys, "$SYS.REQ.ACCOUNT.APP.JSZ"));
  EXPECT_EQ(jsz["error"]["description"], "jetstream not enabled");
}

TEST_F(SysRequestsTest, AccountStatzCountsConnectionsAndMessagesPerAccount) {
  auto sys = Login("sys");
  auto app = Login("app");
  app->Send("PUB orders.1 2\r\nhi\r\nPUB _INBOX.r 2\r\nhi\r\nPING\r\n");
  ASSERT_TRUE(app->WaitFor("PONG\r\n"));
  json one = Reply(Ask(*sys, "$SYS.REQ.ACCOUNT.APP.STATZ"));
  ASSERT_EQ(one["data"]["account_statz"].size(), 1u) << one;
  const json& a = one["data"]["account_statz"][0];
  EXPECT_EQ(a["acc"], "APP");
  EXPECT_EQ(a["conns"], 1);
  EXPECT_EQ(a["total_conns"], 1);
  EXPECT_EQ(a["received"]["msgs"], 2);
  EXPECT_EQ(a["received"]["bytes"], 4);
  EXPECT_EQ(a["sent"]["msgs"], 1);  // the one to its own _INBOX.r subscription
  // PING: every account with connections (the global one has none), or the ones asked for.
  json all = Reply(Ask(*sys, "$SYS.REQ.ACCOUNT.PING.STATZ"));
  EXPECT_EQ(all["data"]["account_statz"].size(), 2u) << all;
  json unused = Reply(
      Ask(*sys, "$SYS.REQ.ACCOUNT.PING.STATZ", R"({"accounts":["$G"],"include_unused":true})"));
  ASSERT_EQ(unused["data"]["account_statz"].size(), 1u) << unused;
  EXPECT_EQ(unused["data"]["account_statz"][0]["conns"], 0);
  // Nothing to show without include_unused: no reply (and no 503).
  EXPECT_EQ(Ask(*sys, "$SYS.REQ.ACCOUNT.$G.STATZ"), "PONG\r\n");
  // Another account's PING.STATZ is its own.
  json own = Reply(Ask(*app, "$SYS.REQ.ACCOUNT.PING.STATZ"));
  ASSERT_EQ(own["data"]["account_statz"].size(), 1u) << own;
  EXPECT_EQ(own["data"]["account_statz"][0]["acc"], "APP");
}

// The same builders over HTTP: /connz takes auth and acc as query parameters.
TEST_F(SysRequestsTest, HttpConnzTakesTheSameFilters) {
  monitor::Monitor mon(loop_, *server_);
  ASSERT_TRUE(mon.Listen(net::Endpoint::Tcp("127.0.0.1", 0)).ok());
  auto sys = Login("sys");
  auto app = Login("app");
  auto get = [&](const std::string& target) {
    std::string body;
    bool closed = false;
    net::ConnectionPtr conn;
    net::Connect(loop_, net::Endpoint::Tcp("127.0.0.1", mon.port()), {}, [&](auto r) {
      if (!r.ok()) {
        closed = true;
        return;
      }
      conn = r.value();
      conn->SetReadHandler([&](std::string_view d) {
        body.append(d);
        return d.size();
      });
      conn->SetCloseHandler([&](const net::CloseInfo&) { closed = true; });
      conn->Write("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    });
    auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!closed && std::chrono::steady_clock::now() < give_up) loop_.RunFor(5ms);
    if (conn) conn->DetachHandlers();
    auto at = body.find("\r\n\r\n");
    return at == std::string::npos ? json(nullptr)
                                   : json::parse(body.substr(at + 4), nullptr, false);
  };
  json all = get("/connz");
  EXPECT_EQ(all["total"], 2) << all;
  EXPECT_FALSE(all["connections"][0].contains("authorized_user")) << all;
  json app_only = get("/connz?auth=1&acc=APP");
  ASSERT_EQ(app_only["connections"].size(), 1u) << app_only;
  EXPECT_EQ(app_only["connections"][0]["authorized_user"], "app");
  EXPECT_EQ(app_only["connections"][0]["account"], "APP");
  json statz = get("/accstatz?unused=1&accs=APP,$G");
  EXPECT_EQ(statz["account_statz"].size(), 2u) << statz;
}

TEST_F(SysRequestsTest, StatszPingWithoutAReplyIsPublishedOnTheServersStatszSubject) {
  auto sys = Login("sys");
  const std::string subject = "$SYS.SERVER." + server_->server_id() + ".STATSZ";
  sys->Send("SUB " + subject + " 2\r\nPUB $SYS.REQ.SERVER.PING 0\r\n\r\nPING\r\n");
  ASSERT_TRUE(sys->WaitFor("PONG\r\n"));
  EXPECT_NE(sys->received().find("MSG " + subject + " 2 "), std::string::npos) << sys->received();
}

}  // namespace
}  // namespace meridian::server
