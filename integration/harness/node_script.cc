#include "harness/node_script.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "harness/binaries.h"

namespace meridian::harness {

std::string NodeScriptResult::Describe() const {
  return (timed_out ? std::string("timed out") : status.Describe()) + "; output:\n" + output;
}

NodeScriptResult RunNodeScript(const std::string& script, const std::vector<std::string>& args,
                               const std::filesystem::path& log_path,
                               std::chrono::milliseconds timeout) {
  std::string file = script;
  if (file.size() < 4 || file.substr(file.size() - 4) != ".mjs") file += ".mjs";
  const std::filesystem::path path = JsDir() / file;
  if (!std::filesystem::is_regular_file(path)) {
    throw std::runtime_error("no nats.js script " + path.string());
  }
  if (!std::filesystem::is_directory(JsDir() / "node_modules" / "nats")) {
    throw std::runtime_error("nats.js is not installed in " + (JsDir() / "node_modules").string() +
                             ": run scripts/setup.sh (or `npm ci` in " + JsDir().string() + ")");
  }
  std::filesystem::remove(log_path);
  ProcessSpec spec;
  spec.argv = {NodeBinary().string(), path.string()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.working_dir = JsDir();
  spec.log_path = log_path;
  Process node(spec);
  NodeScriptResult result;
  if (auto s = node.Wait(timeout)) {
    result.status = *s;
  } else {
    result.timed_out = true;
    result.status = node.Kill();
  }
  std::ifstream in(log_path);
  std::ostringstream out;
  out << in.rdbuf();
  result.output = out.str();
  return result;
}

}  // namespace meridian::harness
