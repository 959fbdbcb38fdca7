#include "js_restart.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "consumers.h"
#include "harness/http_client.h"
#include "harness/node_script.h"

namespace meridian::sidecar_it {
namespace {

using nlohmann::json;

std::string Join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

bool WaitForFile(const std::filesystem::path& f, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!std::filesystem::exists(f) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::filesystem::exists(f);
}

}  // namespace

void CheckNatsJsFilteredDurableAcrossSidecarRestart(const JsRestartWorld& world) {
  const std::string durable = "jsrestart" + std::to_string(::getpid());
  harness::SidecarProcess own(world.run_dir, world.sidecar);
  own.Start();

  // Payloads of the three batches: before the restart, while the sidecar is down, after.
  std::vector<std::set<std::string>> batches(3);
  std::set<std::string> want;
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string token = std::string(test ? test->name() : "js") + "-js-restart";
  for (int b = 0; b < 3; ++b) {
    for (const auto& r : world.regions) {
      const std::string p = token + "-b" + std::to_string(b + 1) + "-" + r;
      batches[b].insert(p + "@foo.test");
      want.insert(p + "@foo.test");
    }
  }
  auto publish = [&](int b) {
    for (const auto& r : world.regions) {
      Connection nc = world.connect(r, "js-restart-pub-" + r);
      const std::string p = token + "-b" + std::to_string(b + 1) + "-" + r;
      EXPECT_EQ(JsPublish(nc.get(), "foo.test", p + "@foo.test").stream, "foo");
      EXPECT_EQ(JsPublish(nc.get(), "foo.other", p + "@foo.other").stream, "foo");
    }
  };
  const auto ready = world.run_dir / ("js-restart-" + std::to_string(::getpid()));
  std::filesystem::create_directories(ready);
  harness::BackgroundNodeScript app(
      "rebind_client.mjs",
      {"--url", own.ClientUrl(), "--stream", "foo", "--filter", "foo.test", "--durable", durable,
       "--want", Join(want), "--phase1", Join(batches[0]), "--ready-dir", ready.string(),
       "--ack-wait-ms", "2000", "--timeout-ms", "45000"},
      world.run_dir / "logs" / "js-restart.log", std::chrono::seconds(80));
  const bool subscribed = WaitForFile(ready / "subscribed", std::chrono::seconds(60));
  EXPECT_TRUE(subscribed) << "the nats.js app did not subscribe";
  if (subscribed) {
    publish(0);
    EXPECT_TRUE(WaitForFile(ready / "phase1", std::chrono::seconds(60)))
        << "the nats.js app did not get the first batch";
    own.Stop();
    EXPECT_FALSE(own.Running());
    publish(1);  // while the app's sidecar is down
    own.Start();
    publish(2);  // after the restart, whether or not the app has reconnected yet
  }
  const harness::NodeScriptResult& run = app.Wait();
  ASSERT_TRUE(run.ok()) << run.Describe();
  const json res = json::parse(run.ResultLine(), nullptr, false);
  ASSERT_TRUE(res.is_object()) << run.output;

  EXPECT_EQ(res["missing"], json::array()) << res.dump();
  EXPECT_GE(res.value("reconnects", 0), 1) << "the app never lost the restarted sidecar";
  // Deliver policy new, created before the first publish: only this check's foo.test payloads;
  // every one once, or again only as a flagged redelivery of a delivery whose ack was never
  // confirmed (e.g. sent to the sidecar that was going away). The last one's ack stuck.
  std::map<std::string, std::vector<json>> by_payload;
  for (const auto& d : res["deliveries"]) {
    const std::string payload = d.value("payload", "");
    EXPECT_EQ(want.count(payload), 1u) << "not published for this app: " << d.dump();
    EXPECT_EQ(d.value("subject", ""), "foo.test") << d.dump();
    EXPECT_EQ(d.value("stream", ""), "foo") << d.dump();
    by_payload[payload].push_back(d);
  }
  std::size_t repeats = 0;
  for (const auto& [payload, list] : by_payload) {
    for (std::size_t i = 1; i < list.size(); ++i) {
      ++repeats;
      EXPECT_TRUE(list[i].value("redelivered", false)) << "duplicate: " << list[i].dump();
      EXPECT_FALSE(list[i - 1].value("ack_confirmed", true))
          << "delivered again after its ack was confirmed: " << list[i].dump();
    }
    EXPECT_TRUE(list.back().value("ack_confirmed", false)) << list.back().dump();
  }
  std::cerr << "[sidecar-it] nats.js restart: " << res["deliveries"].size() << " deliveries of "
            << want.size() << " messages (" << repeats << " redelivered), "
            << res.value("reconnects", 0) << " reconnect(s)\n";
  EXPECT_EQ(res["consumer"].value("stream", ""), "foo") << res.dump();
  EXPECT_EQ(res["consumer"].value("filter", ""), "foo.test") << res.dump();
  EXPECT_EQ(res["consumer"].value("deliver_subject", ""), res.value("inbox", "?")) << res.dump();
  EXPECT_EQ(res["consumer"].value("ack_pending", -1), 0) << res.dump();
  EXPECT_EQ(res["consumer"].value("pending", -1), 0) << res.dump();
  // The restarted sidecar found the consumer by the app's deliver subject (registry refresh).
  json varz =
      json::parse(harness::HttpGet("127.0.0.1", own.http_port(), "/varz").body, nullptr, false);
  EXPECT_GE(varz["split_registry"].value("hits", 0), 1) << varz.dump();
  EXPECT_EQ(varz["split_registry"].value("list_refused", -1), 0) << varz.dump();
}

}  // namespace meridian::sidecar_it
