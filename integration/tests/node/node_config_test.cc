// meridian-node as a drop-in for nats-server: the same nats-server-format config file (with
// include, variables from the file and the environment, bcrypt passwords, accounts, mappings
// and no_auth_user) and the same command-line flags, given to both programs; every case runs
// against both, so the assertions are about nats-server's behaviour.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "harness/binaries.h"
#include "harness/gtest_support.h"
#include "harness/http_client.h"
#include "harness/libnats_ptr.h"
#include "harness/node_script.h"
#include "harness/ports.h"
#include "harness/process.h"
#include "node_world.h"
#include "server/nkey.h"

namespace meridian::node_it {
namespace {

using namespace std::chrono_literals;

using harness::Msg;
using harness::Nc;
using harness::Sub;

natsStatus ConnectTo(uint16_t port, const char* user, const char* pass, Nc& out,
                     ErrorLog* errors = nullptr) {
  return node_it::ConnectTo("nats://127.0.0.1:" + std::to_string(port), user, pass, out, errors);
}

Sub SubscribeSync(natsConnection* nc, const char* subject) {
  natsSubscription* raw = nullptr;
  EXPECT_EQ(natsConnection_SubscribeSync(&raw, nc, subject), NATS_OK);
  EXPECT_EQ(natsConnection_FlushTimeout(nc, 5000), NATS_OK);
  return Sub(raw);
}

std::string NextData(natsSubscription* sub, int64_t timeout_ms = 5000) {
  natsMsg* raw = nullptr;
  if (natsSubscription_NextMsg(&raw, sub, timeout_ms) != NATS_OK) return "<none>";
  Msg m(raw);
  return std::string(natsMsg_GetSubject(m.get())) + " " +
         std::string(natsMsg_GetData(m.get()), static_cast<size_t>(natsMsg_GetDataLength(m.get())));
}

// bcrypt (cost 4) of "app-secret".
constexpr const char* kAppHash = "$2a$04$hqSOd8Vj.dlxm0oK7cSpF.N4b65wRR9lMPg13Yp5P1TGBERNaYyEO";
constexpr const char* kPayloadEnv = "MERIDIAN_IT_NODE_MAX_PAYLOAD";

// One nats-server-format file set, read by the parameter's program.
class NatsConfFile : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    port_ = harness::FreeLoopbackPort();
    http_port_ = harness::FreeLoopbackPort();
    auto dir = dir_.path() / "conf";
    std::filesystem::create_directories(dir / "parts");
    std::ofstream(dir / "server.conf")
        << "# the main file: listen, an environment variable, an include relative to this file\n"
        << "listen: 127.0.0.1:" << port_ << "\n"
        << "http = \"127.0.0.1:" << http_port_ << "\"\n"
        << "max_payload: $" << kPayloadEnv << "  // from the environment\n"
        << "include 'parts/accounts.conf'\n"
        << "no_auth_user: guest\n";
    // nats-server parses an included file on its own: its variables are its own.
    std::ofstream(dir / "parts" / "accounts.conf")
        << "APP_PASS: \"" << kAppHash << "\"\n"
        << "accounts {\n"
        << "  APP {\n"
        << "    users: [\n"
        << "      {user: app, password: $APP_PASS}\n"
        << "      {user: guest, password: guestpw, permissions: {\n"
        << "        publish: \"public.>\"\n"
        << "        subscribe: [\"public.>\", \"_INBOX.>\"]\n"
        << "      }}\n"
        << "    ]\n"
        << "    mappings: {\n"
        << "      \"orders.*\": \"orders.east.{{wildcard(1)}}\"\n"
        << "    }\n"
        << "  }\n"
        << "  OTHER: { users = [ {user: other, password: other} ] }\n"
        << "}\n";
    setenv(kPayloadEnv, "65536", 1);
    server_ = std::make_unique<TestServer>(
        GetParam(), dir_.path(), port_, http_port_,
        std::vector<std::string>{"-c", (dir / "server.conf").string()});
    unsetenv(kPayloadEnv);
  }
  harness::TestRunDir dir_;
  uint16_t port_ = 0, http_port_ = 0;
  std::unique_ptr<TestServer> server_;
};

TEST_P(NatsConfFile, BcryptHashedPasswordAdmitsOnlyThePassword) {
  Nc good, bad;
  EXPECT_EQ(ConnectTo(port_, "app", "app-secret", good), NATS_OK);
  EXPECT_NE(ConnectTo(port_, "app", "app-secreT", bad), NATS_OK);
  Nc hash;
  EXPECT_NE(ConnectTo(port_, "app", kAppHash, hash), NATS_OK);
}

TEST_P(NatsConfFile, VariableFromTheEnvironmentSetsMaxPayload) {
  Nc nc;
  ASSERT_EQ(ConnectTo(port_, "app", "app-secret", nc), NATS_OK);
  EXPECT_EQ(natsConnection_GetMaxPayload(nc.get()), 65536);
}

TEST_P(NatsConfFile, ClientWithoutCredentialsIsTheNoAuthUserInItsAccount) {
  Nc app, anon;
  ASSERT_EQ(ConnectTo(port_, "app", "app-secret", app), NATS_OK);
  ErrorLog errors;
  ASSERT_EQ(ConnectTo(port_, nullptr, nullptr, anon, &errors), NATS_OK);
  Sub sub = SubscribeSync(app.get(), "public.>");
  ASSERT_EQ(natsConnection_PublishString(anon.get(), "public.news", "hi"), NATS_OK);
  EXPECT_EQ(NextData(sub.get()), "public.news hi");
  // With the guest's permissions.
  ASSERT_EQ(natsConnection_PublishString(anon.get(), "private.x", "no"), NATS_OK);
  natsConnection_FlushTimeout(anon.get(), 5000);
  std::string last;
  for (int i = 0; i < 50 && last.empty(); ++i) {
    std::this_thread::sleep_for(100ms);
    std::lock_guard<std::mutex> lock(errors.mu);
    last = errors.last;
  }
  EXPECT_NE(last.find("Permissions Violation for Publish to \"private.x\""), std::string::npos)
      << last;
}

TEST_P(NatsConfFile, AccountMappingFromTheIncludedFileRewritesPublishes) {
  Nc app;
  ASSERT_EQ(ConnectTo(port_, "app", "app-secret", app), NATS_OK);
  Sub sub = SubscribeSync(app.get(), "orders.east.*");
  ASSERT_EQ(natsConnection_PublishString(app.get(), "orders.42", "o"), NATS_OK);
  EXPECT_EQ(NextData(sub.get()), "orders.east.42 o");
}

TEST_P(NatsConfFile, AccountsDoNotSeeEachOthersMessages) {
  Nc app, other;
  ASSERT_EQ(ConnectTo(port_, "app", "app-secret", app), NATS_OK);
  ASSERT_EQ(ConnectTo(port_, "other", "other", other), NATS_OK);
  Sub in_other = SubscribeSync(other.get(), "public.>");
  Sub in_app = SubscribeSync(app.get(), "public.>");
  ASSERT_EQ(natsConnection_PublishString(app.get(), "public.a", "x"), NATS_OK);
  EXPECT_EQ(NextData(in_app.get()), "public.a x");
  EXPECT_EQ(NextData(in_other.get(), 300), "<none>");
}

INSTANTIATE_TEST_SUITE_P(BothServers, NatsConfFile,
                         ::testing::Values(ServerKind::kNatsServer,
                                           ServerKind::kMeridianNodeNatsConf),
                         [](const auto& info) { return KindName(info.param); });

// SIGHUP reload of users and permissions, the same file edits for both programs.
class NatsConfReload : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    port_ = harness::FreeLoopbackPort();
    http_port_ = harness::FreeLoopbackPort();
    conf_ = dir_.path() / "reload.conf";
    Write("{user: a, password: a}\n    {user: b, password: b}");
    server_ = std::make_unique<TestServer>(GetParam(), dir_.path(), port_, http_port_,
                                           std::vector<std::string>{"-c", conf_.string()});
  }
  void Write(const std::string& users) {
    std::ofstream(conf_) << "listen: 127.0.0.1:" << port_ << "\nhttp: 127.0.0.1:" << http_port_
                         << "\nauthorization {\n  users: [\n    " << users << "\n  ]\n}\n";
  }
  void Hangup() { ASSERT_EQ(::kill(server_->process().pid(), SIGHUP), 0); }
  // Polls until user/pass can connect (the reload happened) or 20 s passed.
  bool WaitUntilAccepted(const char* user, const char* pass) {
    for (int i = 0; i < 200; ++i) {
      Nc nc;
      if (ConnectTo(port_, user, pass, nc) == NATS_OK) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  harness::TestRunDir dir_;
  uint16_t port_ = 0, http_port_ = 0;
  std::filesystem::path conf_;
  std::unique_ptr<TestServer> server_;
};

TEST_P(NatsConfReload, AddedUserConnectsAndRemovedUserIsDisconnected) {
  Nc b;
  ASSERT_EQ(ConnectTo(port_, "b", "b", b), NATS_OK);
  Nc c;
  EXPECT_NE(ConnectTo(port_, "c", "c", c), NATS_OK);
  Write("{user: a, password: a}\n    {user: c, password: c}");
  Hangup();
  EXPECT_TRUE(WaitUntilAccepted("c", "c"));
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    closed = natsConnection_IsClosed(b.get());
    if (!closed) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(closed) << "the removed user's connection stayed open";
}

TEST_P(NatsConfReload, NewPermissionsApplyToAConnectedClient) {
  ErrorLog errors;
  Nc a;
  ASSERT_EQ(ConnectTo(port_, "a", "a", a, &errors), NATS_OK);
  Sub open = SubscribeSync(a.get(), "open.x");
  Write(
      "{user: a, password: a, permissions: {publish: \"open.>\"}}\n"
      "    {user: b, password: b}\n    {user: marker, password: m}");
  Hangup();
  ASSERT_TRUE(WaitUntilAccepted("marker", "m"));
  ASSERT_EQ(natsConnection_PublishString(a.get(), "closed.x", "no"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(a.get(), "open.x", "yes"), NATS_OK);
  EXPECT_EQ(NextData(open.get()), "open.x yes");
  std::string last;
  for (int i = 0; i < 50 && last.empty(); ++i) {
    std::this_thread::sleep_for(100ms);
    std::lock_guard<std::mutex> lock(errors.mu);
    last = errors.last;
  }
  EXPECT_NE(last.find("Permissions Violation for Publish to \"closed.x\""), std::string::npos)
      << last;
  EXPECT_FALSE(natsConnection_IsClosed(a.get()));
}

INSTANTIATE_TEST_SUITE_P(BothServers, NatsConfReload,
                         ::testing::Values(ServerKind::kNatsServer,
                                           ServerKind::kMeridianNodeNatsConf),
                         [](const auto& info) { return KindName(info.param); });

// A CA and a server certificate for localhost/127.0.0.1 it signed, made with the openssl CLI
// in `d`: ca.pem, server.pem, server.key.
void MakeTestPki(const std::filesystem::path& d) {
  std::filesystem::create_directories(d);
  std::ofstream(d / "ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  const std::string q = "cd '" + d.string() + "' && ";
  const char* steps[] = {
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
      "-out ca.pem -days 2 -subj '/CN=Meridian Node Test CA'",
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
      "-out server.csr -subj /CN=localhost",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "-out server.pem -days 2 -extfile ext.cnf",
  };
  for (const char* step : steps) {
    std::string cmd = q + step + " > openssl.log 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n"
                                           << harness::TailOfFile(d / "openssl.log", 10);
  }
}

// TLS for clients from `tls {cert_file, key_file}`, with a CA made by the test (openssl CLI).
class ClientTls : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    auto d = dir_.path() / "pki";
    ASSERT_NO_FATAL_FAILURE(MakeTestPki(d));
    ca_ = d / "ca.pem";
    port_ = harness::FreeLoopbackPort();
    http_port_ = harness::FreeLoopbackPort();
    auto conf = dir_.path() / "tls.conf";
    std::ofstream(conf) << "listen: 127.0.0.1:" << port_ << "\nhttp: 127.0.0.1:" << http_port_
                        << "\ntls {\n  cert_file: \"" << (d / "server.pem").string()
                        << "\"\n  key_file: \"" << (d / "server.key").string() << "\"\n"
                        << TlsExtra() << "}\n";
    server_ = std::make_unique<TestServer>(GetParam(), dir_.path(), port_, http_port_,
                                           std::vector<std::string>{"-c", conf.string()});
  }
  virtual std::string TlsExtra() const { return ""; }
  natsStatus ConnectTls(Nc& out, bool secure) {
    natsOptions* opts = nullptr;
    natsOptions_Create(&opts);
    std::string url = "nats://127.0.0.1:" + std::to_string(port_);
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetAllowReconnect(opts, false);
    natsOptions_SetTimeout(opts, 5000);
    if (secure) {
      natsOptions_SetSecure(opts, true);
      natsOptions_LoadCATrustedCertificates(opts, ca_.c_str());
    }
    natsConnection* nc = nullptr;
    natsStatus s = natsConnection_Connect(&nc, opts);
    natsOptions_Destroy(opts);
    out.reset(nc);
    return s;
  }
  harness::TestRunDir dir_;
  std::filesystem::path ca_;
  uint16_t port_ = 0, http_port_ = 0;
  std::unique_ptr<TestServer> server_;
};

TEST_P(ClientTls, LibnatsTrustingTheTestCaPublishesAndReceives) {
  Nc nc;
  ASSERT_EQ(ConnectTls(nc, true), NATS_OK) << nats_GetLastError(nullptr);
  Sub sub = SubscribeSync(nc.get(), "tls.*");
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "tls.a", "sealed"), NATS_OK);
  EXPECT_EQ(NextData(sub.get()), "tls.a sealed");
}

TEST_P(ClientTls, LibnatsWithoutTlsIsRefused) {
  Nc nc;
  EXPECT_NE(ConnectTls(nc, false), NATS_OK);
}

TEST_P(ClientTls, NatsJsClientConnectsOverTls) {
  auto r = harness::RunNodeScript(
      "node_tls", {"--url", "nats://127.0.0.1:" + std::to_string(port_), "--ca", ca_.string()},
      dir_.path() / "node_tls.log", 30s);
  EXPECT_TRUE(r.ok()) << r.Describe();
}

INSTANTIATE_TEST_SUITE_P(BothServers, ClientTls,
                         ::testing::Values(ServerKind::kNatsServer,
                                           ServerKind::kMeridianNodeNatsConf),
                         [](const auto& info) { return KindName(info.param); });

// TLS first (nats-server 2.10's `handshake_first`; the stock 2.9.10 does not have it, so
// meridian-node only): nats.js with `tls.handshakeFirst` connects; libnats 3.4 has no TLS
// first, so with "auto" (a 50 ms fallback to INFO first) it connects the classic way.
class ClientTlsFirst : public ClientTls {
 protected:
  std::string TlsExtra() const override {
    return std::string("  handshake_first: ") + (auto_ ? "auto" : "true") + "\n";
  }
  bool auto_ = false;
};
class ClientTlsFirstAuto : public ClientTlsFirst {
 protected:
  void SetUp() override {
    auto_ = true;
    ClientTlsFirst::SetUp();
  }
};

TEST_P(ClientTlsFirst, NatsJsClientWithHandshakeFirstConnects) {
  auto r = harness::RunNodeScript("node_tls",
                                  {"--url", "nats://127.0.0.1:" + std::to_string(port_), "--ca",
                                   ca_.string(), "--handshake-first"},
                                  dir_.path() / "node_tls.log", 30s);
  EXPECT_TRUE(r.ok()) << r.Describe();
}

TEST_P(ClientTlsFirst, LibnatsWaitingForInfoIsNotServed) {
  Nc nc;
  EXPECT_NE(ConnectTls(nc, true), NATS_OK);
}

TEST_P(ClientTlsFirstAuto, BothTlsFirstAndClassicClientsConnect) {
  Nc nc;
  ASSERT_EQ(ConnectTls(nc, true), NATS_OK) << nats_GetLastError(nullptr);
  Sub sub = SubscribeSync(nc.get(), "tls.*");
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "tls.a", "classic"), NATS_OK);
  EXPECT_EQ(NextData(sub.get()), "tls.a classic");
  auto r = harness::RunNodeScript("node_tls",
                                  {"--url", "nats://127.0.0.1:" + std::to_string(port_), "--ca",
                                   ca_.string(), "--handshake-first"},
                                  dir_.path() / "node_tls.log", 30s);
  EXPECT_TRUE(r.ok()) << r.Describe();
}

INSTANTIATE_TEST_SUITE_P(MeridianNode, ClientTlsFirst,
                         ::testing::Values(ServerKind::kMeridianNodeNatsConf),
                         [](const auto& info) { return KindName(info.param); });
INSTANTIATE_TEST_SUITE_P(MeridianNode, ClientTlsFirstAuto,
                         ::testing::Values(ServerKind::kMeridianNodeNatsConf),
                         [](const auto& info) { return KindName(info.param); });

// Stream and service exports/imports between two accounts, the same file for both programs.
class NatsConfImports : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    port_ = harness::FreeLoopbackPort();
    http_port_ = harness::FreeLoopbackPort();
    auto conf = dir_.path() / "imports.conf";
    std::ofstream(conf) << "listen: 127.0.0.1:" << port_ << "\nhttp: 127.0.0.1:" << http_port_
                        << R"(
accounts {
  SVC: {
    users: [{user: svc, password: svc}]
    exports: [{stream: "events.>", accounts: [APP]}, {service: "time.>", accounts: [APP]}]
  }
  APP: {
    users: [{user: app, password: app}]
    imports: [
      {stream: {account: SVC, subject: "events.>"}, prefix: "svc"}
      {service: {account: SVC, subject: "time.now"}, to: "now"}
    ]
  }
}
)";
    server_ = std::make_unique<TestServer>(GetParam(), dir_.path(), port_, http_port_,
                                           std::vector<std::string>{"-c", conf.string()});
  }
  harness::TestRunDir dir_;
  uint16_t port_ = 0, http_port_ = 0;
  std::unique_ptr<TestServer> server_;
};

TEST_P(NatsConfImports, StreamImportDeliversUnderThePrefix) {
  Nc app, svc;
  ASSERT_EQ(ConnectTo(port_, "app", "app", app), NATS_OK);
  ASSERT_EQ(ConnectTo(port_, "svc", "svc", svc), NATS_OK);
  Sub sub = SubscribeSync(app.get(), "svc.events.*");
  ASSERT_EQ(natsConnection_PublishString(svc.get(), "events.login", "u1"), NATS_OK);
  EXPECT_EQ(NextData(sub.get()), "svc.events.login u1");
}

void Answer(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  natsConnection_PublishString(nc, natsMsg_GetReply(msg), "noon");
  natsMsg_Destroy(msg);
}

TEST_P(NatsConfImports, ServiceImportAnswersARequestFromTheImportingAccount) {
  Nc app, svc;
  ASSERT_EQ(ConnectTo(port_, "app", "app", app), NATS_OK);
  ASSERT_EQ(ConnectTo(port_, "svc", "svc", svc), NATS_OK);
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&raw, svc.get(), "time.now", Answer, nullptr), NATS_OK);
  Sub responder(raw);
  ASSERT_EQ(natsConnection_FlushTimeout(svc.get(), 5000), NATS_OK);
  natsMsg* reply = nullptr;
  ASSERT_EQ(natsConnection_RequestString(&reply, app.get(), "now", "?", 5000), NATS_OK);
  Msg m(reply);
  EXPECT_EQ(std::string(natsMsg_GetData(m.get()), natsMsg_GetDataLength(m.get())), "noon");
}

TEST_P(NatsConfImports, AccountsStillDoNotShareUnexportedSubjects) {
  Nc app, svc;
  ASSERT_EQ(ConnectTo(port_, "app", "app", app), NATS_OK);
  ASSERT_EQ(ConnectTo(port_, "svc", "svc", svc), NATS_OK);
  Sub sub = SubscribeSync(app.get(), ">");
  ASSERT_EQ(natsConnection_PublishString(svc.get(), "private.x", "no"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(svc.get(), "events.y", "yes"), NATS_OK);
  EXPECT_EQ(NextData(sub.get()), "svc.events.y yes");
}

INSTANTIATE_TEST_SUITE_P(BothServers, NatsConfImports,
                         ::testing::Values(ServerKind::kNatsServer,
                                           ServerKind::kMeridianNodeNatsConf),
                         [](const auto& info) { return KindName(info.param); });

// A private export (`accounts: [APP]`) imported by an account it does not list: both
// programs refuse the file at startup with nats-server's sentence.
class PrivateExport : public ::testing::TestWithParam<ServerKind> {};

TEST_P(PrivateExport, ImportByAnUnlistedAccountIsRefusedAtStartup) {
  harness::TestRunDir dir;
  auto conf = dir.path() / "private.conf";
  std::ofstream(conf) << "listen: 127.0.0.1:" << harness::FreeLoopbackPort() << R"(
accounts {
  SVC: { exports: [{stream: "events.>", accounts: [APP]}, {service: "time.>", accounts: [APP]}] }
  APP: { imports: [{stream: {account: SVC, subject: "events.>"}}] }
  OTHER: { imports: [{service: {account: SVC, subject: "time.now"}}] }
}
)";
  harness::ProcessSpec spec;
  spec.argv = {GetParam() == ServerKind::kNatsServer ? harness::NatsServerBinary().string()
                                                     : harness::OurBinary("meridian-node").string(),
               "-c", conf.string()};
  spec.log_path = dir.path() / "private.log";
  harness::Process p(spec);
  auto st = p.Wait(30s);
  if (!st) st = p.Kill();
  EXPECT_TRUE(st->exited && st->code == 1) << st->Describe();
  std::string log = harness::TailOfFile(spec.log_path, 20);
  EXPECT_NE(log.find("Error adding service import \"time.now\": service import not authorized"),
            std::string::npos)
      << log;
}

INSTANTIATE_TEST_SUITE_P(BothServers, PrivateExport,
                         ::testing::Values(ServerKind::kNatsServer,
                                           ServerKind::kMeridianNodeNatsConf),
                         [](const auto& info) { return KindName(info.param); });

// An nkey user (Ed25519 key made by the test): the client signs the INFO nonce.
class NkeyUser : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    EVP_PKEY* pkey = nullptr;
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    ASSERT_EQ(EVP_PKEY_keygen_init(ctx), 1);
    ASSERT_EQ(EVP_PKEY_keygen(ctx, &pkey), 1);
    EVP_PKEY_CTX_free(ctx);
    std::string seed(32, '\0'), pub(32, '\0');
    size_t n = 32;
    EVP_PKEY_get_raw_private_key(pkey, reinterpret_cast<unsigned char*>(seed.data()), &n);
    n = 32;
    EVP_PKEY_get_raw_public_key(pkey, reinterpret_cast<unsigned char*>(pub.data()), &n);
    EVP_PKEY_free(pkey);
    public_ = server::EncodePublicUserNkey(pub);
    seed_file_ = dir_.path() / "user.nk";
    std::ofstream(seed_file_) << server::EncodeUserSeed(seed) << "\n";
    port_ = harness::FreeLoopbackPort();
    http_port_ = harness::FreeLoopbackPort();
    auto conf = dir_.path() / "nkey.conf";
    std::ofstream(conf) << "listen: 127.0.0.1:" << port_ << "\nhttp: 127.0.0.1:" << http_port_
                        << "\nauthorization { users: [\n  {nkey: " << public_
                        << "}\n  {user: app, password: app}\n] }\n";
    server_ = std::make_unique<TestServer>(GetParam(), dir_.path(), port_, http_port_,
                                           std::vector<std::string>{"-c", conf.string()});
  }
  natsStatus ConnectWithSeed(const std::string& pub, Nc& out) {
    natsOptions* opts = nullptr;
    natsOptions_Create(&opts);
    std::string url = "nats://127.0.0.1:" + std::to_string(port_);
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetAllowReconnect(opts, false);
    natsOptions_SetTimeout(opts, 5000);
    natsOptions_SetNKeyFromSeed(opts, pub.c_str(), seed_file_.c_str());
    natsConnection* nc = nullptr;
    natsStatus s = natsConnection_Connect(&nc, opts);
    natsOptions_Destroy(opts);
    out.reset(nc);
    return s;
  }
  harness::TestRunDir dir_;
  std::string public_;
  std::filesystem::path seed_file_;
  uint16_t port_ = 0, http_port_ = 0;
  std::unique_ptr<TestServer> server_;
};

TEST_P(NkeyUser, ClientSigningTheNonceWithItsSeedConnects) {
  Nc nc;
  ASSERT_EQ(ConnectWithSeed(public_, nc), NATS_OK);
  Sub sub = SubscribeSync(nc.get(), "nk.>");
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "nk.a", "signed"), NATS_OK);
  EXPECT_EQ(NextData(sub.get()), "nk.a signed");
}

TEST_P(NkeyUser, ClaimingAnotherKeyIsRefused) {
  // The documented example key: configured nowhere, and not the seed's key.
  Nc nc;
  EXPECT_NE(ConnectWithSeed("UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4", nc),
            NATS_OK);
  Nc app;
  EXPECT_EQ(ConnectTo(port_, "app", "app", app), NATS_OK);
}

INSTANTIATE_TEST_SUITE_P(BothServers, NkeyUser,
                         ::testing::Values(ServerKind::kNatsServer,
                                           ServerKind::kMeridianNodeNatsConf),
                         [](const auto& info) { return KindName(info.param); });

// write_deadline: a client that stops reading is closed once a write to it stays blocked
// that long; the publisher and a healthy subscriber carry on. The same file for both programs.
class WriteDeadline : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    port_ = harness::FreeLoopbackPort();
    http_port_ = harness::FreeLoopbackPort();
    auto conf = dir_.path() / "deadline.conf";
    std::ofstream(conf) << "listen: 127.0.0.1:" << port_ << "\nhttp: 127.0.0.1:" << http_port_
                        << "\nwrite_deadline: \"1s\"\n";
    server_ = std::make_unique<TestServer>(GetParam(), dir_.path(), port_, http_port_,
                                           std::vector<std::string>{"-c", conf.string()});
  }
  int64_t Varz(const char* key) {
    auto r = harness::HttpGet("127.0.0.1", http_port_, "/varz");
    auto varz = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    return varz.is_object() ? varz.value(key, int64_t{-1}) : -1;
  }
  harness::TestRunDir dir_;
  uint16_t port_ = 0, http_port_ = 0;
  std::unique_ptr<TestServer> server_;
};

// A raw TCP client with a tiny receive buffer: it subscribes, then reads no more.
class StalledClient {
 public:
  explicit StalledClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~StalledClient() { close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& s) { (void)!write(fd_, s.data(), s.size()); }
  // Reads until `text` arrived; false on EOF, error or 10 s without bytes.
  bool ReadUntil(const std::string& text) {
    while (got_.find(text) == std::string::npos) {
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      got_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // Reads what the server had queued until the connection ends (EOF or reset): true, or
  // false when it stays open for 10 s without sending anything.
  bool DrainUntilClosed() {
    for (;;) {
      char buf[65536];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string got_;
};

void CountMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  static_cast<std::atomic<int64_t>*>(closure)->fetch_add(1);
  natsMsg_Destroy(msg);
}

TEST_P(WriteDeadline, ClientThatStopsReadingIsClosedAndOthersCarryOn) {
  StalledClient stalled(port_);
  ASSERT_TRUE(stalled.connected());
  ASSERT_TRUE(stalled.ReadUntil("\r\n"));  // INFO
  stalled.Send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB flood 1\r\nPING\r\n");
  ASSERT_TRUE(stalled.ReadUntil("PONG\r\n"));

  Nc healthy, pub;
  ASSERT_EQ(ConnectTo(port_, nullptr, nullptr, healthy), NATS_OK);
  ASSERT_EQ(ConnectTo(port_, nullptr, nullptr, pub), NATS_OK);
  std::atomic<int64_t> healthy_got{0};
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&raw, healthy.get(), "flood", CountMessage, &healthy_got),
            NATS_OK);
  Sub flood_sub(raw);
  ASSERT_EQ(natsSubscription_SetPendingLimits(flood_sub.get(), -1, -1), NATS_OK);
  Sub after = SubscribeSync(healthy.get(), "after");

  // About 6 MB/s: the stalled socket's buffers fill within a second or two, then a write to it
  // stays blocked past the 1 s deadline long before max_pending's 64 MiB are queued.
  std::string payload(4096, 'f');
  auto give_up = std::chrono::steady_clock::now() + 60s;
  int64_t published = 0;
  while (Varz("slow_consumers") < 1 && std::chrono::steady_clock::now() < give_up) {
    for (int i = 0; i < 50; ++i) {
      for (int j = 0; j < 16; ++j) {
        ASSERT_EQ(natsConnection_Publish(pub.get(), "flood", payload.data(),
                                         static_cast<int>(payload.size())),
                  NATS_OK);
        ++published;
      }
      std::this_thread::sleep_for(10ms);
    }
  }
  ASSERT_EQ(Varz("slow_consumers"), 1);
  EXPECT_TRUE(stalled.DrainUntilClosed());

  // The publisher and the healthy subscriber are still connected and served.
  ASSERT_EQ(natsConnection_PublishString(pub.get(), "after", "still here"), NATS_OK);
  EXPECT_EQ(NextData(after.get()), "after still here");
  EXPECT_EQ(natsConnection_FlushTimeout(pub.get(), 5000), NATS_OK);
  EXPECT_EQ(natsConnection_Status(healthy.get()), NATS_CONN_STATUS_CONNECTED);
  EXPECT_GT(healthy_got.load(), 0);
  EXPECT_EQ(Varz("slow_consumers"), 1);
  EXPECT_EQ(Varz("connections"), 2);

  // Both log the slow consumer the same way (nats-server adds the chunks and bytes).
  std::string log;
  for (int i = 0; i < 100; ++i) {
    log = harness::TailOfFile(server_->process().log_path(), 50);
    if (log.find("Slow Consumer Detected: WriteDeadline of 1s exceeded") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(log.find("Slow Consumer Detected: WriteDeadline of 1s exceeded"), std::string::npos)
      << log;
}

INSTANTIATE_TEST_SUITE_P(BothServers, WriteDeadline,
                         ::testing::Values(ServerKind::kNatsServer,
                                           ServerKind::kMeridianNodeNatsConf),
                         [](const auto& info) { return KindName(info.param); });

// nats-server's flags, the same argv for both programs.
class NatsServerFlags : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    port_ = harness::FreeLoopbackPort();
    http_port_ = harness::FreeLoopbackPort();
    server_ = std::make_unique<TestServer>(
        GetParam(), dir_.path(), port_, http_port_,
        std::vector<std::string>{"-a", "127.0.0.1", "-p", std::to_string(port_), "-m",
                                 std::to_string(http_port_), "-n", "flagged", "--user", "app",
                                 "--pass", "app"});
  }
  harness::TestRunDir dir_;
  uint16_t port_ = 0, http_port_ = 0;
  std::unique_ptr<TestServer> server_;
};

TEST_P(NatsServerFlags, UserAndPassFlagsRequireThoseCredentials) {
  Nc good, bad, none;
  EXPECT_EQ(ConnectTo(port_, "app", "app", good), NATS_OK);
  EXPECT_NE(ConnectTo(port_, "app", "nope", bad), NATS_OK);
  EXPECT_NE(ConnectTo(port_, nullptr, nullptr, none), NATS_OK);
}

TEST_P(NatsServerFlags, NameFlagReachesVarz) {
  Nc nc;
  ASSERT_EQ(ConnectTo(port_, "app", "app", nc), NATS_OK);
  auto r = harness::HttpGet("127.0.0.1", http_port_, "/varz");
  auto varz = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  EXPECT_EQ(varz.value("server_name", ""), "flagged") << r.body;
}

TEST_P(NatsServerFlags, WildcardPubSubWorks) {
  Nc nc;
  ASSERT_EQ(ConnectTo(port_, "app", "app", nc), NATS_OK);
  Sub sub = SubscribeSync(nc.get(), "a.*");
  ASSERT_EQ(natsConnection_PublishString(nc.get(), "a.b", "m"), NATS_OK);
  EXPECT_EQ(NextData(sub.get()), "a.b m");
}

INSTANTIATE_TEST_SUITE_P(BothServers, NatsServerFlags,
                         ::testing::Values(ServerKind::kNatsServer, ServerKind::kMeridianNode),
                         [](const auto& info) { return KindName(info.param); });

// meridian-node only: --check-config, and settings it does not support yet.
harness::ExitStatus RunNode(const std::filesystem::path& dir, std::vector<std::string> args,
                            const std::string& log) {
  harness::ProcessSpec spec;
  spec.argv = {harness::OurBinary("meridian-node").string()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.log_path = dir / log;
  harness::Process p(spec);
  auto st = p.Wait(30s);
  if (!st) return p.Kill();
  return *st;
}

TEST(NodeConfigCheck, CheckConfigAcceptsAValidNatsConfAndExitsZero) {
  harness::TestRunDir dir;
  std::ofstream(dir.path() / "ok.conf") << "port: 4999\nauthorization { token: t }\n";
  auto st =
      RunNode(dir.path(), {"--check-config", "-c", (dir.path() / "ok.conf").string()}, "ok.log");
  EXPECT_TRUE(st.exited && st.code == 0) << st.Describe();
}

TEST(NodeConfigCheck, UnsupportedSettingIsRefusedNamingFileLineAndKey) {
  harness::TestRunDir dir;
  auto conf = dir.path() / "clustered.conf";
  // A cluster block may name the cluster (INFO `cluster`), but routes are refused.
  std::ofstream(conf) << "port: 4999\n\ncluster {\n  name: east\n  routes: "
                         "[nats://127.0.0.1:6222]\n}\n";
  auto st = RunNode(dir.path(), {"-c", conf.string()}, "clustered.log");
  EXPECT_TRUE(st.exited && st.code == 1) << st.Describe();
  std::string log = harness::TailOfFile(dir.path() / "clustered.log", 20);
  EXPECT_NE(log.find(conf.string() + ":5"), std::string::npos) << log;
  EXPECT_NE(log.find("cluster.routes"), std::string::npos) << log;
  EXPECT_NE(log.find("not supported yet"), std::string::npos) << log;
}

}  // namespace
}  // namespace meridian::node_it
