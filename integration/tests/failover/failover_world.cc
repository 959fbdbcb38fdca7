#include "failover_world.h"

#include <iostream>
#include <thread>

#include "harness/http_client.h"
#include "harness/stream_configs.h"

namespace meridian::failover_it {
namespace {

using nlohmann::json;
constexpr int kReplicas = 3;

class FailoverEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    World& w = TheWorld();
    const auto start = std::chrono::steady_clock::now();
    try {
      w.run_dir = std::make_unique<harness::TestRunDir>("FailoverIntegration");
      harness::SuperClusterOptions opts;
      opts.accounts = false;
      w.cluster = std::make_unique<harness::NatsSuperCluster>(w.run_dir->path(), opts);
      w.cluster->Start();
      for (const auto& r : kRegions) {
        json reply = ServerApi(r, "$JS.API.STREAM.CREATE.foo-write-" + r,
                               harness::WriteStreamConfigJson("foo", r, kReplicas));
        if (reply.contains("error")) throw std::runtime_error("create: " + reply.dump());
      }
      for (const auto& r : kRegions) {
        json reply = ServerApi(r, "$JS.API.STREAM.CREATE.foo-read-" + r,
                               harness::ReadStreamConfigJson("foo", r, kRegions, kReplicas));
        if (reply.contains("error")) throw std::runtime_error("create: " + reply.dump());
      }
      harness::SidecarSpec spec;
      spec.name = "sidecar-west";
      spec.region = kHome;
      for (const auto* s : w.cluster->ServersIn(kHome))
        spec.upstream_urls.push_back(s->ClientUrl());
      spec.streams = {{"foo", {"foo.>"}, kRegions}};
      for (const auto& region : kRegions) {
        harness::RegionSpec rs{region, {}};
        for (const auto* s : w.cluster->ServersIn(region)) rs.servers.push_back(s->ClientUrl());
        spec.regions.push_back(rs);
      }
      w.sidecar = std::make_unique<harness::SidecarProcess>(w.run_dir->path(), spec);
      w.sidecar->Start();
    } catch (const std::exception& e) {
      w.problem = e.what();
      ADD_FAILURE() << "the failover test world did not start: " << e.what();
      return;
    }
    std::cerr << "[failover-it] 9 servers, 6 streams (R" << kReplicas << "), sidecar-west ready in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count()
              << " ms\n";
  }

  void TearDown() override {
    World& w = TheWorld();
    if (w.sidecar) w.sidecar->Stop();
    w.sidecar.reset();
    if (w.cluster) w.cluster->StopAll(std::chrono::seconds(5));
    w.cluster.reset();
    w.run_dir.reset();
  }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new FailoverEnvironment);

json GetJson(uint16_t port, const std::string& path) {
  harness::HttpResponse r = harness::HttpGet("127.0.0.1", port, path, std::chrono::seconds(5));
  if (r.status == 0) throw std::runtime_error("GET " + path + ": " + r.error);
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("GET " + path + " is not JSON: " + r.body);
  j["http_status"] = r.status;
  return j;
}

}  // namespace

World& TheWorld() {
  static World world;
  return world;
}

void FailoverTest::SetUp() {
  if (!TheWorld().problem.empty() || !TheWorld().cluster) {
    GTEST_SKIP() << "the failover test world did not start: " << TheWorld().problem;
  }
}

json SidecarHealth() {
  return GetJson(TheWorld().sidecar->http_port(), "/healthz");
}

json SidecarVarz() {
  return GetJson(TheWorld().sidecar->http_port(), "/varz");
}

json ServerApi(const std::string& region, const std::string& subject, const std::string& body) {
  // Only the running servers of the region: a client given a dead one first waits on it.
  std::string urls;
  for (const auto* s : TheWorld().cluster->ServersIn(region)) {
    if (!TheWorld().cluster->Running(s->name)) continue;
    if (!urls.empty()) urls += ",";
    urls += s->ClientUrl();
  }
  if (urls.empty()) throw std::runtime_error("no server of " + region + " runs");
  Connection nc = sidecar_it::Connect(urls, "failover-it-direct");
  natsStatus st = NATS_OK;
  Msg reply = sidecar_it::Request(nc.get(), subject, body, {}, 10000, &st);
  if (!reply) {
    throw std::runtime_error("request " + subject + " got no reply: " + natsStatus_GetText(st));
  }
  const std::string text = sidecar_it::DataOf(reply.get());
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("reply to " + subject + " is not JSON: " + text);
  return j;
}

uint64_t StoredMessages(const std::string& region, const std::string& stream) {
  json info = ServerApi(region, "$JS.API.STREAM.INFO." + stream);
  if (info.contains("error")) throw std::runtime_error(stream + ": " + info.dump());
  return info["state"]["messages"].get<uint64_t>();
}

uint64_t CountMatching(const std::string& region, const std::string& stream,
                       const std::string& filter) {
  json info =
      ServerApi(region, "$JS.API.STREAM.INFO." + stream, json{{"subjects_filter", filter}}.dump());
  if (info.contains("error")) throw std::runtime_error(stream + ": " + info.dump());
  uint64_t n = 0;
  if (info["state"].contains("subjects")) {
    for (const auto& [subject, count] : info["state"]["subjects"].items())
      n += count.get<uint64_t>();
  }
  return n;
}

std::vector<std::string> ServersHosting(const std::string& client_name) {
  std::vector<std::string> out;
  for (const auto* s : TheWorld().cluster->ServersIn(kHome)) {
    if (!TheWorld().cluster->Running(s->name)) continue;
    harness::HttpResponse r =
        harness::HttpGet("127.0.0.1", s->http_port, "/connz?limit=1024", std::chrono::seconds(5));
    json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("connections")) continue;
    for (const auto& c : j["connections"]) {
      if (c.value("name", "") == client_name) {
        out.push_back(s->name);
        break;
      }
    }
  }
  return out;
}

bool WaitFor(const std::function<bool()>& ok, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    try {
      if (ok()) return true;
    } catch (const std::exception&) {
      // a server still starting: ask again
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace meridian::failover_it
