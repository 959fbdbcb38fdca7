// Power loss in the reserved space (README.md, "Recovery rules", rule 2): the last record,
// written at full length into fallocate'd space, with zeros from a sector boundary to its end
// and only zeros after it, is a torn tail (never acknowledged) and is truncated. Every other
// shape of damage (zeros not from a sector boundary, a flipped bit, an earlier record, a
// sealed segment, something other than zeros after it) stays reported as corruption.
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

constexpr uint64_t kSector = 512;
const std::string kBig(1500, 'x');  // spans at least two sector boundaries

std::unique_ptr<FileStore> OpenStore(const std::string& dir, uint64_t segment_records = 0) {
  FileStoreOptions options;
  options.directory = dir;
  options.segment_max_records = segment_records;
  std::unique_ptr<FileStore> store;
  Status st = FileStore::Open(options, &store);
  EXPECT_TRUE(st.ok()) << st.message();
  return store;
}

using Span = testing::RecordSpan;

std::vector<Span> Records(const std::string& data) { return testing::RecordSpans(data); }

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> segs;
  for (auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") segs.push_back(e.path().string());
  }
  std::sort(segs.begin(), segs.end());
  return segs;
}

// Three small messages and two big ones (seq 4 and 5), closed cleanly.
void Populate(const std::string& dir, uint64_t segment_records = 0) {
  auto store = OpenStore(dir, segment_records);
  for (int i = 1; i <= 3; ++i) {
    uint64_t seq = 0;
    ASSERT_TRUE(store->Append("s", "small-" + std::to_string(i), &seq).ok());
  }
  for (int i = 4; i <= 5; ++i) {
    uint64_t seq = 0;
    ASSERT_TRUE(store->Append("s", kBig, &seq).ok());
  }
  ASSERT_TRUE(store->Close().ok());
}

// The first sector boundary past the record's header.
uint64_t BoundaryInside(const Span& r) {
  uint64_t b = (r.offset + kRecordHeaderSize + kSector) / kSector * kSector;
  EXPECT_LT(b, r.end);
  return b;
}

void ZeroRange(std::string* data, uint64_t from, uint64_t to) {
  std::fill(data->begin() + static_cast<std::ptrdiff_t>(from),
            data->begin() + static_cast<std::ptrdiff_t>(to), '\0');
}

const std::string kReserve(8192, '\0');  // what fallocate left past the last record

void ExpectCorruptAndKept(const std::string& dir, const std::string& seg, uint64_t file_size,
                          uint64_t corrupt_seq, uint64_t live_msgs) {
  auto store = OpenStore(dir);
  auto reports = store->Corruption();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].file, seg);
  EXPECT_EQ(reports[0].first_seq, corrupt_seq);
  EXPECT_EQ(reports[0].last_seq, corrupt_seq);
  EXPECT_EQ(store->State().msgs, live_msgs);
  Message m;
  EXPECT_EQ(store->Load(corrupt_seq, &m).code(), StatusCode::kCorrupt);
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("s", "after", &seq).ok());
  EXPECT_EQ(seq, 6u) << "a possibly acknowledged sequence is never reused";
  EXPECT_EQ(store->TornBytesTruncated(), 0u);
  EXPECT_EQ(fs::file_size(seg), file_size) << "the evidence stays on disk";
}

TEST(PowerLossTail, LastRecordZeroFromASectorBoundaryIsTruncatedAsTorn) {
  TempDir dir;
  Populate(dir.path());
  std::string seg = SegmentFiles(dir.path()).at(0);
  std::string data = ReadFile(seg);
  Span last = Records(data).back();
  ASSERT_EQ(last.end, data.size());
  // Every sector boundary inside the record past its header, and the record's own start
  // aligned or not: each leaves a zero-filled tail.
  for (uint64_t b = BoundaryInside(last); b < last.end; b += kSector) {
    TempDir copy;
    std::string torn = data;
    ZeroRange(&torn, b, last.end);
    std::string copy_seg = copy.path() + "/" + fs::path(seg).filename().string();
    WriteFile(copy_seg, torn + kReserve);
    {
      auto store = OpenStore(copy.path());
      EXPECT_TRUE(store->Corruption().empty()) << "zeros from " << b;
      EXPECT_EQ(store->State().msgs, 4u);
      EXPECT_EQ(store->State().last_seq, 4u);
      EXPECT_EQ(store->TornBytesTruncated(), last.end - last.offset) << "zeros from " << b;
      uint64_t seq = 0;
      ASSERT_TRUE(store->Append("s", "after", &seq).ok());
      EXPECT_EQ(seq, 5u) << "the torn record was never acknowledged: its sequence is reused";
      ASSERT_TRUE(store->WaitDurable(seq).ok());
    }
    auto reopened = OpenStore(copy.path());
    EXPECT_TRUE(reopened->Corruption().empty());
    Message m;
    ASSERT_TRUE(reopened->Load(5, &m).ok());
    EXPECT_EQ(m.payload, "after");
    ASSERT_TRUE(reopened->Load(4, &m).ok());
    EXPECT_EQ(m.payload, kBig);
  }
}

TEST(PowerLossTail, LastRecordZeroFromAnUnalignedOffsetIsCorruption) {
  TempDir dir;
  Populate(dir.path());
  std::string seg = SegmentFiles(dir.path()).at(0);
  std::string data = ReadFile(seg);
  Span last = Records(data).back();
  uint64_t b = last.end - 1 - (last.end - 1) % kSector;  // the last boundary inside it
  ASSERT_GT(b, last.offset + kRecordHeaderSize);
  ASSERT_LT(b + 1, last.end);
  ASSERT_NE(data[b], '\0');
  ZeroRange(&data, b + 1, last.end);  // zeros to the end, but from no sector boundary
  WriteFile(seg, data + kReserve);
  ExpectCorruptAndKept(dir.path(), seg, data.size() + kReserve.size(), 5, 4);
}

TEST(PowerLossTail, FlippedBitInACompleteLastRecordFollowedByZerosIsCorruption) {
  TempDir dir;
  Populate(dir.path());
  std::string seg = SegmentFiles(dir.path()).at(0);
  std::string data = ReadFile(seg);
  Span last = Records(data).back();
  data[BoundaryInside(last) + 3] ^= 0x01;  // in the payload, past a sector boundary
  WriteFile(seg, data + kReserve);
  ExpectCorruptAndKept(dir.path(), seg, data.size() + kReserve.size(), 5, 4);
}

TEST(PowerLossTail, ZeroFilledRecordBeforeTheLastIsCorruption) {
  TempDir dir;
  Populate(dir.path());
  std::string seg = SegmentFiles(dir.path()).at(0);
  std::string data = ReadFile(seg);
  auto records = Records(data);
  ASSERT_EQ(records.size(), 5u);
  Span fourth = records[3];
  ZeroRange(&data, BoundaryInside(fourth), fourth.end);
  WriteFile(seg, data + kReserve);
  {
    auto store = OpenStore(dir.path());
    auto reports = store->Corruption();
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].offset, fourth.offset);
    EXPECT_EQ(reports[0].first_seq, 4u);
    EXPECT_EQ(reports[0].last_seq, 4u);
    Message m;
    EXPECT_EQ(store->Load(4, &m).code(), StatusCode::kCorrupt);
    ASSERT_TRUE(store->Load(5, &m).ok());
    EXPECT_EQ(m.payload, kBig);
    EXPECT_EQ(store->TornBytesTruncated(), 0u);
  }
}

TEST(PowerLossTail, ZeroFilledLastRecordFollowedByNonZeroBytesIsCorruption) {
  TempDir dir;
  Populate(dir.path());
  std::string seg = SegmentFiles(dir.path()).at(0);
  std::string data = ReadFile(seg);
  Span last = Records(data).back();
  ZeroRange(&data, BoundaryInside(last), last.end);
  std::string after = kReserve;
  after[700] = 1;
  WriteFile(seg, data + after);
  ExpectCorruptAndKept(dir.path(), seg, data.size() + after.size(), 5, 4);
}

TEST(PowerLossTail, ZeroFilledLastRecordOfASealedSegmentIsCorruption) {
  TempDir dir;
  Populate(dir.path(), /*segment_records=*/5);  // seq 1-5 sealed once a sixth arrives
  {
    auto store = OpenStore(dir.path(), 5);
    uint64_t seq = 0;
    ASSERT_TRUE(store->Append("s", "sixth", &seq).ok());
    ASSERT_EQ(seq, 6u);
    ASSERT_TRUE(store->Close().ok());
  }
  auto segs = SegmentFiles(dir.path());
  ASSERT_EQ(segs.size(), 2u);
  std::string data = ReadFile(segs[0]);
  Span last = Records(data).back();
  ZeroRange(&data, BoundaryInside(last), last.end);
  WriteFile(segs[0], data);
  auto store = OpenStore(dir.path(), 5);
  auto reports = store->Corruption();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].file, segs[0]);
  EXPECT_EQ(reports[0].first_seq, 5u);
  EXPECT_EQ(reports[0].last_seq, 5u);
  Message m;
  EXPECT_EQ(store->Load(5, &m).code(), StatusCode::kCorrupt);
  ASSERT_TRUE(store->Load(6, &m).ok());
  EXPECT_EQ(fs::file_size(segs[0]), data.size());
}

// Small messages until a record's header holds a sector boundary; returns that record, the
// file's bytes and the boundary. Every message before it is numbered 1..n.
struct HeaderTear {
  std::string seg;
  std::string data;
  Span record;
  uint64_t boundary = 0;
  uint64_t seq = 0;  // the record's sequence
};

HeaderTear PopulateUntilAHeaderStraddlesASector(const std::string& dir) {
  HeaderTear t;
  {
    auto store = OpenStore(dir);
    for (int i = 1; i <= 100; ++i) {
      uint64_t seq = 0;
      EXPECT_TRUE(store->Append("s", "m-" + std::to_string(i), &seq).ok());
    }
    EXPECT_TRUE(store->Close().ok());
  }
  t.seg = SegmentFiles(dir).at(0);
  t.data = ReadFile(t.seg);
  auto records = Records(t.data);
  for (size_t i = 0; i < records.size(); ++i) {
    const uint64_t b = (records[i].offset / kSector + 1) * kSector;
    if (b > records[i].offset + 4 && b < records[i].offset + kRecordHeaderSize) {
      t.record = records[i];
      t.boundary = b;
      t.seq = i + 1;
      return t;
    }
  }
  ADD_FAILURE() << "no header straddles a sector boundary";
  return t;
}

TEST(PowerLossTail, LastRecordTornInsideItsHeaderAtASectorBoundaryIsTruncatedAsTorn) {
  TempDir dir;
  HeaderTear t = PopulateUntilAHeaderStraddlesASector(dir.path());
  ASSERT_GT(t.seq, 1u);
  // The power loss came while this record was the last one written: nothing after it.
  WriteFile(t.seg, t.data.substr(0, t.boundary) + kReserve);
  auto store = OpenStore(dir.path());
  EXPECT_TRUE(store->Corruption().empty());
  EXPECT_EQ(store->State().msgs, t.seq - 1);
  EXPECT_EQ(store->TornBytesTruncated(), t.boundary - t.record.offset);
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("s", "after", &seq).ok());
  EXPECT_EQ(seq, t.seq) << "never acknowledged: its sequence is reused";
}

TEST(PowerLossTail, LastRecordHeaderZeroFromAnUnalignedOffsetIsCorruption) {
  TempDir dir;
  HeaderTear t = PopulateUntilAHeaderStraddlesASector(dir.path());
  ASSERT_GT(t.seq, 1u);
  std::string data = t.data.substr(0, t.boundary + 1);  // one byte past the boundary survives
  ASSERT_NE(data.back(), '\0');
  WriteFile(t.seg, data + kReserve);
  auto store = OpenStore(dir.path());
  auto reports = store->Corruption();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].offset, t.record.offset);
  EXPECT_EQ(store->TornBytesTruncated(), 0u);
}

}  // namespace
}  // namespace meridian::store
