// The config reader as programs use it: typed getters, and every error naming file, line,
// column and the full dotted key.
#include "config/reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace meridian::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> IssueTexts(const Document& doc) {
  std::vector<std::string> out;
  for (const auto& issue : doc.Check()) out.push_back(issue.ToString());
  return out;
}

constexpr const char* kSidecar = R"(listen = "127.0.0.1:4222"
region = "west"
request_timeout = "2s"
max_payload = "8MiB"

[upstream]
servers = ["nats://a:4222", "tls://b", "nats://c:4223"]
reconnect_wait = "1h30m"
verbose = true
weight = 0.5
max_conns = 64

[[stream]]
name = "foo"
regions = ["east", "west"]

[[stream]]
name = "bar"
)";

TEST(Reader, ReadsEveryKindOfValue) {
  Document doc = Document::FromString(kSidecar, "sidecar.toml");
  Table root = doc.Root();
  EXPECT_EQ(root.Required<HostPort>("listen"), (HostPort{"127.0.0.1", 4222}));
  EXPECT_EQ(root.Required<std::string>("region"), "west");
  EXPECT_EQ(root.Required<std::chrono::nanoseconds>("request_timeout"), 2s);
  EXPECT_EQ(root.Required<ByteSize>("max_payload").bytes, 8u << 20);
  Table upstream = root.RequiredTable("upstream");
  auto servers = upstream.Required<std::vector<NatsUrl>>("servers");
  ASSERT_EQ(servers.size(), 3u);
  EXPECT_EQ(servers[1].scheme, "tls");
  EXPECT_EQ(servers[2].address.port, 4223);
  EXPECT_EQ(upstream.Required<std::chrono::nanoseconds>("reconnect_wait"), 90min);
  EXPECT_TRUE(upstream.Required<bool>("verbose"));
  EXPECT_DOUBLE_EQ(upstream.Required<double>("weight"), 0.5);
  EXPECT_EQ(upstream.Required<uint16_t>("max_conns"), 64);
  auto streams = root.TableArray("stream");
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0].Required<std::string>("name"), "foo");
  EXPECT_THAT(streams[0].Required<std::vector<std::string>>("regions"),
              ElementsAre("east", "west"));
  EXPECT_EQ(streams[1].path(), "stream[1]");
  EXPECT_EQ(streams[1].Required<std::string>("name"), "bar");
  EXPECT_EQ(streams[1].Optional<std::vector<std::string>>("regions", {"all"}),
            std::vector<std::string>{"all"});
  EXPECT_TRUE(doc.Check().empty());
  EXPECT_NO_THROW(doc.Finish());
}

TEST(Reader, OptionalGivesFallbackWhenAbsent) {
  Document doc = Document::FromString("", "empty.toml");
  EXPECT_EQ(doc.Root().Optional<std::chrono::nanoseconds>("timeout", 30s), 30s);
  EXPECT_FALSE(doc.Root().Get<int64_t>("n").has_value());
  EXPECT_FALSE(doc.Root().GetTable("t").has_value());
  EXPECT_TRUE(doc.Root().TableArray("a").empty());
  EXPECT_NO_THROW(doc.Finish());
}

TEST(Reader, BadUrlInArrayNamesFileLineAndIndexedKey) {
  Document doc = Document::FromString(
      "[upstream]\n"
      "servers = [\"nats://a:1\", \"nats://b:2\", \"nats//x\"]\n",
      "sidecar.toml");
  doc.Root().RequiredTable("upstream").Required<std::vector<NatsUrl>>("servers");
  EXPECT_THAT(IssueTexts(doc),
              ElementsAre("sidecar.toml:2:40: upstream.servers[2]: \"nats//x\" is not a URL "
                          "(expected nats://host:port)"));
}

TEST(Reader, MissingRequiredKeyNamesItsTable) {
  Document doc = Document::FromString("a = 1\n\n[upstream]\nverbose = true\n", "s.toml");
  doc.Root().Required<int64_t>("a");
  Table up = doc.Root().RequiredTable("upstream");
  up.Required<bool>("verbose");
  up.Required<std::vector<NatsUrl>>("servers");
  EXPECT_THAT(IssueTexts(doc),
              ElementsAre("s.toml:3:1: upstream.servers: is required but missing"));
}

TEST(Reader, MissingRequiredTableIsReportedOnce) {
  Document doc = Document::FromString("region = \"west\"\n", "s.toml");
  doc.Root().Required<std::string>("region");
  Table up = doc.Root().RequiredTable("upstream");
  up.Optional<bool>("verbose", false);
  up.Required<std::vector<NatsUrl>>("servers");  // not reported again
  up.RequiredTable("tls").Required<std::string>("cert");
  EXPECT_THAT(IssueTexts(doc),
              ElementsAre("s.toml:1:1: upstream: is required but missing (a table)"));
}

TEST(Reader, WrongTypeSaysWhatWasExpectedAndWhatCame) {
  Document doc = Document::FromString("port = \"x\"\n", "n.toml");
  EXPECT_EQ(doc.Root().Optional<int64_t>("port", 7), 7);
  EXPECT_THAT(IssueTexts(doc),
              ElementsAre("n.toml:1:8: port: expected an integer, got string \"x\""));
}

TEST(Reader, IntegerOutOfRangeForTheTargetType) {
  Document doc = Document::FromString("port = 70000\n", "n.toml");
  doc.Root().Get<uint16_t>("port");
  EXPECT_THAT(IssueTexts(doc),
              ElementsAre("n.toml:1:8: port: is out of range (0..65535), got integer 70000"));
}

TEST(Reader, BadDurationIsReported) {
  Document doc = Document::FromString("timeout = \"30\"\n", "n.toml");
  doc.Root().Get<std::chrono::nanoseconds>("timeout");
  EXPECT_THAT(IssueTexts(doc),
              ElementsAre("n.toml:1:11: timeout: expected a duration such as \"30s\", \"2m\" or "
                          "\"1h30m\", got string \"30\""));
}

TEST(Reader, BadSizeIsReported) {
  Document doc = Document::FromString("max = \"64 potatoes\"\n", "n.toml");
  doc.Root().Get<ByteSize>("max");
  ASSERT_EQ(doc.Check().size(), 1u);
  EXPECT_THAT(doc.Check()[0].message, HasSubstr("expected a size such as \"64MiB\""));
}

TEST(Reader, IntegerSizeMeansBytes) {
  Document doc = Document::FromString("max = 4096\n", "n.toml");
  EXPECT_EQ(doc.Root().Required<ByteSize>("max").bytes, 4096u);
}

TEST(Reader, BadAddressIsReported) {
  Document doc = Document::FromString("listen = \"localhost\"\n", "n.toml");
  doc.Root().Get<HostPort>("listen");
  EXPECT_THAT(
      IssueTexts(doc),
      ElementsAre("n.toml:1:10: listen: \"localhost\" is not an address (expected host:port)"));
}

TEST(Reader, TableExpectedButScalarFound) {
  Document doc = Document::FromString("upstream = 5\n", "n.toml");
  EXPECT_FALSE(doc.Root().GetTable("upstream").has_value());
  EXPECT_THAT(IssueTexts(doc),
              ElementsAre("n.toml:1:12: upstream: expected a table, got integer 5"));
}

TEST(Reader, ArrayOfTablesWithAScalarElement) {
  Document doc = Document::FromString("stream = [{name = \"a\"}, 3]\n", "n.toml");
  auto streams = doc.Root().TableArray("stream");
  ASSERT_EQ(streams.size(), 1u);
  streams[0].Required<std::string>("name");
  ASSERT_EQ(doc.Check().size(), 1u);
  EXPECT_EQ(doc.Check()[0].key, "stream[1]");
}

TEST(Reader, UnknownKeyIsReportedWithSuggestion) {
  Document doc = Document::FromString("[upstream]\nsevers = [\"nats://a:1\"]\n", "sidecar.toml");
  doc.Root().RequiredTable("upstream").Get<std::vector<NatsUrl>>("servers");
  EXPECT_THAT(
      IssueTexts(doc),
      ElementsAre("sidecar.toml:2:1: upstream.severs: unknown key (did you mean \"servers\"?)"));
}

TEST(Reader, UnknownKeyFarFromAnyKnownKeyHasNoSuggestion) {
  Document doc = Document::FromString("colour = \"red\"\nregion = \"west\"\n", "n.toml");
  doc.Root().Required<std::string>("region");
  EXPECT_THAT(IssueTexts(doc), ElementsAre("n.toml:1:1: colour: unknown key"));
}

TEST(Reader, EveryUnknownKeyIsReportedIncludingInArraysOfTables) {
  Document doc = Document::FromString(
      "a = 1\nb = 2\n[t]\nx = 1\n[[s]]\nname = \"n\"\nextra = true\n", "n.toml");
  doc.Root().Required<int64_t>("a");
  doc.Root().GetTable("t");
  for (Table s : doc.Root().TableArray("s")) s.Required<std::string>("name");
  EXPECT_THAT(IssueTexts(doc),
              ElementsAre("n.toml:2:1: b: unknown key", "n.toml:4:1: t.x: unknown key",
                          "n.toml:7:1: s[0].extra: unknown key"));
}

TEST(Reader, UnreadTableIsOneUnknownKey) {
  Document doc = Document::FromString("[legacy]\na = 1\nb = 2\n", "n.toml");
  EXPECT_THAT(IssueTexts(doc), ElementsAre("n.toml:1:2: legacy: unknown key"));
}

TEST(Reader, KeysListsTableKeysInFileOrderForNamedEntries) {
  Document doc = Document::FromString(
      "[regions.west]\nservers = [\"w:1\"]\n[regions.east]\nservers = []\n", "topology.toml");
  Table regions = doc.Root().RequiredTable("regions");
  ASSERT_THAT(regions.Keys(), ElementsAre("west", "east"));
  for (const std::string& name : regions.Keys()) {
    Table region = regions.RequiredTable(name);
    if (region.Required<std::vector<HostPort>>("servers").empty()) {
      region.Fail("servers", "region \"" + name + "\" lists no servers");
    }
  }
  EXPECT_THAT(
      IssueTexts(doc),
      ElementsAre("topology.toml:4:11: regions.east.servers: region \"east\" lists no servers"));
}

TEST(Reader, KeysNeedingQuotesAreQuotedInPaths) {
  Document doc = Document::FromString("[m]\n\"a.b\" = 1\n", "n.toml");
  doc.Root().GetTable("m");
  ASSERT_EQ(doc.Check().size(), 1u);
  EXPECT_EQ(doc.Check()[0].key, "m.\"a.b\"");
}

TEST(Reader, FinishThrowsWithAllIssuesOneLineEach) {
  Document doc = Document::FromString("a = \"x\"\nb = 1\n", "n.toml");
  doc.Root().Get<int64_t>("a");
  try {
    doc.Finish();
    FAIL() << "Finish() did not throw";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.issues().size(), 2u);
    EXPECT_STREQ(
        e.what(),
        "n.toml:1:5: a: expected an integer, got string \"x\"\nn.toml:2:1: b: unknown key");
  }
}

TEST(Reader, SyntaxErrorThrowsWithFileLineAndColumn) {
  try {
    Document::FromString("a = 1\nb = = 2\n", "bad.toml");
    FAIL() << "no exception for invalid TOML";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.issues().size(), 1u);
    EXPECT_EQ(e.issues()[0].file, "bad.toml");
    EXPECT_EQ(e.issues()[0].line, 2);
    EXPECT_GT(e.issues()[0].column, 0);
    EXPECT_THAT(e.what(), HasSubstr("bad.toml:2:"));
    EXPECT_THAT(e.what(), HasSubstr("invalid TOML"));
  }
}

TEST(Reader, MissingFileThrowsNamingIt) {
  try {
    Document::FromFile("/nonexistent/meridian.toml");
    FAIL() << "no exception for a missing file";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/meridian.toml: cannot read the file"));
  }
}

TEST(Reader, FromFileUsesThePathInIssues) {
  const std::string path = ::testing::TempDir() + "meridian_reader_test.toml";
  {
    std::ofstream out(path);
    out << "port = true\n";
  }
  Document doc = Document::FromFile(path);
  doc.Root().Get<int64_t>("port");
  ASSERT_EQ(doc.Check().size(), 1u);
  EXPECT_EQ(doc.Check()[0].ToString(), path + ":1:8: port: expected an integer, got true");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace meridian::config
