// Failover across regions: every west server is SIGKILLed. A client of west's sidecar keeps
// publishing to foo.test with acks; the messages are stored in the write stream of the
// region now serving it and reach every read stream; /healthz says degraded with
// served_from. West restarted: the session moves home and /healthz is ok again.
#include <iostream>
#include <set>
#include <thread>

#include "failover_world.h"
#include "watched_client.h"

namespace meridian::failover_it {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Publishes foo.test until acked, at most `tries` times (a request lost with a dying server
// times out at the client, as without a sidecar). Returns the ack.
json PublishAcked(natsConnection* nc, const std::string& payload, int tries) {
  json ack;
  for (int i = 0; i < tries; ++i) {
    ack = PublishForAck(nc, "foo.test", payload);
    if (!ack.contains("error")) return ack;
    std::this_thread::sleep_for(500ms);
  }
  return ack;
}

TEST_F(FailoverTest, RegionDownClientKeepsPublishingThroughAnotherRegionAndReturnsHome) {
  World& w = TheWorld();
  WatchedClient c;
  ConnectWatched(c, w.sidecar->ClientUrl(), "fo-region");
  natsConnection* nc = c.nc.get();
  // West's write stream may still be electing a leader after the previous test stopped one
  // of its servers: no responders until then.
  for (int i = 0; i < 3; ++i) {
    json ack = PublishAcked(nc, "home-" + std::to_string(i), 40);
    ASSERT_EQ(ack.value("stream", ""), "foo") << ack.dump();
  }
  ASSERT_EQ(SidecarHealth()["status"], "ok");

  const auto killed_at = std::chrono::steady_clock::now();
  w.cluster->KillCluster(kHome);
  std::cerr << "[failover-it] killed every server of " << kHome << "\n";

  // Every publish while west is down is acknowledged, first try. Only the first may need a
  // second: sent while the kill was still on its way to the sidecar, it went to a dying
  // server (a JetStream publisher retries on timeout, as it would without a sidecar).
  constexpr int kAway = 20;
  for (int i = 0; i < kAway; ++i) {
    json ack = PublishForAck(nc, "foo.test", "away-" + std::to_string(i), 15000);
    if (i == 0 && ack.contains("error")) {
      std::cerr << "[failover-it] the first publish raced the kill (" << ack.dump()
                << "): sent again\n";
      ack = PublishForAck(nc, "foo.test", "away-" + std::to_string(i), 15000);
    }
    ASSERT_EQ(ack.value("stream", ""), "foo") << "publish " << i << ": " << ack.dump();
    if (i == 0) {
      std::cerr << "[failover-it] first publish acked "
                << std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - killed_at)
                       .count()
                << " ms after the kill\n";
    }
  }
  json health;
  ASSERT_TRUE(WaitFor(
      [&] {
        health = SidecarHealth();
        return health["status"] == "degraded";
      },
      30s))
      << health.dump();
  EXPECT_EQ(health["http_status"], 200);
  const std::string serving = health.value("served_from", "");
  ASSERT_TRUE(serving == "east" || serving == "central") << health.dump();
  const json varz = SidecarVarz();
  EXPECT_EQ(varz["served_from"], serving) << varz.dump();
  EXPECT_GE(varz["failover"]["failovers_to_region"].get<uint64_t>(), 1u) << varz.dump();
  // The rewrite counters are totals over every region served from: the publishes rewritten
  // for the serving region count too, and its split registry is listed.
  EXPECT_GE(varz["rewrite"].value("publishes_rewritten", 0), kAway) << varz.dump();
  EXPECT_TRUE(varz["split_registry"]["regions"].contains(serving)) << varz.dump();
  EXPECT_TRUE(varz["split_registry"]["regions"].contains(kHome)) << varz.dump();
  std::cerr << "[failover-it] served from " << serving << "; cross-region gap "
            << varz["failover"]["last_gap_ms"] << " ms\n";

  // A client that connects now is served from there too.
  {
    WatchedClient late;
    ConnectWatched(late, w.sidecar->ClientUrl(), "fo-region-late");
    json ack = PublishForAck(late.nc.get(), "foo.test", "away-late", 15000);
    EXPECT_EQ(ack.value("stream", ""), "foo") << ack.dump();
  }

  // Stored in the serving region's write stream, under its token; in every live read stream.
  const std::string stored = "foo." + serving + ".test";
  constexpr int kStored = kAway + 1;
  EXPECT_EQ(CountMatching(serving, "foo-write-" + serving, stored), uint64_t(kStored));
  for (const std::string& r : {std::string("east"), std::string("central")}) {
    uint64_t n = 0;
    EXPECT_TRUE(WaitFor(
        [&] {
          n = CountMatching(r, "foo-read-" + r, stored);
          return n == kStored;
        },
        // nats-server re-creates source consumers with back-off after a region is lost; on a
        // loaded 2-core machine that took over 30 s twice.
        120s))
        << "foo-read-" << r << " has " << n << " of " << kStored;
  }

  // West comes back: the session moves home, /healthz is ok.
  w.cluster->RestartCluster(kHome);
  const auto restarted_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(
      [&] {
        health = SidecarHealth();
        const json v = SidecarVarz();
        return health["status"] == "ok" &&
               v["failover"]["sessions_served_elsewhere"].get<uint64_t>() == 0 &&
               v["failover"]["returns_home"].get<uint64_t>() >= 1;
      },
      60s))
      << health.dump() << " " << SidecarVarz().dump();
  std::cerr << "[failover-it] back home "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - restarted_at)
                   .count()
            << " ms after west answered /healthz\n";

  // West's read stream catches up with what central or east stored meanwhile.
  uint64_t n = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        n = CountMatching(kHome, "foo-read-" + kHome, stored);
        return n == kStored;
      },
      120s))
      << "foo-read-west has " << n << " of " << kStored;

  // Publishes land in west's own write stream again (its streams may need a moment).
  const uint64_t home_before = CountMatching(kHome, "foo-write-" + kHome, "foo.west.test");
  for (int i = 0; i < 5; ++i) {
    json ack = PublishAcked(nc, "back-" + std::to_string(i), 10);
    ASSERT_EQ(ack.value("stream", ""), "foo") << ack.dump();
  }
  EXPECT_EQ(CountMatching(kHome, "foo-write-" + kHome, "foo.west.test"), home_before + 5);
  EXPECT_EQ(c.disconnects(), 0) << "libnats saw its connection drop";
}

}  // namespace
}  // namespace meridian::failover_it
