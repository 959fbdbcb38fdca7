#include "subject/subject.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace meridian::subject {
namespace {

TEST(SubjectValidation, AcceptsLiteralPublishSubjects) {
  EXPECT_TRUE(IsValidPublishSubject("foo"));
  EXPECT_TRUE(IsValidPublishSubject("foo.bar.baz"));
  EXPECT_TRUE(IsValidPublishSubject("$JS.API.INFO"));
  EXPECT_TRUE(ValidatePublishSubject("orders.new").ok());
}

TEST(SubjectValidation, TreatsWildcardCharactersInsideTokensAsLiteral) {
  EXPECT_TRUE(IsValidPublishSubject("foo.b*r"));
  EXPECT_TRUE(IsValidPublishSubject("foo.>>"));
  EXPECT_TRUE(IsValidPublishSubject("*a.>b"));
  EXPECT_FALSE(HasWildcard("foo.b*r.>x"));
}

TEST(SubjectValidation, RejectsWildcardsInPublishSubjects) {
  EXPECT_FALSE(IsValidPublishSubject("foo.*"));
  EXPECT_FALSE(IsValidPublishSubject(">"));
  Status s = ValidatePublishSubject("foo.*.bar");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "subject \"foo.*.bar\" has the wildcard \"*\" at position 2; publish subjects must "
            "be literal (no \"*\" or \">\" tokens)");
}

TEST(SubjectValidation, ReportsEmptySubject) {
  EXPECT_FALSE(IsValidPublishSubject(""));
  EXPECT_FALSE(IsValidSubscribeSubject(""));
  EXPECT_EQ(ValidateSubscribeSubject("").message(),
            "subject is empty; give at least one token, for example \"orders.new\"");
}

TEST(SubjectValidation, ReportsEmptyTokenWithItsPosition) {
  EXPECT_EQ(ValidatePublishSubject("foo..bar").message(),
            "subject \"foo..bar\" has an empty token at position 2; remove the leading, trailing "
            "or doubled \".\"");
  EXPECT_NE(ValidatePublishSubject(".foo").message().find("position 1"), std::string::npos);
  EXPECT_NE(ValidateSubscribeSubject("foo.").message().find("position 2"), std::string::npos);
  EXPECT_FALSE(IsValidSubscribeSubject("."));
}

TEST(SubjectValidation, RejectsEachKindOfWhitespace) {
  for (char c : std::string(" \t\r\n\f")) {
    std::string subject = std::string("foo.b") + c + "r";
    EXPECT_FALSE(IsValidPublishSubject(subject)) << int(c);
    EXPECT_FALSE(IsValidSubscribeSubject(subject)) << int(c);
  }
  EXPECT_EQ(ValidatePublishSubject("foo.a b").message(),
            "subject \"foo.a b\" has whitespace in token 2; subjects may not contain spaces, "
            "tabs, CR, LF or FF");
  EXPECT_NE(ValidatePublishSubject("a\tb").message().find("\\t"), std::string::npos);
}

TEST(SubjectValidation, AcceptsWildcardsAsWholeTokensInSubscribeSubjects) {
  EXPECT_TRUE(IsValidSubscribeSubject("*"));
  EXPECT_TRUE(IsValidSubscribeSubject(">"));
  EXPECT_TRUE(IsValidSubscribeSubject("foo.*.bar.>"));
  EXPECT_TRUE(IsValidSubscribeSubject("*.*.*"));
  EXPECT_TRUE(HasWildcard("foo.*"));
  EXPECT_TRUE(HasWildcard("foo.>"));
}

TEST(SubjectValidation, RejectsFullWildcardBeforeTheLastToken) {
  EXPECT_FALSE(IsValidSubscribeSubject("foo.>.bar"));
  EXPECT_FALSE(IsValidSubscribeSubject(">.>"));
  EXPECT_EQ(ValidateSubscribeSubject("foo.>.bar").message(),
            "subject \"foo.>.bar\" has \">\" at position 2 followed by more tokens; \">\" may "
            "only be the last token");
}

TEST(QueueGroupValidation, AcceptsNamesWithoutWhitespace) {
  EXPECT_TRUE(IsValidQueueGroup("workers"));
  EXPECT_TRUE(IsValidQueueGroup("workers.v1"));
  EXPECT_TRUE(ValidateQueueGroup("q*").ok());
}

TEST(QueueGroupValidation, RejectsEmptyAndWhitespace) {
  EXPECT_FALSE(IsValidQueueGroup(""));
  EXPECT_FALSE(IsValidQueueGroup("a b"));
  EXPECT_EQ(ValidateQueueGroup("").message(),
            "queue group name is empty; give a name or subscribe without a queue");
  EXPECT_EQ(ValidateQueueGroup("a\nb").message(),
            "queue group \"a\\nb\" contains whitespace; queue group names may not contain "
            "spaces, tabs, CR, LF or FF");
}

TEST(Tokens, CountsTokensIncludingEmptyOnes) {
  EXPECT_EQ(TokenCount(""), 0u);
  EXPECT_EQ(TokenCount("foo"), 1u);
  EXPECT_EQ(TokenCount("foo.bar.baz"), 3u);
  EXPECT_EQ(TokenCount("a..b"), 3u);
  EXPECT_EQ(TokenCount("."), 2u);
}

TEST(Tokens, ReturnsTokenAtZeroBasedIndex) {
  EXPECT_EQ(TokenAt("foo.bar.baz", 0), "foo");
  EXPECT_EQ(TokenAt("foo.bar.baz", 2), "baz");
  EXPECT_EQ(TokenAt("foo.bar.baz", 3), "");
  EXPECT_EQ(TokenAt("", 0), "");
}

TEST(Tokens, IteratesWithoutSkippingEmptyTokens) {
  std::vector<std::string> seen;
  for (std::string_view t : Tokens("a..b.")) seen.emplace_back(t);
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "", "b", ""}));
  int n = 0;
  for ([[maybe_unused]] std::string_view t : Tokens("")) ++n;
  EXPECT_EQ(n, 0);
}

TEST(Tokens, SplitsIntoSpanAndReportsTotal) {
  std::array<std::string_view, 2> out;
  EXPECT_EQ(SplitTokens("a.b.c", out), 3u);
  EXPECT_EQ(out[0], "a");
  EXPECT_EQ(out[1], "b");
}

TEST(Tokens, SplitsIntoVector) {
  std::vector<std::string_view> out{"stale"};
  SplitTokens("x.y", out);
  EXPECT_EQ(out, (std::vector<std::string_view>{"x", "y"}));
  SplitTokens("", out);
  EXPECT_TRUE(out.empty());
}

TEST(Matching, LiteralPatternMatchesOnlyItself) {
  EXPECT_TRUE(SubjectMatches("foo.bar", "foo.bar"));
  EXPECT_FALSE(SubjectMatches("foo.bar", "foo.baz"));
  EXPECT_FALSE(SubjectMatches("foo.bar", "foo"));
  EXPECT_FALSE(SubjectMatches("foo", "foo.bar"));
  EXPECT_FALSE(SubjectMatches("Foo", "foo"));
}

TEST(Matching, StarMatchesExactlyOneToken) {
  EXPECT_TRUE(SubjectMatches("foo.*", "foo.bar"));
  EXPECT_FALSE(SubjectMatches("foo.*", "foo"));
  EXPECT_FALSE(SubjectMatches("foo.*", "foo.bar.baz"));
  EXPECT_TRUE(SubjectMatches("*.bar.*", "x.bar.y"));
  EXPECT_FALSE(SubjectMatches("*.bar.*", "x.baz.y"));
}

TEST(Matching, FullWildcardMatchesOneOrMoreTrailingTokens) {
  EXPECT_TRUE(SubjectMatches("foo.>", "foo.a"));
  EXPECT_TRUE(SubjectMatches("foo.>", "foo.a.b.c"));
  EXPECT_FALSE(SubjectMatches("foo.>", "foo"));
  EXPECT_TRUE(SubjectMatches(">", "anything.at.all"));
  EXPECT_FALSE(SubjectMatches("foo.>", "bar.a"));
}

TEST(Matching, MatchesWholeTokensNotPrefixes) {
  EXPECT_FALSE(SubjectMatches("foo.b", "foo.bar"));
  EXPECT_FALSE(SubjectMatches("fo.>", "foo.bar"));
}

TEST(Overlap, CollidesWhenSomeSubjectMatchesBoth) {
  EXPECT_TRUE(SubjectsCollide("foo.*", "foo.>"));
  EXPECT_TRUE(SubjectsCollide("foo.bar", "foo.*"));
  EXPECT_TRUE(SubjectsCollide("*.bar", "foo.*"));
  EXPECT_TRUE(SubjectsCollide(">", "a.b.c"));
  EXPECT_TRUE(SubjectsCollide("foo.*.baz", "foo.bar.>"));
  EXPECT_TRUE(SubjectsCollide("foo.bar", "foo.bar"));
}

TEST(Overlap, DoesNotCollideWhenLengthsOrLiteralsDiffer) {
  EXPECT_FALSE(SubjectsCollide("foo.*", "foo.*.*"));
  EXPECT_FALSE(SubjectsCollide("foo.bar", "foo.baz"));
  EXPECT_FALSE(SubjectsCollide("foo", "foo.>"));
  EXPECT_FALSE(SubjectsCollide("foo.*.baz", "foo.bar.qux"));
  EXPECT_FALSE(SubjectsCollide("foo.west.>", "foo.east.>"));
  EXPECT_FALSE(SubjectsCollide("foo.>", "bar.>"));
}

TEST(Overlap, CollideIsSymmetric) {
  const char* patterns[] = {"foo", "foo.*", "foo.>", "*.bar", ">", "foo.*.*", "*", "a.b.c"};
  for (const char* a : patterns) {
    for (const char* b : patterns) {
      EXPECT_EQ(SubjectsCollide(a, b), SubjectsCollide(b, a)) << a << " " << b;
    }
  }
}

TEST(Subset, WildcardPatternIsSubsetOfWiderPatterns) {
  EXPECT_TRUE(SubjectIsSubsetOf("foo.*", "foo.>"));
  EXPECT_TRUE(SubjectIsSubsetOf("foo.*", "*.*"));
  EXPECT_TRUE(SubjectIsSubsetOf("foo.*", ">"));
  EXPECT_TRUE(SubjectIsSubsetOf("foo.*", "foo.*"));
  EXPECT_TRUE(SubjectIsSubsetOf("foo.bar", "foo.*"));
  EXPECT_TRUE(SubjectIsSubsetOf("foo.bar.>", "foo.>"));
  EXPECT_TRUE(SubjectIsSubsetOf("foo.>", "foo.>"));
  EXPECT_TRUE(SubjectIsSubsetOf("$JS.EVENT.ADVISORY.>", "$JS.>"));
}

TEST(Subset, NarrowerPatternIsNotSupersetOfWiderOne) {
  EXPECT_FALSE(SubjectIsSubsetOf("foo.>", "foo.*"));
  EXPECT_FALSE(SubjectIsSubsetOf("foo.*", "foo.bar"));
  EXPECT_FALSE(SubjectIsSubsetOf("*.*", "foo.*"));
  EXPECT_FALSE(SubjectIsSubsetOf("foo.*", "foo.*.*"));
  EXPECT_FALSE(SubjectIsSubsetOf("foo", "foo.>"));
  EXPECT_FALSE(SubjectIsSubsetOf(">", "foo.>"));
}

// Brute force over a small alphabet: the pattern relations agree with their definitions.
TEST(Overlap, AgreesWithBruteForceOverSmallUniverse) {
  std::vector<std::string> subjects;
  const char* toks[] = {"a", "b"};
  for (int len = 1; len <= 4; ++len) {
    int combos = 1 << len;
    for (int m = 0; m < combos; ++m) {
      std::string s;
      for (int i = 0; i < len; ++i) {
        if (i) s += ".";
        s += toks[(m >> i) & 1];
      }
      subjects.push_back(s);
    }
  }
  std::vector<std::string> patterns = {"a",     "*",   ">",     "a.*",   "*.b",
                                       "a.>",   "*.>", "*.*",   "a.b",   "a.*.b",
                                       "*.*.>", "b.>", "a.b.>", "*.a.*", "a.*.*.*"};
  for (const auto& p : patterns) {
    for (const auto& q : patterns) {
      bool both = false, all = true;
      for (const auto& s : subjects) {
        bool mp = SubjectMatches(p, s), mq = SubjectMatches(q, s);
        both |= mp && mq;
        if (mp && !mq) all = false;
      }
      EXPECT_EQ(SubjectsCollide(p, q), both) << p << " vs " << q;
      // Subset over a bounded universe is only decidable here for patterns bounded to <= 3
      // tokens of depth; `>` with longer subjects is covered by the 4-token subjects.
      if (!(p.find('>') != std::string::npos && q.find('>') == std::string::npos)) {
        EXPECT_EQ(SubjectIsSubsetOf(p, q), all) << p << " subset of " << q;
      } else {
        EXPECT_FALSE(SubjectIsSubsetOf(p, q)) << p << " subset of " << q;
      }
    }
  }
}

}  // namespace
}  // namespace meridian::subject
