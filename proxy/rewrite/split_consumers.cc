// SplitConsumers: API fan-out and merge, deliveries and acks, pull requests split over
// origins. The rules are in proxy/rewrite/README.md "Split consumers".
#include "rewrite/split_consumers.h"

#include <algorithm>
#include <charconv>

#include "rewrite/api_subject.h"
#include "rewrite/headers.h"
#include "rewrite/json_util.h"
#include "rewrite/subjects.h"

namespace meridian::rewrite {
namespace {

void AppendU64(std::string& out, std::uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

bool ParseU64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// The status code of a header block "NATS/1.0 408 …", 0 when there is none.
int StatusCode(std::string_view headers) {
  constexpr std::string_view kVersion = "NATS/1.0 ";
  if (!headers.starts_with(kVersion) || headers.size() < kVersion.size() + 3) return 0;
  int code = 0;
  for (std::size_t i = kVersion.size(); i < kVersion.size() + 3; ++i) {
    char c = headers[i];
    if (c < '0' || c > '9') return 0;
    code = code * 10 + (c - '0');
  }
  return code;
}

// Splits "a.b.c" at its last dot.
bool SplitLast(std::string_view s, std::string_view& head, std::string_view& last) {
  std::size_t dot = s.rfind('.');
  if (dot == std::string_view::npos) return false;
  head = s.substr(0, dot);
  last = s.substr(dot + 1);
  return true;
}

std::int64_t I64Field(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_number_unsigned()) return static_cast<std::int64_t>(it->get<std::uint64_t>());
  return static_cast<std::int64_t>(it->get<double>());
}

}  // namespace

// --- state ------------------------------------------------------------------------------------

struct SplitConsumers::Consumer {
  std::uint32_t stream = 0;
  std::string name;
  std::string deliver;   // the client's deliver subject; empty for pull
  std::string push_sid;  // base of its deliver subscriptions' sids; empty: none here
  std::string group;     // deliver_group: the queue of its deliver subscriptions
  bool durable = false;
  bool ack_all = false;
  DeliveryRenumber renumber;
  std::uint64_t last_used = 0;
  // For resuming (ResumePoint): the client's filter, and per origin the read-stream sequence
  // the client needs next from that origin (0: unknown).
  std::string filter;
  std::vector<std::uint64_t> next;
  Consumer(std::size_t origins, std::size_t ring) : renumber(origins, ring), next(origins, 0) {}
};

// Where a split consumer that is gone (or still there) had got to: a client that creates a
// consumer "by_start_sequence last seen + 1" (an ordered consumer's reset, a resume by hand)
// gets each origin from where that origin was, not from one merged sequence (deliveries of
// the origins arrive interleaved, not in stream order; see README "Split consumers").
struct SplitConsumers::ResumePoint {
  std::uint32_t stream = 0;
  std::string filter;
  std::uint64_t last_stream_seq = 0;  // of the last delivery to the client
  std::vector<std::uint64_t> next;
};

struct SplitConsumers::Merge {
  SplitOp op;
  std::uint32_t stream;
  std::string name;
  std::string client_reply;
  std::string client_filter;
  std::string client_deliver;
  std::string push_sid;        // create of a push consumer: its deliver subscriptions
  bool bind = false;           // info looked up for a client's SUB on client_deliver (no reply)
  bool from_registry = false;  // client_deliver is the client's own, found in the registry
  std::vector<FanOutPart> parts;
  std::size_t remaining;
  TimePoint deadline;
};

struct SplitConsumers::Pull {
  bool active = false;
  std::uint64_t gen = 0;
  std::size_t slot = 0;
  bool subscribed = false;
  std::uint32_t stream = 0;
  std::string prefix;  // "$JS.API." or "$JS.<domain>.API."
  std::string name;
  std::string client_reply;
  std::uint64_t remaining = 0;
  std::uint64_t delivered = 0;
  bool no_wait = false;
  bool has_expires = false;
  TimePoint deadline;  // the client's expiry
  std::int64_t idle_heartbeat = 0;
  std::int64_t max_bytes = 0;
  bool waiting_phase = false;
  std::size_t first = 0;  // origin the sweep starts at
  std::size_t swept = 0;  // origins the sweep has finished
  TimePoint sweep_deadline;
  std::vector<std::uint64_t> asked;  // per origin: batch of its open request (0: none open)
  std::vector<std::uint64_t> got;    // per origin: deliveries on its open request
  std::string status_409;            // the first 409 an origin ended with
};

// A client SUB that missed the registry, waiting for the refresh `needed` to complete.
struct SplitConsumers::PendingBind {
  std::string subject;
  std::uint64_t needed = 0;
  TimePoint expires;
};

// A registry refresh this connection runs: CONSUMER.LIST of each read stream, page by page.
struct SplitConsumers::Refresh {
  std::uint64_t serial = 0;
  std::uint32_t id = 0;      // reply id of the page in flight
  std::uint32_t stream = 0;  // virtual stream whose read stream is being listed
  std::uint64_t offset = 0;
  std::size_t pages = 0;
  TimePoint deadline;
  std::vector<std::pair<std::string, std::string>> found;  // (deliver subject, consumer)
};

SplitConsumers::SplitConsumers(Rewriter& rewriter, SplitSink& sink, SplitOptions options)
    : rewriter_(rewriter), sink_(sink), options_(std::move(options)) {}

SplitConsumers::~SplitConsumers() {
  // Another connection may run it now.
  if (refresh_ && options_.registry != nullptr) options_.registry->AbandonRefresh(refresh_->serial);
}

std::size_t SplitConsumers::known_consumers() const {
  return consumers_.size();
}

std::size_t SplitConsumers::pulls_in_flight() const {
  std::size_t n = 0;
  for (const auto& p : pulls_) n += p->active ? 1 : 0;
  return n;
}

SplitConsumers::Consumer* SplitConsumers::FindConsumer(std::uint32_t stream,
                                                       std::string_view name) {
  for (auto& c : consumers_) {
    if (c->stream == stream && c->name == name) {
      c->last_used = ++use_clock_;
      return c.get();
    }
  }
  return nullptr;
}

void SplitConsumers::Remember(const Consumer& c) {
  const std::uint64_t last = c.renumber.last_stream_seq();
  if (c.filter.empty() || last == 0) return;
  if (recent_.size() >= kRecentResumePoints) recent_.erase(recent_.begin());
  recent_.push_back({c.stream, c.filter, last, c.next});
}

// Per origin start sequences for a create by_start_sequence `start` on (stream, filter), when
// the client resumes right after the last message some split consumer on that filter
// delivered to it; empty otherwise (every origin starts at `start`, as the client asked).
std::vector<std::uint64_t> SplitConsumers::ResumeStarts(std::uint32_t stream,
                                                        std::string_view filter,
                                                        std::uint64_t start) const {
  std::vector<std::uint64_t> out;
  if (start < 2) return out;
  const std::vector<std::uint64_t>* next = nullptr;
  for (const auto& c : consumers_) {
    if (c->stream == stream && c->filter == filter && c->renumber.last_stream_seq() == start - 1) {
      next = &c->next;
    }
  }
  for (auto it = recent_.rbegin(); next == nullptr && it != recent_.rend(); ++it) {
    if (it->stream == stream && it->filter == filter && it->last_stream_seq == start - 1) {
      next = &it->next;
    }
  }
  if (next == nullptr) return out;
  out = *next;
  for (auto& n : out) {
    if (n == 0) n = start;  // nothing known about that origin: as the client asked
  }
  return out;
}

SplitConsumers::Consumer& SplitConsumers::AddConsumer(std::uint32_t stream, std::string_view name,
                                                      const SplitMergeResult& how,
                                                      std::string_view client_deliver, TimePoint) {
  Forget(stream, name);
  if (consumers_.size() >= options_.max_consumers && !consumers_.empty()) {
    auto oldest = std::min_element(consumers_.begin(), consumers_.end(),
                                   [](auto& a, auto& b) { return a->last_used < b->last_used; });
    if (!(*oldest)->push_sid.empty()) UnsubscribePush((*oldest)->push_sid, (*oldest)->stream);
    Remember(**oldest);
    consumers_.erase(oldest);
  }
  const std::size_t origins = rewriter_.topology().streams()[stream].regions.size();
  const std::size_t ring =
      how.ack_none ? 0 : RingCapacityFor(how.max_ack_pending, origins, options_.max_ack_map);
  auto c = std::make_unique<Consumer>(origins, ring);
  c->stream = stream;
  c->name.assign(name);
  c->deliver.assign(client_deliver);
  c->group = how.deliver_group;
  c->durable = how.durable;
  c->ack_all = how.ack_all;
  c->last_used = ++use_clock_;
  consumers_.push_back(std::move(c));
  return *consumers_.back();
}

void SplitConsumers::Forget(std::uint32_t stream, std::string_view name) {
  std::erase_if(consumers_, [&](auto& c) {
    if (c->stream != stream || c->name != name) return false;
    if (!c->push_sid.empty()) UnsubscribePush(c->push_sid, c->stream);
    Remember(*c);
    return true;
  });
}

std::string SplitConsumers::BindSubject(std::uint32_t stream, std::string_view name) const {
  std::string out = options_.deliver_prefix;
  out.append(rewriter_.topology().streams()[stream].ReadStreamName(rewriter_.region()));
  out.push_back('.');
  out.append(name);
  return out;
}

void SplitConsumers::SubscribePush(std::string_view sid_base, std::uint32_t stream,
                                   std::string_view name, std::string_view queue) {
  const VirtualStream& vs = rewriter_.topology().streams()[stream];
  std::string sid;
  const std::string bind = BindSubject(stream, name);
  for (std::size_t r = 0; r < vs.regions.size(); ++r) {
    subject_ = bind;
    subject_.push_back('.');
    subject_.append(vs.regions[r]);
    sid.assign(sid_base);
    sid.push_back('_');
    AppendU64(sid, r);
    sink_.SubscribeUpstream(subject_, queue, sid);
  }
}

void SplitConsumers::BindPush(Consumer& c, std::string_view deliver) {
  c.deliver.assign(deliver);
  if (!c.push_sid.empty()) return;
  c.push_sid = options_.sid_prefix + "D";
  AppendU64(c.push_sid, ++push_counter_);
  SubscribePush(c.push_sid, c.stream, c.name, c.group);
}

void SplitConsumers::OnClientSubscribe(std::string_view subject, std::string_view, TimePoint now) {
  if (rewriter_.filter_style() != FilterStyle::kPerOriginConsumers) return;
  for (auto& c : consumers_) {
    if (c->push_sid.empty() && !c->deliver.empty() && c->deliver == subject) {
      BindPush(*c, subject);
      return;
    }
  }
  if (!subject.starts_with(options_.deliver_prefix)) {
    // The client's own deliver subject of a split push consumer (e.g. re-sent by a client
    // that reconnected to a restarted sidecar): bound as through the bind subject.
    if (options_.registry == nullptr || !MayBeDeliverSubject(subject)) return;
    if (BindRegistered(subject, now)) return;
    // Unknown here: it may be a consumer this sidecar has not learnt about yet. Wait for the
    // next registry refresh, started by Tick when the registry allows one (so a SUB never
    // sends anything upstream itself, and a burst of them, e.g. a reconnect, shares one).
    std::erase_if(pending_binds_, [&](const PendingBind& p) { return p.subject == subject; });
    if (pending_binds_.size() >= options_.max_pending_binds && !pending_binds_.empty()) {
      pending_binds_.erase(pending_binds_.begin());
    }
    pending_binds_.push_back(
        {std::string(subject), options_.registry->NeededFor(now), now + options_.pending_bind_for});
    return;
  }
  std::string_view rest = subject.substr(options_.deliver_prefix.size());
  const std::size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return;
  const std::string_view name = rest.substr(dot + 1);
  if (name.empty() || name.find_first_of(".*>") != std::string_view::npos) return;
  auto internal = rewriter_.topology().FindInternal(rest.substr(0, dot));
  if (!internal || internal->role != InternalRole::kRead ||
      BindSubject(internal->stream, name) != subject) {
    return;
  }
  if (Consumer* c = FindConsumer(internal->stream, name); c != nullptr && !c->deliver.empty()) {
    BindPush(*c, subject);  // known from the info the client just asked for
    return;
  }
  // Not known here (e.g. a client re-subscribing after a reconnect): look it up, bind after.
  const std::uint32_t id = next_merge_;
  if (StartLookup(SplitOp::kInfo, "$JS.API.", internal->stream, name, {}, {}, now)) {
    if (auto it = merges_.find(id); it != merges_.end()) {
      it->second->bind = true;
      it->second->client_deliver.assign(subject);
    }
  }
}

void SplitConsumers::OnClientUnsubscribe(std::string_view subject) {
  std::erase_if(pending_binds_, [&](const PendingBind& p) { return p.subject == subject; });
  for (auto& c : consumers_) {
    if (!c->push_sid.empty() && c->deliver == subject) {
      UnsubscribePush(c->push_sid, c->stream);
      c->push_sid.clear();
    }
  }
}

void SplitConsumers::UnsubscribePush(std::string_view sid_base, std::uint32_t stream) {
  std::string sid;
  for (std::size_t r = 0; r < rewriter_.topology().streams()[stream].regions.size(); ++r) {
    sid.assign(sid_base);
    sid.push_back('_');
    AppendU64(sid, r);
    sink_.UnsubscribeUpstream(sid);
  }
}

void SplitConsumers::EnsureSubscribed(bool& flag, std::string_view subject, std::string_view sid) {
  if (flag) return;
  flag = true;
  sink_.SubscribeUpstream(subject, {}, sid);
}

// --- the registry: client deliver subjects ----------------------------------------------------

bool SplitConsumers::MayBeDeliverSubject(std::string_view subject) const {
  // A deliver subject is literal, is not the sidecar's own nor an API subject, and is outside
  // every virtual stream (the server refuses a deliver subject its stream would store).
  return !subject.empty() && subject.find_first_of("*> ") == std::string_view::npos &&
         !subject.starts_with("_MRDN.") && !subject.starts_with("$") &&
         rewriter_.topology().MatchRoot(subject) == nullptr;
}

bool SplitConsumers::BindRegistered(std::string_view subject, TimePoint now) {
  const std::vector<SplitRegistry::Target> targets = options_.registry->Find(subject);
  if (targets.empty()) return false;
  const std::size_t streams = rewriter_.topology().streams().size();
  for (const SplitRegistry::Target& t : targets) {
    if (t.stream >= streams) continue;
    if (Consumer* c = FindConsumer(t.stream, t.name); c != nullptr && !c->deliver.empty()) {
      // Known here as push: made or bound by this connection. Bound again unless it is bound
      // to another subject of this connection.
      if (c->push_sid.empty()) {
        BindPush(*c, subject);
        ++stats_.deliver_binds;
      }
      continue;
    }
    // Its info first: bound once every origin answered and records this subject.
    const std::uint32_t id = next_merge_;
    if (StartLookup(SplitOp::kInfo, "$JS.API.", t.stream, t.name, {}, {}, now)) {
      if (auto it = merges_.find(id); it != merges_.end()) {
        it->second->bind = true;
        it->second->from_registry = true;
        it->second->client_deliver.assign(subject);
      }
    }
  }
  return true;
}

void SplitConsumers::StartRefresh(TimePoint now) {
  if (options_.registry == nullptr || refresh_ || refresh_refused_) return;
  const std::uint64_t serial = options_.registry->TryStartRefresh(now);
  if (serial == 0) return;
  refresh_ = std::make_unique<Refresh>();
  refresh_->serial = serial;
  refresh_->deadline = now + options_.request_timeout;
  if (rewriter_.topology().streams().empty()) {
    EndRefresh(true, now);
    return;
  }
  subject_ = options_.inbox + "r.*.*";
  EnsureSubscribed(replies_subscribed_, subject_, options_.sid_prefix + "R");
  SendListPage();
}

void SplitConsumers::SendListPage() {
  Refresh& r = *refresh_;
  r.id = next_merge_++;
  if (next_merge_ == 0) next_merge_ = 1;
  const VirtualStream& vs = rewriter_.topology().streams()[r.stream];
  subject_ = "$JS.API.CONSUMER.LIST.";
  subject_.append(vs.ReadStreamName(rewriter_.region()));
  body_ = "{\"offset\":";
  AppendU64(body_, r.offset);
  body_.push_back('}');
  reply_ = options_.inbox + "r.";
  AppendU64(reply_, r.id);
  reply_.append(".0");
  ++stats_.list_requests;
  sink_.ToUpstream(subject_, reply_, {}, body_);
}

void SplitConsumers::OnListReply(std::string_view payload, TimePoint now) {
  Refresh& r = *refresh_;
  const VirtualStream& vs = rewriter_.topology().streams()[r.stream];
  auto j = ParseObject(payload);
  const bool ok = j && !j->contains("error");
  if (!ok) {
    std::string reason = "the reply is not a JSON object";
    if (j) {
      auto e = j->find("error");
      const std::string* desc = e->is_object() ? StringField(*e, "description") : nullptr;
      reason = desc != nullptr ? *desc : e->dump();
      if (e->is_object()) {
        if (auto code = e->find("err_code"); code != e->end() && code->is_number_integer()) {
          reason += " (err_code " + std::to_string(code->get<std::int64_t>()) + ")";
        }
      }
    }
    ReportListRefused(vs.ReadStreamName(rewriter_.region()), reason, now);
  }
  bool more = false;
  if (ok) {
    std::uint64_t n = 0;
    if (auto list = j->find("consumers"); list != j->end() && list->is_array()) {
      for (const Json& e : *list) {
        ++n;
        if (!e.is_object()) continue;
        const std::string* name = StringField(e, "name");
        auto config = e.find("config");
        if (name == nullptr || config == e.end() || !config->is_object()) continue;
        auto origin = ParseOriginConsumer(vs, *name);
        const std::string* desc = StringField(*config, "description");
        if (!origin || desc == nullptr) continue;
        if (auto record = ParseDeliverRecord(*desc)) {
          r.found.emplace_back(std::string(record->deliver), std::string(origin->base));
        }
      }
    }
    const std::uint64_t total =
        static_cast<std::uint64_t>(std::max<std::int64_t>(I64Field(*j, "total"), 0));
    r.offset += n;
    more = n > 0 && r.offset < total && ++r.pages < 256;
  }
  if (more) {
    SendListPage();
    return;
  }
  // A stream whose listing failed keeps what the registry had for it.
  if (ok) options_.registry->ReplaceStream(r.serial, r.stream, r.found);
  r.found.clear();
  r.offset = 0;
  r.pages = 0;
  if (++r.stream < rewriter_.topology().streams().size()) {
    SendListPage();
    return;
  }
  EndRefresh(true, now);
}

bool SplitConsumers::OnUpstreamError(std::string_view text, TimePoint now) {
  // nats-server: -ERR 'Permissions Violation for Publish to "<subject>"'.
  constexpr std::string_view kRefused =
      "Permissions Violation for Publish to \"$JS.API.CONSUMER.LIST.";
  if (stats_.list_requests == 0 || text.find(kRefused) == std::string_view::npos) return false;
  refresh_refused_ = true;
  std::string_view read_stream = text.substr(text.find(kRefused) + kRefused.size());
  read_stream = read_stream.substr(0, read_stream.find('"'));
  ReportListRefused(read_stream, text, now);
  if (refresh_) {
    // Another connection may run it, after the registry's interval (its user may be refused
    // as well: no burst of refused requests, one connection after another).
    options_.registry->RefuseRefresh(refresh_->serial);
    refresh_.reset();
  }
  return true;
}

void SplitConsumers::ReportListRefused(std::string_view read_stream, std::string_view reason,
                                       TimePoint now) {
  ++stats_.list_refused;
  std::uint64_t unreported = 0;
  if (!options_.registry->NoteListRefused(now, &unreported)) return;
  std::string line = "split registry refresh: region " + rewriter_.region();
  for (const VirtualStream& vs : rewriter_.topology().streams()) {
    if (vs.ReadStreamName(rewriter_.region()) == read_stream) {
      line += ", virtual stream " + vs.name;
      break;
    }
  }
  line += ": CONSUMER.LIST of ";
  line.append(read_stream);
  line += " refused: ";
  line.append(reason);
  line += "; durable push consumers re-bound by their own deliver subject (after a sidecar"
          " restart) are not found until a refresh on the connection of a user allowed to send"
          " $JS.API.CONSUMER.LIST.> succeeds";
  if (unreported > 0) {
    line += " (" + std::to_string(unreported) + " more refusals since the last report)";
  }
  sink_.Warn(line);
}

void SplitConsumers::EndRefresh(bool completed, TimePoint now) {
  if (!refresh_) return;
  if (completed) {
    options_.registry->FinishRefresh(refresh_->serial);
  } else {
    options_.registry->AbandonRefresh(refresh_->serial);
  }
  refresh_.reset();
  if (completed) RecheckPendingBinds(now);
}

void SplitConsumers::RecheckPendingBinds(TimePoint now) {
  if (options_.registry == nullptr || pending_binds_.empty()) return;
  const std::uint64_t done = options_.registry->completed();
  for (std::size_t i = 0; i < pending_binds_.size();) {
    if (done >= pending_binds_[i].needed) {
      const std::string subject = std::move(pending_binds_[i].subject);
      pending_binds_.erase(pending_binds_.begin() + static_cast<std::ptrdiff_t>(i));
      BindRegistered(subject, now);  // still unknown after a refresh: not a deliver subject
    } else if (now >= pending_binds_[i].expires) {
      pending_binds_.erase(pending_binds_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  if (!pending_binds_.empty()) StartRefresh(now);  // when the registry allows one
}

// --- client requests --------------------------------------------------------------------------

bool SplitConsumers::OnClientRequest(std::string_view subject, std::string_view reply,
                                     std::string_view body, TimePoint now) {
  if (rewriter_.filter_style() != FilterStyle::kPerOriginConsumers) return false;
  auto api = ParseApiSubject(subject);
  if (!api || api->stream.len == 0) return false;
  auto stream = rewriter_.topology().FindStream(subject.substr(api->stream.pos, api->stream.len));
  if (!stream) return false;
  const std::string_view prefix = subject.substr(0, subject.find("CONSUMER."));
  // The consumer name token after the stream, if any, and the filter tail of a named create.
  std::string_view name;
  std::string_view filter;
  const std::size_t after = api->stream.pos + api->stream.len;
  if (after < subject.size()) {
    std::string_view rest = subject.substr(after + 1);
    std::size_t dot = rest.find('.');
    name = rest.substr(0, dot);
    if (api->tail_pos != std::string_view::npos) filter = subject.substr(api->tail_pos);
  }
  switch (api->op) {
    case ApiOp::kConsumerCreate:
    case ApiOp::kConsumerDurableCreate:
      return StartCreate(prefix, *stream, api->op == ApiOp::kConsumerDurableCreate, name, filter,
                         reply, body, now);
    case ApiOp::kConsumerInfo:
      return !name.empty() && StartLookup(SplitOp::kInfo, prefix, *stream, name, reply, body, now);
    case ApiOp::kConsumerDelete:
      return !name.empty() &&
             StartLookup(SplitOp::kDelete, prefix, *stream, name, reply, body, now);
    case ApiOp::kConsumerMsgNext:
      return !name.empty() && StartPull(prefix, *stream, name, reply, body, now);
    default:
      return false;
  }
}

bool SplitConsumers::StartCreate(std::string_view prefix, std::uint32_t stream, bool durable_form,
                                 std::string_view subject_name, std::string_view subject_filter,
                                 std::string_view reply, std::string_view body, TimePoint now) {
  auto j = ParseObject(body);
  if (!j) return false;
  auto config_it = j->find("config");
  if (config_it == j->end() || !config_it->is_object()) return false;
  Json config = *config_it;
  std::string filter;
  if (const std::string* f = StringField(config, "filter_subject")) {
    filter = *f;
  } else if (auto list = config.find("filter_subjects"); list != config.end() && list->is_array() &&
                                                         list->size() == 1 &&
                                                         (*list)[0].is_string()) {
    filter = (*list)[0].get<std::string>();
  } else {
    filter.assign(subject_filter);
  }
  if (filter.empty()) return false;
  if (auto list = config.find("filter_subjects");
      list != config.end() && (!list->is_array() || list->size() > 1)) {
    return false;  // several filters: the server answers (2.9 cannot take them)
  }
  const Topology& topology = rewriter_.topology();
  const SubjectRoot* root = topology.MatchRoot(filter);
  if (root == nullptr || root->stream != stream) return false;
  if (std::string_view(filter).substr(root->prefix.size() + 1) == ">") return false;

  if (merges_.size() >= options_.max_merges) return false;  // the server's error reaches them
  const VirtualStream& vs = topology.streams()[stream];
  std::string name(subject_name);
  if (name.empty()) {
    if (const std::string* n = StringField(config, "name")) name = *n;
  }
  if (name.empty()) {
    if (const std::string* d = StringField(config, "durable_name")) name = *d;
  }
  const bool generated = name.empty();
  if (generated) {
    // A legacy ephemeral: the sidecar names it, unique per connection.
    name = "mrdn" + options_.name_seed + "x";
    AppendU64(name, ++ephemeral_counter_);
  }
  const std::string read = vs.ReadStreamName(rewriter_.region());
  const std::string client_deliver =
      StringField(config, "deliver_subject") ? *StringField(config, "deliver_subject") : "";

  auto merge = std::make_unique<Merge>();
  merge->op = SplitOp::kCreate;
  merge->stream = stream;
  merge->name = name;
  merge->client_reply.assign(reply);
  merge->client_filter = filter;
  merge->client_deliver = client_deliver;
  merge->parts.resize(vs.regions.size());
  merge->remaining = vs.regions.size();
  merge->deadline = now + options_.request_timeout;
  const std::uint32_t id = next_merge_++;
  if (next_merge_ == 0) next_merge_ = 1;

  subject_ = options_.inbox + "r.*.*";
  EnsureSubscribed(replies_subscribed_, subject_, options_.sid_prefix + "R");
  const std::string group =
      StringField(config, "deliver_group") ? *StringField(config, "deliver_group") : "";
  // The client's deliver subject, recorded on the server (split.h RecordDeliver) so that any
  // sidecar can tell which consumer a SUB on it means.
  std::optional<std::string> record;
  if (!client_deliver.empty()) {
    const std::string* description = StringField(config, "description");
    record = RecordDeliver(client_deliver, description ? *description : "");
  }
  if (!client_deliver.empty()) {
    // Subscribed before the creates, so each origin consumer sees interest from the start.
    merge->push_sid = options_.sid_prefix + "D";
    AppendU64(merge->push_sid, ++push_counter_);
    SubscribePush(merge->push_sid, stream, name, group);
  }
  // Where each origin starts: all from 1, by_start_sequence from that sequence, or, when the
  // client resumes right after its last delivery on this filter, each origin where it was.
  const std::string* policy = StringField(config, "deliver_policy");
  const std::uint64_t opt_start =
      static_cast<std::uint64_t>(std::max<std::int64_t>(I64Field(config, "opt_start_seq"), 0));
  std::vector<std::uint64_t> starts(vs.regions.size(), 0);
  std::vector<std::uint64_t> resumed;
  if (policy == nullptr || *policy == "all") {
    starts.assign(vs.regions.size(), 1);
  } else if (*policy == "by_start_sequence" && opt_start > 0) {
    resumed = ResumeStarts(stream, filter, opt_start);
    starts = resumed.empty() ? std::vector<std::uint64_t>(vs.regions.size(), opt_start) : resumed;
  }
  for (std::size_t r = 0; r < vs.regions.size(); ++r) {
    const std::string origin_name = OriginConsumerName(name, vs.regions[r]);
    Json part_config = config;
    if (!resumed.empty()) part_config["opt_start_seq"] = resumed[r];
    part_config.erase("filter_subjects");
    InsertTokenAfterPrefix(filter, root->prefix.size(), vs.regions[r], body_);
    part_config["filter_subject"] = body_;
    if (part_config.contains("durable_name")) part_config["durable_name"] = origin_name;
    if (part_config.contains("name") || generated) part_config["name"] = origin_name;
    if (!client_deliver.empty()) {
      // The same for every connection: another one can bind to it later (OnClientSubscribe).
      part_config["deliver_subject"] = BindSubject(stream, name) + "." + vs.regions[r];
      if (record) part_config["description"] = *record;
    }
    Json part = *j;
    part["stream_name"] = read;
    part["config"] = std::move(part_config);
    subject_.assign(prefix);
    subject_.append(durable_form ? "CONSUMER.DURABLE.CREATE." : "CONSUMER.CREATE.");
    subject_.append(read);
    subject_.push_back('.');
    subject_.append(origin_name);
    reply_ = options_.inbox + "r.";
    AppendU64(reply_, id);
    reply_.push_back('.');
    AppendU64(reply_, r);
    sink_.ToUpstream(subject_, reply_, {}, Dump(part));
  }
  // Known from now on: origin consumers deliver (push) as soon as each exists, before the
  // last create is answered. Taken from the request; the merged reply confirms it.
  SplitMergeResult how;
  const std::string* ack = StringField(config, "ack_policy");
  how.ack_none = ack == nullptr || *ack == "none";
  how.ack_all = ack != nullptr && *ack == "all";
  how.durable = durable_form || StringField(config, "durable_name") != nullptr;
  how.deliver_group = group;
  how.max_ack_pending =
      static_cast<std::uint64_t>(std::max<std::int64_t>(I64Field(config, "max_ack_pending"), 0));
  Consumer& added = AddConsumer(stream, name, how, client_deliver, now);
  added.push_sid = merge->push_sid;
  added.filter = filter;
  added.next = std::move(starts);
  if (!resumed.empty()) ++stats_.resumed;
  merges_.emplace(id, std::move(merge));
  ++stats_.creates;
  return true;
}

bool SplitConsumers::StartLookup(SplitOp op, std::string_view prefix, std::uint32_t stream,
                                 std::string_view name, std::string_view reply,
                                 std::string_view body, TimePoint now) {
  if (merges_.size() >= options_.max_merges) return false;
  const VirtualStream& vs = rewriter_.topology().streams()[stream];
  const std::string read = vs.ReadStreamName(rewriter_.region());
  auto merge = std::make_unique<Merge>();
  merge->op = op;
  merge->stream = stream;
  merge->name.assign(name);
  merge->client_reply.assign(reply);
  // The deliver subject a merged info shows: the client's own where this connection knows
  // the consumer as push, else the bind subject (shown only when the consumer is push).
  if (Consumer* c = FindConsumer(stream, name); c != nullptr && !c->deliver.empty()) {
    merge->client_deliver = c->deliver;
  } else {
    merge->client_deliver = BindSubject(stream, name);
  }
  merge->parts.resize(vs.regions.size() + 1);
  merge->remaining = merge->parts.size();
  merge->deadline = now + options_.request_timeout;
  const std::uint32_t id = next_merge_++;
  if (next_merge_ == 0) next_merge_ = 1;
  subject_ = options_.inbox + "r.*.*";
  EnsureSubscribed(replies_subscribed_, subject_, options_.sid_prefix + "R");
  for (std::size_t p = 0; p < merge->parts.size(); ++p) {
    subject_.assign(prefix);
    subject_.append(op == SplitOp::kInfo ? "CONSUMER.INFO." : "CONSUMER.DELETE.");
    subject_.append(read);
    subject_.push_back('.');
    subject_.append(p == 0 ? std::string(name) : OriginConsumerName(name, vs.regions[p - 1]));
    reply_ = options_.inbox + "r.";
    AppendU64(reply_, id);
    reply_.push_back('.');
    AppendU64(reply_, p);
    sink_.ToUpstream(subject_, reply_, {}, body);
  }
  merges_.emplace(id, std::move(merge));
  ++stats_.lookups;
  return true;
}

void SplitConsumers::OnMergeReply(std::string_view subject, std::string_view headers,
                                  std::string_view payload, TimePoint now) {
  // <inbox>r.<id>.<part>
  if (subject.size() < options_.inbox.size() + 2) return;
  std::string_view rest = subject.substr(options_.inbox.size() + 2);
  std::string_view id_text, part_text;
  if (!SplitLast(rest, id_text, part_text)) return;
  std::uint64_t id = 0, part = 0;
  if (!ParseU64(id_text, id) || !ParseU64(part_text, part)) return;
  if (refresh_ && id == refresh_->id) {
    OnListReply(payload, now);
    return;
  }
  auto it = merges_.find(static_cast<std::uint32_t>(id));
  if (it == merges_.end()) return;
  Merge& m = *it->second;
  if (part >= m.parts.size() || m.parts[part].answered) return;
  m.parts[part].answered = true;
  m.parts[part].headers.assign(headers);
  m.parts[part].body.assign(payload);
  if (--m.remaining == 0) {
    std::unique_ptr<Merge> done = std::move(it->second);
    merges_.erase(it);
    FinishMerge(*done);
  }
}

void SplitConsumers::FinishMerge(Merge& m) {
  SplitMergeInput in{
      m.op,   &rewriter_.topology().streams()[m.stream], m.name, m.client_filter, m.client_deliver,
      m.parts};
  SplitMergeResult result = MergeSplitReplies(in);
  if (result.body.empty()) return;  // no part answered
  if (result.split_exists) {
    if (m.op == SplitOp::kCreate) {
      if (Consumer* c = FindConsumer(m.stream, m.name); c != nullptr && c->push_sid == m.push_sid) {
        c->durable = result.durable;  // registered when the create started
        c->ack_all = result.ack_all;
      } else {
        AddConsumer(m.stream, m.name, result, m.client_deliver, TimePoint{}).push_sid = m.push_sid;
      }
      if (options_.registry != nullptr && !result.recorded_deliver.empty()) {
        options_.registry->Add(result.recorded_deliver, m.stream, m.name);
      }
    } else if (m.op == SplitOp::kInfo && m.from_registry &&
               result.recorded_deliver != m.client_deliver) {
      // Deleted and made again with another deliver subject: not this subscription's.
      options_.registry->RemoveTarget(m.client_deliver, m.stream, m.name);
    } else if (m.op == SplitOp::kInfo) {
      Consumer* c = FindConsumer(m.stream, m.name);
      if (c == nullptr) {
        c = &AddConsumer(m.stream, m.name, result, result.push ? m.client_deliver : "",
                         TimePoint{});
      }
      if (m.bind && result.push) {
        if (m.from_registry) ++stats_.deliver_binds;
        BindPush(*c, m.client_deliver);
      }
    }
  } else if (m.op == SplitOp::kDelete && !result.raw) {
    Forget(m.stream, m.name);
    if (options_.registry != nullptr) options_.registry->Remove(m.stream, m.name);
  } else if (m.from_registry && result.raw) {
    // The consumer is gone (or is not split): the registry forgets this subject for it.
    options_.registry->RemoveTarget(m.client_deliver, m.stream, m.name);
  }
  if (m.op == SplitOp::kCreate && !result.split_exists) {
    Forget(m.stream, m.name);  // unsubscribes its deliver subjects
  }
  std::string_view body = result.body;
  if (result.raw) {
    const ReplyKind kind =
        m.op == SplitOp::kDelete ? ReplyKind::kApiGeneric : ReplyKind::kConsumerInfo;
    if (rewriter_.RewriteReply(ReplyPlan{kind, m.stream}, {}, result.body, rewritten_) ==
            ReplyAction::kRewritten &&
        rewritten_.body_changed) {
      body = rewritten_.body;
    }
  }
  if (!m.client_reply.empty()) sink_.ToClient(m.client_reply, m.client_reply, {}, {}, body);
}

// --- deliveries -------------------------------------------------------------------------------

bool SplitConsumers::Deliver(Consumer& c, std::uint32_t origin, const AckTokens& ack,
                             std::string_view origin_reply, std::string_view route,
                             std::string_view subject, std::string_view headers,
                             std::string_view payload) {
  const VirtualStream& vs = rewriter_.topology().streams()[c.stream];
  AckTokens client = ack;
  client.stream = vs.name;
  client.consumer = c.name;
  client.consumer_seq = c.renumber.Deliver(origin, ack);
  if (origin < c.next.size()) c.next[origin] = std::max(c.next[origin], ack.stream_seq + 1);
  client.pending = c.renumber.pending();
  FormatAckV1(client, reply_);
  std::string_view out_subject = subject;
  std::string_view out_headers = headers;
  // Subject without the region token, Nats-Msg-Id without its origin prefix.
  if (rewriter_.RewriteDelivery(subject, origin_reply, headers, delivery_)) {
    out_subject = delivery_.subject;
    if (delivery_.headers_changed) out_headers = delivery_.headers;
  }
  ++stats_.deliveries;
  return sink_.ToClient(route, out_subject, reply_, out_headers, payload);
}

void SplitConsumers::RewriteHeartbeat(const Consumer& c, std::string_view headers) {
  std::string last_consumer, last_stream;
  AppendU64(last_consumer, c.renumber.last_client_seq());
  AppendU64(last_stream, c.renumber.last_stream_seq());
  if (!EditHeaders(
          headers,
          [&](const HeaderLine& line, std::string& replacement) {
            if (HeaderNameEquals(line.name, "Nats-Last-Consumer")) {
              replacement = last_consumer;
              return HeaderEdit::kReplace;
            }
            if (HeaderNameEquals(line.name, "Nats-Last-Stream")) {
              replacement = last_stream;
              return HeaderEdit::kReplace;
            }
            return HeaderEdit::kKeep;
          },
          headers_)) {
    headers_.assign(headers);
  }
}

void SplitConsumers::Abandon(Consumer& c) {
  // The client's deliver subject lost its subscription: an ephemeral would be deleted by the
  // server after inactive_threshold, but the sidecar's inbox keeps it alive, so delete it.
  const VirtualStream& vs = rewriter_.topology().streams()[c.stream];
  const std::string read = vs.ReadStreamName(rewriter_.region());
  for (const std::string& region : vs.regions) {
    subject_ = "$JS.API.CONSUMER.DELETE." + read + "." + OriginConsumerName(c.name, region);
    sink_.ToUpstream(subject_, {}, {}, {});
  }
  ++stats_.abandoned;
  if (options_.registry != nullptr) options_.registry->Remove(c.stream, c.name);
  Forget(c.stream, std::string(c.name));
}

void SplitConsumers::OnPushMessage(std::string_view subject, std::string_view reply,
                                   std::string_view headers, std::string_view payload, TimePoint) {
  if (reply.starts_with("$JS.ACK.")) {
    auto ack = ParseAckV1(reply);
    if (!ack) return;
    auto internal = rewriter_.topology().FindInternal(ack->stream);
    if (!internal || internal->role != InternalRole::kRead) return;
    const VirtualStream& vs = rewriter_.topology().streams()[internal->stream];
    auto origin = ParseOriginConsumer(vs, ack->consumer);
    if (!origin) return;
    Consumer* c = FindConsumer(internal->stream, origin->base);
    if (c == nullptr || c->deliver.empty()) {
      ++stats_.deliveries_dropped;
      return;
    }
    if (!Deliver(*c, origin->origin, *ack, reply, c->deliver, subject, headers, payload)) {
      ++stats_.deliveries_dropped;
      if (!c->durable) Abandon(*c);
    }
    return;
  }
  // A status on <deliver_prefix><read>.<name>.<origin>: heartbeat or flow control.
  std::string_view bind, region;
  if (!SplitLast(subject, bind, region)) return;
  Consumer* c = nullptr;
  for (auto& candidate : consumers_) {
    if (!candidate->push_sid.empty() && BindSubject(candidate->stream, candidate->name) == bind) {
      c = candidate.get();
    }
  }
  if (c == nullptr) return;
  std::string_view out_headers = headers;
  if (reply.empty() && StatusCode(headers) == 100) {
    RewriteHeartbeat(*c, headers);
    out_headers = headers_;
  }
  ++stats_.statuses;
  if (!sink_.ToClient(c->deliver, c->deliver, reply, out_headers, payload) && !c->durable) {
    Abandon(*c);
  }
}

// --- acks -------------------------------------------------------------------------------------

bool SplitConsumers::OnClientAck(std::string_view subject, std::string_view reply,
                                 std::string_view payload, TimePoint now) {
  if (consumers_.empty()) return false;
  auto ack = ParseAckV1(subject);
  if (!ack) return false;
  auto stream = rewriter_.topology().FindStream(ack->stream);
  if (!stream) return false;
  Consumer* c = FindConsumer(*stream, ack->consumer);
  if (c == nullptr) return false;
  ++stats_.acks;
  const VirtualStream& vs = rewriter_.topology().streams()[*stream];
  const DeliveryRenumber::Entry* e = c->renumber.Find(ack->consumer_seq);
  if (e == nullptr) {
    ++stats_.acks_unknown;
    return true;
  }
  const std::string read = vs.ReadStreamName(rewriter_.region());
  auto send = [&](const DeliveryRenumber::Entry& entry, std::string_view with_reply,
                  std::string_view body) {
    const std::string origin_name = OriginConsumerName(c->name, vs.regions[entry.origin]);
    AckTokens t;
    t.stream = read;
    t.consumer = origin_name;
    t.delivered = entry.delivered;
    t.stream_seq = entry.stream_seq;
    t.consumer_seq = entry.origin_seq;
    t.timestamp = entry.timestamp;
    t.pending = 0;
    FormatAckV1(t, subject_);
    sink_.ToUpstream(subject_, with_reply, {}, body);
  };
  // "+NXT [request]": ack, then the next message(s) to `reply`. The origin would send its
  // own next message with its own numbers, so the ack goes as a plain +ACK and the "next" is a
  // pull request of the split consumer for the client's reply (swept over every origin).
  const bool next = payload.starts_with("+NXT");
  if (next) {
    send(*e, {}, "+ACK");
    if (c->deliver.empty() && !reply.empty()) {
      StartPull("$JS.API.", *stream, c->name, reply, payload.substr(4), now);
    }
  } else {
    send(*e, reply, payload);
  }
  const bool positive = payload.empty() || payload == "+ACK" || payload == "+OK" || next;
  if (c->ack_all && positive) {
    // Ack policy all: everything up to this point, on every origin.
    for (std::uint32_t o = 0; o < vs.regions.size(); ++o) {
      if (o == e->origin) continue;
      if (const DeliveryRenumber::Entry* other =
              c->renumber.LatestAtOrBefore(o, ack->consumer_seq)) {
        send(*other, {}, next ? std::string_view("+ACK") : payload);
      }
    }
  }
  return true;
}

// --- pull requests ----------------------------------------------------------------------------

bool SplitConsumers::StartPull(std::string_view prefix, std::uint32_t stream, std::string_view name,
                               std::string_view reply, std::string_view body, TimePoint now) {
  Consumer* c = FindConsumer(stream, name);
  if (c == nullptr || !c->deliver.empty()) return false;
  if (reply.empty()) return true;  // nowhere to deliver: the server would drop it too
  std::uint64_t batch = 1;
  bool no_wait = false;
  std::int64_t expires = 0, heartbeat = 0, max_bytes = 0;
  std::string_view trimmed = body;
  while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) {
    trimmed.remove_prefix(1);
  }
  if (!trimmed.empty() && trimmed.front() == '{') {
    auto j = ParseObject(trimmed);
    if (!j) return false;  // the server answers a bad request its own way
    batch = static_cast<std::uint64_t>(std::max<std::int64_t>(I64Field(*j, "batch"), 0));
    expires = I64Field(*j, "expires");
    heartbeat = I64Field(*j, "idle_heartbeat");
    max_bytes = I64Field(*j, "max_bytes");
    if (auto nw = j->find("no_wait"); nw != j->end() && nw->is_boolean()) no_wait = *nw;
  } else if (!trimmed.empty()) {
    std::uint64_t n = 0;
    if (!ParseU64(trimmed, n)) return false;
    batch = n;
  }
  if (batch == 0) batch = 1;

  Pull* slot = nullptr;
  for (auto& p : pulls_) {
    if (!p->active) {
      slot = p.get();
      break;
    }
  }
  if (slot == nullptr && pulls_.size() < options_.max_pulls) {
    pulls_.push_back(std::make_unique<Pull>());
    slot = pulls_.back().get();
    slot->slot = pulls_.size() - 1;
  }
  ++stats_.pulls;
  if (slot == nullptr) {
    ++stats_.pulls_refused;
    sink_.ToClient(reply, reply, {}, "NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n", {});
    return true;
  }
  if (!slot->subscribed) {
    slot->subscribed = true;
    subject_ = options_.inbox + "p.";
    AppendU64(subject_, slot->slot);
    subject_.append(".>");
    std::string sid = options_.sid_prefix + "P";
    AppendU64(sid, slot->slot);
    sink_.SubscribeUpstream(subject_, {}, sid);
  }
  const std::size_t origins = rewriter_.topology().streams()[stream].regions.size();
  Pull& p = *slot;
  p.active = true;
  ++p.gen;
  p.stream = stream;
  p.prefix.assign(prefix);
  p.name.assign(name);
  p.client_reply.assign(reply);
  p.remaining = batch;
  p.delivered = 0;
  p.no_wait = no_wait;
  p.has_expires = expires > 0;
  p.deadline = now + std::chrono::nanoseconds(std::max<std::int64_t>(expires, 0));
  p.idle_heartbeat = heartbeat;
  p.max_bytes = max_bytes;
  p.waiting_phase = false;
  p.first = static_cast<std::size_t>(rotation_++ % origins);
  p.swept = 0;
  p.asked.assign(origins, 0);
  p.got.assign(origins, 0);
  p.status_409.clear();
  SendPull(p, static_cast<std::uint32_t>(p.first), p.remaining, true, now);
  return true;
}

void SplitConsumers::SendPull(Pull& p, std::uint32_t origin, std::uint64_t batch, bool no_wait,
                              TimePoint now) {
  const VirtualStream& vs = rewriter_.topology().streams()[p.stream];
  p.asked[origin] = batch;
  p.got[origin] = 0;
  body_ = "{\"batch\":";
  AppendU64(body_, batch);
  if (no_wait) {
    body_.append(",\"no_wait\":true");
    p.sweep_deadline = now + options_.sweep_timeout;
  } else if (p.has_expires) {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(p.deadline - now);
    const std::int64_t left_ns = std::max<std::int64_t>(left.count(), 1'000'000);
    body_.append(",\"expires\":");
    AppendU64(body_, static_cast<std::uint64_t>(left_ns));
    if (p.idle_heartbeat > 0 && 2 * p.idle_heartbeat <= left_ns) {
      body_.append(",\"idle_heartbeat\":");
      AppendU64(body_, static_cast<std::uint64_t>(p.idle_heartbeat));
    }
  }
  if (p.max_bytes > 0) {
    body_.append(",\"max_bytes\":");
    AppendU64(body_, static_cast<std::uint64_t>(p.max_bytes));
  }
  body_.push_back('}');
  subject_.assign(p.prefix);
  subject_.append("CONSUMER.MSG.NEXT.");
  subject_.append(vs.ReadStreamName(rewriter_.region()));
  subject_.push_back('.');
  subject_.append(OriginConsumerName(p.name, vs.regions[origin]));
  reply_ = options_.inbox + "p.";
  AppendU64(reply_, p.slot);
  reply_.push_back('.');
  AppendU64(reply_, p.gen);
  reply_.push_back('.');
  AppendU64(reply_, origin);
  sink_.ToUpstream(subject_, reply_, {}, body_);
}

void SplitConsumers::SweepNext(Pull& p, TimePoint now) {
  const std::size_t origins = p.asked.size();
  ++p.swept;
  if (p.remaining == 0) {
    FinishPull(p, false);
    return;
  }
  if (p.swept < origins) {
    SendPull(p, static_cast<std::uint32_t>((p.first + p.swept) % origins), p.remaining, true, now);
    return;
  }
  // Every origin was asked without waiting. Wait now, if the client asked to.
  // no_wait ends here, except no_wait with expires and nothing found yet, which the server
  // treats as "wait until something arrives".
  const bool wait = !p.no_wait || (p.has_expires && p.delivered == 0);
  if (!wait || (p.has_expires && now >= p.deadline) || !p.status_409.empty()) {
    FinishPull(p, true);
    return;
  }
  p.waiting_phase = true;
  ++p.gen;  // late statuses of the sweep are ignored from here on
  std::vector<std::uint64_t> shares = PullShares(p.remaining, origins, p.first);
  for (std::uint32_t o = 0; o < origins; ++o) {
    p.asked[o] = 0;
    if (shares[o] > 0) SendPull(p, o, shares[o], false, now);
  }
}

void SplitConsumers::OriginDone(Pull& p, std::uint32_t origin, TimePoint now) {
  if (!p.waiting_phase) {
    const std::size_t current = (p.first + p.swept) % p.asked.size();
    if (origin != current) return;
    p.asked[origin] = 0;
    SweepNext(p, now);
    return;
  }
  p.asked[origin] = 0;
  for (std::uint64_t a : p.asked) {
    if (a != 0) return;
  }
  FinishPull(p, p.remaining > 0);
}

void SplitConsumers::FinishPull(Pull& p, bool status) {
  p.active = false;
  ++p.gen;
  if (!status) return;
  if (!p.status_409.empty()) {
    headers_ = p.status_409;
  } else if (p.delivered == 0 && !p.has_expires && p.no_wait) {
    headers_ = "NATS/1.0 404 No Messages\r\n\r\n";
  } else {
    headers_ = "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: ";
    AppendU64(headers_, p.remaining);
    headers_.append("\r\nNats-Pending-Bytes: 0\r\n\r\n");
  }
  ++stats_.statuses;
  sink_.ToClient(p.client_reply, p.client_reply, {}, headers_, {});
}

void SplitConsumers::OnPullMessage(std::size_t slot, std::string_view subject,
                                   std::string_view reply, std::string_view headers,
                                   std::string_view payload, TimePoint now) {
  if (slot >= pulls_.size()) return;
  Pull& p = *pulls_[slot];
  if (reply.starts_with("$JS.ACK.")) {
    auto ack = ParseAckV1(reply);
    if (!ack) return;
    const VirtualStream& vs = rewriter_.topology().streams()[p.stream];
    auto origin = ParseOriginConsumer(vs, ack->consumer);
    if (!p.active || !origin || origin->base != p.name || p.remaining == 0) {
      ++stats_.deliveries_dropped;  // not acked: the server redelivers it after ack_wait
      return;
    }
    Consumer* c = FindConsumer(p.stream, p.name);
    if (c == nullptr) {
      ++stats_.deliveries_dropped;
      return;
    }
    if (!Deliver(*c, origin->origin, *ack, reply, p.client_reply, subject, headers, payload)) {
      ++stats_.deliveries_dropped;
      FinishPull(p, false);  // the client stopped listening
      return;
    }
    --p.remaining;
    ++p.delivered;
    const std::uint32_t o = origin->origin;
    if (o < p.got.size() && p.asked[o] > 0 && ++p.got[o] >= p.asked[o]) {
      OriginDone(p, o, now);  // its request was filled: it ends without a status
    } else if (p.remaining == 0) {
      FinishPull(p, false);
    }
    return;
  }
  // A status on <inbox>p.<slot>.<gen>.<origin>.
  std::string_view rest = subject.substr(std::min(subject.size(), options_.inbox.size() + 2));
  std::string_view head, origin_text, slot_text, gen_text;
  std::uint64_t gen = 0, origin = 0;
  if (!SplitLast(rest, head, origin_text) || !SplitLast(head, slot_text, gen_text) ||
      !ParseU64(gen_text, gen) || !ParseU64(origin_text, origin)) {
    return;
  }
  if (!p.active || gen != p.gen || origin >= p.asked.size()) return;
  const int code = StatusCode(headers);
  if (code == 100) {
    if (Consumer* c = FindConsumer(p.stream, p.name)) {
      RewriteHeartbeat(*c, headers);
      ++stats_.statuses;
      sink_.ToClient(p.client_reply, p.client_reply, {}, headers_, {});
    }
    return;
  }
  if (code == 409 && p.status_409.empty()) p.status_409.assign(headers);
  if (code == 404 || code == 408 || code == 409) {
    OriginDone(p, static_cast<std::uint32_t>(origin), now);
  }
}

void SplitConsumers::OnUpstreamMessage(std::string_view sid, std::string_view subject,
                                       std::string_view reply, std::string_view headers,
                                       std::string_view payload, TimePoint now) {
  std::string_view kind = sid.substr(options_.sid_prefix.size());
  if (kind == "R") {
    if (subject.starts_with(options_.inbox)) OnMergeReply(subject, headers, payload, now);
  } else if (kind.starts_with("D")) {
    if (reply.starts_with("$JS.ACK.") || subject.starts_with(options_.deliver_prefix)) {
      OnPushMessage(subject, reply, headers, payload, now);
    }
  } else if (kind.starts_with("P")) {
    std::uint64_t slot = 0;
    if (ParseU64(kind.substr(1), slot)) {
      OnPullMessage(static_cast<std::size_t>(slot), subject, reply, headers, payload, now);
    }
  }
}

void SplitConsumers::OnUpstreamRestored() {
  // The list pages in flight died with the old connection; pending binds start another.
  if (refresh_) {
    options_.registry->AbandonRefresh(refresh_->serial);
    refresh_.reset();
  }
  if (replies_subscribed_)
    sink_.SubscribeUpstream(options_.inbox + "r.*.*", {}, options_.sid_prefix + "R");
  for (auto& c : consumers_) {
    if (!c->push_sid.empty()) SubscribePush(c->push_sid, c->stream, c->name, c->group);
  }
  for (auto& slot : pulls_) {
    Pull& p = *slot;
    if (p.subscribed) {
      subject_ = options_.inbox + "p.";
      AppendU64(subject_, p.slot);
      subject_.append(".>");
      std::string sid = options_.sid_prefix + "P";
      AppendU64(sid, p.slot);
      sink_.SubscribeUpstream(subject_, {}, sid);
    }
    if (p.active) FinishPull(p, true);
  }
}

void SplitConsumers::Tick(TimePoint now) {
  if (refresh_ && now >= refresh_->deadline) EndRefresh(false, now);
  // Another connection may have completed the refresh these wait for.
  if (!pending_binds_.empty()) RecheckPendingBinds(now);
  for (auto it = merges_.begin(); it != merges_.end();) {
    if (it->second->deadline <= now) {
      std::unique_ptr<Merge> done = std::move(it->second);
      it = merges_.erase(it);
      FinishMerge(*done);
    } else {
      ++it;
    }
  }
  for (auto& slot : pulls_) {
    Pull& p = *slot;
    if (!p.active) continue;
    if (!p.waiting_phase) {
      if (now >= p.sweep_deadline) {
        ++p.gen;  // what the silent origin sends later is ignored
        OriginDone(p, static_cast<std::uint32_t>((p.first + p.swept) % p.asked.size()), now);
        // SweepNext sent the next request under the new generation.
      }
    } else if (p.has_expires && now >= p.deadline + options_.sweep_timeout) {
      FinishPull(p, p.remaining > 0);
    }
  }
}

}  // namespace meridian::rewrite
