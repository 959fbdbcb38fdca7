// A raw NATS client socket on the test's own loop (node server unit tests).
#pragma once
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"

namespace meridian::server {

class RawClient {
 public:
  RawClient(net::Loop& loop, uint16_t port) : loop_(loop) {
    bool done = false;
    net::Connect(loop, net::Endpoint::Tcp("127.0.0.1", port), {}, [&](auto r) {
      done = true;
      if (!r.ok()) return;
      conn_ = r.value();
      conn_->SetReadHandler([this](std::string_view d) {
        received_.append(d);
        return d.size();
      });
      conn_->SetCloseHandler([this](const net::CloseInfo&) { closed_ = true; });
    });
    while (!done) loop.RunFor(std::chrono::milliseconds(10));
    if (!conn_) throw std::runtime_error("connect failed");
    WaitFor("\r\n");
  }
  ~RawClient() {
    if (conn_) {
      conn_->DetachHandlers();
      conn_->Abort();
    }
  }
  void Send(std::string_view bytes) { conn_->Write(bytes); }
  // Runs the loop until `text` was received (true) or `limit` passed (false).
  bool WaitFor(std::string_view text, std::chrono::milliseconds limit = std::chrono::seconds(2)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (received_.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.RunFor(std::chrono::milliseconds(5));
    }
    return true;
  }
  bool WaitClosed() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!closed_) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.RunFor(std::chrono::milliseconds(5));
    }
    return true;
  }
  void PauseReading() { conn_->PauseReading(); }
  void Abort() {
    conn_->DetachHandlers();
    conn_->Abort();
    conn_ = nullptr;
  }
  void ResumeReading() { conn_->ResumeReading(); }
  void Settle() {
    for (int i = 0; i < 10; ++i) loop_.RunFor(std::chrono::milliseconds(5));
  }
  std::string& received() { return received_; }
  bool closed() const { return closed_; }

 private:
  net::Loop& loop_;
  net::ConnectionPtr conn_;
  std::string received_;
  bool closed_ = false;
};

}  // namespace meridian::server
