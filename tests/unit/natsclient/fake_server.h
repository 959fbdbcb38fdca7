// A scripted NATS server on its own thread and loop, for client tests without nats-server:
// sends INFO, checks CONNECT credentials (-ERR 'Authorization Violation' on a mismatch),
// answers PING, delivers PUBs to matching SUBs (literal subjects and `prefix.*`), and answers
// requests on a few service subjects:
//   svc.echo    one reply with the request's payload
//   svc.none    a 503 no-responders status (as nats-server sends for no_responders clients)
//   svc.silent  nothing (the client times out)
//   svc.many    three replies "1", "2", "3"
//   svc.close   closes the connection
// UNSUB with a max count is ignored (the client must stop delivering by itself).
#pragma once

#include <cstdint>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "net/loop.h"

namespace meridian::natsclient::testing {

class FakeServer {
 public:
  // Empty `user`: no authentication.
  FakeServer(std::string user, std::string password);
  ~FakeServer();

  uint16_t port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  // The last CONNECT JSON received.
  std::string last_connect();

 private:
  void Main(std::promise<uint16_t> ready);

  std::string user_, password_;
  uint16_t port_ = 0;
  std::thread thread_;
  net::Loop* loop_ = nullptr;
  std::mutex mu_;
  std::string last_connect_;
};

}  // namespace meridian::natsclient::testing
