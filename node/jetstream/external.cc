// Sources and mirrors whose origin is reached through an external API prefix
// (`external: {"api": "$JS.hub.API", "deliver": "deliver.hub"}`), as nats-server 2.9.10 does it
// (server/stream.go setSourceConsumer / setupMirrorConsumer / processInboundSourceMsg /
// processInboundMirrorMsg), purely over subjects of the stream's account, so it works the same
// whether the origin is another account (imports) or another server (leafnodes):
//
// - A consumer create goes to `<api>.CONSUMER.CREATE.<origin>` (with one filter:
//   `...<origin>.src-<8>.<filter>` / `mirror-<8>`, `name` set) with reply `$JSC.R.<8>`: an
//   ephemeral push consumer, ack none, max_deliver 1, ack_wait 22 h, idle heartbeat 1 s, flow
//   control, `direct`, delivering to `<deliver>.S.<8>` (mirror: `.M.<8>`), by start sequence =
//   the last origin sequence taken + 1 (first start: the config's start options, else all).
// - Deliveries carry the origin sequence, delivery sequence, count and pending in their
//   $JS.ACK reply subject. The next delivery sequence is stored (sources: through the same
//   path as local sources, with "Nats-Stream-Source: <origin>:<hash> <seq>"; mirrors: at the
//   origin sequence and timestamp); a jump in delivery sequence means something was lost on
//   the way: a new consumer is created at last + 1. Redeliveries and older messages are
//   ignored, so nothing is stored twice.
// - `100 FlowControl Request` is answered (an empty message to its reply); an idle heartbeat
//   whose Nats-Last-Consumer is not the last delivery sequence taken re-creates the consumer,
//   and its Nats-Consumer-Stalled subject is answered.
// - Silent for 3 heartbeats (the origin or the path to it went away), a create unanswered for
//   5 s, or a create answered with an error (shown as the source's `error`): a new consumer,
//   at most one create per 2 s per source (nats-server 2.9.10's throttle). The old consumer's
//   deliver subject is dropped, so the origin deletes it once it sees no interest.
// Progress survives restarts as for local sources: the Nats-Stream-Source headers of stored
// copies and sources.json (sources), the store's last sequence (mirrors).
#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "jetstream/internal.h"

namespace meridian::jetstream {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kHeartbeatNs = kSec;           // idle_heartbeat asked of the origin
constexpr int64_t kStalledNs = 3 * kHeartbeatNs;  // 2.9.10: silent for 3 health checks
constexpr int64_t kCreateWaitNs = 5 * kSec;      // a create unanswered this long is retried
constexpr int64_t kCreateThrottleNs = 2 * kSec;  // at most one create per source per 2 s

std::string Collapse(std::string s) {
  for (size_t at; (at = s.find("..")) != std::string::npos;) s.erase(at, 1);
  return s;
}

bool ParseU64(std::string_view v, uint64_t* out) {
  auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
  return r.ec == std::errc() && r.ptr == v.data() + v.size();
}

// The fields of a delivery's ack subject: 2.9-2.12's 9-token form
// `$JS.ACK.<stream>.<consumer>.<count>.<sseq>.<dseq>.<ts>.<pending>`, or the 12-token form
// with domain and account hash after `$JS.ACK`.
struct AckInfo {
  uint64_t count = 0, sseq = 0, dseq = 0, pending = 0;
  int64_t ts = 0;
};

bool ParseAckReply(std::string_view reply, AckInfo* out) {
  std::vector<std::string_view> t;
  size_t start = 0;
  for (size_t i = 0; i <= reply.size(); ++i) {
    if (i == reply.size() || reply[i] == '.') {
      t.push_back(reply.substr(start, i - start));
      start = i + 1;
    }
  }
  if (t.size() < 9 || t[0] != "$JS" || t[1] != "ACK") return false;
  const size_t base = t.size() == 9 ? 4 : 6;  // index of the delivery count
  if (t.size() != 9 && t.size() < 11) return false;
  uint64_t ts = 0;
  if (!ParseU64(t[base], &out->count) || !ParseU64(t[base + 1], &out->sseq) ||
      !ParseU64(t[base + 2], &out->dseq) || !ParseU64(t[base + 3], &ts) ||
      !ParseU64(t[base + 4], &out->pending)) {
    return false;
  }
  out->ts = static_cast<int64_t>(ts);
  return true;
}

bool IsControl(std::string_view headers, std::string_view payload) {
  return payload.empty() && headers.starts_with("NATS/1.0 100 ");
}

void Forget(Outbound* out, std::string* subject) {
  if (subject->empty()) return;
  out->Unsubscribe(*subject);
  subject->clear();
}

}  // namespace

std::string EngineImpl::RandomToken() {
  static constexpr char kDigits[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out;
  for (int i = 0; i < 8; ++i) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    out.push_back(kDigits[rng_state % 62]);
  }
  return out;
}

void EngineImpl::CreateExternalConsumer(Stream& target, SourceState& src, bool mir) {
  ExternalLink& link = *src.ext;
  const int64_t now = Now();
  Forget(out, &link.deliver_subject);  // the old consumer goes once it has no interest
  Forget(out, &link.reply_subject);
  link.dseq = 0;
  link.last_create_ns = now;
  link.create_sent_ns = now;
  link.last_heard_ns = now;
  link.deliver_subject =
      Collapse((link.deliver.empty() ? std::string("$JS") : link.deliver) + (mir ? ".M." : ".S.") +
               RandomToken());
  link.reply_subject = "$JSC.R." + RandomToken();

  nlohmann::json cfg;
  // Where to start: after what was taken; the first time, the config's start options.
  uint64_t start_seq = 0;
  std::optional<jsapi::Timestamp> start_time;
  if (mir) {
    const store::StoreState st = target.store->State();
    if (src.last_seq > 0 || st.last_seq > 0) {
      start_seq = std::max(src.last_seq, st.last_seq) + 1;
    } else if (src.config.opt_start_seq > 0) {
      start_seq = src.config.opt_start_seq;
    } else if (src.config.opt_start_time) {
      start_time = src.config.opt_start_time;
    }
  } else if (src.last_seq > 0) {
    start_seq = src.last_seq + 1;
  } else if (src.config.opt_start_seq > 0) {
    start_seq = src.config.opt_start_seq;
  } else if (src.config.opt_start_time) {
    start_time = src.config.opt_start_time;
    // As for local sources: nothing older than what the stream already holds.
    const store::StoreState st = target.store->State();
    if (st.last_seq > 0) {
      const int64_t t = start_time->unix_seconds * kSec + start_time->nanos;
      if (st.last_ts > t) start_time = jsapi::Timestamp::FromUnixNanos(st.last_ts);
    }
  }
  if (start_seq > 0) {
    cfg["deliver_policy"] = "by_start_sequence";
    cfg["opt_start_seq"] = start_seq;
  } else if (start_time) {
    cfg["deliver_policy"] = "by_start_time";
    cfg["opt_start_time"] = start_time->ToString();
  } else {
    cfg["deliver_policy"] = "all";
  }
  cfg["ack_policy"] = "none";
  cfg["ack_wait"] = int64_t{22} * 3600 * kSec;
  cfg["max_deliver"] = 1;
  std::string filter;
  std::vector<std::string> filters;
  for (const auto& f : src.filters) {
    if (!f.empty()) filters.push_back(f);
  }
  if (filters.size() == 1 && filters.size() == src.filters.size()) {
    filter = filters[0];
    cfg["filter_subject"] = filter;
  } else if (filters.size() > 1 && filters.size() == src.filters.size()) {
    cfg["filter_subjects"] = filters;  // 2.10 (several transforms); 2.9 sends everything
  }
  cfg["replay_policy"] = "instant";
  cfg["idle_heartbeat"] = kHeartbeatNs;
  cfg["flow_control"] = true;
  cfg["deliver_subject"] = link.deliver_subject;
  cfg["num_replicas"] = 0;
  cfg["direct"] = true;
  std::string subject = link.api + ".CONSUMER.CREATE." + src.config.name;
  if (!filter.empty()) {
    std::string name = (mir ? "mirror-" : "src-") + RandomToken();
    cfg["name"] = name;
    subject += "." + name + "." + filter;
  }
  subject = Collapse(std::move(subject));
  nlohmann::json req;
  req["stream_name"] = src.config.name;
  req["config"] = std::move(cfg);
  // Subscribed before the request goes out: the origin may deliver before it answers.
  out->Subscribe(link.deliver_subject);
  out->Subscribe(link.reply_subject);
  out->Send(subject, link.reply_subject, {}, req.dump());
}

void EngineImpl::ServiceExternal() {
  const int64_t now = Now();
  for (auto& entry : streams) {
    Stream* s = entry.second.get();
    auto service = [&](SourceState& src, bool mir) {
      if (!src.ext || s->config.sealed) return;
      ExternalLink& link = *src.ext;
      bool due = false;
      if (link.deliver_subject.empty()) {
        due = true;  // not set up (first start, or the last create failed)
      } else if (!link.reply_subject.empty() && now - link.create_sent_ns > kCreateWaitNs) {
        due = true;  // the create was not answered
      } else if (link.reply_subject.empty() && now - link.last_heard_ns > kStalledNs) {
        due = true;  // heartbeats stopped: the origin or the path to it went away
      }
      if (!due || now < link.retry_at_ns || now - link.last_create_ns < kCreateThrottleNs) return;
      CreateExternalConsumer(*s, src, mir);
    };
    if (s->mirror) service(*s->mirror, true);
    for (auto& src : s->sources) service(src, false);
  }
}

void EngineImpl::HandleInbound(std::string_view subject, std::string_view shown,
                               std::string_view reply, std::string_view headers,
                               std::string_view payload) {
  for (auto& entry : streams) {
    Stream& s = *entry.second;
    auto handle = [&](SourceState& src, bool mir) -> bool {
      if (!src.ext) return false;
      ExternalLink& link = *src.ext;
      const int64_t now = Now();
      if (!link.reply_subject.empty() && subject == link.reply_subject) {
        // The consumer create's reply.
        Forget(out, &link.reply_subject);
        link.last_heard_ns = now;
        auto j = nlohmann::json::parse(payload, nullptr, false);
        auto err = j.is_object() ? j.find("error") : j.end();
        if (!j.is_object() || err != j.end() || !j.contains("name")) {
          jsapi::ApiError e;
          if (err != j.end() && err->is_object()) {
            e.code = err->value("code", 500);
            e.err_code = err->value("err_code", uint16_t{0});
            e.description = err->value("description", std::string());
          } else {
            e.code = 500;
            e.description = "invalid consumer create response";
          }
          src.error = e;
          ++link.fails;
          Forget(out, &link.deliver_subject);  // a new create after the throttle
        } else {
          src.error.reset();
          link.fails = 0;
        }
        return true;
      }
      if (link.deliver_subject.empty() || subject != link.deliver_subject) return false;
      link.last_heard_ns = now;
      src.active_ns = now;
      if (IsControl(headers, payload)) {
        if (!reply.empty()) {
          out->Send(reply, {}, {}, {});  // flow control: ask for more
          return true;
        }
        // Idle heartbeat: did we miss anything?
        uint64_t last = 0;
        if (auto v = HeaderValue(headers, "Nats-Last-Consumer");
            v && ParseU64(*v, &last) && last > 0 && last != link.dseq) {
          link.last_create_ns = std::min(link.last_create_ns, now - kCreateThrottleNs);
          CreateExternalConsumer(s, src, mir);
        } else if (auto fc = HeaderValue(headers, "Nats-Consumer-Stalled"); fc && !fc->empty()) {
          out->Send(*fc, {}, {}, {});
        }
        return true;
      }
      AckInfo a;
      if (!ParseAckReply(reply, &a) || a.count > 1) return true;  // redelivery: ignore
      if (a.dseq != link.dseq + 1) {
        if (a.dseq > link.dseq + 1) {
          // Lost on the way: start again after the last origin sequence taken.
          link.last_create_ns = std::min(link.last_create_ns, now - kCreateThrottleNs);
          CreateExternalConsumer(s, src, mir);
        }
        return true;  // older: ignore
      }
      link.dseq = a.dseq;
      link.lag = a.pending == 0 ? 0 : a.pending - 1;
      if (a.sseq <= src.last_seq) return true;  // already taken (never stored twice)
      if (s.config.sealed) return true;
      src.last_seq = a.sseq;
      if (inbound_batch &&
          std::find(inbound_batched.begin(), inbound_batched.end(), &s) == inbound_batched.end()) {
        s.store->BeginBatch();  // written together at Engine::EndInbound()
        inbound_batched.push_back(&s);
      }
      if (mir) {
        StoreMirrored(s, src, a.sseq, a.ts, shown, headers, payload, now);
      } else {
        s.sources_dirty = true;
        (void)StoreSourced(s, src, a.sseq, shown, headers, payload, now);
      }
      return true;
    };
    if (s.mirror && handle(*s.mirror, true)) return;
    for (auto& src : s.sources) {
      if (handle(src, false)) return;
    }
  }
}

}  // namespace meridian::jetstream
