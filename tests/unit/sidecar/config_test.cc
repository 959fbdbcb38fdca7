#include "sidecar/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/reader.h"
#include "sidecar/topology_file.h"

namespace meridian::sidecar {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(std::string_view text) {
  try {
    ParseSidecarConfig(text, "sidecar.toml", "/etc/meridian");
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

constexpr std::string_view kMinimal = R"(topology = "topology.toml"
[upstream]
servers = ["nats://10.0.0.1:4222", "nats://10.0.0.2"]
)";

TEST(SidecarConfig, TheExampleInConfLoadsWithItsTopology) {
  SidecarConfig c = LoadSidecarConfig(std::string(MERIDIAN_CONF_DIR) + "/sidecar.toml");
  EXPECT_EQ(c.region, "west");
  EXPECT_EQ(c.listen.at(0).port, 4222);
  ASSERT_TRUE(c.monitoring);
  TopologyFile t = LoadTopologyFile(c.topology_file);
  EXPECT_NE(t.FindRegion("west"), nullptr);
  ASSERT_TRUE(t.topology);
  EXPECT_TRUE(t.topology->FindStream("foo"));
}

TEST(SidecarConfig, DefaultsToLoopback4222AndResolvesTheTopologyNextToTheFile) {
  SidecarConfig c = ParseSidecarConfig(kMinimal, "sidecar.toml", "/etc/meridian");
  ASSERT_EQ(c.listen.size(), 1u);
  EXPECT_EQ(c.listen[0].host, "127.0.0.1");
  EXPECT_EQ(c.listen[0].port, 4222);
  EXPECT_EQ(c.topology_file, "/etc/meridian/topology.toml");
  EXPECT_EQ(c.upstream_servers.size(), 2u);
  EXPECT_EQ(c.upstream_servers[1].address.port, 4222);
  EXPECT_TRUE(c.region.empty());
  EXPECT_TRUE(c.credentials.empty());
  EXPECT_FALSE(c.monitoring);
}

TEST(SidecarConfig, ReadsCredentialsTlsAndLimits) {
  SidecarConfig c = ParseSidecarConfig(std::string(kMinimal) + R"(user = "svc"
password = "pw"
[upstream.tls]
ca_file = "ca.pem"
[limits]
request_timeout = "3s"
pending_requests = 64
max_pending = "8MiB"
high_watermark = "256KiB"
)",
                                       "sidecar.toml", "/etc/meridian");
  EXPECT_EQ(c.credentials.user, "svc");
  EXPECT_TRUE(c.upstream_tls.enabled);
  EXPECT_EQ(c.upstream_tls.ca_file, "/etc/meridian/ca.pem");
  EXPECT_EQ(c.request_timeout, std::chrono::seconds(3));
  EXPECT_EQ(c.pending_requests, 64u);
  EXPECT_EQ(c.max_pending, 8u << 20);
  EXPECT_EQ(c.high_watermark, 256u << 10);
}

TEST(SidecarConfig, NamesFileLineAndKeyOfAnUnknownKey) {
  EXPECT_THAT(ErrorOf(std::string(kMinimal) + "sevrers = 1\n"),
              HasSubstr("sidecar.toml:4:1: upstream.sevrers"));
}

TEST(SidecarConfig, RequiresUpstreamServers) {
  EXPECT_THAT(ErrorOf("topology = \"t.toml\"\n[upstream]\n"), HasSubstr("upstream.servers"));
}

TEST(SidecarConfig, RefusesAServerThatIsNotAUrl) {
  EXPECT_THAT(ErrorOf("topology = \"t\"\n[upstream]\nservers = [\"nats//x\"]\n"),
              HasSubstr("sidecar.toml:3:"));
}

TEST(SidecarConfig, RefusesARegionThatIsNotASubjectToken) {
  EXPECT_THAT(ErrorOf(std::string("region = \"us.west\"\n") + std::string(kMinimal)),
              HasSubstr("sidecar.toml:1:10: region: region \"us.west\" is not a valid subject"));
}

TEST(SidecarConfig, RefusesUserTogetherWithToken) {
  EXPECT_THAT(ErrorOf(std::string(kMinimal) + "user = \"a\"\ntoken = \"t\"\n"),
              HasSubstr("upstream.token"));
}

TEST(SidecarConfig, RefusesAWatermarkAboveMaxPending) {
  EXPECT_THAT(ErrorOf(std::string(kMinimal) +
                      "[limits]\nmax_pending = \"1MiB\"\nhigh_watermark = \"2MiB\"\n"),
              HasSubstr("limits.high_watermark"));
}

}  // namespace
}  // namespace meridian::sidecar
