// Connection: one TCP or Unix stream socket (optionally TLS) owned by a Loop.
//
// Reading: the read handler gets a view of every byte received and not yet consumed, in a
// buffer the connection owns and reuses; it returns how many bytes it consumed, and the
// unconsumed tail is kept and the next bytes are appended to it (a parser never has to copy a
// partial frame). The view is valid only during the call.
// Writing: Write() copies into a reusable output buffer; WriteBorrowed() sends caller memory
// without copying, which must stay valid until its `done` callback runs. Writes made during
// one loop iteration are coalesced into one writev. Pending output is watched against a high
// and a low watermark (callbacks, so a proxy can pause the other side) and a hard limit that
// closes the connection with kSlowConsumer.
// Lifetime: hold it by ConnectionPtr; the Loop keeps it alive until the socket is closed.
// The close handler runs exactly once, with the reason. Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "net/status.h"

namespace meridian::net {

class Loop;
class TlsContext;

enum class CloseReason {
  kClosed,         // Close() finished flushing and the socket is closed.
  kAborted,        // Abort() was called; unsent output was dropped.
  kPeerClosed,     // The peer closed its side (EOF) or reset the connection.
  kReadError,      // A socket read failed.
  kWriteError,     // A socket write failed (peer gone).
  kSlowConsumer,   // Pending output passed ConnectionOptions::max_pending_output.
  kWriteDeadline,  // A write stayed unfinished past ConnectionOptions::write_deadline_ms.
  kInputTooLarge,  // Unconsumed input filled ConnectionOptions::max_input_buffer.
  kTlsError,       // TLS handshake or record failure (detail says which).
  kLoopShutdown,   // The Loop was destroyed while the connection was open.
};

// A short name such as "slow consumer", for logs.
const char* CloseReasonName(CloseReason reason);

struct CloseInfo {
  CloseReason reason = CloseReason::kClosed;
  // A sentence with the details (errno text, TLS verify error...); may be empty.
  std::string detail;
};

struct ConnectionOptions {
  // Initial read buffer; it grows (up to max_input_buffer) when a parser keeps a big tail.
  size_t read_buffer_bytes = 64 * 1024;
  size_t max_input_buffer = 8 * 1024 * 1024;
  // on_high_watermark fires when pending output rises above high_watermark; on_low_watermark
  // fires when it then drains to low_watermark or below.
  size_t high_watermark = 1024 * 1024;
  size_t low_watermark = 256 * 1024;
  // Above this much pending output the connection is aborted with kSlowConsumer (0: no limit).
  size_t max_pending_output = 64 * 1024 * 1024;
  // A write the kernel has not taken whole within this long (the peer stopped reading and
  // the socket buffer is full) aborts the connection with kWriteDeadline; 0: no deadline.
  // The clock runs only while a write is blocked, and restarts with each new write.
  uint32_t write_deadline_ms = 0;
  bool tcp_nodelay = true;
  // Close() gives up flushing after this long and aborts (a peer that never reads).
  uint32_t close_timeout_ms = 10000;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Returns how many bytes of `data` were consumed (0..data.size()).
  using ReadHandler = std::function<size_t(std::string_view data)>;
  using CloseHandler = std::function<void(const CloseInfo&)>;
  using Callback = std::function<void()>;
  using HandshakeHandler = std::function<void(const Status&)>;

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Installing a read handler starts reading (unless paused).
  void SetReadHandler(ReadHandler handler);
  void SetCloseHandler(CloseHandler handler);
  void SetWatermarkHandlers(Callback on_high, Callback on_low);

  // Drops every handler (read, close, watermarks, TLS handshake): for an owner that goes away
  // while the connection may still be open. Input that arrives afterwards is discarded.
  void DetachHandlers();

  void PauseReading();
  void ResumeReading();
  bool reading_paused() const;

  // Queues a copy of `bytes`. Returns false (and drops them) when closing or closed.
  bool Write(std::string_view bytes);
  bool Write(std::span<const std::string_view> parts);
  // Queues `parts` without copying; their memory must stay valid until `done` runs (it runs
  // when the bytes were handed to the kernel, or when the connection closes). With TLS the
  // bytes are encrypted at once and `done` runs before this returns.
  bool WriteBorrowed(std::span<const std::string_view> parts, Callback done = nullptr);
  // Sends what is queued now instead of at the end of this loop iteration.
  void Flush();

  // Bytes queued and not yet accepted by the kernel (ciphertext when TLS is on).
  size_t pending_output() const;
  bool above_high_watermark() const;

  // Graceful: stops reading, flushes pending output (and TLS close_notify), then closes.
  void Close();
  // Immediate: drops pending output and closes (TCP sends a reset).
  void Abort();
  bool closing() const;

  // Starts TLS on this socket, now: at once for "TLS first", or after plaintext was
  // exchanged (NATS INFO, then upgrade). Unconsumed input already read is handed to TLS.
  // `server_name` (client only) is checked against the server's certificate and sent as
  // SNI. `done` runs once with the handshake result; a failed handshake also closes the
  // connection with kTlsError. Writes made before the handshake finishes are sent after it.
  void StartTls(std::shared_ptr<const TlsContext> context, std::string server_name,
                HandshakeHandler done);
  bool tls_active() const;
  // After a TLS handshake: the peer certificate's subject, or empty.
  std::string tls_peer_subject() const;

  // "127.0.0.1:4222", "[::1]:4222" or "unix:/path".
  const std::string& peer_address() const;
  const std::string& local_address() const;
  Loop& loop() const;

  struct Impl;
  Impl* impl() const { return impl_.get(); }
  explicit Connection(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

using ConnectionPtr = std::shared_ptr<Connection>;

}  // namespace meridian::net
