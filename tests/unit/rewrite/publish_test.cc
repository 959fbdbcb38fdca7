#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixture.h"

namespace meridian::rewrite {
namespace {

using ::testing::HasSubstr;
using testing::J;

class Publish : public ::testing::Test {
 protected:
  Rewriter rw = testing::WestRewriter();
  PublishResult out;
};

TEST_F(Publish, ClassifiesEveryKindOfClientSubject) {
  EXPECT_EQ(rw.ClassifyOutbound("foo.test"), Outbound::kVirtualPublish);
  EXPECT_EQ(rw.ClassifyOutbound("orders.eu.9"), Outbound::kVirtualPublish);
  EXPECT_EQ(rw.ClassifyOutbound("bar.test"), Outbound::kPassThrough);
  EXPECT_EQ(rw.ClassifyOutbound("_INBOX.abc.1"), Outbound::kPassThrough);
  EXPECT_EQ(rw.ClassifyOutbound("$JS.API.STREAM.INFO.foo"), Outbound::kApiRequest);
  EXPECT_EQ(rw.ClassifyOutbound("$JS.hub.API.STREAM.INFO.foo"), Outbound::kApiRequest);
  EXPECT_EQ(rw.ClassifyOutbound("$JS.ACK.foo.dur.1.2.3.4.0"), Outbound::kAck);
  EXPECT_EQ(rw.ClassifyOutbound("$JS.ACK.other.dur.1.2.3.4.0"), Outbound::kPassThrough);
}

TEST_F(Publish, RewritesPublishSubjectWithRegionToken) {
  ASSERT_EQ(rw.RewritePublish("foo.test", "", out), PublishAction::kForward);
  EXPECT_EQ(out.subject, "foo.west.test");
  EXPECT_FALSE(out.headers_changed);
  EXPECT_EQ(out.expect.kind, ReplyKind::kPubAck);
  EXPECT_EQ(out.expect.stream, 0u);
}

TEST_F(Publish, LeavesUnrelatedHeadersAlone) {
  ASSERT_EQ(rw.RewritePublish("foo.test", "NATS/1.0\r\nX-Trace: 1\r\n\r\n", out),
            PublishAction::kForward);
  EXPECT_FALSE(out.headers_changed);
}

TEST_F(Publish, RemovesExpectedStreamNamingTheVirtualStream) {
  ASSERT_EQ(
      rw.RewritePublish("foo.test", "NATS/1.0\r\nNats-Expected-Stream: foo\r\nA: b\r\n\r\n", out),
      PublishAction::kForward);
  ASSERT_TRUE(out.headers_changed);
  EXPECT_EQ(out.headers, "NATS/1.0\r\nA: b\r\n\r\n");
}

TEST_F(Publish, RefusesExpectedStreamNamingAnotherStream) {
  ASSERT_EQ(rw.RewritePublish("foo.test", "NATS/1.0\r\nNats-Expected-Stream: bar\r\n\r\n", out),
            PublishAction::kRefuse);
  auto j = J(out.refusal);
  EXPECT_EQ(j["error"]["err_code"], 10060);
  EXPECT_EQ(j["stream"], "foo");
  EXPECT_EQ(j["seq"], 0);
}

TEST_F(Publish, RefusesCompareAndSetHeaders) {
  for (const char* header : {"Nats-Expected-Last-Sequence", "Nats-Expected-Last-Subject-Sequence",
                             "Nats-Expected-Last-Msg-Id", "nats-expected-last-sequence"}) {
    std::string block = std::string("NATS/1.0\r\n") + header + ": 3\r\n\r\n";
    ASSERT_EQ(rw.RewritePublish("foo.test", block, out), PublishAction::kRefuse) << header;
    auto j = J(out.refusal);
    EXPECT_EQ(j["error"]["code"], 400);
    EXPECT_EQ(j["error"]["err_code"], kRefusalErrCode);
    std::string description = j["error"]["description"];
    EXPECT_THAT(description, HasSubstr(header));
    EXPECT_THAT(description, HasSubstr("immediate"));
    EXPECT_THAT(description, HasSubstr("topology file"));
  }
}

TEST_F(Publish, RefusesRollup) {
  ASSERT_EQ(rw.RewritePublish("foo.k", "NATS/1.0\r\nNats-Rollup: sub\r\n\r\n", out),
            PublishAction::kRefuse);
  std::string description = J(out.refusal)["error"]["description"];
  EXPECT_THAT(description, HasSubstr("Nats-Rollup"));
  EXPECT_THAT(description, HasSubstr("stalls"));
}

TEST_F(Publish, PrefixesMsgIdWithOriginRegion) {
  ASSERT_EQ(rw.RewritePublish("foo.test", "NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n", out),
            PublishAction::kForward);
  ASSERT_TRUE(out.headers_changed);
  EXPECT_EQ(out.headers, "NATS/1.0\r\nNats-Msg-Id: west:m1\r\n\r\n");
}

TEST_F(Publish, RefusesUnreadableHeaderBlock) {
  ASSERT_EQ(rw.RewritePublish("foo.test", "NATS/1.0\r\nbroken\r\n\r\n", out),
            PublishAction::kRefuse);
  EXPECT_THAT(std::string(J(out.refusal)["error"]["description"]), HasSubstr("could not be read"));
}

TEST_F(Publish, CountsRewritesAndRefusals) {
  rw.RewritePublish("foo.a", "", out);
  rw.RewritePublish("foo.a", "NATS/1.0\r\nNats-Rollup: all\r\n\r\n", out);
  EXPECT_EQ(rw.stats().publishes_rewritten, 1u);
  EXPECT_EQ(rw.stats().publishes_refused, 1u);
}

TEST_F(Publish, ReusesResultBuffersWithoutGrowing) {
  rw.RewritePublish("foo.some.longer.subject.name", "", out);
  const char* data = out.subject.data();
  rw.RewritePublish("foo.short", "", out);
  EXPECT_EQ(out.subject.data(), data);
}

}  // namespace
}  // namespace meridian::rewrite
