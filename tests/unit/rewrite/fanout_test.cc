#include "rewrite/fanout.h"

#include <gtest/gtest.h>

namespace meridian::rewrite {
namespace {

using namespace std::chrono_literals;

FanOutPart Direct(std::string headers) {
  return {true, std::move(headers), "x"};
}
FanOutPart MsgGet(std::string body) {
  return {true, "", std::move(body)};
}

TEST(FanOut, ParsesServerTimestamps) {
  EXPECT_EQ(ParseRfc3339Nanos("1970-01-01T00:00:01Z"), 1'000'000'000);
  EXPECT_EQ(ParseRfc3339Nanos("1970-01-01T00:00:00.5Z"), 500'000'000);
  EXPECT_EQ(ParseRfc3339Nanos("2026-11-23T01:42:26.447504673Z"), 1795398146447504673);
  EXPECT_FALSE(ParseRfc3339Nanos("2026-11-23 01:42:26Z"));
  EXPECT_FALSE(ParseRfc3339Nanos("2026-11-23T01:42:26.Z"));
  EXPECT_FALSE(ParseRfc3339Nanos(""));
}

TEST(FanOut, ChoosesNewestDirectGetByTimestamp) {
  std::vector<FanOutPart> parts = {
      Direct("NATS/1.0\r\nNats-Sequence: 9\r\nNats-Time-Stamp: 2026-11-23T01:00:00.5Z\r\n\r\n"),
      Direct("NATS/1.0 404 Message Not Found\r\n\r\n"),
      Direct("NATS/1.0\r\nNats-Sequence: 4\r\nNats-Time-Stamp: 2026-11-23T01:00:00.55Z\r\n\r\n"),
  };
  EXPECT_EQ(ChooseNewest(ReplyKind::kDirectGet, parts), 2u);
}

TEST(FanOut, BreaksTimestampTiesBySequence) {
  std::vector<FanOutPart> parts = {
      Direct("NATS/1.0\r\nNats-Sequence: 9\r\nNats-Time-Stamp: 2026-11-23T01:00:00Z\r\n\r\n"),
      Direct("NATS/1.0\r\nNats-Sequence: 4\r\nNats-Time-Stamp: 2026-11-23T01:00:00Z\r\n\r\n"),
  };
  EXPECT_EQ(ChooseNewest(ReplyKind::kDirectGet, parts), 0u);
}

TEST(FanOut, AnswersNotFoundWhenNoOriginHasTheSubject) {
  std::vector<FanOutPart> parts = {{false, "", ""},
                                   Direct("NATS/1.0 404 Message Not Found\r\n\r\n"),
                                   Direct("NATS/1.0 404 Message Not Found\r\n\r\n")};
  EXPECT_EQ(ChooseNewest(ReplyKind::kDirectGet, parts), 1u);
}

TEST(FanOut, AnswersNothingWhenNoPartAnswered) {
  std::vector<FanOutPart> parts(3);
  EXPECT_FALSE(ChooseNewest(ReplyKind::kMsgGet, parts));
}

TEST(FanOut, ChoosesNewestMsgGetAndSkipsErrors) {
  std::vector<FanOutPart> parts = {
      MsgGet(
          R"({"type":"io.nats.jetstream.api.v1.stream_msg_get_response","error":{"code":404,"err_code":10037,"description":"no message found"}})"),
      MsgGet(
          R"({"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"foo.east.test","seq":2,"time":"2026-11-23T01:42:26.448642376Z"}})"),
      MsgGet(
          R"({"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"foo.west.test","seq":1,"time":"2026-11-23T01:42:26.447504673Z"}})"),
  };
  EXPECT_EQ(ChooseNewest(ReplyKind::kMsgGet, parts), 1u);
}

TEST(FanOutTable, CompletesWhenEveryPartAnswered) {
  FanOutTable t;
  const auto now = FanOutTable::TimePoint{};
  std::uint32_t g = t.Open("_INBOX.client", ReplyPlan{ReplyKind::kDirectGet, 0}, 2, now + 1s);
  ASSERT_NE(g, 0u);
  EXPECT_FALSE(t.Deliver(g, 0, "NATS/1.0\r\n\r\n", "a"));
  EXPECT_FALSE(t.Deliver(g, 0, "", "again"));  // repeated part ignored
  auto done = t.Deliver(g, 1, "", "b");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->client_reply, "_INBOX.client");
  EXPECT_EQ(done->parts[0].body, "a");
  EXPECT_EQ(done->parts[1].body, "b");
  EXPECT_EQ(t.open_groups(), 0u);
}

TEST(FanOutTable, ExpiresGroupsWithWhatTheyHave) {
  FanOutTable t;
  const auto now = FanOutTable::TimePoint{};
  std::uint32_t g = t.Open("r", ReplyPlan{ReplyKind::kMsgGet, 0}, 3, now + 1s);
  t.Deliver(g, 2, "", "{}");
  EXPECT_TRUE(t.Expire(now).empty());
  auto expired = t.Expire(now + 1s);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_TRUE(expired[0].parts[2].answered);
  EXPECT_FALSE(expired[0].parts[0].answered);
}

TEST(FanOutTable, RefusesBeyondMaxGroups) {
  FanOutTable t(1);
  const auto now = FanOutTable::TimePoint{};
  EXPECT_NE(t.Open("a", {}, 1, now), 0u);
  EXPECT_EQ(t.Open("b", {}, 1, now), 0u);
}

}  // namespace
}  // namespace meridian::rewrite
