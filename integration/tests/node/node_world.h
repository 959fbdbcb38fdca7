// One NATS server for a test: meridian-node or the stock nats-server, started with the same
// users and permissions written in each one's config format.
#pragma once
#include <nats/nats.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "harness/libnats_ptr.h"
#include "harness/process.h"

namespace meridian::node_it {

// kMeridianNodeNatsConf: meridian-node reading the very nats.conf the stock server gets.
enum class ServerKind { kMeridianNode, kNatsServer, kMeridianNodeNatsConf };
std::string KindName(ServerKind kind);

// Users: app/app (everything), limited/limited (publish only to allowed.>, may not subscribe
// to secret.>).
class TestServer {
 public:
  TestServer(ServerKind kind, const std::filesystem::path& dir, bool with_auth);
  // The program of `kind` (meridian-node for both meridian kinds) started with `args`
  // (config file or flags) that make it listen on `port` and serve monitoring on `http_port`.
  TestServer(ServerKind kind, const std::filesystem::path& dir, uint16_t port, uint16_t http_port,
             std::vector<std::string> args);
  ~TestServer();
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  uint16_t http_port() const { return http_port_; }
  harness::Process& process() { return *process_; }

 private:
  uint16_t port_;
  uint16_t http_port_;
  std::unique_ptr<harness::Process> process_;
};

// The last asynchronous error text a libnats connection reported (-ERR from the server).
struct ErrorLog {
  std::mutex mu;
  std::string last;
};

// libnats connection to `url` without reconnects, with user/password when `user` is given and
// its asynchronous errors kept in `errors` when given. The status of the connect.
natsStatus ConnectTo(const std::string& url, const char* user, const char* pass, harness::Nc& out,
                     ErrorLog* errors = nullptr, int64_t timeout_ms = 5000);

}  // namespace meridian::node_it
