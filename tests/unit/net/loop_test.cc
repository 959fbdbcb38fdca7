#include "net/loop.h"

#include <gtest/gtest.h>

#include <csignal>
#include <thread>

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
