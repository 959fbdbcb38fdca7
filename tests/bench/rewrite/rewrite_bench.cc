// The per-message paths of the rewrite engine: triage of every PUB subject and every
// delivered MSG, and the rewrites of virtual publishes and deliveries.
#include <benchmark/benchmark.h>

#include "rewrite/pending.h"
#include "rewrite/rewriter.h"

using namespace meridian::rewrite;

namespace {

Rewriter MakeRewriter() {
  return Rewriter(std::make_shared<const Topology>(std::vector<VirtualStream>{
                      {"foo", {"foo.>"}, {"east", "central", "west"}},
                      {"orders", {"orders.eu.>"}, {"east", "central", "west"}},
                  }),
                  "west");
}

void BM_ClassifyUntouchedSubject(benchmark::State& state) {
  Rewriter rw = MakeRewriter();
  for (auto _ : state) benchmark::DoNotOptimize(rw.ClassifyOutbound("telemetry.sensor.42"));
}
BENCHMARK(BM_ClassifyUntouchedSubject);

void BM_ClassifyDeliveryReplyInbox(benchmark::State& state) {
  Rewriter rw = MakeRewriter();
  for (auto _ : state) benchmark::DoNotOptimize(rw.IsVirtualDelivery("_INBOX.abcdef.17"));
}
BENCHMARK(BM_ClassifyDeliveryReplyInbox);

void BM_RewritePublish(benchmark::State& state) {
  Rewriter rw = MakeRewriter();
  PublishResult out;
  for (auto _ : state) {
    rw.RewritePublish("foo.orders.created", "", out);
    benchmark::DoNotOptimize(out.subject.data());
  }
}
BENCHMARK(BM_RewritePublish);

void BM_RewritePublishWithMsgId(benchmark::State& state) {
  Rewriter rw = MakeRewriter();
  PublishResult out;
  for (auto _ : state) {
    rw.RewritePublish("foo.orders.created", "NATS/1.0\r\nNats-Msg-Id: 0123456789abcdef\r\n\r\n",
                      out);
    benchmark::DoNotOptimize(out.headers.data());
  }
}
BENCHMARK(BM_RewritePublishWithMsgId);

void BM_RewriteDelivery(benchmark::State& state) {
  Rewriter rw = MakeRewriter();
  DeliveryResult out;
  for (auto _ : state) {
    rw.RewriteDelivery("foo.east.orders.created",
                       "$JS.ACK.foo-read-west.dur.1.2042.2042.1795393222582469645.17", "", out);
    benchmark::DoNotOptimize(out.reply.data());
  }
}
BENCHMARK(BM_RewriteDelivery);

void BM_RewritePubAckReply(benchmark::State& state) {
  Rewriter rw = MakeRewriter();
  ReplyResult out;
  for (auto _ : state) {
    rw.RewriteReply(ReplyPlan{ReplyKind::kPubAck, 0}, "", R"({"stream":"foo-write-west", "seq":1})",
                    out);
    benchmark::DoNotOptimize(out.body.data());
  }
}
BENCHMARK(BM_RewritePubAckReply);

void BM_PendingAddTake(benchmark::State& state) {
  PendingTable t;
  const auto now = PendingTable::TimePoint{};
  for (auto _ : state) {
    t.Add("_INBOX.Xy7GhQ2p9L1k.4711", ReplyPlan{ReplyKind::kPubAck, 0}, now);
    benchmark::DoNotOptimize(t.Take("_INBOX.Xy7GhQ2p9L1k.4711"));
  }
}
BENCHMARK(BM_PendingAddTake);

}  // namespace

BENCHMARK_MAIN();
