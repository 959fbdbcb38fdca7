// Replies from stock nats-server 2.9.10 (tests/data/rewrite/) rewritten for a west client.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "fixture.h"

namespace meridian::rewrite {
namespace {

using ::testing::HasSubstr;
using testing::J;

std::string Load(const std::string& name) {
  const char* dir = std::getenv("MERIDIAN_TEST_DATA");
  std::ifstream in(std::string(dir ? dir : "tests/data") + "/rewrite/" + name, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  if (s.str().empty()) ADD_FAILURE() << "missing test data " << name;
  return s.str();
}

constexpr std::uint32_t kFoo = 0;

class Reply : public ::testing::Test {
 protected:
  ReplyAction Run(ReplyKind kind, std::string_view body, std::string_view headers = "") {
    return rw.RewriteReply(ReplyPlan{kind, kFoo}, headers, body, out);
  }
  nlohmann::json Body() const { return J(out.body); }
  Rewriter rw = testing::WestRewriter();
  ReplyResult out;
};

TEST_F(Reply, PubAckNamesTheVirtualStream) {
  ASSERT_EQ(Run(ReplyKind::kPubAck, Load("puback.json")), ReplyAction::kRewritten);
  EXPECT_EQ(Body(), J(R"({"stream":"foo","seq":1})"));
}

TEST_F(Reply, PubAckKeepsDuplicateFlag) {
  ASSERT_EQ(Run(ReplyKind::kPubAck, Load("puback_dup.json")), ReplyAction::kRewritten);
  EXPECT_EQ(Body(), J(R"({"stream":"foo","seq":1,"duplicate":true})"));
}

TEST_F(Reply, PubAckErrorNamesTheVirtualStream) {
  ASSERT_EQ(Run(ReplyKind::kPubAck, Load("puback_error.json")), ReplyAction::kRewritten);
  EXPECT_EQ(Body()["stream"], "foo");
  EXPECT_EQ(Body()["error"]["err_code"], 10060);
}

TEST_F(Reply, PubAckWithDomainKeepsEveryOtherByte) {
  ASSERT_EQ(Run(ReplyKind::kPubAck, R"( {"stream":"foo-write-west","seq":18446744073709551615,)"
                                    R"("domain":"hub", "duplicate":false} )"),
            ReplyAction::kRewritten);
  EXPECT_EQ(out.body, R"( {"stream":"foo","seq":18446744073709551615,"domain":"hub", )"
                      R"("duplicate":false} )");
}

TEST_F(Reply, PubAckOfAnotherStreamIsUnchanged) {
  EXPECT_EQ(Run(ReplyKind::kPubAck, R"({"stream":"orders","seq":3})"), ReplyAction::kUnchanged);
  EXPECT_EQ(Run(ReplyKind::kPubAck, R"({"seq":3})"), ReplyAction::kUnchanged);
  EXPECT_EQ(Run(ReplyKind::kPubAck, R"({"stream":7,"seq":3})"), ReplyAction::kUnchanged);
}

TEST_F(Reply, PubAckWithEscapesOrRepeatedKeysIsParsedFully) {
  // The stream name escaped: the quick reader leaves it to the JSON parser, which sees it.
  ASSERT_EQ(Run(ReplyKind::kPubAck, R"({"stream":"foo-write-west","seq":2})"),
            ReplyAction::kRewritten);
  EXPECT_EQ(Body(), J(R"({"stream":"foo","seq":2})"));
  ASSERT_EQ(Run(ReplyKind::kPubAck, R"({"stream":"orders","stream":"foo-write-west","seq":2})"),
            ReplyAction::kRewritten);
  EXPECT_EQ(Body()["stream"], "foo");
}

TEST_F(Reply, BrokenPubAckIsUnparseable) {
  for (const char* body : {R"({"stream":"foo-write-west","seq":01})",
                           R"({"stream":"foo-write-west","seq":1,})",
                           R"({"stream":"foo-write-west","seq":1} x)",
                           R"({"stream":"foo-write-west","seq":-})", R"({"stream":"foo-write-west")",
                           R"({"stream":"foo-write-west","ok":tru})", ""}) {
    EXPECT_EQ(Run(ReplyKind::kPubAck, body), ReplyAction::kUnparseable) << body;
  }
}

TEST_F(Reply, StreamInfoShowsVirtualNameSubjectsAndNoSources) {
  ASSERT_EQ(Run(ReplyKind::kStreamInfo, Load("stream_info.json")), ReplyAction::kRewritten);
  auto j = Body();
  EXPECT_EQ(j["config"]["name"], "foo");
  EXPECT_EQ(j["config"]["subjects"], J(R"(["foo.>"])"));
  EXPECT_FALSE(j["config"].contains("sources"));
  EXPECT_FALSE(j.contains("sources"));
  EXPECT_EQ(j["state"]["messages"], 3);
  EXPECT_EQ(j["config"]["allow_direct"], true);  // untouched fields survive
  EXPECT_EQ(j["type"], "io.nats.jetstream.api.v1.stream_info_response");
}

TEST_F(Reply, StreamInfoMergesPerSubjectCountsOfAllOrigins) {
  const std::string raw = Load("stream_info_subjects.json");
  // The server escapes '>' in JSON; the rewrite parses, so it still finds the sources.
  ASSERT_THAT(raw, HasSubstr("\\u003e"));
  ASSERT_EQ(Run(ReplyKind::kStreamInfo, raw), ReplyAction::kRewritten);
  auto j = Body();
  EXPECT_EQ(j["state"]["subjects"], J(R"({"foo.other":1,"foo.test":2})"));
  EXPECT_EQ(j["total"], 2);
}

TEST_F(Reply, StreamInfoErrorPassesUnchanged) {
  EXPECT_EQ(Run(ReplyKind::kStreamInfo, Load("stream_info_missing.json")), ReplyAction::kUnchanged);
}

TEST_F(Reply, StreamInfoAsListWrapsTheVirtualStream) {
  ASSERT_EQ(Run(ReplyKind::kStreamInfoAsList, Load("stream_info.json")), ReplyAction::kRewritten);
  auto j = Body();
  EXPECT_EQ(j["type"], "io.nats.jetstream.api.v1.stream_list_response");
  EXPECT_EQ(j["total"], 1);
  ASSERT_EQ(j["streams"].size(), 1u);
  EXPECT_EQ(j["streams"][0]["config"]["name"], "foo");
  EXPECT_FALSE(j["streams"][0].contains("type"));
}

TEST_F(Reply, StreamNamesHidesInternalStreamsAndShowsVirtualOne) {
  ASSERT_EQ(
      Run(ReplyKind::kStreamNames,
          R"({"type":"io.nats.jetstream.api.v1.stream_names_response","total":4,"offset":0,"limit":1024,"streams":["bar","foo-read-west","foo-write-east","foo-write-west"]})"),
      ReplyAction::kRewritten);
  auto j = Body();
  EXPECT_EQ(j["streams"], J(R"(["bar","foo"])"));
  EXPECT_EQ(j["total"], 2);
}

TEST_F(Reply, StreamNamesWithoutInternalStreamsPassUnchanged) {
  EXPECT_EQ(
      Run(ReplyKind::kStreamNames,
          R"({"type":"io.nats.jetstream.api.v1.stream_names_response","total":0,"offset":0,"limit":1024,"streams":null})"),
      ReplyAction::kUnchanged);
}

TEST_F(Reply, StreamListKeepsOnlyOwnReadStreamAsVirtual) {
  ASSERT_EQ(Run(ReplyKind::kStreamList, Load("stream_list.json")), ReplyAction::kRewritten);
  auto j = Body();
  ASSERT_EQ(j["streams"].size(), 1u);
  EXPECT_EQ(j["streams"][0]["config"]["name"], "foo");
  EXPECT_EQ(j["total"], 1);
}

TEST_F(Reply, ConsumerInfoShowsVirtualStreamAndFilter) {
  ASSERT_EQ(
      Run(ReplyKind::kConsumerInfo,
          R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"foo-read-west","name":"dur","created":"2026-11-23T00:20:48.357385316Z","config":{"durable_name":"dur","name":"dur","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subject":"foo.*.test","replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":2})"),
      ReplyAction::kRewritten);
  auto j = Body();
  EXPECT_EQ(j["stream_name"], "foo");
  EXPECT_EQ(j["config"]["filter_subject"], "foo.test");
  EXPECT_EQ(j["num_pending"], 2);
}

TEST_F(Reply, ConsumerListRewritesEachEntry) {
  ASSERT_EQ(
      Run(ReplyKind::kConsumerList,
          R"({"type":"io.nats.jetstream.api.v1.consumer_list_response","total":1,"offset":0,"limit":256,"consumers":[{"stream_name":"foo-read-west","name":"d","config":{"filter_subjects":["foo.*.a","foo.*.>"]}}]})"),
      ReplyAction::kRewritten);
  auto c = Body()["consumers"][0];
  EXPECT_EQ(c["stream_name"], "foo");
  EXPECT_EQ(c["config"]["filter_subjects"], J(R"(["foo.a","foo.>"])"));
}

TEST_F(Reply, EmptyConsumerListPassesUnchanged) {
  EXPECT_EQ(Run(ReplyKind::kConsumerList, Load("consumer_list.json")), ReplyAction::kUnchanged);
}

TEST_F(Reply, ErrorDescriptionNamingInternalStreamIsRewritten) {
  ASSERT_EQ(
      Run(ReplyKind::kApiGeneric,
          R"({"type":"x","error":{"code":500,"err_code":10012,"description":"consumer for stream 'foo-read-west' failed"}})"),
      ReplyAction::kRewritten);
  EXPECT_EQ(Body()["error"]["description"], "consumer for stream 'foo' failed");
}

TEST_F(Reply, MsgGetShowsVirtualSubjectAndOriginalMsgId) {
  ASSERT_EQ(Run(ReplyKind::kMsgGet, Load("msg_get_last.json")), ReplyAction::kRewritten);
  auto m = Body()["message"];
  EXPECT_EQ(m["subject"], "foo.test");
  EXPECT_EQ(m["seq"], 1);
  EXPECT_EQ(m["data"], "aGVsbG8=");
  // "NATS/1.0\r\nNats-Msg-Id: m1\r\nNats-Stream-Source: foo-write-west 1\r\n\r\n"
  EXPECT_EQ(m["hdrs"],
            "TkFUUy8xLjANCk5hdHMtTXNnLUlkOiBtMQ0KTmF0cy1TdHJlYW0tU291cmNlOiBmb28td3JpdGUtd2VzdCAxDQ"
            "oNCg==");
}

TEST_F(Reply, DirectGetHeadersNameVirtualStreamAndSubject) {
  ASSERT_EQ(Run(ReplyKind::kDirectGet, "hello", Load("direct_get_last_west.hdr")),
            ReplyAction::kRewritten);
  EXPECT_FALSE(out.body_changed);
  EXPECT_EQ(out.headers,
            "NATS/1.0\r\nNats-Msg-Id: m1\r\nNats-Stream-Source: foo-write-west 1\r\n"
            "Nats-Stream: foo\r\nNats-Subject: foo.test\r\nNats-Sequence: 1\r\n"
            "Nats-Time-Stamp: 2026-11-23T01:42:26.447504673Z\r\n\r\n");
}

TEST_F(Reply, DirectGetStatusPassesUnchanged) {
  EXPECT_EQ(Run(ReplyKind::kDirectGet, "", Load("direct_get_missing.hdr")),
            ReplyAction::kUnchanged);
}

TEST_F(Reply, UnparseableReplyIsCountedAndLeftForForwarding) {
  EXPECT_EQ(Run(ReplyKind::kPubAck, "not json"), ReplyAction::kUnparseable);
  EXPECT_EQ(Run(ReplyKind::kStreamInfo, "[1,2]"), ReplyAction::kUnparseable);
  EXPECT_EQ(Run(ReplyKind::kDirectGet, "x", "garbage"), ReplyAction::kUnparseable);
  EXPECT_EQ(rw.stats().replies_unparseable, 3u);
}

TEST_F(Reply, DeeplyNestedJsonIsNotParsed) {
  std::string deep(10000, '[');
  EXPECT_EQ(Run(ReplyKind::kApiGeneric, "{\"a\":" + deep), ReplyAction::kUnparseable);
}

}  // namespace
}  // namespace meridian::rewrite
