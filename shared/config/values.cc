#include "config/values.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace meridian::config {
namespace {

bool ParsePort(std::string_view text, uint16_t& out) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value > 65535) return false;
  out = static_cast<uint16_t>(value);
  return true;
}

bool ValidHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return true;
}

bool ValidIpv6(std::string_view host) {
  if (host.empty() || host.find(':') == std::string_view::npos) return false;
  for (char c : host) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  }
  return true;
}

}  // namespace

std::optional<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  if (text == "0") return std::chrono::nanoseconds(0);
  if (text.empty()) return std::nullopt;
  long double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
      ++i;
    }
    if (i == start) return std::nullopt;
    const std::string number(text.substr(start, i - start));
    if (number.front() == '.' || number.back() == '.' || number.find('.') != number.rfind('.')) {
      return std::nullopt;
    }
    const long double value = std::strtold(number.c_str(), nullptr);
    const size_t unit_start = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) &&
           text[i] != '.') {
      ++i;
    }
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    long double scale;
    if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "s") {
      scale = 1e9;
    } else if (unit == "m") {
      scale = 60e9;
    } else if (unit == "h") {
      scale = 3600e9;
    } else {
      return std::nullopt;
    }
    total += value * scale;
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(total)));
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string out;
  if (ns < 0) {
    out = "-";
    ns = -ns;
  }
  if (ns % 1'000'000'000 != 0 && ns < 1'000'000'000) {
    if (ns % 1'000'000 == 0) return out + std::to_string(ns / 1'000'000) + "ms";
    if (ns % 1'000 == 0) return out + std::to_string(ns / 1'000) + "us";
    return out + std::to_string(ns) + "ns";
  }
  const int64_t h = ns / 3'600'000'000'000;
  const int64_t m = ns / 60'000'000'000 % 60;
  const int64_t s = ns / 1'000'000'000 % 60;
  const int64_t frac = ns % 1'000'000'000;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (s || frac) {
    out += std::to_string(s);
    if (frac) {
      std::string f = std::to_string(frac);
      f = std::string(9 - f.size(), '0') + f;
      while (f.back() == '0') f.pop_back();
      out += "." + f;
    }
    out += "s";
  }
  return out;
}

std::optional<ByteSize> ParseByteSize(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return std::nullopt;
  uint64_t number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, number);
  if (ec != std::errc()) return std::nullopt;
  size_t u = i;
  if (u < text.size() && text[u] == ' ') ++u;
  std::string unit;
  for (char c : text.substr(u))
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.empty() && u != i) return std::nullopt;  // trailing space
  uint64_t scale = 0;
  if (unit.empty() || unit == "b") {
    scale = 1;
  } else {
    static constexpr std::string_view kPrefixes = "kmgt";
    const size_t p = unit.size() >= 2 ? kPrefixes.find(unit[0]) : std::string_view::npos;
    if (p == std::string_view::npos) return std::nullopt;
    const std::string_view rest = std::string_view(unit).substr(1);
    const uint64_t base = rest == "b" ? 1000 : rest == "ib" ? 1024 : 0;
    if (base == 0) return std::nullopt;
    scale = 1;
    for (size_t k = 0; k <= p; ++k) scale *= base;
  }
  if (number > std::numeric_limits<uint64_t>::max() / scale) return std::nullopt;
  return ByteSize{number * scale};
}

std::string HostPort::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<HostPort> ParseHostPort(std::string_view text) {
  HostPort out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    out.host = std::string(text.substr(1, close - 1));
    if (!ValidIpv6(out.host)) return std::nullopt;
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    out.host = std::string(text.substr(0, colon));
    if (!ValidHostName(out.host)) return std::nullopt;
    port = text.substr(colon + 1);
  }
  if (!ParsePort(port, out.port)) return std::nullopt;
  return out;
}

std::string NatsUrl::ToString() const {
  return scheme + "://" + address.ToString();
}

std::optional<NatsUrl> ParseNatsUrl(std::string_view text) {
  NatsUrl out;
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  out.scheme = std::string(text.substr(0, sep));
  if (out.scheme != "nats" && out.scheme != "tls") return std::nullopt;
  std::string_view rest = text.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view creds = rest.substr(0, at);
    const size_t colon = creds.find(':');
    out.user = std::string(creds.substr(0, colon));
    if (colon != std::string_view::npos) out.password = std::string(creds.substr(colon + 1));
    if (out.user.empty()) return std::nullopt;
    rest = rest.substr(at + 1);
  }
  const bool bracketed = !rest.empty() && rest.front() == '[';
  const size_t last_colon = rest.rfind(':');
  const bool has_port =
      bracketed ? rest.find("]:") != std::string_view::npos : last_colon != std::string_view::npos;
  auto hp = ParseHostPort(has_port ? std::string(rest) : std::string(rest) + ":4222");
  if (!hp) return std::nullopt;
  out.address = std::move(*hp);
  return out;
}

}  // namespace meridian::config
