#include "natsclient/client.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "fake_server.h"
#include "natsclient/sync_client.h"
#include "net/loop.h"

namespace meridian::natsclient {
namespace {

using std::chrono::milliseconds;
using testing::FakeServer;

// Runs `loop` until `done` or 5 s.
bool RunUntil(net::Loop& loop, const bool& done) {
  if (done) return true;
  net::Timer poll = loop.Every(milliseconds(1), [&] {
    if (done) loop.Stop();
  });
  loop.RunFor(milliseconds(5000));
  return done;
}

class ClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<Client> ConnectTo(FakeServer& server, std::string user = "app",
                                    std::string pass = "secret") {
    Options o;
    o.servers = {server.url()};
    o.user = std::move(user);
    o.password = std::move(pass);
    auto c = Client::Create(loop_, o);
    bool done = false;
    c->Connect([&](const net::Status& s) {
      connect_status_ = s;
      done = true;
    });
    EXPECT_TRUE(RunUntil(loop_, done));
    return c;
  }

  net::Loop loop_;
  net::Status connect_status_;
};

TEST(ServerList, SplitsOnCommasAndTrimsSpaces) {
  EXPECT_EQ(SplitServerList("nats://a:1, nats://b:2 ,,c:3"),
            (std::vector<std::string>{"nats://a:1", "nats://b:2", "c:3"}));
  EXPECT_TRUE(SplitServerList("").empty());
}

TEST(Inbox, PrefixIsInboxAnd22Base62Characters) {
  std::string p = NewInboxPrefix();
  ASSERT_EQ(p.size(), 7u + 22u);
  EXPECT_EQ(p.substr(0, 7), "_INBOX.");
  for (char c : p.substr(7)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << p;
  EXPECT_NE(p, NewInboxPrefix());
}

TEST(ServerError, AuthorizationViolationNamesTheCredentials) {
  EXPECT_NE(DescribeServerError("Authorization Violation").find("credentials"), std::string::npos);
}

TEST_F(ClientTest, ConnectSendsCredentialsHeadersAndNoResponders) {
  FakeServer server("app", "secret");
  auto c = ConnectTo(server);
  ASSERT_TRUE(connect_status_.ok()) << connect_status_.message();
  EXPECT_TRUE(c->connected());
  EXPECT_EQ(c->server_name(), "fake-1");
  auto j = nlohmann::json::parse(server.last_connect());
  EXPECT_EQ(j["user"], "app");
  EXPECT_EQ(j["pass"], "secret");
  EXPECT_EQ(j["headers"], true);
  EXPECT_EQ(j["no_responders"], true);
  EXPECT_EQ(j["verbose"], false);
}

TEST_F(ClientTest, WrongPasswordFailsConnectWithASentence) {
  FakeServer server("app", "secret");
  auto c = ConnectTo(server, "app", "wrong");
  ASSERT_FALSE(connect_status_.ok());
  EXPECT_NE(connect_status_.message().find("refused the credentials"), std::string::npos)
      << connect_status_.message();
  EXPECT_FALSE(c->connected());
}

TEST_F(ClientTest, ConnectTriesTheNextServerWhenOneRefuses) {
  FakeServer server("", "");
  Options o;
  o.servers = {"nats://127.0.0.1:1", server.url()};
  auto c = Client::Create(loop_, o);
  bool done = false;
  c->Connect([&](const net::Status& s) {
    connect_status_ = s;
    done = true;
  });
  ASSERT_TRUE(RunUntil(loop_, done));
  EXPECT_TRUE(connect_status_.ok()) << connect_status_.message();
}

TEST_F(ClientTest, ConnectFailureNamesEveryServerTried) {
  Options o;
  o.servers = {"nats://127.0.0.1:1", "nats://127.0.0.1:2"};
  auto c = Client::Create(loop_, o);
  bool done = false;
  c->Connect([&](const net::Status& s) {
    connect_status_ = s;
    done = true;
  });
  ASSERT_TRUE(RunUntil(loop_, done));
  ASSERT_FALSE(connect_status_.ok());
  EXPECT_NE(connect_status_.message().find("127.0.0.1:1"), std::string::npos);
  EXPECT_NE(connect_status_.message().find("127.0.0.1:2"), std::string::npos);
}

TEST_F(ClientTest, RequestGetsTheReply) {
  FakeServer server("", "");
  auto c = ConnectTo(server);
  bool done = false;
  std::optional<net::Result<OwnedMsg>> reply;
  c->Request("svc.echo", "ping!", {}, milliseconds(2000), [&](net::Result<OwnedMsg> r) {
    reply.emplace(std::move(r));
    done = true;
  });
  ASSERT_TRUE(RunUntil(loop_, done));
  ASSERT_TRUE(reply->ok()) << reply->message();
  EXPECT_EQ(reply->value().payload, "ping!");
  EXPECT_EQ(reply->value().subject.rfind("_INBOX.", 0), 0u);
}

TEST_F(ClientTest, ConcurrentRequestsShareOneInboxAndGetTheirOwnReplies) {
  FakeServer server("", "");
  auto c = ConnectTo(server);
  int done = 0;
  std::string a, b;
  c->Request("svc.echo", "A", {}, milliseconds(2000), [&](net::Result<OwnedMsg> r) {
    a = r.ok() ? r->payload : r.message();
    ++done;
  });
  c->Request("svc.echo", "B", {}, milliseconds(2000), [&](net::Result<OwnedMsg> r) {
    b = r.ok() ? r->payload : r.message();
    ++done;
  });
  bool both = false;
  net::Timer t = loop_.Every(milliseconds(1), [&] { both = done == 2; });
  ASSERT_TRUE(RunUntil(loop_, both));
  EXPECT_EQ(a, "A");
  EXPECT_EQ(b, "B");
}

TEST_F(ClientTest, NoRespondersStatusFailsTheRequestAtOnce) {
  FakeServer server("", "");
  auto c = ConnectTo(server);
  bool done = false;
  std::optional<net::Result<OwnedMsg>> reply;
  c->Request("svc.none", "", {}, milliseconds(5000), [&](net::Result<OwnedMsg> r) {
    reply.emplace(std::move(r));
    done = true;
  });
  ASSERT_TRUE(RunUntil(loop_, done));
  ASSERT_FALSE(reply->ok());
  EXPECT_NE(reply->message().find("no responders"), std::string::npos) << reply->message();
}

TEST_F(ClientTest, RequestWithoutReplyTimesOut) {
  FakeServer server("", "");
  auto c = ConnectTo(server);
  bool done = false;
  std::optional<net::Result<OwnedMsg>> reply;
  c->Request("svc.silent", "", {}, milliseconds(100), [&](net::Result<OwnedMsg> r) {
    reply.emplace(std::move(r));
    done = true;
  });
  ASSERT_TRUE(RunUntil(loop_, done));
  ASSERT_FALSE(reply->ok());
  EXPECT_NE(reply->message().find("within 100 ms"), std::string::npos) << reply->message();
}

TEST_F(ClientTest, RequestManyGathersEveryReplyUntilQuiet) {
  FakeServer server("", "");
  auto c = ConnectTo(server);
  bool done = false;
  size_t count = 0;
  c->RequestMany("svc.many", "", milliseconds(3000), milliseconds(100), 0,
                 [&](net::Result<std::vector<OwnedMsg>> r) {
                   count = r.ok() ? r->size() : 0;
                   done = true;
                 });
  ASSERT_TRUE(RunUntil(loop_, done));
  EXPECT_EQ(count, 3u);
}

TEST_F(ClientTest, RequestManyStopsAtMaxReplies) {
  FakeServer server("", "");
  auto c = ConnectTo(server);
  bool done = false;
  size_t count = 0;
  c->RequestMany("svc.many", "", milliseconds(3000), milliseconds(0), 2,
                 [&](net::Result<std::vector<OwnedMsg>> r) {
                   count = r.ok() ? r->size() : 0;
                   done = true;
                 });
  ASSERT_TRUE(RunUntil(loop_, done));
  EXPECT_EQ(count, 2u);
}

TEST_F(ClientTest, SubscriptionReceivesMessagesWithHeaders) {
  FakeServer server("", "");
  auto c = ConnectTo(server);
  std::vector<OwnedMsg> got;
  c->Subscribe("events.x", {}, [&](const Msg& m) { got.push_back(OwnedMsg::From(m)); });
  ASSERT_TRUE(c->Publish("events.x", "one").ok());
  ASSERT_TRUE(c->Publish("events.x", "two", {}, "NATS/1.0\r\nK: v\r\n\r\n").ok());
  bool done = false;
  net::Timer t = loop_.Every(milliseconds(1), [&] { done = got.size() == 2; });
  ASSERT_TRUE(RunUntil(loop_, done));
  EXPECT_EQ(got[0].payload, "one");
  EXPECT_EQ(got[1].payload, "two");
  EXPECT_EQ(got[1].headers, "NATS/1.0\r\nK: v\r\n\r\n");
}

TEST_F(ClientTest, UnsubscribeWithMaxStopsAfterThatMany) {
  FakeServer server("", "");
  auto c = ConnectTo(server);
  int got = 0;
  uint64_t sid = c->Subscribe("events.y", {}, [&](const Msg&) { ++got; });
  c->Unsubscribe(sid, 1);
  ASSERT_TRUE(c->Publish("events.y", "a").ok());
  ASSERT_TRUE(c->Publish("events.y", "b").ok());
  bool flushed = false;
  c->Flush(milliseconds(2000), [&](const net::Status&) { flushed = true; });
  ASSERT_TRUE(RunUntil(loop_, flushed));
  EXPECT_EQ(got, 1);
}

TEST_F(ClientTest, FlushCompletesOnPong) {
  FakeServer server("", "");
  auto c = ConnectTo(server);
  bool done = false;
  net::Status st = net::Status::Error("unset");
  c->Flush(milliseconds(2000), [&](const net::Status& s) {
    st = s;
    done = true;
  });
  ASSERT_TRUE(RunUntil(loop_, done));
  EXPECT_TRUE(st.ok());
}

TEST_F(ClientTest, LostConnectionFailsPendingRequestsAndCallsTheClosedHandler) {
  FakeServer server("", "");
  auto c = ConnectTo(server);
  bool closed = false, failed = false;
  c->SetClosedHandler([&](const net::Status& s) { closed = !s.ok(); });
  c->Request("svc.silent", "", {}, milliseconds(5000),
             [&](net::Result<OwnedMsg> r) { failed = !r.ok(); });
  ASSERT_TRUE(c->Publish("svc.close", "").ok());
  ASSERT_TRUE(RunUntil(loop_, closed));
  EXPECT_TRUE(failed);
  EXPECT_FALSE(c->connected());
  EXPECT_FALSE(c->Publish("x", "y").ok());
}

TEST_F(ClientTest, PublishRefusesASubjectWithSpaces) {
  FakeServer server("", "");
  auto c = ConnectTo(server);
  EXPECT_FALSE(c->Publish("a b", "").ok());
}

TEST(SyncClientTest, RequestAndSubscribeBlockUntilTheResultIsIn) {
  FakeServer server("app", "secret");
  Options o;
  o.servers = {server.url()};
  o.user = "app";
  o.password = "secret";
  auto c = SyncClient::Connect(o);
  ASSERT_TRUE(c.ok()) << c.message();
  auto r = c.value()->Request("svc.echo", "hi", milliseconds(2000));
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->payload, "hi");
  ASSERT_TRUE(c.value()->Subscribe("topic").ok());
  ASSERT_TRUE(c.value()->Publish("topic", "m1").ok());
  auto m = c.value()->NextMessage(milliseconds(2000));
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->payload, "m1");
  auto none = c.value()->NextMessage(milliseconds(50));
  EXPECT_FALSE(none.ok());
}

TEST(SyncClientTest, WrongCredentialsFailConnect) {
  FakeServer server("app", "secret");
  Options o;
  o.servers = {server.url()};
  o.user = "app";
  o.password = "nope";
  auto c = SyncClient::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("Authorization Violation"), std::string::npos) << c.message();
}

}  // namespace
}  // namespace meridian::natsclient
