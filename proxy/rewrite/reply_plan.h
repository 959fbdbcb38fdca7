// What a reply to a rewritten request will look like, and so how to rewrite it.
//
// A ReplyPlan is small and trivially copyable: the pending table stores one per request in
// flight, keyed by the request's reply subject.
#pragma once

#include <cstdint>
#include <limits>

namespace meridian::rewrite {

enum class ReplyKind : std::uint8_t {
  kNone,              // nothing to record: the replies are deliveries/statuses (MSG.NEXT)
  kPubAck,            // {"stream":…,"seq":…[,"duplicate":true]} or an error with stream/seq
  kStreamInfo,        // stream_info_response of a read stream -> the virtual stream
  kStreamInfoAsList,  // stream_info_response of a read stream -> stream_list_response of one
  kStreamNames,       // stream_names_response: internal names -> virtual names
  kStreamList,        // stream_list_response: internal streams hidden, read stream -> virtual
  kConsumerInfo,      // consumer_info/create_response: stream_name and filters -> virtual
  kConsumerList,      // consumer_list_response: each entry as kConsumerInfo
  kConsumerNames,     // consumer_names_response: split consumers' origin names folded
  kApiGeneric,        // any other JSON response: error descriptions only
  kMsgGet,            // stream_msg_get_response: message.subject and stored headers
  kDirectGet,         // direct-get reply: headers Nats-Stream, Nats-Subject, Nats-Msg-Id
};

inline constexpr std::uint32_t kNoStream = std::numeric_limits<std::uint32_t>::max();

struct ReplyPlan {
  ReplyKind kind = ReplyKind::kApiGeneric;
  std::uint32_t stream = kNoStream;  // the virtual stream (Topology index), kNoStream if none
  // Fan-out parts (last-by-subject gets): the group in the FanOutTable and the part's
  // index. group 0 means "not a fan-out part".
  std::uint32_t group = 0;
  std::uint16_t part = 0;
};

}  // namespace meridian::rewrite
