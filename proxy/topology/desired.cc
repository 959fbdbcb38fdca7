#include "topology/desired.h"

#include <algorithm>
#include <cstdio>

namespace meridian::topology {
namespace {

using nlohmann::json;

json BaseConfig(const VirtualStream& vs, const std::string& name, const std::string& cluster) {
  return json{{"name", name},
              {"retention", "limits"},
              {"storage", vs.storage == Storage::kMemory ? "memory" : "file"},
              {"num_replicas", vs.replicas},
              {"discard", "old"},
              {"max_age", 0},
              {"max_bytes", -1},
              {"max_msgs", -1},
              {"max_msgs_per_subject", -1},
              {"allow_direct", false},
              {"mirror_direct", false},
              {"placement", {{"cluster", cluster}}}};
}

void ApplyReadLimits(const VirtualStream& vs, json& c) {
  c["max_age"] = vs.read.max_age.count();
  c["max_bytes"] = vs.read.max_bytes;
  c["max_msgs"] = vs.read.max_msgs;
  c["max_msgs_per_subject"] = vs.read.max_msgs_per_subject;
}

DesiredStream WriteStream(const VirtualStream& vs, const Region& r) {
  DesiredStream d{vs.name, vs.WriteStreamName(r.name), Role::kWrite, r.name, r.cluster, 0, {}, {}};
  d.config = BaseConfig(vs, d.name, r.cluster);
  d.config["subjects"] = vs.RegionSubjects(r.name);
  d.config["max_age"] = vs.write_max_age.count();
  return d;
}

json SourcesOf(const VirtualStream& vs, bool strip) {
  json sources = json::array();
  const std::vector<std::string> prefixes = vs.Prefixes();
  for (const std::string& origin : vs.regions) {
    json s{{"name", vs.WriteStreamName(origin)}};
    if (strip) {
      json transforms = json::array();
      for (const std::string& p : prefixes) {
        transforms.push_back({{"src", p + "." + origin + ".>"}, {"dest", p + ".>"}});
      }
      s["subject_transforms"] = transforms;
    } else if (prefixes.size() == 1) {
      // One filter per source: with several roots the write stream holds only this virtual
      // stream's subjects anyway, so no filter is needed.
      s["filter_subject"] = prefixes[0] + "." + origin + ".>";
    }
    sources.push_back(std::move(s));
  }
  return sources;
}

}  // namespace

std::string ServerKind::Describe() const {
  std::string s = (meridian_node ? "meridian-node " : "nats-server ") +
                  (version.empty() ? std::string("(version unknown)") : version);
  s += transforms ? " (subject transforms)" : " (no subject transforms)";
  return s;
}

ServerKind DetectServerKind(std::string_view info_json) {
  ServerKind k;
  json j = json::parse(info_json, nullptr, false);
  if (!j.is_object()) return k;
  k.version = j.value("version", std::string());
  const std::string name = j.value("server_name", std::string());
  k.meridian_node =
      j.contains("meridian") || j.value("go", std::string()).find("meridian") != std::string::npos;
  int major = 0, minor = 0;
  if (std::sscanf(k.version.c_str(), "%d.%d", &major, &minor) == 2) {
    k.transforms = major > 2 || (major == 2 && minor >= 10);
  }
  if (k.meridian_node) k.transforms = true;
  (void)name;
  return k;
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kWrite:
      return "write";
    case Role::kRead:
      return "read";
    case Role::kOrder:
      return "order";
    case Role::kStretched:
      return "stretched";
    case Role::kMirror:
      return "mirror";
  }
  return "write";
}

const std::vector<std::string>& ManagedFields() {
  static const std::vector<std::string> fields = {
      "subjects",     "retention",     "storage",
      "num_replicas", "discard",       "max_age",
      "max_bytes",    "max_msgs",      "max_msgs_per_subject",
      "allow_direct", "mirror_direct", "placement",
      "sources",      "mirror"};
  return fields;
}

std::vector<DesiredStream> DesiredState(const Topology& topology,
                                        const std::map<std::string, ServerKind>& kinds) {
  std::vector<DesiredStream> out;
  auto transforms_in = [&](const std::string& region) {
    auto it = kinds.find(region);
    return it != kinds.end() && it->second.transforms;
  };
  for (const VirtualStream& vs : topology.streams) {
    const std::string stretch = topology.StretchClusterOf(vs);
    if (vs.mode != Mode::kImmediate) {
      for (const std::string& rn : vs.regions)
        out.push_back(WriteStream(vs, *topology.FindRegion(rn)));
    }
    if (vs.mode == Mode::kOrdered) {
      DesiredStream d{vs.name, vs.OrderStreamName(), Role::kOrder, "", stretch, 1, {}, {}};
      d.config = BaseConfig(vs, d.name, stretch);
      d.config["sources"] = SourcesOf(vs, false);
      // The regional mirrors answer direct gets for it only when it allows them (2.9 stores
      // mirror_direct false otherwise).
      d.config["allow_direct"] = true;
      out.push_back(std::move(d));
    }
    if (vs.mode == Mode::kImmediate) {
      DesiredStream d{vs.name, vs.StretchedStreamName(), Role::kStretched, "", stretch, 1, {}, {}};
      d.config = BaseConfig(vs, d.name, stretch);
      d.config["subjects"] = vs.subjects;
      d.config["allow_direct"] = true;
      ApplyReadLimits(vs, d.config);
      out.push_back(std::move(d));
    }
    for (const std::string& rn : vs.regions) {
      const Region& r = *topology.FindRegion(rn);
      DesiredStream d{vs.name, vs.ReadStreamName(rn), Role::kRead, rn, r.cluster, 2, {}, {}};
      d.config = BaseConfig(vs, d.name, r.cluster);
      ApplyReadLimits(vs, d.config);
      d.config["allow_direct"] = true;
      if (vs.mode == Mode::kEventual) {
        const bool strip = !vs.keep_origin_token;
        if (strip && !transforms_in(rn)) {
          auto it = kinds.find(rn);
          d.problem = "region \"" + rn + "\" runs " +
                      (it == kinds.end() ? std::string("a server of unknown version")
                                         : it->second.Describe()) +
                      ": keep_origin_token = false needs subject transforms (nats-server 2.10+ "
                      "or meridian-node); keep the token or upgrade the region";
        }
        d.config["sources"] = SourcesOf(vs, strip);
      } else {
        d.role = Role::kMirror;
        d.config["mirror"] = {
            {"name", vs.mode == Mode::kOrdered ? vs.OrderStreamName() : vs.StretchedStreamName()}};
        d.config["mirror_direct"] = true;
      }
      out.push_back(std::move(d));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const DesiredStream& a, const DesiredStream& b) {
    return a.phase < b.phase;
  });
  return out;
}

}  // namespace meridian::topology
