#include "rewrite/split_registry.h"

#include <gtest/gtest.h>

namespace meridian::rewrite {
namespace {

using namespace std::chrono_literals;
using TimePoint = SplitRegistry::TimePoint;

const TimePoint kT0 = TimePoint{} + 1000s;

TEST(SplitRegistryTest, OneRefreshAtATimeAndAtMostOnePerInterval) {
  SplitRegistry r;
  EXPECT_EQ(r.NeededFor(kT0), 1u);
  const std::uint64_t first = r.TryStartRefresh(kT0);
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(r.TryStartRefresh(kT0 + 1s), 0u);  // in flight
  EXPECT_EQ(r.NeededFor(kT0 + 1s), 1u);        // a miss now waits for the one in flight
  r.FinishRefresh(first);
  EXPECT_EQ(r.completed(), 1u);
  EXPECT_EQ(r.NeededFor(kT0 + 2s), 2u);
  EXPECT_EQ(r.TryStartRefresh(kT0 + 9s), 0u);  // 10 s after the last one started
  EXPECT_EQ(r.TryStartRefresh(kT0 + 10s), 2u);
}

TEST(SplitRegistryTest, AnAbandonedOrTimedOutRefreshDoesNotHoldTheNextBack) {
  SplitRegistry r;
  const std::uint64_t first = r.TryStartRefresh(kT0);
  r.AbandonRefresh(first);
  const std::uint64_t second = r.TryStartRefresh(kT0 + 1s);
  EXPECT_EQ(second, 2u);
  EXPECT_FALSE(r.refresh_in_flight(kT0 + 16s));  // refresh_timeout 15 s
  EXPECT_EQ(r.TryStartRefresh(kT0 + 16s), 3u);
  r.FinishRefresh(second);  // late: ignored
  EXPECT_EQ(r.completed(), 0u);
  EXPECT_EQ(r.stats().refreshes_abandoned, 2u);
}

TEST(SplitRegistryTest, ARefusedRefreshHoldsTheNextBackForTheIntervalWithoutCompleting) {
  SplitRegistry r;
  const std::uint64_t first = r.TryStartRefresh(kT0);
  r.RefuseRefresh(first);
  EXPECT_FALSE(r.refresh_in_flight(kT0 + 1s));
  EXPECT_EQ(r.completed(), 0u);                // misses waiting for it keep waiting
  EXPECT_EQ(r.NeededFor(kT0 + 1s), 2u);
  EXPECT_EQ(r.TryStartRefresh(kT0 + 9s), 0u);  // another user's connection: after 10 s
  EXPECT_EQ(r.TryStartRefresh(kT0 + 10s), 2u);
  r.RefuseRefresh(first);  // late: ignored
  EXPECT_TRUE(r.refresh_in_flight(kT0 + 11s));
  EXPECT_EQ(r.stats().refreshes_refused, 1u);
  EXPECT_EQ(r.stats().refreshes_abandoned, 0u);
}

TEST(SplitRegistryTest, RefusedListsAreAllCountedAndReportedAtMostOncePerInterval) {
  SplitRegistryOptions o;
  o.refusal_report_interval = 60s;
  SplitRegistry r(o);
  std::uint64_t unreported = 99;
  EXPECT_TRUE(r.NoteListRefused(kT0, &unreported));
  EXPECT_EQ(unreported, 0u);
  EXPECT_FALSE(r.NoteListRefused(kT0 + 1s, &unreported));
  EXPECT_FALSE(r.NoteListRefused(kT0 + 59s, &unreported));
  EXPECT_TRUE(r.NoteListRefused(kT0 + 60s, &unreported));
  EXPECT_EQ(unreported, 2u);  // the two between the reports
  EXPECT_FALSE(r.NoteListRefused(kT0 + 61s, &unreported));
  EXPECT_EQ(r.stats().list_refused, 5u);
}

TEST(SplitRegistryTest, ARefreshDropsWhatItNoLongerListsButKeepsCreatesMadeMeanwhile) {
  SplitRegistry r;
  r.Add("_INBOX.old", 0, "Old");
  r.Add("_INBOX.kept", 0, "Kept");
  r.Add("_INBOX.other", 1, "OtherStream");
  const std::uint64_t serial = r.TryStartRefresh(kT0);
  r.Add("_INBOX.new", 0, "New");  // created while the listing was on its way
  r.ReplaceStream(serial, 0, {{"_INBOX.kept", "Kept"}, {"_INBOX.found", "Found"}});
  r.FinishRefresh(serial);
  EXPECT_TRUE(r.Find("_INBOX.old").empty());
  EXPECT_EQ(r.Find("_INBOX.kept").size(), 1u);
  EXPECT_EQ(r.Find("_INBOX.found").size(), 1u);
  EXPECT_EQ(r.Find("_INBOX.new").size(), 1u);
  EXPECT_EQ(r.Find("_INBOX.other").size(), 1u);  // stream 1 was not listed
  EXPECT_EQ(r.size(), 4u);
  // The next refresh that does not list "New" drops it.
  const std::uint64_t next = r.TryStartRefresh(kT0 + 10s);
  r.ReplaceStream(next, 0, {{"_INBOX.kept", "Kept"}});
  EXPECT_TRUE(r.Find("_INBOX.new").empty());
}

TEST(SplitRegistryTest, SeveralConsumersPerSubjectAndRemoval) {
  SplitRegistry r;
  r.Add("_INBOX.s", 0, "A");
  r.Add("_INBOX.s", 0, "B");
  r.Add("_INBOX.s", 0, "A");
  ASSERT_EQ(r.Find("_INBOX.s").size(), 2u);
  r.RemoveTarget("_INBOX.s", 0, "A");
  ASSERT_EQ(r.Find("_INBOX.s").size(), 1u);
  EXPECT_EQ(r.Find("_INBOX.s")[0].name, "B");
  r.Add("_INBOX.t", 0, "B");
  r.Remove(0, "B");
  EXPECT_EQ(r.size(), 0u);
}

TEST(SplitRegistryTest, IsBounded) {
  SplitRegistryOptions o;
  o.max_entries = 4;
  o.max_per_subject = 2;
  SplitRegistry r(o);
  for (int i = 0; i < 10; ++i) r.Add("_INBOX." + std::to_string(i), 0, "C" + std::to_string(i));
  EXPECT_EQ(r.size(), 4u);
  for (int i = 0; i < 5; ++i) r.Add("_INBOX.same", 0, "D" + std::to_string(i));
  auto same = r.Find("_INBOX.same");
  EXPECT_LE(same.size(), 2u);
  ASSERT_FALSE(same.empty());
  EXPECT_EQ(same.back().name, "D4");  // the newest is kept
  EXPECT_EQ(r.size(), 4u);
}

}  // namespace
}  // namespace meridian::rewrite
