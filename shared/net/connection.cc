#include "net/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cstring>

#include "net/connection_impl.h"
#include "net/loop.h"

namespace meridian::net {

const char* CloseReasonName(CloseReason reason) {
  switch (reason) {
    case CloseReason::kClosed:
      return "closed";
    case CloseReason::kAborted:
      return "aborted";
    case CloseReason::kPeerClosed:
      return "peer closed";
    case CloseReason::kReadError:
      return "read error";
    case CloseReason::kWriteError:
      return "write error";
    case CloseReason::kSlowConsumer:
      return "slow consumer";
    case CloseReason::kWriteDeadline:
      return "write deadline";
    case CloseReason::kInputTooLarge:
      return "input too large";
    case CloseReason::kTlsError:
      return "tls error";
    case CloseReason::kLoopShutdown:
      return "loop shutdown";
  }
  return "unknown";
}

// ---- OutputBatch ------------------------------------------------------------------------

void OutputBatch::AppendCopy(std::string_view data) {
  if (data.empty()) return;
  size_t offset = buf.size();
  buf.append(data.data(), data.size());
  if (!segments.empty() && segments.back().ptr == nullptr &&
      segments.back().offset + segments.back().len == offset) {
    segments.back().len += data.size();
  } else {
    segments.push_back({nullptr, offset, data.size()});
  }
  bytes += data.size();
}

void OutputBatch::AppendBorrowed(std::string_view data) {
  if (data.empty()) return;
  segments.push_back({data.data(), 0, data.size()});
  bytes += data.size();
}

void OutputBatch::Clear() {
  buf.clear();
  segments.clear();
  done.clear();
  bytes = 0;
}

// ---- Impl: lifetime ---------------------------------------------------------------------

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Connection::~Connection() = default;

Connection::Impl::~Impl() {
  TlsFree();
}

ConnectionPtr Connection::Impl::Create(Loop& loop, const ConnectionOptions& options, bool is_tcp) {
  auto impl = std::make_unique<Impl>();
  Impl* raw = impl.get();
  raw->loop = &loop;
  raw->L = loop.impl();
  raw->options = options;
  raw->is_tcp = is_tcp;
  if (is_tcp) {
    uv_tcp_init(&raw->L->loop, &raw->handle.tcp);
  } else {
    uv_pipe_init(&raw->L->loop, &raw->handle.pipe, 0);
  }
  raw->as_handle()->data = raw;
  raw->handle_open = true;
  raw->write_req.data = raw;
  raw->shutdown_req.data = raw;
  auto conn = std::make_shared<Connection>(std::move(impl));
  raw->self = conn.get();
  raw->keep_alive = conn;
  raw->L->resources.insert(raw);
  return conn;
}

void Connection::Impl::OnOpened() {
  if (is_tcp) {
    if (options.tcp_nodelay) uv_tcp_nodelay(&handle.tcp, 1);
    sockaddr_storage addr;
    int len = sizeof(addr);
    if (uv_tcp_getpeername(&handle.tcp, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      peer = SockaddrToString(reinterpret_cast<sockaddr*>(&addr));
    }
    len = sizeof(addr);
    if (uv_tcp_getsockname(&handle.tcp, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      local = SockaddrToString(reinterpret_cast<sockaddr*>(&addr));
    }
  } else {
    char path[1024];
    size_t len = sizeof(path);
    if (uv_pipe_getsockname(&handle.pipe, path, &len) == 0)
      local = "unix:" + std::string(path, len);
    len = sizeof(path);
    if (uv_pipe_getpeername(&handle.pipe, path, &len) == 0) peer = "unix:" + std::string(path, len);
    if (peer == "unix:") peer = local;
  }
}

// ---- Reading ----------------------------------------------------------------------------

void Connection::Impl::EnsureInputSpace() {
  size_t want_free = std::max<size_t>(options.read_buffer_bytes / 4, 4096);
  if (in.size() - in_len >= want_free) return;
  size_t grown = std::max(in.size() * 2, in_len + options.read_buffer_bytes);
  grown = std::min(grown, std::max(options.max_input_buffer, options.read_buffer_bytes));
  if (grown > in.size()) in.resize(grown);
}

void Connection::Impl::StartReadingIfWanted() {
  if (reading || paused || closing || !handle_open || (!on_read && !delivering)) return;
  reading = true;
  uv_read_start(
      stream(),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<Impl*>(h->data);
        Loop::Impl* L = self->L;
        if (self->ssl) {
          // Ciphertext is copied into the BIO as soon as it is read.
          std::vector<char>& raw = L->shared_in_busy ? self->raw_in : L->shared_in;
          if (raw.size() < 64 * 1024) raw.resize(64 * 1024);
          *buf = uv_buf_init(raw.data(), 64 * 1024);
          return;
        }
        if (self->in_len == 0 && !L->shared_in_busy) {
          const size_t want = std::max<size_t>(self->options.read_buffer_bytes, 4096);
          if (L->shared_in.size() < want) L->shared_in.resize(want);
          self->read_into_shared = true;
          *buf = uv_buf_init(L->shared_in.data(), static_cast<unsigned>(want));
          return;
        }
        self->EnsureInputSpace();
        *buf = uv_buf_init(self->in.data() + self->in_len,
                           static_cast<unsigned>(self->in.size() - self->in_len));
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        static_cast<Impl*>(s->data)->OnRead(nread, buf);
      });
}

void Connection::Impl::StopReading() {
  if (!reading) return;
  reading = false;
  if (handle_open) uv_read_stop(stream());
}

void Connection::Impl::OnRead(ssize_t nread, const uv_buf_t* buf) {
  const bool shared = read_into_shared;
  read_into_shared = false;
  if (nread == 0) return;
  if (nread == UV_ENOBUFS) {
    CloseNow(CloseReason::kInputTooLarge,
             "the peer sent more than " + std::to_string(options.max_input_buffer) +
                 " bytes that the reader did not consume; raise max_input_buffer or check the "
                 "peer's framing",
             true);
    return;
  }
  if (nread < 0) {
    if (nread == UV_EOF || nread == UV_ECONNRESET) {
      CloseNow(CloseReason::kPeerClosed,
               nread == UV_EOF ? "the peer closed the connection" : "the peer reset the connection",
               false);
    } else {
      CloseNow(CloseReason::kReadError,
               "reading from " + peer + " failed: " + UvError(static_cast<int>(nread)), true);
    }
    return;
  }
  if (ssl) {
    TlsOnCiphertext(buf->base, static_cast<size_t>(nread));
    return;
  }
  if (shared) {
    DeliverShared(buf->base, static_cast<size_t>(nread));
  } else {
    in_len += static_cast<size_t>(nread);
    Deliver();
  }
  if (!closing && !paused && in_len >= options.max_input_buffer) {
    CloseNow(CloseReason::kInputTooLarge,
             "the peer sent more than " + std::to_string(options.max_input_buffer) +
                 " bytes that the reader did not consume; raise max_input_buffer or check the "
                 "peer's framing",
             true);
  }
}

size_t Connection::Impl::CallReadHandler(std::string_view data) {
  if (data.empty() || paused || !on_read || !handle_open) return 0;
  if (closing && close_info.reason != CloseReason::kClosed) return 0;
  ConnectionPtr hold = keep_alive;  // the handler may drop the last user reference
  // The handler may replace or drop itself (SetReadHandler, DetachHandlers): call a moved-out
  // copy so its closure stays alive for the call.
  ReadHandler handler = std::move(on_read);
  on_read = nullptr;
  read_handler_replaced = false;
  delivering = true;
  size_t consumed = handler(data);
  delivering = false;
  if (!read_handler_replaced) on_read = std::move(handler);
  return std::min(consumed, data.size());
}

void Connection::Impl::Deliver() {
  needs_deliver = false;
  size_t consumed = CallReadHandler(std::string_view(in.data(), in_len));
  if (consumed >= in_len) {
    in_len = 0;
  } else if (consumed > 0) {
    std::memmove(in.data(), in.data() + consumed, in_len - consumed);
    in_len -= consumed;
  }
  AfterDelivery();
}

void Connection::Impl::DeliverShared(const char* data, size_t len) {
  L->shared_in_busy = true;
  size_t consumed = CallReadHandler(std::string_view(data, len));
  L->shared_in_busy = false;
  if (consumed < len) KeepTail(data + consumed, len - consumed);
  AfterDelivery();
}

void Connection::Impl::KeepTail(const char* data, size_t len) {
  // in_len is 0 unless a handler ran the loop nested and this connection read meanwhile:
  // those bytes came later, so the tail goes before them.
  const size_t want =
      std::max(in_len + len + options.read_buffer_bytes / 4, options.read_buffer_bytes);
  if (in.size() < want) in.resize(want);
  if (in_len > 0) std::memmove(in.data() + len, in.data(), in_len);
  std::memcpy(in.data(), data, len);
  in_len += len;
}

void Connection::Impl::AfterDelivery() {
  if (tls_adopt_tail) {  // StartTls() was called by the handler: the rest is ciphertext
    tls_adopt_tail = false;
    if (in_len > 0 && ssl && handle_open) {
      // The tail is ciphertext: it leaves `in` (which from now on holds plaintext only).
      // TlsOnCiphertext copies it into the BIO before the handshake may write to `in`.
      size_t n = in_len;
      in_len = 0;
      TlsOnCiphertext(in.data(), n);
    }
  }
  // A buffer that grew for one big frame is given back once it holds nothing.
  if (in_len == 0 && in.size() > options.read_buffer_bytes && !ssl) {
    std::vector<char>().swap(in);
  }
}

// ---- Writing ----------------------------------------------------------------------------

size_t Connection::Impl::PendingBytes() const {
  return accum.bytes + inflight_remaining + tls_plain_pending.size();
}

void Connection::Impl::MarkDirty() {
  if (in_dirty) return;
  in_dirty = true;
  L->dirty.push_back(this);
}

void Loop::Impl::ProcessDirty() {
  while (!dirty.empty()) {
    dirty_scratch.swap(dirty);
    for (Connection::Impl* c : dirty_scratch) {
      c->in_dirty = false;
      if (!c->handle_open) continue;
      if (c->needs_deliver) {
        if (c->ssl && c->tls_established) {
          c->TlsPumpRead();  // also decrypts what waited in the BIO while paused
        } else {
          c->Deliver();
        }
      }
      c->FlushNow();
    }
    dirty_scratch.clear();
  }
}

bool Connection::Impl::Enqueue(std::span<const std::string_view> parts, bool copy, Callback done) {
  if (closing || !handle_open) {
    if (done) done();
    return false;
  }
  if (ssl) {
    for (auto p : parts) TlsWrite(p);
    if (done) done();
  } else {
    for (auto p : parts) {
      if (copy) {
        accum.AppendCopy(p);
      } else {
        accum.AppendBorrowed(p);
      }
    }
    if (done) accum.done.push_back(std::move(done));
  }
  if (options.max_pending_output != 0 && PendingBytes() > options.max_pending_output) {
    CloseNow(CloseReason::kSlowConsumer,
             "the peer " + peer + " is not reading fast enough: " + std::to_string(PendingBytes()) +
                 " bytes are pending, over the limit of " +
                 std::to_string(options.max_pending_output),
             true);
    return false;
  }
  CheckHighWatermark();
  MarkDirty();
  return true;
}

void Connection::Impl::CallWatermarkHandler(Callback& slot) {
  if (!slot) return;
  // The handler may replace the handlers; keep its closure alive for the call.
  Callback cb = std::move(slot);
  slot = nullptr;
  uint64_t generation = watermark_generation;
  ConnectionPtr hold = keep_alive;
  cb();
  if (generation == watermark_generation) slot = std::move(cb);
}

void Connection::Impl::CheckHighWatermark() {
  if (!above_high && PendingBytes() > options.high_watermark) {
    above_high = true;
    CallWatermarkHandler(on_high);
  }
}

void Connection::Impl::AfterOutputShrunk() {
  if (above_high && PendingBytes() <= options.low_watermark) {
    above_high = false;
    CallWatermarkHandler(on_low);
  }
  MaybeFinishGracefulClose();
}

void Connection::Impl::FlushNow() {
  if (write_in_flight || accum.bytes == 0 || !handle_open) return;
  iov.clear();
  for (const auto& s : accum.segments) {
    const char* base = s.ptr ? s.ptr : accum.buf.data() + s.offset;
    iov.push_back(uv_buf_init(const_cast<char*>(base), static_cast<unsigned>(s.len)));
  }
  int n = uv_try_write(stream(), iov.data(), static_cast<unsigned>(iov.size()));
  if (n < 0 && n != UV_EAGAIN && n != UV_ENOSYS) {
    CloseNow(CloseReason::kWriteError, "writing to " + peer + " failed: " + UvError(n), true);
    return;
  }
  size_t written = n > 0 ? static_cast<size_t>(n) : 0;
  if (written == accum.bytes) {
    std::vector<Callback> done;
    done.swap(accum.done);
    accum.Clear();
    for (auto& d : done) d();
    AfterOutputShrunk();
    return;
  }
  // Hand the rest to a uv_write; new writes accumulate in the other batch meanwhile.
  size_t first = 0;
  while (written >= iov[first].len) {
    written -= iov[first].len;
    ++first;
  }
  iov[first].base += written;
  iov[first].len -= written;
  std::swap(accum, inflight);
  inflight_remaining = inflight.bytes - (n > 0 ? static_cast<size_t>(n) : 0);
  write_in_flight = true;
  int rc = uv_write(
      &write_req, stream(), iov.data() + first, static_cast<unsigned>(iov.size() - first),
      [](uv_write_t* req, int status) { static_cast<Impl*>(req->data)->OnWriteDone(status); });
  if (rc != 0) {
    write_in_flight = false;
    CloseNow(CloseReason::kWriteError, "writing to " + peer + " failed: " + UvError(rc), true);
    return;
  }
  if (options.write_deadline_ms != 0) {
    uint32_t ms = options.write_deadline_ms;
    write_timer = loop->After(std::chrono::milliseconds(ms), [this, ms] {
      CloseNow(CloseReason::kWriteDeadline,
               "the peer " + peer + " did not take " + std::to_string(PendingBytes()) +
                   " pending bytes within the write deadline of " + std::to_string(ms) + " ms",
               true);
    });
  }
  if (n > 0) AfterOutputShrunk();
}

void Connection::Impl::OnWriteDone(int status) {
  write_in_flight = false;
  write_timer.Cancel();
  inflight_remaining = 0;
  std::vector<Callback> done;
  done.swap(inflight.done);
  inflight.Clear();
  for (auto& d : done) d();
  if (status < 0) {
    if (status != UV_ECANCELED) {
      CloseNow(CloseReason::kWriteError, "writing to " + peer + " failed: " + UvError(status),
               true);
    }
    return;
  }
  if (accum.bytes > 0) FlushNow();
  AfterOutputShrunk();
}

// ---- Closing ----------------------------------------------------------------------------

void Connection::Impl::BeginGracefulClose() {
  if (closing) return;
  closing = true;
  close_decided = true;
  close_info = {CloseReason::kClosed, ""};
  StopReading();
  if (ssl && tls_established) TlsSendCloseNotify();
  uint32_t ms = options.close_timeout_ms;
  close_timer = loop->After(std::chrono::milliseconds(ms), [this, ms] {
    CloseNow(CloseReason::kSlowConsumer,
             "the peer " + peer + " did not take the last output within " + std::to_string(ms) +
                 " ms of closing",
             true);
  });
  if (accum.bytes > 0) MarkDirty();
  MaybeFinishGracefulClose();
}

void Connection::Impl::MaybeFinishGracefulClose() {
  if (!closing || shutdown_started || !handle_open || PendingBytes() > 0 || write_in_flight) {
    return;
  }
  if (close_info.reason != CloseReason::kClosed) return;
  shutdown_started = true;
  int rc = uv_shutdown(&shutdown_req, stream(), [](uv_shutdown_t* req, int) {
    auto* self = static_cast<Impl*>(req->data);
    self->CloseNow(CloseReason::kClosed, "", false);
  });
  if (rc != 0) CloseNow(CloseReason::kClosed, "", false);
}

void Connection::Impl::CloseNow(CloseReason reason, std::string detail, bool reset) {
  // The first reason wins, except that an error found while flushing a Close() replaces it.
  if (!close_decided || (close_info.reason == CloseReason::kClosed &&
                         reason != CloseReason::kClosed && !close_reported)) {
    close_decided = true;
    close_info.reason = reason;
    close_info.detail = std::move(detail);
  }
  closing = true;
  if (!handle_open) return;
  handle_open = false;
  StopReading();
  reading = false;
  close_timer.Cancel();
  write_timer.Cancel();
  L->resources.erase(this);
  if (reset && is_tcp && !shutdown_started) {
    if (uv_tcp_close_reset(&handle.tcp, [](uv_handle_t* h) {
          static_cast<Impl*>(h->data)->OnHandleClosed();
        }) == 0) {
      return;
    }
  }
  uv_close(as_handle(), [](uv_handle_t* h) { static_cast<Impl*>(h->data)->OnHandleClosed(); });
}

void Connection::Impl::OnHandleClosed() {
  if (in_dirty) {
    L->dirty.erase(std::remove(L->dirty.begin(), L->dirty.end(), this), L->dirty.end());
    in_dirty = false;
  }
  // Borrowed memory is released: the bytes will never be sent.
  std::vector<Callback> done;
  done.swap(accum.done);
  for (auto& d : inflight.done) done.push_back(std::move(d));
  accum.Clear();
  inflight.Clear();
  inflight_remaining = 0;
  tls_plain_pending.clear();
  for (auto& d : done) d();
  if (on_handshake) {
    auto cb = std::move(on_handshake);
    on_handshake = nullptr;
    cb(Status::Error("the connection to " + peer + " closed before the TLS handshake finished (" +
                     CloseReasonName(close_info.reason) + ")"));
  }
  close_reported = true;
  ConnectionPtr hold = std::move(keep_alive);
  if (on_close) {
    auto cb = std::move(on_close);
    on_close = nullptr;
    cb(close_info);
  }
  on_read = nullptr;
  on_high = nullptr;
  on_low = nullptr;
}

void Connection::Impl::CloseForShutdown() {
  CloseNow(CloseReason::kLoopShutdown, "the event loop was shut down", false);
}

// ---- Connection -------------------------------------------------------------------------

void Connection::SetReadHandler(ReadHandler handler) {
  impl_->on_read = std::move(handler);
  impl_->read_handler_replaced = true;
  impl_->StartReadingIfWanted();
}

void Connection::SetCloseHandler(CloseHandler handler) {
  impl_->on_close = std::move(handler);
}

void Connection::SetWatermarkHandlers(Callback on_high, Callback on_low) {
  impl_->on_high = std::move(on_high);
  impl_->on_low = std::move(on_low);
  ++impl_->watermark_generation;
}

void Connection::DetachHandlers() {
  impl_->on_read = [](std::string_view data) { return data.size(); };
  impl_->read_handler_replaced = true;
  impl_->on_close = nullptr;
  impl_->on_high = nullptr;
  impl_->on_low = nullptr;
  ++impl_->watermark_generation;
  impl_->on_handshake = nullptr;
}

void Connection::PauseReading() {
  impl_->paused = true;
  impl_->StopReading();
}

void Connection::ResumeReading() {
  if (!impl_->paused) return;
  impl_->paused = false;
  impl_->StartReadingIfWanted();
  if (impl_->in_len > 0 && impl_->handle_open) {
    impl_->needs_deliver = true;
    impl_->MarkDirty();
  }
}

bool Connection::reading_paused() const {
  return impl_->paused;
}

bool Connection::Write(std::string_view bytes) {
  std::string_view parts[1] = {bytes};
  return impl_->Enqueue(parts, true, nullptr);
}

bool Connection::Write(std::span<const std::string_view> parts) {
  return impl_->Enqueue(parts, true, nullptr);
}

bool Connection::WriteBorrowed(std::span<const std::string_view> parts, Callback done) {
  return impl_->Enqueue(parts, false, std::move(done));
}

void Connection::Flush() {
  impl_->FlushNow();
}

size_t Connection::pending_output() const {
  return impl_->PendingBytes();
}

bool Connection::above_high_watermark() const {
  return impl_->above_high;
}

void Connection::Close() {
  impl_->BeginGracefulClose();
}

void Connection::Abort() {
  impl_->CloseNow(CloseReason::kAborted, "closed by this side without flushing", true);
}

bool Connection::closing() const {
  return impl_->closing;
}

void Connection::StartTls(std::shared_ptr<const TlsContext> context, std::string server_name,
                          HandshakeHandler done) {
  impl_->TlsStart(std::move(context), std::move(server_name), std::move(done));
}

bool Connection::tls_active() const {
  return impl_->tls_established;
}

const std::string& Connection::peer_address() const {
  return impl_->peer;
}
const std::string& Connection::local_address() const {
  return impl_->local;
}
Loop& Connection::loop() const {
  return *impl_->loop;
}

}  // namespace meridian::net
