// Real JetStream clients (nats.js and libnats) against meridian-node and the stock
// nats-server: every case runs unchanged against both.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "harness/gtest_support.h"
#include "harness/node_script.h"
#include "js_test_util.h"
#include "js_world.h"

namespace meridian::node_js_it {
namespace {

using namespace std::chrono_literals;

class JetStreamClients : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override { server_ = std::make_unique<JsServer>(GetParam(), dir_.path()); }
  harness::TestRunDir dir_;
  std::unique_ptr<JsServer> server_;
};

TEST_P(JetStreamClients, NatsJsStreamsConsumersKeyValueAndObjectStore) {
  auto r = harness::RunNodeScript("node_jetstream", {"--url", server_->url(), "--phase", "all"},
                                  dir_.path() / "node_jetstream.log", 120s);
  EXPECT_TRUE(r.ok()) << r.Describe();
}

TEST_P(JetStreamClients, NatsJsDurableConsumerSurvivesRestart) {
  auto before = harness::RunNodeScript("node_jetstream",
                                       {"--url", server_->url(), "--phase", "before-restart"},
                                       dir_.path() / "before.log", 60s);
  ASSERT_TRUE(before.ok()) << before.Describe();
  server_->Restart();
  auto after = harness::RunNodeScript("node_jetstream",
                                      {"--url", server_->url(), "--phase", "after-restart"},
                                      dir_.path() / "after.log", 60s);
  EXPECT_TRUE(after.ok()) << after.Describe();
}

TEST_P(JetStreamClients, LibnatsPublishIsAcknowledgedDedupedAndCompareAndSet) {
  Nc nc = Connect(server_->url());
  Js js = JetStream(nc.get());
  AddFileStream(js.get(), "PUB", "pub.>");
  jsErrCode code = static_cast<jsErrCode>(0);
  for (int i = 1; i <= 5; ++i) {
    jsPubAck* pa = nullptr;
    ASSERT_EQ(js_Publish(&pa, js.get(), "pub.a", "x", 1, nullptr, &code), NATS_OK);
    PubAck hold(pa);
    EXPECT_EQ(pa->Sequence, static_cast<uint64_t>(i));
    EXPECT_STREQ(pa->Stream, "PUB");
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = "unique-1";
  jsPubAck* pa = nullptr;
  ASSERT_EQ(js_Publish(&pa, js.get(), "pub.a", "y", 1, &po, &code), NATS_OK);
  EXPECT_FALSE(pa->Duplicate);
  EXPECT_EQ(pa->Sequence, 6u);
  jsPubAck_Destroy(pa);
  pa = nullptr;
  ASSERT_EQ(js_Publish(&pa, js.get(), "pub.a", "y", 1, &po, &code), NATS_OK);
  EXPECT_TRUE(pa->Duplicate);
  EXPECT_EQ(pa->Sequence, 6u);
  jsPubAck_Destroy(pa);

  jsPubOptions_Init(&po);
  po.ExpectLastSeq = 3;
  pa = nullptr;
  EXPECT_NE(js_Publish(&pa, js.get(), "pub.a", "z", 1, &po, &code), NATS_OK);
  EXPECT_EQ(code, JSStreamWrongLastSequenceErr);
  jsPubAck_Destroy(pa);

  jsStreamInfo* si = nullptr;
  ASSERT_EQ(js_GetStreamInfo(&si, js.get(), "PUB", nullptr, &code), NATS_OK);
  StreamInfo hold(si);
  EXPECT_EQ(si->State.Msgs, 6u);
  EXPECT_EQ(si->State.LastSeq, 6u);
}

TEST_P(JetStreamClients, LibnatsAsyncPublishesAreAllAcknowledgedInOrder) {
  Nc nc = Connect(server_->url());
  Js js = JetStream(nc.get());
  AddFileStream(js.get(), "ASYNC", "async.>");
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    std::string body = "m" + std::to_string(i);
    ASSERT_EQ(
        js_PublishAsync(js.get(), "async.x", body.data(), static_cast<int>(body.size()), nullptr),
        NATS_OK);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 30000;
  ASSERT_EQ(js_PublishAsyncComplete(js.get(), &po), NATS_OK);
  natsMsg* m = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_GetMsg(&m, js.get(), "ASYNC", n, nullptr, &code), NATS_OK);
  Msg hold(m);
  EXPECT_EQ(Data(m), "m" + std::to_string(n - 1));
}

TEST_P(JetStreamClients, LibnatsPullSubscriptionFetchesAndAcks) {
  Nc nc = Connect(server_->url());
  Js js = JetStream(nc.get());
  AddFileStream(js.get(), "PULL", "pull.>");
  for (int i = 1; i <= 25; ++i) {
    std::string body = "p" + std::to_string(i);
    ASSERT_EQ(js_Publish(nullptr, js.get(), "pull.x", body.data(), static_cast<int>(body.size()),
                         nullptr, nullptr),
              NATS_OK);
  }
  natsSubscription* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_PullSubscribe(&raw, js.get(), "pull.x", "worker", nullptr, nullptr, &code), NATS_OK)
      << "code " << code;
  Sub sub(raw);
  std::vector<std::string> got;
  while (got.size() < 25) {
    natsMsgList list{};
    natsStatus s = natsSubscription_Fetch(&list, sub.get(), 10, 5000, &code);
    ASSERT_EQ(s, NATS_OK) << natsStatus_GetText(s) << " after " << got.size();
    for (int i = 0; i < list.Count; ++i) {
      got.push_back(Data(list.Msgs[i]));
      EXPECT_EQ(natsMsg_Ack(list.Msgs[i], nullptr), NATS_OK);
    }
    natsMsgList_Destroy(&list);
  }
  EXPECT_EQ(got.front(), "p1");
  EXPECT_EQ(got.back(), "p25");
  natsMsgList list{};
  EXPECT_EQ(natsSubscription_Fetch(&list, sub.get(), 1, 500, &code), NATS_TIMEOUT);
  natsMsgList_Destroy(&list);
}

// Raw pull requests: while a request waits for more messages than are left (max_ack_pending
// holds them back), a no_wait request is refused with 408 Requests Pending (2.9.10).
TEST_P(JetStreamClients, NoWaitPullWhileRequestsWaitForMoreIs408RequestsPending) {
  Nc nc = Connect(server_->url());
  Js js = JetStream(nc.get());
  AddFileStream(js.get(), "NW", "nw.>");
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(js_Publish(nullptr, js.get(), "nw.x", "m", 1, nullptr, nullptr), NATS_OK);
  }
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = "W";
  cfg.AckPolicy = js_AckExplicit;
  cfg.MaxAckPending = 1;
  jsConsumerInfo* ci = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_AddConsumer(&ci, js.get(), "NW", &cfg, nullptr, &code), NATS_OK) << code;
  jsConsumerInfo_Destroy(ci);
  auto subscribe = [&](const char* inbox) {
    natsSubscription* raw = nullptr;
    EXPECT_EQ(natsConnection_SubscribeSync(&raw, nc.get(), inbox), NATS_OK);
    return Sub(raw);
  };
  const char* next = "$JS.API.CONSUMER.MSG.NEXT.NW.W";
  auto request = [&](const char* inbox, const std::string& body) {
    ASSERT_EQ(natsConnection_PublishRequest(nc.get(), next, inbox, body.data(),
                                            static_cast<int>(body.size())),
              NATS_OK);
  };
  Sub a = subscribe("_INBOX.nw.a");
  Sub b = subscribe("_INBOX.nw.b");
  Sub c = subscribe("_INBOX.nw.c");
  ASSERT_EQ(natsConnection_Flush(nc.get()), NATS_OK);
  request("_INBOX.nw.a", R"({"batch":1})");
  natsMsg* raw = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&raw, a.get(), 10000), NATS_OK);
  Msg first(raw);
  EXPECT_EQ(Data(raw), "m");
  request("_INBOX.nw.b", R"({"batch":5,"expires":60000000000})");  // held: max_ack_pending
  request("_INBOX.nw.c", R"({"batch":1,"no_wait":true})");
  ASSERT_EQ(natsSubscription_NextMsg(&raw, c.get(), 10000), NATS_OK);
  Msg status(raw);
  const char* value = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(raw, "Status", &value), NATS_OK);
  EXPECT_STREQ(value, "408");
  ASSERT_EQ(natsMsgHeader_Get(raw, "Description", &value), NATS_OK);
  EXPECT_STREQ(value, "Requests Pending");
  EXPECT_EQ(natsMsg_GetDataLength(raw), 0);
  ASSERT_NE(natsMsg_GetReply(first.get()), nullptr);  // ack: the waiting request goes on
  ASSERT_EQ(natsConnection_PublishString(nc.get(), natsMsg_GetReply(first.get()), "+ACK"), NATS_OK);
  ASSERT_EQ(natsSubscription_NextMsg(&raw, b.get(), 10000), NATS_OK);
  Msg next_msg(raw);
  EXPECT_EQ(Data(raw), "m");
}

// Raw pull requests: a no_wait request without expires that finds messages left but none it
// may have (max_ack_pending reached) is queued as a one-shot (2.9.10), not answered 404: the
// first thing its inbox receives is the message an ack lets through.
TEST_P(JetStreamClients, NoWaitPullHeldByMaxAckPendingWaitsForTheNextMessage) {
  Nc nc = Connect(server_->url());
  Js js = JetStream(nc.get());
  AddFileStream(js.get(), "NH", "nh.>");
  for (int i = 0; i < 2; ++i) {
    std::string body = "m" + std::to_string(i + 1);
    ASSERT_EQ(js_Publish(nullptr, js.get(), "nh.x", body.data(), static_cast<int>(body.size()),
                         nullptr, nullptr),
              NATS_OK);
  }
  jsConsumerConfig cfg;
  jsConsumerConfig_Init(&cfg);
  cfg.Durable = "H";
  cfg.AckPolicy = js_AckExplicit;
  cfg.MaxAckPending = 1;
  jsConsumerInfo* ci = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_AddConsumer(&ci, js.get(), "NH", &cfg, nullptr, &code), NATS_OK) << code;
  jsConsumerInfo_Destroy(ci);
  auto subscribe = [&](const char* inbox) {
    natsSubscription* raw = nullptr;
    EXPECT_EQ(natsConnection_SubscribeSync(&raw, nc.get(), inbox), NATS_OK);
    return Sub(raw);
  };
  const char* next = "$JS.API.CONSUMER.MSG.NEXT.NH.H";
  auto request = [&](const char* inbox, const std::string& body) {
    ASSERT_EQ(natsConnection_PublishRequest(nc.get(), next, inbox, body.data(),
                                            static_cast<int>(body.size())),
              NATS_OK);
  };
  Sub a = subscribe("_INBOX.nh.a");
  Sub c = subscribe("_INBOX.nh.c");
  ASSERT_EQ(natsConnection_Flush(nc.get()), NATS_OK);
  request("_INBOX.nh.a", R"({"batch":1})");
  natsMsg* raw = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&raw, a.get(), 10000), NATS_OK);
  Msg first(raw);
  EXPECT_EQ(Data(raw), "m1");
  request("_INBOX.nh.c", R"({"batch":1,"no_wait":true})");  // held: max_ack_pending
  // A round trip, so the request is in before the ack that frees it.
  ASSERT_EQ(natsConnection_Flush(nc.get()), NATS_OK);
  ASSERT_NE(natsMsg_GetReply(first.get()), nullptr);
  ASSERT_EQ(natsConnection_PublishString(nc.get(), natsMsg_GetReply(first.get()), "+ACK"), NATS_OK);
  ASSERT_EQ(natsSubscription_NextMsg(&raw, c.get(), 10000), NATS_OK);
  Msg got(raw);
  const char* status = nullptr;
  EXPECT_NE(natsMsgHeader_Get(raw, "Status", &status), NATS_OK)
      << "a status instead of the message: " << (status ? status : "");
  EXPECT_EQ(Data(raw), "m2");
}

TEST_P(JetStreamClients, LibnatsPushSubscriptionReceivesNewAndStoredMessages) {
  Nc nc = Connect(server_->url());
  Js js = JetStream(nc.get());
  AddFileStream(js.get(), "PUSH", "push.>");
  ASSERT_EQ(js_Publish(nullptr, js.get(), "push.a", "stored", 6, nullptr, nullptr), NATS_OK);
  natsSubscription* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.ManualAck = true;
  so.Config.Durable = "pusher";
  ASSERT_EQ(js_SubscribeSync(&raw, js.get(), "push.a", nullptr, &so, &code), NATS_OK)
      << "code " << code;
  Sub sub(raw);
  ASSERT_EQ(js_Publish(nullptr, js.get(), "push.a", "fresh", 5, nullptr, nullptr), NATS_OK);
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) {
    natsMsg* m = nullptr;
    ASSERT_EQ(natsSubscription_NextMsg(&m, sub.get(), 5000), NATS_OK);
    Msg hold(m);
    got.push_back(Data(m));
    EXPECT_EQ(natsMsg_AckSync(m, nullptr, &code), NATS_OK);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"stored", "fresh"}));
}

TEST_P(JetStreamClients, LibnatsKeyValuePutGetUpdateDeleteKeysHistory) {
  Nc nc = Connect(server_->url());
  Js js = JetStream(nc.get());
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = "CFG";
  cfg.History = 4;
  kvStore* raw = nullptr;
  ASSERT_EQ(js_CreateKeyValue(&raw, js.get(), &cfg), NATS_OK) << nats_GetLastError(nullptr);
  Kv kv(raw);
  uint64_t r1 = 0, r2 = 0, r3 = 0;
  ASSERT_EQ(kvStore_PutString(&r1, kv.get(), "a", "1"), NATS_OK);
  ASSERT_EQ(kvStore_PutString(&r2, kv.get(), "a", "2"), NATS_OK);
  EXPECT_GT(r2, r1);
  kvEntry* e = nullptr;
  ASSERT_EQ(kvStore_Get(&e, kv.get(), "a"), NATS_OK);
  KvEntry hold(e);
  EXPECT_STREQ(kvEntry_ValueString(e), "2");
  EXPECT_EQ(kvEntry_Revision(e), r2);
  EXPECT_EQ(kvStore_UpdateString(&r3, kv.get(), "a", "3", r2), NATS_OK);
  EXPECT_NE(kvStore_UpdateString(nullptr, kv.get(), "a", "x", r2), NATS_OK);
  uint64_t rc = 0;
  EXPECT_NE(kvStore_CreateString(&rc, kv.get(), "a", "x"), NATS_OK);
  ASSERT_EQ(kvStore_PutString(nullptr, kv.get(), "b", "B"), NATS_OK);
  ASSERT_EQ(kvStore_Delete(kv.get(), "b"), NATS_OK);
  kvEntry* gone = nullptr;
  EXPECT_EQ(kvStore_Get(&gone, kv.get(), "b"), NATS_NOT_FOUND);
  kvEntry_Destroy(gone);

  kvKeysList keys{};
  ASSERT_EQ(kvStore_Keys(&keys, kv.get(), nullptr), NATS_OK);
  std::set<std::string> names;
  for (int i = 0; i < keys.Count; ++i) names.insert(keys.Keys[i]);
  kvKeysList_Destroy(&keys);
  EXPECT_EQ(names, (std::set<std::string>{"a"}));

  kvEntryList hist{};
  ASSERT_EQ(kvStore_History(&hist, kv.get(), "a", nullptr), NATS_OK);
  std::vector<std::string> values;
  for (int i = 0; i < hist.Count; ++i) values.push_back(kvEntry_ValueString(hist.Entries[i]));
  kvEntryList_Destroy(&hist);
  EXPECT_EQ(values, (std::vector<std::string>{"1", "2", "3"}));
}

INSTANTIATE_TEST_SUITE_P(BothServers, JetStreamClients,
                         ::testing::Values(ServerKind::kMeridianNode, ServerKind::kNatsServer),
                         [](const auto& info) { return KindName(info.param); });

}  // namespace
}  // namespace meridian::node_js_it
