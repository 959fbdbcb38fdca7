#include "harness/health.h"

#include <stdexcept>
#include <thread>

#include "harness/http_client.h"

namespace meridian::harness {

std::string WithLogTail(const std::string& what, const Process& process, int lines) {
  return what + "\n--- last lines of " + process.log_path().string() + " ---\n" +
         process.LogTail(lines);
}

void WaitForHealthz(Process& process, uint16_t http_port, std::chrono::milliseconds timeout,
                    const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string url = "http://127.0.0.1:" + std::to_string(http_port) + path;
  std::string last;
  while (true) {
    if (!process.Running()) {
      throw std::runtime_error(WithLogTail(process.Name() + " exited (" +
                                               process.exit_status()->Describe() + ") before " +
                                               url + " answered 200",
                                           process));
    }
    HttpResponse r = HttpGet("127.0.0.1", http_port, path, std::chrono::seconds(2));
    if (r.status == 200) return;
    last = r.status != 0 ? "HTTP " + std::to_string(r.status) + " " + r.body : r.error;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error(WithLogTail(process.Name() + " did not become healthy within " +
                                               std::to_string(timeout.count()) + " ms: " + url +
                                               " last said: " + last,
                                           process));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace meridian::harness
