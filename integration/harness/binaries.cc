#include "harness/binaries.h"

#include <cstdlib>
#include <stdexcept>

namespace meridian::harness {
namespace {

std::filesystem::path FromEnvOr(const char* var, const char* fallback) {
  if (const char* env = std::getenv(var); env != nullptr && *env != '\0') return env;
  return fallback;
}

}  // namespace

std::filesystem::path BuildDir() {
  return MERIDIAN_BUILD_DIR;
}
std::filesystem::path SourceDir() {
  return MERIDIAN_SOURCE_DIR;
}
std::filesystem::path JsDir() {
  return SourceDir() / "integration" / "js";
}
std::filesystem::path NatsServerBinary() {
  return FromEnvOr("MERIDIAN_NATS_SERVER", MERIDIAN_NATS_SERVER_BIN);
}
std::filesystem::path NodeBinary() {
  return FromEnvOr("MERIDIAN_NODE", MERIDIAN_NODE_BIN);
}

std::filesystem::path OurBinary(const std::string& name) {
  // Where each program's CMake target puts it; the whole tree is searched as a fallback.
  const std::filesystem::path candidates[] = {
      BuildDir() / "proxy" / name, BuildDir() / "node" / name, BuildDir() / "proxy" / "cli" / name,
      BuildDir() / "integration" / name, BuildDir() / name};
  for (const auto& c : candidates) {
    if (std::filesystem::is_regular_file(c)) return c;
  }
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(BuildDir(), ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_directory() &&
        (it->path().filename() == "runs" || it->path().filename() == "CMakeFiles")) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->path().filename() == name && it->is_regular_file()) return it->path();
  }
  throw std::runtime_error(name + " is not built in " + BuildDir().string() +
                           ": run `cmake --build " + BuildDir().string() + " --target " + name +
                           "` first");
}

}  // namespace meridian::harness
