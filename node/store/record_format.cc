#include "store/record_format.h"

#include <cstring>

#include "store/crc32c.h"

namespace meridian::store {
namespace {

void Put16(std::string* out, uint16_t v) {
  char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
  out->append(b, 2);
}
void Put32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 4);
}
void Put64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 8);
}
uint16_t Get16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t Get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

void EncodeSegmentHeader(const SegmentHeader& header, std::string* out) {
  size_t start = out->size();
  out->append(kSegmentMagic, sizeof(kSegmentMagic));
  Put16(out, kSegmentVersion);
  Put16(out, 0);  // flags
  Put32(out, 0);  // reserved
  Put64(out, header.index);
  Put64(out, header.base_seq);
  Put32(out, Crc32c(out->data() + start, 32));
  Put32(out, 0);  // reserved
}

bool DecodeSegmentHeader(const uint8_t* data, size_t size, SegmentHeader* header) {
  if (size < kSegmentHeaderSize) return false;
  if (std::memcmp(data, kSegmentMagic, sizeof(kSegmentMagic)) != 0) return false;
  if (Get16(data + 8) != kSegmentVersion) return false;
  if (Get32(data + 32) != Crc32c(data, 32)) return false;
  header->index = Get64(data + 16);
  header->base_seq = Get64(data + 24);
  return true;
}

void EncodeRecord(RecordType type, uint64_t seq, int64_t timestamp_ns, std::string_view subject,
                  std::string_view headers, std::string_view payload, std::string* out) {
  size_t start = out->size();
  Put32(out, kRecordMagic);
  out->push_back(static_cast<char>(kRecordVersion));
  out->push_back(static_cast<char>(type));
  Put16(out, static_cast<uint16_t>(subject.size()));
  Put32(out, static_cast<uint32_t>(headers.size()));
  Put32(out, static_cast<uint32_t>(payload.size()));
  Put64(out, seq);
  Put64(out, static_cast<uint64_t>(timestamp_ns));
  Put32(out, Crc32c(out->data() + start, 32));
  out->append(subject);
  out->append(headers);
  out->append(payload);
  Put32(out, Crc32c(out->data() + start, out->size() - start));
}

ParseOutcome ParseRecord(const uint8_t* data, size_t size, RecordHeader* header,
                         bool* header_valid) {
  *header_valid = false;
  if (size < kRecordHeaderSize) return ParseOutcome::kTruncated;
  if (Get32(data) != kRecordMagic || data[4] != kRecordVersion) return ParseOutcome::kBadHeader;
  if (Get32(data + 32) != Crc32c(data, 32)) return ParseOutcome::kBadHeader;
  uint8_t type = data[5];
  if (type < 1 || type > 3) return ParseOutcome::kBadHeader;
  header->type = static_cast<RecordType>(type);
  header->subject_len = Get16(data + 6);
  header->headers_len = Get32(data + 8);
  header->payload_len = Get32(data + 12);
  header->seq = Get64(data + 16);
  header->timestamp_ns = static_cast<int64_t>(Get64(data + 24));
  if (size_t{header->headers_len} + header->payload_len > kMaxBodyBytes) {
    return ParseOutcome::kBadHeader;
  }
  *header_valid = true;
  size_t total = header->record_size();
  if (size < total) return ParseOutcome::kTruncated;
  if (Get32(data + total - kRecordTrailerSize) != Crc32c(data, total - kRecordTrailerSize)) {
    return ParseOutcome::kBadChecksum;
  }
  return ParseOutcome::kOk;
}

}  // namespace meridian::store
