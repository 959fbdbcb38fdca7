#include "server/nats_conf.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "config/reader.h"

namespace meridian::server {
namespace {

using Type = NatsConfValue::Type;

const NatsConfValue& At(const NatsConfValue& map, const char* key) {
  const NatsConfEntry* e = map.Find(key);
  if (e == nullptr) throw std::runtime_error(std::string("no key ") + key);
  return e->value;
}

std::string ErrorOf(std::string_view text) {
  try {
    ParseNatsConfText(text, "t.conf");
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(NatsConf, AcceptsColonEqualsAndWhitespaceSeparators) {
  auto root = ParseNatsConfText("a: 1\nb = 2\nc 3\nd:4; e=5, f 6\n", "t.conf");
  EXPECT_EQ(At(root, "a").integer, 1);
  EXPECT_EQ(At(root, "b").integer, 2);
  EXPECT_EQ(At(root, "c").integer, 3);
  EXPECT_EQ(At(root, "d").integer, 4);
  EXPECT_EQ(At(root, "e").integer, 5);
  EXPECT_EQ(At(root, "f").integer, 6);
}

TEST(NatsConf, SkipsHashAndSlashComments) {
  auto root = ParseNatsConfText("# top\na: 1 # after\n// line\nb: \"x#y\" // after\n", "t.conf");
  EXPECT_EQ(At(root, "a").integer, 1);
  EXPECT_EQ(At(root, "b").string, "x#y");
  EXPECT_EQ(root.map.size(), 2u);
}

TEST(NatsConf, ReadsBlocksAndArraysWithCommasOrNewlines) {
  auto root = ParseNatsConfText(
      "auth {\n  users = [\n    {user: a, password: b}\n    {user: c, password: d},\n  ]\n}\n"
      "list: [1, 2\n 3]\n",
      "t.conf");
  const auto& users = At(At(root, "auth"), "users");
  ASSERT_EQ(users.type, Type::kArray);
  ASSERT_EQ(users.array.size(), 2u);
  EXPECT_EQ(At(users.array[1], "user").string, "c");
  EXPECT_EQ(At(root, "list").array.size(), 3u);
}

TEST(NatsConf, BlockWithoutSeparatorBeforeBrace) {
  auto root = ParseNatsConfText("jetstream{store_dir: /x}\n", "t.conf");
  EXPECT_EQ(At(At(root, "jetstream"), "store_dir").string, "/x");
}

TEST(NatsConf, ReadsQuotedAndBareStrings) {
  auto root = ParseNatsConfText(
      "a: \"q\\\"uo\\tted\"\nb: 'raw\\n'\nc: 127.0.0.1:4222\nd: nats://h:1\ne: 3secret\n",
      "t.conf");
  EXPECT_EQ(At(root, "a").string, "q\"uo\tted");
  EXPECT_EQ(At(root, "b").string, "raw\\n");
  EXPECT_EQ(At(root, "c").string, "127.0.0.1:4222");
  EXPECT_EQ(At(root, "d").string, "nats://h:1");
  EXPECT_EQ(At(root, "e").string, "3secret");
}

TEST(NatsConf, SizeSuffixesAreDecimalWithoutBAndBinaryWithB) {
  auto root = ParseNatsConfText("a: 1K\nb: 1KB\nc: 2MB\nd: 1GB\ne: 3M\nf: 1gb\n", "t.conf");
  EXPECT_EQ(At(root, "a").integer, 1000);
  EXPECT_EQ(At(root, "b").integer, 1024);
  EXPECT_EQ(At(root, "c").integer, 2 * 1024 * 1024);
  EXPECT_EQ(At(root, "d").integer, 1024LL * 1024 * 1024);
  EXPECT_EQ(At(root, "e").integer, 3000000);
  EXPECT_EQ(At(root, "f").integer, 1024LL * 1024 * 1024);
}

TEST(NatsConf, DurationsAndFloatsAndBooleans) {
  auto root = ParseNatsConfText("a: 2s\nb: \"1m\"\nc: 1.5\nd: yes\ne: off\nf: TRUE\n", "t.conf");
  EXPECT_EQ(At(root, "a").type, Type::kString);
  EXPECT_EQ(At(root, "a").string, "2s");
  EXPECT_EQ(At(root, "b").string, "1m");
  EXPECT_DOUBLE_EQ(At(root, "c").real, 1.5);
  EXPECT_TRUE(At(root, "d").boolean);
  EXPECT_FALSE(At(root, "e").boolean);
  EXPECT_TRUE(At(root, "f").boolean);
}

TEST(NatsConf, VariablesResolveFromEnclosingBlocksAndMarkTheirDefinition) {
  auto root = ParseNatsConfText(
      "PASS: s3cret\nauth {\n  LOCAL: 5\n  password: $PASS\n  n: $LOCAL\n}\n", "t.conf");
  EXPECT_EQ(At(At(root, "auth"), "password").string, "s3cret");
  EXPECT_EQ(At(At(root, "auth"), "n").integer, 5);
  EXPECT_TRUE(root.Find("PASS")->used_as_variable);
  EXPECT_FALSE(root.Find("auth")->used_as_variable);
}

TEST(NatsConf, VariableCanHoldABlock) {
  auto root =
      ParseNatsConfText("P = {publish: \"a.>\"}\nusers: [{user: u, permissions: $P}]\n", "t.conf");
  EXPECT_EQ(At(At(At(root, "users").array[0], "permissions"), "publish").string, "a.>");
}

TEST(NatsConf, VariablesFallBackToTheEnvironment) {
  ::setenv("MERIDIAN_NATSCONF_TEST_PORT", "4333", 1);
  auto root = ParseNatsConfText("port: $MERIDIAN_NATSCONF_TEST_PORT\n", "t.conf");
  EXPECT_EQ(At(root, "port").integer, 4333);
  ::unsetenv("MERIDIAN_NATSCONF_TEST_PORT");
}

TEST(NatsConf, UndefinedVariableIsAnErrorNamingFileLineAndVariable) {
  std::string err = ErrorOf("a: 1\nb: $MERIDIAN_SURELY_UNDEFINED_VAR\n");
  EXPECT_NE(err.find("t.conf:2"), std::string::npos) << err;
  EXPECT_NE(err.find("$MERIDIAN_SURELY_UNDEFINED_VAR"), std::string::npos) << err;
}

class NatsConfInclude : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("natsconf-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "sub");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const char* name, const char* text) { std::ofstream(dir_ / name) << text; }
  std::filesystem::path dir_;
};

TEST_F(NatsConfInclude, IsRelativeToTheIncludingFileAndJoinsItsBlock) {
  Write("main.conf", "port: 1\ninclude 'sub/auth.conf'\nafter: $USERPASS\n");
  Write("sub/auth.conf", "USERPASS: pw\ninclude users.conf\n");
  Write("sub/users.conf", "authorization { user: a, password: b }\n");
  auto root = ParseNatsConfFile((dir_ / "main.conf").string());
  EXPECT_EQ(At(root, "port").integer, 1);
  EXPECT_EQ(At(At(root, "authorization"), "password").string, "b");
  // A variable the included file defines is visible after the include, as in nats-server.
  EXPECT_EQ(At(root, "after").string, "pw");
  EXPECT_EQ(root.Find("authorization")->file, (dir_ / "sub" / "users.conf").string());
}

TEST_F(NatsConfInclude, IncludedFileDoesNotSeeTheIncludingFilesVariables) {
  // nats-server parses an included file on its own.
  Write("main.conf", "MERIDIAN_PARENT_ONLY: x\ninclude child.conf\n");
  Write("child.conf", "a: $MERIDIAN_PARENT_ONLY\n");
  try {
    ParseNatsConfFile((dir_ / "main.conf").string());
    ADD_FAILURE() << "the parent's variable was visible";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("child.conf:1"), std::string::npos) << e.what();
  }
}

TEST(NatsConf, MissingIncludeNamesTheIncludingFileAndLine) {
  std::string err = ErrorOf("a: 1\n\ninclude \"nope-does-not-exist.conf\"\n");
  EXPECT_NE(err.find("t.conf:3"), std::string::npos) << err;
  EXPECT_NE(err.find("nope-does-not-exist.conf"), std::string::npos) << err;
}

TEST(NatsConf, SyntaxErrorsNameTheLine) {
  EXPECT_NE(ErrorOf("a {\n b: 1\n").find("'}' is missing"), std::string::npos);
  EXPECT_NE(ErrorOf("a: 1\nb: \"open\n").find("t.conf:2"), std::string::npos);
  EXPECT_NE(ErrorOf("a: 1\n}\n").find("t.conf:2"), std::string::npos);
  EXPECT_NE(ErrorOf("a: 1\nlonely\n").find("t.conf:2"), std::string::npos);
}

TEST(NatsConf, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "a: " + std::string(10000, '[');
  EXPECT_NE(ErrorOf(deep).find("nest more than"), std::string::npos);
  std::string blocks = "a ";
  for (int i = 0; i < 10000; ++i) blocks += "{b ";
  EXPECT_NE(ErrorOf(blocks).find("nest more than"), std::string::npos);
}

TEST(NatsConf, StrayCharactersInArraysAreErrorsNotLoops) {
  EXPECT_NE(ErrorOf("a: [1; 2]\n").find("expected a value, found ';'"), std::string::npos);
  EXPECT_NE(ErrorOf("a: [1 }\n").find("expected a value, found '}'"), std::string::npos);
  EXPECT_NE(ErrorOf("a: [1 # open\n").find("']' is missing"), std::string::npos);
}

TEST(NatsConf, KeysAreFoundIgnoringCase) {
  auto root = ParseNatsConfText("Max_Payload: 5\n", "t.conf");
  EXPECT_EQ(At(root, "max_payload").integer, 5);
}

}  // namespace
}  // namespace meridian::server
