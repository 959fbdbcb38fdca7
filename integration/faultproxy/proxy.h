// FaultProxy: a TCP proxy for tests that sits on the links between regions and adds latency,
// jitter and bandwidth limits, or cuts links (refuse with a reset, or black-hole like a
// partition), changed at run time from the test thread.
//
// One listener per target (a server's gateway or route port). Every accepted connection is
// tagged with the region of the target and the region of the dialer; the dialer is named by
// Options::identify_source (FaultyNatsSuperCluster finds the process that owns the socket).
// Faults are set per directed region pair ("path"): bytes travelling from region A to region
// B are delayed by path(A, B); a connection dialled either way between A and B is cut when the
// pair is cut. A per-target override (SetTargetFaults) applies to both directions of every
// connection through that target.
//
// Threading: the proxy runs its own libuv loop on its own thread. Every public call is
// thread-safe and synchronous: it returns once the loop has applied it (after Cut() returns,
// existing connections are already reset or black-holed). The destructor stops the thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace meridian::faultproxy {

// Delay and throughput of the bytes in one direction.
struct Faults {
  std::chrono::milliseconds latency{0};  // one way: a round trip costs twice this
  std::chrono::milliseconds jitter{0};   // plus uniform 0..jitter; order is kept
  uint64_t bytes_per_second = 0;         // 0: unlimited
};

enum class CutMode {
  kNone,
  // Existing connections are reset (both sides get RST); new ones are accepted and reset at
  // once, which the dialer sees as a refused/reset connection.
  kRefuse,
  // Nothing is delivered any more in either direction and nothing is closed: existing
  // connections go silent (peers notice only by their own ping timeouts), new ones are
  // accepted but never reach the target. Closes seen on one side are held too. Healing
  // delivers what was held (as TCP retransmission would) and passes held closes on.
  kBlackhole,
};

struct TargetCounters {
  uint64_t connections = 0;  // accepted
  uint64_t reset = 0;        // reset because of a refuse cut
  uint64_t open = 0;         // currently open
  uint64_t bytes_to_target = 0;
  uint64_t bytes_from_target = 0;
};

struct PathCounters {
  uint64_t bytes = 0;        // delivered from `from` to `to`
  uint64_t connections = 0;  // dialled from `from` to `to`
};

struct Options {
  // Names the region of the process that dialled `peer_port` on 127.0.0.1 into the proxy
  // listener on `listen_port`; "" when unknown (then path("", to) applies). Runs on the proxy
  // thread for each accepted connection. Default: every dialer is "".
  std::function<std::string(uint16_t peer_port, uint16_t listen_port)> identify_source;
  // Bytes held per direction of a connection (delay line + black hole) before the proxy stops
  // reading that side (back-pressure, as a TCP window would).
  size_t max_held_bytes = 8 << 20;
  uint32_t seed = 1;  // jitter
};

class FaultProxy {
 public:
  explicit FaultProxy(Options options = {});
  ~FaultProxy();  // stops the proxy thread; every proxied connection is aborted
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Listens on 127.0.0.1:`listen_port` (0: any free port) and forwards to `target_host`:
  // `target_port`, which sits in region `target_region`. Returns the listening port. `name`
  // identifies the target in counters and per-target faults. Throws when it cannot listen.
  uint16_t AddTarget(const std::string& name, const std::string& target_region,
                     const std::string& target_host, uint16_t target_port,
                     uint16_t listen_port = 0);

  // Faults for bytes travelling from region `from` to region `to` (one direction).
  void SetPathFaults(const std::string& from, const std::string& to, Faults faults);
  // Both directions between `a` and `b` get `one_way` (+ jitter) each.
  void SetLatency(const std::string& a, const std::string& b, std::chrono::milliseconds one_way,
                  std::chrono::milliseconds jitter = std::chrono::milliseconds(0));
  // The same latency between every pair of distinct regions in `regions`.
  void SetLatencyBetweenAll(const std::vector<std::string>& regions,
                            std::chrono::milliseconds one_way,
                            std::chrono::milliseconds jitter = std::chrono::milliseconds(0));
  // Overrides the path faults for every connection through one target (both directions);
  // nullopt removes the override.
  void SetTargetFaults(const std::string& target, std::optional<Faults> faults);

  // Cuts (or heals, with kNone) every connection between regions `a` and `b`.
  void Cut(const std::string& a, const std::string& b, CutMode mode);
  void Heal(const std::string& a, const std::string& b) { Cut(a, b, CutMode::kNone); }
  // Cuts one target off from everyone (kNone heals it).
  void CutTarget(const std::string& target, CutMode mode);
  // Cuts `region` from every other region the proxy knows (targets' regions and sources seen).
  void CutRegion(const std::string& region, CutMode mode);
  // Cuts every pair of regions that are in different groups: Partition({{"east"}, {"central",
  // "west"}}). Regions in no group are left as they are.
  void Partition(const std::vector<std::vector<std::string>>& groups, CutMode mode);
  // Removes every cut (region pairs and targets); latencies stay.
  void HealAll();
  // Removes every latency, jitter and bandwidth setting (cuts stay).
  void ClearFaults();

  TargetCounters Target(const std::string& name) const;
  PathCounters Path(const std::string& from, const std::string& to) const;
  std::map<std::string, TargetCounters> Targets() const;
  // Listening port of each target, by name.
  std::map<std::string, uint16_t> ListenPorts() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::faultproxy
