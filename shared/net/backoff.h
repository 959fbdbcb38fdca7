// Backoff: exponential delays with full jitter, for retrying connects.
//
// The n-th call of Next() (from 0) returns a uniformly random delay in
// [min, min(max, min * multiplier^n)]; Reset() starts over after a success. Deterministic for
// a given seed, so tests can check bounds exactly. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace meridian::net {

class Backoff {
 public:
  using Duration = std::chrono::milliseconds;

  Backoff(Duration min, Duration max, double multiplier = 2.0,
          uint64_t seed = std::random_device{}());

  Duration Next();
  void Reset() { attempts_ = 0; }
  // How many times Next() was called since construction or Reset().
  uint32_t attempts() const { return attempts_; }
  // The upper bound the next Next() will draw from.
  Duration CurrentCeiling() const;

  Duration min() const { return min_; }
  Duration max() const { return max_; }

 private:
  Duration min_;
  Duration max_;
  double multiplier_;
  uint32_t attempts_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace meridian::net
