// Arbitrary subjects, header blocks and JSON bodies through every entry point of the
// rewrite engine: nothing may crash, hang or read out of bounds, and a client ack must
// survive the delivery -> ack round trip.
//
// Input: fields separated by '\x1f': subject, reply, header block, body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "rewrite/fanout.h"
#include "rewrite/pending.h"
#include "rewrite/rewriter.h"
#include "rewrite/split.h"
#include "rewrite/split_consumers.h"
#include "rewrite/subjects.h"

using namespace meridian::rewrite;

namespace {

// Split consumers: everything they send is dropped; the client listens everywhere.
class NullSink : public SplitSink {
 public:
  void ToUpstream(std::string_view, std::string_view, std::string_view, std::string_view) override {
  }
  void SubscribeUpstream(std::string_view, std::string_view, std::string_view) override {}
  void UnsubscribeUpstream(std::string_view) override {}
  bool ToClient(std::string_view, std::string_view, std::string_view, std::string_view,
                std::string_view) override {
    return true;
  }
};

Rewriter& SplitEngine() {
  static Rewriter rw(std::make_shared<const Topology>(std::vector<VirtualStream>{
                         {"foo", {"foo.>"}, {"east", "central", "west"}},
                     }),
                     "west");
  rw.set_filter_style(FilterStyle::kPerOriginConsumers);
  return rw;
}

Rewriter& Engine() {
  static Rewriter rw(std::make_shared<const Topology>(std::vector<VirtualStream>{
                         {"foo", {"foo.>"}, {"east", "central", "west"}},
                         {"orders", {"orders.eu.>"}, {"east", "west"}},
                     }),
                     "west");
  return rw;
}

std::vector<std::string_view> Fields(std::string_view in) {
  std::vector<std::string_view> out;
  while (out.size() < 3) {
    std::size_t sep = in.find('\x1f');
    if (sep == std::string_view::npos) break;
    out.push_back(in.substr(0, sep));
    in.remove_prefix(sep + 1);
  }
  out.push_back(in);
  while (out.size() < 4) out.emplace_back();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto f = Fields(in);
  std::string_view subject = f[0], reply = f[1], headers = f[2], body = f[3];
  Rewriter& rw = Engine();
  rw.set_filter_style(size % 2 ? FilterStyle::kPerRegionList : FilterStyle::kRegionWildcard);

  PublishResult pub;
  ApiResult api;
  DeliveryResult delivery;
  ReplyResult rep;
  std::string ack;

  switch (rw.ClassifyOutbound(subject)) {
    case Outbound::kVirtualPublish:
      rw.RewritePublish(subject, headers, pub);
      break;
    case Outbound::kApiRequest:
      rw.RewriteApiRequest(subject, body, api);
      break;
    case Outbound::kAck:
      if (!rw.RewriteClientAck(subject, ack)) std::abort();
      break;
    case Outbound::kPassThrough:
      break;
  }
  rw.RewriteApiRequest(subject, body, api);

  if (rw.IsVirtualDelivery(reply)) {
    if (!rw.RewriteDelivery(subject, reply, headers, delivery)) std::abort();
    // The client acks what it was given; for this region's read stream the server must
    // get its own subject back.
    auto span = AckStreamToken(reply);
    if (!span) std::abort();
    if (reply.substr(span->pos, span->len) == "foo-read-west" &&
        (!rw.RewriteClientAck(delivery.reply, ack) || ack != reply)) {
      std::abort();
    }
  }

  for (ReplyKind kind : {ReplyKind::kPubAck, ReplyKind::kStreamInfo, ReplyKind::kStreamInfoAsList,
                         ReplyKind::kStreamNames, ReplyKind::kStreamList, ReplyKind::kConsumerInfo,
                         ReplyKind::kConsumerList, ReplyKind::kApiGeneric, ReplyKind::kMsgGet,
                         ReplyKind::kDirectGet, ReplyKind::kConsumerNames}) {
    rw.RewriteReply(ReplyPlan{kind, 0}, headers, body, rep);
    rw.RewriteReply(ReplyPlan{kind, kNoStream}, headers, body, rep);
  }

  std::vector<FanOutPart> parts = {{true, std::string(headers), std::string(body)},
                                   {true, std::string(reply), std::string(subject)}};
  ChooseNewest(ReplyKind::kDirectGet, parts);
  ChooseNewest(ReplyKind::kMsgGet, parts);
  ParseRfc3339Nanos(body);

  // Split consumers: the input as a client request, an ack and upstream messages on every
  // kind of split sid; a create and a pull first so there is state to hit.
  static NullSink sink;
  static SplitConsumers split(SplitEngine(), sink, [] {
    SplitOptions o{"_MRDN.1.s.", "_MRDN_S", "1", 4, 4, 4, 256};
    o.registry = &SplitEngine().split_registry();  // deliver-subject binds and refreshes too
    return o;
  }());
  const auto t = SplitConsumers::TimePoint{} + std::chrono::milliseconds(size);
  split.OnClientRequest(
      "$JS.API.CONSUMER.CREATE.foo.C.foo.test", "_INBOX.c",
      R"({"stream_name":"foo","config":{"durable_name":"C","filter_subject":"foo.test"}})", t);
  split.OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.C", "_INBOX.p", body, t);
  split.OnClientRequest(subject, reply, body, t);
  split.OnClientAck(subject, reply, body, t);
  split.OnClientSubscribe(subject, reply, t);
  split.OnClientSubscribe("_MRDN.D.foo-read-west.C", "", t);
  if (size % 2 == 0) SplitEngine().split_registry().Add(subject, 0, "C");
  split.OnClientSubscribe(subject, "", t + std::chrono::seconds(size % 40));
  if (size % 3 == 0) split.OnClientUnsubscribe(subject);
  for (std::string_view sid :
       {"_MRDN_SR", "_MRDN_SP0", "_MRDN_SP1", "_MRDN_SD1_0", "_MRDN_SD1_2"}) {
    split.OnUpstreamMessage(sid, subject, reply, headers, body, t);
  }
  if (size % 5 == 0) split.Tick(t + std::chrono::seconds(30));
  if (size % 11 == 0) split.OnUpstreamRestored();
  ParseAckV1(subject);
  std::vector<FanOutPart> split_parts = {{true, "", std::string(body)},
                                         {true, "", std::string(subject)},
                                         {size % 2 == 0, "", std::string(body)},
                                         {true, "", std::string(reply)}};
  MergeSplitReplies(
      {SplitOp::kInfo, &SplitEngine().topology().streams()[0], "C", "", "", split_parts});

  static PendingTable pending({.capacity = 64, .timeout = std::chrono::seconds(1)});
  const auto now = PendingTable::TimePoint{} + std::chrono::milliseconds(size);
  pending.Add(subject, ReplyPlan{ReplyKind::kPubAck, 0}, now);
  pending.Take(reply);
  if (size % 7 == 0) pending.Expire(now, [](std::string_view, const ReplyPlan&) {});
  return 0;
}
