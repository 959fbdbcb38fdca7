// Loop: the one event loop a thread runs (a thin owner of a libuv loop).
//
// Everything in net/ and http/ is single-threaded: create, use and destroy connections,
// listeners and timers on the loop's own thread. The only thread-safe call is Post(), which
// runs a callback on the loop thread soon. Destroying the Loop closes everything still open
// on it (connections report CloseReason::kLoopShutdown) and must happen on its thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

struct uv_loop_s;

namespace meridian::net {

class Loop;

// A one-shot or repeating timer. Destroying or Cancel()ing it stops it; a cancelled timer
// never fires again. A default-constructed Timer is inert. Must not outlive its Loop.
class Timer {
 public:
  Timer() = default;
  ~Timer();
  Timer(Timer&& other) noexcept;
  Timer& operator=(Timer&& other) noexcept;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void Cancel();
  // True until a one-shot timer fired or the timer was cancelled.
  bool active() const;

  struct Impl;

 private:
  friend class Loop;
  explicit Timer(Impl* impl) : impl_(impl) {}
  Impl* impl_ = nullptr;
};

// Runs a callback on the loop thread at the end of every loop iteration, after the I/O
// callbacks of that iteration (libuv's check phase), until destroyed or Cancel()ed. For work
// that should see everything one wake-up brought in before deciding (e.g. one sync decision
// for all the appends of a read). May outlive its Loop (it is inert then).
class IterationHook {
 public:
  IterationHook() = default;
  ~IterationHook() { Cancel(); }
  IterationHook(IterationHook&& other) noexcept = default;
  IterationHook& operator=(IterationHook&& other) noexcept {
    if (this != &other) {
      Cancel();
      impl_ = std::move(other.impl_);
    }
    return *this;
  }
  IterationHook(const IterationHook&) = delete;
  IterationHook& operator=(const IterationHook&) = delete;

  void Cancel();

  struct Impl;

 private:
  friend class Loop;
  explicit IterationHook(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

class Loop {
 public:
  using Callback = std::function<void()>;

  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Runs until Stop() is called (from a callback or via Post from another thread).
  void Run();
  // Runs until Stop() or until `limit` passed; returns false when the limit was hit.
  // Meant for tests, so that a broken test fails instead of hanging.
  bool RunFor(std::chrono::milliseconds limit);
  // Runs one non-blocking iteration (handles ready events only).
  void RunOnce();
  // Makes Run() return after the current iteration. Loop thread only; use Post elsewhere.
  void Stop();

  // Thread-safe: queues `cb` to run on the loop thread. Callbacks posted before the loop
  // is destroyed but not yet run are dropped with it.
  void Post(Callback cb);

  // Runs `work` on libuv's thread pool (shared by the process; UV_THREADPOOL_SIZE threads, 4
  // by default), then `done` on the loop thread. `work` must not touch loop-thread state.
  // When the Loop is destroyed before `done` could run, it waits for `work` to finish and
  // drops `done` without calling it. Loop thread only.
  void QueueWork(Callback work, Callback done);

  // Timers. `cb` runs on the loop thread; a repeating timer first fires after `every`.
  [[nodiscard]] Timer After(std::chrono::milliseconds delay, Callback cb);
  [[nodiscard]] Timer Every(std::chrono::milliseconds every, Callback cb);
  // See IterationHook. Loop thread only.
  [[nodiscard]] IterationHook AtIterationEnd(Callback cb);

  // Calls `cb(signal_number)` on the loop thread for SIGINT, SIGTERM and SIGHUP, until
  // the Loop is destroyed or StopSignals() is called. Only one loop per process should.
  void HandleSignals(std::function<void(int)> cb);
  void StopSignals();

  // Milliseconds of the loop's cached monotonic clock (updated each iteration).
  uint64_t NowMs() const;

  // The underlying libuv loop, for code inside net/ and http/ (and tests).
  uv_loop_s* raw() const;

  struct Impl;
  Impl* impl() const { return impl_.get(); }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::net
