#include "subject/sublist.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "subject/subject.h"

namespace meridian::subject {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::vector<SubscriberId> QueueMembers(const MatchResult& r, std::string_view name) {
  for (const auto& q : r.queues) {
    if (q.name == name) return q.members;
  }
  return {};
}

TEST(Sublist, MatchesLiteralSubscription) {
  Sublist s;
  ASSERT_TRUE(s.Insert("foo.bar", 1).ok());
  EXPECT_THAT(s.Match("foo.bar")->plain, UnorderedElementsAre(1u));
  EXPECT_TRUE(s.Match("foo.baz")->empty());
  EXPECT_TRUE(s.Match("foo")->empty());
}

TEST(Sublist, MatchesStarAndFullWildcards) {
  Sublist s;
  ASSERT_TRUE(s.Insert("foo.*", 1).ok());
  ASSERT_TRUE(s.Insert("foo.>", 2).ok());
  ASSERT_TRUE(s.Insert(">", 3).ok());
  ASSERT_TRUE(s.Insert("*.bar", 4).ok());
  ASSERT_TRUE(s.Insert("foo.bar.>", 5).ok());
  EXPECT_THAT(s.Match("foo.bar")->plain, UnorderedElementsAre(1u, 2u, 3u, 4u));
  EXPECT_THAT(s.Match("foo.bar.baz")->plain, UnorderedElementsAre(2u, 3u, 5u));
  EXPECT_THAT(s.Match("foo")->plain, UnorderedElementsAre(3u));
  EXPECT_THAT(s.Match("x.bar")->plain, UnorderedElementsAre(3u, 4u));
}

TEST(Sublist, GroupsQueueSubscribersByNameAcrossPatterns) {
  Sublist s;
  ASSERT_TRUE(s.Insert("foo.bar", 1, "workers").ok());
  ASSERT_TRUE(s.Insert("foo.*", 2, "workers").ok());
  ASSERT_TRUE(s.Insert("foo.>", 3, "auditors").ok());
  ASSERT_TRUE(s.Insert("foo.bar", 4).ok());
  auto r = s.Match("foo.bar");
  EXPECT_THAT(r->plain, UnorderedElementsAre(4u));
  ASSERT_EQ(r->queues.size(), 2u);
  EXPECT_THAT(QueueMembers(*r, "workers"), UnorderedElementsAre(1u, 2u));
  EXPECT_THAT(QueueMembers(*r, "auditors"), UnorderedElementsAre(3u));
  EXPECT_EQ(r->size(), 4u);
}

TEST(Sublist, SameIdMayHoldDifferentPatternsAndQueues) {
  Sublist s;
  EXPECT_TRUE(s.Insert("foo", 1).ok());
  EXPECT_TRUE(s.Insert("foo", 1, "q").ok());
  EXPECT_TRUE(s.Insert("foo.>", 1).ok());
  EXPECT_EQ(s.Count(), 3u);
}

TEST(Sublist, RefusesDuplicateSubscriptionWithSentence) {
  Sublist s;
  ASSERT_TRUE(s.Insert("foo", 7, "q").ok());
  Status st = s.Insert("foo", 7, "q");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(),
            "subscriber 7 is already subscribed to \"foo\" in queue group \"q\"; remove it first "
            "or use a different id");
  EXPECT_EQ(s.Count(), 1u);
}

TEST(Sublist, RefusesInvalidPatternAndQueue) {
  Sublist s;
  EXPECT_EQ(s.Insert("foo..bar", 1).message(),
            "subject \"foo..bar\" has an empty token at position 2; remove the leading, trailing "
            "or doubled \".\"");
  EXPECT_FALSE(s.Insert("foo.>.bar", 1).ok());
  EXPECT_FALSE(s.Insert("foo", 1, "a b").ok());
  EXPECT_EQ(s.Count(), 0u);
}

TEST(Sublist, RemoveReturnsWhetherPresent) {
  Sublist s;
  ASSERT_TRUE(s.Insert("foo.*", 1).ok());
  ASSERT_TRUE(s.Insert("foo.*", 2, "q").ok());
  EXPECT_FALSE(s.Remove("foo.*", 3));
  EXPECT_FALSE(s.Remove("foo.*", 1, "q"));
  EXPECT_FALSE(s.Remove("foo.bar", 1));
  EXPECT_FALSE(s.Remove("foo..", 1));
  EXPECT_TRUE(s.Remove("foo.*", 1));
  EXPECT_FALSE(s.Remove("foo.*", 1));
  EXPECT_TRUE(s.Remove("foo.*", 2, "q"));
  EXPECT_EQ(s.Count(), 0u);
  EXPECT_TRUE(s.Match("foo.x")->empty());
}

TEST(Sublist, RemovingOneSubscriberKeepsOthersOnSameNode) {
  Sublist s;
  ASSERT_TRUE(s.Insert("a.b", 1).ok());
  ASSERT_TRUE(s.Insert("a.b", 2).ok());
  ASSERT_TRUE(s.Insert("a.b.c", 3).ok());
  EXPECT_TRUE(s.Remove("a.b", 1));
  EXPECT_THAT(s.Match("a.b")->plain, UnorderedElementsAre(2u));
  EXPECT_TRUE(s.Remove("a.b", 2));
  EXPECT_TRUE(s.Match("a.b")->empty());
  EXPECT_THAT(s.Match("a.b.c")->plain, UnorderedElementsAre(3u));
}

TEST(Sublist, InvalidSubjectsMatchNothing) {
  Sublist s;
  ASSERT_TRUE(s.Insert(">", 1).ok());
  EXPECT_TRUE(s.Match("")->empty());
  EXPECT_TRUE(s.Match("foo..bar")->empty());
  EXPECT_TRUE(s.Match("foo bar")->empty());
  EXPECT_EQ(s.CacheCount(), 0u);
}

// --- Cache ---

TEST(SublistCache, SecondMatchIsACacheHit) {
  Sublist s;
  ASSERT_TRUE(s.Insert("foo.*", 1).ok());
  auto first = s.Match("foo.bar");
  auto second = s.Match("foo.bar");
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(s.Stats().matches, 2u);
  EXPECT_EQ(s.Stats().cache_hits, 1u);
  EXPECT_EQ(s.CacheCount(), 1u);
}

TEST(SublistCache, InsertOfMatchingWildcardInvalidatesCachedSubject) {
  Sublist s;
  ASSERT_TRUE(s.Insert("foo.bar", 1).ok());
  EXPECT_THAT(s.Match("foo.bar")->plain, UnorderedElementsAre(1u));
  ASSERT_TRUE(s.Insert("foo.*", 2).ok());
  EXPECT_THAT(s.Match("foo.bar")->plain, UnorderedElementsAre(1u, 2u));
  ASSERT_TRUE(s.Insert(">", 3).ok());
  EXPECT_THAT(s.Match("foo.bar")->plain, UnorderedElementsAre(1u, 2u, 3u));
}

TEST(SublistCache, CachedEmptyResultIsInvalidatedByLaterInterest) {
  Sublist s;
  EXPECT_TRUE(s.Match("a.b.c")->empty());
  EXPECT_EQ(s.CacheCount(), 1u);
  ASSERT_TRUE(s.Insert("a.*.c", 9, "q").ok());
  EXPECT_THAT(QueueMembers(*s.Match("a.b.c"), "q"), UnorderedElementsAre(9u));
}

TEST(SublistCache, InsertOfNonMatchingPatternKeepsCachedEntry) {
  Sublist s;
  ASSERT_TRUE(s.Insert("foo.bar", 1).ok());
  auto before = s.Match("foo.bar");
  ASSERT_TRUE(s.Insert("foo.baz", 2).ok());
  ASSERT_TRUE(s.Insert("foo.*.x", 3).ok());
  auto after = s.Match("foo.bar");
  EXPECT_EQ(before.get(), after.get());
  EXPECT_EQ(s.Stats().cache_hits, 1u);
}

TEST(SublistCache, RemoveInvalidatesCachedSubjects) {
  Sublist s;
  ASSERT_TRUE(s.Insert("foo.>", 1).ok());
  ASSERT_TRUE(s.Insert("foo.bar", 2).ok());
  EXPECT_THAT(s.Match("foo.bar")->plain, UnorderedElementsAre(1u, 2u));
  EXPECT_THAT(s.Match("foo.bar.baz")->plain, UnorderedElementsAre(1u));
  ASSERT_TRUE(s.Remove("foo.>", 1));
  EXPECT_THAT(s.Match("foo.bar")->plain, UnorderedElementsAre(2u));
  EXPECT_TRUE(s.Match("foo.bar.baz")->empty());
  ASSERT_TRUE(s.Remove("foo.bar", 2));
  EXPECT_TRUE(s.Match("foo.bar")->empty());
}

TEST(SublistCache, HeldResultIsASnapshotUnaffectedByLaterChanges) {
  Sublist s;
  ASSERT_TRUE(s.Insert("foo", 1).ok());
  auto held = s.Match("foo");
  ASSERT_TRUE(s.Remove("foo", 1));
  ASSERT_TRUE(s.Insert("foo", 2).ok());
  EXPECT_THAT(held->plain, UnorderedElementsAre(1u));
  EXPECT_THAT(s.Match("foo")->plain, UnorderedElementsAre(2u));
}

TEST(SublistCache, StaysWithinCapacity) {
  Sublist s(8);
  ASSERT_TRUE(s.Insert(">", 1).ok());
  for (int i = 0; i < 100; ++i) {
    EXPECT_THAT(s.Match("s." + std::to_string(i))->plain, UnorderedElementsAre(1u));
    EXPECT_LE(s.CacheCount(), 8u);
  }
  EXPECT_GT(s.Stats().cache_evictions, 0u);
}

TEST(SublistCache, ZeroCapacityDisablesCache) {
  Sublist s(0);
  ASSERT_TRUE(s.Insert("foo", 1).ok());
  auto a = s.Match("foo");
  auto b = s.Match("foo");
  EXPECT_NE(a.get(), b.get());
  EXPECT_EQ(s.CacheCount(), 0u);
  EXPECT_EQ(s.Stats().cache_hits, 0u);
}

TEST(SublistCache, MatchUncachedLeavesCacheAlone) {
  Sublist s;
  ASSERT_TRUE(s.Insert("foo.*", 1).ok());
  MatchResult out;
  s.MatchUncached("foo.x", out);
  EXPECT_THAT(out.plain, UnorderedElementsAre(1u));
  EXPECT_EQ(s.CacheCount(), 0u);
  s.MatchUncached("bar", out);
  EXPECT_TRUE(out.empty());
}

TEST(Sublist, HasInterestFollowsInsertAndRemove) {
  Sublist s;
  EXPECT_FALSE(s.HasInterest("_INBOX.abc"));
  ASSERT_TRUE(s.Insert("_INBOX.>", 1).ok());
  EXPECT_TRUE(s.HasInterest("_INBOX.abc"));
  ASSERT_TRUE(s.Remove("_INBOX.>", 1));
  EXPECT_FALSE(s.HasInterest("_INBOX.abc"));
}

// Random operations against a brute-force model: every Match (cached or not) must equal the
// model's answer. A small cache forces evictions; a small universe forces overlap.
TEST(SublistCache, RandomOperationsAgreeWithBruteForceModel) {
  struct Sub {
    std::string pattern;
    SubscriberId id;
    std::string queue;
    bool operator<(const Sub& o) const {
      return std::tie(pattern, id, queue) < std::tie(o.pattern, o.id, o.queue);
    }
  };
  std::mt19937 rng(12345);
  const std::vector<std::string> tokens = {"a", "b", "c"};
  auto random_subject = [&](bool allow_wildcards) {
    int len = 1 + rng() % 3;
    std::string s;
    for (int i = 0; i < len; ++i) {
      if (i) s += ".";
      int r = rng() % (allow_wildcards ? 5 : 3);
      if (r == 3) {
        s += "*";
      } else if (r == 4 && i == len - 1) {
        s += ">";
      } else {
        s += tokens[rng() % tokens.size()];
      }
    }
    return s;
  };
  Sublist s(16);
  std::set<Sub> model;
  for (int step = 0; step < 5000; ++step) {
    int op = rng() % 10;
    if (op < 3) {
      Sub sub{random_subject(true), rng() % 6, ""};
      if (rng() % 3 == 0) sub.queue = (rng() % 2) ? "q1" : "q0";
      bool fresh = model.insert(sub).second;
      EXPECT_EQ(s.Insert(sub.pattern, sub.id, sub.queue).ok(), fresh);
    } else if (op < 5 && !model.empty()) {
      auto it = model.begin();
      std::advance(it, rng() % model.size());
      EXPECT_TRUE(s.Remove(it->pattern, it->id, it->queue));
      model.erase(it);
    } else {
      std::string subject = random_subject(false);
      auto got = s.Match(subject);
      std::multiset<SubscriberId> want_plain;
      std::multiset<std::pair<std::string, SubscriberId>> want_queue;
      for (const Sub& sub : model) {
        if (!SubjectMatches(sub.pattern, subject)) continue;
        if (sub.queue.empty()) {
          want_plain.insert(sub.id);
        } else {
          want_queue.insert({sub.queue, sub.id});
        }
      }
      std::multiset<SubscriberId> got_plain(got->plain.begin(), got->plain.end());
      std::multiset<std::pair<std::string, SubscriberId>> got_queue;
      std::set<std::string> names;
      for (const auto& q : got->queues) {
        EXPECT_TRUE(names.insert(q.name).second) << "queue group listed twice: " << q.name;
        EXPECT_FALSE(q.members.empty());
        for (auto id : q.members) got_queue.insert({q.name, id});
      }
      ASSERT_EQ(got_plain, want_plain) << "step " << step << " subject " << subject;
      ASSERT_EQ(got_queue, want_queue) << "step " << step << " subject " << subject;
    }
    ASSERT_EQ(s.Count(), model.size());
  }
  EXPECT_GT(s.Stats().cache_hits, 0u);
}

}  // namespace
}  // namespace meridian::subject
