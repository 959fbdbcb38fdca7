#include "cli/cli.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/args.h"
#include "cli/context.h"
#include "cli/reports.h"
#include "cli/table.h"

namespace meridian::cli {
namespace {

using nlohmann::json;

TEST(ArgsTest, SeparatesWordsFromFlagsWithValues) {
  Args a = Args::Parse({"-s", "nats://x:1", "stream", "info", "FOO", "--json", "--user=app"});
  EXPECT_EQ(a.words(), (std::vector<std::string>{"stream", "info", "FOO"}));
  EXPECT_EQ(a.Get("server"), "nats://x:1");
  EXPECT_EQ(a.Get("user"), "app");
  EXPECT_TRUE(a.Has("json"));
  EXPECT_TRUE(a.error().empty());
}

TEST(ArgsTest, RepeatedFlagsKeepEveryValueInOrder) {
  Args a = Args::Parse({"stream", "edit", "S", "--tag", "a", "--tag", "b"});
  EXPECT_EQ(a.GetAll("tag"), (std::vector<std::string>{"a", "b"}));
}

TEST(ArgsTest, ValueFlagWithoutValueIsAnError) {
  Args a = Args::Parse({"pub", "x", "--count"});
  EXPECT_NE(a.error().find("--count needs a value"), std::string::npos);
}

TEST(ArgsTest, DoubleDashMakesTheRestWords) {
  Args a = Args::Parse({"pub", "x", "--", "--json"});
  EXPECT_EQ(a.words(), (std::vector<std::string>{"pub", "x", "--json"}));
  EXPECT_FALSE(a.Has("json"));
}

TEST(DurationTest, AcceptsUnitsAndPlainSeconds) {
  EXPECT_EQ(ParseDuration("5s").count(), 5000);
  EXPECT_EQ(ParseDuration("250ms").count(), 250);
  EXPECT_EQ(ParseDuration("2m").count(), 120000);
  EXPECT_EQ(ParseDuration("3").count(), 3000);
  EXPECT_THROW(ParseDuration("soon"), UsageError);
  EXPECT_THROW(ParseDuration("5 parsecs"), UsageError);
}

TEST(CountTest, RefusesWhatIsNotAWholeNumber) {
  EXPECT_EQ(ParseCount("12", "count"), 12u);
  EXPECT_THROW(ParseCount("-1", "count"), UsageError);
  EXPECT_THROW(ParseCount("3x", "count"), UsageError);
}

TEST(FormatTest, BytesCommasAndDurations) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(156), "156 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(3ull << 30), "3.0 GiB");
  EXPECT_EQ(WithCommas(1234567), "1,234,567");
  EXPECT_EQ(WithCommas(12), "12");
  EXPECT_EQ(HumanDuration(0), "0s");
  EXPECT_EQ(HumanDuration(628'000'000), "628ms");
  EXPECT_EQ(HumanDuration(31'000), "31µs");
  EXPECT_EQ(HumanDuration(344'000'000'000), "5m44s");
}

TEST(TableTest, RendersABoxWithTitleHeaderRowsAndFooter) {
  Table t("Title");
  t.SetHeader({"Name", "N"});
  t.AddRow({"µs-row", "1"});
  t.SetFooter({"", "1"});
  std::string out = t.Render();
  EXPECT_EQ(out,
            "╭────────────╮\n"
            "│   Title    │\n"
            "├────────┬───┤\n"
            "│ Name   │ N │\n"
            "├────────┼───┤\n"
            "│ µs-row │ 1 │\n"
            "├────────┼───┤\n"
            "│        │ 1 │\n"
            "╰────────┴───╯\n");
}

TEST(ContextFileTest, SavesAndLoadsEveryField) {
  auto path = std::filesystem::temp_directory_path() /
              ("meridian-ctx-" + std::to_string(::getpid()) + ".toml");
  ContextFile f;
  f.selected = "west";
  Context c;
  c.name = "west";
  c.servers = {"nats://a:1", "nats://b:2"};
  c.user = "app";
  c.password = "p";
  c.tls_ca = "/ca.pem";
  f.contexts["west"] = c;
  ASSERT_TRUE(f.Save(path).ok());
  auto g = ContextFile::Load(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->selected, "west");
  EXPECT_EQ(g->contexts["west"].servers, c.servers);
  EXPECT_EQ(g->contexts["west"].user, "app");
  EXPECT_EQ(g->contexts["west"].password, "p");
  EXPECT_EQ(g->contexts["west"].tls_ca, "/ca.pem");
}

TEST(ContextFileTest, MissingFileIsEmptyAndBrokenFileNamesTheLine) {
  auto missing = ContextFile::Load("/nonexistent/meridian/contexts.toml");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->contexts.empty());
  auto path = std::filesystem::temp_directory_path() /
              ("meridian-bad-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << "selected = \"a\"\n[contexts.a\n";
  auto bad = ContextFile::Load(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find(":2:"), std::string::npos) << bad.message();
}

json JszReply(const std::string& name, const std::string& cluster, const std::string& leader,
              bool with_peers) {
  json data = {{"streams", 1},
               {"consumers", 2},
               {"messages", 6},
               {"bytes", 156},
               {"memory", 156},
               {"storage", 0},
               {"api", {{"total", 18}, {"errors", 1}}}};
  json meta = {{"name", cluster}, {"leader", leader}, {"cluster_size", 3}};
  if (with_peers) {
    meta["peer"] = "LEADERID";
    meta["replicas"] =
        json::array({{{"name", "s2"}, {"current", true}, {"active", 628000000}, {"peer", "ID2"}},
                     {{"name", "s3"},
                      {"current", false},
                      {"offline", true},
                      {"active", 344000000000},
                      {"lag", 34},
                      {"peer", "ID3"}}});
  }
  data["meta_cluster"] = meta;
  return {{"server", {{"name", name}, {"cluster", cluster}, {"domain", "hub"}}}, {"data", data}};
}

TEST(JetStreamReportTest, StarsTheMetaLeaderAndListsThePeersFromItsReply) {
  auto r =
      BuildJetStreamReport({JszReply("s2", "BB", "s1", false), JszReply("s1", "BB", "s1", true)});
  EXPECT_EQ(r.meta_leader, "s1");
  std::string servers = r.servers.Render();
  EXPECT_NE(servers.find("│ s1*    │ BB      │ hub    │ 1       │ 2         │ 6        │ 156 B"),
            std::string::npos)
      << servers;
  EXPECT_NE(servers.find("│ 2       │ 4         │ 12       │ 312 B"), std::string::npos)
      << "totals: " << servers;
  std::string meta = r.meta.Render();
  EXPECT_NE(meta.find("│ s1   │ LEADERID │ yes    │ true    │ true   │ 0s     │ 0   │"),
            std::string::npos)
      << meta;
  EXPECT_NE(meta.find("│ s3   │ ID3      │        │ false   │ false  │ 5m44s  │ 34  │"),
            std::string::npos)
      << meta;
  EXPECT_EQ(r.json["meta"]["leader"], "s1");
  EXPECT_EQ(r.json["meta"]["peers"].size(), 3u);
  EXPECT_EQ(r.json["servers"][0]["name"], "s1");
  EXPECT_EQ(r.json["servers"][0]["meta_leader"], true);
}

TEST(JetStreamReportTest, NoLeaderMeansAnEmptyLeader) {
  auto r = BuildJetStreamReport({JszReply("s2", "BB", "", false)});
  EXPECT_TRUE(r.meta_leader.empty());
  EXPECT_TRUE(r.clustered);
  EXPECT_EQ(r.meta.rows(), 0u);
}

json StreamInfoFixture() {
  return json::parse(R"({
    "config": {"name": "ORDERS", "subjects": ["orders.>"], "storage": "file",
               "num_replicas": 3, "retention": "limits", "discard": "old",
               "placement": {"cluster": "west", "tags": ["rg:west"]}},
    "created": "2026-11-23T00:00:00Z",
    "state": {"messages": 1200, "bytes": 2048, "first_seq": 1, "last_seq": 1200,
              "last_ts": "2026-11-23T00:00:50Z", "consumer_count": 2, "num_deleted": 0},
    "cluster": {"name": "west", "leader": "west-2",
                "replicas": [{"name": "west-1", "current": true, "active": 1000},
                             {"name": "west-3", "current": false, "offline": true}]}
  })");
}

TEST(StreamReportTest, RowHoldsPlacementSizesAgeAndReplicas) {
  int64_t now = 1795392060LL * 1000000000LL;  // 2026-11-23T00:01:00Z
  Table t = StreamReportTable({StreamInfoFixture()}, now);
  std::string out = t.Render();
  EXPECT_NE(out.find("│ ORDERS │ File    │ west      │ 2         │ 1,200    │ 2.0 KiB │"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("10.00s"), std::string::npos) << out;
  EXPECT_NE(out.find("west-1, west-2*, west-3!"), std::string::npos) << out;
  json j = StreamReportJson({StreamInfoFixture()}, now);
  EXPECT_EQ(j[0]["stream"], "ORDERS");
  EXPECT_EQ(j[0]["leader"], "west-2");
  EXPECT_EQ(j[0]["messages"], 1200);
  EXPECT_EQ(j[0]["replicas"][1]["offline"], true);
}

TEST(StreamInfoTextTest, ShowsConfigurationClusterAndState) {
  std::string out = StreamInfoText(StreamInfoFixture());
  EXPECT_NE(out.find("Subjects: orders.>"), std::string::npos) << out;
  EXPECT_NE(out.find("Placement Tags: rg:west"), std::string::npos) << out;
  EXPECT_NE(out.find("Leader: west-2"), std::string::npos) << out;
  EXPECT_NE(out.find("Replica: west-3, OFFLINE"), std::string::npos) << out;
  EXPECT_NE(out.find("Messages: 1,200"), std::string::npos) << out;
}

int RunMeridian(std::vector<std::string> argv, std::string* out, std::string* err) {
  std::ostringstream o, e;
  int code = RunCli(argv, o, e);
  *out = o.str();
  *err = e.str();
  return code;
}

TEST(RunCliTest, HelpListsEveryCommandAndExitsZero) {
  std::string out, err;
  EXPECT_EQ(RunMeridian({"--help"}, &out, &err), 0);
  for (const char* c : {"pub <subject>", "stream report", "server report jetstream",
                        "server raft step-down", "stream cluster peer-remove", "context add"}) {
    EXPECT_NE(out.find(c), std::string::npos) << c;
  }
  EXPECT_NE(out.find("EXIT STATUS"), std::string::npos);
}

TEST(RunCliTest, CommandHelpIsAManPage) {
  std::string out, err;
  EXPECT_EQ(RunMeridian({"stream", "edit", "--help"}, &out, &err), 0);
  EXPECT_NE(out.find("SYNOPSIS\n    meridian stream edit <name>"), std::string::npos) << out;
  EXPECT_NE(out.find("--replicas N"), std::string::npos);
}

TEST(RunCliTest, UnknownCommandExitsTwoWithASentence) {
  std::string out, err;
  EXPECT_EQ(RunMeridian({"frobnicate"}, &out, &err), 2);
  EXPECT_NE(err.find("unknown command \"frobnicate\""), std::string::npos) << err;
}

TEST(RunCliTest, MissingOperandExitsTwoWithUsage) {
  std::string out, err;
  EXPECT_EQ(RunMeridian({"stream", "info", "--context-file", "/nonexistent/x.toml"}, &out, &err),
            2);
  EXPECT_NE(err.find("missing the stream name"), std::string::npos) << err;
  EXPECT_NE(err.find("usage: meridian stream info"), std::string::npos) << err;
}

TEST(RunCliTest, UnknownFlagExitsTwoNamingTheFlag) {
  std::string out, err;
  EXPECT_EQ(RunMeridian({"stream", "edit", "S", "--replica", "3"}, &out, &err), 2);
  EXPECT_NE(err.find("unknown flag --replica for `stream edit`"), std::string::npos) << err;
}

TEST(RunCliTest, UnknownContextIsAnError) {
  std::string out, err;
  EXPECT_EQ(
      RunMeridian({"--context-file", "/nonexistent/x.toml", "--context", "nope", "stream", "ls"},
                  &out, &err),
      1);
  EXPECT_NE(err.find("there is no context \"nope\""), std::string::npos) << err;
}

TEST(RunCliTest, ContextAddSelectAndList) {
  auto path = std::filesystem::temp_directory_path() /
              ("meridian-run-" + std::to_string(::getpid()) + ".toml");
  std::string f = path.string(), out, err;
  EXPECT_EQ(
      RunMeridian({"--context-file", f, "context", "add", "east", "-s", "nats://e:1"}, &out, &err),
      0);
  EXPECT_EQ(RunMeridian({"--context-file", f, "context", "add", "west", "-s", "nats://w:1",
                         "--user", "app", "--password", "x"},
                        &out, &err),
            0);
  EXPECT_EQ(RunMeridian({"--context-file", f, "context", "select", "west"}, &out, &err), 0);
  EXPECT_EQ(RunMeridian({"--context-file", f, "context", "ls", "--json"}, &out, &err), 0);
  auto j = json::parse(out);
  std::filesystem::remove(path);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["name"], "east");
  EXPECT_EQ(j[0]["selected"], false);
  EXPECT_EQ(j[1]["selected"], true);
  EXPECT_EQ(j[1]["servers"][0], "nats://w:1");
}

TEST(RegistryTest, LongestPathWinsSoGroupsCanGrow) {
  CommandRegistry r;
  r.Add({{"topology"}, "topology", "", "", "", [](Invocation&) { return 3; }});
  r.Add({{"topology", "plan"}, "topology plan", "", "", "", [](Invocation&) { return 4; }});
  size_t n = 0;
  const Command* c = r.Find({"topology", "plan", "x.toml"}, &n);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(n, 2u);
  std::ostringstream o, e;
  EXPECT_EQ(RunCli(r, {"topology", "plan", "f"}, o, e), 4);
}

}  // namespace
}  // namespace meridian::cli
