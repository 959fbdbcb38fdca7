#include "rewrite/split_consumers.h"

#include <gtest/gtest.h>

#include <set>

#include "fixture.h"

namespace meridian::rewrite {
namespace {

using namespace std::chrono_literals;
using testing::FooTopology;
using testing::J;
using TimePoint = SplitConsumers::TimePoint;

struct Sent {
  std::string route, subject, reply, headers, body;
};

class RecordingSink : public SplitSink {
 public:
  void ToUpstream(std::string_view subject, std::string_view reply, std::string_view headers,
                  std::string_view body) override {
    up.push_back(
        {"", std::string(subject), std::string(reply), std::string(headers), std::string(body)});
  }
  void SubscribeUpstream(std::string_view subject, std::string_view queue,
                         std::string_view sid) override {
    subs.push_back(std::string(sid) + " " + std::string(subject) +
                   (queue.empty() ? "" : " " + std::string(queue)));
  }
  void UnsubscribeUpstream(std::string_view sid) override { unsubs.push_back(std::string(sid)); }
  void Warn(std::string_view line) override { warnings.push_back(std::string(line)); }
  bool ToClient(std::string_view route, std::string_view subject, std::string_view reply,
                std::string_view headers, std::string_view body) override {
    if (!listening.count(std::string(route))) return false;
    down.push_back({std::string(route), std::string(subject), std::string(reply),
                    std::string(headers), std::string(body)});
    return true;
  }
  std::vector<Sent> up, down;
  std::vector<std::string> subs, unsubs, warnings;
  std::set<std::string> listening = {"_INBOX.c", "_INBOX.p1", "_INBOX.p2", "_INBOX.push"};
};

class SplitConsumersTest : public ::testing::Test {
 protected:
  SplitConsumersTest() : rewriter_(FooTopology(), "west") {
    rewriter_.set_filter_style(FilterStyle::kPerOriginConsumers);
    SplitOptions o;
    o.inbox = "_MRDN.7.s.";
    o.sid_prefix = "_MRDN_S";
    o.name_seed = "7";
    split_ = std::make_unique<SplitConsumers>(rewriter_, sink_, o);
  }

  std::string OriginReply(const std::string& region, bool push = false) {
    nlohmann::json j = {{"type", "io.nats.jetstream.api.v1.consumer_create_response"},
                        {"stream_name", "foo-read-west"},
                        {"name", "C__" + region},
                        {"config",
                         {{"durable_name", "C__" + region},
                          {"ack_policy", "explicit"},
                          {"filter_subject", "foo." + region + ".test"},
                          {"max_ack_pending", 1000}}},
                        {"delivered", {{"consumer_seq", 0}, {"stream_seq", 0}}},
                        {"ack_floor", {{"consumer_seq", 0}, {"stream_seq", 0}}},
                        {"num_ack_pending", 0},
                        {"num_pending", 1}};
    if (push) j["config"]["deliver_subject"] = "_MRDN.D.foo-read-west.C." + region;
    return j.dump();
  }

  // Creates durable C filtered on foo.test and answers every origin's create.
  void CreateC(bool push = false) {
    nlohmann::json config = {
        {"durable_name", "C"}, {"ack_policy", "explicit"}, {"filter_subject", "foo.test"}};
    if (push) config["deliver_subject"] = "_INBOX.push";
    nlohmann::json body = {{"stream_name", "foo"}, {"config", config}};
    ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.CREATE.foo.C.foo.test", "_INBOX.c",
                                        body.dump(), now_));
    ASSERT_EQ(sink_.up.size(), 3u);
    const std::vector<std::string> regions = {"east", "central", "west"};
    for (std::size_t i = 0; i < 3; ++i) {
      split_->OnUpstreamMessage("_MRDN_SR", sink_.up[i].reply, "", "",
                                OriginReply(regions[i], push), now_);
    }
    sink_.up.clear();
    sink_.down.clear();
  }

  // A delivery from origin consumer C__<region> on the given sid.
  void DeliverFrom(const std::string& sid, const std::string& region, int sseq, int dseq,
                   int pending = 0) {
    split_->OnUpstreamMessage(sid, "foo." + region + ".test",
                              "$JS.ACK.foo-read-west.C__" + region + ".1." + std::to_string(sseq) +
                                  "." + std::to_string(dseq) + ".1795393222582469645." +
                                  std::to_string(pending),
                              "", "m" + std::to_string(sseq), now_);
  }
  void StatusOn(const std::string& sid, const std::string& subject, const std::string& headers) {
    split_->OnUpstreamMessage(sid, subject, "", headers, "", now_);
  }

  Rewriter rewriter_;
  RecordingSink sink_;
  std::unique_ptr<SplitConsumers> split_;
  TimePoint now_ = TimePoint{} + 1000s;
};

TEST_F(SplitConsumersTest, CreatesOneConsumerPerOriginWithItsOwnFilter) {
  nlohmann::json body = {
      {"stream_name", "foo"},
      {"config",
       {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"filter_subject", "foo.test"}}}};
  ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.CREATE.foo.C.foo.test", "_INBOX.c",
                                      body.dump(), now_));
  ASSERT_EQ(sink_.up.size(), 3u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.API.CONSUMER.CREATE.foo-read-west.C__east");
  EXPECT_EQ(sink_.up[2].subject, "$JS.API.CONSUMER.CREATE.foo-read-west.C__west");
  auto east = J(sink_.up[0].body);
  EXPECT_EQ(east["stream_name"], "foo-read-west");
  EXPECT_EQ(east["config"]["filter_subject"], "foo.east.test");
  EXPECT_EQ(east["config"]["durable_name"], "C__east");
  EXPECT_EQ(east["config"]["ack_policy"], "explicit");
  EXPECT_EQ(sink_.subs.front(), "_MRDN_SR _MRDN.7.s.r.*.*");
}

TEST_F(SplitConsumersTest, AnswersTheCreateOnceEveryOriginAnswered) {
  CreateC();
  // CreateC cleared the sink after the answers; do it again to see the answer.
  nlohmann::json body = {
      {"stream_name", "foo"},
      {"config",
       {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"filter_subject", "foo.test"}}}};
  split_->OnClientRequest("$JS.API.CONSUMER.DURABLE.CREATE.foo.C", "_INBOX.c", body.dump(), now_);
  EXPECT_EQ(sink_.up[0].subject, "$JS.API.CONSUMER.DURABLE.CREATE.foo-read-west.C__east");
  split_->OnUpstreamMessage("_MRDN_SR", sink_.up[0].reply, "", "", OriginReply("east"), now_);
  split_->OnUpstreamMessage("_MRDN_SR", sink_.up[1].reply, "", "", OriginReply("central"), now_);
  EXPECT_TRUE(sink_.down.empty());
  split_->OnUpstreamMessage("_MRDN_SR", sink_.up[2].reply, "", "", OriginReply("west"), now_);
  ASSERT_EQ(sink_.down.size(), 1u);
  auto j = J(sink_.down[0].body);
  EXPECT_EQ(j["name"], "C");
  EXPECT_EQ(j["stream_name"], "foo");
  EXPECT_EQ(j["config"]["filter_subject"], "foo.test");
  EXPECT_EQ(j["num_pending"], 3);
}

TEST_F(SplitConsumersTest, LeavesFiltersTheServerAcceptsOnTheirPath) {
  nlohmann::json wide = {{"stream_name", "foo"},
                         {"config", {{"durable_name", "W"}, {"filter_subject", "foo.>"}}}};
  EXPECT_FALSE(split_->OnClientRequest("$JS.API.CONSUMER.CREATE.foo.W.foo.>", "_INBOX.c",
                                       wide.dump(), now_));
  nlohmann::json none = {{"stream_name", "foo"}, {"config", {{"durable_name", "U"}}}};
  EXPECT_FALSE(
      split_->OnClientRequest("$JS.API.CONSUMER.CREATE.foo.U", "_INBOX.c", none.dump(), now_));
  EXPECT_FALSE(split_->OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.U", "_INBOX.p1", "1", now_));
  EXPECT_TRUE(sink_.up.empty());
}

TEST_F(SplitConsumersTest, DoesNothingUnderOtherFilterStyles) {
  rewriter_.set_filter_style(FilterStyle::kPerRegionList);
  nlohmann::json body = {{"stream_name", "foo"},
                         {"config", {{"durable_name", "C"}, {"filter_subject", "foo.test"}}}};
  EXPECT_FALSE(split_->OnClientRequest("$JS.API.CONSUMER.CREATE.foo.C.foo.test", "_INBOX.c",
                                       body.dump(), now_));
}

TEST_F(SplitConsumersTest, NamesALegacyEphemeralItself) {
  nlohmann::json body = {{"stream_name", "foo"}, {"config", {{"filter_subject", "foo.test"}}}};
  ASSERT_TRUE(
      split_->OnClientRequest("$JS.API.CONSUMER.CREATE.foo", "_INBOX.c", body.dump(), now_));
  EXPECT_EQ(sink_.up[1].subject, "$JS.API.CONSUMER.CREATE.foo-read-west.mrdn7x1__central");
  EXPECT_EQ(J(sink_.up[1].body)["config"]["name"], "mrdn7x1__central");
  EXPECT_FALSE(J(sink_.up[1].body)["config"].contains("durable_name"));
}

TEST_F(SplitConsumersTest, InfoAsksTheUnsplitNameAndEveryOrigin) {
  ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.INFO.foo.C", "_INBOX.c", "", now_));
  ASSERT_EQ(sink_.up.size(), 4u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.API.CONSUMER.INFO.foo-read-west.C");
  EXPECT_EQ(sink_.up[3].subject, "$JS.API.CONSUMER.INFO.foo-read-west.C__west");
}

TEST_F(SplitConsumersTest, InfoOfAMissingConsumerNamesTheVirtualStream) {
  ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.INFO.foo.C", "_INBOX.c", "", now_));
  const std::string missing =
      R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","error":{"code":404,"err_code":10014,"description":"consumer not found on foo-read-west"}})";
  for (int i = 0; i < 4; ++i) {
    split_->OnUpstreamMessage("_MRDN_SR", sink_.up[i].reply, "", "", missing, now_);
  }
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_EQ(J(sink_.down[0].body)["error"]["description"], "consumer not found on foo");
}

TEST_F(SplitConsumersTest, AMergeWithNoAnswerAtAllAnswersNothing) {
  ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.DELETE.foo.C", "_INBOX.c", "", now_));
  split_->Tick(now_ + 11s);
  EXPECT_TRUE(sink_.down.empty());
}

TEST_F(SplitConsumersTest, APartlyAnsweredMergeAnswersAtItsDeadline) {
  ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.DELETE.foo.C", "_INBOX.c", "", now_));
  split_->OnUpstreamMessage(
      "_MRDN_SR", sink_.up[1].reply, "", "",
      R"({"type":"io.nats.jetstream.api.v1.consumer_delete_response","success":true})", now_);
  split_->Tick(now_ + 11s);
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_EQ(J(sink_.down[0].body)["error"]["code"], 408);
}

TEST_F(SplitConsumersTest, PullSweepsOriginsWithoutWaitingFirst) {
  CreateC();
  ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.C", "_INBOX.p1",
                                      R"({"batch":5,"expires":1000000000})", now_));
  ASSERT_EQ(sink_.up.size(), 1u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.API.CONSUMER.MSG.NEXT.foo-read-west.C__east");
  EXPECT_EQ(J(sink_.up[0].body), J(R"({"batch":5,"no_wait":true})"));
  EXPECT_EQ(sink_.up[0].reply, "_MRDN.7.s.p.0.1.0");
  EXPECT_EQ(sink_.subs.back(), "_MRDN_SP0 _MRDN.7.s.p.0.>");
}

TEST_F(SplitConsumersTest, PullDeliversRenumberedMessagesFromEveryOriginThenOneTimeout) {
  CreateC();
  split_->OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.C", "_INBOX.p1",
                          R"({"batch":5,"expires":1000000000})", now_);
  DeliverFrom("_MRDN_SP0", "east", 4, 1, 0);
  StatusOn("_MRDN_SP0", "_MRDN.7.s.p.0.1.0", "NATS/1.0 408 Request Timeout\r\n\r\n");
  ASSERT_EQ(sink_.up.size(), 2u);
  EXPECT_EQ(sink_.up[1].subject, "$JS.API.CONSUMER.MSG.NEXT.foo-read-west.C__central");
  EXPECT_EQ(J(sink_.up[1].body), J(R"({"batch":4,"no_wait":true})"));
  DeliverFrom("_MRDN_SP0", "central", 9, 3, 2);
  StatusOn("_MRDN_SP0", "_MRDN.7.s.p.0.1.1", "NATS/1.0 408 Request Timeout\r\n\r\n");
  StatusOn("_MRDN_SP0", "_MRDN.7.s.p.0.1.2", "NATS/1.0 404 No Messages\r\n\r\n");
  // Swept: 3 still wanted, asked of the origins in turn while waiting.
  ASSERT_EQ(sink_.up.size(), 6u);
  EXPECT_EQ(J(sink_.up[3].body)["batch"], 1);
  EXPECT_EQ(J(sink_.up[4].body)["batch"], 1);
  EXPECT_EQ(J(sink_.up[5].body)["batch"], 1);
  EXPECT_TRUE(J(sink_.up[3].body).contains("expires"));
  ASSERT_EQ(sink_.down.size(), 2u);
  EXPECT_EQ(sink_.down[0].route, "_INBOX.p1");
  EXPECT_EQ(sink_.down[0].subject, "foo.test");
  EXPECT_EQ(sink_.down[0].reply, "$JS.ACK.foo.C.1.4.1.1795393222582469645.0");
  EXPECT_EQ(sink_.down[1].reply, "$JS.ACK.foo.C.1.9.2.1795393222582469645.2");
  for (int o = 0; o < 3; ++o) {
    StatusOn("_MRDN_SP0", "_MRDN.7.s.p.0.2." + std::to_string(o),
             "NATS/1.0 408 Request Timeout\r\n\r\n");
  }
  ASSERT_EQ(sink_.down.size(), 3u);
  EXPECT_EQ(sink_.down[2].headers,
            "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: "
            "0\r\n\r\n");
  EXPECT_EQ(split_->pulls_in_flight(), 0u);
}

TEST_F(SplitConsumersTest, PullNeverDeliversMoreThanTheBatch) {
  CreateC();
  split_->OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.C", "_INBOX.p1", "2", now_);
  DeliverFrom("_MRDN_SP0", "east", 1, 1);
  DeliverFrom("_MRDN_SP0", "east", 2, 2);
  DeliverFrom("_MRDN_SP0", "east", 3, 3);  // late, over the batch: dropped, redelivered later
  EXPECT_EQ(sink_.down.size(), 2u);
  EXPECT_EQ(split_->stats().deliveries_dropped, 1u);
  EXPECT_EQ(split_->pulls_in_flight(), 0u);
}

TEST_F(SplitConsumersTest, NoWaitPullWithNothingAnywhereEndsWithOne404) {
  CreateC();
  split_->OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.C", "_INBOX.p1",
                          R"({"batch":3,"no_wait":true})", now_);
  for (int o = 0; o < 3; ++o) {
    StatusOn("_MRDN_SP0", "_MRDN.7.s.p.0.1." + std::to_string(o),
             "NATS/1.0 404 No Messages\r\n\r\n");
  }
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_EQ(sink_.down[0].headers, "NATS/1.0 404 No Messages\r\n\r\n");
  EXPECT_EQ(sink_.up.size(), 3u);  // no waiting phase
}

TEST_F(SplitConsumersTest, StaleStatusesOfAnEarlierRequestAreIgnored) {
  CreateC();
  split_->OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.C", "_INBOX.p1",
                          R"({"batch":1,"no_wait":true})", now_);
  StatusOn("_MRDN_SP0", "_MRDN.7.s.p.0.0.0", "NATS/1.0 404 No Messages\r\n\r\n");
  EXPECT_EQ(sink_.up.size(), 1u);
  EXPECT_TRUE(sink_.down.empty());
}

TEST_F(SplitConsumersTest, ASilentOriginDoesNotStallTheSweep) {
  CreateC();
  split_->OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.C", "_INBOX.p1",
                          R"({"batch":1,"no_wait":true})", now_);
  split_->Tick(now_ + 3s);
  ASSERT_EQ(sink_.up.size(), 2u);
  EXPECT_EQ(sink_.up[1].subject, "$JS.API.CONSUMER.MSG.NEXT.foo-read-west.C__central");
}

TEST_F(SplitConsumersTest, AckGoesToTheOriginConsumerWithItsOwnSequence) {
  CreateC();
  split_->OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.C", "_INBOX.p1", "2", now_);
  DeliverFrom("_MRDN_SP0", "east", 4, 7);
  DeliverFrom("_MRDN_SP0", "west", 5, 2);
  sink_.up.clear();
  ASSERT_TRUE(split_->OnClientAck("$JS.ACK.foo.C.1.5.2.1795393222582469645.0", "_INBOX.ackack",
                                  "+ACK", now_));
  ASSERT_EQ(sink_.up.size(), 1u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.ACK.foo-read-west.C__west.1.5.2.1795393222582469645.0");
  EXPECT_EQ(sink_.up[0].reply, "_INBOX.ackack");
  EXPECT_EQ(sink_.up[0].body, "+ACK");
}

TEST_F(SplitConsumersTest, AckNextAcksTheOriginThenPullsTheNextRenumberedForTheClient) {
  CreateC();
  split_->OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.C", "_INBOX.p1", "2", now_);
  DeliverFrom("_MRDN_SP0", "east", 4, 7);
  DeliverFrom("_MRDN_SP0", "west", 5, 2);
  ASSERT_EQ(split_->pulls_in_flight(), 0u);
  sink_.up.clear();
  sink_.down.clear();
  ASSERT_TRUE(split_->OnClientAck("$JS.ACK.foo.C.1.5.2.1795393222582469645.0", "_INBOX.p2",
                                  "+NXT {\"batch\":1}", now_));
  ASSERT_EQ(sink_.up.size(), 2u);
  // The origin gets a plain ack (its own next message would carry its own numbers)...
  EXPECT_EQ(sink_.up[0].subject, "$JS.ACK.foo-read-west.C__west.1.5.2.1795393222582469645.0");
  EXPECT_EQ(sink_.up[0].reply, "");
  EXPECT_EQ(sink_.up[0].body, "+ACK");
  // ...and the next message is a pull of the split consumer, swept over the origins.
  EXPECT_TRUE(sink_.up[1].subject.starts_with("$JS.API.CONSUMER.MSG.NEXT.foo-read-west.C__"))
      << sink_.up[1].subject;
  EXPECT_EQ(J(sink_.up[1].body), J(R"({"batch":1,"no_wait":true})"));
  EXPECT_EQ(split_->pulls_in_flight(), 1u);
  const std::string origin = sink_.up[1].subject.substr(sink_.up[1].subject.rfind("__") + 2);
  DeliverFrom("_MRDN_SP0", origin, 9, 3);
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_EQ(sink_.down[0].route, "_INBOX.p2");
  EXPECT_EQ(sink_.down[0].subject, "foo.test");
  EXPECT_EQ(sink_.down[0].reply, "$JS.ACK.foo.C.1.9.3.1795393222582469645.0");
  EXPECT_EQ(split_->pulls_in_flight(), 0u);
}

TEST_F(SplitConsumersTest, AcksOfOtherConsumersAreNotTaken) {
  CreateC();
  EXPECT_FALSE(split_->OnClientAck("$JS.ACK.foo.D.1.5.2.1795393222582469645.0", "", "", now_));
}

TEST_F(SplitConsumersTest, PushDeliveriesReachTheClientsDeliverSubjectInOneSequence) {
  CreateC(true);
  EXPECT_EQ(sink_.subs.back(), "_MRDN_SD1_2 _MRDN.D.foo-read-west.C.west");
  DeliverFrom("_MRDN_SD1_0", "central", 3, 1, 1);
  DeliverFrom("_MRDN_SD1_0", "east", 5, 1, 0);
  DeliverFrom("_MRDN_SD1_0", "central", 6, 2, 0);
  ASSERT_EQ(sink_.down.size(), 3u);
  EXPECT_EQ(sink_.down[0].route, "_INBOX.push");
  EXPECT_EQ(sink_.down[0].reply, "$JS.ACK.foo.C.1.3.1.1795393222582469645.1");
  EXPECT_EQ(sink_.down[1].reply, "$JS.ACK.foo.C.1.5.2.1795393222582469645.1");
  EXPECT_EQ(sink_.down[2].reply, "$JS.ACK.foo.C.1.6.3.1795393222582469645.0");
}

TEST_F(SplitConsumersTest, PushHeartbeatsCarryTheClientsSequences) {
  CreateC(true);
  DeliverFrom("_MRDN_SD1_0", "central", 3, 1);
  DeliverFrom("_MRDN_SD1_0", "east", 5, 1);
  StatusOn("_MRDN_SD1_0", "_MRDN.D.foo-read-west.C.east",
           "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 1\r\nNats-Last-Stream: 5\r\n\r\n");
  ASSERT_EQ(sink_.down.size(), 3u);
  EXPECT_EQ(sink_.down[2].subject, "_INBOX.push");
  EXPECT_EQ(sink_.down[2].headers,
            "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 2\r\nNats-Last-Stream: 5\r\n\r\n");
}

TEST_F(SplitConsumersTest, FlowControlRequestsPassToTheClientWithTheirReply) {
  CreateC(true);
  split_->OnUpstreamMessage("_MRDN_SD1_0", "_MRDN.D.foo-read-west.C.west",
                            "$JS.FC.foo-read-west.C__west.ab12",
                            "NATS/1.0 100 FlowControl Request\r\n\r\n", "", now_);
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_EQ(sink_.down[0].reply, "$JS.FC.foo-read-west.C__west.ab12");
  EXPECT_EQ(sink_.down[0].headers, "NATS/1.0 100 FlowControl Request\r\n\r\n");
}

TEST_F(SplitConsumersTest, AckAllAcksEveryOriginUpToThatPoint) {
  nlohmann::json body = {{"stream_name", "foo"},
                         {"config",
                          {{"durable_name", "C"},
                           {"ack_policy", "all"},
                           {"filter_subject", "foo.test"},
                           {"deliver_subject", "_INBOX.push"}}}};
  split_->OnClientRequest("$JS.API.CONSUMER.CREATE.foo.C.foo.test", "_INBOX.c", body.dump(), now_);
  const std::vector<std::string> regions = {"east", "central", "west"};
  for (std::size_t i = 0; i < 3; ++i) {
    auto reply = J(OriginReply(regions[i], true));
    reply["config"]["ack_policy"] = "all";
    split_->OnUpstreamMessage("_MRDN_SR", sink_.up[i].reply, "", "", reply.dump(), now_);
  }
  DeliverFrom("_MRDN_SD1_0", "east", 1, 1);     // client 1
  DeliverFrom("_MRDN_SD1_0", "central", 2, 1);  // client 2
  DeliverFrom("_MRDN_SD1_0", "east", 3, 2);     // client 3
  DeliverFrom("_MRDN_SD1_0", "west", 4, 1);     // client 4
  sink_.up.clear();
  ASSERT_TRUE(split_->OnClientAck("$JS.ACK.foo.C.1.3.3.1795393222582469645.0", "", "", now_));
  ASSERT_EQ(sink_.up.size(), 2u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.ACK.foo-read-west.C__east.1.3.2.1795393222582469645.0");
  EXPECT_EQ(sink_.up[1].subject, "$JS.ACK.foo-read-west.C__central.1.2.1.1795393222582469645.0");
}

TEST_F(SplitConsumersTest, AnEphemeralPushConsumerWhoseClientLeftIsDeleted) {
  nlohmann::json body = {{"stream_name", "foo"},
                         {"config",
                          {{"ack_policy", "none"},
                           {"filter_subject", "foo.test"},
                           {"deliver_subject", "_INBOX.gone"}}}};
  split_->OnClientRequest("$JS.API.CONSUMER.CREATE.foo", "_INBOX.c", body.dump(), now_);
  const std::vector<std::string> regions = {"east", "central", "west"};
  for (std::size_t i = 0; i < 3; ++i) {
    auto reply = J(OriginReply(regions[i], true));
    reply["config"].erase("durable_name");
    reply["config"]["ack_policy"] = "none";
    reply["name"] = "mrdn7x1__" + regions[i];
    split_->OnUpstreamMessage("_MRDN_SR", sink_.up[i].reply, "", "", reply.dump(), now_);
  }
  sink_.up.clear();
  split_->OnUpstreamMessage("_MRDN_SD1_0", "foo.east.test",
                            "$JS.ACK.foo-read-west.mrdn7x1__east.1.1.1.1795393222582469645.0", "",
                            "x", now_);
  ASSERT_EQ(sink_.up.size(), 3u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.API.CONSUMER.DELETE.foo-read-west.mrdn7x1__east");
  EXPECT_EQ(split_->known_consumers(), 0u);
  EXPECT_EQ(sink_.unsubs, (std::vector<std::string>{"_MRDN_SD1_0", "_MRDN_SD1_1", "_MRDN_SD1_2"}));
}

TEST_F(SplitConsumersTest, AfterAFailoverSubscriptionsAreRenewedAndPullsInFlightEnd) {
  CreateC();
  split_->OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.C", "_INBOX.p1",
                          R"({"batch":2,"expires":5000000000})", now_);
  sink_.subs.clear();
  split_->OnUpstreamRestored();
  EXPECT_EQ(sink_.subs,
            (std::vector<std::string>{"_MRDN_SR _MRDN.7.s.r.*.*", "_MRDN_SP0 _MRDN.7.s.p.0.>"}));
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_TRUE(sink_.down[0].headers.starts_with("NATS/1.0 408 Request Timeout\r\n"));
  EXPECT_EQ(split_->pulls_in_flight(), 0u);
}

// --- binding from another connection (issue 4) ---------------------------------------------

// The info of C as a connection that did not create it sees it: unsplit C missing, every origin
// push with its consumer-derived deliver subject (and `group` as deliver_group when given).
void AnswerInfo(SplitConsumers& split, RecordingSink& sink, std::size_t first_part, bool push,
                const std::string& group, TimePoint now) {
  const std::string missing =
      R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","error":{"code":404,"err_code":10014,"description":"consumer not found"}})";
  split.OnUpstreamMessage("_MRDN_SR", sink.up[first_part].reply, "", "", missing, now);
  const std::vector<std::string> regions = {"east", "central", "west"};
  for (std::size_t i = 0; i < 3; ++i) {
    nlohmann::json j = {{"type", "io.nats.jetstream.api.v1.consumer_info_response"},
                        {"stream_name", "foo-read-west"},
                        {"name", "C__" + regions[i]},
                        {"config",
                         {{"durable_name", "C__" + regions[i]},
                          {"ack_policy", "explicit"},
                          {"filter_subject", "foo." + regions[i] + ".test"},
                          {"max_ack_pending", 1000}}},
                        {"num_pending", 1},
                        {"push_bound", false}};
    if (push) j["config"]["deliver_subject"] = "_MRDN.D.foo-read-west.C." + regions[i];
    if (!group.empty()) j["config"]["deliver_group"] = group;
    split.OnUpstreamMessage("_MRDN_SR", sink.up[first_part + 1 + i].reply, "", "", j.dump(), now);
  }
}

TEST_F(SplitConsumersTest, PushOriginsDeliverToSubjectsDerivedFromTheConsumerNotTheConnection) {
  CreateC(true);
  ASSERT_EQ(sink_.subs.size(), 4u);  // API replies, then one per origin, before the creates
  EXPECT_EQ(sink_.subs[1], "_MRDN_SD1_0 _MRDN.D.foo-read-west.C.east");
  EXPECT_EQ(sink_.subs[3], "_MRDN_SD1_2 _MRDN.D.foo-read-west.C.west");
  nlohmann::json config = {{"durable_name", "C"},
                           {"ack_policy", "explicit"},
                           {"filter_subject", "foo.test"},
                           {"deliver_subject", "_INBOX.push"}};
  split_->OnClientRequest("$JS.API.CONSUMER.CREATE.foo.C.foo.test", "_INBOX.c",
                          nlohmann::json{{"stream_name", "foo"}, {"config", config}}.dump(), now_);
  ASSERT_EQ(sink_.up.size(), 3u);
  EXPECT_EQ(J(sink_.up[0].body)["config"]["deliver_subject"], "_MRDN.D.foo-read-west.C.east");
  EXPECT_EQ(J(sink_.up[1].body)["config"]["deliver_subject"], "_MRDN.D.foo-read-west.C.central");
  // The creating connection's own info still shows its own deliver subject.
  for (std::size_t i = 0; i < 3; ++i) {
    split_->OnUpstreamMessage("_MRDN_SR", sink_.up[i].reply, "", "",
                              OriginReply(i == 0   ? "east"
                                          : i == 1 ? "central"
                                                   : "west",
                                          true),
                              now_);
  }
  sink_.up.clear();
  sink_.down.clear();
  ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.INFO.foo.C", "_INBOX.c", "", now_));
  AnswerInfo(*split_, sink_, 0, true, "", now_);
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_EQ(J(sink_.down[0].body)["config"]["deliver_subject"], "_INBOX.push");
}

TEST_F(SplitConsumersTest, ANewConnectionBindsByInfoThenSubscribingToTheDeliverSubjectShown) {
  ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.INFO.foo.C", "_INBOX.c", "", now_));
  AnswerInfo(*split_, sink_, 0, true, "", now_);
  ASSERT_EQ(sink_.down.size(), 1u);
  auto info = J(sink_.down[0].body);
  EXPECT_EQ(info["config"]["deliver_subject"], "_MRDN.D.foo-read-west.C");
  EXPECT_EQ(info["config"]["durable_name"], "C");
  EXPECT_EQ(sink_.subs.size(), 1u);  // only the API replies: not bound by the info alone
  sink_.listening.insert("_MRDN.D.foo-read-west.C");
  sink_.up.clear();
  split_->OnClientSubscribe("_MRDN.D.foo-read-west.C", "", now_);
  EXPECT_TRUE(sink_.up.empty());  // known from the info: no second look-up
  ASSERT_EQ(sink_.subs.size(), 4u);
  EXPECT_EQ(sink_.subs[1], "_MRDN_SD1_0 _MRDN.D.foo-read-west.C.east");
  EXPECT_EQ(sink_.subs[3], "_MRDN_SD1_2 _MRDN.D.foo-read-west.C.west");
  DeliverFrom("_MRDN_SD1_0", "central", 3, 4, 1);
  DeliverFrom("_MRDN_SD1_2", "west", 5, 9, 0);
  ASSERT_EQ(sink_.down.size(), 3u);
  EXPECT_EQ(sink_.down[1].route, "_MRDN.D.foo-read-west.C");
  EXPECT_EQ(sink_.down[1].subject, "foo.test");
  EXPECT_EQ(sink_.down[1].reply, "$JS.ACK.foo.C.1.3.1.1795393222582469645.1");
  EXPECT_EQ(sink_.down[2].reply, "$JS.ACK.foo.C.1.5.2.1795393222582469645.1");
  sink_.up.clear();
  ASSERT_TRUE(split_->OnClientAck("$JS.ACK.foo.C.1.5.2.1795393222582469645.1", "", "+ACK", now_));
  ASSERT_EQ(sink_.up.size(), 1u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.ACK.foo-read-west.C__west.1.5.9.1795393222582469645.0");
  // Heartbeats on an origin deliver subject reach the client too.
  StatusOn("_MRDN_SD1_1", "_MRDN.D.foo-read-west.C.central",
           "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 4\r\nNats-Last-Stream: 3\r\n\r\n");
  ASSERT_EQ(sink_.down.size(), 4u);
  EXPECT_EQ(sink_.down[3].headers,
            "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 2\r\nNats-Last-Stream: 5\r\n\r\n");
}

TEST_F(SplitConsumersTest, ASubscriptionWithoutInfoLooksTheConsumerUpAndBindsWhenItIsPush) {
  // E.g. a client re-subscribing after a reconnect to a restarted sidecar.
  split_->OnClientSubscribe("_MRDN.D.foo-read-west.C", "", now_);
  ASSERT_EQ(sink_.up.size(), 4u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.API.CONSUMER.INFO.foo-read-west.C");
  EXPECT_EQ(sink_.up[1].subject, "$JS.API.CONSUMER.INFO.foo-read-west.C__east");
  EXPECT_EQ(sink_.subs.size(), 1u);
  AnswerInfo(*split_, sink_, 0, true, "", now_);
  EXPECT_TRUE(sink_.down.empty());  // nobody asked for the info
  ASSERT_EQ(sink_.subs.size(), 4u);
  EXPECT_EQ(sink_.subs[2], "_MRDN_SD1_1 _MRDN.D.foo-read-west.C.central");
  sink_.listening.insert("_MRDN.D.foo-read-west.C");
  DeliverFrom("_MRDN_SD1_1", "east", 8, 2);
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_EQ(sink_.down[0].reply, "$JS.ACK.foo.C.1.8.1.1795393222582469645.0");
}

TEST_F(SplitConsumersTest, APullConsumerIsNotBoundAndKeepsItsPulls) {
  split_->OnClientSubscribe("_MRDN.D.foo-read-west.C", "", now_);
  AnswerInfo(*split_, sink_, 0, false, "", now_);
  EXPECT_EQ(sink_.subs.size(), 1u);
  sink_.up.clear();
  ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.INFO.foo.C", "_INBOX.c", "", now_));
  AnswerInfo(*split_, sink_, 0, false, "", now_);
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_FALSE(J(sink_.down[0].body)["config"].contains("deliver_subject"));
  EXPECT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.MSG.NEXT.foo.C", "_INBOX.p1", "1", now_));
}

TEST_F(SplitConsumersTest, OtherSubjectsAndOtherStreamsDoNotBind) {
  split_->OnClientSubscribe("_INBOX.x", "", now_);
  split_->OnClientSubscribe("_MRDN.D.foo-read-east.C", "", now_);  // not this region's
  split_->OnClientSubscribe("_MRDN.D.foo-write-west.C", "", now_);
  split_->OnClientSubscribe("_MRDN.D.foo-read-west.C.west", "", now_);
  split_->OnClientSubscribe("_MRDN.D.foo-read-west.*", "", now_);
  split_->OnClientSubscribe("_MRDN.D.foo-read-west", "", now_);
  EXPECT_TRUE(sink_.up.empty());
  EXPECT_TRUE(sink_.subs.empty());
}

TEST_F(SplitConsumersTest, DeliverGroupsSubscribeTheOriginsAsThatQueue) {
  nlohmann::json config = {{"durable_name", "C"},
                           {"ack_policy", "explicit"},
                           {"filter_subject", "foo.test"},
                           {"deliver_subject", "_INBOX.push"},
                           {"deliver_group", "workers"}};
  split_->OnClientRequest("$JS.API.CONSUMER.CREATE.foo.C.foo.test", "_INBOX.c",
                          nlohmann::json{{"stream_name", "foo"}, {"config", config}}.dump(), now_);
  ASSERT_EQ(sink_.subs.size(), 4u);
  EXPECT_EQ(sink_.subs[1], "_MRDN_SD1_0 _MRDN.D.foo-read-west.C.east workers");
  EXPECT_EQ(J(sink_.up[0].body)["config"]["deliver_group"], "workers");

  // Another connection binding as a member of the group.
  RecordingSink other_sink;
  SplitOptions o;
  o.inbox = "_MRDN.8.s.";
  o.sid_prefix = "_MRDN_S";
  o.name_seed = "8";
  SplitConsumers other(rewriter_, other_sink, o);
  ASSERT_TRUE(other.OnClientRequest("$JS.API.CONSUMER.INFO.foo.C", "_INBOX.c", "", now_));
  AnswerInfo(other, other_sink, 0, true, "workers", now_);
  ASSERT_EQ(other_sink.down.size(), 1u);
  EXPECT_EQ(J(other_sink.down[0].body)["config"]["deliver_group"], "workers");
  other.OnClientSubscribe("_MRDN.D.foo-read-west.C", "workers", now_);
  ASSERT_EQ(other_sink.subs.size(), 4u);
  EXPECT_EQ(other_sink.subs[3], "_MRDN_SD1_2 _MRDN.D.foo-read-west.C.west workers");
}

TEST_F(SplitConsumersTest, TheEndOfTheDeliverSubscriptionUnbindsAndANewOneBindsAgain) {
  CreateC(true);
  split_->OnClientUnsubscribe("_INBOX.other");
  EXPECT_TRUE(sink_.unsubs.empty());
  split_->OnClientUnsubscribe("_INBOX.push");
  EXPECT_EQ(sink_.unsubs, (std::vector<std::string>{"_MRDN_SD1_0", "_MRDN_SD1_1", "_MRDN_SD1_2"}));
  split_->OnClientUnsubscribe("_INBOX.push");
  EXPECT_EQ(sink_.unsubs.size(), 3u);
  sink_.subs.clear();
  split_->OnClientSubscribe("_INBOX.push", "", now_);
  ASSERT_EQ(sink_.subs.size(), 3u);
  EXPECT_EQ(sink_.subs[0], "_MRDN_SD2_0 _MRDN.D.foo-read-west.C.east");
  DeliverFrom("_MRDN_SD2_0", "east", 3, 1);
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_EQ(sink_.down[0].route, "_INBOX.push");
}

TEST_F(SplitConsumersTest, BoundDeliverSubscriptionsAreRenewedAfterAFailover) {
  ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.INFO.foo.C", "_INBOX.c", "", now_));
  AnswerInfo(*split_, sink_, 0, true, "", now_);
  split_->OnClientSubscribe("_MRDN.D.foo-read-west.C", "", now_);
  sink_.subs.clear();
  split_->OnUpstreamRestored();
  EXPECT_EQ(sink_.subs, (std::vector<std::string>{"_MRDN_SR _MRDN.7.s.r.*.*",
                                                  "_MRDN_SD1_0 _MRDN.D.foo-read-west.C.east",
                                                  "_MRDN_SD1_1 _MRDN.D.foo-read-west.C.central",
                                                  "_MRDN_SD1_2 _MRDN.D.foo-read-west.C.west"}));
}

TEST_F(SplitConsumersTest, AShortSubjectOnTheReplySidIsIgnored) {
  // Found by rewrite_fuzz: "<inbox>x" on the API reply sid read past the subject's end.
  split_->OnUpstreamMessage("_MRDN_SR", "_MRDN.7.s.x", "", "", "{}", now_);
  split_->OnUpstreamMessage("_MRDN_SR", "_MRDN.7.s.", "", "", "{}", now_);
  EXPECT_TRUE(sink_.down.empty());
}

// An ordered consumer resets with "by_start_sequence, last stream sequence seen + 1". The
// origins' deliveries arrive interleaved, so one merged sequence would skip what a slower
// origin had not delivered yet: each origin resumes where it was.
TEST_F(SplitConsumersTest, AResumeAfterTheLastDeliveryStartsEachOriginWhereItWas) {
  const std::vector<std::string> regions = {"east", "central", "west"};
  int n = 0;
  // Creates an ordered-style ephemeral and answers it; returns the origin create bodies.
  auto create = [&](const std::string& deliver, nlohmann::json extra) {
    nlohmann::json config = {{"ack_policy", "none"},
                             {"filter_subject", "foo.test"},
                             {"flow_control", true},
                             {"deliver_subject", deliver}};
    config.update(extra);
    nlohmann::json body = {{"stream_name", "foo"}, {"config", config}};
    sink_.up.clear();
    EXPECT_TRUE(
        split_->OnClientRequest("$JS.API.CONSUMER.CREATE.foo", "_INBOX.c", body.dump(), now_));
    ++n;
    std::vector<nlohmann::json> bodies;
    const auto up = sink_.up;
    for (std::size_t i = 0; i < 3 && i < up.size(); ++i) {
      bodies.push_back(J(up[i].body)["config"]);
      auto reply = J(OriginReply(regions[i], true));
      reply["config"].erase("durable_name");
      reply["config"]["ack_policy"] = "none";
      reply["name"] = "mrdn7x" + std::to_string(n) + "__" + regions[i];
      split_->OnUpstreamMessage("_MRDN_SR", up[i].reply, "", "", reply.dump(), now_);
    }
    sink_.down.clear();  // the create's reply
    return bodies;
  };
  auto deliver = [&](const std::string& sid, const std::string& region, int sseq, int dseq) {
    split_->OnUpstreamMessage(sid, "foo." + region + ".test",
                              "$JS.ACK.foo-read-west.mrdn7x" + std::to_string(n) + "__" + region +
                                  ".1." + std::to_string(sseq) + "." + std::to_string(dseq) +
                                  ".1795393222582469645.0",
                              "", "m", now_);
  };

  auto first = create("_INBOX.push", nlohmann::json::object());
  ASSERT_EQ(first.size(), 3u);
  EXPECT_FALSE(first[1].contains("opt_start_seq"));
  deliver("_MRDN_SD1_0", "east", 10, 1);
  deliver("_MRDN_SD1_0", "east", 12, 2);
  ASSERT_EQ(sink_.down.size(), 2u);

  // Reset after stream seq 12: central and west delivered nothing yet, so from 1.
  auto second =
      create("_INBOX.p2", {{"deliver_policy", "by_start_sequence"}, {"opt_start_seq", 13}});
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0]["opt_start_seq"], 13);
  EXPECT_EQ(second[1]["opt_start_seq"], 1);
  EXPECT_EQ(second[2]["opt_start_seq"], 1);
  deliver("_MRDN_SD2_1", "central", 4, 1);

  // Reset after stream seq 4 (central's): east stays past 12, central after 4.
  auto third =
      create("_INBOX.push", {{"deliver_policy", "by_start_sequence"}, {"opt_start_seq", 5}});
  ASSERT_EQ(third.size(), 3u);
  EXPECT_EQ(third[0]["opt_start_seq"], 13);
  EXPECT_EQ(third[1]["opt_start_seq"], 5);
  EXPECT_EQ(third[2]["opt_start_seq"], 1);

  // Not right after a delivery: every origin from where the client asked.
  auto other =
      create("_INBOX.p1", {{"deliver_policy", "by_start_sequence"}, {"opt_start_seq", 100}});
  ASSERT_EQ(other.size(), 3u);
  for (const auto& c : other) EXPECT_EQ(c["opt_start_seq"], 100);
  EXPECT_EQ(split_->stats().resumed, 2u);
}

// --- re-binding by the client's own deliver subject (the registry) ---------------------------

// An origin consumer's info/create reply for C, push, its description as the server keeps it.
std::string RecordedOrigin(const std::string& region, const std::string& description,
                           const std::string& group = "") {
  nlohmann::json j = {{"type", "io.nats.jetstream.api.v1.consumer_info_response"},
                      {"stream_name", "foo-read-west"},
                      {"name", "C__" + region},
                      {"config",
                       {{"durable_name", "C__" + region},
                        {"ack_policy", "explicit"},
                        {"filter_subject", "foo." + region + ".test"},
                        {"deliver_subject", "_MRDN.D.foo-read-west.C." + region},
                        {"max_ack_pending", 1000}}},
                      {"num_pending", 1},
                      {"push_bound", false}};
  if (!description.empty()) j["config"]["description"] = description;
  if (!group.empty()) j["config"]["deliver_group"] = group;
  return j.dump();
}

const std::string kMissing =
    R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","error":{"code":404,"err_code":10014,"description":"consumer not found"}})";

// Answers an info fan-out (unsplit name missing, then every origin) starting at up[first].
void AnswerRecordedInfo(SplitConsumers& split, RecordingSink& sink, std::size_t first,
                        const std::string& description, TimePoint now,
                        const std::string& group = "") {
  split.OnUpstreamMessage("_MRDN_SR", sink.up[first].reply, "", "", kMissing, now);
  const std::vector<std::string> regions = {"east", "central", "west"};
  for (std::size_t i = 0; i < 3; ++i) {
    split.OnUpstreamMessage("_MRDN_SR", sink.up[first + 1 + i].reply, "", "",
                            RecordedOrigin(regions[i], description, group), now);
  }
}

// A CONSUMER.LIST page of foo-read-west as 2.9.10 answers it.
std::string ListPage(const std::vector<std::string>& entries, std::uint64_t total,
                     std::uint64_t offset) {
  nlohmann::json j = {{"type", "io.nats.jetstream.api.v1.consumer_list_response"},
                      {"total", total},
                      {"offset", offset},
                      {"limit", 256},
                      {"consumers", nlohmann::json::array()}};
  for (const auto& e : entries) j["consumers"].push_back(J(e));
  return j.dump();
}

class SplitRegistryBindTest : public SplitConsumersTest {
 protected:
  SplitRegistryBindTest() {
    SplitOptions o;
    o.inbox = "_MRDN.7.s.";
    o.sid_prefix = "_MRDN_S";
    o.name_seed = "7";
    o.registry = &rewriter_.split_registry();
    split_ = std::make_unique<SplitConsumers>(rewriter_, sink_, o);
  }
  // Another connection of the same sidecar (same rewriter, same registry).
  std::unique_ptr<SplitConsumers> Other(RecordingSink& sink, const std::string& id) {
    SplitOptions o;
    o.inbox = "_MRDN." + id + ".s.";
    o.sid_prefix = "_MRDN_S";
    o.name_seed = id;
    o.registry = &rewriter_.split_registry();
    return std::make_unique<SplitConsumers>(rewriter_, sink, o);
  }
  // Creates push C with deliver subject _INBOX.push (and `description` when given), every
  // origin answering with what it was asked to keep.
  void CreateRecorded(const std::string& description = "") {
    nlohmann::json config = {{"durable_name", "C"},
                             {"ack_policy", "explicit"},
                             {"filter_subject", "foo.test"},
                             {"deliver_subject", "_INBOX.push"}};
    if (!description.empty()) config["description"] = description;
    ASSERT_TRUE(split_->OnClientRequest(
        "$JS.API.CONSUMER.CREATE.foo.C.foo.test", "_INBOX.c",
        nlohmann::json{{"stream_name", "foo"}, {"config", config}}.dump(), now_));
    ASSERT_EQ(sink_.up.size(), 3u);
    const std::vector<std::string> regions = {"east", "central", "west"};
    for (std::size_t i = 0; i < 3; ++i) {
      auto sent = J(sink_.up[i].body);
      split_->OnUpstreamMessage("_MRDN_SR", sink_.up[i].reply, "", "",
                                RecordedOrigin(regions[i], sent["config"].value("description", "")),
                                now_);
    }
  }
};

TEST_F(SplitRegistryBindTest, CreatesRecordTheClientsDeliverSubjectAndRepliesHideTheRecord) {
  CreateRecorded("orders of the day");
  auto east = J(sink_.up[0].body);
  EXPECT_EQ(east["config"]["description"], "[meridian deliver _INBOX.push] orders of the day");
  EXPECT_EQ(east["config"]["deliver_subject"], "_MRDN.D.foo-read-west.C.east");
  ASSERT_EQ(sink_.down.size(), 1u);
  auto created = J(sink_.down[0].body);
  EXPECT_EQ(created["config"]["description"], "orders of the day");
  EXPECT_EQ(created["config"]["deliver_subject"], "_INBOX.push");
  // Known to the registry from the create.
  auto targets = rewriter_.split_registry().Find("_INBOX.push");
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].name, "C");
  // The info of another connection shows the client's description and the bind subject.
  RecordingSink other_sink;
  auto other = Other(other_sink, "8");
  ASSERT_TRUE(other->OnClientRequest("$JS.API.CONSUMER.INFO.foo.C", "_INBOX.c", "", now_));
  AnswerRecordedInfo(*other, other_sink, 0, "[meridian deliver _INBOX.push] orders of the day",
                     now_);
  ASSERT_EQ(other_sink.down.size(), 1u);
  auto info = J(other_sink.down[0].body);
  EXPECT_EQ(info["config"]["description"], "orders of the day");
  EXPECT_EQ(info["config"]["deliver_subject"], "_MRDN.D.foo-read-west.C");
}

TEST_F(SplitRegistryBindTest, WithoutAClientDescriptionRepliesShowNone) {
  CreateRecorded();
  EXPECT_EQ(J(sink_.up[2].body)["config"]["description"], "[meridian deliver _INBOX.push]");
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_FALSE(J(sink_.down[0].body)["config"].contains("description"));
}

TEST_F(SplitRegistryBindTest, ATooLongDescriptionIsPassedUnrecorded) {
  const std::string longest(kMaxDescription - 5, 'd');
  CreateRecorded(longest);
  EXPECT_EQ(J(sink_.up[0].body)["config"]["description"], longest);
  EXPECT_EQ(rewriter_.split_registry().size(), 0u);
}

TEST_F(SplitRegistryBindTest, TheDeliverSubjectRecordParsesBackAndRejectsOthers) {
  auto r = ParseDeliverRecord("[meridian deliver _INBOX.x.y] a ] b");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->deliver, "_INBOX.x.y");
  EXPECT_EQ(r->description, "a ] b");
  EXPECT_FALSE(ParseDeliverRecord("[meridian deliver ]"));
  EXPECT_FALSE(ParseDeliverRecord("[meridian deliver x]y"));
  EXPECT_FALSE(ParseDeliverRecord("[meridian deliver x"));
  EXPECT_FALSE(ParseDeliverRecord("orders"));
  EXPECT_FALSE(RecordDeliver("a b", ""));
}

TEST_F(SplitRegistryBindTest, ASubscriptionOnTheClientsOwnDeliverSubjectBindsAnotherConnection) {
  CreateRecorded();
  // The client reconnects (a new session) and only re-sends its SUB.
  RecordingSink other_sink;
  other_sink.listening.insert("_INBOX.push");
  auto other = Other(other_sink, "8");
  other->OnClientSubscribe("_INBOX.push", "", now_);
  ASSERT_EQ(other_sink.up.size(), 4u);  // its info first, no CONSUMER.LIST
  EXPECT_EQ(other_sink.up[0].subject, "$JS.API.CONSUMER.INFO.foo-read-west.C");
  EXPECT_EQ(other_sink.up[3].subject, "$JS.API.CONSUMER.INFO.foo-read-west.C__west");
  AnswerRecordedInfo(*other, other_sink, 0, "[meridian deliver _INBOX.push]", now_);
  EXPECT_TRUE(other_sink.down.empty());  // nobody asked for the info
  ASSERT_EQ(other_sink.subs.size(), 4u);
  EXPECT_EQ(other_sink.subs[1], "_MRDN_SD1_0 _MRDN.D.foo-read-west.C.east");
  other->OnUpstreamMessage("_MRDN_SD1_2", "foo.west.test",
                           "$JS.ACK.foo-read-west.C__west.1.7.3.1795393222582469645.0", "", "m7",
                           now_);
  ASSERT_EQ(other_sink.down.size(), 1u);
  EXPECT_EQ(other_sink.down[0].route, "_INBOX.push");
  EXPECT_EQ(other_sink.down[0].subject, "foo.test");
  EXPECT_EQ(other_sink.down[0].reply, "$JS.ACK.foo.C.1.7.1.1795393222582469645.0");
  other_sink.up.clear();
  ASSERT_TRUE(other->OnClientAck("$JS.ACK.foo.C.1.7.1.1795393222582469645.0", "", "+ACK", now_));
  ASSERT_EQ(other_sink.up.size(), 1u);
  EXPECT_EQ(other_sink.up[0].subject, "$JS.ACK.foo-read-west.C__west.1.7.3.1795393222582469645.0");
  // Its info now shows the client's own deliver subject; UNSUB unbinds.
  other_sink.up.clear();
  ASSERT_TRUE(other->OnClientRequest("$JS.API.CONSUMER.INFO.foo.C", "_INBOX.c", "", now_));
  AnswerRecordedInfo(*other, other_sink, 0, "[meridian deliver _INBOX.push]", now_);
  EXPECT_EQ(J(other_sink.down.back().body)["config"]["deliver_subject"], "_INBOX.push");
  other->OnClientUnsubscribe("_INBOX.push");
  EXPECT_EQ(other_sink.unsubs,
            (std::vector<std::string>{"_MRDN_SD1_0", "_MRDN_SD1_1", "_MRDN_SD1_2"}));
  EXPECT_EQ(other->stats().deliver_binds, 1u);
}

TEST_F(SplitRegistryBindTest, AQueueSubscriptionBindsAsTheConsumersDeliverGroup) {
  rewriter_.split_registry().Add("_INBOX.q", 0, "C");
  split_->OnClientSubscribe("_INBOX.q", "workers", now_);
  ASSERT_EQ(sink_.up.size(), 4u);
  AnswerRecordedInfo(*split_, sink_, 0, "[meridian deliver _INBOX.q]", now_, "workers");
  ASSERT_EQ(sink_.subs.size(), 4u);
  EXPECT_EQ(sink_.subs[3], "_MRDN_SD1_2 _MRDN.D.foo-read-west.C.west workers");
}

TEST_F(SplitRegistryBindTest, AfterARestartTheRegistryIsLoadedFromConsumerListThenTheSubBinds) {
  // A new sidecar process: the registry is empty. The client's SUB misses and starts a refresh.
  sink_.listening.insert("_INBOX.push");
  split_->OnClientSubscribe("_INBOX.push", "", now_);
  EXPECT_TRUE(sink_.up.empty());  // the next tick starts it
  split_->Tick(now_);
  ASSERT_EQ(sink_.up.size(), 1u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.API.CONSUMER.LIST.foo-read-west");
  EXPECT_EQ(J(sink_.up[0].body)["offset"], 0);
  EXPECT_EQ(sink_.subs.front(), "_MRDN_SR _MRDN.7.s.r.*.*");
  // Page 1 of 2: two origins of C, a plain consumer, one origin of a pull consumer.
  nlohmann::json plain = {{"name", "plain"}, {"config", {{"durable_name", "plain"}}}};
  nlohmann::json pull = {{"name", "P__east"}, {"config", {{"durable_name", "P__east"}}}};
  split_->OnUpstreamMessage(
      "_MRDN_SR", sink_.up[0].reply, "", "",
      ListPage({RecordedOrigin("east", "[meridian deliver _INBOX.push]"), plain.dump(), pull.dump(),
                RecordedOrigin("central", "[meridian deliver _INBOX.push]")},
               5, 0),
      now_);
  ASSERT_EQ(sink_.up.size(), 2u);
  EXPECT_EQ(sink_.up[1].subject, "$JS.API.CONSUMER.LIST.foo-read-west");
  EXPECT_EQ(J(sink_.up[1].body)["offset"], 4);
  split_->OnUpstreamMessage(
      "_MRDN_SR", sink_.up[1].reply, "", "",
      ListPage({RecordedOrigin("west", "[meridian deliver _INBOX.push]")}, 5, 4), now_);
  // Then the next virtual stream's read stream.
  ASSERT_EQ(sink_.up.size(), 3u);
  EXPECT_EQ(sink_.up[2].subject, "$JS.API.CONSUMER.LIST.orders-read-west");
  EXPECT_TRUE(split_->known_consumers() == 0u);
  split_->OnUpstreamMessage("_MRDN_SR", sink_.up[2].reply, "", "", ListPage({}, 0, 0), now_);
  EXPECT_EQ(rewriter_.split_registry().completed(), 1u);
  // Loaded: the waiting SUB looks C up and binds.
  ASSERT_EQ(sink_.up.size(), 7u);
  EXPECT_EQ(sink_.up[3].subject, "$JS.API.CONSUMER.INFO.foo-read-west.C");
  AnswerRecordedInfo(*split_, sink_, 3, "[meridian deliver _INBOX.push]", now_);
  ASSERT_EQ(sink_.subs.size(), 4u);
  EXPECT_EQ(sink_.subs[2], "_MRDN_SD1_1 _MRDN.D.foo-read-west.C.central");
  DeliverFrom("_MRDN_SD1_0", "east", 3, 2);
  ASSERT_EQ(sink_.down.size(), 1u);
  EXPECT_EQ(sink_.down[0].route, "_INBOX.push");
  EXPECT_EQ(split_->stats().list_requests, 3u);
}

TEST_F(SplitRegistryBindTest, UnknownSubjectsCostAtMostOneRefreshPerIntervalNotOnePerSub) {
  split_->OnClientSubscribe("_INBOX.a", "", now_);
  split_->Tick(now_);
  ASSERT_EQ(sink_.up.size(), 1u);  // the first load
  split_->OnUpstreamMessage("_MRDN_SR", sink_.up[0].reply, "", "", ListPage({}, 0, 0), now_);
  split_->OnUpstreamMessage("_MRDN_SR", sink_.up[1].reply, "", "", ListPage({}, 0, 0), now_);
  ASSERT_EQ(sink_.up.size(), 2u);  // _INBOX.a is still unknown: dropped
  // Many SUBs on unknown subjects within the interval: no request at all.
  for (int i = 0; i < 100; ++i) split_->OnClientSubscribe("svc." + std::to_string(i), "", now_);
  split_->Tick(now_ + 5s);
  EXPECT_EQ(sink_.up.size(), 2u);
  // After the interval, one refresh answers all of those still waiting (the last 16).
  split_->Tick(now_ + 11s);
  ASSERT_EQ(sink_.up.size(), 3u);
  EXPECT_EQ(sink_.up[2].subject, "$JS.API.CONSUMER.LIST.foo-read-west");
  split_->Tick(now_ + 12s);
  EXPECT_EQ(sink_.up.size(), 3u);
  // Subjects that cannot be deliver subjects never wait for one.
  RecordingSink other_sink;
  auto other = Other(other_sink, "8");
  for (const char* s :
       {"_INBOX.*", "_INBOX.>", "foo.test", "orders.eu.x", "$JS.API.INFO", "_MRDN.1.x"}) {
    other->OnClientSubscribe(s, "", now_ + 30s);
  }
  other->Tick(now_ + 30s);
  EXPECT_TRUE(other_sink.up.empty());
}

TEST_F(SplitRegistryBindTest, ARefreshOfAConnectionThatWentAwayIsRunByTheNextOne) {
  {
    RecordingSink gone_sink;
    auto gone = Other(gone_sink, "9");
    gone->OnClientSubscribe("_INBOX.a", "", now_);
    gone->Tick(now_);
    ASSERT_EQ(gone_sink.up.size(), 1u);
  }  // closed before the answer
  split_->OnClientSubscribe("_INBOX.push", "", now_ + 1s);
  split_->Tick(now_ + 1s);
  ASSERT_EQ(sink_.up.size(), 1u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.API.CONSUMER.LIST.foo-read-west");
}

TEST_F(SplitRegistryBindTest, ASubscriptionWaitsForTheRefreshAnotherConnectionRuns) {
  RecordingSink other_sink;
  auto other = Other(other_sink, "8");
  other->OnClientSubscribe("_INBOX.x", "", now_);
  other->Tick(now_);  // starts the load
  ASSERT_EQ(other_sink.up.size(), 1u);
  split_->OnClientSubscribe("_INBOX.push", "", now_);
  split_->Tick(now_);
  EXPECT_TRUE(sink_.up.empty());  // one refresh in flight at a time
  other->OnUpstreamMessage("_MRDN_SR", other_sink.up[0].reply, "", "",
                           ListPage({RecordedOrigin("east", "[meridian deliver _INBOX.push]"),
                                     RecordedOrigin("central", "[meridian deliver _INBOX.push]"),
                                     RecordedOrigin("west", "[meridian deliver _INBOX.push]")},
                                    3, 0),
                           now_);
  other->OnUpstreamMessage("_MRDN_SR", other_sink.up[1].reply, "", "", ListPage({}, 0, 0), now_);
  EXPECT_EQ(other_sink.up.size(), 2u);  // _INBOX.x: not a deliver subject, nothing to bind
  split_->Tick(now_ + 250ms);
  ASSERT_EQ(sink_.up.size(), 4u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.API.CONSUMER.INFO.foo-read-west.C");
}

TEST_F(SplitRegistryBindTest, ADeletedOrRemadeConsumerIsForgottenNotBound) {
  // Deleted elsewhere: its info says not found.
  rewriter_.split_registry().Add("_INBOX.push", 0, "C");
  split_->OnClientSubscribe("_INBOX.push", "", now_);
  ASSERT_EQ(sink_.up.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    split_->OnUpstreamMessage("_MRDN_SR", sink_.up[i].reply, "", "", kMissing, now_);
  }
  EXPECT_EQ(sink_.subs.size(), 1u);  // API replies only
  EXPECT_EQ(rewriter_.split_registry().size(), 0u);
  // Made again with another deliver subject.
  sink_.up.clear();
  rewriter_.split_registry().Add("_INBOX.push", 0, "C");
  split_->OnClientSubscribe("_INBOX.push", "", now_);
  AnswerRecordedInfo(*split_, sink_, 0, "[meridian deliver _INBOX.new]", now_);
  EXPECT_EQ(sink_.subs.size(), 1u);
  EXPECT_EQ(rewriter_.split_registry().size(), 0u);
  // Deleted through this sidecar: forgotten at once.
  sink_.up.clear();
  CreateRecorded();
  ASSERT_EQ(rewriter_.split_registry().size(), 1u);
  sink_.up.clear();
  ASSERT_TRUE(split_->OnClientRequest("$JS.API.CONSUMER.DELETE.foo.C", "_INBOX.c", "", now_));
  split_->OnUpstreamMessage("_MRDN_SR", sink_.up[0].reply, "", "", kMissing, now_);
  for (std::size_t i = 1; i < 4; ++i) {
    split_->OnUpstreamMessage(
        "_MRDN_SR", sink_.up[i].reply, "", "",
        R"({"type":"io.nats.jetstream.api.v1.consumer_delete_response","success":true})", now_);
  }
  EXPECT_EQ(rewriter_.split_registry().size(), 0u);
}

TEST_F(SplitRegistryBindTest, TwoConsumersOnOneDeliverSubjectAreBothBound) {
  rewriter_.split_registry().Add("_INBOX.both", 0, "C");
  rewriter_.split_registry().Add("_INBOX.both", 0, "D");
  split_->OnClientSubscribe("_INBOX.both", "", now_);
  ASSERT_EQ(sink_.up.size(), 8u);
  EXPECT_EQ(sink_.up[0].subject, "$JS.API.CONSUMER.INFO.foo-read-west.C");
  EXPECT_EQ(sink_.up[4].subject, "$JS.API.CONSUMER.INFO.foo-read-west.D");
}

TEST_F(SplitRegistryBindTest, AListTheClientsUserMayNotSendIsNotTheClientsErrorNorRetriedHere) {
  split_->OnClientSubscribe("_INBOX.a", "", now_);
  split_->Tick(now_);
  ASSERT_EQ(sink_.up.size(), 1u);
  EXPECT_FALSE(split_->OnUpstreamError("Permissions Violation for Subscription to \"x\"", now_));
  EXPECT_TRUE(split_->OnUpstreamError(
      "Permissions Violation for Publish to \"$JS.API.CONSUMER.LIST.foo-read-west\"", now_));
  EXPECT_FALSE(rewriter_.split_registry().refresh_in_flight(now_));
  split_->Tick(now_ + 30s);
  EXPECT_EQ(sink_.up.size(), 1u);  // not on this connection again
  RecordingSink other_sink;
  auto other = Other(other_sink, "8");
  other->OnClientSubscribe("_INBOX.b", "", now_ + 31s);
  other->Tick(now_ + 31s);
  ASSERT_EQ(other_sink.up.size(), 1u);  // another connection runs it
  // A connection that never asked: the -ERR is the client's own (its own LIST request).
  RecordingSink third_sink;
  auto third = Other(third_sink, "9");
  EXPECT_FALSE(third->OnUpstreamError(
      "Permissions Violation for Publish to \"$JS.API.CONSUMER.LIST.foo-read-west\"", now_));
}

// The refusal is the operator's to see: counted, and one warning naming region, virtual
// stream, read stream and the server's reason; the registry backs off for its interval, so
// connections of users who may not list retry once per interval, not one after another.
TEST_F(SplitRegistryBindTest, ARefusedListIsCountedWarnedAboutAndBacksOffTheNextRefresh) {
  split_->OnClientSubscribe("_INBOX.a", "", now_);
  split_->Tick(now_);
  ASSERT_EQ(sink_.up.size(), 1u);
  const std::string err =
      "Permissions Violation for Publish to \"$JS.API.CONSUMER.LIST.foo-read-west\"";
  EXPECT_TRUE(split_->OnUpstreamError(err, now_));
  ASSERT_EQ(sink_.warnings.size(), 1u);
  const std::string& w = sink_.warnings[0];
  for (const char* part : {"region west", "virtual stream foo", "foo-read-west", err.c_str()}) {
    EXPECT_NE(w.find(part), std::string::npos) << part << " not in: " << w;
  }
  EXPECT_EQ(split_->stats().list_refused, 1u);
  const SplitRegistryStats& rs = rewriter_.split_registry().stats();
  EXPECT_EQ(rs.list_refused, 1u);
  EXPECT_EQ(rs.refreshes_refused, 1u);

  RecordingSink other_sink;
  auto other = Other(other_sink, "8");
  other->OnClientSubscribe("_INBOX.b", "", now_ + 1s);
  other->Tick(now_ + 1s);
  EXPECT_TRUE(other_sink.up.empty());  // backed off
  other->Tick(now_ + 10s);
  ASSERT_EQ(other_sink.up.size(), 1u);
  // Refused again within the report interval: counted, not warned about again.
  EXPECT_TRUE(other->OnUpstreamError(err, now_ + 10s));
  EXPECT_TRUE(other_sink.warnings.empty());
  EXPECT_EQ(rs.list_refused, 2u);
  // A JSON error reply is a refusal too (the stream keeps what the registry had).
  RecordingSink third_sink;
  auto third = Other(third_sink, "9");
  third->OnClientSubscribe("_INBOX.c", "", now_ + 80s);
  third->Tick(now_ + 80s);
  ASSERT_EQ(third_sink.up.size(), 1u);
  third->OnUpstreamMessage("_MRDN_SR", third_sink.up[0].reply, "", "",
                           R"({"type":"io.nats.jetstream.api.v1.consumer_list_response",)"
                           R"("error":{"code":503,"err_code":10039,)"
                           R"("description":"jetstream not enabled for account"}})",
                           now_ + 80s);
  ASSERT_EQ(third_sink.warnings.size(), 1u);
  EXPECT_NE(third_sink.warnings[0].find("jetstream not enabled for account (err_code 10039)"),
            std::string::npos)
      << third_sink.warnings[0];
  EXPECT_NE(third_sink.warnings[0].find("(1 more refusals since the last report)"),
            std::string::npos)
      << third_sink.warnings[0];
  EXPECT_EQ(rs.list_refused, 3u);
}

}  // namespace
}  // namespace meridian::rewrite
