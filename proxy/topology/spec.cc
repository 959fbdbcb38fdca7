#include "topology/spec.h"

namespace meridian::topology {

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kEventual:
      return "eventual";
    case Mode::kOrdered:
      return "ordered";
    case Mode::kImmediate:
      return "immediate";
  }
  return "eventual";
}

std::optional<Mode> ParseMode(std::string_view text) {
  if (text == "eventual") return Mode::kEventual;
  if (text == "ordered") return Mode::kOrdered;
  if (text == "immediate") return Mode::kImmediate;
  return std::nullopt;
}

std::vector<std::string> VirtualStream::Prefixes() const {
  std::vector<std::string> out;
  for (const std::string& s : subjects) {
    out.push_back(s.size() >= 2 && s.ends_with(".>") ? s.substr(0, s.size() - 2) : s);
  }
  return out;
}

std::string VirtualStream::WriteStreamName(std::string_view region) const {
  return name + "-write-" + std::string(region);
}
std::string VirtualStream::ReadStreamName(std::string_view region) const {
  return name + "-read-" + std::string(region);
}
std::string VirtualStream::OrderStreamName() const {
  return name + "-order";
}
std::string VirtualStream::StretchedStreamName() const {
  return name;
}

std::vector<std::string> VirtualStream::RegionSubjects(std::string_view region) const {
  std::vector<std::string> out;
  for (const std::string& p : Prefixes()) out.push_back(p + "." + std::string(region) + ".>");
  return out;
}

const Region* Topology::FindRegion(std::string_view name) const {
  for (const Region& r : regions) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const VirtualStream* Topology::FindStream(std::string_view name) const {
  for (const VirtualStream& s : streams) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string Topology::StretchClusterOf(const VirtualStream& vs) const {
  for (const std::string& rn : vs.regions) {
    const Region* r = FindRegion(rn);
    if (r != nullptr && !r->stretch_cluster.empty()) return r->stretch_cluster;
  }
  return "";
}

}  // namespace meridian::topology
