// Publish acknowledgements, stored-message gets (MSG.GET and DIRECT.GET) and account info.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "jsapi/types.h"

namespace meridian::jsapi {

// The reply to a JetStream publish: `{"stream":"S", "seq":n}` plus `domain` and
// `duplicate` (omitempty). A failed publish is an ErrorResponse (its stream/seq kept in
// ErrorResponse::unknown).
struct PubAck {
  std::string stream;
  uint64_t seq = 0;
  std::string domain;
  bool duplicate = false;
  UnknownFields unknown;
  bool operator==(const PubAck&) const = default;
};

// Appends the PubAck text exactly as nats-server builds it (`{"stream":"S", "seq":1}`,
// `{"stream":"S", "domain":"d", "seq":1}`, `{"stream":"S", "seq":2,"duplicate": true}`).
// Reuses `out`'s capacity: no allocation once the buffer has grown. Ignores `unknown`.
void AppendPubAckText(const PubAck& ack, std::string& out);

// A PubAck's fields as views into the body they were scanned from.
struct PubAckView {
  std::string_view stream;
  uint64_t seq = 0;
  std::string_view domain;
  bool duplicate = false;
};

// Recognises exactly the text forms AppendPubAckText writes (which are nats-server's), without
// allocating: the sidecar's per-publish path. Anything else (an error reply, other spacing,
// escapes in a name) gives nullopt; then use ParseApiResponse<PubAck> (jsapi/json.h).
std::optional<PubAckView> ScanPubAckText(std::string_view body);

// STREAM.MSG.GET and DIRECT.GET request: exactly one of seq, last_by_subj, next_by_subj
// (next_by_subj may come with seq). All omitempty. 2.11 batch fields are kept in `unknown`.
struct MsgGetRequest {
  uint64_t seq = 0;
  std::string last_by_subj;
  std::string next_by_subj;
  UnknownFields unknown;
  bool operator==(const MsgGetRequest&) const = default;

  // Empty when the combination is one the server accepts; otherwise why it is refused
  // (the server answers 10003 bad request on MSG.GET, 408 on DIRECT.GET).
  std::string CheckCombination() const;
};
using DirectGetRequest = MsgGetRequest;

// `message` of the MSG.GET response. hdrs/data are raw bytes here and base64 (standard,
// padded) in JSON; both are omitted when empty. hdrs is the full header block, status line
// included ("NATS/1.0\r\n...\r\n\r\n").
struct StoredMsg {
  std::string subject;
  uint64_t seq = 0;
  std::string hdrs;
  std::string data;
  Timestamp time;
  UnknownFields unknown;
  bool operator==(const StoredMsg&) const = default;
};

struct MsgGetResponse {
  std::string type;
  StoredMsg message;
  UnknownFields unknown;
  bool operator==(const MsgGetResponse&) const = default;
};

// Limits of an account or of one tier (R1, R3, ...).
struct AccountLimits {
  int64_t max_memory = 0;
  int64_t max_storage = 0;
  int64_t max_streams = 0;
  int64_t max_consumers = 0;
  int64_t max_ack_pending = 0;
  int64_t memory_max_stream_bytes = 0;
  int64_t storage_max_stream_bytes = 0;
  bool max_bytes_required = false;
  UnknownFields unknown;
  bool operator==(const AccountLimits&) const = default;
};

// Usage of an account or tier. reserved_* are 2.10+.
struct AccountTier {
  uint64_t memory = 0;
  uint64_t storage = 0;
  std::optional<uint64_t> reserved_memory;
  std::optional<uint64_t> reserved_storage;
  int64_t streams = 0;
  int64_t consumers = 0;
  AccountLimits limits;
  UnknownFields unknown;
  bool operator==(const AccountTier&) const = default;
};

struct ApiStats {
  uint64_t total = 0;
  uint64_t errors = 0;
  UnknownFields unknown;  // 2.11 "level"
  bool operator==(const ApiStats&) const = default;
};

// `$JS.API.INFO` response.
struct AccountInfo {
  std::string type;
  AccountTier usage;  // memory/storage/reserved_*/streams/consumers/limits at the top level
  std::string domain;
  ApiStats api;
  std::map<std::string, AccountTier> tiers;
  UnknownFields unknown;
  bool operator==(const AccountInfo&) const = default;
};

}  // namespace meridian::jsapi
