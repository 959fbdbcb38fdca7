// Recovery: restarts, torn tails, flipped bits, tombstones, compaction.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "store/file_store.h"
#include "store/record_format.h"
#include "test_support.h"

namespace meridian::store {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
namespace fs = std::filesystem;

std::unique_ptr<FileStore> OpenStore(const std::string& dir, uint64_t segment_bytes = 1 << 20,
                                     uint64_t segment_records = 0) {
  FileStoreOptions options;
  options.directory = dir;
  options.segment_max_bytes = segment_bytes;
  options.segment_max_records = segment_records;
  std::unique_ptr<FileStore> store;
  Status st = FileStore::Open(options, &store);
  EXPECT_TRUE(st.ok()) << st.message();
  return store;
}

std::string Payload(uint64_t seq) {
  return "payload-" + std::to_string(seq);
}

void AppendN(Store& store, int n, std::string_view subject = "s") {
  for (int i = 0; i < n; ++i) {
    uint64_t seq = 0;
    uint64_t next = store.State().last_seq + 1;
    ASSERT_TRUE(store.Append(subject, Payload(next), &seq).ok());
  }
}

// Offset of each record in a segment's bytes.
std::vector<uint64_t> RecordOffsets(const std::string& data) {
  std::vector<uint64_t> offsets;
  for (const testing::RecordSpan& r : testing::RecordSpans(data)) offsets.push_back(r.offset);
  return offsets;
}

std::string OnlySegment(const std::string& dir) {
  std::vector<std::string> segs;
  for (auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") segs.push_back(e.path().string());
  }
  EXPECT_EQ(segs.size(), 1u);
  return segs.empty() ? "" : segs[0];
}

TEST(FileStoreRecovery, RestartKeepsMessagesStateAndSubjectIndex) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path(), 512);
    AppendN(*store, 20, "a");
    AppendN(*store, 5, "b");
  }
  auto store = OpenStore(dir.path(), 512);
  StoreState s = store->State();
  EXPECT_EQ(s.msgs, 25u);
  EXPECT_EQ(s.last_seq, 25u);
  EXPECT_EQ(s.corrupt_regions, 0u);
  EXPECT_GT(store->Segments().size(), 1u);
  Message m;
  ASSERT_TRUE(store->Load(7, &m).ok());
  EXPECT_EQ(m.payload, Payload(7));
  ASSERT_TRUE(store->LoadLast("a", &m).ok());
  EXPECT_EQ(m.seq, 20u);
  EXPECT_EQ(store->NumMessages("b"), 5u);
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("a", "x", &seq).ok());
  EXPECT_EQ(seq, 26u);
}

TEST(FileStoreRecovery, TombstonesSurviveRestart) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    AppendN(*store, 5);
    ASSERT_TRUE(store->Remove(3).ok());
    ASSERT_TRUE(store->Remove(1).ok());
  }
  auto store = OpenStore(dir.path());
  Message m;
  EXPECT_EQ(store->Load(3, &m).code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Load(1, &m).code(), StatusCode::kNotFound);
  StoreState s = store->State();
  EXPECT_EQ(s.msgs, 3u);
  EXPECT_EQ(s.first_seq, 2u);
  EXPECT_EQ(s.num_deleted, 1u);
}

TEST(FileStoreRecovery, PurgeSurvivesRestartAndSequencesAreNotReused) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path(), 512);
    AppendN(*store, 30);
    uint64_t purged = 0;
    ASSERT_TRUE(store->Purge({}, &purged).ok());
  }
  auto store = OpenStore(dir.path(), 512);
  StoreState s = store->State();
  EXPECT_EQ(s.msgs, 0u);
  EXPECT_EQ(s.last_seq, 30u);
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("s", "x", &seq).ok());
  EXPECT_EQ(seq, 31u);
  EXPECT_EQ(store->Segments().size(), 1u) << "purged segments are deleted";
}

TEST(FileStoreRecovery, FilteredPurgeSurvivesRestart) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    AppendN(*store, 3, "a");
    AppendN(*store, 3, "b");
    uint64_t purged = 0;
    PurgeRequest request;
    request.filter = "a";
    ASSERT_TRUE(store->Purge(request, &purged).ok());
  }
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->NumMessages("a"), 0u);
  EXPECT_EQ(store->NumMessages("b"), 3u);
}

TEST(FileStoreRecovery, TornTailAtEveryBytePositionOfTheLastRecordIsTruncated) {
  TempDir origin;
  {
    auto store = OpenStore(origin.path());
    AppendN(*store, 3);
  }
  std::string seg = OnlySegment(origin.path());
  std::string data = ReadFile(seg);
  uint64_t last = RecordOffsets(data).back();
  for (uint64_t cut = last; cut < data.size(); ++cut) {
    TempDir dir;
    WriteFile(dir.path() + "/" + fs::path(seg).filename().string(), data.substr(0, cut));
    auto store = OpenStore(dir.path());
    StoreState s = store->State();
    ASSERT_EQ(s.msgs, 2u) << "cut at " << cut;
    EXPECT_EQ(s.corrupt_regions, 0u) << "cut at " << cut;
    EXPECT_EQ(store->TornBytesTruncated(), cut - last);
    uint64_t seq = 0;
    ASSERT_TRUE(store->Append("s", "after", &seq).ok());
    EXPECT_EQ(seq, 3u);
    store.reset();
    auto reopened = OpenStore(dir.path());
    Message m;
    ASSERT_TRUE(reopened->Load(3, &m).ok()) << "cut at " << cut;
    EXPECT_EQ(m.payload, "after");
  }
}

TEST(FileStoreRecovery, ZeroFilledTailIsTornNotCorrupt) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    AppendN(*store, 3);
  }
  std::string seg = OnlySegment(dir.path());
  WriteFile(seg, ReadFile(seg) + std::string(4096, '\0'));
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->State().msgs, 3u);
  EXPECT_TRUE(store->Corruption().empty());
  // Zeros alone are cut off without counting as torn: that is what the space the store
  // reserves past its last record looks like after a kill.
  EXPECT_EQ(store->TornBytesTruncated(), 0u);
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("s", "after", &seq).ok());
  EXPECT_EQ(seq, 4u);
}

class FlippedBit : public ::testing::TestWithParam<size_t> {};

// Flips one bit at a given offset within record 3 of 5 (header, body and trailer offsets).
TEST_P(FlippedBit, InAMiddleRecordIsReportedWithFileAndOffsetWhileOthersAreServed) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    AppendN(*store, 5);
  }
  std::string seg = OnlySegment(dir.path());
  std::string data = ReadFile(seg);
  uint64_t victim = RecordOffsets(data)[2];
  data[victim + GetParam()] ^= 0x10;
  WriteFile(seg, data);

  auto store = OpenStore(dir.path());
  auto reports = store->Corruption();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].file, seg);
  EXPECT_EQ(reports[0].offset, victim);
  EXPECT_EQ(reports[0].first_seq, 3u);
  EXPECT_EQ(reports[0].last_seq, 3u);
  Message m;
  EXPECT_EQ(store->Load(3, &m).code(), StatusCode::kCorrupt);
  for (uint64_t seq : {1, 2, 4, 5}) {
    ASSERT_TRUE(store->Load(seq, &m).ok()) << seq;
    EXPECT_EQ(m.payload, Payload(seq));
  }
  EXPECT_EQ(store->LoadNext(">", 3, &m).code(), StatusCode::kCorrupt);
  EXPECT_EQ(m.seq, 3u) << "the caller learns where the corrupt region ends";
  ASSERT_TRUE(store->LoadNext(">", 4, &m).ok());
  EXPECT_EQ(m.seq, 4u);
  EXPECT_EQ(store->State().corrupt_regions, 1u);
}

INSTANTIATE_TEST_SUITE_P(Offsets, FlippedBit,
                         ::testing::Values(0, 5, 9, 17, 30, 33, kRecordHeaderSize + 2,
                                           kRecordHeaderSize + 12));

TEST(FileStoreRecovery, CorruptionInTheLastRecordIsReportedNotTruncated) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    AppendN(*store, 3);
  }
  std::string seg = OnlySegment(dir.path());
  std::string data = ReadFile(seg);
  data[data.size() - 6] ^= 0x01;  // inside the payload of the complete last record
  WriteFile(seg, data);
  auto store = OpenStore(dir.path());
  ASSERT_EQ(store->Corruption().size(), 1u);
  Message m;
  EXPECT_EQ(store->Load(3, &m).code(), StatusCode::kCorrupt);
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("s", "x", &seq).ok());
  EXPECT_EQ(seq, 4u) << "a possibly acknowledged sequence is never reused";
  EXPECT_EQ(fs::file_size(seg), data.size()) << "the evidence stays on disk";
}

TEST(FileStoreRecovery, CorruptionFoundOnReadIsReported) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  AppendN(*store, 3);
  std::string seg = OnlySegment(dir.path());
  std::string data = ReadFile(seg);
  uint64_t victim = RecordOffsets(data)[1];
  data[victim + kRecordHeaderSize + 3] ^= 0x04;
  WriteFile(seg, data);  // rewritten in place: the open descriptor sees the damage
  Message m;
  EXPECT_EQ(store->Load(2, &m).code(), StatusCode::kCorrupt);
  ASSERT_EQ(store->Corruption().size(), 1u);
  EXPECT_EQ(store->Corruption()[0].offset, victim);
  ASSERT_TRUE(store->Load(1, &m).ok());
}

TEST(FileStoreRecovery, SegmentsRollAtTheRecordLimit) {
  TempDir dir;
  auto store = OpenStore(dir.path(), 1 << 20, 10);
  AppendN(*store, 25);
  auto segments = store->Segments();
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_EQ(segments[0].records, 10u);
  EXPECT_EQ(segments[2].records, 5u);
}

TEST(FileStoreRecovery, FullyDeletedSegmentIsRemoved) {
  TempDir dir;
  auto store = OpenStore(dir.path(), 1 << 20, 10);
  AppendN(*store, 25);
  uint64_t purged = 0;
  PurgeRequest request;
  request.below_seq = 11;
  ASSERT_TRUE(store->Purge(request, &purged).ok());
  EXPECT_EQ(store->Segments().size(), 2u);
  EXPECT_FALSE(fs::exists(dir.path() + "/0000000001.seg"));
}

TEST(FileStoreRecovery, MostlyDeletedSegmentIsCompactedAndStillServes) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path(), 1 << 20, 10);
    AppendN(*store, 25);
    uint64_t before = store->Segments()[0].size;
    for (uint64_t seq = 2; seq <= 9; ++seq) ASSERT_TRUE(store->Remove(seq).ok());
    auto segments = store->Segments();
    EXPECT_LT(segments[0].size, before / 2);
    EXPECT_EQ(segments[0].live_msgs, 2u);
    Message m;
    ASSERT_TRUE(store->Load(10, &m).ok());
    EXPECT_EQ(m.payload, Payload(10));
  }
  auto store = OpenStore(dir.path(), 1 << 20, 10);
  EXPECT_EQ(store->State().msgs, 17u);
  EXPECT_TRUE(store->Corruption().empty());
  Message m;
  EXPECT_EQ(store->Load(5, &m).code(), StatusCode::kNotFound);
  ASSERT_TRUE(store->Load(1, &m).ok());
  EXPECT_EQ(m.payload, Payload(1));
}

TEST(FileStoreRecovery, LimitsAreEnforcedAgainOnOpen) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    AppendN(*store, 10);
  }
  FileStoreOptions options;
  options.directory = dir.path();
  options.limits.max_msgs = 4;
  std::unique_ptr<FileStore> store;
  ASSERT_TRUE(FileStore::Open(options, &store).ok());
  EXPECT_EQ(store->State().msgs, 4u);
  EXPECT_EQ(store->State().first_seq, 7u);
}

TEST(FileStoreRecovery, LeftoverCompactionFileIsIgnoredAndRemoved) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    AppendN(*store, 2);
  }
  WriteFile(dir.path() + "/0000000001.seg.tmp", "garbage");
  auto store = OpenStore(dir.path());
  EXPECT_EQ(store->State().msgs, 2u);
  EXPECT_FALSE(fs::exists(dir.path() + "/0000000001.seg.tmp"));
}

}  // namespace
}  // namespace meridian::store
