#include "rewrite/headers.h"

namespace meridian::rewrite {
namespace {

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool HeaderNameEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> FindHeader(std::string_view block, std::string_view name) {
  std::optional<std::string_view> found;
  bool ok = ForEachHeader(block, [&](const HeaderLine& line) {
    if (!found && HeaderNameEquals(line.name, name)) found = line.value;
  });
  if (!ok) return std::nullopt;
  return found;
}

namespace detail {

bool ParseHeaderLine(std::string_view line, HeaderLine& out) {
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  out.name = line.substr(0, colon);
  for (char c : out.name) {
    if (c == ' ' || c == '\t') return false;
  }
  out.value = Trim(line.substr(colon + 1));
  return true;
}

std::size_t StatusLineLength(std::string_view block) {
  if (!block.starts_with("NATS/1.0")) return std::string_view::npos;
  std::size_t eol = block.find("\r\n");
  if (eol == std::string_view::npos) return std::string_view::npos;
  return eol + 2;
}

}  // namespace detail
}  // namespace meridian::rewrite
