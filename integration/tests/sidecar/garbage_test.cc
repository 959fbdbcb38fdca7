// Garbage from one client closes that client only, with nats-server's -ERR text; other
// clients of the same sidecar keep working.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sidecar_world.h"

namespace meridian::sidecar_it {
namespace {

// A bare TCP client speaking the NATS protocol by hand.
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
    }
  }
  ~RawClient() { ::close(fd_); }
  void Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the peer may close while we still write
      off += static_cast<size_t>(n);
    }
  }
  // Reads until `needle` appears, the peer closes, or the timeout passes.
  std::string ReadUntil(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received_.find(needle) == std::string::npos && !closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      received_.append(buf, static_cast<size_t>(n));
    }
    return received_;
  }
  // True once the peer closed the connection (reads EOF within `timeout`).
  bool WaitClosed(std::chrono::milliseconds timeout) {
    ReadUntil("\x01never\x01", timeout);
    return closed_;
  }

 private:
  int fd_ = -1;
  bool closed_ = false;
  std::string received_;
};

uint16_t SidecarPort(const std::string& region) {
  return TheWorld().sidecars.at(region)->client_port();
}

// A libnats client on the same sidecar that must keep working throughout.
void ExpectRequestReplyWorks(natsConnection* requester, natsConnection* responder,
                             const std::string& subject) {
  natsSubscription* raw = nullptr;
  Check(natsConnection_SubscribeSync(&raw, responder, subject.c_str()), "subscribe");
  Subscription sub(raw);
  Check(natsConnection_Flush(responder), "flush");
  Check(natsConnection_PublishString(requester, subject.c_str(), "still here"), "publish");
  Check(natsConnection_Flush(requester), "flush");
  natsMsg* m = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&m, sub.get(), 5000), NATS_OK)
      << "the other client stopped working";
  Msg guard(m);
  EXPECT_EQ(DataOf(m), "still here");
}

void ExpectClosedWithError(const std::string& region, const std::string& garbage,
                           const std::string& error) {
  Connection other = ConnectSidecar(region, "bystander", {.allow_reconnect = false});
  RawClient bad(SidecarPort(region));
  std::string got = bad.ReadUntil("\r\n", std::chrono::seconds(5));
  ASSERT_EQ(got.rfind("INFO ", 0), 0u) << "no INFO from the sidecar: " << got;
  bad.Send(
      "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n"
      "PING\r\n");
  got = bad.ReadUntil("PONG\r\n", std::chrono::seconds(5));
  ASSERT_NE(got.find("PONG\r\n"), std::string::npos) << got;
  bad.Send(garbage);
  got = bad.ReadUntil("-ERR", std::chrono::seconds(5));
  EXPECT_NE(got.find("-ERR '" + error + "'\r\n"), std::string::npos) << got;
  EXPECT_TRUE(bad.WaitClosed(std::chrono::seconds(5))) << "the offending client was not closed";
  EXPECT_EQ(natsConnection_Status(other.get()), NATS_CONN_STATUS_CONNECTED);
  Connection another = ConnectSidecar(region, "bystander-2");
  ExpectRequestReplyWorks(other.get(), another.get(), "garbage." + UniqueToken("ok"));
}

TEST_F(SidecarTest, UnknownOperationClosesOnlyThatClientWithUnknownProtocolOperation) {
  ExpectClosedWithError("west", "FOO BAR\r\n", "Unknown Protocol Operation");
}

TEST_F(SidecarTest, OversizedPublishClosesOnlyThatClientWithMaximumPayloadViolation) {
  // Far above any max_payload (1 MiB by default); no payload follows.
  ExpectClosedWithError("east", "PUB garbage.big 67108864\r\n", "Maximum Payload Violation");
}

TEST_F(SidecarTest, UnknownOperationBeforeConnectAlsoClosesOnlyThatClient) {
  Connection other = ConnectSidecar("central", "bystander", {.allow_reconnect = false});
  RawClient bad(SidecarPort("central"));
  bad.ReadUntil("\r\n", std::chrono::seconds(5));
  bad.Send("FOO BAR\r\n");
  std::string got = bad.ReadUntil("-ERR", std::chrono::seconds(5));
  EXPECT_NE(got.find("-ERR 'Unknown Protocol Operation'\r\n"), std::string::npos) << got;
  EXPECT_TRUE(bad.WaitClosed(std::chrono::seconds(5)));
  Connection another = ConnectSidecar("central", "bystander-2");
  ExpectRequestReplyWorks(other.get(), another.get(), "garbage." + UniqueToken("ok"));
}

TEST_F(SidecarTest, InfoSentToClientsCarriesNoConnectUrls) {
  RawClient c(SidecarPort("west"));
  std::string info = c.ReadUntil("\r\n", std::chrono::seconds(5));
  ASSERT_EQ(info.rfind("INFO ", 0), 0u) << info;
  EXPECT_EQ(info.find("connect_urls"), std::string::npos) << info;
  EXPECT_NE(info.find("\"headers\":true"), std::string::npos) << info;
}

}  // namespace
}  // namespace meridian::sidecar_it
