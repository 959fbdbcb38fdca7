// Durability: group commit, sync policies, injected write and fsync failures, and a real
// crash (SIGKILL of a child process) with sync=always.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "store/file_store.h"
#include "test_support.h"

namespace meridian::store {
namespace {

using testing::FaultyFileIo;
using testing::TempDir;

std::unique_ptr<FileStore> OpenWith(
    const std::string& dir, FileIo* io, SyncPolicy sync = SyncPolicy::kAlways,
    std::chrono::milliseconds interval = std::chrono::milliseconds(1000)) {
  FileStoreOptions options;
  options.directory = dir;
  options.io = io;
  options.sync = sync;
  options.sync_interval = interval;
  std::unique_ptr<FileStore> store;
  Status st = FileStore::Open(options, &store);
  EXPECT_TRUE(st.ok()) << st.message();
  return store;
}

TEST(FileStoreDurability, ConcurrentAppendsShareFsyncs) {
  TempDir dir;
  FaultyFileIo io;
  auto store = OpenWith(dir.path(), &io);
  int syncs_before = io.data_syncs;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        uint64_t seq = 0;
        if (!store->Append("s", "payload", &seq).ok() || !store->WaitDurable(seq).ok()) {
          ++failures;
        }
        if (store->DurableSeq() < seq) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  int syncs = io.data_syncs - syncs_before;
  EXPECT_LT(syncs, kThreads * kPerThread) << "group commit batches concurrent appends";
  EXPECT_EQ(store->DurableSeq(), uint64_t{kThreads * kPerThread});
  std::printf("%d acknowledged appends used %d fdatasyncs\n", kThreads * kPerThread, syncs);
}

TEST(FileStoreDurability, AcknowledgementComesOnlyAfterAnFdatasyncThatFollowsTheWrite) {
  TempDir dir;
  FaultyFileIo io;
  auto store = OpenWith(dir.path(), &io);
  for (int i = 0; i < 50; ++i) {
    uint64_t seq = 0;
    int syncs_at_write = io.data_syncs;
    ASSERT_TRUE(store->Append("s", "p", &seq).ok());
    std::atomic<int> syncs_at_ack{-1};
    store->WhenDurable(seq, [&](uint64_t, const Status& st) {
      EXPECT_TRUE(st.ok());
      syncs_at_ack = io.data_syncs.load();
    });
    while (syncs_at_ack < 0) std::this_thread::yield();
    EXPECT_GT(syncs_at_ack, syncs_at_write);
  }
}

TEST(FileStoreDurability, PipelinedAppendsFromOneThreadShareFsyncs) {
  TempDir dir;
  FaultyFileIo io;
  auto store = OpenWith(dir.path(), &io);
  std::atomic<int> acked{0};
  for (int i = 0; i < 1000; ++i) {
    uint64_t seq = 0;
    ASSERT_TRUE(store->Append("s", "p", &seq).ok());
    store->WhenDurable(seq, [&](uint64_t, const Status& st) {
      if (st.ok()) ++acked;
    });
  }
  ASSERT_TRUE(store->Sync().ok());
  while (acked < 1000) std::this_thread::yield();
  EXPECT_LT(store->SyncCount(), 1000u);
}

TEST(FileStoreDurability, IntervalPolicyMakesAppendsDurableOnSyncOrTimer) {
  TempDir dir;
  FaultyFileIo io;
  auto store = OpenWith(dir.path(), &io, SyncPolicy::kInterval, std::chrono::milliseconds(60000));
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("s", "p", &seq).ok());
  EXPECT_EQ(store->DurableSeq(), 0u);
  ASSERT_TRUE(store->Sync().ok());
  EXPECT_EQ(store->DurableSeq(), seq);

  TempDir dir2;
  auto timed = OpenWith(dir2.path(), &io, SyncPolicy::kInterval, std::chrono::milliseconds(20));
  ASSERT_TRUE(timed->Append("s", "p", &seq).ok());
  EXPECT_TRUE(timed->WaitDurable(seq).ok());
}

TEST(FileStoreDurability, DiskFullIsReportedAndLeavesNoHalfRecord) {
  TempDir dir;
  FaultyFileIo io;
  {
    auto store = OpenWith(dir.path(), &io);
    uint64_t seq = 0;
    ASSERT_TRUE(store->Append("s", "one", &seq).ok());
    io.partial_bytes = 10;
    io.writes_until_failure = 0;
    Status st = store->Append("s", "two", &seq);
    EXPECT_EQ(st.code(), StatusCode::kNoSpace) << st.message();
    ASSERT_TRUE(store->Append("s", "three", &seq).ok()) << "space came back";
    EXPECT_EQ(seq, 2u) << "the failed append consumed no sequence";
    EXPECT_TRUE(store->WaitDurable(seq).ok());
  }
  auto store = OpenWith(dir.path(), &io);
  EXPECT_EQ(store->State().msgs, 2u);
  EXPECT_TRUE(store->Corruption().empty());
  EXPECT_EQ(store->TornBytesTruncated(), 0u);
  Message m;
  ASSERT_TRUE(store->Load(2, &m).ok());
  EXPECT_EQ(m.payload, "three");
}

TEST(FileStoreDurability, FailedTruncateAfterFailedWriteStopsWrites) {
  TempDir dir;
  FaultyFileIo io;
  auto store = OpenWith(dir.path(), &io);
  uint64_t seq = 0;
  ASSERT_TRUE(store->Append("s", "one", &seq).ok());
  io.partial_bytes = 10;
  io.fail_truncate = true;
  io.writes_until_failure = 0;
  EXPECT_FALSE(store->Append("s", "two", &seq).ok());
  io.fail_truncate = false;
  EXPECT_EQ(store->Append("s", "three", &seq).code(), StatusCode::kFailed);
  store.reset();
  auto reopened = OpenWith(dir.path(), &io);
  EXPECT_EQ(reopened->State().msgs, 1u) << "the half record is a torn tail on reopen";
}

TEST(FileStoreDurability, FailedFsyncFailsWaitersAndLaterAppendsButKeepsAcknowledgedData) {
  TempDir dir;
  FaultyFileIo io;
  {
    auto store = OpenWith(dir.path(), &io);
    uint64_t seq = 0;
    ASSERT_TRUE(store->Append("s", "acked", &seq).ok());
    ASSERT_TRUE(store->WaitDurable(seq).ok());
    io.fail_sync = true;
    ASSERT_TRUE(store->Append("s", "unacked", &seq).ok());
    Status st = store->WaitDurable(seq);
    EXPECT_EQ(st.code(), StatusCode::kFailed) << st.message();
    EXPECT_EQ(store->Append("s", "more", &seq).code(), StatusCode::kFailed);
    EXPECT_EQ(store->DurableSeq(), 1u);
    io.fail_sync = false;
  }
  auto store = OpenWith(dir.path(), &io);
  Message m;
  ASSERT_TRUE(store->Load(1, &m).ok());
  EXPECT_EQ(m.payload, "acked");
}

std::string CrashPayload(uint64_t seq) {
  return std::string(100 + seq % 50, static_cast<char>('a' + seq % 26)) + std::to_string(seq);
}

// A child appends from several threads with sync=always and prints each sequence once its
// durability callback fired; the parent SIGKILLs it mid-stream and checks every printed one.
TEST(FileStoreCrash, EveryAcknowledgedAppendSurvivesSigkill) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    FileStoreOptions options;
    options.directory = dir.path();
    options.segment_max_bytes = 64 * 1024;
    std::unique_ptr<FileStore> store;
    if (!FileStore::Open(options, &store).ok()) ::_exit(2);
    std::mutex write_mu;
    auto worker = [&] {
      for (;;) {
        // Sequence is only known after append; the payload is derived from it by re-reading
        // the state under our own lock so appends and payloads stay in step.
        uint64_t seq = 0;
        std::lock_guard<std::mutex> lock(write_mu);
        uint64_t next = store->State().last_seq + 1;
        if (!store->Append("crash.test", CrashPayload(next), &seq).ok() || seq != next) ::_exit(3);
        store->WhenDurable(seq, [fd = fds[1]](uint64_t s, const Status& st) {
          if (!st.ok()) return;
          char line[32];
          int n = std::snprintf(line, sizeof(line), "%llu\n", static_cast<unsigned long long>(s));
          (void)!::write(fd, line, static_cast<size_t>(n));
        });
      }
    };
    std::thread a(worker), b(worker);
    a.join();
    ::_exit(0);
  }
  ::close(fds[1]);
  std::set<uint64_t> acked;
  std::string buffer;
  char chunk[4096];
  while (acked.size() < 3000) {
    ssize_t n = ::read(fds[0], chunk, sizeof(chunk));
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      acked.insert(std::stoull(buffer.substr(0, nl)));
      buffer.erase(0, nl + 1);
    }
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fds[0]);
  ASSERT_GE(acked.size(), 3000u) << "the child stopped early";

  FileStoreOptions options;
  options.directory = dir.path();
  std::unique_ptr<FileStore> store;
  ASSERT_TRUE(FileStore::Open(options, &store).ok());
  EXPECT_TRUE(store->Corruption().empty());
  Message m;
  for (uint64_t seq : acked) {
    Status st = store->Load(seq, &m);
    ASSERT_TRUE(st.ok()) << "acknowledged sequence " << seq << " lost: " << st.message();
    ASSERT_EQ(m.payload, CrashPayload(seq));
  }
  EXPECT_GE(store->State().last_seq, *acked.rbegin());
}

std::string ReadAll(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "<missing>";
  std::string s;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

TEST(WriteFileAtomic, ReplacesTheFileAfterSyncingItAndKeepsTheOldOneOnFailure) {
  TempDir dir;
  FaultyFileIo io;
  const std::string path = dir.path() + "/state.json";
  ASSERT_TRUE(WriteFileAtomic(io, path, dir.path(), "first, longer").ok());
  EXPECT_EQ(ReadAll(path), "first, longer");
  EXPECT_EQ(io.data_syncs, 1);
  ASSERT_TRUE(WriteFileAtomic(io, path, dir.path(), "second").ok());
  EXPECT_EQ(ReadAll(path), "second");  // truncated, not overlaid
  EXPECT_EQ(io.data_syncs, 2);

  io.fail_sync = true;  // an unsynced file is never renamed into place
  EXPECT_FALSE(WriteFileAtomic(io, path, dir.path(), "third").ok());
  EXPECT_EQ(ReadAll(path), "second");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  io.fail_sync = false;
  io.writes_until_failure = 0;  // nor is a partly written one
  io.partial_bytes = 2;
  EXPECT_FALSE(WriteFileAtomic(io, path, dir.path(), "fourth").ok());
  EXPECT_EQ(ReadAll(path), "second");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

}  // namespace
}  // namespace meridian::store
