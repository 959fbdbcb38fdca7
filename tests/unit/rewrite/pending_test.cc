#include "rewrite/pending.h"

#include <gtest/gtest.h>

#include <string>

namespace meridian::rewrite {
namespace {

using namespace std::chrono_literals;
using TimePoint = PendingTable::TimePoint;

const TimePoint kT0{};

TEST(PendingTable, TakesThePlanRecordedForAReplySubjectOnce) {
  PendingTable t;
  ASSERT_EQ(t.Add("_INBOX.a.1", ReplyPlan{ReplyKind::kPubAck, 3}, kT0),
            PendingTable::AddResult::kAdded);
  auto plan = t.Take("_INBOX.a.1");
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->kind, ReplyKind::kPubAck);
  EXPECT_EQ(plan->stream, 3u);
  EXPECT_FALSE(t.Take("_INBOX.a.1"));
  EXPECT_TRUE(t.empty());
}

TEST(PendingTable, UnknownReplySubjectHasNoPlan) {
  PendingTable t;
  t.Add("_INBOX.a.1", ReplyPlan{}, kT0);
  EXPECT_FALSE(t.Take("_INBOX.a.2"));
  EXPECT_EQ(t.size(), 1u);
}

TEST(PendingTable, RefusesWhenFullAndCountsIt) {
  PendingTable t({.capacity = 2, .timeout = 1s});
  EXPECT_EQ(t.Add("a", {}, kT0), PendingTable::AddResult::kAdded);
  EXPECT_EQ(t.Add("b", {}, kT0), PendingTable::AddResult::kAdded);
  EXPECT_EQ(t.Add("c", {}, kT0), PendingTable::AddResult::kFull);
  EXPECT_EQ(t.stats().full, 1u);
  EXPECT_FALSE(t.Take("c"));
}

TEST(PendingTable, NewerRequestOnSameReplySubjectWins) {
  PendingTable t;
  t.Add("r", ReplyPlan{ReplyKind::kPubAck}, kT0);
  EXPECT_EQ(t.Add("r", ReplyPlan{ReplyKind::kStreamInfo}, kT0), PendingTable::AddResult::kReplaced);
  EXPECT_EQ(t.Take("r")->kind, ReplyKind::kStreamInfo);
}

TEST(PendingTable, ExpiresEntriesAfterTheirTimeout) {
  PendingTable t({.capacity = 16, .timeout = 5s});
  t.Add("old", {}, kT0);
  t.Add("new", {}, kT0 + 3s);
  std::vector<std::string> expired;
  EXPECT_EQ(
      t.Expire(kT0 + 5s, [&](std::string_view k, const ReplyPlan&) { expired.emplace_back(k); }),
      1u);
  EXPECT_EQ(expired, std::vector<std::string>{"old"});
  EXPECT_TRUE(t.Take("new"));
}

TEST(PendingTable, HoldsLongReplySubjects) {
  PendingTable t;
  std::string long_key(500, 'x');
  t.Add(long_key, ReplyPlan{ReplyKind::kMsgGet}, kT0);
  EXPECT_EQ(t.Take(long_key)->kind, ReplyKind::kMsgGet);
}

TEST(PendingTable, StaysConsistentUnderManyAddsAndRemovals) {
  PendingTable t({.capacity = 64, .timeout = 1s});
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 64; ++i) {
      ASSERT_NE(t.Add("_INBOX.x." + std::to_string(round * 64 + i),
                      ReplyPlan{ReplyKind::kPubAck, static_cast<std::uint32_t>(i)}, kT0),
                PendingTable::AddResult::kFull);
    }
    for (int i = 0; i < 64; i += 2) {
      auto p = t.Take("_INBOX.x." + std::to_string(round * 64 + i));
      ASSERT_TRUE(p);
      EXPECT_EQ(p->stream, static_cast<std::uint32_t>(i));
    }
    t.Expire(kT0 + 1s, [](std::string_view, const ReplyPlan&) {});
    ASSERT_TRUE(t.empty());
  }
}

TEST(PendingTable, StartsSmallGrowsToItsCapacityAndShrinksWhenEmpty) {
  PendingTable t({.capacity = 1000, .timeout = 1s});
  EXPECT_EQ(t.slots(), PendingTable::kInitialSlots);
  std::string long_key(200, 'l');
  ASSERT_EQ(t.Add(long_key, ReplyPlan{ReplyKind::kMsgGet, 7}, kT0),
            PendingTable::AddResult::kAdded);
  for (int i = 0; i < 999; ++i) {
    ASSERT_EQ(t.Add("_INBOX.g." + std::to_string(i),
                    ReplyPlan{ReplyKind::kPubAck, static_cast<std::uint32_t>(i)}, kT0),
              PendingTable::AddResult::kAdded);
  }
  EXPECT_EQ(t.size(), 1000u);
  EXPECT_EQ(t.slots(), 2048u);  // never more than half full
  EXPECT_EQ(t.Add("_INBOX.g.full", ReplyPlan{ReplyKind::kPubAck}, kT0),
            PendingTable::AddResult::kFull);
  t.ShrinkIfEmpty();  // not empty: nothing changes
  EXPECT_EQ(t.slots(), 2048u);
  // Every entry survived the re-insertions, the long key too.
  auto l = t.Take(long_key);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->stream, 7u);
  for (int i = 0; i < 999; ++i) {
    auto p = t.Take("_INBOX.g." + std::to_string(i));
    ASSERT_TRUE(p) << i;
    EXPECT_EQ(p->stream, static_cast<std::uint32_t>(i));
  }
  ASSERT_TRUE(t.empty());
  t.ShrinkIfEmpty();
  EXPECT_EQ(t.slots(), PendingTable::kInitialSlots);
  // Usable again after shrinking.
  t.Add("_INBOX.g.again", ReplyPlan{ReplyKind::kStreamInfo}, kT0);
  EXPECT_EQ(t.Take("_INBOX.g.again")->kind, ReplyKind::kStreamInfo);
}

}  // namespace
}  // namespace meridian::rewrite
