// Internal to meridian_node_jetstream: the per-consumer ack log (`consumers/<name>.acklog`).
// Each record is a CRC-protected, length-prefixed image of the consumer's delivery/ack state
// with a generation number; the state file (`<name>.json`) carries the generation of its own
// snapshot. On open the newest generation wins: the JSON's state, replaced by the state of the
// highest-generation valid log record when that one is newer. Records are appended (one
// fdatasync of a small write into reserved space) to make an AckSync durable before its
// ack-ack; the JSON snapshot is still written now and then (Tick, log past a size threshold,
// Close), after which the log is written again from offset 0. Byte layout:
// node/jetstream/README.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::jetstream {

struct AckLogImage {
  uint64_t next_sseq = 1, dseq = 0, delivered_sseq = 0, ack_floor_sseq = 0, ack_floor_dseq = 0;
  struct Pending {
    uint64_t sseq = 0, dseq = 0, count = 1;
    bool operator==(const Pending&) const = default;
  };
  std::vector<Pending> pending;   // by increasing stream sequence
  std::vector<uint64_t> initial;  // increasing
  bool operator==(const AckLogImage&) const = default;
};

inline constexpr size_t kAckLogHeader = 16;          // magic, body length, generation
inline constexpr size_t kAckLogMaxBody = 64u << 20;  // a longer length is invalid
inline constexpr char kAckLogMagic[4] = {'M', 'A', 'K', '1'};

// Appends one record (header, body, CRC) to `out`.
void EncodeAckLogRecord(uint64_t gen, const AckLogImage& image, std::string* out);

struct AckLogScan {
  bool found = false;      // at least one valid record
  uint64_t gen = 0;        // the highest generation among the valid records
  AckLogImage image;       // that record's image
  uint64_t valid_end = 0;  // end of the valid records from offset 0 (where to append next)
  uint64_t records = 0;    // valid records
};

// Reads records from offset 0 until the first invalid one (cut short, bad magic, bad CRC,
// undecodable body, or zeros: a torn tail or the reserved space); keeps the highest generation.
AckLogScan ScanAckLog(std::string_view data);

}  // namespace meridian::jetstream
