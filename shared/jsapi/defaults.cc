#include "jsapi/defaults.h"

#include <chrono>

namespace meridian::jsapi {
namespace {
constexpr Nanos kDefaultDuplicateWindow = std::chrono::minutes(2);
constexpr Nanos kDefaultAckWait = std::chrono::seconds(30);
constexpr Nanos kDefaultEphemeralInactiveThreshold = std::chrono::seconds(5);
constexpr int64_t kDefaultMaxAckPending = 1000;
constexpr int64_t kDefaultMaxWaiting = 512;
}  // namespace

void ApplyServerDefaults(StreamConfig& c) {
  if (c.subjects.empty() && !c.mirror && c.sources.empty()) c.subjects = {c.name};
  if (c.max_msgs == 0) c.max_msgs = -1;
  if (c.max_bytes == 0) c.max_bytes = -1;
  if (c.max_msgs_per_subject == 0) c.max_msgs_per_subject = -1;
  if (c.max_consumers == 0) c.max_consumers = -1;
  if (c.max_msg_size == 0) c.max_msg_size = -1;
  if (c.num_replicas == 0) c.num_replicas = 1;
  if (c.duplicate_window.count() == 0 && !c.mirror) {
    c.duplicate_window = (c.max_age.count() > 0 && c.max_age < kDefaultDuplicateWindow)
                             ? c.max_age
                             : kDefaultDuplicateWindow;
  }
  // assign(1, ...) rather than = ">": GCC 12 at -O2 warns falsely (-Wrestrict) on the latter.
  if (c.republish && c.republish->src.empty()) c.republish->src.assign(1, '>');
}

void ApplyServerDefaults(ConsumerConfig& c) {
  const bool acks = c.ack_policy != AckPolicy::kNone;
  if (c.max_deliver == 0) c.max_deliver = -1;
  if (c.ack_wait.count() == 0 && acks) {
    c.ack_wait = c.backoff.empty() ? kDefaultAckWait : c.backoff.front();
  }
  if (c.max_ack_pending == 0 && acks) c.max_ack_pending = kDefaultMaxAckPending;
  if (c.max_waiting == 0 && c.deliver_subject.empty()) c.max_waiting = kDefaultMaxWaiting;
  if (c.inactive_threshold.count() == 0 && c.durable_name.empty()) {
    c.inactive_threshold = kDefaultEphemeralInactiveThreshold;
  }
}

}  // namespace meridian::jsapi
