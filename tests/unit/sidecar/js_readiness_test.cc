// JetStream readiness (js_readiness.h): how replies to $JS.API.STREAM.INFO / $JS.API.INFO
// are judged, the request schedule, and how RegionFailover uses the home region's readiness
// to decide when sessions move back (region_failover.h).
#include "sidecar/js_readiness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "net/loop.h"
#include "session/upstream_pool.h"
#include "sidecar/config.h"
#include "sidecar/region_failover.h"
#include "sidecar/topology_file.h"

namespace meridian::sidecar {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr std::string_view kLeader =
    R"({"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"foo-write-west"},)"
    R"("state":{"messages":3},"cluster":{"name":"west","leader":"w2","replicas":[]}})";
constexpr std::string_view kNoLeader =
    R"({"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"foo-write-west"},)"
    R"("state":{"messages":3},"cluster":{"name":"west"}})";
constexpr std::string_view kR1 =
    R"({"type":"io.nats.jetstream.api.v1.stream_info_response","config":{"name":"foo-write-west"},)"
    R"("state":{"messages":0}})";
constexpr std::string_view kUnavailable =
    R"({"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":503,)"
    R"("err_code":10008,"description":"JetStream cluster not available"}})";

TEST(StreamInfoReply, IsReadyWithAClusterLeader) {
  JsVerdict v = ReadStreamInfoReply("foo-write-west", 0, "", kLeader);
  EXPECT_TRUE(v.ready);
  EXPECT_EQ(v.reason, "");
}

TEST(StreamInfoReply, IsNotReadyWithoutALeader) {
  JsVerdict v = ReadStreamInfoReply("foo-write-west", 0, "", kNoLeader);
  EXPECT_FALSE(v.ready);
  EXPECT_EQ(v.reason, "no leader for foo-write-west");
  v = ReadStreamInfoReply(
      "foo-write-west", 0, "",
      R"({"config":{"name":"foo-write-west"},"cluster":{"name":"west","leader":""}})");
  EXPECT_FALSE(v.ready);
  EXPECT_EQ(v.reason, "no leader for foo-write-west");
}

TEST(StreamInfoReply, AcceptsAnR1StreamWithoutClusterInfo) {
  EXPECT_TRUE(ReadStreamInfoReply("foo-write-west", 0, "", kR1).ready);
}

TEST(StreamInfoReply, IsNotReadyOnAJetStreamError) {
  JsVerdict v = ReadStreamInfoReply("foo-write-west", 0, "", kUnavailable);
  EXPECT_FALSE(v.ready);
  EXPECT_EQ(v.reason, "foo-write-west: JetStream error 10008 'JetStream cluster not available'");
  v = ReadStreamInfoReply(
      "foo-write-west", 0, "",
      R"({"error":{"code":404,"err_code":10059,"description":"stream not found"}})");
  EXPECT_FALSE(v.ready);
  EXPECT_THAT(v.reason, HasSubstr("stream not found"));
}

TEST(StreamInfoReply, IsNotReadyOnANoRespondersStatus) {
  JsVerdict v = ReadStreamInfoReply("foo-write-west", 503, "", "");
  EXPECT_FALSE(v.ready);
  EXPECT_EQ(v.reason, "no responders for $JS.API.STREAM.INFO.foo-write-west");
  v = ReadStreamInfoReply("foo-write-west", 408, "Request Timeout", "");
  EXPECT_FALSE(v.ready);
  EXPECT_THAT(v.reason, HasSubstr("status 408 (Request Timeout)"));
}

TEST(StreamInfoReply, IsNotReadyOnSomethingElse) {
  EXPECT_FALSE(ReadStreamInfoReply("foo-write-west", 0, "", "not json").ready);
  EXPECT_FALSE(ReadStreamInfoReply("foo-write-west", 0, "", "[1,2]").ready);
  EXPECT_FALSE(ReadStreamInfoReply("foo-write-west", 0, "", R"({"type":"x"})").ready);
}

TEST(AccountInfoReply, IsReadyWithoutAnError) {
  EXPECT_TRUE(ReadAccountInfoReply(
                  0, "", R"({"type":"io.nats.jetstream.api.v1.account_info_response","memory":0})")
                  .ready);
  JsVerdict v = ReadAccountInfoReply(
      0, "", R"({"error":{"code":503,"err_code":10039,"description":"jetstream not enabled"}})");
  EXPECT_FALSE(v.ready);
  EXPECT_THAT(v.reason, HasSubstr("$JS.API.INFO: JetStream error 10039"));
  EXPECT_EQ(ReadAccountInfoReply(503, "", "").reason, "no responders for $JS.API.INFO");
}

constexpr std::string_view kTopology = R"(
[regions.east]
servers = ["nats://127.0.0.1:1"]
[regions.central]
servers = ["nats://127.0.0.1:2"]
[regions.west]
servers = ["nats://127.0.0.1:3"]
[streams.foo]
subjects = ["foo.>"]
[streams.orders]
subjects = ["orders.>"]
regions = ["east", "west"]
)";

TEST(WriteStreamsOf, ListsTheWriteStreamOfEveryVirtualStreamListingTheRegion) {
  TopologyFile t = ParseTopologyFile(kTopology, "topology.toml");
  EXPECT_THAT(WriteStreamsOf(t.topology.get(), "west"),
              ElementsAre("foo-write-west", "orders-write-west"));
  EXPECT_THAT(WriteStreamsOf(t.topology.get(), "central"), ElementsAre("foo-write-central"));
  EXPECT_TRUE(WriteStreamsOf(t.topology.get(), "mars").empty());
  EXPECT_TRUE(WriteStreamsOf(nullptr, "west").empty());
}

TEST(JsReadiness, AsksEveryWriteStreamThenWaitsForTheInterval) {
  JsReadiness js({"foo-write-west", "orders-write-west"}, 500ms, 2000ms);
  EXPECT_FALSE(js.ready());
  EXPECT_EQ(js.reason(), "JetStream not asked yet");
  auto first = js.Poll(10000);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].subject, "$JS.API.STREAM.INFO.foo-write-west");
  EXPECT_EQ(first[1].subject, "$JS.API.STREAM.INFO.orders-write-west");
  EXPECT_NE(first[0].token, first[1].token);
  // In flight: not asked again.
  EXPECT_TRUE(js.Poll(10600).empty());
  js.OnReply(first[0].token, 0, "", kLeader);
  EXPECT_FALSE(js.ready()) << "one stream has not answered";
  js.OnReply(first[1].token, 0, "", kLeader);
  EXPECT_TRUE(js.ready());
  EXPECT_EQ(js.reason(), "");
  // Answered at 10600; asked again only once 500 ms passed since it was sent (10000).
  auto second = js.Poll(10400);
  EXPECT_TRUE(second.empty());
  second = js.Poll(10700);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_TRUE(js.ready()) << "the last answers hold until the next ones";
  js.OnReply(second[1].token, 0, "", kNoLeader);
  EXPECT_FALSE(js.ready());
  EXPECT_EQ(js.reason(), "no leader for orders-write-west");
}

TEST(JsReadiness, AnUnansweredRequestTimesOutAsNotReady) {
  JsReadiness js({"foo-write-west"}, 500ms, 2000ms);
  auto r = js.Poll(0);
  ASSERT_EQ(r.size(), 1u);
  js.OnReply(r[0].token, 0, "", kLeader);
  ASSERT_TRUE(js.ready());
  r = js.Poll(600);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(js.Poll(2500).empty());
  EXPECT_TRUE(js.ready()) << "not yet 2 s";
  auto again = js.Poll(2600);
  EXPECT_FALSE(js.ready());
  EXPECT_EQ(js.reason(), "foo-write-west: no answer within 2000 ms");
  ASSERT_EQ(again.size(), 1u) << "asked again at once";
  // The late reply to the expired request is ignored.
  js.OnReply(r[0].token, 0, "", kLeader);
  EXPECT_FALSE(js.ready());
  js.OnReply(again[0].token, 0, "", kLeader);
  EXPECT_TRUE(js.ready());
}

TEST(JsReadiness, ResetMakesEveryCheckUnknown) {
  JsReadiness js({"foo-write-west"}, 500ms, 2000ms);
  auto r = js.Poll(0);
  js.OnReply(r[0].token, 0, "", kLeader);
  ASSERT_TRUE(js.ready());
  js.Reset("not connected");
  EXPECT_FALSE(js.ready());
  EXPECT_EQ(js.reason(), "not connected");
  js.OnReply(r[0].token, 0, "", kLeader);
  EXPECT_FALSE(js.ready()) << "a reply from before the reset";
  auto again = js.Poll(100);
  ASSERT_EQ(again.size(), 1u) << "asked at once on the new connection";
}

TEST(JsReadiness, FallsBackToAccountInfoWithoutWriteStreams) {
  JsReadiness js({}, 500ms, 2000ms);
  EXPECT_TRUE(js.streams().empty());
  auto r = js.Poll(0);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].subject, "$JS.API.INFO");
  js.OnReply(r[0].token, 503, "", "");
  EXPECT_FALSE(js.ready());
  EXPECT_EQ(js.reason(), "no responders for $JS.API.INFO");
  r = js.Poll(600);
  ASSERT_EQ(r.size(), 1u);
  js.OnReply(r[0].token, 0, "", R"({"memory":0,"storage":0})");
  EXPECT_TRUE(js.ready());
}

// RegionFailover with failover regions whose servers do not exist (their probes never
// answer, so no failover region is ready).
class HomeReturnTest : public ::testing::Test {
 protected:
  void Make(const std::string& extra = "") {
    config_ = ParseSidecarConfig(extra +
                                     "topology = \"topology.toml\"\nregion = \"west\"\n"
                                     "[upstream]\nservers = [\"nats://127.0.0.1:3\"]\n",
                                 "sidecar.toml", "/etc/meridian");
    topology_ = ParseTopologyFile(kTopology, "topology.toml");
    failover_ = std::make_unique<RegionFailover>(loop_, config_, topology_, counters_, nullptr,
                                                 net::ConnectOptions{});
    home_pool_ = std::make_unique<session::UpstreamPool>(
        loop_, std::vector<net::Endpoint>{net::Endpoint::Tcp("127.0.0.1", 3)},
        net::ConnectOptions{});
  }
  std::vector<std::string> TargetRegions() {
    std::vector<std::string> out;
    for (const auto& t : failover_->Targets("west", home_pool_.get()))
      out.push_back(t.region.empty() ? "(home)" : t.region);
    return out;
  }
  // Lets the loop clock pass `d` (more than kSettle).
  void Pass(std::chrono::milliseconds d) { loop_.RunFor(d); }

  static HomeState Down() { return {false, true, false, "connection refused", "not reachable"}; }
  static HomeState NoJetStream() {
    return {true, false, false, "", "no leader for foo-write-west"};
  }
  static HomeState Ready() { return {true, false, true, "", ""}; }

  net::Loop loop_;
  SidecarConfig config_;
  TopologyFile topology_;
  session::SessionCounters counters_;
  std::unique_ptr<RegionFailover> failover_;
  std::unique_ptr<session::UpstreamPool> home_pool_;
};

TEST_F(HomeReturnTest, TheHomeRegionIsDownOnceEveryServerRefused) {
  Make();
  EXPECT_FALSE(failover_->home_down());
  EXPECT_FALSE(failover_->Check("west", Down()));
  EXPECT_TRUE(failover_->home_down());
  // No failover region is ready: the home region stays first (never strand a session).
  EXPECT_THAT(TargetRegions(), ElementsAre("(home)", "east", "central"));
  const nlohmann::json varz = failover_->Varz("west", 0, 0);
  EXPECT_EQ(varz["home_down"], true);
  EXPECT_EQ(varz["jetstream_ready"]["west"], false);
  EXPECT_EQ(varz["jetstream_ready"]["east"], false);
  EXPECT_THAT(varz["jetstream_not_ready"]["east"].get<std::string>(), HasSubstr("not reachable"));
}

TEST_F(HomeReturnTest, WithNoReadyFailoverRegionSessionsMoveBackAsSoonAsHomeAnswers) {
  Make();
  failover_->Check("west", Down());
  EXPECT_FALSE(failover_->Check("west", NoJetStream())) << "not yet answered for kSettle";
  Pass(RegionFailover::kSettle + 200ms);
  EXPECT_TRUE(failover_->Check("west", NoJetStream()));
  EXPECT_TRUE(failover_->home_down()) << "still not back: JetStream is not ready";
  // JetStream becomes ready: back once it has been for kSettle.
  EXPECT_FALSE(failover_->Check("west", Ready()));
  EXPECT_TRUE(failover_->home_down());
  Pass(RegionFailover::kSettle + 200ms);
  EXPECT_TRUE(failover_->Check("west", Ready()));
  EXPECT_FALSE(failover_->home_down());
  EXPECT_EQ(failover_->Varz("west", 0, 0)["jetstream_ready"]["west"], true);
}

TEST_F(HomeReturnTest, JetStreamMustStayReadyForTheWholeSettleTime) {
  Make();
  failover_->Check("west", Down());
  EXPECT_FALSE(failover_->Check("west", Ready()));
  Pass(RegionFailover::kSettle + 200ms);
  // Lost its leader again before the next tick: the settle time starts over.
  failover_->Check("west", NoJetStream());
  EXPECT_FALSE(failover_->Check("west", Ready())) << "ready again only just now";
  EXPECT_TRUE(failover_->home_down());
  Pass(RegionFailover::kSettle + 200ms);
  EXPECT_TRUE(failover_->Check("west", Ready()));
  EXPECT_FALSE(failover_->home_down());
}

TEST_F(HomeReturnTest, OneUnreachableTickIsNotTheRegionDown) {
  Make();
  // The probe's server died but the pool has not found every server refusing.
  EXPECT_FALSE(failover_->Check("west", {false, false, false, "closed", "not reachable"}));
  EXPECT_FALSE(failover_->home_down());
  EXPECT_FALSE(failover_->Check("west", NoJetStream()));
  EXPECT_FALSE(failover_->home_down()) << "an election in the region is not an outage";
  EXPECT_THAT(TargetRegions(), ElementsAre("(home)", "east", "central"));
}

TEST_F(HomeReturnTest, IsNeverDownWhenFailoverIsOff) {
  Make("failover = false\n");
  failover_->Check("west", Down());
  EXPECT_FALSE(failover_->home_down());
  EXPECT_THAT(TargetRegions(), ElementsAre("(home)"));
}

}  // namespace
}  // namespace meridian::sidecar
