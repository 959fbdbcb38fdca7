#include "proto/parser.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
constexpr NameSpec kLeafSub{"LS+", OpKind::kLeafSub, true, true};
constexpr NameSpec kLeafUnsub{"LS-", OpKind::kLeafUnsub, true, true};
constexpr NameSpec kLeafMsg{"LMSG", OpKind::kLeafMsg, true, true};
constexpr NameSpec kLeafHmsg{"HMSG", OpKind::kLeafHmsg, true, true};

// The ops of a leaf-node connection (both sides speak the same set).
const NameSpec* PickLeafName(const char* p, size_t n, bool* incomplete) {
  *incomplete = false;
  if (n == 0) {
    *incomplete = true;
    return nullptr;
  }
  const char c0 = p[0] & ~0x20;
  if (p[0] == '+') return &kOk;
  if (p[0] == '-') return &kErr;
  if (c0 == 'C') return &kConnect;
  if (c0 == 'I') return &kInfo;
  if (c0 != 'P' && c0 != 'H' && c0 != 'L') return nullptr;
  if (n < 2) {
    *incomplete = true;
    return nullptr;
  }
  const char c1 = p[1] & ~0x20;
  if (c0 == 'P') {
    if (c1 == 'I') return &kPing;
    if (c1 == 'O') return &kPong;
    return nullptr;
  }
  if (c0 == 'H') return c1 == 'M' ? &kLeafHmsg : nullptr;
  if (c1 == 'M') return &kLeafMsg;
  if (c1 != 'S') return nullptr;
  if (n < 3) {
    *incomplete = true;
    return nullptr;
  }
  if (p[2] == '+') return &kLeafSub;
  if (p[2] == '-') return &kLeafUnsub;
  return nullptr;
}

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
  const NameSpec* spec =
      direction == Direction::kLeaf
          ? PickLeafName(p, len, &incomplete)
          : PickName(p, len, direction == Direction::kClientToServer, &incomplete);
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
    case OpKind::kLeafSub:
      return "LS+";
    case OpKind::kLeafUnsub:
      return "LS-";
    case OpKind::kLeafMsg:
      return "LMSG";
    case OpKind::kLeafHmsg:
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

// The checks every message with headers shares once its sizes are numbers: the header block
// fits in the total and the total in max_payload; then the bytes that follow the line.
ErrorKind CheckHeaderedSizes(int64_t hdr, int64_t total, const Limits& limits,
                             size_t* payload_bytes, size_t* header_bytes,
                             std::string_view* reason) {
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

// The arguments of LMSG / leaf HMSG, as nats-server's processLeafMsgArgs and
// processLeafHeaderMsgArgs: <subject> [<reply>] <sizes> with no queues, or <subject> `+` <reply>
// <queue>... <sizes> / <subject> `|` <queue>... <sizes> with queues.
ErrorKind ParseLeafMessage(bool with_headers, const char* a, const char* e, const Limits& limits,
                           Op& op, size_t* payload_bytes, size_t* header_bytes,
                           std::string_view* reason) {
  const size_t sizes = with_headers ? 2 : 1;
  std::string_view f[6];
  const size_t n = Split(a, e, f);
  if (n < 1 + sizes) {
    *reason = with_headers ? "HMSG needs <subject> [reply or queues] <#hdr> <#total>"
                           : "LMSG needs <subject> [reply or queues] <#bytes>";
    return ErrorKind::kBadArguments;
  }
  op.subject = f[0];
  // The size fields are the last `sizes` tokens: find them from the end of the line.
  const char* end = e;
  while (end > a && IsSpace(end[-1])) --end;
  std::string_view tail[2];
  const char* rest_end = end;
  for (size_t i = 0; i < sizes; ++i) {
    const char* t = rest_end;
    while (t > a && !IsSpace(t[-1])) --t;
    tail[sizes - 1 - i] = std::string_view(t, static_cast<size_t>(rest_end - t));
    rest_end = t;
    while (rest_end > a && IsSpace(rest_end[-1])) --rest_end;
  }
  if (n == 2 + sizes) {
    op.reply = f[1];
  } else if (n > 2 + sizes) {
    if (f[1] != "+" && f[1] != "|") {
      *reason = "leaf message with queues needs `+ <reply>` or `|` before them";
      return ErrorKind::kBadArguments;
    }
    const char* q = f[1].data() + 1;
    if (f[1] == "+") {
      op.reply = f[2];
      q = f[2].data() + f[2].size();
    }
    while (q < rest_end && IsSpace(*q)) ++q;
    if (q < rest_end) op.queues = std::string_view(q, static_cast<size_t>(rest_end - q));
  }
  const int64_t total = Size(tail[sizes - 1]);
  const int64_t hdr = with_headers ? Size(tail[0]) : 0;
  if (total < 0 || hdr < 0) {
    *reason = "leaf message size is not a number of 1 to 9 digits";
    return ErrorKind::kBadArguments;
  }
  return CheckHeaderedSizes(hdr, total, limits, payload_bytes, header_bytes, reason);
}

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
      return CheckHeaderedSizes(hdr, total, limits, payload_bytes, header_bytes, reason);
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
    case OpKind::kLeafSub: {
      const size_t n = Split(a, e, f);
      if (n != 1 && n != 3) {
        *reason = "LS+ needs 1 or 3 arguments: <subject> [<queue> <weight>]";
        return ErrorKind::kBadArguments;
      }
      op.subject = f[0];
      if (n == 3) {
        op.queue = f[1];
        const int64_t w = Size(f[2]);
        if (w <= 0) {
          *reason = "LS+ queue weight is not a positive number of 1 to 9 digits";
          return ErrorKind::kBadArguments;
        }
        op.weight = static_cast<uint32_t>(w);
      }
      return ErrorKind::kNone;
    }
    case OpKind::kLeafUnsub: {
      const size_t n = Split(a, e, f);
      if (n != 1 && n != 2) {
        *reason = "LS- needs 1 or 2 arguments: <subject> [<queue>]";
        return ErrorKind::kBadArguments;
      }
      op.subject = f[0];
      if (n == 2) op.queue = f[1];
      return ErrorKind::kNone;
    }
    case OpKind::kLeafMsg:
    case OpKind::kLeafHmsg:
      return ParseLeafMessage(head.kind == OpKind::kLeafHmsg, a, e, limits, op, payload_bytes,
                              header_bytes, reason);
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

// Bits of 32 bytes: `sep` has bit i set when byte i is a space or tab, `eol` when it is `\r` or
// `\n`. SSE2 where there is one (every x86-64), else the same masks byte by byte.
struct BlockMasks {
  uint32_t sep;
  uint32_t eol;
};

constexpr size_t kBlock = 32;

inline BlockMasks Classify(const char* q) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16));
  const auto sep = [&](__m128i v) {
    return static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, space), _mm_cmpeq_epi8(v, tab))));
  };
  const auto eol = [&](__m128i v) {
    return static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf))));
  };
  return {sep(a) | sep(b) << 16, eol(a) | eol(b) << 16};
#else
  uint32_t sep = 0;
  uint32_t eol = 0;
  for (uint32_t i = 0; i < kBlock; ++i) {
    const uint8_t c = ClassOf(q[i]);
    sep |= static_cast<uint32_t>(c == 1) << i;
    eol |= static_cast<uint32_t>(c >= 2) << i;
  }
  return {sep, eol};
#endif
}

[[gnu::always_inline]] inline int64_t FastSize(const char* d, size_t len) {
  if (len == 0 || len > 9) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < len; ++i) {
    const unsigned digit = static_cast<unsigned>(d[i]) - '0';
    if (digit > 9) return -1;
    v = v * 10 + digit;
  }
  return v;
}

// Four bytes as a little-endian word, lower-cased the way op names are compared (`| 0x20`
// lower-cases letters and leaves ' ' as it is).
constexpr uint32_t Word(char a, char b, char c, char d) {
  return static_cast<uint32_t>(static_cast<uint8_t>(a)) |
         static_cast<uint32_t>(static_cast<uint8_t>(b)) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(c)) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(d)) << 24;
}

enum class Fast : uint8_t {
  kNo,           // not the usual form: the general path decides
  kOp,           // `op` is filled in, *total bytes long
  kNeedPayload,  // a valid control line whose op (*total bytes) is not all in the input yet
};

// Fast path for the ops that carry messages (PUB HPUB from clients, MSG HMSG from servers) in
// their usual, valid form. One pass over the control line, 32 bytes at a time, finds the
// argument boundaries (as bit masks) and the line end together. kOp and kNeedPayload are only
// returned where the general path would accept the same line and give the same op; anything else
// (a partial line, unusual or invalid input) is kNo, and the general path then decides. So it
// never changes a result, only how fast it is reached. The differential fuzz target compares
// this path (whole input) with the general one (input in pieces).
[[gnu::always_inline]] inline Fast FastMessage(const char* p, size_t n, Direction direction, const Limits& limits, Op& op,
                        size_t* total) {
  static_assert(std::endian::native == std::endian::little);
  if (n < 8 || direction == Direction::kLeaf) return Fast::kNo;
  uint32_t w;
  std::memcpy(&w, p, 4);
  w |= 0x20202020u;
  size_t name_len;
  bool has_headers;
  const bool is_msg = direction == Direction::kServerToClient;
  if (!is_msg) {
    if ((w & 0xFFFFFFu) == Word('p', 'u', 'b', 0)) {
      name_len = 3;
      has_headers = false;
    } else if (w == Word('h', 'p', 'u', 'b') && limits.headers_allowed) {
      name_len = 4;
      has_headers = true;
    } else {
      return Fast::kNo;
    }
  } else {
    if ((w & 0xFFFFFFu) == Word('m', 's', 'g', 0)) {
      name_len = 3;
      has_headers = false;
    } else if (w == Word('h', 'm', 's', 'g')) {
      name_len = 4;
      has_headers = true;
    } else {
      return Fast::kNo;
    }
  }
  if (ClassOf(p[name_len]) != 1) return Fast::kNo;

  // Token starts and ends as offsets from p. A line the general path could accept is at most
  // name + max_control_line of leading blanks + max_control_line of arguments long.
  const size_t longest = name_len + 2 * static_cast<size_t>(limits.max_control_line) + 2;
  uint32_t starts[5];
  uint32_t ends[5];
  size_t count = 0;
  size_t ended = 0;
  uint32_t carry = 0;  // 1: the byte before this block is a token byte
  // The first block starts at the op name (so the scan reads no further past the line than
  // needed); its bytes count as blanks.
  uint32_t skip = (1u << name_len) - 1;
  size_t pos = 0;
  size_t eol_pos;
  while (true) {
    BlockMasks m;
    uint32_t valid = 0xFFFFFFFFu;
    if (n - pos >= kBlock) {
      m = Classify(p + pos);
    } else {
      if (pos >= n) return Fast::kNo;
      char tail[kBlock] = {};
      std::memcpy(tail, p + pos, n - pos);
      m = Classify(tail);
      valid = (1u << (n - pos)) - 1;
    }
    m.sep |= skip;
    skip = 0;
    const uint32_t eol = m.eol & valid;
    // Bytes of the arguments in this block, and the positions where a token may end.
    uint32_t line = valid;
    uint32_t may_end = valid;
    if (eol != 0) {
      line = (eol & (0u - eol)) - 1;
      may_end = (line << 1) | 1;
    }
    const uint32_t tok = ~m.sep & line;
    const uint32_t prev = (tok << 1) | carry;  // bit i: byte i - 1 is a token byte
    uint32_t s = tok & ~prev;
    uint32_t e = ~tok & prev & may_end;
    for (; s != 0; s &= s - 1) {
      if (count == 5) return Fast::kNo;
      starts[count++] = static_cast<uint32_t>(pos + static_cast<size_t>(std::countr_zero(s)));
    }
    for (; e != 0; e &= e - 1) {
      ends[ended++] = static_cast<uint32_t>(pos + static_cast<size_t>(std::countr_zero(e)));
    }
    if (eol != 0) {
      eol_pos = pos + static_cast<size_t>(std::countr_zero(eol));
      break;
    }
    if (valid != 0xFFFFFFFFu) return Fast::kNo;  // the line goes on past the input
    carry = tok >> 31;
    pos += kBlock;
    if (pos > longest) return Fast::kNo;
  }
  if (count == 0) return Fast::kNo;
  size_t line_len = eol_pos + 1;
  if (p[eol_pos] == '\r') {
    if (eol_pos + 1 >= n || p[eol_pos + 1] != '\n') return Fast::kNo;
    ++line_len;
  }
  if (eol_pos - starts[0] > limits.max_control_line ||
      starts[0] - name_len > limits.max_control_line) {
    return Fast::kNo;
  }
  const size_t fixed = 2 + (is_msg ? 1 : 0) + (has_headers ? 1 : 0);  // arguments without reply
  if (count != fixed && count != fixed + 1) return Fast::kNo;
  const auto arg = [&](size_t i) {
    return std::string_view(p + starts[i], static_cast<size_t>(ends[i] - starts[i]));
  };
  int64_t hdr = 0;
  if (has_headers) {
    hdr = FastSize(p + starts[count - 2], ends[count - 2] - starts[count - 2]);
  }
  const int64_t size = FastSize(p + starts[count - 1], ends[count - 1] - starts[count - 1]);
  if (hdr < 0 || size < 0 || hdr > size) return Fast::kNo;
  if (static_cast<uint64_t>(size) > limits.max_payload) return Fast::kNo;
  const size_t body_size = static_cast<size_t>(size);
  *total = line_len + body_size + 2;
  if (n < *total) return Fast::kNeedPayload;
  const char* body = p + line_len;
  if (body[body_size] != '\r' || body[body_size + 1] != '\n') return Fast::kNo;
  size_t i = 1;
  op.kind = is_msg ? (has_headers ? OpKind::kHmsg : OpKind::kMsg)
                   : (has_headers ? OpKind::kHpub : OpKind::kPub);
  op.raw = std::string_view(p, *total);
  op.subject = arg(0);
  op.sid = is_msg ? arg(i++) : std::string_view();
  op.reply = count == fixed + 1 ? arg(i) : std::string_view();
  op.queue = {};
  op.text = {};
  op.headers = std::string_view(body, static_cast<size_t>(hdr));
  op.payload = std::string_view(body + hdr, body_size - static_cast<size_t>(hdr));
  op.max_msgs = 0;
  op.has_max_msgs = false;
  op.buffered = false;
  return Fast::kOp;
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
  size_t fast_total;
  switch (FastMessage(p, n, direction_, limits_, op, &fast_total)) {
    case Fast::kOp:
      input_.remove_prefix(fast_total);
      return Result::kOp;
    case Fast::kNeedPayload:
      return BufferPartial(p, n, fast_total);
    case Fast::kNo:
      break;
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
  return BufferPartial(p, n, total);
}

Parser::Result Parser::BufferPartial(const char* p, size_t n, size_t total) {
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
  size_t fast_total;
  if (FastMessage(p, pending_size_, direction_, limits_, op, &fast_total) == Fast::kOp &&
      fast_total == pending_size_) {
    op.buffered = true;
    release_pending_ = true;
    return Result::kOp;
  }
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
