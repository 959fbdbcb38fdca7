#include "net/reconnector.h"

namespace meridian::net {

Reconnector::Reconnector(Loop& loop, std::vector<Endpoint> endpoints, Backoff backoff,
                         ConnectOptions options, ConnectedHandler on_connected,
                         FailedHandler on_failed)
    : loop_(loop),
      endpoints_(std::move(endpoints)),
      backoff_(std::move(backoff)),
      options_(options),
      on_connected_(std::move(on_connected)),
      on_failed_(std::move(on_failed)),
      generation_(std::make_shared<uint64_t>(0)) {}

Reconnector::~Reconnector() {
  Stop();
}

void Reconnector::Start() {
  if (running_ || endpoints_.empty()) return;
  running_ = true;
  TryNext();
}

void Reconnector::Stop() {
  running_ = false;
  retry_.Cancel();
  ++*generation_;  // in-flight attempts are ignored (their connection is closed)
}

void Reconnector::TryNext() {
  if (!running_) return;
  const Endpoint& target = endpoints_[next_ % endpoints_.size()];
  next_ = (next_ + 1) % endpoints_.size();
  std::weak_ptr<uint64_t> weak = generation_;
  uint64_t generation = *generation_;
  Endpoint where = target;
  Connect(loop_, where, options_, [this, weak, generation, where](Result<ConnectionPtr> result) {
    auto alive = weak.lock();
    if (!alive || *alive != generation) {
      if (result.ok()) result.value()->Abort();
      return;
    }
    if (result.ok()) {
      running_ = false;
      failures_ = 0;
      backoff_.Reset();
      ++*generation_;
      on_connected_(std::move(result.value()), where);
      return;
    }
    ++failures_;
    if (on_failed_) on_failed_(where, result.message());
    if (*alive != generation || !running_) return;  // stopped or destroyed by the handler
    retry_ = loop_.After(backoff_.Next(), [this] { TryNext(); });
  });
}

}  // namespace meridian::net
