// meridian-sidecar over meridian-node: the whole product without a stock nats-server. One
// meridian-node (JetStream, file store in the run directory) stands in for the three regions
// east, central and west (every region of the topology file names the same node URL);
// `meridian topology apply --yes` creates the six streams of `foo` on it, and the node itself
// sources every write stream into every read stream. One sidecar per region, pointed at the
// node, serves unmodified libnats clients.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../node_jetstream/js_world.h"
#include "../topology/topology_world.h"
#include "consumers.h"
#include "harness/gtest_support.h"
#include "harness/http_client.h"
#include "harness/node_script.h"
#include "harness/sidecar_process.h"
#include "js_restart.h"
#include "libnats_util.h"

namespace meridian::sidecar_it {
namespace {

using nlohmann::json;

const std::vector<std::string> kRegions = {"east", "central", "west"};

struct NodeWorld {
  std::unique_ptr<harness::TestRunDir> run_dir;
  std::unique_ptr<node_js_it::JsServer> node;
  std::filesystem::path topology_file;
  topology_it::RunResult apply;  // `meridian topology apply --yes`, run by the environment
  std::map<std::string, std::unique_ptr<harness::SidecarProcess>> sidecars;
  Connection direct;    // to the node, never through a sidecar
  std::string problem;  // non-empty: the world did not start; every test skips with it
};

NodeWorld& W() {
  static NodeWorld world;
  return world;
}

// The topology file: three regions on the one node, stream foo in all of them, R1 (the node
// runs every stream R1 anyway), no trimming.
std::string TopologyFile(const std::string& url) {
  std::string t = "trim_interval = \"0\"\n";
  for (const auto& r : kRegions) t += "[regions." + r + "]\nservers = [\"" + url + "\"]\n";
  t += "[streams.foo]\nsubjects = [\"foo.>\"]\nmode = \"eventual\"\nreplicas = 1\n";
  return t;
}

topology_it::RunResult Meridian(const std::vector<std::string>& args) {
  std::vector<std::string> all = args;
  all.push_back("--file");
  all.push_back(W().topology_file.string());
  return topology_it::RunMeridian(W().run_dir->path(), all);
}

class NodeEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    NodeWorld& w = W();
    const auto start = std::chrono::steady_clock::now();
    try {
      w.run_dir = std::make_unique<harness::TestRunDir>("SidecarOverNode");
      const auto node_dir = w.run_dir->path() / "node";
      std::filesystem::create_directories(node_dir);
      w.node =
          std::make_unique<node_js_it::JsServer>(node_js_it::ServerKind::kMeridianNode, node_dir);
      w.topology_file = w.run_dir->path() / "topology.toml";
      topology_it::WriteText(w.topology_file, TopologyFile(w.node->url()));
      w.apply = Meridian({"topology", "apply", "--yes"});
      if (w.apply.code != 0) {
        throw std::runtime_error("meridian topology apply exited " + std::to_string(w.apply.code) +
                                 ": " + w.apply.err + w.apply.out);
      }
      w.direct = Connect(w.node->url(), "sidecar-node-direct");
      for (const auto& r : kRegions) {
        harness::SidecarSpec spec;
        spec.name = "sidecar-" + r;
        spec.region = r;
        spec.upstream_urls = {w.node->url()};
        spec.topology_text = TopologyFile(w.node->url());
        auto sidecar = std::make_unique<harness::SidecarProcess>(w.run_dir->path(), spec);
        sidecar->Start();
        w.sidecars[r] = std::move(sidecar);
      }
    } catch (const std::exception& e) {
      w.problem = e.what();
      ADD_FAILURE() << "the sidecar-over-node world did not start: " << e.what();
      return;
    }
    std::cerr << "[sidecar-node-it] 1 meridian-node, 6 streams, 3 sidecars ready in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count()
              << " ms\n";
  }

  void TearDown() override {
    NodeWorld& w = W();
    for (auto& [region, sidecar] : w.sidecars) sidecar->Stop();
    w.sidecars.clear();
    w.direct.reset();
    w.node.reset();
    w.run_dir.reset();
  }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new NodeEnvironment);

class SidecarOverNode : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!W().problem.empty() || !W().node) {
      GTEST_SKIP() << "the sidecar-over-node world did not start: " << W().problem;
    }
  }
};

Connection ConnectSidecar(const std::string& region, const std::string& name) {
  return Connect(W().sidecars.at(region)->ClientUrl(), name);
}

json ApiRequest(natsConnection* nc, const std::string& subject, const std::string& body = "") {
  natsStatus s = NATS_OK;
  Msg reply = Request(nc, subject, body, {}, 10000, &s);
  if (!reply) {
    throw std::runtime_error("request " + subject + " " + body +
                             " got no reply: " + natsStatus_GetText(s));
  }
  const std::string text = DataOf(reply.get());
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("reply to " + subject + " is not JSON: " + text);
  return j;
}

// A JetStream API request straight to the node.
json NodeApi(const std::string& subject, const std::string& body = "") {
  return ApiRequest(W().direct.get(), subject, body);
}

uint64_t StreamState(const std::string& stream, const char* field) {
  json info = NodeApi("$JS.API.STREAM.INFO." + stream);
  if (info.contains("error"))
    throw std::runtime_error("stream info " + stream + ": " + info.dump());
  return info["state"][field].get<uint64_t>();
}

uint64_t StoredMessages(const std::string& stream) {
  return StreamState(stream, "messages");
}

// Waits (bounded) until every read stream holds every message ever stored in a write stream
// (the sum of their last sequences: the trim test purges write streams, never read
// streams); returns that.
uint64_t WaitForConvergence(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    uint64_t written = 0;
    std::ostringstream counts;
    for (const auto& r : kRegions) {
      const uint64_t n = StreamState("foo-write-" + r, "last_seq");
      written += n;
      counts << "foo-write-" << r << "=" << n << " ";
    }
    bool all = true;
    for (const auto& r : kRegions) {
      const uint64_t n = StoredMessages("foo-read-" + r);
      counts << "foo-read-" << r << "=" << n << " ";
      if (n != written) all = false;
    }
    if (all) return written;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error("the read streams did not converge: " + counts.str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string UniqueToken(const std::string& what) {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info ? info->name() : "world") + "-" + what + "-" + std::to_string(++counter);
}

// Publishes `subject` through every region's sidecar ("<token>-<region>@<subject>").
std::set<std::string> PublishInEveryRegion(const std::string& subject, const std::string& token) {
  std::set<std::string> out;
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "pub-" + r);
    const std::string p = token + "-" + r + "@" + subject;
    Ack ack = JsPublish(nc.get(), subject, p);
    EXPECT_EQ(ack.stream, "foo") << "region " << r;
    out.insert(p);
  }
  return out;
}

TEST_F(SidecarOverNode, TopologyApplyCreatedTheSixStreamsOnTheNodeAndPlanFindsThemInSync) {
  EXPECT_EQ(W().apply.code, 0) << W().apply.err;
  json names = NodeApi("$JS.API.STREAM.NAMES");
  ASSERT_TRUE(names["streams"].is_array()) << names.dump();
  std::set<std::string> got(names["streams"].begin(), names["streams"].end());
  for (const auto& r : kRegions) {
    EXPECT_EQ(got.count("foo-write-" + r), 1u) << names.dump();
    EXPECT_EQ(got.count("foo-read-" + r), 1u) << names.dump();
    json read = NodeApi("$JS.API.STREAM.INFO.foo-read-" + r);
    EXPECT_EQ(read["config"]["sources"].size(), 3u) << read.dump();
    EXPECT_EQ(read["config"].value("allow_direct", false), true) << read.dump();
  }
  // Everything the file asks for is there as the node reports it: nothing to change.
  topology_it::RunResult plan = Meridian({"topology", "plan"});
  EXPECT_EQ(plan.code, 0) << plan.out << plan.err;
  // A second apply changes nothing.
  topology_it::RunResult again = Meridian({"topology", "apply", "--yes"});
  EXPECT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("6 unchanged"), std::string::npos) << again.out;
}

TEST_F(SidecarOverNode, PublishThroughEachSidecarIsAckedByFooAndStoredInItsRegionsWriteStream) {
  const std::string token = UniqueToken("ack");
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "ack-" + r);
    Ack ack = JsPublish(nc.get(), "foo.test", token + "-" + r);
    EXPECT_EQ(ack.stream, "foo") << "region " << r;
    EXPECT_GT(ack.sequence, 0u) << "region " << r;
    json got = NodeApi("$JS.API.STREAM.MSG.GET.foo-write-" + r,
                       json{{"last_by_subj", "foo." + r + ".test"}}.dump());
    ASSERT_TRUE(got.contains("message")) << r << ": " << got.dump();
    EXPECT_EQ(Base64Decode(got["message"].value("data", "")), token + "-" + r);
  }
}

TEST_F(SidecarOverNode, ReadStreamsSourceEveryRegionAndTopologyStatusConverges) {
  PublishInEveryRegion("foo.test", UniqueToken("status"));
  const uint64_t total = WaitForConvergence();
  // Each read stream holds every region's message under its origin's subject.
  for (const auto& r : kRegions) {
    for (const auto& origin : kRegions) {
      json got = NodeApi("$JS.API.STREAM.MSG.GET.foo-read-" + r,
                         json{{"last_by_subj", "foo." + origin + ".test"}}.dump());
      EXPECT_TRUE(got.contains("message")) << r << " from " << origin << ": " << got.dump();
    }
  }
  // `meridian topology status` agrees: every region reachable, nothing behind.
  bool converged = false;
  json last;
  for (int i = 0; i < 100 && !converged; ++i) {
    topology_it::RunResult status = Meridian({"topology", "status", "--json"});
    ASSERT_EQ(status.code, 0) << status.out << status.err;
    last = json::parse(status.out, nullptr, false);
    ASSERT_FALSE(last.is_discarded()) << status.out;
    converged = true;
    for (const auto& region : last["streams"][0]["regions"]) {
      if (!region.value("reachable", false) || region.value("behind", true) ||
          region.value("read_messages", uint64_t{0}) != total) {
        converged = false;
      }
      for (const auto& lag : region["lag"]) {
        if (lag.value("behind", 1) != 0) converged = false;
      }
    }
    if (!converged) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(converged) << last.dump();
}

TEST_F(SidecarOverNode, StreamInfoAndNamesOfFooThroughTheSidecar) {
  PublishInEveryRegion("foo.test", UniqueToken("info"));
  const uint64_t total = WaitForConvergence();
  for (const auto& r : {"west", "east"}) {
    Connection nc = ConnectSidecar(r, "info");
    JetStream js = JetStreamOf(nc.get());
    jsStreamInfo* si = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    Check(js_GetStreamInfo(&si, js.get(), "foo", nullptr, &err),
          std::string("stream info foo through the sidecar of ") + r);
    std::unique_ptr<jsStreamInfo, void (*)(jsStreamInfo*)> guard(si, jsStreamInfo_Destroy);
    EXPECT_STREQ(si->Config->Name, "foo") << r;
    EXPECT_EQ(si->State.Msgs, total) << r;
    json raw = ApiRequest(nc.get(), "$JS.API.STREAM.INFO.foo");
    EXPECT_EQ(raw.dump().find("foo-read-"), std::string::npos) << raw.dump();
    json names = ApiRequest(nc.get(), "$JS.API.STREAM.NAMES", json{{"subject", "foo.test"}}.dump());
    EXPECT_EQ(names["streams"], json::array({"foo"})) << r << ": " << names.dump();
    json all = ApiRequest(nc.get(), "$JS.API.STREAM.NAMES");
    EXPECT_EQ(all["streams"], json::array({"foo"})) << r << ": " << all.dump();
  }
}

TEST_F(SidecarOverNode, DurablePullConsumerFilteredOnFooTestIsSplitPerOriginFetchesAndAcks) {
  const std::string token = UniqueToken("pull");
  const std::set<std::string> wanted = PublishInEveryRegion("foo.test", token);
  const std::set<std::string> others = PublishInEveryRegion("foo.other", token);
  WaitForConvergence();
  const std::string region = "west";
  const std::string durable = "pullfilt-" + std::to_string(::getpid());
  Connection nc = ConnectSidecar(region, "pull-filtered");
  JetStream js = JetStreamOf(nc.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Config.AckWait = 1500LL * 1000 * 1000;  // ns: short, so a lost ack shows as a redelivery
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_PullSubscribe(&raw, js.get(), "foo.test", durable.c_str(), nullptr, &so, &err),
        "pull consumer filtered on foo.test (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  auto got = ReceiveUntil(sub.get(), true, wanted, true, std::chrono::seconds(15));
  auto rest = ReceiveUntil(sub.get(), true, {"(never)"}, true, std::chrono::milliseconds(1000));
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(Missing(wanted, got), "(none)");
  for (const auto& m : got) {
    EXPECT_EQ(m.subject, "foo.test") << m.payload;
    EXPECT_EQ(m.stream, "foo") << m.payload;
    EXPECT_EQ(m.delivered, 1u) << m.payload;
    EXPECT_EQ(others.count(m.payload), 0u) << "foo.other delivered: " << m.payload;
  }
  // Past the ack wait, nothing comes back.
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  natsMsgList list{};
  natsStatus s = natsSubscription_Fetch(&list, sub.get(), 16, 1000, &err);
  EXPECT_TRUE(s == NATS_TIMEOUT || list.Count == 0)
      << "redelivered after ack: " << list.Count << " message(s), first "
      << (list.Count > 0 ? DataOf(list.Msgs[0]) : "");
  natsMsgList_Destroy(&list);
  json info = ApiRequest(nc.get(), "$JS.API.CONSUMER.INFO.foo." + durable);
  EXPECT_EQ(info["config"].value("filter_subject", ""), "foo.test") << info.dump();
  EXPECT_EQ(info.value("stream_name", ""), "foo") << info.dump();
  EXPECT_EQ(info.value("num_ack_pending", -1), 0) << info.dump();
  // The node advertises 2.9.10: one consumer per origin on foo-read-west, each acked.
  for (const auto& origin : kRegions) {
    json direct =
        NodeApi("$JS.API.CONSUMER.INFO.foo-read-" + region + "." + durable + "__" + origin);
    ASSERT_TRUE(direct["config"].is_object()) << direct.dump();
    EXPECT_EQ(direct["config"].value("filter_subject", ""), "foo." + origin + ".test")
        << direct.dump();
    EXPECT_EQ(direct.value("num_ack_pending", -1), 0) << direct.dump();
    EXPECT_EQ(direct.value("num_redelivered", -1), 0) << direct.dump();
  }
}

TEST_F(SidecarOverNode, OrderedConsumerOnFooReceivesEveryRegionsMessagesUnderClientSubjects) {
  const std::string token = UniqueToken("ordered");
  std::set<std::string> wanted = PublishInEveryRegion("foo.test", token);
  for (const auto& p : PublishInEveryRegion("foo.other", token)) wanted.insert(p);
  WaitForConvergence();
  for (const auto& r : {"east", "west"}) {
    Connection nc = ConnectSidecar(r, "ordered");
    JetStream js = JetStreamOf(nc.get());
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Ordered = true;
    natsSubscription* raw = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    Check(js_SubscribeSync(&raw, js.get(), "foo.>", nullptr, &so, &err),
          std::string("ordered consumer on foo.> in ") + r + " (JetStream error " +
              std::to_string(err) + ")");
    Subscription sub(raw);
    auto got = ReceiveUntil(sub.get(), false, wanted, false, std::chrono::seconds(15));
    EXPECT_EQ(Missing(wanted, got), "(none)") << r;
    for (const auto& m : got) {
      const auto at = m.payload.rfind('@');
      if (at != std::string::npos) {
        EXPECT_EQ(m.subject, m.payload.substr(at + 1)) << m.payload;
      }
      EXPECT_EQ(m.stream, "foo") << m.payload;
    }
  }
}

TEST_F(SidecarOverNode, DurablePushConsumerFilteredOnFooTestSeesOnlyFooTestAndAcksStick) {
  const std::string token = UniqueToken("push");
  const std::set<std::string> wanted = PublishInEveryRegion("foo.test", token);
  const std::set<std::string> others = PublishInEveryRegion("foo.other", token);
  WaitForConvergence();
  const std::string durable = "pushfilt-" + std::to_string(::getpid());
  Connection nc = ConnectSidecar("east", "push-filtered");
  JetStream js = JetStreamOf(nc.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.ManualAck = true;
  so.Config.Durable = durable.c_str();
  so.Config.AckWait = 1500LL * 1000 * 1000;
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_SubscribeSync(&raw, js.get(), "foo.test", nullptr, &so, &err),
        "durable push consumer filtered on foo.test (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  auto got = ReceiveUntil(sub.get(), false, wanted, true, std::chrono::seconds(15));
  auto rest = ReceiveUntil(sub.get(), false, {"(never)"}, true, std::chrono::milliseconds(1000));
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(Missing(wanted, got), "(none)");
  for (const auto& m : got) {
    EXPECT_EQ(m.subject, "foo.test") << m.payload;
    EXPECT_EQ(m.stream, "foo") << m.payload;
    EXPECT_EQ(m.delivered, 1u) << m.payload;
    EXPECT_EQ(others.count(m.payload), 0u) << "foo.other delivered: " << m.payload;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  natsMsg* again = nullptr;
  EXPECT_EQ(natsSubscription_NextMsg(&again, sub.get(), 500), NATS_TIMEOUT)
      << "redelivered after ack: " << (again ? DataOf(again) : "");
  if (again) natsMsg_Destroy(again);
  for (const auto& origin : kRegions) {
    json direct = NodeApi("$JS.API.CONSUMER.INFO.foo-read-east." + durable + "__" + origin);
    EXPECT_EQ(direct.value("num_ack_pending", -1), 0) << direct.dump();
    EXPECT_EQ(direct.value("num_redelivered", -1), 0) << direct.dump();
  }
}

TEST_F(SidecarOverNode, DirectGetLastBySubjectReturnsTheNewestValueAcrossRegions) {
  const std::string token = UniqueToken("last");
  const std::vector<std::string> order = {"east", "west", "central"};
  for (size_t i = 0; i < order.size(); ++i) {
    Connection pub = ConnectSidecar(order[i], "last-pub");
    const std::string value = token + "-v" + std::to_string(i) + "-" + order[i];
    JsPublish(pub.get(), "foo.last", value);
    WaitForConvergence();
    for (const auto& r : kRegions) {
      Connection nc = ConnectSidecar(r, "last-get");
      JetStream js = JetStreamOf(nc.get());
      jsDirectGetMsgOptions dg;
      jsDirectGetMsgOptions_Init(&dg);
      dg.LastBySubject = "foo.last";
      natsMsg* raw = nullptr;
      natsStatus s = js_DirectGetMsg(&raw, js.get(), "foo", nullptr, &dg);
      ASSERT_EQ(s, NATS_OK) << "direct get last foo.last in " << r << ": "
                            << nats_GetLastError(nullptr);
      Msg m(raw);
      EXPECT_EQ(DataOf(m.get()), value) << "region " << r << " after publish " << i;
      EXPECT_STREQ(natsMsg_GetSubject(m.get()), "foo.last") << "region " << r;
      EXPECT_EQ(HeaderOf(m.get(), "Nats-Stream"), "foo") << "region " << r;
      EXPECT_EQ(HeaderOf(m.get(), "Nats-Subject"), "foo.last") << "region " << r;
    }
  }
}

TEST_F(SidecarOverNode, MsgGetLastBySubjectReturnsTheNewestValueAcrossRegions) {
  const std::string token = UniqueToken("msgget");
  std::string newest;
  for (const auto& r : {"west", "east", "central"}) {
    Connection pub = ConnectSidecar(r, "msgget-pub");
    newest = token + "-" + r;
    JsPublish(pub.get(), "foo.msgget", newest);
  }
  WaitForConvergence();
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "msgget");
    JetStream js = JetStreamOf(nc.get());
    natsMsg* raw = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    natsStatus s = js_GetLastMsg(&raw, js.get(), "foo", "foo.msgget", nullptr, &err);
    ASSERT_EQ(s, NATS_OK) << "STREAM.MSG.GET last foo.msgget in " << r << ": "
                          << nats_GetLastError(nullptr) << " (JetStream error " << err << ")";
    Msg m(raw);
    EXPECT_EQ(DataOf(m.get()), newest) << "region " << r;
    EXPECT_STREQ(natsMsg_GetSubject(m.get()), "foo.msgget") << "region " << r;
  }
}

TEST_F(SidecarOverNode, MessageIdDeduplicatesWithinOneRegion) {
  Connection nc = ConnectSidecar("west", "dedupe");
  const std::string id = UniqueToken("dedupe-id");
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id.c_str();
  const uint64_t before = StoredMessages("foo-write-west");
  Ack first = JsPublish(nc.get(), "foo.dedupe", "first", &po);
  Ack second = JsPublish(nc.get(), "foo.dedupe", "second", &po);
  EXPECT_FALSE(first.duplicate);
  EXPECT_TRUE(second.duplicate);
  EXPECT_EQ(second.sequence, first.sequence);
  EXPECT_EQ(second.stream, "foo");
  EXPECT_EQ(StoredMessages("foo-write-west"), before + 1);
  WaitForConvergence();
}

TEST_F(SidecarOverNode, StreamAdministrationOfFooIsRefusedAndTheNodesStreamsStay) {
  Connection nc = ConnectSidecar("west", "refuse");
  json cfg = {{"name", "foo"}, {"subjects", {"foo.>"}}, {"storage", "file"}, {"num_replicas", 1}};
  for (const auto& [subject, body] :
       std::vector<std::pair<std::string, std::string>>{{"$JS.API.STREAM.CREATE.foo", cfg.dump()},
                                                        {"$JS.API.STREAM.UPDATE.foo", cfg.dump()},
                                                        {"$JS.API.STREAM.DELETE.foo", ""},
                                                        {"$JS.API.STREAM.PURGE.foo", ""}}) {
    json reply = ApiRequest(nc.get(), subject, body);
    ASSERT_TRUE(reply.contains("error")) << subject << " was not refused: " << reply.dump();
    EXPECT_EQ(reply["error"].value("code", 0), 400) << reply.dump();
  }
  for (const auto& r : kRegions) {
    EXPECT_FALSE(NodeApi("$JS.API.STREAM.INFO.foo-write-" + r).contains("error"));
    EXPECT_FALSE(NodeApi("$JS.API.STREAM.INFO.foo-read-" + r).contains("error"));
  }
}

TEST_F(SidecarOverNode, DurablePullConsumerOnFooReceivesEveryRegionsMessagesAndAcksStick) {
  const std::string token = UniqueToken("pullall");
  std::set<std::string> wanted = PublishInEveryRegion("foo.test", token);
  for (const auto& p : PublishInEveryRegion("foo.other", token)) wanted.insert(p);
  WaitForConvergence();
  const std::string durable = "pullall-" + std::to_string(::getpid());
  Connection nc = ConnectSidecar("central", "pull-all");
  JetStream js = JetStreamOf(nc.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Config.AckWait = 1500LL * 1000 * 1000;
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_PullSubscribe(&raw, js.get(), "foo.>", durable.c_str(), nullptr, &so, &err),
        "durable pull consumer on foo.> (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  auto got = ReceiveUntil(sub.get(), true, wanted, true, std::chrono::seconds(15));
  auto rest = ReceiveUntil(sub.get(), true, {"(never)"}, true, std::chrono::milliseconds(1000));
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(Missing(wanted, got), "(none)");
  for (const auto& m : got) {
    EXPECT_EQ(m.stream, "foo") << m.payload;
    EXPECT_EQ(m.delivered, 1u) << m.payload;
  }
  jsConsumerInfo* ci = nullptr;
  Check(js_GetConsumerInfo(&ci, js.get(), "foo", durable.c_str(), nullptr, &err),
        "consumer info through the sidecar");
  std::unique_ptr<jsConsumerInfo, void (*)(jsConsumerInfo*)> guard(ci, jsConsumerInfo_Destroy);
  EXPECT_STREQ(ci->Stream, "foo");
  EXPECT_EQ(ci->NumAckPending, 0);
  EXPECT_EQ(ci->NumPending, 0u);
  json direct = NodeApi("$JS.API.CONSUMER.INFO.foo-read-central." + durable);
  EXPECT_EQ(direct.value("num_ack_pending", -1), 0) << direct.dump();
  // Nothing left: a Fetch waits for the next message (libnats sends no_wait with expires; the
  // node must hold the request as nats-server does, not answer 408 at once).
  natsStatus fetched = NATS_ERR;
  std::string fetched_payload;
  std::thread fetcher([&] {
    natsMsgList list{};
    jsErrCode e = static_cast<jsErrCode>(0);
    fetched = natsSubscription_Fetch(&list, sub.get(), 16, 20000, &e);
    if (list.Count > 0) {
      fetched_payload = DataOf(list.Msgs[0]);
      natsMsg_AckSync(list.Msgs[0], nullptr, &e);
    }
    natsMsgList_Destroy(&list);
  });
  bool waiting = false;
  for (int i = 0; i < 200 && !waiting; ++i) {
    waiting =
        NodeApi("$JS.API.CONSUMER.INFO.foo-read-central." + durable).value("num_waiting", 0) > 0;
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_TRUE(waiting) << "the Fetch's pull request never waited on the node";
  const std::string late = UniqueToken("late");
  if (waiting) PublishInEveryRegion("foo.late", late);
  fetcher.join();
  if (waiting) {
    EXPECT_EQ(fetched, NATS_OK) << natsStatus_GetText(fetched);
    EXPECT_EQ(fetched_payload.rfind(late, 0), 0u) << fetched_payload;
  }
}

TEST_F(SidecarOverNode, FilteredConsumerInfoNamesAndDeleteActOnTheConsumerTheClientMade) {
  const std::string region = "east";
  const std::string durable = "infofilt-" + std::to_string(::getpid());
  PublishInEveryRegion("foo.test", UniqueToken("infofilt"));
  WaitForConvergence();
  Connection nc = ConnectSidecar(region, "info-filtered");
  JetStream js = JetStreamOf(nc.get());
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = durable.c_str();
  cfg.AckPolicy = js_AckExplicit;
  cfg.FilterSubject = "foo.test";
  jsConsumerInfo* created = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_AddConsumer(&created, js.get(), "foo", &cfg, nullptr, &err),
        "add consumer filtered on foo.test (JetStream error " + std::to_string(err) + ")");
  EXPECT_STREQ(created->Stream, "foo");
  EXPECT_STREQ(created->Name, durable.c_str());
  EXPECT_STREQ(created->Config->FilterSubject, "foo.test");
  jsConsumerInfo_Destroy(created);
  jsConsumerInfo* ci = nullptr;
  Check(js_GetConsumerInfo(&ci, js.get(), "foo", durable.c_str(), nullptr, &err),
        "consumer info of the filtered consumer");
  EXPECT_STREQ(ci->Name, durable.c_str());
  uint64_t origins_pending = 0;
  for (const auto& origin : kRegions) {
    json direct =
        NodeApi("$JS.API.CONSUMER.INFO.foo-read-" + region + "." + durable + "__" + origin);
    origins_pending += direct.value("num_pending", 0u);
  }
  EXPECT_GT(origins_pending, 0u);
  EXPECT_EQ(ci->NumPending, origins_pending);
  jsConsumerInfo_Destroy(ci);
  json names = ApiRequest(nc.get(), "$JS.API.CONSUMER.NAMES.foo");
  ASSERT_TRUE(names["consumers"].is_array()) << names.dump();
  std::set<std::string> listed(names["consumers"].begin(), names["consumers"].end());
  EXPECT_EQ(listed.count(durable), 1u) << names.dump();
  for (const auto& origin : kRegions) {
    EXPECT_EQ(listed.count(durable + "__" + origin), 0u) << names.dump();
  }
  Check(js_DeleteConsumer(js.get(), "foo", durable.c_str(), nullptr, &err),
        "delete of the filtered consumer");
  ci = nullptr;
  EXPECT_NE(js_GetConsumerInfo(&ci, js.get(), "foo", durable.c_str(), nullptr, &err), NATS_OK);
  if (ci) jsConsumerInfo_Destroy(ci);
  EXPECT_EQ(err, JSConsumerNotFoundErr);
  for (const auto& origin : kRegions) {
    json direct =
        NodeApi("$JS.API.CONSUMER.INFO.foo-read-" + region + "." + durable + "__" + origin);
    EXPECT_EQ(direct["error"].value("err_code", 0), 10014) << direct.dump();
  }
}

// nats.js 2.29.3 (js/sidecar_client.mjs, the script of integration/tests/sidecar) through the
// sidecar of `region`: the RESULT JSON.
json RunJsClient(const std::string& region, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"--url", W().sidecars.at(region)->ClientUrl()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = harness::RunNodeScript("sidecar_client.mjs", argv,
                                  W().run_dir->path() / ("js-" + UniqueToken(args[0]) + ".log"),
                                  std::chrono::seconds(30));
  EXPECT_TRUE(r.ok()) << "nats.js " << args[0] << " in " << region << ": " << r.Describe();
  const std::string result = r.ResultLine();
  if (result.empty()) return json();
  return json::parse(result, nullptr, false);
}

TEST_F(SidecarOverNode, NatsJsPublishFilteredPullOrderedAndLastThroughTheSidecar) {
  const std::string token = UniqueToken("js");
  std::set<std::string> want;
  std::string newest;
  for (const auto& r : kRegions) {
    newest = token + "-" + r + "@foo.test";
    json ack = RunJsClient(r, {"publish", "--subject", "foo.test", "--payload", newest});
    EXPECT_EQ(ack.value("stream", ""), "foo") << r << ": " << ack.dump();
    want.insert(newest);
    RunJsClient(r,
                {"publish", "--subject", "foo.other", "--payload", token + "-" + r + "@foo.other"});
  }
  WaitForConvergence();
  std::string joined;
  for (const auto& w : want) joined += (joined.empty() ? "" : ",") + w;
  json info = RunJsClient("west", {"info", "--stream", "foo"});
  EXPECT_EQ(info.value("name", ""), "foo") << info.dump();
  json pull = RunJsClient("west", {"pull", "--stream", "foo", "--filter", "foo.test", "--durable",
                                   "jsfilt" + std::to_string(::getpid()), "--want", joined});
  ASSERT_TRUE(pull.is_object()) << pull.dump();
  EXPECT_EQ(pull["missing"], json::array()) << pull.dump();
  EXPECT_EQ(pull.value("consumer_stream", ""), "foo") << pull.dump();
  EXPECT_EQ(pull.value("ack_pending", -1), 0) << pull.dump();
  EXPECT_EQ(pull.value("redelivered", -1), 0) << pull.dump();
  for (const auto& m : pull["received"]) EXPECT_EQ(m["subject"], "foo.test") << m.dump();
  json ordered =
      RunJsClient("east", {"ordered", "--stream", "foo", "--filter", "foo.test", "--want", joined});
  ASSERT_TRUE(ordered.is_object()) << ordered.dump();
  EXPECT_EQ(ordered["missing"], json::array()) << ordered.dump();
  json last = RunJsClient("central", {"last", "--stream", "foo", "--subject", "foo.test"});
  EXPECT_EQ(last.value("payload", ""), newest) << last.dump();
  EXPECT_EQ(last.value("subject", ""), "foo.test") << last.dump();
}

TEST_F(SidecarOverNode, TopologyTrimPurgesWriteStreamsOnlyBelowWhatEveryReadStreamSourced) {
  PublishInEveryRegion("foo.test", UniqueToken("trim"));
  const uint64_t total = WaitForConvergence();
  topology_it::RunResult trim = Meridian({"topology", "trim", "--json"});
  ASSERT_EQ(trim.code, 0) << trim.out << trim.err;
  json t = json::parse(trim.out, nullptr, false);
  ASSERT_TRUE(t.is_object()) << trim.out;
  for (const auto& r : kRegions) {
    // Every write stream is empty now (its last sequence sourced by every reader), and the
    // read streams keep everything.
    EXPECT_EQ(StoredMessages("foo-write-" + r), 0u) << t.dump();
    EXPECT_EQ(StoredMessages("foo-read-" + r), total) << t.dump();
  }
  // Publishing and sourcing go on after the purge.
  PublishInEveryRegion("foo.test", UniqueToken("after-trim"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (const auto& r : kRegions) {
    while (StoredMessages("foo-read-" + r) != total + 3 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(StoredMessages("foo-read-" + r), total + 3) << r;
  }
}

// A second, empty meridian-node: the sidecar's own topology job (`[coordinator]
// apply_on_start`) creates the streams on it, and the sidecar then serves publishes.
TEST_F(SidecarOverNode, SidecarApplyOnStartCreatesTheStreamsOnAnEmptyNode) {
  const auto dir = W().run_dir->path() / "apply-on-start";
  std::filesystem::create_directories(dir);
  node_js_it::JsServer node(node_js_it::ServerKind::kMeridianNode, dir);
  harness::SidecarSpec spec;
  spec.name = "sidecar-apply-on-start";
  spec.region = "west";
  spec.upstream_urls = {node.url()};
  spec.topology_text = TopologyFile(node.url());
  spec.extra_config = "[coordinator]\napply_on_start = true\n";
  harness::SidecarProcess sidecar(dir, spec);
  sidecar.Start();
  Connection direct = Connect(node.url(), "apply-on-start-direct");
  std::set<std::string> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (got.size() < 6 && std::chrono::steady_clock::now() < deadline) {
    json names = ApiRequest(direct.get(), "$JS.API.STREAM.NAMES");
    got.clear();
    if (names["streams"].is_array()) got.insert(names["streams"].begin(), names["streams"].end());
    if (got.size() < 6) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const auto& r : kRegions) {
    EXPECT_EQ(got.count("foo-write-" + r), 1u) << sidecar.process().LogTail();
    EXPECT_EQ(got.count("foo-read-" + r), 1u) << sidecar.process().LogTail();
  }
  Connection nc = Connect(sidecar.ClientUrl(), "apply-on-start");
  Ack ack = JsPublish(nc.get(), "foo.test", UniqueToken("aos"));
  EXPECT_EQ(ack.stream, "foo");
  EXPECT_EQ(ack.sequence, 1u);
  sidecar.Stop();
}

// A sidecar without `region` learns it from the upstream INFO `cluster`: over a node with a
// cluster name (west) it writes into foo-write-west like a sidecar configured for west.
TEST_F(SidecarOverNode, SidecarWithoutRegionLearnsItFromTheNodesClusterName) {
  const auto dir = W().run_dir->path() / "region-from-cluster";
  std::filesystem::create_directories(dir);
  node_js_it::JsServerOptions options;
  options.cluster_name = "west";
  node_js_it::JsServer node(node_js_it::ServerKind::kMeridianNode, dir, options);
  const auto topology = dir / "topology.toml";
  topology_it::WriteText(topology, TopologyFile(node.url()));
  auto applied =
      topology_it::RunMeridian(dir, {"topology", "apply", "--yes", "--file", topology.string()});
  ASSERT_EQ(applied.code, 0) << applied.err << applied.out;
  harness::SidecarSpec spec;
  spec.name = "sidecar-no-region";
  spec.region = "";  // learned from the node's INFO
  spec.upstream_urls = {node.url()};
  spec.topology_text = TopologyFile(node.url());
  harness::SidecarProcess sidecar(dir, spec);
  sidecar.Start();
  Connection nc = Connect(sidecar.ClientUrl(), "no-region");
  Ack ack = JsPublish(nc.get(), "foo.test", UniqueToken("learned"));
  EXPECT_EQ(ack.stream, "foo") << sidecar.process().LogTail();
  EXPECT_EQ(ack.sequence, 1u);
  Connection direct = Connect(node.url(), "no-region-direct");
  json west = ApiRequest(direct.get(), "$JS.API.STREAM.INFO.foo-write-west");
  EXPECT_EQ(west["state"]["messages"], 1) << west.dump();
  for (const std::string r : {"east", "central"}) {
    json other = ApiRequest(direct.get(), "$JS.API.STREAM.INFO.foo-write-" + r);
    EXPECT_EQ(other["state"]["messages"], 0) << r << ": " << other.dump();
  }
  auto h = harness::HttpGet("127.0.0.1", sidecar.http_port(), "/healthz");
  EXPECT_NE(h.body.find("\"region\":\"west\""), std::string::npos) << h.body;
  sidecar.Stop();
}

// The node is killed (SIGKILL) and started again on the same port and store: a client that
// stays connected to its sidecar publishes again once the node is back (the sidecar restores
// its upstream session), nothing acked is lost, and a durable resumes where it was acked.
TEST_F(SidecarOverNode, ClientsOfTheSidecarCarryOnAfterTheNodeIsKilledAndRestarted) {
  const std::string durable = "restart-" + std::to_string(::getpid());
  Connection nc = ConnectSidecar("west", "restart");
  JetStream js = JetStreamOf(nc.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_PullSubscribe(&raw, js.get(), "foo.restart", durable.c_str(), nullptr, &so, &err),
        "pull consumer on foo.restart (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  const std::string token = UniqueToken("restart");
  const std::set<std::string> before = {token + "-before"};
  JsPublish(nc.get(), "foo.restart", token + "-before");
  WaitForConvergence();
  auto got = ReceiveUntil(sub.get(), true, before, true, std::chrono::seconds(15));
  EXPECT_EQ(Missing(before, got), "(none)");

  W().direct.reset();
  W().node->KillAndStart();
  W().direct = Connect(W().node->url(), "sidecar-node-direct");

  // The sidecar's upstream comes back within its ping interval; a publish may fail until then.
  bool published = false;
  std::string last_error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!published && std::chrono::steady_clock::now() < deadline) {
    try {
      Ack ack = JsPublish(nc.get(), "foo.restart", token + "-after");
      EXPECT_EQ(ack.stream, "foo");
      published = true;
    } catch (const std::exception& e) {
      last_error = e.what();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  ASSERT_TRUE(published) << last_error << "\n" << W().sidecars.at("west")->process().LogTail();
  WaitForConvergence();
  const std::set<std::string> after = {token + "-after"};
  got = ReceiveUntil(sub.get(), true, after, true, std::chrono::seconds(15));
  EXPECT_EQ(Missing(after, got), "(none)");
  for (const auto& m : got) {
    EXPECT_NE(m.payload, token + "-before") << "redelivered after the restart";
  }
  // Every sidecar says ok again.
  for (const auto& [region, sidecar] : W().sidecars) {
    harness::HttpResponse h;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    do {
      h = harness::HttpGet("127.0.0.1", sidecar->http_port(), "/healthz");
      if (h.status != 200 || h.body.find("\"ok\"") == std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    } while ((h.status != 200 || h.body.find("\"ok\"") == std::string::npos) &&
             std::chrono::steady_clock::now() < until);
    EXPECT_EQ(h.status, 200) << region << ": " << h.body;
    EXPECT_NE(h.body.find("\"ok\""), std::string::npos) << region << ": " << h.body;
  }
}

// foo.test and foo.other through every region's sidecar, converged; returns the foo.test
// payloads and adds the foo.other ones to `others`.
std::set<std::string> PublishTestAndOther(const std::string& what, std::set<std::string>& others) {
  const std::string token = UniqueToken(what);
  const std::set<std::string> wanted = PublishInEveryRegion("foo.test", token);
  for (const auto& p : PublishInEveryRegion("foo.other", token)) others.insert(p);
  WaitForConvergence();
  return wanted;
}

// As libnats js_SubscribeSync does when an app restarts: CONSUMER.INFO, then SUB on the
// info's deliver subject; a second binder while one listens is refused (push_bound).
TEST_F(SidecarOverNode, DurablePushConsumerReboundFromANewConnectionGetsTheRest) {
  const std::string region = "central";
  const std::string durable = "rebind-" + std::to_string(::getpid());
  auto subscribe = [&](JetStream& js) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.ManualAck = true;
    so.Config.Durable = durable.c_str();
    so.Config.AckWait = 1500LL * 1000 * 1000;
    natsSubscription* raw = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    Check(js_SubscribeSync(&raw, js.get(), "foo.test", nullptr, &so, &err),
          "durable push consumer on foo.test (JetStream error " + std::to_string(err) + ")");
    return Subscription(raw);
  };
  std::set<std::string> others;
  const std::set<std::string> first = PublishTestAndOther("rebind-1", others);
  std::string unacked;
  std::set<std::string> acked;
  {
    Connection a = ConnectSidecar(region, "rebind-a");
    JetStream js = JetStreamOf(a.get());
    Subscription sub = subscribe(js);
    std::size_t first_seen = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (first_seen < first.size() && std::chrono::steady_clock::now() < deadline) {
      natsMsg* raw = nullptr;
      if (natsSubscription_NextMsg(&raw, sub.get(), 500) != NATS_OK) continue;
      Msg m(raw);
      const std::string payload = DataOf(m.get());
      EXPECT_EQ(others.count(payload), 0u) << "foo.other delivered to A: " << payload;
      if (first.count(payload) == 1) ++first_seen;
      if (unacked.empty() && first.count(payload) == 1) {
        unacked = payload;  // left for the next connection (redelivered after ack_wait)
      } else {
        Check(natsMsg_AckSync(m.get(), nullptr, nullptr), "ack on A");
        acked.insert(payload);
      }
    }
    ASSERT_EQ(first_seen, first.size()) << "A did not get this test's first batch";
  }
  const std::set<std::string> second = PublishTestAndOther("rebind-2", others);
  std::set<std::string> wanted = second;
  wanted.insert(unacked);
  Connection b = ConnectSidecar(region, "rebind-b");
  JetStream js = JetStreamOf(b.get());
  Subscription sub = subscribe(js);
  auto got = ReceiveUntil(sub.get(), false, wanted, true, std::chrono::seconds(30));
  auto rest = ReceiveUntil(sub.get(), false, {"(never)"}, true, std::chrono::milliseconds(2500));
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(Missing(wanted, got), "(none)");
  for (const auto& m : got) {
    EXPECT_EQ(m.subject, "foo.test") << m.payload;
    EXPECT_EQ(acked.count(m.payload), 0u) << "acked by A, delivered again to B: " << m.payload;
  }
  for (const auto& origin : kRegions) {
    json direct =
        NodeApi("$JS.API.CONSUMER.INFO.foo-read-" + region + "." + durable + "__" + origin);
    EXPECT_EQ(direct.value("num_ack_pending", -1), 0) << direct.dump();
    EXPECT_EQ(direct.value("num_pending", -1), 0) << direct.dump();
  }
  Connection c = ConnectSidecar(region, "rebind-c");
  JetStream jc = JetStreamOf(c.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.ManualAck = true;
  so.Config.Durable = durable.c_str();
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  EXPECT_NE(js_SubscribeSync(&raw, jc.get(), "foo.test", nullptr, &so, &err), NATS_OK);
  EXPECT_NE(std::string(nats_GetLastError(nullptr)).find("bound"), std::string::npos)
      << nats_GetLastError(nullptr);
  if (raw) natsSubscription_Destroy(raw);
}

TEST_F(SidecarOverNode, QueueGroupPushConsumerIsSharedByMembersOnDifferentConnections) {
  const std::string region = "west";
  const std::string durable = "queue-" + std::to_string(::getpid());
  auto join = [&](JetStream& js) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.ManualAck = true;
    so.Config.Durable = durable.c_str();
    so.Config.AckWait = 1500LL * 1000 * 1000;
    so.Queue = "workers";
    natsSubscription* raw = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    Check(js_SubscribeSync(&raw, js.get(), "foo.test", nullptr, &so, &err),
          "queue member of a durable push consumer on foo.test (JetStream error " +
              std::to_string(err) + ")");
    return Subscription(raw);
  };
  std::set<std::string> others;
  Connection b = ConnectSidecar(region, "queue-b");
  JetStream jb = JetStreamOf(b.get());
  std::vector<Received> got;
  {
    Connection a = ConnectSidecar(region, "queue-a");
    JetStream ja = JetStreamOf(a.get());
    Subscription sa = join(ja);
    Subscription sb_first = join(jb);
    const std::set<std::string> first = PublishTestAndOther("queue-1", others);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::set<std::string> seen_first;
    while (seen_first.size() < first.size() && std::chrono::steady_clock::now() < deadline) {
      for (natsSubscription* sub : {sa.get(), sb_first.get()}) {
        auto part = ReceiveUntil(sub, false, {"(never)"}, true, std::chrono::milliseconds(300));
        for (const auto& m : part) {
          if (first.count(m.payload)) seen_first.insert(m.payload);
        }
        got.insert(got.end(), part.begin(), part.end());
      }
    }
    EXPECT_EQ(seen_first, first);
  }
  Subscription sb = join(jb);
  const std::set<std::string> second = PublishTestAndOther("queue-2", others);
  auto rest = ReceiveUntil(sb.get(), false, second, true, std::chrono::seconds(30));
  EXPECT_EQ(Missing(second, rest), "(none)");
  got.insert(got.end(), rest.begin(), rest.end());
  std::set<std::string> once;
  for (const auto& m : got) {
    EXPECT_EQ(m.subject, "foo.test") << m.payload;
    EXPECT_EQ(others.count(m.payload), 0u) << "foo.other delivered: " << m.payload;
    if (m.delivered == 1) {
      EXPECT_TRUE(once.insert(m.payload).second) << "twice: " << m.payload;
    }
  }
}

// A client bound to its durable push consumer keeps getting its messages after the sidecar
// it uses is restarted (libnats reconnects and re-sends the subscription; the node's push
// consumer delivers again once the deliver subject has interest).
TEST_F(SidecarOverNode, ReboundDurablePushConsumerKeepsDeliveringAcrossASidecarRestart) {
  const std::string region = "east";
  const std::string durable = "screstart-" + std::to_string(::getpid());
  harness::SidecarSpec spec = W().sidecars.at(region)->spec();
  spec.name = "sidecar-east-restarted";
  harness::SidecarProcess own(W().run_dir->path(), spec);
  own.Start();
  auto subscribe = [&](JetStream& js) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.ManualAck = true;
    so.Config.Durable = durable.c_str();
    so.Config.AckWait = 1500LL * 1000 * 1000;
    natsSubscription* raw = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    Check(js_SubscribeSync(&raw, js.get(), "foo.test", nullptr, &so, &err),
          "durable push consumer on foo.test (JetStream error " + std::to_string(err) + ")");
    return Subscription(raw);
  };
  std::set<std::string> others;
  const std::set<std::string> first = PublishTestAndOther("screstart-1", others);
  {
    Connection a = ConnectSidecar(region, "screstart-a");
    JetStream js = JetStreamOf(a.get());
    Subscription sub = subscribe(js);
    auto got = ReceiveUntil(sub.get(), false, first, true, std::chrono::seconds(30));
    ASSERT_EQ(Missing(first, got), "(none)");
  }
  const std::set<std::string> second = PublishTestAndOther("screstart-2", others);
  Connection b = Connect(own.ClientUrl(), "screstart-b");
  JetStream js = JetStreamOf(b.get());
  Subscription sub = subscribe(js);
  auto got = ReceiveUntil(sub.get(), false, second, true, std::chrono::seconds(30));
  EXPECT_EQ(Missing(second, got), "(none)");
  own.Stop();
  ASSERT_FALSE(own.Running());
  const std::set<std::string> third = PublishTestAndOther("screstart-3", others);
  own.Start();
  auto after = ReceiveUntil(sub.get(), false, third, true, std::chrono::seconds(60));
  EXPECT_EQ(Missing(third, after), "(none)") << own.process().LogTail();
  got.insert(got.end(), after.begin(), after.end());
  for (const auto& m : got) {
    EXPECT_EQ(m.subject, "foo.test") << m.payload;
    EXPECT_EQ(first.count(m.payload), 0u) << "acked before, delivered again: " << m.payload;
    EXPECT_EQ(others.count(m.payload), 0u) << "foo.other delivered: " << m.payload;
  }
}

// The creator of a durable push consumer (libnats js_Subscribe: its own _INBOX deliver subject)
// keeps getting its messages after the sidecar is restarted: the new sidecar process finds the
// consumer by that inbox in the origin consumers' descriptions (CONSUMER.LIST of the node).
TEST_F(SidecarOverNode, CreatorOfADurablePushConsumerKeepsReceivingAcrossASidecarRestart) {
  const std::string region = "west";
  const std::string durable = "sccreator-" + std::to_string(::getpid());
  harness::SidecarSpec spec = W().sidecars.at(region)->spec();
  spec.name = "sidecar-west-creator";
  harness::SidecarProcess own(W().run_dir->path(), spec);
  own.Start();
  Connection b = Connect(own.ClientUrl(), "sccreator-b");
  JetStream js = JetStreamOf(b.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.ManualAck = true;
  so.Config.Durable = durable.c_str();
  so.Config.AckWait = 1500LL * 1000 * 1000;
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_SubscribeSync(&raw, js.get(), "foo.test", nullptr, &so, &err),
        "durable push consumer on foo.test (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  std::set<std::string> others;
  const std::set<std::string> first = PublishTestAndOther("sccreator-1", others);
  auto got = ReceiveUntil(sub.get(), false, first, true, std::chrono::seconds(30));
  ASSERT_EQ(Missing(first, got), "(none)");
  own.Stop();
  ASSERT_FALSE(own.Running());
  const std::set<std::string> second = PublishTestAndOther("sccreator-2", others);
  own.Start();
  auto after = ReceiveUntil(sub.get(), false, second, true, std::chrono::seconds(60));
  EXPECT_EQ(Missing(second, after), "(none)") << own.process().LogTail();
  for (const auto& m : after) {
    EXPECT_EQ(m.subject, "foo.test") << m.payload;
    EXPECT_EQ(first.count(m.payload), 0u) << "acked before, delivered again: " << m.payload;
    EXPECT_EQ(others.count(m.payload), 0u) << "foo.other delivered: " << m.payload;
  }
  js_DeleteConsumer(js.get(), "foo", durable.c_str(), nullptr, &err);
}

// The same check as the suite over stock servers (js_restart.h): a nats.js app's filtered
// durable push consumer, created with its own _INBOX, keeps delivering every message once
// across a restart of its sidecar, the consumer re-bound by deliver subject from the node's
// CONSUMER.LIST.
TEST_F(SidecarOverNode,
       NatsJsCreatorOfAFilteredDurablePushConsumerGetsEveryMessageOnceAcrossARestart) {
  JsRestartWorld world;
  world.run_dir = W().run_dir->path();
  world.sidecar = W().sidecars.at("central")->spec();
  world.sidecar.name = "sidecar-central-js-restart";
  world.regions = kRegions;
  world.connect = [](const std::string& region, const std::string& name) {
    return ConnectSidecar(region, name);
  };
  CheckNatsJsFilteredDurableAcrossSidecarRestart(world);
}

// Never poison a read stream (what stalls a 2.9.10 source: a stored Nats-Expected-* header,
// the same Nats-Msg-Id in two write streams, a rollup): over the node too, every read stream
// keeps sourcing, with no source error.
TEST_F(SidecarOverNode, ReadStreamsKeepSourcingAfterExpectedStreamReusedMsgIdAndRefusedRollup) {
  const std::string token = UniqueToken("poison");
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "poison-expected");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectStream = "foo";
    EXPECT_EQ(JsPublish(nc.get(), "foo.poison", token + "-expected-" + r, &po).stream, "foo");
  }
  for (const std::string r : {"east", "west"}) {
    Connection nc = ConnectSidecar(r, "poison-msgid");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    const std::string id = token + "-same-id";
    po.MsgId = id.c_str();
    EXPECT_FALSE(JsPublish(nc.get(), "foo.poison", token + "-msgid-" + r, &po).duplicate) << r;
  }
  {
    Connection nc = ConnectSidecar("central", "poison-rollup");
    Msg reply = Request(nc.get(), "foo.poison", token + "-rollup", {{"Nats-Rollup", "sub"}});
    ASSERT_TRUE(reply);
    EXPECT_NE(DataOf(reply.get()).find("\"error\""), std::string::npos) << DataOf(reply.get());
  }
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "poison-after");
    JsPublish(nc.get(), "foo.after", token + "-after-" + r);
  }
  WaitForConvergence();
  for (const auto& reader : kRegions) {
    for (const auto& origin : kRegions) {
      json got = NodeApi("$JS.API.STREAM.MSG.GET.foo-read-" + reader,
                         json{{"last_by_subj", "foo." + origin + ".after"}}.dump());
      ASSERT_TRUE(got.contains("message")) << reader << " <- " << origin << ": " << got.dump();
      EXPECT_EQ(Base64Decode(got["message"].value("data", "")), token + "-after-" + origin);
    }
    for (const std::string origin : {"east", "west"}) {
      json got = NodeApi("$JS.API.STREAM.MSG.GET.foo-read-" + reader,
                         json{{"last_by_subj", "foo." + origin + ".poison"}}.dump());
      ASSERT_TRUE(got.contains("message")) << reader << " <- " << origin << ": " << got.dump();
      EXPECT_EQ(Base64Decode(got["message"].value("data", "")), token + "-msgid-" + origin);
    }
    json info = NodeApi("$JS.API.STREAM.INFO.foo-read-" + reader);
    for (const auto& src : info.value("sources", json::array())) {
      EXPECT_FALSE(src.contains("error")) << reader << ": " << src.dump();
    }
  }
}

TEST_F(SidecarOverNode, CorePubSubAndRequestReplyAcrossTwoSidecars) {
  Connection responder = ConnectSidecar("east", "responder");
  Connection requester = ConnectSidecar("west", "requester");
  const std::string svc = "svc." + UniqueToken("echo");
  natsSubscription* raw = nullptr;
  Check(natsConnection_SubscribeSync(&raw, responder.get(), svc.c_str()), "subscribe " + svc);
  Subscription sub(raw);
  Check(natsConnection_Flush(responder.get()), "flush");
  // Plain publish, west -> east.
  const std::string plain = "plain." + svc;
  natsSubscription* raw2 = nullptr;
  Check(natsConnection_SubscribeSync(&raw2, responder.get(), plain.c_str()), "subscribe " + plain);
  Subscription plain_sub(raw2);
  Check(natsConnection_Flush(responder.get()), "flush");
  Check(natsConnection_PublishString(requester.get(), plain.c_str(), "hello"), "publish");
  Check(natsConnection_Flush(requester.get()), "flush");
  natsMsg* got = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&got, plain_sub.get(), 5000), NATS_OK);
  EXPECT_EQ(DataOf(got), "hello");
  natsMsg_Destroy(got);
  // Request/reply, west -> east -> west, answered on a thread.
  std::thread answer([&] {
    natsMsg* req = nullptr;
    if (natsSubscription_NextMsg(&req, sub.get(), 10000) != NATS_OK) return;
    const std::string body = "re:" + DataOf(req);
    natsConnection_PublishString(responder.get(), natsMsg_GetReply(req), body.c_str());
    natsConnection_Flush(responder.get());
    natsMsg_Destroy(req);
  });
  natsStatus s = NATS_OK;
  Msg reply = Request(requester.get(), svc, "ping", {}, 10000, &s);
  answer.join();
  ASSERT_TRUE(reply) << natsStatus_GetText(s);
  EXPECT_EQ(DataOf(reply.get()), "re:ping");
}

TEST_F(SidecarOverNode, HealthzIsOkAndJetStreamReadyForEveryRegionOverTheNode) {
  for (const auto& [region, sidecar] : W().sidecars) {
    harness::HttpResponse health = harness::HttpGet("127.0.0.1", sidecar->http_port(), "/healthz");
    EXPECT_EQ(health.status, 200) << region << ": " << health.body << health.error;
    json h = json::parse(health.body, nullptr, false);
    EXPECT_EQ(h.value("status", ""), "ok") << health.body;
    EXPECT_EQ(h.value("region", ""), region) << health.body;
    // JetStream readiness (STREAM.INFO of foo-write-<region> on the node) says ready; it may
    // take a probe interval after start, so wait for it (bounded).
    json varz;
    bool ready = false;
    for (int i = 0; i < 100 && !ready; ++i) {
      harness::HttpResponse v = harness::HttpGet("127.0.0.1", sidecar->http_port(), "/varz");
      varz = json::parse(v.body, nullptr, false);
      ready = !varz.is_discarded() && varz["failover"]["jetstream_ready"].is_object() &&
              varz["failover"]["jetstream_ready"].value(region, false);
      if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(ready) << region << ": " << varz.dump();
    if (!varz.is_discarded() && varz["failover"]["jetstream_not_ready"].is_object()) {
      EXPECT_TRUE(varz["failover"]["jetstream_not_ready"].empty()) << varz.dump();
    }
  }
}

// Whatever the other cases did, the sidecars understood every reply of the node: nothing
// unparseable, no protocol error on the upstream side.
TEST_F(SidecarOverNode, EveryReplyOfTheNodeWasUnderstoodBySidecars) {
  for (const auto& [region, sidecar] : W().sidecars) {
    harness::HttpResponse v = harness::HttpGet("127.0.0.1", sidecar->http_port(), "/varz");
    json varz = json::parse(v.body, nullptr, false);
    ASSERT_TRUE(varz.is_object()) << v.body << v.error;
    std::cerr << "[sidecar-node-it] " << region << " varz: " << varz.dump() << "\n";
    EXPECT_EQ(varz.value("unparseable_replies", -1), 0) << varz.dump();
    EXPECT_EQ(varz["rewrite"].value("replies_unparseable", -1), 0) << varz.dump();
    EXPECT_EQ(varz.value("upstream_protocol_errors", -1), 0) << varz.dump();
    EXPECT_EQ(varz.value("client_protocol_errors", -1), 0) << varz.dump();
  }
}

}  // namespace
}  // namespace meridian::sidecar_it
