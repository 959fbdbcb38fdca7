// The failover keys of the sidecar config, and the region order RegionFailover derives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/reader.h"
#include "net/loop.h"
#include "sidecar/config.h"
#include "sidecar/region_failover.h"
#include "sidecar/topology_file.h"

namespace meridian::sidecar {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::string_view kBase = R"(topology = "topology.toml"
region = "west"
[upstream]
servers = ["nats://10.0.0.1:4222"]
)";

std::string ErrorOf(std::string text) {
  try {
    ParseSidecarConfig(text, "sidecar.toml", "/etc/meridian");
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

SidecarConfig Parse(std::string text) {
  return ParseSidecarConfig(text, "sidecar.toml", "/etc/meridian");
}

constexpr std::string_view kTopology = R"(
[regions.east]
servers = ["nats://127.0.0.1:1"]
[regions.central]
servers = ["nats://127.0.0.1:2"]
[regions.west]
servers = ["nats://127.0.0.1:3"]
[streams.foo]
subjects = ["foo.>"]
)";

TEST(FailoverConfig, IsOnByDefaultWithAn8MiBBufferAndTwoSecondPings) {
  SidecarConfig c = Parse(std::string(kBase));
  EXPECT_TRUE(c.failover);
  EXPECT_TRUE(c.failover_regions.empty());
  EXPECT_EQ(c.failover_buffer, 8u << 20);
  EXPECT_EQ(c.ping_interval, std::chrono::milliseconds(2000));
  EXPECT_EQ(c.max_pings_out, 2);
}

TEST(FailoverConfig, ReadsEveryFailoverKey) {
  SidecarConfig c = Parse("failover_regions = [\"central\", \"east\"]\n" + std::string(kBase) +
                          "ping_interval = \"500ms\"\nmax_pings_out = 3\n[limits]\n"
                          "failover_buffer = \"1MiB\"\nfailover_give_up = \"20s\"\n");
  EXPECT_THAT(c.failover_regions, ElementsAre("central", "east"));
  EXPECT_EQ(c.ping_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(c.max_pings_out, 3);
  EXPECT_EQ(c.failover_buffer, 1u << 20);
  EXPECT_EQ(c.failover_give_up, std::chrono::seconds(20));
}

TEST(FailoverConfig, RefusesTheOwnRegionAndDuplicatesWithTheirLine) {
  std::string e = ErrorOf("failover_regions = [\"west\"]\n" + std::string(kBase));
  EXPECT_THAT(e, HasSubstr("sidecar.toml:1:"));
  EXPECT_THAT(e, HasSubstr("the sidecar's own region"));
  e = ErrorOf("failover_regions = [\"east\", \"east\"]\n" + std::string(kBase));
  EXPECT_THAT(e, HasSubstr("twice"));
}

TEST(FailoverConfig, RefusesRegionsWhenFailoverIsOff) {
  EXPECT_THAT(ErrorOf("failover = false\nfailover_regions = [\"east\"]\n" + std::string(kBase)),
              HasSubstr("failover = false"));
}

TEST(FailoverConfig, RefusesATinyBuffer) {
  EXPECT_THAT(ErrorOf(std::string(kBase) + "[limits]\nfailover_buffer = 10\n"),
              HasSubstr("failover_buffer must be at least 1KiB"));
}

TEST(FailoverConfig, NamesARegionTheTopologyDoesNotHave) {
  SidecarConfig c = Parse("failover_regions = [\"mars\"]\n" + std::string(kBase));
  auto problems = CheckFailoverRegions(c, {"east", "central", "west"}, "west");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("region \"mars\" is not a region of the topology file"));
}

class RegionOrderTest : public ::testing::Test {
 protected:
  std::vector<std::string> OrderFor(const std::string& config_text) {
    config_ = Parse(config_text);
    topology_ = ParseTopologyFile(kTopology, "topology.toml");
    session::SessionCounters counters;
    RegionFailover f(loop_, config_, topology_, counters, nullptr, net::ConnectOptions{});
    return f.Order("west");
  }
  net::Loop loop_;
  SidecarConfig config_;
  TopologyFile topology_;
};

TEST_F(RegionOrderTest, DefaultsToEveryOtherRegionInTopologyFileOrder) {
  EXPECT_THAT(OrderFor(std::string(kBase)), ElementsAre("east", "central"));
}

TEST_F(RegionOrderTest, FollowsTheConfiguredOrder) {
  EXPECT_THAT(OrderFor("failover_regions = [\"central\", \"east\"]\n" + std::string(kBase)),
              ElementsAre("central", "east"));
}

TEST_F(RegionOrderTest, IsEmptyWhenFailoverIsOff) {
  EXPECT_TRUE(OrderFor("failover = false\n" + std::string(kBase)).empty());
}

}  // namespace
}  // namespace meridian::sidecar
