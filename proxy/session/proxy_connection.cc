#include "session/proxy_connection.h"

#include <utility>

namespace meridian::session {

std::shared_ptr<ProxyConnection> ProxyConnection::Start(ProxyEnvironment& env,
                                                        net::ConnectionPtr client, std::uint64_t id,
                                                        InfoAdjustment info,
                                                        ClosedHandler on_closed) {
  auto self = std::make_shared<ProxyConnection>(env, std::move(client), id, std::move(info),
                                                std::move(on_closed));
  ++env.counters->connections_total;
  ++env.counters->connections_current;
  std::weak_ptr<ProxyConnection> weak = self;
  self->client_->SetCloseHandler([weak](const net::CloseInfo& info) {
    if (auto s = weak.lock()) {
      if (info.reason == net::CloseReason::kSlowConsumer) ++s->env_.counters->slow_consumers;
      std::string why = std::string("client connection closed: ") +
                        net::CloseReasonName(info.reason) +
                        (info.detail.empty() ? "" : " (" + info.detail + ")");
      s->Finish(why);
    }
  });
  self->Dial(/*first=*/true);
  return self;
}

ProxyConnection::ProxyConnection(ProxyEnvironment& env, net::ConnectionPtr client, std::uint64_t id,
                                 InfoAdjustment info, ClosedHandler on_closed)
    : env_(env),
      client_(std::move(client)),
      id_(id),
      on_closed_(std::move(on_closed)),
      backoff_(env.failover.backoff_min, env.failover.backoff_max) {
  SessionOptions options = env.session;
  options.info = std::move(info);
  session_ = std::make_unique<Session>(*this, std::move(options), *env.counters, id);
}

ProxyConnection::~ProxyConnection() = default;

void ProxyConnection::AttachUpstream(net::ConnectionPtr upstream, const net::Endpoint& where,
                                     const FailoverTarget& target, bool first) {
  upstream_ = std::move(upstream);
  upstream_where_ = where;
  upstream_pool_ = target.pool;
  serving_region_ = target.region;
  upstream_paused_since_.reset();
  last_own_ping_ = std::chrono::steady_clock::now();
  std::weak_ptr<ProxyConnection> weak = weak_from_this();
  upstream_->SetCloseHandler([weak](const net::CloseInfo& info) {
    if (auto s = weak.lock()) s->OnUpstreamClosed(info);
  });
  // The upstream is slow to take what the client sends: stop reading the client.
  upstream_->SetWatermarkHandlers(
      [weak] {
        if (auto s = weak.lock(); s && s->client_reading_) s->client_->PauseReading();
      },
      [weak] {
        if (auto s = weak.lock(); s && s->client_reading_) s->client_->ResumeReading();
      });
  // The client is slow to take what the upstream sends: stop reading the upstream (the
  // server then holds the backlog, bounded by its own slow-consumer limit).
  client_->SetWatermarkHandlers(
      [weak] {
        if (auto s = weak.lock(); s && s->upstream_) {
          s->upstream_->PauseReading();
          if (!s->upstream_paused_since_)
            s->upstream_paused_since_ = std::chrono::steady_clock::now();
        }
      },
      [weak] {
        if (auto s = weak.lock(); s && s->upstream_) {
          s->upstream_paused_since_.reset();
          s->upstream_->ResumeReading();
        }
      });
  upstream_->SetReadHandler([weak](std::string_view data) -> size_t {
    auto s = weak.lock();
    if (!s) return data.size();
    s->session_->OnUpstreamBytes(data, std::chrono::steady_clock::now());
    if (!s->client_reading_ && s->session_->handshake_done() && !s->session_->closed()) {
      s->StartReadingClient();
    }
    return data.size();
  });
  if (!first) {
    session_->OnUpstreamReplaced();
    restore_deadline_ = std::chrono::steady_clock::now() + env_.failover.restore_timeout;
  }
}

void ProxyConnection::OnUpstreamClosed(const net::CloseInfo& info) {
  if (info.reason != net::CloseReason::kClosed && info.reason != net::CloseReason::kAborted &&
      upstream_pool_ != nullptr) {
    upstream_pool_->ReportFailure(upstream_where_);
  }
  std::string why = std::string("upstream connection to ") + upstream_where_.ToString() +
                    " closed: " + net::CloseReasonName(info.reason) +
                    (info.detail.empty() ? "" : " (" + info.detail + ")");
  if (finished_) return;
  if (!session_->handshake_done() || session_->closed()) {
    Finish(why);
    return;
  }
  UpstreamLost(why, /*planned=*/false);
}

void ProxyConnection::StartReadingClient() {
  client_reading_ = true;
  std::weak_ptr<ProxyConnection> weak = weak_from_this();
  client_->SetReadHandler([weak](std::string_view data) -> size_t {
    if (auto s = weak.lock()) s->session_->OnClientBytes(data, std::chrono::steady_clock::now());
    return data.size();
  });
  if (upstream_ && upstream_->above_high_watermark()) client_->PauseReading();
}

void ProxyConnection::SendToClient(std::span<const std::string_view> parts) {
  client_->Write(parts);
}

void ProxyConnection::SendToUpstream(std::span<const std::string_view> parts) {
  if (upstream_) upstream_->Write(parts);
}

rewrite::Rewriter* ProxyConnection::OnUpstreamInfo(const UpstreamInfo& info, std::string& refusal) {
  if (env_.upstream_tls) {
    std::weak_ptr<ProxyConnection> weak = weak_from_this();
    upstream_->StartTls(env_.upstream_tls, upstream_where_.host, [weak](const net::Status& st) {
      if (auto s = weak.lock(); s && !st.ok()) {
        s->Finish("TLS to the upstream server failed: " + st.message());
      }
    });
  } else if (info.tls_required) {
    refusal =
        "meridian: the upstream server requires TLS: give the sidecar [upstream.tls] settings";
    return nullptr;
  }
  if (!serving_region_.empty() && env_.resolve_region) {
    return env_.resolve_region(serving_region_, info, refusal);
  }
  return env_.resolve ? env_.resolve(info, refusal) : nullptr;
}

void ProxyConnection::Log(const char* level, std::string_view line) {
  if (env_.log) env_.log(level, "connection " + std::to_string(id_) + ": " + std::string(line));
}

void ProxyConnection::CloseSession(std::string_view why) {
  Finish(std::string(why));
}

void ProxyConnection::Tick(TimePoint now) {
  if (finished_) return;
  session_->Tick(now);
  KeepAlive(now);
  if (finished_) return;
  if (upstream_paused_since_ && now - *upstream_paused_since_ > env_.slow_consumer_after) {
    ++env_.counters->slow_consumers;
    Finish("slow consumer: the client did not read for " +
           std::to_string(env_.slow_consumer_after.count()) + " ms");
    client_->Abort();
  }
}

void ProxyConnection::Shutdown() {
  Finish("the sidecar is stopping");
}

void ProxyConnection::Finish(const std::string& why) {
  if (finished_) return;
  finished_ = true;
  retry_timer_.Cancel();
  --env_.counters->connections_current;
  if (env_.log) env_.log("info", "connection " + std::to_string(id_) + " ended: " + why);
  auto keep = shared_from_this();  // the handlers below may drop the last other reference
  client_->Close();
  if (upstream_) upstream_->Close();
  if (on_closed_) {
    ClosedHandler done = std::move(on_closed_);
    done(id_);
  }
}

}  // namespace meridian::session
