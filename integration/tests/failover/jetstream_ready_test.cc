// Returning home only to a region whose JetStream can take writes (issue 6, item 3): every
// west server is SIGKILLed and restarted while a libnats JetStream publisher publishes
// through west's sidecar without pause. Restarted servers answer PING seconds before west's
// write stream has a Raft leader; the sidecar must keep the session on the failover region
// until then. Asserted: once the sidecar reports it is home again (/healthz ok, no session
// served elsewhere, one more return home), no publish fails: no "No responders" (503), no
// error at all. Not a timing assertion: it counts failures after an observed state.
#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>

#include "failover_world.h"
#include "watched_client.h"

namespace meridian::failover_it {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Outcome {
  Clock::time_point started;
  natsStatus status = NATS_OK;
  std::string error;  // empty: acked by stream foo
};

// Publishes foo.test with js_Publish until stopped, recording every outcome.
class Publisher {
 public:
  explicit Publisher(natsConnection* nc) {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = 5000;
    jsCtx* js = nullptr;
    sidecar_it::Check(natsConnection_JetStream(&js, nc, &o), "natsConnection_JetStream");
    js_ = js;
    thread_ = std::thread([this] { Run(); });
  }
  ~Publisher() {
    Stop();
    jsCtx_Destroy(js_);
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Outcome> outcomes() {
    std::lock_guard<std::mutex> lock(mu_);
    return outcomes_;
  }

 private:
  void Run() {
    for (int i = 0; !stop_; ++i) {
      Outcome out;
      out.started = Clock::now();
      const std::string payload = "ready-" + std::to_string(i);
      jsPubAck* ack = nullptr;
      jsErrCode err = static_cast<jsErrCode>(0);
      out.status = js_Publish(&ack, js_, "foo.test", payload.data(),
                              static_cast<int>(payload.size()), nullptr, &err);
      if (out.status != NATS_OK) {
        const char* last = nats_GetLastError(nullptr);
        out.error = std::string(natsStatus_GetText(out.status)) + " (" + (last ? last : "") +
                    ", jsErrCode " + std::to_string(err) + ")";
      } else if (ack == nullptr || ack->Stream == nullptr || std::string(ack->Stream) != "foo") {
        out.error = std::string("acked by stream ") +
                    (ack && ack->Stream ? ack->Stream : "(none)") + ", not foo";
      }
      jsPubAck_Destroy(ack);
      {
        std::lock_guard<std::mutex> lock(mu_);
        outcomes_.push_back(std::move(out));
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  jsCtx* js_ = nullptr;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Outcome> outcomes_;
  std::thread thread_;
};

std::size_t CountSince(const std::vector<Outcome>& all, Clock::time_point since, bool failed) {
  std::size_t n = 0;
  for (const Outcome& o : all) {
    if (o.started >= since && o.error.empty() != failed) ++n;
  }
  return n;
}

TEST_F(FailoverTest, ReturnsHomeOnlyOnceJetStreamTakesWritesNoNoRespondersAfterHome) {
  World& w = TheWorld();
  WatchedClient c;
  ConnectWatched(c, w.sidecar->ClientUrl(), "fo-js-ready");
  // The previous test restarted west: wait until its stream takes writes through us.
  json ack;
  ASSERT_TRUE(WaitFor(
      [&] {
        ack = PublishForAck(c.nc.get(), "foo.test", "warm-up", 5000);
        return ack.value("stream", "") == "foo";
      },
      120s))
      << ack.dump();
  json health;
  ASSERT_TRUE(WaitFor(
      [&] {
        health = SidecarHealth();
        return health["status"] == "ok";
      },
      60s))
      << health.dump();
  const uint64_t returns_before = SidecarVarz()["failover"]["returns_home"].get<uint64_t>();

  Publisher pub(c.nc.get());
  // Some acks at home first.
  ASSERT_TRUE(
      WaitFor([&] { return CountSince(pub.outcomes(), Clock::time_point{}, false) >= 5; }, 60s));

  w.cluster->KillCluster(kHome);
  std::cerr << "[failover-it] killed every server of " << kHome << " under a JetStream publisher\n";
  ASSERT_TRUE(WaitFor(
      [&] {
        health = SidecarHealth();
        return health["status"] == "degraded";
      },
      60s))
      << health.dump();
  const auto degraded_at = Clock::now();
  ASSERT_TRUE(WaitFor([&] { return CountSince(pub.outcomes(), degraded_at, false) >= 5; }, 60s))
      << "no publish acked while served from " << health.value("served_from", "");

  // The sidecar is watched from another thread while this one restarts west:
  // RestartCluster waits for every server's /healthz (in 2.9 that includes JetStream), and
  // the sidecar may move home meanwhile.
  std::atomic<bool> home{false}, watching{true};
  std::string seen_reason, last_state;
  Clock::time_point home_at{};
  std::mutex watch_mu;
  std::thread watcher([&] {
    while (watching && !home) {
      try {
        const json h = SidecarHealth();
        const json v = SidecarVarz();
        std::lock_guard<std::mutex> lock(watch_mu);
        const std::string reason = h.value("reason", "");
        if (reason.find("JetStream not ready") != std::string::npos) seen_reason = reason;
        last_state = h.dump() + " " + v["failover"].dump();
        if (h["status"] == "ok" &&
            v["failover"]["sessions_served_elsewhere"].get<uint64_t>() == 0 &&
            v["failover"]["sessions_failing_over"].get<uint64_t>() == 0 &&
            v["failover"]["returns_home"].get<uint64_t>() > returns_before) {
          home_at = Clock::now();
          home = true;
          break;
        }
      } catch (const std::exception&) {
        // ask again
      }
      std::this_thread::sleep_for(50ms);
    }
  });
  struct StopWatching {
    std::atomic<bool>& watching;
    std::thread& t;
    ~StopWatching() {
      watching = false;
      if (t.joinable()) t.join();
    }
  } stop_watching{watching, watcher};
  const auto restarted_at = Clock::now();
  std::cerr << "[failover-it] restarting " << kHome << "\n";
  w.cluster->RestartCluster(kHome);
  ASSERT_TRUE(WaitFor([&] { return home.load(); }, 120s)) << [&] {
    std::lock_guard<std::mutex> lock(watch_mu);
    return last_state;
  }();
  watcher.join();
  const json varz = SidecarVarz();
  EXPECT_EQ(varz["failover"]["jetstream_ready"][kHome], true) << varz.dump();
  std::cerr << "[failover-it] home again "
            << std::chrono::duration_cast<std::chrono::milliseconds>(home_at - restarted_at).count()
            << " ms after the restart began"
            << (seen_reason.empty() ? "" : "; meanwhile /healthz said: " + seen_reason) << "\n";

  // Keep publishing at home: every publish from now on is acked.
  constexpr std::size_t kAfter = 50;
  ASSERT_TRUE(WaitFor(
      [&] {
        const auto all = pub.outcomes();
        return CountSince(all, home_at, false) + CountSince(all, home_at, true) >= kAfter;
      },
      120s));
  pub.Stop();
  const std::vector<Outcome> all = pub.outcomes();
  std::size_t no_responders_after = 0, failed_after = 0, failed_before = 0;
  for (const Outcome& o : all) {
    if (o.error.empty()) continue;
    if (o.started < home_at) {
      ++failed_before;
      continue;
    }
    ++failed_after;
    if (o.status == NATS_NO_RESPONDERS) ++no_responders_after;
    ADD_FAILURE() << "a publish after the sidecar said it was home failed: " << o.error;
  }
  std::cerr << "[failover-it] " << all.size() << " publishes; " << failed_before
            << " failed before home (the kill), " << failed_after << " after ("
            << no_responders_after << " no responders)\n";
  EXPECT_EQ(no_responders_after, 0u);
  EXPECT_EQ(failed_after, 0u);
  EXPECT_GE(CountSince(all, home_at, false), kAfter);
  EXPECT_EQ(c.disconnects(), 0) << "libnats saw its connection drop";
}

}  // namespace
}  // namespace meridian::failover_it
