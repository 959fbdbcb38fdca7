#include "store/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace meridian::store {
namespace {

class PosixFileIo final : public FileIo {
 public:
  Status Open(const std::string& path, bool create, int* fd) override {
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    int r = ::open(path.c_str(), flags, 0644);
    if (r < 0) return ErrnoStatus(errno, "open " + path);
    *fd = r;
    return Status::Ok();
  }
  Status Close(int fd) override {
    if (::close(fd) != 0) return ErrnoStatus(errno, "close");
    return Status::Ok();
  }
  Status WriteAt(int fd, const void* data, size_t n, uint64_t offset) override {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "write");
      }
      p += w;
      n -= static_cast<size_t>(w);
      offset += static_cast<uint64_t>(w);
    }
    return Status::Ok();
  }
  Status ReadAt(int fd, void* data, size_t n, uint64_t offset, size_t* got) override {
    char* p = static_cast<char*>(data);
    size_t total = 0;
    while (total < n) {
      ssize_t r = ::pread(fd, p + total, n - total, static_cast<off_t>(offset + total));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "read");
      }
      if (r == 0) break;
      total += static_cast<size_t>(r);
    }
    *got = total;
    return Status::Ok();
  }
  Status FileSize(int fd, uint64_t* size) override {
    struct stat st;
    if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "stat");
    *size = static_cast<uint64_t>(st.st_size);
    return Status::Ok();
  }
  Status Truncate(int fd, uint64_t size) override {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return ErrnoStatus(errno, "truncate");
    return Status::Ok();
  }
  Status Allocate(int fd, uint64_t size) override {
    // fallocate, not posix_fallocate: no slow emulation where the file system lacks it.
    if (::fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0) {
      return ErrnoStatus(errno, "fallocate");
    }
    return Status::Ok();
  }
  Status DataSync(int fd) override {
    if (::fdatasync(fd) != 0) return ErrnoStatus(errno, "fdatasync");
    return Status::Ok();
  }
  Status SyncDirectory(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open directory " + dir);
    int r = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (r != 0) return ErrnoStatus(err, "fsync directory " + dir);
    return Status::Ok();
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus(errno, "rename " + from);
    return Status::Ok();
  }
  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "remove " + path);
    }
    return Status::Ok();
  }
  Status CreateDirectories(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return Status(StatusCode::kIoError, "cannot create directory " + dir + ": " + ec.message());
    return Status::Ok();
  }
  Status ListDirectory(const std::string& dir, std::vector<std::string>* names) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return ErrnoStatus(errno, "list directory " + dir);
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names->push_back(std::move(name));
    }
    ::closedir(d);
    return Status::Ok();
  }
};

}  // namespace

Status FileIo::Allocate(int /*fd*/, uint64_t /*size*/) {
  return Status(StatusCode::kIoError, "this FileIo does not reserve space");
}

FileIo& DefaultFileIo() {
  static PosixFileIo io;
  return io;
}

Status ErrnoStatus(int err, const std::string& what) {
  std::string message = what + " failed: " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) {
    return Status(StatusCode::kNoSpace, message + "; free disk space or lower the stream limits");
  }
  return Status(StatusCode::kIoError, message);
}

Status WriteFileAtomic(FileIo& io, const std::string& path, const std::string& dir,
                       std::string_view data) {
  const std::string tmp = path + ".tmp";
  int fd = -1;
  Status st = io.Open(tmp, true, &fd);
  if (!st.ok()) return st;
  st = io.Truncate(fd, 0);
  if (st.ok()) st = io.WriteAt(fd, data.data(), data.size(), 0);
  if (st.ok()) st = io.DataSync(fd);
  Status closed = io.Close(fd);
  if (st.ok()) st = closed;
  if (st.ok()) st = io.Rename(tmp, path);
  if (!st.ok()) {
    (void)io.Remove(tmp);
    return st;
  }
  return io.SyncDirectory(dir);
}

}  // namespace meridian::store
