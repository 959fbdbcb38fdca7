// One JetStream server for a test: meridian-node or the stock nats-server, with JetStream on
// a store directory of its own, restartable on the same ports and store.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "harness/process.h"

namespace meridian::node_js_it {

enum class ServerKind { kMeridianNode, kNatsServer };
std::string KindName(ServerKind kind);

struct JsServerOptions {
  // meridian-node only: "always" (fsync before each PubAck) or a duration ("1s"). nats-server
  // keeps its default (lazy flush every 2 minutes).
  std::string sync = "always";
  // meridian-node only: `cluster_name` (sent in INFO as `cluster`); empty: none.
  std::string cluster_name;
};

class JsServer {
 public:
  JsServer(ServerKind kind, const std::filesystem::path& dir, JsServerOptions options = {});
  ~JsServer();
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  ServerKind kind() const { return kind_; }
  // Where the streams of the global account live.
  std::filesystem::path store_dir() const { return store_dir_; }
  harness::Process& process() { return *process_; }

  void Restart();       // graceful stop, start again, wait until healthy
  void KillAndStart();  // SIGKILL (no shutdown at all), start again, wait until healthy
  void Kill();          // SIGKILL only
  void Start();         // after Kill()

 private:
  ServerKind kind_;
  uint16_t port_;
  uint16_t http_port_;
  std::filesystem::path store_dir_;
  std::unique_ptr<harness::Process> process_;
};

}  // namespace meridian::node_js_it
