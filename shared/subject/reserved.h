// Reserved subject namespaces and the stream-subject rule that protects them.
//
// NATS reserves `$JS.>`, `$JSC.>`, `$NRG.>` (JetStream API and internals) and `$SYS.>` (system
// account). A stream that captures a subject overlapping one of them must have no_ack set,
// except for subsets of `$JS.EVENT.>` and `$SYS.ACCOUNT.>`, and capturing `>` additionally
// needs no_ack and one replica (nats-server checkStreamCfg, 2.9 and 2.10 alike). Pure functions.
#pragma once

#include <string_view>

#include "subject/status.h"

namespace meridian::subject {

// The reserved namespace pattern (e.g. "$JS.>") that `stream_subject` overlaps without being
// exempt, or an empty view when there is none. `stream_subject` must be a valid pattern.
std::string_view ReservedNamespaceOverlap(std::string_view stream_subject);

// The whole per-subject rule for a stream's `subjects`: validity, `>` (no_ack and R1), and the
// reserved namespaces (no_ack). Sentences name the subject and say what to change.
Status CheckStreamSubject(std::string_view stream_subject, bool no_ack, int replicas);

}  // namespace meridian::subject
