// Private to net/ and http/: the libuv-level pieces behind the public types.
#pragma once

#include <uv.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "net/connection.h"
#include "net/loop.h"

namespace meridian::net {

// Something holding libuv handles that must be closed when the Loop is destroyed.
class LoopResource {
 public:
  virtual ~LoopResource() = default;
  virtual void CloseForShutdown() = 0;
};

struct IterationHook::Impl {
  Loop::Callback cb;
  bool cancelled = false;
};

struct Loop::Impl {
  uv_loop_t loop;
  uv_async_t async;
  uv_prepare_t prepare;
  uv_check_t check;
  uv_signal_t signals[3];
  bool signals_started = false;
  std::function<void(int)> on_signal;

  std::mutex posted_mu;
  std::vector<Loop::Callback> posted;
  std::vector<Loop::Callback> running;

  // Connections with output to flush or input to re-deliver at the end of this iteration.
  std::vector<Connection::Impl*> dirty;
  std::vector<Connection::Impl*> dirty_scratch;

  // One read buffer for every connection of this loop that holds no unconsumed input (and
  // for TLS ciphertext, which is copied into the BIO at once): a connection reads into it and
  // keeps only the tail its handler leaves unconsumed, so idle connections own no input
  // memory. Busy while a read handler looks at it (a handler that runs the loop nested makes
  // the other connections read into their own buffers meanwhile).
  std::vector<char> shared_in;
  bool shared_in_busy = false;

  std::unordered_set<LoopResource*> resources;
  bool shutting_down = false;
  bool timed_out = false;

  Loop* owner = nullptr;

  // IterationHooks, run in the check phase (a cancelled one is dropped there).
  std::vector<std::shared_ptr<IterationHook::Impl>> hooks;

  void ProcessDirty();
  void RunHooks();
};

// "127.0.0.1:4222" / "[::1]:4222" from a sockaddr.
std::string SockaddrToString(const struct sockaddr* addr);
// strerror-like text for a libuv error code.
std::string UvError(int code);

}  // namespace meridian::net
