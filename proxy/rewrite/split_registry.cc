// SplitRegistry: deliver subject -> split push consumer, sidecar-wide (split_registry.h).
#include "rewrite/split_registry.h"

#include <algorithm>
#include <limits>

namespace meridian::rewrite {

std::vector<SplitRegistry::Target> SplitRegistry::Find(std::string_view deliver) {
  auto it = by_subject_.find(deliver);
  if (it == by_subject_.end()) {
    ++stats_.misses;
    return {};
  }
  ++stats_.hits;
  return it->second;
}

void SplitRegistry::Add(std::string_view deliver, std::uint32_t stream, std::string_view name) {
  // Seen at the serial of the refresh in flight (or the last one): a refresh in flight does not
  // prune it (its listing may predate the create), the next one that does not list it does.
  Put(deliver, stream, name, started_);
}

void SplitRegistry::Put(std::string_view deliver, std::uint32_t stream, std::string_view name,
                        std::uint64_t seen) {
  if (deliver.empty() || name.empty()) return;
  auto it = by_subject_.find(deliver);
  if (it != by_subject_.end()) {
    for (Target& t : it->second) {
      if (t.stream == stream && t.name == name) {
        t.seen = std::max(t.seen, seen);
        return;
      }
    }
  }
  if (it != by_subject_.end() && it->second.size() >= options_.max_per_subject) {
    // Several consumers on one subject: the least recently confirmed one goes.
    auto oldest = std::min_element(it->second.begin(), it->second.end(),
                                   [](auto& a, auto& b) { return a.seen < b.seen; });
    it->second.erase(oldest);
    --size_;
    ++stats_.evicted;
  } else if (size_ >= options_.max_entries) {
    EvictOne();
    it = by_subject_.find(deliver);  // the victim may have been this subject's last
  }
  if (it == by_subject_.end()) {
    it = by_subject_.emplace(std::string(deliver), std::vector<Target>{}).first;
  }
  it->second.push_back(Target{stream, std::string(name), seen});
  ++size_;
}

void SplitRegistry::EvictOne() {
  // O(entries), only when full: the least recently confirmed target goes.
  auto victim = by_subject_.end();
  std::size_t index = 0;
  std::uint64_t lowest = std::numeric_limits<std::uint64_t>::max();
  for (auto it = by_subject_.begin(); it != by_subject_.end(); ++it) {
    for (std::size_t i = 0; i < it->second.size(); ++i) {
      if (it->second[i].seen < lowest) {
        lowest = it->second[i].seen;
        victim = it;
        index = i;
      }
    }
  }
  if (victim == by_subject_.end()) return;
  victim->second.erase(victim->second.begin() + static_cast<std::ptrdiff_t>(index));
  if (victim->second.empty()) by_subject_.erase(victim);
  --size_;
  ++stats_.evicted;
}

void SplitRegistry::Remove(std::uint32_t stream, std::string_view name) {
  for (auto it = by_subject_.begin(); it != by_subject_.end();) {
    size_ -= std::erase_if(it->second,
                           [&](const Target& t) { return t.stream == stream && t.name == name; });
    it = it->second.empty() ? by_subject_.erase(it) : std::next(it);
  }
}

void SplitRegistry::RemoveTarget(std::string_view deliver, std::uint32_t stream,
                                 std::string_view name) {
  auto it = by_subject_.find(deliver);
  if (it == by_subject_.end()) return;
  size_ -= std::erase_if(it->second,
                         [&](const Target& t) { return t.stream == stream && t.name == name; });
  if (it->second.empty()) by_subject_.erase(it);
}

bool SplitRegistry::refresh_in_flight(TimePoint now) const {
  return in_flight_ && now < started_at_ + options_.refresh_timeout;
}

std::uint64_t SplitRegistry::NeededFor(TimePoint now) const {
  return refresh_in_flight(now) ? started_ : started_ + 1;
}

std::uint64_t SplitRegistry::TryStartRefresh(TimePoint now) {
  if (refresh_in_flight(now)) return 0;
  if (in_flight_) {  // timed out
    in_flight_ = false;
    ++stats_.refreshes_abandoned;
  }
  if (ever_counted_ && now < last_counted_start_ + options_.min_refresh_interval) return 0;
  ++started_;
  in_flight_ = true;
  started_at_ = now;
  ++stats_.refreshes;
  return started_;
}

void SplitRegistry::ReplaceStream(std::uint64_t serial, std::uint32_t stream,
                                  const std::vector<std::pair<std::string, std::string>>& found) {
  if (!in_flight_ || serial != started_) return;  // a late answer to an abandoned refresh
  for (auto it = by_subject_.begin(); it != by_subject_.end();) {
    size_ -= std::erase_if(it->second,
                           [&](const Target& t) { return t.stream == stream && t.seen < serial; });
    it = it->second.empty() ? by_subject_.erase(it) : std::next(it);
  }
  for (const auto& [deliver, name] : found) Put(deliver, stream, name, serial);
}

void SplitRegistry::FinishRefresh(std::uint64_t serial) {
  if (!in_flight_ || serial != started_) return;
  in_flight_ = false;
  completed_ = serial;
  ever_counted_ = true;
  last_counted_start_ = started_at_;
  ++stats_.refreshes_completed;
}

void SplitRegistry::AbandonRefresh(std::uint64_t serial) {
  if (!in_flight_ || serial != started_) return;
  in_flight_ = false;
  ++stats_.refreshes_abandoned;
}

void SplitRegistry::RefuseRefresh(std::uint64_t serial) {
  if (!in_flight_ || serial != started_) return;
  in_flight_ = false;
  ever_counted_ = true;
  last_counted_start_ = started_at_;
  ++stats_.refreshes_refused;
}

bool SplitRegistry::NoteListRefused(TimePoint now, std::uint64_t* unreported) {
  ++stats_.list_refused;
  if (ever_reported_ && now < last_report_ + options_.refusal_report_interval) {
    ++unreported_;
    return false;
  }
  if (unreported != nullptr) *unreported = unreported_;
  unreported_ = 0;
  ever_reported_ = true;
  last_report_ = now;
  return true;
}

}  // namespace meridian::rewrite
