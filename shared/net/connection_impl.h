// Private to net/: the state behind a Connection.
#pragma once

#include <string>
#include <vector>

#include "net/connection.h"
#include "net/uv_internal.h"

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace meridian::net {

// Output waiting for the kernel. Copied bytes live in `buf`; borrowed ones are referenced.
struct OutputBatch {
  struct Segment {
    const char* ptr;  // nullptr: bytes are buf[offset, offset + len)
    size_t offset;
    size_t len;
  };
  std::string buf;
  std::vector<Segment> segments;
  std::vector<Connection::Callback> done;
  size_t bytes = 0;

  void AppendCopy(std::string_view data);
  void AppendBorrowed(std::string_view data);
  void Clear();
};

struct Connection::Impl : LoopResource {
  Loop* loop = nullptr;
  Loop::Impl* L = nullptr;
  Connection* self = nullptr;
  // Holds the Connection alive while its handle is open; released in the close callback.
  ConnectionPtr keep_alive;

  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle;
  bool is_tcp = true;
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle); }
  uv_handle_t* as_handle() { return reinterpret_cast<uv_handle_t*>(&handle); }
  bool handle_open = false;  // uv_*_init done and uv_close not yet called

  ConnectionOptions options;
  std::string peer;
  std::string local;

  ReadHandler on_read;
  CloseHandler on_close;
  Callback on_high;
  Callback on_low;

  // Input: bytes [0, in_len) are received and unconsumed (plaintext when TLS is on). Reads
  // go to the loop's shared buffer while in_len is 0; `in` holds only unconsumed tails (it is
  // allocated on the first tail and released again when it grew past read_buffer_bytes).
  std::vector<char> in;
  size_t in_len = 0;
  bool read_into_shared = false;  // the pending read was given Loop::Impl::shared_in
  bool paused = false;
  bool reading = false;  // uv_read_start active
  bool needs_deliver = false;
  bool delivering = false;  // inside on_read
  bool read_handler_replaced = false;
  uint64_t watermark_generation = 0;
  bool tls_adopt_tail = false;  // StartTls ran inside on_read; hand the tail over after it

  // Output: `accum` collects this iteration's writes; `inflight` is owned by a uv_write.
  OutputBatch accum;
  OutputBatch inflight;
  size_t inflight_remaining = 0;
  bool write_in_flight = false;
  std::vector<uv_buf_t> iov;
  uv_write_t write_req;
  Timer write_timer;  // armed while a uv_write is blocked, when write_deadline_ms is set
  uv_shutdown_t shutdown_req;
  bool above_high = false;
  bool in_dirty = false;

  // Closing.
  bool closing = false;  // Close() or an error was seen; no more writes accepted
  bool shutdown_started = false;
  bool close_reported = false;
  bool close_decided = false;
  CloseInfo close_info;
  Timer close_timer;

  // TLS (all null/false when plaintext).
  std::shared_ptr<const TlsContext> tls_context;
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;
  BIO* wbio = nullptr;
  bool tls_handshaking = false;
  bool tls_established = false;
  std::string tls_server_name;
  std::string tls_plain_pending;  // writes made during the handshake
  HandshakeHandler on_handshake;
  std::vector<char> raw_in;  // ciphertext read buffer

  ~Impl() override;

  // Sets up the Connection object around this Impl; returns it.
  static ConnectionPtr Create(Loop& loop, const ConnectionOptions& options, bool is_tcp);
  void OnOpened();  // addresses, nodelay; after accept/connect

  void StartReadingIfWanted();
  void StopReading();
  void Deliver();
  // Bytes read into the loop's shared buffer: the handler sees them in place, and what it
  // leaves unconsumed is copied into `in`.
  void DeliverShared(const char* data, size_t len);
  // Calls the read handler on `data`; returns how many bytes it consumed (0 when there is no
  // handler, or reading is paused or the connection is failing).
  size_t CallReadHandler(std::string_view data);
  void KeepTail(const char* data, size_t len);
  void AfterDelivery();
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  void EnsureInputSpace();

  bool Enqueue(std::span<const std::string_view> parts, bool copy, Callback done);
  void MarkDirty();
  void FlushNow();
  void OnWriteDone(int status);
  void AfterOutputShrunk();
  void CheckHighWatermark();
  void CallWatermarkHandler(Callback& slot);
  size_t PendingBytes() const;

  void BeginGracefulClose();
  void MaybeFinishGracefulClose();
  // Closes the handle now with `reason` (the first reason other than kClosed wins).
  void CloseNow(CloseReason reason, std::string detail, bool reset);
  void OnHandleClosed();
  void CloseForShutdown() override;

  // TLS, in tls_session.cc.
  void TlsStart(std::shared_ptr<const TlsContext> context, std::string server_name,
                HandshakeHandler done);
  void TlsOnCiphertext(const char* data, size_t len);
  void TlsDoHandshake();
  void TlsPumpRead();
  void TlsWrite(std::string_view plain);
  void TlsDrainOutput();
  void TlsSendCloseNotify();
  void TlsFree();
  std::string TlsErrorSentence(const char* during);
};

}  // namespace meridian::net
