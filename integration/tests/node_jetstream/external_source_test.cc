// Sources and mirrors through an external API prefix, every case run unchanged against
// meridian-node and the stock nats-server 2.9.10 with the same nats.conf: account ORIG holds
// stream O and exports its JetStream API, its flow-control subjects and the delivery prefix;
// account READ imports them (the API as `$JS.orig.API.>`) and holds
// stream R (sourcing O, filter `o.a.>`) and mirror M of O, both with
// `external: {api: "$JS.orig.API", deliver: ...}`. Checked: every message once and in order,
// Nats-Stream-Source headers (`O:<hash of the API prefix> <origin seq>`), the mirror's origin
// sequences, lag/active/external in stream info, and resuming with no gaps or duplicates after
// kill -9 of the server (both sides) and after the origin's consumers were deleted (the
// sourcing side finds its consumer gone by the missing heartbeats and creates a new one).
// meridian-node only: a stored Nats-Expected-Stream and a duplicate Nats-Msg-Id do not stall
// the source or the mirror (stock 2.9.10 stalls on both, jetstream-wire.md §0.1 and §0.3).
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <algorithm>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "harness/binaries.h"
#include "harness/gtest_support.h"
#include "harness/health.h"
#include "harness/ports.h"
#include "harness/process.h"
#include "js_test_util.h"
#include "js_world.h"

namespace meridian::node_js_it {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

// The Nats-Stream-Source name of origin O reached through "$JS.orig.API" (nats-server's
// getHash of the prefix; read from stock 2.9.10).
constexpr const char* kIname = "O:O98GVIHL";

struct Stored {
  uint64_t seq = 0;
  std::string subject, data, source;
};

class ExternalSources : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    port_ = harness::FreeLoopbackPort();
    http_port_ = harness::FreeLoopbackPort();
    auto conf = WriteConf(true);
    harness::ProcessSpec spec;
    spec.argv = {GetParam() == ServerKind::kMeridianNode
                     ? harness::OurBinary("meridian-node").string()
                     : harness::NatsServerBinary().string(),
                 "-c", conf.string()};
    spec.log_path = dir_.path() / (KindName(GetParam()) + ".log");
    server_ = std::make_unique<harness::Process>(spec);
    harness::WaitForHealthz(*server_, http_port_);
    Reconnect();
  }
  // The config both servers read; without `linked`, READ imports nothing from ORIG (the
  // origin is unreachable).
  std::filesystem::path WriteConf(bool linked) {
    auto conf = dir_.path() / "nats.conf";
    std::ofstream f(conf);
    f << "listen: 127.0.0.1:" << port_ << "\nhttp: 127.0.0.1:" << http_port_
      << "\njetstream { store_dir: \"" << (dir_.path() / "store").string() << "\" }\n"
      << R"(accounts {
  ORIG {
    jetstream: enabled
    users: [{user: orig, password: orig}]
    exports: [
      {service: "$JS.API.>"}
      {service: "$JS.FC.>"}
      {stream: "deliver.orig.>"}
    ]
  }
  READ {
    jetstream: enabled
    users: [{user: read, password: read}]
)";
    if (linked) {
      f << R"(    imports: [
      {service: {account: ORIG, subject: "$JS.API.>"}, to: "$JS.orig.API.>"}
      {service: {account: ORIG, subject: "$JS.FC.>"}}
      {stream: {account: ORIG, subject: "deliver.orig.>"}}
    ]
)";
    }
    f << "  }\n}\n";
    return conf;
  }
  void Reload(bool linked) {
    WriteConf(linked);
    ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
  }
  void TearDown() override {
    orig_.reset();
    read_.reset();
    if (server_) server_->Stop();
  }
  void Reconnect() {
    orig_.reset();
    read_.reset();
    orig_ = Connect("nats://orig:orig@127.0.0.1:" + std::to_string(port_));
    read_ = Connect("nats://read:read@127.0.0.1:" + std::to_string(port_));
  }
  void KillAndRestart() {
    orig_.reset();
    read_.reset();
    server_->Kill();
    server_->Restart();
    harness::WaitForHealthz(*server_, http_port_);
    Reconnect();
  }

  Json Request(natsConnection* nc, const std::string& subject, const std::string& body,
               const std::string& hdr_name = "", const std::string& hdr_value = "",
               const std::string& hdr2_name = "", const std::string& hdr2_value = "") {
    natsMsg* req = nullptr;
    natsMsg_Create(&req, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
    Msg hold_req(req);
    if (!hdr_name.empty()) natsMsgHeader_Set(req, hdr_name.c_str(), hdr_value.c_str());
    if (!hdr2_name.empty()) natsMsgHeader_Set(req, hdr2_name.c_str(), hdr2_value.c_str());
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_RequestMsg(&reply, nc, req, 10000);
    if (s != NATS_OK) {
      ADD_FAILURE() << subject << ": " << natsStatus_GetText(s);
      return Json();
    }
    Msg hold(reply);
    return Json::parse(Data(reply), nullptr, false);
  }
  Json Api(natsConnection* nc, const std::string& subject, const Json& body) {
    return Request(nc, subject, body.is_null() ? std::string() : body.dump());
  }
  // Publishes into O; returns the origin sequence (0 when refused).
  uint64_t Publish(const std::string& subject, const std::string& data,
                   const std::string& msg_id = "", bool expected_stream = false) {
    Json ack = Request(orig_.get(), subject, data, msg_id.empty() ? "" : "Nats-Msg-Id", msg_id,
                       expected_stream ? "Nats-Expected-Stream" : "", "O");
    if (!ack.contains("seq") || ack.value("duplicate", false)) return 0;
    uint64_t seq = ack["seq"].get<uint64_t>();
    origin_.push_back({seq, subject, data, ""});
    return seq;
  }
  void PublishRound(int n, size_t pad = 0) {
    for (int i = 0; i < n; ++i) {
      ++counter_;
      std::string sub = (counter_ % 2 == 0 ? "o.a." : "o.b.") + std::to_string(counter_);
      ASSERT_NE(Publish(sub, "m" + std::to_string(counter_) + std::string(pad, 'x')), 0u);
    }
  }
  Json Info(const std::string& stream) {
    return Api(read_.get(), "$JS.API.STREAM.INFO." + stream, Json());
  }
  // Polls until `done` holds (generous: a loaded 2-core CI machine).
  Json WaitFor(const std::string& stream, const std::function<bool(const Json&)>& done,
               std::chrono::seconds timeout = 60s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    Json info;
    while (std::chrono::steady_clock::now() < deadline) {
      info = Info(stream);
      if (info.contains("state") && done(info)) return info;
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "timed out waiting on " << stream << ": " << info.dump();
    return info;
  }
  std::vector<Stored> ReadAll(const std::string& stream) {
    std::vector<Stored> out;
    Json info = Info(stream);
    if (!info.contains("state")) return out;
    Js js = JetStream(read_.get());
    uint64_t first = info["state"]["first_seq"], last = info["state"]["last_seq"];
    for (uint64_t seq = first; seq <= last && seq > 0; ++seq) {
      natsMsg* m = nullptr;
      jsErrCode code = static_cast<jsErrCode>(0);
      if (js_GetMsg(&m, js.get(), stream.c_str(), seq, nullptr, &code) != NATS_OK) continue;
      Msg hold(m);
      Stored s{seq, natsMsg_GetSubject(m), Data(m), ""};
      const char* v = nullptr;
      if (natsMsgHeader_Get(m, "Nats-Stream-Source", &v) == NATS_OK && v) s.source = v;
      out.push_back(s);
    }
    return out;
  }
  void CreateReaders(const std::string& origin = "O") {
    Json r = Api(read_.get(), "$JS.API.STREAM.CREATE.R",
                 {{"name", "R"},
                  {"storage", "file"},
                  {"sources",
                   {{{"name", origin},
                     {"filter_subject", "o.a.>"},
                     {"external", {{"api", "$JS.orig.API"}, {"deliver", "deliver.orig.r"}}}}}}});
    ASSERT_FALSE(r.contains("error")) << r.dump();
    Json m = Api(read_.get(), "$JS.API.STREAM.CREATE.M",
                 {{"name", "M"},
                  {"storage", "file"},
                  {"mirror",
                   {{"name", origin},
                    {"external", {{"api", "$JS.orig.API"}, {"deliver", "deliver.orig.m"}}}}}});
    ASSERT_FALSE(m.contains("error")) << m.dump();
  }
  // R holds every o.a message of the origin exactly once, in order, with its origin
  // sequence in Nats-Stream-Source; M holds every origin message at its sequence.
  void CheckReaders() {
    std::vector<Stored> want_r;
    for (const auto& o : origin_) {
      if (o.subject.rfind("o.a.", 0) == 0) want_r.push_back(o);
    }
    WaitFor("R", [&](const Json& i) { return i["state"]["messages"] == want_r.size(); });
    WaitFor("M", [&](const Json& i) {
      return i["state"]["last_seq"] == origin_.back().seq && i["state"]["messages"] == origin_.size();
    });
    auto r = ReadAll("R");
    ASSERT_EQ(r.size(), want_r.size());
    for (size_t i = 0; i < r.size(); ++i) {
      EXPECT_EQ(r[i].seq, i + 1);
      EXPECT_EQ(r[i].subject, want_r[i].subject) << "R seq " << r[i].seq;
      EXPECT_EQ(r[i].data, want_r[i].data) << "R seq " << r[i].seq;
      EXPECT_EQ(r[i].source, std::string(kIname) + " " + std::to_string(want_r[i].seq));
    }
    auto m = ReadAll("M");
    ASSERT_EQ(m.size(), origin_.size());
    for (size_t i = 0; i < m.size(); ++i) {
      EXPECT_EQ(m[i].seq, origin_[i].seq);
      EXPECT_EQ(m[i].subject, origin_[i].subject);
      EXPECT_EQ(m[i].data, origin_[i].data);
      EXPECT_EQ(m[i].source, "");  // a mirror adds nothing
    }
  }
  void CreateOrigin(const Json& extra = Json::object()) {
    Json cfg = {{"name", "O"}, {"subjects", {"o.>"}}, {"storage", "file"}};
    cfg.update(extra);
    Json r = Api(orig_.get(), "$JS.API.STREAM.CREATE.O", cfg);
    ASSERT_FALSE(r.contains("error")) << r.dump();
  }

  harness::TestRunDir dir_;
  uint16_t port_ = 0, http_port_ = 0;
  std::unique_ptr<harness::Process> server_;
  Nc orig_, read_;
  std::vector<Stored> origin_;
  int counter_ = 0;
};

TEST_P(ExternalSources, EveryMessageOnceInOrderThroughRestartsAndOutages) {
  CreateOrigin();
  PublishRound(20);
  CreateReaders();
  CheckReaders();

  // Stream info: the external prefixes, caught up, no error, heard from.
  Json ri = Info("R");
  ASSERT_EQ(ri["sources"].size(), 1u);
  const Json& s = ri["sources"][0];
  EXPECT_EQ(s["name"], "O");
  EXPECT_EQ(s["external"]["api"], "$JS.orig.API");
  EXPECT_EQ(s["external"]["deliver"], "deliver.orig.r");
  EXPECT_EQ(s["lag"], 0);
  EXPECT_FALSE(s.contains("error")) << s.dump();
  Json mi = Info("M");
  EXPECT_EQ(mi["mirror"]["external"]["deliver"], "deliver.orig.m");
  EXPECT_EQ(mi["mirror"]["lag"], 0);
  EXPECT_FALSE(mi["mirror"].contains("error")) << mi.dump();
  WaitFor("R", [](const Json& i) { return i["sources"][0]["active"].get<int64_t>() >= 0; });
  // READ's clients reach ORIG's JetStream API through the same import.
  Json oi = Api(read_.get(), "$JS.orig.API.STREAM.INFO.O", Json());
  EXPECT_EQ(oi["config"]["name"], "O") << oi.dump();
  EXPECT_EQ(oi["state"]["last_seq"], origin_.back().seq) << oi.dump();
  EXPECT_EQ(oi["state"]["consumer_count"], 0) << oi.dump();  // the sources' are `direct`

  // Live: new origin messages flow on.
  PublishRound(10);
  CheckReaders();

  // kill -9 (both sides are this server) right after publishing: whatever was copied or not,
  // the copies resume exactly after the last one stored.
  PublishRound(10);
  KillAndRestart();
  PublishRound(10);
  CheckReaders();

  // The origin is unreachable for a while (READ's imports removed by a config reload): the
  // sourcing side stops hearing heartbeats (`active` grows past the 3 s it waits), cannot
  // create a new consumer, and once the imports are back takes up exactly where it stopped.
  Reload(false);
  PublishRound(10);
  WaitFor("R", [](const Json& i) { return i["sources"][0]["active"].get<int64_t>() > 4'000'000'000; });
  WaitFor("M", [](const Json& i) { return i["mirror"]["active"].get<int64_t>() > 4'000'000'000; });
  PublishRound(4);
  Reload(true);
  PublishRound(4);
  CheckReaders();
}

// A backlog of 5 MiB, more than twice the origin's first flow-control window (2 MiB on
// meridian-node; nats-server's is smaller): the copies go on only if the sourcing side
// answers the origin's flow-control requests through the `$JS.FC.>` service import.
TEST_P(ExternalSources, ABacklogBeyondTheFlowControlWindow) {
  CreateOrigin();
  PublishRound(160, 32 * 1024);
  CreateReaders();
  CheckReaders();
  Json ri = Info("R");
  EXPECT_EQ(ri["state"]["messages"], 80);
  EXPECT_EQ(ri["sources"][0]["lag"], 0);
}

TEST_P(ExternalSources, StoredHeadersDoNotStallTheSourceOrTheMirror) {
  if (GetParam() == ServerKind::kNatsServer) {
    GTEST_SKIP() << "stock nats-server 2.9.10 stalls on both (jetstream-wire.md §0.1, §0.3)";
  }
  CreateOrigin({{"duplicate_window", 100'000'000}});  // 100 ms
  PublishRound(2);
  ASSERT_NE(Publish("o.a.x", "expected", "", true), 0u);  // Nats-Expected-Stream: O
  ASSERT_NE(Publish("o.a.id1", "first", "id-1"), 0u);
  // The same Nats-Msg-Id again once the origin's window has passed: the origin stores it,
  // R (2 min window) refuses it as a duplicate and passes over it.
  uint64_t again = 0;
  for (int i = 0; i < 600 && again == 0; ++i) {
    std::this_thread::sleep_for(50ms);
    Json ack = Request(orig_.get(), "o.a.id1", "second", "Nats-Msg-Id", "id-1");
    if (ack.contains("seq") && !ack.value("duplicate", false)) again = ack["seq"];
  }
  ASSERT_NE(again, 0u);
  CreateReaders();
  PublishRound(4);
  // M: every origin message (a mirror keeps headers and does not dedupe).
  auto all = origin_;
  all.push_back({again, "o.a.id1", "second", ""});
  std::sort(all.begin(), all.end(), [](const Stored& a, const Stored& b) { return a.seq < b.seq; });
  WaitFor("M", [&](const Json& i) { return i["state"]["last_seq"] == all.back().seq; });
  auto m = ReadAll("M");
  ASSERT_EQ(m.size(), all.size());
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i].seq, all[i].seq);
  // R: every o.a message but the duplicate, and the ones after it.
  std::vector<Stored> want;
  for (const auto& o : origin_) {
    if (o.subject.rfind("o.a.", 0) == 0) want.push_back(o);
  }
  WaitFor("R", [&](const Json& i) { return i["state"]["messages"] == want.size(); });
  auto r = ReadAll("R");
  ASSERT_EQ(r.size(), want.size());
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i].data, want[i].data);
    EXPECT_EQ(r[i].source, std::string(kIname) + " " + std::to_string(want[i].seq));
  }
  // The header that would have stalled it was stripped from the copy.
  Js js = JetStream(read_.get());
  natsMsg* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_GetLastMsg(&raw, js.get(), "R", "o.a.x", nullptr, &code), NATS_OK);
  Msg hold(raw);
  const char* v = nullptr;
  EXPECT_NE(natsMsgHeader_Get(raw, "Nats-Expected-Stream", &v), NATS_OK);
  // Lag 0 and no error once caught up.
  Json info = WaitFor("R", [](const Json& i) { return i["sources"][0]["lag"] == 0; });
  EXPECT_FALSE(info["sources"][0].contains("error"));
}

INSTANTIATE_TEST_SUITE_P(Servers, ExternalSources,
                         ::testing::Values(ServerKind::kMeridianNode, ServerKind::kNatsServer),
                         [](const auto& info) { return KindName(info.param); });

}  // namespace
}  // namespace meridian::node_js_it
