// Replies recorded from the stock nats-server 2.9.10 (tests/data/jsapi/README.md) parse into
// the typed structs and serialize back to the same JSON.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "jsapi/json.h"

namespace meridian::jsapi {
namespace {

std::string ReadFixture(const std::string& name) {
  const char* root = std::getenv("MERIDIAN_TEST_DATA");
  const std::string dir = root ? std::string(root) : std::string("tests/data");
  std::ifstream in(dir + "/jsapi/" + name);
  EXPECT_TRUE(in.good()) << "cannot open fixture " << dir << "/jsapi/" << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses `name` as an API response of type T and checks that re-serializing gives JSON equal
// to the recorded reply (object key order aside).
template <typename T>
ApiResponse<T> ExpectRoundTrip(const std::string& name) {
  const std::string text = ReadFixture(name);
  auto parsed = ParseApiResponse<T>(text);
  EXPECT_TRUE(parsed.ok()) << name << ": " << (parsed.ok() ? "" : parsed.error().message);
  if (!parsed.ok()) return ApiResponse<T>(T{});
  EXPECT_EQ(nlohmann::json::parse(parsed->ToJson()), nlohmann::json::parse(text)) << name;
  return std::move(parsed).value();
}

TEST(RecordedReplies, StreamCreateRoundTripsWithDefaultedConfig) {
  auto r = ExpectRoundTrip<StreamInfo>("stream_create_response.json");
  ASSERT_FALSE(r.is_error());
  const StreamInfo& info = r.body();
  EXPECT_TRUE(info.did_create);
  EXPECT_EQ(info.config.name, "ORDERS");
  EXPECT_EQ(info.config.description, "orders <&> test");  // sent as \u003c\u0026\u003e
  EXPECT_EQ(info.config.subjects, std::vector<std::string>{"orders.>"});
  EXPECT_EQ(info.config.max_msgs, -1);
  EXPECT_EQ(info.config.max_age, std::chrono::hours(1));
  EXPECT_EQ(info.config.duplicate_window, std::chrono::minutes(2));
  ASSERT_TRUE(info.config.republish.has_value());
  EXPECT_EQ(info.config.republish->dest, "mirror.orders.>");
  EXPECT_TRUE(info.state.first_ts.IsGoZero());
  EXPECT_FALSE(info.config.compression.has_value());  // 2.9 never sends it
  EXPECT_FALSE(info.paging.has_value());
}

TEST(RecordedReplies, StreamInfoWithSubjectsFilterCarriesPerSubjectCounts) {
  auto r = ExpectRoundTrip<StreamInfo>("stream_info_subjects_response.json");
  ASSERT_FALSE(r.is_error());
  const StreamInfo& info = r.body();
  ASSERT_TRUE(info.paging.has_value());
  EXPECT_EQ(info.paging->total, 2);
  EXPECT_EQ(info.paging->limit, 100000);
  EXPECT_EQ(info.state.num_subjects, 2);
  EXPECT_EQ(info.state.subjects.at("orders.east.a"), 1u);
  EXPECT_EQ(info.state.subjects.at("orders.east.b"), 1u);
}

TEST(RecordedReplies, StreamInfoWithoutFilterHasZeroPaging) {
  auto r = ExpectRoundTrip<StreamInfo>("stream_info_response.json");
  ASSERT_FALSE(r.is_error());
  ASSERT_TRUE(r.body().paging.has_value());
  EXPECT_EQ(r.body().paging->total, 0);
  EXPECT_TRUE(r.body().state.subjects.empty());
}

TEST(RecordedReplies, SourcedStreamReportsSourcesWithLagAndActive) {
  ExpectRoundTrip<StreamInfo>("stream_create_sources_response.json");
  auto r = ExpectRoundTrip<StreamInfo>("stream_info_sources_response.json");
  ASSERT_FALSE(r.is_error());
  const StreamInfo& info = r.body();
  EXPECT_TRUE(info.config.subjects.empty());
  ASSERT_EQ(info.config.sources.size(), 2u);
  EXPECT_EQ(info.config.sources[0].filter_subject, "orders.east.>");
  ASSERT_TRUE(info.config.sources[1].external.has_value());
  EXPECT_EQ(info.config.sources[1].external->api, "$JS.hub.API");
  ASSERT_EQ(info.sources.size(), 2u);
  EXPECT_EQ(info.sources[0].name, "ORDERS");
  EXPECT_EQ(info.sources[0].lag, 0u);
  EXPECT_GT(info.sources[0].active.count(), 0);
  EXPECT_EQ(info.sources[1].active.count(), -1);  // never heard from
}

TEST(RecordedReplies, MirrorStreamReportsMirrorInfo) {
  auto r = ExpectRoundTrip<StreamInfo>("stream_info_mirror_response.json");
  ASSERT_FALSE(r.is_error());
  ASSERT_TRUE(r.body().config.mirror.has_value());
  EXPECT_EQ(r.body().config.mirror->opt_start_seq, 1u);
  EXPECT_TRUE(r.body().config.mirror_direct);
  ASSERT_TRUE(r.body().mirror.has_value());
  EXPECT_EQ(r.body().mirror->name, "ORDERS");
}

TEST(RecordedReplies, StreamNamesRoundTrip) {
  auto r = ExpectRoundTrip<StreamNamesResponse>("stream_names_response.json");
  ASSERT_FALSE(r.is_error());
  EXPECT_EQ(r.body().paging.limit, 1024);
  EXPECT_EQ(r.body().streams.size(), 4u);
  ExpectRoundTrip<StreamNamesResponse>("stream_names_filtered_response.json");
}

TEST(RecordedReplies, StreamNamesWithNoMatchKeepsNullStreams) {
  auto r = ExpectRoundTrip<StreamNamesResponse>("stream_names_empty_response.json");
  ASSERT_FALSE(r.is_error());
  EXPECT_TRUE(r.body().streams.empty());
  EXPECT_TRUE(nlohmann::json::parse(r.ToJson())["streams"].is_null());
}

TEST(RecordedReplies, StreamListRoundTrips) {
  auto r = ExpectRoundTrip<StreamListResponse>("stream_list_response.json");
  ASSERT_FALSE(r.is_error());
  EXPECT_EQ(r.body().paging.limit, 256);
  EXPECT_EQ(r.body().streams.size(), 4u);
}

TEST(RecordedReplies, ConsumerCreateResponsesRoundTrip) {
  auto pull = ExpectRoundTrip<ConsumerInfo>("consumer_create_response.json");
  ASSERT_FALSE(pull.is_error());
  EXPECT_EQ(pull.body().config.backoff.size(), 2u);
  EXPECT_EQ(pull.body().config.ack_policy, AckPolicy::kExplicit);
  auto push = ExpectRoundTrip<ConsumerInfo>("consumer_create_push_response.json");
  ASSERT_FALSE(push.is_error());
  EXPECT_EQ(push.body().config.deliver_subject, "push.deliver");
  EXPECT_EQ(push.body().config.deliver_policy, DeliverPolicy::kByStartSequence);
  auto eph = ExpectRoundTrip<ConsumerInfo>("consumer_create_ephemeral_response.json");
  ASSERT_FALSE(eph.is_error());
  ASSERT_TRUE(eph.body().config.opt_start_time.has_value());
  EXPECT_EQ(eph.body().config.opt_start_time->nanos, 123456789u);
  EXPECT_EQ(eph.body().config.replay_policy, ReplayPolicy::kOriginal);
}

TEST(RecordedReplies, ConsumerInfoRoundTripsWithLastActive) {
  auto r = ExpectRoundTrip<ConsumerInfo>("consumer_info_response.json");
  ASSERT_FALSE(r.is_error());
  EXPECT_TRUE(r.body().delivered.last_active.has_value());
  EXPECT_EQ(r.body().num_ack_pending, 1);
}

TEST(RecordedReplies, ConsumerNamesAndListRoundTrip) {
  auto names = ExpectRoundTrip<ConsumerNamesResponse>("consumer_names_response.json");
  ASSERT_FALSE(names.is_error());
  EXPECT_EQ(names.body().consumers.size(), 3u);
  auto list = ExpectRoundTrip<ConsumerListResponse>("consumer_list_response.json");
  ASSERT_FALSE(list.is_error());
  EXPECT_EQ(list.body().consumers.size(), 3u);
}

TEST(RecordedReplies, PubAcksRoundTrip) {
  auto ack = ExpectRoundTrip<PubAck>("pub_ack.json");
  ASSERT_FALSE(ack.is_error());
  EXPECT_EQ(ack.body().stream, "ORDERS");
  EXPECT_EQ(ack.body().seq, 1u);
  auto dup = ExpectRoundTrip<PubAck>("pub_ack_duplicate.json");
  ASSERT_FALSE(dup.is_error());
  EXPECT_TRUE(dup.body().duplicate);
}

TEST(RecordedReplies, FailedPubAckIsAnErrorThatKeepsStreamAndSeq) {
  auto r = ExpectRoundTrip<PubAck>("pub_ack_error.json");
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error().err_code, errors::kStreamExpectedStreamMismatch.err_code);
  ASSERT_NE(r.error_response().unknown.Find("stream"), nullptr);
  EXPECT_EQ(*r.error_response().unknown.Find("stream"), "\"ORDERS\"");
}

TEST(RecordedReplies, ErrorRepliesParseAsApiErrors) {
  struct Case {
    const char* file;
    ErrorCode code;
  };
  for (const Case& c : {Case{"error_stream_not_found.json", errors::kStreamNotFound},
                        Case{"error_consumer_not_found.json", errors::kConsumerNotFound},
                        Case{"error_name_mismatch.json", errors::kStreamNameMismatch},
                        Case{"error_no_message_found.json", errors::kNoMessageFound},
                        Case{"error_invalid_json.json", errors::kInvalidJson}}) {
    auto r = ExpectRoundTrip<StreamInfo>(c.file);
    ASSERT_TRUE(r.is_error()) << c.file;
    EXPECT_EQ(r.error(), c.code.Make()) << c.file;
  }
}

TEST(RecordedReplies, InvalidConfigErrorKeepsEscapedDescription) {
  auto r = ExpectRoundTrip<StreamInfo>("error_invalid_config.json");
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error().description, "max age needs to be >= 100ms");
  EXPECT_EQ(r.error(), errors::kStreamInvalidConfig.Make("max age needs to be >= 100ms"));
}

TEST(RecordedReplies, MsgGetDecodesBase64HeadersAndData) {
  auto r = ExpectRoundTrip<MsgGetResponse>("msg_get_response.json");
  ASSERT_FALSE(r.is_error());
  EXPECT_EQ(r.body().message.hdrs, "NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n");
  EXPECT_EQ(r.body().message.data, "hello");
  auto bare = ExpectRoundTrip<MsgGetResponse>("msg_get_no_headers_response.json");
  ASSERT_FALSE(bare.is_error());
  EXPECT_TRUE(bare.body().message.hdrs.empty());
  EXPECT_EQ(bare.body().message.data, "x");
}

TEST(RecordedReplies, AccountInfoRoundTrips) {
  auto r = ExpectRoundTrip<AccountInfo>("account_info_response.json");
  ASSERT_FALSE(r.is_error());
  EXPECT_EQ(r.body().usage.streams, 4);
  EXPECT_EQ(r.body().usage.limits.max_memory, -1);
  EXPECT_FALSE(r.body().usage.reserved_memory.has_value());  // 2.10+ only
  EXPECT_EQ(r.body().api.total, 27u);
}

TEST(RecordedReplies, DeleteAndPurgeResponsesRoundTrip) {
  auto del = ExpectRoundTrip<SuccessResponse>("stream_delete_response.json");
  ASSERT_FALSE(del.is_error());
  EXPECT_TRUE(del.body().success);
  ExpectRoundTrip<SuccessResponse>("consumer_delete_response.json");
  auto purge = ExpectRoundTrip<PurgeResponse>("stream_purge_response.json");
  ASSERT_FALSE(purge.is_error());
  EXPECT_TRUE(purge.body().success);
}

}  // namespace
}  // namespace meridian::jsapi
