// JSON in and out for every jsapi type, and JetStream API response handling.
//
// Parse<T>(text) reads one JSON object into T: wrong types, malformed JSON and bad enum
// values come back as a ParseError sentence, never as an exception. Keys T does not know are
// kept in T::unknown (recursively) and ToJson writes them back, so parse -> ToJson preserves
// every field a newer server sent. null is read as "absent", as Go does.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "jsapi/consumer.h"
#include "jsapi/error.h"
#include "jsapi/message.h"
#include "jsapi/stream.h"
#include "jsapi/types.h"

namespace meridian::jsapi {

// Defined for: ApiError, ErrorResponse, StreamConfig, StreamSource, StreamState, StreamInfo,
// StreamInfoRequest, StreamNamesRequest, StreamNamesResponse, StreamListResponse,
// PurgeRequest, PurgeResponse, SuccessResponse, ConsumerConfig, CreateConsumerRequest,
// ConsumerInfo, ConsumerNamesRequest, ConsumerNamesResponse, ConsumerListResponse,
// PullRequest, PubAck, MsgGetRequest, StoredMsg, MsgGetResponse, AccountInfo.
template <typename T>
Result<T> Parse(std::string_view json_text);
template <typename T>
Result<T> FromJsonValue(const nlohmann::json& value);
// For request bodies that may be empty (STREAM.INFO, NAMES, LIST, PURGE, ...): zero bytes or
// only whitespace give T{}; anything else is Parse<T>.
template <typename T>
Result<T> ParseRequestBody(std::string_view body);

// Compact JSON text / a JSON value for any of the types Parse accepts. Invalid UTF-8 in a
// string is written as U+FFFD. Throws std::invalid_argument only when an UnknownFields entry
// set by the caller is not valid JSON text.
template <typename T>
std::string ToJson(const T& value);
template <typename T>
void ToJsonValue(const T& value, nlohmann::json& out);

// A JetStream API reply: either the typed body or, when the reply has an "error" key, the
// ErrorResponse. Instantiated for the response types (StreamInfo, StreamNamesResponse,
// StreamListResponse, PurgeResponse, SuccessResponse, ConsumerInfo, ConsumerNamesResponse,
// ConsumerListResponse, PubAck, MsgGetResponse, AccountInfo). Parse failures of either shape are a
// ParseError from ParseApiResponse.
template <typename T>
class ApiResponse {
 public:
  explicit ApiResponse(T body) : v_(std::move(body)) {}
  explicit ApiResponse(ErrorResponse error) : v_(std::move(error)) {}
  bool is_error() const { return v_.index() == 1; }
  T& body() { return std::get<0>(v_); }
  const T& body() const { return std::get<0>(v_); }
  ErrorResponse& error_response() { return std::get<1>(v_); }
  const ErrorResponse& error_response() const { return std::get<1>(v_); }
  const ApiError& error() const { return std::get<1>(v_).error; }
  // Serializes whichever alternative is held.
  std::string ToJson() const;

 private:
  std::variant<T, ErrorResponse> v_;
};

template <typename T>
Result<ApiResponse<T>> ParseApiResponse(std::string_view json_text);

// Reads a CONSUMER.MSG.NEXT body: empty (batch 1), a decimal integer (that batch), or JSON.
Result<PullRequest> ParsePullRequest(std::string_view body);

// Enum <-> wire string. Parse functions return false for an unknown string.
std::string_view ToString(RetentionPolicy v);
std::string_view ToString(StorageType v);
std::string_view ToString(DiscardPolicy v);
std::string_view ToString(Compression v);
std::string_view ToString(DeliverPolicy v);
std::string_view ToString(AckPolicy v);
std::string_view ToString(ReplayPolicy v);
bool FromString(std::string_view s, RetentionPolicy& out);
bool FromString(std::string_view s, StorageType& out);
bool FromString(std::string_view s, DiscardPolicy& out);  // case-insensitive, as the server
bool FromString(std::string_view s, Compression& out);
bool FromString(std::string_view s, DeliverPolicy& out);  // "undefined" reads as all
bool FromString(std::string_view s, AckPolicy& out);
bool FromString(std::string_view s, ReplayPolicy& out);

// Standard padded base64 (the encoding of MSG.GET hdrs/data).
std::string Base64Encode(std::string_view bytes);
// nullopt when `text` is not valid padded standard base64.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace meridian::jsapi
