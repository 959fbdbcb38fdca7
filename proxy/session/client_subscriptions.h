// The subscriptions a client made through its session, by sid.
//
// The sidecar needs them for three things: to deliver a message it makes itself (a local
// answer, a merged fan-out reply) on the sid of the client's subscription that matches the
// reply subject, as the server would; to keep its own internal sid from ever equalling one
// of the client's; and to restore every subscription on another server after a failover
// (subject, queue group, and what is left of an auto-unsubscribe count). Changes happen on
// SUB/UNSUB; per message only CountDelivery runs, and only while some subscription has a
// max (a lookup, no allocation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace meridian::session {

class ClientSubscriptions {
 public:
  // What a failover restores for one subscription.
  struct Restorable {
    std::string_view sid;
    std::string_view subject;
    std::string_view queue;       // empty: none
    std::uint64_t remaining = 0;  // auto-unsubscribe count left; 0: no limit
  };

  // A second SUB with a sid already in use is ignored, as nats-server does.
  void Add(std::string_view sid, std::string_view subject, std::string_view queue = {});
  void Remove(std::string_view sid);
  // UNSUB <sid> <max>: the subscription ends after `max` messages in all (counted since it
  // was made, as nats-server counts). Returns true when that already happened: the
  // subscription is removed.
  bool SetMax(std::string_view sid, std::uint64_t max);
  // A message from the server on `sid`. Returns true when it was the last one its max
  // allowed: the subscription is removed (the server removed it too).
  bool CountDelivery(std::string_view sid);
  // True while some subscription has a max, so deliveries must be counted.
  bool counting() const { return limited_ > 0; }
  bool Contains(std::string_view sid) const;
  // The subject of subscription `sid`, or nullopt.
  std::optional<std::string> SubjectOf(std::string_view sid) const;
  // The sid of a subscription whose subject matches `subject` (the oldest-added one when
  // several do), or nullopt.
  std::optional<std::string_view> SidFor(std::string_view subject) const;
  std::size_t size() const { return by_sid_.size(); }
  // Every subscription, oldest first; views valid until the next change.
  std::vector<Restorable> ForRestore() const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Entry {
    std::string subject;
    std::uint64_t order;
    std::string queue;
    std::uint64_t max = 0;  // 0: no auto-unsubscribe
    std::uint64_t delivered = 0;
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> by_sid_;
  std::uint64_t next_order_ = 0;
  std::size_t limited_ = 0;  // entries with max > 0
};

}  // namespace meridian::session
