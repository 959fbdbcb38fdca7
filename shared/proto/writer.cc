#include "proto/writer.h"

#include <charconv>
#include <cstring>
#include <string>

namespace meridian::proto {

Writer::Writer(size_t copy_below) : copy_below_(copy_below) {}

char* Writer::Grow(size_t n) {
  if (buf_size_ + n > buf_capacity_) {
    size_t cap = buf_capacity_ == 0 ? 512 : buf_capacity_ * 2;
    while (cap < buf_size_ + n) cap *= 2;
    std::unique_ptr<char[]> bigger(new char[cap]);
    if (buf_size_ > 0) std::memcpy(bigger.get(), buf_.get(), buf_size_);
    buf_ = std::move(bigger);
    buf_capacity_ = cap;
  }
  return buf_.get() + buf_size_;
}

void Writer::Commit(size_t used) {
  if (used == 0) return;
  if (!pieces_.empty() && pieces_.back().ptr == nullptr) {
    pieces_.back().len += used;  // buffer pieces are contiguous: merge with the last one
  } else {
    pieces_.push_back(Piece{nullptr, buf_size_, used});
  }
  buf_size_ += used;
  total_ += used;
}

void Writer::AppendBuffered(std::string_view bytes) {
  if (bytes.empty()) return;
  char* out = Grow(bytes.size());
  std::memcpy(out, bytes.data(), bytes.size());
  Commit(bytes.size());
}

void Writer::Ref(std::string_view bytes) {
  if (bytes.empty()) return;
  if (bytes.size() <= copy_below_) {
    AppendBuffered(bytes);
    return;
  }
  pieces_.push_back(Piece{bytes.data(), 0, bytes.size()});
  total_ += bytes.size();
}

namespace {

// Appends text and numbers into a buffer that was grown large enough by the caller.
class LineBuilder {
 public:
  explicit LineBuilder(char* out) : start_(out), p_(out) {}
  LineBuilder& Put(std::string_view s) {
    if (!s.empty()) std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
    return *this;
  }
  LineBuilder& Put(char c) {
    *p_++ = c;
    return *this;
  }
  LineBuilder& Num(uint64_t v) {
    p_ = std::to_chars(p_, p_ + 20, v).ptr;
    return *this;
  }
  // Writes `s ` when s is not empty.
  LineBuilder& Optional(std::string_view s) {
    if (!s.empty()) Put(s).Put(' ');
    return *this;
  }
  size_t used() const { return static_cast<size_t>(p_ - start_); }

 private:
  char* start_;
  char* p_;
};

constexpr size_t kNum = 20;  // digits of a uint64_t

}  // namespace

void Writer::Pub(std::string_view subject, std::string_view reply, std::string_view payload) {
  LineBuilder b(Grow(4 + subject.size() + 1 + reply.size() + 1 + kNum + 2));
  b.Put("PUB ").Put(subject).Put(' ').Optional(reply).Num(payload.size()).Put("\r\n");
  Commit(b.used());
  Ref(payload);
  AppendBuffered("\r\n");
}

void Writer::Hpub(std::string_view subject, std::string_view reply, std::string_view headers,
                  std::string_view payload) {
  LineBuilder b(Grow(5 + subject.size() + 1 + reply.size() + 1 + 2 * kNum + 3));
  b.Put("HPUB ").Put(subject).Put(' ').Optional(reply).Num(headers.size()).Put(' ');
  b.Num(headers.size() + payload.size()).Put("\r\n");
  Commit(b.used());
  Ref(headers);
  Ref(payload);
  AppendBuffered("\r\n");
}

void Writer::Sub(std::string_view subject, std::string_view queue, std::string_view sid) {
  LineBuilder b(Grow(4 + subject.size() + 1 + queue.size() + 1 + sid.size() + 2));
  b.Put("SUB ").Put(subject).Put(' ').Optional(queue).Put(sid).Put("\r\n");
  Commit(b.used());
}

void Writer::Unsub(std::string_view sid, std::optional<uint64_t> max_msgs) {
  LineBuilder b(Grow(6 + sid.size() + 1 + kNum + 2));
  b.Put("UNSUB ").Put(sid);
  if (max_msgs) b.Put(' ').Num(*max_msgs);
  b.Put("\r\n");
  Commit(b.used());
}

void Writer::Msg(std::string_view subject, std::string_view sid, std::string_view reply,
                 std::string_view payload) {
  LineBuilder b(Grow(4 + subject.size() + 1 + sid.size() + 1 + reply.size() + 1 + kNum + 2));
  b.Put("MSG ").Put(subject).Put(' ').Put(sid).Put(' ').Optional(reply).Num(payload.size());
  b.Put("\r\n");
  Commit(b.used());
  Ref(payload);
  AppendBuffered("\r\n");
}

void Writer::Hmsg(std::string_view subject, std::string_view sid, std::string_view reply,
                  std::string_view headers, std::string_view payload) {
  LineBuilder b(Grow(5 + subject.size() + 1 + sid.size() + 1 + reply.size() + 1 + 2 * kNum + 3));
  b.Put("HMSG ").Put(subject).Put(' ').Put(sid).Put(' ').Optional(reply);
  b.Num(headers.size()).Put(' ').Num(headers.size() + payload.size()).Put("\r\n");
  Commit(b.used());
  Ref(headers);
  Ref(payload);
  AppendBuffered("\r\n");
}

void Writer::Ping() {
  AppendBuffered("PING\r\n");
}
void Writer::Pong() {
  AppendBuffered("PONG\r\n");
}
void Writer::Ok() {
  AppendBuffered("+OK\r\n");
}

void Writer::Err(std::string_view text) {
  LineBuilder b(Grow(6 + text.size() + 3));
  b.Put("-ERR '").Put(text).Put("'\r\n");
  Commit(b.used());
}

void Writer::Info(std::string_view json) {
  LineBuilder b(Grow(5 + json.size() + 3));
  b.Put("INFO ").Put(json).Put(" \r\n");
  Commit(b.used());
}

void Writer::Connect(std::string_view json) {
  LineBuilder b(Grow(8 + json.size() + 2));
  b.Put("CONNECT ").Put(json).Put("\r\n");
  Commit(b.used());
}

void Writer::Raw(std::string_view bytes) {
  Ref(bytes);
}
void Writer::Copy(std::string_view bytes) {
  AppendBuffered(bytes);
}

std::span<const iovec> Writer::Iovecs() {
  iov_.clear();
  iov_.reserve(pieces_.size());
  for (const Piece& piece : pieces_) {
    const char* base = piece.ptr != nullptr ? piece.ptr : buf_.get() + piece.offset;
    iov_.push_back(iovec{const_cast<char*>(base), piece.len});
  }
  return std::span<const iovec>(iov_.data(), iov_.size());
}

std::string Writer::ToString() const {
  std::string out;
  out.reserve(total_);
  for (const Piece& piece : pieces_) {
    const char* base = piece.ptr != nullptr ? piece.ptr : buf_.get() + piece.offset;
    out.append(base, piece.len);
  }
  return out;
}

void Writer::Clear() {
  pieces_.clear();
  iov_.clear();
  buf_size_ = 0;
  total_ = 0;
}

}  // namespace meridian::proto
