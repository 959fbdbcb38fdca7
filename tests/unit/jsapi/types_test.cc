#include <gtest/gtest.h>

#include "jsapi/json.h"

namespace meridian::jsapi {
namespace {

TEST(Timestamps, FormatsNanosecondsWithTrailingZerosTrimmed) {
  auto ts = Timestamp::Parse("2026-11-23T00:21:41.901673730Z");
  ASSERT_TRUE(ts.has_value());
  EXPECT_EQ(ts->ToString(), "2026-11-23T00:21:41.90167373Z");
}

TEST(Timestamps, WholeSecondsHaveNoFraction) {
  EXPECT_EQ(Timestamp::FromUnixNanos(0).ToString(), "1970-01-01T00:00:00Z");
}

TEST(Timestamps, DefaultIsGoZeroTime) {
  EXPECT_EQ(Timestamp{}.ToString(), "0001-01-01T00:00:00Z");
  auto ts = Timestamp::Parse("0001-01-01T00:00:00Z");
  ASSERT_TRUE(ts.has_value());
  EXPECT_TRUE(ts->IsGoZero());
}

TEST(Timestamps, OffsetsAreNormalisedToUtc) {
  auto ts = Timestamp::Parse("2026-01-02T05:04:05.5+02:00");
  ASSERT_TRUE(ts.has_value());
  EXPECT_EQ(ts->ToString(), "2026-01-02T03:04:05.5Z");
}

TEST(Timestamps, UnixNanosRoundTrip) {
  const int64_t ns = 1795396841012847756;
  const Timestamp ts = Timestamp::FromUnixNanos(ns);
  EXPECT_EQ(ts.unix_seconds, 1795396841);
  EXPECT_EQ(ts.nanos, 12847756u);
  EXPECT_EQ(Timestamp::Parse(ts.ToString()), ts);
}

TEST(Timestamps, RejectsNonRfc3339Text) {
  for (const char* bad : {"", "2026-11-23", "2026-11-23T00:00:00", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-11-23T00:00:00.Z", "2026-11-23 00:00:00Z",
                          "2026-11-23T00:00:00Zjunk", "2026-11-23T24:00:00Z"}) {
    EXPECT_FALSE(Timestamp::Parse(bad).has_value()) << bad;
  }
}

TEST(Base64, EncodesWithPadding) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
}

TEST(Base64, DecodesWhatItEncodes) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(Base64Decode(Base64Encode(all)), all);
}

TEST(Base64, RejectsInvalidText) {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zg==Zg==", "Zm9v!", "=Zm9"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

TEST(Enums, RoundTripEveryValue) {
  for (auto v : {DeliverPolicy::kAll, DeliverPolicy::kLast, DeliverPolicy::kNew,
                 DeliverPolicy::kByStartSequence, DeliverPolicy::kByStartTime,
                 DeliverPolicy::kLastPerSubject}) {
    DeliverPolicy back{};
    ASSERT_TRUE(FromString(ToString(v), back));
    EXPECT_EQ(back, v);
  }
  for (auto v :
       {RetentionPolicy::kLimits, RetentionPolicy::kInterest, RetentionPolicy::kWorkQueue}) {
    RetentionPolicy back{};
    ASSERT_TRUE(FromString(ToString(v), back));
    EXPECT_EQ(back, v);
  }
}

TEST(Enums, UndefinedDeliverPolicyReadsAsAll) {
  DeliverPolicy v = DeliverPolicy::kNew;
  ASSERT_TRUE(FromString("undefined", v));
  EXPECT_EQ(v, DeliverPolicy::kAll);
}

TEST(Enums, MatchingIsCaseSensitiveExceptDiscard) {
  AckPolicy a{};
  EXPECT_FALSE(FromString("Explicit", a));
  DiscardPolicy d{};
  EXPECT_TRUE(FromString("OLD", d));
}

}  // namespace
}  // namespace meridian::jsapi
