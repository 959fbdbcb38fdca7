// The fault proxy on every link between regions of a real super-cluster of stock nats-servers
// (3 regions x 3 servers, accounts on): latency it adds is seen end to end, cutting a region
// or splitting the super-cluster stops traffic across the cut, healing brings it back, and
// JetStream sourcing catches up after a region was cut off.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "faultproxy/faulty_cluster.h"
#include "harness/gtest_support.h"
#include "tests/plumbing/libnats_client.h"

namespace meridian::faultproxy {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

harness::SuperClusterOptions Options3x3() {
  harness::SuperClusterOptions opts;
  // Peers notice a silent (black-holed) gateway in seconds, not the default minutes.
  opts.all_servers_config = "ping_interval: \"1s\"\nping_max: 3\n";
  return opts;
}

plumbing::Connection ConnectApp(harness::NatsSuperCluster& c, const std::string& region,
                                const std::string& name) {
  return plumbing::Connect(c.ClientUrls(region), "app", "app", name);
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Counts messages on one subject, from libnats's callback thread.
class Counter {
 public:
  Counter(natsConnection* nc, const std::string& subject) {
    natsSubscription* sub = nullptr;
    plumbing::Check(natsConnection_Subscribe(&sub, nc, subject.c_str(), &Counter::OnMsg, this),
                    "subscribe " + subject);
    sub_.reset(sub);
    plumbing::Check(natsConnection_FlushTimeout(nc, 5000), "flush");
  }
  int count() const { return count_.load(); }

 private:
  static void OnMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
    static_cast<Counter*>(self)->count_++;
    natsMsg_Destroy(msg);
  }
  std::atomic<int> count_{0};
  plumbing::Subscription sub_;
};

// Publishes on `subject` every 100 ms until `counter` rises, at most `limit`. Returns the time
// it took, or nullopt.
std::optional<Clock::duration> PublishUntilReceived(natsConnection* nc, const std::string& subject,
                                                    const Counter& counter,
                                                    std::chrono::milliseconds limit) {
  const auto start = Clock::now();
  const int before = counter.count();
  while (Clock::now() - start < limit) {
    natsConnection_PublishString(nc, subject.c_str(), "ping");
    natsConnection_FlushTimeout(nc, 1000);
    for (int i = 0; i < 10; ++i) {
      if (counter.count() > before) return Clock::now() - start;
      std::this_thread::sleep_for(10ms);
    }
  }
  return std::nullopt;
}

// Waits until `counter` has not changed for `still` (at most `limit`): pings published by
// PublishUntilReceived after the first one got through, and bytes a black hole held until
// the heal, are still arriving when it returns.
void Settle(const Counter& counter, std::chrono::milliseconds still = 500ms,
            std::chrono::milliseconds limit = 10s) {
  const auto give_up = Clock::now() + limit;
  int last = counter.count();
  auto changed = Clock::now();
  while (Clock::now() < give_up && Clock::now() - changed < still) {
    std::this_thread::sleep_for(20ms);
    if (const int now = counter.count(); now != last) {
      last = now;
      changed = Clock::now();
    }
  }
}

// Publishes `n` messages and waits `quiet` for any of them to arrive.
int ReceivedOf(natsConnection* nc, const std::string& subject, const Counter& counter, int n,
               std::chrono::milliseconds quiet) {
  const int before = counter.count();
  for (int i = 0; i < n; ++i) natsConnection_PublishString(nc, subject.c_str(), "x");
  natsConnection_FlushTimeout(nc, 1000);
  std::this_thread::sleep_for(quiet);
  return counter.count() - before;
}

TEST(FaultProxy, EveryGatewayConnectionGoesThroughTheProxy) {
  harness::TestRunDir dir;
  FaultyNatsSuperCluster fc(dir.path(), Options3x3());
  fc.Start();
  std::this_thread::sleep_for(1s);  // let gossiped gateway URLs be used too
  EXPECT_EQ(fc.LinksAroundProxy(), "");
  // Every server dials one gateway per other region (to a server of its choice), so at least
  // 9 x 2 connections came through the proxy, and all of them carried bytes both ways.
  uint64_t connections = 0, to = 0, from = 0;
  for (const auto& [name, t] : fc.proxy().Targets()) {
    connections += t.connections;
    to += t.bytes_to_target;
    from += t.bytes_from_target;
  }
  EXPECT_GE(connections, 18u);
  EXPECT_GT(to, 0u);
  EXPECT_GT(from, 0u);
  // Dialers are told apart: traffic is counted per region pair, none from an unknown source.
  EXPECT_GT(fc.proxy().Path("east", "west").connections, 0u);
  EXPECT_GT(fc.proxy().Path("west", "east").bytes, 0u);
  EXPECT_EQ(fc.proxy().Path("", "west").connections, 0u);
  EXPECT_EQ(fc.proxy().Path("", "east").connections, 0u);
}

TEST(FaultProxy, StretchClusterRoutesGoThroughTheProxyToo) {
  harness::TestRunDir dir;
  auto opts = Options3x3();
  opts.stretch_cluster = true;
  FaultyNatsSuperCluster fc(dir.path(), opts);
  fc.Start();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(fc.LinksAroundProxy(), "");
  uint64_t route_connections = 0;
  for (const auto& region : {"east", "central", "west"}) {
    route_connections += fc.proxy().Target(std::string("xr-") + region + "/route").connections;
  }
  EXPECT_GE(route_connections, 3u);  // one route per pair of stretch nodes, at least
  EXPECT_GT(fc.proxy().Path("west", "east").bytes, 0u);
  EXPECT_EQ(fc.proxy().Path("", "xr-west").connections, 0u);
  EXPECT_EQ(fc.ProxyPort("east-1", harness::LinkKind::kRoute), 0u);  // inside a region: direct
}

TEST(FaultProxy, OneWayLatencyOf40MsMakesARequestFromEastToWestTakeAtLeast80Ms) {
  harness::TestRunDir dir;
  FaultyNatsSuperCluster fc(dir.path(), Options3x3());
  fc.Start();
  auto west = ConnectApp(fc.cluster(), "west", "responder");
  auto east = ConnectApp(fc.cluster(), "east", "requester");
  natsSubscription* raw = nullptr;
  plumbing::Check(natsConnection_Subscribe(
                      &raw, west.get(), "svc.echo",
                      [](natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
                        if (natsMsg_GetReply(m))
                          natsConnection_PublishString(nc, natsMsg_GetReply(m), "pong");
                        natsMsg_Destroy(m);
                      },
                      nullptr),
                  "subscribe svc.echo");
  plumbing::Subscription sub(raw);
  plumbing::Check(natsConnection_FlushTimeout(west.get(), 5000), "flush");

  auto round_trip = [&]() -> double {
    natsMsg* reply = nullptr;
    auto start = Clock::now();
    plumbing::Check(natsConnection_RequestString(&reply, east.get(), "svc.echo", "ping", 5000),
                    "request svc.echo");
    double ms = Ms(Clock::now() - start);
    natsMsg_Destroy(reply);
    return ms;
  };
  // Interest crosses the gateways first (until then east answers "no responders").
  const auto deadline = Clock::now() + 10s;
  while (true) {
    natsMsg* reply = nullptr;
    if (natsConnection_RequestString(&reply, east.get(), "svc.echo", "ping", 1000) == NATS_OK) {
      natsMsg_Destroy(reply);
      break;
    }
    ASSERT_LT(Clock::now(), deadline) << "west's responder never became reachable from east";
    std::this_thread::sleep_for(100ms);
  }
  double direct = 1e9;
  for (int i = 0; i < 5; ++i) direct = std::min(direct, round_trip());

  fc.proxy().SetLatencyBetweenAll({"east", "central", "west"}, 40ms);
  round_trip();  // the first one may still have bytes queued from before
  double min = 1e9, max = 0;
  for (int i = 0; i < 10; ++i) {
    double ms = round_trip();
    min = std::min(min, ms);
    max = std::max(max, ms);
  }
  std::printf(
      "[faultproxy] east->west request/reply: %.2f ms without faults; with 40 ms one-way: "
      "min %.1f ms, max %.1f ms over 10\n",
      direct, min, max);
  EXPECT_GE(min, 80.0);
  EXPECT_LT(max, 1000.0);
}

TEST(FaultProxy, CuttingWestOffStopsMessagesFromEastAndHealingRestoresThem) {
  harness::TestRunDir dir;
  FaultyNatsSuperCluster fc(dir.path(), Options3x3());
  fc.Start();
  auto west = ConnectApp(fc.cluster(), "west", "sub");
  auto east = ConnectApp(fc.cluster(), "east", "pub");
  Counter counter(west.get(), "drill.cut");
  ASSERT_TRUE(PublishUntilReceived(east.get(), "drill.cut", counter, 10s));
  Settle(counter);

  fc.proxy().CutRegion("west", CutMode::kBlackhole);
  EXPECT_EQ(ReceivedOf(east.get(), "drill.cut", counter, 20, 2s), 0);

  fc.proxy().HealAll();
  auto took = PublishUntilReceived(east.get(), "drill.cut", counter, 30s);
  ASSERT_TRUE(took) << "messages from east never reached west again within 30 s after healing";
  std::printf("[faultproxy] west black-holed 2 s, healed: east->west delivery back after %.0f ms\n",
              Ms(*took));
  // Once healed (and what the black hole held has arrived), a burst arrives whole.
  Settle(counter);
  EXPECT_EQ(ReceivedOf(east.get(), "drill.cut", counter, 50, 3s), 50);
}

TEST(FaultProxy, RefusingWestResetsItsGatewaysAndHealingRestoresThem) {
  harness::TestRunDir dir;
  FaultyNatsSuperCluster fc(dir.path(), Options3x3());
  fc.Start();
  auto west = ConnectApp(fc.cluster(), "west", "sub");
  auto east = ConnectApp(fc.cluster(), "east", "pub");
  Counter counter(west.get(), "drill.refuse");
  ASSERT_TRUE(PublishUntilReceived(east.get(), "drill.refuse", counter, 10s));
  Settle(counter);

  fc.proxy().CutRegion("west", CutMode::kRefuse);
  // The six servers outside west each had a gateway into west: all of them were reset.
  uint64_t reset = 0, open_into_west = 0;
  for (const auto* s : fc.cluster().ServersIn("west")) {
    auto t =
        fc.proxy().Target(FaultyNatsSuperCluster::TargetName(s->name, harness::LinkKind::kGateway));
    reset += t.reset;
    open_into_west += t.open;
  }
  EXPECT_GT(reset, 0u);
  EXPECT_EQ(open_into_west, 0u);
  EXPECT_EQ(ReceivedOf(east.get(), "drill.refuse", counter, 20, 1s), 0);

  fc.proxy().HealAll();
  auto took = PublishUntilReceived(east.get(), "drill.refuse", counter, 30s);
  ASSERT_TRUE(took) << "messages from east never reached west again within 30 s after healing";
  std::printf("[faultproxy] west refused 1 s, healed: east->west delivery back after %.0f ms\n",
              Ms(*took));
}

TEST(FaultProxy, SplitBrainEastAgainstCentralAndWestKeepsTheMajoritySideTalkingThenHeals) {
  harness::TestRunDir dir;
  FaultyNatsSuperCluster fc(dir.path(), Options3x3());
  fc.Start();
  auto west = ConnectApp(fc.cluster(), "west", "sub");
  auto east = ConnectApp(fc.cluster(), "east", "pub-east");
  auto central = ConnectApp(fc.cluster(), "central", "pub-central");
  Counter counter(west.get(), "drill.split");
  ASSERT_TRUE(PublishUntilReceived(east.get(), "drill.split", counter, 10s));
  ASSERT_TRUE(PublishUntilReceived(central.get(), "drill.split", counter, 10s));
  Settle(counter);

  fc.proxy().Partition({{"east"}, {"central", "west"}}, CutMode::kBlackhole);
  const auto cut = Clock::now();
  EXPECT_EQ(ReceivedOf(east.get(), "drill.split", counter, 20, 2s), 0);
  EXPECT_EQ(ReceivedOf(central.get(), "drill.split", counter, 20, 3s), 20);
  // Nothing is closed by a black hole: both sides find out by their own ping timeouts (1 s x 3).
  auto split_seen = [&] {
    return fc.OutboundGateways("east-1").empty() &&
           fc.OutboundGateways("west-1") == std::vector<std::string>{"central"};
  };
  bool detected = false;
  while (Clock::now() - cut < 20s && !detected) {
    detected = split_seen();
    if (!detected) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(detected) << "20 s into the split, east-1 still has gateways or west-1 still has "
                           "one to east";
  std::printf(
      "[faultproxy] split {east}|{central,west}: east-1 and west-1 dropped the gateways "
      "across it %.0f ms after the cut\n",
      Ms(Clock::now() - cut));
  std::printf(
      "[faultproxy] split {east}|{central,west}: meta leader seen by east-1 \"%s\", by "
      "west-1 \"%s\"\n",
      fc.cluster().MetaLeader("east-1").c_str(), fc.cluster().MetaLeader("west-1").c_str());

  fc.proxy().HealAll();
  auto took = PublishUntilReceived(east.get(), "drill.split", counter, 30s);
  ASSERT_TRUE(took) << "east never reached west again within 30 s after the split healed";
  std::printf("[faultproxy] split healed: east->west delivery back after %.0f ms\n", Ms(*took));
  const auto start = Clock::now();
  fc.cluster().WaitUntilReady(60s);
  std::printf(
      "[faultproxy] split healed: super-cluster ready again (one meta leader) after "
      "%.0f ms more\n",
      Ms(Clock::now() - start));
}

uint64_t StreamMessages(jsCtx* js, const std::string& stream) {
  jsStreamInfo* info = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  if (js_GetStreamInfo(&info, js, stream.c_str(), nullptr, &err) != NATS_OK) return 0;
  uint64_t n = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  return n;
}

void AddStream(jsCtx* js, jsStreamConfig* cfg) {
  jsStreamInfo* info = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  plumbing::Check(js_AddStream(&info, js, cfg, nullptr, &err),
                  std::string("add stream ") + cfg->Name + " (js error " +
                      std::to_string(static_cast<int>(err)) + ")");
  jsStreamInfo_Destroy(info);
}

bool WaitForMessages(jsCtx* js, const std::string& stream, uint64_t n,
                     std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (StreamMessages(js, stream) >= n) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

TEST(FaultProxy, WestCutOffKeepsTakingLocalPublishesAndEastsSourceCatchesUpAfterHealing) {
  harness::TestRunDir dir;
  FaultyNatsSuperCluster fc(dir.path(), Options3x3());
  fc.Start();
  auto west = ConnectApp(fc.cluster(), "west", "js-west");
  auto east = ConnectApp(fc.cluster(), "east", "js-east");
  jsCtx *wjs_raw = nullptr, *ejs_raw = nullptr;
  plumbing::Check(natsConnection_JetStream(&wjs_raw, west.get(), nullptr), "JetStream west");
  plumbing::Check(natsConnection_JetStream(&ejs_raw, east.get(), nullptr), "JetStream east");
  plumbing::JetStream wjs(wjs_raw), ejs(ejs_raw);

  const char* subjects[] = {"orders.west.>"};
  jsStreamConfig wcfg;
  jsStreamConfig_Init(&wcfg);
  wcfg.Name = "ORDERS_WEST";
  wcfg.Subjects = subjects;
  wcfg.SubjectsLen = 1;
  wcfg.Replicas = 3;
  jsPlacement wplace;
  jsPlacement_Init(&wplace);
  wplace.Cluster = "west";
  wcfg.Placement = &wplace;
  AddStream(wjs.get(), &wcfg);

  jsStreamSource source;
  jsStreamSource_Init(&source);
  source.Name = "ORDERS_WEST";
  jsStreamSource* sources[] = {&source};
  jsStreamConfig ecfg;
  jsStreamConfig_Init(&ecfg);
  ecfg.Name = "ORDERS_AGG_EAST";
  ecfg.Sources = sources;
  ecfg.SourcesLen = 1;
  ecfg.Replicas = 3;
  jsPlacement eplace;
  jsPlacement_Init(&eplace);
  eplace.Cluster = "east";
  ecfg.Placement = &eplace;
  AddStream(ejs.get(), &ecfg);

  auto publish = [&](int i) {
    jsPubAck* ack = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    std::string subject = "orders.west." + std::to_string(i);
    natsStatus s = js_Publish(&ack, wjs.get(), subject.c_str(), "o", 1, nullptr, &err);
    jsPubAck_Destroy(ack);
    return s == NATS_OK;
  };
  ASSERT_TRUE(publish(0));
  ASSERT_TRUE(WaitForMessages(ejs.get(), "ORDERS_AGG_EAST", 1, 30s))
      << "east's stream never sourced the first message from west";

  fc.proxy().CutRegion("west", CutMode::kBlackhole);
  const int kDuringCut = 20;
  int acked = 0;
  for (int i = 1; i <= kDuringCut; ++i) acked += publish(i) ? 1 : 0;
  EXPECT_EQ(acked, kDuringCut) << "west's stream stopped taking local publishes while cut off";
  EXPECT_EQ(StreamMessages(wjs.get(), "ORDERS_WEST"), 1u + kDuringCut);
  // Stay cut until west's servers have timed their gateways out (pings, 1 s x 3), so healing
  // has to reconnect the gateways and restart sourcing, not just release held bytes.
  const auto cut = Clock::now();
  while (Clock::now() - cut < 20s && !fc.OutboundGateways("west-1").empty()) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(fc.OutboundGateways("west-1").empty()) << "west-1 kept its gateways for 20 s";
  EXPECT_EQ(StreamMessages(ejs.get(), "ORDERS_AGG_EAST"), 1u)
      << "east's stream got messages from west across a cut";

  const auto healed = Clock::now();
  fc.proxy().HealAll();
  ASSERT_TRUE(WaitForMessages(ejs.get(), "ORDERS_AGG_EAST", 1u + kDuringCut, 90s))
      << "east's stream did not catch up within 90 s of healing; it has "
      << StreamMessages(ejs.get(), "ORDERS_AGG_EAST");
  std::printf(
      "[faultproxy] west cut off %.0f ms (gateways timed out) during %d publishes; "
      "east's sourced stream caught up %.0f ms after healing\n",
      Ms(healed - cut), kDuringCut, Ms(Clock::now() - healed));
}

}  // namespace
}  // namespace meridian::faultproxy
