#include "topology/file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/reader.h"

namespace meridian::topology {
namespace {

using ::testing::ElementsAre;
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

TEST(TopologyFile, LoadsTheExampleInConf) {
  Topology t = LoadTopologyFile(std::string(MERIDIAN_CONF_DIR) + "/topology.toml");
  ASSERT_EQ(t.regions.size(), 3u);
  EXPECT_EQ(t.regions[0].name, "west");
  EXPECT_EQ(t.regions[0].stretch_cluster, "xr");
  ASSERT_NE(t.FindStream("foo"), nullptr);
  EXPECT_EQ(t.FindStream("foo")->mode, Mode::kEventual);
  EXPECT_EQ(t.FindStream("accounts")->mode, Mode::kImmediate);
  EXPECT_EQ(t.StretchClusterOf(*t.FindStream("accounts")), "xr");
  EXPECT_EQ(t.trim_interval, std::chrono::seconds(30));
}

TEST(TopologyFile, GivesDefaultsForEveryOptionalKey) {
  Topology t = ParseTopologyFile(std::string(kRegions) + "[streams.foo]\nsubjects = [\"foo.>\"]\n",
                                 "topology.toml");
  const VirtualStream& vs = t.streams.at(0);
  EXPECT_THAT(vs.regions, ElementsAre("west", "east"));
  EXPECT_EQ(vs.mode, Mode::kEventual);
  EXPECT_EQ(vs.replicas, 3);
  EXPECT_EQ(vs.storage, Storage::kFile);
  EXPECT_EQ(vs.write_max_age.count(), 0);
  EXPECT_EQ(vs.read.max_bytes, -1);
  EXPECT_TRUE(vs.keep_origin_token);
  EXPECT_EQ(t.regions[0].cluster, "west");
  EXPECT_EQ(t.regions[0].stretch_cluster, "");
}

TEST(TopologyFile, ReadsCredentialsTlsAndClusterNames) {
  Topology t = ParseTopologyFile(R"([regions.west]
servers = ["nats://app:pw@127.0.0.1:4222", "tls://127.0.0.1:4223"]
cluster = "w1"
stretch_cluster = "xr"
tls_ca = "ca.pem"
tls_cert = "c.pem"
tls_key = "k.pem"
[streams.foo]
subjects = ["foo.>"]
write_max_age = "1h"
read_max_bytes = "1GiB"
storage = "memory"
replicas = 1
)",
                                 "topology.toml");
  const Region& r = t.regions.at(0);
  EXPECT_THAT(r.servers, ElementsAre("nats://127.0.0.1:4222", "tls://127.0.0.1:4223"));
  EXPECT_EQ(r.user, "app");
  EXPECT_EQ(r.password, "pw");
  EXPECT_EQ(r.cluster, "w1");
  EXPECT_EQ(r.tls_ca, "ca.pem");
  const VirtualStream& vs = t.streams.at(0);
  EXPECT_EQ(vs.write_max_age, std::chrono::hours(1));
  EXPECT_EQ(vs.read.max_bytes, 1LL << 30);
  EXPECT_EQ(vs.storage, Storage::kMemory);
}

TEST(TopologyFile, RefusesUnknownKeysWithFileAndLine) {
  EXPECT_THAT(
      ErrorOf(std::string(kRegions) + "[streams.foo]\nsubjects = [\"foo.>\"]\nrepilcas = 3\n"),
      HasSubstr("topology.toml:7:1: streams.foo.repilcas"));
}

TEST(TopologyFile, RefusesARegionWithoutServers) {
  EXPECT_THAT(
      ErrorOf("[regions.west]\nservers = []\n[streams.foo]\nsubjects = [\"foo.>\"]\n"),
      HasSubstr("topology.toml:2:11: regions.west.servers: region \"west\" lists no servers"));
}

TEST(TopologyFile, RefusesARegionNameThatIsNotASubjectToken) {
  EXPECT_THAT(ErrorOf("[regions.\"we.st\"]\nservers = [\"nats://a:1\"]\n[streams.foo]\nsubjects = "
                      "[\"foo.>\"]\n"),
              HasSubstr("is not a valid subject token"));
}

TEST(TopologyFile, RefusesOverlappingStreamSubjects) {
  EXPECT_THAT(ErrorOf(std::string(kRegions) +
                      "[streams.foo]\nsubjects = [\"foo.>\"]\n[streams.bar]\nsubjects = "
                      "[\"foo.bar.>\"]\n"),
              HasSubstr("topology.toml:8:12: streams.bar.subjects: subject \"foo.bar.>\" of stream "
                        "\"bar\" overlaps \"foo.>\" of stream \"foo\""));
}

TEST(TopologyFile, RefusesAnOrderedStreamWithoutAStretchCluster) {
  EXPECT_THAT(ErrorOf(std::string(kRegions) +
                      "[streams.foo]\nsubjects = [\"foo.>\"]\nmode = \"ordered\"\n"),
              HasSubstr("topology.toml:7:8: streams.foo.mode: mode \"ordered\" of stream \"foo\" "
                        "needs a stretch cluster"));
}

TEST(TopologyFile, RefusesAnUnknownMode) {
  EXPECT_THAT(
      ErrorOf(std::string(kRegions) + "[streams.foo]\nsubjects = [\"foo.>\"]\nmode = \"strong\"\n"),
      HasSubstr("mode \"strong\" is not one of"));
}

TEST(TopologyFile, RefusesReplicasBeyondFive) {
  EXPECT_THAT(
      ErrorOf(std::string(kRegions) + "[streams.foo]\nsubjects = [\"foo.>\"]\nreplicas = 7\n"),
      HasSubstr("streams.foo.replicas: replicas must be 1 to 5"));
}

TEST(TopologyFile, RefusesAUserTogetherWithAToken) {
  EXPECT_THAT(ErrorOf("[regions.west]\nservers = [\"nats://a:1\"]\nuser = \"u\"\ntoken = \"t\"\n"
                      "[streams.foo]\nsubjects = [\"foo.>\"]\n"),
              HasSubstr("gives both a user and a token"));
}

TEST(TopologyFile, RefusesStrippingTokensOutsideEventualMode) {
  EXPECT_THAT(ErrorOf("[regions.west]\nservers = [\"nats://a:1\"]\nstretch_cluster = \"xr\"\n"
                      "[streams.foo]\nsubjects = [\"foo.>\"]\nmode = \"immediate\"\n"
                      "keep_origin_token = false\n"),
              HasSubstr("keep_origin_token = false applies to mode \"eventual\" only"));
}

TEST(TopologyFile, RefusesRealStreamNamesThatCollide) {
  // foo's write stream in region "x" is "foo-write-x", also an immediate stream's own name.
  EXPECT_THAT(ErrorOf("[regions.x]\nservers = [\"nats://a:1\"]\nstretch_cluster = \"xr\"\n"
                      "[streams.foo]\nsubjects = [\"foo.>\"]\n"
                      "[streams.foo-write-x]\nsubjects = [\"bar.>\"]\nmode = \"immediate\"\n"),
              HasSubstr("another stream of this file also needs"));
}

TEST(TopologyFile, SidecarViewHoldsOnlyEventualStreams) {
  Topology t = ParseTopologyFile(R"([regions.west]
servers = ["nats://127.0.0.1:4222"]
stretch_cluster = "xr"
[streams.foo]
subjects = ["foo.>"]
[streams.acc]
subjects = ["acc.>"]
mode = "immediate"
)",
                                 "topology.toml");
  auto view = SidecarView(t);
  ASSERT_EQ(view->streams().size(), 1u);
  EXPECT_EQ(view->streams()[0].name, "foo");
}

}  // namespace
}  // namespace meridian::topology
