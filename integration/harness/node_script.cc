#include "harness/node_script.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "harness/binaries.h"

namespace meridian::harness {

std::string NodeScriptResult::Describe() const {
  return (timed_out ? std::string("timed out") : status.Describe()) + "; output:\n" + output;
}

std::string NodeScriptResult::ResultLine() const {
  constexpr std::string_view kTag = "RESULT ";
  for (std::size_t at = 0; at < output.size();) {
    const std::size_t end = std::min(output.find('\n', at), output.size());
    if (std::string_view(output).substr(at, end - at).starts_with(kTag)) {
      return output.substr(at + kTag.size(), end - at - kTag.size());
    }
    at = end + 1;
  }
  return {};
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

BackgroundNodeScript::BackgroundNodeScript(std::string script, std::vector<std::string> args,
                                           std::filesystem::path log_path,
                                           std::chrono::milliseconds timeout)
    : thread_([this, script = std::move(script), args = std::move(args),
               log_path = std::move(log_path), timeout] {
        try {
          result_ = RunNodeScript(script, args, log_path, timeout);
        } catch (const std::exception& e) {
          result_.output = std::string("could not run the script: ") + e.what();
          result_.status = {};
        }
      }) {}

BackgroundNodeScript::~BackgroundNodeScript() {
  if (thread_.joinable()) thread_.join();
}

const NodeScriptResult& BackgroundNodeScript::Wait() {
  if (thread_.joinable()) thread_.join();
  return result_;
}

}  // namespace meridian::harness
