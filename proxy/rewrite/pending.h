// The pending-request table: what reply each request in flight expects, keyed by the
// request's reply subject.
//
// Bounded: open addressing, linear probing, backward-shift deletion, keys up to kInlineKey
// bytes stored inline, so Add/Take allocate nothing for ordinary inbox subjects. The slots
// start small (kInitialSlots) and double as entries arrive, never more than half full, up to
// what `capacity` entries need; ShrinkIfEmpty() gives the memory back once nothing is in
// flight (a connection that once had 1000 requests in flight does not keep ~350 KiB of
// slots for good). When full, Add refuses (kFull) and the caller
// forwards the request anyway: its reply then passes unrewritten, which is counted. Entries
// live until their reply arrives (Take) or their deadline passes (Expire). Time is passed
// in, never read, so tests drive it. Not thread-safe: one table per event loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rewrite/reply_plan.h"

namespace meridian::rewrite {

class PendingTable {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr std::size_t kInlineKey = 96;
  static constexpr std::size_t kInitialSlots = 16;

  struct Options {
    std::size_t capacity = 8192;  // entries in flight at most
    std::chrono::nanoseconds timeout = std::chrono::seconds(10);
  };
  struct Stats {
    std::uint64_t added = 0;
    std::uint64_t replaced = 0;  // a second request reused a reply subject still in flight
    std::uint64_t matched = 0;
    std::uint64_t expired = 0;
    std::uint64_t full = 0;
  };
  enum class AddResult : std::uint8_t { kAdded, kReplaced, kFull };

  PendingTable() : PendingTable(Options{}) {}
  explicit PendingTable(Options options);

  // Records `plan` for replies on `reply`, due by now + timeout. A reply subject already in
  // flight gets the new plan (the newer request wins, as the client only waits for it).
  AddResult Add(std::string_view reply, const ReplyPlan& plan, TimePoint now);
  // The plan for `reply`, removed from the table; nullopt when none is pending. The
  // caller checks empty() first on paths where nothing is usually pending.
  std::optional<ReplyPlan> Take(std::string_view reply);
  // Removes every entry whose deadline is at or before `now`, calling on_expired(reply,
  // plan) for each (fan-out parts must tell their group). Returns how many were removed.
  // O(capacity): call it on a timer, not per message.
  template <typename OnExpired>
  std::size_t Expire(TimePoint now, OnExpired&& on_expired);

  // Back to kInitialSlots when nothing is in flight (call it on a timer, not per message:
  // a table that empties between requests would otherwise be reallocated each time).
  void ShrinkIfEmpty();

  bool empty() const { return size_ == 0; }
  // Slots allocated now (memory: slots() * about 180 bytes).
  std::size_t slots() const { return slots_.size(); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return options_.capacity; }
  const Stats& stats() const { return stats_; }

 private:
  struct Slot {
    std::uint64_t hash = 0;  // 0 marks an empty slot
    TimePoint deadline;
    ReplyPlan plan;
    std::uint32_t key_len = 0;
    char key[kInlineKey];
    std::string long_key;  // used only when key_len > kInlineKey
    std::string_view Key() const {
      return key_len > kInlineKey ? std::string_view(long_key) : std::string_view(key, key_len);
    }
  };

  static std::uint64_t Hash(std::string_view key);
  // Index of the slot holding `key`, or of the empty slot where it would go.
  std::size_t Find(std::string_view key, std::uint64_t hash) const;
  void RemoveAt(std::size_t index);
  // Doubles the slots and re-inserts every entry.
  void Grow();

  Options options_;
  std::vector<Slot> slots_;
  std::size_t mask_;
  std::size_t max_slots_;  // what `capacity` entries need at half load
  std::size_t size_ = 0;
  Stats stats_;
};

template <typename OnExpired>
std::size_t PendingTable::Expire(TimePoint now, OnExpired&& on_expired) {
  if (size_ == 0) return 0;
  std::size_t removed = 0;
  for (std::size_t i = 0; i < slots_.size();) {
    Slot& s = slots_[i];
    if (s.hash != 0 && s.deadline <= now) {
      on_expired(s.Key(), s.plan);
      RemoveAt(i);  // may shift a later entry into slot i: look at it again
      ++removed;
      ++stats_.expired;
      if (size_ == 0) break;
      continue;
    }
    ++i;
  }
  return removed;
}

}  // namespace meridian::rewrite
