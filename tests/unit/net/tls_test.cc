#include "net/tls.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <optional>

#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"
#include "test_certs.h"
#include "test_util.h"

namespace meridian::net {
namespace {

using std::chrono::milliseconds;
using testing::RunUntil;
using testing::TestCert;
using testing::TestPki;

const TestPki& Pki() {
  static const TestPki pki = TestPki::Create();
  return pki;
}

const TestCert& ServerCert() {
  static const TestCert cert = Pki().Issue("localhost", {"DNS:localhost", "IP:127.0.0.1"});
  return cert;
}

std::shared_ptr<const TlsContext> MustCreate(TlsContext::Role role, const TlsConfig& config) {
  auto ctx = TlsContext::Create(role, config);
  EXPECT_TRUE(ctx.ok()) << ctx.message();
  return ctx.ok() ? ctx.value() : nullptr;
}

std::shared_ptr<const TlsContext> ServerContext(bool require_client_cert = false) {
  TlsConfig config;
  config.cert_pem = ServerCert().cert_pem;
  config.key_pem = ServerCert().key_pem;
  if (require_client_cert) {
    config.ca_pem = Pki().ca.cert_pem;
    config.require_client_cert = true;
  }
  return MustCreate(TlsContext::Role::kServer, config);
}

std::shared_ptr<const TlsContext> ClientContext(const std::string& ca_pem,
                                                const TestCert* own = nullptr) {
  TlsConfig config;
  config.ca_pem = ca_pem;
  if (own) {
    config.cert_pem = own->cert_pem;
    config.key_pem = own->key_pem;
  }
  return MustCreate(TlsContext::Role::kClient, config);
}

// A TLS-first echo server, and the outcome of each server-side handshake.
struct TlsEchoServer {
  TlsEchoServer(Loop& loop, std::shared_ptr<const TlsContext> ctx) {
    auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0), [this, ctx](ConnectionPtr c) {
      Connection* raw = c.get();
      c->SetReadHandler([raw](std::string_view d) {
        raw->Write(d);
        return d.size();
      });
      c->StartTls(ctx, "", [this, raw](const Status& st) {
        handshake = st;
        if (st.ok()) peer_subject = raw->tls_peer_subject();
      });
      accepted.push_back(std::move(c));
    });
    EXPECT_TRUE(l.ok()) << l.message();
    listener = std::move(l.value());
  }
  ~TlsEchoServer() {
    for (auto& c : accepted) c->DetachHandlers();
  }
  std::unique_ptr<Listener> listener;
  std::vector<ConnectionPtr> accepted;
  std::optional<Status> handshake;
  std::string peer_subject;
};

struct ClientOutcome {
  ~ClientOutcome() {
    if (conn) conn->DetachHandlers();
  }
  ConnectionPtr conn;
  std::optional<Status> handshake;
  std::optional<CloseInfo> closed;
  std::string got;
};

void ConnectTls(Loop& loop, uint16_t port, std::shared_ptr<const TlsContext> ctx,
                const std::string& name, ClientOutcome& out) {
  Connect(loop, Endpoint::Tcp("127.0.0.1", port), {}, [&, ctx, name](Result<ConnectionPtr> r) {
    ASSERT_TRUE(r.ok()) << r.message();
    out.conn = r.value();
    out.conn->SetReadHandler([&](std::string_view d) {
      out.got.append(d);
      return d.size();
    });
    out.conn->SetCloseHandler([&](const CloseInfo& info) { out.closed = info; });
    out.conn->StartTls(ctx, name, [&](const Status& st) { out.handshake = st; });
    out.conn->Write("written before the handshake finished");
  });
}

TEST(Tls, ClientAndServerHandshakeAndEcho) {
  Loop loop;
  TlsEchoServer server(loop, ServerContext());
  ClientOutcome client;
  ConnectTls(loop, server.listener->port(), ClientContext(Pki().ca.cert_pem), "localhost", client);
  ASSERT_TRUE(RunUntil(loop, [&] { return client.handshake.has_value(); }));
  ASSERT_TRUE(client.handshake->ok()) << client.handshake->message();
  EXPECT_TRUE(client.conn->tls_active());
  EXPECT_NE(client.conn->tls_peer_subject().find("CN=localhost"), std::string::npos);
  ASSERT_TRUE(
      RunUntil(loop, [&] { return client.got == "written before the handshake finished"; }));
  std::string big(300000, 'b');
  client.got.clear();
  client.conn->Write(big);
  ASSERT_TRUE(RunUntil(loop, [&] { return client.got.size() == big.size(); }));
  EXPECT_EQ(client.got, big);
}

TEST(Tls, StartTlsInsideTheReadHandlerTakesTheUnconsumedBytesAsTheHandshake) {
  // A server that waits for the client's first bytes before it starts TLS (nats-server's
  // handshake_first fallback): the handler starts TLS and consumes nothing, and those bytes
  // (the ClientHello) go to the handshake only, never to the plaintext reader.
  Loop loop;
  auto ctx = ServerContext();
  std::vector<ConnectionPtr> accepted;
  std::string server_got;
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0), [&](ConnectionPtr c) {
    Connection* raw = c.get();
    c->SetReadHandler([&, raw, ctx](std::string_view) -> size_t {
      raw->SetReadHandler([&, raw](std::string_view d) {
        server_got.append(d);
        raw->Write(d);
        return d.size();
      });
      raw->StartTls(ctx, "", nullptr);
      return 0;
    });
    accepted.push_back(std::move(c));
  });
  ASSERT_TRUE(l.ok()) << l.message();
  ClientOutcome client;
  ConnectTls(loop, (*l)->port(), ClientContext(Pki().ca.cert_pem), "localhost", client);
  ASSERT_TRUE(RunUntil(loop, [&] { return client.handshake.has_value(); }));
  ASSERT_TRUE(client.handshake->ok()) << client.handshake->message();
  ASSERT_TRUE(
      RunUntil(loop, [&] { return client.got == "written before the handshake finished"; }))
      << client.got;
  EXPECT_EQ(server_got, "written before the handshake finished");
  for (auto& c : accepted) c->DetachHandlers();
}

TEST(Tls, ServerNameCanBeTheIpAddressTheCertificateLists) {
  Loop loop;
  TlsEchoServer server(loop, ServerContext());
  ClientOutcome client;
  ConnectTls(loop, server.listener->port(), ClientContext(Pki().ca.cert_pem), "127.0.0.1", client);
  ASSERT_TRUE(RunUntil(loop, [&] { return client.handshake.has_value(); }));
  EXPECT_TRUE(client.handshake->ok()) << client.handshake->message();
}

TEST(Tls, WrongHostnameFailsWithASentenceNamingIt) {
  Loop loop;
  TlsEchoServer server(loop, ServerContext());
  ClientOutcome client;
  ConnectTls(loop, server.listener->port(), ClientContext(Pki().ca.cert_pem), "wrong.example",
             client);
  ASSERT_TRUE(RunUntil(loop, [&] { return client.closed.has_value(); }));
  ASSERT_TRUE(client.handshake.has_value());
  ASSERT_FALSE(client.handshake->ok());
  const std::string& msg = client.handshake->message();
  EXPECT_NE(msg.find("not valid for \"wrong.example\""), std::string::npos) << msg;
  EXPECT_EQ(client.closed->reason, CloseReason::kTlsError);
  EXPECT_EQ(client.closed->detail, msg);
}

TEST(Tls, UntrustedCaFailsWithASentenceNamingTheFix) {
  Loop loop;
  TlsEchoServer server(loop, ServerContext());
  TestPki other = TestPki::Create("Some Other CA");
  ClientOutcome client;
  ConnectTls(loop, server.listener->port(), ClientContext(other.ca.cert_pem), "localhost", client);
  ASSERT_TRUE(RunUntil(loop, [&] { return client.handshake.has_value(); }));
  ASSERT_FALSE(client.handshake->ok());
  EXPECT_NE(client.handshake->message().find("not signed by a trusted CA; set ca_file"),
            std::string::npos)
      << client.handshake->message();
  ASSERT_TRUE(RunUntil(loop, [&] { return server.handshake.has_value(); }));
  EXPECT_FALSE(server.handshake->ok());
}

TEST(Tls, ServerRequiringClientCertRefusesAClientWithout) {
  Loop loop;
  TlsEchoServer server(loop, ServerContext(/*require_client_cert=*/true));
  ClientOutcome client;
  ConnectTls(loop, server.listener->port(), ClientContext(Pki().ca.cert_pem), "localhost", client);
  ASSERT_TRUE(RunUntil(loop, [&] { return server.handshake.has_value() && client.closed; }));
  ASSERT_FALSE(server.handshake->ok());
  EXPECT_NE(server.handshake->message().find("client certificate"), std::string::npos)
      << server.handshake->message();
}

TEST(Tls, ServerRequiringClientCertAcceptsOneFromItsCa) {
  Loop loop;
  TlsEchoServer server(loop, ServerContext(/*require_client_cert=*/true));
  TestCert client_cert = Pki().Issue("app-1", {"DNS:app-1"});
  ClientOutcome client;
  ConnectTls(loop, server.listener->port(), ClientContext(Pki().ca.cert_pem, &client_cert),
             "localhost", client);
  ASSERT_TRUE(RunUntil(loop, [&] { return server.handshake.has_value() && !client.got.empty(); }));
  EXPECT_TRUE(server.handshake->ok()) << server.handshake->message();
  EXPECT_NE(server.peer_subject.find("CN=app-1"), std::string::npos) << server.peer_subject;
}

TEST(Tls, PlaintextLineThenUpgradeOnTheSameSocket) {
  // As NATS does: the server sends INFO in plaintext, the client reads it and starts TLS.
  Loop loop;
  auto server_ctx = ServerContext();
  std::vector<ConnectionPtr> accepted;
  std::string server_got;
  auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0), [&](ConnectionPtr c) {
    c->SetReadHandler([&](std::string_view d) {
      server_got.append(d);
      return d.size();
    });
    c->Write("INFO {\"tls_required\":true}\r\n");
    c->StartTls(server_ctx, "", [](const Status&) {});
    accepted.push_back(std::move(c));
  });
  ASSERT_TRUE(l.ok());

  auto client_ctx = ClientContext(Pki().ca.cert_pem);
  ConnectionPtr client;
  std::string info;
  std::optional<Status> handshake;
  std::string secure_reply;
  Connect(loop, (*l)->endpoint(), {}, [&](Result<ConnectionPtr> r) {
    ASSERT_TRUE(r.ok());
    client = r.value();
    client->SetReadHandler([&](std::string_view d) {
      if (!handshake) {  // plaintext phase: consume exactly the INFO line
        auto nl = d.find("\r\n");
        if (nl == std::string_view::npos) return size_t{0};
        info = std::string(d.substr(0, nl));
        client->StartTls(client_ctx, "localhost", [&](const Status& st) { handshake = st; });
        client->Write("CONNECT {}\r\n");
        return nl + 2;
      }
      secure_reply.append(d);
      return d.size();
    });
  });
  ASSERT_TRUE(RunUntil(loop, [&] { return handshake.has_value() && !server_got.empty(); }));
  EXPECT_EQ(info, "INFO {\"tls_required\":true}");
  ASSERT_TRUE(handshake->ok()) << handshake->message();
  EXPECT_EQ(server_got, "CONNECT {}\r\n");
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_TRUE(accepted[0]->tls_active());
  accepted[0]->Write("+OK\r\n");
  ASSERT_TRUE(RunUntil(loop, [&] { return secure_reply == "+OK\r\n"; }));
  client->DetachHandlers();
  for (auto& c : accepted) c->DetachHandlers();
}

TEST(Tls, PlaintextClientAgainstTlsServerFailsOnTheServerSide) {
  Loop loop;
  TlsEchoServer server(loop, ServerContext());
  ConnectionPtr client;
  Connect(loop, server.listener->endpoint(), {}, [&](Result<ConnectionPtr> r) {
    ASSERT_TRUE(r.ok());
    client = r.value();
    client->SetReadHandler([](std::string_view d) { return d.size(); });
    client->Write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  });
  ASSERT_TRUE(RunUntil(loop, [&] { return server.handshake.has_value(); }));
  ASSERT_FALSE(server.handshake->ok());
  EXPECT_NE(server.handshake->message().find("TLS handshake with 127.0.0.1:"), std::string::npos)
      << server.handshake->message();
}

TEST(Tls, GracefulCloseSendsCloseNotifyAndThePeerSeesPeerClosed) {
  Loop loop;
  TlsEchoServer server(loop, ServerContext());
  ClientOutcome client;
  ConnectTls(loop, server.listener->port(), ClientContext(Pki().ca.cert_pem), "localhost", client);
  ASSERT_TRUE(RunUntil(loop, [&] { return !client.got.empty(); }));
  ASSERT_EQ(server.accepted.size(), 1u);
  std::optional<CloseInfo> server_closed;
  server.accepted[0]->SetCloseHandler([&](const CloseInfo& i) { server_closed = i; });
  client.conn->Close();
  ASSERT_TRUE(RunUntil(loop, [&] { return server_closed && client.closed; }));
  EXPECT_EQ(server_closed->reason, CloseReason::kPeerClosed);
  EXPECT_EQ(client.closed->reason, CloseReason::kClosed);
}

TEST(Tls, PausedReaderGetsEverythingAfterResume) {
  Loop loop;
  auto server_ctx = ServerContext();
  ConnectionPtr server_side;
  size_t received = 0;
  ConnectionOptions small;
  small.read_buffer_bytes = 16 * 1024;
  small.max_input_buffer = 64 * 1024;
  auto l = Listener::Listen(
      loop, Endpoint::Tcp("127.0.0.1", 0),
      [&](ConnectionPtr c) {
        c->SetReadHandler([&](std::string_view d) {
          received += d.size();
          return d.size();
        });
        c->StartTls(server_ctx, "", [](const Status&) {});
        server_side = std::move(c);
      },
      small);
  ASSERT_TRUE(l.ok());
  ClientOutcome client;
  ConnectTls(loop, (*l)->port(), ClientContext(Pki().ca.cert_pem), "localhost", client);
  ASSERT_TRUE(RunUntil(loop, [&] { return received > 0; }));
  server_side->PauseReading();
  const size_t total = 1 << 20;
  client.conn->Write(std::string(total, 'p'));
  loop.RunFor(milliseconds(50));
  size_t before = received;
  server_side->ResumeReading();
  const size_t first = std::string("written before the handshake finished").size();
  ASSERT_TRUE(RunUntil(
      loop, [&] { return received == first + total; }, milliseconds(20000)));
  EXPECT_LT(before, first + total);
  server_side->DetachHandlers();
}

std::string WriteTempFile(const std::string& name, const std::string& text) {
  std::string path =
      ::testing::TempDir() + "/meridian-tls-" + std::to_string(getpid()) + "-" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Tls, CertificateKeyAndCaFromFilesWork) {
  TlsConfig server_config;
  server_config.cert_file = WriteTempFile("server.pem", ServerCert().cert_pem);
  server_config.key_file = WriteTempFile("server.key", ServerCert().key_pem);
  TlsConfig client_config;
  client_config.ca_file = WriteTempFile("ca.pem", Pki().ca.cert_pem);
  Loop loop;
  TlsEchoServer server(loop, MustCreate(TlsContext::Role::kServer, server_config));
  ClientOutcome client;
  ConnectTls(loop, server.listener->port(), MustCreate(TlsContext::Role::kClient, client_config),
             "localhost", client);
  ASSERT_TRUE(RunUntil(loop, [&] { return client.handshake.has_value(); }));
  EXPECT_TRUE(client.handshake->ok()) << client.handshake->message();
  for (const auto& p : {server_config.cert_file, server_config.key_file, client_config.ca_file}) {
    std::remove(p.c_str());
  }
}

TEST(TlsContext, ServerWithoutCertificateIsRefusedWithASentence) {
  auto ctx = TlsContext::Create(TlsContext::Role::kServer, TlsConfig{});
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.message().find("set cert_file and key_file"), std::string::npos);
}

TEST(TlsContext, MissingCertificateFileIsNamed) {
  TlsConfig config;
  config.cert_file = "/nonexistent/server.pem";
  config.key_file = "/nonexistent/server.key";
  auto ctx = TlsContext::Create(TlsContext::Role::kServer, config);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.message().find("\"/nonexistent/server.pem\""), std::string::npos) << ctx.message();
}

TEST(TlsContext, KeyThatDoesNotMatchTheCertificateIsRefused) {
  TlsConfig config;
  config.cert_pem = ServerCert().cert_pem;
  config.key_pem = Pki().ca.key_pem;
  auto ctx = TlsContext::Create(TlsContext::Role::kServer, config);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.message().find("does not match the certificate"), std::string::npos)
      << ctx.message();
}

}  // namespace
}  // namespace meridian::net
