// PubAck text (per publish, on the node and through the sidecar) against the general JSON
// path, and the cost of parsing/serializing a full StreamInfo reply.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "jsapi/json.h"

namespace meridian::jsapi {
namespace {

std::string ReadFixture(const std::string& name) {
  const char* root = std::getenv("MERIDIAN_TEST_DATA");
  std::ifstream in(std::string(root ? root : MERIDIAN_SOURCE_DIR "/tests/data") + "/jsapi/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void BM_AppendPubAckText(benchmark::State& state) {
  const PubAck ack{.stream = "foo-write-west", .seq = 123456789};
  std::string out;
  for (auto _ : state) {
    out.clear();
    AppendPubAckText(ack, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_AppendPubAckText);

void BM_ToJsonPubAck(benchmark::State& state) {
  const PubAck ack{.stream = "foo-write-west", .seq = 123456789};
  for (auto _ : state) benchmark::DoNotOptimize(ToJson(ack));
}
BENCHMARK(BM_ToJsonPubAck);

void BM_ScanPubAckText(benchmark::State& state) {
  const std::string body = R"({"stream":"foo-write-west", "seq":123456789})";
  for (auto _ : state) benchmark::DoNotOptimize(ScanPubAckText(body));
}
BENCHMARK(BM_ScanPubAckText);

void BM_ParseApiResponsePubAck(benchmark::State& state) {
  const std::string body = R"({"stream":"foo-write-west", "seq":123456789})";
  for (auto _ : state) benchmark::DoNotOptimize(ParseApiResponse<PubAck>(body));
}
BENCHMARK(BM_ParseApiResponsePubAck);

void BM_ParseStreamInfo(benchmark::State& state) {
  const std::string body = ReadFixture("stream_info_sources_response.json");
  for (auto _ : state) benchmark::DoNotOptimize(ParseApiResponse<StreamInfo>(body));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseStreamInfo);

void BM_RewriteStreamInfo(benchmark::State& state) {
  const std::string body = ReadFixture("stream_info_sources_response.json");
  for (auto _ : state) {
    auto r = ParseApiResponse<StreamInfo>(body);
    r->body().config.name = "foo";
    benchmark::DoNotOptimize(r->ToJson());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_RewriteStreamInfo);

}  // namespace
}  // namespace meridian::jsapi

BENCHMARK_MAIN();
