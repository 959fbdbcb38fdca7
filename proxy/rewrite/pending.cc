#include "rewrite/pending.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace meridian::rewrite {

PendingTable::PendingTable(Options options) : options_(options) {
  if (options_.capacity == 0) {
    throw std::invalid_argument(
        "pending table capacity is 0: give it room for at least one "
        "request in flight");
  }
  // At most half full, so probe sequences stay short.
  max_slots_ = 2;
  while (max_slots_ < options_.capacity * 2) max_slots_ <<= 1;
  const std::size_t slots = std::min(max_slots_, kInitialSlots);
  slots_.resize(slots);
  mask_ = slots - 1;
}

void PendingTable::Grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  for (Slot& s : old) {
    if (s.hash == 0) continue;
    std::size_t i = s.hash & mask_;
    while (slots_[i].hash != 0) i = (i + 1) & mask_;
    Slot& d = slots_[i];
    d.hash = s.hash;
    d.deadline = s.deadline;
    d.plan = s.plan;
    d.key_len = s.key_len;
    if (s.key_len > kInlineKey) {
      d.long_key.swap(s.long_key);
    } else {
      std::memcpy(d.key, s.key, s.key_len);
    }
  }
}

void PendingTable::ShrinkIfEmpty() {
  if (size_ != 0 || slots_.size() <= kInitialSlots) return;
  std::vector<Slot>(std::min(max_slots_, kInitialSlots)).swap(slots_);
  mask_ = slots_.size() - 1;
}

std::uint64_t PendingTable::Hash(std::string_view key) {
  // FNV-1a; 0 is reserved for empty slots.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

std::size_t PendingTable::Find(std::string_view key, std::uint64_t hash) const {
  std::size_t i = hash & mask_;
  while (slots_[i].hash != 0) {
    if (slots_[i].hash == hash && slots_[i].Key() == key) return i;
    i = (i + 1) & mask_;
  }
  return i;
}

PendingTable::AddResult PendingTable::Add(std::string_view reply, const ReplyPlan& plan,
                                          TimePoint now) {
  const std::uint64_t hash = Hash(reply);
  const std::size_t i = Find(reply, hash);
  Slot& s = slots_[i];
  const auto deadline = now + std::chrono::duration_cast<TimePoint::duration>(options_.timeout);
  if (s.hash != 0) {
    s.plan = plan;
    s.deadline = deadline;
    ++stats_.replaced;
    return AddResult::kReplaced;
  }
  if (size_ >= options_.capacity) {
    ++stats_.full;
    return AddResult::kFull;
  }
  if ((size_ + 1) * 2 > slots_.size() && slots_.size() < max_slots_) {
    Grow();
    return Add(reply, plan, now);  // not in the table: this time it is added in place
  }
  s.hash = hash;
  s.plan = plan;
  s.deadline = deadline;
  s.key_len = static_cast<std::uint32_t>(reply.size());
  if (reply.size() > kInlineKey) {
    s.long_key.assign(reply);
  } else {
    std::memcpy(s.key, reply.data(), reply.size());
  }
  ++size_;
  ++stats_.added;
  return AddResult::kAdded;
}

std::optional<ReplyPlan> PendingTable::Take(std::string_view reply) {
  if (size_ == 0) return std::nullopt;
  const std::size_t i = Find(reply, Hash(reply));
  if (slots_[i].hash == 0) return std::nullopt;
  ReplyPlan plan = slots_[i].plan;
  RemoveAt(i);
  ++stats_.matched;
  return plan;
}

void PendingTable::RemoveAt(std::size_t index) {
  // Backward-shift deletion: pull later entries of the probe run into the hole when their
  // home slot is not strictly between the hole and where they sit.
  std::size_t hole = index;
  std::size_t j = index;
  while (true) {
    j = (j + 1) & mask_;
    if (slots_[j].hash == 0) break;
    const std::size_t home = slots_[j].hash & mask_;
    const bool between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (between) continue;
    Slot& dst = slots_[hole];
    Slot& src = slots_[j];
    dst.hash = src.hash;
    dst.deadline = src.deadline;
    dst.plan = src.plan;
    dst.key_len = src.key_len;
    if (src.key_len > kInlineKey) {
      dst.long_key.swap(src.long_key);
    } else {
      std::memcpy(dst.key, src.key, src.key_len);
    }
    hole = j;
  }
  Slot& h = slots_[hole];
  h.hash = 0;
  h.key_len = 0;
  h.long_key.clear();
  --size_;
}

}  // namespace meridian::rewrite
