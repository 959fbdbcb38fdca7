// Loopback throughput of Connection: a client writes, a server echoes, the client counts.
// Small messages show what write coalescing buys; big chunks show the copy-free path.
#include <benchmark/benchmark.h>

#include <string>

#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"

namespace {

using namespace meridian::net;

struct EchoPair {
  EchoPair() {
    auto l = Listener::Listen(loop, Endpoint::Tcp("127.0.0.1", 0), [this](ConnectionPtr c) {
      Connection* raw = c.get();
      c->SetReadHandler([raw](std::string_view d) {
        raw->Write(d);
        return d.size();
      });
      server = std::move(c);
    });
    if (!l.ok()) return;
    listener = std::move(l.value());
    Connect(loop, listener->endpoint(), {}, [this](Result<ConnectionPtr> r) {
      loop.Stop();
      if (!r.ok()) return;
      client = std::move(r).value();
      client->SetReadHandler([this](std::string_view d) {
        received += d.size();
        if (received >= target) loop.Stop();
        return d.size();
      });
    });
    loop.RunFor(std::chrono::milliseconds(5000));
  }
  ~EchoPair() {
    if (client) client->DetachHandlers();
    if (server) server->DetachHandlers();
  }
  Loop loop;
  std::unique_ptr<Listener> listener;
  ConnectionPtr server;
  ConnectionPtr client;
  size_t received = 0;
  size_t target = 0;
};

// state.range(0): message size; 1000 messages are written per loop iteration batch.
void BM_EchoMessages(benchmark::State& state) {
  EchoPair pair;
  if (!pair.client) {
    state.SkipWithError("could not connect on loopback");
    return;
  }
  std::string msg(static_cast<size_t>(state.range(0)), 'm');
  const int kBatch = 1000;
  for (auto _ : state) {
    pair.target = pair.received + msg.size() * kBatch;
    for (int i = 0; i < kBatch; ++i) pair.client->Write(msg);
    pair.loop.RunFor(std::chrono::milliseconds(10000));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kBatch *
                          static_cast<int64_t>(msg.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
}
BENCHMARK(BM_EchoMessages)->Arg(16)->Arg(128)->Arg(1024);

void BM_EchoBorrowedChunks(benchmark::State& state) {
  EchoPair pair;
  if (!pair.client) {
    state.SkipWithError("could not connect on loopback");
    return;
  }
  std::string chunk(static_cast<size_t>(state.range(0)), 'c');
  std::string_view parts[] = {chunk};
  for (auto _ : state) {
    pair.target = pair.received + chunk.size() * 16;
    for (int i = 0; i < 16; ++i) pair.client->WriteBorrowed(parts);
    pair.loop.RunFor(std::chrono::milliseconds(10000));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 16 *
                          static_cast<int64_t>(chunk.size()));
}
BENCHMARK(BM_EchoBorrowedChunks)->Arg(64 * 1024);

}  // namespace

BENCHMARK_MAIN();
