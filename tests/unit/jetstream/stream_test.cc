// Streams through the engine's API: create/update/delete/info/names/list/purge, message get
// and delete, direct get, and the publish path (PubAck text, headers, limits).
#include "harness.h"

namespace meridian::jetstream::testing {
namespace {

Json Orders() {
  return Json::parse(ReadFixture("requests/stream_create_orders.json"));
}

class StreamTest : public EngineTest {};

TEST_F(StreamTest, CreateEchoesTheDefaultedConfigAs29DoesPlus210Fields) {
  Json got = CreateStream(Orders());
  Json want = Json::parse(ReadFixture("stream_create_response.json"));
  Json cfg = got["config"];
  EXPECT_EQ(cfg["compression"], "none");  // 2.10 always writes these two
  EXPECT_EQ(cfg["consumer_limits"], Json::object());
  cfg.erase("compression");
  cfg.erase("consumer_limits");
  EXPECT_EQ(cfg, want["config"]);
  EXPECT_EQ(got["type"], want["type"]);
  EXPECT_EQ(got["did_create"], true);
  EXPECT_EQ(got["state"], want["state"]);
  EXPECT_EQ(got["cluster"], Json({{"leader", "n1"}}));  // 2.10 standalone
}

TEST_F(StreamTest, IdenticalCreateIsIdempotentDifferentConfigIs10058) {
  CreateStream(Orders());
  Json again = CreateStream(Orders());
  EXPECT_FALSE(again.contains("error")) << again;
  Json other = Orders();
  other["max_msgs"] = 5;
  EXPECT_EQ(CreateStream(other)["error"]["err_code"], 10058);
}

TEST_F(StreamTest, NameMismatchMatchesStockReply) {
  Api("$JS.API.STREAM.CREATE.OTHER", Orders().dump());
  EXPECT_EQ(Json::parse(last_reply_), Json::parse(ReadFixture("error_name_mismatch.json")));
}

TEST_F(StreamTest, TinyMaxAgeMatchesStockReply) {
  Json cfg = Orders();
  cfg["max_age"] = 5;
  CreateStream(cfg);
  EXPECT_EQ(Json::parse(last_reply_), Json::parse(ReadFixture("error_invalid_config.json")));
}

TEST_F(StreamTest, InfoOfMissingStreamMatchesStockReplyWithPaging) {
  Api("$JS.API.STREAM.INFO.NOPE");
  EXPECT_EQ(Json::parse(last_reply_), Json::parse(ReadFixture("error_stream_not_found.json")));
}

TEST_F(StreamTest, MalformedBodyIsInvalidJson) {
  Json r = Api("$JS.API.STREAM.CREATE.X", "{nope");
  EXPECT_EQ(r["error"]["err_code"], 10025);
  EXPECT_EQ(r["error"]["description"], "invalid JSON");
}

TEST_F(StreamTest, OverlappingSubjectsWithAnotherStreamAre10065) {
  CreateStream(Orders());
  Json r = CreateStream({{"name", "B"}, {"subjects", {"orders.east.*"}}});
  EXPECT_EQ(r["error"]["err_code"], 10065);
}

TEST_F(StreamTest, CreateSealedAndRollupWithoutPurgeAreInvalid) {
  EXPECT_EQ(CreateStream({{"name", "S"}, {"sealed", true}})["error"]["err_code"], 10052);
  Json r = CreateStream({{"name", "S"}, {"deny_purge", true}, {"allow_rollup_hdrs", true}});
  EXPECT_EQ(r["error"]["description"], "roll-ups require the purge permission");
}

TEST_F(StreamTest, ExternalPrefixesAreCheckedAsNatsServerDoes) {
  Json ext = {{"api", "$JS.hub.API"}, {"deliver", "dl"}};
  Json r = CreateStream({{"name", "M"}, {"mirror", {{"name", "ORDERS"}, {"external", ext}}}});
  ASSERT_FALSE(r.contains("error")) << r;
  EXPECT_EQ(r["config"]["mirror"]["external"], ext);
  r = CreateStream({{"name", "S"}, {"sources", {{{"name", "ORDERS"}, {"external", ext}}}}});
  ASSERT_FALSE(r.contains("error")) << r;
  // An external source may have this stream's own name (it is another stream).
  r = CreateStream({{"name", "ORDERS"}, {"sources", {{{"name", "ORDERS"}, {"external", ext}}}}});
  ASSERT_FALSE(r.contains("error")) << r;
  auto refused = [&](const Json& x, const Json& subjects = Json()) {
    Json cfg = {{"name", "X"}, {"sources", {{{"name", "O"}, {"external", x}}}}};
    if (!subjects.is_null()) cfg["subjects"] = subjects;
    return CreateStream(cfg)["error"];
  };
  Json e = refused({{"api", "$JS.hub.API"}, {"deliver", "dl.*"}});
  EXPECT_EQ(e["err_code"], 10024);
  EXPECT_EQ(e["description"], "stream external delivery prefix dl.* must not contain wildcards");
  e = refused({{"api", "$JS.hub.API"}, {"deliver", "dl"}}, {"dl.>"});
  EXPECT_EQ(e["err_code"], 10022);
  EXPECT_EQ(e["description"], "stream external delivery prefix dl overlaps with stream subject dl.>");
  e = refused({{"api", "$JS.hub.>"}, {"deliver", "dl"}});
  EXPECT_EQ(e["err_code"], 10052);
  EXPECT_EQ(e["description"],
            "stream external api prefix \"$JS.hub.>\" must be a valid subject without wildcards");
  e = refused({{"api", "$JS.API"}, {"deliver", "dl"}});
  EXPECT_EQ(e["err_code"], 10021);
  EXPECT_EQ(e["description"], "stream external api prefix $JS.API must not overlap with $JS.API");
}

TEST_F(StreamTest, PubAckTextIsByteExact) {
  CreateStream(Orders());
  EXPECT_EQ(Pub("orders.east.a", "hello"), "{\"stream\":\"ORDERS\", \"seq\":1}");
}

TEST_F(StreamTest, DuplicateMsgIdAnswersTheOriginalSequence) {
  CreateStream(Orders());
  std::string h = Headers({{"Nats-Msg-Id", "m1"}});
  Pub("orders.east.a", "hello", h);
  EXPECT_EQ(Pub("orders.east.a", "hello", h) + "\n", ReadFixture("pub_ack_duplicate.json"));
  Json info = Api("$JS.API.STREAM.INFO.ORDERS");
  EXPECT_EQ(info["state"]["messages"], 1);
}

TEST_F(StreamTest, DuplicateWindowExpires) {
  CreateStream({{"name", "S"}, {"duplicate_window", 1'000'000'000}});
  std::string h = Headers({{"Nats-Msg-Id", "m1"}});
  Pub("S", "a", h);
  Advance(1500);
  EXPECT_EQ(Pub("S", "a", h), "{\"stream\":\"S\", \"seq\":2}");
}

TEST_F(StreamTest, ExpectedStreamMismatchMatchesStockReply) {
  CreateStream(Orders());
  std::string ack = Pub("orders.east.a", "x", Headers({{"Nats-Expected-Stream", "NOPE"}}));
  EXPECT_EQ(Json::parse(ack), Json::parse(ReadFixture("pub_ack_error.json")));
}

TEST_F(StreamTest, ExpectedLastSequenceChecks) {
  CreateStream({{"name", "S"}});
  Pub("S", "a");
  Json bad = Json::parse(Pub("S", "b", Headers({{"Nats-Expected-Last-Sequence", "5"}})));
  EXPECT_EQ(bad["error"]["err_code"], 10071);
  EXPECT_EQ(bad["error"]["description"], "wrong last sequence: 1");
  EXPECT_EQ(Pub("S", "b", Headers({{"Nats-Expected-Last-Sequence", "1"}})),
            "{\"stream\":\"S\", \"seq\":2}");
}

TEST_F(StreamTest, ExpectedLastSubjectSequenceZeroMeansNoMessageOnSubject) {
  CreateStream({{"name", "KV"}, {"subjects", {"kv.>"}}});
  std::string create = Headers({{"Nats-Expected-Last-Subject-Sequence", "0"}});
  EXPECT_EQ(Pub("kv.a", "1", create), "{\"stream\":\"KV\", \"seq\":1}");
  Json bad = Json::parse(Pub("kv.a", "2", create));
  EXPECT_EQ(bad["error"]["description"], "wrong last sequence: 1");
}

TEST_F(StreamTest, ExpectedLastMsgIdComparesWithTheLastStoredMessage) {
  CreateStream({{"name", "S"}});
  Pub("S", "a", Headers({{"Nats-Msg-Id", "x1"}}));
  Json bad = Json::parse(Pub("S", "b", Headers({{"Nats-Expected-Last-Msg-Id", "zz"}})));
  EXPECT_EQ(bad["error"]["description"], "wrong last msg ID: x1");
  EXPECT_EQ(Pub("S", "b", Headers({{"Nats-Expected-Last-Msg-Id", "x1"}})),
            "{\"stream\":\"S\", \"seq\":2}");
}

TEST_F(StreamTest, RollupNeedsAllowRollupHdrs) {
  CreateStream({{"name", "S"}, {"subjects", {"s.>"}}});
  Json bad = Json::parse(Pub("s.a", "x", Headers({{"Nats-Rollup", "sub"}})));
  EXPECT_EQ(bad["error"]["err_code"], 10111);
  EXPECT_EQ(bad["error"]["description"], "rollup not permitted");
}

TEST_F(StreamTest, RollupSubKeepsOnlyTheNewestOnThatSubject) {
  CreateStream({{"name", "S"}, {"subjects", {"s.>"}}, {"allow_rollup_hdrs", true}});
  Pub("s.a", "1");
  Pub("s.a", "2");
  Pub("s.b", "3");
  Pub("s.a", "4", Headers({{"Nats-Rollup", "sub"}}));
  Json info = Api("$JS.API.STREAM.INFO.S");
  EXPECT_EQ(info["state"]["messages"], 2);
  Pub("s.c", "5", Headers({{"Nats-Rollup", "all"}}));
  EXPECT_EQ(Api("$JS.API.STREAM.INFO.S")["state"]["messages"], 1);
}

TEST_F(StreamTest, DiscardNewRefusesWithTheServersSentence) {
  CreateStream({{"name", "S"}, {"max_msgs", 1}, {"discard", "new"}});
  Pub("S", "a");
  Json bad = Json::parse(Pub("S", "b"));
  EXPECT_EQ(bad["error"]["err_code"], 10077);
  EXPECT_EQ(bad["error"]["code"], 503);
  EXPECT_EQ(bad["error"]["description"], "maximum messages exceeded");
}

TEST_F(StreamTest, DiscardOldKeepsTheNewest) {
  CreateStream({{"name", "S"}, {"max_msgs", 2}});
  Pub("S", "a");
  Pub("S", "b");
  Pub("S", "c");
  Json st = Api("$JS.API.STREAM.INFO.S")["state"];
  EXPECT_EQ(st["messages"], 2);
  EXPECT_EQ(st["first_seq"], 2);
}

TEST_F(StreamTest, MaxMsgSizeIs10054) {
  CreateStream({{"name", "S"}, {"max_msg_size", 3}});
  EXPECT_EQ(Json::parse(Pub("S", "abcd"))["error"]["err_code"], 10054);
}

TEST_F(StreamTest, SealedStreamRefusesPublishesAndCannotBeUnsealed) {
  CreateStream({{"name", "S"}});
  Json upd = Api("$JS.API.STREAM.UPDATE.S", Json({{"name", "S"}, {"sealed", true}}).dump());
  EXPECT_EQ(upd["config"]["deny_delete"], true);
  EXPECT_EQ(Json::parse(Pub("S", "a"))["error"]["err_code"], 10109);
  Json un = Api("$JS.API.STREAM.UPDATE.S", Json({{"name", "S"}}).dump());
  EXPECT_EQ(un["error"]["err_code"], 10052);
}

TEST_F(StreamTest, UpdateCannotChangeStorage) {
  CreateStream({{"name", "S"}});
  Json r = Api("$JS.API.STREAM.UPDATE.S", Json({{"name", "S"}, {"storage", "memory"}}).dump());
  EXPECT_EQ(r["error"]["err_code"], 10052);
}

TEST_F(StreamTest, PurgeForms) {
  CreateStream({{"name", "S"}, {"subjects", {"s.>"}}});
  for (int i = 0; i < 6; ++i) Pub(i % 2 ? "s.a" : "s.b", "x");
  Json r = Api("$JS.API.STREAM.PURGE.S", R"({"filter":"s.a","keep":1})");
  EXPECT_EQ(r["purged"], 2);
  r = Api("$JS.API.STREAM.PURGE.S", R"({"seq":3})");
  EXPECT_EQ(r["purged"], 1);  // seq 1 (s.b); seq 2 (s.a) was already gone
  EXPECT_EQ(Api("$JS.API.STREAM.PURGE.S", R"({"seq":3,"keep":1})")["error"]["err_code"], 10003);
  r = Api("$JS.API.STREAM.PURGE.S");
  EXPECT_EQ(r, Json({{"type", "io.nats.jetstream.api.v1.stream_purge_response"},
                     {"success", true},
                     {"purged", 3}}));
}

TEST_F(StreamTest, DenyPurgeIs10110) {
  CreateStream({{"name", "S"}, {"deny_purge", true}});
  EXPECT_EQ(Api("$JS.API.STREAM.PURGE.S")["error"]["err_code"], 10110);
}

TEST_F(StreamTest, MsgGetShapeAndMisses) {
  CreateStream(Orders());
  Pub("orders.east.a", "hello", Headers({{"Nats-Msg-Id", "m1"}}));
  Json got = Api("$JS.API.STREAM.MSG.GET.ORDERS", R"({"seq":1})");
  Json want = Json::parse(ReadFixture("msg_get_response.json"));
  got["message"].erase("time");
  want["message"].erase("time");
  EXPECT_EQ(got, want);
  Api("$JS.API.STREAM.MSG.GET.ORDERS", R"({"seq":99})");
  EXPECT_EQ(Json::parse(last_reply_), Json::parse(ReadFixture("error_no_message_found.json")));
  EXPECT_EQ(Api("$JS.API.STREAM.MSG.GET.ORDERS")["error"]["err_code"], 10003);
  EXPECT_EQ(
      Api("$JS.API.STREAM.MSG.GET.ORDERS", R"({"last_by_subj":"orders.east.a"})")["message"]["seq"],
      1);
}

TEST_F(StreamTest, MsgDeleteAndDenyDelete) {
  CreateStream({{"name", "S"}});
  Pub("S", "a");
  Pub("S", "b");
  EXPECT_EQ(Api("$JS.API.STREAM.MSG.DELETE.S", R"({"seq":1})")["success"], true);
  Json miss = Api("$JS.API.STREAM.MSG.DELETE.S", R"({"seq":1})");
  EXPECT_EQ(miss["error"]["err_code"], 10057);
  EXPECT_EQ(miss["error"]["description"], "no message found");
  CreateStream({{"name", "D"}, {"deny_delete", true}});
  Pub("D", "a");
  EXPECT_EQ(Api("$JS.API.STREAM.MSG.DELETE.D", R"({"seq":1})")["error"]["description"],
            "message delete not permitted");
}

TEST_F(StreamTest, DirectGetBothFormsCarryTheStreamHeaders) {
  CreateStream(Orders());
  Pub("orders.east.a", "hello", Headers({{"Nats-Msg-Id", "m1"}}));
  out_.Take();
  Api("$JS.API.DIRECT.GET.ORDERS", R"({"seq":1})");
  auto sent = out_.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].subject, "_INBOX.r");
  EXPECT_EQ(sent[0].payload, "hello");
  EXPECT_TRUE(sent[0].headers.starts_with(
      "NATS/1.0\r\nNats-Msg-Id: m1\r\nNats-Stream: ORDERS\r\nNats-Subject: orders.east.a\r\n"
      "Nats-Sequence: 1\r\nNats-Time-Stamp: "))
      << sent[0].headers;
  Api("$JS.API.DIRECT.GET.ORDERS.orders.east.a");
  sent = out_.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].payload, "hello");
  Api("$JS.API.DIRECT.GET.ORDERS.orders.east.zz");
  EXPECT_EQ(out_.Take().at(0).headers, "NATS/1.0 404 Message Not Found\r\n\r\n");
  Api("$JS.API.DIRECT.GET.ORDERS");
  EXPECT_EQ(out_.Take().at(0).headers, "NATS/1.0 408 Empty Request\r\n\r\n");
}

TEST_F(StreamTest, DirectGetIsSilentWithoutAllowDirect) {
  CreateStream({{"name", "S"}});
  Pub("S", "a");
  out_.Take();
  Api("$JS.API.DIRECT.GET.S", R"({"seq":1})");
  EXPECT_TRUE(out_.Take().empty());
}

TEST_F(StreamTest, SubjectTransformRewritesTheStoredSubject) {
  CreateStream({{"name", "S"},
                {"subjects", {"in.*"}},
                {"subject_transform", {{"src", "in.*"}, {"dest", "out.$1"}}}});
  Pub("in.x", "a");
  EXPECT_EQ(Api("$JS.API.STREAM.MSG.GET.S", R"({"seq":1})")["message"]["subject"], "out.x");
}

TEST_F(StreamTest, NamesAndListFilterBySubjectCollision) {
  EXPECT_EQ(Json::parse(ReadFixture("stream_names_empty_response.json")),
            Api("$JS.API.STREAM.NAMES"));
  CreateStream(Orders());
  CreateStream({{"name", "B"}, {"subjects", {"b.>"}}});
  Json names = Api("$JS.API.STREAM.NAMES", R"({"subject":"orders.x"})");
  EXPECT_EQ(names["streams"], Json({"ORDERS"}));
  EXPECT_EQ(names["total"], 1);
  Json list = Api("$JS.API.STREAM.LIST");
  EXPECT_EQ(list["limit"], 256);
  ASSERT_EQ(list["streams"].size(), 2u);
  EXPECT_EQ(list["streams"][0]["config"]["name"], "B");
}

TEST_F(StreamTest, InfoWithSubjectsFilterPages) {
  CreateStream(Orders());
  Pub("orders.a", "1");
  Pub("orders.b", "2");
  Json info = Api("$JS.API.STREAM.INFO.ORDERS", R"({"subjects_filter":">"})");
  EXPECT_EQ(info["state"]["subjects"], Json({{"orders.a", 1}, {"orders.b", 1}}));
  EXPECT_EQ(info["total"], 2);
  EXPECT_EQ(info["limit"], 100000);
}

TEST_F(StreamTest, DeleteNeedsAnEmptyBodyAndRemovesTheStream) {
  CreateStream({{"name", "S"}});
  EXPECT_EQ(Api("$JS.API.STREAM.DELETE.S", R"({"x":1})")["error"]["err_code"], 10038);
  EXPECT_EQ(Api("$JS.API.STREAM.DELETE.S"),
            Json::parse(ReadFixture("stream_delete_response.json")));
  EXPECT_FALSE(engine_->Captures("S"));
}

TEST_F(StreamTest, AccountInfoCountsStreamsAndConsumers) {
  CreateStream({{"name", "S"}});
  Json ai = Api("$JS.API.INFO");
  EXPECT_EQ(ai["type"], "io.nats.jetstream.api.v1.account_info_response");
  EXPECT_EQ(ai["streams"], 1);
  EXPECT_EQ(ai["limits"]["max_streams"], -1);
  EXPECT_EQ(ai["reserved_storage"], 0);
}

TEST_F(StreamTest, UnknownApiSubjectIsBadRequestAs2_10) {
  Json r = Api("$JS.API.NOPE.NOPE");
  EXPECT_EQ(r["type"], "io.nats.jetstream.api.v1.system_response");
  EXPECT_EQ(r["error"]["err_code"], 10003);
}

TEST_F(StreamTest, MemoryStreamStoresAndAnswers) {
  CreateStream({{"name", "M"}, {"storage", "memory"}});
  EXPECT_EQ(Pub("M", "a"), "{\"stream\":\"M\", \"seq\":1}");
}

TEST_F(StreamTest, MaxAgeExpiresOnTick) {
  CreateStream({{"name", "S"}, {"max_age", 1'000'000'000}});
  Pub("S", "a");
  Advance(2000);
  EXPECT_EQ(Api("$JS.API.STREAM.INFO.S")["state"]["messages"], 0);
}

}  // namespace
}  // namespace meridian::jetstream::testing
