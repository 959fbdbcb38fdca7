// Each daemon run the way its systemd unit runs it: the ExecStart command line read from
// systemd/*.service.in (binary from this build tree, /etc/meridian/ mapped to the run
// directory, %i to the instance), and $NOTIFY_SOCKET pointing at a datagram socket this test
// holds, as systemd would. Checks what systemd relies on for Type=notify, ExecReload and
// TimeoutStopSec: READY=1 only once the daemon serves, RELOADING=1 then READY=1 on SIGHUP,
// STOPPING=1 and a clean exit on SIGTERM within the unit's TimeoutStopSec.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/binaries.h"
#include "harness/gtest_support.h"
#include "harness/ports.h"
#include "harness/process.h"

namespace meridian::harness {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// What systemd offers a Type=notify service: an AF_UNIX datagram socket (abstract here, so
// the long run-directory paths never exceed sun_path).
class NotifySocket {
 public:
  NotifySocket() {
    static int counter = 0;
    name_ =
        "@meridian-install-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name_.data(), name_.size());
    address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0) {
      throw std::runtime_error("cannot bind the notify socket " + name_ + ": " +
                               std::strerror(errno));
    }
  }
  ~NotifySocket() { ::close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& name() const { return name_; }

  // The next notification, or nullopt if none came within `timeout`.
  std::optional<std::string> Next(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) return std::nullopt;
    std::string message(buffer, static_cast<std::size_t>(n));
    received_.push_back(message);
    return message;
  }
  // Waits for a notification holding `line` (e.g. "READY=1") or, when `prefix` is given, a
  // line starting with it; skips the others (STATUS=...).
  std::optional<std::string> WaitFor(const std::string& line, std::chrono::milliseconds timeout,
                                     const std::string& prefix = "") {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto message = Next(std::max(left, 1ms));
      if (message && (prefix.empty() ? HasLine(*message, line) : HasPrefix(*message, prefix))) {
        return message;
      }
    }
    return std::nullopt;
  }
  // Every notification received so far, joined, for failure messages.
  std::string History() const {
    std::string all;
    for (const auto& m : received_) all += "[" + m + "] ";
    return all.empty() ? "(none)" : all;
  }

  static bool HasPrefix(const std::string& message, const std::string& prefix) {
    std::istringstream in(message);
    std::string l;
    while (std::getline(in, l)) {
      if (l.rfind(prefix, 0) == 0) return true;
    }
    return false;
  }
  static bool HasLine(const std::string& message, const std::string& line) {
    std::istringstream in(message);
    std::string l;
    while (std::getline(in, l)) {
      if (l == line) return true;
    }
    return false;
  }

 private:
  std::string name_;
  int fd_ = -1;
  std::vector<std::string> received_;
};

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteText(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// One [Service] setting of systemd/<unit>.in, e.g. ExecStart or TimeoutStopSec.
std::string UnitSetting(const std::string& unit, const std::string& key) {
  const fs::path file = SourceDir() / "systemd" / (unit + ".in");
  std::istringstream in(ReadText(file));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  throw std::runtime_error(file.string() + " has no " + key + "= line");
}

// The unit's ExecStart as argv: @MERIDIAN_BINDIR@/<program> becomes this build's program,
// /etc/meridian/ the test's config folder, %i the instance.
std::vector<std::string> UnitCommand(const std::string& unit, const fs::path& etc,
                                     const std::string& instance = "") {
  std::istringstream in(UnitSetting(unit, "ExecStart"));
  std::vector<std::string> argv;
  std::string word;
  while (in >> word) {
    if (argv.empty()) {
      const std::string prefix = "@MERIDIAN_BINDIR@/";
      if (word.rfind(prefix, 0) != 0) throw std::runtime_error("unexpected ExecStart " + word);
      argv.push_back(OurBinary(word.substr(prefix.size())).string());
      continue;
    }
    if (word.rfind("/etc/meridian/", 0) == 0) {
      word = (etc / word.substr(std::strlen("/etc/meridian/"))).string();
    }
    if (auto at = word.find("%i"); at != std::string::npos) word.replace(at, 2, instance);
    argv.push_back(word);
  }
  return argv;
}

// TimeoutStopSec of the unit ("15s", "30s", "1min").
std::chrono::seconds UnitStopTimeout(const std::string& unit) {
  const std::string text = UnitSetting(unit, "TimeoutStopSec");
  std::size_t used = 0;
  const long n = std::stol(text, &used);
  const std::string suffix = text.substr(used);
  if (suffix == "s" || suffix.empty()) return std::chrono::seconds(n);
  if (suffix == "min") return std::chrono::minutes(n);
  throw std::runtime_error("cannot read TimeoutStopSec=" + text);
}

// True when a NATS INFO line arrives on 127.0.0.1:port: a client would be served.
bool ServesNatsInfo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    std::string got;
    pollfd p{fd, POLLIN, 0};
    while (got.size() < 5 && ::poll(&p, 1, 10000) == 1) {
      char buffer[512];
      ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      got.append(buffer, static_cast<std::size_t>(n));
    }
    ok = got.rfind("INFO ", 0) == 0;
  }
  ::close(fd);
  return ok;
}

bool Accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

void WaitUntilAccepts(uint16_t port, Process& process) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!Accepts(port)) {
    if (!process.Running() || std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error(process.Name() + " never listened on " + std::to_string(port) +
                               ":\n" + process.LogTail());
    }
    std::this_thread::sleep_for(50ms);
  }
}

// --- the sidecar ---------------------------------------------------------------------------

class SidecarService : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_port_ = FreeLoopbackPort();
    client_port_ = FreeLoopbackPort();
    WriteText(etc_ / "topology.toml",
              "[regions.west]\nservers = [\"nats://127.0.0.1:" + std::to_string(upstream_port_) +
                  "\"]\n[streams.foo]\nsubjects = [\"foo.>\"]\n");
    WriteConfig("info");
  }
  void WriteConfig(const std::string& log_level) {
    WriteText(etc_ / "sidecar.toml",
              "region = \"west\"\ntopology = \"topology.toml\"\nlog_level = \"" + log_level +
                  "\"\n[listen]\naddresses = [\"127.0.0.1:" + std::to_string(client_port_) +
                  "\"]\n[upstream]\nservers = [\"nats://127.0.0.1:" +
                  std::to_string(upstream_port_) + "\"]\n");
  }
  void StartSidecar() {
    ProcessSpec spec;
    spec.argv = UnitCommand("meridian-sidecar.service", etc_);
    spec.env["NOTIFY_SOCKET"] = notify_.name();
    spec.log_path = run_ / "sidecar.log";
    sidecar_ = std::make_unique<Process>(std::move(spec));
  }
  void StartUpstream() {
    ProcessSpec spec;
    spec.argv = {NatsServerBinary().string(), "-a", "127.0.0.1", "-p",
                 std::to_string(upstream_port_)};
    spec.log_path = run_ / "nats-server.log";
    spec.stop_signal = SIGINT;
    upstream_ = std::make_unique<Process>(std::move(spec));
  }
  void StartReady() {
    StartUpstream();
    StartSidecar();
    ASSERT_TRUE(notify_.WaitFor("READY=1", 60s)) << "no READY=1; got " << notify_.History() << "\n"
                                                 << sidecar_->LogTail();
  }

  TestRunDir run_;
  fs::path etc_ = run_ / "etc";
  NotifySocket notify_;
  uint16_t upstream_port_ = 0, client_port_ = 0;
  std::unique_ptr<Process> upstream_;
  std::unique_ptr<Process> sidecar_;
};

TEST_F(SidecarService, ReportsReadyOnlyOnceAnUpstreamServerAnswers) {
  StartSidecar();
  // Listening for applications, but its region's server is not running: not ready.
  WaitUntilAccepts(client_port_, *sidecar_);
  auto early = notify_.WaitFor("READY=1", 3s);
  EXPECT_FALSE(early.has_value()) << "READY=1 before any upstream server ran: " << *early;

  StartUpstream();
  auto ready = notify_.WaitFor("READY=1", 60s);
  ASSERT_TRUE(ready.has_value()) << "no READY=1 after the upstream started; got "
                                 << notify_.History() << "\n"
                                 << sidecar_->LogTail();
  // The example topology declares a virtual stream and this server runs without JetStream, so
  // the sidecar serves its region degraded ("serving region west, degraded: ...").
  EXPECT_TRUE(NotifySocket::HasPrefix(*ready, "STATUS=serving region west")) << *ready;
  EXPECT_EQ(ready->find("from west"), std::string::npos) << *ready;
  EXPECT_TRUE(ServesNatsInfo(client_port_)) << "READY=1 but no INFO for a client";
}

TEST_F(SidecarService, StatusSaysNotServingWhenItsUpstreamStops) {
  StartReady();
  upstream_->Stop();
  auto status = notify_.WaitFor("", 60s, "STATUS=not serving: ");
  ASSERT_TRUE(status.has_value()) << "no STATUS=not serving after the upstream stopped; got "
                                  << notify_.History();
  EXPECT_NE(status->find("region \"west\""), std::string::npos) << *status;
  EXPECT_TRUE(sidecar_->Running()) << "losing its upstream must not stop the sidecar";
}

TEST_F(SidecarService, SighupReloadsLogLevelBetweenReloadingAndReady) {
  StartReady();
  WriteConfig("debug");
  ASSERT_EQ(::kill(sidecar_->pid(), SIGHUP), 0);
  auto reloading = notify_.WaitFor("RELOADING=1", 30s);
  ASSERT_TRUE(reloading.has_value()) << notify_.History();
  EXPECT_NE(reloading->find("MONOTONIC_USEC="), std::string::npos) << *reloading;
  ASSERT_TRUE(notify_.WaitFor("READY=1", 30s).has_value()) << notify_.History();
  EXPECT_NE(ReadText(sidecar_->log_path()).find("log_level is now debug"), std::string::npos)
      << sidecar_->LogTail();
  EXPECT_TRUE(sidecar_->Running()) << "SIGHUP must not stop the sidecar";
  EXPECT_TRUE(ServesNatsInfo(client_port_));
}

TEST_F(SidecarService, SighupWithABrokenConfigKeepsServing) {
  StartReady();
  WriteText(etc_ / "sidecar.toml", "this is = not toml [\n");
  ASSERT_EQ(::kill(sidecar_->pid(), SIGHUP), 0);
  ASSERT_TRUE(notify_.WaitFor("RELOADING=1", 30s).has_value()) << notify_.History();
  ASSERT_TRUE(notify_.WaitFor("READY=1", 30s).has_value()) << notify_.History();
  EXPECT_NE(ReadText(sidecar_->log_path()).find("nothing reloaded"), std::string::npos)
      << sidecar_->LogTail();
  EXPECT_TRUE(ServesNatsInfo(client_port_));
}

TEST_F(SidecarService, SigtermStopsWithinTimeoutStopSec) {
  StartReady();
  // An application connection stays open: the stop must still end within the bound.
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(client_port_);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);

  ASSERT_EQ(::kill(sidecar_->pid(), SIGTERM), 0);
  EXPECT_TRUE(notify_.WaitFor("STOPPING=1", 30s).has_value()) << notify_.History();
  auto exit = sidecar_->Wait(UnitStopTimeout("meridian-sidecar.service"));
  ::close(client);
  ASSERT_TRUE(exit.has_value()) << "still running after TimeoutStopSec:\n" << sidecar_->LogTail();
  EXPECT_TRUE(exit->exited && exit->code == 0) << exit->Describe();
}

// --- meridian-node, as meridian-node@<instance> and as meridian-arbiter ----------------------

struct NodeUnit {
  std::string unit;
  std::string instance;
  std::string config;  // file name under /etc/meridian
};

class NodeService : public ::testing::TestWithParam<NodeUnit> {
 protected:
  void Start() {
    port_ = FreeLoopbackPort();
    WriteText(etc_ / GetParam().config,
              "server_name = \"" + GetParam().instance +
                  "\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(port_) + "\n");
    ProcessSpec spec;
    spec.argv = UnitCommand(GetParam().unit, etc_, GetParam().instance);
    spec.env["NOTIFY_SOCKET"] = notify_.name();
    spec.log_path = run_ / "node.log";
    node_ = std::make_unique<Process>(std::move(spec));
  }

  TestRunDir run_;
  fs::path etc_ = run_ / "etc";
  NotifySocket notify_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> node_;
};

TEST_P(NodeService, ReportsReadyOnceListening) {
  Start();
  auto ready = notify_.WaitFor("READY=1", 60s);
  ASSERT_TRUE(ready.has_value()) << notify_.History() << "\n" << node_->LogTail();
  EXPECT_TRUE(ServesNatsInfo(port_)) << "READY=1 but no INFO for a client";
}

TEST_P(NodeService, SighupReportsReloadingThenReadyAndKeepsServing) {
  Start();
  ASSERT_TRUE(notify_.WaitFor("READY=1", 60s).has_value()) << node_->LogTail();
  ASSERT_EQ(::kill(node_->pid(), SIGHUP), 0);
  auto reloading = notify_.WaitFor("RELOADING=1", 30s);
  ASSERT_TRUE(reloading.has_value()) << notify_.History();
  EXPECT_NE(reloading->find("MONOTONIC_USEC="), std::string::npos) << *reloading;
  ASSERT_TRUE(notify_.WaitFor("READY=1", 30s).has_value()) << notify_.History();
  EXPECT_NE(ReadText(node_->log_path()).find("SIGHUP: reloaded"), std::string::npos)
      << node_->LogTail();
  EXPECT_TRUE(ServesNatsInfo(port_));
}

TEST_P(NodeService, SigtermStopsWithinTimeoutStopSec) {
  Start();
  ASSERT_TRUE(notify_.WaitFor("READY=1", 60s).has_value()) << node_->LogTail();
  ASSERT_EQ(::kill(node_->pid(), SIGTERM), 0);
  EXPECT_TRUE(notify_.WaitFor("STOPPING=1", 30s).has_value()) << notify_.History();
  auto exit = node_->Wait(UnitStopTimeout(GetParam().unit));
  ASSERT_TRUE(exit.has_value()) << "still running after TimeoutStopSec:\n" << node_->LogTail();
  EXPECT_TRUE(exit->exited && exit->code == 0) << exit->Describe();
}

INSTANTIATE_TEST_SUITE_P(
    Units, NodeService,
    ::testing::Values(NodeUnit{"meridian-node@.service", "east-1", "node-east-1.toml"},
                      NodeUnit{"meridian-arbiter.service", "arbiter", "arbiter.toml"}),
    [](const ::testing::TestParamInfo<NodeUnit>& info) {
      return info.param.instance == "arbiter" ? std::string("Arbiter") : std::string("NodeEast1");
    });

}  // namespace
}  // namespace meridian::harness
