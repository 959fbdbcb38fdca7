// Sources and mirrors through an external API prefix, between two real engines: `origin`
// holds stream O, `reader` sources/mirrors it with external {api: "$JS.hub.API", deliver:
// "dlv.hub"}. The Bus routes what each engine sends by subject, as a server's imports would:
// requests on $JS.hub.API.> reach the origin's $JS.API.> with a reply that comes back to the
// reader's inbox, deliveries on subjects the reader subscribed to are queued and handed to
// Engine::HandleInbound, $JS.FC.> answers reach the origin. The Bus can drop one delivery (a
// loss in transit) or everything (the origin unreachable).
#include <deque>
#include <map>

#include "harness.h"
#include "jsapi/json.h"

namespace meridian::jetstream::testing {
namespace {

constexpr const char* kIname = "O:bTMUkJQk";  // nats-server's getHash("$JS.hub.API")

struct Bus;

class Side : public Outbound {
 public:
  Side(Bus* bus, bool is_reader) : bus_(bus), reader_(is_reader) {}
  void Send(std::string_view subject, std::string_view reply, std::string_view headers,
            std::string_view payload) override;
  void SendAs(std::string_view deliver_to, std::string_view subject, std::string_view reply,
              std::string_view headers, std::string_view payload) override;
  bool HasInterest(std::string_view subject) override;
  void Subscribe(std::string_view subject) override;
  void Unsubscribe(std::string_view subject) override;

 private:
  Bus* bus_;
  bool reader_;
};

struct Inbound {
  std::string subject, shown, reply, headers, payload;
};

struct Bus {
  Engine* origin = nullptr;
  Engine* reader = nullptr;
  std::set<std::string> subs;  // the reader's subscriptions
  std::deque<Inbound> queue;   // for the reader, handed over by Drain()
  std::vector<Sent> creates;   // consumer creates the reader sent
  int fc_answers = 0;
  bool unreachable = false;
  bool drop_next_delivery = false;

  void FromReader(std::string_view subject, std::string_view reply, std::string_view headers,
                  std::string_view payload) {
    if (unreachable) return;
    if (subject.starts_with("$JS.hub.API.")) {
      creates.push_back({std::string(subject), std::string(reply), std::string(headers),
                         std::string(payload)});
      std::string body;
      std::string api = "$JS.API." + std::string(subject.substr(12));
      if (origin->HandleApi(api, "_R_.1", headers, payload, &body) && subs.count(std::string(reply))) {
        queue.push_back({std::string(reply), std::string(reply), "", "", body});
      }
    } else if (subject.starts_with("$JS.FC.")) {
      ++fc_answers;
      origin->HandleFlowControl(subject);
    }
  }
  void FromOrigin(std::string_view to, std::string_view shown, std::string_view reply,
                  std::string_view headers, std::string_view payload) {
    if (unreachable || !subs.count(std::string(to))) return;
    if (drop_next_delivery && !payload.empty()) {
      drop_next_delivery = false;
      return;
    }
    queue.push_back({std::string(to), std::string(shown), std::string(reply),
                     std::string(headers), std::string(payload)});
  }
  // Hands everything queued to the reader (which may queue more through the origin), in one
  // write batch as the server does (Engine::BeginInbound / EndInbound).
  void Drain() {
    if (queue.empty()) return;
    reader->BeginInbound();
    while (!queue.empty()) {
      Inbound m = std::move(queue.front());
      queue.pop_front();
      reader->HandleInbound(m.subject, m.shown, m.reply, m.headers, m.payload);
    }
    reader->EndInbound();
  }
};

void Side::Send(std::string_view subject, std::string_view reply, std::string_view headers,
                std::string_view payload) {
  if (reader_) {
    bus_->FromReader(subject, reply, headers, payload);
  } else {
    bus_->FromOrigin(subject, subject, reply, headers, payload);
  }
}
void Side::SendAs(std::string_view deliver_to, std::string_view subject, std::string_view reply,
                  std::string_view headers, std::string_view payload) {
  if (reader_) {
    bus_->FromReader(deliver_to, reply, headers, payload);
  } else {
    bus_->FromOrigin(deliver_to, subject, reply, headers, payload);
  }
}
bool Side::HasInterest(std::string_view subject) {
  return !reader_ && !bus_->unreachable && bus_->subs.count(std::string(subject)) > 0;
}
void Side::Subscribe(std::string_view subject) {
  if (reader_) bus_->subs.insert(std::string(subject));
}
void Side::Unsubscribe(std::string_view subject) {
  if (reader_) bus_->subs.erase(std::string(subject));
}

class ExternalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t1[] = "/tmp/meridian-ext-o-XXXXXX";
    char t2[] = "/tmp/meridian-ext-r-XXXXXX";
    origin_dir_ = mkdtemp(t1);
    reader_dir_ = mkdtemp(t2);
    origin_ = Open(origin_dir_, &origin_out_);
    OpenReader();
  }
  void TearDown() override {
    reader_.reset();
    origin_.reset();
    std::filesystem::remove_all(origin_dir_);
    std::filesystem::remove_all(reader_dir_);
  }
  std::unique_ptr<Engine> Open(const std::string& dir, Outbound* out) {
    EngineOptions o;
    o.store_dir = dir;
    o.server_name = "n1";
    o.clock = [this] { return now_; };
    std::string error;
    auto e = Engine::Open(o, out, &error);
    EXPECT_TRUE(e) << error;
    return e;
  }
  void OpenReader() {
    if (reader_) reader_->Close();
    reader_.reset();
    bus_.subs.clear();
    bus_.queue.clear();
    reader_ = Open(reader_dir_, &reader_out_);
    bus_.origin = origin_.get();
    bus_.reader = reader_.get();
  }
  Json Api(Engine* e, const std::string& subject, const Json& body = Json()) {
    std::string reply;
    if (!e->HandleApi(subject, "_INBOX.r", "", body.is_null() ? "" : body.dump(), &reply)) {
      return Json();
    }
    return Json::parse(reply);
  }
  // Publishes into O (waits for the PubAck: file stores acknowledge once durable).
  uint64_t Pub(const std::string& subject, const std::string& payload,
               const std::string& headers = "") {
    auto ack = std::make_shared<std::string>();
    auto got = std::make_shared<std::atomic<bool>>(false);
    origin_->Publish(subject, "_INBOX.p", headers, payload, [ack, got](std::string a) {
      *ack = std::move(a);
      got->store(true);
    });
    for (int i = 0; i < 5000 && !got->load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    auto j = Json::parse(*ack, nullptr, false);
    return j.is_object() && j.contains("seq") && !j.value("duplicate", false)
               ? j["seq"].get<uint64_t>()
               : 0;
  }
  // Time passes in 100 ms ticks of both engines, the bus delivering in between.
  void Run(int64_t ms) {
    for (int64_t t = 0; t < ms; t += 100) {
      now_ += 100'000'000;
      origin_->Tick();
      bus_.Drain();
      reader_->Tick();
      bus_.Drain();
    }
  }
  Json Info(const std::string& name) { return Api(reader_.get(), "$JS.API.STREAM.INFO." + name); }
  struct Msg {
    uint64_t seq;
    std::string subject, data, headers;
  };
  std::vector<Msg> All(Engine* e, const std::string& stream) {
    std::vector<Msg> out;
    Json info = Api(e, "$JS.API.STREAM.INFO." + stream);
    uint64_t last = info["state"]["last_seq"];
    for (uint64_t seq = 1; seq <= last; ++seq) {
      Json r = Api(e, "$JS.API.STREAM.MSG.GET." + stream, Json({{"seq", seq}}));
      if (!r.contains("message")) continue;
      const Json& m = r["message"];
      Msg x{seq, m["subject"], "", ""};
      if (m.contains("data")) x.data = jsapi::Base64Decode(m["data"].get<std::string>()).value();
      if (m.contains("hdrs")) {
        x.headers = jsapi::Base64Decode(m["hdrs"].get<std::string>()).value();
      }
      out.push_back(x);
    }
    return out;
  }
  Json SourceCfg(const std::string& filter = "") {
    Json s = {{"name", "O"}, {"external", {{"api", "$JS.hub.API"}, {"deliver", "dlv.hub"}}}};
    if (!filter.empty()) s["filter_subject"] = filter;
    return s;
  }
  void CreateOrigin(const Json& extra = Json::object()) {
    Json cfg = {{"name", "O"}, {"subjects", {"o.>"}}, {"storage", "file"}};
    cfg.update(extra);
    Json r = Api(origin_.get(), "$JS.API.STREAM.CREATE.O", cfg);
    ASSERT_FALSE(r.contains("error")) << r;
  }
  void CreateReader(const Json& cfg) {
    Json r = Api(reader_.get(), "$JS.API.STREAM.CREATE." + cfg["name"].get<std::string>(), cfg);
    ASSERT_FALSE(r.contains("error")) << r;
  }
  // R holds exactly the origin's messages with sequences `seqs` (in order), each with its
  // Nats-Stream-Source.
  void ExpectSourced(const std::vector<uint64_t>& seqs) {
    auto o = All(origin_.get(), "O");
    auto r = All(reader_.get(), "R");
    ASSERT_EQ(r.size(), seqs.size());
    for (size_t i = 0; i < r.size(); ++i) {
      const Msg& om = o[seqs[i] - 1];
      ASSERT_EQ(om.seq, seqs[i]);
      EXPECT_EQ(r[i].subject, om.subject);
      EXPECT_EQ(r[i].data, om.data);
      EXPECT_NE(r[i].headers.find(std::string("Nats-Stream-Source: ") + kIname + " " +
                                  std::to_string(seqs[i]) + "\r\n"),
                std::string::npos)
          << r[i].headers;
    }
  }
  static std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
    std::vector<uint64_t> v;
    for (uint64_t s = from; s <= to; ++s) v.push_back(s);
    return v;
  }

  std::string origin_dir_, reader_dir_;
  int64_t now_ = 1'795'000'000'000'000'000;
  Bus bus_;
  Side origin_out_{&bus_, false};
  Side reader_out_{&bus_, true};
  std::unique_ptr<Engine> origin_;
  std::unique_ptr<Engine> reader_;
};

TEST_F(ExternalTest, SendsNatsServersConsumerCreate) {
  CreateOrigin();
  CreateReader({{"name", "R"}, {"sources", {SourceCfg("o.a.>")}}});
  CreateReader({{"name", "M"},
                {"mirror", {{"name", "O"},
                            {"external", {{"api", "$JS.hub.API"}, {"deliver", "dlv.hub"}}}}}});
  Run(100);
  ASSERT_EQ(bus_.creates.size(), 2u);
  // Sorted by stream name: M first.
  const Sent& m = bus_.creates[0];
  EXPECT_EQ(m.subject, "$JS.hub.API.CONSUMER.CREATE.O");
  EXPECT_TRUE(m.reply.starts_with("$JSC.R.")) << m.reply;
  EXPECT_EQ(m.reply.size(), 15u);
  Json mb = Json::parse(m.payload);
  EXPECT_EQ(mb["stream_name"], "O");
  EXPECT_EQ(mb["config"]["deliver_policy"], "all");
  EXPECT_TRUE(mb["config"]["deliver_subject"].get<std::string>().starts_with("dlv.hub.M."));
  EXPECT_FALSE(mb["config"].contains("name"));
  const Sent& s = bus_.creates[1];
  Json sb = Json::parse(s.payload);
  const Json& c = sb["config"];
  ASSERT_TRUE(c.contains("name"));
  const std::string name = c["name"];
  EXPECT_TRUE(name.starts_with("src-")) << name;
  EXPECT_EQ(name.size(), 12u);
  EXPECT_EQ(s.subject, "$JS.hub.API.CONSUMER.CREATE.O." + name + ".o.a.>");
  EXPECT_EQ(c["filter_subject"], "o.a.>");
  EXPECT_EQ(c["ack_policy"], "none");
  EXPECT_EQ(c["ack_wait"], 79200000000000);
  EXPECT_EQ(c["max_deliver"], 1);
  EXPECT_EQ(c["idle_heartbeat"], 1000000000);
  EXPECT_EQ(c["flow_control"], true);
  EXPECT_EQ(c["direct"], true);
  EXPECT_EQ(c["replay_policy"], "instant");
  const std::string deliver = c["deliver_subject"];
  EXPECT_TRUE(deliver.starts_with("dlv.hub.S.")) << deliver;
  EXPECT_EQ(deliver.size(), std::string("dlv.hub.S.").size() + 8);
  // The origin hides the consumers from clients, as nats-server hides `direct` ones.
  Json names = Api(origin_.get(), "$JS.API.CONSUMER.NAMES.O");
  EXPECT_EQ(names["consumers"].size(), 0u) << names;
  EXPECT_EQ(Api(origin_.get(), "$JS.API.STREAM.INFO.O")["state"]["consumer_count"], 0);
  // R's info shows the external prefixes; nothing to copy yet.
  Json info = Info("R");
  EXPECT_EQ(info["sources"][0]["external"]["api"], "$JS.hub.API");
  EXPECT_EQ(info["sources"][0]["lag"], 0);
  EXPECT_FALSE(info["sources"][0].contains("error"));
}

TEST_F(ExternalTest, CopiesWithSourceHeaderStripsWhatWouldStallAndSkipsDuplicates) {
  CreateOrigin({{"duplicate_window", 100'000'000}});
  ASSERT_EQ(Pub("o.a.1", "one"), 1u);
  ASSERT_EQ(Pub("o.b.2", "filtered out"), 2u);
  ASSERT_EQ(Pub("o.a.3", "expects", Headers({{"Nats-Expected-Stream", "O"}})), 3u);
  ASSERT_EQ(Pub("o.a.4", "id", Headers({{"Nats-Msg-Id", "dup"}})), 4u);
  now_ += 200'000'000;  // past O's window: the same id is stored again
  origin_->Tick();
  ASSERT_EQ(Pub("o.a.5", "id again", Headers({{"Nats-Msg-Id", "dup"}})), 5u);
  ASSERT_EQ(Pub("o.a.6", "after", Headers({{"Nats-Stream-Source", "X 9"}})), 6u);
  CreateReader({{"name", "R"}, {"sources", {SourceCfg("o.a.>")}}});
  Run(300);
  // 5 is a duplicate inside R's window (2 min): passed over, not a stall.
  ExpectSourced({1, 3, 4, 6});
  auto r = All(reader_.get(), "R");
  EXPECT_EQ(r[1].headers.find("Nats-Expected-Stream"), std::string::npos) << r[1].headers;
  EXPECT_EQ(r[3].headers.find("X 9"), std::string::npos) << r[3].headers;  // older one dropped
  ASSERT_EQ(Pub("o.a.7", "live"), 7u);
  Run(200);
  ExpectSourced({1, 3, 4, 6, 7});
  Json info = Info("R");
  EXPECT_EQ(info["sources"][0]["lag"], 0);
  EXPECT_LT(info["sources"][0]["active"].get<int64_t>(), 2'000'000'000);
}

TEST_F(ExternalTest, MirrorKeepsOriginSequencesAndSkipsDeletedOnes) {
  CreateOrigin();
  for (int i = 1; i <= 6; ++i) ASSERT_EQ(Pub("o.x", "m" + std::to_string(i)), uint64_t(i));
  Json d = Api(origin_.get(), "$JS.API.STREAM.MSG.DELETE.O", Json({{"seq", 3}, {"no_erase", true}}));
  ASSERT_TRUE(d.value("success", false)) << d;
  CreateReader({{"name", "M"},
                {"mirror", {{"name", "O"},
                            {"external", {{"api", "$JS.hub.API"}, {"deliver", "dlv.hub"}}}}}});
  Run(300);
  auto m = All(reader_.get(), "M");
  auto o = All(origin_.get(), "O");
  ASSERT_EQ(m.size(), 5u);
  ASSERT_EQ(o.size(), 5u);
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(m[i].seq, o[i].seq);
    EXPECT_EQ(m[i].data, o[i].data);
    EXPECT_EQ(m[i].headers, o[i].headers);
  }
  Json info = Info("M");
  EXPECT_EQ(info["state"]["last_seq"], 6);
  EXPECT_EQ(info["mirror"]["lag"], 0);
  EXPECT_EQ(info["mirror"]["external"]["deliver"], "dlv.hub");
}

TEST_F(ExternalTest, ResumesAfterReopenAtTheLastCopiedSequencePlusOne) {
  CreateOrigin();
  for (int i = 1; i <= 5; ++i) Pub("o.a." + std::to_string(i), "m");
  CreateReader({{"name", "R"}, {"sources", {SourceCfg()}}});
  CreateReader({{"name", "M"},
                {"mirror", {{"name", "O"},
                            {"external", {{"api", "$JS.hub.API"}, {"deliver", "dlv.hub"}}}}}});
  Run(300);
  ExpectSourced(Range(1, 5));
  for (int i = 6; i <= 8; ++i) Pub("o.a." + std::to_string(i), "m");  // while R is down
  OpenReader();
  bus_.creates.clear();
  Run(300);
  ASSERT_EQ(bus_.creates.size(), 2u);
  for (const auto& c : bus_.creates) {
    Json b = Json::parse(c.payload);
    EXPECT_EQ(b["config"]["deliver_policy"], "by_start_sequence") << b;
    EXPECT_EQ(b["config"]["opt_start_seq"], 6) << b;
  }
  ExpectSourced(Range(1, 8));
  EXPECT_EQ(Info("M")["state"]["last_seq"], 8);
}

TEST_F(ExternalTest, TheFirstStartUsesTheConfigsStartOptions) {
  CreateOrigin();
  for (int i = 1; i <= 4; ++i) Pub("o.a." + std::to_string(i), "m");
  Json src = SourceCfg();
  src["opt_start_seq"] = 3;
  CreateReader({{"name", "R"}, {"sources", {src}}});
  CreateReader({{"name", "M"},
                {"mirror", {{"name", "O"},
                            {"opt_start_time", "2026-11-23T10:00:00Z"},
                            {"external", {{"api", "$JS.hub.API"}, {"deliver", "dlv.hub"}}}}}});
  Run(300);
  ASSERT_EQ(bus_.creates.size(), 2u);
  Json m = Json::parse(bus_.creates[0].payload)["config"];
  EXPECT_EQ(m["deliver_policy"], "by_start_time") << m;
  EXPECT_EQ(m["opt_start_time"], "2026-11-23T10:00:00Z") << m;
  Json r = Json::parse(bus_.creates[1].payload)["config"];
  EXPECT_EQ(r["deliver_policy"], "by_start_sequence") << r;
  EXPECT_EQ(r["opt_start_seq"], 3) << r;
  ExpectSourced({3, 4});
}

TEST_F(ExternalTest, ADeliveryLostOnTheWayMakesANewConsumerFromTheLastCopied) {
  CreateOrigin();
  CreateReader({{"name", "R"}, {"sources", {SourceCfg()}}});
  Run(300);
  for (int i = 1; i <= 3; ++i) Pub("o.a." + std::to_string(i), "m");
  bus_.Drain();
  ExpectSourced(Range(1, 3));
  bus_.creates.clear();
  bus_.drop_next_delivery = true;
  for (int i = 4; i <= 6; ++i) Pub("o.a." + std::to_string(i), "m");  // 4 is lost
  bus_.Drain();
  Run(2500);  // the next create is throttled to one per 2 s
  ASSERT_GE(bus_.creates.size(), 1u);
  Json b = Json::parse(bus_.creates[0].payload);
  EXPECT_EQ(b["config"]["opt_start_seq"], 4) << b;
  ExpectSourced(Range(1, 6));  // no gap, no duplicate
}

TEST_F(ExternalTest, ASilentOriginIsAskedAgainAndNothingIsMissedOrDoubled) {
  CreateOrigin();
  CreateReader({{"name", "R"}, {"sources", {SourceCfg()}}});
  Run(300);
  for (int i = 1; i <= 3; ++i) Pub("o.a." + std::to_string(i), "m");
  bus_.Drain();
  bus_.creates.clear();
  bus_.unreachable = true;
  for (int i = 4; i <= 6; ++i) Pub("o.a." + std::to_string(i), "m");
  Run(2500);
  EXPECT_EQ(bus_.creates.size(), 0u);  // heartbeats missed for less than 3 s: waiting
  Run(1500);
  Json info = Info("R");
  EXPECT_GT(info["sources"][0]["active"].get<int64_t>(), 3'000'000'000);
  bus_.unreachable = false;
  Run(8000);  // the create that went nowhere is retried after 5 s
  ExpectSourced(Range(1, 6));
  EXPECT_LT(Info("R")["sources"][0]["active"].get<int64_t>(), 2'000'000'000);
}

TEST_F(ExternalTest, ACreateErrorIsShownUntilACreateSucceeds) {
  CreateReader({{"name", "R"}, {"sources", {SourceCfg()}}});
  Run(300);
  Json info = Info("R");
  ASSERT_TRUE(info["sources"][0].contains("error")) << info;
  EXPECT_EQ(info["sources"][0]["error"]["err_code"], 10059);
  EXPECT_EQ(info["sources"][0]["error"]["code"], 404);
  CreateOrigin();
  Pub("o.a.1", "m");
  Run(2500);  // retried after 2 s
  info = Info("R");
  EXPECT_FALSE(info["sources"][0].contains("error")) << info;
  ExpectSourced({1});
}

TEST_F(ExternalTest, FlowControlIsAnsweredSoABigBacklogFlows) {
  CreateOrigin();
  const std::string big(64 * 1024, 'x');
  for (int i = 1; i <= 80; ++i) Pub("o.a." + std::to_string(i), big);  // 5 MiB
  CreateReader({{"name", "R"}, {"sources", {SourceCfg()}}});
  Run(500);
  EXPECT_GE(bus_.fc_answers, 1);
  ExpectSourced(Range(1, 80));
}

TEST_F(ExternalTest, TheOriginAcceptsNatsServer2910sConsumerCreates) {
  // The bodies stock nats-server 2.9.10 sends for a filtered source and a mirror
  // (jetstream-wire.md §7.1): `direct`, `num_replicas` 0, 22 h ack wait.
  CreateOrigin();
  Pub("o.a.1", "a");
  Json r = Api(origin_.get(), "$JS.API.STREAM.CREATE.ORDERS",
               Json({{"name", "ORDERS"}, {"subjects", {"orders.>"}}}));
  ASSERT_FALSE(r.contains("error")) << r;
  ASSERT_NE(Pub("orders.west.1", "w"), 0u);
  bus_.subs.insert("$JS.S.XfynWdtJ");
  bus_.subs.insert("$JS.M.Fp84F9hn");
  std::string reply;
  ASSERT_TRUE(origin_->HandleApi(
      "$JS.API.CONSUMER.CREATE.ORDERS.src-MMxxx6x3.orders.west.>", "$JSC.R.yOEVShDQ", "",
      R"({"stream_name":"ORDERS","config":{"name":"src-MMxxx6x3","deliver_policy":"all",)"
      R"("ack_policy":"none","ack_wait":79200000000000,"max_deliver":1,)"
      R"("filter_subject":"orders.west.\u003e","replay_policy":"instant",)"
      R"("idle_heartbeat":1000000000,"flow_control":true,)"
      R"("deliver_subject":"$JS.S.XfynWdtJ","num_replicas":0,"direct":true}})",
      &reply));
  Json cr = Json::parse(reply);
  ASSERT_FALSE(cr.contains("error")) << cr;
  EXPECT_EQ(cr["name"], "src-MMxxx6x3");
  ASSERT_TRUE(origin_->HandleApi(
      "$JS.API.CONSUMER.CREATE.O", "$JSC.R.abcdefgh", "",
      R"({"stream_name":"O","config":{"deliver_policy":"all","ack_policy":"none",)"
      R"("ack_wait":79200000000000,"max_deliver":1,"replay_policy":"instant",)"
      R"("idle_heartbeat":1000000000,"flow_control":true,)"
      R"("deliver_subject":"$JS.M.Fp84F9hn","num_replicas":0,"direct":true}})",
      &reply));
  cr = Json::parse(reply);
  ASSERT_FALSE(cr.contains("error")) << cr;
  // Both deliver at once, with v1 ack subjects naming the stream and the consumer.
  std::map<std::string, std::vector<Inbound>> got;
  for (auto& m : bus_.queue) got[m.subject].push_back(m);
  bus_.queue.clear();
  ASSERT_EQ(got["$JS.S.XfynWdtJ"].size(), 1u);
  EXPECT_EQ(got["$JS.S.XfynWdtJ"][0].shown, "orders.west.1");
  EXPECT_TRUE(got["$JS.S.XfynWdtJ"][0].reply.starts_with("$JS.ACK.ORDERS.src-MMxxx6x3.1.1.1."))
      << got["$JS.S.XfynWdtJ"][0].reply;
  ASSERT_EQ(got["$JS.M.Fp84F9hn"].size(), 1u);
  EXPECT_EQ(got["$JS.M.Fp84F9hn"][0].shown, "o.a.1");
  EXPECT_TRUE(got["$JS.M.Fp84F9hn"][0].reply.starts_with("$JS.ACK.O.")) << got["$JS.M.Fp84F9hn"][0].reply;
  EXPECT_EQ(Api(origin_.get(), "$JS.API.CONSUMER.NAMES.ORDERS")["consumers"].size(), 0u);
}

}  // namespace
}  // namespace meridian::jetstream::testing
