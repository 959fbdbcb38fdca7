#include "js_world.h"

#include <fstream>

#include "harness/binaries.h"
#include "harness/health.h"
#include "harness/ports.h"

namespace meridian::node_js_it {

std::string KindName(ServerKind kind) {
  return kind == ServerKind::kMeridianNode ? "MeridianNode" : "NatsServer";
}

JsServer::JsServer(ServerKind kind, const std::filesystem::path& dir, JsServerOptions options)
    : kind_(kind),
      port_(harness::FreeLoopbackPort()),
      http_port_(harness::FreeLoopbackPort()),
      store_dir_(dir / "store") {
  std::filesystem::create_directories(store_dir_);
  harness::ProcessSpec spec;
  if (kind == ServerKind::kMeridianNode) {
    auto conf = dir / "node.toml";
    std::ofstream f(conf);
    f << "host = \"127.0.0.1\"\nport = " << port_
      << "\nhttp_host = \"127.0.0.1\"\nhttp_port = " << http_port_ << "\n";
    if (!options.cluster_name.empty()) f << "cluster_name = \"" << options.cluster_name << "\"\n";
    f << "[jetstream]\nstore_dir = \"" << store_dir_.string() << "\"\nsync_interval = \""
      << options.sync << "\"\n";
    spec.argv = {harness::OurBinary("meridian-node").string(), "-c", conf.string()};
  } else {
    auto conf = dir / "nats.conf";
    std::ofstream f(conf);
    f << "host: 127.0.0.1\nport: " << port_ << "\nhttp: \"127.0.0.1:" << http_port_
      << "\"\njetstream {\n  store_dir: \"" << store_dir_.string() << "\"\n}\n";
    spec.argv = {harness::NatsServerBinary().string(), "-c", conf.string()};
  }
  spec.log_path = dir / (KindName(kind) + ".log");
  process_ = std::make_unique<harness::Process>(spec);
  harness::WaitForHealthz(*process_, http_port_);
}

JsServer::~JsServer() {
  if (process_) process_->Stop();
}

void JsServer::Restart() {
  process_->Restart();
  harness::WaitForHealthz(*process_, http_port_);
}

void JsServer::Kill() {
  process_->Kill();
}

void JsServer::Start() {
  process_->Restart();  // not running: starts it
  harness::WaitForHealthz(*process_, http_port_);
}

void JsServer::KillAndStart() {
  Kill();
  Start();
}

}  // namespace meridian::node_js_it
