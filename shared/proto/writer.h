// Batches outgoing NATS protocol ops into an iovec array for writev()/uv_write().
//
// Control lines are formatted exactly as nats-server and the clients write them; payloads and
// raw op bytes are referenced, not copied.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::proto {

// Appends ops to a batch. Control lines (and other small framing) go into one internal buffer
// that is reused across batches; payload, header and Raw() views are referenced by pointer, so
// *they must stay valid and unchanged until the batch has been written and Clear() called*.
// Iovecs() builds the array on demand; it is valid until the next append or Clear(). Not thread
// safe. Nothing is validated here (subjects, sids): callers write what they mean.
class Writer {
 public:
  // Views of at most `copy_below` bytes are copied into the buffer instead of referenced, which
  // keeps the iovec count down for tiny payloads. 0 (the default) never copies a view.
  explicit Writer(size_t copy_below = 0);

  // `PUB <subject> [reply ]<#bytes>\r\n<payload>\r\n`
  void Pub(std::string_view subject, std::string_view reply, std::string_view payload);
  // `HPUB <subject> [reply ]<#hdr> <#total>\r\n<headers><payload>\r\n`
  void Hpub(std::string_view subject, std::string_view reply, std::string_view headers,
            std::string_view payload);
  // `SUB <subject> [queue ]<sid>\r\n`
  void Sub(std::string_view subject, std::string_view queue, std::string_view sid);
  // `UNSUB <sid>[ <max>]\r\n`
  void Unsub(std::string_view sid, std::optional<uint64_t> max_msgs = std::nullopt);
  // `MSG <subject> <sid> [reply ]<#bytes>\r\n<payload>\r\n`
  void Msg(std::string_view subject, std::string_view sid, std::string_view reply,
           std::string_view payload);
  // `HMSG <subject> <sid> [reply ]<#hdr> <#total>\r\n<headers><payload>\r\n`
  void Hmsg(std::string_view subject, std::string_view sid, std::string_view reply,
            std::string_view headers, std::string_view payload);
  void Ping();  // `PING\r\n`
  void Pong();  // `PONG\r\n`
  void Ok();    // `+OK\r\n`
  // `-ERR '<text>'\r\n` (text copied)
  void Err(std::string_view text);
  // `INFO <json> \r\n`: nats-server writes a space before `\r\n` (json copied)
  void Info(std::string_view json);
  // `CONNECT <json>\r\n` (json copied)
  void Connect(std::string_view json);

  // Bytes that are already a complete op (e.g. Op::raw from the parser): referenced.
  void Raw(std::string_view bytes);
  // Bytes copied into the buffer (for data whose storage will not outlive the batch).
  void Copy(std::string_view bytes);

  // The batch as iovecs, in order. Adjacent buffer pieces are merged into one iovec. There may
  // be more than IOV_MAX (1024) of them: writev() callers pass at most that many per call;
  // uv_write() takes any number (uv_buf_t has iovec's layout on Unix).
  std::span<const iovec> Iovecs();
  // Total bytes in the batch.
  size_t size() const { return total_; }
  bool empty() const { return total_ == 0; }
  // The batch as one string (tests, logging; allocates).
  std::string ToString() const;
  // Drops the batch; keeps buffer capacity.
  void Clear();

 private:
  // A piece of the batch: in the buffer (ptr == nullptr; offset into buf_) or referenced.
  struct Piece {
    const char* ptr;
    size_t offset;
    size_t len;
  };
  char* Grow(size_t n);  // appends n bytes of room to the buffer, merging with the last piece
  void Commit(size_t used);
  void Ref(std::string_view bytes);
  void AppendBuffered(std::string_view bytes);

  size_t copy_below_;
  std::unique_ptr<char[]> buf_;
  size_t buf_size_ = 0;
  size_t buf_capacity_ = 0;
  std::vector<Piece> pieces_;
  std::vector<iovec> iov_;
  size_t total_ = 0;
};

}  // namespace meridian::proto
