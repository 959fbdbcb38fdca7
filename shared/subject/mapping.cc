#include "subject/mapping.h"

#include <algorithm>
#include <random>

#include "subject/subject.h"

namespace meridian::subject {
namespace {

// Built by appending: GCC 12 at -O3 reports a false -Wrestrict for "\"" + std::string(s).
std::string Q(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  out.append(s);
  out.push_back('"');
  return out;
}

std::string SetName(std::string_view cluster) {
  return cluster.empty() ? std::string("the destinations without a cluster")
                         : "cluster " + Q(cluster);
}

// The identity destination for a source: each `*` becomes $n so the subject passes unchanged.
std::string IdentityDestination(std::string_view source) {
  std::string out;
  std::size_t n = 0;
  for (std::string_view token : Tokens(source)) {
    if (!out.empty()) out.push_back(kSeparator);
    if (token == kSingleWildcard) {
      out.push_back('$');
      out += std::to_string(++n);
    } else {
      out.append(token);
    }
  }
  return out;
}

}  // namespace

FastPercentSource::FastPercentSource()
    : state_((static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()) {}

std::uint32_t FastPercentSource::NextPercent() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  // Multiply-shift maps 32 random bits onto [0, 100) without division.
  return static_cast<std::uint32_t>(((z >> 32) * 100u) >> 32);
}

Result<SubjectMapping> SubjectMapping::Create(std::string_view source, std::string_view destination,
                                              TransformRules rules) {
  MappingDestination d{std::string(destination), 100, {}};
  return Create(source, std::span<const MappingDestination>(&d, 1), rules);
}

Result<SubjectMapping> SubjectMapping::Create(std::string_view source,
                                              std::span<const MappingDestination> destinations,
                                              TransformRules rules) {
  const std::string prefix = "mapping for " + Q(source) + ": ";
  if (Status s = ValidateSubscribeSubject(source); !s.ok()) {
    return Status::Error(prefix + "the source is not valid: " + s.message());
  }
  SubjectMapping m;
  m.source_ = std::string(source);
  m.literal_source_ = !HasWildcard(source);

  bool source_listed = false;
  std::vector<std::pair<std::string, int>> totals;  // per cluster ("" = cluster-less)
  for (std::size_t i = 0; i < destinations.size(); ++i) {
    const MappingDestination& d = destinations[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (destinations[j].subject == d.subject) {
        return Status::Error(prefix + "destination " + Q(d.subject) +
                             " is listed more than once; list each destination once, clusters "
                             "included");
      }
    }
    if (d.weight < 0 || d.weight > 100) {
      return Status::Error(prefix + "destination " + Q(d.subject) + " has weight " +
                           std::to_string(d.weight) + "; a weight is a percentage from 0 to 100");
    }
    auto total = std::find_if(totals.begin(), totals.end(),
                              [&](const auto& t) { return t.first == d.cluster; });
    if (total == totals.end()) {
      totals.emplace_back(d.cluster, 0);
      total = totals.end() - 1;
    }
    total->second += d.weight;
    if (total->second > 100) {
      return Status::Error(prefix + "the weights of " + SetName(d.cluster) + " add up to " +
                           std::to_string(total->second) + "; they may add up to at most 100");
    }
    Result<SubjectTransform> t = SubjectTransform::Parse(source, d.subject, rules);
    if (!t.ok()) return Status::Error(prefix + t.message());
    if (d.subject == source) source_listed = true;

    std::vector<Choice>* set = &m.default_set_;
    if (!d.cluster.empty()) {
      auto cs = std::find_if(m.cluster_sets_.begin(), m.cluster_sets_.end(),
                             [&](const ClusterSet& c) { return c.cluster == d.cluster; });
      if (cs == m.cluster_sets_.end()) {
        m.cluster_sets_.push_back(ClusterSet{d.cluster, {}});
        cs = m.cluster_sets_.end() - 1;
      }
      set = &cs->choices;
    }
    set->push_back(Choice{std::move(t).value(), static_cast<std::uint32_t>(d.weight), 0});
  }

  auto process = [&](std::vector<Choice>& set) -> Status {
    std::uint32_t total = 0;
    for (const Choice& c : set) total += c.weight;
    if (total != 100 && !source_listed) {
      Result<SubjectTransform> identity =
          SubjectTransform::Parse(source, IdentityDestination(source), TransformRules::V210());
      if (!identity.ok()) return Status::Error(prefix + identity.message());
      set.push_back(Choice{std::move(identity).value(), set.empty() ? 100u : 100u - total, 0});
    }
    std::stable_sort(set.begin(), set.end(),
                     [](const Choice& a, const Choice& b) { return a.weight < b.weight; });
    std::uint32_t cumulative = 0;
    for (Choice& c : set) {
      cumulative += c.weight;
      c.threshold = cumulative;
    }
    return Status::Ok();
  };
  if (Status s = process(m.default_set_); !s.ok()) return s;
  for (ClusterSet& cs : m.cluster_sets_) {
    if (Status s = process(cs.choices); !s.ok()) return s;
  }
  return m;
}

bool SubjectMapping::Matches(std::string_view subject) const {
  return literal_source_ ? subject == source_ : SubjectMatches(source_, subject);
}

std::span<const SubjectMapping::Choice> SubjectMapping::ChoicesFor(
    std::string_view local_cluster) const {
  if (!cluster_sets_.empty()) {
    for (const ClusterSet& cs : cluster_sets_) {
      if (cs.cluster == local_cluster) return cs.choices;
    }
  }
  return default_set_;
}

MapOutcome SubjectMapping::Map(std::string_view subject, std::string_view local_cluster,
                               PercentSource& random, std::string& out) const {
  if (!Matches(subject)) return MapOutcome::kNoMatch;
  std::span<const Choice> choices = ChoicesFor(local_cluster);
  const Choice* picked = nullptr;
  if (choices.size() == 1 && choices[0].threshold == 100) {
    picked = &choices[0];
  } else {
    std::uint32_t draw = random.NextPercent();
    for (const Choice& c : choices) {
      if (draw < c.threshold) {
        picked = &c;
        break;
      }
    }
  }
  if (picked == nullptr) return MapOutcome::kDropped;
  if (!picked->transform.Apply(subject, out)) return MapOutcome::kNoMatch;
  return MapOutcome::kMapped;
}

void SubjectMappings::Add(SubjectMapping mapping) {
  for (SubjectMapping& m : mappings_) {
    if (m.source() == mapping.source()) {
      m = std::move(mapping);
      return;
    }
  }
  mappings_.push_back(std::move(mapping));
}

bool SubjectMappings::Remove(std::string_view source) {
  auto it = std::find_if(mappings_.begin(), mappings_.end(),
                         [&](const SubjectMapping& m) { return m.source() == source; });
  if (it == mappings_.end()) return false;
  mappings_.erase(it);
  return true;
}

const SubjectMapping* SubjectMappings::Find(std::string_view source) const {
  for (const SubjectMapping& m : mappings_) {
    if (m.source() == source) return &m;
  }
  return nullptr;
}

MapOutcome SubjectMappings::Map(std::string_view subject, std::string_view local_cluster,
                                PercentSource& random, std::string& out) const {
  for (const SubjectMapping& m : mappings_) {
    if (m.Matches(subject)) return m.Map(subject, local_cluster, random, out);
  }
  return MapOutcome::kNoMatch;
}

}  // namespace meridian::subject
