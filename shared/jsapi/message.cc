#include "jsapi/message.h"

#include <charconv>

namespace meridian::jsapi {

void AppendPubAckText(const PubAck& ack, std::string& out) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, ack.seq);
  (void)ec;  // 24 bytes always hold a uint64
  out += R"({"stream":")";
  out += ack.stream;
  out += '"';
  if (!ack.domain.empty()) {
    out += R"(, "domain":")";
    out += ack.domain;
    out += '"';
  }
  out += R"(, "seq":)";
  out.append(digits, end);
  if (ack.duplicate) out += R"(,"duplicate": true)";
  out += '}';
}

namespace {

bool Consume(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

// A string body up to the closing quote; names with escapes are left to the full parser.
bool ConsumeString(std::string_view& s, std::string_view& out) {
  const size_t end = s.find_first_of("\"\\");
  if (end == std::string_view::npos || s[end] != '"') return false;
  out = s.substr(0, end);
  s.remove_prefix(end + 1);
  return true;
}

}  // namespace

std::optional<PubAckView> ScanPubAckText(std::string_view s) {
  PubAckView v;
  if (!Consume(s, R"({"stream":")") || !ConsumeString(s, v.stream)) return std::nullopt;
  if (Consume(s, R"(, "domain":")") && !ConsumeString(s, v.domain)) return std::nullopt;
  if (!Consume(s, R"(, "seq":)")) return std::nullopt;
  // JSON numbers have no leading zeros and the server never writes one: "007" is not its text.
  if (s.size() > 1 && s[0] == '0' && s[1] >= '0' && s[1] <= '9') return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v.seq);
  if (ec != std::errc() || ptr == s.data()) return std::nullopt;
  s.remove_prefix(static_cast<size_t>(ptr - s.data()));
  v.duplicate = Consume(s, R"(,"duplicate": true)");
  if (s != "}") return std::nullopt;
  return v;
}

std::string MsgGetRequest::CheckCombination() const {
  const bool has_seq = seq > 0;
  const bool has_last = !last_by_subj.empty();
  const bool has_next = !next_by_subj.empty();
  if (!has_seq && !has_last && !has_next) {
    return "the request names no message: set seq, last_by_subj or next_by_subj";
  }
  if (has_last && has_seq) return "last_by_subj cannot be combined with seq";
  if (has_last && has_next) return "last_by_subj cannot be combined with next_by_subj";
  return {};
}

}  // namespace meridian::jsapi
