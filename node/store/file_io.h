// FileIo: the few file operations the file store performs, behind an interface so tests can
// count fsyncs and inject failures (ENOSPC, EIO) at exact points. PosixFileIo is the real one.
// Implementations must be safe to call from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"

namespace meridian::store {

class FileIo {
 public:
  virtual ~FileIo() = default;

  // Opens `path` for reading and writing, creating it when `create` is set.
  virtual Status Open(const std::string& path, bool create, int* fd) = 0;
  virtual Status Close(int fd) = 0;
  // Writes all of data[0, n) at `offset`; on error some prefix may have been written.
  virtual Status WriteAt(int fd, const void* data, size_t n, uint64_t offset) = 0;
  // Reads up to n bytes at `offset`; *got < n only at end of file.
  virtual Status ReadAt(int fd, void* data, size_t n, uint64_t offset, size_t* got) = 0;
  virtual Status FileSize(int fd, uint64_t* size) = 0;
  virtual Status Truncate(int fd, uint64_t size) = 0;
  virtual Status DataSync(int fd) = 0;  // fdatasync
  // Reserves disk blocks for [0, size) and extends the file to `size` when it is shorter (the
  // new bytes read as zeros), like fallocate(fd, 0, 0, size). Appends into reserved blocks
  // make a later fdatasync cheaper (no block allocation or file size to commit). Optional: the
  // default, and file systems without fallocate, answer kIoError and callers carry on without.
  virtual Status Allocate(int fd, uint64_t size);
  virtual Status SyncDirectory(const std::string& dir) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  virtual Status CreateDirectories(const std::string& dir) = 0;
  virtual Status ListDirectory(const std::string& dir, std::vector<std::string>* names) = 0;
};

// The process-wide POSIX implementation.
FileIo& DefaultFileIo();

// Replaces `path` atomically and durably: writes `path`.tmp, fdatasyncs it, renames it over
// `path` and fsyncs `dir` (the directory holding `path`). After a crash the file holds either
// the old or the new contents, never a mix or nothing; when this returns Ok the new contents
// survive a power loss. On failure the .tmp file is removed and `path` is left as it was
// (except when the directory sync fails: then the rename may or may not survive a crash).
Status WriteFileAtomic(FileIo& io, const std::string& path, const std::string& dir,
                       std::string_view data);

// Turns an errno value into a Status: ENOSPC/EDQUOT become kNoSpace, others kIoError.
Status ErrnoStatus(int err, const std::string& what);

}  // namespace meridian::store
