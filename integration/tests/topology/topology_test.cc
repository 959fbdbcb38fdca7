// `meridian topology` against one shared 3x3 super-cluster of stock nats-server 2.9.10
// (accounts: the topology file gives each region the app user): apply from empty, idempotence,
// concurrent applies, adding a region under a publishing sidecar, export, bad files and
// unreachable regions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "harness/gtest_support.h"
#include "harness/sidecar_process.h"
#include "topology_world.h"

namespace meridian::topology_it {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const std::vector<std::string> kRegions = {"east", "central", "west"};

class Topology : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    run_dir_ = new harness::TestRunDir("Topology");
    harness::SuperClusterOptions o;
    o.regions = kRegions;
    o.stretch_cluster = true;  // "xr": one server per region
    cluster_ = new harness::NatsSuperCluster(run_dir_->path(), o);
    try {
      cluster_->Start();
      started_ = true;
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  static void TearDownTestSuite() {
    if (cluster_) cluster_->StopAll(std::chrono::seconds(5));
    delete cluster_;
    cluster_ = nullptr;
    delete run_dir_;
    run_dir_ = nullptr;
  }
  void SetUp() override {
    if (!started_) GTEST_SKIP() << "the super-cluster did not start (see the first failure)";
  }

  static std::filesystem::path File(const std::string& name, const std::string& text) {
    auto p = run_dir_->path() / name;
    WriteText(p, text);
    return p;
  }
  static RunResult Meridian(std::vector<std::string> args) {
    return RunMeridian(run_dir_->path(), args);
  }
  // apply --yes, retried while freshly started R3 groups are still electing (exit 1).
  static RunResult Apply(const std::filesystem::path& file) {
    RunResult r;
    for (int i = 0; i < 5; ++i) {
      r = Meridian({"topology", "apply", "--file", file.string(), "--yes", "--json"});
      if (r.code != 1) break;
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    return r;
  }

  static harness::TestRunDir* run_dir_;
  static harness::NatsSuperCluster* cluster_;
  static bool started_;
};
harness::TestRunDir* Topology::run_dir_ = nullptr;
harness::NatsSuperCluster* Topology::cluster_ = nullptr;
bool Topology::started_ = false;

std::vector<std::string> Matching(const std::vector<std::string>& names, const std::string& vs) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (n.rfind(vs + "-", 0) == 0) out.push_back(n);
  }
  return out;
}

TEST_F(Topology, ApplyFromEmptyCreatesExactlyTheSeedsStreams) {
  auto file = File("foo.toml", TopologyText(*cluster_, kRegions, {{"foo", {}, ""}}));
  RunResult r = Apply(file);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  Conn c(*cluster_, "east");
  EXPECT_THAT(Matching(StreamNames(c), "foo"),
              ::testing::ElementsAre("foo-read-central", "foo-read-east", "foo-read-west",
                                     "foo-write-central", "foo-write-east", "foo-write-west"));
  json w = c.Api("$JS.API.STREAM.INFO.foo-write-west")["config"];
  EXPECT_EQ(w["subjects"], json({"foo.west.>"}));
  EXPECT_EQ(w["placement"]["cluster"], "west");
  EXPECT_EQ(w["num_replicas"], 3);
  EXPECT_EQ(w["max_age"], 0);
  json rd = c.Api("$JS.API.STREAM.INFO.foo-read-west")["config"];
  EXPECT_FALSE(rd.contains("subjects") && !rd["subjects"].empty());
  EXPECT_EQ(rd["allow_direct"], true);
  EXPECT_EQ(rd["placement"]["cluster"], "west");
  std::set<std::string> sources;
  for (const auto& s : rd["sources"]) {
    sources.insert(s["name"].get<std::string>() + " " + s["filter_subject"].get<std::string>());
  }
  EXPECT_THAT(sources,
              ::testing::ElementsAre("foo-write-central foo.central.>", "foo-write-east foo.east.>",
                                     "foo-write-west foo.west.>"));
  // The streams work: a publish in east reaches every read stream.
  ASSERT_TRUE(c.PublishAcked("foo.east.hello", "hi"));
  Conn west(*cluster_, "west");
  EXPECT_TRUE(WaitFor([&] { return StreamState(west, "foo-read-west", "messages") == 1; },
                      std::chrono::seconds(30)));
}

TEST_F(Topology, ASecondApplyAndAPlanFindNothingToDo) {
  auto file = File("foo.toml", TopologyText(*cluster_, kRegions, {{"foo", {}, ""}}));
  ASSERT_EQ(Apply(file).code, 0);
  RunResult again = Meridian({"topology", "apply", "--file", file.string(), "--json"});
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  json j = json::parse(again.out);
  EXPECT_TRUE(j["steps"].empty()) << again.out;
  RunResult plan = Meridian({"topology", "plan", "--file", file.string()});
  EXPECT_EQ(plan.code, 0) << plan.out << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("Nothing to change"));
}

TEST_F(Topology, PlanShowsAChangedFieldAndExitsThree) {
  auto file = File("foo.toml", TopologyText(*cluster_, kRegions, {{"foo", {}, ""}}));
  ASSERT_EQ(Apply(file).code, 0);
  auto changed = File("foo-limits.toml", TopologyText(*cluster_, kRegions,
                                                      {{"foo", {}, "read_max_msgs = 1000000\n"}}));
  RunResult plan = Meridian({"topology", "plan", "--file", changed.string()});
  EXPECT_EQ(plan.code, 3) << plan.out << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("~ update foo-read-east"));
  EXPECT_THAT(plan.out, HasSubstr("max_msgs: -1 -> 1000000"));
  EXPECT_EQ(Meridian({"topology", "plan", "--file", file.string()}).code, 0)
      << "plan changed nothing";
}

TEST_F(Topology, TwoConcurrentAppliesBothSucceed) {
  auto file = File("bar.toml", TopologyText(*cluster_, kRegions, {{"bar", {}, ""}}));
  auto a = std::async(std::launch::async, [&] {
    return Meridian({"topology", "apply", "--file", file.string(), "--yes"});
  });
  auto b = std::async(std::launch::async, [&] {
    return Meridian({"topology", "apply", "--file", file.string(), "--yes"});
  });
  RunResult ra = a.get(), rb = b.get();
  EXPECT_EQ(ra.code, 0) << ra.out << ra.err;
  EXPECT_EQ(rb.code, 0) << rb.out << rb.err;
  Conn c(*cluster_, "central");
  EXPECT_EQ(Matching(StreamNames(c), "bar").size(), 6u);
  RunResult plan = Meridian({"topology", "plan", "--file", file.string()});
  EXPECT_EQ(plan.code, 0) << plan.out << plan.err;
}

TEST_F(Topology, AddingARegionAddsItsStreamsAndSourcesWhileASidecarPublishesWithoutLoss) {
  auto two =
      File("baz-two.toml", TopologyText(*cluster_, kRegions, {{"baz", {"east", "central"}, ""}}));
  ASSERT_EQ(Apply(two).code, 0);

  harness::SidecarSpec spec;
  spec.name = "sidecar-east";
  spec.region = "east";
  for (const auto* s : cluster_->ServersIn("east")) spec.upstream_urls.push_back(s->ClientUrl());
  spec.upstream_user = cluster_->app_user()->user;
  spec.upstream_password = cluster_->app_user()->password;
  for (const auto& r : kRegions) {
    harness::RegionSpec rs{r, {}};
    for (const auto* s : cluster_->ServersIn(r)) rs.servers.push_back(s->ClientUrl());
    spec.regions.push_back(rs);
  }
  spec.streams = {{"baz", {"baz.>"}, {"east", "central"}}};
  harness::SidecarProcess sidecar(run_dir_->path(), spec);
  sidecar.Start();

  std::atomic<bool> stop{false};
  std::atomic<int> acked{0}, failed{0};
  std::thread publisher([&] {
    Conn pub(sidecar.ClientUrl());
    for (int i = 0; !stop || i < 100; ++i) {
      if (pub.PublishAcked("baz.order." + std::to_string(i), "m" + std::to_string(i))) {
        ++acked;
      } else {
        ++failed;
      }
      if (i > 5000) break;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto three = File("baz-three.toml", TopologyText(*cluster_, kRegions, {{"baz", {}, ""}}));
  RunResult r = Apply(three);
  stop = true;
  publisher.join();
  sidecar.Stop();
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(failed.load(), 0);
  const int n = acked.load();
  ASSERT_GT(n, 0);

  Conn c(*cluster_, "west");
  EXPECT_THAT(Matching(StreamNames(c), "baz"), ::testing::Contains("baz-write-west"));
  EXPECT_EQ(c.Api("$JS.API.STREAM.INFO.baz-read-east")["config"]["sources"].size(), 3u);
  for (const auto& region : kRegions) {
    const std::string read = "baz-read-" + region;
    EXPECT_TRUE(
        WaitFor([&] { return StreamState(c, read, "messages") == n; }, std::chrono::seconds(60)))
        << read << " holds " << StreamState(c, read, "messages") << " of " << n;
  }
  EXPECT_EQ(StreamState(c, "baz-write-east", "messages"), n);
}

// The sidecar's own topology job ([coordinator] in sidecar.toml): it creates the streams at
// start, trims write streams once every region has sourced them, and logs drift without
// changing anything.
TEST_F(Topology, TheSidecarsTopologyJobAppliesAtStartTrimsAndLogsDrift) {
  harness::SidecarSpec spec;
  spec.name = "sidecar-job";
  spec.region = "east";
  for (const auto* s : cluster_->ServersIn("east")) spec.upstream_urls.push_back(s->ClientUrl());
  spec.upstream_user = cluster_->app_user()->user;
  spec.upstream_password = cluster_->app_user()->password;
  std::string topo = TopologyText(*cluster_, kRegions, {{"qux", {}, ""}});
  topo.replace(0, topo.find('\n'), "trim_interval = \"1s\"");
  spec.topology_text = topo;
  spec.extra_config =
      "[coordinator]\napply_on_start = true\ndrift_interval = \"1s\"\ntrim = true\n";
  harness::SidecarProcess sidecar(run_dir_->path(), spec);
  sidecar.Start();
  const auto log_path = sidecar.process().log_path();
  auto log_has = [&](const std::string& what) {
    std::ifstream f(log_path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str().find(what) != std::string::npos;
  };

  // apply_on_start: the six streams appear and a plan finds nothing to do.
  Conn c(*cluster_, "west");
  ASSERT_TRUE(WaitFor([&] { return Matching(StreamNames(c), "qux").size() == 6; },
                      std::chrono::seconds(90)))
      << sidecar.process().LogTail();
  auto file = File("qux.toml", topo);
  EXPECT_TRUE(WaitFor(
      [&] { return Meridian({"topology", "plan", "--file", file.string()}).code == 0; },
      std::chrono::seconds(60)));

  // Published through the sidecar; once every read stream has them, the job trims them.
  constexpr int kMessages = 20;
  {
    Conn pub(sidecar.ClientUrl());
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_TRUE(pub.PublishAcked("qux.item." + std::to_string(i), "m" + std::to_string(i)));
    }
  }
  for (const auto& region : kRegions) {
    EXPECT_TRUE(WaitFor([&] { return StreamState(c, "qux-read-" + region, "messages") == kMessages; },
                        std::chrono::seconds(60)))
        << "qux-read-" << region;
  }
  EXPECT_TRUE(WaitFor([&] { return StreamState(c, "qux-write-east", "first_seq") > 1; },
                      std::chrono::seconds(60)))
      << sidecar.process().LogTail();
  // The stream can show the purge a moment before the job has read the reply and logged it.
  EXPECT_TRUE(WaitFor([&] { return log_has("topology trim: qux-write-east: purged"); },
                      std::chrono::seconds(10)))
      << sidecar.process().LogTail();
  for (const auto& region : kRegions) {
    EXPECT_EQ(StreamState(c, "qux-read-" + region, "messages"), kMessages) << region;
  }

  // Drift: a read stream deleted behind the job's back is reported, and not recreated.
  json del = c.Api("$JS.API.STREAM.DELETE.qux-read-west");
  ASSERT_TRUE(del.value("success", false)) << del.dump();
  EXPECT_TRUE(WaitFor([&] { return log_has("topology drift: qux-read-west in \"west\""); },
                      std::chrono::seconds(60)))
      << sidecar.process().LogTail();
  auto names = StreamNames(c);
  EXPECT_EQ(std::count(names.begin(), names.end(), "qux-read-west"), 0);
  sidecar.Stop();
}

TEST_F(Topology, OrderedAndImmediateStreamsLiveInTheStretchClusterWithRegionalMirrors) {
  auto file =
      File("modes.toml",
           TopologyText(*cluster_, kRegions,
                        {{"ev", {}, "mode = \"ordered\"\n"}, {"acc", {}, "mode = \"immediate\"\n"}},
                        "", "xr"));
  RunResult r = Apply(file);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  Conn c(*cluster_, "east");
  const auto names = StreamNames(c);
  EXPECT_THAT(Matching(names, "ev"),
              ::testing::ElementsAre("ev-order", "ev-read-central", "ev-read-east", "ev-read-west",
                                     "ev-write-central", "ev-write-east", "ev-write-west"));
  EXPECT_THAT(Matching(names, "acc"),
              ::testing::ElementsAre("acc-read-central", "acc-read-east", "acc-read-west"));
  EXPECT_THAT(names, ::testing::Contains("acc"));
  json order = c.Api("$JS.API.STREAM.INFO.ev-order");
  EXPECT_EQ(order["cluster"]["name"], "xr") << order.dump();
  EXPECT_EQ(c.Api("$JS.API.STREAM.INFO.acc")["cluster"]["name"], "xr");
  EXPECT_EQ(c.Api("$JS.API.STREAM.INFO.ev-read-west")["config"]["mirror"]["name"], "ev-order");

  ASSERT_TRUE(c.PublishAcked("ev.east.one", "1"));
  Conn west(*cluster_, "west");
  ASSERT_TRUE(west.PublishAcked("acc.alice", "100"));
  for (const auto& region : kRegions) {
    EXPECT_TRUE(WaitFor([&] { return StreamState(c, "ev-read-" + region, "messages") == 1; },
                        std::chrono::seconds(60)))
        << "ev-read-" << region;
    EXPECT_TRUE(WaitFor([&] { return StreamState(c, "acc-read-" + region, "messages") == 1; },
                        std::chrono::seconds(60)))
        << "acc-read-" << region;
  }
  RunResult plan = Meridian({"topology", "plan", "--file", file.string()});
  EXPECT_EQ(plan.code, 0) << plan.out << plan.err;
}

TEST_F(Topology, ExportWritesTheSeedsStreamsAndTheCorrectedMappings) {
  auto file = File("export.toml",
                   TopologyText(*cluster_, kRegions, {{"foo", {}, "write_max_age = \"1h\"\n"}}));
  const auto out = run_dir_->path() / "export";
  RunResult r = Meridian({"topology", "export", "--file", file.string(), "--out", out.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream f(out / "foo-write-west.json");
  json w = json::parse(f);
  EXPECT_EQ(w["max_age"], 3600000000000LL);
  EXPECT_EQ(w["subjects"], json({"foo.west.>"}));
  std::ifstream m(out / "mappings.cfg");
  std::string mappings((std::istreambuf_iterator<char>(m)), std::istreambuf_iterator<char>());
  EXPECT_THAT(mappings, HasSubstr("$JS.API.DIRECT.GET.foo-read-west"));
  EXPECT_THAT(mappings, HasSubstr("$JS.API.CONSUMER.CREATE.foo-read-east.{{wildcard(1)}}.>"));
  EXPECT_THAT(mappings, HasSubstr("$JS.ACK.{{wildcard(1)}}.{{wildcard(2)}}.foo-read-central.>"));
}

TEST_F(Topology, ABadFileFailsWithFileLineAndASentence) {
  auto file = File("bad.toml",
                   "[regions.west]\nservers = []\n[streams.foo]\nsubjects = "
                   "[\"foo.>\"]\nmdoe = \"eventual\"\n");
  RunResult r = Meridian({"topology", "plan", "--file", file.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("bad.toml:2:11: regions.west.servers: region \"west\" lists no "
                               "servers"));
  EXPECT_THAT(r.err, HasSubstr("bad.toml:5:1: streams.foo.mdoe"));
}

TEST_F(Topology, AnUnreachableRegionIsReportedAndLeftUnchanged) {
  const std::string north = "[regions.north]\nservers = [\"nats://127.0.0.1:1\"]\n";
  auto file = File("north.toml", TopologyText(*cluster_, kRegions, {{"qux", {}, ""}}, north));
  RunResult plan = Meridian({"topology", "plan", "--file", file.string()});
  EXPECT_EQ(plan.code, 3);
  EXPECT_THAT(plan.out, HasSubstr("region north: UNREACHABLE"));
  RunResult apply = Apply(file);
  EXPECT_EQ(apply.code, 3) << apply.out << apply.err;
  EXPECT_THAT(apply.out,
              HasSubstr("region \\\"north\\\" is unreachable: nothing is changed there"));
  Conn c(*cluster_, "east");
  EXPECT_THAT(Matching(StreamNames(c), "qux"),
              ::testing::ElementsAre("qux-read-central", "qux-read-east", "qux-read-west",
                                     "qux-write-central", "qux-write-east", "qux-write-west"));
}

}  // namespace
}  // namespace meridian::topology_it
