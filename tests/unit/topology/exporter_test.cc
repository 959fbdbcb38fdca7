#include "topology/exporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "topology/file.h"

namespace meridian::topology {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// The seeds' layout for foo: east, central, west; R3; one hour on the write streams.
Topology Seed() {
  return ParseTopologyFile(R"([regions.east]
servers = ["nats://127.0.0.1:1"]
[regions.central]
servers = ["nats://127.0.0.1:2"]
[regions.west]
servers = ["nats://127.0.0.1:3"]
[streams.foo]
subjects = ["foo.>"]
write_max_age = "1h"
keep_origin_token = false
)",
                           "topology.toml");
}

std::string FileText(const std::vector<ExportFile>& files, const std::string& name) {
  for (const ExportFile& f : files) {
    if (f.name == name) return f.text;
  }
  return "";
}

// foo-write-west.json and foo-read-west.json as the seed prints them.
const char kSeedWriteWest[] = R"({
"name": "foo-write-west", "subjects": ["foo.west.>"], "retention": "limits",
"max_consumers": -1, "max_msgs_per_subject": -1, "max_msgs": -1, "max_bytes": -1,
"max_age": 3600000000000, "max_msg_size": -1, "storage": "file", "discard": "old",
"num_replicas": 3, "duplicate_window": 120000000000, "placement": {"cluster": "west"},
"sealed": false, "deny_delete": false, "deny_purge": false, "allow_rollup_hdrs": false,
"allow_direct": false, "mirror_direct": false})";

const char kSeedReadWest[] = R"({
"name": "foo-read-west", "retention": "limits", "max_consumers": -1,
"max_msgs_per_subject": -1, "max_msgs": -1, "max_bytes": -1, "max_age": 0,
"max_msg_size": -1, "storage": "file", "discard": "old", "num_replicas": 3,
"duplicate_window": 120000000000, "placement": {"cluster": "west"},
"subject_transform": {"src":"foo.*.>", "dest":"foo.>"},
"sources": [{"name": "foo-write-west", "filter_subject": "foo.west.>"},
            {"name": "foo-write-east", "filter_subject": "foo.east.>"},
            {"name": "foo-write-central", "filter_subject": "foo.central.>"}],
"sealed": false, "deny_delete": false, "deny_purge": false, "allow_rollup_hdrs": false,
"allow_direct": false, "mirror_direct": false})";

TEST(Export, ReproducesTheSeedsWriteStream) {
  auto files = ExportServerSide(Seed());
  EXPECT_EQ(json::parse(FileText(files, "foo-write-west.json")), json::parse(kSeedWriteWest));
}

TEST(Export, ReproducesTheSeedsReadStreamButAllowsDirectGet) {
  auto files = ExportServerSide(Seed());
  json want = json::parse(kSeedReadWest);
  want["allow_direct"] = true;  // the corrected mappings route direct gets to it
  EXPECT_EQ(json::parse(FileText(files, "foo-read-west.json")), want);
}

TEST(Export, WritesSixStreamFilesAndTheMappings) {
  auto files = ExportServerSide(Seed());
  ASSERT_EQ(files.size(), 7u);
  EXPECT_EQ(files.back().name, "mappings.cfg");
}

TEST(Export, MappingsKeepEverySeedEntry) {
  const std::string m = MappingsText(Seed());
  EXPECT_THAT(m, HasSubstr(R"("foo.>":[)"));
  EXPECT_THAT(m, HasSubstr(R"({destination:"foo.west.>", weight: 100%, cluster: "west"})"));
  EXPECT_THAT(
      m,
      HasSubstr(
          R"({destination:"$JS.API.STREAM.INFO.foo-read-central", weight: 100%, cluster: "central"})"));
  EXPECT_THAT(
      m,
      HasSubstr(
          R"({destination:"$JS.API.CONSUMER.DURABLE.CREATE.foo-read-east.{{wildcard(1)}}", weight: 100%, cluster: "east"})"));
  EXPECT_THAT(m, HasSubstr(R"("$JS.API.CONSUMER.CREATE.foo.*":[)"));
  EXPECT_THAT(m, HasSubstr(R"("$JS.API.STREAM.MSG.GET.foo":[)"));
  EXPECT_THAT(m, HasSubstr(R"("$JS.API.STREAM.MSG.DELETE.foo":[)"));
  EXPECT_THAT(m, HasSubstr(R"("$JS.API.CONSUMER.MSG.NEXT.foo.*":[)"));
  EXPECT_THAT(
      m, HasSubstr(R"({destination:"$JS.ACK.foo-read-west.>", weight: 100%, cluster: "west"})"));
}

TEST(Export, MappingsCorrectWhatTheSeedMisses) {
  const std::string m = MappingsText(Seed());
  // The direct get subject clients really use (the seed maps $JS.API.STREAM.MSG.DIRECT).
  EXPECT_THAT(
      m, HasSubstr(
             R"({destination:"$JS.API.DIRECT.GET.foo-read-west", weight: 100%, cluster: "west"})"));
  EXPECT_THAT(m, HasSubstr(R"("$JS.API.DIRECT.GET.foo.>":[)"));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("MSG.DIRECT")));
  // Consumer create with a filter subject.
  EXPECT_THAT(
      m,
      HasSubstr(
          R"({destination:"$JS.API.CONSUMER.CREATE.foo-read-west.{{wildcard(1)}}.>", weight: 100%, cluster: "west"})"));
  // Acks in the long form with domain and account hash.
  EXPECT_THAT(
      m,
      HasSubstr(
          R"({destination:"$JS.ACK.{{wildcard(1)}}.{{wildcard(2)}}.foo-read-west.>", weight: 100%, cluster: "west"})"));
}

TEST(Export, MappingsAreValidConfigSyntax) {
  const std::string m = MappingsText(Seed());
  EXPECT_EQ(m.rfind("mappings = {\n", 0), 0u);
  EXPECT_EQ(m.substr(m.size() - 6), "  ]\n}\n");
  EXPECT_THAT(m, ::testing::Not(HasSubstr(",\n}")));
}

}  // namespace
}  // namespace meridian::topology
