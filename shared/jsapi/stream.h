// Stream configuration, state and info, and the stream endpoints' requests and responses.
//
// Field defaults are Go's zero values, i.e. what an absent field means on the wire; the
// server-applied defaults (max_msgs -1, duplicate_window 2 min, ...) are not filled in here.
// Serialization follows nats-server: "always" fields are always written, omitempty fields
// only when non-zero, and std::optional fields (present only in some server versions, or
// pointers in Go) exactly when they hold a value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jsapi/error.h"
#include "jsapi/types.h"

namespace meridian::jsapi {

enum class RetentionPolicy { kLimits, kInterest, kWorkQueue };  // limits|interest|workqueue
enum class StorageType { kFile, kMemory };                      // file|memory
enum class DiscardPolicy { kOld, kNew };                        // old|new (case-insensitive in)
enum class Compression { kNone, kS2 };                          // none|s2 (2.10+)

// `{src, dest}`: stream-level (2.10) and source-level subject transforms.
struct SubjectTransform {
  std::string src;   // omitempty
  std::string dest;  // always
  UnknownFields unknown;
  bool operator==(const SubjectTransform&) const = default;
};

// `{api, deliver}`: where a source or mirror in another domain or account is reached.
struct ExternalStream {
  std::string api;      // always, e.g. "$JS.hub.API"
  std::string deliver;  // always
  UnknownFields unknown;
  bool operator==(const ExternalStream&) const = default;
};

// A mirror or one entry of sources.
struct StreamSource {
  std::string name;  // always
  uint64_t opt_start_seq = 0;
  std::optional<Timestamp> opt_start_time;
  std::string filter_subject;
  std::vector<SubjectTransform> subject_transforms;  // 2.10+
  std::optional<ExternalStream> external;
  UnknownFields unknown;
  bool operator==(const StreamSource&) const = default;
};

struct Placement {
  std::string cluster;
  std::vector<std::string> tags;
  UnknownFields unknown;  // 2.12 "preferred" lands here
  bool operator==(const Placement&) const = default;
};

struct Republish {
  std::string src;   // omitempty
  std::string dest;  // always
  bool headers_only = false;
  UnknownFields unknown;
  bool operator==(const Republish&) const = default;
};

// 2.10 stream-level defaults and caps for its consumers; written as {} when empty.
struct StreamConsumerLimits {
  Nanos inactive_threshold{0};
  int64_t max_ack_pending = 0;
  UnknownFields unknown;
  bool operator==(const StreamConsumerLimits&) const = default;
};

// The body of STREAM.CREATE / STREAM.UPDATE and "config" in StreamInfo (2.9 and 2.10 fields).
// 2.11+ fields (allow_msg_ttl, ...) are kept in `unknown`.
struct StreamConfig {
  std::string name;
  std::string description;
  std::vector<std::string> subjects;
  RetentionPolicy retention = RetentionPolicy::kLimits;
  int64_t max_consumers = 0;
  int64_t max_msgs = 0;
  int64_t max_bytes = 0;
  Nanos max_age{0};
  int64_t max_msgs_per_subject = 0;
  int32_t max_msg_size = 0;  // omitempty (the server defaults it to -1, so it shows)
  DiscardPolicy discard = DiscardPolicy::kOld;
  StorageType storage = StorageType::kFile;
  int64_t num_replicas = 0;
  bool no_ack = false;
  std::string template_owner;
  Nanos duplicate_window{0};
  std::optional<Placement> placement;
  std::optional<StreamSource> mirror;
  std::vector<StreamSource> sources;
  std::optional<Compression> compression;  // 2.10 always writes it; 2.9 never
  uint64_t first_seq = 0;
  std::optional<SubjectTransform> subject_transform;
  std::optional<Republish> republish;
  bool allow_direct = false;
  bool mirror_direct = false;
  bool discard_new_per_subject = false;
  bool sealed = false;
  bool deny_delete = false;
  bool deny_purge = false;
  bool allow_rollup_hdrs = false;
  std::optional<StreamConsumerLimits> consumer_limits;  // 2.10 always writes it; 2.9 never
  std::map<std::string, std::string> metadata;
  UnknownFields unknown;
  bool operator==(const StreamConfig&) const = default;
};

struct LostStreamData {
  std::vector<uint64_t> msgs;
  uint64_t bytes = 0;
  UnknownFields unknown;
  bool operator==(const LostStreamData&) const = default;
};

// "state" in StreamInfo. `subjects` is filled only when asked for (subjects_filter).
struct StreamState {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t first_seq = 0;
  Timestamp first_ts;
  uint64_t last_seq = 0;
  Timestamp last_ts;
  int64_t num_subjects = 0;
  std::map<std::string, uint64_t> subjects;
  int64_t num_deleted = 0;
  std::vector<uint64_t> deleted;
  std::optional<LostStreamData> lost;
  int64_t consumer_count = 0;
  UnknownFields unknown;
  bool operator==(const StreamState&) const = default;
};

// One replica other than the leader in ClusterInfo.
struct PeerInfo {
  std::string name;
  bool current = false;
  bool offline = false;
  Nanos active{0};
  uint64_t lag = 0;
  std::string peer;  // 8-char peer id
  UnknownFields unknown;
  bool operator==(const PeerInfo&) const = default;
};

// "cluster" in stream and consumer info. 2.9 standalone omits it; 2.10 standalone sends
// {"leader": name}.
struct ClusterInfo {
  std::string name;
  std::string raft_group;  // 2.10+
  std::string leader;
  std::vector<PeerInfo> replicas;
  UnknownFields unknown;
  bool operator==(const ClusterInfo&) const = default;
};

// "mirror" and each of "sources" in StreamInfo: how far a source is behind (`lag`, only as
// fresh as the last delivery) and when it was last heard from (`active`, -1 = never).
struct StreamSourceInfo {
  std::string name;
  std::optional<ExternalStream> external;
  uint64_t lag = 0;  // always
  Nanos active{0};   // always
  std::optional<ApiError> error;
  std::string filter_subject;                        // 2.10+
  std::vector<SubjectTransform> subject_transforms;  // 2.10+
  UnknownFields unknown;
  bool operator==(const StreamSourceInfo&) const = default;
};

struct StreamAlternate {
  std::string name;
  std::string domain;
  std::string cluster;
  UnknownFields unknown;
  bool operator==(const StreamAlternate&) const = default;
};

// total/offset/limit of paged responses.
struct Paging {
  int64_t total = 0;
  int64_t offset = 0;
  int64_t limit = 0;
  bool operator==(const Paging&) const = default;
};

// STREAM.INFO / CREATE / UPDATE response body, and one entry of STREAM.LIST. `type` and
// `paging` are present only at the top of a response (paging: on STREAM.INFO replies).
struct StreamInfo {
  std::string type;
  std::optional<Paging> paging;
  StreamConfig config;
  Timestamp created;
  StreamState state;
  std::string domain;
  std::optional<ClusterInfo> cluster;
  std::optional<StreamSourceInfo> mirror;
  std::vector<StreamSourceInfo> sources;
  std::vector<StreamAlternate> alternates;
  std::optional<Timestamp> ts;  // 2.10+
  bool did_create = false;      // create responses
  UnknownFields unknown;
  bool operator==(const StreamInfo&) const = default;
};

// STREAM.INFO request: empty, or these.
struct StreamInfoRequest {
  bool deleted_details = false;
  std::string subjects_filter;
  int64_t offset = 0;
  UnknownFields unknown;
  bool operator==(const StreamInfoRequest&) const = default;
};

// STREAM.NAMES / STREAM.LIST request: `{offset, subject}`; `subject` filters by collision
// with each stream's subjects.
struct StreamNamesRequest {
  int64_t offset = 0;  // always
  std::string subject;
  UnknownFields unknown;
  bool operator==(const StreamNamesRequest&) const = default;
};

// STREAM.NAMES response. nats-server writes "streams": null when nothing matches; so do we.
struct StreamNamesResponse {
  std::string type;
  Paging paging;
  std::vector<std::string> streams;
  UnknownFields unknown;
  bool operator==(const StreamNamesResponse&) const = default;
};

// STREAM.LIST response ("streams" is [] when empty; "missing" only in clusters).
struct StreamListResponse {
  std::string type;
  Paging paging;
  std::vector<StreamInfo> streams;
  std::vector<std::string> missing;
  UnknownFields unknown;
  bool operator==(const StreamListResponse&) const = default;
};

// STREAM.PURGE request: empty or `{filter, seq, keep}` (seq and keep exclude each other).
struct PurgeRequest {
  std::string filter;
  uint64_t seq = 0;
  uint64_t keep = 0;
  UnknownFields unknown;
  bool operator==(const PurgeRequest&) const = default;
};

struct PurgeResponse {
  std::string type;
  bool success = false;
  uint64_t purged = 0;
  UnknownFields unknown;
  bool operator==(const PurgeResponse&) const = default;
};

// `{type, success}`: STREAM.DELETE, CONSUMER.DELETE, MSG.DELETE, stepdowns.
struct SuccessResponse {
  std::string type;
  bool success = false;
  UnknownFields unknown;
  bool operator==(const SuccessResponse&) const = default;
};

}  // namespace meridian::jsapi
