#include "rewrite/topology.h"

#include <algorithm>

#include "subject/subject.h"

namespace meridian::rewrite {
namespace {

// True when `a`'s tokens are a prefix of `b`'s tokens ("foo" of "foo.bar", and "foo" of "foo").
bool IsTokenPrefix(std::string_view a, std::string_view b) {
  if (a.size() > b.size() || b.compare(0, a.size(), a) != 0) return false;
  return a.size() == b.size() || b[a.size()] == '.';
}

std::string Quote(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

}  // namespace

bool IsValidStreamName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  for (char c : name) {
    if (subject::IsSubjectWhitespace(c) || c == '.' || c == '*' || c == '>' || c == '/' ||
        c == '\\' || c == '\0') {
      return false;
    }
  }
  return true;
}

std::string VirtualStream::WriteStreamName(std::string_view region) const {
  std::string out = name;
  out += "-write-";
  out += region;
  return out;
}

std::string VirtualStream::ReadStreamName(std::string_view region) const {
  std::string out = name;
  out += "-read-";
  out += region;
  return out;
}

bool VirtualStream::HasRegion(std::string_view region) const {
  return std::find(regions.begin(), regions.end(), region) != regions.end();
}

Topology::Topology(std::vector<VirtualStream> streams) : streams_(std::move(streams)) {
  for (std::uint32_t i = 0; i < streams_.size(); ++i) {
    const VirtualStream& vs = streams_[i];
    if (!IsValidStreamName(vs.name)) {
      throw TopologyError("virtual stream name " + Quote(vs.name) +
                          " is not a valid stream name: use 1-255 bytes without whitespace, "
                          "'.', '*', '>', '/' or '\\'");
    }
    if (!by_name_.emplace(vs.name, i).second) {
      throw TopologyError("virtual stream " + Quote(vs.name) +
                          " is defined twice: give each virtual stream a unique name");
    }
    if (vs.regions.empty()) {
      throw TopologyError("virtual stream " + Quote(vs.name) +
                          " lists no regions: list every region that holds its write and read "
                          "streams");
    }
    for (std::uint32_t r = 0; r < vs.regions.size(); ++r) {
      const std::string& region = vs.regions[r];
      if (!IsValidStreamName(region) || subject::HasWildcard(region)) {
        throw TopologyError("virtual stream " + Quote(vs.name) + " lists region " + Quote(region) +
                            ", which is not usable as a subject token and stream-name part: use "
                            "letters, digits, '-' or '_'");
      }
      if (std::count(vs.regions.begin(), vs.regions.end(), region) > 1) {
        throw TopologyError("virtual stream " + Quote(vs.name) + " lists region " + Quote(region) +
                            " twice: list each region once");
      }
      internal_.emplace(vs.WriteStreamName(region), InternalStream{i, InternalRole::kWrite, r});
      internal_.emplace(vs.ReadStreamName(region), InternalStream{i, InternalRole::kRead, r});
    }
    if (vs.subject_roots.empty()) {
      throw TopologyError("virtual stream " + Quote(vs.name) +
                          " has no subject roots: give it at least one, such as \"" + vs.name +
                          ".>\"");
    }
    for (const std::string& root : vs.subject_roots) {
      const bool shaped = root.size() > 2 && root.ends_with(".>") &&
                          subject::IsValidPublishSubject(root.substr(0, root.size() - 2));
      if (!shaped) {
        throw TopologyError(
            "virtual stream " + Quote(vs.name) + " has subject root " + Quote(root) +
            ": a root must be literal tokens followed by \".>\", such as \"" + vs.name + ".>\"");
      }
      std::string prefix = root.substr(0, root.size() - 2);
      for (const SubjectRoot& other : roots_) {
        if (IsTokenPrefix(other.prefix, prefix) || IsTokenPrefix(prefix, other.prefix)) {
          throw TopologyError("subject root " + Quote(root) + " of virtual stream " +
                              Quote(vs.name) + " overlaps root \"" + other.prefix +
                              ".>\" of virtual stream " + Quote(streams_[other.stream].name) +
                              ": roots must not overlap");
        }
      }
      SubjectRoot entry{prefix, subject::TokenCount(prefix), i};
      std::string first(subject::TokenAt(prefix, 0));
      roots_by_first_token_[first].push_back(static_cast<std::uint32_t>(roots_.size()));
      roots_.push_back(std::move(entry));
    }
  }
  for (const auto& [name, ref] : internal_) {
    if (by_name_.contains(name)) {
      throw TopologyError("virtual stream " + Quote(name) +
                          " has the name of an internal stream of " +
                          Quote(streams_[ref.stream].name) + ": rename one of them");
    }
  }
}

std::optional<std::uint32_t> Topology::FindStream(std::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::optional<InternalStream> Topology::FindInternal(std::string_view name) const {
  auto it = internal_.find(name);
  if (it == internal_.end()) return std::nullopt;
  return it->second;
}

const SubjectRoot* Topology::MatchRoot(std::string_view subject) const {
  if (roots_.empty()) return nullptr;
  std::string_view first = subject.substr(0, subject.find('.'));
  auto it = roots_by_first_token_.find(first);
  if (it == roots_by_first_token_.end()) return nullptr;
  for (std::uint32_t index : it->second) {
    const SubjectRoot& root = roots_[index];
    // The prefix, a dot, and at least one more byte (a token) must follow.
    if (subject.size() > root.prefix.size() + 1 && subject[root.prefix.size()] == '.' &&
        subject.starts_with(root.prefix)) {
      return &root;
    }
  }
  return nullptr;
}

std::optional<std::uint32_t> Topology::RegionIndex(std::uint32_t stream,
                                                   std::string_view region) const {
  const auto& regions = streams_[stream].regions;
  for (std::uint32_t r = 0; r < regions.size(); ++r) {
    if (regions[r] == region) return r;
  }
  return std::nullopt;
}

}  // namespace meridian::rewrite
