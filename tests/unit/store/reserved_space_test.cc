// Reserved space: the active segment is lengthened with fallocate ahead of its appends (so an
// fdatasync after an append has no block allocation or file size to commit), sealed and
// closed segments end where their records end, and a store whose files still carry the
// reserved zeros (a kill) opens with every message, no corruption and no torn bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "store/file_store.h"
#include "test_support.h"

namespace meridian::store {
namespace {

namespace fs = std::filesystem;
using testing::FaultyFileIo;
using testing::TempDir;

std::unique_ptr<FileStore> Open(const std::string& dir, FileIo* io = nullptr,
                                uint64_t segment_bytes = 8u << 20) {
  FileStoreOptions options;
  options.directory = dir;
  options.io = io;
  options.segment_max_bytes = segment_bytes;
  std::unique_ptr<FileStore> store;
  Status st = FileStore::Open(options, &store);
  EXPECT_TRUE(st.ok()) << st.message();
  return store;
}

void Append(FileStore& store, int n) {
  for (int i = 0; i < n; ++i) {
    uint64_t seq = 0;
    ASSERT_TRUE(store.Append("s.x", "payload-" + std::to_string(i), &seq).ok());
    ASSERT_TRUE(store.WaitDurable(seq).ok());
  }
}

// Refuses to reserve, as a file system without fallocate does.
class NoAllocateIo : public FaultyFileIo {
 public:
  Status Allocate(int, uint64_t) override { return Status(StatusCode::kIoError, "no fallocate"); }
};

TEST(FileStoreReservedSpace, ActiveSegmentIsReservedAheadAndTrimmedAtClose) {
  TempDir dir;
  std::string seg;
  uint64_t logical = 0;
  {
    auto store = Open(dir.path());
    Append(*store, 10);
    auto segments = store->Segments();
    ASSERT_EQ(segments.size(), 1u);
    seg = segments[0].file;
    logical = segments[0].size;
    EXPECT_GT(fs::file_size(seg), logical) << "space is reserved past the last record";
    ASSERT_TRUE(store->Close().ok());
  }
  EXPECT_EQ(fs::file_size(seg), logical) << "a closed segment ends at its last record";
  auto store = Open(dir.path());
  EXPECT_EQ(store->State().msgs, 10u);
  EXPECT_EQ(store->TornBytesTruncated(), 0u);
}

TEST(FileStoreReservedSpace, AStoreLeftWithReservedZerosOpensWhole) {
  TempDir dir, copy;
  {
    auto store = Open(dir.path());
    Append(*store, 25);
    // What a kill -9 leaves: the files as they are while the store is open.
    for (const auto& e : fs::directory_iterator(dir.path())) {
      fs::copy_file(e.path(), fs::path(copy.path()) / e.path().filename());
    }
  }
  std::string seg;
  for (const auto& e : fs::directory_iterator(copy.path())) seg = e.path().string();
  const uint64_t reserved = fs::file_size(seg);
  auto store = Open(copy.path());
  StoreState s = store->State();
  EXPECT_EQ(s.msgs, 25u);
  EXPECT_EQ(s.last_seq, 25u);
  EXPECT_TRUE(store->Corruption().empty());
  EXPECT_EQ(store->TornBytesTruncated(), 0u) << "reserved zeros are not torn records";
  EXPECT_LT(store->Segments()[0].size, reserved);
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("s.x", "after", &seq).ok());
  EXPECT_EQ(seq, 26u);
  ASSERT_TRUE(store->WaitDurable(seq).ok());
  store.reset();
  auto reopened = Open(copy.path());
  Message m;
  ASSERT_TRUE(reopened->Load(26, &m).ok());
  EXPECT_EQ(m.payload, "after");
  ASSERT_TRUE(reopened->Load(1, &m).ok());
  EXPECT_EQ(m.payload, "payload-0");
}

TEST(FileStoreReservedSpace, SealedSegmentsEndAtTheirLastRecord) {
  TempDir dir;
  auto store = Open(dir.path(), nullptr, 4096);
  Append(*store, 200);
  auto segments = store->Segments();
  ASSERT_GT(segments.size(), 2u);
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    EXPECT_EQ(fs::file_size(segments[i].file), segments[i].size) << segments[i].file;
  }
  EXPECT_LE(fs::file_size(segments.back().file), 4096u) << "no reserve past segment_max_bytes";
}

TEST(FileStoreReservedSpace, WithoutFallocateAppendsStillWork) {
  TempDir dir;
  NoAllocateIo io;
  {
    auto store = Open(dir.path(), &io);
    Append(*store, 10);
    auto segments = store->Segments();
    EXPECT_EQ(fs::file_size(segments[0].file), segments[0].size);
  }
  auto store = Open(dir.path(), &io);
  EXPECT_EQ(store->State().msgs, 10u);
  EXPECT_TRUE(store->Corruption().empty());
}

}  // namespace
}  // namespace meridian::store
