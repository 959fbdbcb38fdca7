#include "harness/gtest_support.h"

#include <gtest/gtest.h>

#include <atomic>
#include <exception>
#include <iostream>
#include <mutex>

namespace meridian::harness {
namespace {

std::atomic<long> g_failures{0};

class FailureCounter : public ::testing::EmptyTestEventListener {
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (result.failed()) ++g_failures;
  }
};

void InstallCounterOnce() {
  static std::once_flag once;
  std::call_once(
      once, [] { ::testing::UnitTest::GetInstance()->listeners().Append(new FailureCounter); });
}

std::string CurrentTestName() {
  auto* unit = ::testing::UnitTest::GetInstance();
  if (const auto* info = unit->current_test_info()) {
    return std::string(info->test_suite_name()) + "." + info->name();
  }
  if (const auto* suite = unit->current_test_suite()) return suite->name();
  return "test";
}

}  // namespace

long FailuresSoFar() {
  return g_failures.load();
}

TestRunDir::TestRunDir() : TestRunDir(CurrentTestName()) {}

TestRunDir::TestRunDir(const std::string& name) : RunDir(name) {
  InstallCounterOnce();
  failures_at_start_ = FailuresSoFar();
}

TestRunDir::~TestRunDir() {
  // An exception leaving the test body is recorded as a failure only after unwinding.
  if (FailuresSoFar() != failures_at_start_ || std::uncaught_exceptions() > 0) {
    Keep();
    std::cerr << "[harness] a test failed: configs, data and logs kept in " << path().string()
              << "\n";
  }
}

}  // namespace meridian::harness
