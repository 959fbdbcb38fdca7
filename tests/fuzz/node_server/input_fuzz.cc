// Fuzzes the server's client input path end to end: one in-process Server (with a user that
// has permissions, an account mapping, small limits) and a watching subscriber; each input is
// written by a fresh client connection, split in two writes at a point the input chooses.
// The server must survive, and the watcher must stay connected (garbage closes only the
// offender).
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"
#include "server/server.h"

namespace {

using namespace meridian;
using namespace std::chrono_literals;

struct World {
  net::Loop loop;
  std::unique_ptr<server::Server> srv;
  net::ConnectionPtr watcher;
  bool watcher_closed = false;

  World() {
    server::Options o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.max_payload = 4096;
    o.max_control_line = 512;
    o.max_subscriptions = 64;
    o.max_pending = 1 << 20;
    server::AccountConfig g{server::kGlobalAccount, {}};
    g.mappings.push_back({"m.*", {{"n.{{wildcard(1)}}", 50, ""}, {"o.{{wildcard(1)}}", 50, ""}}});
    o.accounts.push_back(g);
    srv = std::make_unique<server::Server>(loop, o);
    if (!srv->Start().ok()) std::abort();
    watcher = Open();
    watcher->SetCloseHandler([this](const net::CloseInfo&) { watcher_closed = true; });
    watcher->Write("CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB > 1\r\nSUB a q 2\r\n");
  }

  net::ConnectionPtr Open() {
    net::ConnectionPtr c;
    bool done = false;
    net::Connect(loop, net::Endpoint::Tcp("127.0.0.1", srv->port()), {}, [&](auto r) {
      done = true;
      if (r.ok()) c = r.value();
    });
    while (!done) loop.RunFor(1ms);
    if (!c) std::abort();
    c->SetReadHandler([](std::string_view d) { return d.size(); });
    return c;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t split = size == 0 ? 0 : data[0] % size;
  auto c = world->Open();
  bool closed = false;
  c->SetCloseHandler([&](const net::CloseInfo&) { closed = true; });
  c->Write(input.substr(0, split));
  world->loop.RunFor(1ms);
  c->Write(input.substr(split));
  for (int i = 0; i < 5 && !closed; ++i) world->loop.RunFor(1ms);
  c->DetachHandlers();
  c->Abort();
  world->loop.RunFor(1ms);
  if (world->watcher_closed) std::abort();  // another client's input closed the watcher
  return 0;
}
