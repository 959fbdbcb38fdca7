#include "rewrite/subjects.h"

namespace meridian::rewrite {
namespace {

// The token that starts at `pos` (up to the next '.' or the end).
std::string_view TokenFrom(std::string_view s, std::size_t pos) {
  std::size_t end = s.find('.', pos);
  return s.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
}

// out = s without the token at [pos, pos+len) and the dot that follows it.
void EraseTokenAndDot(std::string_view s, std::size_t pos, std::size_t len, std::string& out) {
  out.assign(s.substr(0, pos));
  out.append(s.substr(pos + len + 1));
}

}  // namespace

void InsertTokenAfterPrefix(std::string_view subject, std::size_t prefix_len,
                            std::string_view token, std::string& out) {
  out.assign(subject.substr(0, prefix_len + 1));  // "foo."
  out.append(token);
  out.append(subject.substr(prefix_len));  // ".test"
}

bool ToStoredSubject(const Topology& topology, std::string_view subject, std::string_view region,
                     std::string& out) {
  const SubjectRoot* root = topology.MatchRoot(subject);
  if (root == nullptr) return false;
  InsertTokenAfterPrefix(subject, root->prefix.size(), region, out);
  return true;
}

bool ToVirtualSubject(const Topology& topology, std::string_view stored, std::string& out) {
  const SubjectRoot* root = topology.MatchRoot(stored);
  if (root == nullptr) return false;
  const std::size_t pos = root->prefix.size() + 1;
  std::string_view token = TokenFrom(stored, pos);
  if (pos + token.size() >= stored.size()) return false;  // nothing after the region token
  if (!topology.RegionIndex(root->stream, token)) return false;
  EraseTokenAndDot(stored, pos, token.size(), out);
  return true;
}

bool ToStoredFilter(const Topology& topology, std::string_view filter, std::string& out) {
  const SubjectRoot* root = topology.MatchRoot(filter);
  if (root == nullptr) return false;
  InsertTokenAfterPrefix(filter, root->prefix.size(), "*", out);
  return true;
}

bool ToVirtualFilter(const Topology& topology, std::string_view filter, std::string& out) {
  const SubjectRoot* root = topology.MatchRoot(filter);
  if (root == nullptr) return false;
  const std::size_t pos = root->prefix.size() + 1;
  std::string_view token = TokenFrom(filter, pos);
  if (token != "*" || pos + token.size() >= filter.size()) return false;
  EraseTokenAndDot(filter, pos, token.size(), out);
  return true;
}

std::optional<TokenSpan> AckStreamToken(std::string_view subject) {
  constexpr std::string_view kAckPrefix = "$JS.ACK.";
  if (!subject.starts_with(kAckPrefix)) return std::nullopt;
  // Count tokens and remember where tokens 3 and 5 (1-based) start.
  std::size_t tokens = 1;
  std::size_t third = 0, fifth = 0;
  for (std::size_t i = 0; i < subject.size(); ++i) {
    if (subject[i] != '.') continue;
    ++tokens;
    if (tokens == 3) third = i + 1;
    if (tokens == 5) fifth = i + 1;
  }
  std::size_t start;
  if (tokens == 9) {
    start = third;
  } else if (tokens >= 11) {
    start = fifth;
  } else {
    return std::nullopt;
  }
  std::string_view token = TokenFrom(subject, start);
  if (token.empty()) return std::nullopt;
  return TokenSpan{start, token.size()};
}

void ReplaceSpan(std::string_view subject, TokenSpan span, std::string_view replacement,
                 std::string& out) {
  out.assign(subject.substr(0, span.pos));
  out.append(replacement);
  out.append(subject.substr(span.pos + span.len));
}

}  // namespace meridian::rewrite
