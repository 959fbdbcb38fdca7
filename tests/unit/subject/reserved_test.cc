#include "subject/reserved.h"

#include <gtest/gtest.h>

namespace meridian::subject {
namespace {

TEST(ReservedNamespace, OrdinarySubjectsOverlapNothing) {
  EXPECT_EQ(ReservedNamespaceOverlap("orders.>"), "");
  EXPECT_EQ(ReservedNamespaceOverlap("$KV.bucket.>"), "");
  EXPECT_EQ(ReservedNamespaceOverlap("JS.API.x"), "");
}

TEST(ReservedNamespace, FindsTheNamespaceOverlapped) {
  EXPECT_EQ(ReservedNamespaceOverlap("$JS.API.>"), "$JS.>");
  EXPECT_EQ(ReservedNamespaceOverlap("$JSC.x"), "$JSC.>");
  EXPECT_EQ(ReservedNamespaceOverlap("$NRG.>"), "$NRG.>");
  EXPECT_EQ(ReservedNamespaceOverlap("$SYS.REQ.>"), "$SYS.>");
  // Wildcards overlap too.
  EXPECT_EQ(ReservedNamespaceOverlap("*.API.>"), "$JS.>");
  EXPECT_EQ(ReservedNamespaceOverlap(">"), "$JS.>");
}

TEST(ReservedNamespace, ExemptsEventAndAccountSubsets) {
  EXPECT_EQ(ReservedNamespaceOverlap("$JS.EVENT.ADVISORY.>"), "");
  EXPECT_EQ(ReservedNamespaceOverlap("$JS.EVENT.>"), "");
  EXPECT_EQ(ReservedNamespaceOverlap("$SYS.ACCOUNT.*.CONNECT"), "");
  // A superset of the exempt part is not exempt.
  EXPECT_EQ(ReservedNamespaceOverlap("$JS.*.>"), "$JS.>");
}

TEST(CheckStreamSubject, AcceptsOrdinarySubjects) {
  EXPECT_TRUE(CheckStreamSubject("orders.*", false, 3).ok());
}

TEST(CheckStreamSubject, ReservedOverlapNeedsNoAck) {
  EXPECT_EQ(CheckStreamSubject("$JS.API.>", false, 1).message(),
            "stream subject \"$JS.API.>\" overlaps the reserved namespace \"$JS.>\", which "
            "requires no_ack to be true; set no_ack or choose subjects outside it");
  EXPECT_TRUE(CheckStreamSubject("$JS.API.>", true, 1).ok());
}

TEST(CheckStreamSubject, CapturingEverythingNeedsNoAckAndOneReplica) {
  EXPECT_NE(CheckStreamSubject(">", false, 1).message().find("requires no_ack"), std::string::npos);
  EXPECT_NE(CheckStreamSubject(">", true, 3).message().find("requires 1 replica"),
            std::string::npos);
  EXPECT_TRUE(CheckStreamSubject(">", true, 1).ok());
}

TEST(CheckStreamSubject, RefusesInvalidSubject) {
  EXPECT_EQ(CheckStreamSubject("a..b", true, 1).message(),
            "stream subject \"a..b\" has an empty token at position 2; remove the leading, "
            "trailing or doubled \".\"");
}

}  // namespace
}  // namespace meridian::subject
