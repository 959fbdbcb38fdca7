// Differential fuzz target for the protocol parser: the same bytes fed whole and fed in
// pseudo-random pieces must give identical ops and errors, and the ops' raw views must tile the
// consumed input exactly. First byte: bit 0 = direction, bit 1 = headers allowed, bit 7 = a
// leaf-node connection (overrides bit 0), the rest seeds the piece sizes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "proto/parser.h"

namespace {

using meridian::proto::Direction;
using meridian::proto::ErrorKind;
using meridian::proto::Limits;
using meridian::proto::Op;
using meridian::proto::Parser;

struct Outcome {
  std::vector<std::string> ops;  // raw bytes + the fields, joined
  ErrorKind error = ErrorKind::kNone;
  std::string raw_concat;
};

std::string Describe(const Op& op) {
  std::string s(meridian::proto::OpName(op.kind));
  for (std::string_view v : {op.raw, op.subject, op.reply, op.sid, op.queue, op.queues, op.text,
                             op.headers, op.payload}) {
    s += '|';
    s.append(v.data(), v.size());
  }
  s += '|' + std::to_string(op.has_max_msgs ? op.max_msgs : ~0ull);
  s += '|' + std::to_string(op.weight);
  return s;
}

void Check(bool ok) {
  if (!ok) std::abort();
}

Outcome Run(Direction d, Limits limits, std::string_view data, uint32_t seed) {
  Parser parser(d, limits);
  Outcome out;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t n = data.size() - pos;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (seed >> 16) % 23);
    }
    // A private copy per piece, wiped after use, so stale views are caught.
    std::string piece(data.substr(pos, n));
    pos += n;
    parser.Feed(piece);
    Op op;
    Parser::Result r;
    while ((r = parser.Next(op)) == Parser::Result::kOp) {
      Check(!op.raw.empty());
      Check(op.total_size() <= limits.max_payload);
      out.ops.push_back(Describe(op));
      out.raw_concat.append(op.raw.data(), op.raw.size());
    }
    for (char& c : piece) c = '#';
    if (r == Parser::Result::kError) {
      out.error = parser.error().kind;
      Check(parser.error().close_connection);
      return out;
    }
    Check(parser.unconsumed() == 0);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = bytes[0];
  const std::string_view data(reinterpret_cast<const char*>(bytes + 1), size - 1);
  const Direction d = (mode & 0x80) ? Direction::kLeaf
                      : (mode & 1)  ? Direction::kServerToClient
                                    : Direction::kClientToServer;
  const Limits limits{256, 512, (mode & 2) != 0};
  const Outcome whole = Run(d, limits, data, 0);
  const Outcome pieces = Run(d, limits, data, mode | 1u);
  Check(whole.ops == pieces.ops);
  Check(whole.error == pieces.error);
  // The raw views tile the input from its start, in order.
  Check(data.substr(0, whole.raw_concat.size()) == whole.raw_concat);
  return 0;
}
