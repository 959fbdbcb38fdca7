// Client TLS on the server, as nats-server: plain-text INFO with tls_required, then the client
// upgrades; a client that speaks plain text after INFO gets no service.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "../net/test_certs.h"
#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"
#include "net/tls.h"
#include "server/server.h"

namespace meridian::server {
namespace {

using namespace std::chrono_literals;

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("node-tls-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    pki_ = net::testing::TestPki::Create();
    auto leaf = pki_.Issue("localhost", {"DNS:localhost", "IP:127.0.0.1"});
    std::ofstream(dir_ / "server.pem") << leaf.cert_pem;
    std::ofstream(dir_ / "server.key") << leaf.key_pem;
    std::ofstream(dir_ / "ca.pem") << pki_.ca.cert_pem;
  }
  void TearDown() override {
    if (conn_) {
      conn_->DetachHandlers();
      conn_->Abort();
    }
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void StartServer(bool handshake_first = false,
                   std::chrono::milliseconds fallback = std::chrono::milliseconds(0),
                   std::chrono::milliseconds tls_timeout = std::chrono::seconds(2)) {
    Options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.tls.enabled = true;
    o.tls.cert_file = (dir_ / "server.pem").string();
    o.tls.key_file = (dir_ / "server.key").string();
    o.tls.handshake_first = handshake_first;
    o.tls.handshake_first_fallback = fallback;
    o.tls.timeout = tls_timeout;
    server_ = std::make_unique<Server>(loop_, o);
    ASSERT_TRUE(server_->Start().ok());
  }
  template <typename F>
  bool RunUntil(F done) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.RunFor(5ms);
    }
    return true;
  }
  // Connects in plain text and collects what arrives.
  void ConnectPlain() {
    bool done = false;
    net::Connect(loop_, net::Endpoint::Tcp("127.0.0.1", server_->port()), {}, [&](auto r) {
      done = true;
      if (!r.ok()) return;
      conn_ = r.value();
      conn_->SetReadHandler([this](std::string_view d) {
        got_.append(d);
        return d.size();
      });
      conn_->SetCloseHandler([this](const net::CloseInfo&) { closed_ = true; });
    });
    ASSERT_TRUE(RunUntil([&] { return done; }));
    ASSERT_TRUE(conn_);
  }
  // Starts TLS on conn_ as a client trusting the test CA; false when the handshake failed.
  bool UpgradeClient() {
    net::TlsConfig tc;
    tc.ca_pem = pki_.ca.cert_pem;
    auto ctx = net::TlsContext::Create(net::TlsContext::Role::kClient, tc);
    if (!ctx.ok()) return false;
    std::optional<net::Status> handshake;
    conn_->StartTls(ctx.value(), "127.0.0.1", [&](const net::Status& s) { handshake = s; });
    return RunUntil([&] { return handshake.has_value(); }) && handshake->ok();
  }
  std::filesystem::path dir_;
  net::testing::TestPki pki_;
  net::Loop loop_;
  std::unique_ptr<Server> server_;
  net::ConnectionPtr conn_;
  std::string got_;
  bool closed_ = false;
};

TEST_F(TlsServerTest, InfoSaysTlsRequiredAndTheClientUpgradesAfterIt) {
  StartServer();
  ConnectPlain();
  ASSERT_TRUE(RunUntil([&] { return got_.find("\r\n") != std::string::npos; }));
  EXPECT_EQ(got_.rfind("INFO {", 0), 0u);
  EXPECT_NE(got_.find("\"tls_required\":true"), std::string::npos) << got_;
  got_.clear();
  net::TlsConfig tc;
  tc.ca_pem = pki_.ca.cert_pem;
  auto ctx = net::TlsContext::Create(net::TlsContext::Role::kClient, tc);
  ASSERT_TRUE(ctx.ok()) << ctx.message();
  std::optional<net::Status> handshake;
  conn_->StartTls(ctx.value(), "127.0.0.1", [&](const net::Status& s) { handshake = s; });
  conn_->Write("CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\nPING\r\n");
  ASSERT_TRUE(RunUntil([&] { return handshake.has_value(); }));
  ASSERT_TRUE(handshake->ok()) << handshake->message();
  EXPECT_TRUE(RunUntil([&] { return got_.find("PONG\r\n") != std::string::npos; })) << got_;
  EXPECT_NE(got_.find("MSG a 1 2\r\nhi\r\n"), std::string::npos) << got_;
}

TEST_F(TlsServerTest, PlainTextClientIsClosedWithoutService) {
  StartServer();
  ConnectPlain();
  ASSERT_TRUE(RunUntil([&] { return got_.find("\r\n") != std::string::npos; }));
  got_.clear();
  conn_->Write("CONNECT {\"verbose\":false}\r\nPING\r\n");
  EXPECT_TRUE(RunUntil([&] { return closed_; }));
  EXPECT_EQ(got_.find("PONG"), std::string::npos) << got_;
}

TEST_F(TlsServerTest, HandshakeFirstStartsTlsBeforeInfoWhichComesEncrypted) {
  StartServer(/*handshake_first=*/true);
  ConnectPlain();
  ASSERT_TRUE(UpgradeClient());  // at once: nothing was received in plain text
  ASSERT_TRUE(RunUntil([&] { return got_.find("\r\n") != std::string::npos; }));
  EXPECT_EQ(got_.rfind("INFO {", 0), 0u) << got_;
  EXPECT_NE(got_.find("\"tls_required\":true"), std::string::npos) << got_;
  got_.clear();
  conn_->Write("CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\nPING\r\n");
  EXPECT_TRUE(RunUntil([&] { return got_.find("PONG\r\n") != std::string::npos; })) << got_;
  EXPECT_EQ(got_, "MSG a 1 2\r\nhi\r\nPONG\r\n");
}

TEST_F(TlsServerTest, HandshakeFirstWithoutFallbackNeverSendsInfoInPlainText) {
  StartServer(/*handshake_first=*/true, 0ms, /*tls_timeout=*/300ms);
  ConnectPlain();  // and waits for INFO, as a client without TLS first does
  EXPECT_TRUE(RunUntil([&] { return closed_; }));  // dropped at the TLS timeout
  EXPECT_EQ(got_, "");
}

TEST_F(TlsServerTest, HandshakeFirstWithFallbackServesBothKindsOfClient) {
  StartServer(/*handshake_first=*/true, /*fallback=*/200ms);
  // A TLS-first client starts its handshake at once.
  ConnectPlain();
  ASSERT_TRUE(UpgradeClient());
  conn_->Write("CONNECT {\"verbose\":false}\r\nPING\r\n");
  ASSERT_TRUE(RunUntil([&] { return got_.find("PONG\r\n") != std::string::npos; })) << got_;
  EXPECT_EQ(got_.rfind("INFO {", 0), 0u) << got_;
  conn_->DetachHandlers();
  conn_->Abort();
  conn_ = nullptr;
  got_.clear();
  // One that waits gets INFO in plain text after the fallback delay, then upgrades.
  ConnectPlain();
  ASSERT_TRUE(RunUntil([&] { return got_.find("\r\n") != std::string::npos; }));
  EXPECT_EQ(got_.rfind("INFO {", 0), 0u) << got_;
  EXPECT_NE(got_.find("\"tls_required\":true"), std::string::npos) << got_;
  got_.clear();
  ASSERT_TRUE(UpgradeClient());
  conn_->Write("CONNECT {\"verbose\":false}\r\nPING\r\n");
  EXPECT_TRUE(RunUntil([&] { return got_.find("PONG\r\n") != std::string::npos; })) << got_;
  EXPECT_FALSE(closed_);
}

TEST_F(TlsServerTest, MissingCertificateFileIsRefusedWithASentence) {
  Options o;
  o.tls.enabled = true;
  o.tls.cert_file = (dir_ / "nope.pem").string();
  o.tls.key_file = (dir_ / "server.key").string();
  try {
    Server s(loop_, o);
    ADD_FAILURE() << "a server was made without its certificate";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("nope.pem"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace meridian::server
