// One segment file of a FileStore, with the counts compaction decides on. Shared by the store
// and its sync thread (shared_ptr), so a segment being synced outlives its removal; the file
// descriptor closes with the last owner.
#pragma once

#include <cstdint>
#include <string>

#include "store/file_io.h"

namespace meridian::store {

struct FileStoreSegment {
  FileStoreSegment(FileIo* io_in, uint64_t index_in, std::string path_in)
      : io(io_in), index(index_in), path(std::move(path_in)) {}
  ~FileStoreSegment() {
    if (fd >= 0) (void)io->Close(fd);
  }
  FileStoreSegment(const FileStoreSegment&) = delete;
  FileStoreSegment& operator=(const FileStoreSegment&) = delete;

  FileIo* io;
  uint64_t index;
  std::string path;
  int fd = -1;
  uint64_t base_seq = 0;    // from the header
  uint64_t size = 0;        // bytes of valid records (the append offset)
  uint64_t allocated = 0;   // the file's length: size plus space reserved past it (zeros)
  uint64_t records = 0;     // records of every type
  uint64_t live_msgs = 0;   // messages still in the index
  uint64_t live_bytes = 0;  // their record bytes
  uint64_t tombstone_bytes = 0;
  uint64_t max_tombstone = 0;  // highest sequence a tombstone here removes
  bool corrupt = false;        // holds a corrupt region: never appended to, rewritten or removed
};

}  // namespace meridian::store
