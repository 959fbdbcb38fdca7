#include "server/permissions.h"

#include <gtest/gtest.h>

namespace meridian::server {
namespace {

TEST(Permissions, EmptyAllowListAllowsEverythingNotDenied) {
  SubjectPermission p{{}, {"secret.>"}};
  EXPECT_TRUE(CanPublish(p, "orders.1"));
  EXPECT_FALSE(CanPublish(p, "secret.x"));
}

TEST(Permissions, AllowListLimitsPublishToMatchingSubjects) {
  SubjectPermission p{{"orders.*"}, {}};
  EXPECT_TRUE(CanPublish(p, "orders.1"));
  EXPECT_FALSE(CanPublish(p, "orders.1.2"));
  EXPECT_FALSE(CanPublish(p, "other"));
}

TEST(Permissions, DenyWinsOverAllow) {
  SubjectPermission p{{"orders.>"}, {"orders.secret"}};
  EXPECT_FALSE(CanPublish(p, "orders.secret"));
  EXPECT_TRUE(CanPublish(p, "orders.public"));
}

TEST(Permissions, WildcardSubscriptionMustBeInsideAnAllowPattern) {
  SubjectPermission p{{"orders.>"}, {}};
  EXPECT_TRUE(CanSubscribe(p, "orders.*"));
  EXPECT_FALSE(CanSubscribe(p, ">"));
}

TEST(Permissions, SubscriptionCoveredByDenyIsRefused) {
  SubjectPermission p{{}, {"admin.>"}};
  EXPECT_FALSE(CanSubscribe(p, "admin.users"));
  EXPECT_TRUE(CanSubscribe(p, "public"));
}

TEST(Permissions, ReservedReplyPrefixesAreRecognised) {
  EXPECT_TRUE(IsReservedReply("$JS.ACK.S.C.1.1.1.1.0"));
  EXPECT_TRUE(IsReservedReply("_R_.abc"));
  EXPECT_TRUE(IsReservedReply("$GNR.x"));
  EXPECT_FALSE(IsReservedReply("_INBOX.abc"));
}

}  // namespace
}  // namespace meridian::server
