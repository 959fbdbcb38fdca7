// Subject mappings: weighted and cluster-scoped destinations for one source, as NATS account
// mappings define them (2.9 and 2.10 alike; only the transform rules differ).
//
// A SubjectMapping is validated once and then immutable; Map() is const, allocation-free when
// `out` has capacity, and draws its random percentage from a caller-supplied PercentSource, so
// tests can make selection exact. SubjectMappings is an ordered list of mappings where the
// first whose source matches a subject wins.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "subject/status.h"
#include "subject/transform.h"

namespace meridian::subject {

// One configured destination of a mapping.
struct MappingDestination {
  std::string subject;  // a transform destination (may use $n and mapping functions)
  int weight = 100;     // percent, 0..100
  std::string cluster;  // empty: belongs to the cluster-less set
};

// Where weighted selection gets its randomness: each call returns a value in [0, 100).
class PercentSource {
 public:
  virtual ~PercentSource() = default;
  virtual std::uint32_t NextPercent() = 0;
};

// A fast non-cryptographic PercentSource (splitmix64). Seeded from std::random_device unless a
// seed is given. Not thread-safe; keep one per thread or loop.
class FastPercentSource final : public PercentSource {
 public:
  FastPercentSource();
  explicit FastPercentSource(std::uint64_t seed) : state_(seed) {}
  std::uint32_t NextPercent() override;

 private:
  std::uint64_t state_;
};

enum class MapOutcome : std::uint8_t {
  kNoMatch,  // the subject does not match this mapping's source; `out` untouched
  kMapped,   // `out` holds the subject to use (it may equal the input)
  kDropped,  // the draw fell in the share no destination covers: deliver nowhere
};

class SubjectMapping {
 public:
  // One alternative of a processed set: taken when the draw is below `threshold`.
  struct Choice {
    SubjectTransform transform;
    std::uint32_t weight;     // as configured (or the auto-added remainder)
    std::uint32_t threshold;  // cumulative weight, ascending within a set
  };

  // Validates and processes the destinations. In each set (each cluster's, and the
  // cluster-less one) whose weights total less than 100, the source itself is added with the
  // remaining weight, unless the source is itself listed as a destination (then the remainder
  // is dropped). An empty destination list maps every subject to itself.
  static Result<SubjectMapping> Create(std::string_view source,
                                       std::span<const MappingDestination> destinations,
                                       TransformRules rules = TransformRules::V210());
  // Shorthand for a single destination with weight 100.
  static Result<SubjectMapping> Create(std::string_view source, std::string_view destination,
                                       TransformRules rules = TransformRules::V210());

  const std::string& source() const { return source_; }
  bool Matches(std::string_view subject) const;

  // Maps `subject` for a server in cluster `local_cluster`: the cluster's set when the mapping
  // has one, otherwise the cluster-less set.
  MapOutcome Map(std::string_view subject, std::string_view local_cluster, PercentSource& random,
                 std::string& out) const;

  // The processed alternatives Map() would choose among for `local_cluster`.
  std::span<const Choice> ChoicesFor(std::string_view local_cluster) const;

 private:
  struct ClusterSet {
    std::string cluster;
    std::vector<Choice> choices;
  };
  SubjectMapping() = default;

  std::string source_;
  bool literal_source_ = true;
  std::vector<Choice> default_set_;
  std::vector<ClusterSet> cluster_sets_;
};

// Ordered mappings of one account. Adding a mapping with a source already present replaces it
// in place; otherwise it goes last. Sources should not overlap (NATS leaves the winner
// undefined); here the earliest added wins.
class SubjectMappings {
 public:
  void Add(SubjectMapping mapping);
  bool Remove(std::string_view source);
  std::size_t size() const { return mappings_.size(); }
  bool empty() const { return mappings_.empty(); }
  const SubjectMapping* Find(std::string_view source) const;

  // Applies the first mapping whose source matches; kNoMatch when none does.
  MapOutcome Map(std::string_view subject, std::string_view local_cluster, PercentSource& random,
                 std::string& out) const;

 private:
  std::vector<SubjectMapping> mappings_;
};

}  // namespace meridian::subject
