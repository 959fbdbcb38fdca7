// The topology file (conf/topology.toml documents every key in place):
//
//   trim_interval = "30s"
//   [regions.<name>]  servers, user, password, token, tls_ca, tls_cert, tls_key, cluster,
//                     stretch_cluster
//   [streams.<name>]  subjects, mode, regions, replicas, storage, write_max_age,
//                     read_max_age, read_max_bytes, read_max_msgs, read_max_msgs_per_subject,
//                     keep_origin_token
//
// Load/ParseTopologyFile validate everything and throw config::ConfigError listing every
// problem as file:line:col: key: sentence: unknown keys, a region without servers, a region
// name that is not a subject token, overlapping stream subjects, a mode that needs a
// stretch cluster none of its regions names, and so on.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "rewrite/topology.h"
#include "topology/spec.h"

namespace meridian::topology {

Topology LoadTopologyFile(const std::string& path);
Topology ParseTopologyFile(std::string_view text, const std::string& name);

// The virtual streams the sidecar presents (those in mode "eventual"; ordered and
// immediate streams pass through it unchanged for now). Throws rewrite::TopologyError.
std::shared_ptr<const rewrite::Topology> SidecarView(const Topology& topology);

}  // namespace meridian::topology
