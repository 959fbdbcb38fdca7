#include "harness/process.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <deque>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace meridian::harness {
namespace {

// Process groups started and not yet reaped. A fixed table of atomics, so the signal handler
// can walk it without locks or allocation.
constexpr int kMaxChildren = 1024;
std::array<std::atomic<pid_t>, kMaxChildren> g_children{};
std::atomic<bool> g_leave_termination_signals{false};
std::once_flag g_hooks_once;

void Register(pid_t pgid) {
  for (auto& slot : g_children) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pgid)) return;
  }
  // Table full: kill the child rather than leak it.
  ::kill(-pgid, SIGKILL);
  throw std::runtime_error("the harness tracks at most 1024 live child processes; stop some first");
}

void Unregister(pid_t pgid) {
  for (auto& slot : g_children) {
    pid_t expected = pgid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

// Every fork happens on one thread that lives as long as the test process. The kernel's
// PR_SET_PDEATHSIG fires when the thread that forked exits, not the process: a child forked
// from a short-lived test thread (a restart from a watcher thread) would be SIGKILLed when that
// thread ended. Its objects are never destroyed, so exit() cannot pull them from under it.
class ForkThread {
 public:
  static ForkThread& Get() {
    // A process forked without exec (a gtest death test) has no fork thread of its own:
    // it makes a new one (the parent's, locks and all, is left alone).
    static std::mutex mu;
    static ForkThread* t = nullptr;
    static pid_t owner = -1;
    std::lock_guard<std::mutex> lock(mu);
    if (t == nullptr || owner != ::getpid()) {
      t = new ForkThread();
      owner = ::getpid();
    }
    return *t;
  }

  // Runs `fork_fn` (which forks; the child never returns from it) on the fork thread.
  pid_t Run(const std::function<pid_t()>& fork_fn) {
    std::unique_lock<std::mutex> lock(mu_);
    const std::uint64_t ticket = ++submitted_;
    queue_.push_back({ticket, &fork_fn});
    cv_.notify_all();
    cv_.wait(lock, [&] { return done_.count(ticket) != 0; });
    const Result r = done_[ticket];
    done_.erase(ticket);
    if (r.error != 0) errno = r.error;
    return r.pid;
  }

 private:
  struct Job {
    std::uint64_t ticket;
    const std::function<pid_t()>* fn;
  };
  struct Result {
    pid_t pid = -1;
    int error = 0;
  };

  ForkThread() { std::thread([this] { Loop(); }).detach(); }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return !queue_.empty(); });
      Job job = queue_.front();
      queue_.pop_front();
      errno = 0;
      Result r;
      r.pid = (*job.fn)();
      r.error = r.pid < 0 ? errno : 0;
      done_[job.ticket] = r;
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::map<std::uint64_t, Result> done_;
  std::uint64_t submitted_ = 0;
};

void OnFatalSignal(int sig) {
  KillAllChildren();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void InstallHooks() {
  std::atexit(KillAllChildren);
  std::vector<int> signals = {SIGABRT, SIGSEGV, SIGBUS};
  if (!g_leave_termination_signals.load()) {
    signals.push_back(SIGINT);
    signals.push_back(SIGTERM);
  }
  for (int sig : signals) {
    struct sigaction old {};
    ::sigaction(sig, nullptr, &old);
    // Keep a handler someone else installed (e.g. a sanitizer); we only replace the default.
    if (old.sa_handler != SIG_DFL) continue;
    struct sigaction action {};
    action.sa_handler = OnFatalSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    ::sigaction(sig, &action, nullptr);
  }
}

ExitStatus FromWaitStatus(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) {
    s.exited = true;
    s.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.signal = WTERMSIG(status);
  }
  return s;
}

}  // namespace

void KillAllChildren() {
  for (auto& slot : g_children) {
    pid_t pgid = slot.load();
    if (pgid > 0) ::kill(-pgid, SIGKILL);
  }
}

void LeaveTerminationSignalsToCaller() {
  g_leave_termination_signals = true;
}

std::string ExitStatus::Describe() const {
  if (exited) return "exit code " + std::to_string(code);
  return "signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
}

std::string TailOfFile(const std::filesystem::path& path, int lines) {
  std::ifstream in(path);
  if (!in) return "";
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(std::move(line));
    if (static_cast<int>(tail.size()) > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += l + "\n";
  return out;
}

Process::Process(ProcessSpec spec) : spec_(std::move(spec)) {
  if (spec_.argv.empty()) throw std::invalid_argument("Process needs at least argv[0]");
  if (spec_.log_path.empty()) throw std::invalid_argument("Process needs a log_path");
  Spawn();
}

Process::~Process() {
  if (pid_ > 0) Kill();
}

Process::Process(Process&& other) noexcept
    : spec_(std::move(other.spec_)), pid_(other.pid_), exit_status_(other.exit_status_) {
  other.pid_ = -1;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) Kill();
    spec_ = std::move(other.spec_);
    pid_ = other.pid_;
    exit_status_ = other.exit_status_;
    other.pid_ = -1;
  }
  return *this;
}

void Process::Spawn() {
  std::call_once(g_hooks_once, InstallHooks);
  exit_status_.reset();

  // Everything the child needs is prepared before fork: the child only calls
  // async-signal-safe functions.
  std::vector<char*> argv;
  for (auto& a : spec_.argv) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : spec_.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::filesystem::create_directories(spec_.log_path.parent_path());
  int log_fd = ::open(spec_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw std::runtime_error("cannot open log file " + spec_.log_path.string() + ": " +
                             ::strerror(errno));
  }
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    ::close(log_fd);
    ::close(null_fd);
    throw std::runtime_error(std::string("pipe2 failed: ") + ::strerror(errno));
  }
  const std::string wd = spec_.working_dir.string();
  const pid_t parent = ::getpid();

  // The fork and the child's set-up run on the fork thread (see ForkThread).
  const std::function<pid_t()> fork_fn = [&]() -> pid_t {
    pid_t child = ::fork();
    if (child != 0) return child;
    ::setpgid(0, 0);
    // If the test process dies without running any hook (SIGKILL, ctest timeout), the kernel
    // kills us. Tied to the thread that forked: the fork thread lives as long as the process.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    sigset_t all;
    sigemptyset(&all);
    ::sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    if (!wd.empty() && ::chdir(wd.c_str()) != 0) {
      int err = errno;
      (void)!::write(exec_pipe[1], &err, sizeof err);
      ::_exit(127);
    }
    ::execvpe(argv[0], argv.data(), envp.data());
    int err = errno;
    (void)!::write(exec_pipe[1], &err, sizeof err);
    ::_exit(127);
  };
  pid_t pid = ForkThread::Get().Run(fork_fn);
  if (pid < 0) {
    int err = errno;
    ::close(log_fd);
    ::close(null_fd);
    ::close(exec_pipe[0]);
    ::close(exec_pipe[1]);
    throw std::runtime_error(std::string("fork failed: ") + ::strerror(err));
  }
  ::setpgid(pid, pid);  // also in the parent, so signals to the group cannot race the child
  ::close(log_fd);
  ::close(null_fd);
  ::close(exec_pipe[1]);
  pid_ = pid;
  Register(pid);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (n > 0) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    Reaped(status);
    throw std::runtime_error("cannot start " + spec_.argv[0] + (wd.empty() ? "" : " in " + wd) +
                             ": " + ::strerror(child_errno) +
                             "; check that the program exists and is executable");
  }
}

void Process::Reaped(int wait_status) {
  exit_status_ = FromWaitStatus(wait_status);
  // Grandchildren left in the group go too.
  ::kill(-pid_, SIGKILL);
  Unregister(pid_);
  pid_ = -1;
}

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    Reaped(status);
    return false;
  }
  return true;
}

std::optional<ExitStatus> Process::Wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(2);
  while (true) {
    if (!Running()) return exit_status_;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

void Process::Signal(int sig) {
  if (pid_ > 0) ::kill(-pid_, sig);
}

ExitStatus Process::Stop(std::chrono::milliseconds grace) {
  if (!Running()) return exit_status_.value_or(ExitStatus{});
  RequestStop();
  if (auto s = Wait(grace)) return *s;
  return Kill();
}

void Process::RequestStop() {
  Signal(SIGCONT);  // a paused process cannot act on the stop signal
  Signal(spec_.stop_signal);
}

ExitStatus Process::Kill() {
  if (!Running()) return exit_status_.value_or(ExitStatus{});
  Signal(SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  Reaped(status);
  return *exit_status_;
}

void Process::Pause() {
  Signal(SIGSTOP);
}
void Process::Resume() {
  Signal(SIGCONT);
}

void Process::Restart(std::chrono::milliseconds grace) {
  Stop(grace);
  Spawn();
}

std::string Process::LogTail(int lines) const {
  return TailOfFile(spec_.log_path, lines);
}

std::string Process::Name() const {
  std::string name = std::filesystem::path(spec_.argv[0]).filename().string();
  if (pid_ > 0) return name + " (pid " + std::to_string(pid_) + ")";
  return name;
}

}  // namespace meridian::harness
