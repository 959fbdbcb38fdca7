// The FaultProxy alone, in front of a small echo server on loopback: delay, order, bandwidth,
// and the two kinds of cut, measured on the bytes.
#include "faultproxy/proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace meridian::faultproxy {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Echoes every byte back on each accepted connection, one thread per connection; stops (and
// joins) in the destructor.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("echo server: cannot listen on loopback");
    }
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        workers_.emplace_back([this, c] {
          char buf[65536];
          while (!stop_) {
            pollfd p{c, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) break;
            for (ssize_t off = 0; off < n;) {
              ssize_t w = ::write(c, buf + off, static_cast<size_t>(n - off));
              if (w <= 0) break;
              off += w;
            }
          }
          ::close(c);
        });
      }
    });
  }
  ~EchoServer() {
    stop_ = true;
    accept_thread_.join();
    for (auto& w : workers_) w.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  std::vector<std::thread> workers_;
};

int Dial(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect to the proxy");
  }
  return fd;
}

// Reads until `n` bytes came or `limit` passed; returns what came. Sets *eof on EOF or reset.
std::string ReadFor(int fd, size_t n, std::chrono::milliseconds limit, bool* eof = nullptr) {
  std::string out;
  const auto deadline = Clock::now() + limit;
  char buf[65536];
  while (out.size() < n && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10) <= 0) continue;
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r <= 0) {
      if (eof) *eof = true;
      break;
    }
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

void WriteAll(int fd, const std::string& s) {
  for (size_t off = 0; off < s.size();) {
    ssize_t w = ::write(fd, s.data() + off, s.size() - off);
    ASSERT_GT(w, 0);
    off += static_cast<size_t>(w);
  }
}

Options FromRegionA() {
  Options o;
  o.identify_source = [](uint16_t, uint16_t) { return std::string("a"); };
  return o;
}

TEST(FaultProxyAlone, DelaysEachDirectionByItsOwnOneWayLatency) {
  EchoServer echo;
  FaultProxy proxy(FromRegionA());
  uint16_t port = proxy.AddTarget("echo", "b", "127.0.0.1", echo.port());
  proxy.SetPathFaults("a", "b", Faults{30ms, 0ms, 0});
  proxy.SetPathFaults("b", "a", Faults{20ms, 0ms, 0});
  int fd = Dial(port);
  auto start = Clock::now();
  WriteAll(fd, "hello");
  EXPECT_EQ(ReadFor(fd, 5, 2s), "hello");
  auto rtt = Clock::now() - start;
  EXPECT_GE(rtt, 50ms);
  EXPECT_LT(rtt, 500ms);
  ::close(fd);
  EXPECT_EQ(proxy.Path("a", "b").bytes, 5u);
  EXPECT_EQ(proxy.Path("b", "a").bytes, 5u);
  EXPECT_EQ(proxy.Target("echo").connections, 1u);
}

TEST(FaultProxyAlone, KeepsByteOrderUnderJitter) {
  EchoServer echo;
  FaultProxy proxy(FromRegionA());
  uint16_t port = proxy.AddTarget("echo", "b", "127.0.0.1", echo.port());
  proxy.SetLatency("a", "b", 5ms, 20ms);
  int fd = Dial(port);
  std::string sent;
  for (int i = 0; i < 200; ++i) {
    std::string piece = std::to_string(i) + ",";
    WriteAll(fd, piece);
    sent += piece;
    if (i % 20 == 0) std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(ReadFor(fd, sent.size(), 5s), sent);
  ::close(fd);
}

TEST(FaultProxyAlone, LimitsBandwidth) {
  EchoServer echo;
  FaultProxy proxy(FromRegionA());
  uint16_t port = proxy.AddTarget("echo", "b", "127.0.0.1", echo.port());
  proxy.SetPathFaults("a", "b", Faults{0ms, 0ms, 400 * 1024});
  int fd = Dial(port);
  std::string big(200 * 1024, 'x');
  auto start = Clock::now();
  std::thread writer([&] { WriteAll(fd, big); });
  EXPECT_EQ(ReadFor(fd, big.size(), 10s).size(), big.size());
  writer.join();
  EXPECT_GE(Clock::now() - start, 450ms);  // 200 KiB at 400 KiB/s
  ::close(fd);
}

TEST(FaultProxyAlone, RefuseResetsOpenConnectionsAndNewOnes) {
  EchoServer echo;
  FaultProxy proxy(FromRegionA());
  uint16_t port = proxy.AddTarget("echo", "b", "127.0.0.1", echo.port());
  int fd = Dial(port);
  WriteAll(fd, "x");
  ASSERT_EQ(ReadFor(fd, 1, 2s), "x");
  proxy.Cut("a", "b", CutMode::kRefuse);
  bool eof = false;
  ReadFor(fd, 1, 2s, &eof);
  EXPECT_TRUE(eof) << "the open connection was not reset";
  ::close(fd);
  int fd2 = Dial(port);
  eof = false;
  ReadFor(fd2, 1, 2s, &eof);
  EXPECT_TRUE(eof) << "a new connection was not reset";
  ::close(fd2);
  EXPECT_EQ(proxy.Target("echo").reset, 2u);

  proxy.Heal("a", "b");
  int fd3 = Dial(port);
  WriteAll(fd3, "y");
  EXPECT_EQ(ReadFor(fd3, 1, 2s), "y");
  ::close(fd3);
}

TEST(FaultProxyAlone, BlackHoleHoldsBytesSilentlyAndHealingDeliversThem) {
  EchoServer echo;
  FaultProxy proxy(FromRegionA());
  uint16_t port = proxy.AddTarget("echo", "b", "127.0.0.1", echo.port());
  int fd = Dial(port);
  proxy.CutTarget("echo", CutMode::kBlackhole);
  int fresh = Dial(port);  // accepted, but never reaches the echo server
  WriteAll(fd, "held");
  WriteAll(fresh, "new");
  bool eof = false;
  EXPECT_EQ(ReadFor(fd, 4, 300ms, &eof), "");
  EXPECT_FALSE(eof);
  EXPECT_EQ(ReadFor(fresh, 3, 100ms, &eof), "");
  EXPECT_FALSE(eof);
  EXPECT_EQ(proxy.Target("echo").bytes_to_target, 0u);
  proxy.HealAll();
  EXPECT_EQ(ReadFor(fd, 4, 2s), "held");
  EXPECT_EQ(ReadFor(fresh, 3, 2s), "new");
  ::close(fd);
  ::close(fresh);
}

TEST(FaultProxyAlone, UnknownTargetsAreNamedInTheError) {
  FaultProxy proxy;
  try {
    proxy.CutTarget("nope", CutMode::kRefuse);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("\"nope\""), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace meridian::faultproxy
