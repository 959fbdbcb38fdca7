// Helpers shared by the topology integration tests: run the `meridian` binary, write topology
// files for a harness super-cluster, and ask the servers directly (libnats) what exists.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/nats_cluster.h"

namespace meridian::topology_it {

struct RunResult {
  int code = -1;
  std::string out, err;
};

// Runs `meridian args...` (stdin empty); `tag` names the stderr file in `dir`.
RunResult RunMeridian(const std::filesystem::path& dir, const std::vector<std::string>& args);

struct StreamDecl {
  std::string name;
  std::vector<std::string> regions;  // empty: every region
  std::string extra;                 // more keys, one per line
};

// A topology file over `regions` of `cluster` (servers and app/app credentials when the
// cluster has accounts), with `streams`; plus `extra_regions` text appended to the regions.
// A non-empty `stretch` names the stretch cluster in every region.
std::string TopologyText(const harness::NatsSuperCluster& cluster,
                         const std::vector<std::string>& regions,
                         const std::vector<StreamDecl>& streams,
                         const std::string& extra_regions = "", const std::string& stretch = "");
void WriteText(const std::filesystem::path& path, const std::string& text);

// A libnats connection to one region (app user when the cluster has accounts).
class Conn {
 public:
  Conn(const harness::NatsSuperCluster& cluster, const std::string& region);
  explicit Conn(const std::string& url);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  natsConnection* get() const { return nc_; }
  // A request with a JSON reply ({"error":...} when none came).
  nlohmann::json Api(const std::string& subject, const std::string& body = "",
                     int64_t timeout_ms = 5000);
  // A JetStream publish through a core request; true when a PubAck without error came back.
  bool PublishAcked(const std::string& subject, const std::string& payload,
                    int64_t timeout_ms = 5000);

 private:
  natsConnection* nc_ = nullptr;
};

// Every stream name in the account.
std::vector<std::string> StreamNames(Conn& c);
// state.messages / first_seq of a stream, -1 when it cannot be read.
int64_t StreamState(Conn& c, const std::string& stream, const char* field);

// Polls `cond` every 200 ms up to `limit`; true when it held.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit);

}  // namespace meridian::topology_it
