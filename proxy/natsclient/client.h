// Client: a NATS client connection on a net::Loop (core NATS only: no JetStream logic).
//
// Connect() dials the first reachable server of Options::servers, reads INFO, upgrades to TLS
// when asked or required, sends CONNECT (headers and no_responders on) and PING, and reports
// success on the first PONG, or the server's -ERR as a sentence. Then Publish, Subscribe,
// Request (over one shared `_INBOX.<random>.*` subscription), RequestMany (gather replies
// until a count, a quiet gap or a deadline) and Flush (PING/PONG). No reconnect: a lost
// connection fails every pending request and calls the closed handler. Loop thread only;
// hold it by shared_ptr (callbacks keep it alive through the connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/status.h"
#include "net/tls.h"

namespace meridian::net {
class Loop;
}

namespace meridian::natsclient {

struct Options {
  // "nats://host:port", "tls://host:port", "host:port"; tried in order at Connect().
  std::vector<std::string> servers = {"nats://127.0.0.1:4222"};
  std::string user, password, token;
  // TLS files; used when set, when a URL says tls://, or when the server requires TLS.
  std::optional<net::TlsConfig> tls;
  std::string name = "meridian";
  std::chrono::milliseconds connect_timeout{5000};
};

// A received message. Views are valid only during the callback; Owned() copies.
struct Msg {
  std::string_view subject;
  std::string_view reply;
  std::string_view headers;  // the raw header block (`NATS/1.0...`), empty without headers
  std::string_view payload;
  int status = 0;  // header status line code (503, 404, 408...), 0 when none
};

struct OwnedMsg {
  std::string subject, reply, headers, payload;
  int status = 0;
  static OwnedMsg From(const Msg& m);
};

using MsgHandler = std::function<void(const Msg&)>;
using StatusHandler = std::function<void(const net::Status&)>;
using ReplyHandler = std::function<void(net::Result<OwnedMsg>)>;

// Splits "a,b , c" into URLs; an empty text gives none.
std::vector<std::string> SplitServerList(std::string_view text);
// The inbox prefix for a client: `_INBOX.` and 22 random base62 characters.
std::string NewInboxPrefix();
// The sentence for a server -ERR text received while connecting or later.
std::string DescribeServerError(std::string_view err_text);

class Client : public std::enable_shared_from_this<Client> {
 public:
  static std::shared_ptr<Client> Create(net::Loop& loop, Options options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Calls `done` once: ok when CONNECT was accepted (PONG received), or why not (every server
  // tried, the last error kept, with the others named).
  void Connect(StatusHandler done);
  bool connected() const;
  // The server's INFO JSON text (after Connect).
  const std::string& server_info() const;
  // Name/id of the server connected to (from INFO).
  const std::string& server_name() const;

  // Errors: not connected, or headers invalid. `headers` is a whole block (proto HeaderBuilder).
  net::Status Publish(std::string_view subject, std::string_view payload,
                      std::string_view reply = {}, std::string_view headers = {});
  // Returns the sid (> 0). The handler runs on the loop thread for every message.
  uint64_t Subscribe(std::string_view subject, std::string_view queue, MsgHandler handler);
  // max_msgs 0: now; otherwise after that many more messages.
  void Unsubscribe(uint64_t sid, uint64_t max_msgs = 0);

  // One reply, or an error: timeout, no responders (503), connection lost.
  void Request(std::string_view subject, std::string_view payload, std::string_view headers,
               std::chrono::milliseconds timeout, ReplyHandler done);
  // Every reply until `max_replies` arrived (0: no limit), `quiet` passed after the latest
  // reply, or `timeout` passed; `done` gets them all (an empty list is not an error).
  void RequestMany(std::string_view subject, std::string_view payload,
                   std::chrono::milliseconds timeout, std::chrono::milliseconds quiet,
                   size_t max_replies,
                   std::function<void(net::Result<std::vector<OwnedMsg>>)> done);
  // PING; `done` on the PONG, or with an error after `timeout` / connection loss.
  void Flush(std::chrono::milliseconds timeout, StatusHandler done);

  // Called once when an established connection is lost or closed, with the reason.
  void SetClosedHandler(StatusHandler handler);
  // Asynchronous errors (-ERR after connect, e.g. permissions violations).
  void SetErrorHandler(std::function<void(const std::string&)> handler);
  // Flushes and closes. Pending requests fail with "connection closed".
  void Close();

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::natsclient
