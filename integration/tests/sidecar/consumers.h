// libnats publish and consume helpers used by several sidecar test files.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "libnats_util.h"

namespace meridian::sidecar_it {

struct Received {
  std::string subject, payload, stream;  // stream: from the ack subject's metadata
  uint64_t delivered = 0;                // delivery count (1 = first delivery)
  uint64_t stream_seq = 0;               // the (read) stream sequence, from the ack subject
};

// js_Publish through `nc`; returns the PubAck's stream and sequence. Throws on error.
struct Ack {
  std::string stream;
  uint64_t sequence = 0;
  bool duplicate = false;
};
Ack JsPublish(natsConnection* nc, const std::string& subject, const std::string& payload,
              const jsPubOptions* opts = nullptr);

// Reads messages from a (sync or pull) subscription until every payload in `wanted` was seen
// or `timeout` passed; acks each message with AckSync when `ack` is set. Returns all received.
std::vector<Received> ReceiveUntil(natsSubscription* sub, bool pull,
                                   const std::set<std::string>& wanted, bool ack,
                                   std::chrono::milliseconds timeout);

// The payloads in `wanted` that are not in `got`, joined for messages.
std::string Missing(const std::set<std::string>& wanted, const std::vector<Received>& got);

}  // namespace meridian::sidecar_it
