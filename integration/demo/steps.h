// The demo's walkthrough, as an ordered list of steps over one shared context: start-up
// (servers behind the fault proxy, sidecars, topology), then the seed scenario with traffic
// (a publisher per region; kill central, restart; split the brain, heal) and the summary.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "demo/traffic.h"
#include "faultproxy/faulty_cluster.h"
#include "harness/ledger.h"
#include "harness/nats_cluster.h"
#include "harness/run_dir.h"
#include "harness/sidecar_process.h"

namespace meridian::demo {

struct DemoOptions {
  std::vector<std::string> regions = {"east", "central", "west"};
  int servers_per_region = 3;
  bool stretch_cluster = false;  // add cluster "xr", one node per region
  bool once = false;             // start, check, print, tear down
  bool keep = false;             // keep the run directory (configs, logs, stores) at the end
  bool scenario = true;          // walk through the seed scenario (kill, split) with traffic
  std::chrono::milliseconds latency{40};  // one way between regions, through the fault proxy
  std::chrono::milliseconds jitter{10};   // plus uniform 0..jitter
};

struct DemoContext {
  DemoContext(DemoOptions o, std::ostream& output, std::function<bool()> stop)
      : options(std::move(o)), out(output), stop_requested(std::move(stop)) {}
  DemoOptions options;
  std::ostream& out;
  std::function<bool()> stop_requested;  // true once Ctrl-C or SIGTERM arrived
  std::unique_ptr<harness::RunDir> run_dir;
  // The super-cluster with every gateway through the fault proxy; `cluster` is its servers.
  std::unique_ptr<faultproxy::FaultyNatsSuperCluster> faulty;
  harness::NatsSuperCluster* cluster = nullptr;
  std::vector<std::unique_ptr<harness::SidecarProcess>> sidecars;  // one per region
  // The scenario's traffic: every publish attempt, a publisher per region, the API per region.
  harness::PublishLedger ledger;
  std::map<std::string, std::unique_ptr<Publisher>> publishers;
  std::map<std::string, std::unique_ptr<RegionApi>> api;
  // Convergence times measured on the way, in order: what was repaired, how long it took.
  std::vector<std::pair<std::string, std::chrono::milliseconds>> convergence;
  // What the scenario did to the deployment, when (the summary prints the timeline).
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> events;
  bool invariants_failed = false;  // set by the summary; the demo then exits non-zero
};

struct DemoStep {
  std::string title;
  std::function<void(DemoContext&)> run;  // throws std::exception to abort the demo
};

// The steps, in order: start-up, then (options.scenario, 3 or more regions) the seed scenario.
std::vector<DemoStep> DemoSteps(const DemoOptions& options);
// Stops publishers, sidecars, then every server gracefully and reports how each ended.
void TearDown(DemoContext& ctx);

}  // namespace meridian::demo
