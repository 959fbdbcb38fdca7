// Parser and writer throughput. Target: >= 1 GB/s of small PUBs in a Release build.
#include <benchmark/benchmark.h>

#include <string>

#include "proto/headers.h"
#include "proto/parser.h"
#include "proto/writer.h"

namespace meridian::proto {
namespace {

constexpr size_t kStreamBytes = 256 * 1024;

std::string Repeat(const std::string& op) {
  std::string s;
  while (s.size() + op.size() <= kStreamBytes) s += op;
  return s;
}

const std::string& SmallPubs() {
  static const std::string s = Repeat("PUB foo.bar 16\r\n0123456789abcdef\r\n");
  return s;
}

const std::string& Hpubs1K() {
  static const std::string s = [] {
    HeaderBuilder h;
    h.Add("Nats-Msg-Id", "7f3c2a9e-5b1d-4c8e-9a0f-1e2d3c4b5a69");
    h.Add("Nats-Expected-Stream", "orders");
    const std::string payload(1024 - h.size(), 'x');
    Writer w;
    w.Hpub("orders.east.created", "_INBOX.Xa9b8c7d6e5f4.1", h.block(), payload);
    return Repeat(w.ToString());
  }();
  return s;
}

const std::string& SmallMsgs() {
  static const std::string s = Repeat(
      "MSG orders.east.a 1 $JS.ACK.ORDERS.C1.1.1.1.1795393221580616781.0 16\r\n"
      "0123456789abcdef\r\n");
  return s;
}

// Parses `stream` per iteration, handing it over in reads of `read_size` bytes.
void ParseStream(benchmark::State& state, Direction direction, const std::string& stream,
                 size_t read_size) {
  Parser parser(direction);
  size_t ops = 0;
  size_t payload_bytes = 0;
  for (auto _ : state) {
    for (size_t pos = 0; pos < stream.size(); pos += read_size) {
      parser.Feed(std::string_view(stream).substr(pos, read_size));
      Op op;
      while (parser.Next(op) == Parser::Result::kOp) {
        ++ops;
        payload_bytes += op.payload.size();
      }
      if (parser.failed()) state.SkipWithError("parse error");
    }
  }
  benchmark::DoNotOptimize(payload_bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["ops/s"] =
      benchmark::Counter(static_cast<double>(ops), benchmark::Counter::kIsRate);
}

void BM_ParseSmallPubs(benchmark::State& state) {
  ParseStream(state, Direction::kClientToServer, SmallPubs(), SmallPubs().size());
}
BENCHMARK(BM_ParseSmallPubs);

// Realistic reads: ops straddle read boundaries and go through the parser's buffer.
void BM_ParseSmallPubsIn16KReads(benchmark::State& state) {
  ParseStream(state, Direction::kClientToServer, SmallPubs(), 16 * 1024);
}
BENCHMARK(BM_ParseSmallPubsIn16KReads);

void BM_ParseHpubs1K(benchmark::State& state) {
  ParseStream(state, Direction::kClientToServer, Hpubs1K(), Hpubs1K().size());
}
BENCHMARK(BM_ParseHpubs1K);

void BM_ParseHpubs1KIn16KReads(benchmark::State& state) {
  ParseStream(state, Direction::kClientToServer, Hpubs1K(), 16 * 1024);
}
BENCHMARK(BM_ParseHpubs1KIn16KReads);

void BM_ParseSmallJetStreamMsgs(benchmark::State& state) {
  ParseStream(state, Direction::kServerToClient, SmallMsgs(), SmallMsgs().size());
}
BENCHMARK(BM_ParseSmallJetStreamMsgs);

// The message ops in both payload sizes, read in 64 KiB chunks (ops straddle every chunk
// boundary at some odd point) and in 1447-byte reads (an odd size: most reads end inside an op,
// so this measures the buffered path). Arguments: op (0 PUB, 1 HPUB, 2 MSG, 3 HMSG), payload
// bytes, read size. The ns/op counter is the figure the README quotes.
const std::string& MessageStream(int kind, size_t payload_size) {
  static std::string streams[4][2];
  std::string& s = streams[kind][payload_size > 16 ? 1 : 0];
  if (!s.empty()) return s;
  HeaderBuilder h;
  h.Add("Nats-Msg-Id", "7f3c2a9e-5b1d-4c8e-9a0f-1e2d3c4b5a69");
  const std::string payload(payload_size, 'x');
  Writer w;
  switch (kind) {
    case 0:
      w.Pub("bench.node.pub", "", payload);
      break;
    case 1:
      w.Hpub("bench.node.pub", "", h.block(), payload);
      break;
    case 2:
      w.Msg("orders.east.a", "1", "$JS.ACK.ORDERS.C1.1.1.1.1795393221580616781.0", payload);
      break;
    default:
      w.Hmsg("orders.east.a", "1", "$JS.ACK.ORDERS.C1.1.1.1.1795393221580616781.0", h.block(),
             payload);
      break;
  }
  s = Repeat(w.ToString());
  return s;
}

void BM_ParseMessages(benchmark::State& state) {
  const int kind = static_cast<int>(state.range(0));
  const size_t payload_size = static_cast<size_t>(state.range(1));
  const size_t read_size = static_cast<size_t>(state.range(2));
  const std::string& stream = MessageStream(kind, payload_size);
  static constexpr const char* kNames[] = {"PUB", "HPUB", "MSG", "HMSG"};
  state.SetLabel(std::string(kNames[kind]) + " " + std::to_string(payload_size) + "B reads " +
                 std::to_string(read_size));
  const Direction direction = kind < 2 ? Direction::kClientToServer : Direction::kServerToClient;
  Parser parser(direction);
  size_t ops = 0;
  size_t payload_bytes = 0;
  for (auto _ : state) {
    for (size_t pos = 0; pos < stream.size(); pos += read_size) {
      parser.Feed(std::string_view(stream).substr(pos, read_size));
      Op op;
      while (parser.Next(op) == Parser::Result::kOp) {
        ++ops;
        payload_bytes += op.payload.size();
      }
      if (parser.failed()) state.SkipWithError("parse error");
    }
  }
  benchmark::DoNotOptimize(payload_bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["ns/op"] = benchmark::Counter(
      static_cast<double>(ops) / 1e9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ParseMessages)
    ->ArgsProduct({{0, 1, 2, 3}, {16, 1024}, {64 * 1024, 1447}});

// The same stream through a virtual handler, to show what an interface call per op costs
// compared with the pull loop above (the handler design choice).
struct OpSink {
  virtual ~OpSink() = default;
  virtual void OnOp(const Op& op) = 0;
};
struct CountingSink final : OpSink {
  size_t bytes = 0;
  void OnOp(const Op& op) override { bytes += op.payload.size(); }
};

void BM_ParseSmallPubsVirtualHandler(benchmark::State& state) {
  Parser parser(Direction::kClientToServer);
  CountingSink counting;
  OpSink* sink = &counting;
  benchmark::DoNotOptimize(sink);
  for (auto _ : state) {
    ParseAll(parser, SmallPubs(), [&](const Op& op) { sink->OnOp(op); });
  }
  benchmark::DoNotOptimize(counting.bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * SmallPubs().size()));
}
BENCHMARK(BM_ParseSmallPubsVirtualHandler);

void BM_WriteSmallPubs(benchmark::State& state) {
  Writer w;
  const std::string payload = "0123456789abcdef";
  constexpr int kOps = 1024;
  size_t bytes = 0;
  for (auto _ : state) {
    w.Clear();
    for (int i = 0; i < kOps; ++i) w.Pub("foo.bar", "", payload);
    benchmark::DoNotOptimize(w.Iovecs().data());
    bytes += w.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_WriteSmallPubs);

void BM_HeaderLookup(benchmark::State& state) {
  HeaderBuilder h;
  h.Add("Nats-Msg-Id", "1");
  h.Add("Nats-Expected-Stream", "orders");
  h.Add("Nats-Expected-Last-Sequence", "42");
  for (auto _ : state) {
    HeaderView v;
    HeaderView::Parse(h.block(), &v);
    benchmark::DoNotOptimize(v.Find("Nats-Expected-Last-Sequence"));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * h.size()));
}
BENCHMARK(BM_HeaderLookup);

}  // namespace
}  // namespace meridian::proto

BENCHMARK_MAIN();
