#include "node_world.h"

#include <fstream>

#include "harness/binaries.h"
#include "harness/health.h"
#include "harness/ports.h"

namespace meridian::node_it {

namespace {

void OnAsyncError(natsConnection* nc, natsSubscription*, natsStatus, void* closure) {
  auto* log = static_cast<ErrorLog*>(closure);
  const char* text = nullptr;
  natsConnection_GetLastError(nc, &text);
  std::lock_guard<std::mutex> lock(log->mu);
  log->last = text ? text : "";
}

}  // namespace

natsStatus ConnectTo(const std::string& url, const char* user, const char* pass, harness::Nc& out,
                     ErrorLog* errors, int64_t timeout_ms) {
  natsOptions* opts = nullptr;
  natsOptions_Create(&opts);
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetAllowReconnect(opts, false);
  natsOptions_SetTimeout(opts, timeout_ms);
  if (user) natsOptions_SetUserInfo(opts, user, pass);
  if (errors) natsOptions_SetErrorHandler(opts, OnAsyncError, errors);
  natsConnection* nc = nullptr;
  natsStatus s = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  out.reset(nc);
  return s;
}

std::string KindName(ServerKind kind) {
  switch (kind) {
    case ServerKind::kMeridianNode:
      return "MeridianNode";
    case ServerKind::kNatsServer:
      return "NatsServer";
    case ServerKind::kMeridianNodeNatsConf:
      return "MeridianNodeWithNatsConf";
  }
  return "?";
}

namespace {
std::string Binary(ServerKind kind) {
  return kind == ServerKind::kNatsServer ? harness::NatsServerBinary().string()
                                         : harness::OurBinary("meridian-node").string();
}
}  // namespace

TestServer::TestServer(ServerKind kind, const std::filesystem::path& dir, bool with_auth)
    : port_(harness::FreeLoopbackPort()), http_port_(harness::FreeLoopbackPort()) {
  std::filesystem::create_directories(dir);
  harness::ProcessSpec spec;
  std::filesystem::path conf;
  if (kind == ServerKind::kMeridianNode) {
    conf = dir / "node.toml";
    std::ofstream f(conf);
    f << "host = \"127.0.0.1\"\nport = " << port_
      << "\nhttp_host = \"127.0.0.1\"\nhttp_port = " << http_port_ << "\n";
    if (with_auth) {
      f << "[[users]]\nuser = \"app\"\npassword = \"app\"\n"
        << "[[users]]\nuser = \"limited\"\npassword = \"limited\"\n"
        << "publish_allow = [\"allowed.>\"]\nsubscribe_deny = [\"secret.>\"]\n";
    }
    spec.argv = {harness::OurBinary("meridian-node").string(), "-c", conf.string()};
  } else {
    // The stock server and kMeridianNodeNatsConf read the same file.
    conf = dir / "nats.conf";
    std::ofstream f(conf);
    f << "host: 127.0.0.1\nport: " << port_ << "\nhttp: \"127.0.0.1:" << http_port_ << "\"\n";
    if (with_auth) {
      f << "authorization { users = [\n  {user: app, password: app}\n"
        << "  {user: limited, password: limited, permissions: {publish: {allow: [\"allowed.>\"]},"
        << " subscribe: {deny: [\"secret.>\"]}}}\n]}\n";
    }
    spec.argv = {Binary(kind), "-c", conf.string()};
  }
  spec.log_path = dir / (KindName(kind) + ".log");
  process_ = std::make_unique<harness::Process>(spec);
  harness::WaitForHealthz(*process_, http_port_);
}

TestServer::TestServer(ServerKind kind, const std::filesystem::path& dir, uint16_t port,
                       uint16_t http_port, std::vector<std::string> args)
    : port_(port), http_port_(http_port) {
  std::filesystem::create_directories(dir);
  harness::ProcessSpec spec;
  spec.argv = {Binary(kind)};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.log_path = dir / (KindName(kind) + ".log");
  process_ = std::make_unique<harness::Process>(spec);
  harness::WaitForHealthz(*process_, http_port_);
}

TestServer::~TestServer() {
  if (process_) process_->Stop();
}

}  // namespace meridian::node_it
