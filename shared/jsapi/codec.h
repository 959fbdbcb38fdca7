// Internal to meridian_jsapi (includes nlohmann/json.hpp): the field-by-field reader and
// writer that every type's Visit() function drives. Not for use outside shared/jsapi.
#pragma once

#include <concepts>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "jsapi/json.h"
#include "jsapi/types.h"

namespace meridian::jsapi::internal {

using Json = nlohmann::json;

// Thrown inside the codec only; Parse turns it into a ParseError.
struct Failure {
  std::string message;
};

[[noreturn]] void Fail(const std::string& path, std::string_view what, const Json& got);
std::string Describe(const Json& value);  // "string \"x\"", "an array", ...
inline std::string Child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

template <typename T>
concept JsonStruct = requires(T t) {
  { t.unknown } -> std::convertible_to<UnknownFields>;
};

// ---- values ----------------------------------------------------------------------------
// Every template is declared before any is defined, so nested containers find each other.

template <typename T>
void ReadValue(const Json& j, const std::string& path, std::vector<T>& out);
template <typename T>
void ReadValue(const Json& j, const std::string& path, std::map<std::string, T>& out);
template <typename T>
void ReadValue(const Json& j, const std::string& path, std::optional<T>& out);
template <typename T>
Json WriteValue(const std::vector<T>& v);
template <typename T>
Json WriteValue(const std::map<std::string, T>& v);
template <typename T>
Json WriteValue(const std::optional<T>& v);

void ReadValue(const Json& j, const std::string& path, std::string& out);
void ReadValue(const Json& j, const std::string& path, bool& out);
void ReadValue(const Json& j, const std::string& path, Nanos& out);
void ReadValue(const Json& j, const std::string& path, Timestamp& out);
void ReadInteger(const Json& j, const std::string& path, int64_t min, uint64_t max, bool& negative,
                 uint64_t& magnitude);

template <typename I>
requires(std::is_integral_v<I> &&
         !std::is_same_v<I, bool>) void ReadValue(const Json& j, const std::string& path, I& out) {
  bool negative = false;
  uint64_t magnitude = 0;
  ReadInteger(j, path, static_cast<int64_t>(std::numeric_limits<I>::min()),
              static_cast<uint64_t>(std::numeric_limits<I>::max()), negative, magnitude);
  out = negative ? static_cast<I>(-static_cast<int64_t>(magnitude - 1) - 1)
                 : static_cast<I>(magnitude);
}

template <typename E>
requires std::is_enum_v<E>
void ReadValue(const Json& j, const std::string& path, E& out) {
  if (!j.is_string() || !FromString(j.get_ref<const std::string&>(), out)) {
    Fail(path, "is not a valid value", j);
  }
}

template <JsonStruct T>
void ReadValue(const Json& j, const std::string& path, T& out);

template <typename T>
void ReadValue(const Json& j, const std::string& path, std::vector<T>& out) {
  if (!j.is_array()) Fail(path, "expected an array", j);
  out.clear();
  out.resize(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    ReadValue(j[i], path + "[" + std::to_string(i) + "]", out[i]);
  }
}

template <typename T>
void ReadValue(const Json& j, const std::string& path, std::map<std::string, T>& out) {
  if (!j.is_object()) Fail(path, "expected an object", j);
  out.clear();
  for (const auto& [key, value] : j.items()) {
    ReadValue(value, path + "[\"" + key + "\"]", out[key]);
  }
}

template <typename T>
void ReadValue(const Json& j, const std::string& path, std::optional<T>& out) {
  out.emplace();
  ReadValue(j, path, *out);
}

inline Json WriteValue(const std::string& v) {
  return v;
}
inline Json WriteValue(bool v) {
  return v;
}
inline Json WriteValue(Nanos v) {
  return static_cast<int64_t>(v.count());
}
inline Json WriteValue(const Timestamp& v) {
  return v.ToString();
}
template <typename I>
requires(std::is_integral_v<I> && !std::is_same_v<I, bool>) Json WriteValue(I v) {
  return v;
}
template <typename E>
requires std::is_enum_v<E> Json WriteValue(E v) {
  return std::string(ToString(v));
}
template <JsonStruct T>
Json WriteValue(const T& v);
template <typename T>
Json WriteValue(const std::vector<T>& v) {
  Json j = Json::array();
  for (const auto& e : v) j.push_back(WriteValue(e));
  return j;
}
template <typename T>
Json WriteValue(const std::map<std::string, T>& v) {
  Json j = Json::object();
  for (const auto& [key, value] : v) j[key] = WriteValue(value);
  return j;
}
template <typename T>
Json WriteValue(const std::optional<T>& v) {
  return v ? WriteValue(*v) : Json(nullptr);
}

// "Empty" in the Go omitempty sense (plus: an unset optional).
inline bool IsEmpty(const std::string& v) {
  return v.empty();
}
inline bool IsEmpty(bool v) {
  return !v;
}
inline bool IsEmpty(Nanos v) {
  return v.count() == 0;
}
template <typename I>
requires(std::is_arithmetic_v<I> || std::is_enum_v<I>) bool IsEmpty(I v) {
  return v == I{};
}
template <typename T>
bool IsEmpty(const std::vector<T>& v) {
  return v.empty();
}
template <typename T>
bool IsEmpty(const std::map<std::string, T>& v) {
  return v.empty();
}
template <typename T>
bool IsEmpty(const std::optional<T>& v) {
  return !v.has_value();
}

// ---- objects ---------------------------------------------------------------------------

// Visitor that reads fields from a JSON object and remembers which keys it used.
class ObjectReader {
 public:
  ObjectReader(const Json& j, const std::string& path) : j_(j), path_(path) {
    if (!j.is_object()) Fail(path, "expected a JSON object", j);
  }

  template <typename T>
  void Always(const char* key, T& out) {
    Field(key, out);
  }
  template <typename T>
  void Omit(const char* key, T& out) {
    Field(key, out);
  }
  // A list that nats-server writes as null when empty.
  template <typename T>
  void NullWhenEmpty(const char* key, std::vector<T>& out) {
    Field(key, out);
  }
  // Bytes carried as base64 (omitempty).
  void Base64(const char* key, std::string& out);
  // total/offset/limit at this level.
  void Paged(std::optional<Paging>& out);
  void Paged(Paging& out);

  void Finish(UnknownFields& unknown) const;

 private:
  template <typename T>
  void Field(const char* key, T& out) {
    used_.push_back(key);
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return;  // Go treats null as absent
    ReadValue(*it, Child(path_, key), out);
  }

  const Json& j_;
  const std::string& path_;
  std::vector<std::string_view> used_;
};

// Visitor that writes fields into a JSON object following nats-server's omit-empty rules.
class ObjectWriter {
 public:
  explicit ObjectWriter(Json& j) : j_(j) { j_ = Json::object(); }

  template <typename T>
  void Always(const char* key, const T& v) {
    j_[key] = WriteValue(v);
  }
  template <typename T>
  void Omit(const char* key, const T& v) {
    if (!IsEmpty(v)) j_[key] = WriteValue(v);
  }
  template <typename T>
  void NullWhenEmpty(const char* key, const std::vector<T>& v) {
    j_[key] = v.empty() ? Json(nullptr) : WriteValue(v);
  }
  void Base64(const char* key, const std::string& v);
  void Paged(const std::optional<Paging>& v);
  void Paged(const Paging& v);

  // Unknown fields never override a known one of the same name.
  void Finish(const UnknownFields& unknown);

 private:
  Json& j_;
};

}  // namespace meridian::jsapi::internal
