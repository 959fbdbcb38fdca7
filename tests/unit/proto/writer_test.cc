#include "proto/writer.h"

#include <gtest/gtest.h>

#include <string>

#include "proto/parser.h"

namespace meridian::proto {
namespace {

std::string Written(void (*write)(Writer&)) {
  Writer w;
  write(w);
  return w.ToString();
}

TEST(WriterTest, FormatsPubWithAndWithoutReply) {
  EXPECT_EQ(Written([](Writer& w) { w.Pub("foo.bar", "", "hello"); }),
            "PUB foo.bar 5\r\nhello\r\n");
  EXPECT_EQ(Written([](Writer& w) { w.Pub("foo", "_INBOX.1", ""); }), "PUB foo _INBOX.1 0\r\n\r\n");
}

TEST(WriterTest, FormatsHpubWithHeaderAndTotalSizes) {
  EXPECT_EQ(Written([](Writer& w) { w.Hpub("foo", "r", "NATS/1.0\r\n\r\n", "world"); }),
            "HPUB foo r 12 17\r\nNATS/1.0\r\n\r\nworld\r\n");
}

TEST(WriterTest, FormatsSubAndUnsub) {
  EXPECT_EQ(Written([](Writer& w) { w.Sub("foo.*", "", "1"); }), "SUB foo.* 1\r\n");
  EXPECT_EQ(Written([](Writer& w) { w.Sub("foo.>", "q", "22"); }), "SUB foo.> q 22\r\n");
  EXPECT_EQ(Written([](Writer& w) { w.Unsub("22"); }), "UNSUB 22\r\n");
  EXPECT_EQ(Written([](Writer& w) { w.Unsub("22", 5); }), "UNSUB 22 5\r\n");
}

TEST(WriterTest, FormatsMsgAndHmsg) {
  EXPECT_EQ(Written([](Writer& w) { w.Msg("foo", "1", "", "abc"); }), "MSG foo 1 3\r\nabc\r\n");
  EXPECT_EQ(Written([](Writer& w) { w.Msg("foo", "1", "r.1", "abc"); }),
            "MSG foo 1 r.1 3\r\nabc\r\n");
  EXPECT_EQ(Written([](Writer& w) { w.Hmsg("_INBOX.x", "2", "", "NATS/1.0 503\r\n\r\n", ""); }),
            "HMSG _INBOX.x 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
}

TEST(WriterTest, FormatsControlOps) {
  EXPECT_EQ(Written([](Writer& w) { w.Ping(); }), "PING\r\n");
  EXPECT_EQ(Written([](Writer& w) { w.Pong(); }), "PONG\r\n");
  EXPECT_EQ(Written([](Writer& w) { w.Ok(); }), "+OK\r\n");
}

TEST(WriterTest, WrapsErrTextInSingleQuotes) {
  EXPECT_EQ(Written([](Writer& w) { w.Err("Maximum Payload Violation"); }),
            "-ERR 'Maximum Payload Violation'\r\n");
}

TEST(WriterTest, InfoHasASpaceBeforeCrLf) {
  EXPECT_EQ(Written([](Writer& w) { w.Info("{\"a\":1}"); }), "INFO {\"a\":1} \r\n");
}

TEST(WriterTest, FormatsConnect) {
  EXPECT_EQ(Written([](Writer& w) { w.Connect("{}"); }), "CONNECT {}\r\n");
}

TEST(WriterTest, ReferencesPayloadsInsteadOfCopying) {
  const std::string payload(100, 'x');
  Writer w;
  w.Pub("a", "", payload);
  const auto iov = w.Iovecs();
  ASSERT_EQ(iov.size(), 3u);
  EXPECT_EQ(iov[1].iov_base, payload.data());
  EXPECT_EQ(iov[1].iov_len, payload.size());
  EXPECT_EQ(w.size(), 11u + 100u + 2u);
}

TEST(WriterTest, MergesAdjacentBufferedPiecesIntoOneIovec) {
  Writer w;
  w.Sub("a", "", "1");
  w.Sub("b", "", "2");
  w.Ping();
  EXPECT_EQ(w.Iovecs().size(), 1u);
  w.Pub("c", "", "payload");
  w.Pub("d", "", "payload");
  // [SUB SUB PING PUB-line] [payload] [\r\n PUB-line] [payload] [\r\n]
  EXPECT_EQ(w.Iovecs().size(), 5u);
}

TEST(WriterTest, CopiesViewsUpToTheCopyThreshold) {
  Writer w(16);
  w.Pub("a", "", "small");
  w.Pub("b", "", std::string_view("this payload is above sixteen bytes"));
  EXPECT_EQ(w.Iovecs().size(), 3u);
  EXPECT_EQ(w.ToString(),
            "PUB a 5\r\nsmall\r\nPUB b 35\r\nthis payload is above sixteen bytes\r\n");
}

TEST(WriterTest, RawBytesAreReferencedAndCopyBytesAreNot) {
  const std::string raw = "PUB a 1\r\nx\r\n";
  Writer w;
  w.Raw(raw);
  w.Copy("PING\r\n");
  const auto iov = w.Iovecs();
  ASSERT_EQ(iov.size(), 2u);
  EXPECT_EQ(iov[0].iov_base, raw.data());
  EXPECT_EQ(w.ToString(), raw + "PING\r\n");
}

TEST(WriterTest, IovecsStayCorrectWhenTheBufferGrows) {
  Writer w;
  const std::string payload = "p";
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    w.Pub("subject.number." + std::to_string(i), "", payload);
    expected += "PUB subject.number." + std::to_string(i) + " 1\r\np\r\n";
  }
  std::string joined;
  for (const iovec& v : w.Iovecs()) joined.append(static_cast<const char*>(v.iov_base), v.iov_len);
  EXPECT_EQ(joined, expected);
  EXPECT_EQ(w.size(), expected.size());
}

TEST(WriterTest, ClearEmptiesTheBatch) {
  Writer w;
  w.Ping();
  w.Clear();
  EXPECT_TRUE(w.empty());
  EXPECT_TRUE(w.Iovecs().empty());
  w.Pong();
  EXPECT_EQ(w.ToString(), "PONG\r\n");
}

TEST(WriterTest, WhatTheWriterWritesTheParserReadsBack) {
  Writer w;
  w.Connect("{\"headers\":true}");
  w.Pub("a.b", "r", "one");
  w.Hpub("a.c", "", "NATS/1.0\r\nK: v\r\n\r\n", "two");
  w.Sub("a.>", "q", "9");
  w.Unsub("9", 3);
  Parser parser(Direction::kClientToServer);
  std::vector<Op> ops;
  const std::string bytes = w.ToString();
  ASSERT_EQ(ParseAll(parser, bytes, [&](const Op& op) { ops.push_back(op); }),
            Parser::Result::kNeedMore);
  ASSERT_EQ(ops.size(), 5u);
  EXPECT_EQ(ops[1].reply, "r");
  EXPECT_EQ(ops[1].payload, "one");
  EXPECT_EQ(ops[2].headers, "NATS/1.0\r\nK: v\r\n\r\n");
  EXPECT_EQ(ops[2].payload, "two");
  EXPECT_EQ(ops[3].queue, "q");
  EXPECT_EQ(ops[4].max_msgs, 3u);
}

}  // namespace
}  // namespace meridian::proto
