#include "topology/trim.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "topology/coordinator.h"

namespace meridian::topology {
namespace {

using nlohmann::json;

TEST(StreamSourceHeader, Reads29sNameAndSequence) {
  auto p = ParseStreamSourceValue("foo-write-west 17");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->stream, "foo-write-west");
  EXPECT_EQ(p->seq, 17u);
}

TEST(StreamSourceHeader, Reads210sFourFieldsAndDropsTheHash) {
  auto p = ParseStreamSourceValue("foo-write-west:Ab3dE5gH 42 foo.west.> >");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->stream, "foo-write-west");
  EXPECT_EQ(p->seq, 42u);
}

TEST(StreamSourceHeader, RefusesThreeFieldsLegacyAcksAndNonNumbers) {
  EXPECT_FALSE(ParseStreamSourceValue("foo 1 foo.>"));
  EXPECT_FALSE(ParseStreamSourceValue("$JS.ACK.foo.c.1.2.3.4.5"));
  EXPECT_FALSE(ParseStreamSourceValue("foo x"));
  EXPECT_FALSE(ParseStreamSourceValue("foo"));
}

// Recorded from nats-server 2.9.10: MSG.GET {"last_by_subj":"foo.west.>"} on a read stream.
const char kRecordedGet[] =
    R"({"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"foo.west.a3","seq":5,"hdrs":"TkFUUy8xLjANCk5hdHMtU3RyZWFtLVNvdXJjZTogdyAzDQoNCg==","data":"eA==","time":"2026-11-23T06:58:17.564464541Z"}})";

TEST(ProbeFromMsgGet, FindsTheOriginSequenceInARecordedReply) {
  SourcedProbe p = ProbeFromMsgGet(json::parse(kRecordedGet), "w");
  ASSERT_EQ(p.kind, SourcedProbe::kFound) << p.error;
  EXPECT_EQ(p.position.seq, 3u);
}

TEST(ProbeFromMsgGet, NoMessageMeansNothingSourcedYet) {
  json reply = json::parse(
      R"({"type":"io.nats.jetstream.api.v1.stream_msg_get_response","error":{"code":404,"err_code":10037,"description":"no message found"}})");
  EXPECT_EQ(ProbeFromMsgGet(reply, "w").kind, SourcedProbe::kNoMessage);
}

TEST(ProbeFromMsgGet, AMessageFromAnotherOriginIsAnError) {
  SourcedProbe p = ProbeFromMsgGet(json::parse(kRecordedGet), "foo-write-east");
  EXPECT_EQ(p.kind, SourcedProbe::kError);
  EXPECT_THAT(p.error, ::testing::HasSubstr("came from w"));
}

TEST(ProbeFromMsgGet, AMessageWithoutTheHeaderIsAnError) {
  json reply = json::parse(kRecordedGet);
  reply["message"].erase("hdrs");
  EXPECT_EQ(ProbeFromMsgGet(reply, "w").kind, SourcedProbe::kError);
}

TrimInput Input(std::uint64_t first, std::uint64_t last,
                std::vector<std::optional<std::uint64_t>> seqs) {
  TrimInput in;
  in.write_stream = "foo-write-east";
  in.first_seq = first;
  in.last_seq = last;
  int i = 0;
  for (auto s : seqs) {
    ReaderPosition r;
    r.reader = "reader-" + std::to_string(i++);
    r.seq = s;
    if (!s) r.why_unknown = "its region is unreachable";
    in.readers.push_back(r);
  }
  return in;
}

TEST(DecideTrim, PurgesBelowTheLowestSequenceEveryReaderHolds) {
  TrimDecision d = DecideTrim(Input(1, 100, {100, 40, 77}));
  EXPECT_EQ(d.purge_below, 41u);
  EXPECT_EQ(d.removes, 40u);
  EXPECT_THAT(d.reason, ::testing::HasSubstr("reader-1"));
}

TEST(DecideTrim, AReaderThatCannotBeAskedHoldsEverythingBack) {
  TrimDecision d = DecideTrim(Input(1, 100, {100, std::nullopt, 100}));
  EXPECT_EQ(d.purge_below, 0u);
  EXPECT_THAT(d.reason, ::testing::HasSubstr("reader-1: its region is unreachable"));
}

TEST(DecideTrim, AReaderThatHasSourcedNothingHoldsEverythingBack) {
  EXPECT_EQ(DecideTrim(Input(1, 100, {100, 0})).purge_below, 0u);
}

TEST(DecideTrim, NothingWhenAlreadyTrimmedThatFar) {
  EXPECT_EQ(DecideTrim(Input(41, 100, {40, 90})).purge_below, 0u);
  EXPECT_EQ(DecideTrim(Input(101, 100, {100, 100})).purge_below, 0u);
}

TEST(DecideTrim, PurgesEverythingWhenEveryReaderHasAll) {
  TrimDecision d = DecideTrim(Input(1, 100, {100, 100}));
  EXPECT_EQ(d.purge_below, 101u);
  EXPECT_EQ(d.removes, 100u);
}

TEST(DecideTrim, RefusesWhenAReaderClaimsMoreThanTheStreamEverHeld) {
  EXPECT_EQ(DecideTrim(Input(1, 10, {50, 60})).purge_below, 0u);
}

TEST(ParseRfc3339Nanos, ReadsServerTimestamps) {
  auto t = ParseRfc3339Nanos("1970-01-01T00:00:01.5Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 1500000000LL);
  EXPECT_EQ(*ParseRfc3339Nanos("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_FALSE(ParseRfc3339Nanos("yesterday"));
}

}  // namespace
}  // namespace meridian::topology

namespace meridian::topology {
namespace {

TEST(BacklogWarning, SaysNothingWithoutAnAgeLimit) {
  EXPECT_EQ(BacklogWarning("foo-write-east", "east", "west", std::chrono::hours(100), {}), "");
}

TEST(BacklogWarning, SaysNothingBelowEightyPercentOfTheLimit) {
  EXPECT_EQ(BacklogWarning("foo-write-east", "east", "west", std::chrono::minutes(47),
                           std::chrono::hours(1)),
            "");
}

TEST(BacklogWarning, WarnsFromEightyPercentNamingOriginReaderAndStream) {
  std::string w = BacklogWarning("foo-write-east", "east", "west", std::chrono::minutes(50),
                                 std::chrono::hours(1));
  EXPECT_THAT(w, ::testing::HasSubstr("from \"east\" to \"west\" is 3000s old"));
  EXPECT_THAT(w, ::testing::HasSubstr("write_max_age (3600s)"));
  EXPECT_THAT(w, ::testing::HasSubstr("leave foo-write-east"));
}

}  // namespace
}  // namespace meridian::topology
