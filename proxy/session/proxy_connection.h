// ProxyConnection: one client socket, its upstream socket, and the Session between them.
//
// It opens the upstream through the UpstreamPool, reads the client only once the adjusted
// INFO was sent, applies back-pressure both ways (a side whose pending output passes its
// high watermark pauses reading on the other side until it drains), and treats a client
// that keeps the upstream paused longer than slow_consumer_after, or whose pending output
// passes its max_pending_output, as nats-server treats a slow consumer: it is closed, and
// nothing else is affected. The client closing closes the upstream.
//
// Failover (proxy_failover.cc): once the handshake is done, an upstream that closes, or
// goes stale (the sidecar's own PINGs unanswered), does not close the client. The session
// is restored on the first server that answers among the targets (the home region's
// servers, then the failover regions in order), retried with backoff until give_up_after;
// MoveHome() brings a session served elsewhere back. Loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/backoff.h"
#include "net/connection.h"
#include "net/loop.h"
#include "net/tls.h"
#include "session/session.h"
#include "session/upstream_pool.h"

namespace meridian::session {

// A region a session may be served from. `region` is empty for the home region.
struct FailoverTarget {
  std::string region;
  UpstreamPool* pool = nullptr;
};

struct FailoverSettings {
  std::chrono::milliseconds ping_interval{2000};  // the sidecar's own PINGs upstream
  int max_pings_out = 2;  // stale after ping_interval * max_pings_out without a PONG
  // No upstream restored the session for this long: the client gets -ERR and is closed.
  std::chrono::milliseconds give_up_after{60000};
  // A new upstream must finish the restore (INFO, PONG) within this, else the next is tried.
  std::chrono::milliseconds restore_timeout{5000};
  std::chrono::milliseconds backoff_min{50};  // between passes over every target
  std::chrono::milliseconds backoff_max{2000};
};

// One restored session, for the sidecar's log and counters.
struct FailoverEvent {
  std::uint64_t connection = 0;
  std::string from_server, to_server;
  std::string from_region, to_region;  // empty: the home region
  std::string why;                     // why the old upstream was left
  std::chrono::nanoseconds gap{0};     // upstream lost to session restored
  bool home_return = false;            // a planned move back home
};

// What every connection of one sidecar shares. Outlives its connections.
struct ProxyEnvironment {
  net::Loop* loop = nullptr;
  UpstreamPool* pool = nullptr;                         // the home region's servers
  std::shared_ptr<const net::TlsContext> upstream_tls;  // null: plaintext upstream
  SessionOptions session;  // info.host/port are set per listener by the caller
  SessionCounters* counters = nullptr;
  std::chrono::milliseconds slow_consumer_after{10000};
  // The rewriter for the upstream a session reached (nullptr: pass everything through), or
  // a refusal sentence; the sidecar learns its region here when it is not configured.
  std::function<rewrite::Rewriter*(const UpstreamInfo&, std::string& refusal)> resolve;
  // Logs one line (level: "info", "warn").
  std::function<void(const char* level, const std::string& line)> log;

  // Failover. `targets` lists where a session may be served from, in order (the home pool
  // first, region ""); null: the home pool only. Asked at every pass.
  std::function<std::vector<FailoverTarget>()> targets;
  // The rewriter for a session served from another region (its write and read streams).
  std::function<rewrite::Rewriter*(const std::string& region, const UpstreamInfo&,
                                   std::string& refusal)>
      resolve_region;
  FailoverSettings failover;
  std::function<void(const FailoverEvent&)> on_failover;
};

class ProxyConnection : public SessionHost, public std::enable_shared_from_this<ProxyConnection> {
 public:
  using ClosedHandler = std::function<void(std::uint64_t id)>;

  // Starts proxying `client`: connects upstream, then runs the session until either side
  // closes; `on_closed` runs once at the end. `info` is what the client's INFO shows as the
  // sidecar's address.
  static std::shared_ptr<ProxyConnection> Start(ProxyEnvironment& env, net::ConnectionPtr client,
                                                std::uint64_t id, InfoAdjustment info,
                                                ClosedHandler on_closed);
  ~ProxyConnection() override;

  void Tick(TimePoint now);
  // Graceful stop (sidecar shutdown): both sides flushed and closed.
  void Shutdown();
  // A session served from another region moves back to the home region (its upstream is
  // closed gracefully and the session restored as after a loss). No-op otherwise.
  void MoveHome();

  std::uint64_t id() const { return id_; }
  const Session& session() const { return *session_; }
  // The region serving the session: empty for the home region.
  const std::string& serving_region() const { return serving_region_; }
  // True from an upstream loss until the session is restored.
  bool failing_over() const { return failing_over_; }

  // SessionHost
  void SendToClient(std::span<const std::string_view> parts) override;
  void SendToUpstream(std::span<const std::string_view> parts) override;
  rewrite::Rewriter* OnUpstreamInfo(const UpstreamInfo& info, std::string& refusal) override;
  void CloseSession(std::string_view why) override;
  void OnSessionRestored(std::chrono::nanoseconds gap) override;
  void Log(const char* level, std::string_view line) override;

  ProxyConnection(ProxyEnvironment& env, net::ConnectionPtr client, std::uint64_t id,
                  InfoAdjustment info, ClosedHandler on_closed);

 private:
  void AttachUpstream(net::ConnectionPtr upstream, const net::Endpoint& where,
                      const FailoverTarget& target, bool first);
  void OnUpstreamClosed(const net::CloseInfo& info);
  void StartReadingClient();
  void Finish(const std::string& why);

  // Failover (proxy_failover.cc).
  void Dial(bool first);
  void TryTarget(std::size_t index, bool first);
  void NoTargetReached(bool first);
  // Drops the current upstream (already closed, or closed here) and starts the restore.
  void UpstreamLost(const std::string& why, bool planned);
  void KeepAlive(TimePoint now);

  ProxyEnvironment& env_;
  net::ConnectionPtr client_;
  net::ConnectionPtr upstream_;
  net::Endpoint upstream_where_;
  UpstreamPool* upstream_pool_ = nullptr;
  std::string serving_region_;
  std::unique_ptr<Session> session_;
  std::uint64_t id_;
  ClosedHandler on_closed_;
  bool client_reading_ = false;
  bool finished_ = false;
  // Set while the upstream is paused because the client is not reading fast enough.
  std::optional<TimePoint> upstream_paused_since_;

  // Failover state.
  std::vector<FailoverTarget> targets_;
  std::string dial_failures_;
  net::Backoff backoff_;
  net::Timer retry_timer_;
  bool failing_over_ = false;
  bool moving_home_ = false;
  TimePoint lost_at_{};
  FailoverEvent pending_event_;
  std::optional<TimePoint> restore_deadline_;
  TimePoint last_own_ping_{};
};

}  // namespace meridian::session
