#include "config/values.h"

#include <gtest/gtest.h>

namespace meridian::config {
namespace {

using namespace std::chrono_literals;

TEST(Durations, ParseGoStyleText) {
  EXPECT_EQ(ParseDuration("30s"), 30s);
  EXPECT_EQ(ParseDuration("2m"), 2min);
  EXPECT_EQ(ParseDuration("1h30m"), 90min);
  EXPECT_EQ(ParseDuration("250ms"), 250ms);
  EXPECT_EQ(ParseDuration("1.5s"), 1500ms);
  EXPECT_EQ(ParseDuration("10us"), 10us);
  EXPECT_EQ(ParseDuration("7ns"), 7ns);
  EXPECT_EQ(ParseDuration("0"), 0ns);
}

TEST(Durations, RejectMalformedText) {
  for (const char* bad :
       {"", "30", "s", "-5s", "1.s", ".5s", "1..5s", "5x", "1h 30m", "99999999999h"}) {
    EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
  }
}

TEST(Durations, FormatIsReadableAndParsesBack) {
  EXPECT_EQ(FormatDuration(90min), "1h30m");
  EXPECT_EQ(FormatDuration(250ms), "250ms");
  EXPECT_EQ(FormatDuration(1500ms), "1.5s");
  EXPECT_EQ(FormatDuration(0s), "0s");
  EXPECT_EQ(ParseDuration(FormatDuration(3723500ms)), 3723500ms);
}

TEST(ByteSizes, ParseDecimalAndBinaryUnits) {
  EXPECT_EQ(ParseByteSize("512")->bytes, 512u);
  EXPECT_EQ(ParseByteSize("512B")->bytes, 512u);
  EXPECT_EQ(ParseByteSize("64KB")->bytes, 64'000u);
  EXPECT_EQ(ParseByteSize("64KiB")->bytes, 65'536u);
  EXPECT_EQ(ParseByteSize("64MiB")->bytes, 64u << 20);
  EXPECT_EQ(ParseByteSize("1GB")->bytes, 1'000'000'000u);
  EXPECT_EQ(ParseByteSize("1 GiB")->bytes, 1u << 30);
  EXPECT_EQ(ParseByteSize("2tib")->bytes, 2ull << 40);
}

TEST(ByteSizes, RejectMalformedText) {
  for (const char* bad : {"", "MB", "1.5GB", "64M", "64XB", "-1", "1 ", "99999999999TiB"}) {
    EXPECT_FALSE(ParseByteSize(bad).has_value()) << bad;
  }
}

TEST(Addresses, ParseHostPort) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:4222"), (HostPort{"127.0.0.1", 4222}));
  EXPECT_EQ(ParseHostPort("nats-east-1:0"), (HostPort{"nats-east-1", 0}));
  EXPECT_EQ(ParseHostPort("[::1]:4222"), (HostPort{"::1", 4222}));
  EXPECT_EQ((HostPort{"::1", 4222}).ToString(), "[::1]:4222");
}

TEST(Addresses, RejectMalformedText) {
  for (const char* bad : {"", "host", ":4222", "host:", "host:65536", "host:-1", "ho st:1",
                          "[::1]4222", "[zz]:1", "host:42a"}) {
    EXPECT_FALSE(ParseHostPort(bad).has_value()) << bad;
  }
}

TEST(Urls, ParseNatsUrls) {
  auto u = ParseNatsUrl("nats://alice:pw@east-1:4223");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->scheme, "nats");
  EXPECT_EQ(u->user, "alice");
  EXPECT_EQ(u->password, "pw");
  EXPECT_EQ(u->address, (HostPort{"east-1", 4223}));
  EXPECT_EQ(u->ToString(), "nats://east-1:4223");
}

TEST(Urls, PortDefaultsTo4222) {
  EXPECT_EQ(ParseNatsUrl("tls://east-1")->address.port, 4222);
  EXPECT_EQ(ParseNatsUrl("nats://[::1]")->address, (HostPort{"::1", 4222}));
}

TEST(Urls, RejectMalformedText) {
  for (const char* bad :
       {"nats//x", "http://x:1", "nats://", "nats://:4222", "nats://@x:1", "east-1:4222"}) {
    EXPECT_FALSE(ParseNatsUrl(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace meridian::config
