// The desired state: every real stream a Topology needs, with the config to create it, the
// region whose servers (and credentials) to ask, and the apply phase.
//
//   eventual   <v>-write-<r>  subjects <p>.<r>.>, placed in r's cluster
//              <v>-read-<r>   no subjects, allow_direct, sources every <v>-write-<o> (filter
//                             <p>.<o>.>, or a 2.10+ transform <p>.<o>.> -> <p>.> when
//                             keep_origin_token = false)
//   ordered    <v>-write-<r> as above; <v>-order (allow_direct) in the stretch cluster sourcing
//   them all;
//              <v>-read-<r> mirrors <v>-order (allow_direct, mirror_direct)
//   immediate  <v> in the stretch cluster with the stream's subjects; <v>-read-<r> mirrors it
//
// Pure: no I/O. What a region's server supports comes in as ServerKind.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "topology/spec.h"

namespace meridian::topology {

// What a region's servers are, from their INFO.
struct ServerKind {
  std::string version;           // "2.9.10"
  bool meridian_node = false;    // INFO names meridian-node
  bool transforms = false;       // stream and source subject transforms (2.10+, meridian-node)
  std::string Describe() const;  // "nats-server 2.9.10 (no subject transforms)"
};
// From the INFO JSON a server sent on connect.
ServerKind DetectServerKind(std::string_view info_json);

enum class Role : std::uint8_t { kWrite, kRead, kOrder, kStretched, kMirror };
const char* RoleName(Role r);

struct DesiredStream {
  std::string virtual_stream;  // "foo"
  std::string name;            // "foo-write-west"
  Role role = Role::kWrite;
  // The region whose connection creates it; "" for streams in the stretch cluster (any
  // reachable region of the virtual stream will do).
  std::string region;
  std::string cluster;  // placement cluster
  int phase = 0;        // 0 write streams, 1 ordering/stretched streams, 2 read streams/mirrors
  nlohmann::json config;
  // Set when the stream cannot be built for this region's servers (e.g. stripping the origin
  // token on 2.9): a sentence; the stream is then neither created nor updated.
  std::string problem;
};

// `kinds`: per region name, what its servers are (regions missing from it are assumed to
// have no transforms). Order: phase, then file order of streams and regions.
std::vector<DesiredStream> DesiredState(const Topology& topology,
                                        const std::map<std::string, ServerKind>& kinds);

// Stream config fields the coordinator owns (compared by plan, overlaid by update).
const std::vector<std::string>& ManagedFields();

}  // namespace meridian::topology
