// Fuzzes subject validation, matching, overlap checks and transforms.
//
// Input: up to four NUL-separated fields: source pattern, destination, a subject, and a
// second pattern. Beyond not crashing, it checks invariants that must hold for any input:
// validators agree with each other, a transform never applies to a subject its source does
// not match, its output is a valid publish subject whenever the destination cannot produce
// an empty piece, and the pattern relations are consistent with matching.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "subject/mapping.h"
#include "subject/subject.h"
#include "subject/sublist.h"
#include "subject/transform.h"

namespace {

using namespace meridian::subject;

void Check(bool condition) {
  if (!condition) std::abort();
}

class FixedPercent final : public PercentSource {
 public:
  explicit FixedPercent(std::uint32_t v) : v_(v % 100) {}
  std::uint32_t NextPercent() override { return v_; }

 private:
  std::uint32_t v_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> fields;
  while (fields.size() < 3) {
    std::size_t nul = input.find('\0');
    if (nul == std::string_view::npos) break;
    fields.push_back(input.substr(0, nul));
    input.remove_prefix(nul + 1);
  }
  fields.push_back(input);
  while (fields.size() < 4) fields.push_back({});
  std::string_view source = fields[0], destination = fields[1], subject = fields[2],
                   other = fields[3];

  // Validators agree with their sentence-returning forms.
  for (std::string_view s : fields) {
    Check(IsValidPublishSubject(s) == ValidatePublishSubject(s).ok());
    Check(IsValidSubscribeSubject(s) == ValidateSubscribeSubject(s).ok());
    Check(IsValidQueueGroup(s) == ValidateQueueGroup(s).ok());
    if (IsValidPublishSubject(s)) Check(IsValidSubscribeSubject(s) && !HasWildcard(s));
    std::size_t n = 0;
    for (std::string_view t : Tokens(s)) {
      Check(TokenAt(s, n) == t);
      ++n;
    }
    Check(n == TokenCount(s));
  }

  // Pattern relations are consistent with matching.
  if (IsValidSubscribeSubject(source) && IsValidSubscribeSubject(other)) {
    Check(SubjectsCollide(source, other) == SubjectsCollide(other, source));
    Check(SubjectIsSubsetOf(source, source));
    if (SubjectIsSubsetOf(source, other)) Check(SubjectsCollide(source, other));
    if (IsValidPublishSubject(subject) && SubjectMatches(source, subject) &&
        SubjectMatches(other, subject)) {
      Check(SubjectsCollide(source, other));
    }
    if (IsValidPublishSubject(subject) && SubjectIsSubsetOf(source, other) &&
        SubjectMatches(source, subject)) {
      Check(SubjectMatches(other, subject));
    }
  }

  // Sublist agrees with SubjectMatches for the patterns given.
  if (IsValidSubscribeSubject(source) && IsValidPublishSubject(subject)) {
    Sublist list(4);
    Check(list.Insert(source, 1).ok());
    if (IsValidSubscribeSubject(other)) Check(list.Insert(other, 2, "q").ok());
    auto r = list.Match(subject);
    bool has1 = !r->plain.empty();
    Check(has1 == SubjectMatches(source, subject));
    Check(list.Remove(source, 1));
    Check(list.Match(subject)->plain.empty());
  }

  // Transforms.
  for (TransformRules rules :
       {TransformRules::V210(), TransformRules::V29(), TransformRules::Import()}) {
    auto t = SubjectTransform::Parse(source, destination, rules);
    if (!t.ok()) {
      Check(!t.message().empty());
      continue;
    }
    std::string out;
    bool applied = t->Apply(subject, out);
    Check(applied == t->Matches(subject));
    if (applied) {
      Check(IsValidPublishSubject(subject));
      Check(!out.empty());
      // No function can produce an empty token or whitespace.
      for (std::string_view tok : Tokens(out)) {
        Check(!tok.empty());
        for (char c : tok) Check(!IsSubjectWhitespace(c));
      }
      // Destinations built only from literals, `>`, $n, wildcard() and partition() cannot
      // produce empty tokens, so their output must be a valid subject.
      bool simple = destination.find("{{") == std::string_view::npos ||
                    (destination.find("plit") == std::string_view::npos &&
                     destination.find("lice") == std::string_view::npos &&
                     destination.find("eft") == std::string_view::npos &&
                     destination.find("ight") == std::string_view::npos);
      if (simple) Check(IsValidPublishSubject(out));
    }
  }

  // Mapping with one weighted destination.
  std::vector<MappingDestination> dests = {{std::string(destination), 50, ""},
                                           {std::string(destination) + ".x", 50, "c1"}};
  auto m = SubjectMapping::Create(source, dests);
  if (m.ok() && IsValidPublishSubject(subject)) {
    FixedPercent p(size);
    std::string out;
    MapOutcome o = m->Map(subject, size % 2 ? "c1" : "c2", p, out);
    Check((o == MapOutcome::kNoMatch) == !m->Matches(subject));
  }
  return 0;
}
