// The virtual streams a sidecar presents, and the real streams behind them.
//
// A VirtualStream `foo` over subject root `foo.>` and regions {east, central, west} is
// stored as write streams `foo-write-<r>` (subjects `foo.<r>.>`) and read streams
// `foo-read-<r>` (sourcing every write stream). The region token is inserted right after a
// root's literal prefix: client `foo.test` is stored as `foo.west.test`.
//
// A Topology is immutable once built; its constructor validates everything and throws
// TopologyError with a sentence naming the stream and what to change. All lookups take
// string_view and allocate nothing, so they are safe on per-message paths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace meridian::rewrite {

class TopologyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct VirtualStream {
  std::string name;                        // "foo": what clients name
  std::vector<std::string> subject_roots;  // each "<literal prefix>.>", e.g. "foo.>"
  std::vector<std::string> regions;        // "east", "central", "west"

  std::string WriteStreamName(std::string_view region) const;  // "foo-write-<region>"
  std::string ReadStreamName(std::string_view region) const;   // "foo-read-<region>"
  bool HasRegion(std::string_view region) const;
};

// One subject root of one virtual stream: `prefix` is the root without its trailing ".>".
struct SubjectRoot {
  std::string prefix;         // "foo" for "foo.>", "orders.eu" for "orders.eu.>"
  std::size_t prefix_tokens;  // 1 for "foo"
  std::uint32_t stream;       // index into Topology::streams()
};

enum class InternalRole : std::uint8_t { kWrite, kRead };

// A real stream behind a virtual one.
struct InternalStream {
  std::uint32_t stream;  // index into Topology::streams()
  InternalRole role;
  std::uint32_t region;  // index into that stream's regions
};

class Topology {
 public:
  Topology() = default;
  // Validates names (valid stream names, unique, not colliding with each other's internal
  // names), roots ("<literal prefix>.>", no two roots overlapping) and regions (valid
  // subject tokens, at least one, unique). Throws TopologyError.
  explicit Topology(std::vector<VirtualStream> streams);

  const std::vector<VirtualStream>& streams() const { return streams_; }
  const std::vector<SubjectRoot>& roots() const { return roots_; }

  // Index of the virtual stream called `name`, if any.
  std::optional<std::uint32_t> FindStream(std::string_view name) const;
  // The write/read stream called `name`, if it belongs to a virtual stream.
  std::optional<InternalStream> FindInternal(std::string_view name) const;
  // The root whose prefix is followed in `subject` by at least one more token
  // ("foo.test" under "foo.>"), or nullptr. `subject` need not be valid. No allocation.
  const SubjectRoot* MatchRoot(std::string_view subject) const;
  // Index of `region` among the regions of stream `stream`, if listed.
  std::optional<std::uint32_t> RegionIndex(std::uint32_t stream, std::string_view region) const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename V>
  using Map = std::unordered_map<std::string, V, Hash, std::equal_to<>>;

  std::vector<VirtualStream> streams_;
  std::vector<SubjectRoot> roots_;
  Map<std::uint32_t> by_name_;
  Map<InternalStream> internal_;
  Map<std::vector<std::uint32_t>> roots_by_first_token_;  // first prefix token -> roots_
};

// True when `name` is usable as a JetStream stream name: non-empty, at most 255 bytes,
// no whitespace, '.', '*', '>', '/' or '\\'.
bool IsValidStreamName(std::string_view name);

}  // namespace meridian::rewrite
