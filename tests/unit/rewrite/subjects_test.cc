#include "rewrite/subjects.h"

#include <gtest/gtest.h>

#include "fixture.h"

namespace meridian::rewrite {
namespace {

struct Case {
  const char* in;
  const char* want;  // nullptr: unchanged (function returns false)
};

class SubjectForms : public ::testing::Test {
 protected:
  std::shared_ptr<const Topology> t = testing::FooTopology();
  std::string out;
};

TEST_F(SubjectForms, InsertsRegionTokenIntoPublishSubject) {
  for (Case c :
       {Case{"foo.test", "foo.west.test"}, Case{"foo.a.b.c", "foo.west.a.b.c"},
        Case{"orders.eu.1", "orders.eu.west.1"}, Case{"foo", nullptr}, Case{"bar.test", nullptr}}) {
    out = "untouched";
    bool changed = ToStoredSubject(*t, c.in, "west", out);
    EXPECT_EQ(changed, c.want != nullptr) << c.in;
    EXPECT_EQ(out, c.want ? c.want : "untouched") << c.in;
  }
}

TEST_F(SubjectForms, StripsKnownRegionTokenFromStoredSubject) {
  for (Case c : {Case{"foo.west.test", "foo.test"}, Case{"foo.east.a.b", "foo.a.b"},
                 Case{"orders.eu.central.7", "orders.eu.7"}, Case{"foo.north.test", nullptr},
                 Case{"foo.west", nullptr}, Case{"bar.west.x", nullptr}}) {
    out = "untouched";
    bool changed = ToVirtualSubject(*t, c.in, out);
    EXPECT_EQ(changed, c.want != nullptr) << c.in;
    EXPECT_EQ(out, c.want ? c.want : "untouched") << c.in;
  }
}

TEST_F(SubjectForms, RewritesConsumerFilterWithRegionWildcard) {
  for (Case c : {Case{"foo.test", "foo.*.test"}, Case{"foo.>", "foo.*.>"}, Case{"foo.*", "foo.*.*"},
                 Case{"orders.eu.>", "orders.eu.*.>"}, Case{">", nullptr}, Case{"*.test", nullptr},
                 Case{"bar.>", nullptr}}) {
    out = "untouched";
    bool changed = ToStoredFilter(*t, c.in, out);
    EXPECT_EQ(changed, c.want != nullptr) << c.in;
    EXPECT_EQ(out, c.want ? c.want : "untouched") << c.in;
  }
}

TEST_F(SubjectForms, RemovesRegionWildcardFromFilterOnTheWayBack) {
  for (Case c : {Case{"foo.*.test", "foo.test"}, Case{"foo.*.>", "foo.>"},
                 Case{"foo.west.>", nullptr}, Case{"foo.*", nullptr}, Case{">", nullptr}}) {
    out = "untouched";
    bool changed = ToVirtualFilter(*t, c.in, out);
    EXPECT_EQ(changed, c.want != nullptr) << c.in;
    EXPECT_EQ(out, c.want ? c.want : "untouched") << c.in;
  }
}

TEST(AckSubjects, FindsStreamTokenInVersion1AckSubject) {
  std::string_view s = "$JS.ACK.foo-read-west.dur.1.2.2.1795393222582469645.0";
  auto span = AckStreamToken(s);
  ASSERT_TRUE(span);
  EXPECT_EQ(s.substr(span->pos, span->len), "foo-read-west");
}

TEST(AckSubjects, FindsStreamTokenInVersion2AckSubject) {
  std::string_view s = "$JS.ACK.hub.ACCHASH.foo-read-west.dur.1.2.2.1795393222582469645.0.r4nd";
  auto span = AckStreamToken(s);
  ASSERT_TRUE(span);
  EXPECT_EQ(s.substr(span->pos, span->len), "foo-read-west");
}

TEST(AckSubjects, IgnoresSubjectsWithOtherTokenCounts) {
  EXPECT_FALSE(AckStreamToken("$JS.ACK.foo.dur.1.2.3"));
  EXPECT_FALSE(AckStreamToken("$JS.ACK.foo.dur.1.2.3.4.5.6"));  // 10 tokens
  EXPECT_FALSE(AckStreamToken("_INBOX.a.b.c.d.e.f.g.h"));
  EXPECT_FALSE(AckStreamToken("$JS.ACK..dur.1.2.3.4.5"));
}

}  // namespace
}  // namespace meridian::rewrite
