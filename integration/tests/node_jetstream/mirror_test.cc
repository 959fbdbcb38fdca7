// Stream mirrors with libnats and raw $JS.API requests, every case run unchanged against
// meridian-node and the stock nats-server: sequences and timestamps kept, deleted origin
// messages skipped, filter + start sequence, config refusals with the server's error codes,
// no direct publishes, mirror_direct inherited, and resuming after a restart.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "harness/gtest_support.h"
#include "js_test_util.h"
#include "js_world.h"

namespace meridian::node_js_it {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

class Mirrors : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    server_ = std::make_unique<JsServer>(GetParam(), dir_.path());
    Reconnect();
  }
  void Reconnect() {
    js_.reset();
    nc_.reset();
    nc_ = Connect(server_->url());
    js_ = JetStream(nc_.get());
  }

  // A raw JetStream API request; the parsed JSON reply.
  Json Api(const std::string& subject, const Json& body) {
    std::string data = body.is_null() ? std::string() : body.dump();
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_Request(&reply, nc_.get(), subject.c_str(), data.data(),
                                          static_cast<int>(data.size()), 10000);
    if (s != NATS_OK) {
      ADD_FAILURE() << subject << ": " << natsStatus_GetText(s);
      return Json();
    }
    Msg hold(reply);
    return Json::parse(Data(reply), nullptr, false);
  }
  Json Create(const Json& cfg) {
    return Api("$JS.API.STREAM.CREATE." + cfg["name"].get<std::string>(), cfg);
  }
  Json Info(const std::string& name) { return Api("$JS.API.STREAM.INFO." + name, Json()); }
  // Polls stream info until `done` holds (generous: a loaded 2-core CI machine).
  Json WaitFor(const std::string& name, const std::function<bool(const Json&)>& done,
               std::chrono::seconds timeout = 60s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    Json info;
    while (std::chrono::steady_clock::now() < deadline) {
      info = Info(name);
      if (info.is_object() && !info.contains("error") && done(info)) return info;
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "stream " << name << " never reached the expected state: " << info.dump();
    return info;
  }
  void Publish(const std::string& subject, const std::string& body) {
    ASSERT_EQ(js_Publish(nullptr, js_.get(), subject.c_str(), body.data(),
                         static_cast<int>(body.size()), nullptr, nullptr),
              NATS_OK);
  }
  // The message at `seq` as (subject, data, time); empty subject when there is none.
  struct Stored {
    std::string subject, data;
    int64_t time = 0;
    bool operator==(const Stored&) const = default;
  };
  Stored Get(const char* stream, uint64_t seq) {
    natsMsg* m = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    Stored out;
    if (js_GetMsg(&m, js_.get(), stream, seq, nullptr, &code) != NATS_OK) return out;
    Msg hold(m);
    out.subject = natsMsg_GetSubject(m);
    out.data = Data(m);
    out.time = natsMsg_GetTime(m);
    return out;
  }

  harness::TestRunDir dir_;
  std::unique_ptr<JsServer> server_;
  Nc nc_;
  Js js_;
};

TEST_P(Mirrors, MirrorKeepsSequencesAndTimestampsAndSkipsDeletedMessages) {
  AddFileStream(js_.get(), "ORIG", "orig.>");
  for (int i = 1; i <= 10; ++i) Publish(i % 2 ? "orig.a" : "orig.b", "m" + std::to_string(i));
  for (uint64_t seq : {1, 2, 5, 6}) {
    ASSERT_EQ(js_DeleteMsg(js_.get(), "ORIG", seq, nullptr, nullptr), NATS_OK);
  }
  Json r = Create({{"name", "MIR"}, {"mirror", {{"name", "ORIG"}}}, {"storage", "file"}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  EXPECT_FALSE(r["config"].contains("subjects")) << r.dump();
  Json info = WaitFor("MIR", [](const Json& i) { return i["state"]["last_seq"] == 10; });
  EXPECT_EQ(info["state"]["messages"], 6);
  EXPECT_EQ(info["state"]["first_seq"], 3);
  EXPECT_EQ(info["state"]["num_deleted"], 2);
  EXPECT_EQ(info["mirror"]["name"], "ORIG");
  info = WaitFor("MIR", [](const Json& i) { return i["mirror"]["lag"] == 0; });
  EXPECT_GE(info["mirror"]["active"].get<int64_t>(), 0);
  for (uint64_t seq = 3; seq <= 10; ++seq) {
    Stored o = Get("ORIG", seq), m = Get("MIR", seq);
    EXPECT_EQ(m, o) << "sequence " << seq;
  }
  EXPECT_TRUE(Get("MIR", 5).subject.empty()) << "a deleted origin message was mirrored";
  // New origin messages follow, at the origin's sequences.
  Publish("orig.c", "later");
  WaitFor("MIR", [](const Json& i) { return i["state"]["last_seq"] == 11; });
  EXPECT_EQ(Get("MIR", 11), Get("ORIG", 11));
}

TEST_P(Mirrors, FilteredMirrorFromAStartSequence) {
  AddFileStream(js_.get(), "ORIG", "orig.>");
  for (int i = 1; i <= 8; ++i) Publish(i % 2 ? "orig.odd" : "orig.even", std::to_string(i));
  Json r = Create(
      {{"name", "EVEN"},
       {"mirror", {{"name", "ORIG"}, {"filter_subject", "orig.even"}, {"opt_start_seq", 3}}}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  Json info = WaitFor("EVEN", [](const Json& i) { return i["state"]["last_seq"] == 8; });
  EXPECT_EQ(info["state"]["messages"], 3);  // 4, 6, 8
  EXPECT_EQ(info["state"]["first_seq"], 4);
  EXPECT_EQ(Get("EVEN", 6), Get("ORIG", 6));
  EXPECT_TRUE(Get("EVEN", 5).subject.empty());
  EXPECT_TRUE(Get("EVEN", 2).subject.empty());
}

TEST_P(Mirrors, MirrorFromAStartTimeBeginsAtTheFirstMessageAtOrAfterIt) {
  AddFileStream(js_.get(), "ORIG", "orig.>");
  for (int i = 1; i <= 5; ++i) Publish("orig.old", std::to_string(i));
  std::this_thread::sleep_for(50ms);  // distinct timestamps on both sides of the start
  for (int i = 6; i <= 10; ++i) Publish("orig.new", std::to_string(i));
  Json start = Api("$JS.API.STREAM.MSG.GET.ORIG", Json({{"seq", 6}}))["message"]["time"];
  ASSERT_TRUE(start.is_string());
  Json r = Create({{"name", "LATE"}, {"mirror", {{"name", "ORIG"}, {"opt_start_time", start}}}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  Json info = WaitFor("LATE", [](const Json& i) { return i["state"]["last_seq"] == 10; });
  EXPECT_EQ(info["state"]["messages"], 5);
  EXPECT_EQ(info["state"]["first_seq"], 6);
  EXPECT_EQ(Get("LATE", 6), Get("ORIG", 6));
}

TEST_P(Mirrors, SourceFromAStartTimeBeginsAtTheFirstMessageAtOrAfterIt) {
  AddFileStream(js_.get(), "ORIG", "orig.>");
  for (int i = 1; i <= 5; ++i) Publish("orig.old", std::to_string(i));
  std::this_thread::sleep_for(50ms);  // distinct timestamps on both sides of the start
  for (int i = 6; i <= 10; ++i) Publish("orig.new", std::to_string(i));
  Json start = Api("$JS.API.STREAM.MSG.GET.ORIG", Json({{"seq", 6}}))["message"]["time"];
  ASSERT_TRUE(start.is_string());
  Json r = Create({{"name", "SRC"}, {"sources", {{{"name", "ORIG"}, {"opt_start_time", start}}}}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  Json info = WaitFor("SRC", [](const Json& i) { return i["state"]["messages"] == 5; });
  EXPECT_EQ(Get("SRC", 1).subject, "orig.new");
  EXPECT_EQ(Get("SRC", 1).data, "6");
  EXPECT_EQ(Get("SRC", 5).data, "10");
  Publish("orig.old", "11");  // later messages follow, whatever their subject
  info = WaitFor("SRC", [](const Json& i) { return i["state"]["messages"] == 6; });
  EXPECT_EQ(Get("SRC", 6).data, "11");
}

// nats-server shows the origin's answer to its consumer create (10059) as the source's and
// the mirror's `error` while the origin is missing, and clears it once the consumer is set up
// (stock retries with a back-off, hence the long wait).
TEST_P(Mirrors, AMissingOriginIsShownAsErrorUntilItExists) {
  Json r = Create({{"name", "SRC"}, {"subjects", {"src.>"}}, {"sources", {{{"name", "LATER"}}}}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  r = Create({{"name", "MIR"}, {"mirror", {{"name", "LATER"}}}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  auto err_code = [](const Json& entry) {
    return entry.is_object() && entry.contains("error") ? entry["error"].value("err_code", 0) : 0;
  };
  Json info = WaitFor("SRC", [&](const Json& i) {
    return i["sources"].is_array() && i["sources"].size() == 1 && err_code(i["sources"][0]) != 0;
  });
  EXPECT_EQ(err_code(info["sources"][0]), 10059) << info.dump();
  EXPECT_EQ(info["sources"][0]["error"]["code"], 404) << info.dump();
  info = WaitFor("MIR", [&](const Json& i) { return err_code(i["mirror"]) != 0; });
  EXPECT_EQ(err_code(info["mirror"]), 10059) << info.dump();

  AddFileStream(js_.get(), "LATER", "later.>");
  Publish("later.a", "x");
  info = WaitFor(
      "SRC",
      [&](const Json& i) { return i["state"]["messages"] == 1 && err_code(i["sources"][0]) == 0; },
      180s);
  EXPECT_FALSE(info["sources"][0].contains("error")) << info.dump();
  info = WaitFor(
      "MIR",
      [&](const Json& i) { return i["state"]["messages"] == 1 && err_code(i["mirror"]) == 0; },
      180s);
  EXPECT_FALSE(info["mirror"].contains("error")) << info.dump();
}

TEST_P(Mirrors, ConfigRefusalsMatchTheServer) {
  Json orig = {{"name", "ORIG"}, {"subjects", {"orig.>"}}, {"max_msg_size", 1024}};
  ASSERT_FALSE(Create(orig).contains("error"));
  auto code = [&](const Json& cfg) {
    Json r = Create(cfg);
    return r.contains("error") ? r["error"]["err_code"].get<int>() : 0;
  };
  EXPECT_EQ(code({{"name", "M"}, {"subjects", {"m.>"}}, {"mirror", {{"name", "ORIG"}}}}), 10034);
  EXPECT_EQ(code({{"name", "M"}, {"mirror", {{"name", "ORIG"}}}, {"sources", {{{"name", "X"}}}}}),
            10031);
  EXPECT_EQ(code({{"name", "M"}, {"mirror", {{"name", "ORIG"}}}, {"max_msg_size", 512}}), 10030);
  Json r = Create({{"name", "M"}, {"mirror", {{"name", "ORIG"}}}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  Json cfg = r["config"];
  Json other = cfg;
  ASSERT_FALSE(Create({{"name", "OTHER"}, {"subjects", {"other.>"}}}).contains("error"));
  other["mirror"]["name"] = "OTHER";
  EXPECT_EQ(Api("$JS.API.STREAM.UPDATE.M", other)["error"]["err_code"], 10055);
  Json subjects = cfg;
  subjects["subjects"] = {"m.>"};
  EXPECT_EQ(Api("$JS.API.STREAM.UPDATE.M", subjects)["error"]["err_code"], 10034);
  Json limits = cfg;
  limits["max_msgs"] = 1000;
  Json updated = Api("$JS.API.STREAM.UPDATE.M", limits);
  EXPECT_FALSE(updated.contains("error")) << updated.dump();
  EXPECT_EQ(updated["config"]["max_msgs"], 1000);
}

TEST_P(Mirrors, MirrorTakesNoDirectPublishesAndInheritsDirectGets) {
  ASSERT_FALSE(Create({{"name", "ORIG"}, {"subjects", {"orig.>"}}, {"allow_direct", true}})
                   .contains("error"));
  Json r = Create({{"name", "MIR"}, {"mirror", {{"name", "ORIG"}}}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  EXPECT_EQ(r["config"]["mirror_direct"], true);
  // A mirror listens on no subject: a JetStream publish to its name finds no stream.
  jsErrCode code = static_cast<jsErrCode>(0);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 2000;
  natsStatus s = js_Publish(nullptr, js_.get(), "MIR", "x", 1, &po, &code);
  EXPECT_TRUE(s == NATS_NO_RESPONDERS || s == NATS_TIMEOUT) << natsStatus_GetText(s);
  Publish("orig.a", "one");
  Json info = WaitFor("MIR", [](const Json& i) { return i["state"]["last_seq"] == 1; });
  EXPECT_EQ(info["state"]["messages"], 1);
  EXPECT_EQ(Get("MIR", 1).data, "one");
}

TEST_P(Mirrors, MirrorResumesAfterARestartWithoutDuplicatesOrGaps) {
  AddFileStream(js_.get(), "ORIG", "orig.>");
  ASSERT_FALSE(Create({{"name", "MIR"}, {"mirror", {{"name", "ORIG"}}}}).contains("error"));
  for (int i = 1; i <= 100; ++i) Publish("orig.a", "a" + std::to_string(i));
  WaitFor("MIR", [](const Json& i) { return i["state"]["last_seq"] == 100; });
  server_->Restart();
  Reconnect();
  for (int i = 1; i <= 100; ++i) Publish("orig.b", "b" + std::to_string(i));
  Json info = WaitFor("MIR", [](const Json& i) { return i["state"]["last_seq"] == 200; });
  EXPECT_EQ(info["state"]["messages"], 200);
  EXPECT_EQ(info["state"]["first_seq"], 1);
  for (uint64_t seq = 1; seq <= 200; ++seq) {
    EXPECT_EQ(Get("MIR", seq), Get("ORIG", seq)) << "sequence " << seq;
  }
}

INSTANTIATE_TEST_SUITE_P(BothServers, Mirrors,
                         ::testing::Values(ServerKind::kMeridianNode, ServerKind::kNatsServer),
                         [](const auto& info) { return KindName(info.param); });

}  // namespace
}  // namespace meridian::node_js_it
