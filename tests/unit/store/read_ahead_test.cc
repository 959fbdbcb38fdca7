// FileStore's read-ahead for sequential readers: records read from the window are the bytes
// written, records appended after the window was filled are read from the file, and rewritten
// (compacted) segments are never served from a stale window.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/file_store.h"
#include "test_support.h"

namespace meridian::store::testing {
namespace {

std::string Body(uint64_t seq) {
  return "payload-" + std::to_string(seq) + "-" +
         std::string(seq % 300, static_cast<char>('a' + seq % 26));
}

std::unique_ptr<FileStore> OpenStore(const std::string& dir) {
  FileStoreOptions options;
  options.directory = dir;
  options.segment_max_bytes = 16 * 1024;  // several segments, windows cross their ends
  options.sync = SyncPolicy::kInterval;
  std::unique_ptr<FileStore> store;
  EXPECT_TRUE(FileStore::Open(options, &store).ok());
  return store;
}

void ExpectSequential(FileStore& store, uint64_t from, uint64_t to) {
  Message m;
  uint64_t seq = from;
  while (seq <= to) {
    ASSERT_TRUE(store.LoadNext("", seq, &m).ok()) << seq;
    ASSERT_EQ(m.payload, Body(m.seq)) << m.seq;
    ASSERT_EQ(m.subject, "s." + std::to_string(m.seq % 3));
    seq = m.seq + 1;
  }
}

TEST(FileStoreReadAhead, SequentialReadsInterleavedWithAppendsReturnTheWrittenBytes) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  uint64_t seq = 0;
  for (uint64_t i = 1; i <= 200; ++i) {
    ASSERT_TRUE(store->Append("s." + std::to_string(i % 3), Body(i), &seq).ok());
  }
  Message m;
  for (uint64_t i = 1; i <= 200; ++i) {
    ASSERT_TRUE(store->Load(i, &m).ok());
    ASSERT_EQ(m.payload, Body(i));
    // Appends land after a window that was filled before them.
    if (i % 50 == 0) {
      for (uint64_t k = 0; k < 20; ++k) {
        uint64_t next = store->State().last_seq + 1;
        ASSERT_TRUE(store->Append("s." + std::to_string(next % 3), Body(next), &seq).ok());
      }
    }
  }
  ExpectSequential(*store, 1, store->State().last_seq);
  // Random access in between still reads the right record.
  ASSERT_TRUE(store->Load(7, &m).ok());
  EXPECT_EQ(m.payload, Body(7));
  ASSERT_TRUE(store->Load(250, &m).ok());
  EXPECT_EQ(m.payload, Body(250));
}

TEST(FileStoreReadAhead, CompactedSegmentsAreReadAfresh) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  uint64_t seq = 0;
  for (uint64_t i = 1; i <= 300; ++i) {
    ASSERT_TRUE(store->Append("s." + std::to_string(i % 3), Body(i), &seq).ok());
  }
  ExpectSequential(*store, 1, 300);  // fills windows over the first segments
  for (uint64_t i = 1; i <= 300; ++i) {
    if (i % 4 != 0) {
      ASSERT_TRUE(store->Remove(i).ok());
    }
  }
  ASSERT_TRUE(store->Compact().ok());
  ExpectSequential(*store, 1, 300);
  Message m;
  EXPECT_FALSE(store->Load(5, &m).ok());
  ASSERT_TRUE(store->Load(8, &m).ok());
  EXPECT_EQ(m.payload, Body(8));
}

}  // namespace
}  // namespace meridian::store::testing
