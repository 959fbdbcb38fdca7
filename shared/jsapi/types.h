// Building blocks shared by every JetStream API type: parse results, timestamps, the bag of
// fields a newer server sent that we do not know, and the JSON entry points.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace meridian::jsapi {

// Durations travel as integer nanoseconds (Go time.Duration).
using Nanos = std::chrono::nanoseconds;

// A parse failure: one sentence naming the JSON path and what was wrong, e.g.
// `config.max_msgs: expected an integer, got string "x"`.
struct ParseError {
  std::string message;
};

// Either a parsed value or a ParseError. Parsing never throws and never crashes on bad input.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT(google-explicit-constructor)
  Result(ParseError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // Precondition: ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // Precondition: !ok().
  const ParseError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ParseError> v_;
};

// A point in time as nats-server writes it: RFC 3339 in UTC with up to nine fraction digits,
// trailing zeros trimmed. The default value is Go's zero time, "0001-01-01T00:00:00Z".
struct Timestamp {
  static constexpr int64_t kGoZeroSeconds = -62135596800;  // 0001-01-01T00:00:00Z
  int64_t unix_seconds = kGoZeroSeconds;
  uint32_t nanos = 0;  // 0..999'999'999

  static Timestamp FromUnixNanos(int64_t ns);
  static Timestamp FromSystemClock(std::chrono::system_clock::time_point tp);
  // Parses RFC 3339 (any offset, normalised to UTC); nullopt when the text is not RFC 3339.
  static std::optional<Timestamp> Parse(std::string_view text);
  std::string ToString() const;
  bool IsGoZero() const { return unix_seconds == kGoZeroSeconds && nanos == 0; }
  bool operator==(const Timestamp&) const = default;
  auto operator<=>(const Timestamp&) const = default;
};

// Fields of a JSON object that the type did not recognise, kept (in key order) as
// (key, compact JSON text) so that a parse followed by a serialize loses nothing a newer
// server (or client) sent. Serialization writes them back beside the known fields.
struct UnknownFields {
  std::vector<std::pair<std::string, std::string>> entries;

  bool empty() const { return entries.empty(); }
  // The JSON text of a field, or nullptr.
  const std::string* Find(std::string_view key) const;
  // Adds or replaces a field; json_text must be one valid JSON value.
  void Set(std::string key, std::string json_text);
  bool operator==(const UnknownFields&) const = default;
};

}  // namespace meridian::jsapi
