// The topology file (conf/topology.toml) as the sidecar uses it: the regions with their
// servers, and the virtual streams it presents. The format, its parser and its validation
// live in proxy/topology (topology/file.h), shared with `meridian topology`; this is the
// sidecar's view of the result.
//
// LoadTopologyFile throws config::ConfigError with file:line:key sentences.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/values.h"
#include "rewrite/topology.h"
#include "topology/spec.h"

namespace meridian::sidecar {

struct RegionEntry {
  std::string name;
  std::vector<config::NatsUrl> servers;
};

struct TopologyFile {
  std::vector<RegionEntry> regions;  // in file order
  // The virtual streams in mode "eventual" (the ones the sidecar rewrites).
  std::shared_ptr<const rewrite::Topology> topology;
  topology::Topology spec;  // everything the file says (for the topology job)

  const RegionEntry* FindRegion(std::string_view name) const;
};

TopologyFile LoadTopologyFile(const std::string& path);
TopologyFile ParseTopologyFile(std::string_view text, const std::string& name);

}  // namespace meridian::sidecar
