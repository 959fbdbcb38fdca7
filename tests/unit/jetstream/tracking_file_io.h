// A FileIo over the real one that remembers which files have writes not yet fdatasync'ed,
// for tests that check the order of writes, syncs and renames. Subclasses add what they check
// in SyncDirectory and Rename, and may hold a sync (BeforeSync).
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "store/file_io.h"

namespace meridian::jetstream::testing {

class TrackingFileIo : public store::FileIo {
 public:
  store::Status Open(const std::string& path, bool create, int* fd) override {
    store::Status st = real().Open(path, create, fd);
    std::lock_guard<std::mutex> l(mu_);
    if (st.ok()) paths_[*fd] = path;
    return st;
  }
  store::Status Close(int fd) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      paths_.erase(fd);
    }
    return real().Close(fd);
  }
  store::Status WriteAt(int fd, const void* data, size_t n, uint64_t offset) override {
    MarkDirty(fd);
    return real().WriteAt(fd, data, n, offset);
  }
  store::Status ReadAt(int fd, void* data, size_t n, uint64_t offset, size_t* got) override {
    return real().ReadAt(fd, data, n, offset, got);
  }
  store::Status FileSize(int fd, uint64_t* size) override { return real().FileSize(fd, size); }
  store::Status Truncate(int fd, uint64_t size) override {
    MarkDirty(fd);
    return real().Truncate(fd, size);
  }
  store::Status Allocate(int fd, uint64_t size) override {
    MarkDirty(fd);
    return real().Allocate(fd, size);
  }
  store::Status DataSync(int fd) override {
    std::string path;
    {
      std::unique_lock<std::mutex> l(mu_);
      path = paths_[fd];
      BeforeSync(path, l);
    }
    store::Status st = real().DataSync(fd);
    std::lock_guard<std::mutex> l(mu_);
    // Only writes made before the sync started are covered; the store holds its own lock
    // while writing, so a write racing this sync is at worst counted as unsynced.
    if (st.ok()) dirty_.erase(path);
    return st;
  }
  store::Status Remove(const std::string& path) override { return real().Remove(path); }
  store::Status CreateDirectories(const std::string& dir) override {
    return real().CreateDirectories(dir);
  }
  store::Status ListDirectory(const std::string& dir, std::vector<std::string>* names) override {
    return real().ListDirectory(dir, names);
  }

 protected:
  static store::FileIo& real() { return store::DefaultFileIo(); }
  // Called with mu_ held before `path` is synced; may wait on it.
  virtual void BeforeSync(const std::string& /*path*/, std::unique_lock<std::mutex>& /*l*/) {}

  std::mutex mu_;
  std::set<std::string> dirty_;  // paths with writes not yet synced

 private:
  void MarkDirty(int fd) {
    std::lock_guard<std::mutex> l(mu_);
    dirty_.insert(paths_[fd]);
  }
  std::map<int, std::string> paths_;
};

}  // namespace meridian::jetstream::testing
