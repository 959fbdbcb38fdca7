// Subject transforms: rewrite a subject that matches a source pattern into a destination
// built from literal tokens, `$n`, `>` and mapping functions, as NATS 2.10 defines them.
//
// A SubjectTransform is parsed and validated once (errors are sentences naming the bad
// token) and is then immutable: Apply is const, safe to call from many threads at once, and
// allocation-free when `out` has capacity and the source has at most 16 `*`. Wildcard
// indexes count the source's `*` tokens from 1; `>` in the destination copies the source's
// trailing tokens.
//
// Destination tokens: literal | `$n` | `>` | {{wildcard(n)}} | {{partition(P, n...)}} |
// {{split(n, delim)}} | {{splitFromLeft(n, k)}} | {{splitFromRight(n, k)}} |
// {{sliceFromLeft(n, k)}} | {{sliceFromRight(n, k)}} | {{left(n, k)}} | {{right(n, k)}}.
// Function names match per word in either initial case (splitFromLeft, SplitFromLeft,
// splitfromleft), spaces are allowed around the name and after commas, as nats-server
// accepts them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "subject/status.h"

namespace meridian::subject {

// Which destinations are accepted. The defaults are the 2.10 rules for account mappings and
// stream/source transforms (wildcards may be dropped).
struct TransformRules {
  // 2.9 mappings and cross-account imports: every `*` of the source must be used.
  bool require_all_wildcards = false;
  // Cross-account imports: only `$n` / {{wildcard(n)}} may be used.
  bool only_wildcard_functions = false;

  static constexpr TransformRules V210() { return {}; }
  static constexpr TransformRules V29() { return {true, false}; }
  static constexpr TransformRules Import() { return {true, true}; }
};

// 32-bit FNV-1a, the hash {{partition()}} uses (over the chosen wildcard values, concatenated
// without a separator).
std::uint32_t Fnv1a32(std::string_view data, std::uint32_t seed = 2166136261u);

class SubjectTransform {
 public:
  // `source` is a subscribe subject (empty means ">"); `destination` a transform destination.
  static Result<SubjectTransform> Parse(std::string_view source, std::string_view destination,
                                        TransformRules rules = {});

  // True when the literal subject matches the source pattern.
  bool Matches(std::string_view subject) const;
  // When `subject` matches the source, writes the transformed subject into `out` (replacing
  // its contents) and returns true; otherwise leaves `out` alone and returns false.
  bool Apply(std::string_view subject, std::string& out) const;
  // Convenience form of Apply that allocates.
  std::optional<std::string> Apply(std::string_view subject) const;

  const std::string& source() const { return source_; }
  const std::string& destination() const { return destination_; }
  std::size_t wildcard_count() const { return wildcard_count_; }
  // True when no destination token depends on the subject (a fixed destination).
  bool is_constant() const { return constant_; }

  enum class Kind : std::uint8_t {
    kLiteral,
    kTail,  // `>`
    kWildcard,
    kPartition,
    kSplit,
    kSplitFromLeft,
    kSplitFromRight,
    kSliceFromLeft,
    kSliceFromRight,
    kLeft,
    kRight,
  };
  struct Part {
    Kind kind = Kind::kLiteral;
    std::string text;                      // literal token, or split delimiter
    std::vector<std::uint16_t> wildcards;  // 0-based wildcard indexes used
    std::int32_t number = 0;               // partition count, position or slice size
  };

 private:
  SubjectTransform() = default;
  bool Capture(std::string_view subject, std::string_view* wildcards, std::string_view& tail) const;
  void Render(const std::string_view* wildcards, std::string_view tail, std::string& out) const;

  std::string source_;
  std::string destination_;
  std::vector<std::string> source_tokens_;
  std::size_t wildcard_count_ = 0;
  bool source_has_tail_ = false;
  bool constant_ = true;
  std::vector<Part> parts_;
};

}  // namespace meridian::subject
