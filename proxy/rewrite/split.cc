// Split consumers: names, ack subjects, delivery renumbering, pull shares, reply merging.
#include "rewrite/split.h"

#include <algorithm>
#include <charconv>

#include "rewrite/api_subject.h"
#include "rewrite/json_util.h"

namespace meridian::rewrite {
namespace {

bool ParseU64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

void AppendU64(std::string& out, std::uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

bool IsError(const Json& j) {
  auto e = j.find("error");
  return e != j.end() && e->is_object();
}

std::uint64_t U64Field(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_number_integer()) {
    auto v = it->get<std::int64_t>();
    return v < 0 ? 0 : static_cast<std::uint64_t>(v);
  }
  return 0;
}

// "foo.east.test" -> "foo.test" when the token after a root prefix of `vs` is one of its
// regions; otherwise the filter as it is.
std::string VirtualFilter(const VirtualStream& vs, std::string_view stored) {
  for (const std::string& root : vs.subject_roots) {
    std::string_view prefix = std::string_view(root).substr(0, root.size() - 2);
    if (!stored.starts_with(prefix) || stored.size() <= prefix.size() ||
        stored[prefix.size()] != '.') {
      continue;
    }
    std::string_view rest = stored.substr(prefix.size() + 1);
    std::size_t dot = rest.find('.');
    if (dot == std::string_view::npos) continue;
    if (!vs.HasRegion(rest.substr(0, dot))) continue;
    return std::string(prefix) + std::string(rest.substr(dot));
  }
  return std::string(stored);
}

std::string TimeoutError(std::string_view type_suffix, std::string_view name) {
  return ApiErrorBody(type_suffix, 408, 10003,
                      "meridian: an origin consumer of split consumer \"" + std::string(name) +
                          "\" did not answer in time; try again");
}

}  // namespace

std::optional<std::string> RecordDeliver(std::string_view deliver,
                                         std::string_view client_description) {
  if (deliver.empty() || deliver.find_first_of(" ]") != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out(kDeliverRecordPrefix);
  out.append(deliver);
  out.push_back(']');
  if (!client_description.empty()) {
    out.push_back(' ');
    out.append(client_description);
  }
  if (out.size() > kMaxDescription) return std::nullopt;
  return out;
}

std::optional<DeliverRecord> ParseDeliverRecord(std::string_view description) {
  if (!description.starts_with(kDeliverRecordPrefix)) return std::nullopt;
  std::string_view rest = description.substr(kDeliverRecordPrefix.size());
  const std::size_t end = rest.find(']');
  if (end == 0 || end == std::string_view::npos) return std::nullopt;
  DeliverRecord r;
  r.deliver = rest.substr(0, end);
  if (r.deliver.find(' ') != std::string_view::npos) return std::nullopt;
  rest.remove_prefix(end + 1);
  if (!rest.empty()) {
    if (rest.front() != ' ') return std::nullopt;
    rest.remove_prefix(1);
  }
  r.description = rest;
  return r;
}

std::string OriginConsumerName(std::string_view name, std::string_view origin) {
  std::string out(name);
  out.append(kOriginSeparator);
  out.append(origin);
  return out;
}

std::optional<OriginConsumer> ParseOriginConsumer(const VirtualStream& vs, std::string_view name) {
  std::size_t sep = name.rfind(kOriginSeparator);
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  std::string_view region = name.substr(sep + kOriginSeparator.size());
  for (std::size_t i = 0; i < vs.regions.size(); ++i) {
    if (vs.regions[i] == region) {
      return OriginConsumer{name.substr(0, sep), static_cast<std::uint32_t>(i)};
    }
  }
  return std::nullopt;
}

std::optional<AckTokens> ParseAckV1(std::string_view subject) {
  constexpr std::string_view kPrefix = "$JS.ACK.";
  if (!subject.starts_with(kPrefix)) return std::nullopt;
  std::string_view rest = subject.substr(kPrefix.size());
  std::string_view tok[7];
  for (int i = 0; i < 7; ++i) {
    std::size_t dot = rest.find('.');
    if (i < 6) {
      if (dot == std::string_view::npos) return std::nullopt;
      tok[i] = rest.substr(0, dot);
      rest = rest.substr(dot + 1);
    } else {
      if (dot != std::string_view::npos) return std::nullopt;
      tok[i] = rest;
    }
    if (tok[i].empty()) return std::nullopt;
  }
  AckTokens t;
  t.stream = tok[0];
  t.consumer = tok[1];
  if (!ParseU64(tok[2], t.delivered) || !ParseU64(tok[3], t.stream_seq) ||
      !ParseU64(tok[4], t.consumer_seq) || !ParseU64(tok[5], t.timestamp) ||
      !ParseU64(tok[6], t.pending)) {
    return std::nullopt;
  }
  return t;
}

void FormatAckV1(const AckTokens& t, std::string& out) {
  out.assign("$JS.ACK.");
  out.append(t.stream);
  out.push_back('.');
  out.append(t.consumer);
  for (std::uint64_t n : {t.delivered, t.stream_seq, t.consumer_seq, t.timestamp, t.pending}) {
    out.push_back('.');
    AppendU64(out, n);
  }
}

// --- renumbering ------------------------------------------------------------------------------

DeliveryRenumber::DeliveryRenumber(std::size_t origins, std::size_t capacity)
    : ring_(capacity), pending_(origins, 0) {}

std::uint64_t DeliveryRenumber::Deliver(std::uint32_t origin, const AckTokens& t) {
  const std::uint64_t seq = next_++;
  if (origin < pending_.size()) pending_[origin] = t.pending;
  last_stream_seq_ = t.stream_seq;
  if (!ring_.empty()) {
    Entry& e = ring_[seq & (ring_.size() - 1)];
    e.client_seq = seq;
    e.origin_seq = t.consumer_seq;
    e.stream_seq = t.stream_seq;
    e.delivered = t.delivered;
    e.timestamp = t.timestamp;
    e.origin = origin;
  }
  return seq;
}

const DeliveryRenumber::Entry* DeliveryRenumber::Find(std::uint64_t client_seq) const {
  if (ring_.empty() || client_seq == 0) return nullptr;
  const Entry& e = ring_[client_seq & (ring_.size() - 1)];
  return e.client_seq == client_seq ? &e : nullptr;
}

const DeliveryRenumber::Entry* DeliveryRenumber::LatestAtOrBefore(std::uint32_t origin,
                                                                  std::uint64_t client_seq) const {
  if (ring_.empty()) return nullptr;
  client_seq = std::min(client_seq, next_ - 1);
  for (std::size_t n = 0; n < ring_.size() && client_seq > n; ++n) {
    const Entry* e = Find(client_seq - n);
    if (e == nullptr) return nullptr;  // older entries were overwritten
    if (e->origin == origin) return e;
  }
  return nullptr;
}

std::uint64_t DeliveryRenumber::pending() const {
  std::uint64_t sum = 0;
  for (std::uint64_t p : pending_) sum += p;
  return sum;
}

std::size_t RingCapacityFor(std::uint64_t max_ack_pending, std::size_t origins, std::size_t cap) {
  std::uint64_t want = max_ack_pending == 0 ? 1000 : max_ack_pending;
  want *= std::max<std::size_t>(origins, 1);
  std::size_t n = 16;
  while (n < want && n < cap) n <<= 1;
  return std::min(n, cap);
}

std::vector<std::uint64_t> PullShares(std::uint64_t remaining, std::size_t origins,
                                      std::size_t first) {
  std::vector<std::uint64_t> shares(origins, 0);
  if (origins == 0) return shares;
  const std::uint64_t each = remaining / origins;
  std::uint64_t extra = remaining % origins;
  for (std::size_t i = 0; i < origins; ++i) {
    std::size_t o = (first + i) % origins;
    shares[o] = each + (extra > 0 ? 1 : 0);
    if (extra > 0) --extra;
  }
  return shares;
}

// --- merging ----------------------------------------------------------------------------------

SplitMergeResult MergeSplitReplies(const SplitMergeInput& in) {
  SplitMergeResult out;
  const VirtualStream& vs = *in.stream;
  const std::size_t first_origin = in.op == SplitOp::kCreate ? 0 : 1;
  const char* type_suffix = in.op == SplitOp::kCreate ? "consumer_create_response"
                            : in.op == SplitOp::kInfo ? "consumer_info_response"
                                                      : "consumer_delete_response";
  // Nobody answered: neither does the sidecar (the client times out, as with a silent server).
  if (std::none_of(in.parts.begin(), in.parts.end(), [](auto& p) { return p.answered; })) {
    return out;
  }
  std::vector<std::optional<Json>> parsed(in.parts.size());
  for (std::size_t i = 0; i < in.parts.size(); ++i) {
    if (in.parts[i].answered) parsed[i] = ParseObject(in.parts[i].body);
  }

  if (in.op != SplitOp::kCreate && !in.parts.empty() && parsed[0] && !IsError(*parsed[0])) {
    out.body = in.parts[0].body;  // the unsplit consumer: the caller rewrites it as usual
    out.raw = true;
    return out;
  }
  // First origin error, in origin order; count the origins that answered with success.
  std::optional<std::size_t> first_error;
  std::size_t ok = 0;
  for (std::size_t i = first_origin; i < in.parts.size(); ++i) {
    if (parsed[i] && !IsError(*parsed[i])) {
      ++ok;
    } else if (!first_error) {
      first_error = i;
    }
  }
  const std::size_t origins = in.parts.size() - first_origin;
  if (ok < origins || origins == 0) {
    if (in.op != SplitOp::kCreate && ok == 0 && !in.parts.empty() && parsed[0]) {
      out.body = in.parts[0].body;  // neither form exists: the unsplit name's error
      out.raw = true;
      return out;
    }
    if (first_error && parsed[*first_error]) {
      out.body = in.parts[*first_error].body;
      out.raw = true;
    } else {
      out.body = TimeoutError(type_suffix, in.name);
    }
    return out;
  }
  if (in.op == SplitOp::kDelete) {
    Json j = Json::object();
    j["type"] = std::string(kApiTypePrefix) + type_suffix;
    j["success"] = true;
    out.body = Dump(j);
    return out;
  }

  // Create or info: origin 0's reply, with the client's view and the sums.
  Json merged = *parsed[first_origin];
  std::uint64_t delivered_c = 0, delivered_s = 0, floor_c = 0, floor_s = 0;
  std::uint64_t pending = 0, ack_pending = 0, redelivered = 0, waiting = 0;
  bool bound = false;
  for (std::size_t i = first_origin; i < in.parts.size(); ++i) {
    const Json& p = *parsed[i];
    if (auto d = p.find("delivered"); d != p.end() && d->is_object()) {
      delivered_c += U64Field(*d, "consumer_seq");
      delivered_s = std::max(delivered_s, U64Field(*d, "stream_seq"));
    }
    if (auto f = p.find("ack_floor"); f != p.end() && f->is_object()) {
      floor_c += U64Field(*f, "consumer_seq");
      floor_s = std::max(floor_s, U64Field(*f, "stream_seq"));
    }
    pending += U64Field(p, "num_pending");
    ack_pending += U64Field(p, "num_ack_pending");
    redelivered += U64Field(p, "num_redelivered");
    waiting = std::max(waiting, U64Field(p, "num_waiting"));
    if (auto b = p.find("push_bound"); b != p.end() && b->is_boolean() && b->get<bool>()) {
      bound = true;
    }
  }
  merged["stream_name"] = vs.name;
  merged["name"] = std::string(in.name);
  if (auto d = merged.find("delivered"); d != merged.end() && d->is_object()) {
    (*d)["consumer_seq"] = delivered_c;
    (*d)["stream_seq"] = delivered_s;
  }
  if (auto f = merged.find("ack_floor"); f != merged.end() && f->is_object()) {
    (*f)["consumer_seq"] = floor_c;
    (*f)["stream_seq"] = floor_s;
  }
  if (merged.contains("num_pending")) merged["num_pending"] = pending;
  if (merged.contains("num_ack_pending")) merged["num_ack_pending"] = ack_pending;
  if (merged.contains("num_redelivered")) merged["num_redelivered"] = redelivered;
  if (merged.contains("num_waiting")) merged["num_waiting"] = waiting;
  if (merged.contains("push_bound") || bound) merged["push_bound"] = bound;
  if (auto c = merged.find("config"); c != merged.end() && c->is_object()) {
    Json& config = *c;
    if (config.contains("name")) config["name"] = std::string(in.name);
    if (const std::string* d = StringField(config, "durable_name")) {
      (void)d;
      config["durable_name"] = std::string(in.name);
      out.durable = true;
    }
    if (const std::string* f = StringField(config, "filter_subject")) {
      config["filter_subject"] =
          in.client_filter.empty() ? VirtualFilter(vs, *f) : std::string(in.client_filter);
    }
    if (const std::string* d = StringField(config, "deliver_subject")) {
      out.push = true;
      out.stored_deliver = *d;
      if (!in.client_deliver.empty()) config["deliver_subject"] = std::string(in.client_deliver);
    }
    const std::string* ack = StringField(config, "ack_policy");
    out.ack_all = ack && *ack == "all";
    out.ack_none = ack == nullptr || *ack == "none";
    out.max_ack_pending = U64Field(config, "max_ack_pending");
    if (const std::string* g = StringField(config, "deliver_group")) out.deliver_group = *g;
    if (const std::string* desc = StringField(config, "description")) {
      if (auto record = ParseDeliverRecord(*desc)) {
        out.recorded_deliver.assign(record->deliver);
        if (record->description.empty()) {
          config.erase("description");
        } else {
          config["description"] = std::string(record->description);
        }
      }
    }
  }
  out.split_exists = true;
  out.body = Dump(merged);
  return out;
}

}  // namespace meridian::rewrite
