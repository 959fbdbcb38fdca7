#include "server/password.h"

#include <gtest/gtest.h>

namespace meridian::server {
namespace {

// Known answers from the OpenBSD / crypt_blowfish bcrypt test set.
TEST(Password, BcryptKnownAnswersMatch) {
  EXPECT_TRUE(
      PasswordMatches("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"));
  EXPECT_TRUE(
      PasswordMatches("$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK", "U*U*"));
  EXPECT_TRUE(
      PasswordMatches("$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a", "U*U*U"));
  EXPECT_TRUE(PasswordMatches("$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy", ""));
  EXPECT_TRUE(
      PasswordMatches("$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"));
}

TEST(Password, BcryptRejectsWrongPassword) {
  EXPECT_FALSE(
      PasswordMatches("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*V"));
  EXPECT_FALSE(PasswordMatches("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", ""));
}

TEST(Password, PlainPasswordsCompareExactly) {
  EXPECT_TRUE(PasswordMatches("app", "app"));
  EXPECT_FALSE(PasswordMatches("app", "ap"));
  EXPECT_FALSE(PasswordMatches("app", "App"));
  EXPECT_FALSE(PasswordMatches("", "x"));
}

TEST(Password, OnlyWellFormedBcryptIsTreatedAsAHash) {
  EXPECT_TRUE(IsBcryptHash("$2b$10$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_FALSE(IsBcryptHash("$2b$10$short"));
  EXPECT_FALSE(IsBcryptHash("$2z$10$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  // A plain password that merely starts with "$2" is compared as text.
  EXPECT_TRUE(PasswordMatches("$2plain", "$2plain"));
}

}  // namespace
}  // namespace meridian::server
