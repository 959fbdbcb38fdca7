#include "session/client_subscriptions.h"

#include <algorithm>

#include "subject/subject.h"

namespace meridian::session {

void ClientSubscriptions::Add(std::string_view sid, std::string_view subject,
                              std::string_view queue) {
  if (by_sid_.find(sid) != by_sid_.end()) return;
  by_sid_.emplace(std::string(sid),
                  Entry{std::string(subject), next_order_++, std::string(queue), 0, 0});
}

void ClientSubscriptions::Remove(std::string_view sid) {
  auto it = by_sid_.find(sid);
  if (it == by_sid_.end()) return;
  if (it->second.max > 0) --limited_;
  by_sid_.erase(it);
}

bool ClientSubscriptions::SetMax(std::string_view sid, std::uint64_t max) {
  auto it = by_sid_.find(sid);
  if (it == by_sid_.end()) return false;
  if (max == 0) {  // nats-server treats UNSUB <sid> 0 as a plain unsubscribe
    Remove(sid);
    return true;
  }
  if (it->second.delivered >= max) {
    Remove(sid);
    return true;
  }
  if (it->second.max == 0) ++limited_;
  it->second.max = max;
  return false;
}

bool ClientSubscriptions::CountDelivery(std::string_view sid) {
  auto it = by_sid_.find(sid);
  if (it == by_sid_.end()) return false;
  Entry& e = it->second;
  ++e.delivered;
  if (e.max == 0 || e.delivered < e.max) return false;
  --limited_;
  by_sid_.erase(it);
  return true;
}

std::optional<std::string> ClientSubscriptions::SubjectOf(std::string_view sid) const {
  auto it = by_sid_.find(sid);
  if (it == by_sid_.end()) return std::nullopt;
  return it->second.subject;
}

bool ClientSubscriptions::Contains(std::string_view sid) const {
  return by_sid_.find(sid) != by_sid_.end();
}

std::optional<std::string_view> ClientSubscriptions::SidFor(std::string_view subject) const {
  const std::pair<const std::string, Entry>* best = nullptr;
  for (const auto& kv : by_sid_) {
    if (!subject::SubjectMatches(kv.second.subject, subject)) continue;
    if (best == nullptr || kv.second.order < best->second.order) best = &kv;
  }
  if (best == nullptr) return std::nullopt;
  return std::string_view(best->first);
}

std::vector<ClientSubscriptions::Restorable> ClientSubscriptions::ForRestore() const {
  std::vector<std::pair<std::uint64_t, Restorable>> ordered;
  ordered.reserve(by_sid_.size());
  for (const auto& [sid, e] : by_sid_) {
    ordered.push_back(
        {e.order, Restorable{sid, e.subject, e.queue, e.max > 0 ? e.max - e.delivered : 0}});
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Restorable> out;
  out.reserve(ordered.size());
  for (auto& [order, r] : ordered) out.push_back(r);
  return out;
}

}  // namespace meridian::session
