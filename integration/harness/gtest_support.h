// GoogleTest-facing helpers: a run directory named after the running test (or test suite)
// that is kept when a failure was recorded while it existed, and removed otherwise.
#pragma once

#include <string>

#include "harness/run_dir.h"

namespace meridian::harness {

class TestRunDir : public RunDir {
 public:
  // Named "<Suite>.<Test>" inside a test, "<Suite>" in SetUpTestSuite.
  TestRunDir();
  explicit TestRunDir(const std::string& name);
  // Keeps the directory (and says where, on stderr) if any assertion failed meanwhile, or an
  // exception is unwinding through the test.
  ~TestRunDir();

 private:
  long failures_at_start_;
};

// Assertion failures recorded in this process so far (any test, any suite).
long FailuresSoFar();

}  // namespace meridian::harness
