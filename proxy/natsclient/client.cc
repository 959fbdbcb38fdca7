#include "natsclient/client.h"

#include <charconv>
#include <deque>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_map>
#include <utility>

#include "net/connection.h"
#include "net/endpoint.h"
#include "net/listener.h"
#include "net/loop.h"
#include "proto/headers.h"
#include "proto/parser.h"
#include "proto/writer.h"

namespace meridian::natsclient {

using net::Result;
using net::Status;

OwnedMsg OwnedMsg::From(const Msg& m) {
  return OwnedMsg{std::string(m.subject), std::string(m.reply), std::string(m.headers),
                  std::string(m.payload), m.status};
}

std::vector<std::string> SplitServerList(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view part = text.substr(start, comma - start);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    start = comma + 1;
  }
  return out;
}

std::string NewInboxPrefix() {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::uniform_int_distribution<int> pick(0, 61);
  std::string out = "_INBOX.";
  for (int i = 0; i < 22; ++i) out.push_back(kAlphabet[pick(gen)]);
  return out;
}

std::string DescribeServerError(std::string_view err_text) {
  std::string lower(err_text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("authorization violation") != std::string::npos ||
      lower.find("authentication") != std::string::npos) {
    return "the server refused the credentials (" + std::string(err_text) +
           "): check --user/--password or --token, or the context";
  }
  if (lower.find("permissions violation") != std::string::npos) {
    return "the server refused an operation (" + std::string(err_text) +
           "): the user lacks the permission";
  }
  return "the server reported an error: " + std::string(err_text);
}

namespace {

enum class State { kIdle, kConnecting, kAwaitInfo, kAwaitPong, kConnected, kClosed };

struct Subscription {
  MsgHandler handler;
  uint64_t max_msgs = 0;  // 0: unlimited
  uint64_t received = 0;
};

struct PendingRequest {
  bool many = false;
  ReplyHandler one;
  std::function<void(Result<std::vector<OwnedMsg>>)> many_done;
  std::vector<OwnedMsg> replies;
  size_t max_replies = 0;
  std::chrono::milliseconds quiet{0};
  std::string subject;
  std::chrono::milliseconds timeout{0};
  net::Timer deadline;
  net::Timer quiet_timer;
};

struct PendingFlush {
  StatusHandler done;
  net::Timer deadline;
  uint64_t id = 0;
};

}  // namespace

struct Client::Impl {
  net::Loop& loop;
  Options options;
  std::weak_ptr<Client> self;
  State state = State::kIdle;
  net::ConnectionPtr conn;
  proto::Parser parser{proto::Direction::kServerToClient,
                       proto::Limits{64 * 1024, 64ull * 1024 * 1024, true}};
  proto::Writer writer;
  std::vector<std::string_view> parts;
  std::string info_json;
  std::string server_name;
  size_t server_index = 0;
  std::string current_host;
  bool url_wants_tls = false;
  std::vector<std::string> connect_errors;
  StatusHandler connect_done;
  StatusHandler closed_handler;
  std::function<void(const std::string&)> error_handler;
  std::string last_err;

  std::unordered_map<uint64_t, Subscription> subs;
  uint64_t next_sid = 1;
  std::string inbox_prefix;  // "_INBOX.xxx." once the inbox is subscribed
  uint64_t inbox_sid = 0;
  std::unordered_map<std::string, PendingRequest> requests;
  uint64_t next_token = 1;
  std::deque<PendingFlush> flushes;
  uint64_t next_flush = 1;

  Impl(net::Loop& l, Options o) : loop(l), options(std::move(o)) {}

  void SendBatch() {
    if (!conn || writer.empty()) return;
    parts.clear();
    for (const iovec& v : writer.Iovecs()) {
      parts.emplace_back(static_cast<const char*>(v.iov_base), v.iov_len);
    }
    conn->Write(parts);
    writer.Clear();
  }

  void TryNextServer() {
    if (server_index >= options.servers.size()) {
      std::string msg;
      if (options.servers.empty()) {
        msg = "no server URL given: pass --server or select a context";
      } else if (connect_errors.size() == 1) {
        msg = connect_errors.front();
      } else {
        msg = "could not connect to any server:";
        for (const auto& e : connect_errors) msg += " " + e + ";";
        msg.pop_back();
      }
      FailConnect(msg);
      return;
    }
    const std::string& url = options.servers[server_index++];
    url_wants_tls = url.rfind("tls://", 0) == 0;
    auto ep = net::Endpoint::Parse(url);
    if (!ep.ok()) {
      connect_errors.push_back(ep.message());
      TryNextServer();
      return;
    }
    current_host = ep->host;
    state = State::kConnecting;
    net::ConnectOptions copts;
    copts.timeout = options.connect_timeout;
    std::weak_ptr<Client> weak = self;
    std::string where = url;
    net::Connect(loop, *ep, copts, [weak, this, where](Result<net::ConnectionPtr> r) {
      if (weak.expired()) {
        if (r.ok()) r.value()->Abort();
        return;
      }
      if (!r.ok()) {
        connect_errors.push_back(r.message());
        TryNextServer();
        return;
      }
      Attach(std::move(r.value()));
    });
  }

  void Attach(net::ConnectionPtr c) {
    conn = std::move(c);
    parser.Reset();
    state = State::kAwaitInfo;
    conn->SetReadHandler([this](std::string_view data) -> size_t {
      OnRead(data);
      return data.size();
    });
    conn->SetCloseHandler([this](const net::CloseInfo& info) { OnClosed(info); });
  }

  void FailConnect(const std::string& msg) {
    state = State::kClosed;
    if (auto done = std::move(connect_done)) {
      connect_done = nullptr;
      done(Status::Error(msg));
    }
  }

  void OnClosed(const net::CloseInfo& info) {
    net::ConnectionPtr keep = std::move(conn);
    if (keep) keep->DetachHandlers();
    if (state == State::kAwaitInfo || state == State::kAwaitPong || state == State::kConnecting) {
      std::string why = !last_err.empty() ? DescribeServerError(last_err)
                        : keep            ? "connection to " + keep->peer_address() + " closed (" +
                                     net::CloseReasonName(info.reason) +
                                     (info.detail.empty() ? "" : ": " + info.detail) +
                                     ") before the handshake finished"
                               : std::string("connection closed during the handshake");
      if (!last_err.empty()) {
        FailConnect(why);  // credentials are the same for every server: do not try the others
        return;
      }
      connect_errors.push_back(why);
      TryNextServer();
      return;
    }
    if (state == State::kClosed) return;
    state = State::kClosed;
    std::string why = "connection closed (" + std::string(net::CloseReasonName(info.reason)) +
                      (info.detail.empty() ? "" : ": " + info.detail) + ")";
    FailAllPending(why);
    if (auto h = std::move(closed_handler)) {
      closed_handler = nullptr;
      h(info.reason == net::CloseReason::kClosed ? Status::Ok() : Status::Error(why));
    }
  }

  void FailAllPending(const std::string& why) {
    auto reqs = std::move(requests);
    requests.clear();
    for (auto& [token, p] : reqs) {
      p.deadline.Cancel();
      p.quiet_timer.Cancel();
      if (p.many) {
        if (p.replies.empty()) {
          p.many_done(Status::Error(why));
        } else {
          p.many_done(std::move(p.replies));
        }
      } else {
        p.one(Status::Error(why));
      }
    }
    auto fl = std::move(flushes);
    flushes.clear();
    for (auto& f : fl) f.done(Status::Error(why));
  }

  void OnRead(std::string_view data) {
    parser.Feed(data);
    proto::Op op;
    proto::Parser::Result r;
    while (conn && (r = parser.Next(op)) == proto::Parser::Result::kOp) HandleOp(op);
    if (conn && parser.failed()) {
      last_err.clear();
      conn->Abort();
    }
  }

  void HandleOp(const proto::Op& op) {
    switch (op.kind) {
      case proto::OpKind::kInfo:
        OnInfo(op.text);
        break;
      case proto::OpKind::kPing:
        writer.Pong();
        SendBatch();
        break;
      case proto::OpKind::kPong:
        OnPong();
        break;
      case proto::OpKind::kErr:
        OnErr(op.text);
        break;
      case proto::OpKind::kMsg:
      case proto::OpKind::kHmsg:
        OnMsg(op);
        break;
      default:
        break;
    }
  }

  void OnInfo(std::string_view text) {
    info_json.assign(text);
    bool tls_required = false;
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_object()) {
      server_name = j.value("server_name", j.value("server_id", std::string()));
      tls_required = j.value("tls_required", false);
    }
    if (state != State::kAwaitInfo) return;  // async INFO (cluster changes)
    bool use_tls = tls_required || url_wants_tls || options.tls.has_value();
    if (!use_tls) {
      SendConnect(false);
      return;
    }
    net::TlsConfig cfg = options.tls.value_or(net::TlsConfig{});
    auto ctx = net::TlsContext::Create(net::TlsContext::Role::kClient, cfg);
    if (!ctx.ok()) {
      last_err.clear();
      std::string msg = ctx.message();
      conn->DetachHandlers();
      conn->Abort();
      conn.reset();
      FailConnect(msg);
      return;
    }
    conn->StartTls(ctx.value(), current_host, [this](const Status& s) {
      if (s.ok()) SendConnect(true);
      // A failed handshake closes the connection; OnClosed reports it.
    });
  }

  void SendConnect(bool tls) {
    nlohmann::json c = {{"verbose", false},     {"pedantic", false}, {"tls_required", tls},
                        {"name", options.name}, {"lang", "cpp"},     {"version", "0.1.0"},
                        {"protocol", 1},        {"headers", true},   {"no_responders", true},
                        {"echo", true}};
    if (!options.user.empty()) {
      c["user"] = options.user;
      c["pass"] = options.password;
    }
    if (!options.token.empty()) c["auth_token"] = options.token;
    writer.Connect(c.dump());
    writer.Ping();
    SendBatch();
    state = State::kAwaitPong;
  }

  void OnPong() {
    if (state == State::kAwaitPong) {
      state = State::kConnected;
      connect_errors.clear();
      if (auto done = std::move(connect_done)) {
        connect_done = nullptr;
        done(Status::Ok());
      }
      return;
    }
    if (flushes.empty()) return;
    PendingFlush f = std::move(flushes.front());
    flushes.pop_front();
    f.deadline.Cancel();
    f.done(Status::Ok());
  }

  void OnErr(std::string_view text) {
    if (state != State::kConnected) {
      last_err.assign(text);
      return;  // the server closes next; OnClosed reports it
    }
    std::string msg = DescribeServerError(text);
    if (error_handler) error_handler(msg);
  }

  void OnMsg(const proto::Op& op) {
    uint64_t sid = 0;
    std::from_chars(op.sid.data(), op.sid.data() + op.sid.size(), sid);
    auto it = subs.find(sid);
    if (it == subs.end()) return;
    Msg m{op.subject, op.reply, op.headers, op.payload, 0};
    if (!op.headers.empty()) {
      proto::HeaderView hv;
      if (proto::HeaderView::Parse(op.headers, &hv) == proto::HeaderError::kNone) {
        m.status = hv.status();
      }
    }
    Subscription& s = it->second;
    ++s.received;
    bool last = s.max_msgs != 0 && s.received >= s.max_msgs;
    if (last) {
      MsgHandler h = std::move(s.handler);
      subs.erase(it);
      h(m);
    } else {
      s.handler(m);  // may unsubscribe itself: `s` is not used afterwards
    }
  }

  void EnsureInbox() {
    if (inbox_sid != 0) return;
    inbox_prefix = NewInboxPrefix() + ".";
    inbox_sid = next_sid++;
    Subscription s;
    s.handler = [this](const Msg& m) { OnReply(m); };
    subs.emplace(inbox_sid, std::move(s));
    std::string subject = inbox_prefix + "*";
    char sid_buf[24];
    auto [end, ec] = std::to_chars(sid_buf, sid_buf + sizeof sid_buf, inbox_sid);
    (void)ec;
    writer.Sub(subject, {}, std::string_view(sid_buf, end - sid_buf));
  }

  void OnReply(const Msg& m) {
    std::string_view token = m.subject.substr(std::min(m.subject.size(), inbox_prefix.size()));
    auto it = requests.find(std::string(token));
    if (it == requests.end()) return;
    PendingRequest& p = it->second;
    if (!p.many) {
      ReplyHandler done = std::move(p.one);
      std::string subject = std::move(p.subject);
      requests.erase(it);
      if (m.status == 503) {
        done(Status::Error("no responders are available for requests on \"" + subject +
                           "\": nothing subscribes to it, or JetStream is not enabled there"));
      } else {
        done(OwnedMsg::From(m));
      }
      return;
    }
    if (m.status == 503) return;  // gathering: a no-responders status only means none
    p.replies.push_back(OwnedMsg::From(m));
    if (p.max_replies != 0 && p.replies.size() >= p.max_replies) {
      FinishMany(std::string(token));
      return;
    }
    if (p.quiet.count() > 0) {
      std::string key(token);
      p.quiet_timer = loop.After(p.quiet, [this, key] { FinishMany(key); });
    }
  }

  void FinishMany(const std::string& token) {
    auto it = requests.find(token);
    if (it == requests.end()) return;
    PendingRequest p = std::move(it->second);
    requests.erase(it);
    p.deadline.Cancel();
    p.quiet_timer.Cancel();
    p.many_done(std::move(p.replies));
  }

  std::string NextToken() {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, next_token++);
    (void)ec;
    return std::string(buf, end - buf);
  }
};

std::shared_ptr<Client> Client::Create(net::Loop& loop, Options options) {
  std::shared_ptr<Client> c(new Client(std::make_unique<Impl>(loop, std::move(options))));
  c->impl_->self = c;
  return c;
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  if (impl_->conn) {
    impl_->conn->DetachHandlers();
    impl_->conn->Abort();
  }
}

void Client::Connect(StatusHandler done) {
  impl_->connect_done = std::move(done);
  impl_->connect_errors.clear();
  impl_->server_index = 0;
  impl_->last_err.clear();
  impl_->TryNextServer();
}

bool Client::connected() const {
  return impl_->state == State::kConnected;
}
const std::string& Client::server_info() const {
  return impl_->info_json;
}
const std::string& Client::server_name() const {
  return impl_->server_name;
}

Status Client::Publish(std::string_view subject, std::string_view payload, std::string_view reply,
                       std::string_view headers) {
  if (!connected()) return Status::Error("not connected to a NATS server");
  if (subject.empty() || subject.find_first_of(" \t\r\n") != std::string_view::npos) {
    return Status::Error("\"" + std::string(subject) +
                         "\" is not a valid subject to publish to: it must be non-empty and "
                         "hold no whitespace");
  }
  if (headers.empty()) {
    impl_->writer.Pub(subject, reply, payload);
  } else {
    impl_->writer.Hpub(subject, reply, headers, payload);
  }
  impl_->SendBatch();
  return Status::Ok();
}

uint64_t Client::Subscribe(std::string_view subject, std::string_view queue, MsgHandler handler) {
  uint64_t sid = impl_->next_sid++;
  Subscription s;
  s.handler = std::move(handler);
  impl_->subs.emplace(sid, std::move(s));
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, sid);
  (void)ec;
  impl_->writer.Sub(subject, queue, std::string_view(buf, end - buf));
  impl_->SendBatch();
  return sid;
}

void Client::Unsubscribe(uint64_t sid, uint64_t max_msgs) {
  auto it = impl_->subs.find(sid);
  if (it == impl_->subs.end()) return;
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, sid);
  (void)ec;
  std::string_view sid_text(buf, end - buf);
  if (max_msgs == 0 || it->second.received >= max_msgs) {
    impl_->subs.erase(it);
    impl_->writer.Unsub(sid_text);
  } else {
    it->second.max_msgs = max_msgs;
    impl_->writer.Unsub(sid_text, max_msgs);
  }
  impl_->SendBatch();
}

void Client::Request(std::string_view subject, std::string_view payload, std::string_view headers,
                     std::chrono::milliseconds timeout, ReplyHandler done) {
  if (!connected()) {
    done(Status::Error("not connected to a NATS server"));
    return;
  }
  Impl* I = impl_.get();
  I->EnsureInbox();
  std::string token = I->NextToken();
  std::string reply = I->inbox_prefix + token;
  PendingRequest p;
  p.one = std::move(done);
  p.subject.assign(subject);
  p.timeout = timeout;
  p.deadline = I->loop.After(timeout, [I, token] {
    auto it = I->requests.find(token);
    if (it == I->requests.end()) return;
    ReplyHandler h = std::move(it->second.one);
    std::string subj = std::move(it->second.subject);
    auto ms = it->second.timeout.count();
    I->requests.erase(it);
    h(Status::Error("no reply to the request on \"" + subj + "\" within " + std::to_string(ms) +
                    " ms: is the service (or JetStream) up, and the subject right?"));
  });
  I->requests.emplace(token, std::move(p));
  Status s = Publish(subject, payload, reply, headers);
  if (!s.ok()) {
    auto it = I->requests.find(token);
    ReplyHandler h = std::move(it->second.one);
    I->requests.erase(it);
    h(s);
  }
}

void Client::RequestMany(std::string_view subject, std::string_view payload,
                         std::chrono::milliseconds timeout, std::chrono::milliseconds quiet,
                         size_t max_replies,
                         std::function<void(Result<std::vector<OwnedMsg>>)> done) {
  if (!connected()) {
    done(Status::Error("not connected to a NATS server"));
    return;
  }
  Impl* I = impl_.get();
  I->EnsureInbox();
  std::string token = I->NextToken();
  std::string reply = I->inbox_prefix + token;
  PendingRequest p;
  p.many = true;
  p.many_done = std::move(done);
  p.max_replies = max_replies;
  p.quiet = quiet;
  p.subject.assign(subject);
  p.deadline = I->loop.After(timeout, [I, token] { I->FinishMany(token); });
  I->requests.emplace(token, std::move(p));
  Status s = Publish(subject, payload, reply, {});
  if (!s.ok()) {
    auto it = I->requests.find(token);
    auto h = std::move(it->second.many_done);
    I->requests.erase(it);
    h(s);
  }
}

void Client::Flush(std::chrono::milliseconds timeout, StatusHandler done) {
  if (!connected()) {
    done(Status::Error("not connected to a NATS server"));
    return;
  }
  Impl* I = impl_.get();
  uint64_t id = I->next_flush++;
  PendingFlush f;
  f.done = std::move(done);
  f.id = id;
  f.deadline = I->loop.After(timeout, [I, id, timeout] {
    for (auto it = I->flushes.begin(); it != I->flushes.end(); ++it) {
      if (it->id != id) continue;
      StatusHandler h = std::move(it->done);
      // Keep the slot (a PONG will still come for this PING) but make it do nothing.
      it->done = [](const Status&) {};
      h(Status::Error("the server did not answer PING within " + std::to_string(timeout.count()) +
                      " ms"));
      return;
    }
  });
  I->flushes.push_back(std::move(f));
  I->writer.Ping();
  I->SendBatch();
}

void Client::SetClosedHandler(StatusHandler handler) {
  impl_->closed_handler = std::move(handler);
}

void Client::SetErrorHandler(std::function<void(const std::string&)> handler) {
  impl_->error_handler = std::move(handler);
}

void Client::Close() {
  if (impl_->conn) {
    impl_->conn->Close();  // OnClosed runs when done and fails what is pending
  }
}

}  // namespace meridian::natsclient
