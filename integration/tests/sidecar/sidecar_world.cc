#include "sidecar_world.h"

#include <atomic>
#include <iostream>
#include <sstream>
#include <thread>

#include "harness/stream_configs.h"

namespace meridian::sidecar_it {
namespace {

using nlohmann::json;

const std::vector<std::string> kVirtualStreams = {"foo", "guard"};

void CreateStream(const std::string& region, const std::string& config) {
  const std::string name = json::parse(config)["name"];
  json reply = ServerApi(region, "$JS.API.STREAM.CREATE." + name, config);
  if (reply.contains("error")) {
    throw std::runtime_error("creating stream " + name + " on the servers failed: " + reply.dump());
  }
}

class SidecarEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    World& w = TheWorld();
    const auto start = std::chrono::steady_clock::now();
    try {
      w.run_dir = std::make_unique<harness::TestRunDir>("SidecarIntegration");
      harness::SuperClusterOptions opts;
      opts.accounts = false;  // clients need only nats://127.0.0.1:<sidecar port>
      w.cluster = std::make_unique<harness::NatsSuperCluster>(w.run_dir->path(), opts);
      w.cluster->Start();
      for (const auto& vs : kVirtualStreams) {
        for (const auto& r : kRegions)
          CreateStream(r, harness::WriteStreamConfigJson(vs, r, kReplicas));
        for (const auto& r : kRegions)
          CreateStream(r, harness::ReadStreamConfigJson(vs, r, kRegions, kReplicas));
      }
      std::vector<harness::VirtualStreamSpec> topology;
      for (const auto& vs : kVirtualStreams) topology.push_back({vs, {vs + ".>"}, kRegions});
      for (const auto& r : kRegions) {
        harness::SidecarSpec spec;
        spec.region = r;
        for (const auto* s : w.cluster->ServersIn(r)) spec.upstream_urls.push_back(s->ClientUrl());
        spec.streams = topology;
        for (const auto& region : kRegions) {
          harness::RegionSpec rs{region, {}};
          for (const auto* s : w.cluster->ServersIn(region)) rs.servers.push_back(s->ClientUrl());
          spec.regions.push_back(rs);
        }
        auto sidecar = std::make_unique<harness::SidecarProcess>(w.run_dir->path(), spec);
        sidecar->Start();
        w.sidecars[r] = std::move(sidecar);
      }
    } catch (const std::exception& e) {
      w.problem = e.what();
      ADD_FAILURE() << "the sidecar test world did not start: " << e.what();
      return;
    }
    std::cerr << "[sidecar-it] 9 servers, 12 streams (R" << kReplicas << "), 3 sidecars ready in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count()
              << " ms\n";
  }

  void TearDown() override {
    World& w = TheWorld();
    for (auto& [region, sidecar] : w.sidecars) sidecar->Stop();
    w.sidecars.clear();
    w.direct.clear();
    if (w.cluster) w.cluster->StopAll(std::chrono::seconds(5));
    w.cluster.reset();
    w.run_dir.reset();
  }
};

[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new SidecarEnvironment);

}  // namespace

World& TheWorld() {
  static World world;
  return world;
}

void SidecarTest::SetUp() {
  if (!TheWorld().problem.empty() || !TheWorld().cluster) {
    GTEST_SKIP() << "the sidecar test world did not start: " << TheWorld().problem;
  }
}

std::string SidecarUrl(const std::string& region) {
  return TheWorld().sidecars.at(region)->ClientUrl();
}

std::string ServerUrls(const std::string& region) {
  return TheWorld().cluster->ClientUrls(region);
}

Connection ConnectSidecar(const std::string& region, const std::string& name, ConnectOptions o) {
  return Connect(SidecarUrl(region), name, o);
}

Connection ConnectDirect(const std::string& region, const std::string& name, ConnectOptions o) {
  return Connect(ServerUrls(region), name, o);
}

json ApiRequest(natsConnection* nc, const std::string& subject, const std::string& body,
                int64_t timeout_ms) {
  natsStatus s = NATS_OK;
  Msg reply = Request(nc, subject, body, {}, timeout_ms, &s);
  if (!reply) {
    throw std::runtime_error("request " + subject + " " + body +
                             " got no reply: " + natsStatus_GetText(s));
  }
  const std::string text = DataOf(reply.get());
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("reply to " + subject + " is not JSON: " + text);
  return j;
}

json ServerApi(const std::string& region, const std::string& subject, const std::string& body) {
  // One direct connection per region, kept for the whole run.
  auto& direct = TheWorld().direct;
  auto it = direct.find(region);
  if (it == direct.end()) {
    it = direct.emplace(region, ConnectDirect(region, "sidecar-it-direct-" + region)).first;
  }
  return ApiRequest(it->second.get(), subject, body, 10000);
}

uint64_t StoredMessages(const std::string& region, const std::string& stream) {
  json info = ServerApi(region, "$JS.API.STREAM.INFO." + stream);
  if (info.contains("error")) {
    throw std::runtime_error("stream info " + stream + " in " + region + ": " + info.dump());
  }
  return info["state"]["messages"].get<uint64_t>();
}

uint64_t WaitForConvergence(const std::string& vs, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    uint64_t written = 0;
    std::ostringstream counts;
    for (const auto& r : kRegions) {
      uint64_t n = StoredMessages(r, vs + "-write-" + r);
      written += n;
      counts << vs << "-write-" << r << "=" << n << " ";
    }
    bool all = true;
    for (const auto& r : kRegions) {
      uint64_t n = StoredMessages(r, vs + "-read-" + r);
      counts << vs << "-read-" << r << "=" << n << " ";
      if (n != written) all = false;
    }
    if (all) return written;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error("read streams of " + vs + " did not converge within " +
                               std::to_string(timeout.count()) + " ms: " + counts.str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string UniqueToken(const std::string& what) {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string base = info ? info->name() : "world";
  return base + "-" + what + "-" + std::to_string(++counter);
}

}  // namespace meridian::sidecar_it
