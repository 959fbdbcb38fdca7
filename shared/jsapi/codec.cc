#include "jsapi/codec.h"

namespace meridian::jsapi::internal {

std::string Describe(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string: {
      std::string s = value.dump();
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      return "string " + s;
    }
    case Json::value_t::number_float:
      return "number " + value.dump();
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer " + value.dump();
    default:
      return "an unsupported value";
  }
}

void Fail(const std::string& path, std::string_view what, const Json& got) {
  throw Failure{(path.empty() ? std::string("document") : path) + ": " + std::string(what) +
                ", got " + Describe(got)};
}

void ReadValue(const Json& j, const std::string& path, std::string& out) {
  if (!j.is_string()) Fail(path, "expected a string", j);
  out = j.get_ref<const std::string&>();
}

void ReadValue(const Json& j, const std::string& path, bool& out) {
  if (!j.is_boolean()) Fail(path, "expected true or false", j);
  out = j.get<bool>();
}

void ReadValue(const Json& j, const std::string& path, Nanos& out) {
  int64_t ns = 0;
  ReadValue(j, path, ns);
  out = Nanos(ns);
}

void ReadValue(const Json& j, const std::string& path, Timestamp& out) {
  if (!j.is_string()) Fail(path, "expected an RFC 3339 time string", j);
  auto ts = Timestamp::Parse(j.get_ref<const std::string&>());
  if (!ts) Fail(path, "expected an RFC 3339 time such as \"2026-11-23T00:20:22.58Z\"", j);
  out = *ts;
}

void ReadInteger(const Json& j, const std::string& path, int64_t min, uint64_t max, bool& negative,
                 uint64_t& magnitude) {
  if (j.is_number_unsigned()) {
    negative = false;
    magnitude = j.get<uint64_t>();
    if (magnitude > max) Fail(path, "is out of range", j);
    return;
  }
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v < min) Fail(path, "is out of range", j);
    negative = v < 0;
    magnitude = negative ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
    if (!negative && magnitude > max) Fail(path, "is out of range", j);
    return;
  }
  Fail(path, "expected an integer", j);
}

void ObjectReader::Base64(const char* key, std::string& out) {
  used_.push_back(key);
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return;
  const std::string path = Child(path_, key);
  if (!it->is_string()) Fail(path, "expected a base64 string", *it);
  auto bytes = Base64Decode(it->get_ref<const std::string&>());
  if (!bytes) Fail(path, "is not valid base64", *it);
  out = std::move(*bytes);
}

void ObjectReader::Paged(std::optional<Paging>& out) {
  if (j_.contains("total") || j_.contains("offset") || j_.contains("limit")) {
    out.emplace();
    Paged(*out);
  } else {
    used_.insert(used_.end(), {"total", "offset", "limit"});
  }
}

void ObjectReader::Paged(Paging& out) {
  Field("total", out.total);
  Field("offset", out.offset);
  Field("limit", out.limit);
}

void ObjectReader::Finish(UnknownFields& unknown) const {
  unknown.entries.clear();
  for (const auto& [key, value] : j_.items()) {
    bool known = false;
    for (std::string_view u : used_) {
      if (u == key) {
        known = true;
        break;
      }
    }
    if (!known) unknown.entries.emplace_back(key, value.dump());
  }
}

void ObjectWriter::Base64(const char* key, const std::string& v) {
  if (!v.empty()) j_[key] = Base64Encode(v);
}

void ObjectWriter::Paged(const std::optional<Paging>& v) {
  if (v) Paged(*v);
}

void ObjectWriter::Paged(const Paging& v) {
  j_["total"] = v.total;
  j_["offset"] = v.offset;
  j_["limit"] = v.limit;
}

void ObjectWriter::Finish(const UnknownFields& unknown) {
  for (const auto& [key, text] : unknown.entries) {
    if (j_.contains(key)) continue;
    Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
      throw Failure{"unknown field \"" + key + "\" does not hold valid JSON text"};
    }
    j_[key] = std::move(value);
  }
}

}  // namespace meridian::jsapi::internal
