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

}  // namespace
}  // namespace meridian::sidecar_it
