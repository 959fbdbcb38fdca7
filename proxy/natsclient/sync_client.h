// SyncClient: a blocking facade over Client for programs without an event loop of their own
// (the `meridian` CLI). It owns a net::Loop and runs it on the calling thread until the
// result of each call is in; between calls nothing runs (messages for subscriptions wait in
// the socket and are delivered during the next call). Not thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "natsclient/client.h"
#include "net/status.h"

namespace meridian::net {
class Loop;
}

namespace meridian::natsclient {

class SyncClient {
 public:
  // Connects; the error is a sentence naming the servers tried.
  static net::Result<std::unique_ptr<SyncClient>> Connect(Options options);
  ~SyncClient();
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;

  const std::string& server_info() const;
  const std::string& server_name() const;

  net::Status Publish(std::string_view subject, std::string_view payload,
                      std::string_view headers = {});
  net::Result<OwnedMsg> Request(std::string_view subject, std::string_view payload,
                                std::chrono::milliseconds timeout, std::string_view headers = {});
  net::Result<std::vector<OwnedMsg>> RequestMany(std::string_view subject, std::string_view payload,
                                                 std::chrono::milliseconds timeout,
                                                 std::chrono::milliseconds quiet,
                                                 size_t max_replies = 0);
  // Subscribes; messages queue up until NextMessage() takes them.
  net::Status Subscribe(std::string_view subject, std::string_view queue = {});
  // The next message of any subscription, or an error after `timeout`.
  net::Result<OwnedMsg> NextMessage(std::chrono::milliseconds timeout);
  // Round trip to the server: everything published before has been received by it.
  net::Status Flush(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  void Close();

  // The loop and client, for callers that want to mix in async calls.
  net::Loop& loop();
  Client& client();

 private:
  SyncClient();
  // Runs the loop until *done or the loop has nothing left to do; true when *done.
  bool RunUntil(const bool& done, std::chrono::milliseconds limit);

  std::unique_ptr<net::Loop> loop_;
  std::shared_ptr<Client> client_;
  std::deque<OwnedMsg> inbox_;
  std::string async_error_;
  bool closed_ = false;
  std::string closed_reason_;
};

}  // namespace meridian::natsclient
