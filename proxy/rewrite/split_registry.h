// SplitRegistry: which split push consumer a client's own deliver subject belongs to, for the
// whole sidecar (one per Rewriter, i.e. per region served; shared by every connection).
//
// A client that created durable push consumer C with its own deliver subject (libnats and
// nats.js make an `_INBOX.…`) and reconnects (e.g. to a restarted sidecar) only re-sends
// `SUB _INBOX.…`. The split consumer's origins deliver to `_MRDN.D.…` subjects, so nothing
// would reach that subscription. The sidecar records the client's deliver subject in the
// origin consumers' description (split.h RecordDeliver); this registry maps it back to
// (virtual stream, C), filled from the sidecar's own creates and from CONSUMER.LIST of the
// read streams (a refresh, run by one connection's SplitConsumers on its upstream). A SUB on
// a registered subject binds the connection as a SUB on C's bind subject does.
//
// Refreshes are bounded: at most one in flight, at most one started per min_refresh_interval
// (an abandoned one, whose connection went away, does not count), each given refresh_timeout.
// A SUB that misses waits for the refresh serial `NeededFor()` to complete, so unknown
// subjects never cost a server round trip each. Pure: time is passed in, no I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace meridian::rewrite {

struct SplitRegistryOptions {
  std::size_t max_entries = 16384;  // (subject, consumer) pairs; the least recently seen go
  std::size_t max_per_subject = 8;  // consumers delivering to one subject
  std::chrono::nanoseconds min_refresh_interval = std::chrono::seconds(10);
  std::chrono::nanoseconds refresh_timeout = std::chrono::seconds(15);
  // A refused CONSUMER.LIST is reported (logged) at most once per this interval.
  std::chrono::nanoseconds refusal_report_interval = std::chrono::seconds(60);
};

struct SplitRegistryStats {
  std::uint64_t refreshes = 0;  // started
  std::uint64_t refreshes_completed = 0;
  std::uint64_t refreshes_abandoned = 0;  // the connection running it went away, or timed out
  std::uint64_t refreshes_refused = 0;    // ended by a refused CONSUMER.LIST (see RefuseRefresh)
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evicted = 0;
  // CONSUMER.LIST requests of refreshes refused: the user of the connection running it may
  // not send them (permissions violation), or the reply was an error.
  std::uint64_t list_refused = 0;
};

class SplitRegistry {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Target {
    std::uint32_t stream = 0;  // index of the virtual stream in the topology
    std::string name;          // the client's consumer name
    std::uint64_t seen = 0;    // refresh serial when last confirmed (pruning)
  };

  explicit SplitRegistry(SplitRegistryOptions options = {}) : options_(options) {}

  // The consumers delivering to `deliver` (empty when none). Counts a hit or a miss.
  std::vector<Target> Find(std::string_view deliver);
  // A split push consumer the sidecar created (or found) with the client's deliver subject.
  void Add(std::string_view deliver, std::uint32_t stream, std::string_view name);
  // C was deleted: every subject that mapped to it forgets it.
  void Remove(std::uint32_t stream, std::string_view name);
  // `deliver` no longer belongs to C (C is gone, or now records another subject).
  void RemoveTarget(std::string_view deliver, std::uint32_t stream, std::string_view name);
  std::size_t size() const { return size_; }

  // --- refreshes ---
  // Starts a refresh when none is in flight (or the one in flight timed out, which counts as
  // abandoned) and the last one started at least min_refresh_interval ago (the first: at
  // once). Returns its serial (>= 1), 0 when not allowed now.
  std::uint64_t TryStartRefresh(TimePoint now);
  bool refresh_in_flight(TimePoint now) const;
  // The serial whose completion answers a miss now: the refresh in flight, else the next.
  std::uint64_t NeededFor(TimePoint now) const;
  // The highest serial that completed (0: none yet).
  std::uint64_t completed() const { return completed_; }
  // Refresh `serial` listed every consumer of `stream`: (deliver subject, consumer name) pairs
  // found in the descriptions. Targets of that stream not confirmed since the refresh began
  // are dropped (deleted meanwhile); those added by creates during the refresh stay.
  void ReplaceStream(std::uint64_t serial, std::uint32_t stream,
                     const std::vector<std::pair<std::string, std::string>>& found);
  // The refresh ended (streams whose listing failed were left as they were).
  void FinishRefresh(std::uint64_t serial);
  // The connection running it went away (or its upstream changed): another may start at once.
  void AbandonRefresh(std::uint64_t serial);
  // The refresh was refused (its connection's user may not send CONSUMER.LIST): it ends
  // without completing, and counts for min_refresh_interval as a completed one does, so
  // connections of such users retry at most once per interval, not one after another.
  void RefuseRefresh(std::uint64_t serial);

  // One CONSUMER.LIST refused (counted in list_refused). True when it should be reported
  // now: the first, then at most one per refusal_report_interval; `unreported` gets how many
  // refusals were not reported since the last report.
  bool NoteListRefused(TimePoint now, std::uint64_t* unreported);

  const SplitRegistryStats& stats() const { return stats_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void Put(std::string_view deliver, std::uint32_t stream, std::string_view name,
           std::uint64_t seen);
  void EvictOne();

  SplitRegistryOptions options_;
  SplitRegistryStats stats_;
  std::unordered_map<std::string, std::vector<Target>, Hash, std::equal_to<>> by_subject_;
  std::size_t size_ = 0;
  std::uint64_t started_ = 0;    // serial of the last refresh started
  std::uint64_t completed_ = 0;  // serial of the last refresh completed
  bool in_flight_ = false;
  TimePoint started_at_{};
  bool ever_counted_ = false;       // a refresh completed or was refused
  TimePoint last_counted_start_{};  // start of the last one of those: the rate limit
  bool ever_reported_ = false;
  TimePoint last_report_{};
  std::uint64_t unreported_ = 0;
};

}  // namespace meridian::rewrite
