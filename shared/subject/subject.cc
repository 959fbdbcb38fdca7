#include "subject/subject.h"

#include <string>

namespace meridian::subject {
namespace {

// Shared walker for the validators: returns the first problem, or kNone.
enum class Problem { kNone, kEmpty, kEmptyToken, kWhitespace, kFullWildcardNotLast, kWildcard };

struct Finding {
  Problem problem = Problem::kNone;
  std::size_t position = 0;  // 1-based token position
  std::string_view token;
};

Finding Inspect(std::string_view subject, bool allow_wildcards) {
  if (subject.empty()) return {Problem::kEmpty, 0, {}};
  std::size_t position = 0;
  bool seen_full_wildcard = false;
  std::size_t start = 0;
  while (true) {
    std::size_t end = subject.find(kSeparator, start);
    std::string_view token =
        subject.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    ++position;
    if (seen_full_wildcard) return {Problem::kFullWildcardNotLast, position - 1, kFullWildcard};
    if (token.empty()) return {Problem::kEmptyToken, position, token};
    for (char c : token) {
      if (IsSubjectWhitespace(c)) return {Problem::kWhitespace, position, token};
    }
    if (token == kSingleWildcard || token == kFullWildcard) {
      if (!allow_wildcards) return {Problem::kWildcard, position, token};
      if (token == kFullWildcard) seen_full_wildcard = true;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return {};
}

std::string Quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

Status Describe(const Finding& f, std::string_view subject, std::string_view kind) {
  std::string what = std::string(kind) + " " + Quote(subject);
  switch (f.problem) {
    case Problem::kNone:
      return Status::Ok();
    case Problem::kEmpty:
      return Status::Error(std::string(kind) +
                           " is empty; give at least one token, for example \"orders.new\"");
    case Problem::kEmptyToken:
      return Status::Error(what + " has an empty token at position " + std::to_string(f.position) +
                           "; remove the leading, trailing or doubled \".\"");
    case Problem::kWhitespace:
      return Status::Error(what + " has whitespace in token " + std::to_string(f.position) +
                           "; subjects may not contain spaces, tabs, CR, LF or FF");
    case Problem::kFullWildcardNotLast:
      return Status::Error(what + " has \">\" at position " + std::to_string(f.position) +
                           " followed by more tokens; \">\" may only be the last token");
    case Problem::kWildcard:
      return Status::Error(what + " has the wildcard " + Quote(f.token) + " at position " +
                           std::to_string(f.position) +
                           "; publish subjects must be literal (no \"*\" or \">\" tokens)");
  }
  return Status::Ok();
}

// Minimal token cursor over a subject.
struct Cursor {
  std::string_view rest;
  bool done;
  explicit Cursor(std::string_view s) : rest(s), done(s.empty()) {}
  // Returns false when exhausted.
  bool Next(std::string_view& token) {
    if (done) return false;
    std::size_t dot = rest.find(kSeparator);
    if (dot == std::string_view::npos) {
      token = rest;
      done = true;
    } else {
      token = rest.substr(0, dot);
      rest.remove_prefix(dot + 1);
    }
    return true;
  }
};

}  // namespace

namespace {

// One pass over the bytes; the hot path for every PUB a proxy or server sees. Inspect() gives
// the details only when this says no.
inline bool FastValid(std::string_view subject, bool allow_wildcards) {
  const char* p = subject.data();
  const std::size_t n = subject.size();
  if (n == 0) return false;
  std::size_t token_start = 0;
  bool after_full_wildcard = false;
  for (std::size_t i = 0; i <= n; ++i) {
    const char c = i < n ? p[i] : kSeparator;
    if (c == kSeparator) {
      const std::size_t len = i - token_start;
      if (len == 0 || after_full_wildcard) return false;
      if (len == 1 && (p[token_start] == '*' || p[token_start] == '>')) {
        if (!allow_wildcards) return false;
        after_full_wildcard = p[token_start] == '>';
      }
      token_start = i + 1;
    } else if (static_cast<unsigned char>(c) <= ' ' && IsSubjectWhitespace(c)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsValidPublishSubject(std::string_view subject) {
  return FastValid(subject, false);
}

bool IsValidSubscribeSubject(std::string_view subject) {
  return FastValid(subject, true);
}

bool IsValidQueueGroup(std::string_view queue) {
  if (queue.empty()) return false;
  for (char c : queue) {
    if (IsSubjectWhitespace(c)) return false;
  }
  return true;
}

bool HasWildcard(std::string_view subject) {
  for (std::string_view t : Tokens(subject)) {
    if (t == kSingleWildcard || t == kFullWildcard) return true;
  }
  return false;
}

Status ValidatePublishSubject(std::string_view subject) {
  if (FastValid(subject, false)) return Status::Ok();
  return Describe(Inspect(subject, false), subject, "subject");
}

Status ValidateSubscribeSubject(std::string_view subject) {
  if (FastValid(subject, true)) return Status::Ok();
  return Describe(Inspect(subject, true), subject, "subject");
}

Status ValidateQueueGroup(std::string_view queue) {
  if (queue.empty()) {
    return Status::Error("queue group name is empty; give a name or subscribe without a queue");
  }
  for (char c : queue) {
    if (IsSubjectWhitespace(c)) {
      return Status::Error("queue group " + Quote(queue) +
                           " contains whitespace; queue group names may not contain spaces, "
                           "tabs, CR, LF or FF");
    }
  }
  return Status::Ok();
}

std::size_t TokenCount(std::string_view subject) {
  if (subject.empty()) return 0;
  std::size_t n = 1;
  for (char c : subject) n += (c == kSeparator);
  return n;
}

std::string_view TokenAt(std::string_view subject, std::size_t index) {
  std::size_t i = 0;
  for (std::string_view t : Tokens(subject)) {
    if (i++ == index) return t;
  }
  return {};
}

std::size_t SplitTokens(std::string_view subject, std::span<std::string_view> out) {
  std::size_t n = 0;
  for (std::string_view t : Tokens(subject)) {
    if (n < out.size()) out[n] = t;
    ++n;
  }
  return n;
}

void SplitTokens(std::string_view subject, std::vector<std::string_view>& out) {
  out.clear();
  for (std::string_view t : Tokens(subject)) out.push_back(t);
}

Tokens::iterator::iterator(std::string_view subject, std::size_t start)
    : subject_(subject), start_(start) {
  std::size_t dot = subject_.find(kSeparator, start_);
  token_ = subject_.substr(start_, dot == std::string_view::npos ? dot : dot - start_);
}

Tokens::iterator& Tokens::iterator::operator++() {
  std::size_t next = start_ + token_.size();
  if (next >= subject_.size()) {
    start_ = std::string_view::npos;
    token_ = {};
    return *this;
  }
  // subject_[next] is a separator; the token after it may be empty ("a." has tokens a, "").
  *this = iterator(subject_, next + 1);
  return *this;
}

bool SubjectMatches(std::string_view pattern, std::string_view subject) {
  Cursor p(pattern), s(subject);
  std::string_view pt, st;
  while (p.Next(pt)) {
    if (pt == kFullWildcard) return s.Next(st);
    if (!s.Next(st)) return false;
    if (pt != kSingleWildcard && pt != st) return false;
  }
  return !s.Next(st);
}

bool SubjectsCollide(std::string_view a, std::string_view b) {
  Cursor ca(a), cb(b);
  std::string_view ta, tb;
  while (true) {
    bool has_a = ca.Next(ta);
    bool has_b = cb.Next(tb);
    if (!has_a || !has_b) return has_a == has_b;
    if (ta == kFullWildcard || tb == kFullWildcard) return true;
    if (ta == kSingleWildcard || tb == kSingleWildcard) continue;
    if (ta != tb) return false;
  }
}

bool SubjectIsSubsetOf(std::string_view a, std::string_view b) {
  Cursor ca(a), cb(b);
  std::string_view ta, tb;
  while (true) {
    bool has_b = cb.Next(tb);
    bool has_a = ca.Next(ta);
    if (!has_b) return !has_a;
    if (tb == kFullWildcard) return has_a;
    if (!has_a) return false;
    if (ta == kFullWildcard) return false;
    if (tb == kSingleWildcard) continue;
    if (ta == kSingleWildcard || ta != tb) return false;
  }
}

}  // namespace meridian::subject
