// The harness's process handling: children are started in their own process group with
// their output logged, and never outlive their owner, however the owner ends.
#include "harness/process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include "harness/gtest_support.h"
#include "harness/health.h"
#include "harness/http_client.h"
#include "harness/ports.h"

namespace meridian::harness {
namespace {

using namespace std::chrono_literals;

// True once `pid` no longer exists (or is only a zombie waiting for someone else to reap it).
bool GoneWithin(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, comm, state;
    if (stat >> pid_field >> comm >> state && state == "Z") return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

ProcessSpec Sleeper(const RunDir& dir, const std::string& name = "sleeper") {
  ProcessSpec spec;
  spec.argv = {"sleep", "1000"};
  spec.log_path = dir / (name + ".log");
  return spec;
}

pid_t ReadPid(const std::filesystem::path& file) {
  std::ifstream in(file);
  pid_t pid = -1;
  in >> pid;
  return pid;
}

TEST(Process, WritesStdoutAndStderrToItsLogAndReportsTheExitCode) {
  TestRunDir dir;
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo out; echo err >&2; echo \"$GREETING\"; pwd; exit 3"};
  spec.env = {{"GREETING", "hello"}};
  spec.working_dir = dir.path();
  spec.log_path = dir / "sh.log";
  Process p(spec);
  auto status = p.Wait(5s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 3);
  EXPECT_EQ(p.LogTail(10), "out\nerr\nhello\n" + dir.path().string() + "\n");
}

TEST(Process, RunsInItsOwnProcessGroup) {
  TestRunDir dir;
  Process p(Sleeper(dir));
  EXPECT_EQ(::getpgid(p.pid()), p.pid());
  EXPECT_NE(::getpgid(p.pid()), ::getpgid(0));
}

TEST(Process, ReportsAProgramThatCannotStart) {
  TestRunDir dir;
  ProcessSpec spec;
  spec.argv = {"/nonexistent/program"};
  spec.log_path = dir / "x.log";
  try {
    Process p(spec);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot start /nonexistent/program"), std::string::npos)
        << e.what();
  }
}

TEST(Process, StopEndsItWithTheStopSignal) {
  TestRunDir dir;
  Process p(Sleeper(dir));
  ExitStatus s = p.Stop(5s);
  EXPECT_FALSE(s.exited);
  EXPECT_EQ(s.signal, SIGTERM);
  EXPECT_FALSE(p.Running());
}

TEST(Process, StopFallsBackToSigkillAfterTheGracePeriod) {
  TestRunDir dir;
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"};
  spec.log_path = dir / "stubborn.log";
  Process p(spec);
  for (int i = 0; i < 200 && p.LogTail(1).empty(); ++i) std::this_thread::sleep_for(10ms);
  const auto start = std::chrono::steady_clock::now();
  ExitStatus s = p.Stop(300ms);
  EXPECT_EQ(s.signal, SIGKILL);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms);
}

TEST(Process, PauseStopsItAndResumeContinuesIt) {
  TestRunDir dir;
  Process p(Sleeper(dir));
  p.Pause();
  std::string state;
  for (int i = 0; i < 100 && state != "T"; ++i) {
    std::ifstream stat("/proc/" + std::to_string(p.pid()) + "/stat");
    std::string pid_field, comm;
    stat >> pid_field >> comm >> state;
    if (state != "T") std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(state, "T");
  p.Resume();
  EXPECT_TRUE(p.Running());
  EXPECT_EQ(p.Stop(5s).signal, SIGTERM);  // a paused process would not act on SIGTERM
}

TEST(Process, RestartRunsTheSameCommandAgainAndAppendsToTheLog) {
  TestRunDir dir;
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo started; exec sleep 1000"};
  spec.log_path = dir / "restart.log";
  Process p(spec);
  for (int i = 0; i < 200 && p.LogTail(5).empty(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(p.LogTail(5), "started\n");
  const pid_t first = p.pid();
  p.Restart(5s);
  EXPECT_NE(p.pid(), first);
  EXPECT_TRUE(p.Running());
  EXPECT_TRUE(GoneWithin(first, 2s));
  for (int i = 0; i < 200 && p.LogTail(5) != "started\nstarted\n"; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(p.LogTail(5), "started\nstarted\n");
}

TEST(Process, WaitTimesOutWhileTheProcessRuns) {
  TestRunDir dir;
  Process p(Sleeper(dir));
  EXPECT_FALSE(p.Wait(100ms));
  EXPECT_TRUE(p.Running());
}

TEST(Process, IsKilledWhenItsOwnerIsDestroyed) {
  TestRunDir dir;
  pid_t pid;
  {
    Process p(Sleeper(dir));
    pid = p.pid();
    ASSERT_EQ(::kill(pid, 0), 0);
  }
  EXPECT_TRUE(GoneWithin(pid, 2s));
}

TEST(Process, KillsGrandchildrenInItsProcessGroupToo) {
  TestRunDir dir;
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "sleep 1000 & echo $! > grandchild.pid; wait"};
  spec.working_dir = dir.path();
  spec.log_path = dir / "parent.log";
  pid_t grandchild = -1;
  {
    Process p(spec);
    for (int i = 0; i < 200 && grandchild <= 0; ++i) {
      std::this_thread::sleep_for(10ms);
      grandchild = ReadPid(dir / "grandchild.pid");
    }
    ASSERT_GT(grandchild, 0);
  }
  EXPECT_TRUE(GoneWithin(grandchild, 2s));
}

// The kernel's parent-death signal follows the thread that forked; a process started from a
// test thread that has since ended must keep running.
TEST(Process, OutlivesTheThreadThatStartedIt) {
  TestRunDir dir;
  std::unique_ptr<Process> p;
  std::thread starter([&] { p = std::make_unique<Process>(Sleeper(dir)); });
  starter.join();
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->Wait(1s)) << "killed when its starting thread ended";
  EXPECT_TRUE(p->Running());
  std::thread restarter([&] { p->Restart(); });
  restarter.join();
  EXPECT_FALSE(p->Wait(1s)) << "killed when its restarting thread ended";
}

// The owner ends without running the Process destructor: exit(), a fatal signal, or SIGKILL.
// A global pointer keeps the object reachable, so LeakSanitizer does not count it.
Process* g_never_destroyed = nullptr;

void SpawnLeakedSleeperThen(const std::filesystem::path& dir, void (*end)()) {
  ProcessSpec spec;
  spec.argv = {"sleep", "1000"};
  spec.log_path = dir / "leaked.log";
  g_never_destroyed = new Process(spec);
  std::ofstream(dir / "leaked.pid") << g_never_destroyed->pid();
  end();
}

TEST(ProcessDeathTest, ChildIsKilledWhenTheOwnerCallsExit) {
  TestRunDir dir;
  EXPECT_EXIT(SpawnLeakedSleeperThen(dir.path(), [] { std::exit(0); }),
              ::testing::ExitedWithCode(0), "");
  pid_t pid = ReadPid(dir / "leaked.pid");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(GoneWithin(pid, 5s));
}

TEST(ProcessDeathTest, ChildIsKilledWhenTheOwnerGetsSigterm) {
  TestRunDir dir;
  EXPECT_EXIT(SpawnLeakedSleeperThen(dir.path(), [] { ::raise(SIGTERM); }),
              ::testing::KilledBySignal(SIGTERM), "");
  pid_t pid = ReadPid(dir / "leaked.pid");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(GoneWithin(pid, 5s));
}

TEST(ProcessDeathTest, ChildIsKilledWhenTheOwnerAborts) {
  TestRunDir dir;
  EXPECT_EXIT(SpawnLeakedSleeperThen(dir.path(), [] { std::abort(); }),
              ::testing::KilledBySignal(SIGABRT), "");
  pid_t pid = ReadPid(dir / "leaked.pid");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(GoneWithin(pid, 5s));
}

TEST(ProcessDeathTest, ChildIsKilledWhenTheOwnerIsSigkilled) {
  TestRunDir dir;
  EXPECT_EXIT(SpawnLeakedSleeperThen(dir.path(), [] { ::raise(SIGKILL); }),
              ::testing::KilledBySignal(SIGKILL), "");
  pid_t pid = ReadPid(dir / "leaked.pid");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(GoneWithin(pid, 5s));
}

TEST(FreeLoopbackPort, NeverHandsOutTheSamePortTwice) {
  std::set<uint16_t> seen;
  for (int i = 0; i < 200; ++i) {
    uint16_t port = FreeLoopbackPort();
    EXPECT_GT(port, 0);
    EXPECT_TRUE(seen.insert(port).second) << "port " << port << " handed out twice";
  }
}

TEST(HttpGet, ReportsAConnectionThatIsRefused) {
  uint16_t port = FreeLoopbackPort();  // nothing listens there
  HttpResponse r = HttpGet("127.0.0.1", port, "/healthz", 1s);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("Connection refused"), std::string::npos) << r.error;
}

TEST(WaitForHealthz, FailsWithTheLogTailWhenTheProcessExits) {
  TestRunDir dir;
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo 'listen failed: address in use'; exit 1"};
  spec.log_path = dir / "dies.log";
  Process p(spec);
  try {
    WaitForHealthz(p, FreeLoopbackPort(), 5s);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exited (exit code 1)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("listen failed: address in use"), std::string::npos)
        << e.what();
  }
}

TEST(WaitForHealthz, TimesOutNamingTheUrlWhenNothingAnswers) {
  TestRunDir dir;
  Process p(Sleeper(dir));
  uint16_t port = FreeLoopbackPort();
  try {
    WaitForHealthz(p, port, 300ms);
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("did not become healthy within 300 ms"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(std::to_string(port) + "/healthz"), std::string::npos);
  }
}

TEST(RunDir, IsRemovedUnlessKept) {
  std::filesystem::path removed, kept;
  {
    RunDir a("plumbing-removed");
    removed = a.path();
    std::ofstream(a / "file") << "x";
  }
  {
    RunDir b("plumbing-kept");
    kept = b.path();
    b.Keep();
  }
  EXPECT_FALSE(std::filesystem::exists(removed));
  EXPECT_TRUE(std::filesystem::exists(kept));
  EXPECT_EQ(kept.parent_path(), RunDir::Root());
  EXPECT_EQ(kept.filename().string().rfind("plumbing-kept-", 0), 0u);
  std::filesystem::remove_all(kept);
}

}  // namespace
}  // namespace meridian::harness
