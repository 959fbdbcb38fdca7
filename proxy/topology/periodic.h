// The sidecar's topology job (sidecar.toml [coordinator]): optionally apply the topology once at
// start (never deleting), then re-check it every `drift_interval` and log any drift, and
// trim write streams every `trim_interval`. Runs on a thread of its own with its own
// connections (Coordinator is blocking), so the sidecar's loop never waits for it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "topology/spec.h"

namespace meridian::topology {

struct PeriodicOptions {
  bool apply_on_start = false;
  std::chrono::milliseconds drift_interval{0};  // 0: no drift checks
  std::chrono::milliseconds trim_interval{0};   // 0: no trimming
};

class PeriodicJob {
 public:
  // `log(level, sentence)` with level "info", "warn" or "error"; called on the job's thread.
  using Log = std::function<void(const std::string& level, const std::string& text)>;
  PeriodicJob(Topology topology, PeriodicOptions options, Log log);
  ~PeriodicJob();  // Stop()
  PeriodicJob(const PeriodicJob&) = delete;
  PeriodicJob& operator=(const PeriodicJob&) = delete;

  void Start();
  // Wakes the thread and joins it; a request in flight finishes first (bounded by timeouts).
  void Stop();

 private:
  void Run();

  Topology topology_;
  PeriodicOptions options_;
  Log log_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace meridian::topology
