// Counters every session of one sidecar adds to; the monitoring endpoints read them.
//
// Plain integers: a sidecar runs its sessions on one event loop thread, and the monitoring
// server answers on that same thread.
#pragma once

#include <cstdint>

namespace meridian::session {

struct SessionCounters {
  std::uint64_t connections_total = 0;    // client connections accepted
  std::uint64_t connections_current = 0;  // client connections open now
  std::uint64_t upstream_connect_failures = 0;
  // Client -> upstream: PUB/HPUB ops and their payload bytes (headers included).
  std::uint64_t msgs_in = 0;
  std::uint64_t bytes_in = 0;
  // Upstream -> client: MSG/HMSG ops and their payload bytes, plus local answers.
  std::uint64_t msgs_out = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t forwarded = 0;            // PUB/HPUB/MSG/HMSG passed on byte-for-byte
  std::uint64_t rewritten = 0;            // PUB/HPUB/MSG/HMSG passed on rewritten
  std::uint64_t refusals = 0;             // publishes and requests refused by the sidecar
  std::uint64_t local_answers = 0;        // replies the sidecar made itself (refusals included)
  std::uint64_t answers_undelivered = 0;  // ... with no client subscription to carry them
  std::uint64_t unparseable_replies = 0;  // replies forwarded unchanged: not as expected
  std::uint64_t fanouts = 0;              // last-by-subject gets merged from every region
  std::uint64_t fanouts_unanswered = 0;   // ... where no region answered in time
  std::uint64_t pending_full = 0;         // requests forwarded without a pending entry
  std::uint64_t requests_expired = 0;     // pending entries whose reply never came
  std::uint64_t client_protocol_errors = 0;
  std::uint64_t upstream_protocol_errors = 0;
  std::uint64_t slow_consumers = 0;
  // Failover: an upstream lost (closed, or stale: no PONG) and the session moved.
  std::uint64_t upstream_losses = 0;       // upstream connections lost under a live client
  std::uint64_t upstream_stale = 0;        // ... of them found stale by the sidecar's PINGs
  std::uint64_t failovers = 0;             // sessions restored on another upstream
  std::uint64_t failovers_to_region = 0;   // ... of them on a server of another region
  std::uint64_t returns_home = 0;          // sessions moved back to their home region
  std::uint64_t failover_last_gap_ms = 0;  // loss to restore, of the latest failover
  std::uint64_t failover_max_gap_ms = 0;
  std::uint64_t failover_buffer_overflows = 0;  // clients closed: too much sent in a gap
  std::uint64_t failovers_refused = 0;          // clients closed: a nonce signature cannot move
  std::uint64_t failovers_abandoned = 0;        // clients closed: no upstream within the time limit
};

}  // namespace meridian::session
