// Consumer configuration, creation request, info, and the consumer list endpoints.
// Defaults and omit-empty rules as described at the top of jsapi/stream.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jsapi/stream.h"
#include "jsapi/types.h"

namespace meridian::jsapi {

// all|last|new|by_start_sequence|by_start_time|last_per_subject ("undefined" reads as all).
enum class DeliverPolicy { kAll, kLast, kNew, kByStartSequence, kByStartTime, kLastPerSubject };
enum class AckPolicy { kNone, kAll, kExplicit };  // none|all|explicit; absent means none
enum class ReplayPolicy { kInstant, kOriginal };  // instant|original

// "config" of CONSUMER.CREATE and ConsumerInfo (2.9 and 2.10 fields; 2.11 priority groups and
// pause_until are kept in `unknown`). A deliver_subject makes it a push consumer.
struct ConsumerConfig {
  std::string durable_name;
  std::string name;
  std::string description;
  DeliverPolicy deliver_policy = DeliverPolicy::kAll;  // always
  uint64_t opt_start_seq = 0;
  std::optional<Timestamp> opt_start_time;
  AckPolicy ack_policy = AckPolicy::kNone;  // always
  Nanos ack_wait{0};
  int64_t max_deliver = 0;
  std::vector<Nanos> backoff;
  std::string filter_subject;
  std::vector<std::string> filter_subjects;             // 2.10+
  ReplayPolicy replay_policy = ReplayPolicy::kInstant;  // always
  uint64_t rate_limit_bps = 0;
  std::string sample_freq;
  int64_t max_waiting = 0;
  int64_t max_ack_pending = 0;
  Nanos idle_heartbeat{0};
  bool flow_control = false;
  bool headers_only = false;
  int64_t max_batch = 0;
  Nanos max_expires{0};
  int64_t max_bytes = 0;
  std::string deliver_subject;
  std::string deliver_group;
  Nanos inactive_threshold{0};
  int64_t num_replicas = 0;  // always
  bool mem_storage = false;
  bool direct = false;
  std::map<std::string, std::string> metadata;  // 2.10+
  UnknownFields unknown;
  bool operator==(const ConsumerConfig&) const = default;
};

// Body of CONSUMER.CREATE / DURABLE.CREATE. `action` (2.10+): "" create-or-update, "create",
// "update"; written only when non-empty. nats.js's "pedantic" (2.11) is kept in `unknown`.
struct CreateConsumerRequest {
  std::string stream_name;
  ConsumerConfig config;
  std::string action;
  UnknownFields unknown;
  bool operator==(const CreateConsumerRequest&) const = default;
};

// `delivered` and `ack_floor` of ConsumerInfo.
struct SequenceInfo {
  uint64_t consumer_seq = 0;
  uint64_t stream_seq = 0;
  std::optional<Timestamp> last_active;
  UnknownFields unknown;
  bool operator==(const SequenceInfo&) const = default;
};

// CONSUMER.INFO / CREATE response body, and one entry of CONSUMER.LIST.
struct ConsumerInfo {
  std::string type;
  std::string stream_name;
  std::string name;
  Timestamp created;
  ConsumerConfig config;
  SequenceInfo delivered;
  SequenceInfo ack_floor;
  int64_t num_ack_pending = 0;
  int64_t num_redelivered = 0;
  int64_t num_waiting = 0;
  uint64_t num_pending = 0;
  std::optional<ClusterInfo> cluster;
  bool push_bound = false;
  std::optional<Timestamp> ts;  // 2.10+
  UnknownFields unknown;
  bool operator==(const ConsumerInfo&) const = default;
};

// CONSUMER.NAMES / CONSUMER.LIST request: `{offset}`.
struct ConsumerNamesRequest {
  int64_t offset = 0;
  UnknownFields unknown;
  bool operator==(const ConsumerNamesRequest&) const = default;
};

// CONSUMER.NAMES response; "consumers" is [] (never null) when empty.
struct ConsumerNamesResponse {
  std::string type;
  Paging paging;
  std::vector<std::string> consumers;
  UnknownFields unknown;
  bool operator==(const ConsumerNamesResponse&) const = default;
};

struct ConsumerListResponse {
  std::string type;
  Paging paging;
  std::vector<ConsumerInfo> consumers;
  std::vector<std::string> missing;
  UnknownFields unknown;
  bool operator==(const ConsumerListResponse&) const = default;
};

// A pull request to CONSUMER.MSG.NEXT (all fields omitempty). Parse with ParsePullRequest,
// which also accepts the empty body (batch 1) and a bare decimal batch size.
struct PullRequest {
  int64_t batch = 0;
  Nanos expires{0};
  int64_t max_bytes = 0;
  bool no_wait = false;
  Nanos idle_heartbeat{0};
  UnknownFields unknown;  // 2.11+ group, id, min_pending, ...
  bool operator==(const PullRequest&) const = default;
};

}  // namespace meridian::jsapi
