// meridian-demo: the main job. Starts a local multi-region deployment (latency between regions
// through the fault proxy), walks through the seed scenario (kill a region, split the brain)
// with traffic and a summary, says where to connect, and runs until Ctrl-C (SIGINT) or
// SIGTERM; then stops everything cleanly. Exits non-zero if a step or an invariant fails.
#include <signal.h>

#include <cstring>
#include <iostream>
#include <sstream>

#include "demo/steps.h"
#include "harness/process.h"

namespace {

constexpr const char* kUsage =
    "usage: meridian-demo [--once] [--keep] [--regions east,central,west]\n"
    "                     [--servers-per-region N] [--stretch] [--latency MS] [--no-scenario]\n"
    "  --once                 run the walkthrough, print where to connect, then tear down\n"
    "  --keep                 keep the run directory (configs, logs, stores) at the end\n"
    "  --regions A,B,C        region names (default east,central,west)\n"
    "  --servers-per-region N servers per regional cluster (default 3)\n"
    "  --stretch              add the stretch cluster xr, one node per region\n"
    "  --latency MS           one-way latency between regions (default 40, jitter MS/4)\n"
    "  --no-scenario          skip the seed scenario (traffic, kill, split, summary)\n";

bool ParseArgs(int argc, char** argv, meridian::demo::DemoOptions& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--once") {
      o.once = true;
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--stretch") {
      o.stretch_cluster = true;
    } else if (a == "--no-scenario") {
      o.scenario = false;
    } else if (a == "--latency") {
      const int ms = std::stoi(value());
      if (ms < 0 || ms > 1000) throw std::invalid_argument("--latency must be 0-1000 ms");
      o.latency = std::chrono::milliseconds(ms);
      o.jitter = std::chrono::milliseconds(ms / 4);
    } else if (a == "--servers-per-region") {
      o.servers_per_region = std::stoi(value());
      if (o.servers_per_region < 1 || o.servers_per_region > 9) {
        throw std::invalid_argument("--servers-per-region must be between 1 and 9");
      }
    } else if (a == "--regions") {
      o.regions.clear();
      std::stringstream list(value());
      for (std::string r; std::getline(list, r, ',');) {
        if (!r.empty()) o.regions.push_back(r);
      }
      if (o.regions.empty()) throw std::invalid_argument("--regions needs at least one name");
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return false;
    } else {
      throw std::invalid_argument("unknown option " + a);
    }
  }
  return true;
}

// SIGINT or SIGTERM already delivered (they are blocked and handled here, not by handlers).
int PendingStopSignal() {
  sigset_t pending;
  sigpending(&pending);
  if (sigismember(&pending, SIGINT)) return SIGINT;
  if (sigismember(&pending, SIGTERM)) return SIGTERM;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  meridian::demo::DemoOptions options;
  try {
    if (!ParseArgs(argc, argv, options)) return 0;
  } catch (const std::exception& e) {
    std::cerr << "meridian-demo: " << e.what() << "\n" << kUsage;
    return 2;
  }

  // Stop signals are taken synchronously (sigtimedwait), so teardown runs on the main thread.
  // A shell starting us in the background hands SIGINT over ignored, and an ignored signal is
  // discarded even while blocked: restore the default first so Ctrl-C always reaches us.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  meridian::harness::LeaveTerminationSignalsToCaller();

  meridian::demo::DemoContext ctx(options, std::cout, [] { return PendingStopSignal() != 0; });
  const auto steps = meridian::demo::DemoSteps(options);
  int exit_code = 0;
  int stopped_by = 0;
  try {
    for (size_t i = 0; i < steps.size() && stopped_by == 0; ++i) {
      std::cout << "[" << i + 1 << "/" << steps.size() << "] " << steps[i].title << "\n"
                << std::flush;
      steps[i].run(ctx);
      stopped_by = PendingStopSignal();
    }
    if (stopped_by == 0 && !options.once) {
      std::cout << "Running. Press Ctrl-C (or send SIGTERM) to stop.\n" << std::flush;
      std::vector<bool> reported(ctx.cluster->servers().size(), false);
      while (stopped_by == 0) {
        timespec one_second{1, 0};
        int sig = sigtimedwait(&stop_signals, nullptr, &one_second);
        if (sig > 0) stopped_by = sig;
        for (size_t i = 0; i < reported.size(); ++i) {
          const auto& name = ctx.cluster->servers()[i].name;
          if (!reported[i] && !ctx.cluster->Running(name)) {
            reported[i] = true;
            std::cout << "warning: " << name << " exited ("
                      << ctx.cluster->process(name).exit_status()->Describe() << "); see "
                      << ctx.cluster->server(name).log_path.string() << "\n"
                      << std::flush;
            ctx.run_dir->Keep();
          }
        }
      }
    }
    if (stopped_by != 0) std::cout << "\nReceived " << strsignal(stopped_by) << ".\n";
  } catch (const meridian::harness::WaitCancelled&) {
    std::cout << "\nReceived " << strsignal(PendingStopSignal()) << " during the walkthrough.\n";
  } catch (const std::exception& e) {
    std::cerr << "meridian-demo: " << e.what() << "\n";
    if (ctx.run_dir) ctx.run_dir->Keep();
    exit_code = 1;
  }
  meridian::demo::TearDown(ctx);
  return exit_code;
}
