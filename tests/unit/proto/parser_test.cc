#include "proto/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace meridian::proto {
namespace {

// An op with every view copied, so results of different feeds can be compared.
struct Seen {
  OpKind kind;
  std::string raw, subject, reply, sid, queue, text, headers, payload;
  uint64_t max_msgs;
  bool has_max_msgs;
  bool operator==(const Seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << OpName(s.kind) << " raw=" << testing::PrintToString(s.raw);
}

struct Outcome {
  std::vector<Seen> ops;
  ErrorKind error = ErrorKind::kNone;
  std::string err_text;
  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << o.ops.size() << " ops";
  for (const Seen& s : o.ops) os << "\n  " << s;
  return os << "\n  error=" << static_cast<int>(o.error) << " '" << o.err_text << "'";
}

Seen Copy(const Op& op) {
  return Seen{op.kind,
              std::string(op.raw),
              std::string(op.subject),
              std::string(op.reply),
              std::string(op.sid),
              std::string(op.queue),
              std::string(op.text),
              std::string(op.headers),
              std::string(op.payload),
              op.max_msgs,
              op.has_max_msgs};
}

// Feeds `chunks` one after another (each copied into its own buffer that is overwritten after
// use, so views that outlive their read are caught by ASan or by wrong contents).
Outcome RunChunks(Direction direction, const std::vector<std::string>& chunks, Limits limits = {}) {
  Parser parser(direction, limits);
  Outcome out;
  for (const std::string& chunk : chunks) {
    std::string buffer = chunk;
    parser.Feed(buffer);
    Op op;
    Parser::Result r;
    while ((r = parser.Next(op)) == Parser::Result::kOp) out.ops.push_back(Copy(op));
    std::fill(buffer.begin(), buffer.end(), '#');
    if (r == Parser::Result::kError) {
      out.error = parser.error().kind;
      out.err_text = std::string(parser.error().err_text);
      EXPECT_TRUE(parser.error().close_connection);
      EXPECT_FALSE(parser.error().reason.empty());
      return out;
    }
  }
  return out;
}

Outcome Whole(Direction d, const std::string& s, Limits l = {}) {
  return RunChunks(d, {s}, l);
}

// The same stream split into two pieces at every position, and fed one byte at a time, must give
// exactly the result of feeding it whole.
void ExpectSplitInvariant(Direction d, const std::string& stream, Limits limits = {}) {
  const Outcome whole = Whole(d, stream, limits);
  for (size_t k = 0; k <= stream.size(); ++k) {
    ASSERT_EQ(RunChunks(d, {stream.substr(0, k), stream.substr(k)}, limits), whole)
        << "split at " << k << " of " << testing::PrintToString(stream);
  }
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  ASSERT_EQ(RunChunks(d, bytes, limits), whole) << "byte at a time";
}

constexpr Direction kC2S = Direction::kClientToServer;
constexpr Direction kS2C = Direction::kServerToClient;

const std::string kClientStream =
    "CONNECT {\"verbose\":false,\"headers\":true}\r\n"
    "PUB foo.bar 5\r\nhello\r\n"
    "PUB foo.bar _INBOX.1 0\r\n\r\n"
    "HPUB foo _INBOX.2 12 17\r\nNATS/1.0\r\n\r\nworld\r\n"
    "HPUB foo 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    "SUB foo.* 1\r\n"
    "SUB foo.> workers 22\r\n"
    "UNSUB 1\r\n"
    "UNSUB 22 5\r\n"
    "PING\r\n"
    "PONG\r\n"
    "+OK\r\n"
    "-ERR 'Stale Connection'\r\n"
    "INFO {\"server_id\":\"x\"} \r\n";

const std::string kServerStream =
    "INFO {\"server_id\":\"N\",\"version\":\"2.9.10\",\"headers\":true} \r\n"
    "+OK\r\n"
    "MSG foo.bar 1 5\r\nhello\r\n"
    "MSG foo.bar 1 _INBOX.r 3\r\nabc\r\n"
    "MSG _INBOX.r 1  28\r\n{\"type\":\"io.nats.x\",\"v\":1}..\r\n"
    "HMSG foo 9 $JS.ACK.S.C.1.1.1.1.0 18 21\r\nNATS/1.0\r\nA: b\r\n\r\nxyz\r\n"
    "HMSG _INBOX.x 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    "PING\r\n"
    "PONG\r\n"
    "-ERR 'Permissions Violation for Publish to \"x\"'\r\n";

TEST(ParserTest, ParsesEveryClientOp) {
  const Outcome o = Whole(kC2S, kClientStream);
  ASSERT_EQ(o.error, ErrorKind::kNone);
  ASSERT_EQ(o.ops.size(), 14u);
  EXPECT_EQ(o.ops[0].kind, OpKind::kConnect);
  EXPECT_EQ(o.ops[0].text, "{\"verbose\":false,\"headers\":true}");
  EXPECT_EQ(o.ops[1].kind, OpKind::kPub);
  EXPECT_EQ(o.ops[1].subject, "foo.bar");
  EXPECT_EQ(o.ops[1].reply, "");
  EXPECT_EQ(o.ops[1].payload, "hello");
  EXPECT_EQ(o.ops[1].raw, "PUB foo.bar 5\r\nhello\r\n");
  EXPECT_EQ(o.ops[2].reply, "_INBOX.1");
  EXPECT_EQ(o.ops[2].payload, "");
  EXPECT_EQ(o.ops[3].kind, OpKind::kHpub);
  EXPECT_EQ(o.ops[3].reply, "_INBOX.2");
  EXPECT_EQ(o.ops[3].headers, "NATS/1.0\r\n\r\n");
  EXPECT_EQ(o.ops[3].payload, "world");
  EXPECT_EQ(o.ops[4].headers, "NATS/1.0 503\r\n\r\n");
  EXPECT_EQ(o.ops[4].payload, "");
  EXPECT_EQ(o.ops[5].kind, OpKind::kSub);
  EXPECT_EQ(o.ops[5].subject, "foo.*");
  EXPECT_EQ(o.ops[5].queue, "");
  EXPECT_EQ(o.ops[5].sid, "1");
  EXPECT_EQ(o.ops[6].queue, "workers");
  EXPECT_EQ(o.ops[6].sid, "22");
  EXPECT_EQ(o.ops[7].kind, OpKind::kUnsub);
  EXPECT_EQ(o.ops[7].sid, "1");
  EXPECT_FALSE(o.ops[7].has_max_msgs);
  EXPECT_TRUE(o.ops[8].has_max_msgs);
  EXPECT_EQ(o.ops[8].max_msgs, 5u);
  EXPECT_EQ(o.ops[9].kind, OpKind::kPing);
  EXPECT_EQ(o.ops[10].kind, OpKind::kPong);
  EXPECT_EQ(o.ops[11].kind, OpKind::kOk);
  EXPECT_EQ(o.ops[12].kind, OpKind::kErr);
  EXPECT_EQ(o.ops[12].text, "Stale Connection");
  EXPECT_EQ(o.ops[13].kind, OpKind::kInfo);
  EXPECT_EQ(o.ops[13].text, "{\"server_id\":\"x\"}");
}

TEST(ParserTest, ParsesEveryServerOp) {
  const Outcome o = Whole(kS2C, kServerStream);
  ASSERT_EQ(o.error, ErrorKind::kNone);
  ASSERT_EQ(o.ops.size(), 10u);
  EXPECT_EQ(o.ops[0].kind, OpKind::kInfo);
  EXPECT_EQ(o.ops[0].text, "{\"server_id\":\"N\",\"version\":\"2.9.10\",\"headers\":true}");
  EXPECT_EQ(o.ops[1].kind, OpKind::kOk);
  EXPECT_EQ(o.ops[2].kind, OpKind::kMsg);
  EXPECT_EQ(o.ops[2].subject, "foo.bar");
  EXPECT_EQ(o.ops[2].sid, "1");
  EXPECT_EQ(o.ops[2].payload, "hello");
  EXPECT_EQ(o.ops[3].reply, "_INBOX.r");
  EXPECT_EQ(o.ops[5].kind, OpKind::kHmsg);
  EXPECT_EQ(o.ops[5].sid, "9");
  EXPECT_EQ(o.ops[5].reply, "$JS.ACK.S.C.1.1.1.1.0");
  EXPECT_EQ(o.ops[5].headers, "NATS/1.0\r\nA: b\r\n\r\n");
  EXPECT_EQ(o.ops[5].payload, "xyz");
  EXPECT_EQ(o.ops[6].headers, "NATS/1.0 503\r\n\r\n");
  EXPECT_EQ(o.ops[7].kind, OpKind::kPing);
  EXPECT_EQ(o.ops[8].kind, OpKind::kPong);
  EXPECT_EQ(o.ops[9].text, "Permissions Violation for Publish to \"x\"");
}

TEST(ParserTest, MsgWithTwoConsecutiveSpacesHasNoReply) {
  const Outcome o = Whole(kS2C, "MSG _INBOX.r 1  5\r\nhello\r\n");
  ASSERT_EQ(o.ops.size(), 1u);
  EXPECT_EQ(o.ops[0].subject, "_INBOX.r");
  EXPECT_EQ(o.ops[0].sid, "1");
  EXPECT_EQ(o.ops[0].reply, "");
  EXPECT_EQ(o.ops[0].payload, "hello");
}

TEST(ParserTest, ClientStreamGivesSameResultAtEverySplit) {
  ExpectSplitInvariant(kC2S, kClientStream);
}

TEST(ParserTest, ServerStreamGivesSameResultAtEverySplit) {
  ExpectSplitInvariant(kS2C, kServerStream);
}

TEST(ParserTest, LongArgumentsWithControlBytesGiveSameResultAtEverySplit) {
  const std::string subject = "orders.east.\x01\x02.created.0123456789.abcdefghij";
  const std::string stream = "MSG " + subject + " 1\t$JS.ACK.ORDERS.C1.1.1.1.17953932215806.0  " +
                             "3\r\nabc\r\nHMSG " + subject + "\t2 12 12\r\nNATS/1.0\r\n\r\n\r\n";
  const Outcome whole = Whole(kS2C, stream);
  ASSERT_EQ(whole.error, ErrorKind::kNone);
  ASSERT_EQ(whole.ops.size(), 2u);
  EXPECT_EQ(whole.ops[0].subject, subject);
  EXPECT_EQ(whole.ops[0].reply, "$JS.ACK.ORDERS.C1.1.1.1.17953932215806.0");
  EXPECT_EQ(whole.ops[1].sid, "2");
  ExpectSplitInvariant(kS2C, stream);
}

TEST(ParserTest, ErrorsGiveSameResultAtEverySplit) {
  ExpectSplitInvariant(kC2S, "PING\r\nPUB a 3\r\nabcX\r\nPING\r\n");
  ExpectSplitInvariant(kC2S, "PING\r\nMSG a 1 3\r\nabc\r\n");
  ExpectSplitInvariant(kC2S, "PING\r\nPUB a 3\r\nabc\n");
  ExpectSplitInvariant(kS2C, "MSG a 1 3\r\nabc\rX");
  ExpectSplitInvariant(kC2S, "PUB a 1 2 3\r\n");
  ExpectSplitInvariant(kC2S, "PING\r\nPUB a 11\r\n0123456789a\r\n", Limits{4096, 10, true});
  ExpectSplitInvariant(kC2S, "SUB " + std::string(40, 'x') + " 1\r\n", Limits{32, 1024, true});
  ExpectSplitInvariant(kS2C, "PONG\r\nPUB a 1\r\nx\r\n");
}

TEST(ParserTest, OpNamesAreCaseInsensitive) {
  const Outcome o = Whole(kC2S, "pub a 1\r\nx\r\nSuB a 1\r\nunsub 1\r\nping\r\nPoNg\r\n+ok\r\n");
  ASSERT_EQ(o.error, ErrorKind::kNone);
  ASSERT_EQ(o.ops.size(), 6u);
  EXPECT_EQ(o.ops[0].kind, OpKind::kPub);
  EXPECT_EQ(o.ops[1].kind, OpKind::kSub);
  EXPECT_EQ(o.ops[2].kind, OpKind::kUnsub);
  EXPECT_EQ(o.ops[5].kind, OpKind::kOk);
}

TEST(ParserTest, ArgumentsSplitOnRunsOfSpacesAndTabs) {
  const Outcome o = Whole(kC2S, "PUB\t foo \t reply\t\t3 \r\nabc\r\n");
  ASSERT_EQ(o.ops.size(), 1u);
  EXPECT_EQ(o.ops[0].subject, "foo");
  EXPECT_EQ(o.ops[0].reply, "reply");
  EXPECT_EQ(o.ops[0].payload, "abc");
}

TEST(ParserTest, AcceptsBareNewlineLineEndings) {
  const Outcome o = Whole(kC2S, "SUB a 1\nPING\nPUB a 2\nhi\r\n");
  ASSERT_EQ(o.error, ErrorKind::kNone);
  ASSERT_EQ(o.ops.size(), 3u);
  EXPECT_EQ(o.ops[0].sid, "1");
  EXPECT_EQ(o.ops[0].raw, "SUB a 1\n");
  EXPECT_EQ(o.ops[2].payload, "hi");
}

TEST(ParserTest, IgnoresAnythingAfterPingPongAndOk) {
  const Outcome o = Whole(kC2S, "PING extra\r\nPONGS\r\n+OK ok\r\n");
  ASSERT_EQ(o.ops.size(), 3u);
  EXPECT_EQ(o.ops[0].kind, OpKind::kPing);
  EXPECT_EQ(o.ops[0].raw, "PING extra\r\n");
  EXPECT_EQ(o.ops[1].kind, OpKind::kPong);
  EXPECT_EQ(o.ops[2].kind, OpKind::kOk);
}

TEST(ParserTest, ConnectNeedsNoSpaceBeforeJson) {
  const Outcome o = Whole(kC2S, "CONNECT{}\r\n");
  ASSERT_EQ(o.ops.size(), 1u);
  EXPECT_EQ(o.ops[0].text, "{}");
}

TEST(ParserTest, ErrTextWithoutQuotesIsKept) {
  const Outcome o = Whole(kS2C, "-ERR Unknown\r\n");
  ASSERT_EQ(o.ops.size(), 1u);
  EXPECT_EQ(o.ops[0].text, "Unknown");
}

TEST(ParserTest, UnsubWithInvalidMaxMeansNoMax) {
  const Outcome o = Whole(kC2S, "UNSUB 7 x\r\n");
  ASSERT_EQ(o.ops.size(), 1u);
  EXPECT_EQ(o.ops[0].sid, "7");
  EXPECT_FALSE(o.ops[0].has_max_msgs);
}

TEST(ParserTest, PayloadArrivingInOneReadIsNotCopied) {
  const std::string buffer = "PUB foo 5\r\nhello\r\nMSG";
  Parser parser(kC2S);
  parser.Feed(buffer);
  Op op;
  ASSERT_EQ(parser.Next(op), Parser::Result::kOp);
  EXPECT_EQ(op.payload.data(), buffer.data() + 11);
  EXPECT_EQ(op.raw.data(), buffer.data());
  EXPECT_EQ(op.subject.data(), buffer.data() + 4);
  EXPECT_FALSE(op.buffered);
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(ParserTest, OpSplitAcrossReadsIsMarkedBuffered) {
  Parser parser(kC2S);
  Op op;
  parser.Feed("PI");
  ASSERT_EQ(parser.Next(op), Parser::Result::kNeedMore);
  parser.Feed("NG\r\nPONG\r\n");
  ASSERT_EQ(parser.Next(op), Parser::Result::kOp);
  EXPECT_TRUE(op.buffered);
  EXPECT_EQ(op.raw, "PING\r\n");
  ASSERT_EQ(parser.Next(op), Parser::Result::kOp);
  EXPECT_FALSE(op.buffered);
  EXPECT_EQ(op.kind, OpKind::kPong);
}

TEST(ParserTest, SplitOpIsCopiedIntoAReusedBuffer) {
  Parser parser(kC2S);
  const std::string op_bytes = "PUB foo 100\r\n" + std::string(100, 'p') + "\r\n";
  size_t capacity = 0;
  for (int i = 0; i < 50; ++i) {
    Op op;
    parser.Feed(std::string_view(op_bytes).substr(0, 40));
    ASSERT_EQ(parser.Next(op), Parser::Result::kNeedMore);
    parser.Feed(std::string_view(op_bytes).substr(40));
    ASSERT_EQ(parser.Next(op), Parser::Result::kOp);
    EXPECT_EQ(op.raw, op_bytes);
    EXPECT_EQ(op.payload, std::string(100, 'p'));
    ASSERT_EQ(parser.Next(op), Parser::Result::kNeedMore);
    if (i == 0) capacity = parser.buffer_capacity();
    EXPECT_EQ(parser.buffer_capacity(), capacity) << "buffer reallocated at message " << i;
  }
}

TEST(ParserTest, NeedMoreWhenInputEndsMidOp) {
  Parser parser(kC2S);
  Op op;
  parser.Feed("PUB foo 5\r\nhel");
  EXPECT_EQ(parser.Next(op), Parser::Result::kNeedMore);
  EXPECT_EQ(parser.buffered(), 14u);
  parser.Feed("lo\r\n");
  ASSERT_EQ(parser.Next(op), Parser::Result::kOp);
  EXPECT_EQ(op.payload, "hello");
}

TEST(ParserTest, ParseAllCallsHandlerForEachOp) {
  Parser parser(kC2S);
  std::vector<OpKind> kinds;
  EXPECT_EQ(ParseAll(parser, "PING\r\nPONG\r\nPUB a 1\r\n",
                     [&](const Op& op) { kinds.push_back(op.kind); }),
            Parser::Result::kNeedMore);
  EXPECT_EQ(ParseAll(parser, "x\r\n", [&](const Op& op) { kinds.push_back(op.kind); }),
            Parser::Result::kNeedMore);
  EXPECT_EQ(kinds, (std::vector<OpKind>{OpKind::kPing, OpKind::kPong, OpKind::kPub}));
}

// Errors.

TEST(ParserTest, MsgFromClientIsUnknownOperation) {
  const Outcome o = Whole(kC2S, "MSG foo 1 1\r\nx\r\n");
  EXPECT_EQ(o.error, ErrorKind::kUnknownOperation);
  EXPECT_EQ(o.err_text, "Unknown Protocol Operation");
  EXPECT_EQ(Whole(kC2S, "HMSG foo 1 12 12\r\n").error, ErrorKind::kUnknownOperation);
}

TEST(ParserTest, ClientOnlyOpsFromServerAreUnknownOperation) {
  for (const char* line :
       {"PUB a 1\r\n", "HPUB a 12 12\r\n", "SUB a 1\r\n", "UNSUB 1\r\n", "CONNECT {}\r\n"}) {
    EXPECT_EQ(Whole(kS2C, line).error, ErrorKind::kUnknownOperation) << line;
  }
}

TEST(ParserTest, GarbageAndEmptyLinesAreUnknownOperation) {
  for (const char* line : {"FOO\r\n", "\r\n", "PUBX a 1\r\n", "PUB\r\n", "PIN\r\n", "-ERR\r\n",
                           " PING\r\n", "RS+ a 1\r\n"}) {
    const Outcome o = Whole(kC2S, line);
    EXPECT_EQ(o.error, ErrorKind::kUnknownOperation) << line;
    EXPECT_EQ(o.err_text, "Unknown Protocol Operation") << line;
  }
}

TEST(ParserTest, UnknownOperationIsReportedBeforeTheLineEnds) {
  Parser parser(kC2S);
  Op op;
  parser.Feed("XYZ");
  EXPECT_EQ(parser.Next(op), Parser::Result::kError);
  EXPECT_EQ(parser.error().kind, ErrorKind::kUnknownOperation);
}

TEST(ParserTest, PayloadNotFollowedByCrLfIsUnknownOperation) {
  EXPECT_EQ(Whole(kC2S, "PUB a 3\r\nabcd\r\n").error, ErrorKind::kUnknownOperation);
  EXPECT_EQ(Whole(kC2S, "PUB a 3\r\nabc\nX").error, ErrorKind::kUnknownOperation);
  EXPECT_EQ(Whole(kS2C, "MSG a 1 3\r\nab\r\n\r\n").error, ErrorKind::kUnknownOperation);
}

TEST(ParserTest, WrongFirstTerminatorByteIsAnErrorBeforeTheNextByteArrives) {
  EXPECT_EQ(Whole(kC2S, "PUB a 3\r\nabc\n").error, ErrorKind::kUnknownOperation);
  EXPECT_EQ(RunChunks(kC2S, {"PUB a 3\r\nab", "cX"}).error, ErrorKind::kUnknownOperation);
  EXPECT_EQ(RunChunks(kC2S, {"PUB a 3\r\nab", "c\r"}).error, ErrorKind::kNone);
}

TEST(ParserTest, WrongArgumentCountClosesWithoutErrText) {
  for (const char* line : {"PUB a\r\n", "PUB a b c 1\r\n", "PUB \r\n", "HPUB a 1\r\n", "SUB a\r\n",
                           "SUB a b c d\r\n", "UNSUB\t\r\n", "UNSUB 1 2 3\r\n"}) {
    const Outcome o = Whole(kC2S, line);
    EXPECT_EQ(o.error, ErrorKind::kBadArguments) << line;
    EXPECT_EQ(o.err_text, "") << line;
  }
  EXPECT_EQ(Whole(kS2C, "MSG a 1\r\n").error, ErrorKind::kBadArguments);
  EXPECT_EQ(Whole(kS2C, "HMSG a 1 2\r\n").error, ErrorKind::kBadArguments);
}

TEST(ParserTest, BadSizesCloseWithoutErrText) {
  EXPECT_EQ(Whole(kC2S, "PUB a x\r\n").error, ErrorKind::kBadArguments);
  EXPECT_EQ(Whole(kC2S, "PUB a -1\r\n").error, ErrorKind::kBadArguments);
  EXPECT_EQ(Whole(kC2S, "PUB a 1234567890\r\n").error, ErrorKind::kBadArguments);
  EXPECT_EQ(Whole(kC2S, "HPUB a 13 12\r\n").error, ErrorKind::kBadArguments);
}

TEST(ParserTest, HpubWithoutNegotiatedHeadersClosesWithoutErrText) {
  const Outcome o = Whole(kC2S, "HPUB a 12 12\r\nNATS/1.0\r\n\r\n\r\n", Limits{4096, 1024, false});
  EXPECT_EQ(o.error, ErrorKind::kHeadersNotSupported);
  EXPECT_EQ(o.err_text, "");
}

TEST(ParserTest, OversizedPubIsRefusedBeforeItsPayloadArrives) {
  Parser parser(kC2S, Limits{4096, 1024, true});
  Op op;
  parser.Feed("PUB a 1025\r\n");
  ASSERT_EQ(parser.Next(op), Parser::Result::kError);
  EXPECT_EQ(parser.error().kind, ErrorKind::kMaxPayload);
  EXPECT_EQ(parser.error().err_text, "Maximum Payload Violation");
  EXPECT_TRUE(parser.error().close_connection);
}

TEST(ParserTest, PayloadOfExactlyMaxPayloadIsAccepted) {
  const Outcome o = Whole(kC2S, "PUB a 4\r\nabcd\r\n", Limits{4096, 4, true});
  EXPECT_EQ(o.error, ErrorKind::kNone);
  EXPECT_EQ(o.ops.size(), 1u);
}

TEST(ParserTest, OversizedHpubTotalIsRefused) {
  EXPECT_EQ(Whole(kC2S, "HPUB a 12 1025\r\n", Limits{4096, 1024, true}).error,
            ErrorKind::kMaxPayload);
}

TEST(ParserTest, ControlLineArgumentsOfExactlyTheLimitAreAccepted) {
  const std::string subject(4096 - 2, 's');  // "<subject> 1"
  const Outcome o = Whole(kC2S, "SUB " + subject + " 1\r\n");
  EXPECT_EQ(o.error, ErrorKind::kNone);
  ASSERT_EQ(o.ops.size(), 1u);
  EXPECT_EQ(o.ops[0].subject, subject);
}

TEST(ParserTest, ControlLineOverTheLimitIsRefused) {
  const Outcome o = Whole(kC2S, "SUB " + std::string(4096 - 1, 's') + " 1\r\n");
  EXPECT_EQ(o.error, ErrorKind::kMaxControlLine);
  EXPECT_EQ(o.err_text, "maximum control line exceeded");
}

TEST(ParserTest, ControlLineOverTheLimitIsRefusedBeforeItsNewline) {
  Parser parser(kC2S, Limits{64, 1024, true});
  Op op;
  const std::string start = "PUB " + std::string(60, 'a');
  const std::string more(10, 'a');
  parser.Feed(start);
  ASSERT_EQ(parser.Next(op), Parser::Result::kNeedMore);
  parser.Feed(more);
  ASSERT_EQ(parser.Next(op), Parser::Result::kError);
  EXPECT_EQ(parser.error().kind, ErrorKind::kMaxControlLine);
}

TEST(ParserTest, LongJunkAfterPingIsBounded) {
  EXPECT_EQ(Whole(kC2S, "PING" + std::string(100, ' ') + "\r\n", Limits{64, 1024, true}).error,
            ErrorKind::kMaxControlLine);
}

TEST(ParserTest, StaysFailedUntilReset) {
  Parser parser(kC2S);
  Op op;
  parser.Feed("FOO\r\n");
  ASSERT_EQ(parser.Next(op), Parser::Result::kError);
  parser.Feed("PING\r\n");
  EXPECT_EQ(parser.Next(op), Parser::Result::kError);
  parser.Reset();
  EXPECT_FALSE(parser.failed());
  parser.Feed("PING\r\n");
  EXPECT_EQ(parser.Next(op), Parser::Result::kOp);
}

TEST(ParserTest, LimitsChangeForLaterOps) {
  Parser parser(kC2S, Limits{4096, 1024, false});
  Op op;
  parser.Feed("CONNECT {\"headers\":true}\r\n");
  ASSERT_EQ(parser.Next(op), Parser::Result::kOp);
  parser.set_limits(Limits{4096, 1024, true});
  parser.Feed("HPUB a 12 12\r\nNATS/1.0\r\n\r\n\r\n");
  EXPECT_EQ(parser.Next(op), Parser::Result::kOp);
  EXPECT_EQ(op.kind, OpKind::kHpub);
}

// The fast path scans control lines 32 bytes at a time: arguments and blank runs of every length
// put token starts, token ends and the line end on every side of a block boundary, and at the
// very end of the buffer (the last block is partial). Fed whole and split at every byte, the
// result must equal what the op says.
TEST(ParserTest, MessageLinesOfEveryLengthGiveSameResultAtEverySplit) {
  for (size_t len = 1; len <= 70; len += 3) {
    const std::string subject(len, 's');
    const std::string blanks(len % 5 + 1, len % 2 ? ' ' : '\t');
    const std::string pub = "PUB " + subject + blanks + "_INBOX." + subject + " 3\r\nabc\r\n";
    const Outcome o = Whole(kC2S, pub);
    ASSERT_EQ(o.error, ErrorKind::kNone) << pub;
    ASSERT_EQ(o.ops.size(), 1u);
    EXPECT_EQ(o.ops[0].subject, subject);
    EXPECT_EQ(o.ops[0].reply, "_INBOX." + subject);
    EXPECT_EQ(o.ops[0].payload, "abc");
    ExpectSplitInvariant(kC2S, pub + "hpub " + subject + blanks + "12 14\nNATS/1.0\r\n\r\nhi\r\n");
    ExpectSplitInvariant(kS2C, "MSG " + subject + " 7" + blanks + "1\r\nx\r\nHMSG " + subject +
                                   " 7 r" + blanks + "12 12\r\nNATS/1.0\r\n\r\n\r\n");
  }
}

TEST(ParserTest, PayloadEndingExactlyAtTheEndOfTheReadIsNotCopied) {
  const std::string buffer = "PUB foo.bar 16\r\n0123456789abcdef\r\n";
  Parser parser(kC2S);
  parser.Feed(buffer);
  Op op;
  ASSERT_EQ(parser.Next(op), Parser::Result::kOp);
  EXPECT_FALSE(op.buffered);
  EXPECT_EQ(op.raw.data(), buffer.data());
  EXPECT_EQ(op.raw.size(), buffer.size());
  EXPECT_EQ(op.payload, "0123456789abcdef");
  EXPECT_EQ(parser.Next(op), Parser::Result::kNeedMore);
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(ParserTest, PayloadTerminatorSplitAcrossReads) {
  for (const std::string& first : {std::string("MSG a 1 r 2\r\nhi\r"), std::string("MSG a 1 r 2\r\nhi"),
                                   std::string("MSG a 1 r 2\r"), std::string("MSG a 1 r 2\r\n")}) {
    Parser parser(kS2C);
    Op op;
    parser.Feed(first);
    ASSERT_EQ(parser.Next(op), Parser::Result::kNeedMore) << first;
    const std::string all = "MSG a 1 r 2\r\nhi\r\nPING\r\n";
    parser.Feed(std::string_view(all).substr(first.size()));
    ASSERT_EQ(parser.Next(op), Parser::Result::kOp) << first;
    EXPECT_TRUE(op.buffered);
    EXPECT_EQ(op.raw, "MSG a 1 r 2\r\nhi\r\n");
    EXPECT_EQ(op.subject, "a");
    EXPECT_EQ(op.sid, "1");
    EXPECT_EQ(op.reply, "r");
    EXPECT_EQ(op.payload, "hi");
    ASSERT_EQ(parser.Next(op), Parser::Result::kOp);
    EXPECT_EQ(op.kind, OpKind::kPing);
  }
}

TEST(ParserTest, WrongTerminatorAfterABufferedPayloadIsUnknownOperation) {
  EXPECT_EQ(RunChunks(kC2S, {"PUB a 2\r\nh", "ix\r\n"}).error, ErrorKind::kUnknownOperation);
  EXPECT_EQ(RunChunks(kC2S, {"PUB a 2\r\nhi", "\rx"}).error, ErrorKind::kUnknownOperation);
}

TEST(ParserTest, LongMessageLinesFollowTheControlLineLimit) {
  const Limits limits{64, 1024, true};
  // 64 bytes of arguments: accepted; 65: refused, whether the line is whole or split.
  const std::string ok_subject(64 - 2, 's');
  const Outcome ok = Whole(kC2S, "PUB " + ok_subject + " 0\r\n\r\n", limits);
  ASSERT_EQ(ok.error, ErrorKind::kNone);
  ASSERT_EQ(ok.ops.size(), 1u);
  EXPECT_EQ(ok.ops[0].subject, ok_subject);
  const std::string long_line = "PUB " + std::string(64 - 1, 's') + " 0\r\n\r\n";
  EXPECT_EQ(Whole(kC2S, long_line, limits).error, ErrorKind::kMaxControlLine);
  ExpectSplitInvariant(kC2S, long_line, limits);
  // Leading blanks count too (as in nats-server): 64 of them are accepted, 65 are not.
  EXPECT_EQ(Whole(kC2S, "PUB" + std::string(64, ' ') + "a 0\r\n\r\n", limits).error,
            ErrorKind::kNone);
  EXPECT_EQ(Whole(kC2S, "PUB" + std::string(65, ' ') + "a 0\r\n\r\n", limits).error,
            ErrorKind::kMaxControlLine);
}

TEST(ParserTest, LimitsLoweredWhileAPayloadIsBufferedApplyToIt) {
  Parser parser(kC2S);
  Op op;
  parser.Feed("PUB a 10\r\n01234");
  ASSERT_EQ(parser.Next(op), Parser::Result::kNeedMore);
  parser.set_limits(Limits{4096, 5, true});
  parser.Feed("56789\r\n");
  ASSERT_EQ(parser.Next(op), Parser::Result::kError);
  EXPECT_EQ(parser.error().kind, ErrorKind::kMaxPayload);
}

// Helpers.

TEST(ParseSizeTest, AcceptsOneToNineDigits) {
  EXPECT_EQ(ParseSize("0"), 0);
  EXPECT_EQ(ParseSize("123"), 123);
  EXPECT_EQ(ParseSize("999999999"), 999999999);
  EXPECT_EQ(ParseSize(""), -1);
  EXPECT_EQ(ParseSize("1000000000"), -1);
  EXPECT_EQ(ParseSize("12a"), -1);
  EXPECT_EQ(ParseSize("+1"), -1);
}

TEST(SplitArgsTest, SplitsOnRunsOfWhitespaceAndCountsExtraFields) {
  std::string_view out[2];
  EXPECT_EQ(SplitArgs("  a\t\tb  ", out, 2), 2u);
  EXPECT_EQ(out[0], "a");
  EXPECT_EQ(out[1], "b");
  EXPECT_EQ(SplitArgs("a b c", out, 2), 3u);
  EXPECT_EQ(SplitArgs(" \t ", out, 2), 0u);
}

TEST(OpNameTest, NamesOpsAsOnTheWire) {
  EXPECT_EQ(OpName(OpKind::kHpub), "HPUB");
  EXPECT_EQ(OpName(OpKind::kOk), "+OK");
  EXPECT_EQ(OpName(OpKind::kErr), "-ERR");
}

}  // namespace
}  // namespace meridian::proto

namespace meridian::proto {
namespace {

// Leaf-node connections: both sides speak LS+ / LS- / LMSG / HMSG (leaf form) besides
// INFO CONNECT PING PONG +OK -ERR; client and server ops are unknown there.
struct LeafSeen {
  OpKind kind;
  std::string subject, reply, queue, queues, headers, payload;
  uint32_t weight;
};

std::vector<LeafSeen> ParseLeaf(const std::string& input, size_t piece, ErrorKind* error) {
  Parser parser(Direction::kLeaf);
  std::vector<LeafSeen> out;
  *error = ErrorKind::kNone;
  for (size_t pos = 0; pos < input.size(); pos += piece) {
    std::string buffer = input.substr(pos, piece);
    parser.Feed(buffer);
    Op op;
    Parser::Result r;
    while ((r = parser.Next(op)) == Parser::Result::kOp) {
      out.push_back({op.kind, std::string(op.subject), std::string(op.reply), std::string(op.queue),
                     std::string(op.queues), std::string(op.headers), std::string(op.payload),
                     op.weight});
    }
    if (r == Parser::Result::kError) {
      *error = parser.error().kind;
      return out;
    }
  }
  return out;
}

TEST(LeafParserTest, InterestAndMessagesWholeAndInPieces) {
  const std::string input =
      "INFO {\"leafnode_urls\":[]}\r\nLS+ foo.>\r\nLS+ bar q 3\r\nLS- bar q\r\nls- foo.>\r\n"
      "LMSG foo 5\r\nhello\r\nLMSG foo _INBOX.r 2\r\nhi\r\nLMSG foo + _INBOX.r q1  q2 2\r\nhi\r\n"
      "LMSG foo | q1 0\r\n\r\nHMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
      "HMSG foo + r q 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n";
  for (size_t piece : {input.size(), size_t{1}, size_t{7}}) {
    ErrorKind error;
    auto ops = ParseLeaf(input, piece, &error);
    ASSERT_EQ(error, ErrorKind::kNone) << piece;
    ASSERT_EQ(ops.size(), 12u) << piece;
    EXPECT_EQ(ops[0].kind, OpKind::kInfo);
    EXPECT_EQ(ops[1].kind, OpKind::kLeafSub);
    EXPECT_EQ(ops[1].subject, "foo.>");
    EXPECT_EQ(ops[1].queue, "");
    EXPECT_EQ(ops[2].queue, "q");
    EXPECT_EQ(ops[2].weight, 3u);
    EXPECT_EQ(ops[3].kind, OpKind::kLeafUnsub);
    EXPECT_EQ(ops[3].queue, "q");
    EXPECT_EQ(ops[4].kind, OpKind::kLeafUnsub);
    EXPECT_EQ(ops[5].kind, OpKind::kLeafMsg);
    EXPECT_EQ(ops[5].payload, "hello");
    EXPECT_EQ(ops[5].reply, "");
    EXPECT_EQ(ops[6].reply, "_INBOX.r");
    EXPECT_EQ(ops[7].reply, "_INBOX.r");
    EXPECT_EQ(ops[7].queues, "q1  q2");
    EXPECT_EQ(ops[7].payload, "hi");
    EXPECT_EQ(ops[8].reply, "");
    EXPECT_EQ(ops[8].queues, "q1");
    EXPECT_EQ(ops[8].payload, "");
    EXPECT_EQ(ops[9].kind, OpKind::kLeafHmsg);
    EXPECT_EQ(ops[9].headers, "NATS/1.0\r\n\r\n");
    EXPECT_EQ(ops[9].payload, "hi");
    EXPECT_EQ(ops[10].reply, "r");
    EXPECT_EQ(ops[10].queues, "q");
    EXPECT_EQ(ops[10].payload, "");
    EXPECT_EQ(ops[11].kind, OpKind::kPing);
  }
  EXPECT_EQ(OpName(OpKind::kLeafSub), "LS+");
  EXPECT_EQ(OpName(OpKind::kLeafHmsg), "HMSG");
}

TEST(LeafParserTest, RefusesClientOpsAndBadArguments) {
  ErrorKind error;
  ParseLeaf("PUB foo 1\r\nx\r\n", 100, &error);
  EXPECT_EQ(error, ErrorKind::kUnknownOperation);
  ParseLeaf("MSG foo 1 1\r\nx\r\n", 100, &error);
  EXPECT_EQ(error, ErrorKind::kUnknownOperation);
  ParseLeaf("SUB foo 1\r\n", 100, &error);
  EXPECT_EQ(error, ErrorKind::kUnknownOperation);
  ParseLeaf("LS* foo\r\n", 100, &error);
  EXPECT_EQ(error, ErrorKind::kUnknownOperation);
  ParseLeaf("LS+ foo q\r\n", 100, &error);  // a queue needs its weight
  EXPECT_EQ(error, ErrorKind::kBadArguments);
  ParseLeaf("LS+ foo q 0\r\n", 100, &error);
  EXPECT_EQ(error, ErrorKind::kBadArguments);
  ParseLeaf("LMSG foo x q 2\r\nhi\r\n", 100, &error);  // queues need `+ reply` or `|`
  EXPECT_EQ(error, ErrorKind::kBadArguments);
  ParseLeaf("HMSG foo 5 2\r\nhi\r\n", 100, &error);
  EXPECT_EQ(error, ErrorKind::kBadArguments);
  ParseLeaf("LMSG foo 2000000\r\n", 100, &error);
  EXPECT_EQ(error, ErrorKind::kMaxPayload);
  // Leaf ops are unknown on client connections.
  Parser client(Direction::kClientToServer);
  client.Feed("LS+ foo\r\n");
  Op op;
  EXPECT_EQ(client.Next(op), Parser::Result::kError);
}

}  // namespace
}  // namespace meridian::proto
