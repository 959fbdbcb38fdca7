#include "topology/diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace meridian::topology {
namespace {

using nlohmann::json;

DesiredStream ReadWest() {
  DesiredStream d;
  d.virtual_stream = "foo";
  d.name = "foo-read-west";
  d.role = Role::kRead;
  d.region = "west";
  d.phase = 2;
  d.config = json::parse(R"({"name":"foo-read-west","retention":"limits","storage":"file",
    "num_replicas":3,"discard":"old","max_age":0,"max_bytes":-1,"max_msgs":-1,
    "max_msgs_per_subject":-1,"allow_direct":true,"mirror_direct":false,
    "placement":{"cluster":"west"},
    "sources":[{"name":"foo-write-east","filter_subject":"foo.east.>"},
               {"name":"foo-write-west","filter_subject":"foo.west.>"}]})");
  return d;
}

// The config nats-server 2.9.10 reports for ReadWest() after creating it (recorded).
json Recorded() {
  return json::parse(R"({"name":"foo-read-west","retention":"limits","max_consumers":-1,
    "max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,
    "discard":"old","storage":"file","num_replicas":3,"duplicate_window":120000000000,
    "placement":{"cluster":"west"},
    "sources":[{"name":"foo-write-west","filter_subject":"foo.west.\u003e"},
               {"name":"foo-write-east","filter_subject":"foo.east.\u003e"}],
    "allow_direct":true,"mirror_direct":false,"sealed":false,"deny_delete":false,
    "deny_purge":false,"allow_rollup_hdrs":false})");
}

TEST(DiffStream, AMissingStreamIsCreatedWithTheDesiredConfig) {
  StreamPlan p = DiffStream(ReadWest(), nullptr);
  EXPECT_EQ(p.action, Action::kCreate);
  EXPECT_EQ(p.send, ReadWest().config);
}

TEST(DiffStream, ServerDefaultsAndSourceOrderAreNoChange) {
  StreamPlan p = DiffStream(ReadWest(), Recorded());
  EXPECT_EQ(p.action, Action::kNone);
  EXPECT_TRUE(p.changes.empty());
}

TEST(DiffStream, AnAddedRegionIsAnUpdateOfSourcesThatKeepsUnmanagedFields) {
  DesiredStream d = ReadWest();
  d.config["sources"].push_back(
      {{"name", "foo-write-central"}, {"filter_subject", "foo.central.>"}});
  StreamPlan p = DiffStream(d, Recorded());
  EXPECT_EQ(p.action, Action::kUpdate);
  ASSERT_EQ(p.changes.size(), 1u);
  EXPECT_EQ(p.changes[0].field, "sources");
  EXPECT_EQ(p.send["sources"].size(), 3u);
  EXPECT_EQ(p.send["duplicate_window"], 120000000000LL);
}

TEST(DiffStream, ReportsEachChangedFieldWithBothValues) {
  json have = Recorded();
  have["num_replicas"] = 1;
  have["max_age"] = 3600000000000LL;
  StreamPlan p = DiffStream(ReadWest(), have);
  EXPECT_EQ(p.action, Action::kUpdate);
  ASSERT_EQ(p.changes.size(), 2u);
  EXPECT_EQ(p.changes[0].field, "num_replicas");
  EXPECT_EQ(p.changes[0].from, 1);
  EXPECT_EQ(p.changes[0].to, 3);
  EXPECT_EQ(p.changes[1].field, "max_age");
}

TEST(DiffStream, AStorageChangeNeedsARecreate) {
  json have = Recorded();
  have["storage"] = "memory";
  StreamPlan p = DiffStream(ReadWest(), have);
  EXPECT_EQ(p.action, Action::kRecreate);
  EXPECT_THAT(p.note, ::testing::HasSubstr("--allow-delete"));
}

TEST(DiffStream, AStreamThatCannotBeBuiltIsSkippedWithTheReason) {
  DesiredStream d = ReadWest();
  d.problem = "region \"west\" runs nats-server 2.9.10";
  StreamPlan p = DiffStream(d, nullptr);
  EXPECT_EQ(p.action, Action::kSkip);
  EXPECT_EQ(p.note, d.problem);
}

TEST(ApplyOrder, WritesBeforeOrderingBeforeReadsAndDeletesReadersFirst) {
  std::vector<StreamPlan> plans(6);
  auto set = [&](size_t i, const char* name, int phase, Action a) {
    plans[i].desired.name = name;
    plans[i].desired.phase = phase;
    plans[i].action = a;
  };
  set(0, "foo-read-west", 2, Action::kUpdate);
  set(1, "old-write-x", 0, Action::kDelete);
  set(2, "foo-write-north", 0, Action::kCreate);
  set(3, "old-read-x", 2, Action::kDelete);
  set(4, "foo-order", 1, Action::kCreate);
  set(5, "foo-write-west", 0, Action::kNone);
  std::vector<std::string> names;
  for (const StreamPlan* p : ApplyOrder(plans)) names.push_back(p->desired.name);
  EXPECT_THAT(names, ::testing::ElementsAre("foo-write-north", "foo-order", "foo-read-west",
                                            "old-read-x", "old-write-x"));
}

}  // namespace
}  // namespace meridian::topology
