// One 3-region super-cluster (3 stock nats-servers per region, plus the stretch cluster xr)
// shared by every test of the suite: real clients cross gateways and reach JetStream.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness/gtest_support.h"
#include "harness/nats_cluster.h"
#include "harness/node_script.h"
#include "libnats_client.h"

namespace meridian::plumbing {
namespace {

using harness::NatsSuperCluster;

class SuperCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    run_dir_ = new harness::TestRunDir("SuperCluster");
    harness::SuperClusterOptions opts;
    opts.unique_tag = "az:";
    opts.stretch_cluster = true;
    cluster_ = new NatsSuperCluster(run_dir_->path(), opts);
    const auto start = std::chrono::steady_clock::now();
    try {
      cluster_->Start();
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
      return;
    }
    startup_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    std::cerr << "[harness] " << cluster_->servers().size() << " servers ready in " << startup_ms_
              << " ms\n";
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete run_dir_;
    run_dir_ = nullptr;
  }
  void SetUp() override {
    if (startup_ms_ < 0) GTEST_SKIP() << "the super-cluster did not start (see the first failure)";
  }

  static Connection ConnectApp(const std::string& cluster, const std::string& name) {
    auto app = cluster_->app_user();
    return Connect(cluster_->ClientUrls(cluster), app->user, app->password, name);
  }

  static inline harness::TestRunDir* run_dir_ = nullptr;
  static inline NatsSuperCluster* cluster_ = nullptr;
  static inline long startup_ms_ = -1;
};

TEST_F(SuperCluster, NamesServersAfterTheirRegionAndTagsThem) {
  const auto& west2 = cluster_->server("west-2");
  EXPECT_EQ(west2.cluster, "west");
  EXPECT_EQ(west2.tags, (std::vector<std::string>{"az:2", "rg:west"}));
  const auto& xr = cluster_->server("xr-central");
  EXPECT_EQ(xr.cluster, "xr");
  EXPECT_EQ(xr.region, "central");
  EXPECT_EQ(cluster_->clusters(), (std::vector<std::string>{"east", "central", "west", "xr"}));
  EXPECT_EQ(cluster_->servers().size(), 12u);
}

TEST_F(SuperCluster, WritesEachServersConfigToItsRunDirectory) {
  const auto& s = cluster_->server("east-1");
  std::ifstream in(s.config_path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), cluster_->ServerConfig(s));
  EXPECT_NE(text.str().find("server_name: east-1"), std::string::npos);
  EXPECT_NE(text.str().find("unique_tag: \"az:\""), std::string::npos);
  for (const char* other : {"\"central\"", "\"west\"", "\"xr\""}) {
    EXPECT_NE(text.str().find(std::string("{name: ") + other), std::string::npos) << other;
  }
  EXPECT_TRUE(std::filesystem::exists(cluster_->run_dir() / "conf" / "accounts-east.conf"));
}

TEST_F(SuperCluster, EveryServerNamesTheSameMetaLeader) {
  const std::string leader = cluster_->MetaLeader("east-1");
  ASSERT_FALSE(leader.empty());
  for (const auto& s : cluster_->servers()) EXPECT_EQ(cluster_->MetaLeader(s.name), leader);
}

TEST_F(SuperCluster, LibnatsSubscriberInEastReceivesWhatWestPublishes) {
  Connection east = ConnectApp("east", "plumbing-sub");
  Connection west = ConnectApp("west", "plumbing-pub");
  natsSubscription* raw = nullptr;
  Check(natsConnection_SubscribeSync(&raw, east.get(), "plumbing.libnats"), "subscribe");
  Subscription sub(raw);
  Check(natsConnection_Flush(east.get()), "flush");

  // Interest reaches the other clusters asynchronously: publish until it arrives.
  const std::string payload = "from west";
  Msg got;
  for (int attempt = 0; attempt < 50 && !got; ++attempt) {
    Check(natsConnection_PublishString(west.get(), "plumbing.libnats", payload.c_str()), "publish");
    Check(natsConnection_Flush(west.get()), "flush");
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub.get(), 200) == NATS_OK) got.reset(m);
  }
  ASSERT_TRUE(got) << "nothing arrived in east within 10 s";
  EXPECT_EQ(std::string(natsMsg_GetData(got.get()), natsMsg_GetDataLength(got.get())), payload);
  EXPECT_STREQ(natsMsg_GetSubject(got.get()), "plumbing.libnats");
}

TEST_F(SuperCluster, NatsJsSubscriberInCentralReceivesWhatEastPublishes) {
  auto app = cluster_->app_user();
  auto result = harness::RunNodeScript(
      "pubsub.mjs",
      {"--sub-url", cluster_->ClientUrls("central"), "--pub-url", cluster_->ClientUrls("east"),
       "--user", app->user, "--password", app->password, "--subject", "plumbing.js"},
      run_dir_->path() / "logs" / "pubsub-js.log", std::chrono::seconds(30));
  EXPECT_TRUE(result.ok()) << result.Describe();
  EXPECT_NE(result.output.find("received \"hello from east"), std::string::npos) << result.output;
}

// Creates an R3 file stream placed in `cluster` from a client in `client_cluster`, publishes
// one message, and reads it back with a pull consumer. Returns the stream's cluster info.
struct StreamCheck {
  std::string cluster, leader;
  std::vector<std::string> replicas;
  uint64_t sequence = 0;
  std::string received;
};

StreamCheck CreatePublishFetch(natsConnection* nc, const std::string& stream,
                               const std::string& placement) {
  StreamCheck out;
  jsCtx* raw_js = nullptr;
  Check(natsConnection_JetStream(&raw_js, nc, nullptr), "natsConnection_JetStream");
  JetStream js(raw_js);

  const std::string subject = stream + ".>";
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = stream.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = 3;
  jsPlacement placement_cfg;
  jsPlacement_Init(&placement_cfg);
  placement_cfg.Cluster = placement.c_str();
  cfg.Placement = &placement_cfg;
  jsStreamInfo* si = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_AddStream(&si, js.get(), &cfg, nullptr, &err),
        "create stream " + stream + " (JetStream error " + std::to_string(err) + ")");
  if (si->Cluster != nullptr) {
    out.cluster = si->Cluster->Name ? si->Cluster->Name : "";
    out.leader = si->Cluster->Leader ? si->Cluster->Leader : "";
    for (int i = 0; i < si->Cluster->ReplicasLen; ++i) {
      out.replicas.push_back(si->Cluster->Replicas[i]->Name);
    }
  }
  jsStreamInfo_Destroy(si);

  // A new R3 stream or consumer may still be electing its leader when the API has answered;
  // a request sent meanwhile gets no reply, so each step is retried a few times.
  const std::string payload = "one message for " + stream;
  natsStatus status = NATS_TIMEOUT;
  for (int attempt = 0; attempt < 5 && status != NATS_OK; ++attempt) {
    jsPubAck* ack = nullptr;
    jsPubOptions pub_opts;
    jsPubOptions_Init(&pub_opts);
    pub_opts.MsgId = "plumbing-1";  // a retried publish is stored once
    pub_opts.MaxWait = 2000;
    status = js_Publish(&ack, js.get(), (stream + ".hello").c_str(), payload.data(),
                        static_cast<int>(payload.size()), &pub_opts, &err);
    if (status == NATS_OK) out.sequence = ack->Sequence;
    jsPubAck_Destroy(ack);
  }
  Check(status, "publish to " + stream);

  natsSubscription* raw_sub = nullptr;
  Check(js_PullSubscribe(&raw_sub, js.get(), subject.c_str(), "reader", nullptr, nullptr, &err),
        "pull subscribe on " + stream);
  Subscription sub(raw_sub);
  status = NATS_TIMEOUT;
  for (int attempt = 0; attempt < 5 && status != NATS_OK; ++attempt) {
    natsMsgList list{};
    status = natsSubscription_Fetch(&list, sub.get(), 1, 2000, &err);
    if (status == NATS_OK && list.Count == 1) {
      out.received.assign(natsMsg_GetData(list.Msgs[0]), natsMsg_GetDataLength(list.Msgs[0]));
      natsMsg_Ack(list.Msgs[0], nullptr);
    }
    natsMsgList_Destroy(&list);
  }
  Check(status, "fetch from " + stream);
  return out;
}

TEST_F(SuperCluster, JetStreamStreamPlacedInWestIsUsableFromEast) {
  Connection east = ConnectApp("east", "plumbing-js");
  StreamCheck r = CreatePublishFetch(east.get(), "PLUMB_WEST", "west");
  EXPECT_EQ(r.cluster, "west");
  EXPECT_EQ(r.leader.rfind("west-", 0), 0u) << r.leader;
  EXPECT_EQ(r.replicas.size(), 2u);
  EXPECT_EQ(r.sequence, 1u);
  EXPECT_EQ(r.received, "one message for PLUMB_WEST");
}

TEST_F(SuperCluster, StretchStreamSpreadsItsReplicasOverRegions) {
  Connection west = ConnectApp("west", "plumbing-xr");
  StreamCheck r = CreatePublishFetch(west.get(), "PLUMB_XR", "xr");
  EXPECT_EQ(r.cluster, "xr");
  std::vector<std::string> all = r.replicas;
  all.push_back(r.leader);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::string>{"xr-central", "xr-east", "xr-west"}));
  EXPECT_EQ(r.received, "one message for PLUMB_XR");
}

}  // namespace
}  // namespace meridian::plumbing
