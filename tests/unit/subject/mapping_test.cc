#include "subject/mapping.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

namespace meridian::subject {
namespace {

// Returns the scripted draws in order; fails the test if asked for more.
class ScriptedPercent final : public PercentSource {
 public:
  explicit ScriptedPercent(std::deque<std::uint32_t> draws) : draws_(std::move(draws)) {}
  std::uint32_t NextPercent() override {
    ++calls;
    if (draws_.empty()) {
      ADD_FAILURE() << "unexpected draw";
      return 0;
    }
    std::uint32_t d = draws_.front();
    draws_.pop_front();
    return d;
  }
  int calls = 0;

 private:
  std::deque<std::uint32_t> draws_;
};

SubjectMapping MustCreate(std::string_view src, std::vector<MappingDestination> dests,
                          TransformRules rules = TransformRules::V210()) {
  auto m = SubjectMapping::Create(src, dests, rules);
  EXPECT_TRUE(m.ok()) << m.message();
  return std::move(m).value();
}

std::string MapOnce(const SubjectMapping& m, std::string_view subject, std::string_view cluster,
                    std::uint32_t draw) {
  ScriptedPercent r({draw});
  std::string out;
  switch (m.Map(subject, cluster, r, out)) {
    case MapOutcome::kNoMatch:
      return "<no match>";
    case MapOutcome::kDropped:
      return "<dropped>";
    case MapOutcome::kMapped:
      return out;
  }
  return "";
}

TEST(Mapping, SingleFullWeightDestinationNeedsNoDraw) {
  auto m = SubjectMapping::Create("foo.>", "foo.west.>");
  ASSERT_TRUE(m.ok());
  ScriptedPercent r({});
  std::string out;
  EXPECT_EQ(m->Map("foo.a", "", r, out), MapOutcome::kMapped);
  EXPECT_EQ(out, "foo.west.a");
  EXPECT_EQ(r.calls, 0);
}

TEST(Mapping, SubjectsOutsideTheSourceAreNotMatched) {
  auto m = MustCreate("foo.*", {{"bar.$1", 100, ""}});
  EXPECT_EQ(MapOnce(m, "baz.x", "", 0), "<no match>");
  EXPECT_EQ(MapOnce(m, "foo.x.y", "", 0), "<no match>");
}

TEST(Mapping, WeightedSelectionUsesCumulativeThresholdsSortedByWeight) {
  // Sorted ascending: b(20) covers 0..19, a(30) covers 20..49, c(50) covers 50..99.
  auto m = MustCreate("foo", {{"a", 30, ""}, {"b", 20, ""}, {"c", 50, ""}});
  EXPECT_EQ(MapOnce(m, "foo", "", 0), "b");
  EXPECT_EQ(MapOnce(m, "foo", "", 19), "b");
  EXPECT_EQ(MapOnce(m, "foo", "", 20), "a");
  EXPECT_EQ(MapOnce(m, "foo", "", 49), "a");
  EXPECT_EQ(MapOnce(m, "foo", "", 50), "c");
  EXPECT_EQ(MapOnce(m, "foo", "", 99), "c");
}

TEST(Mapping, RemainderBelowHundredLeavesSubjectUnchanged) {
  // 40% to v2; the other 60% keep the original subject (the source with $n for wildcards).
  auto m = MustCreate("svc.*", {{"svc.v2.$1", 40, ""}});
  auto choices = m.ChoicesFor("");
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[0].weight, 40u);
  EXPECT_EQ(choices[1].weight, 60u);
  EXPECT_EQ(choices[1].threshold, 100u);
  EXPECT_EQ(MapOnce(m, "svc.ping", "", 39), "svc.v2.ping");
  EXPECT_EQ(MapOnce(m, "svc.ping", "", 40), "svc.ping");
  EXPECT_EQ(MapOnce(m, "svc.ping", "", 99), "svc.ping");
}

TEST(Mapping, ListingTheSourceItselfMeansTheRemainderIsDropped) {
  auto m = MustCreate("foo", {{"foo", 30, ""}, {"bar", 30, ""}});
  EXPECT_EQ(MapOnce(m, "foo", "", 10), "foo");
  EXPECT_EQ(MapOnce(m, "foo", "", 30), "bar");
  EXPECT_EQ(MapOnce(m, "foo", "", 60), "<dropped>");
  EXPECT_EQ(MapOnce(m, "foo", "", 99), "<dropped>");
}

TEST(Mapping, ZeroWeightDestinationIsNeverChosen) {
  auto m = MustCreate("foo", {{"never", 0, ""}, {"always", 100, ""}});
  for (std::uint32_t d : {0u, 50u, 99u}) EXPECT_EQ(MapOnce(m, "foo", "", d), "always");
}

TEST(Mapping, ClusterScopedSetIsChosenByLocalClusterName) {
  auto m = MustCreate(
      "orders.>",
      {{"orders.west.>", 100, "west"}, {"orders.east.>", 100, "east"}, {"orders.any.>", 100, ""}});
  EXPECT_EQ(MapOnce(m, "orders.new", "west", 0), "orders.west.new");
  EXPECT_EQ(MapOnce(m, "orders.new", "east", 0), "orders.east.new");
  EXPECT_EQ(MapOnce(m, "orders.new", "central", 0), "orders.any.new");
  EXPECT_EQ(MapOnce(m, "orders.new", "", 0), "orders.any.new");
}

TEST(Mapping, ClusterWithoutOwnSetAndNoFallbackKeepsSubject) {
  auto m = MustCreate("foo.>", {{"foo.west.>", 100, "west"}});
  EXPECT_EQ(MapOnce(m, "foo.a", "west", 0), "foo.west.a");
  EXPECT_EQ(MapOnce(m, "foo.a", "east", 0), "foo.a");
}

TEST(Mapping, ClusterSetsAreWeightedIndependently) {
  auto m = MustCreate("foo", {{"w1", 50, "west"}, {"w2", 50, "west"}, {"e1", 10, "east"}});
  EXPECT_EQ(MapOnce(m, "foo", "west", 49), "w1");
  EXPECT_EQ(MapOnce(m, "foo", "west", 50), "w2");
  EXPECT_EQ(MapOnce(m, "foo", "east", 9), "e1");
  EXPECT_EQ(MapOnce(m, "foo", "east", 10), "foo");
}

TEST(Mapping, EmptyDestinationListMapsToItself) {
  auto m = MustCreate("foo.*.bar", {});
  EXPECT_EQ(MapOnce(m, "foo.x.bar", "", 0), "foo.x.bar");
}

TEST(Mapping, RefusesDuplicateDestinationEvenAcrossClusters) {
  std::vector<MappingDestination> d = {{"bar", 50, "west"}, {"bar", 50, "east"}};
  auto m = SubjectMapping::Create("foo", d);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.message(),
            "mapping for \"foo\": destination \"bar\" is listed more than once; list each "
            "destination once, clusters included");
}

TEST(Mapping, RefusesWeightOutsideZeroToHundred) {
  std::vector<MappingDestination> d = {{"bar", 101, ""}};
  EXPECT_EQ(SubjectMapping::Create("foo", d).message(),
            "mapping for \"foo\": destination \"bar\" has weight 101; a weight is a percentage "
            "from 0 to 100");
  d = {{"bar", -1, ""}};
  EXPECT_FALSE(SubjectMapping::Create("foo", d).ok());
}

TEST(Mapping, RefusesWeightsAddingUpPastHundredPerCluster) {
  std::vector<MappingDestination> d = {{"a", 60, "west"}, {"b", 50, "west"}};
  EXPECT_EQ(SubjectMapping::Create("foo", d).message(),
            "mapping for \"foo\": the weights of cluster \"west\" add up to 110; they may add up "
            "to at most 100");
  d = {{"a", 60, ""}, {"b", 50, ""}};
  EXPECT_EQ(SubjectMapping::Create("foo", d).message(),
            "mapping for \"foo\": the weights of the destinations without a cluster add up to "
            "110; they may add up to at most 100");
  // Different clusters each get their own 100.
  d = {{"a", 60, "west"}, {"b", 60, "east"}, {"c", 60, ""}};
  EXPECT_TRUE(SubjectMapping::Create("foo", d).ok());
}

TEST(Mapping, RefusesInvalidSourceAndDestinations) {
  EXPECT_NE(SubjectMapping::Create("foo..", "bar").message().find("the source is not valid"),
            std::string::npos);
  EXPECT_EQ(SubjectMapping::Create("foo.*", "bar.$2").message(),
            "mapping for \"foo.*\": destination token \"$2\" refers to wildcard 2, but source "
            "\"foo.*\" has 1 \"*\" wildcard; use an index from 1 to 1");
}

TEST(Mapping, V29RulesRefuseDroppedWildcardWhile210Allows) {
  EXPECT_TRUE(SubjectMapping::Create("foo.*.>", "foo.>").ok());
  EXPECT_FALSE(SubjectMapping::Create("foo.*.>", "foo.>", TransformRules::V29()).ok());
  EXPECT_TRUE(SubjectMapping::Create("foo.>", "foo.west.>", TransformRules::V29()).ok());
}

TEST(Mapping, FastPercentSourceStaysInRangeAndCoversIt) {
  FastPercentSource r(42);
  std::vector<int> hits(100, 0);
  for (int i = 0; i < 100000; ++i) {
    std::uint32_t p = r.NextPercent();
    ASSERT_LT(p, 100u);
    ++hits[p];
  }
  for (int h : hits) {
    EXPECT_GT(h, 700);
    EXPECT_LT(h, 1300);
  }
}

TEST(Mapping, WeightedShareIsRoughlyHonouredWithRealRandomness) {
  auto m = MustCreate("foo", {{"a", 25, ""}, {"b", 75, ""}});
  FastPercentSource r(7);
  std::map<std::string, int> counts;
  std::string out;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_EQ(m.Map("foo", "", r, out), MapOutcome::kMapped);
    ++counts[out];
  }
  EXPECT_NEAR(counts["a"], 5000, 500);
  EXPECT_NEAR(counts["b"], 15000, 500);
}

TEST(Mappings, FirstMatchingSourceWinsAndSameSourceReplaces) {
  SubjectMappings ms;
  ms.Add(MustCreate("foo.bar", {{"literal", 100, ""}}));
  ms.Add(MustCreate("foo.*", {{"wild.$1", 100, ""}}));
  ScriptedPercent r({});
  std::string out;
  EXPECT_EQ(ms.Map("foo.bar", "", r, out), MapOutcome::kMapped);
  EXPECT_EQ(out, "literal");
  EXPECT_EQ(ms.Map("foo.baz", "", r, out), MapOutcome::kMapped);
  EXPECT_EQ(out, "wild.baz");
  EXPECT_EQ(ms.Map("other", "", r, out), MapOutcome::kNoMatch);

  ms.Add(MustCreate("foo.bar", {{"replaced", 100, ""}}));
  EXPECT_EQ(ms.size(), 2u);
  EXPECT_EQ(ms.Map("foo.bar", "", r, out), MapOutcome::kMapped);
  EXPECT_EQ(out, "replaced");

  EXPECT_TRUE(ms.Remove("foo.bar"));
  EXPECT_FALSE(ms.Remove("foo.bar"));
  EXPECT_EQ(ms.Map("foo.bar", "", r, out), MapOutcome::kMapped);
  EXPECT_EQ(out, "wild.bar");
  EXPECT_NE(ms.Find("foo.*"), nullptr);
  EXPECT_EQ(ms.Find("nope"), nullptr);
}

}  // namespace
}  // namespace meridian::subject
