#include "topology/periodic.h"

#include <algorithm>

#include "topology/coordinator.h"

namespace meridian::topology {

PeriodicJob::PeriodicJob(Topology topology, PeriodicOptions options, Log log)
    : topology_(std::move(topology)), options_(options), log_(std::move(log)) {}

PeriodicJob::~PeriodicJob() {
  Stop();
}

void PeriodicJob::Start() {
  if (thread_.joinable()) return;
  if (!options_.apply_on_start && options_.drift_interval.count() == 0 &&
      options_.trim_interval.count() == 0) {
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

void PeriodicJob::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

namespace {

void LogPlan(const PlanResult& plan, const PeriodicJob::Log& log, bool drift) {
  for (const RegionState& r : plan.regions) {
    if (!r.reachable) log("warn", "topology: region \"" + r.name + "\" unreachable: " + r.error);
  }
  for (const StreamPlan& p : plan.streams) {
    if (p.action == Action::kNone) continue;
    std::string fields;
    for (const FieldChange& c : p.changes) fields += (fields.empty() ? " (" : ", ") + c.field;
    if (!fields.empty()) fields += ")";
    log(p.action == Action::kSkip ? "warn" : (drift ? "warn" : "info"),
        std::string("topology") + (drift ? " drift: " : ": ") + p.desired.name + " in \"" +
            p.desired.region + "\": " + ActionName(p.action) + fields +
            (p.note.empty() ? "" : ": " + p.note));
  }
}

}  // namespace

void PeriodicJob::Run() {
  using Clock = std::chrono::steady_clock;
  Coordinator coordinator(topology_);
  auto guarded = [&](const char* what, const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      log_("error", std::string("topology ") + what + " failed: " + e.what());
    }
  };
  if (options_.apply_on_start) {
    guarded("apply", [&] {
      PlanResult plan = coordinator.Plan();
      LogPlan(plan, log_, false);
      ApplyResult result = coordinator.Apply(plan, /*allow_delete=*/false);
      for (const ApplyStep& s : result.steps) {
        log_(s.ok ? "info" : "error",
             "topology apply: " + s.stream + " in \"" + s.region + "\": " + s.message);
      }
    });
  }
  const auto never = Clock::time_point::max();
  auto next_drift =
      options_.drift_interval.count() > 0 ? Clock::now() + options_.drift_interval : never;
  auto next_trim =
      options_.trim_interval.count() > 0 ? Clock::now() + options_.trim_interval : never;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const auto wake = std::min(next_drift, next_trim);
    if (wake == never) {
      cv_.wait(lock, [&] { return stop_; });
      break;
    }
    cv_.wait_until(lock, wake, [&] { return stop_; });
    if (stop_) break;
    lock.unlock();
    const auto now = Clock::now();
    if (now >= next_drift) {
      guarded("drift check", [&] { LogPlan(coordinator.Plan(), log_, true); });
      next_drift = Clock::now() + options_.drift_interval;
    }
    if (now >= next_trim) {
      guarded("trim", [&] {
        for (const TrimResult& t : coordinator.Trim()) {
          if (t.purged) {
            log_("info", "topology trim: " + t.write_stream + ": purged " +
                             std::to_string(t.purged_count) + " below seq " +
                             std::to_string(t.decision.purge_below));
          } else if (!t.error.empty()) {
            log_("warn", "topology trim: " + t.write_stream + ": " + t.error);
          }
        }
      });
      next_trim = Clock::now() + options_.trim_interval;
    }
    lock.lock();
  }
}

}  // namespace meridian::topology
