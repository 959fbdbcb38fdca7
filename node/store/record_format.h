// The on-disk layout of segment headers and records (README.md, "On-disk format", is the
// byte-by-byte description). Encoding appends to a caller-owned buffer so the append path
// reuses one allocation; parsing never trusts a length before its header checksum passed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::store {

inline constexpr char kSegmentMagic[8] = {'M', 'E', 'R', 'I', 'D', 'S', 'E', 'G'};
inline constexpr uint16_t kSegmentVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 40;

inline constexpr uint32_t kRecordMagic = 0x3143524D;  // bytes "MRC1"
inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kRecordHeaderSize = 36;
inline constexpr size_t kRecordTrailerSize = 4;
inline constexpr size_t kRecordOverhead = kRecordHeaderSize + kRecordTrailerSize;
inline constexpr size_t kMaxSubjectBytes = 0xFFFF;
inline constexpr size_t kMaxBodyBytes = 64u << 20;  // headers + payload of one record

enum class RecordType : uint8_t {
  kMessage = 1,  // a stored message
  kDelete = 2,   // tombstone: `seq` was removed
  kFloor = 3,    // every sequence below `seq` was removed
};

struct SegmentHeader {
  uint64_t index = 0;     // the number in the file name
  uint64_t base_seq = 0;  // the store's next sequence when the segment was created
};

struct RecordHeader {
  RecordType type = RecordType::kMessage;
  uint32_t subject_len = 0;
  uint32_t headers_len = 0;
  uint32_t payload_len = 0;
  uint64_t seq = 0;
  int64_t timestamp_ns = 0;

  size_t body_size() const { return size_t{subject_len} + headers_len + payload_len; }
  size_t record_size() const { return kRecordOverhead + body_size(); }
};

void EncodeSegmentHeader(const SegmentHeader& header, std::string* out);
// False when the bytes are not a valid segment header (magic, version or checksum).
bool DecodeSegmentHeader(const uint8_t* data, size_t size, SegmentHeader* header);

// Appends one encoded record to *out. Lengths must respect kMaxSubjectBytes / kMaxBodyBytes.
void EncodeRecord(RecordType type, uint64_t seq, int64_t timestamp_ns, std::string_view subject,
                  std::string_view headers, std::string_view payload, std::string* out);

enum class ParseOutcome {
  kOk,           // a whole record whose checksums both match
  kTruncated,    // fewer bytes than the header (or its declared length) needs
  kBadHeader,    // wrong magic, version, type or header checksum: lengths are unknown
  kBadChecksum,  // header valid, whole record present, record checksum wrong
};

// Parses the record at data[0, size). On kOk, kTruncated-with-valid-header and kBadChecksum
// *header is filled; *header_valid tells whether it can be trusted.
ParseOutcome ParseRecord(const uint8_t* data, size_t size, RecordHeader* header,
                         bool* header_valid);

}  // namespace meridian::store
