// The JetStream API error object and the error codes Meridian sends or recognises.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "jsapi/types.h"

namespace meridian::jsapi {

// `{"code": <http-like status>, "err_code": <JetStream code>, "description": "<text>"}`, as
// found under "error" in any failed API response, in a failed PubAck and in
// StreamSourceInfo.error. err_code and description are omitted from JSON when zero/empty.
struct ApiError {
  int code = 0;
  uint16_t err_code = 0;
  std::string description;
  UnknownFields unknown;
  bool operator==(const ApiError&) const = default;
};

// One row of nats-server's error table. A description containing "{err}" (or another
// "{name}") is a template: Make(detail) substitutes the first placeholder.
struct ErrorCode {
  uint16_t err_code;
  int code;
  std::string_view description;

  ApiError Make() const;
  ApiError Make(std::string_view detail) const;
};

// Descriptions are nats-server 2.9/2.10's, byte for byte (clients compare some of them).
namespace errors {
inline constexpr ErrorCode kBadRequest{10003, 400, "bad request"};
inline constexpr ErrorCode kClusterNotAvailable{10008, 503,
                                                "JetStream system temporarily unavailable"};
inline constexpr ErrorCode kClusterRequired{10010, 503, "JetStream clustering support required"};
inline constexpr ErrorCode kConsumerCreate{10012, 500, "{err}"};
inline constexpr ErrorCode kConsumerNameExists{10013, 400, "consumer name already in use"};
inline constexpr ErrorCode kConsumerNotFound{10014, 404, "consumer not found"};
inline constexpr ErrorCode kConsumerDurableNameNotInSubject{
    10016, 400, "consumer expected to be durable but no durable name set in subject"};
inline constexpr ErrorCode kConsumerDurableNameNotMatchSubject{
    10017, 400, "consumer name in subject does not match durable name in request"};
inline constexpr ErrorCode kConsumerDurableNameNotSet{
    10018, 400, "consumer expected to be durable but a durable name was not set"};
inline constexpr ErrorCode kConsumerEphemeralWithDurableInSubject{
    10019, 400, "consumer expected to be ephemeral but detected a durable name set in subject"};
inline constexpr ErrorCode kConsumerEphemeralWithDurableName{
    10020, 400, "consumer expected to be ephemeral but a durable name was set in request"};
inline constexpr ErrorCode kInsufficientResources{10023, 503, "insufficient resources"};
// 2.9 writes the bare text; 2.10.? and later append ": <go error>".
inline constexpr ErrorCode kInvalidJson{10025, 400, "invalid JSON"};
inline constexpr ErrorCode kMaximumConsumersLimit{10026, 400, "maximum consumers limit reached"};
inline constexpr ErrorCode kMaximumStreamsLimit{10027, 400, "maximum number of streams reached"};
inline constexpr ErrorCode kMirrorConsumerSetupFailed{10029, 500, "{err}"};
inline constexpr ErrorCode kNoMessageFound{10037, 404, "no message found"};
inline constexpr ErrorCode kNotEmptyRequest{10038, 400, "expected an empty request payload"};
inline constexpr ErrorCode kNotEnabledForAccount{10039, 503, "JetStream not enabled for account"};
inline constexpr ErrorCode kClusterPeerNotMember{10040, 400, "peer not a member"};
inline constexpr ErrorCode kSourceConsumerSetupFailed{10045, 500, "{err}"};
inline constexpr ErrorCode kStreamCreate{10049, 500, "{err}"};
inline constexpr ErrorCode kStreamInvalidConfig{10052, 500, "{err}"};
inline constexpr ErrorCode kStreamMessageExceedsMaximum{10054, 400,
                                                        "message size exceeds maximum allowed"};
inline constexpr ErrorCode kStreamMirrorNotUpdatable{
    10055, 400, "stream mirror configuration can not be updated"};
inline constexpr ErrorCode kStreamNameMismatch{10056, 400,
                                               "stream name in subject does not match request"};
inline constexpr ErrorCode kStreamMsgDeleteFailed{10057, 500, "{err}"};
inline constexpr ErrorCode kStreamNameExists{
    10058, 400, "stream name already in use with a different configuration"};
inline constexpr ErrorCode kStreamNotFound{10059, 404, "stream not found"};
inline constexpr ErrorCode kStreamExpectedStreamMismatch{10060, 400,
                                                         "expected stream does not match"};
inline constexpr ErrorCode kStreamSequenceNotMatch{10063, 503,
                                                   "expected stream sequence does not match"};
inline constexpr ErrorCode kStreamSubjectOverlap{10065, 400,
                                                 "subjects overlap with an existing stream"};
inline constexpr ErrorCode kStreamUpdate{10069, 500, "{err}"};
inline constexpr ErrorCode kStreamWrongLastMsgId{10070, 400, "wrong last msg ID: {id}"};
inline constexpr ErrorCode kStreamWrongLastSequence{10071, 400, "wrong last sequence: {seq}"};
inline constexpr ErrorCode kReplicasCountCannotBeNegative{10074, 400,
                                                          "replicas count cannot be negative"};
inline constexpr ErrorCode kNotEnabled{10076, 503, "JetStream not enabled"};
inline constexpr ErrorCode kStreamStoreFailed{10077, 503, "{err}"};
inline constexpr ErrorCode kConsumerPullRequiresAck{10084, 400,
                                                    "consumer in pull mode requires ack policy"};
inline constexpr ErrorCode kStreamHeaderExceedsMaximum{
    10097, 400, "header size exceeds maximum allowed of 64k"};
inline constexpr ErrorCode kStreamSealed{10109, 400, "invalid operation on sealed stream"};
inline constexpr ErrorCode kStreamPurgeNotPermitted{10110, 400, "stream purge not permitted"};
inline constexpr ErrorCode kStreamRollupFailed{10111, 500, "{err}"};
inline constexpr ErrorCode kStreamOffline{10118, 500, "stream is offline"};
inline constexpr ErrorCode kConsumerOffline{10119, 500, "consumer is offline"};
inline constexpr ErrorCode kConsumerCreateFilterSubjectMismatch{
    10131, 400, "Consumer create request did not match filtered subject from create subject"};
inline constexpr ErrorCode kConsumerCreateDurableAndNameMismatch{
    10132, 400, "Consumer Durable and Name have to be equal if both are provided"};
inline constexpr ErrorCode kConsumerMultipleFiltersNotAllowed{
    10137, 400, "consumer with multiple subject filters cannot use subject based API"};
inline constexpr ErrorCode kConsumerAlreadyExists{10148, 400, "consumer already exists"};
inline constexpr ErrorCode kConsumerDoesNotExist{10149, 400, "consumer does not exist"};
}  // namespace errors

// The table row for an err_code, or nullptr when Meridian does not list it.
const ErrorCode* FindErrorCode(uint16_t err_code);

// A failed API response: its "type", its "error", and whatever else came with it (paging
// fields, PubAck's stream/seq) in `unknown`, so that it can be rewritten and re-sent intact.
struct ErrorResponse {
  std::string type;
  ApiError error;
  UnknownFields unknown;
  bool operator==(const ErrorResponse&) const = default;
};

// The body of a JetStream-shaped error reply:
// {"type":"io.nats.jetstream.api.v1.<type_suffix>","error":{...}}. For the paged response
// types (stream_info, stream_names, stream_list, consumer_names, consumer_list) the paging
// fields are added as zeros, as nats-server does. type_suffix is e.g. "stream_info_response".
std::string ErrorReplyBody(std::string_view type_suffix, const ApiError& error);

// The reply to a refused publish, shaped as nats-server's failed PubAck (no "type"):
// {"error":{...},"stream":"<stream>","seq":0}.
std::string PubAckErrorBody(std::string_view stream, const ApiError& error);

// The full "type" value for a suffix: "io.nats.jetstream.api.v1." + suffix.
std::string ResponseType(std::string_view type_suffix);

}  // namespace meridian::jsapi
