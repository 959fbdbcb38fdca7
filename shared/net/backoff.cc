#include "net/backoff.h"

#include <algorithm>
#include <cmath>

namespace meridian::net {

Backoff::Backoff(Duration min, Duration max, double multiplier, uint64_t seed)
    : min_(std::max(min, Duration(0))),
      max_(std::max(max, std::max(min, Duration(0)))),
      multiplier_(multiplier < 1.0 ? 1.0 : multiplier),
      rng_(seed) {}

Backoff::Duration Backoff::CurrentCeiling() const {
  double ceiling = static_cast<double>(min_.count()) * std::pow(multiplier_, attempts_);
  if (!(ceiling < static_cast<double>(max_.count()))) return max_;  // also catches inf
  return Duration(std::max<int64_t>(min_.count(), static_cast<int64_t>(ceiling)));
}

Backoff::Duration Backoff::Next() {
  Duration ceiling = CurrentCeiling();
  if (attempts_ < 1000) ++attempts_;
  std::uniform_int_distribution<int64_t> pick(min_.count(), ceiling.count());
  return Duration(pick(rng_));
}

}  // namespace meridian::net
