// A child process owned by a test: started in its own process group with its output in a
// log file, and always killed and reaped when the owner dies (destructor, exit, fatal signal,
// or the death of the test process itself).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace meridian::harness {

struct ProcessSpec {
  std::vector<std::string> argv;           // argv[0] is the program (looked up in PATH if no '/')
  std::map<std::string, std::string> env;  // added to (or replacing in) the inherited env
  std::filesystem::path working_dir;       // empty: inherit
  std::filesystem::path log_path;          // stdout+stderr, appended to across restarts
  int stop_signal = SIGTERM;  // what Stop() sends first (SIGTERM; nats-server exits 0 on SIGINT)
};

struct ExitStatus {
  bool exited = false;  // true: normal exit with `code`; false: killed by `signal`
  int code = 0;
  int signal = 0;
  std::string Describe() const;  // "exit code 1" or "signal 9 (Killed)"
};

// Not copyable; movable. The process is started by the constructor.
class Process {
 public:
  explicit Process(ProcessSpec spec);
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // The stop signal (SIGTERM by default), then SIGKILL if the process has not exited within
  // `grace`. Returns how it ended.
  ExitStatus Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Sends the stop signal and returns at once (to stop many processes in parallel; then Stop()).
  void RequestStop();
  // SIGKILL to the whole process group, then reap.
  ExitStatus Kill();
  void Pause();   // SIGSTOP to the process group
  void Resume();  // SIGCONT to the process group
  // Stops (if running) and starts again with the same argv, env and working dir.
  void Restart(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Waits for the process to exit on its own; nullopt on timeout (the process keeps running).
  std::optional<ExitStatus> Wait(std::chrono::milliseconds timeout);

  bool Running();  // reaps the child if it has exited
  std::optional<ExitStatus> exit_status() const { return exit_status_; }
  pid_t pid() const { return pid_; }
  const ProcessSpec& spec() const { return spec_; }
  const std::filesystem::path& log_path() const { return spec_.log_path; }
  // The last `lines` lines of the log file, for error messages.
  std::string LogTail(int lines = 30) const;
  // A one-line name for messages: "nats-server (pid 123)".
  std::string Name() const;

 private:
  void Spawn();
  void Reaped(int wait_status);
  void Signal(int sig);

  ProcessSpec spec_;
  pid_t pid_ = -1;  // also the process group id; -1 when not running
  std::optional<ExitStatus> exit_status_;
};

// Reads the last `lines` lines of a text file ("" if it does not exist).
std::string TailOfFile(const std::filesystem::path& path, int lines);

// Kills every process group this process has started and not yet reaped. Async-signal-safe.
// Called automatically at exit and on SIGINT/SIGTERM/SIGABRT/SIGSEGV/SIGBUS; exposed for tests.
void KillAllChildren();

// Programs that handle SIGINT/SIGTERM themselves (the demo) call this before starting any
// process, so the harness installs no handler for those two (the atexit hook still runs).
void LeaveTerminationSignalsToCaller();

}  // namespace meridian::harness
