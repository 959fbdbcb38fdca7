// The engine: stream lifecycle, publishing, the $JS.API dispatcher, persistence.
#include "jetstream/engine.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "jetstream/internal.h"
#include "jsapi/defaults.h"
#include "jsapi/json.h"
#include "jsapi/message.h"
#include "store/file_store.h"
#include "store/memory_store.h"
#include "subject/subject.h"

namespace meridian::jetstream {

namespace fs = std::filesystem;
using jsapi::ApiError;
namespace errors = jsapi::errors;

namespace {

// Consumer configuration errors not in jsapi's table (nats-server errors.json, 2.10).
constexpr jsapi::ErrorCode kConsumerDeliverToWildcards{10079, 400,
                                                       "consumer deliver subject has wildcards"};
constexpr jsapi::ErrorCode kConsumerPushMaxWaiting{10080, 400,
                                                   "consumer in push mode can not set max waiting"};
constexpr jsapi::ErrorCode kConsumerDeliverCycle{10081, 400,
                                                 "consumer deliver subject forms a cycle"};
constexpr jsapi::ErrorCode kConsumerMaxPendingAckPolicyRequired{
    10082, 400, "consumer requires ack policy for max ack pending"};
constexpr jsapi::ErrorCode kConsumerSmallHeartbeat{10083, 400,
                                                   "consumer idle heartbeat needs to be >= 100ms"};
constexpr jsapi::ErrorCode kConsumerPullWithRateLimit{
    10086, 400, "consumer in pull mode can not have rate limit set"};
constexpr jsapi::ErrorCode kConsumerMaxWaitingNegative{10087, 400,
                                                       "consumer max waiting needs to be positive"};
constexpr jsapi::ErrorCode kConsumerHBRequiresPush{
    10088, 400, "consumer idle heartbeat requires a push based consumer"};
constexpr jsapi::ErrorCode kConsumerFCRequiresPush{
    10089, 400, "consumer flow control requires a push based consumer"};
constexpr jsapi::ErrorCode kConsumerInvalidPolicy{10094, 400, "{err}"};
constexpr jsapi::ErrorCode kConsumerWQRequiresExplicitAck{10098, 400,
                                                          "workqueue stream requires explicit ack"};
constexpr jsapi::ErrorCode kConsumerWQMultipleUnfiltered{
    10099, 400, "multiple non-filtered consumers not allowed on workqueue stream"};
constexpr jsapi::ErrorCode kConsumerWQConsumerNotUnique{
    10100, 400, "filtered consumer not unique on workqueue stream"};
constexpr jsapi::ErrorCode kConsumerWQConsumerNotDeliverAll{
    10101, 400, "consumer must be deliver all on workqueue stream"};
constexpr jsapi::ErrorCode kConsumerBadDurableName{10103, 400,
                                                   "durable name can not contain '.', '*', '>'"};
constexpr jsapi::ErrorCode kConsumerFCRequiresHB{
    10108, 400, "consumer with flow control also needs heartbeats"};
constexpr jsapi::ErrorCode kConsumerInvalidDeliverSubject{10112, 400,
                                                          "invalid push consumer deliver subject"};
constexpr jsapi::ErrorCode kConsumerMaxRequestBatchNegative{
    10114, 400, "consumer max request batch needs to be > 0"};
constexpr jsapi::ErrorCode kConsumerMaxRequestExpiresTooSmall{
    10115, 400, "consumer max request expires needs to be >= 1ms"};
constexpr jsapi::ErrorCode kConsumerMaxDeliverBackoff{
    10116, 400, "max deliver is required to be > length of backoff values"};
constexpr jsapi::ErrorCode kConsumerDuplicateFilterSubjects{
    10136, 400, "consumer cannot have both FilterSubject and FilterSubjects specified"};
constexpr jsapi::ErrorCode kConsumerOverlappingSubjectFilters{
    10138, 400, "consumer subject filters cannot overlap"};
constexpr jsapi::ErrorCode kConsumerEmptyFilter{
    10139, 400, "consumer filter in FilterSubjects cannot be empty"};

// Mirror configuration errors (nats-server errors.json).
constexpr jsapi::ErrorCode kMirrorMaxMessageSizeTooBig{
    10030, 400, "stream mirror must have max message size >= source"};
constexpr jsapi::ErrorCode kMirrorWithSources{10031, 400,
                                              "stream mirrors can not also contain other sources"};
constexpr jsapi::ErrorCode kMirrorWithSubjects{10034, 400,
                                               "stream mirrors can not contain subjects"};
constexpr jsapi::ErrorCode kMirrorInvalidStreamName{10142, 400, "mirrored stream name is invalid"};
constexpr jsapi::ErrorCode kMirrorWithFirstSeq{
    10143, 400, "stream mirrors can not have first sequence configured"};
constexpr jsapi::ErrorCode kMirrorMultipleFiltersNotAllowed{
    10150, 400, "mirror with multiple subject transforms cannot also have a single subject filter"};
constexpr jsapi::ErrorCode kMirrorInvalidSubjectFilter{10151, 400,
                                                       "mirror transform source: {err}"};
constexpr jsapi::ErrorCode kMirrorOverlappingSubjectFilters{
    10152, 400, "mirror subject filters can not overlap"};

constexpr int64_t kMs = 1'000'000;

int64_t SystemNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What an API handler produced: a JSON body, or nothing (silence or sent through Outbound).
struct Reply {
  bool has = false;
  std::string body;
};

template <typename T>
Reply Ok(T& value, std::string_view type_suffix) {
  value.type = jsapi::ResponseType(type_suffix);
  return Reply{true, jsapi::ToJson(value)};
}

Reply Err(std::string_view type_suffix, const ApiError& e) {
  return Reply{true, jsapi::ErrorReplyBody(type_suffix, e)};
}

bool IsEmptyBody(std::string_view body) {
  size_t i = body.find_first_not_of(" \t\r\n");
  if (i == std::string_view::npos) return true;
  auto j = nlohmann::json::parse(body, nullptr, false);
  return j.is_object() && j.empty();
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  for (char c : name) {
    if (c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' ||
        subject::IsSubjectWhitespace(c) || c == '\0') {
      return false;
    }
  }
  return true;
}

store::RetentionLimits LimitsOf(const jsapi::StreamConfig& c) {
  store::RetentionLimits l;
  l.max_msgs = c.max_msgs > 0 ? static_cast<uint64_t>(c.max_msgs) : 0;
  l.max_bytes = c.max_bytes > 0 ? static_cast<uint64_t>(c.max_bytes) : 0;
  l.max_age_ns = c.max_age.count() > 0 ? c.max_age.count() : 0;
  l.max_msgs_per_subject =
      c.max_msgs_per_subject > 0 ? static_cast<uint64_t>(c.max_msgs_per_subject) : 0;
  // discard new is checked by the engine before appending (for nats-server's sentences);
  // the store only ever discards old.
  l.discard = store::DiscardPolicy::kOld;
  return l;
}

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Stream helpers

bool Stream::Captures(std::string_view subj) const {
  for (const auto& s : config.subjects) {
    if (subject::SubjectMatches(s, subj)) return true;
  }
  return false;
}

store::Status Stream::LoadNextIntact(std::string_view filter, uint64_t start_seq,
                                     store::Message* out) {
  for (;;) {
    store::Status st = store->LoadNext(filter, start_seq, out);
    if (st.code() != store::StatusCode::kCorrupt) return st;
    // out->seq is the last sequence of the corrupt region: continue after it.
    if (reported_corrupt.insert(out->seq).second && engine->options.warn) {
      engine->options.warn("stream " + config.name + ": skipping " + st.message());
    }
    start_seq = out->seq + 1;
  }
}

void Stream::Pump(int64_t now_ns) {
  for (auto& [name, c] : consumers) c->Pump(now_ns);
}

void Stream::MaybeRemoveAcked(uint64_t seq, std::string_view subj) {
  if (config.retention == jsapi::RetentionPolicy::kLimits) return;
  for (auto& [name, c] : consumers) {
    if (c->Needs(seq, subj)) return;
  }
  (void)store->Remove(seq);
}

void Stream::ExpireMsgIds(int64_t now_ns) {
  int64_t window = config.duplicate_window.count();
  while (!msg_id_order.empty() && SatAdd(msg_id_order.front().first, window) <= now_ns) {
    auto it = msg_ids.find(msg_id_order.front().second);
    if (it != msg_ids.end() && it->second.second == msg_id_order.front().first) msg_ids.erase(it);
    msg_id_order.pop_front();
  }
}

// ---------------------------------------------------------------------------------------
// The implementation's API handlers (free functions over EngineImpl, to keep engine.h small).

namespace {

// Consumers a client sees: nats-server keeps `direct` consumers (those of other servers'
// sources and mirrors) out of names, lists, counts and max_consumers.
int64_t PublicConsumers(const Stream& s) {
  int64_t n = 0;
  for (const auto& [name, c] : s.consumers) {
    if (!c->config().direct) ++n;
  }
  return n;
}

class Api {
 public:
  explicit Api(EngineImpl& e) : e_(e) {}
  // The account info response plus "messages" (stored in all streams), for /jsz.
  std::string AccountInfoForMonitoring() {
    auto j = nlohmann::json::parse(AccountInfo().body, nullptr, false);
    if (!j.is_object()) return "{}";
    uint64_t messages = 0;
    for (const auto& [n, s] : e_.streams) messages += s->store->State().msgs;
    j["messages"] = messages;
    return j.dump();
  }

  // nats-server's JSZ stream_detail of every stream, by name: name, created, cluster, state,
  // mirror and sources, and the config with `with_config`.
  std::string StreamDetailsForMonitoring(bool with_config) {
    std::vector<std::string> names;
    for (const auto& [n, st] : e_.streams) names.push_back(n);
    std::sort(names.begin(), names.end());
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& n : names) {
      jsapi::StreamInfo info = InfoOf(*e_.streams.find(n)->second, nullptr);
      auto j = nlohmann::ordered_json::parse(jsapi::ToJson(info), nullptr, false);
      if (!j.is_object()) continue;
      nlohmann::ordered_json d;
      d["name"] = n;
      d["created"] = j["created"];
      if (j.contains("cluster")) d["cluster"] = j["cluster"];
      if (with_config) d["config"] = j["config"];
      d["state"] = j["state"];
      if (j.contains("mirror")) d["mirror"] = j["mirror"];
      if (j.contains("sources")) d["sources"] = j["sources"];
      out.push_back(std::move(d));
    }
    return out.dump();
  }

  Reply Dispatch(std::string_view subj, std::string_view reply, std::string_view headers,
                 std::string_view body);

  // Stream lifecycle (also used by recovery).
  ApiError CheckStreamConfig(jsapi::StreamConfig& cfg, const Stream* existing);
  std::unique_ptr<Stream> OpenStream(const jsapi::StreamConfig& cfg, int64_t created_ns,
                                     ApiError* err);
  // Writes stream.json durably (store::WriteFileAtomic; on create also fsyncs the streams
  // directory, so the new stream directory itself survives a power loss).
  store::Status SaveStreamMeta(Stream& s, bool created);

 private:
  Reply AccountInfo();
  Reply StreamCreate(std::string_view name, std::string_view body, bool update);
  Reply StreamInfo(std::string_view name, std::string_view body);
  Reply StreamDelete(std::string_view name, std::string_view body);
  Reply StreamNames(std::string_view body, bool list);
  Reply StreamPurge(std::string_view name, std::string_view body);
  Reply MsgGet(std::string_view name, std::string_view body);
  Reply MsgDelete(std::string_view name, std::string_view body);
  Reply DirectGet(std::string_view name, std::string_view subj_tail, std::string_view reply,
                  std::string_view body, bool subject_form);
  Reply ConsumerCreate(const std::vector<std::string_view>& t, std::string_view body,
                       bool durable_api);
  Reply ConsumerInfo(std::string_view s, std::string_view c, std::string_view body);
  Reply ConsumerDelete(std::string_view s, std::string_view c, std::string_view body);
  Reply ConsumerNames(std::string_view s, std::string_view body, bool list);

  jsapi::StreamInfo InfoOf(Stream& s, const jsapi::StreamInfoRequest* req);
  Stream* Find(std::string_view name) {
    auto it = e_.streams.find(std::string(name));
    return it == e_.streams.end() ? nullptr : it->second.get();
  }
  ApiError CheckConsumerConfig(Stream& s, jsapi::ConsumerConfig& cfg, const Consumer* existing);

  EngineImpl& e_;
};

ApiError Api::CheckStreamConfig(jsapi::StreamConfig& cfg, const Stream* existing) {
  auto invalid = [](std::string_view why) { return errors::kStreamInvalidConfig.Make(why); };
  if (!ValidName(cfg.name)) {
    return invalid("stream name is required and can not contain '.', '*', '>'");
  }
  for (const auto& src : cfg.sources) {
    if (!ValidName(src.name)) return invalid("stream source name is invalid");
    if (src.name == cfg.name && !src.external) return invalid("stream can not source itself");
    if (!src.filter_subject.empty() && !src.subject_transforms.empty()) {
      return invalid("stream source can not have both a filter subject and subject transforms");
    }
    for (const auto& t : src.subject_transforms) {
      if (!subject::SubjectTransform::Parse(t.src.empty() ? ">" : t.src, t.dest)) {
        return invalid("stream source subject transform is invalid");
      }
    }
  }
  jsapi::ApplyServerDefaults(cfg);
  if (!cfg.compression) cfg.compression = jsapi::Compression::kNone;
  if (!cfg.consumer_limits) cfg.consumer_limits = jsapi::StreamConsumerLimits{};
  if (cfg.num_replicas < 0) return errors::kReplicasCountCannotBeNegative.Make();
  if (cfg.num_replicas > 5) return invalid("maximum replicas is 5");
  // A standalone node does not replicate: like nats-server standalone, it runs R1.
  cfg.num_replicas = 1;
  if (cfg.description.size() > 4096) {
    return invalid("description is too long, maximum allowed is 4096");
  }
  if (cfg.max_age.count() < 0) return invalid("max age needs to be >= 100ms");
  if (cfg.max_age.count() > 0 && cfg.max_age.count() < 100 * kMs) {
    return invalid("max age needs to be >= 100ms");
  }
  if (cfg.duplicate_window.count() < 0) {
    return invalid("duplicates window can not be negative");
  }
  if (cfg.max_age.count() > 0 && cfg.duplicate_window > cfg.max_age) {
    return invalid("duplicates window can not be larger then max age");
  }
  if (cfg.max_msg_size < -1 || cfg.max_msgs < -1 || cfg.max_bytes < -1 ||
      cfg.max_msgs_per_subject < -1) {
    return invalid("stream limits can not be negative");
  }
  if (cfg.storage == jsapi::StorageType::kFile && e_.options.store_dir.empty()) {
    return errors::kStreamCreate.Make(
        "file storage is not available: the node was started without a store directory");
  }
  if (cfg.compression == jsapi::Compression::kS2) {
    return invalid("s2 compression is not supported by this node");
  }
  if (cfg.sealed && !existing) return invalid("stream configuration for create can not be sealed");
  if (cfg.deny_purge && cfg.allow_rollup_hdrs) {
    return invalid("roll-ups require the purge permission");
  }
  if (cfg.discard_new_per_subject) {
    if (cfg.discard != jsapi::DiscardPolicy::kNew) {
      return invalid("discard new per subject requires discard new policy to be set");
    }
    if (cfg.max_msgs_per_subject <= 0) {
      return invalid("discard new per subject requires max msgs per subject > 0");
    }
  }
  if (cfg.mirror) {
    // nats-server 2.10 checkStreamCfg, in its order.
    const jsapi::StreamSource& m = *cfg.mirror;
    if (cfg.first_seq > 0) return kMirrorWithFirstSeq.Make();
    if (!cfg.subjects.empty()) return kMirrorWithSubjects.Make();
    if (!cfg.sources.empty()) return kMirrorWithSources.Make();
    if (!m.filter_subject.empty() && !m.subject_transforms.empty()) {
      return kMirrorMultipleFiltersNotAllowed.Make();
    }
    for (size_t i = 0; i < m.subject_transforms.size(); ++i) {
      const std::string& src = m.subject_transforms[i].src;
      if (!src.empty() && !subject::IsValidSubscribeSubject(src)) {
        return kMirrorInvalidSubjectFilter.Make("invalid subject");
      }
      for (size_t j = 0; j < m.subject_transforms.size(); ++j) {
        const std::string& other = m.subject_transforms[j].src;
        if (i != j &&
            subject::SubjectsCollide(src.empty() ? ">" : src, other.empty() ? ">" : other)) {
          return kMirrorOverlappingSubjectFilters.Make();
        }
      }
      if (!subject::SubjectTransform::Parse(src.empty() ? ">" : src,
                                            m.subject_transforms[i].dest)) {
        return invalid("mirror subject transform destination is invalid");
      }
    }
    if (!m.filter_subject.empty() && !subject::IsValidSubscribeSubject(m.filter_subject)) {
      return kMirrorInvalidSubjectFilter.Make("invalid subject");
    }
    if (!ValidName(m.name)) return kMirrorInvalidStreamName.Make();
    // An external origin is on another server or account: nothing to check here.
    auto origin = m.external ? e_.streams.end() : e_.streams.find(m.name);
    if (origin != e_.streams.end()) {
      const jsapi::StreamConfig& oc = origin->second->config;
      if (cfg.max_msg_size > 0 && oc.max_msg_size > 0 && cfg.max_msg_size < oc.max_msg_size) {
        return kMirrorMaxMessageSizeTooBig.Make();
      }
      // A mirror answers direct gets for its origin when the origin allows them.
      cfg.mirror_direct = oc.allow_direct;
    }
    // Cycles: following mirrors and sources from the origin must not come back here.
    std::vector<std::string> todo;
    if (!m.external) todo.push_back(m.name);  // cycles are not followed across `external`
    std::set<std::string> seen;
    while (!todo.empty()) {
      std::string name = todo.back();
      todo.pop_back();
      if (name == cfg.name) return invalid("detected cycle");
      if (!seen.insert(name).second) continue;
      auto it = e_.streams.find(name);
      if (it == e_.streams.end()) continue;
      const auto& oc = it->second->config;
      if (oc.mirror && !oc.mirror->external) todo.push_back(oc.mirror->name);
      for (const auto& src : oc.sources) {
        if (!src.external) todo.push_back(src.name);
      }
    }
  } else if (cfg.mirror_direct) {
    return invalid("stream has no mirror but does have mirror direct");
  }
  {
    // External prefixes (nats-server 2.9.10 checkStreamCfg, its order and texts).
    std::vector<const jsapi::ExternalStream*> ext;
    if (cfg.mirror && cfg.mirror->external) ext.push_back(&*cfg.mirror->external);
    for (const auto& src : cfg.sources) {
      if (src.external) ext.push_back(&*src.external);
    }
    for (const auto* x : ext) {
      if (x->deliver.empty()) continue;
      if (!subject::IsValidPublishSubject(x->deliver)) {
        return ApiError{400, 10024,
                        "stream external delivery prefix " + x->deliver +
                            " must not contain wildcards",
                        {}};
      }
      for (const auto& sub : cfg.subjects) {
        if (subject::IsValidSubscribeSubject(sub) &&
            subject::SubjectsCollide(sub, x->deliver + "." + sub)) {
          return ApiError{400, 10022,
                          "stream external delivery prefix " + x->deliver +
                              " overlaps with stream subject " + sub,
                          {}};
        }
      }
    }
    for (const auto* x : ext) {
      if (x->api.empty()) continue;
      if (!subject::IsValidPublishSubject(x->api)) {
        return invalid("stream external api prefix \"" + x->api +
                       "\" must be a valid subject without wildcards");
      }
      if (subject::SubjectsCollide(x->api, "$JS.API")) {
        return ApiError{400, 10021,
                        "stream external api prefix " + x->api + " must not overlap with $JS.API",
                        {}};
      }
    }
  }
  for (size_t i = 0; i < cfg.subjects.size(); ++i) {
    const std::string& s = cfg.subjects[i];
    if (!subject::IsValidSubscribeSubject(s)) return invalid("invalid subject");
    if (s.starts_with("$JS.API") || s.starts_with("$JS.ACK") || s.starts_with("$JS.FC") ||
        s == ">") {
      if (s != ">" || cfg.no_ack == false) {
        return invalid("subjects that overlap with jetstream api require no-ack to be true");
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (cfg.subjects[j] == s) return invalid("duplicate subjects detected");
      if (subject::SubjectsCollide(cfg.subjects[j], s)) return invalid("subjects overlap");
    }
  }
  if (cfg.subject_transform) {
    auto t =
        subject::SubjectTransform::Parse(cfg.subject_transform->src, cfg.subject_transform->dest);
    if (!t) return invalid("stream subject transform destination is invalid");
  }
  if (cfg.republish) {
    if (!subject::IsValidSubscribeSubject(cfg.republish->src.empty() ? ">" : cfg.republish->src)) {
      return invalid("stream republish source is not a valid subject");
    }
    for (const auto& s : cfg.subjects) {
      if (subject::SubjectsCollide(s, cfg.republish->dest)) {
        return invalid("stream republish destination forms a cycle");
      }
    }
  }
  // Overlap with other streams.
  for (const auto& [name, other] : e_.streams) {
    if (name == cfg.name) continue;
    for (const auto& a : cfg.subjects) {
      for (const auto& b : other->config.subjects) {
        if (subject::SubjectsCollide(a, b)) return errors::kStreamSubjectOverlap.Make();
      }
    }
  }
  if (existing) {
    const jsapi::StreamConfig& old = existing->config;
    if (cfg.storage != old.storage) {
      return invalid("stream configuration update can not change storage type");
    }
    if (cfg.mirror != old.mirror) return errors::kStreamMirrorNotUpdatable.Make();
    if (cfg.max_consumers != old.max_consumers) {
      return invalid("stream configuration update can not change MaxConsumers");
    }
    if ((cfg.retention == jsapi::RetentionPolicy::kWorkQueue) !=
            (old.retention == jsapi::RetentionPolicy::kWorkQueue) &&
        cfg.retention != old.retention) {
      return invalid(
          "stream configuration update can not change retention policy to/from workqueue");
    }
    if (old.sealed && !cfg.sealed) {
      return invalid("stream configuration update can not unseal a sealed stream");
    }
    if (old.deny_delete && !cfg.deny_delete) {
      return invalid("stream configuration update can not cancel deny message deletes");
    }
    if (old.deny_purge && !cfg.deny_purge) {
      return invalid("stream configuration update can not cancel deny purge");
    }
    if (cfg.sealed) {
      cfg.deny_delete = true;
      cfg.deny_purge = true;
      cfg.allow_rollup_hdrs = false;
    }
  }
  return {};
}

std::unique_ptr<Stream> Api::OpenStream(const jsapi::StreamConfig& cfg, int64_t created_ns,
                                        ApiError* err) {
  auto s = std::make_unique<Stream>();
  s->engine = &e_;
  s->config = cfg;
  s->created_ns = created_ns;
  store::RetentionLimits limits = LimitsOf(cfg);
  auto clock = e_.options.clock;
  if (cfg.storage == jsapi::StorageType::kMemory) {
    s->store = std::make_unique<store::MemoryStore>(limits, clock);
  } else {
    s->dir = (fs::path(e_.options.store_dir) / "streams" / cfg.name).string();
    std::error_code ec;
    fs::create_directories(fs::path(s->dir) / "consumers", ec);
    store::FileStoreOptions o;
    o.directory = (fs::path(s->dir) / "msgs").string();
    o.limits = limits;
    o.clock = clock;
    o.sync = e_.options.sync_always ? store::SyncPolicy::kAlways : store::SyncPolicy::kInterval;
    o.sync_interval = e_.options.sync_interval;
    o.io = e_.options.file_io;
    std::unique_ptr<store::FileStore> fsr;
    store::Status st = store::FileStore::Open(o, &fsr);
    if (!st.ok()) {
      *err = errors::kStreamCreate.Make(st.message());
      return nullptr;
    }
    s->store = std::move(fsr);
  }
  if (cfg.subject_transform) {
    auto t =
        subject::SubjectTransform::Parse(cfg.subject_transform->src, cfg.subject_transform->dest);
    if (t) s->transform.emplace(std::move(t.value()));
  }
  s->SetUpSources(true);
  // Rebuild the dedupe window and the last msg id from the stored messages.
  store::StoreState st = s->store->State();
  int64_t now = e_.Now();
  int64_t window = cfg.duplicate_window.count();
  store::Message m;
  if (st.msgs > 0 && window > 0) {
    uint64_t seq = st.first_seq;
    while (s->LoadNextIntact("", seq, &m).ok()) {
      seq = m.seq + 1;
      if (SatAdd(m.timestamp_ns, window) <= now) continue;
      if (auto id = HeaderValue(m.headers, "Nats-Msg-Id"); id && !id->empty()) {
        s->msg_ids[std::string(*id)] = {m.seq, m.timestamp_ns};
        s->msg_id_order.emplace_back(m.timestamp_ns, std::string(*id));
      }
    }
  }
  if (st.msgs > 0 && s->store->Load(st.last_seq, &m).ok()) {
    if (auto id = HeaderValue(m.headers, "Nats-Msg-Id")) s->last_msg_id = std::string(*id);
  }
  return s;
}

store::Status Api::SaveStreamMeta(Stream& s, bool created) {
  if (s.dir.empty()) return store::Status::Ok();
  nlohmann::json j;
  nlohmann::json cfg;
  jsapi::ToJsonValue(s.config, cfg);
  j["config"] = cfg;
  j["created_ns"] = s.created_ns;
  // The stream directory's entries (msgs/, consumers/, stream.json) are made durable by the
  // directory fsync at the end of WriteFileAtomic; the directory's own entry by the fsync of
  // its parent.
  store::Status st =
      store::WriteFileAtomic(e_.io(), (fs::path(s.dir) / "stream.json").string(), s.dir, j.dump());
  if (st.ok() && created) st = e_.io().SyncDirectory(fs::path(s.dir).parent_path().string());
  return st;
}

jsapi::StreamInfo Api::InfoOf(Stream& s, const jsapi::StreamInfoRequest* req) {
  jsapi::StreamInfo info;
  info.config = s.config;
  info.created = jsapi::Timestamp::FromUnixNanos(s.created_ns);
  store::StoreState st = s.store->State();
  info.state.messages = st.msgs;
  info.state.bytes = st.bytes;
  info.state.first_seq = st.msgs == 0 ? st.last_seq + (st.last_seq > 0 ? 1 : 0) : st.first_seq;
  info.state.last_seq = st.last_seq;
  if (st.last_seq > 0) {
    info.state.first_ts = jsapi::Timestamp::FromUnixNanos(st.msgs == 0 ? 0 : st.first_ts);
    info.state.last_ts = jsapi::Timestamp::FromUnixNanos(st.last_ts);
  }
  info.state.num_subjects = static_cast<int64_t>(st.num_subjects);
  info.state.num_deleted = static_cast<int64_t>(st.num_deleted);
  info.state.consumer_count = PublicConsumers(s);
  if (s.mirror) {
    jsapi::StreamSourceInfo& mi = info.mirror.emplace();
    mi.name = s.mirror->config.name;
    mi.filter_subject = s.mirror->config.filter_subject;
    mi.subject_transforms = s.mirror->config.subject_transforms;
    mi.external = s.mirror->config.external;
    auto origin = s.mirror->ext ? e_.streams.end() : e_.streams.find(s.mirror->config.name);
    if (s.mirror->ext) mi.lag = s.mirror->ext->lag;
    if (origin != e_.streams.end()) {
      uint64_t last = origin->second->store->State().last_seq;
      mi.lag = last > s.mirror->last_seq ? last - s.mirror->last_seq : 0;
    }
    mi.active = jsapi::Nanos(s.mirror->active_ns < 0 ? -1 : e_.Now() - s.mirror->active_ns);
    mi.error = s.mirror->error;
  }
  for (const auto& src : s.sources) {
    jsapi::StreamSourceInfo& si = info.sources.emplace_back();
    si.name = src.config.name;
    si.filter_subject = src.config.filter_subject;
    si.subject_transforms = src.config.subject_transforms;
    si.external = src.config.external;
    auto origin = src.ext ? e_.streams.end() : e_.streams.find(src.config.name);
    if (src.ext) si.lag = src.ext->lag;
    if (origin != e_.streams.end()) {
      uint64_t last = origin->second->store->State().last_seq;
      si.lag = last > src.last_seq ? last - src.last_seq : 0;
    }
    si.active = jsapi::Nanos(src.active_ns < 0 ? -1 : e_.Now() - src.active_ns);
    si.error = src.error;
  }
  if (req && !req->subjects_filter.empty()) {
    auto subjects = s.store->SubjectsState(req->subjects_filter == ">" ? "" : req->subjects_filter);
    jsapi::Paging p;
    p.total = static_cast<int64_t>(subjects.size());
    p.offset = std::max<int64_t>(0, req->offset);
    p.limit = 100000;
    for (size_t i = static_cast<size_t>(p.offset);
         i < subjects.size() && i < size_t(p.offset + p.limit); ++i) {
      info.state.subjects[subjects[i].subject] = subjects[i].msgs;
    }
    info.paging = p;
  } else {
    info.paging = jsapi::Paging{};
  }
  if (req && req->deleted_details && st.num_deleted > 0 && st.msgs > 0) {
    store::Message m;
    uint64_t expect = st.first_seq;
    while (s.LoadNextIntact("", expect, &m).ok()) {
      for (uint64_t d = expect; d < m.seq; ++d) info.state.deleted.push_back(d);
      expect = m.seq + 1;
    }
  }
  info.domain = e_.options.domain;
  jsapi::ClusterInfo cluster;
  cluster.leader = e_.options.server_name;
  info.cluster = cluster;
  info.ts = jsapi::Timestamp::FromUnixNanos(e_.Now());
  return info;
}

Reply Api::AccountInfo() {
  jsapi::AccountInfo ai;
  uint64_t memory = 0, storage = 0;
  int64_t consumers = 0;
  for (const auto& [n, s] : e_.streams) {
    uint64_t b = s->store->State().bytes;
    (s->config.storage == jsapi::StorageType::kMemory ? memory : storage) += b;
    consumers += PublicConsumers(*s);
  }
  ai.usage.memory = memory;
  ai.usage.storage = storage;
  ai.usage.reserved_memory = 0;
  ai.usage.reserved_storage = 0;
  ai.usage.streams = static_cast<int64_t>(e_.streams.size());
  ai.usage.consumers = consumers;
  jsapi::AccountLimits& l = ai.usage.limits;
  l.max_memory = l.max_storage = l.max_streams = l.max_consumers = l.max_ack_pending = -1;
  l.memory_max_stream_bytes = l.storage_max_stream_bytes = -1;
  ai.domain = e_.options.domain;
  ai.api.total = e_.api_total;
  ai.api.errors = e_.api_errors;
  return Ok(ai, "account_info_response");
}

Reply Api::StreamCreate(std::string_view name, std::string_view body, bool update) {
  const char* type = update ? "stream_update_response" : "stream_create_response";
  auto parsed = jsapi::Parse<jsapi::StreamConfig>(body);
  if (!parsed) return Err(type, errors::kInvalidJson.Make());
  jsapi::StreamConfig cfg = std::move(parsed.value());
  if (cfg.name.empty()) cfg.name = std::string(name);
  if (cfg.name != name) return Err(type, errors::kStreamNameMismatch.Make());
  Stream* existing = Find(name);
  if (update && !existing) return Err(type, errors::kStreamNotFound.Make());
  ApiError err = CheckStreamConfig(cfg, update ? existing : nullptr);
  if (err.code != 0) return Err(type, err);
  if (!update && existing) {
    if (existing->config == cfg) {
      jsapi::StreamInfo info = InfoOf(*existing, nullptr);
      info.paging.reset();
      info.did_create = true;
      return Ok(info, type);
    }
    return Err(type, errors::kStreamNameExists.Make());
  }
  if (update) {
    existing->config = cfg;
    existing->SetUpSources(false);
    existing->store->SetLimits(LimitsOf(cfg));
    existing->transform.reset();
    if (cfg.subject_transform) {
      auto t =
          subject::SubjectTransform::Parse(cfg.subject_transform->src, cfg.subject_transform->dest);
      if (t) existing->transform.emplace(std::move(t.value()));
    }
    if (store::Status st = SaveStreamMeta(*existing, false); !st.ok()) {
      return Err(type,
                 errors::kStreamUpdate.Make("stream configuration not saved: " + st.message()));
    }
    for (auto& [n, c] : existing->consumers) c->StreamPurged();
    jsapi::StreamInfo info = InfoOf(*existing, nullptr);
    info.paging.reset();
    return Ok(info, type);
  }
  auto s = OpenStream(cfg, e_.Now(), &err);
  if (!s) return Err(type, err);
  // Answered only once the configuration is durable: a stream that was created stays created.
  if (store::Status st = SaveStreamMeta(*s, true); !st.ok()) {
    (void)s->store->Close();
    std::error_code ec;
    fs::remove_all(s->dir, ec);
    return Err(type, errors::kStreamCreate.Make("stream configuration not saved: " + st.message()));
  }
  Stream& ref = *s;
  e_.streams[cfg.name] = std::move(s);
  jsapi::StreamInfo info = InfoOf(ref, nullptr);
  info.paging.reset();
  info.did_create = true;
  return Ok(info, type);
}

Reply Api::StreamInfo(std::string_view name, std::string_view body) {
  const char* type = "stream_info_response";
  auto req = jsapi::ParseRequestBody<jsapi::StreamInfoRequest>(body);
  if (!req) return Err(type, errors::kInvalidJson.Make());
  Stream* s = Find(name);
  if (!s) return Err(type, errors::kStreamNotFound.Make());
  jsapi::StreamInfo info = InfoOf(*s, &req.value());
  return Ok(info, type);
}

Reply Api::StreamDelete(std::string_view name, std::string_view body) {
  const char* type = "stream_delete_response";
  if (!IsEmptyBody(body)) return Err(type, errors::kNotEmptyRequest.Make());
  auto it = e_.streams.find(std::string(name));
  if (it == e_.streams.end()) return Err(type, errors::kStreamNotFound.Make());
  for (auto& [n, c] : it->second->consumers) {
    c->Deleting();
    if (e_.options.consumer_deleted) e_.options.consumer_deleted(it->first, n);
  }
  it->second->CancelExternal();
  (void)it->second->store->Close();
  std::string dir = it->second->dir;
  e_.streams.erase(it);
  if (!dir.empty()) {
    e_.state_writer->Forget(dir + "/", true);  // no consumer state write after this
    std::error_code ec;
    fs::remove_all(dir, ec);
    (void)e_.io().SyncDirectory(fs::path(dir).parent_path().string());
  }
  jsapi::SuccessResponse r;
  r.success = true;
  return Ok(r, type);
}

Reply Api::StreamNames(std::string_view body, bool list) {
  const char* type = list ? "stream_list_response" : "stream_names_response";
  auto req = jsapi::ParseRequestBody<jsapi::StreamNamesRequest>(body);
  if (!req) return Err(type, errors::kInvalidJson.Make());
  std::vector<Stream*> match;
  for (auto& [n, s] : e_.streams) {
    if (!req->subject.empty()) {
      bool hit = false;
      for (const auto& subj : s->config.subjects) {
        if (subject::SubjectsCollide(subj, req->subject)) hit = true;
      }
      if (!hit) continue;
    }
    match.push_back(s.get());
  }
  int64_t limit = list ? 256 : 1024;
  int64_t offset = std::max<int64_t>(0, req->offset);
  jsapi::Paging p{static_cast<int64_t>(match.size()), offset, limit};
  if (list) {
    jsapi::StreamListResponse r;
    r.paging = p;
    for (size_t i = size_t(offset); i < match.size() && i < size_t(offset + limit); ++i) {
      jsapi::StreamInfo info = InfoOf(*match[i], nullptr);
      info.paging.reset();
      r.streams.push_back(std::move(info));
    }
    return Ok(r, type);
  }
  jsapi::StreamNamesResponse r;
  r.paging = p;
  for (size_t i = size_t(offset); i < match.size() && i < size_t(offset + limit); ++i) {
    r.streams.push_back(match[i]->config.name);
  }
  return Ok(r, type);
}

Reply Api::StreamPurge(std::string_view name, std::string_view body) {
  const char* type = "stream_purge_response";
  Stream* s = Find(name);
  if (!s) return Err(type, errors::kStreamNotFound.Make());
  if (s->config.sealed) return Err(type, errors::kStreamSealed.Make());
  if (s->config.deny_purge) return Err(type, errors::kStreamPurgeNotPermitted.Make());
  auto req = jsapi::ParseRequestBody<jsapi::PurgeRequest>(body);
  if (!req) return Err(type, errors::kInvalidJson.Make());
  if (req->seq > 0 && req->keep > 0) return Err(type, errors::kBadRequest.Make());
  if (!req->filter.empty() && !subject::IsValidSubscribeSubject(req->filter)) {
    return Err(type, errors::kBadRequest.Make());
  }
  store::PurgeRequest pr;
  pr.filter = req->filter == ">" ? "" : req->filter;
  pr.below_seq = req->seq;
  pr.keep = req->keep;
  uint64_t purged = 0;
  store::Status st = s->store->Purge(pr, &purged);
  if (!st.ok()) return Err(type, errors::kStreamStoreFailed.Make(st.message()));
  for (auto& [n, c] : s->consumers) c->StreamPurged();
  jsapi::PurgeResponse r;
  r.success = true;
  r.purged = purged;
  return Ok(r, type);
}

Reply Api::MsgGet(std::string_view name, std::string_view body) {
  const char* type = "stream_msg_get_response";
  Stream* s = Find(name);
  if (!s) return Err(type, errors::kStreamNotFound.Make());
  if (IsEmptyBody(body)) return Err(type, errors::kBadRequest.Make());
  auto req = jsapi::Parse<jsapi::MsgGetRequest>(body);
  if (!req) return Err(type, errors::kInvalidJson.Make());
  if (!req->CheckCombination().empty()) return Err(type, errors::kBadRequest.Make());
  store::Message m;
  store::Status st;
  if (!req->last_by_subj.empty()) {
    st = s->store->LoadLast(req->last_by_subj, &m);
  } else if (!req->next_by_subj.empty()) {
    st = s->store->LoadNext(req->next_by_subj, std::max<uint64_t>(req->seq, 1), &m);
  } else {
    st = s->store->Load(req->seq, &m);
  }
  if (!st.ok()) {
    if (st.code() == store::StatusCode::kNotFound ||
        st.code() == store::StatusCode::kInvalidArgument)
      return Err(type, errors::kNoMessageFound.Make());
    return Err(type, errors::kStreamStoreFailed.Make(st.message()));
  }
  jsapi::MsgGetResponse r;
  r.message.subject = m.subject;
  r.message.seq = m.seq;
  r.message.hdrs = m.headers;
  r.message.data = m.payload;
  r.message.time = jsapi::Timestamp::FromUnixNanos(m.timestamp_ns);
  return Ok(r, type);
}

Reply Api::MsgDelete(std::string_view name, std::string_view body) {
  const char* type = "stream_msg_delete_response";
  Stream* s = Find(name);
  if (!s) return Err(type, errors::kStreamNotFound.Make());
  if (IsEmptyBody(body)) return Err(type, errors::kBadRequest.Make());
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return Err(type, errors::kInvalidJson.Make());
  uint64_t seq = 0;
  if (auto it = j.find("seq"); it != j.end() && !it->is_null()) {
    if (!it->is_number_unsigned()) return Err(type, errors::kInvalidJson.Make());
    seq = it->get<uint64_t>();
  }
  if (auto it = j.find("no_erase"); it != j.end() && !it->is_null() && !it->is_boolean()) {
    return Err(type, errors::kInvalidJson.Make());
  }
  if (s->config.sealed) return Err(type, errors::kStreamSealed.Make());
  if (s->config.deny_delete) {
    return Err(type, errors::kStreamMsgDeleteFailed.Make("message delete not permitted"));
  }
  store::Message m;
  if (seq == 0 || !s->store->Load(seq, &m).ok()) {
    return Err(type, errors::kStreamMsgDeleteFailed.Make("no message found"));
  }
  store::Status st = s->store->Remove(seq);
  if (!st.ok()) return Err(type, errors::kStreamMsgDeleteFailed.Make(st.message()));
  for (auto& [n, c] : s->consumers) c->StreamPurged();
  jsapi::SuccessResponse r;
  r.success = true;
  return Ok(r, type);
}

Reply Api::DirectGet(std::string_view name, std::string_view subj_tail, std::string_view reply,
                     std::string_view body, bool subject_form) {
  Stream* s = Find(name);
  if (s && !s->config.allow_direct) s = nullptr;
  if (!s) {
    // mirror_direct: a mirror that has (nearly) caught up answers for its origin, as
    // nats-server's mirrors join the origin's direct-get queue group once within 10 messages.
    for (auto& [n, m] : e_.streams) {
      if (!m->mirror || !m->config.mirror_direct || m->mirror->config.name != name) continue;
      auto origin = e_.streams.find(std::string(name));
      uint64_t last = origin == e_.streams.end() ? 0 : origin->second->store->State().last_seq;
      if (last > m->mirror->last_seq && last - m->mirror->last_seq >= 10) continue;
      s = m.get();
      break;
    }
  }
  if (!s || reply.empty()) return {};
  auto status = [&](int code, std::string_view text) {
    e_.out->Send(reply, {}, StatusBlock(code, text), {});
    return Reply{};
  };
  store::Message m;
  store::Status st;
  bool empty = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (subject_form) {
    if (!empty || subj_tail.empty()) return status(408, "Bad Request");
    st = s->store->LoadLast(subj_tail, &m);
  } else {
    if (empty) return status(408, "Empty Request");
    auto req = jsapi::Parse<jsapi::MsgGetRequest>(body);
    if (!req) return status(408, "Malformed Request");
    if (req->seq == 0 && req->last_by_subj.empty() && req->next_by_subj.empty()) {
      return status(408, "Empty Request");
    }
    if (!req->CheckCombination().empty()) return status(408, "Bad Request");
    if (!req->last_by_subj.empty()) {
      st = s->store->LoadLast(req->last_by_subj, &m);
    } else if (!req->next_by_subj.empty()) {
      st = s->store->LoadNext(req->next_by_subj, std::max<uint64_t>(req->seq, 1), &m);
    } else {
      st = s->store->Load(req->seq, &m);
    }
  }
  if (!st.ok()) return status(404, "Message Not Found");
  std::string h = AppendHeaders(
      m.headers, {{"Nats-Stream", s->config.name},
                  {"Nats-Subject", m.subject},
                  {"Nats-Sequence", std::to_string(m.seq)},
                  {"Nats-Time-Stamp", jsapi::Timestamp::FromUnixNanos(m.timestamp_ns).ToString()}});
  e_.out->Send(reply, {}, h, m.payload);
  return {};
}

ApiError Api::CheckConsumerConfig(Stream& s, jsapi::ConsumerConfig& cfg, const Consumer* existing) {
  bool push = !cfg.deliver_subject.empty();
  if (!cfg.durable_name.empty() && !ValidName(cfg.durable_name)) {
    return kConsumerBadDurableName.Make();
  }
  if (!cfg.filter_subject.empty() && !cfg.filter_subjects.empty()) {
    return kConsumerDuplicateFilterSubjects.Make();
  }
  for (size_t i = 0; i < cfg.filter_subjects.size(); ++i) {
    if (cfg.filter_subjects[i].empty()) return kConsumerEmptyFilter.Make();
    for (size_t j = 0; j < i; ++j) {
      if (subject::SubjectsCollide(cfg.filter_subjects[i], cfg.filter_subjects[j])) {
        return kConsumerOverlappingSubjectFilters.Make();
      }
    }
  }
  if (push) {
    if (subject::HasWildcard(cfg.deliver_subject)) return kConsumerDeliverToWildcards.Make();
    if (!subject::IsValidPublishSubject(cfg.deliver_subject)) {
      return kConsumerInvalidDeliverSubject.Make();
    }
    if (s.Captures(cfg.deliver_subject)) return kConsumerDeliverCycle.Make();
    if (cfg.max_waiting != 0) return kConsumerPushMaxWaiting.Make();
  } else {
    if (cfg.idle_heartbeat.count() != 0) return kConsumerHBRequiresPush.Make();
    if (cfg.flow_control) return kConsumerFCRequiresPush.Make();
    if (cfg.rate_limit_bps > 0) return kConsumerPullWithRateLimit.Make();
    if (cfg.max_waiting < 0) return kConsumerMaxWaitingNegative.Make();
  }
  if (cfg.idle_heartbeat.count() > 0 && cfg.idle_heartbeat.count() < 100 * kMs) {
    return kConsumerSmallHeartbeat.Make();
  }
  if (cfg.flow_control && cfg.idle_heartbeat.count() == 0) return kConsumerFCRequiresHB.Make();
  if (cfg.max_ack_pending > 0 && cfg.ack_policy == jsapi::AckPolicy::kNone) {
    return kConsumerMaxPendingAckPolicyRequired.Make();
  }
  if (cfg.max_batch < 0) return kConsumerMaxRequestBatchNegative.Make();
  if (cfg.max_expires.count() != 0 && cfg.max_expires.count() < kMs) {
    return kConsumerMaxRequestExpiresTooSmall.Make();
  }
  if (!cfg.backoff.empty() && cfg.max_deliver > 0 &&
      static_cast<int64_t>(cfg.backoff.size()) > cfg.max_deliver) {
    return kConsumerMaxDeliverBackoff.Make();
  }
  using DP = jsapi::DeliverPolicy;
  if (cfg.deliver_policy == DP::kByStartSequence && cfg.opt_start_seq == 0) {
    return kConsumerInvalidPolicy.Make(
        "consumer delivery policy is deliver by start sequence, but optional start sequence is "
        "not set");
  }
  if (cfg.deliver_policy != DP::kByStartSequence && cfg.opt_start_seq != 0) {
    return kConsumerInvalidPolicy.Make(
        "consumer delivery policy is not deliver by start sequence, but optional start sequence "
        "is set");
  }
  if (cfg.deliver_policy == DP::kByStartTime && !cfg.opt_start_time) {
    return kConsumerInvalidPolicy.Make(
        "consumer delivery policy is deliver by start time, but optional start time is not set");
  }
  if (cfg.deliver_policy != DP::kByStartTime && cfg.opt_start_time) {
    return kConsumerInvalidPolicy.Make(
        "consumer delivery policy is not deliver by start time, but optional start time is set");
  }
  if (cfg.description.size() > 4096) {
    return errors::kConsumerCreate.Make(
        "consumer description is too long, maximum allowed is 4096");
  }
  if (s.config.retention == jsapi::RetentionPolicy::kWorkQueue) {
    if (!push && cfg.ack_policy == jsapi::AckPolicy::kNone) {
      return errors::kConsumerPullRequiresAck.Make();
    }
    if (cfg.ack_policy != jsapi::AckPolicy::kExplicit) return kConsumerWQRequiresExplicitAck.Make();
    if (cfg.deliver_policy != DP::kAll) return kConsumerWQConsumerNotDeliverAll.Make();
    std::vector<std::string> mine = cfg.filter_subjects;
    if (!cfg.filter_subject.empty()) mine.push_back(cfg.filter_subject);
    for (const auto& [n, c] : s.consumers) {
      if (existing && c.get() == existing) continue;
      std::vector<std::string> theirs = c->config().filter_subjects;
      if (!c->config().filter_subject.empty()) theirs.push_back(c->config().filter_subject);
      if (mine.empty() && theirs.empty()) return kConsumerWQMultipleUnfiltered.Make();
      if (mine.empty() || theirs.empty()) return kConsumerWQConsumerNotUnique.Make();
      for (const auto& a : mine) {
        for (const auto& b : theirs) {
          if (subject::SubjectsCollide(a, b)) return kConsumerWQConsumerNotUnique.Make();
        }
      }
    }
  }
  if (!cfg.filter_subject.empty() && !subject::IsValidSubscribeSubject(cfg.filter_subject)) {
    return errors::kConsumerCreate.Make("consumer filter subject is not a valid subject");
  }
  jsapi::ApplyServerDefaults(cfg);
  if (s.config.consumer_limits) {
    const auto& cl = *s.config.consumer_limits;
    if (cl.max_ack_pending > 0 && cfg.ack_policy != jsapi::AckPolicy::kNone &&
        cfg.max_ack_pending > cl.max_ack_pending) {
      cfg.max_ack_pending = cl.max_ack_pending;
    }
  }
  if (existing) {
    const jsapi::ConsumerConfig& o = existing->config();
    auto refuse = [](std::string_view what) { return errors::kConsumerCreate.Make(what); };
    if (o.deliver_policy != cfg.deliver_policy) return refuse("deliver policy can not be updated");
    if (o.opt_start_seq != cfg.opt_start_seq) return refuse("start sequence can not be updated");
    if (o.opt_start_time != cfg.opt_start_time) return refuse("start time can not be updated");
    if (o.ack_policy != cfg.ack_policy) return refuse("ack policy can not be updated");
    if (o.replay_policy != cfg.replay_policy) return refuse("replay policy can not be updated");
    if (o.idle_heartbeat != cfg.idle_heartbeat) return refuse("heart beats can not be updated");
    if (o.flow_control != cfg.flow_control) return refuse("flow control can not be updated");
    if (o.max_waiting != cfg.max_waiting) return refuse("max waiting can not be updated");
    if (o.deliver_subject.empty() != cfg.deliver_subject.empty()) {
      return refuse(cfg.deliver_subject.empty() ? "can not update push consumer to pull based"
                                                : "can not update pull consumer to push based");
    }
  }
  return {};
}

Reply Api::ConsumerCreate(const std::vector<std::string_view>& t, std::string_view body,
                          bool durable_api) {
  // t: CONSUMER CREATE <S> [<C> [filter...]]  or  CONSUMER DURABLE CREATE <S> <C>
  const char* type = "consumer_create_response";
  size_t base = durable_api ? 3 : 2;
  if (t.size() <= base) return Err(type, errors::kBadRequest.Make());
  std::string_view sname = t[base];
  auto parsed = jsapi::Parse<jsapi::CreateConsumerRequest>(body);
  if (!parsed) return Err(type, errors::kInvalidJson.Make());
  jsapi::CreateConsumerRequest req = std::move(parsed.value());
  if (req.action != "" && req.action != "create" && req.action != "update") {
    return Err(type, errors::kInvalidJson.Make());
  }
  if (req.stream_name != sname) return Err(type, errors::kStreamNameMismatch.Make());
  Stream* s = Find(sname);
  if (!s) return Err(type, errors::kStreamNotFound.Make());
  jsapi::ConsumerConfig& cfg = req.config;
  std::string cname;
  if (durable_api) {
    if (t.size() != 5) return Err(type, errors::kBadRequest.Make());
    if (cfg.durable_name.empty()) return Err(type, errors::kConsumerDurableNameNotSet.Make());
    if (cfg.durable_name != t[4]) {
      return Err(type, errors::kConsumerDurableNameNotMatchSubject.Make());
    }
    cname = cfg.durable_name;
  } else if (t.size() == 3) {
    if (!cfg.durable_name.empty()) {
      return Err(type, errors::kConsumerEphemeralWithDurableName.Make());
    }
    if (!cfg.name.empty()) {
      cname = cfg.name;
    } else {
      static constexpr char kAlphabet[] =
          "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
      std::mt19937_64 rng(static_cast<uint64_t>(e_.Now()) ^ std::random_device{}());
      do {
        cname.clear();
        for (int i = 0; i < 8; ++i) cname += kAlphabet[rng() % 62];
      } while (s->consumers.count(cname));
    }
  } else {
    cname = std::string(t[3]);
    if (!cfg.durable_name.empty() && cfg.durable_name != cname) {
      return Err(type, errors::kConsumerDurableNameNotMatchSubject.Make());
    }
    if (t.size() > 4) {
      if (!cfg.filter_subjects.empty()) {
        return Err(type, errors::kConsumerMultipleFiltersNotAllowed.Make());
      }
      std::string filter;
      for (size_t i = 4; i < t.size(); ++i) {
        if (i > 4) filter += '.';
        filter += t[i];
      }
      if (filter != cfg.filter_subject) {
        return Err(type, errors::kConsumerCreateFilterSubjectMismatch.Make());
      }
    }
  }
  if (!cfg.name.empty() && !cfg.durable_name.empty() && cfg.name != cfg.durable_name) {
    return Err(type, errors::kConsumerCreateDurableAndNameMismatch.Make());
  }
  if (!ValidName(cname)) return Err(type, kConsumerBadDurableName.Make());
  cfg.name = cname;
  auto it = s->consumers.find(cname);
  Consumer* existing = it == s->consumers.end() ? nullptr : it->second.get();
  if (req.action == "update" && !existing) {
    return Err(type, errors::kConsumerDoesNotExist.Make());
  }
  ApiError err = CheckConsumerConfig(*s, cfg, existing);
  if (err.code != 0) return Err(type, err);
  int64_t now = e_.Now();
  if (existing) {
    if (existing->config() != cfg) {
      if (req.action == "create") return Err(type, errors::kConsumerAlreadyExists.Make());
      existing->Update(cfg);
      existing->Recount();
      if (!e_.SaveConsumer(*s, *existing)) {
        return Err(type, errors::kConsumerCreate.Make("consumer configuration not saved"));
      }
    }
    jsapi::ConsumerInfo info = existing->Info(now);
    existing->Pump(now);
    return Ok(info, type);
  }
  if (s->config.max_consumers > 0 && !cfg.direct &&
      PublicConsumers(*s) >= s->config.max_consumers) {
    return Err(type, errors::kMaximumConsumersLimit.Make());
  }
  auto c = std::make_unique<Consumer>(s, cname, cfg, now);
  c->InitStart(now);
  Consumer& ref = *c;
  s->consumers[cname] = std::move(c);
  // Answered only once the consumer's file is durable (durable consumers of file streams).
  if (!e_.SaveConsumer(*s, ref)) {
    s->consumers.erase(cname);
    e_.DeleteConsumerFile(*s, cname);
    return Err(type, errors::kConsumerCreate.Make("consumer configuration not saved"));
  }
  jsapi::ConsumerInfo info = ref.Info(now);
  ref.Pump(now);
  return Ok(info, type);
}

Reply Api::ConsumerInfo(std::string_view sname, std::string_view cname, std::string_view body) {
  const char* type = "consumer_info_response";
  if (!IsEmptyBody(body)) return Err(type, errors::kNotEmptyRequest.Make());
  Stream* s = Find(sname);
  if (!s) return Err(type, errors::kStreamNotFound.Make());
  auto it = s->consumers.find(std::string(cname));
  if (it == s->consumers.end()) return Err(type, errors::kConsumerNotFound.Make());
  jsapi::ConsumerInfo info = it->second->Info(e_.Now());
  return Ok(info, type);
}

Reply Api::ConsumerDelete(std::string_view sname, std::string_view cname, std::string_view body) {
  const char* type = "consumer_delete_response";
  if (!IsEmptyBody(body)) return Err(type, errors::kNotEmptyRequest.Make());
  Stream* s = Find(sname);
  if (!s) return Err(type, errors::kStreamNotFound.Make());
  auto it = s->consumers.find(std::string(cname));
  if (it == s->consumers.end()) return Err(type, errors::kConsumerNotFound.Make());
  it->second->Deleting();
  s->consumers.erase(it);
  e_.DeleteConsumerFile(*s, std::string(cname));
  if (e_.options.consumer_deleted) e_.options.consumer_deleted(s->config.name, std::string(cname));
  jsapi::SuccessResponse r;
  r.success = true;
  return Ok(r, type);
}

Reply Api::ConsumerNames(std::string_view sname, std::string_view body, bool list) {
  const char* type = list ? "consumer_list_response" : "consumer_names_response";
  auto req = jsapi::ParseRequestBody<jsapi::ConsumerNamesRequest>(body);
  if (!req) return Err(type, errors::kInvalidJson.Make());
  Stream* s = Find(sname);
  if (!s) return Err(type, errors::kStreamNotFound.Make());
  int64_t limit = list ? 256 : 1024;
  int64_t offset = std::max<int64_t>(0, req->offset);
  jsapi::Paging p{PublicConsumers(*s), offset, limit};
  int64_t now = e_.Now();
  int64_t i = 0;
  if (list) {
    jsapi::ConsumerListResponse r;
    r.paging = p;
    for (auto& [n, c] : s->consumers) {
      if (c->config().direct) continue;
      if (i++ >= offset && i <= offset + limit) r.consumers.push_back(c->Info(now));
    }
    return Ok(r, type);
  }
  jsapi::ConsumerNamesResponse r;
  r.paging = p;
  for (auto& [n, c] : s->consumers) {
    if (c->config().direct) continue;
    if (i++ >= offset && i <= offset + limit) r.consumers.push_back(n);
  }
  return Ok(r, type);
}

Reply Api::Dispatch(std::string_view subj, std::string_view reply, std::string_view headers,
                    std::string_view body) {
  (void)headers;
  std::vector<std::string_view> t;
  subject::SplitTokens(subj, t);
  // Strip "$JS.API" or "$JS.<domain>.API".
  size_t skip = 0;
  if (t.size() >= 2 && t[0] == "$JS" && t[1] == "API") {
    skip = 2;
  } else if (t.size() >= 3 && t[0] == "$JS" && t[2] == "API" && t[1] == e_.options.domain &&
             !e_.options.domain.empty()) {
    skip = 3;
  } else {
    return {};
  }
  t.erase(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(skip));
  size_t n = t.size();
  auto is = [&](std::initializer_list<std::string_view> prefix, size_t count) {
    if (n != count && count != 0) return false;
    size_t i = 0;
    for (auto p : prefix) {
      if (i >= n || t[i] != p) return false;
      ++i;
    }
    return true;
  };
  if (is({"INFO"}, 1)) return AccountInfo();
  if (n >= 1 && t[0] == "STREAM") {
    if (is({"STREAM", "CREATE"}, 3)) return StreamCreate(t[2], body, false);
    if (is({"STREAM", "UPDATE"}, 3)) return StreamCreate(t[2], body, true);
    if (is({"STREAM", "INFO"}, 3)) return StreamInfo(t[2], body);
    if (is({"STREAM", "DELETE"}, 3)) return StreamDelete(t[2], body);
    if (is({"STREAM", "NAMES"}, 2)) return StreamNames(body, false);
    if (is({"STREAM", "LIST"}, 2)) return StreamNames(body, true);
    if (is({"STREAM", "PURGE"}, 3)) return StreamPurge(t[2], body);
    if (is({"STREAM", "MSG", "GET"}, 4)) return MsgGet(t[3], body);
    if (is({"STREAM", "MSG", "DELETE"}, 4)) return MsgDelete(t[3], body);
    if (is({"STREAM", "LEADER", "STEPDOWN"}, 4)) {
      return Err("stream_leader_stepdown_response", errors::kClusterRequired.Make());
    }
    if (is({"STREAM", "PEER", "REMOVE"}, 4)) {
      return Err("stream_remove_peer_response", errors::kClusterRequired.Make());
    }
  }
  if (n >= 1 && t[0] == "CONSUMER") {
    if (is({"CONSUMER", "CREATE"}, 0) && n >= 3) return ConsumerCreate(t, body, false);
    if (is({"CONSUMER", "DURABLE", "CREATE"}, 0) && n >= 4) return ConsumerCreate(t, body, true);
    if (is({"CONSUMER", "INFO"}, 4)) return ConsumerInfo(t[2], t[3], body);
    if (is({"CONSUMER", "DELETE"}, 4)) return ConsumerDelete(t[2], t[3], body);
    if (is({"CONSUMER", "NAMES"}, 3)) return ConsumerNames(t[2], body, false);
    if (is({"CONSUMER", "LIST"}, 3)) return ConsumerNames(t[2], body, true);
    if (is({"CONSUMER", "MSG", "NEXT"}, 5)) {
      Stream* s = Find(t[3]);
      if (!s) return {};
      auto it = s->consumers.find(std::string(t[4]));
      if (it == s->consumers.end()) return {};
      it->second->OnPullRequest(reply, body, e_.Now());
      return {};
    }
    if (is({"CONSUMER", "LEADER", "STEPDOWN"}, 4)) {
      return Err("consumer_leader_stepdown_response", errors::kClusterRequired.Make());
    }
  }
  if (n >= 3 && t[0] == "DIRECT" && t[1] == "GET") {
    if (n == 3) return DirectGet(t[2], {}, reply, body, false);
    // The subject form: everything after the stream token.
    size_t after = static_cast<size_t>(t[2].data() - subj.data()) + t[2].size() + 1;
    std::string_view tail = after < subj.size() ? subj.substr(after) : std::string_view();
    return DirectGet(t[2], tail, reply, body, true);
  }
  // 2.10.10+: unknown API subjects are answered.
  return Err("system_response", errors::kBadRequest.Make());
}

}  // namespace

// ---------------------------------------------------------------------------------------
// EngineImpl

store::FileIo& EngineImpl::io() const {
  return options.file_io ? *options.file_io : store::DefaultFileIo();
}

std::string EngineImpl::ConsumerPath(const Stream& s, const std::string& name) const {
  return (fs::path(s.dir) / "consumers" / (name + ".json")).string();
}

std::string EngineImpl::ConsumerLogPath(const Stream& s, const std::string& name) const {
  return (fs::path(s.dir) / "consumers" / (name + ".acklog")).string();
}

bool EngineImpl::SaveConsumer(Stream& s, Consumer& c) {
  c.clear_dirty();
  if (c.persisted()) {
    const std::string path = ConsumerPath(s, c.name());
    const std::string log = ConsumerLogPath(s, c.name());
    // A queued older snapshot or log record must not land after this one (an in-flight one
    // ends first); what they would have made durable, this write does.
    state_writer->Forget(path);
    state_writer->Forget(log);
    if (c.state_gen == 0) {
      // A new consumer: a log some earlier consumer of this name left behind must not count.
      std::error_code ec;
      if (fs::remove(log, ec)) (void)io().SyncDirectory(fs::path(log).parent_path().string());
    }
    ++c.state_gen;
    if (!store::WriteFileAtomic(io(), path, fs::path(path).parent_path().string(), c.StateJson())
             .ok()) {
      c.mark_dirty();
      // A dropped queued write will never report: its ack-acks wait for the next write.
      c.write_ticket = 0;
      c.ackack_next.insert(c.ackack_next.begin(), c.ackack_writing.begin(),
                           c.ackack_writing.end());
      c.ackack_writing.clear();
      return false;
    }
    // The file supersedes every record of the log: the log is written again from 0.
    state_writer->RewindLog(log);
    c.log_bytes = 0;
  }
  // Everything acked so far is durable now (a write in flight before is ignored when it ends).
  c.write_ticket = 0;
  for (const auto* list : {&c.ackack_writing, &c.ackack_next}) {
    for (const auto& reply : *list) out->Send(reply, {}, {}, {});
  }
  c.ackack_writing.clear();
  c.ackack_next.clear();
  return true;
}

void EngineImpl::SaveConsumerAsync(Stream& s, Consumer& c) {
  if (!c.persisted()) {
    (void)SaveConsumer(s, c);
    return;
  }
  if (c.write_ticket != 0) return;  // one write at a time; the next follows when it ends
  c.clear_dirty();
  c.ackack_writing = std::move(c.ackack_next);
  c.ackack_next.clear();
  const std::string path = ConsumerPath(s, c.name());
  const std::string dir = fs::path(path).parent_path().string();
  const std::string log = ConsumerLogPath(s, c.name());
  ++c.state_gen;
  if (!c.ackack_writing.empty() && c.log_bytes < kAckLogCompactBytes) {
    // AckSync: one small append and one fdatasync; the record holds the whole state, so the
    // consumer is clean afterwards (a failed append marks it dirty again).
    std::string record;
    EncodeAckLogRecord(c.state_gen, c.Image(), &record);
    c.log_bytes += record.size();
    c.write_ticket = state_writer->QueueAppend(c.id, log, dir, std::move(record));
    return;
  }
  c.log_bytes = 0;
  c.write_ticket = state_writer->Queue(c.id, path, dir, c.StateJson(), log);
}

void EngineImpl::CompleteStateWrites() {
  for (const StateWriter::Done& d : state_writer->TakeDone()) {
    Stream* stream = nullptr;
    Consumer* c = nullptr;
    for (auto& [sn, s] : streams) {
      for (auto& [cn, cp] : s->consumers) {
        if (cp->id == d.key) {
          stream = s.get();
          c = cp.get();
        }
      }
    }
    if (!c || c->write_ticket != d.ticket) continue;  // deleted, or written since
    c->write_ticket = 0;
    if (!d.ok) {
      // Not durable: the acks wait for the next write (Tick retries dirty consumers).
      c->ackack_next.insert(c->ackack_next.begin(), c->ackack_writing.begin(),
                            c->ackack_writing.end());
      c->ackack_writing.clear();
      c->mark_dirty();
      continue;
    }
    for (const auto& reply : c->ackack_writing) out->Send(reply, {}, {}, {});
    c->ackack_writing.clear();
    // Acks that asked for an ack-ack while this write was in flight: the next round.
    if (!c->ackack_next.empty()) SaveConsumerAsync(*stream, *c);
  }
}

void EngineImpl::DeleteConsumerFile(Stream& s, const std::string& name) {
  if (s.dir.empty()) return;
  const std::string path = ConsumerPath(s, name);
  const std::string log = ConsumerLogPath(s, name);
  state_writer->Forget(path);  // a queued or in-flight write must not re-create it
  state_writer->Forget(log);
  // The log first: a log left behind by a crash between the two removals could otherwise
  // hold generations newer than the file of a new consumer of the same name.
  std::error_code ec;
  bool removed = fs::remove(log, ec);
  if (removed) (void)io().SyncDirectory(fs::path(path).parent_path().string());
  removed = fs::remove(path, ec);
  if (removed) (void)io().SyncDirectory(fs::path(path).parent_path().string());
}

// ---------------------------------------------------------------------------------------
// Engine

Engine::Engine(std::unique_ptr<EngineImpl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() {
  Close();
}

std::unique_ptr<Engine> Engine::Open(const EngineOptions& options, Outbound* out,
                                     std::string* error) {
  auto impl = std::make_unique<EngineImpl>();
  impl->options = options;
  if (!impl->options.clock) impl->options.clock = SystemNow;
  impl->out = out;
  impl->rng_state = static_cast<uint64_t>(impl->Now()) ^ (uint64_t{std::random_device{}()} << 32) ^
                    std::random_device{}() ^ 0x9E3779B97F4A7C15ull;
  impl->state_writer = std::make_unique<StateWriter>(impl->io(), options.state_written);
  if (!options.store_dir.empty()) {
    std::error_code ec;
    fs::path root = fs::path(options.store_dir) / "streams";
    fs::create_directories(root, ec);
    if (ec) {
      *error = "cannot create the JetStream store directory " + root.string() + ": " +
               ec.message() + "; check the path and its permissions";
      return nullptr;
    }
    Api api(*impl);
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      if (!entry.is_directory()) continue;
      auto meta = ReadFile(entry.path() / "stream.json");
      if (!meta) continue;
      auto j = nlohmann::json::parse(*meta, nullptr, false);
      if (!j.is_object() || !j.contains("config")) continue;
      auto cfg = jsapi::FromJsonValue<jsapi::StreamConfig>(j["config"]);
      if (!cfg) continue;
      ApiError err;
      auto s = api.OpenStream(cfg.value(), j.value("created_ns", int64_t{0}), &err);
      if (!s) {
        *error = "cannot open stream " + cfg->name + ": " + err.description;
        return nullptr;
      }
      if (impl->options.warn) {
        for (const auto& r : s->store->Corruption()) {
          impl->options.warn(
              "stream " + cfg->name + ": corrupt region in " + r.file + " at offset " +
              std::to_string(r.offset) + " (" + std::to_string(r.length) + " bytes, sequences " +
              std::to_string(r.first_seq) + " to " + std::to_string(r.last_seq) + "): " + r.reason +
              "; those messages are not served, the rest of the stream is");
        }
      }
      for (const auto& ce : fs::directory_iterator(entry.path() / "consumers", ec)) {
        if (ce.path().extension() != ".json") continue;
        auto text = ReadFile(ce.path());
        if (!text) continue;
        auto cj = nlohmann::json::parse(*text, nullptr, false);
        if (!cj.is_object() || !cj.contains("config") || !cj.contains("name")) continue;
        auto ccfg = jsapi::FromJsonValue<jsapi::ConsumerConfig>(cj["config"]);
        if (!ccfg || !cj["name"].is_string()) continue;
        auto c = std::make_unique<Consumer>(s.get(), cj["name"].get<std::string>(), ccfg.value(),
                                            cj.value("created_ns", int64_t{0}));
        // The consumer's ack log, when there is one: its newest valid record wins over the
        // file when newer (a torn or invalid tail ends the scan; the writer overwrites it).
        AckLogScan log;
        fs::path log_path = ce.path();
        log_path.replace_extension(".acklog");
        if (auto log_text = ReadFile(log_path)) log = ScanAckLog(*log_text);
        if (!c->LoadState(*text, &log)) continue;
        s->consumers[c->name()] = std::move(c);
      }
      impl->streams[cfg->name] = std::move(s);
    }
  }
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

bool Engine::Captures(std::string_view subj) const {
  for (const auto& [n, s] : impl_->streams) {
    if (s->Captures(subj)) return true;
  }
  return false;
}

bool Engine::Publish(std::string_view subj, std::string_view reply, std::string_view headers,
                     std::string_view payload, PubAckCallback done) {
  Stream* s = nullptr;
  for (auto& [n, st] : impl_->streams) {
    if (st->Captures(subj)) {
      s = st.get();
      break;
    }
  }
  if (!s) return false;
  impl_->PublishTo(s, subj, reply, headers, payload, std::move(done));
  impl_->PumpSources(1);
  return true;
}

bool EngineImpl::PublishTo(Stream* s, std::string_view subj, std::string_view reply,
                           std::string_view headers, std::string_view payload,
                           Engine::PubAckCallback done, const StoreAs& as) {
  const jsapi::StreamConfig& cfg = s->config;
  bool want_reply = !reply.empty() && !cfg.no_ack && done;
  auto fail = [&](const ApiError& e) {
    if (want_reply) done(jsapi::PubAckErrorBody(cfg.name, e));
    return false;
  };
  int64_t now = as.now_ns != 0 ? as.now_ns : Now();
  if (cfg.sealed) return fail(errors::kStreamSealed.Make());
  const PubHeaders hdr = ParsePubHeaders(headers);
  // A mirror copy was checked by its origin: Nats-Expected-*, the duplicate window and the
  // rollup permission are not checked again (they would stall the mirror).
  const bool checks = !as.mirror;
  if (auto v = hdr.expected_stream; checks && v && *v != cfg.name) {
    return fail(errors::kStreamExpectedStreamMismatch.Make());
  }
  std::optional<std::string_view> msg_id = hdr.msg_id;
  if (checks && msg_id && !msg_id->empty() && cfg.duplicate_window.count() > 0) {
    s->ExpireMsgIds(now);
    auto it = s->msg_ids.find(std::string(*msg_id));
    if (it != s->msg_ids.end()) {
      if (want_reply) {
        jsapi::PubAck ack;
        ack.stream = cfg.name;
        ack.seq = it->second.first;
        ack.domain = options.domain;
        ack.duplicate = true;
        std::string out;
        jsapi::AppendPubAckText(ack, out);
        done(std::move(out));
      }
      return false;
    }
  }
  // The subject as stored (2.10 stream subject transform).
  std::string stored_subject;
  if (!s->transform || !s->transform->Apply(subj, stored_subject)) stored_subject = subj;
  auto parse_u64 = [](std::string_view v, uint64_t* out) {
    auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
    return r.ec == std::errc() && r.ptr == v.data() + v.size();
  };
  // The store's state, read once and only when a check needs it.
  std::optional<store::StoreState> state_cache;
  auto state = [&]() -> const store::StoreState& {
    if (!state_cache) state_cache = s->store->State();
    return *state_cache;
  };
  if (!checks) {
    // Already stored (a copy from before a restart): nothing to do.
    if (as.seq <= state().last_seq) return false;
  } else if (auto v = hdr.expected_last_subject_seq) {
    uint64_t want = 0;
    if (parse_u64(*v, &want)) {
      store::Message last;
      uint64_t have = s->store->LoadLast(stored_subject, &last).ok() ? last.seq : 0;
      if (have != want) {
        return fail(errors::kStreamWrongLastSequence.Make(std::to_string(have)));
      }
    }
  }
  if (auto v = hdr.expected_last_seq; checks && v) {
    uint64_t want = 0;
    if (parse_u64(*v, &want) && want != state().last_seq) {
      return fail(errors::kStreamWrongLastSequence.Make(std::to_string(state().last_seq)));
    }
  }
  if (auto v = hdr.expected_last_msg_id; checks && v && *v != s->last_msg_id) {
    return fail(errors::kStreamWrongLastMsgId.Make(s->last_msg_id));
  }
  enum class Rollup { kNone, kSub, kAll } rollup = Rollup::kNone;
  if (auto v = hdr.rollup) {
    if (checks && (!cfg.allow_rollup_hdrs || cfg.deny_purge)) {
      return fail(errors::kStreamRollupFailed.Make("rollup not permitted"));
    }
    std::string lower(*v);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "sub") {
      rollup = Rollup::kSub;
    } else if (lower == "all") {
      rollup = Rollup::kAll;
    } else if (checks) {
      return false;  // dropped without a reply, as nats-server does
    }
  }
  if (headers.size() > 65535) return fail(errors::kStreamHeaderExceedsMaximum.Make());
  if (cfg.max_msg_size > 0 &&
      headers.size() + payload.size() > static_cast<uint64_t>(cfg.max_msg_size)) {
    return fail(errors::kStreamMessageExceedsMaximum.Make());
  }
  if (cfg.discard == jsapi::DiscardPolicy::kNew) {
    // nats-server 2.9.10 (filestore/memstore storeRawMsg): headers + payload against the room
    // left, refused at max_bytes already; the stored message may still push out old ones.
    uint64_t size = headers.size() + payload.size();
    if (cfg.max_msgs > 0 && state().msgs >= static_cast<uint64_t>(cfg.max_msgs)) {
      return fail(errors::kStreamStoreFailed.Make("maximum messages exceeded"));
    }
    if (cfg.max_bytes > 0 && state().bytes + size >= static_cast<uint64_t>(cfg.max_bytes)) {
      return fail(errors::kStreamStoreFailed.Make("maximum bytes exceeded"));
    }
    if (cfg.discard_new_per_subject && cfg.max_msgs_per_subject > 0 &&
        s->store->NumMessages(stored_subject) >= static_cast<uint64_t>(cfg.max_msgs_per_subject)) {
      return fail(errors::kStreamStoreFailed.Make("maximum messages per subject exceeded"));
    }
  }
  uint64_t seq = 0;
  store::AppendOptions append;
  append.seq = as.seq;
  append.timestamp_ns = as.timestamp_ns;
  append.defer_sync = want_reply && options.kick_syncs && options.sync_always &&
                      cfg.storage == jsapi::StorageType::kFile;
  store::Status st = s->store->Append(stored_subject, headers, payload, append, &seq);
  if (append.defer_sync &&
      std::find(kick_streams.begin(), kick_streams.end(), cfg.name) == kick_streams.end()) {
    kick_streams.push_back(cfg.name);  // also when the append failed (the kick is a no-op)
  }
  if (!st.ok()) {
    if (st.code() == store::StatusCode::kNoSpace) {
      // The operator hears of it once, not once per refused publish.
      if (s->refused_no_space++ == 0 && options.warn) {
        options.warn("stream " + cfg.name + ": " + st.message() +
                     "; publishes to it are refused (10023 insufficient resources), nothing "
                     "stored is affected");
      }
      return fail(errors::kInsufficientResources.Make());
    }
    return fail(errors::kStreamStoreFailed.Make(st.message()));
  }
  if (s->refused_no_space > 0) {
    if (options.warn) {
      options.warn("stream " + cfg.name + ": stores publishes again, after " +
                   std::to_string(s->refused_no_space) + " refused for want of disk space");
    }
    s->refused_no_space = 0;
  }
  s->last_msg_id = msg_id ? std::string(*msg_id) : std::string();
  if (msg_id && !msg_id->empty() && cfg.duplicate_window.count() > 0) {
    s->msg_ids[std::string(*msg_id)] = {seq, now};
    s->msg_id_order.emplace_back(now, std::string(*msg_id));
  }
  if (rollup != Rollup::kNone) {
    store::PurgeRequest pr;
    uint64_t purged = 0;
    if (rollup == Rollup::kSub) {
      pr.filter = stored_subject;
      pr.keep = 1;
    } else {
      pr.below_seq = seq;
    }
    (void)s->store->Purge(pr, &purged);
    for (auto& [n, c] : s->consumers) c->StreamPurged();
  }
  for (auto& [n, c] : s->consumers) c->OnStored(seq, stored_subject);
  // Interest retention with no interested consumer: the sequence is used, nothing kept.
  if (cfg.retention == jsapi::RetentionPolicy::kInterest) {
    bool interested = false;
    for (auto& [n, c] : s->consumers) interested = interested || c->Matches(stored_subject);
    if (!interested) (void)s->store->Remove(seq);
  }
  if (want_reply) {
    jsapi::PubAck ack;
    ack.stream = cfg.name;
    ack.seq = seq;
    ack.domain = options.domain;
    std::string text;
    jsapi::AppendPubAckText(ack, text);
    if (!options.sync_always && cfg.storage == jsapi::StorageType::kFile) {
      // Interval sync (nats-server's lazy flush): acknowledged once written to the OS; the
      // store's sync thread makes it durable within sync_interval.
      done(std::move(text));
    } else {
      s->store->WhenDurable(seq, [done = std::move(done), text = std::move(text), name = cfg.name](
                                     uint64_t, const store::Status& status) {
        if (status.ok()) {
          done(text);
        } else {
          done(jsapi::PubAckErrorBody(name, errors::kStreamStoreFailed.Make(status.message())));
        }
      });
    }
  }
  s->Pump(now);
  return true;
}

bool Engine::HandleApi(std::string_view subj, std::string_view reply, std::string_view headers,
                       std::string_view body, std::string* reply_body) {
  Api api(*impl_);
  Reply r = api.Dispatch(subj, reply, headers, body);
  ++impl_->api_total;
  if (!r.has) return false;
  if (r.body.find("\"error\":") != std::string::npos && r.body.find("\"error\":") < 80) {
    ++impl_->api_errors;
  }
  *reply_body = std::move(r.body);
  return true;
}

void Engine::HandleAck(std::string_view subj, std::string_view reply, std::string_view payload) {
  std::vector<std::string_view> t;
  subject::SplitTokens(subj, t);
  if (t.size() != 9 || t[0] != "$JS" || t[1] != "ACK") return;
  auto s = impl_->streams.find(std::string(t[2]));
  if (s == impl_->streams.end()) return;
  auto c = s->second->consumers.find(std::string(t[3]));
  if (c == s->second->consumers.end()) return;
  Consumer& consumer = *c->second;
  consumer.OnAck(t, reply, payload, impl_->Now());
  // An ack that wants an ack-ack: write the state now (off this thread), answer when durable.
  if (!consumer.ackack_next.empty()) impl_->SaveConsumerAsync(*s->second, consumer);
}

std::string Engine::AccountInfoJson() {
  return Api(*impl_).AccountInfoForMonitoring();
}

std::string Engine::StreamDetailsJson(bool with_config) {
  return Api(*impl_).StreamDetailsForMonitoring(with_config);
}

void Engine::HandleFlowControl(std::string_view subj) {
  std::vector<std::string_view> t;
  subject::SplitTokens(subj, t);
  if (t.size() < 5 || t[0] != "$JS" || t[1] != "FC") return;
  auto s = impl_->streams.find(std::string(t[2]));
  if (s == impl_->streams.end()) return;
  auto c = s->second->consumers.find(std::string(t[3]));
  if (c == s->second->consumers.end()) return;
  c->second->OnFlowControl(subj);
  c->second->Pump(impl_->Now());
}

void Engine::HandleInbound(std::string_view subject, std::string_view shown,
                           std::string_view reply, std::string_view headers,
                           std::string_view payload) {
  impl_->HandleInbound(subject, shown.empty() ? subject : shown, reply, headers, payload);
}

void Engine::BeginInbound() {
  impl_->inbound_batch = true;
}

void Engine::EndInbound() {
  impl_->inbound_batch = false;
  for (Stream* s : impl_->inbound_batched) {
    if (store::Status st = s->store->EndBatch(); !st.ok() && impl_->options.warn) {
      impl_->options.warn("stream " + s->config.name + ": writing sourced messages failed: " +
                          st.message());
    }
  }
  impl_->inbound_batched.clear();
}

bool Engine::PumpSources() {
  return impl_->PumpSources(1);
}

void Engine::KickSyncs() {
  if (impl_->kick_streams.empty()) return;
  std::vector<std::string> names;
  names.swap(impl_->kick_streams);
  // Inline only for a lone publish into one stream: two streams' syncs go to their own sync
  // threads in parallel rather than one after the other on the loop.
  const bool alone = names.size() == 1;
  for (const std::string& name : names) {
    auto it = impl_->streams.find(name);
    if (it != impl_->streams.end()) it->second->store->KickSync(alone);
  }
}

void Engine::StateWritten() {
  impl_->CompleteStateWrites();
}

int64_t Engine::TakePullWakeNs() {
  const int64_t wake = impl_->pull_wake_ns;
  if (wake == 0) return -1;
  impl_->pull_wake_ns = 0;
  return std::max<int64_t>(0, wake - impl_->Now());
}

void Engine::Tick() {
  KickSyncs();  // the server's loop does it every iteration; this is the safety net
  impl_->CompleteStateWrites();
  impl_->PumpSources(8);
  // Origins whose sources wait on them are synced now and the sources pumped again (interval
  // sync would otherwise hold the copies back for up to sync_interval; with `always` the sync
  // is already under way).
  bool synced = false;
  for (auto& [n, s] : impl_->streams) {
    if (!s->sources_waiting) continue;
    s->sources_waiting = false;
    if (s->store->Sync().ok()) synced = true;  // a failed store stays behind; its sources wait
  }
  if (synced) impl_->PumpSources(8);
  impl_->ServiceExternal();
  int64_t now = impl_->Now();
  for (auto& [n, s] : impl_->streams) {
    uint64_t before = s->store->State().first_seq;
    if (s->config.max_age.count() > 0) (void)s->store->ExpireOld();
    s->ExpireMsgIds(now);
    bool expired = s->store->State().first_seq != before;
    for (auto it = s->consumers.begin(); it != s->consumers.end();) {
      Consumer& c = *it->second;
      if (expired) c.StreamPurged();
      if (!c.Tick(now)) {
        c.Deleting();
        impl_->DeleteConsumerFile(*s, c.name());
        if (impl_->options.consumer_deleted) impl_->options.consumer_deleted(n, c.name());
        it = s->consumers.erase(it);
        continue;
      }
      if (c.dirty()) impl_->SaveConsumerAsync(*s, c);
      ++it;
    }
    if (s->sources_dirty) s->SaveSources();
  }
}

void Engine::Close() {
  if (!impl_) return;
  KickSyncs();
  if (impl_->state_writer) impl_->state_writer->Drain();
  for (auto& [n, s] : impl_->streams) {
    for (auto& [cn, c] : s->consumers) (void)impl_->SaveConsumer(*s, *c);
    if (s->sources_dirty) s->SaveSources();
    (void)s->store->Close();
  }
  impl_->streams.clear();
}

}  // namespace meridian::jetstream
