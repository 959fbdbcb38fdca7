// Consumers through the engine: creation rules, pull requests and their statuses, acks,
// redelivery, push delivery, retention policies and restart.
#include "harness.h"

namespace meridian::jetstream::testing {
namespace {

class ConsumerTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    CreateStream({{"name", "S"}, {"subjects", {"s.>"}}});
  }
  Json Create(const std::string& name, Json cfg, const std::string& suffix = "") {
    return Api("$JS.API.CONSUMER.CREATE.S." + name + suffix,
               Json({{"stream_name", "S"}, {"config", cfg}}).dump());
  }
  std::vector<Sent> Pull(const std::string& consumer, const std::string& body,
                         const std::string& inbox = "_INBOX.pull") {
    out_.interest.insert(inbox);
    std::string reply;
    engine_->HandleApi("$JS.API.CONSUMER.MSG.NEXT.S." + consumer, inbox, "", body, &reply);
    return out_.Take();
  }
  Json Info(const std::string& c) { return Api("$JS.API.CONSUMER.INFO.S." + c); }
  void Ack(const Sent& m, const std::string& payload = "+ACK") {
    engine_->HandleAck(m.reply, "", payload);
  }
};

TEST_F(ConsumerTest, DurableCreateMatchesStockShape) {
  Pub("s.a", "x");
  Json got = Create("C1", {{"durable_name", "C1"}, {"ack_policy", "explicit"}});
  EXPECT_EQ(got["config"], Json::parse(R"({"durable_name":"C1","name":"C1","deliver_policy":"all",
    "ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant",
    "max_waiting":512,"max_ack_pending":1000,"num_replicas":0})"));
  EXPECT_EQ(got["num_pending"], 1);
  EXPECT_EQ(got["delivered"], Json({{"consumer_seq", 0}, {"stream_seq", 0}}));
}

TEST_F(ConsumerTest, NamedCreateWithoutDurableIsEphemeralWith5sInactiveThreshold) {
  Json got = Create("E", {{"ack_policy", "explicit"}});
  EXPECT_EQ(got["config"]["inactive_threshold"], 5'000'000'000);
  Advance(6000);
  EXPECT_EQ(Info("E")["error"]["err_code"], 10014);
}

TEST_F(ConsumerTest, SubjectAndBodyRulesGiveTheirCodes) {
  EXPECT_EQ(Api("$JS.API.CONSUMER.CREATE.S",
                R"({"stream_name":"S","config":{"durable_name":"D"}})")["error"]["err_code"],
            10020);
  EXPECT_EQ(Create("C", {{"durable_name", "X"}})["error"]["err_code"], 10017);
  EXPECT_EQ(Create("C", {{"filter_subject", "s.b"}}, ".s.a")["error"]["err_code"], 10131);
  EXPECT_EQ(Api("$JS.API.CONSUMER.DURABLE.CREATE.S.C",
                R"({"stream_name":"S","config":{}})")["error"]["err_code"],
            10018);
  EXPECT_EQ(
      Api("$JS.API.CONSUMER.CREATE.S.C", R"({"stream_name":"X","config":{}})")["error"]["err_code"],
      10056);
  EXPECT_EQ(Api("$JS.API.CONSUMER.CREATE.S.C",
                R"({"stream_name":"S","config":{},"action":"update"})")["error"]["err_code"],
            10149);
}

TEST_F(ConsumerTest, ActionCreateRefusesADifferentConfigButAcceptsTheSame) {
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  std::string same =
      R"({"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit"},"action":"create"})";
  EXPECT_FALSE(Api("$JS.API.CONSUMER.CREATE.S.C", same).contains("error"));
  std::string diff =
      R"({"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit","description":"d"},"action":"create"})";
  EXPECT_EQ(Api("$JS.API.CONSUMER.CREATE.S.C", diff)["error"]["err_code"], 10148);
}

TEST_F(ConsumerTest, UpdateOfDeliverPolicyIsRefused) {
  Create("C", {{"durable_name", "C"}});
  Json r = Create("C", {{"durable_name", "C"}, {"deliver_policy", "new"}});
  EXPECT_EQ(r["error"]["err_code"], 10012);
  EXPECT_EQ(r["error"]["description"], "deliver policy can not be updated");
}

TEST_F(ConsumerTest, ConfigValidation) {
  EXPECT_EQ(Create("C", {{"idle_heartbeat", 1'000'000'000}})["error"]["err_code"], 10088);
  EXPECT_EQ(Create("C", {{"deliver_subject", "d.*"}})["error"]["err_code"], 10079);
  EXPECT_EQ(Create("C", {{"deliver_subject", "s.x"}})["error"]["err_code"], 10081);
  EXPECT_EQ(Create("C", {{"deliver_policy", "by_start_sequence"}})["error"]["err_code"], 10094);
  EXPECT_EQ(Create("C", {{"filter_subject", "a"}, {"filter_subjects", {"b"}}})["error"]["err_code"],
            10136);
}

TEST_F(ConsumerTest, PullDeliversWithNineTokenAckSubject) {
  Pub("s.a", "one");
  Pub("s.b", "two");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  auto got = Pull("C", R"({"batch":1})");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "_INBOX.pull");
  EXPECT_EQ(got[0].payload, "one");
  EXPECT_TRUE(got[0].reply.starts_with("$JS.ACK.S.C.1.1.1.")) << got[0].reply;
  EXPECT_TRUE(got[0].reply.ends_with(".1")) << got[0].reply;  // one more pending
  Ack(got[0]);
  Json info = Info("C");
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 1);
  EXPECT_EQ(info["num_ack_pending"], 0);
  EXPECT_EQ(info["num_pending"], 1);
}

TEST_F(ConsumerTest, NoWaitWithNothingPendingIs404) {
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  auto got = Pull("C", R"({"batch":5,"no_wait":true})");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers, "NATS/1.0 404 No Messages\r\n\r\n");
}

// nats-server 2.9.10: when requests already waiting want more messages than the consumer has
// left to deliver, a no_wait request is refused with 408 Requests Pending (no pending headers).
// Requests wait with messages left when max_ack_pending holds deliveries back.
TEST_F(ConsumerTest, NoWaitWhileWaitingRequestsWantMoreThanIsLeftIs408RequestsPending) {
  for (int i = 0; i < 3; ++i) Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"max_ack_pending", 1}});
  auto first = Pull("C", R"({"batch":1})", "_INBOX.a");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(Pull("C", R"({"batch":5})", "_INBOX.b").empty());  // held by max_ack_pending
  auto got = Pull("C", R"({"batch":1,"no_wait":true})", "_INBOX.c");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "_INBOX.c");
  EXPECT_EQ(got[0].headers, "NATS/1.0 408 Requests Pending\r\n\r\n");
  EXPECT_EQ(Info("C")["num_waiting"], 1);  // refused, not queued
  // The waiting request still gets the next message.
  Ack(first[0]);
  got = out_.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "_INBOX.b");
}

// Only live requests count: one whose requester went away does not make the no_wait pending.
TEST_F(ConsumerTest, NoWaitIgnoresWaitingRequestsWithoutInterest) {
  for (int i = 0; i < 3; ++i) Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"max_ack_pending", 1}});
  ASSERT_EQ(Pull("C", R"({"batch":1})", "_INBOX.a").size(), 1u);
  EXPECT_TRUE(Pull("C", R"({"batch":5})", "_INBOX.b").empty());
  out_.interest.erase("_INBOX.b");
  for (const auto& m : Pull("C", R"({"batch":1,"no_wait":true})", "_INBOX.c")) {
    EXPECT_FALSE(m.headers.starts_with("NATS/1.0 408 Requests Pending")) << m.headers;
  }
}

// Waiting requests that want exactly what is left do not refuse it (the test is "fewer left
// than wanted", as nats-server's).
TEST_F(ConsumerTest, NoWaitIsNotRefusedWhenWaitingRequestsWantExactlyWhatIsLeft) {
  for (int i = 0; i < 5; ++i) Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"max_ack_pending", 1}});
  ASSERT_EQ(Pull("C", R"({"batch":1})", "_INBOX.a").size(), 1u);
  EXPECT_TRUE(Pull("C", R"({"batch":4})", "_INBOX.b").empty());  // 4 left, 4 wanted
  for (const auto& m : Pull("C", R"({"batch":1,"no_wait":true})", "_INBOX.c")) {
    EXPECT_FALSE(m.headers.starts_with("NATS/1.0 408 Requests Pending")) << m.headers;
  }
  EXPECT_TRUE(Pull("C", R"({"batch":1})", "_INBOX.e").empty());  // now 5 wanted
  EXPECT_EQ(Pull("C", R"({"batch":1,"no_wait":true})", "_INBOX.d").at(0).headers,
            "NATS/1.0 408 Requests Pending\r\n\r\n");
}

// nats-server 2.9.10: a no_wait request without expires that finds messages left but none
// deliverable (max_ack_pending reached) is queued as a one-shot, not answered 404; the first
// delivery ends it.
TEST_F(ConsumerTest, NoWaitWithoutExpiresHeldByMaxAckPendingWaitsAsAOneShot) {
  for (int i = 0; i < 3; ++i) Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"max_ack_pending", 1}});
  auto first = Pull("C", R"({"batch":1})", "_INBOX.a");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(Pull("C", R"({"batch":1,"no_wait":true})", "_INBOX.c").empty()) << "no 404";
  EXPECT_EQ(Info("C")["num_waiting"], 1);
  Ack(first[0]);
  auto got = out_.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "_INBOX.c");
  EXPECT_EQ(got[0].payload, "x");
  EXPECT_EQ(Info("C")["num_waiting"], 0) << "a one-shot: served once, then gone";
}

// The same with a batch the held-back consumer cannot fill: after the first delivery the
// one-shot takes what else is deliverable and ends with 408 and the pending counts.
TEST_F(ConsumerTest, NoWaitOneShotWithABatchEndsWith408AfterItsFirstDelivery) {
  for (int i = 0; i < 3; ++i) Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"max_ack_pending", 1}});
  auto first = Pull("C", R"({"batch":1})", "_INBOX.a");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(Pull("C", R"({"batch":3,"no_wait":true})", "_INBOX.c").empty());
  Ack(first[0]);
  auto got = out_.Take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "x");
  EXPECT_EQ(got[1].subject, "_INBOX.c");
  EXPECT_TRUE(got[1].headers.starts_with("NATS/1.0 408 Request Timeout")) << got[1].headers;
  EXPECT_EQ(Info("C")["num_waiting"], 0);
}

TEST_F(ConsumerTest, NoWaitWithSomeMessagesEndsWith408AndPendingCounts) {
  Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  auto got = Pull("C", R"({"batch":5,"no_wait":true})");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].headers,
            "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 4\r\nNats-Pending-Bytes: "
            "0\r\n\r\n");
}

// libnats' Fetch sends {"no_wait":true,"expires":...}: with nothing pending nats-server 2.9.10
// waits (long poll) and returns as soon as a message comes, ending with 408 and the pending
// counts; it never answers 408 at once (which made libnats clients poll in a busy loop).
TEST_F(ConsumerTest, NoWaitWithExpiresAndNothingPendingWaitsThenEndsAfterTheFirstMessage) {
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  EXPECT_TRUE(Pull("C", R"({"batch":5,"expires":1000000000,"no_wait":true})").empty());
  EXPECT_EQ(Info("C")["num_waiting"], 1);
  Pub("s.a", "late");
  auto got = out_.Take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "late");
  EXPECT_EQ(got[1].headers,
            "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 4\r\nNats-Pending-Bytes: "
            "0\r\n\r\n");
  EXPECT_EQ(Info("C")["num_waiting"], 0);
  Pub("s.a", "later");  // the request has ended: nobody gets it
  EXPECT_TRUE(out_.Take().empty());
}

TEST_F(ConsumerTest, NoWaitWithExpiresAndNothingPublishedGets408AtExpiry) {
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  EXPECT_TRUE(Pull("C", R"({"batch":2,"expires":1000000000,"no_wait":true})").empty());
  Advance(500);
  EXPECT_TRUE(out_.Take().empty());
  Advance(600);
  auto got = out_.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].headers.starts_with("NATS/1.0 408 Request Timeout\r\n")) << got[0].headers;
  EXPECT_EQ(Info("C")["num_waiting"], 0);
}

// The server arms a timer for the earliest expiry of a waiting pull request (so the 408 is
// on time, not up to a 100 ms tick late): the engine tells it when one started waiting.
TEST_F(ConsumerTest, WaitingPullRequestsTellTheServerWhenTheEarliestExpires) {
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  EXPECT_EQ(engine_->TakePullWakeNs(), -1);
  Pull("C", R"({"batch":1})");  // no expires: nothing to wake for
  EXPECT_EQ(engine_->TakePullWakeNs(), -1);
  Pull("C", R"({"batch":1,"expires":2000000000})", "_INBOX.a");
  Pull("C", R"({"batch":1,"expires":1000000000,"no_wait":true})", "_INBOX.b");
  EXPECT_EQ(engine_->TakePullWakeNs(), 1'000'000'000);
  EXPECT_EQ(engine_->TakePullWakeNs(), -1);  // taken
  Pull("C", R"({"batch":1,"expires":500000000})", "_INBOX.c");
  Advance(200);
  EXPECT_EQ(engine_->TakePullWakeNs(), 300'000'000);
  Pub("s.a", "x");  // served: the first waiting request (no expires) takes it
  out_.Take();
  Pull("C", R"({"batch":1,"no_wait":true})");  // 404 at once: never waits
  EXPECT_EQ(engine_->TakePullWakeNs(), -1);
}

TEST_F(ConsumerTest, ExpiredRequestGets408) {
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  EXPECT_TRUE(Pull("C", R"({"batch":2,"expires":1000000000})").empty());
  Advance(1100);
  auto got = out_.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].headers.starts_with("NATS/1.0 408 Request Timeout\r\n"));
  EXPECT_EQ(Info("C")["num_waiting"], 0);
}

TEST_F(ConsumerTest, WaitingRequestIsServedByALaterPublish) {
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  Pull("C", R"({"batch":1,"expires":5000000000})");
  Pub("s.a", "late");
  auto got = out_.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "late");
}

TEST_F(ConsumerTest, PullRequestLimitsAnd409s) {
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"max_batch", 2}});
  EXPECT_EQ(Pull("C", R"({"batch":3})").at(0).headers,
            "NATS/1.0 409 Exceeded MaxRequestBatch of 2\r\n\r\n");
  EXPECT_EQ(Pull("C", R"({"batch":1,"idle_heartbeat":1000000000})").at(0).headers,
            "NATS/1.0 400 Bad Request - heartbeat value too large\r\n\r\n");
  Create("P", {{"durable_name", "P"}, {"deliver_subject", "d.p"}});
  EXPECT_EQ(Pull("P", "1").at(0).headers, "NATS/1.0 409 Consumer is push based\r\n\r\n");
}

TEST_F(ConsumerTest, PullHeartbeatsWhileIdle) {
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  Pull("C", R"({"batch":1,"expires":10000000000,"idle_heartbeat":1000000000})");
  Advance(1000);
  auto got = out_.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers,
            "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: "
            "0\r\n\r\n");
}

TEST_F(ConsumerTest, DeletingAConsumerEndsWaitingRequestsWith409) {
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  Pull("C", R"({"batch":1,"expires":10000000000})");
  EXPECT_EQ(Api("$JS.API.CONSUMER.DELETE.S.C")["success"], true);
  EXPECT_EQ(out_.Take().at(0).headers, "NATS/1.0 409 Consumer Deleted\r\n\r\n");
}

// EngineOptions::consumer_deleted (the server withdraws a consumer's ack interest over leaf
// connections with it): told for CONSUMER.DELETE and for each consumer of a deleted stream.
TEST_F(ConsumerTest, ConsumerDeletedIsToldForDeletesAndStreamDeletes) {
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  Create("D", {{"durable_name", "D"}, {"ack_policy", "explicit"}});
  EXPECT_TRUE(consumers_deleted_.empty());
  EXPECT_EQ(Api("$JS.API.CONSUMER.DELETE.S.C")["success"], true);
  EXPECT_EQ(consumers_deleted_, std::vector<std::string>{"S C"});
  EXPECT_EQ(Api("$JS.API.STREAM.DELETE.S")["success"], true);
  EXPECT_EQ(consumers_deleted_, (std::vector<std::string>{"S C", "S D"}));
}

TEST_F(ConsumerTest, AckWaitExpiryRedeliversWithIncreasedCount) {
  Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"ack_wait", 1'000'000'000}});
  Pull("C", "1");
  Advance(1500);
  auto got = Pull("C", "1");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].reply.starts_with("$JS.ACK.S.C.2.1.2.")) << got[0].reply;
  EXPECT_EQ(Info("C")["num_redelivered"], 1);
}

TEST_F(ConsumerTest, NakWithDelayRedeliversLater) {
  Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  auto first = Pull("C", "1");
  Ack(first[0], R"(-NAK {"delay": 2000000000})");
  EXPECT_TRUE(Pull("C", R"({"batch":1,"expires":10000000000})").empty());
  Advance(2100);
  auto got = out_.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].reply.starts_with("$JS.ACK.S.C.2.1.")) << got[0].reply;
}

TEST_F(ConsumerTest, TermStopsRedeliveryAndAckAckIsSent) {
  Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"ack_wait", 1'000'000'000}});
  auto first = Pull("C", "1");
  engine_->HandleAck(first[0].reply, "_INBOX.ackack", "+TERM");
  auto acks = TakeAfterStateWrites(1);  // answered once the consumer state is durable
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].subject, "_INBOX.ackack");
  Advance(2000);
  EXPECT_EQ(Info("C")["num_ack_pending"], 0);
}

TEST_F(ConsumerTest, MaxDeliverStopsRedelivering) {
  Pub("s.a", "x");
  Create("C", {{"durable_name", "C"},
               {"ack_policy", "explicit"},
               {"ack_wait", 1'000'000'000},
               {"max_deliver", 2}});
  EXPECT_EQ(Pull("C", R"({"batch":10,"expires":60000000000})").size(), 1u);
  Advance(1100);
  Advance(1100);
  Advance(1100);
  EXPECT_EQ(out_.Take().size(), 1u);  // one redelivery, then max_deliver (2) is reached
}

TEST_F(ConsumerTest, AckAllAcksEverythingBelow) {
  for (int i = 0; i < 3; ++i) Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "all"}});
  auto got = Pull("C", "3");
  ASSERT_EQ(got.size(), 3u);
  Ack(got[1]);
  EXPECT_EQ(Info("C")["num_ack_pending"], 1);
}

TEST_F(ConsumerTest, NxtAcksAndPullsWithTheAckReplyAsInbox) {
  Pub("s.a", "1");
  Pub("s.a", "2");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  auto first = Pull("C", "1");
  out_.interest.insert("_INBOX.nxt");
  engine_->HandleAck(first[0].reply, "_INBOX.nxt", "+NXT");
  auto got = out_.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "_INBOX.nxt");
  EXPECT_EQ(got[0].payload, "2");
}

TEST_F(ConsumerTest, MaxAckPendingHoldsDeliveries) {
  for (int i = 0; i < 3; ++i) Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"max_ack_pending", 1}});
  auto got = Pull("C", R"({"batch":3,"expires":10000000000})");
  ASSERT_EQ(got.size(), 1u);
  Ack(got[0]);
  EXPECT_EQ(out_.Take().size(), 1u);
}

TEST_F(ConsumerTest, DeliverPolicies) {
  Pub("s.a", "1");
  Pub("s.b", "2");
  Pub("s.a", "3");
  Create("L", {{"durable_name", "L"}, {"deliver_policy", "last"}});
  EXPECT_EQ(Info("L")["delivered"]["stream_seq"], 2);
  EXPECT_EQ(Pull("L", "5", "_INBOX.l").at(0).payload, "3");
  Create("N", {{"durable_name", "N"}, {"deliver_policy", "new"}});
  EXPECT_EQ(Info("N")["num_pending"], 0);
  Create("Q",
         {{"durable_name", "Q"}, {"deliver_policy", "by_start_sequence"}, {"opt_start_seq", 2}});
  EXPECT_EQ(Pull("Q", "1", "_INBOX.q").at(0).payload, "2");
  Create(
      "P",
      {{"durable_name", "P"}, {"deliver_policy", "last_per_subject"}, {"filter_subject", "s.>"}});
  auto got = Pull("P", R"({"batch":5,"no_wait":true})", "_INBOX.p2");
  ASSERT_EQ(got.size(), 3u);  // 2, 3, then 408
  EXPECT_EQ(got[0].payload, "2");
  EXPECT_EQ(got[1].payload, "3");
}

TEST_F(ConsumerTest, FilterSubjectsDeliverOnlyMatches) {
  Pub("s.a", "1");
  Pub("s.b", "2");
  Pub("s.c", "3");
  Create("F", {{"durable_name", "F"}, {"filter_subjects", {"s.a", "s.c"}}});
  auto got = Pull("F", R"({"batch":5,"no_wait":true})");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].payload, "1");
  EXPECT_EQ(got[1].payload, "3");
}

TEST_F(ConsumerTest, PushDeliversWhenThereIsInterestAndHeartbeats) {
  Pub("s.a", "1");
  Create("P",
         {{"durable_name", "P"}, {"deliver_subject", "d.p"}, {"idle_heartbeat", 1'000'000'000}});
  EXPECT_TRUE(out_.Take().empty());  // no interest yet
  out_.interest.insert("d.p");
  Advance(10);
  auto got = out_.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].subject, "d.p");
  Advance(1000);
  got = out_.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].headers,
            "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 1\r\nNats-Last-Stream: "
            "1\r\n\r\n");
  EXPECT_EQ(Info("P")["push_bound"], true);
}

TEST_F(ConsumerTest, HeadersOnlyAddsMsgSize) {
  Pub("s.a", "hello");
  Create("C", {{"durable_name", "C"}, {"headers_only", true}});
  auto got = Pull("C", "1");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "");
  EXPECT_EQ(got[0].headers, "NATS/1.0\r\nNats-Msg-Size: 5\r\n\r\n");
}

TEST_F(ConsumerTest, NamesAndList) {
  Create("B", {{"durable_name", "B"}});
  Create("A", {{"durable_name", "A"}});
  Json names = Api("$JS.API.CONSUMER.NAMES.S");
  EXPECT_EQ(names["consumers"], Json({"A", "B"}));
  EXPECT_EQ(names["limit"], 1024);
  EXPECT_EQ(Api("$JS.API.CONSUMER.LIST.S")["consumers"].size(), 2u);
  CreateStream({{"name", "E"}});
  EXPECT_EQ(Api("$JS.API.CONSUMER.NAMES.E")["consumers"], Json::array());
}

TEST_F(ConsumerTest, ConsumerNotFoundMatchesStockReply) {
  Api("$JS.API.CONSUMER.INFO.S.NOPE");
  EXPECT_EQ(Json::parse(last_reply_), Json::parse(ReadFixture("error_consumer_not_found.json")));
}

TEST_F(ConsumerTest, WorkQueueRemovesAckedMessagesAndRequiresExplicitAck) {
  CreateStream({{"name", "W"}, {"subjects", {"w.>"}}, {"retention", "workqueue"}});
  Json bad =
      Api("$JS.API.CONSUMER.CREATE.W.C", R"({"stream_name":"W","config":{"durable_name":"C"}})");
  EXPECT_EQ(bad["error"]["err_code"], 10084);
  Api("$JS.API.CONSUMER.CREATE.W.C",
      R"({"stream_name":"W","config":{"durable_name":"C","ack_policy":"explicit"}})");
  Json second = Api("$JS.API.CONSUMER.CREATE.W.D",
                    R"({"stream_name":"W","config":{"durable_name":"D","ack_policy":"explicit"}})");
  EXPECT_EQ(second["error"]["err_code"], 10099);
  Pub("w.a", "job");
  out_.interest.insert("_INBOX.w");
  std::string reply;
  engine_->HandleApi("$JS.API.CONSUMER.MSG.NEXT.W.C", "_INBOX.w", "", "1", &reply);
  auto got = out_.Take();
  ASSERT_EQ(got.size(), 1u);
  Ack(got[0]);
  EXPECT_EQ(Api("$JS.API.STREAM.INFO.W")["state"]["messages"], 0);
}

TEST_F(ConsumerTest, InterestRetentionDropsMessagesNobodyWants) {
  CreateStream({{"name", "I"}, {"subjects", {"i.>"}}, {"retention", "interest"}});
  EXPECT_EQ(Pub("i.a", "x"), "{\"stream\":\"I\", \"seq\":1}");
  EXPECT_EQ(Api("$JS.API.STREAM.INFO.I")["state"]["messages"], 0);
  Api("$JS.API.CONSUMER.CREATE.I.C",
      R"({"stream_name":"I","config":{"durable_name":"C","ack_policy":"explicit"}})");
  Pub("i.a", "y");
  EXPECT_EQ(Api("$JS.API.STREAM.INFO.I")["state"]["messages"], 1);
}

TEST_F(ConsumerTest, StreamsAndConsumerStateSurviveARestart) {
  for (int i = 0; i < 3; ++i) Pub("s.a", std::to_string(i));
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}});
  auto got = Pull("C", "2");
  ASSERT_EQ(got.size(), 2u);
  Ack(got[0]);
  engine_->Close();
  Reopen();
  Json info = Info("C");
  EXPECT_EQ(info["delivered"]["stream_seq"], 2);
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 1);
  EXPECT_EQ(info["num_ack_pending"], 1);
  EXPECT_EQ(info["num_pending"], 1);
  EXPECT_EQ(Api("$JS.API.STREAM.INFO.S")["state"]["messages"], 3);
  EXPECT_EQ(Pull("C", "1").at(0).payload, "2");
  // The dedupe window is rebuilt from the stored messages.
  Pub("s.a", "d", Headers({{"Nats-Msg-Id", "once"}}));
  engine_->Close();
  Reopen();
  EXPECT_NE(Pub("s.a", "d", Headers({{"Nats-Msg-Id", "once"}})).find("\"duplicate\": true"),
            std::string::npos);
}

TEST_F(ConsumerTest, LegacyEphemeralCreateGetsAGeneratedName) {
  Json r =
      Api("$JS.API.CONSUMER.CREATE.S", R"({"stream_name":"S","config":{"deliver_subject":"d.e"}})");
  ASSERT_FALSE(r.contains("error")) << r;
  EXPECT_EQ(r["name"].get<std::string>().size(), 8u);
  EXPECT_EQ(r["config"]["inactive_threshold"], 5'000'000'000);
}

TEST_F(ConsumerTest, WorkingAckResetsTheAckTimer) {
  Pub("s.a", "x");
  Create("C", {{"durable_name", "C"}, {"ack_policy", "explicit"}, {"ack_wait", 1'000'000'000}});
  auto first = Pull("C", "1");
  Advance(800);
  Ack(first[0], "+WPI");
  Advance(800);
  EXPECT_TRUE(Pull("C", R"({"batch":1,"no_wait":true})").at(0).headers.starts_with("NATS/1.0 404"));
}

TEST_F(ConsumerTest, PushFlowControlAsksAndWaitsForTheClient) {
  Create("P", {{"durable_name", "P"},
               {"deliver_subject", "d.p"},
               {"idle_heartbeat", 1'000'000'000},
               {"flow_control", true}});
  out_.interest.insert("d.p");
  std::string big(600 * 1024, 'x');
  for (int i = 0; i < 6; ++i) Pub("s.a", big);
  auto got = out_.Take();
  // Two deliveries pass half the 2 MiB window: a flow-control request follows; delivery
  // stops once more than the window is unconfirmed.
  ASSERT_GE(got.size(), 3u);
  EXPECT_EQ(got[2].headers, "NATS/1.0 100 FlowControl Request\r\n\r\n");
  EXPECT_EQ(got[2].reply, "$JS.FC.S.P.1");
  size_t delivered = 0;
  for (const auto& m : got) delivered += m.payload.size() == big.size() ? 1 : 0;
  EXPECT_LT(delivered, 6u);
  engine_->HandleFlowControl("$JS.FC.S.P.1");
  for (const auto& m : out_.Take()) delivered += m.payload.size() == big.size() ? 1 : 0;
  EXPECT_EQ(delivered, 6u);
}

}  // namespace
}  // namespace meridian::jetstream::testing
