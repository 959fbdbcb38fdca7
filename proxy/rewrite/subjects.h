// Subject forms of a virtual stream, both directions.
//
//   client (virtual)     upstream (stored / read stream)
//   foo.test        <->  foo.west.test        publish subject / delivered subject
//   foo.test        <->  foo.*.test           consumer filter, subjects_filter, next_by_subj
//   $JS.ACK.foo.…   <->  $JS.ACK.foo-read-west.…   ack subject (v1: 9 tokens, v2: 11+)
//
// Every function writes into a caller-owned `out` (its capacity is reused, so steady-state
// calls allocate nothing), returns whether it changed anything, and leaves `out` untouched
// when it returns false. Inputs need not be valid subjects; nothing here reads out of bounds.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "rewrite/topology.h"

namespace meridian::rewrite {

// out = `subject` with `token` inserted after its first `prefix_len` bytes (a root prefix):
// ("foo.test", 3, "west") -> "foo.west.test". Requires subject[prefix_len] == '.'.
void InsertTokenAfterPrefix(std::string_view subject, std::size_t prefix_len,
                            std::string_view token, std::string& out);

// Virtual publish subject -> stored subject in `region` ("foo.test" -> "foo.west.test").
// False when no root matches.
bool ToStoredSubject(const Topology& topology, std::string_view subject, std::string_view region,
                     std::string& out);

// Stored subject -> virtual subject ("foo.west.test" -> "foo.test"): only when a root
// matches, the token after its prefix is one of that stream's regions, and more follows.
bool ToVirtualSubject(const Topology& topology, std::string_view stored, std::string& out);

// Virtual filter -> read-stream filter: the region wildcard goes after the root prefix
// ("foo.test" -> "foo.*.test", "foo.>" -> "foo.*.>"). Filters outside every root (">",
// "bar.x", "*.test") are left alone.
bool ToStoredFilter(const Topology& topology, std::string_view filter, std::string& out);

// Read-stream filter -> virtual filter ("foo.*.test" -> "foo.test"): only when a root
// matches and the token after its prefix is "*" with more tokens after it.
bool ToVirtualFilter(const Topology& topology, std::string_view filter, std::string& out);

// Where the stream token of a JetStream ack subject is: `$JS.ACK.<stream>.…` with exactly 9
// tokens (v1) or `$JS.ACK.<domain>.<account hash>.<stream>.…` with 11 or more (v2).
struct TokenSpan {
  std::size_t pos;
  std::size_t len;
};
std::optional<TokenSpan> AckStreamToken(std::string_view subject);

// out = subject with the bytes [span.pos, span.pos + span.len) replaced by `replacement`.
void ReplaceSpan(std::string_view subject, TokenSpan span, std::string_view replacement,
                 std::string& out);

}  // namespace meridian::rewrite
