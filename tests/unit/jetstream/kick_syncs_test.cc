// EngineOptions::kick_syncs: publishes to file streams wait for Engine::KickSyncs(), which
// fdatasyncs a lone publish on the calling thread (its PubAck is out before KickSyncs returns)
// and hands several to the stores' sync threads; Tick() kicks too.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "harness.h"
#include "jetstream/engine.h"

namespace meridian::jetstream::testing {
namespace {

class KickSyncsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/meridian-kick-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Open();
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    engine_.reset();
    EngineOptions o;
    o.store_dir = dir_;
    o.server_name = "n1";
    o.kick_syncs = true;
    std::string error;
    engine_ = Engine::Open(o, &out_, &error);
    ASSERT_TRUE(engine_) << error;
  }
  void Create(const std::string& name) {
    std::string reply;
    Json cfg = {{"name", name}, {"subjects", Json::array({name + ".>"})}, {"storage", "file"}};
    ASSERT_TRUE(engine_->HandleApi("$JS.API.STREAM.CREATE." + name, "_INBOX.r", "", cfg.dump(),
                                   &reply));
    ASSERT_EQ(Json::parse(reply).count("error"), 0u) << reply;
  }
  struct Ack {
    std::atomic<bool> got{false};
    std::string body;
    std::thread::id thread;
  };
  std::shared_ptr<Ack> Publish(const std::string& subject) {
    auto ack = std::make_shared<Ack>();
    engine_->Publish(subject, "_INBOX.p", "", "payload", [ack](std::string body) {
      ack->body = std::move(body);
      ack->thread = std::this_thread::get_id();
      ack->got = true;
    });
    return ack;
  }
  static bool WaitFor(const std::shared_ptr<Ack>& ack) {
    for (int i = 0; i < 10000 && !ack->got; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return ack->got;
  }

  std::string dir_;
  RecordingOutbound out_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(KickSyncsTest, ALonePublishIsAcknowledgedInsideKickSyncsOnItsThread) {
  Create("A");
  auto ack = Publish("A.x");
  engine_->KickSyncs();
  ASSERT_TRUE(ack->got) << "the PubAck was sent before KickSyncs returned";
  EXPECT_EQ(ack->body, "{\"stream\":\"A\", \"seq\":1}");
  EXPECT_EQ(ack->thread, std::this_thread::get_id());
  Open();  // and it is on disk
  std::string reply;
  ASSERT_TRUE(engine_->HandleApi("$JS.API.STREAM.INFO.A", "_INBOX.r", "", "", &reply));
  EXPECT_EQ(Json::parse(reply)["state"]["messages"], 1) << reply;
}

TEST_F(KickSyncsTest, PublishesIntoTwoStreamsAreAllAcknowledged) {
  Create("A");
  Create("B");
  auto a1 = Publish("A.x");
  auto a2 = Publish("A.y");
  auto b1 = Publish("B.x");
  engine_->KickSyncs();
  ASSERT_TRUE(WaitFor(a1));
  ASSERT_TRUE(WaitFor(a2));
  ASSERT_TRUE(WaitFor(b1));
  EXPECT_EQ(a2->body, "{\"stream\":\"A\", \"seq\":2}");
  EXPECT_EQ(b1->body, "{\"stream\":\"B\", \"seq\":1}");
}

TEST_F(KickSyncsTest, TickKicksWhatNoLoopKicked) {
  Create("A");
  auto ack = Publish("A.x");
  engine_->Tick();
  ASSERT_TRUE(WaitFor(ack));
  EXPECT_EQ(ack->body, "{\"stream\":\"A\", \"seq\":1}");
}

TEST_F(KickSyncsTest, DeletingTheStreamBeforeTheKickStillAnswers) {
  Create("A");
  auto ack = Publish("A.x");
  std::string reply;
  ASSERT_TRUE(engine_->HandleApi("$JS.API.STREAM.DELETE.A", "_INBOX.r", "", "", &reply));
  engine_->KickSyncs();
  ASSERT_TRUE(WaitFor(ack)) << "closing the store synced or failed the waiting publish";
}

}  // namespace
}  // namespace meridian::jetstream::testing
