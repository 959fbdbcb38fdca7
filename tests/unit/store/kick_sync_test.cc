// AppendOptions::defer_sync and FileStore::KickSync: a lone deferred append is fdatasync'ed on
// the kicking thread and its WhenDurable callback runs there before KickSync returns; several
// go to the sync thread; a failed inline sync fails the store like the sync thread's.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/file_store.h"
#include "test_support.h"

namespace meridian::store {
namespace {

using testing::FaultyFileIo;
using testing::TempDir;

std::unique_ptr<FileStore> Open(const std::string& dir, FileIo* io) {
  FileStoreOptions options;
  options.directory = dir;
  options.io = io;
  std::unique_ptr<FileStore> store;
  Status st = FileStore::Open(options, &store);
  EXPECT_TRUE(st.ok()) << st.message();
  return store;
}

uint64_t DeferredAppend(FileStore& store, std::string_view payload) {
  AppendOptions options;
  options.defer_sync = true;
  uint64_t seq = 0;
  EXPECT_TRUE(store.Append("s", {}, payload, options, &seq).ok());
  return seq;
}

struct Outcome {
  std::atomic<bool> called{false};
  std::atomic<bool> ok{false};
  std::thread::id thread;
};

void Watch(FileStore& store, uint64_t seq, Outcome* out) {
  store.WhenDurable(seq, [out](uint64_t, const Status& st) {
    out->thread = std::this_thread::get_id();
    out->ok = st.ok();
    out->called = true;
  });
}

TEST(FileStoreKickSync, ALoneDeferredAppendIsSyncedOnTheKickingThread) {
  TempDir dir;
  FaultyFileIo io;
  auto store = Open(dir.path(), &io);
  uint64_t seq = DeferredAppend(*store, "one");
  Outcome out;
  Watch(*store, seq, &out);
  const int syncs = io.data_syncs;
  store->KickSync(/*inline_if_alone=*/true);
  ASSERT_TRUE(out.called) << "the callback ran before KickSync returned";
  EXPECT_TRUE(out.ok);
  EXPECT_EQ(out.thread, std::this_thread::get_id());
  EXPECT_EQ(io.data_syncs - syncs, 1);
  EXPECT_GE(store->DurableSeq(), seq);
  store->KickSync(true);  // nothing deferred: no sync
  EXPECT_EQ(io.data_syncs - syncs, 1);
}

TEST(FileStoreKickSync, SeveralDeferredAppendsGoToTheSyncThread) {
  TempDir dir;
  FaultyFileIo io;
  auto store = Open(dir.path(), &io);
  DeferredAppend(*store, "one");
  uint64_t seq = DeferredAppend(*store, "two");
  Outcome out;
  Watch(*store, seq, &out);
  store->KickSync(true);
  // Callbacks for one sequence run in the order they were registered: ours before
  // WaitDurable's own.
  ASSERT_TRUE(store->WaitDurable(seq).ok());
  ASSERT_TRUE(out.called);
  EXPECT_TRUE(out.ok);
  EXPECT_NE(out.thread, std::this_thread::get_id());
}

TEST(FileStoreKickSync, WithoutInlineTheSyncThreadSyncs) {
  TempDir dir;
  FaultyFileIo io;
  auto store = Open(dir.path(), &io);
  uint64_t seq = DeferredAppend(*store, "one");
  store->KickSync(/*inline_if_alone=*/false);
  EXPECT_TRUE(store->WaitDurable(seq).ok());
}

TEST(FileStoreKickSync, AFailedInlineSyncFailsTheWaiterAndStopsWrites) {
  TempDir dir;
  FaultyFileIo io;
  auto store = Open(dir.path(), &io);
  io.fail_sync = true;
  uint64_t seq = DeferredAppend(*store, "one");
  Outcome out;
  Watch(*store, seq, &out);
  store->KickSync(true);
  ASSERT_TRUE(out.called);
  EXPECT_FALSE(out.ok);
  EXPECT_LT(store->DurableSeq(), seq);
  uint64_t next = 0;
  EXPECT_EQ(store->Append("s", "two", &next).code(), StatusCode::kFailed);
}

TEST(FileStoreKickSync, PlainAppendsStillWakeTheSyncThread) {
  TempDir dir;
  FaultyFileIo io;
  auto store = Open(dir.path(), &io);
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("s", "one", &seq).ok());
  EXPECT_TRUE(store->WaitDurable(seq).ok()) << "no KickSync needed";
}

}  // namespace
}  // namespace meridian::store
