// Failover inside a region: the west server carrying the clients' sessions is SIGKILLed; a
// libnats and a nats.js client stay connected and keep receiving on every subscription
// (plain, queue group, auto-unsubscribe with its remaining count, JetStream push and pull).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "failover_world.h"
#include "harness/http_client.h"
#include "harness/node_script.h"
#include "watched_client.h"

namespace meridian::failover_it {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

Subscription SubscribeSync(natsConnection* nc, const std::string& subject,
                           const std::string& queue = "") {
  natsSubscription* sub = nullptr;
  if (queue.empty()) {
    sidecar_it::Check(natsConnection_SubscribeSync(&sub, nc, subject.c_str()), "sub " + subject);
  } else {
    sidecar_it::Check(natsConnection_QueueSubscribeSync(&sub, nc, subject.c_str(), queue.c_str()),
                      "queue sub " + subject);
  }
  return Subscription(sub);
}

// The payloads of the next `n` messages of `sub` (fewer when `timeout` passes first). Acks
// JetStream deliveries (their reply subject) when `ack`.
std::vector<std::string> Next(natsConnection* nc, natsSubscription* sub, size_t n,
                              std::chrono::milliseconds timeout, bool ack = false) {
  std::vector<std::string> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub, left.count()) != NATS_OK) break;
    Msg guard(m);
    out.push_back(sidecar_it::DataOf(m));
    if (ack && natsMsg_GetReply(m) != nullptr) {
      natsConnection_PublishString(nc, natsMsg_GetReply(m), "+ACK");
    }
  }
  return out;
}

// The subjects the server named `server` holds for the client called `client_name`.
std::vector<std::string> SubscriptionsOn(const std::string& server, const std::string& client) {
  const auto& spec = TheWorld().cluster->server(server);
  harness::HttpResponse r =
      harness::HttpGet("127.0.0.1", spec.http_port, "/connz?subs=1&limit=1024", 5s);
  json j = json::parse(r.body, nullptr, false);
  std::vector<std::string> out;
  if (j.is_discarded() || !j.contains("connections")) return out;
  for (const auto& c : j["connections"]) {
    if (c.value("name", "") != client || !c.contains("subscriptions_list")) continue;
    for (const auto& s : c["subscriptions_list"]) out.push_back(s.get<std::string>());
  }
  return out;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

TEST_F(FailoverTest, KilledUpstreamServerDisconnectsNeitherLibnatsNorNatsJsClient) {
  World& w = TheWorld();
  WatchedClient c;
  ConnectWatched(c, w.sidecar->ClientUrl(), "fo-libnats");
  natsConnection* nc = c.nc.get();
  Subscription plain = SubscribeSync(nc, "fo.core.plain");
  Subscription queue = SubscribeSync(nc, "fo.core.q", "g");
  Subscription limited = SubscribeSync(nc, "fo.core.max");
  sidecar_it::Check(natsSubscription_AutoUnsubscribe(limited.get(), 5), "AutoUnsubscribe");
  json created = PublishForAck(nc, "$JS.API.CONSUMER.DURABLE.CREATE.foo.fo-c-push",
                               json{{"stream_name", "foo"},
                                    {"config",
                                     {{"durable_name", "fo-c-push"},
                                      {"deliver_subject", "fo.c.dlv"},
                                      {"ack_policy", "explicit"},
                                      {"deliver_policy", "new"},
                                      {"ack_wait", 30'000'000'000LL}}}}
                                   .dump());
  ASSERT_FALSE(created.contains("error")) << created.dump();
  Subscription push = SubscribeSync(nc, "fo.c.dlv");
  Subscription probe = SubscribeSync(nc, "fo.core.probe");
  sidecar_it::Check(natsConnection_FlushTimeout(nc, 10000), "flush");

  // The nats.js client runs beside, until it has everything it is waiting for.
  const std::vector<std::string> before = {"fo-before-1", "fo-before-2"};
  const std::vector<std::string> after = {"fo-after-1", "fo-after-2", "fo-after-3", "fo-after-4",
                                          "fo-after-5"};
  const std::vector<std::string> js_before = {"fojs-before-1"};
  const std::vector<std::string> js_after = {"fojs-after-1", "fojs-after-2", "fojs-after-3"};
  std::vector<std::string> core_all = before, js_all = js_before;
  core_all.insert(core_all.end(), after.begin(), after.end());
  js_all.insert(js_all.end(), js_after.begin(), js_after.end());
  const auto ready = w.run_dir->path() / "fo-js.ready";
  harness::BackgroundNodeScript js_app(
      "failover_client.mjs",
      {"--url", w.sidecar->ClientUrl(), "--ready", ready.string(), "--plain", "fo.js.plain",
       "--queue", "fo.js.q", "--stream", "foo", "--durable", "fo-js-pull", "--want-core",
       Joined(core_all), "--want-js", Joined(js_all), "--timeout-ms", "90000"},
      w.run_dir->path() / "logs" / "failover_client.log", 120s);
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(ready); }, 60s))
      << "the nats.js client did not get ready";

  // Publishes come straight from east's servers, independent of west.
  Connection pub = sidecar_it::Connect(w.cluster->ClientUrls("east"), "fo-publisher");
  auto publish_core = [&](const std::string& payload) {
    for (const char* s : {"fo.core.plain", "fo.core.q", "fo.core.max", "fo.js.plain", "fo.js.q"}) {
      sidecar_it::Check(natsConnection_PublishString(pub.get(), s, payload.c_str()), "publish");
    }
  };
  Connection east = sidecar_it::Connect(w.cluster->ClientUrls("east"), "fo-publisher-js");
  auto publish_js = [&](const std::string& payload) {
    json ack = PublishForAck(east.get(), "foo.east.fojs", payload);
    ASSERT_FALSE(ack.contains("error")) << ack.dump();
  };
  for (const auto& p : before) publish_core(p);
  for (const auto& p : js_before) publish_js(p);
  EXPECT_EQ(Next(nc, plain.get(), 2, 20s), before);
  EXPECT_EQ(Next(nc, queue.get(), 2, 20s), before);
  EXPECT_EQ(Next(nc, limited.get(), 2, 20s), before);
  EXPECT_EQ(Next(nc, push.get(), 1, 20s, true), js_before);

  const std::vector<std::string> hosts = ServersHosting("fo-libnats");
  ASSERT_EQ(hosts.size(), 1u) << "the libnats session should be on one west server";
  const std::vector<std::string> js_hosts = ServersHosting("fo-js");
  std::cerr << "[failover-it] killing " << hosts[0] << " (libnats client's upstream; nats.js on "
            << Joined(js_hosts) << ")\n";
  const json varz_before = SidecarVarz();
  const auto killed_at = std::chrono::steady_clock::now();
  w.cluster->KillServer(hosts[0]);

  // Restored: the libnats session sits on another west server with its subscriptions,
  // fo.core.max among them with the 3 messages it has left.
  std::string now_on;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto h = ServersHosting("fo-libnats");
        if (h.size() != 1) return false;
        now_on = h[0];
        return Has(SubscriptionsOn(now_on, "fo-libnats"), "fo.core.max");
      },
      30s))
      << "the libnats session was not restored on another west server";
  const auto restored_at = std::chrono::steady_clock::now();
  EXPECT_NE(now_on, hosts[0]);
  const std::vector<std::string> subs = SubscriptionsOn(now_on, "fo-libnats");
  for (const char* s : {"fo.core.plain", "fo.core.q", "fo.c.dlv"}) {
    EXPECT_TRUE(Has(subs, s)) << s << " not restored; server has " << Joined(subs);
  }

  // Core NATS is at most once: what is published while interest moves between servers may
  // be lost. So publish from a live west server (no gateway whose far end just died), and
  // only once a probe shows the restored subscriptions are known there.
  std::string live_west;
  for (const auto* s : w.cluster->ServersIn(kHome)) {
    if (s->name == hosts[0]) continue;
    live_west += (live_west.empty() ? "" : ",") + s->ClientUrl();
  }
  pub = sidecar_it::Connect(live_west, "fo-publisher-west");
  ASSERT_TRUE(WaitFor(
      [&] {
        natsConnection_PublishString(pub.get(), "fo.core.probe", "probe");
        return !Next(nc, probe.get(), 1, 200ms).empty();
      },
      20s))
      << "the restored subscriptions never received a probe";
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& h : ServersHosting("fo-js")) {
          if (h != hosts[0] && Has(SubscriptionsOn(h, "fo-js"), "fo.js.plain")) return true;
        }
        return false;
      },
      20s))
      << "the nats.js session's subscriptions are not on a live west server";
  std::this_thread::sleep_for(500ms);  // interest of the new server reaches its routes
  for (const auto& p : after) publish_core(p);
  for (const auto& p : js_after) publish_js(p);
  EXPECT_EQ(Next(nc, plain.get(), 5, 30s), after);
  EXPECT_EQ(Next(nc, queue.get(), 5, 30s), after);
  // 5 allowed, 2 delivered before the kill: exactly 3 more, and the server dropped it.
  EXPECT_EQ(Next(nc, limited.get(), 3, 30s),
            (std::vector<std::string>{"fo-after-1", "fo-after-2", "fo-after-3"}));
  EXPECT_TRUE(
      WaitFor([&] { return !Has(SubscriptionsOn(now_on, "fo-libnats"), "fo.core.max"); }, 10s))
      << "the restored fo.core.max subscription outlived its remaining count";
  EXPECT_EQ(Next(nc, push.get(), 3, 30s, true), js_after);

  // The client publishes through the restored session too (west's write stream may be
  // electing a new leader if it was on the killed server: no responders until then).
  json ack;
  for (int i = 0; i < 20; ++i) {
    ack = PublishForAck(nc, "foo.fo.c.after", "from-libnats-after");
    if (!ack.contains("error")) break;
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(ack.value("stream", ""), "foo") << ack.dump();
  EXPECT_EQ(c.disconnects(), 0) << "libnats saw its connection drop";
  EXPECT_EQ(natsConnection_Status(nc), NATS_CONN_STATUS_CONNECTED);

  const harness::NodeScriptResult& js_result = js_app.Wait();
  ASSERT_TRUE(js_result.ok()) << js_result.Describe();
  const json r = json::parse(js_result.ResultLine(), nullptr, false);
  ASSERT_TRUE(r.is_object()) << js_result.Describe();
  EXPECT_TRUE(r["missing_core"].empty()) << r.dump();
  EXPECT_TRUE(r["missing_js"].empty()) << r.dump();
  EXPECT_EQ(r["disconnects"], 0) << "nats.js status: " << r["statuses"].dump();

  const json varz = SidecarVarz();
  const json& f = varz["failover"];
  EXPECT_GE(f["failovers"].get<uint64_t>(),
            varz_before["failover"]["failovers"].get<uint64_t>() + 1)
      << varz.dump();
  std::cerr
      << "[failover-it] in-region failover: sidecar-measured gap " << f["last_gap_ms"]
      << " ms (max " << f["max_gap_ms"] << " ms, " << f["failovers"]
      << " sessions restored); kill to restore seen by the test "
      << std::chrono::duration_cast<std::chrono::milliseconds>(restored_at - killed_at).count()
      << " ms\n";
  w.cluster->RestartServer(hosts[0]);
}

TEST_F(FailoverTest, StaleUpstreamThatStopsAnsweringPingsIsLeftWithoutDisconnectingTheClient) {
  World& w = TheWorld();
  // Default client PINGs (2 min): the sidecar's own (2 s, 2 out) must find the stale server.
  WatchedClient c;
  {
    natsOptions* opts = nullptr;
    sidecar_it::Check(natsOptions_Create(&opts), "natsOptions_Create");
    std::unique_ptr<natsOptions, void (*)(natsOptions*)> guard(opts, natsOptions_Destroy);
    sidecar_it::Check(natsOptions_SetURL(opts, w.sidecar->ClientUrl().c_str()), "SetURL");
    sidecar_it::Check(natsOptions_SetName(opts, "fo-stale"), "SetName");
    c.Watch(opts);
    natsConnection* raw = nullptr;
    sidecar_it::Check(natsConnection_Connect(&raw, opts), "connect fo-stale");
    c.nc.reset(raw);
  }
  natsConnection* nc = c.nc.get();
  Subscription sub = SubscribeSync(nc, "fo.stale");
  sidecar_it::Check(natsConnection_FlushTimeout(nc, 10000), "flush");
  const std::vector<std::string> hosts = ServersHosting("fo-stale");
  ASSERT_EQ(hosts.size(), 1u);
  const uint64_t stale_before = SidecarVarz()["failover"]["upstream_stale"].get<uint64_t>();
  std::cerr << "[failover-it] SIGSTOP " << hosts[0] << " (fo-stale's upstream)\n";
  const auto paused_at = std::chrono::steady_clock::now();
  w.cluster->PauseServer(hosts[0]);
  struct Resume {
    harness::NatsSuperCluster& cluster;
    std::string name;
    ~Resume() { cluster.ResumeServer(name); }
  } resume{*w.cluster, hosts[0]};

  ASSERT_TRUE(WaitFor(
      [&] { return SidecarVarz()["failover"]["upstream_stale"].get<uint64_t>() > stale_before; },
      30s))
      << "the sidecar never found " << hosts[0] << " stale";
  const auto stale_at = std::chrono::steady_clock::now();
  std::string live_west;
  for (const auto* s : w.cluster->ServersIn(kHome)) {
    if (s->name != hosts[0]) live_west += (live_west.empty() ? "" : ",") + s->ClientUrl();
  }
  Connection pub = sidecar_it::Connect(live_west, "fo-publisher-stale");
  ASSERT_TRUE(WaitFor(
      [&] {
        natsConnection_PublishString(pub.get(), "fo.stale", "after-stale");
        return !Next(nc, sub.get(), 1, 200ms).empty();
      },
      30s))
      << "the restored subscription never received";
  sidecar_it::Check(natsConnection_FlushTimeout(nc, 10000), "flush after the move");
  EXPECT_EQ(c.disconnects(), 0) << "libnats saw its connection drop";
  // Two of three west servers answer: the sidecar's probe leaves the stopped one too, and
  // /healthz is ok, not degraded.
  json health;
  EXPECT_TRUE(WaitFor(
      [&] {
        health = SidecarHealth();
        return health["status"] == "ok";
      },
      30s))
      << health.dump();
  std::cerr << "[failover-it] stale upstream left after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(stale_at - paused_at).count()
            << " ms (ping_interval 2s x max_pings_out 2); gap measured by the sidecar "
            << SidecarVarz()["failover"]["last_gap_ms"] << " ms\n";
}

}  // namespace
}  // namespace meridian::failover_it
