// The nats.js runner: exit status, captured output, and a bound on time.
#include "harness/node_script.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "harness/gtest_support.h"
#include "harness/ports.h"

namespace meridian::harness {
namespace {

using namespace std::chrono_literals;

TEST(RunNodeScript, ReportsTheScriptsExitCodeAndOutput) {
  TestRunDir dir;
  NodeScriptResult r = RunNodeScript("pubsub", {}, dir / "pubsub.log", 30s);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.status.exited);
  EXPECT_EQ(r.status.code, 1);
  EXPECT_NE(r.output.find("FAILED: --sub-url and --pub-url are required"), std::string::npos)
      << r.Describe();
}

TEST(RunNodeScript, KillsAScriptThatOutlivesItsTimeout) {
  TestRunDir dir;
  // A listener that never answers: the kernel completes the TCP handshake, and nats.js waits
  // for an INFO that never comes.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(FreeLoopbackPort());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  const std::string url = "nats://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  const auto start = std::chrono::steady_clock::now();
  NodeScriptResult r =
      RunNodeScript("pubsub", {"--sub-url", url, "--pub-url", url}, dir / "pubsub.log", 1500ms);
  ::close(fd);
  EXPECT_TRUE(r.timed_out) << r.Describe();
  EXPECT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace
}  // namespace meridian::harness
