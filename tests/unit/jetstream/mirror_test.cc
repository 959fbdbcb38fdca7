// Mirrors and sources within one engine: sequences kept, gaps from deletes skipped, config
// refusals with nats-server's codes, resumption after a reopen, lag and mirror_direct.
#include "harness.h"

namespace meridian::jetstream::testing {
namespace {

class MirrorTest : public EngineTest {
 protected:
  Json Info(const std::string& name) { return Api("$JS.API.STREAM.INFO." + name); }
  Json Get(const std::string& stream, uint64_t seq) {
    return Api("$JS.API.STREAM.MSG.GET." + stream, Json({{"seq", seq}}).dump());
  }
  // Publishes n messages "<prefix>1".."<prefix>n" on `subject`.
  void PubN(const std::string& subject, int n, const std::string& prefix = "m") {
    for (int i = 1; i <= n; ++i) Pub(subject, prefix + std::to_string(i));
  }
};

TEST_F(MirrorTest, CopiesKeepingSequencesTimestampsAndHeaders) {
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}});
  PubN("o.a", 5);
  Pub("o.b", "with-headers", Headers({{"Nats-Msg-Id", "x1"}, {"Nats-Expected-Stream", "O"}}));
  Json r = CreateStream({{"name", "M"}, {"mirror", {{"name", "O"}}}});
  ASSERT_FALSE(r.contains("error")) << r;
  EXPECT_FALSE(r["config"].contains("subjects"));
  EXPECT_FALSE(r["config"].contains("duplicate_window"));  // not defaulted for mirrors
  Advance(100);
  Json info = Info("M");
  EXPECT_EQ(info["state"]["messages"], 6);
  EXPECT_EQ(info["state"]["first_seq"], 1);
  EXPECT_EQ(info["state"]["last_seq"], 6);
  EXPECT_EQ(info["mirror"]["name"], "O");
  EXPECT_EQ(info["mirror"]["lag"], 0);
  EXPECT_GE(info["mirror"]["active"].get<int64_t>(), 0);
  EXPECT_FALSE(info.contains("sources"));
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    Json o = Get("O", seq)["message"], m = Get("M", seq)["message"];
    EXPECT_EQ(m, o) << seq;  // subject, data, headers and time, byte for byte
  }
  // New messages follow at once (the publish path pumps mirrors).
  Pub("o.c", "later");
  EXPECT_EQ(Get("M", 7)["message"]["subject"], "o.c");
}

TEST_F(MirrorTest, DeletedOriginMessagesBecomeSkippedSequences) {
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}});
  PubN("o.a", 10);
  for (int seq : {1, 2, 5, 6}) {
    Api("$JS.API.STREAM.MSG.DELETE.O", Json({{"seq", seq}}).dump());
  }
  CreateStream({{"name", "M"}, {"mirror", {{"name", "O"}}}});
  Advance(100);
  Json st = Info("M")["state"];
  EXPECT_EQ(st["messages"], 6);
  EXPECT_EQ(st["first_seq"], 3);  // an empty mirror starts at the origin's first message
  EXPECT_EQ(st["last_seq"], 10);
  EXPECT_EQ(st["num_deleted"], 2);
  EXPECT_EQ(Get("M", 5)["error"]["err_code"], 10037);
  EXPECT_EQ(Get("M", 7)["message"]["data"], Get("O", 7)["message"]["data"]);
}

TEST_F(MirrorTest, FilterTransformsAndStartSequence) {
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}});
  for (int i = 1; i <= 6; ++i) Pub(i % 2 ? "o.odd" : "o.even", std::to_string(i));
  CreateStream({{"name", "F"}, {"mirror", {{"name", "O"}, {"filter_subject", "o.even"}}}});
  CreateStream({{"name", "T"},
                {"mirror",
                 {{"name", "O"},
                  {"opt_start_seq", 3},
                  {"subject_transforms", {{{"src", "o.odd"}, {"dest", "mirrored.odd"}}}}}}});
  Advance(100);
  Json f = Info("F")["state"];
  EXPECT_EQ(f["messages"], 3);
  EXPECT_EQ(f["last_seq"], 6);
  EXPECT_EQ(Get("F", 4)["message"]["subject"], "o.even");
  Json t = Info("T")["state"];
  EXPECT_EQ(t["messages"], 2);  // 3 and 5
  EXPECT_EQ(t["first_seq"], 3);
  EXPECT_EQ(Get("T", 5)["message"]["subject"], "mirrored.odd");
  EXPECT_EQ(Get("T", 5)["message"]["data"], Get("O", 5)["message"]["data"]);
}

TEST_F(MirrorTest, StartTimeSkipsOlderMessages) {
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}});
  PubN("o.a", 3);
  now_ += 10'000'000'000;  // 10 s later
  PubN("o.b", 2);
  Json start = Get("O", 4)["message"]["time"];
  CreateStream({{"name", "M"}, {"mirror", {{"name", "O"}, {"opt_start_time", start}}}});
  Advance(100);
  Json st = Info("M")["state"];
  EXPECT_EQ(st["messages"], 2);
  EXPECT_EQ(st["first_seq"], 4);
}

TEST_F(MirrorTest, ConfigRefusalsUseTheServersCodes) {
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}, {"max_msg_size", 1024}});
  auto code = [&](const Json& cfg) { return CreateStream(cfg)["error"]["err_code"]; };
  EXPECT_EQ(code({{"name", "M"}, {"subjects", {"m"}}, {"mirror", {{"name", "O"}}}}), 10034);
  EXPECT_EQ(code({{"name", "M"}, {"mirror", {{"name", "O"}}}, {"sources", {{{"name", "X"}}}}}),
            10031);
  EXPECT_EQ(code({{"name", "M"}, {"mirror", {{"name", "O"}}}, {"first_seq", 5}}), 10143);
  EXPECT_EQ(code({{"name", "M"}, {"mirror", {{"name", "O"}}}, {"max_msg_size", 512}}), 10030);
  EXPECT_EQ(code({{"name", "M"}, {"mirror", {{"name", "a.b"}}}}), 10142);
  EXPECT_EQ(code({{"name", "M"},
                  {"mirror",
                   {{"name", "O"},
                    {"filter_subject", "o.a"},
                    {"subject_transforms", {{{"src", "o.b"}, {"dest", "x"}}}}}}}),
            10150);
  EXPECT_EQ(code({{"name", "M"},
                  {"mirror",
                   {{"name", "O"},
                    {"subject_transforms",
                     {{{"src", "o.*"}, {"dest", "x.*"}}, {{"src", "o.a"}, {"dest", "y"}}}}}}}),
            10152);
  EXPECT_EQ(code({{"name", "M"}, {"mirror", {{"name", "M"}}}}), 10052);  // detected cycle
  EXPECT_EQ(code({{"name", "M"}, {"mirror_direct", true}}), 10052);
  // A mirror of a stream that does not exist yet is fine; it starts when the origin appears.
  Json r = CreateStream({{"name", "LATE"}, {"mirror", {{"name", "NOTYET"}}}});
  ASSERT_FALSE(r.contains("error")) << r;
  CreateStream({{"name", "NOTYET"}, {"subjects", {"ny"}}});
  Pub("ny", "1");
  EXPECT_EQ(Info("LATE")["state"]["messages"], 1);
}

TEST_F(MirrorTest, UpdateCannotChangeTheMirrorOrAddSubjects) {
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}});
  CreateStream({{"name", "P"}, {"subjects", {"p.>"}}});
  Json cfg = CreateStream({{"name", "M"}, {"mirror", {{"name", "O"}}}})["config"];
  Json changed = cfg;
  changed["mirror"]["name"] = "P";
  EXPECT_EQ(Api("$JS.API.STREAM.UPDATE.M", changed.dump())["error"]["err_code"], 10055);
  Json subjects = cfg;
  subjects["subjects"] = {"m.>"};
  EXPECT_EQ(Api("$JS.API.STREAM.UPDATE.M", subjects.dump())["error"]["err_code"], 10034);
  Json limits = cfg;
  limits["max_msgs"] = 100;
  EXPECT_FALSE(Api("$JS.API.STREAM.UPDATE.M", limits.dump()).contains("error"));
  // Identical create is idempotent (mirror_direct and all).
  EXPECT_FALSE(CreateStream(limits).contains("error"));
}

TEST_F(MirrorTest, ResumesAfterReopenWithoutDuplicatesOrGaps) {
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}});
  CreateStream({{"name", "M"}, {"mirror", {{"name", "O"}, {"filter_subject", "o.*"}}}});
  PubN("o.a", 20);
  Reopen();
  PubN("o.b", 20);
  PubN("o.x.not-mirrored", 3);  // the mirror's last looked-at sequence runs past its store's
  Reopen();
  PubN("o.c", 5);
  Advance(100);
  Json st = Info("M")["state"];
  EXPECT_EQ(st["last_seq"], 48);
  EXPECT_EQ(st["messages"], 45);
  for (uint64_t seq = 1; seq <= 48; ++seq) {
    if (seq > 40 && seq <= 43) {
      EXPECT_EQ(Get("M", seq)["error"]["err_code"], 10037) << seq;
      continue;
    }
    EXPECT_EQ(Get("M", seq)["message"], Get("O", seq)["message"]) << seq;
  }
}

TEST_F(MirrorTest, StoredHeadersNeverStallAMirror) {
  CreateStream({{"name", "O"},
                {"subjects", {"o.>"}},
                {"allow_rollup_hdrs", true},
                {"duplicate_window", 1'000'000'000}});
  CreateStream({{"name", "M"}, {"mirror", {{"name", "O"}}}, {"duplicate_window", 60'000'000'000}});
  Pub("o.k", "1", Headers({{"Nats-Msg-Id", "same"}}));
  Advance(2000);  // out of the origin's window, still inside the mirror's
  Pub("o.k", "2", Headers({{"Nats-Msg-Id", "same"}}));
  Pub("o.k", "3", Headers({{"Nats-Expected-Stream", "O"}}));
  EXPECT_EQ(Info("M")["state"]["messages"], 3);
  // The mirror does not allow rollups itself but applies the origin's, as 2.14 does.
  Pub("o.k", "4", Headers({{"Nats-Rollup", "sub"}}));
  Json st = Info("M")["state"];
  EXPECT_EQ(st["messages"], 1);
  EXPECT_EQ(st["last_seq"], 4);
  EXPECT_EQ(Info("O")["state"]["messages"], 1);
}

TEST_F(MirrorTest, MirrorDirectAnswersForTheOrigin) {
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}, {"allow_direct", true}});
  Pub("o.a", "one");
  Json r = CreateStream({{"name", "M"}, {"mirror", {{"name", "O"}}}});
  EXPECT_EQ(r["config"]["mirror_direct"], true);
  Advance(100);
  // Once the origin is gone, direct gets for it are answered by the mirror.
  Api("$JS.API.STREAM.DELETE.O");
  out_.Take();
  engine_->HandleApi("$JS.API.DIRECT.GET.O", "_INBOX.d", "", R"({"seq":1})", &last_reply_);
  auto sent = out_.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].payload, "one");
  EXPECT_NE(sent[0].headers.find("Nats-Stream: M\r\n"), std::string::npos) << sent[0].headers;
}

TEST_F(MirrorTest, LagCountsWhatTheMirrorHasNotTaken) {
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}});
  CreateStream({{"name", "M"}, {"mirror", {{"name", "O"}}}});
  PubN("o.a", 3);
  EXPECT_EQ(Info("M")["mirror"]["lag"], 0);
  EXPECT_EQ(Info("M")["state"]["messages"], 3);
}

TEST_F(MirrorTest, ABacklogIsCopiedInSlicesUntilPumpSourcesSaysDone) {
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}, {"storage", "memory"}});
  for (int i = 0; i < 10000; ++i) Pub("o.a", "x");
  CreateStream({{"name", "M"}, {"mirror", {{"name", "O"}}}, {"storage", "memory"}});
  CreateStream({{"name", "R"}, {"sources", {{{"name", "O"}}}}, {"storage", "memory"}});
  int calls = 0;
  while (engine_->PumpSources()) ASSERT_LT(++calls, 100);
  EXPECT_GE(calls, 2);  // more than one slice
  EXPECT_EQ(Info("M")["state"]["messages"], 10000);
  EXPECT_EQ(Info("R")["state"]["messages"], 10000);
  EXPECT_FALSE(engine_->PumpSources());
}

TEST_F(MirrorTest, SourcesStillCopyAndReportActivity) {
  CreateStream({{"name", "A"}, {"subjects", {"a.>"}}});
  CreateStream({{"name", "B"}, {"subjects", {"b.>"}}});
  CreateStream({{"name", "R"}, {"sources", {{{"name", "A"}}, {{"name", "B"}}}}});
  PubN("a.x", 3);
  PubN("b.x", 2);
  Advance(100);
  Json info = Info("R");
  EXPECT_EQ(info["state"]["messages"], 5);
  ASSERT_EQ(info["sources"].size(), 2u);
  for (const auto& s : info["sources"]) {
    EXPECT_EQ(s["lag"], 0);
    EXPECT_GE(s["active"].get<int64_t>(), 0);
  }
}

TEST_F(MirrorTest, SourceStartTimeSkipsOlderMessages) {
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}});
  PubN("o.a", 3);
  now_ += 10'000'000'000;  // 10 s later
  PubN("o.b", 2);
  Json start = Get("O", 4)["message"]["time"];
  CreateStream({{"name", "R"}, {"sources", {{{"name", "O"}, {"opt_start_time", start}}}}});
  Advance(100);
  Json info = Info("R");
  EXPECT_EQ(info["state"]["messages"], 2);
  EXPECT_EQ(Get("R", 1)["message"]["subject"], "o.b");
  EXPECT_EQ(info["sources"][0]["lag"], 0);
  // Later messages follow; a reopen does not apply the start time again.
  Pub("o.a", "late");
  Advance(100);
  Reopen();
  Pub("o.a", "later");
  Advance(100);
  EXPECT_EQ(Info("R")["state"]["messages"], 4);
}

TEST_F(MirrorTest, SourceStartTimeIsRaisedToTheStreamsLastMessage) {
  // As nats-server: a first start by time never takes what is older than the stream's own
  // last message (here copied from another source).
  CreateStream({{"name", "O"}, {"subjects", {"o.>"}}});
  CreateStream({{"name", "P"}, {"subjects", {"p.>"}}});
  PubN("o.a", 2);
  now_ += 10'000'000'000;
  PubN("p.a", 1);
  CreateStream({{"name", "R"}, {"sources", {{{"name", "P"}}}}});
  Advance(100);  // R stores its copy of p.a now (a copy gets a new timestamp)
  ASSERT_EQ(Info("R")["state"]["messages"], 1);
  now_ += 10'000'000'000;
  PubN("o.b", 2);
  Json start = Get("O", 1)["message"]["time"];  // would take all four of O
  Json update =
      Api("$JS.API.STREAM.UPDATE.R",
          Json({{"name", "R"},
                {"sources", {{{"name", "P"}}, {{"name", "O"}, {"opt_start_time", start}}}}})
              .dump());
  ASSERT_FALSE(update.contains("error")) << update.dump();
  Advance(100);
  Json info = Info("R");
  EXPECT_EQ(info["state"]["messages"], 3);  // p.a, then o.b x2 (o.a is older than p.a's copy)
  EXPECT_EQ(Get("R", 2)["message"]["subject"], "o.b");
}

TEST_F(MirrorTest, AMissingOriginIsShownAsTheSourcesErrorUntilItExists) {
  CreateStream({{"name", "R"}, {"sources", {{{"name", "LATER"}}}}});
  CreateStream({{"name", "M"}, {"mirror", {{"name", "LATER"}}}});
  Advance(100);
  const Json missing =
      Json::parse(R"({"code":404,"err_code":10059,"description":"stream not found"})");
  Json r = Info("R");
  ASSERT_EQ(r["sources"].size(), 1u);
  EXPECT_EQ(r["sources"][0]["error"], missing) << r.dump();
  EXPECT_EQ(r["sources"][0]["active"], -1) << r.dump();
  Json m = Info("M");
  EXPECT_EQ(m["mirror"]["error"], missing) << m.dump();

  CreateStream({{"name", "LATER"}, {"subjects", {"later.>"}}});
  PubN("later.x", 2);
  Advance(100);
  r = Info("R");
  EXPECT_FALSE(r["sources"][0].contains("error")) << r.dump();
  EXPECT_EQ(r["state"]["messages"], 2);
  m = Info("M");
  EXPECT_FALSE(m["mirror"].contains("error")) << m.dump();
  EXPECT_EQ(m["state"]["messages"], 2);

  // Deleting the origin brings the error back.
  Api("$JS.API.STREAM.DELETE.LATER");
  Advance(100);
  EXPECT_EQ(Info("R")["sources"][0]["error"], missing);
  EXPECT_EQ(Info("M")["mirror"]["error"], missing);
}

}  // namespace
}  // namespace meridian::jetstream::testing
