// The servers the JetStream benchmarks compare, started the same way: meridian-node with
// fsync "always" or a 2 min sync interval, or the stock nats-server with -js; each with its
// own store folder and log in the run dir, on free loopback ports, returned once healthy.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "harness/binaries.h"
#include "harness/health.h"
#include "harness/ports.h"
#include "harness/process.h"
#include "harness/run_dir.h"

namespace meridian::bench {

// Throws with libnats' text unless `s` is NATS_OK.
inline void Check(natsStatus s, const std::string& what) {
  if (s != NATS_OK) {
    throw std::runtime_error(what + ": " + natsStatus_GetText(s) + " " +
                             nats_GetLastError(nullptr));
  }
}

// A raw $JS.API request; the reply text (throws on a reply carrying "error").
inline std::string Request(natsConnection* nc, const std::string& subject,
                           const std::string& body) {
  natsMsg* reply = nullptr;
  Check(natsConnection_Request(&reply, nc, subject.c_str(), body.data(),
                               static_cast<int>(body.size()), 30000),
        "request " + subject);
  std::string out(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  if (out.find("\"error\"") != std::string::npos) throw std::runtime_error(subject + ": " + out);
  return out;
}

// The kinds in the order the benchmarks print them.
inline constexpr const char* kServerKinds[] = {"always", "interval", "nats-server"};

// "node always", "node interval", "nats-server".
inline std::string ServerLabel(const std::string& kind) {
  return kind == "nats-server" ? kind : "node " + kind;
}

// Starts the server of `kind`; `*port` receives its client port.
inline std::unique_ptr<harness::Process> StartJetStreamServer(const harness::RunDir& dir,
                                                              const std::string& kind,
                                                              uint16_t* port) {
  *port = harness::FreeLoopbackPort();
  const uint16_t http = harness::FreeLoopbackPort();
  const std::filesystem::path store = dir / ("store-" + kind);
  std::filesystem::create_directories(store);
  harness::ProcessSpec spec;
  if (kind != "nats-server") {
    auto conf = dir / ("node-" + kind + ".toml");
    std::ofstream(conf) << "host = \"127.0.0.1\"\nport = " << *port
                        << "\nhttp_host = \"127.0.0.1\"\nhttp_port = " << http
                        << "\n[jetstream]\nstore_dir = \"" << store.string()
                        << "\"\nsync_interval = \"" << (kind == "always" ? "always" : "2m")
                        << "\"\n";
    spec.argv = {harness::OurBinary("meridian-node").string(), "-c", conf.string()};
  } else {
    spec.argv = {harness::NatsServerBinary().string(), "-a", "127.0.0.1", "-p",
                 std::to_string(*port), "-m", std::to_string(http), "-js", "-sd",
                 store.string()};
  }
  spec.log_path = dir / ("server-" + kind + ".log");
  auto p = std::make_unique<harness::Process>(spec);
  harness::WaitForHealthz(*p, http);
  return p;
}

}  // namespace meridian::bench
