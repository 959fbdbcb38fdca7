#include "subject/transform.h"

#include <gtest/gtest.h>

#include <string>

namespace meridian::subject {
namespace {

// Parses (failing the test on error) and applies; "<no match>" when the subject does not match.
std::string Map(std::string_view src, std::string_view dest, std::string_view subject,
                TransformRules rules = {}) {
  auto t = SubjectTransform::Parse(src, dest, rules);
  if (!t.ok()) {
    ADD_FAILURE() << "parse failed: " << t.message();
    return "<parse error>";
  }
  auto out = t->Apply(subject);
  return out ? *out : "<no match>";
}

std::string ParseError(std::string_view src, std::string_view dest, TransformRules rules = {}) {
  auto t = SubjectTransform::Parse(src, dest, rules);
  if (t.ok()) return "<parsed>";
  return t.message();
}

TEST(Fnv1a32, MatchesPublishedTestVectors) {
  EXPECT_EQ(Fnv1a32(""), 0x811c9dc5u);
  EXPECT_EQ(Fnv1a32("a"), 0xe40c292cu);
  EXPECT_EQ(Fnv1a32("foobar"), 0xbf9cf968u);
  // Streaming over pieces equals hashing their concatenation.
  EXPECT_EQ(Fnv1a32("bar", Fnv1a32("foo")), Fnv1a32("foobar"));
}

TEST(Transform, LiteralSourceMapsToLiteralDestination) {
  EXPECT_EQ(Map("foo", "bar", "foo"), "bar");
  EXPECT_EQ(Map("foo", "bar", "foo.x"), "<no match>");
}

TEST(Transform, FullWildcardCopiesTrailingTokens) {
  EXPECT_EQ(Map("foo.>", "foo.west.>", "foo.a.b"), "foo.west.a.b");
  EXPECT_EQ(Map("baz.>", "my.pre.>", "baz.1.2.3"), "my.pre.1.2.3");
  EXPECT_EQ(Map("", "prefix.>", "foo"), "prefix.foo");
  EXPECT_EQ(Map("foo.>", "bar.>", "foo"), "<no match>");
}

TEST(Transform, DollarAndWildcardFunctionReorderTokens) {
  EXPECT_EQ(Map("foo.*.bar.*.baz", "req.$2.$1", "foo.A.bar.B.baz"), "req.B.A");
  EXPECT_EQ(Map("foo.*.bar.*.baz", "req.{{wildcard(2)}}.{{wildcard(1)}}", "foo.A.bar.B.baz"),
            "req.B.A");
  EXPECT_EQ(Map("*", "foo.bar.$1", "foo"), "foo.bar.foo");
}

TEST(Transform, DropsUnusedWildcardUnder210Rules) {
  EXPECT_EQ(Map("foo.*.>", "foo.>", "foo.west.a.b"), "foo.a.b");
  EXPECT_EQ(Map("foo.*.*", "bar.$2", "foo.x.y"), "bar.y");
  EXPECT_EQ(Map("foo.*.>", "foo.>", "foo.west"), "<no match>");
}

TEST(Transform, RequireAllWildcardsRefusesDroppedWildcard) {
  EXPECT_EQ(ParseError("foo.*.*", "bar.$2", TransformRules::V29()),
            "destination \"bar.$2\" does not use wildcard 1 of source \"foo.*.*\"; this mapping "
            "must use every \"*\" (NATS 2.9 mappings and cross-account imports)");
  EXPECT_EQ(Map("foo.*.*", "bar.$2.$1", "foo.x.y", TransformRules::V29()), "bar.y.x");
  EXPECT_EQ(Map("foo.>", "foo.west.>", "foo.a", TransformRules::V29()), "foo.west.a");
}

TEST(Transform, ImportRulesAllowOnlyWildcardReferences) {
  EXPECT_EQ(Map("foo.*", "bar.{{Wildcard(1)}}", "foo.x", TransformRules::Import()), "bar.x");
  EXPECT_EQ(ParseError("foo.*", "bar.{{Partition(2,1)}}", TransformRules::Import()),
            "destination token \"{{Partition(2,1)}}\" uses partition, but this mapping (a "
            "cross-account import) may only use $n or {{wildcard(n)}}");
  EXPECT_NE(ParseError("foo.*", "foo.$foo", TransformRules::Import()), "<parsed>");
}

TEST(Transform, DollarTokenThatIsNotANumberIsLiteral) {
  EXPECT_EQ(Map("foo.*", "$JS.$foo.$1", "foo.x"), "$JS.$foo.x");
  EXPECT_EQ(Map("foo", "$KV.b", "foo"), "$KV.b");
}

TEST(Transform, PartitionHashesConcatenatedWildcardsWithFnv1a) {
  // fnv1a("42") = 0x87e38583 -> % 3 = 2 (the same as nats-server: hash/fnv New32a).
  EXPECT_EQ(Map("orders.*", "orders.{{partition(3,1)}}.{{wildcard(1)}}", "orders.42"),
            "orders.2.42");
  // Wildcard values are concatenated without a separator: "foo"+"bar" hashes as "foobar".
  EXPECT_EQ(Map("*.*", "{{partition(7,1,2)}}", "foo.bar"), std::to_string(Fnv1a32("foobar") % 7));
  EXPECT_EQ(Map("*.*", "{{partition(7,1,2)}}", "foo.bar"), "0");
  EXPECT_EQ(Map("*.*", "{{partition(10,2,1)}}", "B.A"), std::to_string(0x2cd5218au % 10));
  EXPECT_EQ(Map("a.*", "{{partition(1,1)}}", "a.zzz"), "0");
}

TEST(Transform, PartitionIsStableAndInRange) {
  auto t = SubjectTransform::Parse("foo.*", "p.{{partition(5,1)}}");
  ASSERT_TRUE(t.ok());
  for (int i = 0; i < 200; ++i) {
    std::string in = "foo.k" + std::to_string(i);
    auto a = t->Apply(in);
    auto b = t->Apply(in);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    int p = std::stoi(a->substr(2));
    EXPECT_GE(p, 0);
    EXPECT_LT(p, 5);
  }
}

TEST(Transform, SplitBreaksOnDelimiterAndDropsEmptyPieces) {
  EXPECT_EQ(Map("*", "{{split(1,-)}}", "-abc-def--ghi-"), "abc.def.ghi");
  EXPECT_EQ(Map("*", "{{split(1,-)}}", "abc-def--ghi-"), "abc.def.ghi");
  EXPECT_EQ(Map("*", "{{split(1,-)}}", "abc"), "abc");
  EXPECT_EQ(Map("*", "{{split(1,ab)}}", "xabyabz"), "x.y.z");
  EXPECT_EQ(Map("*.*", "{{split(2,-)}}.{{splitfromleft(1,2)}}", "foo.-abc-def--ghij-"),
            "abc.def.ghij.fo.o");
}

TEST(Transform, SplitOfOnlyDelimitersKeepsTheValue) {
  EXPECT_EQ(Map("*", "x.{{split(1,-)}}", "--"), "x.--");
}

TEST(Transform, SplitFromLeftAndRight) {
  EXPECT_EQ(Map("*", "{{splitfromleft(1,3)}}", "12345"), "123.45");
  EXPECT_EQ(Map("*", "{{SplitFromRight(1,3)}}", "12345"), "12.345");
  // Out of range positions leave the value unchanged.
  EXPECT_EQ(Map("*", "{{splitFromLeft(1,5)}}", "12345"), "12345");
  EXPECT_EQ(Map("*", "{{splitFromLeft(1,0)}}", "12345"), "12345");
  EXPECT_EQ(Map("*", "{{splitFromRight(1,-1)}}", "12345"), "12345");
}

TEST(Transform, SliceFromLeftAndRight) {
  EXPECT_EQ(Map("*", "{{SliceFromLeft(1,3)}}", "1234567890"), "123.456.789.0");
  EXPECT_EQ(Map("*", "{{SliceFromRight(1,3)}}", "1234567890"), "1.234.567.890");
  EXPECT_EQ(Map("*", "{{sliceFromLeft(1,3)}}", "123456"), "123.456");
  EXPECT_EQ(Map("*", "{{sliceFromRight(1,3)}}", "123456"), "123.456");
  EXPECT_EQ(Map("*", "{{slicefromleft(1,10)}}", "123"), "123");
  EXPECT_EQ(Map("*", "{{slicefromright(1,0)}}", "123"), "123");
}

TEST(Transform, LeftAndRight) {
  EXPECT_EQ(Map("*", "{{right(1,1)}}", "1234"), "4");
  EXPECT_EQ(Map("*", "{{right(1,3)}}", "1234"), "234");
  EXPECT_EQ(Map("*", "{{right(1,6)}}", "1234"), "1234");
  EXPECT_EQ(Map("*", "{{left(1,1)}}", "1234"), "1");
  EXPECT_EQ(Map("*", "{{Left(1,3)}}", "1234"), "123");
  EXPECT_EQ(Map("*", "{{left(1,6)}}", "1234"), "1234");
}

TEST(Transform, FunctionNamesAcceptPerWordCaseAndSpaces) {
  EXPECT_EQ(Map("*.*", "{{ Partition (10,1,2) }}", "A.B"),
            Map("*.*", "{{partition(10,1,2)}}", "A.B"));
  EXPECT_EQ(Map("*", "{{ wildcard( 1 ) }}", "x"), "x");
  EXPECT_EQ(Map("*", "{{Splitfromleft(1, 2)}}", "abcd"), "ab.cd");
  EXPECT_EQ(Map("*", "{{splitFromleft(1,2)}}", "abcd"), "ab.cd");
  EXPECT_EQ(Map("*.*", "{{partition(10, 1,  2)}}", "A.B"),
            Map("*.*", "{{partition(10,1,2)}}", "A.B"));
  // Upper case beyond each word's first letter is not accepted (nor by nats-server).
  EXPECT_NE(ParseError("*", "{{WILDCARD(1)}}").find("is not a known mapping function"),
            std::string::npos);
}

TEST(Transform, CombinesFunctionsLiteralsAndTail) {
  EXPECT_EQ(Map("foo.*.*.>", "x.{{wildcard(2)}}.{{partition(4,1)}}.$1.>", "foo.a.b.c.d"),
            "x.b." + std::to_string(Fnv1a32("a") % 4) + ".a.c.d");
}

TEST(Transform, RefusesInvalidSource) {
  EXPECT_EQ(ParseError("foo..", "bar"),
            "transform source is not valid: subject \"foo..\" has an empty token at position 2; "
            "remove the leading, trailing or doubled \".\"");
}

TEST(Transform, RefusesEmptyDestination) {
  EXPECT_EQ(ParseError("foo", ""),
            "transform destination for source \"foo\" is empty; give the subject to map to");
}

TEST(Transform, RefusesStarInDestination) {
  EXPECT_EQ(ParseError("foo.*", "bar.*"),
            "destination \"bar.*\" contains \"*\"; a destination cannot be a wildcard, use $n or "
            "{{wildcard(n)}} to copy the source's n-th \"*\"");
}

TEST(Transform, RequiresFullWildcardOnBothSidesOrNeither) {
  EXPECT_EQ(ParseError("foo.*", "bar.$1.>"),
            "source \"foo.*\" and destination \"bar.$1.>\" must both end in \">\" or neither may "
            "use it");
  EXPECT_NE(ParseError("foo.>", "bar.baz"), "<parsed>");
}

TEST(Transform, RefusesMalformedDestinationTokens) {
  EXPECT_NE(ParseError("foo.*", "bar..$1").find("empty token at position 2"), std::string::npos);
  EXPECT_NE(ParseError("foo.>", "bar.>.x").find("\">\" may only be the last token"),
            std::string::npos);
  EXPECT_EQ(ParseError("foo", "b ar"),
            "destination \"b ar\" has whitespace in token \"b ar\"; only mapping functions "
            "({{...}}) may contain spaces");
}

TEST(Transform, RefusesWildcardIndexOutOfRange) {
  EXPECT_EQ(ParseError("foo.*", "bar.$2"),
            "destination token \"$2\" refers to wildcard 2, but source \"foo.*\" has 1 \"*\" "
            "wildcard; use an index from 1 to 1");
  EXPECT_NE(ParseError("foo.*", "foo.{{wildcard(2)}}").find("refers to wildcard 2"),
            std::string::npos);
  EXPECT_NE(ParseError("foo.*", "foo.$0").find("refers to wildcard 0"), std::string::npos);
  EXPECT_NE(ParseError("foo.*.*", "{{partition(3,1,3)}}").find("refers to wildcard 3"),
            std::string::npos);
}

TEST(Transform, RefusesFunctionsWhenSourceHasNoStar) {
  EXPECT_EQ(ParseError("foo", "bla.{{wildcard(1)}}"),
            "destination token \"{{wildcard(1)}}\" uses wildcard, but source \"foo\" has no "
            "\"*\" wildcards for it to work on");
  EXPECT_EQ(ParseError("foo", "bla.$1"),
            "destination token \"$1\" refers to a wildcard, but source \"foo\" has no \"*\" "
            "wildcards");
  EXPECT_NE(ParseError("foo.>", "x.{{partition(2,1)}}.>"), "<parsed>");
}

TEST(Transform, RefusesUnknownFunction) {
  EXPECT_EQ(ParseError("foo.*", "foo.{{unimplemented(1)}}"),
            "destination token \"{{unimplemented(1)}}\" is not a known mapping function; write "
            "{{name(arguments)}} with name one of wildcard, partition, split, splitFromLeft, "
            "splitFromRight, sliceFromLeft, sliceFromRight, left, right");
  EXPECT_NE(ParseError("foo.*", "foo.{{ wildcard5) }}"), "<parsed>");
  EXPECT_NE(ParseError("foo.*", "foo.{{splitLeft(2,2}}"), "<parsed>");
  EXPECT_NE(ParseError("foo.*", "foo.{{wildcard}}"), "<parsed>");
}

TEST(Transform, RefusesWrongArgumentCounts) {
  EXPECT_EQ(ParseError("foo.*", "foo.{{partition(10)}}"),
            "destination token \"{{partition(10)}}\" gives partition 1 argument, but it takes 2 "
            "or more (the number of partitions, then wildcard indexes)");
  EXPECT_EQ(ParseError("foo.*", "foo.{{wildcard()}}"),
            "destination token \"{{wildcard()}}\" gives wildcard 0 arguments, but it takes 1 "
            "(the wildcard index)");
  EXPECT_NE(ParseError("foo.*", "foo.{{wildcard(1,2)}}").find("gives wildcard 2 arguments"),
            std::string::npos);
  EXPECT_NE(ParseError("foo.*", "{{split(1)}}").find("gives split 1 argument"), std::string::npos);
  EXPECT_NE(ParseError("foo.*", "{{splitFromLeft(1,2,3)}}").find("gives splitFromLeft 3"),
            std::string::npos);
  EXPECT_NE(ParseError("foo.*", "{{sliceFromRight(1)}}").find("gives sliceFromRight 1"),
            std::string::npos);
  EXPECT_NE(ParseError("foo.*", "{{left()}}").find("gives left 0 arguments"), std::string::npos);
}

TEST(Transform, RefusesNonIntegerArguments) {
  EXPECT_EQ(ParseError("foo.*", "foo.{{wildcard(foo)}}"),
            "destination token \"{{wildcard(foo)}}\" has wildcard index \"foo\", which is not a "
            "number; wildcard indexes count the source's \"*\" tokens from 1");
  EXPECT_EQ(ParseError("foo.*", "{{sliceFromLeft(1,x)}}"),
            "destination token \"{{sliceFromLeft(1,x)}}\" has size \"x\" for sliceFromLeft, which "
            "is not an integer");
  EXPECT_NE(ParseError("foo.*", "{{partition(many,1)}}").find("partition count \"many\""),
            std::string::npos);
  EXPECT_NE(ParseError("foo.*", "{{right(1,99999999999)}}").find("not an integer"),
            std::string::npos);
}

TEST(Transform, RefusesPartitionCountBelowOne) {
  EXPECT_EQ(ParseError("foo.*", "{{partition(0,1)}}"),
            "destination token \"{{partition(0,1)}}\" asks for 0 partitions; the partition count "
            "must be at least 1");
}

TEST(Transform, RefusesBadSplitDelimiter) {
  EXPECT_EQ(ParseError("foo.*", "{{split(1,a b)}}"),
            "destination token \"{{split(1,a b)}}\" gives split the delimiter \"a b\", which "
            "contains whitespace; delimiters may not");
  EXPECT_EQ(ParseError("foo.*", "{{split(1,)}}"),
            "destination token \"{{split(1,)}}\" gives split an empty delimiter; give the text to "
            "split on");
}

TEST(Transform, OnlyTransformsValidLiteralSubjects) {
  auto t = SubjectTransform::Parse("foo.>", "bar.>");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->Apply("foo..x"));
  EXPECT_FALSE(t->Apply("foo.x."));
  EXPECT_FALSE(t->Apply("foo.*"));
  EXPECT_FALSE(t->Apply(""));
  EXPECT_FALSE(t->Matches("foo..x"));
  EXPECT_TRUE(t->Matches("foo.x"));
}

TEST(Transform, ApplyReusesOutputAndLeavesItAloneOnMismatch) {
  auto t = SubjectTransform::Parse("a.*", "b.$1");
  ASSERT_TRUE(t.ok());
  std::string out = "previous";
  EXPECT_FALSE(t->Apply("x.y", out));
  EXPECT_EQ(out, "previous");
  EXPECT_TRUE(t->Apply("a.y", out));
  EXPECT_EQ(out, "b.y");
}

TEST(Transform, HandlesManyWildcards) {
  std::string src, dest;
  std::string in, want;
  for (int i = 1; i <= 20; ++i) {
    // Appended piece by piece: GCC 12 -O3 gives a false -Wrestrict on "x" + std::string.
    src.append(i > 1 ? ".*" : "*");
    dest.append(i > 1 ? ".$" : "$").append(std::to_string(21 - i));
    in.append(i > 1 ? ".t" : "t").append(std::to_string(i));
    want.append(i > 1 ? ".t" : "t").append(std::to_string(21 - i));
  }
  EXPECT_EQ(Map(src, dest, in), want);
}

TEST(Transform, ReportsShape) {
  auto t = SubjectTransform::Parse("foo.*.*", "bar");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->is_constant());
  EXPECT_EQ(t->wildcard_count(), 2u);
  EXPECT_EQ(t->source(), "foo.*.*");
  EXPECT_EQ(t->destination(), "bar");
  EXPECT_EQ(Map("foo.*.*", "bar", "foo.a.b"), "bar");
}

}  // namespace
}  // namespace meridian::subject
