// The demo's walkthrough, as an ordered list of steps over one shared context. Later issues
// add steps (sidecars, topology apply, disaster drills) to DemoSteps().
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

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
};

struct DemoContext {
  DemoOptions options;
  std::ostream& out;
  std::function<bool()> stop_requested;  // true once Ctrl-C or SIGTERM arrived
  std::unique_ptr<harness::RunDir> run_dir;
  std::unique_ptr<harness::NatsSuperCluster> cluster;
  std::vector<std::unique_ptr<harness::SidecarProcess>> sidecars;  // one per region
};

struct DemoStep {
  std::string title;
  std::function<void(DemoContext&)> run;  // throws std::exception to abort the demo
};

// The steps run at start-up, in order.
std::vector<DemoStep> DemoSteps();
// Stops every server gracefully and reports how each ended.
void TearDown(DemoContext& ctx);

}  // namespace meridian::demo
