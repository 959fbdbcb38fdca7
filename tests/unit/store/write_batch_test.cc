// FileStore write batches (BeginBatch/EndBatch, used by stream sources and mirrors): appends
// are readable at once, written together, not durable before they are written, survive a
// roll and a close inside the batch, and a failed batch write stops the store without
// corrupting what reached the file.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/file_store.h"
#include "test_support.h"

namespace meridian::store::testing {
namespace {

std::string Body(uint64_t seq) {
  return "batched-" + std::to_string(seq) + std::string(seq % 200, 'z');
}

std::unique_ptr<FileStore> OpenStore(const std::string& dir, FileIo* io = nullptr,
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

TEST(FileStoreWriteBatch, AppendsAreReadableAtOnceAndDurableOnlyAfterTheyAreWritten) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("s", Body(1), &seq).ok());
  ASSERT_TRUE(store->WaitDurable(1).ok());
  store->BeginBatch();
  for (uint64_t i = 2; i <= 50; ++i) ASSERT_TRUE(store->Append("s", Body(i), &seq).ok());
  Message m;
  for (uint64_t i = 1; i <= 50; ++i) {
    ASSERT_TRUE(store->Load(i, &m).ok()) << i;
    EXPECT_EQ(m.payload, Body(i));
  }
  EXPECT_EQ(store->DurableSeq(), 1u);  // nothing of the batch was written yet
  ASSERT_TRUE(store->EndBatch().ok());
  ASSERT_TRUE(store->WaitDurable(50).ok());
  ASSERT_TRUE(store->Close().ok());
  auto again = OpenStore(dir.path());
  EXPECT_EQ(again->State().msgs, 50u);
  ASSERT_TRUE(again->Load(37, &m).ok());
  EXPECT_EQ(m.payload, Body(37));
}

TEST(FileStoreWriteBatch, BigBatchesRollSegmentsAndCloseWritesWhatIsPending) {
  TempDir dir;
  auto store = OpenStore(dir.path(), nullptr, 32 * 1024);
  uint64_t seq = 0;
  store->BeginBatch();
  for (uint64_t i = 1; i <= 2000; ++i) ASSERT_TRUE(store->Append("s", Body(i), &seq).ok());
  EXPECT_GT(store->Segments().size(), 5u);
  ASSERT_TRUE(store->Remove(10).ok());  // a tombstone inside the batch
  ASSERT_TRUE(store->Close().ok());     // without EndBatch
  auto again = OpenStore(dir.path(), nullptr, 32 * 1024);
  EXPECT_EQ(again->State().msgs, 1999u);
  EXPECT_EQ(again->State().last_seq, 2000u);
  Message m;
  for (uint64_t i = 1; i <= 2000; ++i) {
    if (i == 10) continue;
    ASSERT_TRUE(again->Load(i, &m).ok()) << i;
    ASSERT_EQ(m.payload, Body(i));
  }
}

TEST(FileStoreWriteBatch, AFailedBatchWriteStopsTheStoreAndRecoveryKeepsWhatWasWritten) {
  TempDir dir;
  FaultyFileIo io;
  {
    auto store = OpenStore(dir.path(), &io);
    uint64_t seq = 0;
    for (uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE(store->Append("s", Body(i), &seq).ok());
    store->BeginBatch();
    for (uint64_t i = 11; i <= 20; ++i) ASSERT_TRUE(store->Append("s", Body(i), &seq).ok());
    io.writes_until_failure = 0;
    io.partial_bytes = 100;
    EXPECT_FALSE(store->EndBatch().ok());
    EXPECT_FALSE(store->Append("s", Body(21), &seq).ok());  // stopped until reopened
    (void)store->Close();
  }
  io.writes_until_failure = -1;
  auto again = OpenStore(dir.path(), &io);
  EXPECT_EQ(again->State().msgs, 10u);
  EXPECT_EQ(again->State().last_seq, 10u);
  uint64_t seq = 0;
  ASSERT_TRUE(again->Append("s", Body(11), &seq).ok());
  EXPECT_EQ(seq, 11u);
}

}  // namespace
}  // namespace meridian::store::testing
