#include "net/reconnector.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace meridian::net {
namespace {

using std::chrono::milliseconds;
using testing::RunUntil;

uint16_t UnusedPort(Loop& loop) {
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0), [](ConnectionPtr) {});
  EXPECT_TRUE(l.ok());
  return (*l)->port();
}

TEST(Reconnector, MovesToTheNextEndpointAfterAFailure) {
  Loop loop;
  uint16_t dead = UnusedPort(loop);
  std::vector<ConnectionPtr> accepted;
  auto live = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0),
                               [&](ConnectionPtr c) { accepted.push_back(std::move(c)); });
  ASSERT_TRUE(live.ok());
  std::vector<std::string> failures;
  std::optional<Endpoint> connected_to;
  ConnectionPtr conn;
  Reconnector r(
      loop, {Endpoint::Tcp("127.0.0.1", dead), (*live)->endpoint()},
      Backoff(milliseconds(1), milliseconds(5), 2.0, 1), {},
      [&](ConnectionPtr c, const Endpoint& e) {
        conn = std::move(c);
        connected_to = e;
      },
      [&](const Endpoint&, const std::string& error) { failures.push_back(error); });
  r.Start();
  ASSERT_TRUE(RunUntil(loop, [&] { return connected_to.has_value(); }));
  EXPECT_EQ(*connected_to, (*live)->endpoint());
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find("refused"), std::string::npos) << failures[0];
  EXPECT_FALSE(r.running());
  EXPECT_EQ(r.failures(), 0u);
}

TEST(Reconnector, KeepsRetryingWithBackoffUntilAServerAppears) {
  Loop loop;
  uint16_t port = UnusedPort(loop);
  int failures = 0;
  bool connected = false;
  std::unique_ptr<Listener> late;
  Reconnector r(
      loop, {Endpoint::Tcp("127.0.0.1", port)}, Backoff(milliseconds(2), milliseconds(10), 2.0, 1),
      {}, [&](ConnectionPtr, const Endpoint&) { connected = true; },
      [&](const Endpoint&, const std::string&) {
        if (++failures == 3) {
          auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", port), [](ConnectionPtr) {});
          ASSERT_TRUE(l.ok()) << l.message();
          late = std::move(l.value());
        }
      });
  r.Start();
  ASSERT_TRUE(RunUntil(loop, [&] { return connected; }));
  EXPECT_EQ(failures, 3);
}

TEST(Reconnector, StopCancelsThePendingRetry) {
  Loop loop;
  uint16_t port = UnusedPort(loop);
  int failures = 0;
  Reconnector r(
      loop, {Endpoint::Tcp("127.0.0.1", port)}, Backoff(milliseconds(20), milliseconds(20), 2.0, 1),
      {}, [&](ConnectionPtr, const Endpoint&) {},
      [&](const Endpoint&, const std::string&) { ++failures; });
  r.Start();
  ASSERT_TRUE(RunUntil(loop, [&] { return failures == 1; }));
  r.Stop();
  loop.RunFor(milliseconds(80));
  EXPECT_EQ(failures, 1);
}

}  // namespace
}  // namespace meridian::net
