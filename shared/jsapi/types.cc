#include "jsapi/types.h"

#include <array>
#include <cctype>
#include <cstdio>

#include "jsapi/json.h"

namespace meridian::jsapi {
namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

bool Digits(std::string_view s, size_t pos, size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

Timestamp Timestamp::FromUnixNanos(int64_t ns) {
  int64_t s = ns / 1'000'000'000;
  int64_t r = ns % 1'000'000'000;
  if (r < 0) {
    r += 1'000'000'000;
    --s;
  }
  return Timestamp{s, static_cast<uint32_t>(r)};
}

Timestamp Timestamp::FromSystemClock(std::chrono::system_clock::time_point tp) {
  return FromUnixNanos(
      std::chrono::duration_cast<std::chrono::nanoseconds>(tp.time_since_epoch()).count());
}

std::optional<Timestamp> Timestamp::Parse(std::string_view s) {
  unsigned year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, month) ||
      s[7] != '-' || !Digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, hour) || s[13] != ':' || !Digits(s, 14, 2, minute) || s[16] != ':' ||
      !Digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  static constexpr std::array<unsigned, 12> kMonthDays = {31, 29, 31, 30, 31, 30,
                                                          31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kMonthDays[month - 1] || hour > 23 ||
      minute > 59 || second > 59) {
    return std::nullopt;
  }
  size_t pos = 19;
  uint32_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 9) nanos = nanos * 10 + static_cast<uint32_t>(s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (size_t i = digits; i < 9; ++i) nanos *= 10;
  }
  int64_t offset_seconds = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    unsigned oh, om;
    if (!Digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_seconds = (s[pos] == '+' ? 1 : -1) * static_cast<int64_t>(oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  return Timestamp{secs, nanos};
}

std::string Timestamp::ToString() const {
  int64_t days = unix_seconds / 86400;
  int64_t rem = unix_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t year;
  unsigned month, day;
  CivilFromDays(days, year, month, day);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02u",
                        static_cast<long long>(year), month, day, static_cast<unsigned>(rem / 3600),
                        static_cast<unsigned>(rem / 60 % 60), static_cast<unsigned>(rem % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (nanos != 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09u", nanos);
    std::string f(frac);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += 'Z';
  return out;
}

const std::string* UnknownFields::Find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

void UnknownFields::Set(std::string key, std::string json_text) {
  for (auto& [k, v] : entries) {
    if (k == key) {
      v = std::move(json_text);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(json_text));
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kBase64Alphabet[v >> 18];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kBase64Alphabet[v >> 18];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    const size_t p = kBase64Alphabet.find(c);
    return p == std::string_view::npos ? -1 : static_cast<int>(p);
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<size_t>(k)];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[k] = value(c);
      if (v[k] < 0) return std::nullopt;
    }
    const uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                       (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out += static_cast<char>(n >> 16);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::string_view ToString(RetentionPolicy v) {
  switch (v) {
    case RetentionPolicy::kInterest:
      return "interest";
    case RetentionPolicy::kWorkQueue:
      return "workqueue";
    case RetentionPolicy::kLimits:
      break;
  }
  return "limits";
}
std::string_view ToString(StorageType v) {
  return v == StorageType::kMemory ? "memory" : "file";
}
std::string_view ToString(DiscardPolicy v) {
  return v == DiscardPolicy::kNew ? "new" : "old";
}
std::string_view ToString(Compression v) {
  return v == Compression::kS2 ? "s2" : "none";
}
std::string_view ToString(DeliverPolicy v) {
  switch (v) {
    case DeliverPolicy::kLast:
      return "last";
    case DeliverPolicy::kNew:
      return "new";
    case DeliverPolicy::kByStartSequence:
      return "by_start_sequence";
    case DeliverPolicy::kByStartTime:
      return "by_start_time";
    case DeliverPolicy::kLastPerSubject:
      return "last_per_subject";
    case DeliverPolicy::kAll:
      break;
  }
  return "all";
}
std::string_view ToString(AckPolicy v) {
  switch (v) {
    case AckPolicy::kAll:
      return "all";
    case AckPolicy::kExplicit:
      return "explicit";
    case AckPolicy::kNone:
      break;
  }
  return "none";
}
std::string_view ToString(ReplayPolicy v) {
  return v == ReplayPolicy::kOriginal ? "original" : "instant";
}

bool FromString(std::string_view s, RetentionPolicy& out) {
  if (s == "limits") return out = RetentionPolicy::kLimits, true;
  if (s == "interest") return out = RetentionPolicy::kInterest, true;
  if (s == "workqueue") return out = RetentionPolicy::kWorkQueue, true;
  return false;
}
bool FromString(std::string_view s, StorageType& out) {
  if (s == "file") return out = StorageType::kFile, true;
  if (s == "memory") return out = StorageType::kMemory, true;
  return false;
}
bool FromString(std::string_view s, DiscardPolicy& out) {
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "old") return out = DiscardPolicy::kOld, true;
  if (lower == "new") return out = DiscardPolicy::kNew, true;
  return false;
}
bool FromString(std::string_view s, Compression& out) {
  if (s == "none") return out = Compression::kNone, true;
  if (s == "s2") return out = Compression::kS2, true;
  return false;
}
bool FromString(std::string_view s, DeliverPolicy& out) {
  if (s == "all" || s == "undefined") return out = DeliverPolicy::kAll, true;
  if (s == "last") return out = DeliverPolicy::kLast, true;
  if (s == "new") return out = DeliverPolicy::kNew, true;
  if (s == "by_start_sequence") return out = DeliverPolicy::kByStartSequence, true;
  if (s == "by_start_time") return out = DeliverPolicy::kByStartTime, true;
  if (s == "last_per_subject") return out = DeliverPolicy::kLastPerSubject, true;
  return false;
}
bool FromString(std::string_view s, AckPolicy& out) {
  if (s == "none") return out = AckPolicy::kNone, true;
  if (s == "all") return out = AckPolicy::kAll, true;
  if (s == "explicit") return out = AckPolicy::kExplicit, true;
  return false;
}
bool FromString(std::string_view s, ReplayPolicy& out) {
  if (s == "instant") return out = ReplayPolicy::kInstant, true;
  if (s == "original") return out = ReplayPolicy::kOriginal, true;
  return false;
}

}  // namespace meridian::jsapi
