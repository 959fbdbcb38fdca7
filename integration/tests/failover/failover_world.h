// The world the failover tests share (started once per binary by a gtest Environment): a
// 3-region super-cluster of stock nats-servers (3 per region, no auth), the write and read
// streams of virtual stream `foo` (R3) created directly on the servers, and one
// meridian-sidecar for region west with failover on (the default: other regions in topology
// order). Tests kill west's servers and restart them, so they run in file order and each
// leaves every server running again.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../sidecar/libnats_util.h"
#include "harness/gtest_support.h"
#include "harness/nats_cluster.h"
#include "harness/sidecar_process.h"

namespace meridian::failover_it {

using sidecar_it::Connection;
using sidecar_it::Msg;
using sidecar_it::Subscription;

inline const std::vector<std::string> kRegions = {"east", "central", "west"};
inline const std::string kHome = "west";  // the sidecar's region

struct World {
  std::unique_ptr<harness::TestRunDir> run_dir;
  std::unique_ptr<harness::NatsSuperCluster> cluster;
  std::unique_ptr<harness::SidecarProcess> sidecar;  // region west
  std::string problem;  // non-empty: the world did not start; every test skips with it
};

World& TheWorld();

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override;
};

// The sidecar's /healthz and /varz as JSON (/healthz: {"http_status":N,...}).
nlohmann::json SidecarHealth();
nlohmann::json SidecarVarz();

// A JetStream API request sent directly to the servers of `region` (a fresh connection).
nlohmann::json ServerApi(const std::string& region, const std::string& subject,
                         const std::string& body = "");
// Messages stored in a real stream, asked on the servers of `region`.
uint64_t StoredMessages(const std::string& region, const std::string& stream);
// How many messages of `stream` (asked on `region`'s servers) match `filter`: the sum of
// the stream info's per-subject counts under that subjects_filter.
uint64_t CountMatching(const std::string& region, const std::string& stream,
                       const std::string& filter);

// The names of the west servers on which a client called `client_name` is connected
// (their /connz).
std::vector<std::string> ServersHosting(const std::string& client_name);

// Polls `ok` every 100 ms until it holds or `timeout` passes; returns whether it held.
bool WaitFor(const std::function<bool()>& ok, std::chrono::milliseconds timeout);

}  // namespace meridian::failover_it
