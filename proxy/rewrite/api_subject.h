// Reading JetStream API request subjects: `$JS.API.<op…>` and `$JS.<domain>.API.<op…>`.
//
// ParseApiSubject says which endpoint a subject addresses and where its stream token, and
// for the filter-in-subject forms the filter/subject tail, sit. It looks at tokens only (no
// topology), allocates nothing, and returns nullopt for anything that is not a well-formed
// request subject of a known endpoint (those are forwarded untouched).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "rewrite/subjects.h"

namespace meridian::rewrite {

enum class ApiOp : std::uint8_t {
  kAccountInfo,             // INFO
  kStreamCreate,            // STREAM.CREATE.<S>
  kStreamUpdate,            // STREAM.UPDATE.<S>
  kStreamDelete,            // STREAM.DELETE.<S>
  kStreamPurge,             // STREAM.PURGE.<S>
  kStreamInfo,              // STREAM.INFO.<S>
  kStreamSnapshot,          // STREAM.SNAPSHOT.<S>
  kStreamRestore,           // STREAM.RESTORE.<S>
  kStreamNames,             // STREAM.NAMES
  kStreamList,              // STREAM.LIST
  kStreamMsgGet,            // STREAM.MSG.GET.<S>
  kStreamMsgDelete,         // STREAM.MSG.DELETE.<S>
  kStreamLeaderStepdown,    // STREAM.LEADER.STEPDOWN.<S>
  kStreamPeerRemove,        // STREAM.PEER.REMOVE.<S>
  kConsumerCreate,          // CONSUMER.CREATE.<S>[.<C>[.<filter…>]]
  kConsumerDurableCreate,   // CONSUMER.DURABLE.CREATE.<S>.<C>
  kConsumerInfo,            // CONSUMER.INFO.<S>.<C>
  kConsumerDelete,          // CONSUMER.DELETE.<S>.<C>
  kConsumerNames,           // CONSUMER.NAMES.<S>
  kConsumerList,            // CONSUMER.LIST.<S>
  kConsumerMsgNext,         // CONSUMER.MSG.NEXT.<S>.<C>
  kConsumerLeaderStepdown,  // CONSUMER.LEADER.STEPDOWN.<S>.<C>
  kConsumerPause,           // CONSUMER.PAUSE.<S>.<C> (2.11+)
  kConsumerUnpin,           // CONSUMER.UNPIN.<S>.<C> (2.11+)
  kConsumerReset,           // CONSUMER.RESET.<S>.<C> (2.14+)
  kDirectGet,               // DIRECT.GET.<S>[.<subject…>]
};

struct ApiSubject {
  ApiOp op;
  TokenSpan stream{0, 0};  // the stream token; len 0 for INFO, STREAM.NAMES, STREAM.LIST
  // Start of the filter tail of CONSUMER.CREATE.<S>.<C>.<filter…> or of the subject tail of
  // DIRECT.GET.<S>.<subject…>; npos when the subject has none.
  std::size_t tail_pos = std::string_view::npos;
  // The response type without its "io.nats.jetstream.api.v1." prefix, e.g.
  // "stream_info_response"; empty for MSG.NEXT and DIRECT.GET (they answer with messages).
  std::string_view type_suffix;
};

std::optional<ApiSubject> ParseApiSubject(std::string_view subject);

// "io.nats.jetstream.api.v1." + suffix, the `type` field of every API response.
inline constexpr std::string_view kApiTypePrefix = "io.nats.jetstream.api.v1.";

}  // namespace meridian::rewrite
