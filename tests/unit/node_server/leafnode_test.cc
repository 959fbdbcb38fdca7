// The node's solicited leaf connection against a scripted hub on the same loop: what goes on
// the wire (CONNECT, LS+/LS-, LMSG/HMSG), the hub's permissions, the JetStream denies, queue
// names, loop detection and reconnecting.
#include "server/leafnode.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "../net/test_certs.h"
#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"
#include "server/server.h"

namespace meridian::server {
namespace {

using namespace std::chrono_literals;

// A hub that accepts leaf connections and records what it receives.
class FakeHub {
 public:
  explicit FakeHub(net::Loop& loop) : loop_(loop) {
    auto l = net::Listener::Listen(loop, net::Endpoint::Tcp("127.0.0.1", 0),
                                   [this](net::ConnectionPtr c) { Accept(std::move(c)); });
    if (!l.ok()) throw std::runtime_error(l.message());
    listener_ = std::move(l).value();
  }
  ~FakeHub() {
    if (conn_) {
      conn_->DetachHandlers();
      conn_->Abort();
    }
  }
  uint16_t port() const { return listener_->port(); }
  std::string info = R"({"server_id":"NHUB","server_name":"hub","version":"2.9.10","headers":true,)"
                     R"("domain":"hub","info_on_connect":true,"leafnode_urls":["127.0.0.1:1"]})";

  void Accept(net::ConnectionPtr c) {
    ++accepted_;
    received_.clear();
    closed_ = false;
    conn_ = c;
    c->SetReadHandler([this](std::string_view d) {
      received_.append(d);
      return d.size();
    });
    c->SetCloseHandler([this](const net::CloseInfo&) { closed_ = true; });
    c->Write("INFO " + info + "\r\n");
  }
  void Send(std::string_view bytes) { conn_->Write(bytes); }
  bool WaitFor(std::string_view text, std::chrono::milliseconds limit = 3s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (received_.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.RunFor(5ms);
    }
    return true;
  }
  bool WaitClosed() {
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (!closed_) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.RunFor(5ms);
    }
    return true;
  }
  void Close() { conn_->Close(); }
  bool WaitAccepted(int n) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (accepted_ < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.RunFor(5ms);
    }
    return true;
  }
  std::string& received() { return received_; }
  // The CONNECT's JSON.
  nlohmann::json Connect() {
    auto p = received_.find("CONNECT ");
    auto e = received_.find("\r\n", p);
    return nlohmann::json::parse(received_.substr(p + 8, e - p - 8));
  }

 private:
  net::Loop& loop_;
  std::unique_ptr<net::Listener> listener_;
  net::ConnectionPtr conn_;
  std::string received_;
  bool closed_ = false;
  int accepted_ = 0;
};

// A raw client of the node.
class RawClient {
 public:
  RawClient(net::Loop& loop, uint16_t port, const std::string& user = "",
            const std::string& pass = "")
      : loop_(loop) {
    bool done = false;
    net::Connect(loop, net::Endpoint::Tcp("127.0.0.1", port), {}, [&](auto r) {
      done = true;
      if (!r.ok()) return;
      conn_ = r.value();
      conn_->SetReadHandler([this](std::string_view d) {
        received_.append(d);
        return d.size();
      });
    });
    while (!done) loop.RunFor(10ms);
    if (!conn_) throw std::runtime_error("connect failed");
    std::string creds;
    if (!user.empty()) creds = ",\"user\":\"" + user + "\",\"pass\":\"" + pass + "\"";
    conn_->Write(
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
        "\"no_responders\":true" +
        creds + "}\r\nPING\r\n");
    WaitFor("PONG\r\n");
  }
  ~RawClient() {
    conn_->DetachHandlers();
    conn_->Abort();
  }
  void Send(std::string_view bytes) { conn_->Write(bytes); }
  bool WaitFor(std::string_view text, std::chrono::milliseconds limit = 3s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (received_.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.RunFor(5ms);
    }
    return true;
  }
  // Sends PING and waits for its PONG: everything the server did before is done.
  void Sync() {
    pongs_ += 1;
    conn_->Write("PING\r\n");
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (Count("PONG\r\n") < pongs_ + 1 && std::chrono::steady_clock::now() < deadline) {
      loop_.RunFor(5ms);
    }
  }
  size_t Count(std::string_view text) const {
    size_t n = 0;
    for (auto p = received_.find(text); p != std::string::npos; p = received_.find(text, p + 1)) {
      ++n;
    }
    return n;
  }
  std::string& received() { return received_; }

 private:
  net::Loop& loop_;
  net::ConnectionPtr conn_;
  std::string received_;
  size_t pongs_ = 0;
};

class LeafNodeTest : public ::testing::Test {
 protected:
  void StartNode() {
    Options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.server_name = "leafy";
    LeafRemoteOptions r;
    r.urls = {"nats-leaf://u:pw@127.0.0.1:" + std::to_string(hub_.port())};
    o.leafnodes.remotes.push_back(r);
    o.leafnodes.reconnect = 100ms;
    server_ = std::make_unique<Server>(loop_, std::move(o));
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_TRUE(hub_.WaitFor("CONNECT "));
  }
  // Finishes the handshake with the hub's permission INFO.
  void Finish(std::string_view perms = "") {
    std::string info = R"(INFO {"server_id":"NHUB","connect_info":true)";
    if (!perms.empty()) info.append(",").append(perms);
    info += "}\r\n";
    hub_.Send(info);
    ASSERT_TRUE(hub_.WaitFor("LS+ $LDS."));
  }
  std::unique_ptr<RawClient> Client() {
    return std::make_unique<RawClient>(loop_, server_->port());
  }

  net::Loop loop_;
  FakeHub hub_{loop_};
  std::unique_ptr<Server> server_;
};

TEST_F(LeafNodeTest, ConnectCarriesCredentialsNameAndHeaders) {
  StartNode();
  auto j = hub_.Connect();
  EXPECT_EQ(j.value("user", ""), "u");
  EXPECT_EQ(j.value("pass", ""), "pw");
  EXPECT_EQ(j.value("name", ""), "leafy");
  EXPECT_EQ(j.value("headers", false), true);
  EXPECT_EQ(j.value("version", ""), "2.9.10");
  EXPECT_FALSE(j.contains("domain"));  // no JetStream domain here
  // No interest before the hub's INFO with connect_info.
  EXPECT_EQ(hub_.received().find("LS+"), std::string::npos);
}

TEST_F(LeafNodeTest, LocalInterestIsAnnouncedFilteredByImportPermissions) {
  StartNode();
  auto c = Client();
  c->Send("SUB foo 1\r\nSUB secret.x 2\r\nSUB q.s workers 3\r\n");
  c->Sync();
  Finish(R"("import":{"deny":["secret.>"]})");
  ASSERT_TRUE(hub_.WaitFor("LS+ foo\r\n"));
  EXPECT_TRUE(hub_.WaitFor("LS+ q.s workers 1\r\n"));
  // Later subscriptions: plain subjects once, queue groups with their weight.
  c->Send("SUB foo 4\r\nSUB q.s workers 5\r\nSUB secret.y 6\r\nSUB bar 7\r\n");
  ASSERT_TRUE(hub_.WaitFor("LS+ bar\r\n"));
  EXPECT_TRUE(hub_.WaitFor("LS+ q.s workers 2\r\n"));
  size_t foos = 0;
  for (auto p = hub_.received().find("LS+ foo\r\n"); p != std::string::npos;
       p = hub_.received().find("LS+ foo\r\n", p + 1)) {
    ++foos;
  }
  EXPECT_EQ(foos, 1u);
  EXPECT_EQ(hub_.received().find("secret"), std::string::npos);
  // Unsubscribing: LS- when the last one goes.
  c->Send("UNSUB 1\r\n");
  c->Sync();
  EXPECT_EQ(hub_.received().find("LS- foo"), std::string::npos);
  c->Send("UNSUB 4\r\nUNSUB 5\r\nUNSUB 3\r\n");
  EXPECT_TRUE(hub_.WaitFor("LS- foo\r\n"));
  EXPECT_TRUE(hub_.WaitFor("LS+ q.s workers 1\r\n"));
  EXPECT_TRUE(hub_.WaitFor("LS- q.s workers\r\n"));
}

TEST_F(LeafNodeTest, MessagesRespectExportPermissionsAndJetStreamDenies) {
  StartNode();
  Finish(R"("export":{"deny":["private.>"]})");
  hub_.Send("LS+ >\r\nLS+ $JS.API.>\r\n");
  auto c = Client();
  c->Send("SUB _INBOX.c.* 9\r\n");
  ASSERT_TRUE(hub_.WaitFor("LS+ _INBOX.c.*\r\n"));
  c->Send("PUB out.1 2\r\nhi\r\nHPUB out.h _INBOX.c.1 12 14\r\nNATS/1.0\r\n\r\nyo\r\n");
  ASSERT_TRUE(hub_.WaitFor("LMSG out.1 2\r\nhi\r\n"));
  ASSERT_TRUE(hub_.WaitFor("HMSG out.h _INBOX.c.1 12 14\r\nNATS/1.0\r\n\r\nyo\r\n"));
  // Denied subjects do not go out: the requester gets no-responders instead.
  c->Send("PUB private.x _INBOX.c.2 1\r\nx\r\nPUB $JS.API.INFO _INBOX.c.3 0\r\n\r\n");
  ASSERT_TRUE(c->WaitFor("HMSG _INBOX.c.2 9 16 16\r\nNATS/1.0 503\r\n\r\n"));
  ASSERT_TRUE(c->WaitFor("HMSG _INBOX.c.3 9 16 16\r\nNATS/1.0 503\r\n\r\n"));
  c->Send("PUB out.2 1\r\nz\r\n");
  ASSERT_TRUE(hub_.WaitFor("LMSG out.2 1\r\nz\r\n"));
  EXPECT_EQ(hub_.received().find("private.x"), std::string::npos);
  EXPECT_EQ(hub_.received().find("LMSG $JS.API"), std::string::npos);
  // New permissions from the hub (a reload there) replace its old ones; the JetStream denies
  // stay.
  hub_.Send(R"(INFO {"server_id":"NHUB","export":{"deny":["other.>"]}})"
            "\r\n");
  c->Send("PUB private.y 1\r\ny\r\nPUB $JS.API.INFO _INBOX.c.4 0\r\n\r\n");
  ASSERT_TRUE(hub_.WaitFor("LMSG private.y 1\r\ny\r\n"));
  ASSERT_TRUE(c->WaitFor("HMSG _INBOX.c.4 9 16 16\r\nNATS/1.0 503\r\n\r\n"));
  EXPECT_EQ(hub_.received().find("LMSG $JS.API"), std::string::npos);
}

TEST_F(LeafNodeTest, RemoteDenyImportsAndExports) {
  Options o;
  o.host = "127.0.0.1";
  o.port = 0;
  LeafRemoteOptions r;
  r.urls = {"nats-leaf://127.0.0.1:" + std::to_string(hub_.port())};
  r.deny_imports = {"in.secret.>"};
  r.deny_exports = {"out.secret.>"};
  o.leafnodes.remotes.push_back(r);
  server_ = std::make_unique<Server>(loop_, std::move(o));
  ASSERT_TRUE(server_->Start().ok());
  ASSERT_TRUE(hub_.WaitFor("CONNECT "));
  EXPECT_EQ(hub_.Connect()["deny_pub"], nlohmann::json::array({"in.secret.>"}));
  Finish();
  hub_.Send("LS+ out.>\r\n");
  auto c = Client();
  c->Send("SUB in.secret.x 1\r\nSUB in.open 2\r\n");
  ASSERT_TRUE(hub_.WaitFor("LS+ in.open\r\n"));
  c->Send("PUB out.secret.x 1\r\ns\r\nPUB out.open 1\r\no\r\n");
  ASSERT_TRUE(hub_.WaitFor("LMSG out.open 1\r\no\r\n"));
  EXPECT_EQ(hub_.received().find("LS+ in.secret"), std::string::npos);
  EXPECT_EQ(hub_.received().find("LMSG out.secret"), std::string::npos);
}

TEST_F(LeafNodeTest, HubMessagesReachLocalSubscribersAndOnlyNamedQueueGroups) {
  StartNode();
  auto c = Client();
  c->Send("SUB in.* 1\r\nSUB work workers 2\r\nSUB work others 3\r\n");
  c->Sync();
  Finish();
  hub_.Send("LMSG in.a 3\r\nabc\r\nLMSG in.b _INBOX.r 2\r\nhi\r\n");
  ASSERT_TRUE(c->WaitFor("MSG in.a 1 3\r\nabc\r\n"));
  ASSERT_TRUE(c->WaitFor("MSG in.b 1 _INBOX.r 2\r\nhi\r\n"));
  hub_.Send("HMSG in.h + _INBOX.r q 12 14\r\nNATS/1.0\r\n\r\nyo\r\n");
  ASSERT_TRUE(c->WaitFor("HMSG in.h 1 _INBOX.r 12 14\r\nNATS/1.0\r\n\r\nyo\r\n"));
  // Queue groups only get what the hub picked them for.
  hub_.Send("LMSG work 1\r\na\r\nLMSG work | workers 1\r\nb\r\nLMSG in.end 1\r\nz\r\n");
  ASSERT_TRUE(c->WaitFor("MSG in.end 1 1\r\nz\r\n"));
  EXPECT_EQ(c->received().find("MSG work 2 1\r\na"), std::string::npos);
  EXPECT_NE(c->received().find("MSG work 2 1\r\nb"), std::string::npos);
  EXPECT_EQ(c->received().find("MSG work 3"), std::string::npos);
}

TEST_F(LeafNodeTest, QueueGroupsPreferLocalMembersAndNameTheGroupOtherwise) {
  StartNode();
  Finish();
  hub_.Send("LS+ jobs crew 2\r\nLS+ only remote 1\r\n");
  auto c = Client();
  c->Send("SUB jobs crew 1\r\nPUB jobs 1\r\nl\r\nPUB only _INBOX.x 1\r\nr\r\n");
  ASSERT_TRUE(c->WaitFor("MSG jobs 1 1\r\nl\r\n"));
  ASSERT_TRUE(hub_.WaitFor("LMSG only + _INBOX.x remote 1\r\nr\r\n"));
  EXPECT_EQ(hub_.received().find("LMSG jobs"), std::string::npos);
}

TEST_F(LeafNodeTest, LoopDetectedClosesAndHubLossReconnects) {
  StartNode();
  Finish();
  auto p = hub_.received().find("LS+ $LDS.");
  std::string lds = hub_.received().substr(p + 4, hub_.received().find("\r\n", p) - p - 4);
  // An error alone does not end the connection (the far side closes when it means to).
  hub_.Send("-ERR 'Permissions Violation for Publish to \"x\"'\r\nLS+ still.here\r\n");
  auto c = Client();
  c->Send("PUB still.here 1\r\nx\r\n");
  ASSERT_TRUE(hub_.WaitFor("LMSG still.here 1\r\nx\r\n"));
  // The hub going away: the node connects again by itself.
  hub_.Close();
  ASSERT_TRUE(hub_.WaitAccepted(2));
  ASSERT_TRUE(hub_.WaitFor("CONNECT "));
  Finish();
  // Our own loop-detection subject coming back means a loop: error and close.
  hub_.Send("LS+ " + lds + "\r\n");
  ASSERT_TRUE(hub_.WaitFor("-ERR 'Loop detected for leafnode account=\"$G\""));
  EXPECT_TRUE(hub_.WaitClosed());
}

TEST_F(LeafNodeTest, ConsumerDeliveriesAnnounceTheirAckSubjectFirstAndAcksComeBack) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("leafnode_test_js_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  Options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.jetstream.enabled = true;
  o.jetstream.store_dir = dir.string();
  o.jetstream.domain = "leaf";
  LeafRemoteOptions r;
  r.urls = {"nats-leaf://127.0.0.1:" + std::to_string(hub_.port())};
  o.leafnodes.remotes.push_back(r);
  server_ = std::make_unique<Server>(loop_, std::move(o));
  ASSERT_TRUE(server_->Start().ok());
  ASSERT_TRUE(hub_.WaitFor("CONNECT "));
  EXPECT_EQ(hub_.Connect().value("domain", ""), "leaf");
  EXPECT_EQ(hub_.Connect().value("jetstream", false), true);
  Finish();
  ASSERT_TRUE(hub_.WaitFor("LS+ $JS.leaf.API.CONSUMER.>\r\n"));
  hub_.Send("LS+ dlv\r\n");
  auto c = Client();
  c->Send("SUB _INBOX.c.* 1\r\n");
  const std::string stream = R"({"name":"S","subjects":["s.>"],"storage":"memory"})";
  c->Send("PUB $JS.API.STREAM.CREATE.S _INBOX.c.1 " + std::to_string(stream.size()) + "\r\n" +
          stream + "\r\nPUB s.1 _INBOX.c.2 2\r\nhi\r\n");
  ASSERT_TRUE(c->WaitFor("\"seq\":1"));
  const std::string consumer =
      R"({"stream_name":"S","config":{"durable_name":"C","deliver_subject":"dlv",)"
      R"("ack_policy":"explicit"}})";
  c->Send("PUB $JS.API.CONSUMER.CREATE.S.C _INBOX.c.3 " + std::to_string(consumer.size()) + "\r\n" +
          consumer + "\r\n");
  // The delivery crosses under the deliver subject, its stored subject after the `@`, and the
  // consumer's ack subject is announced ahead of it.
  ASSERT_TRUE(hub_.WaitFor("LMSG dlv $JS.ACK.S.C."));
  auto& got = hub_.received();
  auto ls = got.find("LS+ $JS.ACK.S.C.>\r\n");
  auto msg = got.find("LMSG dlv $JS.ACK.S.C.");
  ASSERT_NE(ls, std::string::npos);
  EXPECT_LT(ls, msg);
  auto eol = got.find("\r\n", msg);
  std::string line = got.substr(msg, eol - msg);
  auto at = line.find("@s.1 ");
  ASSERT_NE(at, std::string::npos) << line;
  std::string ack = line.substr(9, at - 9);
  // The far side's ack: the consumer has nothing pending any more.
  hub_.Send("LMSG " + ack + " 0\r\n\r\n");
  bool acked = false;
  for (int i = 0; i < 100 && !acked; ++i) {  // the ack and the INFO request race: ask again
    c->received().clear();
    c->Send("PUB $JS.API.CONSUMER.INFO.S.C _INBOX.c.4 0\r\n\r\n");
    ASSERT_TRUE(c->WaitFor("\"num_ack_pending\":"));
    acked = c->received().find("\"num_ack_pending\":0") != std::string::npos;
  }
  EXPECT_TRUE(acked) << c->received();
  server_.reset();
  std::filesystem::remove_all(dir);
}

TEST_F(LeafNodeTest, EngineSubscriptionsAreInterestAndLeafDeliveriesReachASource) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("leafnode_test_src_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  Options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.jetstream.enabled = true;
  o.jetstream.store_dir = dir.string();
  o.jetstream.domain = "leaf";
  LeafRemoteOptions r;
  r.urls = {"nats-leaf://127.0.0.1:" + std::to_string(hub_.port())};
  o.leafnodes.remotes.push_back(r);
  server_ = std::make_unique<Server>(loop_, std::move(o));
  ASSERT_TRUE(server_->Start().ok());
  ASSERT_TRUE(hub_.WaitFor("CONNECT "));
  Finish();
  hub_.Send("LS+ $JS.hub.API.>\r\n");
  auto c = Client();
  c->Send("SUB _INBOX.c.* 1\r\nPING\r\n");
  c->Sync();
  const std::string stream =
      R"({"name":"R","storage":"memory","sources":[{"name":"O","external":)"
      R"({"api":"$JS.hub.API","deliver":"dlv.hub"}}]})";
  c->Send("PUB $JS.API.STREAM.CREATE.R _INBOX.c.1 " + std::to_string(stream.size()) + "\r\n" +
          stream + "\r\n");
  // The engine's deliver and reply subjects are announced before the create goes out.
  ASSERT_TRUE(hub_.WaitFor("LMSG $JS.hub.API.CONSUMER.CREATE.O")) << hub_.received();
  auto& got = hub_.received();
  auto dl = got.find("LS+ dlv.hub.S.");
  auto rl = got.find("LS+ $JSC.R.");
  auto create = got.find("LMSG $JS.hub.API.CONSUMER.CREATE.O");
  ASSERT_NE(dl, std::string::npos) << got;
  ASSERT_NE(rl, std::string::npos) << got;
  EXPECT_LT(dl, create);
  EXPECT_LT(rl, create);
  std::string deliver = got.substr(dl + 4, got.find("\r\n", dl) - dl - 4);
  std::string line = got.substr(create, got.find("\r\n", create) - create);
  auto r0 = line.find(" $JSC.R.");
  ASSERT_NE(r0, std::string::npos) << line;
  std::string reply = line.substr(r0 + 1, line.find(' ', r0 + 1) - r0 - 1);
  const std::string answer = R"({"stream_name":"O","name":"c1","config":{}})";
  hub_.Send("LMSG " + reply + " " + std::to_string(answer.size()) + "\r\n" + answer + "\r\n");
  // A delivery as nats-server sends it across: the stored subject after the `@` of the reply.
  hub_.Send("LMSG " + deliver + " $JS.ACK.O.c1.1.1.1.1700000000000000000.0@o.1 5\r\nhello\r\n");
  bool stored = false;
  for (int i = 0; i < 100 && !stored; ++i) {
    c->received().clear();
    c->Send("PUB $JS.API.STREAM.INFO.R _INBOX.c.2 0\r\n\r\n");
    ASSERT_TRUE(c->WaitFor("\"messages\":"));
    stored = c->received().find("\"messages\":1") != std::string::npos;
  }
  ASSERT_TRUE(stored) << c->received();
  c->received().clear();
  const std::string get = R"({"seq":1})";
  c->Send("PUB $JS.API.STREAM.MSG.GET.R _INBOX.c.3 " + std::to_string(get.size()) + "\r\n" + get +
          "\r\n");
  ASSERT_TRUE(c->WaitFor("\"subject\":")) << c->received();
  EXPECT_NE(c->received().find("\"subject\":\"o.1\""), std::string::npos) << c->received();
  // Deleting the stream withdraws the deliver subject.
  c->Send("PUB $JS.API.STREAM.DELETE.R _INBOX.c.4 0\r\n\r\n");
  EXPECT_TRUE(hub_.WaitFor("LS- " + deliver + "\r\n")) << hub_.received();
  server_.reset();
  std::filesystem::remove_all(dir);
}

// The accepting side: a scripted leaf connects to the node's leaf port.
class AcceptTest : public ::testing::Test {
 protected:
  void StartServer(Options o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    o.server_name = "hubby";
    o.leafnodes.host = "127.0.0.1";
    o.leafnodes.port = 0;
    server_ = std::make_unique<Server>(loop_, std::move(o));
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_NE(server_->leaf_port(), 0);
  }
  // A raw connection to the leaf port; `received` collects what the node sends.
  struct Leaf {
    net::ConnectionPtr conn;
    std::string received;
    bool closed = false;
    ~Leaf() {
      if (conn) {
        conn->DetachHandlers();  // its close handler must not outlive this
        conn->Abort();
      }
    }
  };
  std::unique_ptr<Leaf> Dial() {
    auto leaf = std::make_unique<Leaf>();
    Leaf* l = leaf.get();
    bool done = false;
    net::Connect(loop_, net::Endpoint::Tcp("127.0.0.1", server_->leaf_port()), {}, [&](auto r) {
      done = true;
      if (!r.ok()) return;
      l->conn = r.value();
      l->conn->SetReadHandler([l](std::string_view d) {
        l->received.append(d);
        return d.size();
      });
      l->conn->SetCloseHandler([l](const net::CloseInfo&) { l->closed = true; });
    });
    while (!done) loop_.RunFor(10ms);
    EXPECT_TRUE(l->conn);
    return leaf;
  }
  bool WaitFor(Leaf& l, std::string_view text) {
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (l.received.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.RunFor(5ms);
    }
    return true;
  }
  bool WaitClosed(Leaf& l) {
    auto deadline = std::chrono::steady_clock::now() + 3s;
    while (!l.closed) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.RunFor(5ms);
    }
    return true;
  }
  void TearDown() override {
    server_.reset();
    for (int i = 0; i < 5; ++i) loop_.RunFor(5ms);
  }

  net::Loop loop_;
  std::unique_ptr<Server> server_;
};

TEST_F(AcceptTest, InfoConnectInterestAndMessages) {
  StartServer();
  auto c = std::make_unique<RawClient>(loop_, server_->port());
  c->Send("SUB local.* 1\r\n");
  c->Sync();
  auto leaf = Dial();
  ASSERT_TRUE(WaitFor(*leaf, "\r\n"));
  ASSERT_EQ(leaf->received.rfind("INFO ", 0), 0u);
  auto info = nlohmann::json::parse(leaf->received.substr(5, leaf->received.find("\r\n") - 5));
  EXPECT_GT(info.value("client_id", 0), 0);
  EXPECT_TRUE(info.contains("leafnode_urls"));
  EXPECT_TRUE(info.value("info_on_connect", false));
  EXPECT_EQ(info.value("server_name", ""), "hubby");
  leaf->conn->Write("CONNECT {\"name\":\"spoke\",\"headers\":true,\"domain\":\"leaf\"}\r\n");
  ASSERT_TRUE(WaitFor(*leaf, "\"connect_info\":true"));
  EXPECT_NE(leaf->received.find("\"remote_account\":\"$G\""), std::string::npos);
  ASSERT_TRUE(WaitFor(*leaf, "LS+ local.*\r\n"));
  ASSERT_TRUE(WaitFor(*leaf, "LS+ $LDS."));
  // The leaf's interest: a client's publish goes to it.
  leaf->conn->Write("LS+ remote.>\r\nLS+ $JS.API.>\r\n");
  loop_.RunFor(20ms);
  c->Send("PUB remote.x 2\r\nhi\r\nPUB $JS.API.INFO _INBOX.z 0\r\n\r\nPUB remote.y 1\r\nz\r\n");
  ASSERT_TRUE(WaitFor(*leaf, "LMSG remote.x 2\r\nhi\r\n"));
  ASSERT_TRUE(WaitFor(*leaf, "LMSG remote.y 1\r\nz\r\n"));
  EXPECT_EQ(leaf->received.find("$JS.API.INFO"), std::string::npos);
  // The leaf's messages reach local subscribers.
  leaf->conn->Write("LMSG local.a 3\r\nabc\r\n");
  ASSERT_TRUE(c->WaitFor("MSG local.a 1 3\r\nabc\r\n"));
  // PING is answered.
  leaf->conn->Write("PING\r\n");
  ASSERT_TRUE(WaitFor(*leaf, "PONG\r\n"));
  // The leaf going away removes its interest: a request now gets no-responders.
  leaf->conn->Abort();
  c->Send("SUB _INBOX.c.* 9\r\nPUB remote.x _INBOX.c.1 1\r\nx\r\n");
  bool got_503 = false;
  for (int i = 0; i < 100 && !got_503; ++i) {
    got_503 = c->WaitFor("NATS/1.0 503", 30ms);
    if (!got_503) c->Send("PUB remote.x _INBOX.c.1 1\r\nx\r\n");
  }
  EXPECT_TRUE(got_503);
}

TEST_F(AcceptTest, AClientOnTheLeafPortIsRefused) {
  StartServer();
  auto leaf = Dial();
  ASSERT_TRUE(WaitFor(*leaf, "\r\n"));
  leaf->conn->Write("CONNECT {\"lang\":\"go\",\"verbose\":false}\r\n");
  ASSERT_TRUE(WaitFor(*leaf, "-ERR 'attempted to connect to leaf node port'"));
  EXPECT_TRUE(WaitClosed(*leaf));
}

TEST_F(AcceptTest, LeafsAuthenticateAsUsersAndAreBoundToTheirAccount) {
  Options o;
  o.accounts.push_back(AccountConfig{"APP", {}, {}, {}, false});
  o.users.push_back(User{"leafy", "pw", "APP", {}, ""});
  o.users.push_back(User{"app", "app", "APP", {}, ""});
  o.users.push_back(User{"other", "other", "", {}, ""});
  StartServer(o);
  // Wrong password: refused.
  auto bad = Dial();
  ASSERT_TRUE(WaitFor(*bad, "\r\n"));
  EXPECT_NE(bad->received.find("\"auth_required\":true"), std::string::npos);
  bad->conn->Write("CONNECT {\"name\":\"spoke\",\"user\":\"leafy\",\"pass\":\"nope\"}\r\n");
  ASSERT_TRUE(WaitFor(*bad, "-ERR 'Authorization Violation'"));
  EXPECT_TRUE(WaitClosed(*bad));
  // The right one: bound to APP, hears only APP's interest.
  auto other = std::make_unique<RawClient>(loop_, server_->port(), "other", "other");
  other->Send("SUB in.global 1\r\n");
  other->Sync();
  auto app = std::make_unique<RawClient>(loop_, server_->port(), "app", "app");
  app->Send("SUB in.app 1\r\n");
  app->Sync();
  auto leaf = Dial();
  ASSERT_TRUE(WaitFor(*leaf, "\r\n"));
  leaf->conn->Write("CONNECT {\"name\":\"spoke\",\"user\":\"leafy\",\"pass\":\"pw\"}\r\n");
  ASSERT_TRUE(WaitFor(*leaf, "\"remote_account\":\"APP\""));
  ASSERT_TRUE(WaitFor(*leaf, "LS+ in.app\r\n"));
  ASSERT_TRUE(WaitFor(*leaf, "LS+ $LDS."));
  EXPECT_EQ(leaf->received.find("in.global"), std::string::npos);
  leaf->conn->Write("LMSG in.app 1\r\na\r\nLMSG in.global 1\r\ng\r\n");
  ASSERT_TRUE(app->WaitFor("MSG in.app 1 1\r\na\r\n"));
  other->Sync();
  EXPECT_EQ(other->received().find("MSG in.global"), std::string::npos);
}

TEST_F(AcceptTest, WithTlsALeafThatNeverHandshakesIsDropped) {
  auto pki = net::testing::TestPki::Create();
  auto cert = pki.Issue("localhost", {"DNS:localhost", "IP:127.0.0.1"});
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("leafnode_test_tls_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "server.pem") << cert.cert_pem;
  std::ofstream(dir / "server.key") << cert.key_pem;
  Options o;
  o.leafnodes.tls = true;
  o.leafnodes.tls_cert_file = (dir / "server.pem").string();
  o.leafnodes.tls_key_file = (dir / "server.key").string();
  o.leafnodes.tls_timeout = 200ms;
  StartServer(o);
  auto leaf = Dial();
  ASSERT_TRUE(WaitFor(*leaf, "\r\n"));
  EXPECT_NE(leaf->received.find("\"tls_required\":true"), std::string::npos);
  // Silent: the TLS timeout (not the 5 s handshake limit) drops it.
  EXPECT_TRUE(WaitClosed(*leaf));
  EXPECT_EQ(leaf->received.find("connect_info"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_F(LeafNodeTest, ServerRefusesARemoteWithAnUnknownAccount) {
  Options o;
  LeafRemoteOptions r;
  r.urls = {"nats-leaf://127.0.0.1:1"};
  r.account = "NOPE";
  o.leafnodes.remotes.push_back(r);
  EXPECT_THROW(Server(loop_, o), std::invalid_argument);
}

}  // namespace
}  // namespace meridian::server
