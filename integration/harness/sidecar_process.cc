#include "harness/sidecar_process.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "harness/binaries.h"
#include "harness/health.h"
#include "harness/ports.h"

namespace meridian::harness {
namespace {

std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string TomlList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += TomlString(items[i]);
  }
  return out + "]";
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

std::string TopologyText(const std::vector<RegionSpec>& regions,
                         const std::vector<VirtualStreamSpec>& streams) {
  std::ostringstream t;
  t << "# Written by the integration harness (SidecarProcess).\n";
  for (const auto& r : regions) {
    t << "[regions." << r.name << "]\nservers = " << TomlList(r.servers) << "\n\n";
  }
  for (const auto& s : streams) {
    t << "[streams." << s.name << "]\n"
      << "subjects = " << TomlList(s.subjects) << "\n"
      << "mode = \"eventual\"\n"
      << "regions = " << TomlList(s.regions) << "\n\n";
  }
  return t.str();
}

long ProcessRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

SidecarProcess::SidecarProcess(std::filesystem::path run_dir, SidecarSpec spec)
    : run_dir_(std::move(run_dir)), spec_(std::move(spec)) {
  if (spec_.name.empty()) spec_.name = "sidecar-" + spec_.region;
  client_port_ = FreeLoopbackPort();
  http_port_ = FreeLoopbackPort();
}

SidecarProcess::~SidecarProcess() = default;

std::filesystem::path SidecarProcess::config_path() const {
  return run_dir_ / "conf" / (spec_.name + ".toml");
}
std::filesystem::path SidecarProcess::topology_path() const {
  return run_dir_ / "conf" / (spec_.name + "-topology.toml");
}

std::string SidecarProcess::ClientUrl() const {
  return "nats://127.0.0.1:" + std::to_string(client_port_);
}

std::string SidecarProcess::ConfigText() const {
  std::ostringstream c;
  c << "# Written by the integration harness (SidecarProcess).\n"
    << "region = " << TomlString(spec_.region) << "\n"
    << "topology = " << TomlString(topology_path().string()) << "\n"
    << "\n[listen]\n"
    << "addresses = [\"127.0.0.1:" << client_port_ << "\"]\n"
    << "\n[monitoring]\n"
    << "address = \"127.0.0.1:" << http_port_ << "\"\n"
    << "\n[upstream]\n"
    << "servers = " << TomlList(spec_.upstream_urls) << "\n";
  if (!spec_.upstream_user.empty()) {
    c << "user = " << TomlString(spec_.upstream_user) << "\n"
      << "password = " << TomlString(spec_.upstream_password) << "\n";
  }
  if (!spec_.extra_config.empty()) c << "\n" << spec_.extra_config << "\n";
  return c.str();
}

std::string SidecarProcess::TopologyFileText() const {
  if (!spec_.topology_text.empty()) return spec_.topology_text;
  return TopologyText(spec_.regions, spec_.streams);
}

void SidecarProcess::Start(std::chrono::milliseconds timeout) {
  WriteFile(topology_path(), TopologyFileText());
  WriteFile(config_path(), ConfigText());
  ProcessSpec p;
  p.argv = {spec_.binary.empty() ? OurBinary("meridian-sidecar").string() : spec_.binary,
            "--config", config_path().string()};
  for (const auto& a : spec_.extra_args) p.argv.push_back(a);
  p.log_path = run_dir_ / "logs" / (spec_.name + ".log");
  std::filesystem::create_directories(p.log_path.parent_path());
  process_ = std::make_unique<Process>(std::move(p));
  WaitForHealthz(*process_, http_port_, timeout);
}

void SidecarProcess::Stop() {
  if (process_) process_->Stop(std::chrono::seconds(5));
}

long SidecarProcess::RssKib() const {
  if (!process_ || process_->pid() <= 0) return 0;
  return ProcessRssKib(process_->pid());
}

}  // namespace meridian::harness
