// JSON behaviour of the jsapi types: unknown-field preservation, omit-empty rules, parse
// errors as values, request forms, and the error replies Meridian builds.
#include "jsapi/json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace meridian::jsapi {
namespace {

using nlohmann::json;

TEST(UnknownFields, TopLevelUnknownFieldSurvivesRoundTrip) {
  const std::string text =
      R"({"name":"S","retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,)"
      R"("max_age":0,"max_msgs_per_subject":-1,"discard":"old","storage":"file",)"
      R"("num_replicas":1,"allow_direct":false,"mirror_direct":false,"sealed":false,)"
      R"("deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,)"
      R"("allow_msg_ttl":true,"future":{"a":[1,2,{"b":null}]}})";
  auto cfg = Parse<StreamConfig>(text);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  ASSERT_NE(cfg->unknown.Find("allow_msg_ttl"), nullptr);
  EXPECT_EQ(*cfg->unknown.Find("allow_msg_ttl"), "true");
  EXPECT_EQ(json::parse(ToJson(cfg.value())), json::parse(text));
}

TEST(UnknownFields, NestedUnknownFieldsSurviveRoundTrip) {
  const std::string text =
      R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"S",)"
      R"("name":"C","created":"2026-11-23T00:20:48.357385316Z",)"
      R"("config":{"deliver_policy":"all","ack_policy":"explicit","replay_policy":"instant",)"
      R"("num_replicas":0,"priority_groups":["g"],"pause_until":"2030-01-01T00:00:00Z"},)"
      R"("delivered":{"consumer_seq":1,"stream_seq":2,"new_thing":7},)"
      R"("ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,)"
      R"("num_redelivered":0,"num_waiting":0,"num_pending":0,"paused":true,)"
      R"("cluster":{"leader":"n1","extra":"x"},"ts":"2026-11-23T00:25:00Z"})";
  auto r = ParseApiResponse<ConsumerInfo>(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_FALSE(r->is_error());
  const ConsumerInfo& info = r->body();
  EXPECT_NE(info.config.unknown.Find("priority_groups"), nullptr);
  EXPECT_NE(info.delivered.unknown.Find("new_thing"), nullptr);
  EXPECT_NE(info.unknown.Find("paused"), nullptr);
  ASSERT_TRUE(info.cluster.has_value());
  EXPECT_NE(info.cluster->unknown.Find("extra"), nullptr);
  EXPECT_EQ(json::parse(r->ToJson()), json::parse(text));
}

TEST(UnknownFields, RewritingAKnownFieldKeepsTheUnknownOnes) {
  auto req = Parse<CreateConsumerRequest>(
      R"({"stream_name":"foo","config":{"durable_name":"d","ack_policy":"explicit",)"
      R"("filter_subject":"foo.test"},"action":"create","pedantic":false})");
  ASSERT_TRUE(req.ok()) << req.error().message;
  req->stream_name = "foo-read-west";
  req->config.filter_subject = "foo.*.test";
  const json out = json::parse(ToJson(req.value()));
  EXPECT_EQ(out["stream_name"], "foo-read-west");
  EXPECT_EQ(out["config"]["filter_subject"], "foo.*.test");
  EXPECT_EQ(out["pedantic"], false);
  EXPECT_EQ(out["action"], "create");
}

TEST(UnknownFields, UnknownFieldNeverOverridesAKnownOne) {
  PubAck ack;
  ack.stream = "S";
  ack.seq = 3;
  ack.unknown.Set("stream", "\"OTHER\"");
  EXPECT_EQ(json::parse(ToJson(ack))["stream"], "S");
}

TEST(Versions, Server210FieldsRoundTrip) {
  // Shape of a 2.10 STREAM.INFO (synthetic: the recorded fixtures come from 2.9.10).
  const std::string text = R"({"type":"io.nats.jetstream.api.v1.stream_info_response",
    "total":0,"offset":0,"limit":0,
    "config":{"name":"foo-read-west","retention":"limits","max_consumers":-1,"max_msgs":-1,
      "max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,
      "discard":"new","storage":"memory","num_replicas":3,"duplicate_window":120000000000,
      "placement":{"cluster":"west","tags":["ssd"]},
      "sources":[{"name":"foo-write-east","opt_start_time":"2026-11-23T00:00:00Z",
        "subject_transforms":[{"src":"foo.east.>","dest":"foo.>"}],
        "external":{"api":"$JS.east.API","deliver":""}}],
      "compression":"s2","first_seq":5,"subject_transform":{"src":"foo.*.>","dest":"foo.>"},
      "allow_direct":true,"mirror_direct":false,"discard_new_per_subject":true,"sealed":false,
      "deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,
      "consumer_limits":{},"metadata":{"meridian.virtual":"foo"}},
    "created":"2026-11-23T00:20:08.650121357Z",
    "state":{"messages":3,"bytes":10,"first_seq":1,"first_ts":"2026-11-23T00:20:21.5Z",
      "last_seq":4,"last_ts":"2026-11-23T00:20:22.582469645Z","num_deleted":1,"deleted":[2],
      "lost":{"msgs":[3],"bytes":7},"consumer_count":1},
    "cluster":{"name":"west","raft_group":"S-R3F-abc","leader":"n1",
      "replicas":[{"name":"n2","current":true,"active":123456,"lag":2,"peer":"abcd1234"},
                  {"name":"n3","current":false,"offline":true,"active":0}]},
    "sources":[{"name":"foo-write-east","lag":4,"active":-1,
      "error":{"code":404,"err_code":10059,"description":"stream not found"},
      "filter_subject":"foo.east.>","subject_transforms":[{"src":"foo.east.>","dest":"foo.>"}]}],
    "alternates":[{"name":"foo-read-west","cluster":"west"},
                  {"name":"foo-read-east","domain":"d","cluster":"east"}],
    "ts":"2026-11-23T00:25:00Z"})";
  auto r = ParseApiResponse<StreamInfo>(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_FALSE(r->is_error());
  const StreamInfo& info = r->body();
  EXPECT_EQ(info.config.compression, Compression::kS2);
  ASSERT_TRUE(info.config.consumer_limits.has_value());
  EXPECT_EQ(info.config.subject_transform->dest, "foo.>");
  EXPECT_EQ(info.config.metadata.at("meridian.virtual"), "foo");
  EXPECT_EQ(info.config.discard, DiscardPolicy::kNew);
  EXPECT_EQ(info.cluster->replicas.size(), 2u);
  EXPECT_EQ(info.sources[0].error->err_code, 10059);
  EXPECT_TRUE(info.ts.has_value());
  EXPECT_EQ(json::parse(r->ToJson()), json::parse(text));
}

TEST(OmitEmpty, ZeroValuedStreamConfigWritesOnlyAlwaysFields) {
  StreamConfig cfg;
  cfg.name = "S";
  const json out = json::parse(ToJson(cfg));
  EXPECT_EQ(out, json::parse(R"({"name":"S","retention":"limits","max_consumers":0,
    "max_msgs":0,"max_bytes":0,"max_age":0,"max_msgs_per_subject":0,"discard":"old",
    "storage":"file","num_replicas":0,"allow_direct":false,"mirror_direct":false,
    "sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false})"));
}

TEST(OmitEmpty, ZeroValuedConsumerConfigWritesOnlyAlwaysFields) {
  const json out = json::parse(ToJson(ConsumerConfig{}));
  EXPECT_EQ(out, json::parse(R"({"deliver_policy":"all","ack_policy":"none",
    "replay_policy":"instant","num_replicas":0})"));
}

TEST(OmitEmpty, ConsumerNamesWritesEmptyListNotNull) {
  ConsumerNamesResponse r;
  EXPECT_TRUE(json::parse(ToJson(r))["consumers"].is_array());
}

TEST(Defaults, AbsentFieldsMeanGoZeroValues) {
  auto cfg = Parse<ConsumerConfig>("{}");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->ack_policy, AckPolicy::kNone);
  EXPECT_EQ(cfg->deliver_policy, DeliverPolicy::kAll);
  EXPECT_EQ(cfg->max_deliver, 0);
}

TEST(Defaults, NullReadsAsAbsent) {
  auto cfg = Parse<StreamConfig>(R"({"name":"S","subjects":null,"mirror":null})");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_TRUE(cfg->subjects.empty());
  EXPECT_FALSE(cfg->mirror.has_value());
}

TEST(ParseErrors, MalformedJsonIsAnErrorValue) {
  auto r = Parse<StreamConfig>(R"({"name": )");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("malformed JSON"), std::string::npos) << r.error().message;
}

TEST(ParseErrors, NumberTooLargeForJsonIsAnErrorValue) {
  auto r = Parse<PubAck>(R"({"stream":"S","seq":1,"x":1e400})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("malformed JSON"), std::string::npos) << r.error().message;
}

TEST(ParseErrors, WrongTypeNamesThePath) {
  auto r = Parse<StreamConfig>(R"({"name":"S","max_msgs":"x"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, R"(max_msgs: expected an integer, got string "x")");
}

TEST(ParseErrors, WrongTypeInsideArrayNamesTheIndex) {
  auto r = Parse<StreamConfig>(R"({"name":"S","sources":[{"name":"a"},{"name":5}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "sources[1].name: expected a string, got integer 5");
}

TEST(ParseErrors, UnknownEnumValueIsRefused) {
  auto r = Parse<StreamConfig>(R"({"name":"S","retention":"forever"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, R"(retention: is not a valid value, got string "forever")");
}

TEST(ParseErrors, DiscardPolicyIsCaseInsensitive) {
  auto r = Parse<StreamConfig>(R"({"name":"S","discard":"New"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->discard, DiscardPolicy::kNew);
}

TEST(ParseErrors, NegativeValueForUnsignedFieldIsOutOfRange) {
  auto r = Parse<StreamSource>(R"({"name":"S","opt_start_seq":-1})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "opt_start_seq: is out of range, got integer -1");
}

TEST(ParseErrors, FloatForIntegerFieldIsRefused) {
  auto r = Parse<PullRequest>(R"({"batch":1.5})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "batch: expected an integer, got number 1.5");
}

TEST(ParseErrors, OutOfRangeForInt32FieldIsRefused) {
  auto r = Parse<StreamConfig>(R"({"name":"S","max_msg_size":4294967296})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("max_msg_size: is out of range"), std::string::npos);
}

TEST(ParseErrors, BadTimeIsRefused) {
  auto r = Parse<ConsumerConfig>(R"({"opt_start_time":"yesterday"})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("opt_start_time: expected an RFC 3339 time"), std::string::npos);
}

TEST(ParseErrors, BadBase64IsRefused) {
  auto r =
      Parse<StoredMsg>(R"({"subject":"a","seq":1,"data":"!!!","time":"2026-01-01T00:00:00Z"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, R"(data: is not valid base64, got string "!!!")");
}

TEST(ParseErrors, TopLevelArrayIsRefused) {
  auto r = Parse<PubAck>("[1,2]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "document: expected a JSON object, got an array");
}

TEST(ParseErrors, DeepNestingIsRefusedBeforeParsing) {
  const std::string deep = R"({"x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto r = Parse<PubAck>(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nests deeper"), std::string::npos);
}

TEST(ParseErrors, MalformedErrorObjectInResponseIsAParseError) {
  auto r = ParseApiResponse<StreamInfo>(R"({"error":{"code":"x"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, R"(error.code: expected an integer, got string "x")");
}

TEST(RequestBodies, EmptyOrWhitespaceBodyMeansDefaults) {
  auto empty = ParseRequestBody<StreamInfoRequest>("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty.value(), StreamInfoRequest{});
  auto blank = ParseRequestBody<StreamNamesRequest>(" \r\n");
  ASSERT_TRUE(blank.ok());
  EXPECT_EQ(blank->offset, 0);
}

TEST(RequestBodies, NonEmptyBodyIsParsed) {
  auto r = ParseRequestBody<StreamInfoRequest>(R"({"subjects_filter":">","deleted_details":true})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->subjects_filter, ">");
  EXPECT_TRUE(r->deleted_details);
  EXPECT_FALSE(ParseRequestBody<PurgeRequest>("nope").ok());
}

TEST(Serialization, InvalidUtf8IsReplacedNotThrown) {
  StoredMsg m{.subject = std::string("a.\xff.b"), .seq = 1};
  const json out = json::parse(ToJson(m));
  EXPECT_EQ(out["subject"], "a.\xEF\xBF\xBD.b");
}

TEST(PullRequests, EmptyBodyIsBatchOne) {
  auto r = ParsePullRequest("");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->batch, 1);
  EXPECT_EQ(r->expires.count(), 0);
}

TEST(PullRequests, DecimalBodyIsTheBatchSize) {
  auto r = ParsePullRequest("25");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->batch, 25);
}

TEST(PullRequests, JsonBodyCarriesAllFields) {
  auto r = ParsePullRequest(R"({"batch":10,"expires":30000000000,"max_bytes":1024,"no_wait":true,)"
                            R"("idle_heartbeat":15000000000,"group":"g"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->batch, 10);
  EXPECT_EQ(r->expires, std::chrono::seconds(30));
  EXPECT_EQ(r->max_bytes, 1024);
  EXPECT_TRUE(r->no_wait);
  EXPECT_EQ(r->idle_heartbeat, std::chrono::seconds(15));
  EXPECT_NE(r->unknown.Find("group"), nullptr);
}

TEST(PullRequests, GarbageBodyIsAnError) {
  auto r = ParsePullRequest("ten");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("neither JSON nor a batch size"), std::string::npos);
}

TEST(MsgGet, CombinationRules) {
  EXPECT_EQ(MsgGetRequest{.seq = 3}.CheckCombination(), "");
  EXPECT_EQ(MsgGetRequest{.last_by_subj = "a"}.CheckCombination(), "");
  EXPECT_EQ((MsgGetRequest{.seq = 3, .next_by_subj = "a.*"}.CheckCombination()), "");
  EXPECT_NE(MsgGetRequest{}.CheckCombination(), "");
  EXPECT_NE((MsgGetRequest{.seq = 3, .last_by_subj = "a"}.CheckCombination()), "");
  EXPECT_NE((MsgGetRequest{.last_by_subj = "a", .next_by_subj = "b"}.CheckCombination()), "");
}

TEST(MsgGet, StoredMessageEncodesBytesAsBase64) {
  StoredMsg m{
      .subject = "a.b", .seq = 2, .hdrs = "NATS/1.0\r\n\r\n", .data = std::string("\0\xff", 2)};
  m.time = *Timestamp::Parse("2026-11-23T00:20:22.582469645Z");
  const json out = json::parse(ToJson(m));
  EXPECT_EQ(out["hdrs"], "TkFUUy8xLjANCg0K");
  EXPECT_EQ(out["data"], "AP8=");
  EXPECT_EQ(out["time"], "2026-11-23T00:20:22.582469645Z");
}

TEST(PubAckText, MatchesTheServersTextExactly) {
  std::string out;
  AppendPubAckText(PubAck{.stream = "ORDERS", .seq = 1}, out);
  EXPECT_EQ(out, R"({"stream":"ORDERS", "seq":1})");
  out.clear();
  AppendPubAckText(PubAck{.stream = "ORDERS", .seq = 1, .domain = "hub"}, out);
  EXPECT_EQ(out, R"({"stream":"ORDERS", "domain":"hub", "seq":1})");
  out.clear();
  AppendPubAckText(PubAck{.stream = "ORDERS", .seq = 2, .duplicate = true}, out);
  EXPECT_EQ(out, R"({"stream":"ORDERS", "seq":2,"duplicate": true})");
}

TEST(PubAckText, ScanReadsEveryServerForm) {
  auto plain = ScanPubAckText(R"({"stream":"ORDERS", "seq":1})");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->stream, "ORDERS");
  EXPECT_EQ(plain->seq, 1u);
  EXPECT_FALSE(plain->duplicate);
  auto domain =
      ScanPubAckText(R"({"stream":"ORDERS", "domain":"hub", "seq":18446744073709551615})");
  ASSERT_TRUE(domain.has_value());
  EXPECT_EQ(domain->domain, "hub");
  EXPECT_EQ(domain->seq, 18446744073709551615u);
  auto dup = ScanPubAckText(R"({"stream":"ORDERS", "seq":2,"duplicate": true})");
  ASSERT_TRUE(dup.has_value());
  EXPECT_TRUE(dup->duplicate);
}

TEST(PubAckText, ScanAgreesWithAppend) {
  const PubAck ack{.stream = "foo-write-west", .seq = 42, .domain = "d", .duplicate = true};
  std::string text;
  AppendPubAckText(ack, text);
  auto v = ScanPubAckText(text);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->stream, ack.stream);
  EXPECT_EQ(v->seq, ack.seq);
  EXPECT_EQ(v->domain, ack.domain);
  EXPECT_TRUE(v->duplicate);
}

TEST(PubAckText, ScanRefusesAnythingElse) {
  for (
      const char* other :
      {R"({"error":{"code":400,"err_code":10060,"description":"expected stream does not match"},"stream":"ORDERS","seq":0})",
       R"({"stream":"ORDERS","seq":1})", R"({"stream":"OR\"D", "seq":1})",
       R"({"stream":"ORDERS", "seq":1} )", R"({"stream":"ORDERS", "seq":})",
       R"({"stream":"ORDERS", "seq":99999999999999999999})", R"({"stream":"ORDERS", "seq":007})",
       R"({"stream":"ORDERS")", ""}) {
    EXPECT_FALSE(ScanPubAckText(other).has_value()) << other;
  }
}

TEST(ErrorReplies, BodyHasTypeAndError) {
  const json out =
      json::parse(ErrorReplyBody("stream_create_response", errors::kStreamNameMismatch.Make()));
  EXPECT_EQ(out, json::parse(R"({"type":"io.nats.jetstream.api.v1.stream_create_response",
    "error":{"code":400,"err_code":10056,
             "description":"stream name in subject does not match request"}})"));
}

TEST(ErrorReplies, PagedResponseTypesCarryZeroPaging) {
  const json out =
      json::parse(ErrorReplyBody("stream_info_response", errors::kStreamNotFound.Make()));
  EXPECT_EQ(out, json::parse(R"({"type":"io.nats.jetstream.api.v1.stream_info_response",
    "error":{"code":404,"err_code":10059,"description":"stream not found"},
    "total":0,"offset":0,"limit":0})"));
}

TEST(ErrorReplies, RefusedPublishLooksLikeTheServersFailedPubAck) {
  const std::string body = PubAckErrorBody("foo", errors::kStreamExpectedStreamMismatch.Make());
  EXPECT_EQ(json::parse(body), json::parse(R"({"error":{"code":400,"err_code":10060,
    "description":"expected stream does not match"},"stream":"foo","seq":0})"));
  auto r = ParseApiResponse<PubAck>(body);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_error());
}

TEST(ErrorReplies, ErrorBodyParsesBackAsError) {
  auto r = ParseApiResponse<StreamInfo>(
      ErrorReplyBody("stream_info_response", errors::kStreamNotFound.Make()));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->is_error());
  EXPECT_EQ(r->error().err_code, 10059);
}

TEST(ErrorCodes, TemplateSubstitutesDetail) {
  EXPECT_EQ(errors::kStreamWrongLastSequence.Make("7").description, "wrong last sequence: 7");
  EXPECT_EQ(errors::kConsumerCreate.Make("deliver policy can not be updated").description,
            "deliver policy can not be updated");
}

TEST(ErrorCodes, PlainDescriptionGetsDetailAppended) {
  EXPECT_EQ(errors::kInvalidJson.Make("unexpected end").description,
            "invalid JSON: unexpected end");
}

TEST(ErrorCodes, LookupByErrCode) {
  ASSERT_NE(FindErrorCode(10059), nullptr);
  EXPECT_EQ(FindErrorCode(10059)->description, "stream not found");
  EXPECT_EQ(FindErrorCode(10014)->code, 404);
  EXPECT_EQ(FindErrorCode(9999), nullptr);
}

}  // namespace
}  // namespace meridian::jsapi
