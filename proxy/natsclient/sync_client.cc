#include "natsclient/sync_client.h"

#include "net/loop.h"

namespace meridian::natsclient {

using net::Result;
using net::Status;

SyncClient::SyncClient() : loop_(std::make_unique<net::Loop>()) {}

SyncClient::~SyncClient() {
  client_.reset();
  // Let aborted handles close before the loop goes.
  loop_->RunOnce();
}

Result<std::unique_ptr<SyncClient>> SyncClient::Connect(Options options) {
  std::unique_ptr<SyncClient> c(new SyncClient());
  auto timeout =
      options.connect_timeout * static_cast<int>(std::max<size_t>(1, options.servers.size())) +
      std::chrono::milliseconds(5000);
  c->client_ = Client::Create(*c->loop_, std::move(options));
  bool done = false;
  Status result;
  c->client_->Connect([&](const Status& s) {
    result = s;
    done = true;
  });
  if (!c->RunUntil(done, timeout)) {
    return Status::Error("connecting timed out without an answer from the server");
  }
  if (!result.ok()) return result;
  SyncClient* raw = c.get();
  c->client_->SetClosedHandler([raw](const Status& s) {
    raw->closed_ = true;
    raw->closed_reason_ = s.ok() ? "connection closed" : s.message();
  });
  c->client_->SetErrorHandler([raw](const std::string& e) { raw->async_error_ = e; });
  return c;
}

bool SyncClient::RunUntil(const bool& done, std::chrono::milliseconds limit) {
  if (done) return true;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    net::Timer check = loop_->Every(std::chrono::milliseconds(5), [this, &done] {
      if (done) loop_->Stop();
    });
    loop_->RunFor(left);
  }
  return true;
}

const std::string& SyncClient::server_info() const {
  return client_->server_info();
}
const std::string& SyncClient::server_name() const {
  return client_->server_name();
}
net::Loop& SyncClient::loop() {
  return *loop_;
}
Client& SyncClient::client() {
  return *client_;
}

Status SyncClient::Publish(std::string_view subject, std::string_view payload,
                           std::string_view headers) {
  if (closed_) return Status::Error(closed_reason_);
  return client_->Publish(subject, payload, {}, headers);
}

Result<OwnedMsg> SyncClient::Request(std::string_view subject, std::string_view payload,
                                     std::chrono::milliseconds timeout, std::string_view headers) {
  if (closed_) return Status::Error(closed_reason_);
  bool done = false;
  std::optional<Result<OwnedMsg>> out;
  client_->Request(subject, payload, headers, timeout, [&](Result<OwnedMsg> r) {
    out.emplace(std::move(r));
    done = true;
  });
  RunUntil(done, timeout + std::chrono::milliseconds(1000));
  if (!out) return Status::Error("request on \"" + std::string(subject) + "\" did not finish");
  if (!out->ok() && !async_error_.empty()) return Status::Error(async_error_);
  return std::move(*out);
}

Result<std::vector<OwnedMsg>> SyncClient::RequestMany(std::string_view subject,
                                                      std::string_view payload,
                                                      std::chrono::milliseconds timeout,
                                                      std::chrono::milliseconds quiet,
                                                      size_t max_replies) {
  if (closed_) return Status::Error(closed_reason_);
  bool done = false;
  std::optional<Result<std::vector<OwnedMsg>>> out;
  client_->RequestMany(subject, payload, timeout, quiet, max_replies,
                       [&](Result<std::vector<OwnedMsg>> r) {
                         out.emplace(std::move(r));
                         done = true;
                       });
  RunUntil(done, timeout + std::chrono::milliseconds(1000));
  if (!out) return Status::Error("request on \"" + std::string(subject) + "\" did not finish");
  return std::move(*out);
}

Status SyncClient::Subscribe(std::string_view subject, std::string_view queue) {
  if (closed_) return Status::Error(closed_reason_);
  client_->Subscribe(subject, queue, [this](const Msg& m) { inbox_.push_back(OwnedMsg::From(m)); });
  return Flush();
}

Result<OwnedMsg> SyncClient::NextMessage(std::chrono::milliseconds timeout) {
  if (inbox_.empty()) {
    bool done = false;
    net::Timer watch = loop_->Every(std::chrono::milliseconds(2), [&] {
      if (!inbox_.empty() || closed_) done = true;
    });
    RunUntil(done, timeout);
  }
  if (inbox_.empty()) {
    if (closed_) return Status::Error(closed_reason_);
    if (!async_error_.empty()) return Status::Error(async_error_);
    return Status::Error("no message arrived within " + std::to_string(timeout.count()) + " ms");
  }
  OwnedMsg m = std::move(inbox_.front());
  inbox_.pop_front();
  return m;
}

Status SyncClient::Flush(std::chrono::milliseconds timeout) {
  if (closed_) return Status::Error(closed_reason_);
  bool done = false;
  Status out;
  client_->Flush(timeout, [&](const Status& s) {
    out = s;
    done = true;
  });
  RunUntil(done, timeout + std::chrono::milliseconds(1000));
  if (!done) return Status::Error("flush did not finish");
  if (out.ok() && !async_error_.empty()) return Status::Error(async_error_);
  return out;
}

void SyncClient::Close() {
  if (closed_) return;
  bool done = false;
  client_->SetClosedHandler([&](const Status&) { done = true; });
  client_->Close();
  RunUntil(done, std::chrono::milliseconds(5000));
  closed_ = true;
  closed_reason_ = "connection closed";
}

}  // namespace meridian::natsclient
