// CRC-32C (Castagnoli), as used by iSCSI, ext4 and LevelDB. Uses the SSE4.2 instruction when
// the CPU has it (checked at run time), otherwise a table.
#pragma once

#include <cstddef>
#include <cstdint>

namespace meridian::store {

// Returns the CRC-32C of data[0, n) continuing from `crc`, the CRC of the bytes before them
// (0 for none), so Crc32c(Crc32c(0, a), b) == Crc32c(0, a + b).
uint32_t Crc32c(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) {
  return Crc32c(0, data, n);
}

// True when the hardware path is in use (for benchmarks and logs).
bool Crc32cIsHardwareAccelerated();

}  // namespace meridian::store
