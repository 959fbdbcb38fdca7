#include "sidecar/topology_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/reader.h"

namespace meridian::sidecar {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(std::string_view text) {
  try {
    ParseTopologyFile(text, "topology.toml");
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

constexpr std::string_view kRegions = R"([regions.west]
servers = ["nats://127.0.0.1:4222"]
[regions.east]
servers = ["nats://127.0.0.1:5222"]
)";

TEST(TopologyFile, GivesEveryStreamEveryRegionByDefault) {
  TopologyFile t = ParseTopologyFile(std::string(kRegions) + R"([streams.foo]
subjects = ["foo.>"]
mode = "eventual"
)",
                                     "topology.toml");
  ASSERT_EQ(t.regions.size(), 2u);
  EXPECT_EQ(t.regions[0].name, "west");
  const rewrite::VirtualStream& foo = t.topology->streams().at(0);
  EXPECT_EQ(foo.regions, (std::vector<std::string>{"west", "east"}));
  EXPECT_EQ(foo.WriteStreamName("east"), "foo-write-east");
  EXPECT_EQ(foo.ReadStreamName("west"), "foo-read-west");
}

TEST(TopologyFile, KeepsAStreamsOwnRegionList) {
  TopologyFile t = ParseTopologyFile(std::string(kRegions) + R"([streams.foo]
subjects = ["foo.>"]
regions = ["east"]
)",
                                     "topology.toml");
  EXPECT_EQ(t.topology->streams().at(0).regions, std::vector<std::string>{"east"});
}

TEST(TopologyFile, RefusesARegionWithoutServers) {
  EXPECT_THAT(
      ErrorOf("[regions.west]\nservers = []\n[streams.foo]\nsubjects = [\"foo.>\"]\n"),
      HasSubstr("topology.toml:2:11: regions.west.servers: region \"west\" lists no servers"));
}

TEST(TopologyFile, RefusesARegionNameThatIsNotASubjectToken) {
  EXPECT_THAT(
      ErrorOf("[regions.\"us.west\"]\nservers = [\"nats://h:1\"]\n[streams.foo]\nsubjects = "
              "[\"foo.>\"]\n"),
      HasSubstr("is not a valid subject token"));
}

TEST(TopologyFile, RefusesOverlappingStreamSubjects) {
  EXPECT_THAT(ErrorOf(std::string(kRegions) + R"([streams.foo]
subjects = ["foo.>"]
[streams.bar]
subjects = ["foo.bar.>"]
)"),
              HasSubstr("topology.toml:8:12: streams.bar.subjects: subject \"foo.bar.>\" of "
                        "stream \"bar\" overlaps \"foo.>\" of stream \"foo\""));
}

TEST(TopologyFile, RefusesUnknownKeysWithTheirLine) {
  EXPECT_THAT(ErrorOf(std::string(kRegions) + "[streams.foo]\nsubjects = [\"foo.>\"]\nmdoe = 1\n"),
              HasSubstr("topology.toml:7:1: streams.foo.mdoe"));
}

TEST(TopologyFile, RefusesAnOrderedStreamWithoutAStretchCluster) {
  EXPECT_THAT(ErrorOf(std::string(kRegions) +
                      "[streams.foo]\nsubjects = [\"foo.>\"]\nmode = \"ordered\"\n"),
              HasSubstr("streams.foo.mode: mode \"ordered\" of stream \"foo\" needs a stretch "
                        "cluster"));
}

TEST(TopologyFile, RefusesASubjectThatIsNotAPrefixRoot) {
  EXPECT_THAT(ErrorOf(std::string(kRegions) + "[streams.foo]\nsubjects = [\"foo.*\"]\n"),
              HasSubstr("must be a literal prefix followed by \".>\""));
}

TEST(TopologyFile, RefusesAStreamNamingAnUnknownRegion) {
  EXPECT_THAT(ErrorOf(std::string(kRegions) +
                      "[streams.foo]\nsubjects = [\"foo.>\"]\nregions = [\"north\"]\n"),
              HasSubstr("names region \"north\", which has no [regions.north] table"));
}

}  // namespace
}  // namespace meridian::sidecar
