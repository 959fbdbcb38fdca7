// Runs a nats.js client script: `node integration/js/<script>.mjs args...` with cwd
// integration/js, its output captured, bounded in time.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "harness/process.h"

namespace meridian::harness {

struct NodeScriptResult {
  ExitStatus status;
  bool timed_out = false;  // killed after the timeout
  std::string output;      // stdout and stderr, interleaved as written
  bool ok() const { return !timed_out && status.exited && status.code == 0; }
  std::string Describe() const;  // "exit code 0" / "timed out", then the output
  // The text after "RESULT " on the first output line that starts with it (the scripts'
  // one-line JSON result); empty when there is none.
  std::string ResultLine() const;
};

// `script` is a file name in integration/js ("pubsub.mjs"; ".mjs" is added if missing). The
// output is also kept at `log_path`. Throws if node or nats.js (node_modules) is missing.
NodeScriptResult RunNodeScript(const std::string& script, const std::vector<std::string>& args,
                               const std::filesystem::path& log_path,
                               std::chrono::milliseconds timeout = std::chrono::seconds(30));

// RunNodeScript on a thread of its own, for a test that drives the world while the app runs.
// Started by the constructor; Wait() joins it and returns the result (the destructor joins too).
class BackgroundNodeScript {
 public:
  BackgroundNodeScript(std::string script, std::vector<std::string> args,
                       std::filesystem::path log_path, std::chrono::milliseconds timeout);
  ~BackgroundNodeScript();
  BackgroundNodeScript(const BackgroundNodeScript&) = delete;
  BackgroundNodeScript& operator=(const BackgroundNodeScript&) = delete;
  const NodeScriptResult& Wait();

 private:
  NodeScriptResult result_;
  std::thread thread_;
};

}  // namespace meridian::harness
