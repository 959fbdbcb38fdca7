#include "jsapi/json.h"

#include <cctype>
#include <charconv>
#include <stdexcept>

#include "jsapi/codec.h"
#include "jsapi/visit.h"

namespace meridian::jsapi {
namespace {

using internal::Failure;
using internal::Json;

// Deeper documents are refused before parsing: nothing in the API nests past a handful of
// levels, and unbounded nesting would let a hostile peer exhaust the stack when unknown
// fields are re-serialized.
constexpr int kMaxDepth = 64;

std::optional<std::string> CheckDepth(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) {
        return "JSON nests deeper than " + std::to_string(kMaxDepth) + " levels at byte " +
               std::to_string(i);
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return std::nullopt;
}

// Parses text into a Json value, or returns a ParseError sentence.
std::variant<Json, ParseError> ParseText(std::string_view text) {
  if (auto deep = CheckDepth(text)) return ParseError{*deep};
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {  // parse_error, or out_of_range for huge numbers
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    return ParseError{"malformed JSON: " + what};
  }
}

template <typename T>
Result<T> ReadDocument(const Json& j) {
  try {
    T out;
    internal::ReadValue(j, "", out);
    return out;
  } catch (const Failure& f) {
    return ParseError{f.message};
  }
}

}  // namespace

template <typename T>
Result<T> FromJsonValue(const nlohmann::json& value) {
  return ReadDocument<T>(value);
}

template <typename T>
Result<T> Parse(std::string_view json_text) {
  auto parsed = ParseText(json_text);
  if (parsed.index() == 1) return std::get<1>(std::move(parsed));
  return ReadDocument<T>(std::get<0>(parsed));
}

template <typename T>
void ToJsonValue(const T& value, nlohmann::json& out) {
  try {
    out = internal::WriteValue(value);
  } catch (const Failure& f) {
    throw std::invalid_argument(f.message);
  }
}

template <typename T>
std::string ToJson(const T& value) {
  Json j;
  ToJsonValue(value, j);
  // Strings set by callers may hold invalid UTF-8 (e.g. subjects taken off the wire):
  // replace it with U+FFFD, as Go's encoder does, rather than throw.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

template <typename T>
Result<T> ParseRequestBody(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return T{};
  return Parse<T>(body);
}

template <typename T>
std::string ApiResponse<T>::ToJson() const {
  return is_error() ? jsapi::ToJson(error_response()) : jsapi::ToJson(body());
}

template <typename T>
Result<ApiResponse<T>> ParseApiResponse(std::string_view json_text) {
  auto parsed = ParseText(json_text);
  if (parsed.index() == 1) return std::get<1>(std::move(parsed));
  const Json& j = std::get<0>(parsed);
  if (j.is_object()) {
    auto it = j.find("error");
    if (it != j.end() && !it->is_null()) {
      auto error = ReadDocument<ErrorResponse>(j);
      if (!error) return error.error();
      return ApiResponse<T>(std::move(error).value());
    }
  }
  auto body = ReadDocument<T>(j);
  if (!body) return body.error();
  return ApiResponse<T>(std::move(body).value());
}

Result<PullRequest> ParsePullRequest(std::string_view body) {
  size_t begin = 0, end = body.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(body[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(body[end - 1]))) --end;
  const std::string_view trimmed = body.substr(begin, end - begin);
  PullRequest request;
  if (trimmed.empty()) {
    request.batch = 1;
    return request;
  }
  if (trimmed.front() != '{') {
    int64_t batch = 0;
    auto [ptr, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), batch);
    if (ec != std::errc() || ptr != trimmed.data() + trimmed.size() || batch < 0) {
      return ParseError{"pull request body is neither JSON nor a batch size: \"" +
                        std::string(trimmed.substr(0, 40)) + "\""};
    }
    request.batch = batch;
    return request;
  }
  return Parse<PullRequest>(trimmed);
}

#define MERIDIAN_JSAPI_INSTANTIATE(T)                         \
  template Result<T> Parse<T>(std::string_view);              \
  template Result<T> ParseRequestBody<T>(std::string_view);   \
  template Result<T> FromJsonValue<T>(const nlohmann::json&); \
  template std::string ToJson<T>(const T&);                   \
  template void ToJsonValue<T>(const T&, nlohmann::json&);
#define MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(T) \
  MERIDIAN_JSAPI_INSTANTIATE(T)                \
  template class ApiResponse<T>;               \
  template Result<ApiResponse<T>> ParseApiResponse<T>(std::string_view);

MERIDIAN_JSAPI_INSTANTIATE(ApiError)
MERIDIAN_JSAPI_INSTANTIATE(ErrorResponse)
MERIDIAN_JSAPI_INSTANTIATE(StreamConfig)
MERIDIAN_JSAPI_INSTANTIATE(StreamSource)
MERIDIAN_JSAPI_INSTANTIATE(StreamState)
MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(StreamInfo)
MERIDIAN_JSAPI_INSTANTIATE(StreamInfoRequest)
MERIDIAN_JSAPI_INSTANTIATE(StreamNamesRequest)
MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(StreamNamesResponse)
MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(StreamListResponse)
MERIDIAN_JSAPI_INSTANTIATE(PurgeRequest)
MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(PurgeResponse)
MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(SuccessResponse)
MERIDIAN_JSAPI_INSTANTIATE(ConsumerConfig)
MERIDIAN_JSAPI_INSTANTIATE(CreateConsumerRequest)
MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(ConsumerInfo)
MERIDIAN_JSAPI_INSTANTIATE(ConsumerNamesRequest)
MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(ConsumerNamesResponse)
MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(ConsumerListResponse)
MERIDIAN_JSAPI_INSTANTIATE(PullRequest)
MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(PubAck)
MERIDIAN_JSAPI_INSTANTIATE(MsgGetRequest)
MERIDIAN_JSAPI_INSTANTIATE(StoredMsg)
MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(MsgGetResponse)
MERIDIAN_JSAPI_INSTANTIATE_RESPONSE(AccountInfo)

#undef MERIDIAN_JSAPI_INSTANTIATE_RESPONSE
#undef MERIDIAN_JSAPI_INSTANTIATE

}  // namespace meridian::jsapi
