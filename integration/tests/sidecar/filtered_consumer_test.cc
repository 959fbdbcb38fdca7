// Consumers filtered on foo.test through the sidecar on stock 2.9.10: stored as one consumer
// per origin region (`<name>__<origin>`, filter foo.<origin>.test), presented as one
// (proxy/rewrite/README.md "Split consumers"). The durable pull case is in
// virtual_stream_test.cc (ConsumerFilteredOnFooTestSeesOnlyFooTest).
#include <thread>

#include "consumers.h"
#include "sidecar_world.h"

namespace meridian::sidecar_it {
namespace {

using nlohmann::json;

// Publishes foo.test and foo.other through every region's sidecar and waits until every read
// stream has them. Returns the foo.test payloads; `others` gets the foo.other ones.
std::set<std::string> PublishTestAndOther(const std::string& what, std::set<std::string>& others) {
  const std::string token = UniqueToken(what);
  std::set<std::string> wanted;
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "filter-pub-" + r);
    JsPublish(nc.get(), "foo.test", token + "-" + r + "@foo.test");
    wanted.insert(token + "-" + r + "@foo.test");
    JsPublish(nc.get(), "foo.other", token + "-" + r + "@foo.other");
    others.insert(token + "-" + r + "@foo.other");
  }
  WaitForConvergence("foo");
  return wanted;
}

void ExpectOnlyFooTest(const std::vector<Received>& got, const std::set<std::string>& others,
                       const std::string& where) {
  for (const auto& m : got) {
    EXPECT_EQ(m.subject, "foo.test") << where << ": " << m.payload;
    EXPECT_EQ(m.stream, "foo") << where << ": " << m.payload;
    EXPECT_EQ(others.count(m.payload), 0u) << where << ": foo.other delivered: " << m.payload;
  }
}

TEST_F(SidecarTest, PushConsumerFilteredOnFooTestSeesOnlyFooTestAndAcksStick) {
  std::set<std::string> others;
  const std::set<std::string> wanted = PublishTestAndOther("push-filter", others);
  const std::string region = "west";
  const std::string durable = "pushfilt-" + std::to_string(::getpid());
  Connection nc = ConnectSidecar(region, "push-filtered");
  JetStream js = JetStreamOf(nc.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.ManualAck = true;
  so.Config.Durable = durable.c_str();
  so.Config.AckWait = 1500LL * 1000 * 1000;
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_SubscribeSync(&raw, js.get(), "foo.test", nullptr, &so, &err),
        "durable push consumer filtered on foo.test (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  auto got = ReceiveUntil(sub.get(), false, wanted, true, std::chrono::seconds(10));
  auto rest = ReceiveUntil(sub.get(), false, {"(never)"}, true, std::chrono::milliseconds(1000));
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(Missing(wanted, got), "(none)");
  ExpectOnlyFooTest(got, others, "push");
  for (const auto& m : got) EXPECT_EQ(m.delivered, 1u) << m.payload;
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  natsMsg* again = nullptr;
  EXPECT_EQ(natsSubscription_NextMsg(&again, sub.get(), 500), NATS_TIMEOUT)
      << "redelivered after ack: " << (again ? DataOf(again) : "");
  if (again) natsMsg_Destroy(again);
  for (const auto& origin : kRegions) {
    json direct = ServerApi(
        region, "$JS.API.CONSUMER.INFO.foo-read-" + region + "." + durable + "__" + origin);
    EXPECT_EQ(direct.value("num_ack_pending", -1), 0) << direct.dump();
    EXPECT_EQ(direct.value("num_redelivered", -1), 0) << direct.dump();
  }
}

TEST_F(SidecarTest, OrderedConsumerFilteredOnFooTestSeesEveryRegionsFooTestInOrder) {
  std::set<std::string> others;
  const std::set<std::string> wanted = PublishTestAndOther("ordered-filter", others);
  Connection nc = ConnectSidecar("central", "ordered-filtered");
  JetStream js = JetStreamOf(nc.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Ordered = true;
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_SubscribeSync(&raw, js.get(), "foo.test", nullptr, &so, &err),
        "ordered consumer filtered on foo.test (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  auto got = ReceiveUntil(sub.get(), false, wanted, false, std::chrono::seconds(10));
  EXPECT_EQ(Missing(wanted, got), "(none)");
  ExpectOnlyFooTest(got, others, "ordered");
  // Every message once: an ordered consumer that saw a gap would have started over.
  std::set<std::string> seen;
  for (const auto& m : got) EXPECT_TRUE(seen.insert(m.payload).second) << "twice: " << m.payload;
}

// A client resumes a filtered consumer with "by start sequence: the last one I got + 1" (what
// an ordered consumer does on a reset). The split consumer's origins deliver interleaved, not
// in stream order, so the last message may come from an origin ahead of the others: the
// sidecar starts each origin where it was, and nothing is skipped or delivered twice.
TEST_F(SidecarTest, ResumingAFilteredConsumerAfterItsLastMessageSkipsNoOrigin) {
  const std::string token = UniqueToken("resume");
  const std::string region = "west";
  // Only this test's messages: the consumers start after what the read stream holds now.
  json before = ServerApi(region, "$JS.API.STREAM.INFO.foo-read-" + region);
  const uint64_t start = before["state"].value("last_seq", uint64_t{0}) + 1;
  std::set<std::string> wanted;
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "resume-pub-" + r);
    for (int i = 0; i < 8; ++i) {
      const std::string payload = token + "-" + r + "-" + std::to_string(i);
      JsPublish(nc.get(), "foo.test", payload);
      wanted.insert(payload);
    }
  }
  WaitForConvergence("foo");
  Connection nc = ConnectSidecar(region, "resume-filtered");
  JetStream js = JetStreamOf(nc.get());
  const std::string first = "resume1-" + std::to_string(::getpid());
  jsErrCode err = static_cast<jsErrCode>(0);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = start;
  natsSubscription* raw = nullptr;
  Check(js_PullSubscribe(&raw, js.get(), "foo.test", first.c_str(), nullptr, &so, &err),
        "pull consumer filtered on foo.test (JetStream error " + std::to_string(err) + ")");
  // Two small fetches: each pull starts its sweep at the next origin, so the last message
  // is typically from a later origin than the first's.
  std::vector<Received> got;
  {
    Subscription sub(raw);
    for (int fetch = 0; fetch < 2; ++fetch) {
      natsMsgList list{};
      Check(natsSubscription_Fetch(&list, sub.get(), 3, 5000, &err), "fetch of 3");
      for (int i = 0; i < list.Count; ++i) {
        Received r;
        r.payload = DataOf(list.Msgs[i]);
        jsMsgMetaData* meta = nullptr;
        if (natsMsg_GetMetaData(&meta, list.Msgs[i]) == NATS_OK) {
          r.stream_seq = meta->Sequence.Stream;
          jsMsgMetaData_Destroy(meta);
        }
        Check(natsMsg_AckSync(list.Msgs[i], nullptr, &err), "ack");
        got.push_back(r);
      }
      natsMsgList_Destroy(&list);
    }
  }
  ASSERT_FALSE(got.empty());
  const uint64_t last = got.back().stream_seq;
  ASSERT_GT(last, 0u);
  Check(js_DeleteConsumer(js.get(), "foo", first.c_str(), nullptr, &err), "delete " + first);

  const std::string second = "resume2-" + std::to_string(::getpid());
  jsSubOptions_Init(&so);
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = last + 1;
  raw = nullptr;
  Check(js_PullSubscribe(&raw, js.get(), "foo.test", second.c_str(), nullptr, &so, &err),
        "resumed pull consumer (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  std::set<std::string> left = wanted;
  for (const auto& m : got) left.erase(m.payload);
  auto rest = ReceiveUntil(sub.get(), true, left, true, std::chrono::seconds(15));
  auto extra = ReceiveUntil(sub.get(), true, {"(never)"}, true, std::chrono::milliseconds(1000));
  rest.insert(rest.end(), extra.begin(), extra.end());
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(Missing(wanted, got), "(none)") << "resumed at " << last + 1;
  std::set<std::string> seen;
  for (const auto& m : got) EXPECT_TRUE(seen.insert(m.payload).second) << "twice: " << m.payload;
  js_DeleteConsumer(js.get(), "foo", second.c_str(), nullptr, &err);
}

// "+NXT": ack and ask for the next message in one request. The next message must look like
// any other delivery of the client's consumer (virtual subject, the consumer's own numbers).
TEST_F(SidecarTest, AckNextOnAFilteredPullConsumerGetsTheNextMessageAsTheClientsConsumer) {
  std::set<std::string> others;
  // Six foo.test messages: the fetch and three +NXT take four.
  PublishTestAndOther("ack-next-1", others);
  PublishTestAndOther("ack-next-2", others);
  const std::string region = "central";
  Connection nc = ConnectSidecar(region, "ack-next");
  JetStream js = JetStreamOf(nc.get());
  const std::string durable = "acknext-" + std::to_string(::getpid());
  jsErrCode err = static_cast<jsErrCode>(0);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  natsSubscription* raw = nullptr;
  Check(js_PullSubscribe(&raw, js.get(), "foo.test", durable.c_str(), nullptr, &so, &err),
        "pull consumer filtered on foo.test (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  natsMsgList list{};
  Check(natsSubscription_Fetch(&list, sub.get(), 1, 5000, &err), "fetch of 1");
  ASSERT_EQ(list.Count, 1);
  std::string ack_subject = natsMsg_GetReply(list.Msgs[0]);
  natsMsgList_Destroy(&list);
  const std::string prefix = "$JS.ACK.foo." + durable + ".";
  std::set<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ack_subject.starts_with(prefix)) << ack_subject;
    natsMsg* next = nullptr;
    Check(natsConnection_RequestString(&next, nc.get(), ack_subject.c_str(), "+NXT", 5000),
          "+NXT on " + ack_subject);
    EXPECT_EQ(std::string(natsMsg_GetSubject(next)), "foo.test");
    ack_subject = natsMsg_GetReply(next) ? natsMsg_GetReply(next) : "";
    EXPECT_TRUE(seen.insert(DataOf(next)).second) << "twice: " << DataOf(next);
    // The client's consumer sequence goes on: 2, 3, 4 (token 6 of the ack subject).
    std::vector<std::string> tokens;
    for (std::size_t from = 0, dot = 0; dot != std::string::npos; from = dot + 1) {
      dot = ack_subject.find('.', from);
      tokens.push_back(ack_subject.substr(from, dot == std::string::npos ? dot : dot - from));
    }
    ASSERT_EQ(tokens.size(), 9u) << ack_subject;
    EXPECT_EQ(tokens[6], std::to_string(i + 2)) << ack_subject;
    natsMsg_Destroy(next);
  }
  js_DeleteConsumer(js.get(), "foo", durable.c_str(), nullptr, &err);
}

TEST_F(SidecarTest, FilteredConsumerInfoAndDeleteActOnTheConsumerTheClientMade) {
  const std::string region = "east";
  const std::string durable = "infofilt-" + std::to_string(::getpid());
  Connection nc = ConnectSidecar(region, "info-filtered");
  JetStream js = JetStreamOf(nc.get());
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = durable.c_str();
  cfg.AckPolicy = js_AckExplicit;
  cfg.FilterSubject = "foo.test";
  jsConsumerInfo* created = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_AddConsumer(&created, js.get(), "foo", &cfg, nullptr, &err),
        "add consumer filtered on foo.test (JetStream error " + std::to_string(err) + ")");
  EXPECT_STREQ(created->Stream, "foo");
  EXPECT_STREQ(created->Name, durable.c_str());
  EXPECT_STREQ(created->Config->FilterSubject, "foo.test");
  jsConsumerInfo_Destroy(created);

  jsConsumerInfo* ci = nullptr;
  Check(js_GetConsumerInfo(&ci, js.get(), "foo", durable.c_str(), nullptr, &err),
        "consumer info of the filtered consumer");
  EXPECT_STREQ(ci->Stream, "foo");
  EXPECT_STREQ(ci->Name, durable.c_str());
  EXPECT_STREQ(ci->Config->Durable, durable.c_str());
  EXPECT_STREQ(ci->Config->FilterSubject, "foo.test");
  // Every foo.test message stored so far is pending: the sum over the origin consumers.
  uint64_t origins_pending = 0;
  for (const auto& origin : kRegions) {
    json direct = ServerApi(
        region, "$JS.API.CONSUMER.INFO.foo-read-" + region + "." + durable + "__" + origin);
    origins_pending += direct.value("num_pending", 0u);
  }
  EXPECT_EQ(ci->NumPending, origins_pending);
  jsConsumerInfo_Destroy(ci);

  // NAMES lists it once, under its own name.
  json names = ApiRequest(nc.get(), "$JS.API.CONSUMER.NAMES.foo");
  ASSERT_TRUE(names["consumers"].is_array()) << names.dump();
  std::set<std::string> listed(names["consumers"].begin(), names["consumers"].end());
  EXPECT_EQ(listed.count(durable), 1u) << names.dump();
  for (const auto& origin : kRegions) {
    EXPECT_EQ(listed.count(durable + "__" + origin), 0u) << names.dump();
  }

  Check(js_DeleteConsumer(js.get(), "foo", durable.c_str(), nullptr, &err),
        "delete of the filtered consumer");
  ci = nullptr;
  EXPECT_NE(js_GetConsumerInfo(&ci, js.get(), "foo", durable.c_str(), nullptr, &err), NATS_OK);
  if (ci) jsConsumerInfo_Destroy(ci);
  EXPECT_EQ(err, JSConsumerNotFoundErr);
  for (const auto& origin : kRegions) {
    json direct = ServerApi(
        region, "$JS.API.CONSUMER.INFO.foo-read-" + region + "." + durable + "__" + origin);
    EXPECT_EQ(direct["error"].value("err_code", 0), 10014) << direct.dump();
  }
}

// Issue 4: an app restarts and binds to its durable push consumer from a new connection, as
// libnats js_Subscribe does (CONSUMER.INFO, then SUB on the info's deliver subject). The new
// connection gets everything the old one did not ack, and nothing from other subjects.
TEST_F(SidecarTest, DurablePushConsumerReboundFromANewConnectionGetsTheRest) {
  const std::string region = "central";
  const std::string durable = "rebind-" + std::to_string(::getpid());
  auto subscribe = [&](natsConnection* nc, JetStream& js) {
    (void)nc;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.ManualAck = true;
    so.Config.Durable = durable.c_str();
    so.Config.AckWait = 1500LL * 1000 * 1000;
    natsSubscription* raw = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    Check(js_SubscribeSync(&raw, js.get(), "foo.test", nullptr, &so, &err),
          "durable push consumer on foo.test (JetStream error " + std::to_string(err) + ")");
    return Subscription(raw);
  };
  std::set<std::string> others;
  const std::set<std::string> first = PublishTestAndOther("rebind-1", others);
  // Deliver policy all: A also gets earlier tests' foo.test messages; it acks every one but
  // one of this test's first batch.
  std::string unacked;
  std::set<std::string> acked;
  {
    Connection a = ConnectSidecar(region, "rebind-a");
    JetStream js = JetStreamOf(a.get());
    Subscription sub = subscribe(a.get(), js);
    std::size_t first_seen = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (first_seen < first.size() && std::chrono::steady_clock::now() < deadline) {
      natsMsg* raw = nullptr;
      if (natsSubscription_NextMsg(&raw, sub.get(), 500) != NATS_OK) continue;
      Msg m(raw);
      const std::string payload = DataOf(m.get());
      EXPECT_EQ(others.count(payload), 0u) << "foo.other delivered to A: " << payload;
      EXPECT_EQ(std::string(natsMsg_GetSubject(m.get())), "foo.test") << payload;
      if (first.count(payload) == 1) ++first_seen;
      if (unacked.empty() && first.count(payload) == 1) {
        unacked = payload;  // left for the next connection (redelivered after ack_wait)
      } else {
        Check(natsMsg_AckSync(m.get(), nullptr, nullptr), "ack on A");
        acked.insert(payload);
      }
    }
    ASSERT_EQ(first_seen, first.size()) << "A did not get this test's first batch";
  }  // A's subscription and connection end without deleting the durable

  const std::set<std::string> second = PublishTestAndOther("rebind-2", others);
  std::set<std::string> wanted = second;
  wanted.insert(unacked);
  Connection b = ConnectSidecar(region, "rebind-b");
  JetStream js = JetStreamOf(b.get());
  Subscription sub = subscribe(b.get(), js);
  auto got = ReceiveUntil(sub.get(), false, wanted, true, std::chrono::seconds(30));
  auto rest = ReceiveUntil(sub.get(), false, {"(never)"}, true, std::chrono::milliseconds(2500));
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(Missing(wanted, got), "(none)");
  ExpectOnlyFooTest(got, others, "rebound");
  for (const auto& m : got) {
    EXPECT_EQ(acked.count(m.payload), 0u) << "acked by A, delivered again to B: " << m.payload;
  }
  // B acked everything: nothing left pending on any origin consumer.
  for (const auto& origin : kRegions) {
    json direct = ServerApi(
        region, "$JS.API.CONSUMER.INFO.foo-read-" + region + "." + durable + "__" + origin);
    EXPECT_EQ(direct.value("num_ack_pending", -1), 0) << direct.dump();
    EXPECT_EQ(direct.value("num_pending", -1), 0) << direct.dump();
  }
  // A second binder while B listens is refused, as with one server consumer.
  Connection c = ConnectSidecar(region, "rebind-c");
  JetStream jc = JetStreamOf(c.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.ManualAck = true;
  so.Config.Durable = durable.c_str();
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  EXPECT_NE(js_SubscribeSync(&raw, jc.get(), "foo.test", nullptr, &so, &err), NATS_OK);
  EXPECT_NE(std::string(nats_GetLastError(nullptr)).find("bound"), std::string::npos)
      << nats_GetLastError(nullptr);
  if (raw) natsSubscription_Destroy(raw);
}

// The bind survives a sidecar restart: a client bound to a split durable push consumer from a
// new connection reconnects to the restarted sidecar, re-sends its SUB on the deliver subject
// the info showed, and the new sidecar process binds the consumer again (it looks it up).
TEST_F(SidecarTest, ReboundDurablePushConsumerKeepsDeliveringAcrossASidecarRestart) {
  const std::string region = "east";
  const std::string durable = "restart-" + std::to_string(::getpid());
  harness::SidecarSpec spec = TheWorld().sidecars.at(region)->spec();
  spec.name = "sidecar-east-restarted";
  harness::SidecarProcess own(TheWorld().run_dir->path(), spec);
  own.Start();
  auto subscribe = [&](JetStream& js) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.ManualAck = true;
    so.Config.Durable = durable.c_str();
    so.Config.AckWait = 1500LL * 1000 * 1000;
    natsSubscription* raw = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    Check(js_SubscribeSync(&raw, js.get(), "foo.test", nullptr, &so, &err),
          "durable push consumer on foo.test (JetStream error " + std::to_string(err) + ")");
    return Subscription(raw);
  };
  std::set<std::string> others;
  const std::set<std::string> first = PublishTestAndOther("restart-1", others);
  std::set<std::string> seen;
  {
    // Created through the world's sidecar; everything it gets is acked.
    Connection a = ConnectSidecar(region, "restart-a");
    JetStream js = JetStreamOf(a.get());
    Subscription sub = subscribe(js);
    auto got = ReceiveUntil(sub.get(), false, first, true, std::chrono::seconds(30));
    ASSERT_EQ(Missing(first, got), "(none)");
    for (const auto& m : got) seen.insert(m.payload);
  }
  const std::set<std::string> second = PublishTestAndOther("restart-2", others);
  Connection b = Connect(own.ClientUrl(), "restart-b");
  JetStream js = JetStreamOf(b.get());
  Subscription sub = subscribe(js);
  auto got = ReceiveUntil(sub.get(), false, second, true, std::chrono::seconds(30));
  EXPECT_EQ(Missing(second, got), "(none)");

  own.Stop();
  ASSERT_FALSE(own.Running());
  const std::set<std::string> third = PublishTestAndOther("restart-3", others);
  own.Start();
  // libnats reconnects by itself (every 2 s) and re-sends its subscriptions.
  auto after = ReceiveUntil(sub.get(), false, third, true, std::chrono::seconds(60));
  EXPECT_EQ(Missing(third, after), "(none)");
  natsStatistics* stats = nullptr;
  uint64_t reconnects = 0;
  Check(natsStatistics_Create(&stats), "natsStatistics_Create");
  Check(natsConnection_GetStats(b.get(), stats), "natsConnection_GetStats");
  Check(natsStatistics_GetCounts(stats, nullptr, nullptr, nullptr, nullptr, &reconnects),
        "natsStatistics_GetCounts");
  natsStatistics_Destroy(stats);
  EXPECT_GE(reconnects, 1u) << "B never lost the restarted sidecar";
  got.insert(got.end(), after.begin(), after.end());
  ExpectOnlyFooTest(got, others, "after restart");
  for (const auto& m : got) {
    EXPECT_EQ(first.count(m.payload), 0u) << "acked before, delivered again: " << m.payload;
  }
}

// The creator of a durable push consumer survives a sidecar restart: libnats js_Subscribe with a
// durable creates it with its own deliver subject (an _INBOX it made), and after reconnecting
// to the restarted sidecar it only re-sends SUB on that inbox. The sidecar recorded the inbox
// in the origin consumers' description; the new process reads it back (CONSUMER.LIST) and
// binds the consumer to the subscription again.
TEST_F(SidecarTest, CreatorOfADurablePushConsumerKeepsReceivingAcrossASidecarRestart) {
  const std::string region = "west";
  const std::string durable = "creator-" + std::to_string(::getpid());
  harness::SidecarSpec spec = TheWorld().sidecars.at(region)->spec();
  spec.name = "sidecar-west-creator";
  harness::SidecarProcess own(TheWorld().run_dir->path(), spec);
  own.Start();
  Connection b = Connect(own.ClientUrl(), "creator-b");
  JetStream js = JetStreamOf(b.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.ManualAck = true;
  so.Config.Durable = durable.c_str();
  so.Config.Description = "the app's own words";
  so.Config.AckWait = 1500LL * 1000 * 1000;
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_SubscribeSync(&raw, js.get(), "foo.test", nullptr, &so, &err),
        "durable push consumer on foo.test (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  const std::string inbox = natsSubscription_GetSubject(sub.get());
  ASSERT_TRUE(inbox.starts_with("_INBOX.")) << inbox;

  std::set<std::string> others;
  const std::set<std::string> first = PublishTestAndOther("creator-1", others);
  auto got = ReceiveUntil(sub.get(), false, first, true, std::chrono::seconds(30));
  ASSERT_EQ(Missing(first, got), "(none)");

  // The client sees its own description and deliver subject; the server keeps the record.
  jsConsumerInfo* ci = nullptr;
  Check(js_GetConsumerInfo(&ci, js.get(), "foo", durable.c_str(), nullptr, &err), "consumer info");
  EXPECT_STREQ(ci->Config->Description, "the app's own words");
  EXPECT_EQ(std::string(ci->Config->DeliverSubject), inbox);
  jsConsumerInfo_Destroy(ci);
  json east =
      ServerApi(region, "$JS.API.CONSUMER.INFO.foo-read-" + region + "." + durable + "__east");
  EXPECT_EQ(east["config"].value("description", ""),
            "[meridian deliver " + inbox + "] the app's own words")
      << east.dump();

  own.Stop();
  ASSERT_FALSE(own.Running());
  const std::set<std::string> second = PublishTestAndOther("creator-2", others);
  own.Start();
  // libnats reconnects by itself (every 2 s) and re-sends SUB on its inbox, nothing else.
  auto after = ReceiveUntil(sub.get(), false, second, true, std::chrono::seconds(60));
  EXPECT_EQ(Missing(second, after), "(none)");
  natsStatistics* stats = nullptr;
  uint64_t reconnects = 0;
  Check(natsStatistics_Create(&stats), "natsStatistics_Create");
  Check(natsConnection_GetStats(b.get(), stats), "natsConnection_GetStats");
  Check(natsStatistics_GetCounts(stats, nullptr, nullptr, nullptr, nullptr, &reconnects),
        "natsStatistics_GetCounts");
  natsStatistics_Destroy(stats);
  EXPECT_GE(reconnects, 1u) << "B never lost the restarted sidecar";
  // Past ack_wait: nothing comes again (every ack reached its origin consumer).
  auto extra = ReceiveUntil(sub.get(), false, {"(never)"}, true, std::chrono::milliseconds(3000));
  after.insert(after.end(), extra.begin(), extra.end());
  ExpectOnlyFooTest(after, others, "after restart");
  std::set<std::string> once;
  for (const auto& m : after) {
    EXPECT_EQ(first.count(m.payload), 0u) << "acked before, delivered again: " << m.payload;
    EXPECT_EQ(m.delivered, 1u) << "redelivered: " << m.payload;
    EXPECT_TRUE(once.insert(m.payload).second) << "twice: " << m.payload;
  }
  for (const auto& origin : kRegions) {
    json direct = ServerApi(
        region, "$JS.API.CONSUMER.INFO.foo-read-" + region + "." + durable + "__" + origin);
    EXPECT_EQ(direct.value("num_ack_pending", -1), 0) << direct.dump();
    EXPECT_EQ(direct.value("num_redelivered", -1), 0) << direct.dump();
    EXPECT_EQ(direct.value("num_pending", -1), 0) << direct.dump();
  }
  js_DeleteConsumer(js.get(), "foo", durable.c_str(), nullptr, &err);
}

// A split push consumer with a deliver_group: members on different connections share its
// messages (each once), and a member that joined from a new connection alone gets everything
// once the creator's connection is gone.
TEST_F(SidecarTest, QueueGroupPushConsumerIsSharedByMembersOnDifferentConnections) {
  const std::string region = "west";
  const std::string durable = "queue-" + std::to_string(::getpid());
  auto join = [&](JetStream& js) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.ManualAck = true;
    so.Config.Durable = durable.c_str();
    so.Config.AckWait = 1500LL * 1000 * 1000;
    natsSubscription* raw = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    so.Queue = "workers";
    Check(js_SubscribeSync(&raw, js.get(), "foo.test", nullptr, &so, &err),
          "queue member of a durable push consumer on foo.test (JetStream error " +
              std::to_string(err) + ")");
    return Subscription(raw);
  };
  std::set<std::string> others;
  Connection b = ConnectSidecar(region, "queue-b");
  JetStream jb = JetStreamOf(b.get());
  std::vector<Received> got;
  {
    Connection a = ConnectSidecar(region, "queue-a");
    JetStream ja = JetStreamOf(a.get());
    Subscription sa = join(ja);
    Subscription sb_first = join(jb);  // binds from another connection while A listens
    const std::set<std::string> first = PublishTestAndOther("queue-1", others);
    // Deliver policy all: older foo.test messages come too; everything once over A and B.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::set<std::string> seen_first;
    while (seen_first.size() < first.size() && std::chrono::steady_clock::now() < deadline) {
      for (natsSubscription* s : {sa.get(), sb_first.get()}) {
        auto part = ReceiveUntil(s, false, {"(never)"}, true, std::chrono::milliseconds(300));
        for (const auto& m : part) {
          if (first.count(m.payload)) seen_first.insert(m.payload);
        }
        got.insert(got.end(), part.begin(), part.end());
      }
    }
    EXPECT_EQ(seen_first, first);
    // B's member leaves with A: natsSubscription_Destroy unsubscribes it.
  }
  Subscription sb = join(jb);
  const std::set<std::string> second = PublishTestAndOther("queue-2", others);
  auto rest = ReceiveUntil(sb.get(), false, second, true, std::chrono::seconds(30));
  EXPECT_EQ(Missing(second, rest), "(none)");
  got.insert(got.end(), rest.begin(), rest.end());
  ExpectOnlyFooTest(got, others, "queue");
  std::set<std::string> once;
  for (const auto& m : got) {
    if (m.delivered == 1) {
      EXPECT_TRUE(once.insert(m.payload).second) << "twice: " << m.payload;
    }
  }
}

}  // namespace
}  // namespace meridian::sidecar_it
