// Session failover, driven through a recording host: the upstream is lost and replaced, and
// the session is replayed onto the new one.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "session/session.h"

namespace meridian::session {
namespace {

using namespace std::chrono_literals;

class FailoverHost : public SessionHost {
 public:
  void SendToClient(std::span<const std::string_view> parts) override {
    for (auto p : parts) to_client += p;
  }
  void SendToUpstream(std::span<const std::string_view> parts) override {
    for (auto p : parts) to_upstream += p;
  }
  rewrite::Rewriter* OnUpstreamInfo(const UpstreamInfo&, std::string&) override {
    ++infos;
    return rewriter;
  }
  void CloseSession(std::string_view why) override { closed_because = std::string(why); }
  void OnSessionRestored(std::chrono::nanoseconds g) override {
    ++restored;
    gap = g;
  }

  rewrite::Rewriter* rewriter = nullptr;
  std::string to_client, to_upstream, closed_because;
  int infos = 0;
  int restored = 0;
  std::chrono::nanoseconds gap{0};
};

constexpr std::string_view kInfo =
    "INFO {\"server_id\":\"N1\",\"version\":\"2.9.10\",\"headers\":true,\"max_payload\":1048576,"
    "\"cluster\":\"west\"} \r\n";
constexpr std::string_view kInfoWithNonce =
    "INFO {\"server_id\":\"N2\",\"version\":\"2.9.10\",\"headers\":true,\"max_payload\":1048576,"
    "\"cluster\":\"west\",\"nonce\":\"abc\"} \r\n";

class SessionFailoverTest : public ::testing::Test {
 protected:
  SessionFailoverTest() {
    rewrite::VirtualStream foo{"foo", {"foo.>"}, {"west", "east"}};
    auto topology = std::make_shared<const rewrite::Topology>(std::vector{foo});
    west_ = std::make_unique<rewrite::Rewriter>(topology, "west");
    east_ = std::make_unique<rewrite::Rewriter>(topology, "east");
    host_.rewriter = west_.get();
    Make(8u << 20);
  }
  void Make(std::size_t buffer) {
    SessionOptions options;
    options.failover_buffer = buffer;
    session_ = std::make_unique<Session>(host_, options, counters_, 7);
  }
  void Connect(std::string_view connect = R"({"verbose":false,"headers":true})") {
    Upstream(kInfo);
    Client("CONNECT " + std::string(connect) + "\r\n");
    Clear();
  }
  // The upstream dies and a new one connects and sends its INFO.
  void Replace(std::string_view info = kInfo) {
    session_->OnUpstreamLost(now_);
    now_ += 150ms;
    session_->OnUpstreamReplaced();
    Upstream(info);
  }
  void Upstream(std::string_view bytes) { session_->OnUpstreamBytes(bytes, now_); }
  void Client(std::string_view bytes) { session_->OnClientBytes(bytes, now_); }
  void Clear() { host_.to_client.clear(), host_.to_upstream.clear(); }

  FailoverHost host_;
  SessionCounters counters_;
  std::unique_ptr<rewrite::Rewriter> west_, east_;
  std::unique_ptr<Session> session_;
  TimePoint now_ = TimePoint() + 1h;
};

TEST_F(SessionFailoverTest, ReplaysConnectAndEverySubscriptionWithItsQueueGroupThenPings) {
  Connect();
  Client("SUB a.b 1\r\nSUB jobs workers 2\r\nSUB c.> 3\r\nUNSUB 3\r\n");
  Clear();
  Replace();
  EXPECT_EQ(host_.to_upstream,
            "CONNECT {\"headers\":true,\"verbose\":false}\r\n"
            "SUB a.b 1\r\nSUB jobs workers 2\r\nPING\r\n");
  EXPECT_EQ(session_->upstream_state(), UpstreamState::kRestoring);
  EXPECT_EQ(host_.to_client, "");  // the client sees no second INFO
}

TEST_F(SessionFailoverTest, RestoresTheRemainingAutoUnsubscribeCount) {
  Connect();
  Client("SUB x 9\r\nUNSUB 9 5\r\n");
  Upstream("MSG x 9 1\r\na\r\nMSG x 9 1\r\nb\r\n");
  Clear();
  Replace();
  EXPECT_NE(host_.to_upstream.find("SUB x 9\r\nUNSUB 9 3\r\n"), std::string::npos)
      << host_.to_upstream;
}

TEST_F(SessionFailoverTest, DoesNotRestoreASubscriptionThatReachedItsMax) {
  Connect();
  Client("SUB x 9\r\nUNSUB 9 2\r\n");
  Upstream("MSG x 9 1\r\na\r\nMSG x 9 1\r\nb\r\n");
  Clear();
  Replace();
  EXPECT_EQ(host_.to_upstream.find("SUB x 9"), std::string::npos) << host_.to_upstream;
}

TEST_F(SessionFailoverTest, KeepsClientBytesDuringTheGapAndSendsThemAfterTheRestorePong) {
  Connect();
  session_->OnUpstreamLost(now_);
  Client("PUB bar.x 2\r\nhi\r\nPUB foo.t 1\r\n1\r\n");
  EXPECT_EQ(host_.to_upstream, "");
  EXPECT_EQ(session_->failover_kept_bytes(), 33u);
  session_->OnUpstreamReplaced();
  Upstream(kInfo);
  EXPECT_EQ(host_.to_upstream.find("PUB bar.x"), std::string::npos);
  Clear();
  Upstream("PONG\r\n");
  EXPECT_EQ(host_.to_upstream, "PUB bar.x 2\r\nhi\r\nPUB foo.west.t 1\r\n1\r\n");
  EXPECT_EQ(host_.to_client, "");  // the sidecar's own PONG is not the client's
  EXPECT_EQ(session_->upstream_state(), UpstreamState::kServing);
  EXPECT_EQ(host_.restored, 1);
}

TEST_F(SessionFailoverTest, ReportsTheGapFromLossToRestore) {
  Connect();
  Replace();
  now_ += 50ms;
  Upstream("PONG\r\n");
  EXPECT_EQ(host_.gap, 200ms);
}

TEST_F(SessionFailoverTest, ClosesAClientThatSendsMoreThanTheBufferDuringTheGap) {
  Make(1024);
  Connect();
  session_->OnUpstreamLost(now_);
  Client("PUB bar.x 1000\r\n" + std::string(1000, 'x') + "\r\n");
  EXPECT_FALSE(session_->closed());
  Client("PUB bar.x 100\r\n" + std::string(100, 'x') + "\r\n");
  EXPECT_TRUE(session_->closed());
  EXPECT_TRUE(host_.to_client.starts_with("-ERR 'meridian: Slow Consumer")) << host_.to_client;
  EXPECT_EQ(counters_.failover_buffer_overflows, 1u);
}

TEST_F(SessionFailoverTest, RefusesToReplayASignatureOfTheOldServersNonce) {
  Upstream(kInfoWithNonce);
  Client(R"(CONNECT {"verbose":false,"nkey":"UABC","sig":"c2lnbmVk"})"
         "\r\n");
  Clear();
  Replace(kInfoWithNonce);
  EXPECT_TRUE(session_->closed());
  EXPECT_TRUE(host_.to_client.starts_with("-ERR 'meridian: the upstream server was lost"))
      << host_.to_client;
  EXPECT_EQ(host_.to_upstream.find("CONNECT"), std::string::npos);
  EXPECT_EQ(counters_.failovers_refused, 1u);
}

TEST_F(SessionFailoverTest, ReplaysUserAndPasswordToAServerWithANonce) {
  Upstream(kInfo);
  Client(R"(CONNECT {"verbose":false,"user":"u","pass":"p"})"
         "\r\n");
  Clear();
  Replace(kInfoWithNonce);
  EXPECT_FALSE(session_->closed());
  EXPECT_TRUE(host_.to_upstream.starts_with("CONNECT {\"pass\":\"p\",\"user\":\"u\""))
      << host_.to_upstream;
}

TEST_F(SessionFailoverTest, AnswersTheClientsPingsThatTheLostServerNeverDid) {
  Connect();
  Client("PING\r\n");
  EXPECT_EQ(host_.to_upstream, "PING\r\n");
  Replace();
  Upstream("PONG\r\n");
  EXPECT_EQ(host_.to_client, "PONG\r\n");
}

TEST_F(SessionFailoverTest, ForwardsTheClientsPongsButNotTheSidecarsOwn) {
  Connect();
  Client("PING\r\n");
  session_->PingUpstream(now_);
  EXPECT_TRUE(session_->oldest_own_ping().has_value());
  Client("PING\r\n");
  Upstream("PONG\r\nPONG\r\nPONG\r\n");
  EXPECT_EQ(host_.to_client, "PONG\r\nPONG\r\n");
  EXPECT_FALSE(session_->oldest_own_ping().has_value());
}

TEST_F(SessionFailoverTest, ANewServerRefusingTheReplayedConnectClosesTheClientWithItsError) {
  Connect();
  Replace();
  Upstream("-ERR 'Authorization Violation'\r\n");
  EXPECT_TRUE(session_->closed());
  EXPECT_EQ(host_.to_client, "-ERR 'Authorization Violation'\r\n");
}

TEST_F(SessionFailoverTest, PublishesGoToTheWriteStreamOfTheRegionServingAfterAMove) {
  Connect();
  host_.rewriter = east_.get();  // the host moved the session to a server of east
  Replace();
  Upstream("PONG\r\n");
  Clear();
  Client("PUB foo.t _INBOX.r.1 1\r\n1\r\n");
  EXPECT_EQ(host_.to_upstream, "PUB foo.east.t _INBOX.r.1 1\r\n1\r\n");
}

TEST_F(SessionFailoverTest, RestoresTheSidecarsOwnInboxAfterAFanOut) {
  Connect();
  Client(
      "SUB _INBOX.r.* 1\r\nPUB $JS.API.DIRECT.GET.foo _INBOX.r.2 "
      "27\r\n{\"last_by_subj\":\"foo.test\"}\r\n");
  ASSERT_NE(host_.to_upstream.find("SUB _MRDN.7.* _MRDN_0"), std::string::npos)
      << host_.to_upstream;
  Clear();
  Replace();
  EXPECT_NE(host_.to_upstream.find("SUB _MRDN.7.* _MRDN_0\r\n"), std::string::npos)
      << host_.to_upstream;
}

}  // namespace
}  // namespace meridian::session
