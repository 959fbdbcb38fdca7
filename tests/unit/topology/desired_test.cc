#include "topology/desired.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "topology/file.h"

namespace meridian::topology {
namespace {

using nlohmann::json;

Topology Three(const std::string& streams) {
  return ParseTopologyFile(R"([regions.east]
servers = ["nats://127.0.0.1:1"]
stretch_cluster = "xr"
[regions.central]
servers = ["nats://127.0.0.1:2"]
stretch_cluster = "xr"
[regions.west]
servers = ["nats://127.0.0.1:3"]
cluster = "west-dc"
stretch_cluster = "xr"
)" + streams,
                           "topology.toml");
}

const DesiredStream& Named(const std::vector<DesiredStream>& all, const std::string& name) {
  for (const DesiredStream& d : all) {
    if (d.name == name) return d;
  }
  throw std::runtime_error("no desired stream " + name);
}

TEST(DesiredState, EventualMakesAWriteAndAReadStreamPerRegion) {
  auto all = DesiredState(Three("[streams.foo]\nsubjects = [\"foo.>\"]\n"), {});
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(all[i].role, Role::kWrite) << i;
  for (size_t i = 3; i < 6; ++i) EXPECT_EQ(all[i].role, Role::kRead) << i;
}

TEST(DesiredState, WriteStreamTakesTheRegionsSubjectsInItsCluster) {
  auto all = DesiredState(Three("[streams.foo]\nsubjects = [\"foo.>\"]\n"), {});
  const DesiredStream& w = Named(all, "foo-write-west");
  EXPECT_EQ(w.region, "west");
  EXPECT_EQ(w.config["subjects"], json({"foo.west.>"}));
  EXPECT_EQ(w.config["placement"], json({{"cluster", "west-dc"}}));
  EXPECT_EQ(w.config["num_replicas"], 3);
  EXPECT_EQ(w.config["max_age"], 0) << "max_age is a last resort, off by default";
  EXPECT_EQ(w.phase, 0);
}

TEST(DesiredState, ReadStreamSourcesEveryWriteStreamWithItsFilterAsTheSidecarExpects) {
  auto all = DesiredState(Three("[streams.foo]\nsubjects = [\"foo.>\"]\n"), {});
  const DesiredStream& r = Named(all, "foo-read-east");
  EXPECT_FALSE(r.config.contains("subjects"));
  EXPECT_EQ(r.config["allow_direct"], true);
  EXPECT_EQ(r.config["placement"], json({{"cluster", "east"}}));
  EXPECT_EQ(r.config["sources"],
            json::parse(R"([{"name":"foo-write-east","filter_subject":"foo.east.>"},
                            {"name":"foo-write-central","filter_subject":"foo.central.>"},
                            {"name":"foo-write-west","filter_subject":"foo.west.>"}])"));
  EXPECT_EQ(r.phase, 2);
}

TEST(DesiredState, StrippingTheOriginTokenUsesSourceTransformsOn210) {
  std::map<std::string, ServerKind> kinds;
  for (const char* r : {"east", "central", "west"})
    kinds[r] = DetectServerKind(R"({"version":"2.10.7"})");
  auto all = DesiredState(
      Three("[streams.foo]\nsubjects = [\"foo.>\"]\nkeep_origin_token = false\n"), kinds);
  const DesiredStream& r = Named(all, "foo-read-west");
  EXPECT_TRUE(r.problem.empty());
  EXPECT_EQ(r.config["sources"][0], json::parse(R"({"name":"foo-write-east",
                            "subject_transforms":[{"src":"foo.east.>","dest":"foo.>"}]})"));
}

TEST(DesiredState, StrippingTheOriginTokenOn29IsAProblemNamingTheRegion) {
  std::map<std::string, ServerKind> kinds;
  kinds["west"] = DetectServerKind(R"({"version":"2.9.10"})");
  auto all = DesiredState(
      Three("[streams.foo]\nsubjects = [\"foo.>\"]\nkeep_origin_token = false\n"), kinds);
  EXPECT_THAT(Named(all, "foo-read-west").problem,
              ::testing::HasSubstr("region \"west\" runs nats-server 2.9.10"));
}

TEST(DesiredState, OrderedAddsAnOrderingStreamInTheStretchClusterAndRegionalMirrors) {
  auto all = DesiredState(Three("[streams.ev]\nsubjects = [\"ev.>\"]\nmode = \"ordered\"\n"), {});
  ASSERT_EQ(all.size(), 7u);
  const DesiredStream& o = Named(all, "ev-order");
  EXPECT_EQ(o.role, Role::kOrder);
  EXPECT_EQ(o.region, "");
  EXPECT_EQ(o.config["placement"], json({{"cluster", "xr"}}));
  EXPECT_EQ(o.config["sources"].size(), 3u);
  EXPECT_EQ(o.phase, 1);
  const DesiredStream& m = Named(all, "ev-read-central");
  EXPECT_EQ(m.role, Role::kMirror);
  EXPECT_EQ(m.config["mirror"], json({{"name", "ev-order"}}));
  EXPECT_EQ(m.config["mirror_direct"], true);
  EXPECT_FALSE(m.config.contains("sources"));
}

TEST(DesiredState, ImmediateMakesOneStretchedStreamAndRegionalMirrors) {
  auto all =
      DesiredState(Three("[streams.acc]\nsubjects = [\"acc.>\"]\nmode = \"immediate\"\n"), {});
  ASSERT_EQ(all.size(), 4u);
  const DesiredStream& s = Named(all, "acc");
  EXPECT_EQ(s.role, Role::kStretched);
  EXPECT_EQ(s.config["subjects"], json({"acc.>"}));
  EXPECT_EQ(s.config["placement"], json({{"cluster", "xr"}}));
  EXPECT_EQ(Named(all, "acc-read-west").config["mirror"], json({{"name", "acc"}}));
}

TEST(DesiredState, ComesOutInApplyPhases) {
  auto all = DesiredState(Three("[streams.ev]\nsubjects = [\"ev.>\"]\nmode = \"ordered\"\n"
                                "[streams.foo]\nsubjects = [\"foo.>\"]\n"),
                          {});
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LE(all[i - 1].phase, all[i].phase);
}

TEST(ServerKind, ReadsTheVersionFromInfo) {
  ServerKind k = DetectServerKind(R"({"server_id":"N","version":"2.9.10","go":"go1.19"})");
  EXPECT_EQ(k.version, "2.9.10");
  EXPECT_FALSE(k.transforms);
  EXPECT_TRUE(DetectServerKind(R"({"version":"2.10.0"})").transforms);
  EXPECT_TRUE(DetectServerKind(R"({"version":"3.0.0"})").transforms);
  EXPECT_FALSE(DetectServerKind("not json").transforms);
}

}  // namespace
}  // namespace meridian::topology
