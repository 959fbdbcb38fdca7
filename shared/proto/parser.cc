#include "proto/parser.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

namespace meridian::proto {
namespace {

inline bool IsSpace(char c) {
  return c == ' ' || c == '\t';
}

// ASCII letters and the symbols in op names compared case-insensitively.
inline bool SameLetter(char c, char upper) {
  return (c & ~0x20) == upper;
}

constexpr std::string_view kUnknownOp = "Unknown Protocol Operation";
constexpr std::string_view kMaxControl = "maximum control line exceeded";
constexpr std::string_view kMaxPayloadText = "Maximum Payload Violation";

// How the start of a line (the op name and what follows) looks.
enum class Head : uint8_t { kIncomplete, kOk, kUnknown, kTooLong };

struct HeadInfo {
  OpKind kind;
  size_t args_begin;  // after the op name and its whitespace
  size_t args_end;    // before `\r\n` / `\n` (or before a trailing `\r` of a partial line)
};

struct NameSpec {
  std::string_view upper;  // the name in upper case
  OpKind kind;
  bool needs_space;  // at least one space/tab must follow the name
  bool has_args;     // false: the rest of the line is ignored
};

constexpr NameSpec kConnect{"CONNECT", OpKind::kConnect, false, true};
constexpr NameSpec kPub{"PUB", OpKind::kPub, true, true};
constexpr NameSpec kHpub{"HPUB", OpKind::kHpub, true, true};
constexpr NameSpec kSub{"SUB", OpKind::kSub, true, true};
constexpr NameSpec kUnsub{"UNSUB", OpKind::kUnsub, true, true};
constexpr NameSpec kPing{"PING", OpKind::kPing, false, false};
constexpr NameSpec kPong{"PONG", OpKind::kPong, false, false};
constexpr NameSpec kOk{"+OK", OpKind::kOk, false, false};
constexpr NameSpec kErr{"-ERR", OpKind::kErr, true, true};
constexpr NameSpec kInfo{"INFO", OpKind::kInfo, false, true};
constexpr NameSpec kMsg{"MSG", OpKind::kMsg, true, true};
constexpr NameSpec kHmsg{"HMSG", OpKind::kHmsg, true, true};

// Picks the op a line can be from its first two bytes; nullptr when none (or more bytes needed,
// reported through *incomplete).
const NameSpec* PickName(const char* p, size_t n, bool client_to_server, bool* incomplete) {
  *incomplete = false;
  if (n == 0) {
    *incomplete = true;
    return nullptr;
  }
  const char c0 = p[0] & ~0x20;
  switch (p[0]) {
    case '+':
      return &kOk;
    case '-':
      return &kErr;
    default:
      break;
  }
  switch (c0) {
    case 'C':
      return client_to_server ? &kConnect : nullptr;
    case 'S':
      return client_to_server ? &kSub : nullptr;
    case 'U':
      return client_to_server ? &kUnsub : nullptr;
    case 'I':
      return &kInfo;
    case 'M':
      return client_to_server ? nullptr : &kMsg;
    case 'P':
    case 'H':
      break;
    default:
      return nullptr;
  }
  if (n < 2) {
    *incomplete = true;
    return nullptr;
  }
  const char c1 = p[1] & ~0x20;
  if (c0 == 'H') {
    if (c1 == 'P') return client_to_server ? &kHpub : nullptr;
    if (c1 == 'M') return client_to_server ? nullptr : &kHmsg;
    return nullptr;
  }
  if (c1 == 'U') return client_to_server ? &kPub : nullptr;
  if (c1 == 'I') return &kPing;
  if (c1 == 'O') return &kPong;
  return nullptr;
}

// Examines a control line: `len` bytes without the `\n`; `complete` says whether the `\n`
// follows (else more bytes may come).
Head ScanHead(const char* p, size_t len, bool complete, Direction direction, uint32_t max_args,
              HeadInfo* info) {
  bool incomplete;
  const NameSpec* spec = PickName(p, len, direction == Direction::kClientToServer, &incomplete);
  if (spec == nullptr) return incomplete && !complete ? Head::kIncomplete : Head::kUnknown;
  const size_t name_len = spec->upper.size();
  const size_t check = std::min(len, name_len);
  for (size_t i = 0; i < check; ++i) {
    const char want = spec->upper[i];
    const bool ok = (want >= 'A' && want <= 'Z') ? SameLetter(p[i], want) : p[i] == want;
    if (!ok) return Head::kUnknown;
  }
  if (len < name_len) return complete ? Head::kUnknown : Head::kIncomplete;
  size_t end = len;
  // The `\r` of `\r\n` is not part of the arguments; a trailing `\r` of a partial line may be.
  if (end > name_len && p[end - 1] == '\r') --end;
  size_t begin = name_len;
  if (spec->needs_space) {
    if (len == name_len) return complete ? Head::kUnknown : Head::kIncomplete;
    if (!IsSpace(p[name_len])) {
      // `PUB\r` is an unknown op (nats-server wants a space or tab right after the name).
      return Head::kUnknown;
    }
  }
  if (spec->has_args) {
    while (begin < end && IsSpace(p[begin])) ++begin;
  }
  info->kind = spec->kind;
  info->args_begin = begin;
  info->args_end = end;
  if (end - begin > max_args || begin - name_len > max_args) return Head::kTooLong;
  return Head::kOk;
}

// Fast split for the few arguments of an op. Returns the field count (may exceed kMax).
template <size_t kMax>
inline size_t Split(const char* p, const char* end, std::string_view (&out)[kMax]) {
  size_t n = 0;
  while (true) {
    while (p < end && IsSpace(*p)) ++p;
    if (p == end) return n;
    const char* start = p;
    while (p < end && !IsSpace(*p)) ++p;
    if (n < kMax) out[n] = std::string_view(start, static_cast<size_t>(p - start));
    ++n;
  }
}

inline int64_t Size(std::string_view d) {
  if (d.empty() || d.size() > 9) return -1;
  int64_t v = 0;
  for (char c : d) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

inline std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view OpName(OpKind kind) {
  switch (kind) {
    case OpKind::kConnect:
      return "CONNECT";
    case OpKind::kPub:
      return "PUB";
    case OpKind::kHpub:
      return "HPUB";
    case OpKind::kSub:
      return "SUB";
    case OpKind::kUnsub:
      return "UNSUB";
    case OpKind::kPing:
      return "PING";
    case OpKind::kPong:
      return "PONG";
    case OpKind::kOk:
      return "+OK";
    case OpKind::kErr:
      return "-ERR";
    case OpKind::kInfo:
      return "INFO";
    case OpKind::kMsg:
      return "MSG";
    case OpKind::kHmsg:
      return "HMSG";
  }
  return "?";
}

int64_t ParseSize(std::string_view digits) {
  return Size(digits);
}

size_t SplitArgs(std::string_view args, std::string_view* out, size_t max_out) {
  size_t n = 0;
  size_t i = 0;
  while (true) {
    while (i < args.size() && IsSpace(args[i])) ++i;
    if (i == args.size()) return n;
    const size_t start = i;
    while (i < args.size() && !IsSpace(args[i])) ++i;
    if (n < max_out) out[n] = args.substr(start, i - start);
    ++n;
  }
}

Parser::Parser(Direction direction, Limits limits) : direction_(direction), limits_(limits) {}
Parser::~Parser() = default;
Parser::Parser(Parser&&) noexcept = default;
Parser& Parser::operator=(Parser&&) noexcept = default;

void Parser::Feed(std::string_view data) {
  input_ = data;
}

void Parser::Reset() {
  error_ = ProtocolError{};
  input_ = {};
  pending_size_ = 0;
  pending_total_ = 0;
  release_pending_ = false;
}

Parser::Result Parser::Fail(ErrorKind kind, std::string_view reason) {
  error_.kind = kind;
  error_.reason = reason;
  error_.close_connection = true;
  switch (kind) {
    case ErrorKind::kUnknownOperation:
      error_.err_text = kUnknownOp;
      break;
    case ErrorKind::kMaxControlLine:
      error_.err_text = kMaxControl;
      break;
    case ErrorKind::kMaxPayload:
      error_.err_text = kMaxPayloadText;
      break;
    default:
      error_.err_text = {};
      break;
  }
  input_ = {};
  return Result::kError;
}

void Parser::Reserve(size_t bytes) {
  if (bytes <= pending_capacity_) return;
  size_t cap = std::max<size_t>(pending_capacity_ * 2, 256);
  while (cap < bytes) cap *= 2;
  std::unique_ptr<char[]> bigger(new char[cap]);
  if (pending_size_ > 0) std::memcpy(bigger.get(), pending_.get(), pending_size_);
  pending_ = std::move(bigger);
  pending_capacity_ = cap;
}

void Parser::Append(const char* data, size_t n) {
  if (n == 0) return;
  Reserve(pending_size_ + n);
  std::memcpy(pending_.get() + pending_size_, data, n);
  pending_size_ += n;
}

namespace {

constexpr std::string_view kReasonUnknown =
    "the line does not start with an operation this side of the connection may send";
constexpr std::string_view kReasonTooLong =
    "the control line's arguments are longer than max_control_line";

// Parses a complete control line of `line_len` bytes (including its `\n`). On success fills the
// op's argument views and *payload_bytes (declared size + 2 for `\r\n`, 0 for ops without one).
// On failure returns the error kind and sets *reason.
ErrorKind ParseLine(const char* p, size_t line_len, Direction direction, const Limits& limits,
                    Op& op, size_t* payload_bytes, size_t* header_bytes, std::string_view* reason) {
  HeadInfo head;
  switch (ScanHead(p, line_len - 1, true, direction, limits.max_control_line, &head)) {
    case Head::kOk:
      break;
    case Head::kTooLong:
      *reason = kReasonTooLong;
      return ErrorKind::kMaxControlLine;
    default:
      *reason = kReasonUnknown;
      return ErrorKind::kUnknownOperation;
  }
  op = Op{};
  op.kind = head.kind;
  *payload_bytes = 0;
  *header_bytes = 0;
  const char* a = p + head.args_begin;
  const char* e = p + head.args_end;
  std::string_view f[6];
  switch (head.kind) {
    case OpKind::kPub: {
      const size_t n = Split(a, e, f);
      if (n != 2 && n != 3) {
        *reason = "PUB needs 2 or 3 arguments: <subject> [reply] <#bytes>";
        return ErrorKind::kBadArguments;
      }
      op.subject = f[0];
      if (n == 3) op.reply = f[1];
      const int64_t size = Size(f[n - 1]);
      if (size < 0) {
        *reason = "PUB size is not a number of 1 to 9 digits";
        return ErrorKind::kBadArguments;
      }
      if (static_cast<uint64_t>(size) > limits.max_payload) {
        *reason = "PUB payload is larger than max_payload";
        return ErrorKind::kMaxPayload;
      }
      *payload_bytes = static_cast<size_t>(size) + 2;
      return ErrorKind::kNone;
    }
    case OpKind::kHpub:
    case OpKind::kHmsg: {
      const bool is_hpub = head.kind == OpKind::kHpub;
      if (is_hpub && !limits.headers_allowed) {
        *reason = "HPUB on a connection that did not negotiate headers";
        return ErrorKind::kHeadersNotSupported;
      }
      const size_t n = Split(a, e, f);
      const size_t fixed = is_hpub ? 3 : 4;  // without reply
      if (n != fixed && n != fixed + 1) {
        *reason = is_hpub ? "HPUB needs 3 or 4 arguments: <subject> [reply] <#hdr> <#total>"
                          : "HMSG needs 4 or 5 arguments: <subject> <sid> [reply] <#hdr> <#total>";
        return ErrorKind::kBadArguments;
      }
      op.subject = f[0];
      size_t i = 1;
      if (!is_hpub) op.sid = f[i++];
      if (n == fixed + 1) op.reply = f[i++];
      const int64_t hdr = Size(f[i]);
      const int64_t total = Size(f[i + 1]);
      if (hdr < 0 || total < 0) {
        *reason = "header or total size is not a number of 1 to 9 digits";
        return ErrorKind::kBadArguments;
      }
      if (hdr > total) {
        *reason = "header size is larger than total size";
        return ErrorKind::kBadArguments;
      }
      if (static_cast<uint64_t>(total) > limits.max_payload) {
        *reason = "message is larger than max_payload";
        return ErrorKind::kMaxPayload;
      }
      *payload_bytes = static_cast<size_t>(total) + 2;
      *header_bytes = static_cast<size_t>(hdr);
      return ErrorKind::kNone;
    }
    case OpKind::kMsg: {
      const size_t n = Split(a, e, f);
      if (n != 3 && n != 4) {
        *reason = "MSG needs 3 or 4 arguments: <subject> <sid> [reply] <#bytes>";
        return ErrorKind::kBadArguments;
      }
      op.subject = f[0];
      op.sid = f[1];
      if (n == 4) op.reply = f[2];
      const int64_t size = Size(f[n - 1]);
      if (size < 0) {
        *reason = "MSG size is not a number of 1 to 9 digits";
        return ErrorKind::kBadArguments;
      }
      if (static_cast<uint64_t>(size) > limits.max_payload) {
        *reason = "MSG payload is larger than max_payload";
        return ErrorKind::kMaxPayload;
      }
      *payload_bytes = static_cast<size_t>(size) + 2;
      return ErrorKind::kNone;
    }
    case OpKind::kSub: {
      const size_t n = Split(a, e, f);
      if (n != 2 && n != 3) {
        *reason = "SUB needs 2 or 3 arguments: <subject> [queue] <sid>";
        return ErrorKind::kBadArguments;
      }
      op.subject = f[0];
      if (n == 3) op.queue = f[1];
      op.sid = f[n - 1];
      return ErrorKind::kNone;
    }
    case OpKind::kUnsub: {
      const size_t n = Split(a, e, f);
      if (n != 1 && n != 2) {
        *reason = "UNSUB needs 1 or 2 arguments: <sid> [max_msgs]";
        return ErrorKind::kBadArguments;
      }
      op.sid = f[0];
      if (n == 2) {
        // As nats-server: a max that is not a size means "no max" (unsubscribe now).
        const int64_t max = Size(f[1]);
        if (max >= 0) {
          op.max_msgs = static_cast<uint64_t>(max);
          op.has_max_msgs = true;
        }
      }
      return ErrorKind::kNone;
    }
    case OpKind::kConnect:
    case OpKind::kInfo:
      op.text = TrimRight(std::string_view(a, static_cast<size_t>(e - a)));
      return ErrorKind::kNone;
    case OpKind::kErr: {
      std::string_view t = TrimRight(std::string_view(a, static_cast<size_t>(e - a)));
      if (t.size() >= 2 && t.front() == '\'' && t.back() == '\'') t = t.substr(1, t.size() - 2);
      op.text = t;
      return ErrorKind::kNone;
    }
    case OpKind::kPing:
    case OpKind::kPong:
    case OpKind::kOk:
      return ErrorKind::kNone;
  }
  *reason = kReasonUnknown;
  return ErrorKind::kUnknownOperation;
}

constexpr std::string_view kReasonTerminator =
    "the payload is not followed by exactly \\r\\n (declared size does not match)";

// Completes an op whose payload bytes [line_len, line_len + payload_bytes) are present.
inline bool FinishPayload(const char* p, size_t line_len, size_t payload_bytes, size_t header_bytes,
                          Op& op) {
  const char* body = p + line_len;
  const size_t size = payload_bytes - 2;
  if (body[size] != '\r' || body[size + 1] != '\n') return false;
  op.headers = std::string_view(body, header_bytes);
  op.payload = std::string_view(body + header_bytes, size - header_bytes);
  op.raw = std::string_view(p, line_len + payload_bytes);
  return true;
}

// Byte classes for the fast path: 0 token byte, 1 space or tab, 2 `\r`, 3 `\n`.
struct ClassTable {
  uint8_t c[256];
  constexpr ClassTable() : c() {
    c[static_cast<uint8_t>(' ')] = 1;
    c[static_cast<uint8_t>('\t')] = 1;
    c[static_cast<uint8_t>('\r')] = 2;
    c[static_cast<uint8_t>('\n')] = 3;
  }
};
constexpr ClassTable kClass;
inline uint8_t ClassOf(char ch) {
  return kClass.c[static_cast<uint8_t>(ch)];
}

// First byte at or after q that is not a token byte (space, tab, `\r`, `\n`), or e. Looks at
// eight bytes at a time for any byte below 0x21, then checks that byte's class.
inline const char* TokenEnd(const char* q, const char* e) {
  static_assert(std::endian::native == std::endian::little);
  while (e - q >= 8) {
    uint64_t x;
    std::memcpy(&x, q, 8);
    const uint64_t low = (x - 0x2121212121212121ull) & ~x & 0x8080808080808080ull;
    if (low == 0) {
      q += 8;
      continue;
    }
    q += std::countr_zero(low) >> 3;
    if (ClassOf(*q) != 0) return q;
    ++q;  // a control byte that is part of the token
  }
  while (q < e && ClassOf(*q) == 0) ++q;
  return q;
}

inline int64_t FastSize(const char* d, size_t len) {
  if (len == 0 || len > 9) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < len; ++i) {
    const unsigned digit = static_cast<unsigned>(d[i]) - '0';
    if (digit > 9) return -1;
    v = v * 10 + digit;
  }
  return v;
}

// Fast path for the ops that carry messages (PUB HPUB from clients, MSG HMSG from servers) in
// their usual, complete and valid form: one pass finds the arguments and the line end together.
// Returns false for anything else (partial, unusual or invalid input), and the general path then
// decides; so it never changes a result, only how fast it is reached. The differential fuzz
// target compares this path (whole input) with the general one (input in pieces).
inline bool FastMessage(const char* p, size_t n, Direction direction, const Limits& limits, Op& op,
                        size_t* consumed) {
  if (n < 8) return false;
  size_t name_len;
  bool has_headers;
  const char c0 = p[0] & ~0x20;
  if (direction == Direction::kClientToServer) {
    if (c0 == 'P' && SameLetter(p[1], 'U') && SameLetter(p[2], 'B')) {
      name_len = 3;
      has_headers = false;
    } else if (c0 == 'H' && SameLetter(p[1], 'P') && SameLetter(p[2], 'U') &&
               SameLetter(p[3], 'B') && limits.headers_allowed) {
      name_len = 4;
      has_headers = true;
    } else {
      return false;
    }
  } else {
    if (c0 == 'M' && SameLetter(p[1], 'S') && SameLetter(p[2], 'G')) {
      name_len = 3;
      has_headers = false;
    } else if (c0 == 'H' && SameLetter(p[1], 'M') && SameLetter(p[2], 'S') &&
               SameLetter(p[3], 'G')) {
      name_len = 4;
      has_headers = true;
    } else {
      return false;
    }
  }
  if (ClassOf(p[name_len]) != 1) return false;
  const char* q = p + name_len;
  const char* const e = p + n;
  const char* tok[5];
  size_t len[5];
  size_t count = 0;
  while (true) {
    while (q < e && ClassOf(*q) == 1) ++q;
    if (q == e) return false;
    if (ClassOf(*q) != 0) break;
    if (count == 5) return false;
    const char* start = q;
    q = TokenEnd(q, e);
    tok[count] = start;
    len[count] = static_cast<size_t>(q - start);
    ++count;
  }
  const char* args_end = q;
  if (*q == '\r') {
    if (q + 1 >= e || q[1] != '\n') return false;
    q += 2;
  } else {
    ++q;
  }
  if (count == 0) return false;
  if (static_cast<size_t>(args_end - tok[0]) > limits.max_control_line ||
      static_cast<size_t>(tok[0] - p) - name_len > limits.max_control_line) {
    return false;
  }
  const bool is_msg = direction == Direction::kServerToClient;
  const size_t fixed = 2 + (is_msg ? 1 : 0) + (has_headers ? 1 : 0);  // arguments without reply
  if (count != fixed && count != fixed + 1) return false;
  size_t i = 1;
  std::string_view sid;
  if (is_msg) sid = std::string_view(tok[i], len[i]), ++i;
  std::string_view reply;
  if (count == fixed + 1) reply = std::string_view(tok[i], len[i]), ++i;
  int64_t hdr = 0;
  if (has_headers) {
    hdr = FastSize(tok[i], len[i]);
    ++i;
  }
  const int64_t total = FastSize(tok[i], len[i]);
  if (hdr < 0 || total < 0 || hdr > total) return false;
  if (static_cast<uint64_t>(total) > limits.max_payload) return false;
  const size_t line_len = static_cast<size_t>(q - p);
  const size_t size = static_cast<size_t>(total);
  if (n < line_len + size + 2) return false;
  const char* body = q;
  if (body[size] != '\r' || body[size + 1] != '\n') return false;
  op.kind = is_msg ? (has_headers ? OpKind::kHmsg : OpKind::kMsg)
                   : (has_headers ? OpKind::kHpub : OpKind::kPub);
  op.raw = std::string_view(p, line_len + size + 2);
  op.subject = std::string_view(tok[0], len[0]);
  op.reply = reply;
  op.sid = sid;
  op.queue = {};
  op.text = {};
  op.headers = std::string_view(body, static_cast<size_t>(hdr));
  op.payload = std::string_view(body + hdr, size - static_cast<size_t>(hdr));
  op.max_msgs = 0;
  op.has_max_msgs = false;
  op.buffered = false;
  *consumed = line_len + size + 2;
  return true;
}

}  // namespace

Parser::Result Parser::Next(Op& op) {
  if (error_.kind != ErrorKind::kNone) return Result::kError;
  if (release_pending_) {
    pending_size_ = 0;
    pending_total_ = 0;
    release_pending_ = false;
  }
  if (pending_size_ > 0) return NextBuffered(op);
  if (input_.empty()) return Result::kNeedMore;

  const char* p = input_.data();
  const size_t n = input_.size();
  size_t consumed;
  if (FastMessage(p, n, direction_, limits_, op, &consumed)) {
    input_.remove_prefix(consumed);
    return Result::kOp;
  }
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', n));
  if (nl == nullptr) {
    HeadInfo head;
    switch (ScanHead(p, n, false, direction_, limits_.max_control_line, &head)) {
      case Head::kUnknown:
        return Fail(ErrorKind::kUnknownOperation, kReasonUnknown);
      case Head::kTooLong:
        return Fail(ErrorKind::kMaxControlLine, kReasonTooLong);
      default:
        break;
    }
    Append(p, n);
    input_ = {};
    return Result::kNeedMore;
  }
  const size_t line_len = static_cast<size_t>(nl - p) + 1;
  size_t payload_bytes;
  size_t header_bytes;
  std::string_view reason;
  const ErrorKind err =
      ParseLine(p, line_len, direction_, limits_, op, &payload_bytes, &header_bytes, &reason);
  if (err != ErrorKind::kNone) return Fail(err, reason);
  if (payload_bytes == 0) {
    op.raw = std::string_view(p, line_len);
    input_.remove_prefix(line_len);
    return Result::kOp;
  }
  const size_t total = line_len + payload_bytes;
  if (n >= total) {
    if (!FinishPayload(p, line_len, payload_bytes, header_bytes, op)) {
      return Fail(ErrorKind::kUnknownOperation, kReasonTerminator);
    }
    input_.remove_prefix(total);
    return Result::kOp;
  }
  // As nats-server, a wrong first terminator byte is an error as soon as it is seen.
  if (n == total - 1 && p[total - 2] != '\r') {
    return Fail(ErrorKind::kUnknownOperation, kReasonTerminator);
  }
  // Split op: copy what we have once; the rest is appended as it arrives.
  pending_total_ = total;
  Reserve(total);
  Append(p, n);
  input_ = {};
  return Result::kNeedMore;
}

Parser::Result Parser::NextBuffered(Op& op) {
  size_t payload_bytes;
  size_t header_bytes;
  std::string_view reason;
  if (pending_total_ == 0) {
    // The control line is still incomplete.
    const char* nl = static_cast<const char*>(std::memchr(input_.data(), '\n', input_.size()));
    const size_t take = nl ? static_cast<size_t>(nl - input_.data()) + 1 : input_.size();
    Append(input_.data(), take);
    input_.remove_prefix(take);
    if (nl == nullptr) {
      HeadInfo head;
      switch (ScanHead(pending_.get(), pending_size_, false, direction_, limits_.max_control_line,
                       &head)) {
        case Head::kUnknown:
          return Fail(ErrorKind::kUnknownOperation, kReasonUnknown);
        case Head::kTooLong:
          return Fail(ErrorKind::kMaxControlLine, kReasonTooLong);
        default:
          return Result::kNeedMore;
      }
    }
    const ErrorKind err = ParseLine(pending_.get(), pending_size_, direction_, limits_, op,
                                    &payload_bytes, &header_bytes, &reason);
    if (err != ErrorKind::kNone) return Fail(err, reason);
    if (payload_bytes == 0) {
      op.raw = std::string_view(pending_.get(), pending_size_);
      op.buffered = true;
      release_pending_ = true;
      return Result::kOp;
    }
    pending_total_ = pending_size_ + payload_bytes;
    Reserve(pending_total_);
  }
  const size_t take = std::min(pending_total_ - pending_size_, input_.size());
  Append(input_.data(), take);
  input_.remove_prefix(take);
  if (pending_size_ < pending_total_) {
    if (pending_size_ == pending_total_ - 1 && pending_[pending_total_ - 2] != '\r') {
      return Fail(ErrorKind::kUnknownOperation, kReasonTerminator);
    }
    return Result::kNeedMore;
  }

  // Complete: parse the buffered control line again so every view points into pending_.
  const char* p = pending_.get();
  const size_t line_len =
      static_cast<size_t>(static_cast<const char*>(std::memchr(p, '\n', pending_size_)) - p) + 1;
  const ErrorKind err =
      ParseLine(p, line_len, direction_, limits_, op, &payload_bytes, &header_bytes, &reason);
  if (err != ErrorKind::kNone) return Fail(err, reason);  // limits changed meanwhile
  if (!FinishPayload(p, line_len, payload_bytes, header_bytes, op)) {
    return Fail(ErrorKind::kUnknownOperation, kReasonTerminator);
  }
  op.buffered = true;
  release_pending_ = true;
  return Result::kOp;
}

}  // namespace meridian::proto
