#include "sidecar/topology_file.h"

#include <utility>

#include "topology/file.h"

namespace meridian::sidecar {
namespace {

TopologyFile From(topology::Topology spec) {
  TopologyFile out;
  for (const topology::Region& r : spec.regions) {
    RegionEntry e{r.name, {}};
    for (const std::string& url : r.servers) {
      // Validated by the parser already.
      if (auto u = config::ParseNatsUrl(url)) e.servers.push_back(*u);
    }
    out.regions.push_back(std::move(e));
  }
  out.topology = topology::SidecarView(spec);
  out.spec = std::move(spec);
  return out;
}

}  // namespace

const RegionEntry* TopologyFile::FindRegion(std::string_view name) const {
  for (const RegionEntry& r : regions) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

TopologyFile LoadTopologyFile(const std::string& path) {
  return From(topology::LoadTopologyFile(path));
}

TopologyFile ParseTopologyFile(std::string_view text, const std::string& name) {
  return From(topology::ParseTopologyFile(text, name));
}

}  // namespace meridian::sidecar
