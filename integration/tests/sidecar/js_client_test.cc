// The same behaviour seen by an unmodified nats.js 2.29.3 client (js/sidecar_client.mjs),
// given only nats://127.0.0.1:<sidecar port>.
#include <filesystem>
#include <map>
#include <thread>

#include "consumers.h"
#include "harness/http_client.h"
#include "harness/node_script.h"
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
  const auto pos = r.output.find("RESULT ");
  if (pos == std::string::npos) return json();
  const auto end = r.output.find('\n', pos);
  return json::parse(r.output.substr(pos + 7, end - pos - 7), nullptr, false);
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
// its own _INBOX deliver subject) lives through a restart of the sidecar it uses: nats.js
// reconnects and re-sends only SUB on its inbox; the new sidecar process finds the consumer by
// the deliver subject recorded in the origin consumers (registry refresh) and binds it again.
// Messages published in every region before, during and after the restart arrive, each once:
// a repeat only as a redelivery (flagged) of a delivery whose ack was never confirmed.
TEST_F(SidecarTest, NatsJsCreatorOfAFilteredDurablePushConsumerGetsEveryMessageOnceAcrossARestart) {
  const std::string region = "central";
  const std::string durable = "jsrestart" + std::to_string(::getpid());
  harness::SidecarSpec spec = TheWorld().sidecars.at(region)->spec();
  spec.name = "sidecar-central-js-restart";
  harness::SidecarProcess own(TheWorld().run_dir->path(), spec);
  own.Start();

  // Payloads of the three batches: before the restart, while the sidecar is down, after.
  std::vector<std::set<std::string>> batches(3);
  std::set<std::string> others, want;
  const std::string token = UniqueToken("js-restart");
  for (int b = 0; b < 3; ++b) {
    for (const auto& r : kRegions) {
      const std::string p = token + "-b" + std::to_string(b + 1) + "-" + r;
      batches[b].insert(p + "@foo.test");
      others.insert(p + "@foo.other");
      want.insert(p + "@foo.test");
    }
  }
  auto publish = [&](int b) {
    for (const auto& r : kRegions) {
      Connection nc = ConnectSidecar(r, "js-restart-pub-" + r);
      const std::string p = token + "-b" + std::to_string(b + 1) + "-" + r;
      EXPECT_EQ(JsPublish(nc.get(), "foo.test", p + "@foo.test").stream, "foo");
      EXPECT_EQ(JsPublish(nc.get(), "foo.other", p + "@foo.other").stream, "foo");
    }
  };
  const auto ready = TheWorld().run_dir->path() / ("js-restart-" + std::to_string(::getpid()));
  std::filesystem::create_directories(ready);
  harness::NodeScriptResult run;
  std::thread app([&] {
    run = harness::RunNodeScript(
        "rebind_client.mjs",
        {"--url", own.ClientUrl(), "--stream", "foo", "--filter", "foo.test", "--durable", durable,
         "--want", Join(want), "--phase1", Join(batches[0]), "--ready-dir", ready.string(),
         "--ack-wait-ms", "2000", "--timeout-ms", "45000"},
        TheWorld().run_dir->path() / "logs" / "js-restart.log", std::chrono::seconds(80));
  });
  struct Joiner {
    std::thread& t;
    ~Joiner() {
      if (t.joinable()) t.join();
    }
  } joiner{app};
  auto wait_for = [](const std::filesystem::path& f, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!std::filesystem::exists(f) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return std::filesystem::exists(f);
  };
  const bool subscribed = wait_for(ready / "subscribed", std::chrono::seconds(60));
  EXPECT_TRUE(subscribed) << "the nats.js app did not subscribe";
  if (subscribed) {
    publish(0);
    EXPECT_TRUE(wait_for(ready / "phase1", std::chrono::seconds(60)))
        << "the nats.js app did not get the first batch";
    own.Stop();
    EXPECT_FALSE(own.Running());
    publish(1);  // while the app's sidecar is down
    own.Start();
    publish(2);  // after the restart, whether or not the app has reconnected yet
  }
  app.join();
  ASSERT_TRUE(run.ok()) << run.Describe();
  const auto pos = run.output.find("RESULT ");
  ASSERT_NE(pos, std::string::npos) << run.output;
  const json res =
      json::parse(run.output.substr(pos + 7, run.output.find('\n', pos) - pos - 7), nullptr, false);
  ASSERT_TRUE(res.is_object()) << run.output;

  EXPECT_EQ(res["missing"], json::array()) << res.dump();
  EXPECT_GE(res.value("reconnects", 0), 1) << "the app never lost the restarted sidecar";
  // Deliver policy new, created before the first publish: only this test's foo.test payloads;
  // every one once, or again only as a flagged redelivery of a delivery whose ack was never
  // confirmed (e.g. sent to the sidecar that was going away). The last one's ack stuck.
  std::map<std::string, std::vector<json>> by_payload;
  for (const auto& d : res["deliveries"]) {
    const std::string payload = d.value("payload", "");
    EXPECT_EQ(want.count(payload), 1u) << "not published for this app: " << d.dump();
    EXPECT_EQ(d.value("subject", ""), "foo.test") << d.dump();
    EXPECT_EQ(d.value("stream", ""), "foo") << d.dump();
    by_payload[payload].push_back(d);
  }
  std::size_t repeats = 0;
  for (const auto& [payload, list] : by_payload) {
    for (std::size_t i = 1; i < list.size(); ++i) {
      ++repeats;
      EXPECT_TRUE(list[i].value("redelivered", false)) << "duplicate: " << list[i].dump();
      EXPECT_FALSE(list[i - 1].value("ack_confirmed", true))
          << "delivered again after its ack was confirmed: " << list[i].dump();
    }
    EXPECT_TRUE(list.back().value("ack_confirmed", false)) << list.back().dump();
  }
  std::cerr << "[sidecar-it] nats.js restart: " << res["deliveries"].size() << " deliveries of "
            << want.size() << " messages (" << repeats << " redelivered), "
            << res.value("reconnects", 0) << " reconnect(s)\n";
  EXPECT_EQ(res["consumer"].value("stream", ""), "foo") << res.dump();
  EXPECT_EQ(res["consumer"].value("filter", ""), "foo.test") << res.dump();
  EXPECT_EQ(res["consumer"].value("deliver_subject", ""), res.value("inbox", "?")) << res.dump();
  EXPECT_EQ(res["consumer"].value("ack_pending", -1), 0) << res.dump();
  EXPECT_EQ(res["consumer"].value("pending", -1), 0) << res.dump();
  // The restarted sidecar found the consumer by the app's deliver subject (registry refresh).
  json varz =
      json::parse(harness::HttpGet("127.0.0.1", own.http_port(), "/varz").body, nullptr, false);
  EXPECT_GE(varz["split_registry"].value("hits", 0), 1) << varz.dump();
  EXPECT_EQ(varz["split_registry"].value("list_refused", -1), 0) << varz.dump();
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
