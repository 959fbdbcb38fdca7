// The topology a deployment declares (conf/topology.toml): its regions and its virtual
// streams, with every setting the coordinator needs to derive the real streams.
//
// Parsed and validated by topology/file.h; turned into stream configs by desired.h. Names
// of the real streams are derived here and nowhere else.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::topology {

// One region: a cluster of servers clients in that region use.
struct Region {
  std::string name;                  // subject token, inserted into stored subjects
  std::vector<std::string> servers;  // "nats://host:port" / "tls://host:port", at least one
  std::string user, password, token;
  std::string tls_ca, tls_cert, tls_key;  // files; empty = none
  std::string cluster;                    // the servers' cluster name (placement); default = name
  std::string stretch_cluster;  // the stretch cluster this region has a node of; "" = none
};

enum class Mode : std::uint8_t { kEventual, kOrdered, kImmediate };
const char* ModeName(Mode m);
std::optional<Mode> ParseMode(std::string_view text);

enum class Storage : std::uint8_t { kFile, kMemory };

// Limits of a read stream (or regional mirror). 0 / -1 mean "none", as in JetStream.
struct ReadLimits {
  std::chrono::nanoseconds max_age{0};
  std::int64_t max_bytes = -1;
  std::int64_t max_msgs = -1;
  std::int64_t max_msgs_per_subject = -1;
};

struct VirtualStream {
  std::string name;                   // "foo": what clients name
  std::vector<std::string> subjects;  // roots "<literal prefix>.>", e.g. "foo.>"
  Mode mode = Mode::kEventual;
  std::vector<std::string> regions;  // the regions it spans (default: all, in file order)
  int replicas = 3;
  Storage storage = Storage::kFile;
  // Last-resort age limit on write streams (0 = off). The trimmer removes what every read
  // stream has sourced; this only bounds a write stream when a region stays away too long.
  std::chrono::nanoseconds write_max_age{0};
  ReadLimits read;
  // true: stored subjects keep the origin region token (foo.west.test), as the sidecar
  // expects; false: read streams strip it server-side (2.10+ subject transforms only).
  bool keep_origin_token = true;

  // Prefix of each root without ".>" ("foo" for "foo.>").
  std::vector<std::string> Prefixes() const;
  std::string WriteStreamName(std::string_view region) const;  // "foo-write-west"
  std::string ReadStreamName(std::string_view region) const;   // "foo-read-west"
  std::string OrderStreamName() const;                         // "foo-order" (ordered)
  std::string StretchedStreamName() const;                     // "foo" (immediate)
  // "foo.west.>" for root "foo.>": what region `region` writes (one per root).
  std::vector<std::string> RegionSubjects(std::string_view region) const;
};

struct Topology {
  std::vector<Region> regions;  // file order
  std::vector<VirtualStream> streams;
  std::chrono::milliseconds trim_interval{std::chrono::seconds(30)};  // 0 = no periodic trim
  std::string file;                                                   // where it was read from

  const Region* FindRegion(std::string_view name) const;
  const VirtualStream* FindStream(std::string_view name) const;
  // The stretch cluster the regions of `vs` share, or "" when they name none.
  std::string StretchClusterOf(const VirtualStream& vs) const;
};

}  // namespace meridian::topology
