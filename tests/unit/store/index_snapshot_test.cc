// index.snap: written at a clean close, used on open only when it matches the segments.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "store/file_store.h"
#include "store/record_format.h"
#include "test_support.h"

namespace meridian::store {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

std::unique_ptr<FileStore> OpenSnapshotting(const std::string& dir) {
  FileStoreOptions options;
  options.directory = dir;
  options.segment_max_records = 8;
  options.index_snapshot = true;
  std::unique_ptr<FileStore> store;
  Status st = FileStore::Open(options, &store);
  EXPECT_TRUE(st.ok()) << st.message();
  return store;
}

void Populate(const std::string& dir) {
  auto store = OpenSnapshotting(dir);
  for (int i = 1; i <= 20; ++i) {
    uint64_t seq = 0;
    ASSERT_TRUE(store->Append(i % 2 ? "odd" : "even", "p" + std::to_string(i), &seq).ok());
  }
  ASSERT_TRUE(store->Remove(5).ok());
  ASSERT_TRUE(store->Close().ok());
  ASSERT_TRUE(fs::exists(dir + "/index.snap"));
}

void ExpectPopulatedState(FileStore& store) {
  StoreState s = store.State();
  EXPECT_EQ(s.msgs, 19u);
  EXPECT_EQ(s.last_seq, 20u);
  EXPECT_EQ(s.num_deleted, 1u);
  EXPECT_EQ(store.NumMessages("odd"), 9u);
  Message m;
  EXPECT_EQ(store.Load(5, &m).code(), StatusCode::kNotFound);
  ASSERT_TRUE(store.Load(17, &m).ok());
  EXPECT_EQ(m.payload, "p17");
  ASSERT_TRUE(store.LoadLast("even", &m).ok());
  EXPECT_EQ(m.seq, 20u);
}

// StoreState::bytes counts nats-server's file-store sizes (34 + ... for a message with
// headers, 30 + ... without): the headers flag comes back from the snapshot and from a scan.
TEST(IndexSnapshot, BytesWithHeadersSurviveSnapshotAndScan) {
  TempDir dir;
  const std::string hdr = "NATS/1.0\r\nX: y\r\n\r\n";
  uint64_t want = FileStoreMsgSize(1, 0, 10) + FileStoreMsgSize(1, hdr.size(), 10);
  {
    auto store = OpenSnapshotting(dir.path());
    uint64_t seq = 0;
    ASSERT_TRUE(store->Append("a", "0123456789", &seq).ok());
    ASSERT_TRUE(store->Append("b", hdr, "0123456789", {}, &seq).ok());
    EXPECT_EQ(store->State().bytes, want);
    ASSERT_TRUE(store->Close().ok());
  }
  {
    auto store = OpenSnapshotting(dir.path());
    EXPECT_TRUE(store->OpenedFromSnapshot());
    EXPECT_EQ(store->State().bytes, want);
    ASSERT_TRUE(store->Close().ok());
  }
  fs::remove(dir.path() + "/index.snap");  // the next open scans the segments
  auto store = OpenSnapshotting(dir.path());
  EXPECT_FALSE(store->OpenedFromSnapshot());
  EXPECT_EQ(store->State().bytes, want);
  ASSERT_TRUE(store->Remove(2).ok());
  EXPECT_EQ(store->State().bytes, FileStoreMsgSize(1, 0, 10));
}

TEST(IndexSnapshot, CleanCloseWritesItAndOpenLoadsFromIt) {
  TempDir dir;
  Populate(dir.path());
  auto store = OpenSnapshotting(dir.path());
  EXPECT_TRUE(store->OpenedFromSnapshot());
  EXPECT_FALSE(fs::exists(dir.path() + "/index.snap")) << "consumed on open";
  ExpectPopulatedState(*store);
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("odd", "next", &seq).ok());
  EXPECT_EQ(seq, 21u);
}

TEST(IndexSnapshot, IsIgnoredWhenASegmentChangedSinceClose) {
  TempDir dir;
  Populate(dir.path());
  std::string last;
  for (auto& e : fs::directory_iterator(dir.path())) {
    if (e.path().extension() == ".seg" && e.path().string() > last) last = e.path().string();
  }
  fs::resize_file(last, fs::file_size(last) - 3);  // a torn tail appeared
  auto store = OpenSnapshotting(dir.path());
  EXPECT_FALSE(store->OpenedFromSnapshot());
  EXPECT_EQ(store->TornBytesTruncated(), kRecordOverhead - 3);
  EXPECT_EQ(store->State().msgs, 20u) << "the torn last record was the tombstone for 5";
}

TEST(IndexSnapshot, IsIgnoredWhenDamaged) {
  TempDir dir;
  Populate(dir.path());
  std::string path = dir.path() + "/index.snap";
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(30);
  f.put('\x7f');
  f.close();
  auto store = OpenSnapshotting(dir.path());
  EXPECT_FALSE(store->OpenedFromSnapshot());
  ExpectPopulatedState(*store);
}

TEST(IndexSnapshot, IsNotWrittenWhenDisabled) {
  TempDir dir;
  {
    FileStoreOptions options;
    options.directory = dir.path();
    std::unique_ptr<FileStore> store;
    ASSERT_TRUE(FileStore::Open(options, &store).ok());
    uint64_t seq = 0;
    ASSERT_TRUE(store->Append("a", "x", &seq).ok());
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/index.snap"));
}

}  // namespace
}  // namespace meridian::store
