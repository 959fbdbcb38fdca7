// An unmodified libnats client, given only its region's sidecar URL, sees one global stream
// `foo`: publishes are acked by `foo`, every region's stream info and consumers see every
// region's messages under the subjects the clients used.
#include <thread>

#include "consumers.h"
#include "sidecar_world.h"

namespace meridian::sidecar_it {
namespace {

using nlohmann::json;

// Publishes to `subject` through the sidecar of every region; returns the payloads
// ("<payload>-<region>@<subject>": each names the subject it was published to).
std::set<std::string> PublishInEveryRegion(const std::string& subject, const std::string& payload) {
  std::set<std::string> out;
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "pub-" + r);
    const std::string p = payload + "-" + r + "@" + subject;
    JsPublish(nc.get(), subject, p);
    out.insert(p);
  }
  return out;
}

// Every delivered message carries the subject its publisher used (no region token) and names
// stream foo in its ack subject.
void ExpectClientSubjects(const std::vector<Received>& got, const std::string& where) {
  for (const auto& m : got) {
    const auto at = m.payload.rfind('@');
    if (at != std::string::npos) {
      EXPECT_EQ(m.subject, m.payload.substr(at + 1)) << where << ": " << m.payload;
    }
    for (const auto& r : kRegions) {
      EXPECT_NE(m.subject.rfind("foo." + r + ".", 0), 0u)
          << where << ": region token kept in " << m.subject;
    }
    EXPECT_EQ(m.stream, "foo") << where << ": " << m.payload;
  }
}

// Publishes to foo.test and foo.other in every region and waits until every read stream has
// them; returns all their payloads.
std::set<std::string> PublishTestAndOther(const std::string& what) {
  const std::string token = UniqueToken(what);
  std::set<std::string> wanted = PublishInEveryRegion("foo.test", token);
  for (const auto& p : PublishInEveryRegion("foo.other", token)) wanted.insert(p);
  WaitForConvergence("foo");
  return wanted;
}

TEST_F(SidecarTest, PublishToFooTestIsAckedByStreamFooInEveryRegion) {
  const std::string token = UniqueToken("ack");
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "ack-" + r);
    Ack ack = JsPublish(nc.get(), "foo.test", token + "-" + r);
    EXPECT_EQ(ack.stream, "foo") << "region " << r;
    EXPECT_GT(ack.sequence, 0u) << "region " << r;
    // Stored in the region's own write stream under the subject with the region token.
    json got = ServerApi(r, "$JS.API.STREAM.MSG.GET.foo-write-" + r,
                         json{{"last_by_subj", "foo." + r + ".test"}}.dump());
    ASSERT_TRUE(got.contains("message")) << r << ": " << got.dump();
    EXPECT_EQ(Base64Decode(got["message"].value("data", "")), token + "-" + r);
  }
}

TEST_F(SidecarTest, StreamInfoOnFooShowsNameFooAndAllMessagesInEveryRegion) {
  PublishInEveryRegion("foo.test", UniqueToken("info"));
  const uint64_t total = WaitForConvergence("foo");
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "info-" + r);
    JetStream js = JetStreamOf(nc.get());
    jsStreamInfo* si = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    Check(js_GetStreamInfo(&si, js.get(), "foo", nullptr, &err),
          "stream info foo through the sidecar in " + r);
    std::unique_ptr<jsStreamInfo, void (*)(jsStreamInfo*)> guard(si, jsStreamInfo_Destroy);
    EXPECT_STREQ(si->Config->Name, "foo") << "region " << r;
    EXPECT_EQ(si->State.Msgs, total) << "region " << r;
  }
}

TEST_F(SidecarTest, StreamInfoReplyNamesNoReadStream) {
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "info-raw-" + r);
    json info = ApiRequest(nc.get(), "$JS.API.STREAM.INFO.foo");
    ASSERT_FALSE(info.contains("error")) << info.dump();
    EXPECT_EQ(info["config"]["name"], "foo") << info.dump();
    EXPECT_EQ(info.dump().find("foo-read-"), std::string::npos) << r << ": " << info.dump();
  }
}

TEST_F(SidecarTest, OrderedConsumerOnFooReceivesEveryRegionsMessagesUnderClientSubjects) {
  const std::set<std::string> wanted = PublishTestAndOther("ordered");
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "ordered-" + r);
    JetStream js = JetStreamOf(nc.get());
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Ordered = true;
    natsSubscription* raw = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    Check(js_SubscribeSync(&raw, js.get(), "foo.>", nullptr, &so, &err),
          "ordered consumer on foo.> in " + r + " (JetStream error " + std::to_string(err) + ")");
    Subscription sub(raw);
    auto got = ReceiveUntil(sub.get(), false, wanted, false, std::chrono::seconds(10));
    EXPECT_EQ(Missing(wanted, got), "(none)") << "region " << r;
    ExpectClientSubjects(got, "ordered consumer in " + r);
  }
}

// Consumer info through the sidecar, and the same consumer asked directly on the servers.
void ExpectNothingPending(natsConnection* nc, const std::string& region,
                          const std::string& durable) {
  JetStream js = JetStreamOf(nc);
  jsConsumerInfo* ci = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_GetConsumerInfo(&ci, js.get(), "foo", durable.c_str(), nullptr, &err),
        "consumer info foo/" + durable + " through the sidecar");
  std::unique_ptr<jsConsumerInfo, void (*)(jsConsumerInfo*)> guard(ci, jsConsumerInfo_Destroy);
  EXPECT_STREQ(ci->Stream, "foo");
  EXPECT_EQ(ci->NumAckPending, 0) << durable;
  EXPECT_EQ(ci->NumRedelivered, 0) << durable;
  json direct = ServerApi(region, "$JS.API.CONSUMER.INFO.foo-read-" + region + "." + durable);
  EXPECT_EQ(direct.value("num_ack_pending", -1), 0) << direct.dump();
  EXPECT_EQ(direct.value("num_redelivered", -1), 0) << direct.dump();
}

TEST_F(SidecarTest, DurablePullConsumerOnFooReceivesEveryRegionsMessagesAndAcksStick) {
  const std::set<std::string> wanted = PublishTestAndOther("pull");
  const std::string region = "west";
  const std::string durable = "pull-" + std::to_string(::getpid());
  Connection nc = ConnectSidecar(region, "pull");
  JetStream js = JetStreamOf(nc.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Config.AckWait = 1500LL * 1000 * 1000;  // ns: short, so a lost ack shows as a redelivery
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_PullSubscribe(&raw, js.get(), "foo.>", durable.c_str(), nullptr, &so, &err),
        "durable pull consumer on foo.> (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  auto got = ReceiveUntil(sub.get(), true, wanted, true, std::chrono::seconds(10));
  auto rest = ReceiveUntil(sub.get(), true, {"(never)"}, true, std::chrono::milliseconds(1000));
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(Missing(wanted, got), "(none)");
  ExpectClientSubjects(got, "pull consumer");
  for (const auto& m : got) EXPECT_EQ(m.delivered, 1u) << m.payload;
  ExpectNothingPending(nc.get(), region, durable);
  // Past the ack wait, nothing comes back.
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  natsMsgList list{};
  natsStatus s = natsSubscription_Fetch(&list, sub.get(), 16, 1000, &err);
  EXPECT_TRUE(s == NATS_TIMEOUT || list.Count == 0)
      << "redelivered after ack: " << list.Count << " message(s), first "
      << (list.Count > 0 ? DataOf(list.Msgs[0]) : "");
  natsMsgList_Destroy(&list);
  ExpectNothingPending(nc.get(), region, durable);
}

TEST_F(SidecarTest, DurablePushConsumerOnFooReceivesEveryRegionsMessagesAndAcksStick) {
  const std::set<std::string> wanted = PublishTestAndOther("push");
  const std::string region = "central";
  const std::string durable = "push-" + std::to_string(::getpid());
  Connection nc = ConnectSidecar(region, "push");
  JetStream js = JetStreamOf(nc.get());
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.ManualAck = true;
  so.Config.Durable = durable.c_str();
  so.Config.AckWait = 1500LL * 1000 * 1000;
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  Check(js_SubscribeSync(&raw, js.get(), "foo.>", nullptr, &so, &err),
        "durable push consumer on foo.> (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  auto got = ReceiveUntil(sub.get(), false, wanted, true, std::chrono::seconds(10));
  EXPECT_EQ(Missing(wanted, got), "(none)");
  // Drain what else is queued (earlier tests' foo.test messages), acking it.
  auto rest = ReceiveUntil(sub.get(), false, {"(never)"}, true, std::chrono::milliseconds(1000));
  got.insert(got.end(), rest.begin(), rest.end());
  ExpectClientSubjects(got, "push consumer");
  for (const auto& m : got) EXPECT_EQ(m.delivered, 1u) << m.payload;
  ExpectNothingPending(nc.get(), region, durable);
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  natsMsg* again = nullptr;
  EXPECT_EQ(natsSubscription_NextMsg(&again, sub.get(), 500), NATS_TIMEOUT)
      << "redelivered after ack: " << (again ? DataOf(again) : "");
  if (again) natsMsg_Destroy(again);
  ExpectNothingPending(nc.get(), region, durable);
}

TEST_F(SidecarTest, ConsumerFilteredOnFooTestSeesOnlyFooTest) {
  const std::string token = UniqueToken("filter");
  const std::set<std::string> wanted = PublishInEveryRegion("foo.test", token);
  const std::set<std::string> others = PublishInEveryRegion("foo.other", token);
  WaitForConvergence("foo");
  Connection nc = ConnectSidecar("east", "filtered");
  JetStream js = JetStreamOf(nc.get());
  const std::string durable = "filtered-" + std::to_string(::getpid());
  natsSubscription* raw = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Config.AckWait = 1500LL * 1000 * 1000;  // ns: short, so a lost ack shows as a redelivery
  Check(js_PullSubscribe(&raw, js.get(), "foo.test", durable.c_str(), nullptr, &so, &err),
        "pull consumer filtered on foo.test (JetStream error " + std::to_string(err) + ")");
  Subscription sub(raw);
  auto got = ReceiveUntil(sub.get(), true, wanted, true, std::chrono::seconds(10));
  auto rest = ReceiveUntil(sub.get(), true, {"(never)"}, true, std::chrono::milliseconds(1500));
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(Missing(wanted, got), "(none)");
  for (const auto& m : got) {
    EXPECT_EQ(m.subject, "foo.test") << m.payload;
    EXPECT_EQ(m.stream, "foo") << m.payload;
    EXPECT_EQ(m.delivered, 1u) << m.payload;
    EXPECT_EQ(others.count(m.payload), 0u) << "a foo.other message was delivered: " << m.payload;
  }
  // Past the ack wait, nothing comes back.
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  natsMsgList list{};
  natsStatus s = natsSubscription_Fetch(&list, sub.get(), 16, 1000, &err);
  EXPECT_TRUE(s == NATS_TIMEOUT || list.Count == 0)
      << "redelivered after ack: " << list.Count << " message(s), first "
      << (list.Count > 0 ? DataOf(list.Msgs[0]) : "");
  natsMsgList_Destroy(&list);
  // The consumer's filter is presented as the client gave it.
  json info = ApiRequest(nc.get(), "$JS.API.CONSUMER.INFO.foo." + durable);
  EXPECT_EQ(info["config"].value("filter_subject", ""), "foo.test") << info.dump();
  EXPECT_EQ(info.value("stream_name", ""), "foo") << info.dump();
  EXPECT_EQ(info.value("name", ""), durable) << info.dump();
  EXPECT_EQ(info.value("num_ack_pending", -1), 0) << info.dump();
  EXPECT_EQ(info.value("num_redelivered", -1), 0) << info.dump();
  // Stored on 2.9.10 as one consumer per origin (foo.*.test is refused there, 10093), each
  // with its origin's filter, and every ack reached the right one.
  for (const auto& origin : kRegions) {
    json direct =
        ServerApi("east", "$JS.API.CONSUMER.INFO.foo-read-east." + durable + "__" + origin);
    ASSERT_TRUE(direct["config"].is_object()) << direct.dump();
    EXPECT_EQ(direct["config"].value("filter_subject", ""), "foo." + origin + ".test")
        << direct.dump();
    EXPECT_EQ(direct.value("num_ack_pending", -1), 0) << direct.dump();
  }
}

TEST_F(SidecarTest, DirectGetLastBySubjectReturnsTheNewestValueAcrossRegions) {
  const std::string token = UniqueToken("last");
  const std::vector<std::string> order = {"east", "central", "west", "east"};
  for (size_t i = 0; i < order.size(); ++i) {
    Connection pub = ConnectSidecar(order[i], "last-pub");
    const std::string value = token + "-v" + std::to_string(i) + "-" + order[i];
    JsPublish(pub.get(), "foo.last", value);
    WaitForConvergence("foo");
    for (const auto& r : kRegions) {
      Connection nc = ConnectSidecar(r, "last-get");
      JetStream js = JetStreamOf(nc.get());
      jsDirectGetMsgOptions dg;
      jsDirectGetMsgOptions_Init(&dg);
      dg.LastBySubject = "foo.last";
      natsMsg* raw = nullptr;
      natsStatus s = js_DirectGetMsg(&raw, js.get(), "foo", nullptr, &dg);
      ASSERT_EQ(s, NATS_OK) << "direct get last foo.last in " << r << ": "
                            << nats_GetLastError(nullptr);
      Msg m(raw);
      EXPECT_EQ(DataOf(m.get()), value) << "region " << r << " after publish " << i;
      EXPECT_STREQ(natsMsg_GetSubject(m.get()), "foo.last") << "region " << r;
      EXPECT_EQ(HeaderOf(m.get(), "Nats-Stream"), "foo") << "region " << r;
      EXPECT_EQ(HeaderOf(m.get(), "Nats-Subject"), "foo.last") << "region " << r;
    }
  }
}

TEST_F(SidecarTest, MsgGetLastBySubjectReturnsTheNewestValueAcrossRegions) {
  const std::string token = UniqueToken("msgget");
  std::string newest;
  for (const auto& r : {"west", "east", "central"}) {
    Connection pub = ConnectSidecar(r, "msgget-pub");
    newest = token + "-" + r;
    JsPublish(pub.get(), "foo.msgget", newest);
  }
  WaitForConvergence("foo");
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "msgget");
    JetStream js = JetStreamOf(nc.get());
    natsMsg* raw = nullptr;
    jsErrCode err = static_cast<jsErrCode>(0);
    natsStatus s = js_GetLastMsg(&raw, js.get(), "foo", "foo.msgget", nullptr, &err);
    ASSERT_EQ(s, NATS_OK) << "STREAM.MSG.GET last foo.msgget in " << r << ": "
                          << nats_GetLastError(nullptr) << " (JetStream error " << err << ")";
    Msg m(raw);
    EXPECT_EQ(DataOf(m.get()), newest) << "region " << r;
    EXPECT_STREQ(natsMsg_GetSubject(m.get()), "foo.msgget") << "region " << r;
  }
}

TEST_F(SidecarTest, StreamNamesFilteredByFooTestReturnsFoo) {
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "names");
    json names = ApiRequest(nc.get(), "$JS.API.STREAM.NAMES", json{{"subject", "foo.test"}}.dump());
    EXPECT_EQ(names["streams"], json::array({"foo"})) << r << ": " << names.dump();
    EXPECT_EQ(names.value("total", -1), 1) << r << ": " << names.dump();
  }
}

TEST_F(SidecarTest, StreamNamesListsVirtualStreamsAndHidesTheirInternalStreams) {
  Connection nc = ConnectSidecar("west", "names-all");
  json names = ApiRequest(nc.get(), "$JS.API.STREAM.NAMES");
  ASSERT_TRUE(names["streams"].is_array()) << names.dump();
  std::set<std::string> got(names["streams"].begin(), names["streams"].end());
  EXPECT_EQ(got.count("foo"), 1u) << names.dump();
  EXPECT_EQ(got.count("guard"), 1u) << names.dump();
  for (const auto& n : got) {
    EXPECT_EQ(n.find("-read-"), std::string::npos) << names.dump();
    EXPECT_EQ(n.find("-write-"), std::string::npos) << names.dump();
  }
}

}  // namespace
}  // namespace meridian::sidecar_it
