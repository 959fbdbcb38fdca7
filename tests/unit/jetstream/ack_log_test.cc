// The consumer ack log (node/jetstream/ack_log.h): record encoding and scanning (torn and
// invalid tails, reserved zeros, rewritten logs), and recovery through the engine from the
// files a crash leaves at each step: an AckSync'ed ack is never forgotten, whatever mix of
// state file and log records is on disk.
#include "jetstream/ack_log.h"

#include <fstream>
#include <iterator>

#include "harness.h"

namespace meridian::jetstream::testing {
namespace {

namespace fs = std::filesystem;

AckLogImage Sample(uint64_t base) {
  AckLogImage img;
  img.next_sseq = base + 10;
  img.dseq = base + 12;
  img.delivered_sseq = base + 9;
  img.ack_floor_sseq = base + 2;
  img.ack_floor_dseq = base + 3;
  img.pending = {{base + 3, base + 4, 1}, {base + 5, base + 7, 3}, {base + 9, base + 12, 1}};
  img.initial = {base + 1, base + 300000};
  return img;
}

TEST(AckLogFormat, RoundTripKeepsTheHighestGeneration) {
  std::string log;
  EncodeAckLogRecord(7, Sample(100), &log);
  EncodeAckLogRecord(9, Sample(200), &log);
  EncodeAckLogRecord(8, Sample(1ull << 40), &log);  // an older record after a newer one
  AckLogScan scan = ScanAckLog(log);
  ASSERT_TRUE(scan.found);
  EXPECT_EQ(scan.records, 3u);
  EXPECT_EQ(scan.gen, 9u);
  EXPECT_EQ(scan.image, Sample(200));
  EXPECT_EQ(scan.valid_end, log.size());
  // The header layout documented in node/jetstream/README.md.
  EXPECT_EQ(log.substr(0, 4), "MAK1");
  EXPECT_EQ(static_cast<unsigned char>(log[8]), 7);

  AckLogImage empty;
  std::string one;
  EncodeAckLogRecord(1, empty, &one);
  EXPECT_EQ(one.size(), kAckLogHeader + 7 + 4);  // seven one-byte varints
  EXPECT_EQ(ScanAckLog(one).image, empty);
}

TEST(AckLogFormat, ATornOrDamagedTailEndsTheScanAtTheLastGoodRecord) {
  std::string first;
  EncodeAckLogRecord(1, Sample(1), &first);
  std::string second;
  EncodeAckLogRecord(2, Sample(50), &second);
  // Cut short at every length: the first record wins, the scan ends where the second began.
  for (size_t n = 0; n < second.size(); ++n) {
    AckLogScan scan = ScanAckLog(first + second.substr(0, n));
    ASSERT_TRUE(scan.found) << n;
    EXPECT_EQ(scan.gen, 1u) << n;
    EXPECT_EQ(scan.valid_end, first.size()) << n;
  }
  // Any byte flipped in the second record: it is ignored, and so is everything after it.
  std::string third;
  EncodeAckLogRecord(3, Sample(90), &third);
  for (size_t i = 0; i < second.size(); ++i) {
    std::string bad = second;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    AckLogScan scan = ScanAckLog(first + bad + third);
    EXPECT_EQ(scan.gen, 1u) << i;
    EXPECT_EQ(scan.valid_end, first.size()) << i;
  }
  // Reserved space (zeros) after the records.
  AckLogScan scan = ScanAckLog(first + second + std::string(65536, '\0'));
  EXPECT_EQ(scan.gen, 2u);
  EXPECT_EQ(scan.valid_end, first.size() + second.size());
  EXPECT_FALSE(ScanAckLog(std::string(100, '\0')).found);
  EXPECT_FALSE(ScanAckLog("").found);
}

TEST(AckLogFormat, ARewrittenLogKeepsItsNewestRecordBeforeTheOldOnes) {
  // After a state file write the log is written again from offset 0 over older records: the
  // new ones come first, then (at worst) a cut-up old record, which ends the scan.
  std::string old_log;
  for (uint64_t g = 1; g <= 5; ++g) EncodeAckLogRecord(g, Sample(g * 1000), &old_log);
  std::string fresh;
  EncodeAckLogRecord(7, Sample(1), &fresh);
  std::string file = fresh + old_log.substr(fresh.size());
  AckLogScan scan = ScanAckLog(file);
  ASSERT_TRUE(scan.found);
  EXPECT_EQ(scan.gen, 7u);
  EXPECT_EQ(scan.image, Sample(1));
}

class AckLogRecoveryTest : public EngineTest {
 protected:
  std::string Consumers() { return dir_ + "/streams/S/consumers"; }
  // What a kill -9 leaves at this moment: the files as they are (the page cache survives a
  // process crash), copied aside.
  std::string CrashCopy(const std::string& name) {
    std::string to = dir_ + "-" + name;
    fs::remove_all(to);
    fs::copy(cur_.empty() ? dir_ : cur_, to, fs::copy_options::recursive);
    copies_.push_back(to);
    return to;
  }
  void OpenAt(const std::string& dir) {
    engine_.reset();
    cur_ = dir;
    EngineOptions o;
    o.store_dir = dir;
    o.server_name = "n1";
    o.clock = [this] { return now_; };
    std::string error;
    engine_ = Engine::Open(o, &out_, &error);
    ASSERT_TRUE(engine_) << error;
  }
  Json Info() { return Api("$JS.API.CONSUMER.INFO.S.C"); }
  std::vector<Sent> Pull(const std::string& body) {
    out_.interest.insert("_INBOX.pull");
    std::string reply;
    engine_->HandleApi("$JS.API.CONSUMER.MSG.NEXT.S.C", "_INBOX.pull", "", body, &reply);
    std::vector<Sent> got;
    for (auto& m : out_.Take()) {
      if (m.subject == "_INBOX.pull" && !m.reply.empty()) got.push_back(m);
    }
    return got;
  }
  void AckSync(const Sent& m) {
    engine_->HandleAck(m.reply, "_INBOX.ackack", "+ACK");
    auto sent = TakeAfterStateWrites(1);
    ASSERT_EQ(sent.size(), 1u);
    ASSERT_EQ(sent[0].subject, "_INBOX.ackack");
  }
  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  void TearDown() override {
    EngineTest::TearDown();
    for (const auto& c : copies_) fs::remove_all(c);
  }
  std::vector<std::string> copies_;
  std::string cur_;  // the directory the engine runs on ("" = dir_)
};

TEST_F(AckLogRecoveryTest, AckSyncedAcksSurviveACrashAtEveryStep) {
  CreateStream({{"name", "S"}, {"subjects", {"s.>"}}});
  for (int i = 1; i <= 6; ++i) Pub("s.a", std::to_string(i));
  ASSERT_FALSE(Api("$JS.API.CONSUMER.CREATE.S.C",
                   Json({{"stream_name", "S"},
                         {"config", {{"durable_name", "C"}, {"ack_policy", "explicit"}}}})
                       .dump())
                   .contains("error"));
  auto got = Pull("4");
  ASSERT_EQ(got.size(), 4u);

  // Step 1: an AckSync answered: only the log holds it (the state file is older).
  AckSync(got[0]);
  const std::string step1 = CrashCopy("step1");
  // Step 2: a tick writes the state file (the log is superseded and will be rewritten).
  engine_->HandleAck(got[3].reply, "", "+ACK");  // a plain ack makes the consumer dirty
  Advance(100);
  for (int i = 0; i < 30000; ++i) {
    auto j = Json::parse(Slurp(Consumers() + "/C.json"), nullptr, false);
    if (j.is_object() && j.value("ack_floor_sseq", 0) == 1 && j["pending"].size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const std::string step2 = CrashCopy("step2");
  // Step 1's log alongside step 2's state file (the file written, the log not yet rewound).
  const std::string mixed = CrashCopy("mixed");
  fs::copy_file(step1 + "/streams/S/consumers/C.acklog", mixed + "/streams/S/consumers/C.acklog",
                fs::copy_options::overwrite_existing);
  // Step 3: another AckSync, written from offset 0 over the old records.
  AckSync(got[1]);
  const std::string step3 = CrashCopy("step3");
  // Step 4: the next record torn in the middle of its write.
  std::string torn;
  EncodeAckLogRecord(1u << 30, AckLogImage{}, &torn);
  {
    const std::string log = step3 + "/streams/S/consumers/C.acklog";
    std::string data = Slurp(log);
    AckLogScan scan = ScanAckLog(data);
    data.replace(scan.valid_end, torn.size() / 2, torn.substr(0, torn.size() / 2));
    std::ofstream(log, std::ios::binary | std::ios::trunc) << data;
  }

  struct Expect {
    std::string dir;
    int pending;  // delivered, not acked
    uint64_t first_pending;
  };
  for (const Expect& e : {Expect{step1, 3, 2}, Expect{step2, 2, 2}, Expect{step3, 1, 3}}) {
    SCOPED_TRACE(e.dir);
    OpenAt(e.dir);
    Json info = Info();
    EXPECT_EQ(info["num_ack_pending"], e.pending) << info.dump();
    EXPECT_EQ(info["delivered"]["stream_seq"], 4) << info.dump();
    EXPECT_EQ(info["num_pending"], 2) << info.dump();
    // Past the ack wait, only what was delivered and not acked comes again, then 5 and 6.
    Advance(31000);
    engine_->Tick();
    auto again = Pull("10");
    std::vector<uint64_t> seqs;
    for (const auto& m : again) {
      std::vector<std::string> t;
      std::stringstream ss(m.reply);
      for (std::string tok; std::getline(ss, tok, '.');) t.push_back(tok);
      seqs.push_back(std::stoull(t[5]));
    }
    ASSERT_FALSE(seqs.empty());
    EXPECT_EQ(seqs.front(), e.first_pending);
    for (uint64_t s : seqs) EXPECT_NE(s, 1u) << "an AckSync'ed message came again";
    if (e.dir != step1) {
      for (uint64_t s : seqs) EXPECT_NE(s, 4u);
    }
    if (e.dir == step3) {
      for (uint64_t s : seqs) EXPECT_NE(s, 2u) << "an AckSync'ed message came again";
    }
    EXPECT_EQ(seqs.back(), 6u);
  }
  // The mix: the file is newer and wins.
  OpenAt(mixed);
  EXPECT_EQ(Info()["num_ack_pending"], 2) << Info().dump();
}

TEST_F(AckLogRecoveryTest, AppendsAfterARestartDoNotOverwriteNewerRecords) {
  CreateStream({{"name", "S"}, {"subjects", {"s.>"}}});
  for (int i = 1; i <= 3; ++i) Pub("s.a", std::to_string(i));
  ASSERT_FALSE(Api("$JS.API.CONSUMER.CREATE.S.C",
                   Json({{"stream_name", "S"},
                         {"config", {{"durable_name", "C"}, {"ack_policy", "explicit"}}}})
                       .dump())
                   .contains("error"));
  auto got = Pull("3");
  ASSERT_EQ(got.size(), 3u);
  AckSync(got[0]);
  const std::string crashed = CrashCopy("crashed");
  OpenAt(crashed);  // recovered from the log; the file is still older
  EXPECT_EQ(Info()["num_ack_pending"], 2);
  auto replies = got;
  AckSync(replies[1]);  // appended after the valid records, not over them
  const std::string again = CrashCopy("again");
  OpenAt(again);
  Json info = Info();
  EXPECT_EQ(info["num_ack_pending"], 1) << info.dump();
  EXPECT_EQ(info["ack_floor"]["stream_seq"], 2) << info.dump();
  AckLogScan scan = ScanAckLog(Slurp(again + "/streams/S/consumers/C.acklog"));
  EXPECT_EQ(scan.records, 2u);
}

}  // namespace
}  // namespace meridian::jetstream::testing
