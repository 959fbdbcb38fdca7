// One meridian-sidecar for a test: writes its config and topology files into the run
// directory, starts it on free loopback ports and waits for its /healthz.
//
// The file formats follow proxy/sidecar/config.h and topology_file.h (conf/sidecar.toml,
// conf/topology.toml); ConfigText() and TopologyText() are the only places that know them.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "harness/process.h"

namespace meridian::harness {

// A virtual stream as the topology file declares it.
struct VirtualStreamSpec {
  std::string name;                   // "foo"
  std::vector<std::string> subjects;  // {"foo.>"}
  std::vector<std::string> regions;   // {"east", "central", "west"}
};

// A region as the topology file declares it: its name and its servers.
struct RegionSpec {
  std::string name;
  std::vector<std::string> servers;  // "nats://127.0.0.1:p"
};

struct SidecarSpec {
  std::string name;                              // "sidecar-west": log and config file names
  std::string region;                            // where this sidecar writes and reads
  std::vector<std::string> upstream_urls;        // the region's servers, "nats://127.0.0.1:p"
  std::string upstream_user, upstream_password;  // empty: none
  std::vector<RegionSpec> regions;               // every region of the topology, with its servers
  std::vector<VirtualStreamSpec> streams;
  std::vector<std::string> extra_args;  // appended to the command line
  std::string extra_config;    // TOML appended to the sidecar config (e.g. a [coordinator] table)
  std::string topology_text;   // the whole topology file; empty: TopologyText(regions, streams)
  std::string binary;  // the program to start; empty: OurBinary("meridian-sidecar")
};

class SidecarProcess {
 public:
  // Chooses the ports and writes nothing yet.
  SidecarProcess(std::filesystem::path run_dir, SidecarSpec spec);
  ~SidecarProcess();
  SidecarProcess(const SidecarProcess&) = delete;
  SidecarProcess& operator=(const SidecarProcess&) = delete;

  // Writes <run_dir>/conf/<name>.toml and <name>-topology.toml, starts OurBinary
  // ("meridian-sidecar") and waits until /healthz answers 200. Throws with the log tail.
  void Start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void Stop();

  uint16_t client_port() const { return client_port_; }
  uint16_t http_port() const { return http_port_; }
  std::string ClientUrl() const;  // nats://127.0.0.1:<client_port>
  const SidecarSpec& spec() const { return spec_; }
  Process& process() { return *process_; }
  bool Running() { return process_ && process_->Running(); }
  // Resident set size of the sidecar process in KiB (VmRSS), 0 if not running.
  long RssKib() const;

  std::string ConfigText() const;
  std::string TopologyFileText() const;
  std::filesystem::path config_path() const;
  std::filesystem::path topology_path() const;

 private:
  std::filesystem::path run_dir_;
  SidecarSpec spec_;
  uint16_t client_port_ = 0, http_port_ = 0;
  std::unique_ptr<Process> process_;
};

// The topology file text: regions with their servers, then the virtual streams.
std::string TopologyText(const std::vector<RegionSpec>& regions,
                         const std::vector<VirtualStreamSpec>& streams);

// Resident set size in KiB of a running process (from /proc/<pid>/status), 0 if unknown.
long ProcessRssKib(pid_t pid);

}  // namespace meridian::harness
