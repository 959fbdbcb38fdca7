#include "harness/run_dir.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <stdexcept>

namespace meridian::harness {

std::filesystem::path RunDir::Root() {
  if (const char* env = std::getenv("MERIDIAN_RUNS_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::filesystem::path(MERIDIAN_BUILD_DIR) / "integration" / "runs";
}

RunDir::RunDir(const std::string& name) {
  std::string clean;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    clean += ok ? c : '_';
  }
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  std::filesystem::path base = Root() / (clean + "-" + stamp);
  std::filesystem::create_directories(Root());
  path_ = base;
  for (int n = 2; !std::filesystem::create_directory(path_); ++n) {
    if (n > 1000)
      throw std::runtime_error("cannot create a run directory under " + Root().string());
    path_ = base.string() + "." + std::to_string(n);
  }
}

RunDir::~RunDir() {
  if (keep_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace meridian::harness
