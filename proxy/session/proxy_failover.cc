// ProxyConnection: finding an upstream, and moving the session when it is lost (see
// proxy_connection.h).
#include <string>
#include <utility>

#include "session/proxy_connection.h"

namespace meridian::session {
namespace {

std::uint64_t Millis(std::chrono::nanoseconds d) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

std::string RegionName(const std::string& region) {
  return region.empty() ? "the home region" : "region \"" + region + "\"";
}

}  // namespace

void ProxyConnection::Dial(bool first) {
  if (finished_) return;
  if (env_.targets) {
    targets_ = env_.targets();
  } else {
    targets_ = {FailoverTarget{"", env_.pool}};
  }
  dial_failures_.clear();
  TryTarget(0, first);
}

void ProxyConnection::TryTarget(std::size_t index, bool first) {
  if (finished_) return;
  if (index >= targets_.size()) {
    NoTargetReached(first);
    return;
  }
  std::weak_ptr<ProxyConnection> weak = weak_from_this();
  targets_[index].pool->Connect(
      [weak, index, first](net::Result<net::ConnectionPtr> result, const net::Endpoint& where) {
        auto s = weak.lock();
        if (!s || s->finished_) {
          if (result.ok()) result.value()->Abort();
          return;
        }
        if (!result.ok()) {
          if (!s->dial_failures_.empty()) s->dial_failures_ += "; ";
          s->dial_failures_ += RegionName(s->targets_[index].region) + ": " + result.message();
          s->TryTarget(index + 1, first);
          return;
        }
        FailoverTarget target = s->targets_[index];
        s->AttachUpstream(std::move(result.value()), where, target, first);
      });
}

void ProxyConnection::NoTargetReached(bool first) {
  ++env_.counters->upstream_connect_failures;
  if (first) {
    Finish(targets_.size() == 1 ? dial_failures_
                                : "no upstream server could be reached (" + dial_failures_ + ")");
    return;
  }
  const TimePoint now = std::chrono::steady_clock::now();
  if (now - lost_at_ >= env_.failover.give_up_after) {
    ++env_.counters->failovers_abandoned;
    const std::string why =
        "meridian: the upstream server was lost and no other server answered for " +
        std::to_string(env_.failover.give_up_after.count()) + " ms (" + dial_failures_ + ")";
    std::string line = "-ERR '" + why + "'\r\n";
    client_->Write(line);
    Finish(why);
    return;
  }
  std::weak_ptr<ProxyConnection> weak = weak_from_this();
  retry_timer_ = env_.loop->After(backoff_.Next(), [weak] {
    if (auto s = weak.lock()) s->Dial(false);
  });
}

void ProxyConnection::UpstreamLost(const std::string& why, bool planned) {
  if (finished_) return;
  const TimePoint now = std::chrono::steady_clock::now();
  if (upstream_) {
    net::ConnectionPtr old = std::move(upstream_);
    old->DetachHandlers();
    if (planned) {
      old->Close();  // what was already sent still reaches the old server
    } else {
      old->Abort();
    }
  }
  upstream_paused_since_.reset();
  restore_deadline_.reset();
  // The client is read (and its bytes kept) through the gap, whatever paused it before.
  if (client_reading_) client_->ResumeReading();
  if (!failing_over_) {
    failing_over_ = true;
    moving_home_ = planned;
    lost_at_ = now;
    pending_event_ = FailoverEvent{};
    pending_event_.connection = id_;
    pending_event_.from_server = upstream_where_.ToString();
    pending_event_.from_region = serving_region_;
    pending_event_.why = why;
    pending_event_.home_return = planned;
    if (!planned) ++env_.counters->upstream_losses;
    if (env_.log) {
      env_.log("warn", "connection " + std::to_string(id_) + ": " + why +
                           (planned ? ": moving the session back to the home region"
                                    : ": restoring the session on another server"));
    }
  }
  session_->OnUpstreamLost(now);
  backoff_.Reset();
  // Deferred: we may be inside one of the old connection's callbacks.
  std::weak_ptr<ProxyConnection> weak = weak_from_this();
  retry_timer_ = env_.loop->After(std::chrono::milliseconds(0), [weak] {
    if (auto s = weak.lock()) s->Dial(false);
  });
}

void ProxyConnection::OnSessionRestored(std::chrono::nanoseconds gap) {
  failing_over_ = false;
  restore_deadline_.reset();
  SessionCounters& c = *env_.counters;
  const std::uint64_t gap_ms = Millis(gap);
  if (moving_home_) {
    ++c.returns_home;
  } else {
    ++c.failovers;
    if (!serving_region_.empty()) ++c.failovers_to_region;
  }
  c.failover_last_gap_ms = gap_ms;
  if (gap_ms > c.failover_max_gap_ms) c.failover_max_gap_ms = gap_ms;
  moving_home_ = false;
  pending_event_.to_server = upstream_where_.ToString();
  pending_event_.to_region = serving_region_;
  pending_event_.gap = gap;
  if (env_.on_failover) env_.on_failover(pending_event_);
}

void ProxyConnection::MoveHome() {
  if (finished_ || failing_over_ || serving_region_.empty() || !upstream_ ||
      !session_->handshake_done() || session_->upstream_state() != UpstreamState::kServing) {
    return;
  }
  UpstreamLost("the home region answers again", /*planned=*/true);
}

void ProxyConnection::KeepAlive(TimePoint now) {
  if (!upstream_ || !session_->handshake_done()) return;
  if (restore_deadline_ && now >= *restore_deadline_) {
    if (upstream_pool_ != nullptr) upstream_pool_->ReportFailure(upstream_where_);
    UpstreamLost("the new upstream " + upstream_where_.ToString() +
                     " did not take the session within " +
                     std::to_string(env_.failover.restore_timeout.count()) + " ms",
                 false);
    return;
  }
  if (session_->upstream_state() != UpstreamState::kServing) return;
  if (upstream_paused_since_) {
    // Its PONG may sit behind what we do not read: no verdict while paused.
    last_own_ping_ = now;
    return;
  }
  const auto interval = env_.failover.ping_interval;
  if (std::optional<TimePoint> oldest = session_->oldest_own_ping()) {
    if (now - *oldest > interval * env_.failover.max_pings_out) {
      ++env_.counters->upstream_stale;
      if (upstream_pool_ != nullptr) upstream_pool_->ReportFailure(upstream_where_);
      UpstreamLost("upstream " + upstream_where_.ToString() + " is stale: no PONG for " +
                       std::to_string(Millis(now - *oldest)) + " ms",
                   false);
    }
    return;
  }
  if (now - last_own_ping_ >= interval) {
    last_own_ping_ = now;
    session_->PingUpstream(now);
  }
}

}  // namespace meridian::session
