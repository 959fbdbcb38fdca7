// Append throughput of the stores, and the cost of one fdatasync on this disk.
//   sync=always, pipelined: one thread keeps up to 512 appends in flight (Append, and
//     WaitDurable on the newest every 512), the way a publisher with async acks drives it.
//   sync=always, N publishers: each thread appends and waits for its own ack (sync publish).
//   sync=interval (1 s): acknowledged when written to the OS.
//   memory.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "store/crc32c.h"
#include "store/file_store.h"
#include "store/memory_store.h"

namespace {

using namespace meridian::store;

class BenchDir {
 public:
  BenchDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "meridian-store-bench-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~BenchDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<FileStore> OpenBenchStore(const std::string& dir, SyncPolicy sync) {
  FileStoreOptions options;
  options.directory = dir;
  options.sync = sync;
  options.limits.max_bytes = 256u << 20;  // keep the disk footprint bounded on long runs
  std::unique_ptr<FileStore> store;
  if (!FileStore::Open(options, &store).ok()) std::abort();
  return store;
}

void Report(benchmark::State& state, size_t payload, uint64_t syncs) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(payload));
  state.counters["appends_per_fsync"] =
      syncs == 0 ? 0.0 : static_cast<double>(state.iterations()) / static_cast<double>(syncs);
}

void BM_AppendSyncAlwaysPipelined(benchmark::State& state) {
  BenchDir dir;
  auto store = OpenBenchStore(dir.path(), SyncPolicy::kAlways);
  std::string payload(static_cast<size_t>(state.range(0)), 'x');
  uint64_t before = store->SyncCount();
  uint64_t seq = 0;
  int in_flight = 0;
  for (auto _ : state) {
    if (!store->Append("bench.subject", {}, payload, {}, &seq).ok()) std::abort();
    if (++in_flight == 512) {
      if (!store->WaitDurable(seq).ok()) std::abort();
      in_flight = 0;
    }
  }
  if (!store->WaitDurable(seq).ok()) std::abort();
  Report(state, payload.size(), store->SyncCount() - before);
}
BENCHMARK(BM_AppendSyncAlwaysPipelined)->Arg(16)->Arg(1024)->UseRealTime();

std::unique_ptr<FileStore> shared_store;
std::unique_ptr<BenchDir> shared_dir;
uint64_t shared_syncs_before = 0;

void BM_AppendSyncAlwaysPublishers(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared_dir = std::make_unique<BenchDir>();
    shared_store = OpenBenchStore(shared_dir->path(), SyncPolicy::kAlways);
    shared_syncs_before = shared_store->SyncCount();
  }
  std::string payload(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    uint64_t seq = 0;
    if (!shared_store->Append("bench.subject", {}, payload, {}, &seq).ok()) std::abort();
    if (!shared_store->WaitDurable(seq).ok()) std::abort();
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    uint64_t syncs = shared_store->SyncCount() - shared_syncs_before;
    state.counters["fsyncs"] = static_cast<double>(syncs);
    shared_store.reset();
    shared_dir.reset();
  }
}
BENCHMARK(BM_AppendSyncAlwaysPublishers)
    ->Arg(16)
    ->Arg(1024)
    ->Threads(1)
    ->Threads(16)
    ->UseRealTime();

void BM_AppendSyncInterval(benchmark::State& state) {
  BenchDir dir;
  auto store = OpenBenchStore(dir.path(), SyncPolicy::kInterval);
  std::string payload(static_cast<size_t>(state.range(0)), 'x');
  uint64_t before = store->SyncCount();
  for (auto _ : state) {
    uint64_t seq = 0;
    if (!store->Append("bench.subject", {}, payload, {}, &seq).ok()) std::abort();
  }
  Report(state, payload.size(), store->SyncCount() - before);
}
BENCHMARK(BM_AppendSyncInterval)->Arg(16)->Arg(1024)->UseRealTime();

void BM_AppendMemory(benchmark::State& state) {
  RetentionLimits limits;
  limits.max_bytes = 256u << 20;
  MemoryStore store(limits);
  std::string payload(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    uint64_t seq = 0;
    if (!store.Append("bench.subject", {}, payload, {}, &seq).ok()) std::abort();
  }
  Report(state, payload.size(), 0);
}
BENCHMARK(BM_AppendMemory)->Arg(16)->Arg(1024);

void BM_LoadBySequence(benchmark::State& state) {
  BenchDir dir;
  auto store = OpenBenchStore(dir.path(), SyncPolicy::kInterval);
  std::string payload(static_cast<size_t>(state.range(0)), 'x');
  uint64_t seq = 0;
  for (int i = 0; i < 10000; ++i) (void)store->Append("bench.subject", {}, payload, {}, &seq);
  Message m;
  uint64_t next = 1;
  for (auto _ : state) {
    if (!store->Load(next, &m).ok()) std::abort();
    next = next % 10000 + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LoadBySequence)->Arg(16)->Arg(1024);

// One 4 KiB write at the end of a file followed by fdatasync: the floor under sync=always.
void BM_Fdatasync(benchmark::State& state) {
  BenchDir dir;
  std::string path = dir.path() + "/probe";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) std::abort();
  std::string block(4096, 'x');
  off_t offset = 0;
  for (auto _ : state) {
    if (::pwrite(fd, block.data(), block.size(), offset) != static_cast<ssize_t>(block.size())) {
      std::abort();
    }
    offset += static_cast<off_t>(block.size());
    if (::fdatasync(fd) != 0) std::abort();
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Fdatasync)->UseRealTime();

void BM_Crc32c(benchmark::State& state) {
  std::string data(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) benchmark::DoNotOptimize(Crc32c(data.data(), data.size()));
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.SetLabel(Crc32cIsHardwareAccelerated() ? "sse4.2" : "table");
}
BENCHMARK(BM_Crc32c)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
