#include "session/client_subscriptions.h"

#include <gtest/gtest.h>

namespace meridian::session {
namespace {

TEST(ClientSubscriptions, FindsTheSidOfAWildcardInboxSubscription) {
  ClientSubscriptions subs;
  subs.Add("1", "orders.>");
  subs.Add("2", "_INBOX.abc.*");
  EXPECT_EQ(subs.SidFor("_INBOX.abc.7"), "2");
  EXPECT_FALSE(subs.SidFor("_INBOX.other.7"));
}

TEST(ClientSubscriptions, PrefersTheOldestMatchingSubscription) {
  ClientSubscriptions subs;
  subs.Add("9", "_INBOX.>");
  subs.Add("3", "_INBOX.abc.*");
  EXPECT_EQ(subs.SidFor("_INBOX.abc.1"), "9");
}

TEST(ClientSubscriptions, IgnoresASecondSubWithTheSameSidAndForgetsOnUnsub) {
  ClientSubscriptions subs;
  subs.Add("1", "a");
  subs.Add("1", "b");
  EXPECT_EQ(subs.SidFor("a"), "1");
  EXPECT_FALSE(subs.SidFor("b"));
  subs.Remove("1");
  EXPECT_FALSE(subs.Contains("1"));
  EXPECT_EQ(subs.size(), 0u);
}

TEST(ClientSubscriptions, ListsSubscriptionsForRestoreOldestFirstWithQueueAndRemainingCount) {
  ClientSubscriptions subs;
  subs.Add("2", "jobs", "workers");
  subs.Add("1", "a.>");
  EXPECT_FALSE(subs.SetMax("1", 4));
  EXPECT_FALSE(subs.CountDelivery("1"));
  auto list = subs.ForRestore();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].sid, "2");
  EXPECT_EQ(list[0].queue, "workers");
  EXPECT_EQ(list[0].remaining, 0u);
  EXPECT_EQ(list[1].sid, "1");
  EXPECT_EQ(list[1].remaining, 3u);
}

TEST(ClientSubscriptions, ASubscriptionEndsWhenItsMaxIsDelivered) {
  ClientSubscriptions subs;
  subs.Add("1", "a");
  subs.SetMax("1", 2);
  EXPECT_TRUE(subs.counting());
  EXPECT_FALSE(subs.CountDelivery("1"));
  EXPECT_TRUE(subs.CountDelivery("1"));
  EXPECT_FALSE(subs.Contains("1"));
  EXPECT_FALSE(subs.counting());
}

TEST(ClientSubscriptions, AMaxAlreadyReachedEndsTheSubscriptionAtOnce) {
  ClientSubscriptions subs;
  subs.Add("1", "a");
  subs.CountDelivery("1");
  subs.CountDelivery("1");
  EXPECT_TRUE(subs.SetMax("1", 2));
  EXPECT_FALSE(subs.Contains("1"));
}

TEST(ClientSubscriptions, CountsNothingWhileNoSubscriptionHasAMax) {
  ClientSubscriptions subs;
  subs.Add("1", "a");
  EXPECT_FALSE(subs.counting());
  subs.SetMax("1", 3);
  subs.Remove("1");
  EXPECT_FALSE(subs.counting());
}

TEST(ClientSubscriptions, TellsTheSubjectOfASid) {
  ClientSubscriptions subs;
  subs.Add("1", "a.b", "q");
  EXPECT_EQ(subs.SubjectOf("1"), std::optional<std::string>("a.b"));
  EXPECT_EQ(subs.SubjectOf("2"), std::nullopt);
  subs.Remove("1");
  EXPECT_EQ(subs.SubjectOf("1"), std::nullopt);
}

}  // namespace
}  // namespace meridian::session
