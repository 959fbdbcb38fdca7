#include "sidecar/upstream_probe.h"

#include <charconv>
#include <random>
#include <utility>

#include "proto/headers.h"

namespace meridian::sidecar {
namespace {

// "_INBOX.<22 random letters and digits>", unique to one probe.
std::string NewInbox() {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
  std::string out = "_INBOX.";
  for (int i = 0; i < 22; ++i) out += kAlphabet[pick(rng)];
  return out;
}

}  // namespace

UpstreamProbe::UpstreamProbe(net::Loop& loop, session::UpstreamPool& pool,
                             std::shared_ptr<const net::TlsContext> tls,
                             session::UpstreamCredentials creds, std::chrono::milliseconds interval,
                             InfoHandler on_info)
    : loop_(loop),
      pool_(pool),
      tls_(std::move(tls)),
      creds_(std::move(creds)),
      interval_(interval),
      on_info_(std::move(on_info)),
      backoff_(std::chrono::milliseconds(100), interval),
      parser_(proto::Direction::kServerToClient, proto::Limits{1024 * 1024, 64 << 20, true}),
      inbox_(NewInbox()) {}

UpstreamProbe::~UpstreamProbe() {
  *alive_ = false;
  Stop();
}

void UpstreamProbe::Start() {
  stopped_ = false;
  Connect();
}

void UpstreamProbe::Stop() {
  stopped_ = true;
  ping_timer_.Cancel();
  retry_timer_.Cancel();
  js_timer_.Cancel();
  connected_ = false;
  if (conn_) {
    conn_->DetachHandlers();
    conn_->Close();
    conn_.reset();
  }
}

bool UpstreamProbe::reachable() const {
  if (!conn_ || !info_seen_) return false;
  return loop_.NowMs() - last_seen_ms_ <= static_cast<std::uint64_t>(interval_.count()) * 2 + 500;
}

void UpstreamProbe::WatchJetStream(std::vector<std::string> write_streams) {
  js_timer_.Cancel();
  js_ = std::make_unique<JsReadiness>(std::move(write_streams));
  if (connected_) StartJetStreamPolls();
}

bool UpstreamProbe::jetstream_ready() const {
  return reachable() && (!js_ || js_->ready());
}

std::string UpstreamProbe::jetstream_reason() const {
  if (!reachable()) return "not reachable: " + last_error_;
  return js_ ? js_->reason() : "";
}

void UpstreamProbe::StartJetStreamPolls() {
  if (!js_ || !conn_) return;
  PollJetStream();
  js_timer_ = loop_.Every(std::chrono::milliseconds(250), [this] { PollJetStream(); });
}

void UpstreamProbe::PollJetStream() {
  if (!js_ || !conn_ || !connected_) return;
  std::string out;
  for (const JsReadiness::Request& r : js_->Poll(loop_.NowMs())) {
    out += "PUB " + r.subject + " " + inbox_ + "." + std::to_string(r.token) + " 0\r\n\r\n";
  }
  if (!out.empty()) conn_->Write(out);
}

void UpstreamProbe::OnReply(const proto::Op& op) {
  if (!js_ || op.subject.size() <= inbox_.size() + 1 ||
      op.subject.substr(0, inbox_.size()) != inbox_ || op.subject[inbox_.size()] != '.') {
    return;
  }
  const std::string_view tail = op.subject.substr(inbox_.size() + 1);
  std::uint64_t token = 0;
  auto [end, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), token);
  if (ec != std::errc() || end != tail.data() + tail.size()) return;
  int status = 0;
  std::string_view description;
  if (op.kind == proto::OpKind::kHmsg) {
    proto::HeaderView headers;
    if (proto::HeaderView::Parse(op.headers, &headers) == proto::HeaderError::kNone) {
      status = headers.status();
      description = headers.description();
    }
  }
  js_->OnReply(token, status, description, op.payload);
}

void UpstreamProbe::Connect() {
  std::weak_ptr<bool> alive = alive_;
  pool_.Connect([this, alive](net::Result<net::ConnectionPtr> result, const net::Endpoint& where) {
    if (alive.expired()) {
      if (result.ok()) result.value()->Abort();
      return;
    }
    OnConnected(std::move(result), where);
  });
}

void UpstreamProbe::OnConnected(net::Result<net::ConnectionPtr> result,
                                const net::Endpoint& where) {
  if (stopped_) {
    if (result.ok()) result.value()->Abort();
    return;
  }
  if (!result.ok()) {
    every_server_refused_ = true;  // the pool tried every server
    Lost(result.message());
    return;
  }
  conn_ = std::move(result.value());
  where_ = where;
  server_ = where.ToString();
  info_seen_ = false;
  parser_.Reset();
  conn_->SetCloseHandler([this](const net::CloseInfo& info) {
    conn_.reset();
    Lost(std::string("connection to ") + server_ + " closed: " + net::CloseReasonName(info.reason) +
         (info.detail.empty() ? "" : " (" + info.detail + ")"));
  });
  conn_->SetReadHandler([this](std::string_view data) { return OnBytes(data); });
}

std::size_t UpstreamProbe::OnBytes(std::string_view data) {
  parser_.Feed(data);
  proto::Op op;
  proto::Parser::Result r;
  while ((r = parser_.Next(op)) == proto::Parser::Result::kOp) {
    switch (op.kind) {
      case proto::OpKind::kInfo: {
        std::optional<session::UpstreamInfo> info = session::ReadUpstreamInfo(op.text);
        if (!info) break;
        last_seen_ms_ = loop_.NowMs();
        if (!info_seen_) {
          info_seen_ = true;
          if (tls_) conn_->StartTls(tls_, conn_->peer_address(), [](const net::Status&) {});
          std::string connect =
              session::RewriteConnect(
                  R"({"verbose":false,"pedantic":false,"protocol":1,"headers":true,)"
                  R"("no_responders":true,"name":"meridian-sidecar-probe"})",
                  creds_)
                  ->upstream_json;
          conn_->Write("CONNECT " + connect + "\r\nSUB " + inbox_ + ".* 1\r\nPING\r\n");
          backoff_.Reset();
          last_error_.clear();
          every_server_refused_ = false;
          connected_ = true;
          if (js_) js_->Reset("JetStream not answered yet on the connection to " + server_);
          StartJetStreamPolls();
          ping_timer_ = loop_.Every(interval_, [this] {
            if (!conn_) return;
            if (!reachable()) {
              // Stale (e.g. a stopped server that keeps the socket open): try the next one.
              pool_.ReportFailure(where_);
              last_error_ = "server " + server_ + " stopped answering PINGs";
              conn_->Abort();
              return;
            }
            conn_->Write("PING\r\n");
          });
        }
        if (on_info_) on_info_(*info);
        break;
      }
      case proto::OpKind::kPing:
        conn_->Write("PONG\r\n");
        break;
      case proto::OpKind::kPong:
        last_seen_ms_ = loop_.NowMs();
        break;
      case proto::OpKind::kMsg:
      case proto::OpKind::kHmsg:
        OnReply(op);
        break;
      case proto::OpKind::kErr:
        last_error_ = "the upstream server said -ERR '" + std::string(op.text) + "'";
        break;
      default:
        break;
    }
    if (!conn_) return data.size();
  }
  if (r == proto::Parser::Result::kError && conn_) {
    last_error_ = std::string(parser_.error().reason);
    conn_->Abort();
  }
  return data.size();
}

void UpstreamProbe::Lost(const std::string& why) {
  ping_timer_.Cancel();
  js_timer_.Cancel();
  info_seen_ = false;
  connected_ = false;
  if (js_) js_->Reset("not connected (" + why + ")");
  if (last_error_.empty() || last_error_.rfind("the upstream server said", 0) != 0) {
    last_error_ = why;
  }
  if (stopped_) return;
  retry_timer_ = loop_.After(backoff_.Next(), [this] { Connect(); });
}

}  // namespace meridian::sidecar
