#include "jsapi/error.h"

#include <array>
#include <nlohmann/json.hpp>

#include "jsapi/json.h"

namespace meridian::jsapi {

ApiError ErrorCode::Make() const {
  return ApiError{code, err_code, std::string(description), {}};
}

ApiError ErrorCode::Make(std::string_view detail) const {
  std::string text(description);
  const size_t open = text.find('{');
  const size_t close = open == std::string::npos ? open : text.find('}', open);
  if (close != std::string::npos) {
    text.replace(open, close - open + 1, detail);
  } else if (!detail.empty()) {
    text += ": ";
    text += detail;
  }
  return ApiError{code, err_code, std::move(text), {}};
}

const ErrorCode* FindErrorCode(uint16_t err_code) {
  using namespace errors;  // NOLINT(google-build-using-namespace)
  static constexpr std::array kAll = {
      &kBadRequest,
      &kClusterNotAvailable,
      &kClusterRequired,
      &kConsumerCreate,
      &kConsumerNameExists,
      &kConsumerNotFound,
      &kConsumerDurableNameNotInSubject,
      &kConsumerDurableNameNotMatchSubject,
      &kConsumerDurableNameNotSet,
      &kConsumerEphemeralWithDurableInSubject,
      &kConsumerEphemeralWithDurableName,
      &kInsufficientResources,
      &kInvalidJson,
      &kMaximumConsumersLimit,
      &kMaximumStreamsLimit,
      &kMirrorConsumerSetupFailed,
      &kNoMessageFound,
      &kNotEmptyRequest,
      &kNotEnabledForAccount,
      &kClusterPeerNotMember,
      &kSourceConsumerSetupFailed,
      &kStreamCreate,
      &kStreamInvalidConfig,
      &kStreamMessageExceedsMaximum,
      &kStreamMirrorNotUpdatable,
      &kStreamNameMismatch,
      &kStreamMsgDeleteFailed,
      &kStreamNameExists,
      &kStreamNotFound,
      &kStreamExpectedStreamMismatch,
      &kStreamSequenceNotMatch,
      &kStreamSubjectOverlap,
      &kStreamUpdate,
      &kStreamWrongLastMsgId,
      &kStreamWrongLastSequence,
      &kReplicasCountCannotBeNegative,
      &kNotEnabled,
      &kStreamStoreFailed,
      &kConsumerPullRequiresAck,
      &kStreamHeaderExceedsMaximum,
      &kStreamSealed,
      &kStreamPurgeNotPermitted,
      &kStreamRollupFailed,
      &kStreamOffline,
      &kConsumerOffline,
      &kConsumerCreateFilterSubjectMismatch,
      &kConsumerCreateDurableAndNameMismatch,
      &kConsumerMultipleFiltersNotAllowed,
      &kConsumerAlreadyExists,
      &kConsumerDoesNotExist,
  };
  for (const ErrorCode* e : kAll) {
    if (e->err_code == err_code) return e;
  }
  return nullptr;
}

std::string ResponseType(std::string_view type_suffix) {
  return "io.nats.jetstream.api.v1." + std::string(type_suffix);
}

std::string ErrorReplyBody(std::string_view type_suffix, const ApiError& error) {
  ErrorResponse response{ResponseType(type_suffix), error, {}};
  static constexpr std::array<std::string_view, 5> kPaged = {
      "stream_info_response", "stream_names_response", "stream_list_response",
      "consumer_names_response", "consumer_list_response"};
  for (std::string_view paged : kPaged) {
    if (paged == type_suffix) {
      response.unknown.Set("total", "0");
      response.unknown.Set("offset", "0");
      response.unknown.Set("limit", "0");
    }
  }
  return ToJson(response);
}

std::string PubAckErrorBody(std::string_view stream, const ApiError& error) {
  ErrorResponse response{"", error, {}};
  response.unknown.Set("stream",
                       nlohmann::json(std::string(stream))
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  response.unknown.Set("seq", "0");
  return ToJson(response);
}

}  // namespace meridian::jsapi
