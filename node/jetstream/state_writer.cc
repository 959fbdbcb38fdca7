#include "jetstream/state_writer.h"

#include <utility>

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
}

uint64_t StateWriter::Queue(uint64_t key, const std::string& path, const std::string& dir,
                            std::string data) {
  uint64_t ticket = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      it = it->path == path ? queue_.erase(it) : it + 1;
    }
    ticket = next_ticket_++;
    queue_.push_back(Item{key, ticket, path, dir, std::move(data)});
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
    const bool ok = store::WriteFileAtomic(io_, item.path, item.dir, item.data).ok();
    l.lock();
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
