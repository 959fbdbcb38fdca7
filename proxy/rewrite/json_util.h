// JSON helpers private to the rewrite engine (not for other parts: this header pulls in
// nlohmann/json.hpp). ordered_json keeps the server's field order when a body is edited in
// place, and every key the engine does not touch survives as it was.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::rewrite {

using Json = nlohmann::ordered_json;

// Deeper documents are not parsed (forwarded as they are): JSON from a server is a few
// levels deep, and a bounded depth keeps recursive serialisation off a hostile stack.
inline constexpr std::size_t kMaxJsonDepth = 64;

// The parsed object, or nullopt when `text` is not one JSON object within kMaxJsonDepth.
std::optional<Json> ParseObject(std::string_view text);

// Compact JSON text, invalid UTF-8 replaced rather than thrown on.
std::string Dump(const Json& j);

// The string at j[key] when j is an object and it is a string, else nullptr.
const std::string* StringField(const Json& j, const char* key);

// JetStream-shaped error bodies.
Json ErrorObject(int code, int err_code, std::string_view description);
// {"type":"io.nats.jetstream.api.v1.<type_suffix>","error":{…}}
std::string ApiErrorBody(std::string_view type_suffix, int code, int err_code,
                         std::string_view description);
// {"error":{…},"stream":"<stream>","seq":0}, the shape of a failed PubAck.
std::string PubAckErrorBody(std::string_view stream, int code, int err_code,
                            std::string_view description);

// Standard base64 (padded), as the server encodes `hdrs` and `data`.
bool Base64Decode(std::string_view in, std::string& out);
void Base64Encode(std::string_view in, std::string& out);

}  // namespace meridian::rewrite
