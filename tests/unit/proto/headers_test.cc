#include "proto/headers.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/writer.h"

namespace meridian::proto {
namespace {

HeaderView MustParse(std::string_view block) {
  HeaderView view;
  EXPECT_EQ(HeaderView::Parse(block, &view), HeaderError::kNone) << block;
  return view;
}

HeaderError ParseError(std::string_view block) {
  HeaderView view;
  return HeaderView::Parse(block, &view);
}

TEST(HeaderViewTest, ParsesTheSmallestBlock) {
  const HeaderView v = MustParse("NATS/1.0\r\n\r\n");
  EXPECT_EQ(v.status(), 0);
  EXPECT_EQ(v.description(), "");
  EXPECT_EQ(v.begin(), v.end());
}

TEST(HeaderViewTest, ParsesStatusWithoutDescription) {
  const HeaderView v = MustParse("NATS/1.0 503\r\n\r\n");
  EXPECT_EQ(v.status(), 503);
  EXPECT_EQ(v.description(), "");
}

TEST(HeaderViewTest, ParsesStatusDescriptionAndHeaders) {
  const HeaderView v = MustParse(
      "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 42\r\n\r\n");
  EXPECT_EQ(v.status(), 100);
  EXPECT_EQ(v.description(), "Idle Heartbeat");
  EXPECT_EQ(v.Find("Nats-Last-Stream"), "42");
}

TEST(HeaderViewTest, IteratesHeadersInOrderWithRepeatedNames) {
  const HeaderView v = MustParse("NATS/1.0\r\nA: 1\r\nB:2\r\nA:   3\r\n\r\n");
  std::vector<std::pair<std::string, std::string>> fields;
  for (HeaderField f : v) fields.emplace_back(f.name, f.value);
  EXPECT_EQ(fields,
            (std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "2"}, {"A", "3"}}));
  EXPECT_EQ(v.Count("A"), 2u);
  EXPECT_EQ(v.Find("A"), "1");
}

TEST(HeaderViewTest, FindIsCaseSensitiveAndFindIgnoreCaseIsNot) {
  const HeaderView v = MustParse("NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n");
  EXPECT_EQ(v.Find("nats-msg-id"), std::nullopt);
  EXPECT_EQ(v.FindIgnoreCase("nats-msg-id"), "x");
}

TEST(HeaderViewTest, EmptyValueIsAValue) {
  const HeaderView v = MustParse("NATS/1.0\r\nK:\r\n\r\n");
  EXPECT_EQ(v.Find("K"), "");
}

TEST(HeaderViewTest, RefusesMalformedBlocks) {
  EXPECT_EQ(ParseError(""), HeaderError::kMissingVersion);
  EXPECT_EQ(ParseError("NATS/1."), HeaderError::kMissingVersion);
  EXPECT_EQ(ParseError("HTTP/1.0\r\n\r\n"), HeaderError::kMissingVersion);
  EXPECT_EQ(ParseError("NATS/1.0"), HeaderError::kMissingTerminator);
  EXPECT_EQ(ParseError("NATS/1.0\r\n"), HeaderError::kMissingTerminator);
  EXPECT_EQ(ParseError("NATS/1.0\r\nA: b\r\n"), HeaderError::kMissingTerminator);
  EXPECT_EQ(ParseError("NATS/1.0\r\nA: b\r\n\r\nx"), HeaderError::kMissingTerminator);
  EXPECT_EQ(ParseError("NATS/1.0\n\n"), HeaderError::kMissingTerminator);
  EXPECT_EQ(ParseError("NATS/1.0x\r\n\r\n"), HeaderError::kBadStatus);
  EXPECT_EQ(ParseError("NATS/1.0 50\r\n\r\n"), HeaderError::kBadStatus);
  EXPECT_EQ(ParseError("NATS/1.0 5x3\r\n\r\n"), HeaderError::kBadStatus);
  EXPECT_EQ(ParseError("NATS/1.0 5034\r\n\r\n"), HeaderError::kBadStatus);
  EXPECT_EQ(ParseError("NATS/1.0 035\r\n\r\n"), HeaderError::kBadStatus);
  EXPECT_EQ(ParseError("NATS/1.0 503 a\rb\r\n\r\n"), HeaderError::kBadStatus);
  EXPECT_EQ(ParseError("NATS/1.0\r\nNoColon\r\n\r\n"), HeaderError::kBadLine);
  EXPECT_EQ(ParseError("NATS/1.0\r\n: v\r\n\r\n"), HeaderError::kBadLine);
  EXPECT_EQ(ParseError("NATS/1.0\r\nA B: v\r\n\r\n"), HeaderError::kBadLine);
  EXPECT_EQ(ParseError("NATS/1.0\r\nA: v\nB: w\r\n\r\n"), HeaderError::kBadLine);
  EXPECT_EQ(ParseError("NATS/1.0\r\n\r\nA: v\r\n\r\n"), HeaderError::kBadLine);
  EXPECT_NE(HeaderErrorText(HeaderError::kBadLine), "");
}

TEST(ServerHeaderLookupTest, FindsAHeaderAtALineStart) {
  EXPECT_EQ(ServerHeaderLookup("NATS/1.0\r\nNats-Msg-Id:   abc\r\n\r\n", "Nats-Msg-Id"), "abc");
}

TEST(ServerHeaderLookupTest, AnEarlierNonLineStartOccurrenceHidesTheHeader) {
  EXPECT_EQ(ServerHeaderLookup("NATS/1.0\r\nOrig-Nats-Msg-Id: 1\r\nNats-Msg-Id: 2\r\n\r\n",
                               "Nats-Msg-Id"),
            std::nullopt);
}

TEST(ServerHeaderLookupTest, AnOccurrenceNotFollowedByColonFails) {
  EXPECT_EQ(
      ServerHeaderLookup("NATS/1.0\r\nNats-Msg-Id-X: 1\r\nNats-Msg-Id: 2\r\n\r\n", "Nats-Msg-Id"),
      std::nullopt);
}

TEST(ServerHeaderLookupTest, IsCaseSensitive) {
  EXPECT_EQ(ServerHeaderLookup("NATS/1.0\r\nnats-msg-id: 1\r\n\r\n", "Nats-Msg-Id"), std::nullopt);
}

TEST(ServerHeaderLookupTest, StaysInsideTruncatedBlocks) {
  EXPECT_EQ(ServerHeaderLookup("NATS/1.0\r\nK:", "K"), "");
  EXPECT_EQ(ServerHeaderLookup("NATS/1.0\r\nK:  v", "K"), "v");
  EXPECT_EQ(ServerHeaderLookup("NATS/1.0\r\nK", "K"), std::nullopt);
  EXPECT_EQ(ServerHeaderLookup("", "K"), std::nullopt);
  EXPECT_EQ(ServerHeaderLookup("K: v", "K"), std::nullopt);
}

TEST(HeaderBuilderTest, StartsAsTheSmallestBlock) {
  HeaderBuilder b;
  EXPECT_EQ(b.block(), "NATS/1.0\r\n\r\n");
  EXPECT_EQ(b.size(), 12u);
}

TEST(HeaderBuilderTest, AddAppendsInOrder) {
  HeaderBuilder b;
  EXPECT_EQ(b.Add("A", "1"), HeaderError::kNone);
  EXPECT_EQ(b.Add("B", "2"), HeaderError::kNone);
  EXPECT_EQ(b.Add("A", "3"), HeaderError::kNone);
  EXPECT_EQ(b.block(), "NATS/1.0\r\nA: 1\r\nB: 2\r\nA: 3\r\n\r\n");
}

TEST(HeaderBuilderTest, SetReplacesAllValuesKeepingTheFirstPosition) {
  HeaderBuilder b;
  ASSERT_EQ(b.Load("NATS/1.0\r\nA: 1\r\nB: 2\r\nA: 3\r\nC: 4\r\n\r\n"), HeaderError::kNone);
  EXPECT_EQ(b.Set("A", "new value"), HeaderError::kNone);
  EXPECT_EQ(b.block(), "NATS/1.0\r\nA: new value\r\nB: 2\r\nC: 4\r\n\r\n");
}

TEST(HeaderBuilderTest, SetAppendsAnAbsentHeader) {
  HeaderBuilder b;
  EXPECT_EQ(b.Set("K", "v"), HeaderError::kNone);
  EXPECT_EQ(b.block(), "NATS/1.0\r\nK: v\r\n\r\n");
}

TEST(HeaderBuilderTest, RemoveDropsEveryLineWithTheExactName) {
  HeaderBuilder b;
  ASSERT_EQ(b.Load("NATS/1.0\r\nNats-Expected-Stream: foo\r\nX: 1\r\nnats-expected-stream: "
                   "bar\r\nNats-Expected-Stream: baz\r\n\r\n"),
            HeaderError::kNone);
  EXPECT_EQ(b.Remove("Nats-Expected-Stream"), 2u);
  EXPECT_EQ(b.block(), "NATS/1.0\r\nX: 1\r\nnats-expected-stream: bar\r\n\r\n");
  EXPECT_EQ(b.Remove("Absent"), 0u);
}

TEST(HeaderBuilderTest, SetStatusRewritesTheFirstLine) {
  HeaderBuilder b;
  b.Add("K", "v");
  EXPECT_EQ(b.SetStatus(408, "Request Timeout"), HeaderError::kNone);
  EXPECT_EQ(b.block(), "NATS/1.0 408 Request Timeout\r\nK: v\r\n\r\n");
  EXPECT_EQ(b.view().status(), 408);
  EXPECT_EQ(b.SetStatus(503), HeaderError::kNone);
  EXPECT_EQ(b.block(), "NATS/1.0 503\r\nK: v\r\n\r\n");
  EXPECT_EQ(b.SetStatus(0), HeaderError::kNone);
  EXPECT_EQ(b.block(), "NATS/1.0\r\nK: v\r\n\r\n");
  EXPECT_EQ(b.SetStatus(42), HeaderError::kBadStatus);
}

TEST(HeaderBuilderTest, RefusesInvalidNamesAndValues) {
  HeaderBuilder b;
  EXPECT_EQ(b.Add("", "v"), HeaderError::kInvalidName);
  EXPECT_EQ(b.Add("A:B", "v"), HeaderError::kInvalidName);
  EXPECT_EQ(b.Add("A B", "v"), HeaderError::kInvalidName);
  EXPECT_EQ(b.Set("A\r\n", "v"), HeaderError::kInvalidName);
  EXPECT_EQ(b.Add("A", "v\r\nB: injected"), HeaderError::kInvalidValue);
  EXPECT_EQ(b.block(), "NATS/1.0\r\n\r\n");
}

TEST(HeaderBuilderTest, LoadRefusesMalformedBlocksAndKeepsContents) {
  HeaderBuilder b;
  b.Add("K", "v");
  EXPECT_EQ(b.Load("NATS/1.0\r\nbroken\r\n\r\n"), HeaderError::kBadLine);
  EXPECT_EQ(b.block(), "NATS/1.0\r\nK: v\r\n\r\n");
}

TEST(HeaderBuilderTest, RoundTripsThroughTheView) {
  const std::string block =
      "NATS/1.0 100 FlowControl Request\r\nA: 1\r\nB: two words\r\nA: 3\r\n\r\n";
  HeaderBuilder b;
  ASSERT_EQ(b.Load(block), HeaderError::kNone);
  HeaderBuilder rebuilt;
  rebuilt.SetStatus(b.view().status(), b.view().description());
  for (HeaderField f : b.view()) rebuilt.Add(f.name, f.value);
  EXPECT_EQ(rebuilt.block(), block);
}

TEST(HeaderBuilderTest, SizeIsTheHpubHeaderSize) {
  HeaderBuilder b;
  b.Add("Nats-Msg-Id", "1");
  Writer w;
  w.Hpub("foo", "", b.block(), "data");
  EXPECT_EQ(w.ToString(), "HPUB foo " + std::to_string(b.size()) + " " +
                              std::to_string(b.size() + 4) + "\r\n" + std::string(b.block()) +
                              "data\r\n");
}

}  // namespace
}  // namespace meridian::proto
