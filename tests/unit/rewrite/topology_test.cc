#include "rewrite/topology.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixture.h"

namespace meridian::rewrite {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(std::vector<VirtualStream> streams) {
  try {
    Topology t(std::move(streams));
  } catch (const TopologyError& e) {
    return e.what();
  }
  return "";
}

TEST(Topology, NamesWriteAndReadStreamsPerRegion) {
  VirtualStream vs{"foo", {"foo.>"}, {"west"}};
  EXPECT_EQ(vs.WriteStreamName("west"), "foo-write-west");
  EXPECT_EQ(vs.ReadStreamName("west"), "foo-read-west");
}

TEST(Topology, FindsInternalStreamsWithRoleAndRegion) {
  auto t = testing::FooTopology();
  auto read = t->FindInternal("foo-read-central");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->role, InternalRole::kRead);
  EXPECT_EQ(t->streams()[read->stream].regions[read->region], "central");
  auto write = t->FindInternal("orders-write-east");
  ASSERT_TRUE(write);
  EXPECT_EQ(write->role, InternalRole::kWrite);
  EXPECT_FALSE(t->FindInternal("foo"));
  EXPECT_FALSE(t->FindInternal("foo-read-north"));
}

TEST(Topology, MatchesSubjectsUnderARootOnly) {
  auto t = testing::FooTopology();
  EXPECT_NE(t->MatchRoot("foo.test"), nullptr);
  EXPECT_NE(t->MatchRoot("orders.eu.1"), nullptr);
  EXPECT_EQ(t->MatchRoot("foo"), nullptr);
  EXPECT_EQ(t->MatchRoot("foo."), nullptr);
  EXPECT_EQ(t->MatchRoot("foobar.test"), nullptr);
  EXPECT_EQ(t->MatchRoot("orders.us.1"), nullptr);
  EXPECT_EQ(t->MatchRoot(""), nullptr);
}

TEST(Topology, RefusesRootWithoutTrailingWildcard) {
  EXPECT_THAT(ErrorOf({{"foo", {"foo.bar"}, {"west"}}}),
              HasSubstr("must be literal tokens followed by \".>\""));
}

TEST(Topology, RefusesOverlappingRoots) {
  EXPECT_THAT(ErrorOf({{"foo", {"foo.>"}, {"west"}}, {"bar", {"foo.bar.>"}, {"west"}}}),
              HasSubstr("overlaps"));
}

TEST(Topology, RefusesDuplicateRegion) {
  EXPECT_THAT(ErrorOf({{"foo", {"foo.>"}, {"west", "west"}}}), HasSubstr("twice"));
}

TEST(Topology, RefusesStreamWithoutRegions) {
  EXPECT_THAT(ErrorOf({{"foo", {"foo.>"}, {}}}), HasSubstr("lists no regions"));
}

TEST(Topology, RefusesInvalidStreamName) {
  EXPECT_THAT(ErrorOf({{"foo.bar", {"foo.>"}, {"west"}}}), HasSubstr("not a valid stream name"));
}

TEST(Topology, RefusesVirtualNameThatIsAnotherStreamsInternalName) {
  EXPECT_THAT(ErrorOf({{"foo", {"foo.>"}, {"west"}}, {"foo-read-west", {"bar.>"}, {"west"}}}),
              HasSubstr("internal stream"));
}

TEST(Topology, RewriterRefusesRegionTheStreamDoesNotList) {
  EXPECT_THROW(Rewriter(testing::FooTopology(), "north"), TopologyError);
}

}  // namespace
}  // namespace meridian::rewrite
