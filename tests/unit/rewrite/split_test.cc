#include "rewrite/split.h"

#include <gtest/gtest.h>

#include "fixture.h"
#include "rewrite/rewriter.h"

namespace meridian::rewrite {
namespace {

using testing::FooTopology;
using testing::J;

AckTokens Ack(std::string_view consumer, std::uint64_t sseq, std::uint64_t dseq,
              std::uint64_t pending = 0) {
  AckTokens t;
  t.stream = "foo-read-west";
  t.consumer = consumer;
  t.delivered = 1;
  t.stream_seq = sseq;
  t.consumer_seq = dseq;
  t.timestamp = 1795393222582469645;
  t.pending = pending;
  return t;
}

TEST(SplitNames, OriginConsumerNameAppendsTheOrigin) {
  EXPECT_EQ(OriginConsumerName("C1", "east"), "C1__east");
}

TEST(SplitNames, ParsesOriginConsumerNamesOnlyForTheStreamsRegions) {
  auto topology = FooTopology();
  const VirtualStream& foo = topology->streams()[0];
  auto east = ParseOriginConsumer(foo, "C1__east");
  ASSERT_TRUE(east);
  EXPECT_EQ(east->base, "C1");
  EXPECT_EQ(east->origin, 0u);
  auto nested = ParseOriginConsumer(foo, "a__b__west");
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->base, "a__b");
  EXPECT_EQ(nested->origin, 2u);
  EXPECT_FALSE(ParseOriginConsumer(foo, "C1__north"));
  EXPECT_FALSE(ParseOriginConsumer(foo, "__east"));
  EXPECT_FALSE(ParseOriginConsumer(foo, "C1-east"));
}

TEST(SplitAck, ParsesAndFormatsV1AckSubjects) {
  auto t = ParseAckV1("$JS.ACK.foo-read-west.C1__east.2.17.5.1795393222582469645.3");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->stream, "foo-read-west");
  EXPECT_EQ(t->consumer, "C1__east");
  EXPECT_EQ(t->delivered, 2u);
  EXPECT_EQ(t->stream_seq, 17u);
  EXPECT_EQ(t->consumer_seq, 5u);
  EXPECT_EQ(t->pending, 3u);
  std::string out;
  FormatAckV1(*t, out);
  EXPECT_EQ(out, "$JS.ACK.foo-read-west.C1__east.2.17.5.1795393222582469645.3");
}

TEST(SplitAck, RefusesOtherShapes) {
  EXPECT_FALSE(ParseAckV1("$JS.ACK.foo.C.1.2.3.4"));
  EXPECT_FALSE(ParseAckV1("$JS.ACK.foo.C.1.2.3.4.5.6"));
  EXPECT_FALSE(ParseAckV1("$JS.ACK.foo.C.1.x.3.4.5"));
  EXPECT_FALSE(ParseAckV1("$JS.ACK.foo..1.2.3.4.5"));
  EXPECT_FALSE(ParseAckV1("_INBOX.a.b.c.d.e.f.g.h"));
}

TEST(DeliveryRenumber, NumbersDeliveriesFromAllOriginsContiguously) {
  DeliveryRenumber r(3, 16);
  EXPECT_EQ(r.Deliver(0, Ack("C__east", 4, 1)), 1u);
  EXPECT_EQ(r.Deliver(2, Ack("C__west", 5, 1)), 2u);
  EXPECT_EQ(r.Deliver(0, Ack("C__east", 9, 2)), 3u);
  EXPECT_EQ(r.last_client_seq(), 3u);
  EXPECT_EQ(r.last_stream_seq(), 9u);
}

TEST(DeliveryRenumber, MapsAClientSequenceBackToItsOriginDelivery) {
  DeliveryRenumber r(3, 16);
  r.Deliver(0, Ack("C__east", 4, 1));
  r.Deliver(2, Ack("C__west", 5, 7));
  const DeliveryRenumber::Entry* e = r.Find(2);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->origin, 2u);
  EXPECT_EQ(e->origin_seq, 7u);
  EXPECT_EQ(e->stream_seq, 5u);
  EXPECT_EQ(r.Find(3), nullptr);
  EXPECT_EQ(r.Find(0), nullptr);
}

TEST(DeliveryRenumber, ForgetsSequencesOlderThanItsRing) {
  DeliveryRenumber r(1, 16);
  for (std::uint64_t i = 1; i <= 20; ++i) r.Deliver(0, Ack("C__east", i, i));
  EXPECT_EQ(r.Find(4), nullptr);
  ASSERT_NE(r.Find(5), nullptr);
  EXPECT_EQ(r.Find(5)->origin_seq, 5u);
}

TEST(DeliveryRenumber, KeepsNoAckMapForAckNone) {
  DeliveryRenumber r(3, 0);
  EXPECT_EQ(r.Deliver(1, Ack("C__central", 1, 1)), 1u);
  EXPECT_EQ(r.Find(1), nullptr);
  EXPECT_EQ(r.last_client_seq(), 1u);
}

TEST(DeliveryRenumber, PendingIsTheSumOfEachOriginsLatest) {
  DeliveryRenumber r(3, 16);
  r.Deliver(0, Ack("C__east", 1, 1, 5));
  r.Deliver(1, Ack("C__central", 2, 1, 2));
  r.Deliver(0, Ack("C__east", 3, 2, 4));
  EXPECT_EQ(r.pending(), 6u);
}

TEST(DeliveryRenumber, FindsEachOriginsLatestDeliveryForAckAll) {
  DeliveryRenumber r(3, 16);
  r.Deliver(0, Ack("C__east", 1, 1));     // 1
  r.Deliver(1, Ack("C__central", 2, 1));  // 2
  r.Deliver(0, Ack("C__east", 3, 2));     // 3
  r.Deliver(1, Ack("C__central", 4, 2));  // 4
  const DeliveryRenumber::Entry* east = r.LatestAtOrBefore(0, 3);
  ASSERT_NE(east, nullptr);
  EXPECT_EQ(east->origin_seq, 2u);
  const DeliveryRenumber::Entry* central = r.LatestAtOrBefore(1, 3);
  ASSERT_NE(central, nullptr);
  EXPECT_EQ(central->origin_seq, 1u);
  EXPECT_EQ(r.LatestAtOrBefore(2, 4), nullptr);
}

TEST(DeliveryRenumber, RingCapacityCoversEveryOriginsAckPendingWithinTheCap) {
  EXPECT_EQ(RingCapacityFor(1000, 3, 16384), 4096u);
  EXPECT_EQ(RingCapacityFor(1, 1, 16384), 16u);
  EXPECT_EQ(RingCapacityFor(100000, 3, 16384), 16384u);
  EXPECT_EQ(RingCapacityFor(0, 3, 16384), 4096u);  // server default 1000
}

TEST(PullShares, SplitTheBatchWithoutExceedingIt) {
  EXPECT_EQ(PullShares(64, 3, 0), (std::vector<std::uint64_t>{22, 21, 21}));
  EXPECT_EQ(PullShares(64, 3, 2), (std::vector<std::uint64_t>{21, 21, 22}));
  EXPECT_EQ(PullShares(1, 3, 1), (std::vector<std::uint64_t>{0, 1, 0}));
  EXPECT_EQ(PullShares(2, 3, 2), (std::vector<std::uint64_t>{1, 0, 1}));
}

// --- merging ------------------------------------------------------------------------------

std::string OriginInfo(const std::string& region, int delivered, int sseq, int pending,
                       int ack_pending, const std::string& deliver = "") {
  nlohmann::json j = {
      {"type", "io.nats.jetstream.api.v1.consumer_info_response"},
      {"stream_name", "foo-read-west"},
      {"name", "C__" + region},
      {"created", "2026-11-23T00:20:48.357385316Z"},
      {"config",
       {{"durable_name", "C__" + region},
        {"name", "C__" + region},
        {"deliver_policy", "all"},
        {"ack_policy", "explicit"},
        {"filter_subject", "foo." + region + ".test"},
        {"max_ack_pending", 1000}}},
      {"delivered", {{"consumer_seq", delivered}, {"stream_seq", sseq}}},
      {"ack_floor", {{"consumer_seq", delivered - ack_pending}, {"stream_seq", sseq - 1}}},
      {"num_ack_pending", ack_pending},
      {"num_redelivered", 0},
      {"num_waiting", 1},
      {"num_pending", pending}};
  if (!deliver.empty()) j["config"]["deliver_subject"] = deliver;
  return j.dump();
}

std::string NotFound() {
  return R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","error":{"code":404,"err_code":10014,"description":"consumer not found"}})";
}

TEST(SplitMerge, MergedInfoShowsTheClientsConsumerWithSummedCounts) {
  auto topology = FooTopology();
  std::vector<FanOutPart> parts = {{true, "", NotFound()},
                                   {true, "", OriginInfo("east", 2, 10, 1, 1)},
                                   {true, "", OriginInfo("central", 3, 12, 0, 0)},
                                   {true, "", OriginInfo("west", 0, 0, 4, 0)}};
  auto r = MergeSplitReplies({SplitOp::kInfo, &topology->streams()[0], "C", "", "", parts});
  ASSERT_TRUE(r.split_exists);
  EXPECT_FALSE(r.raw);
  auto j = J(r.body);
  EXPECT_EQ(j["stream_name"], "foo");
  EXPECT_EQ(j["name"], "C");
  EXPECT_EQ(j["config"]["durable_name"], "C");
  EXPECT_EQ(j["config"]["name"], "C");
  EXPECT_EQ(j["config"]["filter_subject"], "foo.test");
  EXPECT_EQ(j["delivered"]["consumer_seq"], 5);
  EXPECT_EQ(j["delivered"]["stream_seq"], 12);
  EXPECT_EQ(j["num_pending"], 5);
  EXPECT_EQ(j["num_ack_pending"], 1);
  EXPECT_EQ(j["num_waiting"], 1);
  EXPECT_TRUE(r.durable);
  EXPECT_FALSE(r.ack_all);
  EXPECT_EQ(r.max_ack_pending, 1000u);
}

TEST(SplitMerge, CreateReplyNamesTheClientsFilterAndDeliverSubject) {
  auto topology = FooTopology();
  std::vector<FanOutPart> parts = {
      {true, "", OriginInfo("east", 0, 0, 1, 0, "_MRDN.1.s.d.C.east")},
      {true, "", OriginInfo("central", 0, 0, 1, 0, "_MRDN.1.s.d.C.central")},
      {true, "", OriginInfo("west", 0, 0, 1, 0, "_MRDN.1.s.d.C.west")}};
  auto r = MergeSplitReplies(
      {SplitOp::kCreate, &topology->streams()[0], "C", "foo.test", "_INBOX.me", parts});
  ASSERT_TRUE(r.split_exists);
  auto j = J(r.body);
  EXPECT_EQ(j["config"]["filter_subject"], "foo.test");
  EXPECT_EQ(j["config"]["deliver_subject"], "_INBOX.me");
  EXPECT_EQ(j["num_pending"], 3);
  EXPECT_TRUE(r.push);
}

TEST(SplitMerge, CreateFailsWithTheFirstOriginErrorInOriginOrder) {
  auto topology = FooTopology();
  const std::string err1 =
      R"({"type":"io.nats.jetstream.api.v1.consumer_create_response","error":{"code":400,"err_code":10012,"description":"first"}})";
  const std::string err2 =
      R"({"type":"io.nats.jetstream.api.v1.consumer_create_response","error":{"code":400,"err_code":10012,"description":"second"}})";
  std::vector<FanOutPart> parts = {
      {true, "", OriginInfo("east", 0, 0, 1, 0)}, {true, "", err1}, {true, "", err2}};
  auto r =
      MergeSplitReplies({SplitOp::kCreate, &topology->streams()[0], "C", "foo.test", "", parts});
  EXPECT_FALSE(r.split_exists);
  EXPECT_TRUE(r.raw);
  EXPECT_EQ(r.body, err1);
}

TEST(SplitMerge, AnOriginThatNeverAnsweredIsReportedAsATimeout) {
  auto topology = FooTopology();
  std::vector<FanOutPart> parts = {{true, "", OriginInfo("east", 0, 0, 1, 0)},
                                   {false, "", ""},
                                   {true, "", OriginInfo("west", 0, 0, 1, 0)}};
  auto r =
      MergeSplitReplies({SplitOp::kCreate, &topology->streams()[0], "C", "foo.test", "", parts});
  EXPECT_FALSE(r.split_exists);
  EXPECT_FALSE(r.raw);
  EXPECT_EQ(J(r.body)["error"]["code"], 408);
}

TEST(SplitMerge, InfoOfAnUnsplitConsumerIsItsOwnReply) {
  auto topology = FooTopology();
  const std::string plain =
      R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"foo-read-west","name":"C"})";
  std::vector<FanOutPart> parts = {
      {true, "", plain}, {true, "", NotFound()}, {true, "", NotFound()}, {true, "", NotFound()}};
  auto r = MergeSplitReplies({SplitOp::kInfo, &topology->streams()[0], "C", "", "", parts});
  EXPECT_TRUE(r.raw);
  EXPECT_FALSE(r.split_exists);
  EXPECT_EQ(r.body, plain);
}

TEST(SplitMerge, InfoOfAnUnknownNameIsTheUnsplitNamesError) {
  auto topology = FooTopology();
  std::vector<FanOutPart> parts = {{true, "", NotFound()},
                                   {true, "", NotFound()},
                                   {true, "", NotFound()},
                                   {true, "", NotFound()}};
  auto r = MergeSplitReplies({SplitOp::kInfo, &topology->streams()[0], "C", "", "", parts});
  EXPECT_TRUE(r.raw);
  EXPECT_EQ(J(r.body)["error"]["err_code"], 10014);
}

TEST(SplitMerge, DeleteSucceedsWhenEveryOriginConsumerWasDeleted) {
  auto topology = FooTopology();
  const std::string ok =
      R"({"type":"io.nats.jetstream.api.v1.consumer_delete_response","success":true})";
  std::vector<FanOutPart> parts = {
      {true, "", NotFound()}, {true, "", ok}, {true, "", ok}, {true, "", ok}};
  auto r = MergeSplitReplies({SplitOp::kDelete, &topology->streams()[0], "C", "", "", parts});
  EXPECT_FALSE(r.raw);
  EXPECT_EQ(J(r.body)["success"], true);
}

TEST(SplitFold, ConsumerNamesShowASplitConsumerOnceUnderTheClientsName) {
  Rewriter rw(FooTopology(), "west");
  rw.set_filter_style(FilterStyle::kPerOriginConsumers);
  ReplyResult out;
  const std::string body =
      R"({"type":"io.nats.jetstream.api.v1.consumer_names_response","total":5,"offset":0,"limit":1024,"consumers":["C__central","C__east","C__west","plain","x__east"]})";
  ASSERT_EQ(rw.RewriteReply(ReplyPlan{ReplyKind::kConsumerNames, 0}, "", body, out),
            ReplyAction::kRewritten);
  auto j = J(out.body);
  EXPECT_EQ(j["consumers"], J(R"(["C","plain","x__east"])"));
  EXPECT_EQ(j["total"], 3);
}

TEST(SplitFold, ConsumerListShowsOneMergedEntryForASplitConsumer) {
  Rewriter rw(FooTopology(), "west");
  rw.set_filter_style(FilterStyle::kPerOriginConsumers);
  nlohmann::json list = {{"type", "io.nats.jetstream.api.v1.consumer_list_response"},
                         {"total", 3},
                         {"offset", 0},
                         {"limit", 256},
                         {"consumers", nlohmann::json::array()}};
  for (const char* r : {"east", "central", "west"}) {
    auto e = J(OriginInfo(r, 1, 3, 1, 0));
    e.erase("type");
    list["consumers"].push_back(e);
  }
  ReplyResult out;
  ASSERT_EQ(rw.RewriteReply(ReplyPlan{ReplyKind::kConsumerList, 0}, "", list.dump(), out),
            ReplyAction::kRewritten);
  auto j = J(out.body);
  ASSERT_EQ(j["consumers"].size(), 1u) << out.body;
  EXPECT_EQ(j["consumers"][0]["name"], "C");
  EXPECT_EQ(j["consumers"][0]["stream_name"], "foo");
  EXPECT_EQ(j["consumers"][0]["config"]["filter_subject"], "foo.test");
  EXPECT_EQ(j["consumers"][0]["num_pending"], 3);
  EXPECT_EQ(j["total"], 1);
}

}  // namespace
}  // namespace meridian::rewrite
