#include "net/connection.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "net/listener.h"
#include "net/loop.h"
#include "test_util.h"

namespace meridian::net {
namespace {

using std::chrono::milliseconds;
using testing::RunUntil;

// A listener that echoes everything back on each accepted connection.
struct EchoServer {
  explicit EchoServer(Loop& loop, Endpoint where = Endpoint::Tcp("127.0.0.1", 0)) {
    auto l = Listener::Listen(loop, where, [this](ConnectionPtr c) {
      Connection* raw = c.get();
      c->SetReadHandler([raw](std::string_view data) {
        raw->Write(data);
        return data.size();
      });
      accepted.push_back(std::move(c));
    });
    EXPECT_TRUE(l.ok()) << l.message();
    listener = std::move(l.value());
  }
  std::unique_ptr<Listener> listener;
  std::vector<ConnectionPtr> accepted;
};

ConnectionPtr ConnectOrFail(Loop& loop, const Endpoint& where, ConnectOptions options = {}) {
  std::optional<Result<ConnectionPtr>> result;
  Connect(loop, where, options, [&](Result<ConnectionPtr> r) { result.emplace(std::move(r)); });
  EXPECT_TRUE(RunUntil(loop, [&] { return result.has_value(); }));
  if (!result) return nullptr;
  EXPECT_TRUE(result->ok()) << result->message();
  return result->ok() ? result->value() : nullptr;
}

TEST(Connection, EchoesOverTcpWithAPortChosenByTheSystem) {
  Loop loop;
  EchoServer server(loop);
  ASSERT_NE(server.listener->port(), 0);
  ConnectionPtr c = ConnectOrFail(loop, server.listener->endpoint());
  ASSERT_TRUE(c);
  std::string got;
  c->SetReadHandler([&](std::string_view d) {
    got.append(d);
    return d.size();
  });
  c->Write("hello ");
  c->Write("world");
  ASSERT_TRUE(RunUntil(loop, [&] { return got == "hello world"; }));
  EXPECT_EQ(c->peer_address(), server.listener->endpoint().ToString());
}

TEST(Connection, EchoesOverIpv6Loopback) {
  Loop loop;
  auto l = Listener::Listen(loop, Endpoint::Tcp("::1", 0), [](ConnectionPtr c) {
    Connection* raw = c.get();
    c->SetReadHandler([raw](std::string_view d) {
      raw->Write(d);
      return d.size();
    });
    c->SetCloseHandler([c](const CloseInfo&) {});  // keeps it referenced until closed
  });
  if (!l.ok() && l.message().find("address not available") != std::string::npos) {
    GTEST_SKIP() << "no IPv6 loopback here: " << l.message();
  }
  ASSERT_TRUE(l.ok()) << l.message();
  ConnectionPtr c = ConnectOrFail(loop, (*l)->endpoint());
  ASSERT_TRUE(c);
  std::string got;
  c->SetReadHandler([&](std::string_view d) {
    got.append(d);
    return d.size();
  });
  c->Write("v6");
  ASSERT_TRUE(RunUntil(loop, [&] { return got == "v6"; }));
  EXPECT_EQ(c->peer_address().rfind("[::1]:", 0), 0u) << c->peer_address();
}

TEST(Connection, EchoesOverAUnixSocket) {
  Loop loop;
  std::string path =
      ::testing::TempDir() + "/meridian-net-test-" + std::to_string(getpid()) + ".sock";
  EchoServer server(loop, Endpoint::Unix(path));
  ConnectionPtr c = ConnectOrFail(loop, Endpoint::Unix(path));
  ASSERT_TRUE(c);
  std::string got;
  c->SetReadHandler([&](std::string_view d) {
    got.append(d);
    return d.size();
  });
  c->Write("over unix");
  ASSERT_TRUE(RunUntil(loop, [&] { return got == "over unix"; }));
  ::unlink(path.c_str());
}

TEST(Connection, ConnectResolvesLocalhost) {
  Loop loop;
  EchoServer server(loop);
  ConnectionPtr c = ConnectOrFail(loop, Endpoint::Tcp("localhost", server.listener->port()));
  EXPECT_TRUE(c);
}

TEST(Connection, UnconsumedTailIsKeptAndTheNextBytesAppendedToIt) {
  Loop loop;
  std::vector<std::string> lines;
  std::vector<std::string> views;
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0), [&](ConnectionPtr c) {
    c->SetReadHandler([&](std::string_view d) {
      views.emplace_back(d);
      size_t consumed = 0;
      for (size_t nl; (nl = d.find('\n', consumed)) != std::string_view::npos; consumed = nl + 1) {
        lines.emplace_back(d.substr(consumed, nl - consumed));
      }
      return consumed;
    });
    c->SetCloseHandler([c](const CloseInfo&) {});
  });
  ASSERT_TRUE(l.ok());
  ConnectionPtr c = ConnectOrFail(loop, (*l)->endpoint());
  ASSERT_TRUE(c);
  c->Write("PING\nPU");
  ASSERT_TRUE(RunUntil(loop, [&] { return lines.size() == 1; }));
  c->Write("B x\n");
  ASSERT_TRUE(RunUntil(loop, [&] { return lines.size() == 2; }));
  EXPECT_EQ(lines, (std::vector<std::string>{"PING", "PUB x"}));
  EXPECT_EQ(views.back(), "PUB x\n");  // the kept tail "PU" plus the new bytes
}

TEST(Connection, WritesInOneIterationAreQueuedTogetherAndSentAtItsEnd) {
  Loop loop;
  EchoServer server(loop);
  ConnectionPtr c = ConnectOrFail(loop, server.listener->endpoint());
  ASSERT_TRUE(c);
  std::string got;
  c->SetReadHandler([&](std::string_view d) {
    got.append(d);
    return d.size();
  });
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    std::string msg = "MSG " + std::to_string(i) + "\r\n";
    c->Write(msg);
    expected += msg;
  }
  EXPECT_EQ(c->pending_output(), expected.size());  // nothing sent yet: one writev later
  ASSERT_TRUE(RunUntil(loop, [&] { return got.size() == expected.size(); }));
  EXPECT_EQ(got, expected);
  EXPECT_EQ(c->pending_output(), 0u);
}

TEST(Connection, BorrowedWriteSendsCallerMemoryAndReportsDone) {
  Loop loop;
  EchoServer server(loop);
  ConnectionPtr c = ConnectOrFail(loop, server.listener->endpoint());
  ASSERT_TRUE(c);
  std::string got;
  c->SetReadHandler([&](std::string_view d) {
    got.append(d);
    return d.size();
  });
  std::string header = "HPUB a 5 7\r\n", payload = "hi\r\n";
  std::string_view parts[] = {header, payload};
  bool done = false;
  c->WriteBorrowed(parts, [&] { done = true; });
  c->Write("+copy");
  ASSERT_TRUE(RunUntil(loop, [&] { return got.size() == 21; }));
  EXPECT_TRUE(done);
  EXPECT_EQ(got, "HPUB a 5 7\r\nhi\r\n+copy");
}

TEST(Connection, LargeWriteToAPausedReaderFiresHighThenLowWatermark) {
  Loop loop;
  ConnectionPtr server_side;
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0),
                            [&](ConnectionPtr c) { server_side = std::move(c); });
  ASSERT_TRUE(l.ok());
  ConnectOptions opts;
  opts.connection.high_watermark = 1 << 20;
  opts.connection.low_watermark = 64 << 10;
  ConnectionPtr c = ConnectOrFail(loop, (*l)->endpoint(), opts);
  ASSERT_TRUE(c);
  ASSERT_TRUE(RunUntil(loop, [&] { return server_side != nullptr; }));
  size_t received = 0;
  server_side->SetReadHandler([&](std::string_view d) {
    received += d.size();
    return d.size();
  });
  server_side->PauseReading();

  int highs = 0, lows = 0;
  c->SetWatermarkHandlers([&] { ++highs; }, [&] { ++lows; });
  std::string chunk(64 * 1024, 'x');
  const size_t total = 16u << 20;
  for (size_t sent = 0; sent < total; sent += chunk.size()) c->Write(chunk);
  EXPECT_EQ(highs, 1);
  EXPECT_TRUE(c->above_high_watermark());
  loop.RunFor(milliseconds(50));  // the kernel buffers fill; the rest stays pending
  EXPECT_GT(c->pending_output(), 0u);
  EXPECT_EQ(lows, 0);

  server_side->ResumeReading();
  ASSERT_TRUE(RunUntil(
      loop, [&] { return received == total; }, milliseconds(20000)));
  EXPECT_EQ(lows, 1);
  EXPECT_EQ(highs, 1);
  EXPECT_FALSE(c->above_high_watermark());
  EXPECT_EQ(c->pending_output(), 0u);
}

TEST(Connection, OutputOverTheHardLimitClosesWithSlowConsumer) {
  Loop loop;
  ConnectionPtr server_side;
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0),
                            [&](ConnectionPtr c) { server_side = std::move(c); });
  ASSERT_TRUE(l.ok());
  ConnectOptions opts;
  opts.connection.max_pending_output = 4 << 20;
  ConnectionPtr c = ConnectOrFail(loop, (*l)->endpoint(), opts);
  ASSERT_TRUE(c);
  std::optional<CloseInfo> closed;
  c->SetCloseHandler([&](const CloseInfo& info) { closed = info; });
  std::string chunk(256 * 1024, 'y');
  bool refused = false;
  for (int i = 0; i < 64 && !refused; ++i) refused = !c->Write(chunk);
  EXPECT_TRUE(refused);
  ASSERT_TRUE(RunUntil(loop, [&] { return closed.has_value(); }));
  EXPECT_EQ(closed->reason, CloseReason::kSlowConsumer);
  EXPECT_NE(closed->detail.find("not reading fast enough"), std::string::npos) << closed->detail;
}

TEST(Connection, WriteBlockedPastTheWriteDeadlineClosesWithWriteDeadline) {
  Loop loop;
  ConnectionPtr server_side;
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0),
                            [&](ConnectionPtr c) { server_side = std::move(c); });
  ASSERT_TRUE(l.ok());
  ConnectOptions opts;
  opts.connection.write_deadline_ms = 200;
  ConnectionPtr c = ConnectOrFail(loop, (*l)->endpoint(), opts);
  ASSERT_TRUE(c);
  ASSERT_TRUE(RunUntil(loop, [&] { return server_side != nullptr; }));
  server_side->SetReadHandler([](std::string_view d) { return d.size(); });
  server_side->PauseReading();  // the peer never reads: the kernel buffers fill
  std::optional<CloseInfo> closed;
  c->SetCloseHandler([&](const CloseInfo& info) { closed = info; });
  std::string chunk(256 * 1024, 'w');
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(c->Write(chunk));  // 8 MiB, under max_pending
  ASSERT_TRUE(RunUntil(loop, [&] { return closed.has_value(); }, milliseconds(20000)));
  EXPECT_EQ(closed->reason, CloseReason::kWriteDeadline);
  EXPECT_NE(closed->detail.find("write deadline of 200 ms"), std::string::npos) << closed->detail;
}

TEST(Connection, SlowButReadingPeerIsNotClosedByTheWriteDeadline) {
  // The peer reads in bursts (100 ms paused, 100 ms reading) for three deadlines' time while
  // the writer stays ahead of it: writes block, but each finishes within the deadline, which
  // restarts with the next one.
  Loop loop;
  ConnectionPtr server_side;
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0),
                            [&](ConnectionPtr c) { server_side = std::move(c); });
  ASSERT_TRUE(l.ok());
  ConnectOptions opts;
  opts.connection.write_deadline_ms = 1000;
  ConnectionPtr c = ConnectOrFail(loop, (*l)->endpoint(), opts);
  ASSERT_TRUE(c);
  ASSERT_TRUE(RunUntil(loop, [&] { return server_side != nullptr; }));
  size_t received = 0;
  server_side->SetReadHandler([&](std::string_view d) {
    received += d.size();
    return d.size();
  });
  std::optional<CloseInfo> closed;
  c->SetCloseHandler([&](const CloseInfo& info) { closed = info; });
  int toggles = 0;
  Timer burst = loop.Every(milliseconds(100), [&] {
    ++toggles;
    if (server_side->reading_paused()) {
      server_side->ResumeReading();
    } else {
      server_side->PauseReading();
    }
  });
  std::string chunk(64 * 1024, 'r');
  size_t sent = 0;
  ASSERT_TRUE(RunUntil(
      loop,
      [&] {
        while (!closed && c->pending_output() < (2u << 20)) {
          if (!c->Write(chunk)) break;
          sent += chunk.size();
        }
        return toggles >= 30 || closed.has_value();
      },
      milliseconds(60000)));
  EXPECT_FALSE(closed.has_value()) << closed->detail;
  EXPECT_GT(received, 0u);
  EXPECT_GT(sent, received);  // the writer was ahead: its writes were blocked
  burst.Cancel();
  c->DetachHandlers();
  server_side->DetachHandlers();
}

TEST(Connection, PeerCloseIsReportedAsPeerClosed) {
  Loop loop;
  EchoServer server(loop);
  ConnectionPtr c = ConnectOrFail(loop, server.listener->endpoint());
  ASSERT_TRUE(c);
  std::optional<CloseInfo> closed;
  c->SetReadHandler([](std::string_view d) { return d.size(); });
  c->SetCloseHandler([&](const CloseInfo& info) { closed = info; });
  ASSERT_TRUE(RunUntil(loop, [&] { return server.accepted.size() == 1; }));
  server.accepted[0]->Close();
  ASSERT_TRUE(RunUntil(loop, [&] { return closed.has_value(); }));
  EXPECT_EQ(closed->reason, CloseReason::kPeerClosed);
}

TEST(Connection, GracefulCloseFlushesEverythingBeforeClosing) {
  Loop loop;
  std::string got;
  std::optional<CloseInfo> server_saw;
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0), [&](ConnectionPtr c) {
    c->SetReadHandler([&](std::string_view d) {
      got.append(d);
      return d.size();
    });
    c->SetCloseHandler([&, c](const CloseInfo& info) { server_saw = info; });
  });
  ASSERT_TRUE(l.ok());
  ConnectionPtr c = ConnectOrFail(loop, (*l)->endpoint());
  ASSERT_TRUE(c);
  std::optional<CloseInfo> closed;
  c->SetCloseHandler([&](const CloseInfo& info) { closed = info; });
  std::string big(3 << 20, 'z');
  c->Write(big);
  c->Close();
  EXPECT_FALSE(c->Write("too late"));
  ASSERT_TRUE(RunUntil(
      loop, [&] { return closed && server_saw; }, milliseconds(20000)));
  EXPECT_EQ(closed->reason, CloseReason::kClosed);
  EXPECT_EQ(server_saw->reason, CloseReason::kPeerClosed);
  EXPECT_EQ(got.size(), big.size());
}

TEST(Connection, AbortIsReportedAsAbortedAndThePeerSeesIt) {
  Loop loop;
  std::optional<CloseInfo> server_saw;
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0), [&](ConnectionPtr c) {
    c->SetReadHandler([](std::string_view d) { return d.size(); });
    c->SetCloseHandler([&, c](const CloseInfo& info) { server_saw = info; });
  });
  ASSERT_TRUE(l.ok());
  ConnectionPtr c = ConnectOrFail(loop, (*l)->endpoint());
  ASSERT_TRUE(c);
  std::optional<CloseInfo> closed;
  c->SetCloseHandler([&](const CloseInfo& info) { closed = info; });
  c->Write("bye");
  c->Abort();
  ASSERT_TRUE(RunUntil(loop, [&] { return closed && server_saw; }));
  EXPECT_EQ(closed->reason, CloseReason::kAborted);
  EXPECT_EQ(server_saw->reason, CloseReason::kPeerClosed);
}

TEST(Connection, ReaderThatNeverConsumesIsClosedWithInputTooLarge) {
  Loop loop;
  std::optional<CloseInfo> server_saw;
  ConnectionOptions small;
  small.read_buffer_bytes = 4096;
  small.max_input_buffer = 16384;
  auto l = Listener::Listen(
      loop, Endpoint::Tcp("127.0.0.1", 0),
      [&](ConnectionPtr c) {
        c->SetReadHandler([](std::string_view) { return size_t{0}; });
        c->SetCloseHandler([&, c](const CloseInfo& info) { server_saw = info; });
      },
      small);
  ASSERT_TRUE(l.ok());
  ConnectionPtr c = ConnectOrFail(loop, (*l)->endpoint());
  ASSERT_TRUE(c);
  c->Write(std::string(100000, 'q'));
  ASSERT_TRUE(RunUntil(loop, [&] { return server_saw.has_value(); }));
  EXPECT_EQ(server_saw->reason, CloseReason::kInputTooLarge);
}

TEST(Connection, TailsOfManyConnectionsSharingTheLoopReadBufferStayApart) {
  // Every connection reads into one buffer of the loop; what a handler leaves unconsumed
  // (here: a line not yet finished) must be kept per connection, in order.
  Loop loop;
  constexpr int kConns = 4;
  std::vector<ConnectionPtr> servers;
  std::vector<std::string> lines(kConns);
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0), [&](ConnectionPtr c) {
    servers.push_back(c);
    c->SetReadHandler([&, c](std::string_view d) {
      const size_t nl = d.rfind('\n');
      if (nl == std::string_view::npos) return size_t{0};  // keep the partial line
      // The first byte of a line says which client sent it.
      for (std::string_view rest = d.substr(0, nl + 1); !rest.empty();) {
        const size_t end = rest.find('\n');
        lines[static_cast<size_t>(rest[0] - '0')] += std::string(rest.substr(0, end + 1));
        rest.remove_prefix(end + 1);
      }
      return nl + 1;
    });
  });
  ASSERT_TRUE(l.ok());
  std::vector<ConnectionPtr> clients;
  for (int i = 0; i < kConns; ++i) {
    clients.push_back(ConnectOrFail(loop, (*l)->endpoint()));
    ASSERT_TRUE(clients.back());
  }
  ASSERT_TRUE(RunUntil(loop, [&] { return servers.size() == kConns; }));
  std::vector<std::string> want(kConns);
  for (int round = 0; round < 20; ++round) {
    // Each client sends half a line, the loop runs (the halves are read and kept), then the
    // rest of the line and a second line's start.
    for (int i = 0; i < kConns; ++i) {
      clients[i]->Write(std::to_string(i) + "-r" + std::to_string(round) + "-first");
    }
    for (int k = 0; k < 5; ++k) loop.RunOnce();
    for (int i = 0; i < kConns; ++i) {
      clients[i]->Write("-half\n" + std::to_string(i) + "-second-" + std::to_string(round));
      clients[i]->Write(std::string("\n"));
      want[i] += std::to_string(i) + "-r" + std::to_string(round) + "-first-half\n" +
                 std::to_string(i) + "-second-" + std::to_string(round) + "\n";
    }
  }
  ASSERT_TRUE(RunUntil(loop, [&] {
    for (int i = 0; i < kConns; ++i) {
      if (lines[i].size() < want[i].size()) return false;
    }
    return true;
  }));
  for (int i = 0; i < kConns; ++i) EXPECT_EQ(lines[i], want[i]) << i;
}

TEST(Connection, ResumeReadingRedeliversTheKeptTail) {
  Loop loop;
  ConnectionPtr server_side;
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0),
                            [&](ConnectionPtr c) { server_side = std::move(c); });
  ASSERT_TRUE(l.ok());
  ConnectionPtr c = ConnectOrFail(loop, (*l)->endpoint());
  ASSERT_TRUE(RunUntil(loop, [&] { return server_side != nullptr; }));
  std::string got;
  bool pause_after_first = true;
  server_side->SetReadHandler([&](std::string_view d) {
    if (pause_after_first) {  // take one byte, then stop: the rest must come back later
      pause_after_first = false;
      got.append(d.substr(0, 1));
      server_side->PauseReading();
      return size_t{1};
    }
    got.append(d);
    return d.size();
  });
  c->Write("abcdef");
  ASSERT_TRUE(RunUntil(loop, [&] { return !got.empty(); }));
  loop.RunFor(milliseconds(20));
  EXPECT_EQ(got, "a");
  server_side->ResumeReading();
  ASSERT_TRUE(RunUntil(loop, [&] { return got == "abcdef"; }));
}

TEST(Connect, RefusedConnectionGivesASentence) {
  Loop loop;
  uint16_t port;
  {
    auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0), [](ConnectionPtr) {});
    ASSERT_TRUE(l.ok());
    port = (*l)->port();
  }
  loop.RunFor(milliseconds(5));
  std::optional<Result<ConnectionPtr>> result;
  Connect(loop, Endpoint::Tcp("127.0.0.1", port), {},
          [&](Result<ConnectionPtr> r) { result.emplace(std::move(r)); });
  ASSERT_TRUE(RunUntil(loop, [&] { return result.has_value(); }));
  ASSERT_FALSE(result->ok());
  EXPECT_NE(result->message().find("cannot connect to 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << result->message();
  EXPECT_NE(result->message().find("refused"), std::string::npos) << result->message();
}

TEST(Connect, UnansweredConnectTimesOut) {
  // A socket that listens with a full backlog and never accepts: the kernel drops further
  // SYNs, so those connects stay unanswered.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 0), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  uint16_t port = ntohs(addr.sin_port);

  Loop loop;
  ConnectOptions opts;
  opts.timeout = milliseconds(300);
  std::vector<Result<ConnectionPtr>> results;
  for (int i = 0; i < 6; ++i) {
    Connect(loop, Endpoint::Tcp("127.0.0.1", port), opts,
            [&](Result<ConnectionPtr> r) { results.push_back(std::move(r)); });
  }
  ASSERT_TRUE(RunUntil(loop, [&] { return results.size() == 6; }));
  int timed_out = 0;
  for (auto& r : results) {
    if (!r.ok() && r.message().find("no answer within 300 ms") != std::string::npos) ++timed_out;
  }
  EXPECT_GE(timed_out, 1);
  ::close(fd);
}

TEST(Connection, DestroyingTheLoopReportsLoopShutdown) {
  std::optional<CloseInfo> closed;
  {
    Loop loop;
    EchoServer server(loop);
    ConnectionPtr c = ConnectOrFail(loop, server.listener->endpoint());
    ASSERT_TRUE(c);
    c->SetCloseHandler([&](const CloseInfo& info) { closed = info; });
    server.accepted.clear();
    server.listener.reset();
  }
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason, CloseReason::kLoopShutdown);
}

}  // namespace
}  // namespace meridian::net
