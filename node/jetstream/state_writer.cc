#include "jetstream/state_writer.h"

#include <algorithm>
#include <utility>

#include "jetstream/ack_log.h"

namespace meridian::jetstream {

StateWriter::StateWriter(store::FileIo& io, std::function<void()> written)
    : io_(io), written_(std::move(written)) {
  thread_ = std::thread([this] { Run(); });
}

StateWriter::~StateWriter() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (auto& [p, log] : logs_) {
    if (log.fd >= 0) (void)io_.Close(log.fd);
  }
}

uint64_t StateWriter::QueueAppend(uint64_t key, const std::string& path, const std::string& dir,
                                  std::string record) {
  uint64_t ticket = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    ticket = next_ticket_++;
    Item item{key, ticket, path, dir, std::move(record)};
    item.append = true;
    queue_.push_back(std::move(item));
  }
  cv_.notify_all();
  return ticket;
}

void StateWriter::RewindLog(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  Log& log = logs_[path];
  log.positioned = true;
  log.end = 0;
}

uint64_t StateWriter::Queue(uint64_t key, const std::string& path, const std::string& dir,
                            std::string data, std::string rewind_log) {
  uint64_t ticket = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      it = it->path == path ? queue_.erase(it) : it + 1;
    }
    ticket = next_ticket_++;
    Item item{key, ticket, path, dir, std::move(data)};
    item.rewind_log = std::move(rewind_log);
    queue_.push_back(std::move(item));
  }
  cv_.notify_all();
  return ticket;
}

void StateWriter::Forget(const std::string& path, bool prefix) {
  std::unique_lock<std::mutex> l(mu_);
  for (auto it = queue_.begin(); it != queue_.end();) {
    it = Matches(it->path, path, prefix) ? queue_.erase(it) : it + 1;
  }
  cv_.wait(l, [&] { return !busy_ || !Matches(in_flight_, path, prefix); });
  for (auto it = logs_.begin(); it != logs_.end();) {
    if (!Matches(it->first, path, prefix)) {
      ++it;
      continue;
    }
    if (it->second.fd >= 0) (void)io_.Close(it->second.fd);
    it = logs_.erase(it);
  }
}

bool StateWriter::Append(const Item& item) {
  Log* log = nullptr;
  {
    std::lock_guard<std::mutex> l(mu_);
    log = &logs_[item.path];  // std::map: the node stays put while others are added
  }
  if (log->fd < 0) {
    int fd = -1;
    if (!io_.Open(item.path, true, &fd).ok()) return false;
    // The log's directory entry must be durable before a record in it is relied upon.
    if (!io_.SyncDirectory(item.dir).ok()) {
      (void)io_.Close(fd);
      return false;
    }
    uint64_t size = 0;
    if (!io_.FileSize(fd, &size).ok()) {
      (void)io_.Close(fd);
      return false;
    }
    if (!log->positioned) {
      // Append after the valid records already there (a record of a newer generation than the
      // state file may be among them: it must not be overwritten).
      std::string data(size, '\0');
      size_t got = 0;
      if (size > 0 && (!io_.ReadAt(fd, data.data(), size, 0, &got).ok() || got != size)) {
        (void)io_.Close(fd);
        return false;
      }
      log->end = ScanAckLog(data).valid_end;
      log->positioned = true;
    }
    log->fd = fd;
    log->reserved = size;
  }
  const uint64_t need = log->end + item.data.size();
  if (log->reserve && need > log->reserved) {
    const uint64_t step = std::clamp<uint64_t>(log->reserved, 64u << 10, 1u << 20);
    uint64_t target = log->reserved;
    while (target < need) target += step;
    // Zeros written (not fallocate'd): the blocks are then written extents, so an append
    // into them changes no metadata (no extent conversion, no file size) and its fdatasync
    // needs no journal commit. Made durable here, once per step.
    const std::string zeros(target - log->reserved, '\0');
    if (io_.WriteAt(log->fd, zeros.data(), zeros.size(), log->reserved).ok() &&
        io_.DataSync(log->fd).ok()) {
      log->reserved = target;
    } else {
      log->reserve = false;  // carry on without reserving
    }
  }
  if (!io_.WriteAt(log->fd, item.data.data(), item.data.size(), log->end).ok()) return false;
  if (!io_.DataSync(log->fd).ok()) {
    // After a failed fdatasync the kernel may have dropped the pages: reopen and rescan.
    (void)io_.Close(log->fd);
    log->fd = -1;
    log->positioned = false;
    return false;
  }
  log->end += item.data.size();
  log->reserved = std::max(log->reserved, log->end);
  return true;
}

void StateWriter::Drain() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return queue_.empty() && !busy_; });
}

std::vector<StateWriter::Done> StateWriter::TakeDone() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Done> out;
  out.swap(done_);
  return out;
}

void StateWriter::Run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    Item item = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    in_flight_ = item.path;
    l.unlock();
    bool ok = false;
    if (item.append) {
      ok = Append(item);
      l.lock();
    } else {
      ok = store::WriteFileAtomic(io_, item.path, item.dir, item.data).ok();
      l.lock();
      // The state file now supersedes every record of its log: write that again from 0.
      if (ok && !item.rewind_log.empty()) {
        Log& log = logs_[item.rewind_log];
        log.positioned = true;
        log.end = 0;
      }
    }
    busy_ = false;
    in_flight_.clear();
    done_.push_back(Done{item.key, item.ticket, ok});
    cv_.notify_all();
    if (written_) {
      l.unlock();
      written_();
      l.lock();
    }
  }
}

}  // namespace meridian::jetstream
