#include "net/loop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace meridian::net {
namespace {

using std::chrono::milliseconds;
using testing::RunUntil;

TEST(Loop, PostFromAnotherThreadRunsOnTheLoopThread) {
  Loop loop;
  std::thread::id ran_on;
  std::thread poster([&] { loop.Post([&] { ran_on = std::this_thread::get_id(); }); });
  poster.join();
  ASSERT_TRUE(RunUntil(loop, [&] { return ran_on != std::thread::id(); }));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(Loop, QueuedWorkRunsOffTheLoopThreadThenDoneRunsOnIt) {
  Loop loop;
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id work_thread;
  std::atomic<bool> work_ran{false};
  bool done_ran = false, done_saw_work = false, done_on_loop = false;
  loop.QueueWork(
      [&] {
        work_thread = std::this_thread::get_id();
        work_ran = true;
      },
      [&] {
        done_ran = true;
        done_saw_work = work_ran.load();
        done_on_loop = std::this_thread::get_id() == loop_thread;
      });
  EXPECT_FALSE(done_ran);  // never inline
  ASSERT_TRUE(RunUntil(loop, [&] { return done_ran; }));
  EXPECT_TRUE(done_saw_work);
  EXPECT_TRUE(done_on_loop);
  EXPECT_NE(work_thread, loop_thread);
}

TEST(Loop, DestroyingTheLoopWaitsForQueuedWorkAndDropsItsDone) {
  std::atomic<bool> work_finished{false};
  bool done_ran = false;
  {
    Loop loop;
    loop.QueueWork(
        [&] {
          std::this_thread::sleep_for(milliseconds(50));
          work_finished = true;
        },
        [&] { done_ran = true; });
  }
  EXPECT_TRUE(work_finished.load());
  EXPECT_FALSE(done_ran);
}

TEST(Loop, StopPostedFromAnotherThreadEndsRun) {
  Loop loop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(20));
    loop.Post([&] { loop.Stop(); });
  });
  EXPECT_TRUE(loop.RunFor(milliseconds(5000)));
  stopper.join();
}

TEST(Loop, RunForReportsTheTimeLimit) {
  Loop loop;
  EXPECT_FALSE(loop.RunFor(milliseconds(20)));
}

TEST(Loop, OneShotTimerFiresOnceAndBecomesInactive) {
  Loop loop;
  int fired = 0;
  Timer t = loop.After(milliseconds(5), [&] { ++fired; });
  EXPECT_TRUE(t.active());
  loop.RunFor(milliseconds(60));
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(t.active());
}

TEST(Loop, RepeatingTimerFiresUntilCancelled) {
  Loop loop;
  int fired = 0;
  Timer t;
  t = loop.Every(milliseconds(2), [&] {
    if (++fired == 3) t.Cancel();
  });
  loop.RunFor(milliseconds(100));
  EXPECT_EQ(fired, 3);
  EXPECT_FALSE(t.active());
}

TEST(Loop, CancelledTimerNeverFires) {
  Loop loop;
  bool fired = false;
  Timer t = loop.After(milliseconds(5), [&] { fired = true; });
  t.Cancel();
  loop.RunFor(milliseconds(30));
  EXPECT_FALSE(fired);
}

TEST(Loop, DestroyedTimerNeverFires) {
  Loop loop;
  bool fired = false;
  {
    Timer t = loop.After(milliseconds(5), [&] { fired = true; });
  }
  loop.RunFor(milliseconds(30));
  EXPECT_FALSE(fired);
}

TEST(Loop, TimerMayOutliveItsLoop) {
  Timer t;
  {
    Loop loop;
    t = loop.After(milliseconds(1000), [] {});
  }
  t.Cancel();
  EXPECT_FALSE(t.active());
}

TEST(Loop, IterationHookRunsAfterTheCallbacksOfEachIteration) {
  Loop loop;
  std::vector<std::string> seen;
  IterationHook hook = loop.AtIterationEnd([&] { seen.push_back("end"); });
  loop.Post([&] { seen.push_back("posted"); });
  ASSERT_TRUE(RunUntil(loop, [&] {
    auto p = std::find(seen.begin(), seen.end(), "posted");
    return p != seen.end() && p + 1 != seen.end();
  }));
  auto posted = std::find(seen.begin(), seen.end(), "posted");
  ASSERT_NE(posted, seen.end());
  ASSERT_NE(posted + 1, seen.end());
  EXPECT_EQ(*(posted + 1), "end") << "the hook runs in the iteration that ran the callback";
}

TEST(Loop, CancelledIterationHookNeverRunsAgain) {
  Loop loop;
  int runs = 0;
  IterationHook hook;
  hook = loop.AtIterationEnd([&] {
    ++runs;
    hook.Cancel();  // from inside its own callback
  });
  bool posted = false;
  loop.Post([&] { posted = true; });
  ASSERT_TRUE(RunUntil(loop, [&] { return posted; }));
  int again = 0;
  loop.Post([&] { again = 1; });
  ASSERT_TRUE(RunUntil(loop, [&] { return again == 1; }));
  EXPECT_EQ(runs, 1);
}

TEST(Loop, IterationHookMayOutliveItsLoop) {
  IterationHook hook;
  {
    Loop loop;
    hook = loop.AtIterationEnd([] {});
  }
  hook.Cancel();
}

TEST(Loop, SignalHandlerSeesSighup) {
  Loop loop;
  int seen = 0;
  loop.HandleSignals([&](int sig) { seen = sig; });
  Timer t = loop.After(milliseconds(1), [] { std::raise(SIGHUP); });
  ASSERT_TRUE(RunUntil(loop, [&] { return seen != 0; }));
  EXPECT_EQ(seen, SIGHUP);
}

}  // namespace
}  // namespace meridian::net
