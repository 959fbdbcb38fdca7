#include "rewrite/fanout.h"

#include <charconv>

#include "rewrite/headers.h"
#include "rewrite/json_util.h"

namespace meridian::rewrite {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

std::optional<std::uint64_t> ParseUnsigned(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// (time, seq) of a message found by one part, or nullopt when the part holds no message.
struct Stamp {
  std::int64_t time;
  std::uint64_t seq;
  auto operator<=>(const Stamp&) const = default;
};

std::optional<Stamp> MsgGetStamp(const FanOutPart& part) {
  auto j = ParseObject(part.body);
  if (!j || j->contains("error")) return std::nullopt;
  auto msg = j->find("message");
  if (msg == j->end() || !msg->is_object()) return std::nullopt;
  Stamp stamp{0, 0};
  auto seq = msg->find("seq");
  if (seq != msg->end() && seq->is_number_unsigned()) stamp.seq = seq->get<std::uint64_t>();
  if (const std::string* t = StringField(*msg, "time")) {
    stamp.time = ParseRfc3339Nanos(*t).value_or(0);
  }
  return stamp;
}

std::optional<Stamp> DirectGetStamp(const FanOutPart& part) {
  // A found message has a plain "NATS/1.0" status line; 404/408 carry a status code.
  const std::string_view h = part.headers;
  if (!h.starts_with("NATS/1.0\r\n")) return std::nullopt;
  Stamp stamp{0, 0};
  bool has_seq = false;
  bool ok = ForEachHeader(h, [&](const HeaderLine& line) {
    if (HeaderNameEquals(line.name, "Nats-Sequence")) {
      if (auto v = ParseUnsigned(line.value)) {
        stamp.seq = *v;
        has_seq = true;
      }
    } else if (HeaderNameEquals(line.name, "Nats-Time-Stamp")) {
      stamp.time = ParseRfc3339Nanos(line.value).value_or(0);
    }
  });
  if (!ok || !has_seq) return std::nullopt;
  return stamp;
}

}  // namespace

std::optional<std::int64_t> ParseRfc3339Nanos(std::string_view s) {
  unsigned year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, month) ||
      s[7] != '-' || !Digits(s, 8, 2, day) || s[10] != 'T' || !Digits(s, 11, 2, hour) ||
      s[13] != ':' || !Digits(s, 14, 2, minute) || s[16] != ':' || !Digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (s[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) nanos = nanos * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (std::size_t d = digits; d < 9; ++d) nanos *= 10;
  }
  if (pos + 1 != s.size() || s[pos] != 'Z') return std::nullopt;
  // Years past 2262 overflow int64 nanoseconds.
  if (year < 1 || year > 2262) return std::nullopt;
  const std::int64_t days = DaysFromCivil(year, month, day);
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second;
  if (secs > 9'223'372'035LL || secs < -9'223'372'035LL) return std::nullopt;
  return secs * 1'000'000'000LL + nanos;
}

std::optional<std::size_t> ChooseNewest(ReplyKind kind, std::span<const FanOutPart> parts) {
  std::optional<std::size_t> best, first_answer;
  std::optional<Stamp> best_stamp;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].answered) continue;
    if (!first_answer) first_answer = i;
    auto stamp = kind == ReplyKind::kDirectGet ? DirectGetStamp(parts[i]) : MsgGetStamp(parts[i]);
    if (stamp && (!best_stamp || *stamp > *best_stamp)) {
      best_stamp = stamp;
      best = i;
    }
  }
  return best ? best : first_answer;
}

std::uint32_t FanOutTable::Open(std::string_view client_reply, const ReplyPlan& merge,
                                std::size_t parts, TimePoint deadline) {
  if (groups_.size() >= max_groups_ || parts == 0) return 0;
  std::uint32_t id = next_id_;
  while (id == 0 || groups_.contains(id)) ++id;
  next_id_ = id + 1;
  Group& g = groups_[id];
  g.state.client_reply.assign(client_reply);
  g.state.merge = merge;
  g.state.parts.assign(parts, FanOutPart{});
  g.remaining = parts;
  g.deadline = deadline;
  return id;
}

std::optional<FanOutTable::Completed> FanOutTable::Deliver(std::uint32_t group, std::uint16_t part,
                                                           std::string_view headers,
                                                           std::string_view body) {
  auto it = groups_.find(group);
  if (it == groups_.end() || part >= it->second.state.parts.size()) return std::nullopt;
  FanOutPart& p = it->second.state.parts[part];
  if (p.answered) return std::nullopt;
  p.answered = true;
  p.headers.assign(headers);
  p.body.assign(body);
  if (--it->second.remaining > 0) return std::nullopt;
  Completed done = std::move(it->second.state);
  groups_.erase(it);
  return done;
}

std::vector<FanOutTable::Completed> FanOutTable::Expire(TimePoint now) {
  std::vector<Completed> out;
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (it->second.deadline <= now) {
      out.push_back(std::move(it->second.state));
      it = groups_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

}  // namespace meridian::rewrite
