#include <gtest/gtest.h>

#include <string>

#include "store/crc32c.h"
#include "store/record_format.h"
#include "store/subject_filter.h"

namespace meridian::store {
namespace {

TEST(Crc32c, MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
}

TEST(Crc32c, ExtendingInPiecesEqualsOneShot) {
  std::string data(1000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  uint32_t whole = Crc32c(data.data(), data.size());
  uint32_t parts = Crc32c(Crc32c(data.data(), 13), data.data() + 13, data.size() - 13);
  EXPECT_EQ(whole, parts);
}

TEST(RecordFormat, EncodedRecordParsesBack) {
  std::string buf;
  EncodeRecord(RecordType::kMessage, 42, 1234, "a.b", "NATS/1.0\r\n\r\n", "hello", &buf);
  RecordHeader h;
  bool header_valid = false;
  ASSERT_EQ(
      ParseRecord(reinterpret_cast<const uint8_t*>(buf.data()), buf.size(), &h, &header_valid),
      ParseOutcome::kOk);
  EXPECT_EQ(h.seq, 42u);
  EXPECT_EQ(h.timestamp_ns, 1234);
  EXPECT_EQ(h.subject_len, 3u);
  EXPECT_EQ(h.payload_len, 5u);
  EXPECT_EQ(h.record_size(), buf.size());
}

TEST(RecordFormat, EverySingleBitFlipIsDetected) {
  std::string buf;
  EncodeRecord(RecordType::kMessage, 7, 99, "s", "", "payload", &buf);
  for (size_t bit = 0; bit < buf.size() * 8; ++bit) {
    std::string copy = buf;
    copy[bit / 8] = static_cast<char>(copy[bit / 8] ^ (1 << (bit % 8)));
    RecordHeader h;
    bool header_valid = false;
    EXPECT_NE(
        ParseRecord(reinterpret_cast<const uint8_t*>(copy.data()), copy.size(), &h, &header_valid),
        ParseOutcome::kOk)
        << "bit " << bit;
  }
}

TEST(RecordFormat, ShortInputIsTruncatedNotCorrupt) {
  std::string buf;
  EncodeRecord(RecordType::kMessage, 7, 99, "s", "", "payload", &buf);
  for (size_t n = 0; n < buf.size(); ++n) {
    RecordHeader h;
    bool header_valid = false;
    EXPECT_EQ(ParseRecord(reinterpret_cast<const uint8_t*>(buf.data()), n, &h, &header_valid),
              ParseOutcome::kTruncated)
        << n;
  }
}

TEST(SegmentHeader, RoundTripsAndRejectsDamage) {
  std::string buf;
  EncodeSegmentHeader({5, 100}, &buf);
  ASSERT_EQ(buf.size(), kSegmentHeaderSize);
  SegmentHeader h;
  ASSERT_TRUE(DecodeSegmentHeader(reinterpret_cast<const uint8_t*>(buf.data()), buf.size(), &h));
  EXPECT_EQ(h.index, 5u);
  EXPECT_EQ(h.base_seq, 100u);
  buf[20] ^= 1;
  EXPECT_FALSE(DecodeSegmentHeader(reinterpret_cast<const uint8_t*>(buf.data()), buf.size(), &h));
}

TEST(SubjectFilter, MatchesLiteralsAndWildcards) {
  EXPECT_TRUE(SubjectMatchesFilter("a.b", "a.b"));
  EXPECT_FALSE(SubjectMatchesFilter("a.b", "a.c"));
  EXPECT_TRUE(SubjectMatchesFilter("a.*", "a.b"));
  EXPECT_FALSE(SubjectMatchesFilter("a.*", "a.b.c"));
  EXPECT_TRUE(SubjectMatchesFilter("a.>", "a.b.c"));
  EXPECT_FALSE(SubjectMatchesFilter("a.>", "a"));
  EXPECT_TRUE(SubjectMatchesFilter("*.b.>", "x.b.y"));
  EXPECT_FALSE(SubjectMatchesFilter("a.b", "a.b.c"));
  EXPECT_FALSE(SubjectMatchesFilter("a.b.c", "a.b"));
  EXPECT_TRUE(SubjectMatchesFilter(">", "anything.at.all"));
  EXPECT_TRUE(SubjectMatchesFilter("", "x"));
}

TEST(SubjectFilter, RecognisesLiteralSubjects) {
  EXPECT_TRUE(IsLiteralSubject("a.b"));
  EXPECT_FALSE(IsLiteralSubject("a.*"));
  EXPECT_FALSE(IsLiteralSubject(">"));
  EXPECT_FALSE(IsLiteralSubject(""));
}

}  // namespace
}  // namespace meridian::store
