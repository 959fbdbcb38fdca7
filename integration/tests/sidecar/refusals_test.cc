// What a virtual stream cannot do is refused with a JetStream-shaped error that says why,
// and nothing reaches the servers. Publishing with Nats-Expected-Stream naming the virtual
// stream is accepted, and the header is never stored (stored Nats-Expected-* headers stall
// sourcing on 2.9).
#include "consumers.h"
#include "sidecar_world.h"

namespace meridian::sidecar_it {
namespace {

using nlohmann::json;

// The refusal shape: {"error": {"code": 400, "err_code": n, "description": "... foo ..."}}.
void ExpectRefusal(const json& reply, const std::string& stream, const std::string& what) {
  ASSERT_TRUE(reply.contains("error")) << what << " was not refused: " << reply.dump();
  const json& e = reply["error"];
  EXPECT_EQ(e.value("code", 0), 400) << what << ": " << reply.dump();
  EXPECT_GT(e.value("err_code", 0), 0) << what << ": " << reply.dump();
  EXPECT_NE(e.value("description", "").find("\"" + stream + "\""), std::string::npos)
      << what << ": the description should name the virtual stream: " << reply.dump();
}

// Every read and write stream of `vs` still exists on the servers; returns the total stored.
uint64_t ExpectInternalStreamsIntact(const std::string& vs) {
  uint64_t total = 0;
  for (const auto& r : kRegions) {
    for (const std::string role : {"-write-", "-read-"}) {
      json info = ServerApi(r, "$JS.API.STREAM.INFO." + vs + role + r);
      EXPECT_FALSE(info.contains("error")) << info.dump();
      if (role == "-write-" && info.contains("state")) total += info["state"].value("messages", 0);
    }
  }
  return total;
}

TEST_F(SidecarTest, StreamCreateOfFooIsRefused) {
  Connection nc = ConnectSidecar("west", "refuse-create");
  json cfg = {{"name", "foo"}, {"subjects", {"foo.>"}}, {"storage", "file"}, {"num_replicas", 1}};
  ExpectRefusal(ApiRequest(nc.get(), "$JS.API.STREAM.CREATE.foo", cfg.dump()), "foo", "create");
  // An unmodified client gets an API error, not a stream.
  JetStream js = JetStreamOf(nc.get());
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = "foo";
  const char* subjects[] = {"foo.>"};
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  jsStreamInfo* si = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  EXPECT_NE(js_AddStream(&si, js.get(), &sc, nullptr, &err), NATS_OK);
  EXPECT_GT(err, 0);
  if (si) jsStreamInfo_Destroy(si);
  ExpectInternalStreamsIntact("foo");
}

TEST_F(SidecarTest, StreamUpdateOfFooIsRefused) {
  Connection nc = ConnectSidecar("east", "refuse-update");
  json cfg = {{"name", "foo"}, {"subjects", {"foo.>"}}, {"max_msgs", 1}};
  ExpectRefusal(ApiRequest(nc.get(), "$JS.API.STREAM.UPDATE.foo", cfg.dump()), "foo", "update");
  for (const auto& r : kRegions) {
    json info = ServerApi(r, "$JS.API.STREAM.INFO.foo-read-" + r);
    EXPECT_EQ(info["config"].value("max_msgs", 0), -1) << info.dump();
  }
}

TEST_F(SidecarTest, StreamDeleteOfFooIsRefused) {
  Connection nc = ConnectSidecar("central", "refuse-delete");
  ExpectRefusal(ApiRequest(nc.get(), "$JS.API.STREAM.DELETE.foo"), "foo", "delete");
  ExpectInternalStreamsIntact("foo");
}

TEST_F(SidecarTest, StreamPurgeOfFooIsRefused) {
  Connection pub = ConnectSidecar("west", "refuse-purge-pub");
  JsPublish(pub.get(), "foo.test", UniqueToken("purge"));
  const uint64_t before = WaitForConvergence("foo");
  Connection nc = ConnectSidecar("west", "refuse-purge");
  ExpectRefusal(ApiRequest(nc.get(), "$JS.API.STREAM.PURGE.foo"), "foo", "purge");
  ExpectRefusal(ApiRequest(nc.get(), "$JS.API.STREAM.PURGE.foo", R"({"filter":"foo.test"})"), "foo",
                "filtered purge");
  EXPECT_EQ(ExpectInternalStreamsIntact("foo"), before);
  for (const auto& r : kRegions) EXPECT_EQ(StoredMessages(r, "foo-read-" + r), before) << r;
}

// A publish with `header` through the sidecar of `region` is refused (error in the PubAck
// reply) and nothing is stored.
void ExpectPublishRefused(const std::string& region, const std::string& header,
                          const std::string& value) {
  Connection nc = ConnectSidecar(region, "refuse-hdr");
  const uint64_t before = StoredMessages(region, "foo-write-" + region);
  Msg reply = Request(nc.get(), "foo.test", UniqueToken("refused"), {{header, value}});
  ASSERT_TRUE(reply) << header << ": no reply";
  json j = json::parse(DataOf(reply.get()), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << header << ": " << DataOf(reply.get());
  ExpectRefusal(j, "foo", header);
  EXPECT_EQ(StoredMessages(region, "foo-write-" + region), before) << header << " was stored";
}

TEST_F(SidecarTest, PublishWithExpectedLastSequenceIsRefused) {
  ExpectPublishRefused("west", "Nats-Expected-Last-Sequence", "1");
}

TEST_F(SidecarTest, PublishWithExpectedLastSubjectSequenceIsRefused) {
  ExpectPublishRefused("east", "Nats-Expected-Last-Subject-Sequence", "0");
}

TEST_F(SidecarTest, PublishWithExpectedLastMsgIdIsRefused) {
  ExpectPublishRefused("central", "Nats-Expected-Last-Msg-Id", "some-id");
}

TEST_F(SidecarTest, PublishWithRollupIsRefused) {
  ExpectPublishRefused("west", "Nats-Rollup", "sub");
}

TEST_F(SidecarTest, LibnatsCompareAndSetPublishGetsAnError) {
  Connection nc = ConnectSidecar("west", "refuse-cas");
  JetStream js = JetStreamOf(nc.get());
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.ExpectLastSeq = 1;
  jsPubAck* ack = nullptr;
  jsErrCode err = static_cast<jsErrCode>(0);
  EXPECT_NE(js_Publish(&ack, js.get(), "foo.test", "x", 1, &po, &err), NATS_OK);
  EXPECT_GT(err, 0);
  EXPECT_NE(std::string(nats_GetLastError(nullptr)).find("foo"), std::string::npos)
      << nats_GetLastError(nullptr);
  if (ack) jsPubAck_Destroy(ack);
}

// Uses virtual stream `guard`: if the header were stored, it is guard's read streams that
// would stall, not foo's.
TEST_F(SidecarTest, ExpectedStreamNamingTheVirtualStreamIsAcceptedAndNotStored) {
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "expected-stream");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectStream = "guard";
    const std::string payload = UniqueToken("expected") + "-" + r;
    Ack ack = JsPublish(nc.get(), "guard.expected", payload, &po);
    EXPECT_EQ(ack.stream, "guard");
    json got =
        ServerApi(r, "$JS.API.STREAM.MSG.GET.guard-write-" + r, json{{"seq", ack.sequence}}.dump());
    ASSERT_TRUE(got.contains("message")) << got.dump();
    EXPECT_EQ(Base64Decode(got["message"].value("data", "")), payload) << got.dump();
    const std::string headers = Base64Decode(got["message"].value("hdrs", ""));
    EXPECT_EQ(headers.find("Nats-Expected"), std::string::npos)
        << "stored in guard-write-" << r << " with headers: " << headers;
  }
}

TEST_F(SidecarTest, ExpectedStreamNamingAnotherStreamIsRefused) {
  Connection nc = ConnectSidecar("east", "expected-other");
  const uint64_t before = StoredMessages("east", "guard-write-east");
  Msg reply = Request(nc.get(), "guard.expected", "x", {{"Nats-Expected-Stream", "other"}});
  ASSERT_TRUE(reply);
  json j = json::parse(DataOf(reply.get()), nullptr, false);
  ASSERT_TRUE(j.contains("error")) << DataOf(reply.get());
  EXPECT_EQ(j["error"].value("err_code", 0), 10060) << j.dump();
  EXPECT_EQ(StoredMessages("east", "guard-write-east"), before);
}

}  // namespace
}  // namespace meridian::sidecar_it
