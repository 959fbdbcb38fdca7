// Session: the protocol logic of one client connection and its upstream connection.
//
// It reads both byte streams with the proto parser and decides, op by op, what the other
// side gets: untouched ops are forwarded byte-for-byte (consecutive ones in one write, no
// allocation); ops the rewrite engine changes are re-written with the proto Writer; answers
// the sidecar makes itself go to the client on the sid of its subscription matching the
// reply subject. It does no I/O and reads no clock: a SessionHost carries the bytes (a
// ProxyConnection over sockets, or a test), and time is passed in. Loop thread only.
//
// Order of a session: upstream INFO first (adjusted, then sent to the client; only then does
// the host read the client), then the client's CONNECT (options tracked, credentials
// replaced when the sidecar has its own, verbose answered by the sidecar), then traffic.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/parser.h"
#include "proto/writer.h"
#include "rewrite/fanout.h"
#include "rewrite/pending.h"
#include "rewrite/rewriter.h"
#include "session/client_subscriptions.h"
#include "session/counters.h"
#include "session/handshake.h"

namespace meridian::session {

using TimePoint = std::chrono::steady_clock::time_point;

struct SessionOptions {
  UpstreamCredentials credentials;      // empty: the client's own are forwarded
  InfoAdjustment info;                  // host/port/client_ip the client's INFO shows
  std::size_t pending_requests = 1024;  // rewritten requests in flight per connection
  std::chrono::nanoseconds request_timeout = std::chrono::seconds(10);
  std::size_t max_fanouts = 256;  // merged gets in flight per connection
  // Longest control line accepted from the upstream (INFO of a big cluster).
  std::uint32_t upstream_max_control_line = 1024 * 1024;
  // Largest MSG accepted from the upstream (its own max_payload is usually far lower).
  std::uint64_t upstream_max_payload = 64 * 1024 * 1024;
  // Client bytes kept while no upstream serves the session (failover); past it the client
  // is closed with -ERR, as a slow consumer.
  std::size_t failover_buffer = 8u << 20;
};

class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // Bytes for each side, in order. The views die when the call returns: copy them.
  virtual void SendToClient(std::span<const std::string_view> parts) = 0;
  virtual void SendToUpstream(std::span<const std::string_view> parts) = 0;
  // The first upstream INFO arrived. Returns the rewriter to use (nullptr: forward everything
  // unchanged), or sets `refusal` to a sentence: the client then gets it as -ERR and the
  // session closes. The host may start TLS upstream here.
  virtual rewrite::Rewriter* OnUpstreamInfo(const UpstreamInfo& info, std::string& refusal) = 0;
  // The session is over (protocol error, refusal): flush what was sent and close both sides.
  virtual void CloseSession(std::string_view why) = 0;
  // After OnUpstreamLost, a new upstream took the session over: CONNECT replayed, every
  // subscription restored and confirmed by a PONG. `gap` runs from the loss to now.
  virtual void OnSessionRestored(std::chrono::nanoseconds gap) { (void)gap; }
  // A line for the sidecar's log (level "info" or "warn") about this session.
  virtual void Log(const char* level, std::string_view line) {
    (void)level;
    (void)line;
  }
};

enum class UpstreamState : std::uint8_t {
  kServing,    // an upstream carries the session
  kLost,       // none: client bytes are kept until one is found
  kRestoring,  // a new upstream is being given the session (its INFO, then our PING)
};

class SplitGlue;  // split_glue.h: split consumers, for stock servers before 2.10

class Session {
 public:
  // `session_id` makes the sidecar's own inbox unique per connection.
  Session(SessionHost& host, SessionOptions options, SessionCounters& counters,
          std::uint64_t session_id);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Bytes read from each side. All of `data` is consumed (partial ops are kept).
  void OnUpstreamBytes(std::string_view data, TimePoint now);
  void OnClientBytes(std::string_view data, TimePoint now);
  // Expires pending requests and merged gets whose time is up; call about once a second.
  void Tick(TimePoint now);

  // --- upstream failover (session_failover.cc) ---
  // The upstream connection is gone (after the handshake). The client stays connected: its
  // bytes are kept, up to failover_buffer, until a new upstream restores the session.
  // Requests in flight stay pending (their replies may still come through the new server,
  // once, or expire); nothing already sent is sent again.
  void OnUpstreamLost(TimePoint now);
  // A new upstream connection is open: its INFO starts the restore (the client's CONNECT
  // replayed, every subscription restored with its queue group and remaining max, the
  // sidecar's inbox, then a PING); at the PONG the kept client bytes go up and the host
  // hears OnSessionRestored. A client that signed the old server's nonce cannot be moved:
  // it gets -ERR and the session closes.
  void OnUpstreamReplaced();
  // A PING of the sidecar's own, to find a stale upstream (its PONG is not forwarded).
  void PingUpstream(TimePoint now);
  // When the oldest unanswered PING of the sidecar's own went up, if one is outstanding.
  std::optional<TimePoint> oldest_own_ping() const;
  UpstreamState upstream_state() const { return upstream_state_; }
  std::size_t failover_kept_bytes() const { return kept_client_bytes_.size(); }

  // The client's INFO was sent: the host may read the client now.
  bool handshake_done() const { return handshake_done_; }
  bool closed() const { return closed_; }
  const ClientOptions& client_options() const { return options_client_; }
  const ClientSubscriptions& subscriptions() const { return subs_; }
  std::size_t pending_requests() const { return pending_ ? pending_->size() : 0; }
  std::size_t open_fanouts() const { return fanout_.open_groups(); }
  // The sid of the sidecar's own inbox subscription upstream (never one of the client's).
  const std::string& internal_sid() const { return internal_sid_; }
  const std::string& inbox_prefix() const { return inbox_prefix_; }

 private:
  friend class SplitGlue;
  // Split consumers after a failover (defined in split_glue.cc): the same rewriter keeps them
  // (subscriptions re-sent, pulls in flight ended with 408); another region's starts anew.
  void RestoreSplit(const UpstreamInfo& info);
  void HandleClientOp(const proto::Op& op, TimePoint now);
  void HandleConnect(const proto::Op& op);
  void HandleClientSub(const proto::Op& op);
  void HandleClientPublish(const proto::Op& op, TimePoint now);
  void HandleApiRequest(const proto::Op& op, TimePoint now);
  void StartFanOut(std::string_view client_reply, TimePoint now);
  void HandleUpstreamOp(const proto::Op& op, TimePoint now);
  void HandleFirstInfo(const proto::Op& op);
  void HandleAsyncInfo(const proto::Op& op);
  void HandleUpstreamMessage(const proto::Op& op);
  void HandleInternalReply(const proto::Op& op);
  void FinishFanOut(rewrite::FanOutTable::Completed& done);
  void SendReply(const proto::Op& op, const rewrite::ReplyResult& result);
  // Failover (session_failover.cc).
  void KeepClientBytes(std::string_view data);
  void HandleRestoreInfo(const proto::Op& op, TimePoint now);
  void HandleUpstreamPong(const proto::Op& op, TimePoint now);
  void HandleRestoreError(const proto::Op& op);
  void FinishRestore(TimePoint now);

  void Expect(std::string_view reply, const rewrite::ReplyPlan& plan, TimePoint now);
  // A message the sidecar makes: to the client's subscription matching `reply`.
  void AnswerClient(std::string_view reply, std::string_view headers, std::string_view body);
  void PublishUp(bool with_headers, std::string_view subject, std::string_view reply,
                 std::string_view headers, std::string_view payload);
  void Ok();
  void Fail(std::string_view why);

  // Byte-for-byte forwarding: consecutive raw ops are sent in one piece.
  struct Run {
    const char* begin = nullptr;
    const char* end = nullptr;
  };
  void ForwardUp(const proto::Op& op) { Forward(op, up_run_, true); }
  void ForwardDown(const proto::Op& op) { Forward(op, down_run_, false); }
  void Forward(const proto::Op& op, Run& run, bool upstream);
  void FlushRun(Run& run, bool upstream);
  void EmitUp();
  void EmitDown();
  void Emit(bool upstream);

  SessionHost& host_;
  SessionOptions options_;
  SessionCounters& counters_;
  rewrite::Rewriter* rewriter_ = nullptr;

  proto::Parser client_parser_;
  proto::Parser upstream_parser_;
  proto::Writer writer_;
  std::vector<std::string_view> parts_;
  Run up_run_;
  Run down_run_;

  bool handshake_done_ = false;
  bool closed_ = false;
  ClientOptions options_client_;
  ClientSubscriptions subs_;

  std::unique_ptr<rewrite::PendingTable> pending_;  // made at the first rewritten request
  std::unique_ptr<SplitGlue> split_;  // made at the first INFO when the server needs it
  rewrite::FanOutTable fanout_;
  std::string inbox_prefix_;  // "_MRDN.<session id>." : the sidecar's own reply subjects
  std::string internal_sid_;
  std::uint64_t internal_sid_generation_ = 0;
  bool inbox_subscribed_ = false;
  std::uint64_t next_inbox_ = 0;
  std::string inbox_scratch_;

  // Reused results of the rewrite engine (their capacity is kept between messages).
  rewrite::PublishResult publish_;
  rewrite::ApiResult api_;
  rewrite::DeliveryResult delivery_;
  rewrite::ReplyResult reply_;
  std::string ack_;

  // Failover state (session_failover.cc).
  UpstreamState upstream_state_ = UpstreamState::kServing;
  bool restore_info_seen_ = false;
  TimePoint lost_at_{};
  std::string kept_client_bytes_;  // client bytes read while no upstream served
  std::string connect_json_;       // the CONNECT JSON as sent upstream, for a replay
  bool connect_signed_ = false;    // it carries a signature of the server's nonce
  // One entry per PING in flight upstream, oldest first: true for the sidecar's own.
  std::deque<bool> ping_owners_;
  std::deque<TimePoint> own_ping_times_;
  std::size_t client_pings_lost_ = 0;  // PINGs the lost server never answered
};

}  // namespace meridian::session
