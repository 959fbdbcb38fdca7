// A directory for one test's (or one demo run's) configs, data and logs, under the build tree:
// <build>/integration/runs/<name>-<YYYYmmdd-HHMMSS>/. Removed on destruction unless kept, so
// the runs of failed tests are what remains there.
#pragma once

#include <filesystem>
#include <string>

namespace meridian::harness {

class RunDir {
 public:
  // `name` is sanitised to [A-Za-z0-9._-]. Creates the directory.
  explicit RunDir(const std::string& name);
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& child) const { return path_ / child; }
  // Keep the directory when this object is destroyed (a failed test, or the demo's --keep).
  void Keep() { keep_ = true; }
  bool kept() const { return keep_; }

  // Where run directories go: $MERIDIAN_RUNS_DIR if set, else <build>/integration/runs.
  static std::filesystem::path Root();

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

}  // namespace meridian::harness
