#include "subject/transform.h"

#include <array>
#include <charconv>
#include <limits>

#include "subject/subject.h"

namespace meridian::subject {
namespace {

using Kind = SubjectTransform::Kind;
using Part = SubjectTransform::Part;

// Built by appending: GCC 12 at -O3 reports a false -Wrestrict for "\"" + std::string(s).
std::string Q(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  out.append(s);
  out.push_back('"');
  return out;
}

// Function names as nats-server recognises them: each word's first letter in either case, the
// rest lower case.
struct FunctionName {
  Kind kind;
  std::array<std::string_view, 3> words;
  std::string_view display;
};

constexpr FunctionName kFunctions[] = {
    {Kind::kWildcard, {"wildcard"}, "wildcard"},
    {Kind::kPartition, {"partition"}, "partition"},
    {Kind::kSplitFromLeft, {"split", "from", "left"}, "splitFromLeft"},
    {Kind::kSplitFromRight, {"split", "from", "right"}, "splitFromRight"},
    {Kind::kSliceFromLeft, {"slice", "from", "left"}, "sliceFromLeft"},
    {Kind::kSliceFromRight, {"slice", "from", "right"}, "sliceFromRight"},
    {Kind::kSplit, {"split"}, "split"},
    {Kind::kLeft, {"left"}, "left"},
    {Kind::kRight, {"right"}, "right"},
};

bool NameMatches(std::string_view name, const FunctionName& f) {
  std::size_t pos = 0;
  for (std::string_view word : f.words) {
    if (word.empty()) break;
    if (name.size() - pos < word.size()) return false;
    char first = name[pos];
    if (first != word[0] && first != static_cast<char>(word[0] - 'a' + 'A')) return false;
    if (name.substr(pos + 1, word.size() - 1) != word.substr(1)) return false;
    pos += word.size();
  }
  return pos == name.size();
}

bool IsAsciiLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Parses an int32 the way Go's strconv.Atoi does for these arguments (optional sign, digits).
bool ParseInt32(std::string_view s, std::int32_t& value) {
  if (s.empty()) return false;
  bool negative = false;
  if (s.front() == '+' || s.front() == '-') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
    if (v > static_cast<std::int64_t>(std::numeric_limits<std::int32_t>::max()) + 1) return false;
  }
  if (negative) v = -v;
  if (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max())
    return false;
  value = static_cast<std::int32_t>(v);
  return true;
}

// Splits on ',' followed by any whitespace, as nats-server does.
std::vector<std::string_view> SplitArgs(std::string_view args) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = args.find(',', start);
    if (comma == std::string_view::npos) {
      out.push_back(args.substr(start));
      return out;
    }
    out.push_back(args.substr(start, comma - start));
    start = comma + 1;
    while (start < args.size() && IsSubjectWhitespace(args[start])) ++start;
  }
}

struct ParseContext {
  std::string_view source;
  std::string_view destination;
  std::size_t wildcard_count;
  TransformRules rules;
};

Status TokenError(std::string_view token, const std::string& what) {
  return Status::Error("destination token " + Q(token) + " " + what);
}

// Resolves a 1-based wildcard index argument to a 0-based index, checking the range.
Status WildcardIndex(const ParseContext& ctx, std::string_view token, std::string_view arg,
                     std::uint16_t& index) {
  std::int32_t n = 0;
  if (!ParseInt32(TrimSpaces(arg), n)) {
    return TokenError(token, "has wildcard index " + Q(arg) +
                                 ", which is not a number; wildcard indexes count the source's "
                                 "\"*\" tokens from 1");
  }
  if (n < 1 || static_cast<std::size_t>(n) > ctx.wildcard_count) {
    return TokenError(token, "refers to wildcard " + std::to_string(n) + ", but source " +
                                 Q(ctx.source) + " has " + std::to_string(ctx.wildcard_count) +
                                 " \"*\" wildcard" + (ctx.wildcard_count == 1 ? "" : "s") +
                                 "; use an index from 1 to " + std::to_string(ctx.wildcard_count));
  }
  index = static_cast<std::uint16_t>(n - 1);
  return Status::Ok();
}

// Parses one destination token into `part`.
Status ParseToken(const ParseContext& ctx, std::string_view token, Part& part) {
  part = Part{};
  if (token == kFullWildcard) {
    part.kind = Kind::kTail;
    return Status::Ok();
  }
  // Legacy `$n`. A `$` token that is not `$<number>` is a literal (like `$JS`).
  if (token.size() > 1 && token[0] == '$') {
    std::int32_t n;
    if (ParseInt32(token.substr(1), n)) {
      if (ctx.wildcard_count == 0) {
        return TokenError(
            token, "refers to a wildcard, but source " + Q(ctx.source) + " has no \"*\" wildcards");
      }
      part.kind = Kind::kWildcard;
      part.wildcards.resize(1);
      return WildcardIndex(ctx, token, token.substr(1), part.wildcards[0]);
    }
  }
  const bool is_function =
      token.size() > 4 && token.substr(0, 2) == "{{" && token.substr(token.size() - 2) == "}}";
  if (!is_function) {
    for (char c : token) {
      if (IsSubjectWhitespace(c)) {
        return Status::Error("destination " + Q(ctx.destination) + " has whitespace in token " +
                             Q(token) + "; only mapping functions ({{...}}) may contain spaces");
      }
    }
    if (token == kSingleWildcard) {
      return Status::Error("destination " + Q(ctx.destination) +
                           " contains \"*\"; a destination cannot be a wildcard, use $n or "
                           "{{wildcard(n)}} to copy the source's n-th \"*\"");
    }
    part.kind = Kind::kLiteral;
    part.text = std::string(token);
    return Status::Ok();
  }

  // {{ name ( args ) }}
  std::string_view inner = token.substr(2, token.size() - 4);
  std::size_t i = 0;
  while (i < inner.size() && IsSubjectWhitespace(inner[i])) ++i;
  std::size_t name_start = i;
  while (i < inner.size() && IsAsciiLetter(inner[i])) ++i;
  std::string_view name = inner.substr(name_start, i - name_start);
  while (i < inner.size() && IsSubjectWhitespace(inner[i])) ++i;
  std::size_t close = inner.find_last_not_of(" \t\r\n\f");
  const FunctionName* function = nullptr;
  if (i < inner.size() && inner[i] == '(' && close != std::string_view::npos && close > i &&
      inner[close] == ')') {
    for (const FunctionName& f : kFunctions) {
      if (NameMatches(name, f)) {
        function = &f;
        break;
      }
    }
  }
  if (function == nullptr) {
    return TokenError(token,
                      "is not a known mapping function; write {{name(arguments)}} with name one of "
                      "wildcard, partition, split, splitFromLeft, splitFromRight, sliceFromLeft, "
                      "sliceFromRight, left, right");
  }
  std::string_view fname = function->display;
  if (ctx.rules.only_wildcard_functions && function->kind != Kind::kWildcard) {
    return TokenError(token, "uses " + std::string(fname) +
                                 ", but this mapping (a cross-account import) may only use $n "
                                 "or {{wildcard(n)}}");
  }
  if (ctx.wildcard_count == 0) {
    return TokenError(token, "uses " + std::string(fname) + ", but source " + Q(ctx.source) +
                                 " has no \"*\" wildcards for it to work on");
  }
  std::vector<std::string_view> args = SplitArgs(inner.substr(i + 1, close - i - 1));
  part.kind = function->kind;
  auto count_error = [&](const char* expected) {
    std::size_t got = (args.size() == 1 && args[0].empty()) ? 0 : args.size();
    return TokenError(token, "gives " + std::string(fname) + " " + std::to_string(got) +
                                 " argument" + (got == 1 ? "" : "s") + ", but it takes " +
                                 expected);
  };
  auto int_arg = [&](std::string_view arg, const char* what, std::int32_t& out) {
    if (!ParseInt32(TrimSpaces(arg), out)) {
      return TokenError(token, "has " + std::string(what) + " " + Q(arg) + " for " +
                                   std::string(fname) + ", which is not an integer");
    }
    return Status::Ok();
  };

  switch (function->kind) {
    case Kind::kWildcard:
      if (args.size() != 1 || args[0].empty()) return count_error("1 (the wildcard index)");
      part.wildcards.resize(1);
      return WildcardIndex(ctx, token, args[0], part.wildcards[0]);
    case Kind::kPartition: {
      if (args.size() < 2) {
        return count_error("2 or more (the number of partitions, then wildcard indexes)");
      }
      if (Status s = int_arg(args[0], "partition count", part.number); !s.ok()) return s;
      if (part.number < 1) {
        return TokenError(token, "asks for " + std::to_string(part.number) +
                                     " partitions; the partition count must be at least 1");
      }
      part.wildcards.resize(args.size() - 1);
      for (std::size_t a = 1; a < args.size(); ++a) {
        if (Status s = WildcardIndex(ctx, token, args[a], part.wildcards[a - 1]); !s.ok()) {
          return s;
        }
      }
      return Status::Ok();
    }
    case Kind::kSplit: {
      if (args.size() != 2) return count_error("2 (the wildcard index and a delimiter)");
      part.wildcards.resize(1);
      if (Status s = WildcardIndex(ctx, token, args[0], part.wildcards[0]); !s.ok()) return s;
      std::string_view delimiter = args[1];
      if (delimiter.empty()) {
        return TokenError(token, "gives split an empty delimiter; give the text to split on");
      }
      for (char c : delimiter) {
        if (IsSubjectWhitespace(c)) {
          return TokenError(token, "gives split the delimiter " + Q(delimiter) +
                                       ", which contains whitespace; delimiters may not");
        }
      }
      part.text = std::string(delimiter);
      return Status::Ok();
    }
    default: {
      if (args.size() != 2) return count_error("2 (the wildcard index and a number)");
      part.wildcards.resize(1);
      if (Status s = WildcardIndex(ctx, token, args[0], part.wildcards[0]); !s.ok()) return s;
      return int_arg(args[1], "size", part.number);
    }
  }
}

// Appends `value` split on `delimiter`, empty pieces dropped, pieces joined with '.'. A value
// made only of delimiters is copied unchanged so the result stays a valid subject.
void RenderSplit(std::string_view value, std::string_view delimiter, std::string& out) {
  bool wrote = false;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t hit = value.find(delimiter, start);
    std::size_t end = hit == std::string_view::npos ? value.size() : hit;
    if (end > start) {
      if (wrote) out.push_back(kSeparator);
      out.append(value.substr(start, end - start));
      wrote = true;
    }
    if (hit == std::string_view::npos) break;
    start = hit + delimiter.size();
  }
  if (!wrote) out.append(value);
}

void AppendDecimal(std::uint32_t v, std::string& out) {
  char buf[16];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

constexpr std::size_t kInlineWildcards = 16;

}  // namespace

std::uint32_t Fnv1a32(std::string_view data, std::uint32_t seed) {
  std::uint32_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

Result<SubjectTransform> SubjectTransform::Parse(std::string_view source,
                                                 std::string_view destination,
                                                 TransformRules rules) {
  if (source.empty()) source = kFullWildcard;
  if (Status s = ValidateSubscribeSubject(source); !s.ok()) {
    return Status::Error("transform source is not valid: " + s.message());
  }
  if (destination.empty()) {
    return Status::Error("transform destination for source " + Q(source) +
                         " is empty; give the subject to map to");
  }
  SubjectTransform t;
  t.source_ = std::string(source);
  t.destination_ = std::string(destination);
  for (std::string_view token : Tokens(source)) {
    t.source_tokens_.emplace_back(token);
    if (token == kSingleWildcard) ++t.wildcard_count_;
    if (token == kFullWildcard) t.source_has_tail_ = true;
  }
  ParseContext ctx{source, destination, t.wildcard_count_, rules};

  std::size_t position = 0;
  std::size_t destination_tokens = TokenCount(destination);
  bool destination_has_tail = false;
  for (std::string_view token : Tokens(destination)) {
    ++position;
    if (token.empty()) {
      return Status::Error("destination " + Q(destination) + " has an empty token at position " +
                           std::to_string(position) +
                           "; remove the leading, trailing or doubled \".\"");
    }
    if (token == kFullWildcard && position != destination_tokens) {
      return Status::Error("destination " + Q(destination) + " has \">\" at position " +
                           std::to_string(position) +
                           " followed by more tokens; \">\" may only be the last token");
    }
    Part part;
    if (Status s = ParseToken(ctx, token, part); !s.ok()) return s;
    if (part.kind == Kind::kTail) destination_has_tail = true;
    if (part.kind != Kind::kLiteral) t.constant_ = false;
    t.parts_.push_back(std::move(part));
  }
  if (destination_has_tail != t.source_has_tail_) {
    return Status::Error("source " + Q(source) + " and destination " + Q(destination) +
                         " must both end in \">\" or neither may use it");
  }
  if (rules.require_all_wildcards) {
    std::vector<bool> used(t.wildcard_count_, false);
    for (const Part& p : t.parts_) {
      for (auto w : p.wildcards) used[w] = true;
    }
    for (std::size_t w = 0; w < used.size(); ++w) {
      if (!used[w]) {
        return Status::Error("destination " + Q(destination) + " does not use wildcard " +
                             std::to_string(w + 1) + " of source " + Q(source) +
                             "; this mapping must use every \"*\" (NATS 2.9 mappings and "
                             "cross-account imports)");
      }
    }
  }
  return t;
}

bool SubjectTransform::Capture(std::string_view subject, std::string_view* wildcards,
                               std::string_view& tail) const {
  if (subject.empty()) return false;
  std::size_t w = 0;
  std::size_t pos = 0;  // start of the current subject token
  bool subject_done = false;
  for (const std::string& pattern : source_tokens_) {
    if (pattern == kFullWildcard) {
      if (subject_done) return false;
      tail = subject.substr(pos);
      return true;
    }
    if (subject_done) return false;
    std::size_t dot = subject.find(kSeparator, pos);
    std::string_view token =
        subject.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    if (token.empty()) return false;
    if (pattern == kSingleWildcard) {
      wildcards[w++] = token;
    } else if (pattern != token) {
      return false;
    }
    if (dot == std::string_view::npos) {
      subject_done = true;
    } else {
      pos = dot + 1;
    }
  }
  return subject_done;
}

void SubjectTransform::Render(const std::string_view* wildcards, std::string_view tail,
                              std::string& out) const {
  out.clear();
  bool first = true;
  for (const Part& part : parts_) {
    if (!first) out.push_back(kSeparator);
    first = false;
    std::string_view value;
    if (!part.wildcards.empty()) value = wildcards[part.wildcards[0]];
    const std::size_t len = value.size();
    const std::int64_t n = part.number;
    switch (part.kind) {
      case Kind::kLiteral:
        out.append(part.text);
        break;
      case Kind::kTail:
        out.append(tail);
        break;
      case Kind::kWildcard:
        out.append(value);
        break;
      case Kind::kPartition: {
        std::uint32_t h = 2166136261u;
        for (auto w : part.wildcards) h = Fnv1a32(wildcards[w], h);
        AppendDecimal(h % static_cast<std::uint32_t>(part.number), out);
        break;
      }
      case Kind::kSplit:
        RenderSplit(value, part.text, out);
        break;
      case Kind::kSplitFromLeft:
      case Kind::kSplitFromRight:
        if (n > 0 && static_cast<std::size_t>(n) < len) {
          std::size_t cut = part.kind == Kind::kSplitFromLeft ? n : len - n;
          out.append(value.substr(0, cut));
          out.push_back(kSeparator);
          out.append(value.substr(cut));
        } else {
          out.append(value);
        }
        break;
      case Kind::kSliceFromLeft:
        if (n > 0 && static_cast<std::size_t>(n) < len) {
          for (std::size_t i = 0; i < len; i += n) {
            if (i != 0) out.push_back(kSeparator);
            out.append(value.substr(i, n));
          }
        } else {
          out.append(value);
        }
        break;
      case Kind::kSliceFromRight:
        if (n > 0 && static_cast<std::size_t>(n) < len) {
          std::size_t remainder = len % n;
          if (remainder > 0) out.append(value.substr(0, remainder));
          for (std::size_t i = remainder; i < len; i += n) {
            if (i != 0) out.push_back(kSeparator);
            out.append(value.substr(i, n));
          }
        } else {
          out.append(value);
        }
        break;
      case Kind::kLeft:
        out.append(n > 0 && static_cast<std::size_t>(n) < len ? value.substr(0, n) : value);
        break;
      case Kind::kRight:
        out.append(n > 0 && static_cast<std::size_t>(n) < len ? value.substr(len - n) : value);
        break;
    }
  }
}

bool SubjectTransform::Matches(std::string_view subject) const {
  return SubjectMatches(source_, subject) && IsValidPublishSubject(subject);
}

bool SubjectTransform::Apply(std::string_view subject, std::string& out) const {
  std::array<std::string_view, kInlineWildcards> inline_wildcards;
  std::vector<std::string_view> heap_wildcards;
  std::string_view* wildcards = inline_wildcards.data();
  if (wildcard_count_ > kInlineWildcards) {
    heap_wildcards.resize(wildcard_count_);
    wildcards = heap_wildcards.data();
  }
  std::string_view tail;
  // Like nats-server, only valid literal subjects are transformed.
  if (!IsValidPublishSubject(subject) || !Capture(subject, wildcards, tail)) return false;
  Render(wildcards, tail, out);
  return true;
}

std::optional<std::string> SubjectTransform::Apply(std::string_view subject) const {
  std::string out;
  if (!Apply(subject, out)) return std::nullopt;
  return out;
}

}  // namespace meridian::subject
