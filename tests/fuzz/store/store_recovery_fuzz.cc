// Recovery from arbitrary segment bytes. Input: byte 0 = flags (bit 0: prepend a valid header
// to segment 1; bit 1: split into two segments at byte 1's share of the rest; bit 2: same for
// segment 2's header). Opening must never crash, never serve a message that fails its
// checksum, keep its state consistent, and accept and keep a new append.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "store/file_store.h"
#include "store/record_format.h"

namespace {

using namespace meridian::store;

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "store_recovery_fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

const std::string& WorkDir() {
  static std::string dir = [] {
    // /dev/shm when present: the harness fsyncs on every open, which a disk makes slow.
    std::filesystem::path base = std::filesystem::exists("/dev/shm")
                                     ? std::filesystem::path("/dev/shm")
                                     : std::filesystem::temp_directory_path();
    std::string pattern = (base / "meridian-store-fuzz-XXXXXX").string();
    return std::string(::mkdtemp(pattern.data()));
  }();
  return dir;
}

void WriteSegment(const std::string& dir, uint64_t index, bool header, const uint8_t* data,
                  size_t size) {
  std::string bytes;
  if (header) EncodeSegmentHeader({index, 1}, &bytes);
  bytes.append(reinterpret_cast<const char*>(data), size);
  char name[32];
  std::snprintf(name, sizeof(name), "/%010llu.seg", static_cast<unsigned long long>(index));
  std::ofstream(dir + name, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > (1 << 20)) return 0;
  const std::string dir = WorkDir() + "/s";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  uint8_t flags = data[0];
  const uint8_t* body = data + 2;
  size_t body_size = size - 2;
  size_t split = (flags & 2) ? body_size * data[1] / 256 : body_size;
  WriteSegment(dir, 1, flags & 1, body, split);
  if (flags & 2) WriteSegment(dir, 2, flags & 4, body + split, body_size - split);

  FileStoreOptions options;
  options.directory = dir;
  options.sync = SyncPolicy::kInterval;  // fdatasync per input would dominate the run
  options.sync_interval = std::chrono::milliseconds(60000);
  uint64_t last = 0;
  {
    std::unique_ptr<FileStore> store;
    Status st = FileStore::Open(options, &store);
    if (!st.ok()) return 0;  // e.g. an I/O error opening: acceptable, but nothing served
    StoreState state = store->State();
    Check(state.first_seq >= 1 && state.first_seq <= state.last_seq + 1, "first <= last + 1");
    uint64_t served = 0;
    Message m;
    uint64_t limit = std::min<uint64_t>(state.last_seq, state.first_seq + 4096);
    for (uint64_t seq = state.first_seq; seq <= limit && seq != 0; ++seq) {
      Status load = store->Load(seq, &m);
      if (load.ok()) {
        Check(m.seq == seq, "loaded the sequence asked for");
        ++served;
      } else {
        Check(load.code() == StatusCode::kNotFound || load.code() == StatusCode::kCorrupt,
              "a load fails only as not-found or corrupt");
      }
    }
    if (limit == state.last_seq) Check(served <= state.msgs, "served messages are counted");
    last = state.last_seq;
    uint64_t seq = 0;
    if (last < UINT64_MAX - 1) {
      Check(store->Append("fuzz.after", "payload", &seq).ok(), "append after recovery");
      Check(seq == last + 1, "the next sequence follows the recovered last");
      last = seq;
    }
  }
  if (last == UINT64_MAX || last == UINT64_MAX - 1) return 0;
  std::unique_ptr<FileStore> store;
  Check(FileStore::Open(options, &store).ok(), "reopen");
  Message m;
  Check(store->Load(last, &m).ok() && m.payload == "payload", "the new append survives reopen");
  return 0;
}
