// Session, driven through a recording host: no sockets, no server.
#include "session/session.h"

#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace meridian::session {
namespace {

using namespace std::chrono_literals;

class RecordingHost : public SessionHost {
 public:
  void SendToClient(std::span<const std::string_view> parts) override {
    ++client_writes;
    for (auto p : parts) to_client += p;
  }
  void SendToUpstream(std::span<const std::string_view> parts) override {
    ++upstream_writes;
    for (auto p : parts) to_upstream += p;
  }
  rewrite::Rewriter* OnUpstreamInfo(const UpstreamInfo& info, std::string& why) override {
    seen_cluster = info.cluster;
    why = refusal;
    return rewriter;
  }
  void CloseSession(std::string_view why) override { closed_because = std::string(why); }

  rewrite::Rewriter* rewriter = nullptr;
  std::string refusal;
  std::string to_client;
  std::string to_upstream;
  int client_writes = 0;
  int upstream_writes = 0;
  std::string seen_cluster;
  std::string closed_because;
};

constexpr std::string_view kInfo =
    "INFO {\"server_id\":\"N1\",\"version\":\"2.9.10\",\"proto\":1,\"headers\":true,"
    "\"max_payload\":1024,\"cluster\":\"west\",\"connect_urls\":[\"10.0.0.2:4222\"]} \r\n";

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() {
    rewrite::VirtualStream foo;
    foo.name = "foo";
    foo.subject_roots = {"foo.>"};
    foo.regions = {"west", "east"};
    auto topology = std::make_shared<const rewrite::Topology>(std::vector{foo});
    rewriter_ = std::make_unique<rewrite::Rewriter>(topology, "west");
    host_.rewriter = rewriter_.get();
    SessionOptions options;
    options.info.host = "127.0.0.1";
    options.info.port = 4222;
    options.request_timeout = 2s;
    session_ = std::make_unique<Session>(host_, options, counters_, 42);
  }

  // Handshake done and a headers-capable, non-verbose client subscribed to its inbox.
  void Connect(std::string_view connect = R"({"verbose":false,"headers":true,"protocol":1})") {
    Upstream(kInfo);
    Client("CONNECT " + std::string(connect) + "\r\nSUB _INBOX.r.* 1\r\n");
    Clear();
  }
  void Upstream(std::string_view bytes) { session_->OnUpstreamBytes(bytes, now_); }
  void Client(std::string_view bytes) { session_->OnClientBytes(bytes, now_); }
  void Clear() {
    host_.to_client.clear();
    host_.to_upstream.clear();
    host_.client_writes = host_.upstream_writes = 0;
  }

  RecordingHost host_;
  SessionCounters counters_;
  std::unique_ptr<rewrite::Rewriter> rewriter_;
  std::unique_ptr<Session> session_;
  TimePoint now_ = TimePoint() + 1h;
};

TEST_F(SessionTest, SendsTheClientAnInfoWithoutConnectUrlsOnlyAfterTheUpstreamOne) {
  EXPECT_FALSE(session_->handshake_done());
  Upstream(kInfo);
  EXPECT_TRUE(session_->handshake_done());
  EXPECT_EQ(host_.seen_cluster, "west");
  EXPECT_EQ(host_.to_client.find("connect_urls"), std::string::npos);
  EXPECT_TRUE(host_.to_client.starts_with("INFO {"));
  EXPECT_TRUE(host_.to_client.ends_with("} \r\n"));
  EXPECT_NE(host_.to_client.find("\"port\":4222"), std::string::npos);
}

TEST_F(SessionTest, RefusesTheClientWithTheHostsSentence) {
  host_.refusal = "meridian: region unknown";
  Upstream(kInfo);
  EXPECT_EQ(host_.to_client, "-ERR 'meridian: region unknown'\r\n");
  EXPECT_TRUE(session_->closed());
}

TEST_F(SessionTest, StripsConnectUrlsFromAsyncInfo) {
  Connect();
  Upstream("INFO {\"server_id\":\"N1\",\"connect_urls\":[\"10.0.0.3:4222\"],\"ldm\":true} \r\n");
  EXPECT_TRUE(host_.to_client.starts_with("INFO "));
  EXPECT_EQ(host_.to_client.find("connect_urls"), std::string::npos);
  EXPECT_EQ(host_.to_client.find("ldm"), std::string::npos);
}

TEST_F(SessionTest, ForwardsUntouchedOpsOfOneReadByteForByteInOneWrite) {
  Connect();
  const std::string bytes =
      "PUB bar.x 2\r\nhi\r\nPUB  bar.y   _INBOX.r.1 0\r\n\r\nHPUB bar.z 12 "
      "14\r\nNATS/1.0\r\n\r\nok\r\n"
      "PING\r\n";
  Client(bytes);
  EXPECT_EQ(host_.to_upstream, bytes);
  EXPECT_EQ(host_.upstream_writes, 1);
  EXPECT_EQ(counters_.forwarded, 3u);
}

TEST_F(SessionTest, ForwardsUntouchedMessagesToTheClientByteForByte) {
  Connect();
  const std::string bytes = "MSG bar.x 1  2\r\nhi\r\nMSG bar.y 1 _INBOX.r.9 0\r\n\r\nPING\r\n";
  Upstream(bytes);
  EXPECT_EQ(host_.to_client, bytes);
  EXPECT_EQ(host_.client_writes, 1);
}

TEST_F(SessionTest, ForwardsAnOpSplitAcrossReadsUnchanged) {
  Connect();
  Client("PUB bar.x 5\r\nhe");
  Client("llo\r\n");
  EXPECT_EQ(host_.to_upstream, "PUB bar.x 5\r\nhello\r\n");
}

TEST_F(SessionTest, ReplacesCredentialsAndVerboseInTheUpstreamConnect) {
  Upstream(kInfo);
  Client(R"(CONNECT {"verbose":true,"user":"a","pass":"b"})"
         "\r\n");
  EXPECT_NE(host_.to_upstream.find("\"verbose\":false"), std::string::npos);
  EXPECT_EQ(host_.to_client.substr(host_.to_client.find("\r\n") + 2), "+OK\r\n");
  EXPECT_TRUE(session_->client_options().verbose);
}

TEST_F(SessionTest, AnswersOkForEachOpOfAVerboseClientAndDropsUpstreamOks) {
  Connect(R"({"verbose":true})");
  Client("SUB a 5\r\nPUB a 0\r\n\r\nUNSUB 5\r\n");
  EXPECT_EQ(host_.to_client, "+OK\r\n+OK\r\n+OK\r\n");
  Clear();
  Upstream("+OK\r\n");
  EXPECT_EQ(host_.to_client, "");
}

TEST_F(SessionTest, InsertsTheRegionIntoVirtualPublishesAndRewritesTheirPubAck) {
  Connect();
  Client("PUB foo.test _INBOX.r.1 2\r\nm1\r\n");
  EXPECT_EQ(host_.to_upstream, "PUB foo.west.test _INBOX.r.1 2\r\nm1\r\n");
  EXPECT_EQ(session_->pending_requests(), 1u);
  Clear();
  const std::string ack = R"({"stream":"foo-write-west","seq":5})";
  Upstream("MSG _INBOX.r.1 1 " + std::to_string(ack.size()) + "\r\n" + ack + "\r\n");
  EXPECT_NE(host_.to_client.find(R"("stream":"foo")"), std::string::npos) << host_.to_client;
  EXPECT_TRUE(host_.to_client.starts_with("MSG _INBOX.r.1 1 "));
  EXPECT_EQ(session_->pending_requests(), 0u);
}

TEST_F(SessionTest, AnswersARefusedPublishLocallyOnTheClientsInboxSid) {
  Connect();
  const std::string hdr = "NATS/1.0\r\nNats-Expected-Last-Sequence: 3\r\n\r\n";
  Client("HPUB foo.test _INBOX.r.2 " + std::to_string(hdr.size()) + " " +
         std::to_string(hdr.size() + 1) + "\r\n" + hdr + "x\r\n");
  EXPECT_EQ(host_.to_upstream, "");
  EXPECT_TRUE(host_.to_client.starts_with("MSG _INBOX.r.2 1 ")) << host_.to_client;
  EXPECT_NE(host_.to_client.find("\"error\""), std::string::npos);
  EXPECT_EQ(counters_.refusals, 1u);
}

TEST_F(SessionTest, ForwardsAReplyItCannotParseUnchangedAndCountsIt) {
  Connect();
  Client("PUB foo.test _INBOX.r.3 0\r\n\r\n");
  Clear();
  const std::string bytes = "MSG _INBOX.r.3 1 9\r\nnot json!\r\n";
  Upstream(bytes);
  EXPECT_EQ(host_.to_client, bytes);
  EXPECT_EQ(counters_.unparseable_replies, 1u);
}

TEST_F(SessionTest, RedirectsStreamInfoToTheReadStreamAndNamesTheVirtualStreamInTheReply) {
  Connect();
  Client("PUB $JS.API.STREAM.INFO.foo _INBOX.r.4 0\r\n\r\n");
  EXPECT_EQ(host_.to_upstream, "PUB $JS.API.STREAM.INFO.foo-read-west _INBOX.r.4 0\r\n\r\n");
  Clear();
  const std::string info =
      R"({"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"foo-read-west",)"
      R"("sources":[{"name":"foo-write-west","filter_subject":"foo.west.\u003e"}]},)"
      R"("state":{"messages":1}})";
  Upstream("MSG _INBOX.r.4 1 " + std::to_string(info.size()) + "\r\n" + info + "\r\n");
  EXPECT_NE(host_.to_client.find(R"("name":"foo")"), std::string::npos) << host_.to_client;
  EXPECT_EQ(host_.to_client.find("foo-read-west"), std::string::npos);
}

TEST_F(SessionTest, PresentsDeliveredMessagesWithoutTheRegionAndWithAVirtualAckSubject) {
  Connect();
  Upstream("MSG foo.east.test 1 $JS.ACK.foo-read-west.d1.1.2.2.1795393222582469645.0 1\r\nx\r\n");
  EXPECT_EQ(host_.to_client,
            "MSG foo.test 1 $JS.ACK.foo.d1.1.2.2.1795393222582469645.0 1\r\nx\r\n");
}

TEST_F(SessionTest, SendsClientAcksToTheReadStream) {
  Connect();
  Client("PUB $JS.ACK.foo.d1.1.2.2.1795393222582469645.0 _INBOX.r.5 4\r\n+ACK\r\n");
  EXPECT_EQ(host_.to_upstream,
            "PUB $JS.ACK.foo-read-west.d1.1.2.2.1795393222582469645.0 _INBOX.r.5 4\r\n+ACK\r\n");
}

TEST_F(SessionTest, MergesALastBySubjectDirectGetFromEveryRegion) {
  Connect();
  Client("PUB $JS.API.DIRECT.GET.foo.foo.test _INBOX.r.6 0\r\n\r\n");
  EXPECT_NE(host_.to_upstream.find("SUB _MRDN.42.* _MRDN_0\r\n"), std::string::npos);
  EXPECT_NE(host_.to_upstream.find("PUB $JS.API.DIRECT.GET.foo-read-west.foo.west.test _MRDN.42.1"),
            std::string::npos)
      << host_.to_upstream;
  EXPECT_NE(host_.to_upstream.find("PUB $JS.API.DIRECT.GET.foo-read-west.foo.east.test _MRDN.42.2"),
            std::string::npos);
  Clear();
  const std::string miss = "NATS/1.0 404 Message Not Found\r\n\r\n";
  Upstream("HMSG _MRDN.42.2 _MRDN_0 " + std::to_string(miss.size()) + " " +
           std::to_string(miss.size()) + "\r\n" + miss + "\r\n");
  EXPECT_EQ(host_.to_client, "");  // waits for every region
  const std::string hit =
      "NATS/1.0\r\nNats-Stream: foo-read-west\r\nNats-Subject: foo.west.test\r\n"
      "Nats-Sequence: 1\r\nNats-Time-Stamp: 2026-11-23T01:42:26.447504673Z\r\n\r\n";
  Upstream("HMSG _MRDN.42.1 _MRDN_0 " + std::to_string(hit.size()) + " " +
           std::to_string(hit.size() + 2) + "\r\n" + hit + "m1\r\n");
  EXPECT_TRUE(host_.to_client.starts_with("HMSG _INBOX.r.6 1 ")) << host_.to_client;
  EXPECT_NE(host_.to_client.find("Nats-Stream: foo\r\n"), std::string::npos);
  EXPECT_NE(host_.to_client.find("Nats-Subject: foo.test\r\n"), std::string::npos);
  EXPECT_TRUE(host_.to_client.ends_with("m1\r\n"));
}

TEST_F(SessionTest, AnUnansweredRequestTimesOutWithoutAnInventedReply) {
  Connect();
  Client("PUB $JS.API.STREAM.INFO.foo _INBOX.r.7 0\r\n\r\n");
  EXPECT_EQ(session_->pending_requests(), 1u);
  Clear();
  session_->Tick(now_ + 3s);
  EXPECT_EQ(session_->pending_requests(), 0u);
  EXPECT_EQ(counters_.requests_expired, 1u);
  EXPECT_EQ(host_.to_client, "");
}

TEST_F(SessionTest, MovesItsInternalSidWhenTheClientSubscribesWithIt) {
  Connect();
  Client("PUB $JS.API.DIRECT.GET.foo.foo.test _INBOX.r.6 0\r\n\r\n");
  Clear();
  Client("SUB mine _MRDN_0\r\n");
  EXPECT_NE(session_->internal_sid(), "_MRDN_0");
  EXPECT_NE(host_.to_upstream.find("UNSUB _MRDN_0\r\nSUB _MRDN.42.* " + session_->internal_sid()),
            std::string::npos)
      << host_.to_upstream;
  EXPECT_TRUE(host_.to_upstream.ends_with("SUB mine _MRDN_0\r\n"));
  Clear();
  Upstream("MSG mine _MRDN_0 1\r\nx\r\n");
  EXPECT_EQ(host_.to_client, "MSG mine _MRDN_0 1\r\nx\r\n");
}

TEST_F(SessionTest, AnswersGarbageWithTheServersErrAndCloses) {
  Connect();
  Client("PUB ok 1\r\nx\r\nFOO bar\r\nPUB later 0\r\n\r\n");
  EXPECT_EQ(host_.to_upstream, "PUB ok 1\r\nx\r\n");
  EXPECT_EQ(host_.to_client, "-ERR 'Unknown Protocol Operation'\r\n");
  EXPECT_TRUE(session_->closed());
  EXPECT_EQ(counters_.client_protocol_errors, 1u);
}

TEST_F(SessionTest, RefusesAnOversizedPayloadBeforeItArrives) {
  Connect();  // the upstream INFO says max_payload 1024
  Client("PUB big 2000\r\n");
  EXPECT_EQ(host_.to_client, "-ERR 'Maximum Payload Violation'\r\n");
  EXPECT_EQ(host_.to_upstream, "");
  EXPECT_TRUE(session_->closed());
}

TEST_F(SessionTest, ClosesAClientThatSendsHpubWithoutNegotiatingHeaders) {
  Connect(R"({"verbose":false})");
  Client("HPUB a 12 12\r\nNATS/1.0\r\n\r\n\r\n");
  EXPECT_TRUE(session_->closed());
  EXPECT_EQ(host_.to_upstream, "");
}

TEST_F(SessionTest, PassesEverythingThroughWithoutARewriter) {
  host_.rewriter = nullptr;
  Connect();
  Client("PUB foo.test 0\r\n\r\n");
  EXPECT_EQ(host_.to_upstream, "PUB foo.test 0\r\n\r\n");
}

// --- split consumers (stock servers before 2.10; proxy/rewrite/split_consumers.h) ---------

std::string Pub(std::string_view subject, std::string_view reply, std::string_view body) {
  return "PUB " + std::string(subject) + " " + std::string(reply) + " " +
         std::to_string(body.size()) + "\r\n" + std::string(body) + "\r\n";
}
std::string Msg(std::string_view subject, std::string_view sid, std::string_view body) {
  return "MSG " + std::string(subject) + " " + std::string(sid) + " " +
         std::to_string(body.size()) + "\r\n" + std::string(body) + "\r\n";
}

TEST_F(SessionTest, FilteredConsumerCreateOnA29ServerBecomesOneCreatePerOrigin) {
  Connect();
  Client(Pub("$JS.API.CONSUMER.CREATE.foo.C.foo.test", "_INBOX.r.1",
             R"({"stream_name":"foo","config":{"durable_name":"C","filter_subject":"foo.test"}})"));
  EXPECT_NE(host_.to_upstream.find("SUB _MRDN.42.s.r.*.* _MRDN_SR\r\n"), std::string::npos)
      << host_.to_upstream;
  EXPECT_NE(host_.to_upstream.find("PUB $JS.API.CONSUMER.CREATE.foo-read-west.C__west "
                                   "_MRDN.42.s.r.1.0 "),
            std::string::npos)
      << host_.to_upstream;
  EXPECT_NE(host_.to_upstream.find("PUB $JS.API.CONSUMER.CREATE.foo-read-west.C__east "
                                   "_MRDN.42.s.r.1.1 "),
            std::string::npos)
      << host_.to_upstream;
  EXPECT_EQ(session_->pending_requests(), 0u);
}

TEST_F(SessionTest, SplitConsumerCreateIsAnsweredOnTheClientsInboxOnceEveryOriginAnswered) {
  Connect();
  Client(Pub("$JS.API.CONSUMER.CREATE.foo.C.foo.test", "_INBOX.r.1",
             R"({"stream_name":"foo","config":{"durable_name":"C","filter_subject":"foo.test"}})"));
  Clear();
  Upstream(Msg("_MRDN.42.s.r.1.0", "_MRDN_SR",
               R"({"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"foo-read-west","name":"C__west","config":{"durable_name":"C__west","filter_subject":"foo.west.test"},"num_pending":2})"));
  EXPECT_EQ(host_.to_client, "");
  Upstream(Msg("_MRDN.42.s.r.1.1", "_MRDN_SR",
               R"({"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"foo-read-west","name":"C__east","config":{"durable_name":"C__east","filter_subject":"foo.east.test"},"num_pending":1})"));
  EXPECT_TRUE(host_.to_client.starts_with("MSG _INBOX.r.1 1 ")) << host_.to_client;
  EXPECT_NE(host_.to_client.find(R"("name":"C")"), std::string::npos) << host_.to_client;
  EXPECT_NE(host_.to_client.find(R"("filter_subject":"foo.test")"), std::string::npos);
  EXPECT_NE(host_.to_client.find(R"("num_pending":3)"), std::string::npos);
}

// Issue 4: a new connection binds to a split durable push consumer by subscribing to the deliver
// subject its info shows; the origins' deliveries reach that subscription, and its UNSUB unbinds.
TEST_F(SessionTest, ASubscriptionOnASplitPushConsumersDeliverSubjectBindsItHere) {
  Connect();
  Client("SUB _MRDN.D.foo-read-west.C 7\r\n");
  EXPECT_NE(host_.to_upstream.find("SUB _MRDN.D.foo-read-west.C 7\r\n"), std::string::npos);
  EXPECT_NE(host_.to_upstream.find("PUB $JS.API.CONSUMER.INFO.foo-read-west.C__east "
                                   "_MRDN.42.s.r.1.2 0\r\n"),
            std::string::npos)
      << host_.to_upstream;
  Clear();
  Upstream(Msg("_MRDN.42.s.r.1.0", "_MRDN_SR",
               R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","error":{"code":404,"err_code":10014,"description":"consumer not found"}})"));
  for (const std::string region : {"west", "east"}) {
    Upstream(Msg("_MRDN.42.s.r.1." + std::string(region == "west" ? "1" : "2"), "_MRDN_SR",
                 R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"foo-read-west","name":"C__)" +
                     region + R"(","config":{"durable_name":"C__)" + region +
                     R"(","ack_policy":"explicit","filter_subject":"foo.)" + region +
                     R"(.test","deliver_subject":"_MRDN.D.foo-read-west.C.)" + region +
                     R"("}})"));
  }
  EXPECT_EQ(host_.to_upstream,
            "SUB _MRDN.D.foo-read-west.C.west _MRDN_SD1_0\r\n"
            "SUB _MRDN.D.foo-read-west.C.east _MRDN_SD1_1\r\n");
  EXPECT_EQ(host_.to_client, "");
  Upstream("MSG foo.east.test _MRDN_SD1_1 $JS.ACK.foo-read-west.C__east.1.4.6.1795393222582469645.0 "
           "2\r\nhi\r\n");
  EXPECT_EQ(host_.to_client,
            "MSG foo.test 7 $JS.ACK.foo.C.1.4.1.1795393222582469645.0 2\r\nhi\r\n");
  Clear();
  Client("UNSUB 7\r\n");
  EXPECT_EQ(host_.to_upstream, "UNSUB _MRDN_SD1_0\r\nUNSUB _MRDN_SD1_1\r\nUNSUB 7\r\n");
}

TEST_F(SessionTest, LegacyEphemeralSplitConsumersGetANameUniqueToThisProcessAndSession) {
  Connect();
  Client(Pub("$JS.API.CONSUMER.CREATE.foo", "_INBOX.r.1",
             R"({"stream_name":"foo","config":{"filter_subject":"foo.test"}})"));
  const std::regex name(R"(CONSUMER\.CREATE\.foo-read-west\.mrdn[0-9a-f]{8}s42x1__west )");
  EXPECT_TRUE(std::regex_search(host_.to_upstream, name)) << host_.to_upstream;
}

}  // namespace
}  // namespace meridian::session
