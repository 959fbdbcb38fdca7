// Helpers for store tests: a temporary directory, and a FileIo that counts and fails on cue.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "store/file_io.h"
#include "store/record_format.h"

namespace meridian::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "meridian-store-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A whole file's bytes, and a file replaced by bytes (for damaging segments by hand).
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Where each intact record of a segment's bytes starts and ends, up to the first bad one.
struct RecordSpan {
  uint64_t offset = 0;
  uint64_t end = 0;
};

inline std::vector<RecordSpan> RecordSpans(const std::string& data) {
  std::vector<RecordSpan> spans;
  for (uint64_t off = kSegmentHeaderSize; off < data.size();) {
    RecordHeader h;
    bool valid = false;
    if (ParseRecord(reinterpret_cast<const uint8_t*>(data.data()) + off, data.size() - off, &h,
                    &valid) != ParseOutcome::kOk) {
      break;
    }
    spans.push_back({off, off + h.record_size()});
    off += h.record_size();
  }
  return spans;
}

// Forwards to the real file system; counts fdatasync calls; fails chosen calls.
class FaultyFileIo : public FileIo {
 public:
  std::atomic<int> data_syncs{0};
  // Writes left before one fails with `write_errno` after writing `partial_bytes` of it.
  std::atomic<int> writes_until_failure{-1};
  int write_errno = ENOSPC;
  size_t partial_bytes = 0;
  std::atomic<bool> fail_sync{false};
  std::atomic<bool> fail_truncate{false};

  Status Open(const std::string& path, bool create, int* fd) override {
    return real().Open(path, create, fd);
  }
  Status Close(int fd) override { return real().Close(fd); }
  Status WriteAt(int fd, const void* data, size_t n, uint64_t offset) override {
    if (writes_until_failure.load() >= 0 && writes_until_failure.fetch_sub(1) == 0) {
      size_t part = std::min(partial_bytes, n);
      if (part > 0) (void)real().WriteAt(fd, data, part, offset);
      return ErrnoStatus(write_errno, "write");
    }
    return real().WriteAt(fd, data, n, offset);
  }
  Status ReadAt(int fd, void* data, size_t n, uint64_t offset, size_t* got) override {
    return real().ReadAt(fd, data, n, offset, got);
  }
  Status FileSize(int fd, uint64_t* size) override { return real().FileSize(fd, size); }
  Status Truncate(int fd, uint64_t size) override {
    if (fail_truncate) return ErrnoStatus(EIO, "truncate");
    return real().Truncate(fd, size);
  }
  Status Allocate(int fd, uint64_t size) override { return real().Allocate(fd, size); }
  Status DataSync(int fd) override {
    ++data_syncs;
    if (fail_sync) return ErrnoStatus(EIO, "fdatasync");
    return real().DataSync(fd);
  }
  Status SyncDirectory(const std::string& dir) override { return real().SyncDirectory(dir); }
  Status Rename(const std::string& from, const std::string& to) override {
    return real().Rename(from, to);
  }
  Status Remove(const std::string& path) override { return real().Remove(path); }
  Status CreateDirectories(const std::string& dir) override {
    return real().CreateDirectories(dir);
  }
  Status ListDirectory(const std::string& dir, std::vector<std::string>* names) override {
    return real().ListDirectory(dir, names);
  }

 private:
  static FileIo& real() { return DefaultFileIo(); }
};

}  // namespace meridian::store::testing
