// Never poison a read stream: what 2.9.10 lets stall a source (a stored Nats-Expected-*
// header, the same Nats-Msg-Id in two write streams, a rollup) never reaches a write stream
// through the sidecar, so every read stream keeps sourcing. Checked directly on the servers.
// Uses virtual stream `guard`.
#include "consumers.h"
#include "sidecar_world.h"

namespace meridian::sidecar_it {
namespace {

using nlohmann::json;

TEST_F(SidecarTest, ReadStreamsKeepSourcingAfterExpectedStreamReusedMsgIdAndRefusedRollup) {
  const std::string token = UniqueToken("poison");
  // 1. Nats-Expected-Stream: guard, in every region.
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "poison-expected");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectStream = "guard";
    EXPECT_EQ(JsPublish(nc.get(), "guard.poison", token + "-expected-" + r, &po).stream, "guard");
  }
  // 2. One message id used in two regions: both are accepted (they are different messages).
  for (const std::string r : {"east", "west"}) {
    Connection nc = ConnectSidecar(r, "poison-msgid");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    const std::string id = token + "-same-id";
    po.MsgId = id.c_str();
    Ack ack = JsPublish(nc.get(), "guard.poison", token + "-msgid-" + r, &po);
    EXPECT_FALSE(ack.duplicate) << r;
  }
  // 3. A rollup, refused.
  {
    Connection nc = ConnectSidecar("central", "poison-rollup");
    Msg reply = Request(nc.get(), "guard.poison", token + "-rollup", {{"Nats-Rollup", "sub"}});
    ASSERT_TRUE(reply);
    EXPECT_NE(DataOf(reply.get()).find("\"error\""), std::string::npos) << DataOf(reply.get());
  }
  // Then more publishes everywhere: every read stream must receive all of them.
  for (const auto& r : kRegions) {
    Connection nc = ConnectSidecar(r, "poison-after");
    JsPublish(nc.get(), "guard.after", token + "-after-" + r);
  }
  const uint64_t total = WaitForConvergence("guard", std::chrono::seconds(30));
  EXPECT_GE(total, 8u);
  for (const auto& reader : kRegions) {
    for (const auto& origin : kRegions) {
      json got = ServerApi(reader, "$JS.API.STREAM.MSG.GET.guard-read-" + reader,
                           json{{"last_by_subj", "guard." + origin + ".after"}}.dump());
      ASSERT_TRUE(got.contains("message")) << reader << " <- " << origin << ": " << got.dump();
      EXPECT_EQ(Base64Decode(got["message"].value("data", "")), token + "-after-" + origin);
    }
    // The sources report no error.
    json info = ServerApi(reader, "$JS.API.STREAM.INFO.guard-read-" + reader);
    for (const auto& src : info.value("sources", json::array())) {
      EXPECT_FALSE(src.contains("error")) << reader << ": " << src.dump();
    }
  }
}

TEST_F(SidecarTest, MessageIdStillDeduplicatesWithinOneRegion) {
  Connection nc = ConnectSidecar("west", "dedupe");
  const std::string id = UniqueToken("dedupe-id");
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id.c_str();
  const uint64_t before = StoredMessages("west", "guard-write-west");
  Ack first = JsPublish(nc.get(), "guard.dedupe", "first", &po);
  Ack second = JsPublish(nc.get(), "guard.dedupe", "second", &po);
  EXPECT_FALSE(first.duplicate);
  EXPECT_TRUE(second.duplicate);
  EXPECT_EQ(second.sequence, first.sequence);
  EXPECT_EQ(second.stream, "guard");
  EXPECT_EQ(StoredMessages("west", "guard-write-west"), before + 1);
  WaitForConvergence("guard");
}

}  // namespace
}  // namespace meridian::sidecar_it
