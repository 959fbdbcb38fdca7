// NATS header block helpers.
#include <string>
#include <string_view>

#include "jetstream/internal.h"

namespace meridian::jetstream {

std::optional<std::string_view> HeaderValue(std::string_view block, std::string_view key) {
  size_t pos = block.find("\r\n");
  if (pos == std::string_view::npos) return std::nullopt;
  pos += 2;
  while (pos < block.size()) {
    size_t end = block.find("\r\n", pos);
    if (end == std::string_view::npos) end = block.size();
    std::string_view line = block.substr(pos, end - pos);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && line.substr(0, colon) == key) {
      std::string_view v = line.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return v;
    }
    pos = end + 2;
  }
  return std::nullopt;
}

PubHeaders ParsePubHeaders(std::string_view block) {
  PubHeaders h;
  size_t pos = block.find("\r\n");
  if (pos == std::string_view::npos) return h;
  pos += 2;
  while (pos < block.size()) {
    size_t end = block.find("\r\n", pos);
    if (end == std::string_view::npos) end = block.size();
    std::string_view line = block.substr(pos, end - pos);
    if (line.empty()) break;
    pos = end + 2;
    if (!line.starts_with("Nats-")) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(5, colon - 5);
    std::optional<std::string_view>* slot = nullptr;
    if (key == "Msg-Id") {
      slot = &h.msg_id;
    } else if (key == "Rollup") {
      slot = &h.rollup;
    } else if (key == "Expected-Stream") {
      slot = &h.expected_stream;
    } else if (key == "Expected-Last-Sequence") {
      slot = &h.expected_last_seq;
    } else if (key == "Expected-Last-Subject-Sequence") {
      slot = &h.expected_last_subject_seq;
    } else if (key == "Expected-Last-Msg-Id") {
      slot = &h.expected_last_msg_id;
    }
    if (slot == nullptr || slot->has_value()) continue;  // the first occurrence counts
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    *slot = v;
  }
  return h;
}

std::string AppendHeaders(std::string_view block,
                          const std::vector<std::pair<std::string, std::string>>& add) {
  std::string out;
  if (block.size() >= 4 && block.substr(block.size() - 4) == "\r\n\r\n") {
    out.assign(block.substr(0, block.size() - 2));
  } else {
    out = "NATS/1.0\r\n";
  }
  for (const auto& [k, v] : add) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

std::string StatusBlock(int code, std::string_view text,
                        const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string out = "NATS/1.0 " + std::to_string(code);
  if (!text.empty()) {
    out += ' ';
    out += text;
  }
  out += "\r\n";
  for (const auto& [k, v] : extra) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

}  // namespace meridian::jetstream
