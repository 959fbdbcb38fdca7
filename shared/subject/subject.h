// Subjects: validation, tokens, and wildcard matching between subjects and patterns.
//
// A subject is dot-separated tokens. A publish subject is literal; a subscribe subject (a
// pattern) may use `*` (exactly one token) and `>` (one or more trailing tokens, last only) as
// whole tokens. Everything here works on std::string_view, allocates nothing unless it
// returns an error sentence, and is pure (safe from any thread). Positions in error
// sentences are 1-based; indexes in the API are 0-based.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "subject/status.h"

namespace meridian::subject {

inline constexpr char kSeparator = '.';
inline constexpr std::string_view kSingleWildcard = "*";
inline constexpr std::string_view kFullWildcard = ">";

// True for the bytes NATS refuses inside a token: space, tab, CR, LF, FF.
constexpr bool IsSubjectWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

// --- Validation --------------------------------------------------------------------------

// Literal subject: non-empty tokens, no whitespace, no `*` or `>` token.
bool IsValidPublishSubject(std::string_view subject);
// Pattern: non-empty tokens, no whitespace, `>` only as the last token.
bool IsValidSubscribeSubject(std::string_view subject);
// Queue group name: non-empty, no whitespace (dots and wildcard characters are plain bytes).
bool IsValidQueueGroup(std::string_view queue);
// True when some token is exactly `*` or `>`. Does not validate.
bool HasWildcard(std::string_view subject);

// The same checks, with a sentence naming the subject and the bad token on failure.
Status ValidatePublishSubject(std::string_view subject);
Status ValidateSubscribeSubject(std::string_view subject);
Status ValidateQueueGroup(std::string_view queue);

// --- Tokens ------------------------------------------------------------------------------

// Number of tokens; 0 for the empty string ("a..b" has 3).
std::size_t TokenCount(std::string_view subject);
// Token `index` (0-based), or an empty view when out of range.
std::string_view TokenAt(std::string_view subject, std::size_t index);
// Writes up to out.size() tokens into `out` and returns the total number of tokens, which
// may exceed out.size() (then only the first out.size() were written).
std::size_t SplitTokens(std::string_view subject, std::span<std::string_view> out);
// Replaces the contents of `out` with all tokens (reuses its capacity).
void SplitTokens(std::string_view subject, std::vector<std::string_view>& out);

// Forward iteration over tokens without allocation: `for (auto t : Tokens(s))`.
class Tokens {
 public:
  explicit Tokens(std::string_view subject) : subject_(subject) {}
  class iterator {
   public:
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(std::string_view subject, std::size_t start);
    std::string_view operator*() const { return token_; }
    iterator& operator++();
    iterator operator++(int) {
      iterator copy = *this;
      ++*this;
      return copy;
    }
    bool operator==(const iterator& other) const { return start_ == other.start_; }

   private:
    std::string_view subject_;
    std::size_t start_ = std::string_view::npos;  // npos marks the end
    std::string_view token_;
  };
  iterator begin() const { return subject_.empty() ? end() : iterator(subject_, 0); }
  iterator end() const { return iterator(); }

 private:
  std::string_view subject_;
};

// --- Matching ----------------------------------------------------------------------------
// These assume valid inputs (validate first); on invalid input they return some bool
// without reading out of bounds.

// True when the literal `subject` matches `pattern`. Case-sensitive, whole tokens.
bool SubjectMatches(std::string_view pattern, std::string_view subject);
// True when some literal subject matches both patterns ("foo.*" and "foo.>" collide;
// "foo.*" and "foo.*.*" do not).
bool SubjectsCollide(std::string_view a, std::string_view b);
// True when every literal subject that matches `a` also matches `b` ("foo.*" is a subset of
// "foo.>" and of "*.*"; "foo.>" is not a subset of "foo.*").
bool SubjectIsSubsetOf(std::string_view a, std::string_view b);

}  // namespace meridian::subject
