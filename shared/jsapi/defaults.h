// The defaults nats-server applies to a stream or consumer config before storing it and
// echoing it in create/info responses (jetstream-wire.md §3.4, §3.7.2).
#pragma once

#include "jsapi/consumer.h"
#include "jsapi/stream.h"

namespace meridian::jsapi {

// Fills what the server fills: subjects = [name] (no mirror, no sources); max_msgs,
// max_bytes, max_msgs_per_subject, max_consumers, max_msg_size 0 -> -1; num_replicas 0 -> 1;
// duplicate_window 0 -> 2 min, or max_age when smaller (not for mirrors); republish src "" ->
// ">". Leaves the 2.10-only compression/consumer_limits alone (a 2.10 node sets them itself)
// and cannot know mirror_direct, which comes from the upstream's allow_direct.
void ApplyServerDefaults(StreamConfig& config);

// Fills: max_deliver 0 -> -1; ack_wait 0 -> backoff[0] or 30 s when acks are on;
// max_ack_pending 0 -> 1000 when acks are on; max_waiting 0 -> 512 for pull consumers;
// inactive_threshold 0 -> 5 s for ephemerals (no durable_name). Server/account limits
// (max_request_batch, lower max_ack_pending caps) are not applied here.
void ApplyServerDefaults(ConsumerConfig& config);

}  // namespace meridian::jsapi
