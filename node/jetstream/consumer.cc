// Consumers: delivery, acks, pull requests, push flow control and heartbeats, persistence.
#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <string>

#include "jetstream/internal.h"
#include "jsapi/json.h"
#include "subject/subject.h"

namespace meridian::jetstream {

namespace {

constexpr int64_t kMaxFcWindow = 32 << 20;

uint64_t ToU64(std::string_view s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// Go's time.Duration.String() for the durations we print (whole units are enough for limits).
std::string GoDuration(int64_t ns) {
  if (ns == 0) return "0s";
  if (ns % 1'000'000'000 == 0) {
    int64_t s = ns / 1'000'000'000;
    std::string out;
    if (s >= 3600) out += std::to_string(s / 3600) + "h";
    if (s >= 60) out += std::to_string((s % 3600) / 60) + "m";
    out += std::to_string(s % 60) + "s";
    return out;
  }
  if (ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  if (ns % 1'000 == 0) return std::to_string(ns / 1'000) + "\xC2\xB5s";
  return std::to_string(ns) + "ns";
}

// Parses a Go duration such as "5s", "100ms", "1m30s", "1.5s". nullopt when malformed.
std::optional<int64_t> ParseGoDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    double value = 0;
    try {
      value = std::stod(std::string(s.substr(0, i)));
    } catch (...) {
      return std::nullopt;
    }
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && !((s[j] >= '0' && s[j] <= '9') || s[j] == '.')) ++j;
    std::string_view unit = s.substr(0, j);
    s.remove_prefix(j);
    double mult = 0;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else
      return std::nullopt;
    total += value * mult;
  }
  if (total > 9e18) return std::nullopt;
  return static_cast<int64_t>(total);
}

std::vector<std::string> FiltersOf(const jsapi::ConsumerConfig& c) {
  if (!c.filter_subjects.empty()) return c.filter_subjects;
  if (!c.filter_subject.empty()) return {c.filter_subject};
  return {""};
}

}  // namespace

Consumer::Consumer(Stream* stream, std::string name, jsapi::ConsumerConfig config,
                   int64_t created_ns)
    : id(stream->engine->next_consumer_id++),
      stream_(stream),
      name_(std::move(name)),
      config_(std::move(config)),
      created_ns_(created_ns) {
  last_active_ns_ = created_ns;
}

bool Consumer::persisted() const {
  return is_durable() && !stream_->dir.empty();
}

bool Consumer::Matches(std::string_view subject) const {
  if (!config_.filter_subjects.empty()) {
    for (const auto& f : config_.filter_subjects) {
      if (subject::SubjectMatches(f, subject)) return true;
    }
    return false;
  }
  return config_.filter_subject.empty() || subject::SubjectMatches(config_.filter_subject, subject);
}

bool Consumer::Needs(uint64_t seq, std::string_view subject) const {
  if (!Matches(subject)) return false;
  return seq >= next_sseq_ || initial_.count(seq) > 0 || pending_.count(seq) > 0;
}

void Consumer::InitStart(int64_t now_ns) {
  store::StoreState st = stream_->store->State();
  uint64_t first = st.msgs == 0 ? st.last_seq + 1 : st.first_seq;
  switch (config_.deliver_policy) {
    case jsapi::DeliverPolicy::kAll:
      next_sseq_ = first;
      break;
    case jsapi::DeliverPolicy::kNew:
      next_sseq_ = st.last_seq + 1;
      break;
    case jsapi::DeliverPolicy::kByStartSequence:
      next_sseq_ = std::max<uint64_t>(config_.opt_start_seq, 1);
      break;
    case jsapi::DeliverPolicy::kLast: {
      uint64_t last = 0;
      store::Message m;
      for (const auto& f : FiltersOf(config_)) {
        if (stream_->store->LoadLast(f, &m).ok()) last = std::max(last, m.seq);
      }
      next_sseq_ = last == 0 ? st.last_seq + 1 : last;
      break;
    }
    case jsapi::DeliverPolicy::kByStartTime: {
      int64_t start =
          config_.opt_start_time
              ? config_.opt_start_time->unix_seconds * 1'000'000'000 + config_.opt_start_time->nanos
              : 0;
      next_sseq_ = st.last_seq + 1;
      store::Message m;
      uint64_t seq = first;
      while (stream_->LoadNextIntact("", seq, &m).ok()) {
        if (m.timestamp_ns >= start) {
          next_sseq_ = m.seq;
          break;
        }
        seq = m.seq + 1;
      }
      break;
    }
    case jsapi::DeliverPolicy::kLastPerSubject: {
      for (const auto& f : FiltersOf(config_)) {
        for (const auto& ss : stream_->store->SubjectsState(f)) initial_.insert(ss.last_seq);
      }
      next_sseq_ = st.last_seq + 1;
      break;
    }
  }
  uint64_t start = initial_.empty() ? next_sseq_ : *initial_.begin();
  delivered_sseq_ = start > 0 ? start - 1 : 0;
  ack_floor_sseq_ = delivered_sseq_;
  last_active_ns_ = now_ns;
  Recount();
}

void Consumer::Recount() {
  uint64_t n = initial_.size();
  store::StoreState st = stream_->store->State();
  for (const auto& f : FiltersOf(config_)) {
    if (next_sseq_ <= st.first_seq) {
      n += stream_->store->NumMessages(f);
      continue;
    }
    store::Message m;
    uint64_t seq = next_sseq_;
    while (stream_->LoadNextIntact(f, seq, &m).ok()) {
      ++n;
      seq = m.seq + 1;
    }
  }
  num_pending_ = n;
}

void Consumer::OnStored(uint64_t seq, std::string_view subject) {
  if (seq >= next_sseq_ && Matches(subject)) ++num_pending_;
}

void Consumer::StreamPurged() {
  store::StoreState st = stream_->store->State();
  if (st.msgs == 0 || next_sseq_ < st.first_seq) {
    next_sseq_ = std::max(next_sseq_, st.msgs == 0 ? st.last_seq + 1 : st.first_seq);
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    store::Message m;
    if (!stream_->store->Load(it->first, &m).ok()) {
      deliveries_.erase(it->first);
      redeliver_.erase(it->first);
      redelivered_.erase(it->first);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = initial_.begin(); it != initial_.end();) {
    store::Message m;
    it = stream_->store->Load(*it, &m).ok() ? std::next(it) : initial_.erase(it);
  }
  if (delivered_sseq_ + 1 < next_sseq_ && pending_.empty()) delivered_sseq_ = next_sseq_ - 1;
  UpdateAckFloor();
  Recount();
  dirty_ = true;
}

int64_t Consumer::AckWaitFor(uint64_t deliveries) const {
  if (!config_.backoff.empty()) {
    size_t i = std::min<size_t>(deliveries == 0 ? 0 : deliveries - 1, config_.backoff.size() - 1);
    return config_.backoff[i].count();
  }
  return config_.ack_wait.count() > 0 ? config_.ack_wait.count() : 30'000'000'000;
}

bool Consumer::NextMessage(int64_t now_ns, store::Message* msg, bool* redelivery) {
  // Redeliveries first, in stream order.
  for (auto it = redeliver_.begin(); it != redeliver_.end();) {
    if (it->second > now_ns) {
      ++it;
      continue;
    }
    uint64_t seq = it->first;
    uint64_t dc = deliveries_[seq];
    if (config_.max_deliver > 0 && dc >= static_cast<uint64_t>(config_.max_deliver)) {
      // Max deliveries reached: stays unacknowledged, never delivered again.
      it = redeliver_.erase(it);
      pending_[seq].deadline_ns = INT64_MAX;
      continue;
    }
    if (!stream_->store->Load(seq, msg).ok()) {
      pending_.erase(seq);
      deliveries_.erase(seq);
      redelivered_.erase(seq);
      it = redeliver_.erase(it);
      UpdateAckFloor();
      continue;
    }
    *redelivery = true;
    return true;
  }
  if (config_.ack_policy != jsapi::AckPolicy::kNone && config_.max_ack_pending > 0 &&
      pending_.size() >= static_cast<uint64_t>(config_.max_ack_pending)) {
    return false;
  }
  *redelivery = false;
  while (!initial_.empty()) {
    if (stream_->store->Load(*initial_.begin(), msg).ok()) return true;
    initial_.erase(initial_.begin());
  }
  bool found = false;
  store::Message candidate;
  for (const auto& f : FiltersOf(config_)) {
    if (stream_->LoadNextIntact(f, next_sseq_, &candidate).ok() &&
        (!found || candidate.seq < msg->seq)) {
      *msg = std::move(candidate);
      found = true;
    }
  }
  return found;
}

void Consumer::Deliver(const store::Message& msg, bool redelivery, const std::string& to,
                       int64_t now_ns) {
  ++dseq_;
  const uint64_t dc = ++deliveries_[msg.seq];  // a copy: the entry may be erased below
  if (redelivery) {
    redeliver_.erase(msg.seq);
    redelivered_.insert(msg.seq);
  } else {
    if (!initial_.empty() && *initial_.begin() == msg.seq) {
      initial_.erase(initial_.begin());
    } else {
      next_sseq_ = msg.seq + 1;
    }
    delivered_sseq_ = std::max(delivered_sseq_, msg.seq);
    if (num_pending_ > 0) --num_pending_;
  }
  if (config_.ack_policy != jsapi::AckPolicy::kNone) {
    pending_[msg.seq] = PendingAck{dseq_, SatAdd(now_ns, AckWaitFor(dc))};
  } else {
    deliveries_.erase(msg.seq);
    ack_floor_sseq_ = delivered_sseq_;
    ack_floor_dseq_ = dseq_;
  }
  ack_scratch_ = "$JS.ACK.";
  ack_scratch_ += stream_->config.name;
  ack_scratch_ += '.';
  ack_scratch_ += name_;
  for (uint64_t v : {dc, msg.seq, dseq_, static_cast<uint64_t>(msg.timestamp_ns), num_pending_}) {
    ack_scratch_ += '.';
    ack_scratch_ += std::to_string(v);
  }
  if (config_.headers_only) {
    std::string h =
        AppendHeaders(msg.headers, {{"Nats-Msg-Size", std::to_string(msg.payload.size())}});
    stream_->engine->out->SendAs(to, msg.subject, ack_scratch_, h, {});
  } else {
    stream_->engine->out->SendAs(to, msg.subject, ack_scratch_, msg.headers, msg.payload);
  }
  last_active_ns_ = now_ns;
  last_delivery_ns_ = now_ns;
  dirty_ = true;
  if (config_.ack_policy == jsapi::AckPolicy::kNone &&
      stream_->config.retention != jsapi::RetentionPolicy::kLimits) {
    stream_->MaybeRemoveAcked(msg.seq, msg.subject);
  }
}

void Consumer::SendStatus(const std::string& to, int code, std::string_view text,
                          int64_t pending_msgs, int64_t pending_bytes, bool with_pending) {
  std::vector<std::pair<std::string, std::string>> extra;
  if (with_pending) {
    extra.emplace_back("Nats-Pending-Messages", std::to_string(pending_msgs));
    extra.emplace_back("Nats-Pending-Bytes", std::to_string(pending_bytes));
  }
  stream_->engine->out->Send(to, {}, StatusBlock(code, text, extra), {});
}

void Consumer::Heartbeat(const std::string& to, std::string_view stalled) {
  std::vector<std::pair<std::string, std::string>> extra = {
      {"Nats-Last-Consumer", std::to_string(dseq_)},
      {"Nats-Last-Stream", std::to_string(delivered_sseq_)}};
  if (!stalled.empty()) extra.emplace_back("Nats-Consumer-Stalled", std::string(stalled));
  stream_->engine->out->Send(to, {}, StatusBlock(100, "Idle Heartbeat", extra), {});
}

void Consumer::Pump(int64_t now_ns) {
  Outbound* out = stream_->engine->out;
  store::Message msg;
  bool redelivery = false;
  if (!is_pull()) {
    if (!out->HasInterest(config_.deliver_subject)) return;
    while (!(config_.flow_control && fc_unconfirmed_ > fc_window_)) {
      if (!NextMessage(now_ns, &msg, &redelivery)) return;
      Deliver(msg, redelivery, config_.deliver_subject, now_ns);
      if (config_.flow_control) {
        fc_unconfirmed_ +=
            static_cast<int64_t>(msg.subject.size() + msg.headers.size() + msg.payload.size());
        if (fc_reply_.empty() && fc_unconfirmed_ >= fc_window_ / 2) {
          fc_reply_ =
              "$JS.FC." + stream_->config.name + "." + name_ + "." + std::to_string(++fc_counter_);
          out->Send(config_.deliver_subject, fc_reply_, StatusBlock(100, "FlowControl Request"),
                    {});
        }
      }
    }
    return;
  }
  while (!waiting_.empty()) {
    PullWaiting w = std::move(waiting_.front());
    waiting_.pop_front();
    if (!out->HasInterest(w.reply)) continue;  // the requester went away
    if (!NextMessage(now_ns, &msg, &redelivery)) {
      waiting_.push_front(std::move(w));
      return;
    }
    int64_t size =
        static_cast<int64_t>(msg.subject.size() + msg.headers.size() + msg.payload.size() + 64);
    if (w.max_bytes > 0 && size > w.max_bytes) {
      SendStatus(w.reply, 409, "Message Size Exceeds MaxBytes", w.batch, w.max_bytes, true);
      continue;
    }
    Deliver(msg, redelivery, w.reply, now_ns);
    --w.batch;
    if (w.max_bytes > 0) w.max_bytes -= size;
    w.next_heartbeat_ns = w.heartbeat_ns > 0 ? SatAdd(now_ns, w.heartbeat_ns) : 0;
    if (w.no_wait) {
      // A no_wait request with expires that waited because nothing was available: it is a
      // one-shot, as in nats-server 2.9.10. It takes what else is available now and ends with
      // 408 and the pending counts instead of waiting to fill its batch.
      int64_t more = 0;
      if (w.batch > 0 && ServeAvailable(w, now_ns, &more) && w.batch > 0) {
        SendStatus(w.reply, 408, "Request Timeout", w.batch, w.max_bytes, true);
      }
      continue;
    }
    if (w.batch > 0) waiting_.push_back(std::move(w));  // round robin
  }
}

bool Consumer::ServeAvailable(PullWaiting& w, int64_t now_ns, int64_t* delivered) {
  store::Message msg;
  bool redelivery = false;
  while (w.batch > 0 && NextMessage(now_ns, &msg, &redelivery)) {
    int64_t size =
        static_cast<int64_t>(msg.subject.size() + msg.headers.size() + msg.payload.size() + 64);
    if (w.max_bytes > 0 && size > w.max_bytes) {
      SendStatus(w.reply, 409, "Message Size Exceeds MaxBytes", w.batch, w.max_bytes, true);
      return false;
    }
    Deliver(msg, redelivery, w.reply, now_ns);
    --w.batch;
    ++*delivered;
    if (w.max_bytes > 0) w.max_bytes -= size;
  }
  return true;
}

void Consumer::OnPullRequest(std::string_view reply, std::string_view body, int64_t now_ns) {
  if (reply.empty()) return;
  std::string to(reply);
  if (!is_pull()) {
    SendStatus(to, 409, "Consumer is push based", 0, 0, false);
    return;
  }
  auto parsed = jsapi::ParsePullRequest(body);
  if (!parsed) {
    SendStatus(to, 400, "Bad Request", 0, 0, false);
    return;
  }
  const jsapi::PullRequest& r = parsed.value();
  PullWaiting w;
  w.reply = to;
  w.batch = r.batch <= 0 ? 1 : r.batch;
  w.max_bytes = r.max_bytes;
  w.no_wait = r.no_wait;
  w.heartbeat_ns = r.idle_heartbeat.count();
  if (config_.max_batch > 0 && w.batch > config_.max_batch) {
    SendStatus(to, 409, "Exceeded MaxRequestBatch of " + std::to_string(config_.max_batch), 0, 0,
               false);
    return;
  }
  if (config_.max_expires.count() > 0 && r.expires > config_.max_expires) {
    SendStatus(to, 409, "Exceeded MaxRequestExpires of " + GoDuration(config_.max_expires.count()),
               0, 0, false);
    return;
  }
  if (config_.max_bytes > 0 && r.max_bytes > config_.max_bytes) {
    SendStatus(to, 409, "Exceeded MaxRequestMaxBytes of " + std::to_string(config_.max_bytes), 0, 0,
               false);
    return;
  }
  if (w.heartbeat_ns > 0 && (r.expires.count() == 0 || 2 * w.heartbeat_ns > r.expires.count())) {
    SendStatus(to, 400, "Bad Request - heartbeat value too large", 0, 0, false);
    return;
  }
  w.expires_ns = r.expires.count() > 0 ? SatAdd(now_ns, r.expires.count()) : 0;
  w.next_heartbeat_ns = w.heartbeat_ns > 0 ? SatAdd(now_ns, w.heartbeat_ns) : 0;
  last_active_ns_ = now_ns;
  if (w.no_wait) {
    // As nats-server 2.9.10: when the requests already waiting (live, with interest) want more
    // messages than the consumer has left to deliver (new ones plus redeliveries due), the
    // no_wait request is refused with "408 Requests Pending" (no pending headers): it would
    // only take messages they are waiting for (e.g. while max_ack_pending holds them back).
    uint64_t available = num_pending_;
    for (const auto& [seq, not_before] : redeliver_) {
      if (not_before <= now_ns) ++available;
    }
    if (available > 0) {
      uint64_t wanted = 0;
      Outbound* out = stream_->engine->out;
      for (const PullWaiting& o : waiting_) {
        if (o.expires_ns > 0 && o.expires_ns <= now_ns) continue;  // expired, not yet ticked
        if (!out->HasInterest(o.reply)) continue;
        wanted += static_cast<uint64_t>(o.batch);
      }
      if (available < wanted) {
        SendStatus(to, 408, "Requests Pending", 0, 0, false);
        return;
      }
    }
    // Serve at once what is available. With nothing left at all: 404 without expires; with
    // expires the request waits (below) until a message comes or it expires, as in
    // nats-server 2.9.10 (libnats' Fetch sends no_wait with expires and counts on the wait).
    // With messages left that cannot be delivered now (max_ack_pending holds them back),
    // 2.9.10 queues the request even without expires: a one-shot that the first delivery
    // ends (Pump), or the requester going away.
    int64_t delivered = 0;
    if (!ServeAvailable(w, now_ns, &delivered)) return;
    if (w.batch == 0) return;
    if (delivered == 0 && r.expires.count() == 0 && available == 0) {
      SendStatus(to, 404, "No Messages", 0, 0, false);
      return;
    }
    if (delivered > 0) {
      SendStatus(to, 408, "Request Timeout", w.batch, w.max_bytes, true);
      return;
    }
  }
  if (config_.max_waiting > 0 && waiting_.size() >= static_cast<size_t>(config_.max_waiting)) {
    SendStatus(to, 409, "Exceeded MaxWaiting", 0, 0, false);
    return;
  }
  if (w.expires_ns > 0) {
    int64_t& wake = stream_->engine->pull_wake_ns;
    if (wake == 0 || w.expires_ns < wake) wake = w.expires_ns;
  }
  waiting_.push_back(std::move(w));
  Pump(now_ns);
}

void Consumer::UpdateAckFloor() {
  if (pending_.empty()) {
    ack_floor_sseq_ = std::max(ack_floor_sseq_, delivered_sseq_);
    ack_floor_dseq_ = dseq_;
  } else {
    const auto& [seq, p] = *pending_.begin();
    ack_floor_sseq_ = std::max(ack_floor_sseq_, seq - 1);
    ack_floor_dseq_ = std::max(ack_floor_dseq_, p.dseq - 1);
  }
}

void Consumer::Acked(uint64_t seq, int64_t now_ns) {
  (void)now_ns;
  if (pending_.erase(seq) == 0) return;
  deliveries_.erase(seq);
  redeliver_.erase(seq);
  redelivered_.erase(seq);
  dirty_ = true;
  if (stream_->config.retention != jsapi::RetentionPolicy::kLimits) {
    store::Message m;
    if (stream_->store->Load(seq, &m).ok()) stream_->MaybeRemoveAcked(seq, m.subject);
  }
}

void Consumer::OnAck(const std::vector<std::string_view>& tokens, std::string_view reply,
                     std::string_view payload, int64_t now_ns) {
  if (config_.ack_policy == jsapi::AckPolicy::kNone) return;
  uint64_t sseq = ToU64(tokens[5]);
  last_active_ns_ = now_ns;
  Outbound* out = stream_->engine->out;
  auto ack_one = [&] {
    if (config_.ack_policy == jsapi::AckPolicy::kAll) {
      std::vector<uint64_t> seqs;
      for (auto it = pending_.begin(); it != pending_.end() && it->first <= sseq; ++it) {
        seqs.push_back(it->first);
      }
      for (uint64_t s : seqs) Acked(s, now_ns);
    } else {
      Acked(sseq, now_ns);
    }
    UpdateAckFloor();
  };
  bool ackack = true;
  // An ack that asks for an ack-ack (AckSync, double ack) is answered once the consumer state
  // recording it is durable (the engine queues the write after this call); other ack-acks
  // (NAK, WPI: nothing a crash must keep) are answered at once.
  bool after_write = false;
  if (payload.empty() || payload == "+ACK" || payload == "+OK") {
    ack_one();
    after_write = true;
  } else if (payload.starts_with("-NAK")) {
    auto it = pending_.find(sseq);
    if (it != pending_.end()) {
      int64_t delay = 0;
      std::string_view rest = payload.substr(4);
      while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      if (!rest.empty()) {
        if (rest.front() == '{') {
          auto j = nlohmann::json::parse(rest, nullptr, false);
          if (j.is_object() && j.contains("delay") && j["delay"].is_number_integer()) {
            delay = std::max<int64_t>(0, j["delay"].get<int64_t>());
          }
        } else if (auto d = ParseGoDuration(rest)) {
          delay = *d;
        }
      }
      redeliver_[sseq] = SatAdd(now_ns, delay);
      it->second.deadline_ns = SatAdd(SatAdd(now_ns, delay), AckWaitFor(deliveries_[sseq] + 1));
      dirty_ = true;
    }
  } else if (payload.starts_with("+WPI")) {
    auto it = pending_.find(sseq);
    if (it != pending_.end())
      it->second.deadline_ns = SatAdd(now_ns, AckWaitFor(deliveries_[sseq]));
  } else if (payload.starts_with("+TERM")) {
    Acked(sseq, now_ns);
    UpdateAckFloor();
    after_write = true;
  } else if (payload.starts_with("+NXT")) {
    ack_one();
    ackack = false;
    std::string_view rest = payload.substr(4);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (!reply.empty()) OnPullRequest(reply, rest, now_ns);
  }
  if (ackack && !reply.empty()) {
    if (after_write && persisted()) {
      ackack_next.emplace_back(reply);
      dirty_ = true;
    } else {
      out->Send(reply, {}, {}, {});
    }
  }
  Pump(now_ns);
}

void Consumer::OnFlowControl(std::string_view subject) {
  if (subject != fc_reply_) return;
  fc_reply_.clear();
  fc_unconfirmed_ = 0;
  fc_window_ = std::min<int64_t>(fc_window_ * 2, kMaxFcWindow);
}

bool Consumer::Tick(int64_t now_ns) {
  Outbound* out = stream_->engine->out;
  for (auto& [seq, p] : pending_) {
    if (p.deadline_ns <= now_ns && !redeliver_.count(seq)) {
      redeliver_[seq] = now_ns;
      p.deadline_ns = INT64_MAX;  // reset when redelivered
    }
  }
  if (is_pull()) {
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->expires_ns > 0 && it->expires_ns <= now_ns) {
        SendStatus(it->reply, 408, "Request Timeout", it->batch, it->max_bytes, true);
        it = waiting_.erase(it);
        continue;
      }
      if (it->heartbeat_ns > 0 && it->next_heartbeat_ns <= now_ns) {
        Heartbeat(it->reply, {});
        it->next_heartbeat_ns = SatAdd(now_ns, it->heartbeat_ns);
      }
      ++it;
    }
    if (!waiting_.empty()) last_active_ns_ = now_ns;
  }
  Pump(now_ns);
  if (!is_pull()) {
    bool interest = out->HasInterest(config_.deliver_subject);
    if (interest) {
      no_interest_since_ns_ = 0;
      int64_t hb = config_.idle_heartbeat.count();
      if (hb > 0 && now_ns >= SatAdd(std::max(last_delivery_ns_, next_push_heartbeat_ns_), hb)) {
        Heartbeat(config_.deliver_subject, fc_reply_);
        next_push_heartbeat_ns_ = now_ns;  // the last heartbeat
      }
    } else if (no_interest_since_ns_ == 0) {
      no_interest_since_ns_ = now_ns;
    }
    int64_t t = config_.inactive_threshold.count();
    if (t > 0 && !interest && now_ns >= SatAdd(no_interest_since_ns_, t)) return false;
    return true;
  }
  int64_t t = config_.inactive_threshold.count();
  if (t > 0 && waiting_.empty() && pending_.empty() && now_ns >= SatAdd(last_active_ns_, t))
    return false;
  return true;
}

void Consumer::Deleting() {
  for (const auto& w : waiting_) SendStatus(w.reply, 409, "Consumer Deleted", 0, 0, false);
  waiting_.clear();
}

jsapi::ConsumerInfo Consumer::Info(int64_t now_ns) {
  Recount();
  jsapi::ConsumerInfo info;
  info.stream_name = stream_->config.name;
  info.name = name_;
  info.created = jsapi::Timestamp::FromUnixNanos(created_ns_);
  info.config = config_;
  info.delivered.consumer_seq = dseq_;
  info.delivered.stream_seq = delivered_sseq_;
  info.ack_floor.consumer_seq = ack_floor_dseq_;
  info.ack_floor.stream_seq = ack_floor_sseq_;
  if (dseq_ > 0) {
    info.delivered.last_active = jsapi::Timestamp::FromUnixNanos(last_delivery_ns_);
    if (ack_floor_dseq_ > 0) info.ack_floor.last_active = info.delivered.last_active;
  }
  info.num_ack_pending = static_cast<int64_t>(pending_.size());
  info.num_redelivered = static_cast<int64_t>(redelivered_.size());
  info.num_waiting = static_cast<int64_t>(waiting_.size());
  info.num_pending = num_pending_;
  jsapi::ClusterInfo cluster;
  cluster.leader = stream_->engine->options.server_name;
  info.cluster = cluster;
  if (!is_pull()) info.push_bound = stream_->engine->out->HasInterest(config_.deliver_subject);
  info.ts = jsapi::Timestamp::FromUnixNanos(now_ns);
  return info;
}

std::string Consumer::StateJson() const {
  nlohmann::json j;
  nlohmann::json cfg;
  jsapi::ToJsonValue(config_, cfg);
  j["name"] = name_;
  j["config"] = cfg;
  j["created_ns"] = created_ns_;
  j["next_sseq"] = next_sseq_;
  j["dseq"] = dseq_;
  j["delivered_sseq"] = delivered_sseq_;
  j["ack_floor_sseq"] = ack_floor_sseq_;
  j["ack_floor_dseq"] = ack_floor_dseq_;
  nlohmann::json pending = nlohmann::json::array();
  for (const auto& [seq, p] : pending_) {
    auto dc = deliveries_.find(seq);
    pending.push_back({seq, p.dseq, dc == deliveries_.end() ? 1 : dc->second});
  }
  j["pending"] = pending;
  j["initial"] = initial_;
  j["gen"] = state_gen;
  return j.dump();
}

AckLogImage Consumer::Image() const {
  AckLogImage img;
  img.next_sseq = next_sseq_;
  img.dseq = dseq_;
  img.delivered_sseq = delivered_sseq_;
  img.ack_floor_sseq = ack_floor_sseq_;
  img.ack_floor_dseq = ack_floor_dseq_;
  img.pending.reserve(pending_.size());
  for (const auto& [seq, p] : pending_) {
    auto dc = deliveries_.find(seq);
    img.pending.push_back({seq, p.dseq, dc == deliveries_.end() ? 1 : dc->second});
  }
  img.initial.assign(initial_.begin(), initial_.end());
  return img;
}

bool Consumer::LoadState(std::string_view text, const AckLogScan* log) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return false;
  AckLogImage img;
  try {
    state_gen = j.value("gen", uint64_t{0});
    img.next_sseq = j.at("next_sseq").get<uint64_t>();
    img.dseq = j.at("dseq").get<uint64_t>();
    img.delivered_sseq = j.at("delivered_sseq").get<uint64_t>();
    img.ack_floor_sseq = j.at("ack_floor_sseq").get<uint64_t>();
    img.ack_floor_dseq = j.at("ack_floor_dseq").get<uint64_t>();
    for (const auto& e : j.at("pending")) {
      img.pending.push_back(
          {e.at(0).get<uint64_t>(), e.at(1).get<uint64_t>(), e.at(2).get<uint64_t>()});
    }
    for (const auto& s : j.at("initial")) img.initial.push_back(s.get<uint64_t>());
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  // An ack log record newer than the file (an AckSync made durable after the file was last
  // written) holds the whole state as of that record.
  if (log && log->found && log->gen > state_gen) {
    img = log->image;
    state_gen = log->gen;
  }
  next_sseq_ = img.next_sseq;
  dseq_ = img.dseq;
  delivered_sseq_ = img.delivered_sseq;
  ack_floor_sseq_ = img.ack_floor_sseq;
  ack_floor_dseq_ = img.ack_floor_dseq;
  const int64_t now = stream_->engine->Now();
  for (const auto& e : img.pending) {
    pending_[e.sseq] = PendingAck{e.dseq, SatAdd(now, AckWaitFor(e.count))};
    deliveries_[e.sseq] = e.count;
    if (e.count > 1) redelivered_.insert(e.sseq);
  }
  initial_.insert(img.initial.begin(), img.initial.end());
  // The state may be durable further than the stream: a message delivered before the store
  // had synced it can be lost in a power loss (it was never acknowledged to its publisher), and
  // the stream then gives its sequence to the next message. Nothing at or below the stream's
  // last sequence is skipped that way: whatever the state says beyond it is dropped.
  const uint64_t last = stream_->store->State().last_seq;
  if (next_sseq_ > last + 1) next_sseq_ = last + 1;
  delivered_sseq_ = std::min(delivered_sseq_, last);
  ack_floor_sseq_ = std::min(ack_floor_sseq_, last);
  pending_.erase(pending_.upper_bound(last), pending_.end());
  deliveries_.erase(deliveries_.upper_bound(last), deliveries_.end());
  redelivered_.erase(redelivered_.upper_bound(last), redelivered_.end());
  initial_.erase(initial_.upper_bound(last), initial_.end());
  Recount();
  dirty_ = false;
  return true;
}

}  // namespace meridian::jetstream
