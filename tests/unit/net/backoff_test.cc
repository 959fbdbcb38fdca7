#include "net/backoff.h"

#include <gtest/gtest.h>

#include <set>

#include "net/endpoint.h"

namespace meridian::net {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, EveryDelayIsWithinMinAndTheGrowingCeiling) {
  Backoff b(milliseconds(10), milliseconds(1000), 2.0, 42);
  for (int i = 0; i < 200; ++i) {
    milliseconds ceiling = b.CurrentCeiling();
    milliseconds d = b.Next();
    EXPECT_GE(d, milliseconds(10));
    EXPECT_LE(d, ceiling);
    EXPECT_LE(d, milliseconds(1000));
  }
}

TEST(Backoff, CeilingDoublesThenStopsAtMax) {
  Backoff b(milliseconds(10), milliseconds(100), 2.0, 1);
  std::vector<int64_t> ceilings;
  for (int i = 0; i < 6; ++i) {
    ceilings.push_back(b.CurrentCeiling().count());
    b.Next();
  }
  EXPECT_EQ(ceilings, (std::vector<int64_t>{10, 20, 40, 80, 100, 100}));
}

TEST(Backoff, FullJitterSpreadsDelaysOverTheWholeRange) {
  Backoff b(milliseconds(1), milliseconds(1000), 2.0, 7);
  for (int i = 0; i < 20; ++i) b.Next();  // ceiling is now max
  std::set<int64_t> seen;
  int64_t low = 1000, high = 0;
  for (int i = 0; i < 500; ++i) {
    int64_t d = b.Next().count();
    seen.insert(d);
    low = std::min(low, d);
    high = std::max(high, d);
  }
  EXPECT_GT(seen.size(), 300u);
  EXPECT_LT(low, 100);
  EXPECT_GT(high, 900);
}

TEST(Backoff, ResetStartsAgainFromMin) {
  Backoff b(milliseconds(5), milliseconds(10000), 2.0, 3);
  for (int i = 0; i < 10; ++i) b.Next();
  b.Reset();
  EXPECT_EQ(b.attempts(), 0u);
  EXPECT_EQ(b.CurrentCeiling(), milliseconds(5));
  EXPECT_EQ(b.Next(), milliseconds(5));
}

TEST(Backoff, SameSeedGivesSameSequence) {
  Backoff a(milliseconds(1), milliseconds(500), 2.0, 99);
  Backoff b(milliseconds(1), milliseconds(500), 2.0, 99);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a.Next(), b.Next());
}

TEST(Backoff, HugeAttemptCountsStayAtMax) {
  Backoff b(milliseconds(1), milliseconds(50), 10.0, 5);
  for (int i = 0; i < 5000; ++i) EXPECT_LE(b.Next(), milliseconds(50));
  EXPECT_EQ(b.CurrentCeiling(), milliseconds(50));
}

TEST(Endpoint, ParsesHostPortIpv6AndUnix) {
  auto a = Endpoint::Parse("nats://127.0.0.1:4222");
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ(*a, Endpoint::Tcp("127.0.0.1", 4222));
  auto b = Endpoint::Parse("[::1]:0");
  ASSERT_TRUE(b.ok()) << b.message();
  EXPECT_EQ(*b, Endpoint::Tcp("::1", 0));
  EXPECT_EQ(b->ToString(), "[::1]:0");
  auto c = Endpoint::Parse("unix:/tmp/x.sock");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->unix_path, "/tmp/x.sock");
  auto d = Endpoint::Parse("tls://user:pw@example.com:7422");
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(*d, Endpoint::Tcp("example.com", 7422));
}

TEST(Endpoint, RejectsMissingOrBadPortWithASentence) {
  auto a = Endpoint::Parse("localhost");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.message().find("has no port"), std::string::npos) << a.message();
  auto b = Endpoint::Parse("localhost:70000");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.message().find("not a number from 0 to 65535"), std::string::npos);
  EXPECT_FALSE(Endpoint::Parse("::1:4222").ok());
}

}  // namespace
}  // namespace meridian::net
