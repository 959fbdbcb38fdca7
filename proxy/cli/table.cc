#include "cli/table.h"

#include <algorithm>
#include <cstdio>

namespace meridian::cli {

size_t DisplayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

std::string WithCommas(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string HumanDuration(int64_t nanos) {
  if (nanos < 0) nanos = -nanos;
  if (nanos == 0) return "0s";
  if (nanos < 1000) return std::to_string(nanos) + "ns";
  if (nanos < 1000000) return std::to_string(nanos / 1000) + "µs";
  if (nanos < 1000000000) return std::to_string(nanos / 1000000) + "ms";
  int64_t s = nanos / 1000000000;
  if (s < 60) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2fs", static_cast<double>(nanos) / 1e9);
    return buf;
  }
  if (s < 3600) return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h" + std::to_string((s % 3600) / 60) + "m";
  return std::to_string(s / 86400) + "d" + std::to_string((s % 86400) / 3600) + "h";
}

namespace {
std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}
std::string Pad(const std::string& s, size_t width) {
  size_t w = DisplayWidth(s);
  return s + std::string(width > w ? width - w : 0, ' ');
}
}  // namespace

std::string Table::Render() const {
  size_t cols = header_.size();
  for (const auto& r : rows_) cols = std::max(cols, r.size());
  cols = std::max(cols, footer_.size());
  std::vector<size_t> width(cols, 0);
  auto measure = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], DisplayWidth(r[i]));
  };
  measure(header_);
  for (const auto& r : rows_) measure(r);
  measure(footer_);
  size_t inner = 0;
  for (size_t w : width) inner += w + 3;
  if (inner > 0) inner -= 1;
  if (DisplayWidth(title_) + 2 > inner) {
    size_t extra = DisplayWidth(title_) + 2 - inner;
    if (cols > 0) width.back() += extra;
    inner += extra;
  }
  auto line = [&](const char* left, const char* mid, const char* right) {
    std::string out = left;
    for (size_t i = 0; i < cols; ++i) {
      out += Repeat("─", width[i] + 2);
      out += (i + 1 < cols) ? mid : right;
    }
    return out + "\n";
  };
  auto row = [&](const std::vector<std::string>& r) {
    std::string out = "│";
    for (size_t i = 0; i < cols; ++i) {
      out += " " + Pad(i < r.size() ? r[i] : "", width[i]) + " │";
    }
    return out + "\n";
  };
  std::string out;
  if (!title_.empty()) {
    out += "╭" + Repeat("─", inner) + "╮\n";
    size_t tw = DisplayWidth(title_);
    size_t left = (inner - tw) / 2;
    out += "│" + std::string(left, ' ') + title_ + std::string(inner - tw - left, ' ') + "│\n";
    out += line("├", "┬", "┤");
  } else {
    out += line("╭", "┬", "╮");
  }
  if (!header_.empty()) {
    out += row(header_);
    out += line("├", "┼", "┤");
  }
  for (const auto& r : rows_) out += row(r);
  if (!footer_.empty()) {
    out += line("├", "┼", "┤");
    out += row(footer_);
  }
  out += line("╰", "┴", "╯");
  return out;
}

}  // namespace meridian::cli
