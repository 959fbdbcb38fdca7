// Session: what happens when the upstream server goes away (see session.h, "upstream
// failover"). The client's connection stays up; a new upstream gets the session replayed.
#include <string>

#include "session/session.h"

namespace meridian::session {

using proto::Op;

void Session::OnUpstreamLost(TimePoint now) {
  if (closed_) return;
  // Ops already read from the old server still go to the client; nothing more comes from it.
  FlushRun(down_run_, false);
  FlushRun(up_run_, true);
  if (upstream_state_ == UpstreamState::kServing) {
    lost_at_ = now;
    kept_client_bytes_.clear();
  }
  upstream_state_ = UpstreamState::kLost;
  restore_info_seen_ = false;
  for (bool own : ping_owners_) {
    if (!own) ++client_pings_lost_;
  }
  ping_owners_.clear();
  own_ping_times_.clear();
  upstream_parser_.Reset();  // a partial op of the old server must not prefix the new one's
}

void Session::OnUpstreamReplaced() {
  if (closed_) return;
  upstream_state_ = UpstreamState::kRestoring;
  restore_info_seen_ = false;
  ping_owners_.clear();
  own_ping_times_.clear();
  upstream_parser_.Reset();
}

void Session::KeepClientBytes(std::string_view data) {
  if (kept_client_bytes_.size() + data.size() > options_.failover_buffer) {
    ++counters_.failover_buffer_overflows;
    std::string why = "meridian: Slow Consumer: the client sent more than " +
                      std::to_string(options_.failover_buffer) +
                      " bytes while the sidecar was moving it to another upstream server";
    writer_.Err(why);
    EmitDown();
    Fail(why);
    return;
  }
  kept_client_bytes_.append(data);
}

void Session::PingUpstream(TimePoint now) {
  if (closed_ || upstream_state_ != UpstreamState::kServing) return;
  writer_.Ping();
  EmitUp();
  ping_owners_.push_back(true);
  own_ping_times_.push_back(now);
}

std::optional<TimePoint> Session::oldest_own_ping() const {
  if (own_ping_times_.empty()) return std::nullopt;
  return own_ping_times_.front();
}

void Session::HandleRestoreInfo(const Op& op, TimePoint now) {
  std::optional<UpstreamInfo> info = ReadUpstreamInfo(op.text);
  if (!info) {
    ++counters_.upstream_protocol_errors;
    Fail("the new upstream server's INFO is not a JSON object");
    return;
  }
  if (connect_signed_ && info->has_nonce) {
    ++counters_.failovers_refused;
    const std::string why =
        "meridian: the upstream server was lost and this connection cannot be moved to "
        "another one: the client signed the lost server's nonce (nkey/JWT auth), which "
        "another server will not accept; reconnect, or give the sidecar its own credentials";
    writer_.Err(why);
    EmitDown();
    Fail(why);
    return;
  }
  std::string refusal;
  rewrite::Rewriter* rewriter = host_.OnUpstreamInfo(*info, refusal);
  if (!refusal.empty()) {
    writer_.Err(refusal);
    EmitDown();
    Fail(refusal);
    return;
  }
  rewriter_ = rewriter;
  proto::Limits limits = client_parser_.limits();
  limits.max_payload = info->max_payload;
  client_parser_.set_limits(limits);
  restore_info_seen_ = true;

  if (!connect_json_.empty()) writer_.Connect(connect_json_);
  for (const ClientSubscriptions::Restorable& sub : subs_.ForRestore()) {
    writer_.Sub(sub.subject, sub.queue, sub.sid);
    if (sub.remaining > 0) writer_.Unsub(sub.sid, sub.remaining);
  }
  if (inbox_subscribed_) {
    inbox_scratch_ = inbox_prefix_;
    inbox_scratch_ += '*';
    writer_.Sub(inbox_scratch_, "", internal_sid_);
  }
  RestoreSplit(*info);
  writer_.Ping();
  ping_owners_.push_back(true);
  own_ping_times_.push_back(now);
  EmitUp();
}

void Session::HandleRestoreError(const Op& op) {
  // The new server refuses the replayed CONNECT (it would close the connection anyway):
  // the client learns why, as it would have from that server directly.
  FlushRun(down_run_, false);
  writer_.Err(op.text);
  EmitDown();
  std::string why = "the new upstream server refused the restored session: ";
  why += op.text;
  Fail(why);
}

void Session::HandleUpstreamPong(const Op& op, TimePoint now) {
  if (ping_owners_.empty()) {
    ForwardDown(op);
    return;
  }
  const bool own = ping_owners_.front();
  ping_owners_.pop_front();
  if (!own) {
    ForwardDown(op);
    return;
  }
  if (!own_ping_times_.empty()) own_ping_times_.pop_front();
  if (upstream_state_ == UpstreamState::kRestoring && restore_info_seen_) FinishRestore(now);
}

void Session::FinishRestore(TimePoint now) {
  upstream_state_ = UpstreamState::kServing;
  FlushRun(down_run_, false);
  // PINGs the lost server never answered: answered here, so the client's flushes return
  // and its count of outstanding PINGs does not call the connection stale.
  for (; client_pings_lost_ > 0; --client_pings_lost_) writer_.Pong();
  EmitDown();
  host_.OnSessionRestored(std::chrono::duration_cast<std::chrono::nanoseconds>(now - lost_at_));
  if (closed_ || kept_client_bytes_.empty()) return;
  std::string kept;
  kept.swap(kept_client_bytes_);
  OnClientBytes(kept, now);
  FlushRun(up_run_, true);  // its runs point into `kept`
}

}  // namespace meridian::session
