// stream.json and consumer state files are crash-safe: stream and consumer create/update are
// answered only once their file is durable (tmp fdatasync'ed, renamed, directory fsynced), an
// ack that asks for an ack-ack is answered only once the consumer state recording it is
// durable, the consumer-state fsyncs happen off the engine's thread, and a consumer state that
// a power loss left ahead of its stream never skips a message. Checked through a FileIo that
// records syncs and renames and can hold consumer-state fsyncs.
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "harness.h"
#include "jetstream/ack_log.h"
#include "store/file_io.h"
#include "tracking_file_io.h"

namespace meridian::jetstream::testing {
namespace {

namespace fs = std::filesystem;

class RecordingIo : public TrackingFileIo {
 public:
  // A rename whose source had unsynced writes (the new contents could be lost with the name).
  int violations = 0;

  // True when `path` was last replaced by renaming a synced file over it and its directory
  // was fsynced after that rename.
  bool Durable(const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    return renamed_.count(path) > 0 && dirs_unsynced_.count(fs::path(path).parent_path()) == 0;
  }
  // True when `path` exists, has no write that was not fdatasync'ed after it, and its
  // directory was fsynced since the writer first touched it.
  bool Synced(const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    return fs::exists(path) && dirty_.count(path) == 0 &&
           dir_syncs_[fs::path(path).parent_path()] > 0;
  }
  int DirSyncs(const std::string& dir) {
    std::lock_guard<std::mutex> l(mu_);
    return dir_syncs_[fs::path(dir)];
  }
  // While closed, fdatasync of consumer state files waits (the writer thread is held).
  void CloseGate() {
    std::lock_guard<std::mutex> l(mu_);
    gate_closed_ = true;
  }
  void OpenGate() {
    {
      std::lock_guard<std::mutex> l(mu_);
      gate_closed_ = false;
    }
    cv_.notify_all();
  }
  // Waits until a consumer-state fdatasync is held at the gate.
  void WaitHeld() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return held_ > 0; });
  }

  store::Status SyncDirectory(const std::string& dir) override {
    store::Status st = real().SyncDirectory(dir);
    std::lock_guard<std::mutex> l(mu_);
    if (st.ok()) {
      dirs_unsynced_.erase(fs::path(dir));
      ++dir_syncs_[fs::path(dir)];
    }
    return st;
  }
  store::Status Rename(const std::string& from, const std::string& to) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (dirty_.count(from)) ++violations;
      renamed_.insert(to);
      dirs_unsynced_.insert(fs::path(to).parent_path());
    }
    return real().Rename(from, to);
  }

 protected:
  void BeforeSync(const std::string& path, std::unique_lock<std::mutex>& l) override {
    if (path.find("/consumers/") != std::string::npos && gate_closed_) {
      ++held_;
      cv_.notify_all();
      cv_.wait(l, [&] { return !gate_closed_; });
      --held_;
    }
  }

 private:
  std::condition_variable cv_;
  std::set<std::string> renamed_;
  std::set<fs::path> dirs_unsynced_;
  std::map<fs::path, int> dir_syncs_;
  bool gate_closed_ = false;
  int held_ = 0;
};

class StateDurabilityTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    OpenWithIo();
  }
  void TearDown() override {
    io_.OpenGate();
    EngineTest::TearDown();
  }
  void OpenWithIo() {
    engine_.reset();
    EngineOptions o;
    o.store_dir = dir_;
    o.server_name = "n1";
    o.clock = [this] { return now_; };
    o.file_io = &io_;
    std::string error;
    engine_ = Engine::Open(o, &out_, &error);
    ASSERT_TRUE(engine_) << error;
  }
  std::string StreamDir(const std::string& s) { return dir_ + "/streams/" + s; }
  std::string ConsumerFile(const std::string& s, const std::string& c) {
    return StreamDir(s) + "/consumers/" + c + ".json";
  }
  Json ReadJson(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return Json::parse(ss.str(), nullptr, false);
  }
  Json CreateConsumer(const std::string& name) {
    return Api("$JS.API.CONSUMER.CREATE.S." + name,
               Json({{"stream_name", "S"},
                     {"config", {{"durable_name", name}, {"ack_policy", "explicit"}}}})
                   .dump());
  }
  std::vector<Sent> Pull(const std::string& consumer, const std::string& body) {
    out_.interest.insert("_INBOX.pull");
    std::string reply;
    engine_->HandleApi("$JS.API.CONSUMER.MSG.NEXT.S." + consumer, "_INBOX.pull", "", body, &reply);
    return out_.Take();
  }

  RecordingIo io_;
};

TEST_F(StateDurabilityTest, StreamCreateAndUpdateAreAnsweredOnceTheConfigIsDurable) {
  Json created = CreateStream({{"name", "S"}, {"subjects", {"s.>"}}});
  ASSERT_FALSE(created.contains("error")) << created.dump();
  EXPECT_TRUE(io_.Durable(StreamDir("S") + "/stream.json"));
  EXPECT_GE(io_.DirSyncs(dir_ + "/streams"), 1);  // the new stream directory's own entry
  EXPECT_EQ(io_.violations, 0);

  Json updated = Api("$JS.API.STREAM.UPDATE.S",
                     Json({{"name", "S"}, {"subjects", {"s.>"}}, {"max_msgs", 7}}).dump());
  ASSERT_FALSE(updated.contains("error")) << updated.dump();
  EXPECT_TRUE(io_.Durable(StreamDir("S") + "/stream.json"));
  EXPECT_EQ(ReadJson(StreamDir("S") + "/stream.json")["config"]["max_msgs"], 7);
  EXPECT_EQ(io_.violations, 0);
}

TEST_F(StateDurabilityTest, ConsumerCreateIsAnsweredOnceItsStateIsDurable) {
  CreateStream({{"name", "S"}, {"subjects", {"s.>"}}});
  Json c = CreateConsumer("C");
  ASSERT_FALSE(c.contains("error")) << c.dump();
  EXPECT_TRUE(io_.Durable(ConsumerFile("S", "C")));
  EXPECT_EQ(ReadJson(ConsumerFile("S", "C"))["name"], "C");
  EXPECT_EQ(io_.violations, 0);
}

TEST_F(StateDurabilityTest, AckAckIsSentOnlyOnceTheAckIsDurableAndTheLoopNeverWaits) {
  CreateStream({{"name", "S"}, {"subjects", {"s.>"}}});
  Pub("s.a", "1");
  Pub("s.a", "2");
  ASSERT_FALSE(CreateConsumer("C").contains("error"));
  auto got = Pull("C", "2");
  ASSERT_EQ(got.size(), 2u);

  io_.CloseGate();
  engine_->HandleAck(got[0].reply, "_INBOX.ackack", "+ACK");
  io_.WaitHeld();  // the state recording the ack is being written, its fdatasync held
  // The engine's thread goes on (ticks, publishes, plain acks) without the ack-ack.
  engine_->StateWritten();
  Advance(100);
  engine_->HandleAck(got[1].reply, "", "+ACK");
  Advance(100);
  EXPECT_FALSE(Pub("s.a", "3").empty());
  for (const auto& m : out_.Take()) EXPECT_NE(m.subject, "_INBOX.ackack");

  io_.OpenGate();
  auto sent = TakeAfterStateWrites(1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].subject, "_INBOX.ackack");
  // What the ack-ack promises is on disk, durably: a record of the consumer's ack log
  // (fdatasync'ed), newer than the state file, holding the ack.
  const std::string log = StreamDir("S") + "/consumers/C.acklog";
  EXPECT_TRUE(io_.Synced(log));
  std::ifstream in(log, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  AckLogScan scan = ScanAckLog(data);
  ASSERT_TRUE(scan.found);
  EXPECT_GT(scan.gen, ReadJson(ConsumerFile("S", "C")).value("gen", uint64_t{0}));
  EXPECT_GE(scan.image.ack_floor_sseq, 1u);
  ASSERT_FALSE(scan.image.pending.empty());
  EXPECT_NE(scan.image.pending.front().sseq, 1u);
  EXPECT_EQ(io_.violations, 0);
}

TEST_F(StateDurabilityTest, AcksWithoutAckAckArePersistedByTheTickOffTheLoop) {
  CreateStream({{"name", "S"}, {"subjects", {"s.>"}}});
  for (int i = 0; i < 3; ++i) Pub("s.a", "x");
  ASSERT_FALSE(CreateConsumer("C").contains("error"));
  auto got = Pull("C", "3");
  ASSERT_EQ(got.size(), 3u);
  for (const auto& m : got) engine_->HandleAck(m.reply, "", "+ACK");
  Advance(100);
  // Written by the writer thread: wait (generously) for the file to show all three acks and
  // for its directory to be fsynced after the rename.
  uint64_t floor = 0;
  bool durable = false;
  for (int i = 0; i < 30000 && !(floor == 3 && durable); ++i) {
    durable = io_.Durable(ConsumerFile("S", "C"));
    Json j = ReadJson(ConsumerFile("S", "C"));
    if (j.is_object()) floor = j.value("ack_floor_sseq", uint64_t{0});
    if (!(floor == 3 && durable)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(floor, 3u);
  EXPECT_TRUE(durable);
  EXPECT_EQ(io_.violations, 0);
}

TEST_F(StateDurabilityTest, ADeletedConsumerIsNotRecreatedByAQueuedWrite) {
  CreateStream({{"name", "S"}, {"subjects", {"s.>"}}});
  Pub("s.a", "1");
  ASSERT_FALSE(CreateConsumer("A").contains("error"));
  ASSERT_FALSE(CreateConsumer("B").contains("error"));
  auto a = Pull("A", "1");
  auto b = Pull("B", "1");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  io_.CloseGate();
  engine_->HandleAck(a[0].reply, "_INBOX.a", "+ACK");
  io_.WaitHeld();                                      // A's write is in flight
  engine_->HandleAck(b[0].reply, "_INBOX.b", "+ACK");  // B's is queued behind it
  Json del = Api("$JS.API.CONSUMER.DELETE.S.B");
  EXPECT_EQ(del["success"], true) << del.dump();
  io_.OpenGate();
  auto sent = TakeAfterStateWrites(1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].subject, "_INBOX.a");
  engine_.reset();  // drains the writer
  EXPECT_FALSE(fs::exists(ConsumerFile("S", "B")));
  EXPECT_FALSE(fs::exists(StreamDir("S") + "/consumers/B.acklog"));
  EXPECT_TRUE(fs::exists(ConsumerFile("S", "A")));
}

TEST_F(StateDurabilityTest, ConsumerStateAheadOfTheStreamSkipsNothingAfterACrash) {
  // A power loss can keep a consumer state that delivered message 3 while the store lost
  // message 3 (written, never synced, never acknowledged to its publisher); the stream then
  // gives sequence 3 to the next message. Simulated by a state file that is ahead.
  CreateStream({{"name", "S"}, {"subjects", {"s.>"}}});
  Pub("s.a", "1");
  Pub("s.a", "2");
  ASSERT_FALSE(CreateConsumer("C").contains("error"));
  auto got = Pull("C", "2");
  ASSERT_EQ(got.size(), 2u);
  engine_.reset();
  Json state = ReadJson(ConsumerFile("S", "C"));
  ASSERT_TRUE(state.is_object());
  state["next_sseq"] = 6;
  state["delivered_sseq"] = 5;
  state["dseq"] = 5;
  state["pending"] = Json::array({{1, 1, 1}, {2, 2, 1}, {3, 3, 1}, {4, 4, 1}, {5, 5, 1}});
  std::ofstream(ConsumerFile("S", "C"), std::ios::trunc) << state.dump();
  OpenWithIo();

  Json info = Api("$JS.API.CONSUMER.INFO.S.C");
  EXPECT_EQ(info["num_ack_pending"], 2) << info.dump();
  EXPECT_EQ(info["delivered"]["stream_seq"], 2) << info.dump();
  Pub("s.a", "3");  // the new sequence 3
  auto next = Pull("C", "1");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].payload, "3");
}

}  // namespace
}  // namespace meridian::jetstream::testing
