// `meridian topology ...` without servers: file errors, export output, flags.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli.h"

namespace meridian::cli {
namespace {

using ::testing::HasSubstr;

struct Ran {
  int code;
  std::string out, err;
};

Ran Meridian(std::vector<std::string> argv) {
  std::ostringstream out, err;
  int code = RunCli(argv, out, err);
  return {code, out.str(), err.str()};
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / ("meridian-topology-test-" + name);
  std::ofstream(p) << text;
  return p.string();
}

TEST(TopologyCommands, ABadFileExitsOneWithFileLineSentences) {
  auto f = WriteTemp("bad.toml",
                     "[regions.west]\nservers = []\n[streams.foo]\nsubjects = [\"foo.>\"]\n");
  Ran r = Meridian({"topology", "plan", "--file", f});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(":2:11: regions.west.servers: region \"west\" lists no servers"));
}

TEST(TopologyCommands, AMissingFileSaysWhich) {
  Ran r = Meridian({"topology", "apply", "--file", "/nonexistent/topology.toml", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/topology.toml"));
}

TEST(TopologyCommands, ExportPrintsStreamFilesAndMappingsWithoutServers) {
  auto f = WriteTemp("ok.toml",
                     "[regions.west]\nservers = [\"nats://127.0.0.1:1\"]\n"
                     "[streams.foo]\nsubjects = [\"foo.>\"]\n");
  Ran r = Meridian({"topology", "export", "--file", f});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("# foo-write-west.json"));
  EXPECT_THAT(r.out, HasSubstr("# mappings.cfg"));
  Ran j = Meridian({"topology", "export", "--file", f, "--json"});
  EXPECT_THAT(j.out, HasSubstr("\"foo-read-west\""));
}

TEST(TopologyCommands, UnknownFlagsAreRefused) {
  Ran r = Meridian({"topology", "plan", "--yes-please"});
  EXPECT_EQ(r.code, 2);
}

TEST(TopologyCommands, HelpListsEveryTopologyCommand) {
  Ran r = Meridian({"--help"});
  for (const char* c :
       {"topology plan", "topology apply", "topology status", "topology export", "topology trim"}) {
    EXPECT_THAT(r.out, HasSubstr(c));
  }
}

}  // namespace
}  // namespace meridian::cli
