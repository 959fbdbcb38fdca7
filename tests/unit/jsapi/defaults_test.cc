// The request bodies sent while recording the fixtures, defaulted by ApplyServerDefaults,
// equal the configs nats-server 2.9.10 echoed back.
#include "jsapi/defaults.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "jsapi/json.h"

namespace meridian::jsapi {
namespace {

std::string ReadFixture(const std::string& name) {
  const char* root = std::getenv("MERIDIAN_TEST_DATA");
  std::ifstream in(std::string(root ? root : "tests/data") + "/jsapi/" + name);
  EXPECT_TRUE(in.good()) << "cannot open fixture " << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <typename T>
T Load(const std::string& name) {
  auto r = Parse<T>(ReadFixture(name));
  EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : T{};
}

TEST(StreamDefaults, MatchWhatTheServerStoredForAPlainStream) {
  auto cfg = Load<StreamConfig>("requests/stream_create_orders.json");
  ApplyServerDefaults(cfg);
  EXPECT_EQ(cfg, Load<StreamInfo>("stream_create_response.json").config);
}

TEST(StreamDefaults, SourcingStreamGetsNoSubjects) {
  auto cfg = Load<StreamConfig>("requests/stream_create_sources.json");
  ApplyServerDefaults(cfg);
  EXPECT_TRUE(cfg.subjects.empty());
  EXPECT_EQ(cfg, Load<StreamInfo>("stream_create_sources_response.json").config);
}

TEST(StreamDefaults, MirrorGetsNoDuplicateWindow) {
  auto cfg = Load<StreamConfig>("requests/stream_create_mirror.json");
  ApplyServerDefaults(cfg);
  EXPECT_EQ(cfg.duplicate_window.count(), 0);
  cfg.mirror_direct = true;  // the server copies it from the upstream's allow_direct
  EXPECT_EQ(cfg, Load<StreamInfo>("stream_info_mirror_response.json").config);
}

TEST(StreamDefaults, DuplicateWindowFollowsShortMaxAge) {
  StreamConfig cfg;
  cfg.name = "S";
  cfg.max_age = std::chrono::seconds(30);
  ApplyServerDefaults(cfg);
  EXPECT_EQ(cfg.duplicate_window, std::chrono::seconds(30));
  EXPECT_EQ(cfg.subjects, std::vector<std::string>{"S"});
}

TEST(StreamDefaults, RepublishSourceDefaultsToEverything) {
  StreamConfig cfg;
  cfg.name = "S";
  cfg.republish = Republish{.dest = "copy.>"};
  ApplyServerDefaults(cfg);
  EXPECT_EQ(cfg.republish->src, ">");
}

TEST(ConsumerDefaults, PullWithBackoffTakesAckWaitFromBackoff) {
  auto req = Load<CreateConsumerRequest>("requests/consumer_create_pull.json");
  ApplyServerDefaults(req.config);
  EXPECT_EQ(req.config, Load<ConsumerInfo>("consumer_create_response.json").config);
}

TEST(ConsumerDefaults, PushDurableGetsAckWaitAndMaxAckPendingButNoMaxWaiting) {
  auto req = Load<CreateConsumerRequest>("requests/consumer_create_push.json");
  ApplyServerDefaults(req.config);
  EXPECT_EQ(req.config.max_waiting, 0);
  EXPECT_EQ(req.config, Load<ConsumerInfo>("consumer_create_push_response.json").config);
}

TEST(ConsumerDefaults, EphemeralWithoutAcksKeepsItsInactiveThreshold) {
  auto req = Load<CreateConsumerRequest>("requests/consumer_create_ephemeral.json");
  ApplyServerDefaults(req.config);
  EXPECT_EQ(req.config, Load<ConsumerInfo>("consumer_create_ephemeral_response.json").config);
}

TEST(ConsumerDefaults, EphemeralGetsFiveSecondInactiveThreshold) {
  ConsumerConfig cfg;
  ApplyServerDefaults(cfg);
  EXPECT_EQ(cfg.inactive_threshold, std::chrono::seconds(5));
  EXPECT_EQ(cfg.max_ack_pending, 0);  // ack none
  EXPECT_EQ(cfg.ack_wait.count(), 0);
}

}  // namespace
}  // namespace meridian::jsapi
