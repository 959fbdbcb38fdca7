// Test harness: an Engine over a temp directory, a recording Outbound and a manual clock.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "jetstream/engine.h"

namespace meridian::jetstream::testing {

using Json = nlohmann::json;

struct Sent {
  std::string subject, reply, headers, payload;
};

class RecordingOutbound : public Outbound {
 public:
  void Send(std::string_view subject, std::string_view reply, std::string_view headers,
            std::string_view payload) override {
    sent.push_back(
        {std::string(subject), std::string(reply), std::string(headers), std::string(payload)});
  }
  bool HasInterest(std::string_view subject) override {
    return interest.count(std::string(subject)) > 0;
  }
  std::vector<Sent> Take() {
    std::vector<Sent> out;
    out.swap(sent);
    return out;
  }
  std::vector<Sent> sent;
  std::set<std::string> interest;
};

inline std::string ReadFixture(const std::string& name) {
  const char* root = std::getenv("MERIDIAN_TEST_DATA");
  const std::string dir = root ? std::string(root) : std::string("tests/data");
  std::ifstream in(dir + "/jsapi/" + name);
  EXPECT_TRUE(in.good()) << "cannot open fixture " << dir << "/jsapi/" << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/meridian-js-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Reopen();
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    engine_.reset();
    EngineOptions o;
    o.store_dir = dir_;
    o.server_name = "n1";
    o.clock = [this] { return now_; };
    o.consumer_deleted = [this](const std::string& s, const std::string& c) {
      consumers_deleted_.push_back(s + " " + c);
    };
    std::string error;
    engine_ = Engine::Open(o, &out_, &error);
    ASSERT_TRUE(engine_) << error;
  }

  // Sends an API request and returns the parsed JSON reply (null when none).
  Json Api(const std::string& subject, const std::string& body = "") {
    std::string reply;
    if (!engine_->HandleApi(subject, "_INBOX.r", "", body, &reply)) return Json();
    last_reply_ = reply;
    return Json::parse(reply);
  }
  Json CreateStream(const Json& cfg) {
    return Api("$JS.API.STREAM.CREATE." + cfg["name"].get<std::string>(), cfg.dump());
  }
  // Publishes and waits for the PubAck body (empty when none was due).
  std::string Pub(const std::string& subject, const std::string& payload,
                  const std::string& headers = "") {
    auto ack = std::make_shared<std::string>();
    auto got = std::make_shared<std::atomic<bool>>(false);
    engine_->Publish(subject, "_INBOX.p", headers, payload, [ack, got](std::string a) {
      *ack = std::move(a);
      got->store(true);
    });
    for (int i = 0; i < 5000 && !got->load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // Acknowledged means durable: sources and mirrors of that stream may copy it now (what a
    // server does when EngineOptions::wake_sources posts PumpSources to its loop).
    while (engine_->PumpSources()) {
    }
    return got->load() ? *ack : std::string();
  }
  // Collects finished consumer-state writes (what a server does when
  // EngineOptions::state_written posts Engine::StateWritten) until at least `n` messages were
  // sent, or 30 s passed; returns what was sent.
  std::vector<Sent> TakeAfterStateWrites(size_t n) {
    for (int i = 0; i < 30000 && out_.sent.size() < n; ++i) {
      engine_->StateWritten();
      if (out_.sent.size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return out_.Take();
  }
  void Advance(int64_t ms) {
    now_ += ms * 1'000'000;
    engine_->Tick();
  }

  std::string dir_;
  int64_t now_ = 1'795'000'000'000'000'000;
  RecordingOutbound out_;
  std::vector<std::string> consumers_deleted_;  // "<stream> <consumer>" (consumer_deleted)
  std::unique_ptr<Engine> engine_;
  std::string last_reply_;
};

inline std::string Headers(std::initializer_list<std::pair<std::string, std::string>> kv) {
  std::string h = "NATS/1.0\r\n";
  for (const auto& [k, v] : kv) h += k + ": " + v + "\r\n";
  return h + "\r\n";
}

}  // namespace meridian::jetstream::testing
