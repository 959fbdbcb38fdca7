// Incremental, zero-copy parser for the NATS client protocol, both directions.
//
// Framing and error texts follow nats-server (shared/reference/jetstream-wire.md §1): op names
// are case-insensitive, arguments are split on runs of spaces and tabs, a `\r` before the `\n`
// is optional, and a payload is exactly its declared size followed by exactly `\r\n`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace meridian::proto {

// Which side of a connection is being read.
//   kClientToServer: what a server (or a proxy's client side) reads: CONNECT PUB HPUB SUB UNSUB
//                    PING PONG, and +OK -ERR INFO, which nats-server also accepts from a client.
//   kServerToClient: what a client (or a proxy's upstream side) reads: INFO MSG HMSG +OK -ERR
//                    PING PONG.
//   kLeaf:           either side of a leaf-node connection (nats-server's leafnode protocol):
//                    INFO CONNECT PING PONG +OK -ERR, LS+ / LS- (interest), LMSG and its header
//                    form HMSG (with the leaf arguments, OpKind::kLeafHmsg).
// Any other op is `Unknown Protocol Operation` (e.g. MSG from a client, PUB from a server).
enum class Direction : uint8_t { kClientToServer, kServerToClient, kLeaf };

enum class OpKind : uint8_t {
  kConnect,
  kPub,
  kHpub,
  kSub,
  kUnsub,
  kPing,
  kPong,
  kOk,
  kErr,
  kInfo,
  kMsg,
  kHmsg,
  // Leaf-node connections (Direction::kLeaf) only:
  kLeafSub,    // LS+ <subject> [<queue> <weight>]
  kLeafUnsub,  // LS- <subject> [<queue>]
  kLeafMsg,    // LMSG <subject> [<reply> | + <reply> <queue>... | `|` <queue>...] <#bytes>
  kLeafHmsg,   // HMSG <subject> [<reply> | + <reply> <queue>... | `|` <queue>...] <#hdr> <#total>
};

// Upper-case wire name of an op ("HPUB", "+OK", "-ERR").
std::string_view OpName(OpKind kind);

// One complete op. Every view points into the buffer given to Parser::Feed() or into the
// parser's own buffer (when the op arrived split across reads); views stay valid until the
// next call to Parser::Next(), Feed() or Reset(), or until the caller's buffer is reused.
// Fields that do not apply to `kind` are empty/zero.
struct Op {
  OpKind kind = OpKind::kPing;
  // The whole op exactly as received: control line (with its `\r\n` or `\n`) through the
  // payload's trailing `\r\n`. A proxy forwards an untouched op by writing this view.
  std::string_view raw;
  std::string_view subject;  // PUB HPUB SUB MSG HMSG
  std::string_view reply;    // PUB HPUB MSG HMSG; empty when absent
  std::string_view sid;      // SUB UNSUB MSG HMSG (opaque token)
  std::string_view queue;    // SUB LS+ LS-; empty when absent
  // LMSG/HMSG on a leaf connection: the queue group names the message is meant for, separated
  // by blanks (split them with SplitArgs); empty: none (plain subscribers only).
  std::string_view queues;
  uint32_t weight = 0;  // LS+ with a queue: the number of members behind it (at least 1)
  // CONNECT/INFO: the JSON text (not parsed here). -ERR: the text with one pair of enclosing
  // single quotes removed. Empty for other ops.
  std::string_view text;
  std::string_view headers;  // HPUB HMSG: the header block (`#hdr bytes`)
  std::string_view payload;  // PUB MSG: the payload; HPUB HMSG: the bytes after the headers
  uint64_t max_msgs = 0;     // UNSUB: the max argument when has_max_msgs
  bool has_max_msgs = false;
  // True when the op arrived split across reads, so its views point into the parser's own
  // buffer and die at the next Next(); a proxy that batches Op::raw past that must copy it
  // (Writer::Copy) instead of referencing it (Writer::Raw).
  bool buffered = false;

  // `#total bytes` of HPUB/HMSG, the payload size of PUB/MSG.
  size_t total_size() const { return headers.size() + payload.size(); }
};

enum class ErrorKind : uint8_t {
  kNone,
  kUnknownOperation,     // -ERR 'Unknown Protocol Operation', close
  kMaxControlLine,       // -ERR 'maximum control line exceeded', close
  kMaxPayload,           // -ERR 'Maximum Payload Violation', close
  kBadArguments,         // wrong argument count or bad size: close without -ERR
  kHeadersNotSupported,  // HPUB when Limits::headers_allowed is false: close without -ERR
};

// A protocol error as nats-server handles it. Every parser error is fatal to the connection
// (nats-server closes on all of them); `close_connection` says so explicitly for callers.
struct ProtocolError {
  ErrorKind kind = ErrorKind::kNone;
  // The text to send as `-ERR '<err_text>'` before closing; empty: close silently.
  std::string_view err_text;
  // One sentence for logs: what was wrong. Static storage.
  std::string_view reason;
  bool close_connection = false;
};

struct Limits {
  // Longest argument part of a control line (after the op name and its separating whitespace,
  // before `\r\n`), as nats-server's max_control_line. Readers of INFO from big clusters may
  // want more.
  uint32_t max_control_line = 4096;
  // Largest PUB size / HPUB total size (and MSG/HMSG size on the server side), checked as soon
  // as the control line is read, before the payload arrives.
  uint64_t max_payload = 1024 * 1024;
  // False: HPUB is refused (silent close), as nats-server does for a client whose CONNECT did
  // not set headers:true. Has no effect on kServerToClient.
  bool headers_allowed = true;
};

// Pull parser. Feed() hands it the bytes of one read; Next() returns the ops in them one by one.
// An op that is not complete at the end of the fed bytes is copied (once) into a buffer owned by
// the parser, which is reused and only grows; all other ops are returned as views into the fed
// bytes. After an error the parser stays failed until Reset().
//
//   parser.Feed(read_bytes);
//   Op op;
//   while (parser.Next(op) == Parser::Result::kOp) Handle(op);
//   if (parser.failed()) { send -ERR parser.error().err_text if not empty; close; }
class Parser {
 public:
  enum class Result : uint8_t {
    kOp,        // `op` holds the next op
    kNeedMore,  // all fed bytes are consumed (a partial op may be buffered); Feed() more
    kError,     // protocol error; see error()
  };

  explicit Parser(Direction direction, Limits limits = {});
  ~Parser();
  Parser(Parser&&) noexcept;
  Parser& operator=(Parser&&) noexcept;

  // Sets the next bytes to parse. `data` must stay valid and unchanged until Next() returns
  // kNeedMore or kError (or views of ops returned from it are no longer used, if later).
  // Calling Feed() before the previous bytes are consumed is a programming error.
  void Feed(std::string_view data);

  Result Next(Op& op);

  // Limits may change between ops (e.g. after CONNECT or INFO); they apply from the next op.
  void set_limits(const Limits& limits) { limits_ = limits; }
  const Limits& limits() const { return limits_; }
  Direction direction() const { return direction_; }

  bool failed() const { return error_.kind != ErrorKind::kNone; }
  const ProtocolError& error() const { return error_; }

  // Bytes of a partial op held in the parser's buffer, and that buffer's capacity.
  size_t buffered() const { return pending_size_; }
  size_t buffer_capacity() const { return pending_capacity_; }
  // Bytes fed but not yet consumed by Next().
  size_t unconsumed() const { return input_.size(); }

  // Back to the start state: drops any partial op and the error; keeps the buffer's memory.
  void Reset();

 private:
  Result Fail(ErrorKind kind, std::string_view reason);
  Result NextBuffered(Op& op);
  Result BufferPartial(const char* p, size_t n, size_t total);
  void Reserve(size_t bytes);
  void Append(const char* data, size_t n);

  Direction direction_;
  Limits limits_;
  ProtocolError error_;
  std::string_view input_;
  std::unique_ptr<char[]> pending_;
  size_t pending_size_ = 0;
  size_t pending_capacity_ = 0;
  // While buffering: 0 until the control line is complete, then the op's full length.
  size_t pending_total_ = 0;
  // The previous Next() returned an op that lives in pending_; clear it on the next call.
  bool release_pending_ = false;
};

// Feeds `data` and calls `on_op(const Op&)` for each complete op. Returns kNeedMore when all of
// `data` is consumed, or kError (parser.error() says why). Inline so the handler is inlined.
template <typename Handler>
Parser::Result ParseAll(Parser& parser, std::string_view data, Handler&& on_op) {
  parser.Feed(data);
  Op op;
  Parser::Result result;
  while ((result = parser.Next(op)) == Parser::Result::kOp) on_op(static_cast<const Op&>(op));
  return result;
}

// Argument helpers, for code that reads protocol arguments itself.

// A decimal size as nats-server reads it: 1 to 9 ASCII digits. Returns -1 otherwise.
int64_t ParseSize(std::string_view digits);

// Splits `args` on runs of spaces and tabs into at most `max_out` fields. Returns the number of
// fields found; a return above `max_out` means there were more (only `max_out` were stored).
size_t SplitArgs(std::string_view args, std::string_view* out, size_t max_out);

}  // namespace meridian::proto
