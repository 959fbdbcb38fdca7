// The world every sidecar test shares (started once per test binary by a gtest Environment):
// a 3-region super-cluster of stock nats-servers (3 per region, no auth), the write and read
// streams of the virtual streams created directly on the servers, and one meridian-sidecar
// per region pointed at its region's servers.
//
// Virtual streams: `foo` (foo.>) for the client-facing behaviour, `guard` (guard.>) for the
// "never poison a read stream" cases, so a stalled read stream there cannot cascade into the
// other tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/gtest_support.h"
#include "harness/nats_cluster.h"
#include "harness/sidecar_process.h"
#include "libnats_util.h"

namespace meridian::sidecar_it {

inline const std::vector<std::string> kRegions = {"east", "central", "west"};
// Replicas of every write and read stream. R3 (3 servers per region) is the real layout.
inline constexpr int kReplicas = 3;

struct World {
  std::unique_ptr<harness::TestRunDir> run_dir;
  std::unique_ptr<harness::NatsSuperCluster> cluster;
  std::map<std::string, std::unique_ptr<harness::SidecarProcess>> sidecars;
  std::map<std::string, Connection> direct;  // ServerApi's connections, one per region
  std::string problem;  // non-empty: the world did not start; every test skips with it
};

World& TheWorld();

// Fixture for every test: skips when the world did not start.
class SidecarTest : public ::testing::Test {
 protected:
  void SetUp() override;
};

std::string SidecarUrl(const std::string& region);
std::string ServerUrls(const std::string& region);  // the region's stock servers, direct

Connection ConnectSidecar(const std::string& region, const std::string& name,
                          ConnectOptions o = {});
Connection ConnectDirect(const std::string& region, const std::string& name, ConnectOptions o = {});

// A JetStream API request sent directly to a region's servers (never through a sidecar),
// with its JSON reply. Throws on timeout or unparseable reply.
nlohmann::json ServerApi(const std::string& region, const std::string& subject,
                         const std::string& body = "");
// The same through `nc` (e.g. a sidecar connection); returns the parsed reply.
nlohmann::json ApiRequest(natsConnection* nc, const std::string& subject,
                          const std::string& body = "", int64_t timeout_ms = 5000);

// Messages stored in a real stream, asked directly on the servers of `region`.
uint64_t StoredMessages(const std::string& region, const std::string& stream);

// Waits (bounded) until every read stream of virtual stream `vs` holds as many messages as
// all its write streams together, and returns that number. Throws with the per-stream counts
// when `timeout` passes.
uint64_t WaitForConvergence(const std::string& vs,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A unique token for payloads and names in one test ("<Test>-<counter>").
std::string UniqueToken(const std::string& what);

}  // namespace meridian::sidecar_it
