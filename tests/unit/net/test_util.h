// Helpers for tests that run a real Loop: bounded waits so a broken test fails, never hangs.
#pragma once

#include <chrono>
#include <functional>

#include "net/loop.h"

namespace meridian::net::testing {

// Runs `loop` until `done()` is true or `limit` passed; returns done().
inline bool RunUntil(Loop& loop, const std::function<bool()>& done,
                     std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  if (done()) return true;
  Timer poll = loop.Every(std::chrono::milliseconds(1), [&] {
    if (done()) loop.Stop();
  });
  loop.RunFor(limit);
  return done();
}

}  // namespace meridian::net::testing
