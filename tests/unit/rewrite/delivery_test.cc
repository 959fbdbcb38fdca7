#include <gtest/gtest.h>

#include "fixture.h"

namespace meridian::rewrite {
namespace {

class Delivery : public ::testing::Test {
 protected:
  Rewriter rw = testing::WestRewriter();
  DeliveryResult out;
  std::string ack;
};

TEST_F(Delivery, RecognisesReadStreamAckSubjectsOnly) {
  EXPECT_TRUE(rw.IsVirtualDelivery("$JS.ACK.foo-read-west.dur.1.2.2.1795393222582469645.0"));
  EXPECT_TRUE(rw.IsVirtualDelivery("$JS.ACK.foo-read-east.dur.1.2.2.1795393222582469645.0"));
  EXPECT_FALSE(rw.IsVirtualDelivery("$JS.ACK.foo-write-west.dur.1.2.2.1795393222582469645.0"));
  EXPECT_FALSE(rw.IsVirtualDelivery("$JS.ACK.ORDERS.dur.1.2.2.1795393222582469645.0"));
  EXPECT_FALSE(rw.IsVirtualDelivery("_INBOX.abc.7"));
  EXPECT_FALSE(rw.IsVirtualDelivery(""));
}

TEST_F(Delivery, StripsRegionTokenAndNamesVirtualStreamInAck) {
  ASSERT_TRUE(rw.RewriteDelivery("foo.east.test",
                                 "$JS.ACK.foo-read-west.dur.1.2.2.1795393222582469645.0", "", out));
  EXPECT_EQ(out.subject, "foo.test");
  EXPECT_EQ(out.reply, "$JS.ACK.foo.dur.1.2.2.1795393222582469645.0");
  EXPECT_FALSE(out.headers_changed);
}

TEST_F(Delivery, RewritesVersion2AckSubject) {
  ASSERT_TRUE(rw.RewriteDelivery(
      "foo.west.a", "$JS.ACK._.HASH.foo-read-west.dur.1.5.9.1795393222582469645.3.tok", "", out));
  EXPECT_EQ(out.reply, "$JS.ACK._.HASH.foo.dur.1.5.9.1795393222582469645.3.tok");
}

TEST_F(Delivery, RemovesOriginPrefixFromMsgId) {
  ASSERT_TRUE(rw.RewriteDelivery("foo.east.test", "$JS.ACK.foo-read-west.d.1.1.1.1.0",
                                 "NATS/1.0\r\nNats-Msg-Id: east:m1\r\nX: y\r\n\r\n", out));
  ASSERT_TRUE(out.headers_changed);
  EXPECT_EQ(out.headers, "NATS/1.0\r\nNats-Msg-Id: m1\r\nX: y\r\n\r\n");
}

TEST_F(Delivery, LeavesMsgIdWithoutKnownOriginAlone) {
  ASSERT_TRUE(rw.RewriteDelivery("foo.east.test", "$JS.ACK.foo-read-west.d.1.1.1.1.0",
                                 "NATS/1.0\r\nNats-Msg-Id: plain:m1\r\n\r\n", out));
  EXPECT_FALSE(out.headers_changed);
}

TEST_F(Delivery, IgnoresMessagesThatAreNotFromAReadStream) {
  out.subject = "untouched";
  EXPECT_FALSE(rw.RewriteDelivery("foo.west.x", "_INBOX.1", "", out));
  EXPECT_EQ(out.subject, "untouched");
}

TEST_F(Delivery, MapsClientAckBackToOwnReadStream) {
  ASSERT_TRUE(rw.RewriteClientAck("$JS.ACK.foo.dur.1.2.2.1795393222582469645.0", ack));
  EXPECT_EQ(ack, "$JS.ACK.foo-read-west.dur.1.2.2.1795393222582469645.0");
  ASSERT_TRUE(rw.RewriteClientAck("$JS.ACK.hub.HASH.foo.dur.1.2.2.1795393222582469645.0", ack));
  EXPECT_EQ(ack, "$JS.ACK.hub.HASH.foo-read-west.dur.1.2.2.1795393222582469645.0");
  EXPECT_FALSE(rw.RewriteClientAck("$JS.ACK.ORDERS.dur.1.2.2.1795393222582469645.0", ack));
}

TEST_F(Delivery, AckRoundTripRestoresTheServersSubject) {
  const std::string server = "$JS.ACK.foo-read-west.dur.3.17.21.1795393222582469645.4";
  ASSERT_TRUE(rw.RewriteDelivery("foo.central.k", server, "", out));
  ASSERT_TRUE(rw.RewriteClientAck(out.reply, ack));
  EXPECT_EQ(ack, server);
}

}  // namespace
}  // namespace meridian::rewrite
