// The registry refresh refused by the server (integration/tests/sidecar_perms/README.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "consumers.h"
#include "harness/gtest_support.h"
#include "harness/http_client.h"
#include "harness/nats_cluster.h"
#include "harness/node_script.h"
#include "harness/sidecar_process.h"
#include "harness/text.h"
#include "libnats_util.h"

namespace meridian::sidecar_it {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::vector<std::string> kRegions = {"east", "central", "west"};

// Users of the global account: `app` may do everything (and is who a connection without
// credentials is), `nolist` everything but list consumers.
constexpr const char* kAuthorization = R"(
authorization {
  users: [
    {user: app, password: app}
    {user: nolist, password: nolist, permissions: {
      publish: {allow: [">"], deny: ["$JS.API.CONSUMER.LIST.>"]}
      subscribe: {allow: [">"]}
    }}
  ]
}
no_auth_user: app
)";

json Api(natsConnection* nc, const std::string& subject, const json& body) {
  natsStatus s = NATS_OK;
  Msg reply = Request(nc, subject, body.is_null() ? "" : body.dump(), {}, 10000, &s);
  if (!reply) throw std::runtime_error(subject + ": no reply: " + natsStatus_GetText(s));
  return json::parse(DataOf(reply.get()), nullptr, false);
}

// A stream create, asked again while the super-cluster is still forming: right after start the
// meta leader may not know every region's JetStream peer yet ("no suitable peers for
// placement", 10005) or be elected (10008).
json CreateStream(natsConnection* nc, const std::string& name, const json& config) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (true) {
    json r = Api(nc, "$JS.API.STREAM.CREATE." + name, config);
    const int code = r.contains("error") ? r["error"].value("err_code", 0) : 0;
    if ((code != 10005 && code != 10008) || std::chrono::steady_clock::now() > deadline) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

json Varz(const harness::SidecarProcess& s) {
  return json::parse(harness::HttpGet("127.0.0.1", s.http_port(), "/varz").body, nullptr, false);
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

std::string Join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

TEST(SidecarPermsTest, RefusedRegistryRefreshIsCountedAndLoggedAndTheAppKeepsWorking) {
  harness::TestRunDir run_dir;
  harness::SuperClusterOptions opts;
  opts.servers_per_region = 1;
  opts.accounts = false;
  opts.all_servers_config = kAuthorization;
  harness::NatsSuperCluster cluster(run_dir.path(), opts);
  cluster.Start();

  // R1 write and read streams of foo, made on the servers as the `app` user.
  std::map<std::string, Connection> direct;
  for (const auto& r : kRegions) direct[r] = Connect(cluster.ClientUrls(r), "perms-direct-" + r);
  for (const auto& r : kRegions) {
    json w = CreateStream(direct[r].get(), "foo-write-" + r,
                          {{"name", "foo-write-" + r},
                           {"subjects", {"foo." + r + ".>"}},
                           {"storage", "file"},
                           {"placement", {{"cluster", r}}}});
    ASSERT_FALSE(w.contains("error")) << w.dump();
  }
  for (const auto& r : kRegions) {
    json sources = json::array();
    for (const auto& o : kRegions) {
      sources.push_back({{"name", "foo-write-" + o}, {"filter_subject", "foo." + o + ".>"}});
    }
    json rd = CreateStream(direct[r].get(), "foo-read-" + r,
                           {{"name", "foo-read-" + r},
                            {"storage", "file"},
                            {"allow_direct", true},
                            {"placement", {{"cluster", r}}},
                            {"sources", sources}});
    ASSERT_FALSE(rd.contains("error")) << rd.dump();
  }
  harness::SidecarSpec spec;
  spec.name = "sidecar-east-perms";
  spec.region = "east";
  spec.upstream_urls = {cluster.ServersIn("east")[0]->ClientUrl()};
  spec.streams = {{"foo", {"foo.>"}, kRegions}};
  for (const auto& r : kRegions)
    spec.regions.push_back({r, {cluster.ServersIn(r)[0]->ClientUrl()}});
  harness::SidecarProcess sidecar(run_dir.path(), spec);
  sidecar.Start();

  // The app, as `nolist`: its subscriptions make the sidecar refresh the registry on its
  // connection, which the server refuses.
  const std::string token = "perms-" + std::to_string(::getpid());
  std::set<std::string> want;
  for (const auto& r : kRegions) want.insert(token + "-" + r);
  const auto ready = run_dir.path() / "app";
  std::filesystem::create_directories(ready);
  const std::string url = "nats://127.0.0.1:" + std::to_string(sidecar.client_port());
  harness::BackgroundNodeScript app(
      "rebind_client.mjs",
      {"--url",         url,        "--user",       "nolist",       "--pass",    "nolist",
       "--stream",      "foo",      "--filter",     "foo.test",     "--durable", "nolist",
       "--want",        Join(want), "--ready-dir",  ready.string(), "--core",    "perms.echo",
       "--ack-wait-ms", "1500",     "--timeout-ms", "60000"},
      run_dir.path() / "logs" / "app.log", 90s);
  const bool subscribed =
      WaitFor([&] { return std::filesystem::exists(ready / "subscribed"); }, 60s);
  EXPECT_TRUE(subscribed) << "the nats.js app did not subscribe";
  if (subscribed) {
    json varz;
    EXPECT_TRUE(WaitFor(
        [&] {
          varz = Varz(sidecar);
          return varz["split_registry"].value("list_refused", 0) >= 1;
        },
        30s))
        << "no refused CONSUMER.LIST counted: " << varz.dump();
    EXPECT_GE(varz["split_registry"].value("refreshes_refused", 0), 1) << varz.dump();
    EXPECT_GE(varz["split_registry"]["regions"]["east"].value("list_refused", 0), 1) << varz.dump();
    // The app's connection still carries requests to it (a client of the sidecar, as `app`)...
    Connection requester = Connect(url, "perms-requester");
    natsStatus s = NATS_OK;
    Msg reply = Request(requester.get(), "perms.echo", "hello", {}, 10000, &s);
    EXPECT_TRUE(reply) << "no answer from the app: " << natsStatus_GetText(s);
    if (reply) {
      EXPECT_EQ(DataOf(reply.get()), "echo hello");
    }
    // ... and gets its consumer's messages, published in every region.
    for (const auto& r : kRegions) {
      EXPECT_EQ(JsPublish(direct[r].get(), "foo." + r + ".test", token + "-" + r).stream,
                "foo-write-" + r);
    }
  }
  const harness::NodeScriptResult& run = app.Wait();
  ASSERT_TRUE(run.ok()) << run.Describe();
  const json res = json::parse(run.ResultLine(), nullptr, false);
  ASSERT_TRUE(res.is_object()) << run.output;
  EXPECT_EQ(res["missing"], json::array()) << res.dump();
  EXPECT_EQ(res["errors"], json::array()) << "the refusal reached the app: " << res.dump();
  EXPECT_EQ(res.value("core_answered", 0), 1) << res.dump();
  EXPECT_EQ(res["deliveries"].size(), want.size()) << res.dump();
  for (const auto& d : res["deliveries"]) {
    EXPECT_EQ(want.count(d.value("payload", "")), 1u) << d.dump();
    EXPECT_EQ(d.value("subject", ""), "foo.test") << d.dump();
    EXPECT_TRUE(d.value("ack_confirmed", false)) << d.dump();
  }
  EXPECT_EQ(res["consumer"].value("ack_pending", -1), 0) << res.dump();
  EXPECT_EQ(res["consumer"].value("pending", -1), 0) << res.dump();

  // The operator sees it: /metrics, and one warning naming region, stream and reason.
  const std::string metrics = harness::HttpGet("127.0.0.1", sidecar.http_port(), "/metrics").body;
  const std::string metric =
      "\nmeridian_sidecar_split_registry_list_refused_total{region=\"east\"} ";
  const auto m = metrics.find(metric);
  ASSERT_NE(m, std::string::npos) << metrics;
  EXPECT_GE(std::stod(metrics.substr(m + metric.size())), 1.0) << metrics;
  const std::string log = harness::ReadTextFile(run_dir.path() / "logs" / (spec.name + ".log"));
  const std::string line_part =
      "split registry refresh: region east, virtual stream foo: CONSUMER.LIST of foo-read-east "
      "refused: Permissions Violation for Publish to";
  const auto at = log.find(line_part);
  EXPECT_NE(at, std::string::npos) << log;
  if (at != std::string::npos) {
    const std::size_t begin = log.rfind('\n', at) + 1;  // npos + 1 == 0: the first line
    const std::string line = log.substr(begin, log.find('\n', at) - begin);
    EXPECT_NE(line.find("warn"), std::string::npos) << line;
    EXPECT_NE(line.find("$JS.API.CONSUMER.LIST.foo-read-east"), std::string::npos) << line;
  }
  sidecar.Stop();
  cluster.StopAll(5s);
}

}  // namespace
}  // namespace meridian::sidecar_it
