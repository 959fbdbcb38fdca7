// sources.json is crash-safe: it is written only after the copies it accounts for are
// fdatasync'ed, and atomically (tmp file fdatasync'ed, renamed, directory fsynced). Checked
// through a FileIo that records the order of writes, syncs and renames; the store syncs only
// on request (1 h interval), so without the ordering the copies would still be unsynced.
#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "harness.h"
#include "jsapi/json.h"
#include "tracking_file_io.h"
#include "store/file_io.h"

namespace meridian::jetstream::testing {
namespace {

class OrderingFileIo : public TrackingFileIo {
 public:
  // Renames of sources.json made while a segment or the tmp file had unsynced writes.
  int violations = 0;
  int sources_renames = 0;
  std::set<std::string> dirs_needing_sync;  // renamed into, directory not fsynced since

  store::Status SyncDirectory(const std::string& dir) override {
    store::Status st = real().SyncDirectory(dir);
    std::lock_guard<std::mutex> l(mu_);
    if (st.ok()) dirs_needing_sync.erase(std::filesystem::path(dir).string());
    return st;
  }
  store::Status Rename(const std::string& from, const std::string& to) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (to.ends_with("/sources.json")) {
        ++sources_renames;
        // The target's own segments (<stream dir>/msgs/*.seg) and the new file itself.
        const std::string msgs = std::filesystem::path(to).parent_path().string() + "/msgs/";
        for (const auto& p : dirty_) {
          if ((p.starts_with(msgs) && p.ends_with(".seg")) || p == from) ++violations;
        }
        dirs_needing_sync.insert(std::filesystem::path(to).parent_path().string());
      }
    }
    return real().Rename(from, to);
  }
};

class SourcesDurabilityTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    OpenWithIo();
  }
  void OpenWithIo() {
    engine_.reset();
    EngineOptions o;
    o.store_dir = dir_;
    o.server_name = "n1";
    o.clock = [this] { return now_; };
    o.sync_always = false;
    o.sync_interval = std::chrono::hours(1);  // the store syncs only when asked
    o.file_io = &io_;
    std::string error;
    engine_ = Engine::Open(o, &out_, &error);
    ASSERT_TRUE(engine_) << error;
  }
  Json SourcesFile() {
    std::ifstream in(std::filesystem::path(dir_) / "streams" / "R" / "sources.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return Json::parse(ss.str(), nullptr, false);
  }
  OrderingFileIo io_;  // outlives engine_ (destroyed after it: declared later, reset first)

  void TearDown() override {
    engine_.reset();
    EngineTest::TearDown();
  }
};

TEST_F(SourcesDurabilityTest, ProgressIsWrittenOnlyAfterTheCopiesAreSynced) {
  ASSERT_FALSE(CreateStream({{"name", "O"}, {"subjects", {"o.>"}}}).contains("error"));
  for (int i = 0; i < 50; ++i) Pub("o.a", "m" + std::to_string(i));
  ASSERT_FALSE(CreateStream({{"name", "R"}, {"sources", {{{"name", "O"}}}}}).contains("error"));
  Advance(100);  // copies, then writes sources.json
  EXPECT_EQ(Api("$JS.API.STREAM.INFO.R")["state"]["messages"], 50);
  EXPECT_GE(io_.sources_renames, 1);
  EXPECT_EQ(io_.violations, 0);
  EXPECT_TRUE(io_.dirs_needing_sync.empty());
  EXPECT_EQ(SourcesFile()["O"], 50);

  // More copies in a later tick, some of them over messages the target refuses.
  ASSERT_FALSE(Api("$JS.API.STREAM.UPDATE.R",
                   Json({{"name", "R"}, {"sources", {{{"name", "O"}}}}, {"max_msg_size", 100}})
                       .dump())
                   .contains("error"));
  for (int i = 0; i < 20; ++i) Pub("o.b", i % 2 ? "x" : std::string(200, 'z'));
  const int renames = io_.sources_renames;
  Advance(100);
  EXPECT_EQ(Api("$JS.API.STREAM.INFO.R")["state"]["messages"], 60);
  EXPECT_GT(io_.sources_renames, renames);
  EXPECT_EQ(io_.violations, 0);
  EXPECT_TRUE(io_.dirs_needing_sync.empty());
  EXPECT_EQ(SourcesFile()["O"], 70);

  // The progress is recovered on reopen: nothing is copied twice or missed.
  OpenWithIo();
  Advance(100);
  EXPECT_EQ(Api("$JS.API.STREAM.INFO.R")["state"]["messages"], 60);
  Pub("o.c", "y");
  Advance(100);
  EXPECT_EQ(Api("$JS.API.STREAM.INFO.R")["state"]["messages"], 61);
  EXPECT_EQ(io_.violations, 0);
}

// A source or mirror copies only what its origin's store has made durable: the origin syncs
// only on request here, so messages published after its last sync stay behind (neither copied
// nor counted as looked at) until it syncs; then exactly the rest is copied.
TEST_F(SourcesDurabilityTest, NothingBeyondTheOriginsDurableSequenceIsCopied) {
  ASSERT_FALSE(CreateStream({{"name", "O"}, {"subjects", {"o.>"}}}).contains("error"));
  ASSERT_FALSE(CreateStream({{"name", "R"}, {"sources", {{{"name", "O"}}}}}).contains("error"));
  ASSERT_FALSE(CreateStream({{"name", "M"}, {"mirror", {{"name", "O"}}}}).contains("error"));
  for (int i = 1; i <= 10; ++i) Pub("o.a", "m" + std::to_string(i));
  Advance(100);  // a source waits on O: the tick syncs O, then copies
  ASSERT_EQ(Api("$JS.API.STREAM.INFO.R")["state"]["messages"], 10);
  ASSERT_EQ(Api("$JS.API.STREAM.INFO.M")["state"]["last_seq"], 10);

  for (int i = 11; i <= 15; ++i) Pub("o.a", "m" + std::to_string(i));  // written, not synced
  ASSERT_EQ(Api("$JS.API.STREAM.INFO.O")["state"]["last_seq"], 15);
  while (engine_->PumpSources()) {
  }
  Json r = Api("$JS.API.STREAM.INFO.R");
  EXPECT_EQ(r["state"]["messages"], 10);
  EXPECT_EQ(r["sources"][0]["lag"], 5);  // progress not recorded past O's durable sequence
  Json m = Api("$JS.API.STREAM.INFO.M");
  EXPECT_EQ(m["state"]["last_seq"], 10);
  EXPECT_EQ(m["mirror"]["lag"], 5);
  EXPECT_EQ(SourcesFile()["O"], 10);

  Advance(100);  // O syncs: exactly the rest is copied
  r = Api("$JS.API.STREAM.INFO.R");
  EXPECT_EQ(r["state"]["messages"], 15);
  EXPECT_EQ(r["sources"][0]["lag"], 0);
  m = Api("$JS.API.STREAM.INFO.M");
  EXPECT_EQ(m["state"]["messages"], 15);
  EXPECT_EQ(m["state"]["last_seq"], 15);
  EXPECT_EQ(SourcesFile()["O"], 15);
  for (uint64_t seq = 11; seq <= 15; ++seq) {
    Json got = Api("$JS.API.STREAM.MSG.GET.R", Json({{"seq", seq}}).dump());
    ASSERT_TRUE(got.contains("message")) << got;
    EXPECT_EQ(got["message"]["data"], jsapi::Base64Encode("m" + std::to_string(seq)));
  }
  EXPECT_EQ(io_.violations, 0);
}

// With `always` sync a waiting source is woken through EngineOptions::wake_sources once the
// origin has synced (no waiting for a tick).
TEST_F(SourcesDurabilityTest, AWaitingSourceIsWokenWhenTheOriginSyncs) {
  engine_.reset();
  auto woken = std::make_shared<std::atomic<int>>(0);
  EngineOptions o;
  o.store_dir = dir_;
  o.server_name = "n1";
  o.clock = [this] { return now_; };
  o.wake_sources = [woken] { woken->fetch_add(1); };
  std::string error;
  engine_ = Engine::Open(o, &out_, &error);
  ASSERT_TRUE(engine_) << error;
  ASSERT_FALSE(CreateStream({{"name", "O"}, {"subjects", {"o.>"}}}).contains("error"));
  ASSERT_FALSE(CreateStream({{"name", "R"}, {"sources", {{{"name", "O"}}}}}).contains("error"));
  // Published without waiting for the ack: the publish's own pump finds it not yet durable.
  for (int i = 0; i < 20; ++i) engine_->Publish("o.a", "", "", "x", nullptr);
  int copied = 0;
  for (int i = 0; i < 30000 && copied < 20; ++i) {  // generous: a loaded machine's fdatasync
    if (woken->load() > 0) {
      woken->store(0);
      while (engine_->PumpSources()) {
      }
    }
    copied = Api("$JS.API.STREAM.INFO.R")["state"]["messages"].get<int>();
    if (copied < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(copied, 20);  // no Tick() was called
  engine_.reset();
}

}  // namespace
}  // namespace meridian::jetstream::testing
