// The same behaviour seen by an unmodified nats.js 2.29.3 client (js/sidecar_client.mjs),
// given only nats://127.0.0.1:<sidecar port>.
#include <filesystem>
#include <map>
#include <thread>

#include "consumers.h"
#include "harness/http_client.h"
#include "harness/node_script.h"
#include "js_restart.h"
#include "sidecar_world.h"

namespace meridian::sidecar_it {
namespace {

using nlohmann::json;

// Runs sidecar_client.mjs against `region`'s sidecar; returns the RESULT JSON (null and a
// test failure when the script failed).
json RunClient(const std::string& region, const std::vector<std::string>& args,
               std::chrono::seconds timeout = std::chrono::seconds(30)) {
  std::vector<std::string> argv = {"--url", SidecarUrl(region)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = harness::RunNodeScript("sidecar_client.mjs", argv,
                                  TheWorld().run_dir->path() / "logs" /
                                      ("js-" + UniqueToken(args.empty() ? "x" : args[0]) + ".log"),
                                  timeout);
  EXPECT_TRUE(r.ok()) << "nats.js client " << args[0] << " in " << region << ": " << r.Describe();
  const std::string result = r.ResultLine();
  if (result.empty()) return json();
  return json::parse(result, nullptr, false);
}

std::string Join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

std::set<std::string> JsPublishInEveryRegion(const std::string& subject,
                                             const std::string& payload) {
  std::set<std::string> out;
  for (const auto& r : kRegions) {
    const std::string p = payload + "-" + r + "@" + subject;
    json ack = RunClient(r, {"publish", "--subject", subject, "--payload", p});
    EXPECT_EQ(ack.value("stream", ""), "foo") << r << ": " << ack.dump();
    EXPECT_GT(ack.value("seq", 0), 0) << r << ": " << ack.dump();
    out.insert(p);
  }
  return out;
}

// Everything wanted arrived; each message under the subject its publisher used (payloads
// end in "@<subject>"), or only `only_subject` when given; stream foo in the ack metadata.
void ExpectReceived(const json& res, const std::string& only_subject = "") {
  ASSERT_TRUE(res.is_object()) << res.dump();
  EXPECT_EQ(res["missing"], json::array()) << res.dump();
  for (const auto& m : res["received"]) {
    const std::string payload = m.value("payload", "");
    const auto at = payload.rfind('@');
    if (!only_subject.empty()) {
      EXPECT_EQ(m["subject"], only_subject) << m.dump();
    } else if (at != std::string::npos) {
      EXPECT_EQ(m["subject"], payload.substr(at + 1)) << m.dump();
    }
    EXPECT_EQ(m["stream"], "foo") << m.dump();
  }
}

std::set<std::string> PublishTestAndOther(const std::string& what) {
  const std::string token = UniqueToken(what);
  auto want = JsPublishInEveryRegion("foo.test", token);
  for (const auto& p : JsPublishInEveryRegion("foo.other", token)) want.insert(p);
  WaitForConvergence("foo");
  return want;
}

TEST_F(SidecarTest, NatsJsPublishIsAckedByFooAndStreamInfoShowsAllMessagesEverywhere) {
  JsPublishInEveryRegion("foo.test", UniqueToken("js-pub"));
  const uint64_t total = WaitForConvergence("foo");
  for (const auto& r : kRegions) {
    json info = RunClient(r, {"info", "--stream", "foo"});
    EXPECT_EQ(info.value("name", ""), "foo") << r << ": " << info.dump();
    EXPECT_EQ(info.value("messages", 0u), total) << r << ": " << info.dump();
  }
}

TEST_F(SidecarTest, NatsJsStreamsFindFooTestReturnsFoo) {
  for (const auto& r : kRegions) {
    json found = RunClient(r, {"find", "--subject", "foo.test"});
    EXPECT_EQ(found.value("stream", ""), "foo") << r << ": " << found.dump();
  }
}

TEST_F(SidecarTest, NatsJsOrderedConsumerOnFooReceivesEveryRegionsMessagesUnderClientSubjects) {
  const auto want = PublishTestAndOther("js-ordered");
  json res = RunClient("east", {"ordered", "--stream", "foo", "--want", Join(want)});
  ExpectReceived(res);
}

void ExpectAcksStuck(const json& res, const std::string& filter) {
  ASSERT_TRUE(res.is_object());
  EXPECT_EQ(res.value("consumer_stream", ""), "foo") << res.dump();
  if (filter.empty()) {
    EXPECT_TRUE(res["filter"].is_null()) << res.dump();
  } else {
    EXPECT_EQ(res.value("filter", ""), filter) << res.dump();
  }
  EXPECT_EQ(res.value("ack_pending", -1), 0) << res.dump();
  EXPECT_EQ(res.value("redelivered", -1), 0) << res.dump();
  EXPECT_EQ(res.value("after_ack_wait", -1), 0) << res.dump();
  EXPECT_EQ(res["after_state"].value("ack_pending", -1), 0) << res.dump();
  EXPECT_EQ(res["after_state"].value("redelivered", -1), 0) << res.dump();
  for (const auto& m : res["received"]) EXPECT_EQ(m["redelivered"], false) << m.dump();
}

TEST_F(SidecarTest, NatsJsDurablePullConsumerOnFooReceivesEveryRegionsMessagesAndAcksStick) {
  const auto want = PublishTestAndOther("js-pull");
  json res = RunClient("west", {"pull", "--stream", "foo", "--durable",
                                "jspull" + std::to_string(::getpid()), "--want", Join(want)});
  ExpectReceived(res);
  ExpectAcksStuck(res, "");
}

TEST_F(SidecarTest, NatsJsPullConsumerFilteredOnFooTestSeesOnlyFooTest) {
  const auto want = JsPublishInEveryRegion("foo.test", UniqueToken("js-filtered"));
  JsPublishInEveryRegion("foo.other", UniqueToken("js-filtered"));
  WaitForConvergence("foo");
  json res = RunClient("west", {"pull", "--stream", "foo", "--filter", "foo.test", "--durable",
                                "jsfilt" + std::to_string(::getpid()), "--want", Join(want)});
  ExpectReceived(res, "foo.test");
  ExpectAcksStuck(res, "foo.test");
}

TEST_F(SidecarTest, NatsJsOrderedConsumerFilteredOnFooTestSeesOnlyFooTest) {
  const auto want = JsPublishInEveryRegion("foo.test", UniqueToken("js-ordered-filtered"));
  JsPublishInEveryRegion("foo.other", UniqueToken("js-ordered-filtered"));
  WaitForConvergence("foo");
  json res = RunClient(
      "east", {"ordered", "--stream", "foo", "--filter", "foo.test", "--want", Join(want)});
  ExpectReceived(res, "foo.test");
}

TEST_F(SidecarTest, NatsJsPushConsumerOnFooReceivesEveryRegionsMessagesAndAcksStick) {
  const auto want = PublishTestAndOther("js-push");
  json res = RunClient("central", {"push", "--stream", "foo", "--subject", "foo.>", "--durable",
                                   "jspush" + std::to_string(::getpid()), "--want", Join(want)});
  ExpectReceived(res);
  ExpectAcksStuck(res, "foo.>");
}

// Issue 4: a restarted nats.js app binds to its durable push consumer filtered on foo.test
// (split on 2.9) from a new connection: js.subscribe finds it by CONSUMER.INFO and subscribes to
// the deliver subject the info shows. It gets what was published since, and nothing acked before.
TEST_F(SidecarTest, NatsJsDurablePushConsumerFilteredOnFooTestReboundByANewClientGetsTheRest) {
  const std::string durable = "jsrebind" + std::to_string(::getpid());
  const auto first = JsPublishInEveryRegion("foo.test", UniqueToken("js-rebind-1"));
  JsPublishInEveryRegion("foo.other", UniqueToken("js-rebind-1"));
  WaitForConvergence("foo");
  json one = RunClient("west", {"push", "--stream", "foo", "--subject", "foo.test", "--durable",
                                durable, "--want", Join(first)});
  ExpectReceived(one, "foo.test");
  ExpectAcksStuck(one, "foo.test");

  const auto second = JsPublishInEveryRegion("foo.test", UniqueToken("js-rebind-2"));
  JsPublishInEveryRegion("foo.other", UniqueToken("js-rebind-2"));
  WaitForConvergence("foo");
  json two = RunClient("west", {"push", "--stream", "foo", "--subject", "foo.test", "--durable",
                                durable, "--want", Join(second)});
  ExpectReceived(two, "foo.test");
  ExpectAcksStuck(two, "foo.test");
  for (const auto& m : two["received"]) {
    EXPECT_EQ(second.count(m.value("payload", "")), 1u) << "not published since: " << m.dump();
  }
}

// Issue 4: a nats.js app that created a durable push consumer filtered on foo.test (split on 2.9,
// its own _INBOX deliver subject) lives through a restart of the sidecar it uses (js_restart.h).
TEST_F(SidecarTest, NatsJsCreatorOfAFilteredDurablePushConsumerGetsEveryMessageOnceAcrossARestart) {
  JsRestartWorld world;
  world.run_dir = TheWorld().run_dir->path();
  world.sidecar = TheWorld().sidecars.at("central")->spec();
  world.sidecar.name = "sidecar-central-js-restart";
  world.regions = kRegions;
  world.connect = [](const std::string& region, const std::string& name) {
    return ConnectSidecar(region, name);
  };
  CheckNatsJsFilteredDurableAcrossSidecarRestart(world);
}

TEST_F(SidecarTest, NatsJsDirectGetLastBySubjectReturnsTheNewestAcrossRegions) {
  const std::string token = UniqueToken("js-last");
  std::string newest;
  for (const auto& r : kRegions) {
    newest = token + "-" + r;
    RunClient(r, {"publish", "--subject", "foo.jslast", "--payload", newest});
  }
  WaitForConvergence("foo");
  for (const auto& r : kRegions) {
    json got = RunClient(r, {"last", "--stream", "foo", "--subject", "foo.jslast"});
    EXPECT_EQ(got.value("payload", ""), newest) << r << ": " << got.dump();
    EXPECT_EQ(got.value("subject", ""), "foo.jslast") << r << ": " << got.dump();
    EXPECT_EQ(got.value("stream_header", ""), "foo") << r << ": " << got.dump();
  }
}

TEST_F(SidecarTest, NatsJsStreamAdministrationOfFooIsRefused) {
  json res = RunClient("west", {"refuse", "--stream", "foo"});
  for (const char* op : {"create", "update", "purge", "delete"}) {
    ASSERT_TRUE(res.contains(op)) << res.dump();
    EXPECT_FALSE(res[op].is_null()) << op << " succeeded: " << res.dump();
    if (res[op].is_object()) {
      EXPECT_NE(res[op].value("message", "").find("foo"), std::string::npos) << res.dump();
    }
  }
  for (const auto& r : kRegions) {
    json info = ServerApi(r, "$JS.API.STREAM.INFO.foo-read-" + r);
    EXPECT_FALSE(info.contains("error")) << info.dump();
  }
}

TEST_F(SidecarTest, NatsJsPublishWithExpectedStreamIsAcceptedAndReadStreamsKeepSourcing) {
  json ack = RunClient("east", {"publish", "--subject", "guard.jsexpected", "--payload",
                                UniqueToken("js-expected"), "--expect-stream", "guard"});
  EXPECT_EQ(ack.value("stream", ""), "guard") << ack.dump();
  WaitForConvergence("guard");
}

}  // namespace
}  // namespace meridian::sidecar_it
