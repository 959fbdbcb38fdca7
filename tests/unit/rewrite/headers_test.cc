#include "rewrite/headers.h"

#include <gtest/gtest.h>

namespace meridian::rewrite {
namespace {

constexpr std::string_view kBlock = "NATS/1.0\r\nNats-Msg-Id: m1\r\nX-Other:  v \r\n\r\n";

TEST(Headers, FindsValueCaseInsensitivelyAndTrimmed) {
  EXPECT_EQ(FindHeader(kBlock, "nats-msg-id").value_or("?"), "m1");
  EXPECT_EQ(FindHeader(kBlock, "X-Other").value_or("?"), "v");
  EXPECT_FALSE(FindHeader(kBlock, "Missing"));
}

TEST(Headers, EditCopiesUntouchedBlockExactly) {
  std::string out;
  ASSERT_TRUE(EditHeaders(
      kBlock, [](const HeaderLine&, std::string&) { return HeaderEdit::kKeep; }, out));
  EXPECT_EQ(out, kBlock);
}

TEST(Headers, EditDropsAndReplacesLines) {
  std::string out;
  ASSERT_TRUE(EditHeaders(
      kBlock,
      [](const HeaderLine& line, std::string& r) {
        if (line.name == "X-Other") return HeaderEdit::kDrop;
        r = "west:m1";
        return HeaderEdit::kReplace;
      },
      out));
  EXPECT_EQ(out, "NATS/1.0\r\nNats-Msg-Id: west:m1\r\n\r\n");
}

TEST(Headers, KeepsStatusLine) {
  std::string out;
  std::string_view status = "NATS/1.0 404 Message Not Found\r\n\r\n";
  ASSERT_TRUE(EditHeaders(
      status, [](const HeaderLine&, std::string&) { return HeaderEdit::kDrop; }, out));
  EXPECT_EQ(out, status);
}

TEST(Headers, ReportsMalformedBlocks) {
  std::string out;
  auto keep = [](const HeaderLine&, std::string&) { return HeaderEdit::kKeep; };
  EXPECT_FALSE(EditHeaders("HTTP/1.1\r\n\r\n", keep, out));
  EXPECT_FALSE(EditHeaders("NATS/1.0\r\nNoColon\r\n\r\n", keep, out));
  EXPECT_FALSE(EditHeaders("NATS/1.0\r\nA: b\r\n", keep, out));  // no terminating line
  EXPECT_FALSE(FindHeader("NATS/1.0\r\nA: b", "A"));
}

}  // namespace
}  // namespace meridian::rewrite
