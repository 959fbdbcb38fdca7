// Sublist: the subscription index that answers "who is interested in this subject?".
//
// A Sublist maps subscription patterns (with optional queue group) to opaque SubscriberIds
// and matches literal subjects against them, returning plain subscribers and queue-group
// buckets. Results are cached per subject (bounded; entries whose subject a later Insert or
// Remove could affect are dropped at that moment). NOT thread-safe: use one per event loop,
// or guard it yourself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "subject/status.h"

namespace meridian::subject {

// Chosen by the owner (a client id + sid, a pointer cast, an index); the Sublist never
// interprets it. Unique per (pattern, queue) within one Sublist.
using SubscriberId = std::uint64_t;

struct QueueGroupMatch {
  std::string name;
  std::vector<SubscriberId> members;  // pick one of these per message
};

// The subscribers of one subject. Order within a vector is unspecified.
struct MatchResult {
  std::vector<SubscriberId> plain;      // every one of these gets the message
  std::vector<QueueGroupMatch> queues;  // one entry per distinct queue group name

  bool empty() const { return plain.empty() && queues.empty(); }
  // Total subscriptions matched, queue members included.
  std::size_t size() const;
  void clear();
};

struct SublistStats {
  std::uint64_t inserts = 0;
  std::uint64_t removes = 0;
  std::uint64_t matches = 0;     // calls to Match()
  std::uint64_t cache_hits = 0;  // Match() answered from the cache
  std::uint64_t cache_evictions = 0;
};

class Sublist {
 public:
  static constexpr std::size_t kDefaultCacheCapacity = 1024;

  // cache_capacity 0 disables the result cache.
  explicit Sublist(std::size_t cache_capacity = kDefaultCacheCapacity);
  ~Sublist();
  Sublist(const Sublist&) = delete;
  Sublist& operator=(const Sublist&) = delete;
  Sublist(Sublist&&) noexcept;
  Sublist& operator=(Sublist&&) noexcept;

  // Adds `id` for `pattern` (a valid subscribe subject), in queue group `queue` when it is
  // non-empty. Fails with a sentence for an invalid pattern or queue name, or when the same
  // (pattern, queue, id) is already present.
  Status Insert(std::string_view pattern, SubscriberId id, std::string_view queue = {});
  // Removes exactly what Insert added; returns false when it was not present.
  bool Remove(std::string_view pattern, SubscriberId id, std::string_view queue = {});

  // Subscribers for a literal subject. The result is an immutable snapshot: later Inserts and
  // Removes do not change it (they change what the next Match returns), so it is safe to hold
  // while delivering even if delivery unsubscribes. A cache hit allocates nothing. A subject
  // that is not a valid publish subject matches nothing.
  std::shared_ptr<const MatchResult> Match(std::string_view subject);
  // The same answer computed without touching the cache; reuses `out`'s capacity for plain
  // subscribers (queue groups allocate).
  void MatchUncached(std::string_view subject, MatchResult& out) const;
  // True when Match(subject) would be non-empty.
  bool HasInterest(std::string_view subject) { return !Match(subject)->empty(); }

  std::size_t Count() const { return count_; }  // subscriptions held
  std::size_t CacheCount() const;               // subjects currently cached
  std::size_t CacheCapacity() const { return cache_capacity_; }
  const SublistStats& Stats() const { return stats_; }

 private:
  struct Node;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
  };
  using Cache = std::unordered_map<std::string, std::shared_ptr<const MatchResult>, Hash, Eq>;

  void Invalidate(std::string_view pattern);
  void EvictForInsert();

  std::unique_ptr<Node> root_;
  std::size_t count_ = 0;
  std::size_t cache_capacity_;
  Cache cache_;
  SublistStats stats_;
  mutable std::vector<std::string_view> scratch_tokens_;
};

}  // namespace meridian::subject
