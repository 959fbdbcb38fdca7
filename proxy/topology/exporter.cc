#include "topology/exporter.h"

#include <nlohmann/json.hpp>

#include "topology/desired.h"

namespace meridian::topology {
namespace {

using ojson = nlohmann::ordered_json;

ojson SeedShape(const std::string& name) {
  ojson j;
  j["name"] = name;
  return j;
}

void Limits(ojson& j, std::int64_t max_age, std::int64_t max_bytes, std::int64_t max_msgs,
            std::int64_t per_subject, const VirtualStream& vs, const Region& r) {
  j["retention"] = "limits";
  j["max_consumers"] = -1;
  j["max_msgs_per_subject"] = per_subject;
  j["max_msgs"] = max_msgs;
  j["max_bytes"] = max_bytes;
  j["max_age"] = max_age;
  j["max_msg_size"] = -1;
  j["storage"] = vs.storage == Storage::kMemory ? "memory" : "file";
  j["discard"] = "old";
  j["num_replicas"] = vs.replicas;
  j["duplicate_window"] = 120000000000LL;
  j["placement"] = {{"cluster", r.cluster}};
}

void Flags(ojson& j, bool allow_direct, bool mirror_direct) {
  j["sealed"] = false;
  j["deny_delete"] = false;
  j["deny_purge"] = false;
  j["allow_rollup_hdrs"] = false;
  j["allow_direct"] = allow_direct;
  j["mirror_direct"] = mirror_direct;
}

ojson WriteJson(const VirtualStream& vs, const Region& r) {
  ojson j = SeedShape(vs.WriteStreamName(r.name));
  j["subjects"] = vs.RegionSubjects(r.name);
  Limits(j, vs.write_max_age.count(), -1, -1, -1, vs, r);
  Flags(j, false, false);
  return j;
}

ojson ReadJson(const VirtualStream& vs, const Region& r) {
  ojson j = SeedShape(vs.ReadStreamName(r.name));
  Limits(j, vs.read.max_age.count(), vs.read.max_bytes, vs.read.max_msgs,
         vs.read.max_msgs_per_subject, vs, r);
  const std::vector<std::string> prefixes = vs.Prefixes();
  // The stream's own region first, as the seed lists it.
  std::vector<std::string> origins{r.name};
  for (const std::string& o : vs.regions) {
    if (o != r.name) origins.push_back(o);
  }
  ojson sources = ojson::array();
  if (prefixes.size() == 1) {
    j["subject_transform"] = {{"src", prefixes[0] + ".*.>"}, {"dest", prefixes[0] + ".>"}};
    for (const std::string& o : origins) {
      sources.push_back(
          {{"name", vs.WriteStreamName(o)}, {"filter_subject", prefixes[0] + "." + o + ".>"}});
    }
  } else {
    for (const std::string& o : origins) {
      ojson t = ojson::array();
      for (const std::string& p : prefixes) {
        t.push_back({{"src", p + "." + o + ".>"}, {"dest", p + ".>"}});
      }
      sources.push_back({{"name", vs.WriteStreamName(o)}, {"subject_transforms", t}});
    }
  }
  j["sources"] = sources;
  Flags(j, true, false);
  return j;
}

// One mapping: a source subject and its destination with "@" standing for the read (or, for
// publishes, write) stream's region-specific part.
struct Mapping {
  std::string from;
  std::string to;  // "{read}" -> foo-read-<r>, "{token}" -> <r>
};

std::vector<Mapping> MappingsOf(const VirtualStream& vs) {
  std::vector<Mapping> m;
  for (const std::string& p : vs.Prefixes()) m.push_back({p + ".>", p + ".{token}.>"});
  const std::string& v = vs.name;
  const std::string api = "$JS.API.";
  m.push_back({api + "STREAM.INFO." + v, api + "STREAM.INFO.{read}"});
  m.push_back({api + "CONSUMER.CREATE." + v, api + "CONSUMER.CREATE.{read}"});
  m.push_back(
      {api + "CONSUMER.CREATE." + v + ".*", api + "CONSUMER.CREATE.{read}.{{wildcard(1)}}"});
  m.push_back(
      {api + "CONSUMER.CREATE." + v + ".*.>", api + "CONSUMER.CREATE.{read}.{{wildcard(1)}}.>"});
  m.push_back({api + "CONSUMER.DURABLE.CREATE." + v + ".*",
               api + "CONSUMER.DURABLE.CREATE.{read}.{{wildcard(1)}}"});
  m.push_back({api + "CONSUMER.INFO." + v + ".*", api + "CONSUMER.INFO.{read}.{{wildcard(1)}}"});
  m.push_back(
      {api + "CONSUMER.DELETE." + v + ".*", api + "CONSUMER.DELETE.{read}.{{wildcard(1)}}"});
  m.push_back({api + "CONSUMER.NAMES." + v, api + "CONSUMER.NAMES.{read}"});
  m.push_back({api + "CONSUMER.LIST." + v, api + "CONSUMER.LIST.{read}"});
  m.push_back(
      {api + "CONSUMER.MSG.NEXT." + v + ".*", api + "CONSUMER.MSG.NEXT.{read}.{{wildcard(1)}}"});
  m.push_back({api + "STREAM.MSG.GET." + v, api + "STREAM.MSG.GET.{read}"});
  m.push_back({api + "STREAM.MSG.DELETE." + v, api + "STREAM.MSG.DELETE.{read}"});
  m.push_back({api + "DIRECT.GET." + v, api + "DIRECT.GET.{read}"});
  m.push_back({api + "DIRECT.GET." + v + ".>", api + "DIRECT.GET.{read}.>"});
  m.push_back({"$JS.ACK." + v + ".>", "$JS.ACK.{read}.>"});
  m.push_back({"$JS.ACK.*.*." + v + ".>", "$JS.ACK.{{wildcard(1)}}.{{wildcard(2)}}.{read}.>"});
  return m;
}

std::string Expand(std::string text, const VirtualStream& vs, const std::string& region) {
  auto replace = [&](const std::string& key, const std::string& value) {
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
      text.replace(at, key.size(), value);
      at += value.size();
    }
  };
  replace("{read}", vs.ReadStreamName(region));
  replace("{token}", region);
  return text;
}

}  // namespace

std::string MappingsText(const Topology& topology) {
  std::string out = "mappings = {\n";
  bool first = true;
  for (const VirtualStream& vs : topology.streams) {
    if (vs.mode != Mode::kEventual) continue;
    for (const Mapping& m : MappingsOf(vs)) {
      if (!first) out += ",\n";
      first = false;
      out += "  \"" + m.from + "\":[\n";
      for (size_t i = 0; i < vs.regions.size(); ++i) {
        const Region& r = *topology.FindRegion(vs.regions[i]);
        out += "    {destination:\"" + Expand(m.to, vs, r.name) + "\", weight: 100%, cluster: \"" +
               r.cluster + "\"}";
        out += i + 1 < vs.regions.size() ? ",\n" : "\n";
      }
      out += "  ]";
    }
  }
  out += "\n}\n";
  return out;
}

std::vector<ExportFile> ExportServerSide(const Topology& topology) {
  std::vector<ExportFile> files;
  for (const VirtualStream& vs : topology.streams) {
    if (vs.mode != Mode::kEventual) continue;
    for (const std::string& rn : vs.regions) {
      const Region& r = *topology.FindRegion(rn);
      files.push_back({vs.WriteStreamName(rn) + ".json", WriteJson(vs, r).dump(2) + "\n"});
    }
    for (const std::string& rn : vs.regions) {
      const Region& r = *topology.FindRegion(rn);
      files.push_back({vs.ReadStreamName(rn) + ".json", ReadJson(vs, r).dump(2) + "\n"});
    }
  }
  for (const DesiredStream& d : DesiredState(topology, {})) {
    if (topology.FindStream(d.virtual_stream)->mode == Mode::kEventual) continue;
    files.push_back({d.name + ".json", d.config.dump(2) + "\n"});
  }
  files.push_back({"mappings.cfg", MappingsText(topology)});
  return files;
}

}  // namespace meridian::topology
