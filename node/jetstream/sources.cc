// Stream sources within one engine: a stream with `sources` copies the messages of other
// streams of the same engine into itself, store-and-forward, resuming exactly after the last
// origin sequence it took. Every copied message carries "Nats-Stream-Source: <origin> <seq>",
// written atomically with the message, so after a crash the progress is recovered from the
// stored messages themselves: no duplicates and no gaps. Nothing an origin stored can stall a
// source: Nats-Expected-* headers are stripped, a Nats-Rollup the target does not allow is
// stripped, and a message the target refuses (a duplicate Nats-Msg-Id inside the window, a
// limit) is passed over and counted. Only what the origin's store has made durable
// (Store::DurableSeq()) is copied: a copy, and the progress recorded with it, must never name
// an origin message that a power loss could take away (the origin would then reuse its
// sequence for a new message, which the source would skip as already copied).
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include <openssl/evp.h>

#include "jetstream/internal.h"
#include "store/file_io.h"
#include "subject/subject.h"

namespace meridian::jetstream {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSourceHeader = "Nats-Stream-Source";
// Messages one source or mirror copies per round (a slice: a few milliseconds of work).
constexpr int kBatch = 4096;

// Copies a header block without the lines `drop` says to remove, adding `extra` lines.
// Returns the number of dropped lines.
template <typename Drop>
size_t RewriteHeaders(std::string_view block, Drop drop, std::string_view extra, std::string* out) {
  out->clear();
  size_t dropped = 0;
  size_t eol = block.find("\r\n");
  if (block.empty() || eol == std::string_view::npos) {
    out->append("NATS/1.0\r\n");
  } else {
    out->append(block.substr(0, eol + 2));
    size_t pos = eol + 2;
    while (pos < block.size()) {
      size_t next = block.find("\r\n", pos);
      if (next == std::string_view::npos) next = block.size();
      std::string_view line = block.substr(pos, next - pos);
      pos = next + 2;
      if (line.empty()) continue;
      size_t colon = line.find(':');
      std::string_view key = colon == std::string_view::npos ? line : line.substr(0, colon);
      if (drop(key) || key == kSourceHeader) {
        ++dropped;
        continue;
      }
      out->append(line);
      out->append("\r\n");
    }
  }
  out->append(extra);
  out->append("\r\n");
  return dropped;
}

bool ParseU64(std::string_view v, uint64_t* out) {
  auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
  return r.ec == std::errc() && r.ptr == v.data() + v.size();
}

}  // namespace

namespace {

// Transforms and filters of a source or mirror: each transform's `src` also filters (an empty
// one means everything); without transforms, filter_subject ("" = everything).
void BuildFilters(const jsapi::StreamSource& cfg, SourceState* st) {
  for (const auto& t : cfg.subject_transforms) {
    std::string src = t.src.empty() ? ">" : t.src;
    auto parsed = subject::SubjectTransform::Parse(src, t.dest);
    if (!parsed) continue;  // refused by CheckStreamConfig
    st->transforms.push_back(std::move(parsed.value()));
    st->filters.push_back(src == ">" ? std::string() : src);
  }
  if (st->filters.empty()) {
    st->filters.push_back(cfg.filter_subject == ">" ? "" : cfg.filter_subject);
  }
}

// The next origin message after `after` that one of `filters` matches (lowest sequence).
bool NextOf(Stream& origin, const std::vector<std::string>& filters, uint64_t after,
            store::Message* scratch, store::Message* out) {
  bool found = false;
  for (const auto& f : filters) {
    if (origin.LoadNextIntact(f, after + 1, scratch).ok() && (!found || scratch->seq < out->seq)) {
      std::swap(*out, *scratch);
      found = true;
    }
  }
  return found;
}

int64_t TimeNs(const jsapi::Timestamp& t) {
  return t.unix_seconds * 1'000'000'000 + t.nanos;
}

// The last origin sequence to pass over so that copying starts at the first origin message
// stored at or after `start_ns` (all of them when none is).
uint64_t SkipBefore(Stream& origin, int64_t start_ns) {
  store::Message m;
  uint64_t seq = 1;
  while (origin.LoadNextIntact("", seq, &m).ok()) {
    if (m.timestamp_ns >= start_ns) return m.seq - 1;
    seq = m.seq + 1;
  }
  return origin.store->State().last_seq;
}

// What nats-server's origin answers a consumer create for a stream it does not have.
jsapi::ApiError OriginMissing() {
  return jsapi::errors::kStreamNotFound.Make();
}

}  // namespace

void Stream::SetUpSources(bool recover) {
  if (config.mirror) {
    // Keep the progress when the config stays (an update of other fields).
    std::optional<SourceState> old = std::move(mirror);
    mirror.emplace();
    mirror->config = *config.mirror;
    BuildFilters(*config.mirror, &*mirror);
    mirror->iname = SourceIndexName(*config.mirror);
    if (old && old->config == *config.mirror) {
      mirror->last_seq = old->last_seq;
      mirror->active_ns = old->active_ns;
      mirror->skipped = old->skipped;
      mirror->error = old->error;
      mirror->ext = std::move(old->ext);  // the consumer keeps running
      old->ext.reset();
    }
    if (config.mirror->external && !mirror->ext) {
      mirror->ext.emplace();
      mirror->ext->api = config.mirror->external->api;
      mirror->ext->deliver = config.mirror->external->deliver;
    }
    if (old && old->ext) {
      if (!old->ext->deliver_subject.empty()) engine->out->Unsubscribe(old->ext->deliver_subject);
      if (!old->ext->reply_subject.empty()) engine->out->Unsubscribe(old->ext->reply_subject);
    }
    // The mirror stores every message at its origin sequence: what it has is what it took.
    mirror->last_seq = std::max(mirror->last_seq, store->State().last_seq);
    if (mirror->last_seq == 0 && config.mirror->opt_start_seq > 0) {
      mirror->last_seq = config.mirror->opt_start_seq - 1;
    }
    (void)recover;
  } else {
    mirror.reset();
  }
  std::vector<SourceState> old = std::move(sources);
  // External sources are set up again from their progress (a new consumer at last + 1).
  for (auto& o : old) {
    if (!o.ext) continue;
    if (!o.ext->deliver_subject.empty()) engine->out->Unsubscribe(o.ext->deliver_subject);
    if (!o.ext->reply_subject.empty()) engine->out->Unsubscribe(o.ext->reply_subject);
    o.ext.reset();
  }
  sources.clear();
  for (const auto& cfg : config.sources) {
    SourceState st;
    st.config = cfg;
    st.iname = SourceIndexName(cfg);
    if (cfg.external) {
      st.ext.emplace();
      st.ext->api = cfg.external->api;
      st.ext->deliver = cfg.external->deliver;
    }
    BuildFilters(cfg, &st);
    for (const auto& o : old) {
      if (o.iname == st.iname && o.config.filter_subject == cfg.filter_subject) {
        st.last_seq = o.last_seq;
        st.active_ns = o.active_ns;
        st.skipped = o.skipped;
        st.stripped = o.stripped;
        st.error = o.error;
        st.start_resolved = o.start_resolved;
      }
    }
    if (st.last_seq == 0 && cfg.opt_start_seq > 0) st.last_seq = cfg.opt_start_seq - 1;
    // Started before (progress recovered below, or kept above): opt_start_time is history.
    if (st.last_seq > 0) st.start_resolved = true;
    sources.push_back(std::move(st));
  }
  if (!recover || sources.empty()) return;
  // Progress from sources.json (covers messages passed over), then from the stored messages
  // (authoritative for what was stored: written atomically with each message).
  if (!dir.empty()) {
    std::ifstream in(fs::path(dir) / "sources.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_object()) {
      for (auto& st : sources) {
        auto it = j.find(st.iname);
        if (it != j.end() && it->is_number_unsigned()) {
          st.last_seq = std::max(st.last_seq, it->get<uint64_t>());
          st.start_resolved = true;  // sources.json is written only once a source has started
        }
      }
    }
  }
  store::Message m;
  uint64_t seq = 1;
  while (LoadNextIntact("", seq, &m).ok()) {
    seq = m.seq + 1;
    auto v = HeaderValue(m.headers, kSourceHeader);
    if (!v) continue;
    size_t space = v->find(' ');
    if (space == std::string_view::npos) continue;
    std::string_view name = v->substr(0, space);
    std::string_view rest = v->substr(space + 1);
    rest = rest.substr(0, rest.find(' '));
    uint64_t origin_seq = 0;
    if (!ParseU64(rest, &origin_seq)) continue;
    for (auto& st : sources) {
      if (st.iname == name) {
        st.last_seq = std::max(st.last_seq, origin_seq);
        st.start_resolved = true;
      }
    }
  }
}

void Stream::SaveSources() {
  if (dir.empty()) {
    sources_dirty = false;
    return;
  }
  // The progress may name origin messages whose copies are only written, not yet synced:
  // sync the store first, so that after a power loss sources.json is never ahead of the
  // copies (which would leave a gap). On failure keep it dirty and write nothing; the stored
  // copies' Nats-Stream-Source headers still carry the progress.
  if (!store->Sync().ok()) return;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& st : sources) j[st.iname] = st.last_seq;
  store::FileIo& io = engine->options.file_io ? *engine->options.file_io : store::DefaultFileIo();
  if (store::WriteFileAtomic(io, (fs::path(dir) / "sources.json").string(), dir, j.dump()).ok()) {
    sources_dirty = false;
  }
}

void EngineImpl::WaitForOrigin(Stream& origin) {
  origin.sources_waiting = true;
  if (!options.wake_sources) return;
  const uint64_t last = origin.store->State().last_seq;
  if (last <= origin.wake_armed_seq) return;  // already registered
  origin.wake_armed_seq = last;
  origin.store->WhenDurable(last, [wake = options.wake_sources](uint64_t, const store::Status& st) {
    if (st.ok()) wake();
  });
}

bool EngineImpl::PumpMirror(Stream& target, int budget) {
  SourceState& mir = *target.mirror;
  if (mir.ext) return false;  // fed by its consumer on the origin (external.cc)
  auto origin_it = streams.find(mir.config.name);
  if (origin_it == streams.end()) {
    mir.error = OriginMissing();
    return false;
  }
  mir.error.reset();
  if (target.config.sealed) return false;
  Stream& origin = *origin_it->second;
  mir.active_ns = Now();  // the origin is on this node: always "heard from"
  if (mir.last_seq == 0 && mir.config.opt_start_time) {
    // First start by time: begin at the first origin message at or after it (once what is
    // passed over is durable: the origin must not reuse a sequence the mirror skipped).
    const uint64_t skip = SkipBefore(origin, TimeNs(*mir.config.opt_start_time));
    if (skip > origin.store->DurableSeq()) {
      WaitForOrigin(origin);
      return false;
    }
    mir.last_seq = skip;
  }
  bool moved = false;
  std::string subject_out;
  store::Message m, scratch;
  const uint64_t durable = origin.store->DurableSeq();  // copy no further (see the top)
  for (int n = 0; n < budget; ++n) {
    if (!NextOf(origin, mir.filters, mir.last_seq, &scratch, &m)) {
      // Everything up to the origin's last sequence was looked at (as far as it is durable).
      const uint64_t last = origin.store->State().last_seq;
      mir.last_seq = std::max(mir.last_seq, std::min(last, durable));
      if (last > durable) WaitForOrigin(origin);
      break;
    }
    if (m.seq > durable) {
      WaitForOrigin(origin);
      break;
    }
    mir.last_seq = m.seq;
    moved = true;
    StoreMirrored(target, mir, m.seq, m.timestamp_ns, m.subject, m.headers, m.payload,
                  mir.active_ns);
  }
  return moved;
}

void EngineImpl::StoreMirrored(Stream& target, SourceState& mir, uint64_t origin_seq,
                               int64_t timestamp_ns, std::string_view subject,
                               std::string_view headers, std::string_view payload,
                               int64_t now_ns) {
  std::string_view subj = subject;
  for (const auto& t : mir.transforms) {
    if (t.Apply(subject, source_subject_scratch)) {
      subj = source_subject_scratch;
      break;
    }
  }
  StoreAs as;
  as.seq = origin_seq;
  as.timestamp_ns = timestamp_ns;
  as.mirror = true;
  as.now_ns = now_ns;
  if (!PublishTo(&target, subj, {}, headers, payload, nullptr, as)) ++mir.skipped;
}

bool EngineImpl::StoreSourced(Stream& target, SourceState& src, uint64_t origin_seq,
                              std::string_view subject, std::string_view headers,
                              std::string_view payload, int64_t now_ns) {
  std::string_view subj = subject;
  if (!src.transforms.empty()) {
    bool mapped = false;
    for (const auto& t : src.transforms) {
      if (t.Apply(subject, source_subject_scratch)) {
        mapped = true;
        break;
      }
    }
    if (!mapped) return false;
    subj = source_subject_scratch;
  }
  const bool rollups_allowed = target.config.allow_rollup_hdrs && !target.config.deny_purge;
  std::string& extra = source_extra_scratch;
  extra.assign(kSourceHeader);
  extra.append(": ");
  extra.append(src.iname);
  extra.push_back(' ');
  extra.append(std::to_string(origin_seq));
  extra.append("\r\n");
  src.stripped += RewriteHeaders(
      headers,
      [&](std::string_view key) {
        return key.starts_with("Nats-Expected-") || (key == "Nats-Rollup" && !rollups_allowed);
      },
      extra, &source_headers_scratch);
  StoreAs as;
  as.now_ns = now_ns;
  if (!PublishTo(&target, subj, {}, source_headers_scratch, payload, nullptr, as)) ++src.skipped;
  return true;
}

bool EngineImpl::PumpSources(int rounds) {
  if (pumping_sources) return false;
  pumping_sources = true;
  bool any = false;
  store::Message m, best;  // reused: their buffers keep their capacity
  // Repeat while something moved: a chain A -> B -> C settles in one call.
  for (int round = 0; round < rounds; ++round) {
    bool moved = false;
    for (auto& [name, target] : streams) {
      if (!target->mirror && target->sources.empty()) continue;
      // Copies acknowledge nothing: let the store write them together (one write per batch
      // instead of one per message).
      target->store->BeginBatch();
      if (target->mirror && PumpMirror(*target, kBatch)) moved = true;
      for (size_t i = 0; i < target->sources.size(); ++i) {
        SourceState& src = target->sources[i];
        if (src.ext) continue;  // fed by its consumer on the origin (external.cc)
        auto origin_it = streams.find(src.config.name);
        if (origin_it == streams.end()) {
          src.error = OriginMissing();
          continue;
        }
        src.error.reset();
        Stream& origin = *origin_it->second;
        src.active_ns = Now();  // the origin is on this node: always "heard from"
        if (!src.start_resolved && src.last_seq == 0 && src.config.opt_start_time) {
          // First start by time (as nats-server: opt_start_seq wins; the time is raised to
          // this stream's last message time, so nothing older than what it holds is taken).
          int64_t start = TimeNs(*src.config.opt_start_time);
          const store::StoreState ts = target->store->State();
          if (ts.last_seq > 0 && ts.last_ts > start) start = ts.last_ts;
          const uint64_t skip = SkipBefore(origin, start);
          if (skip > origin.store->DurableSeq()) {
            // Passing over messages the origin could still lose (and reuse the sequences of):
            // wait until they are durable.
            WaitForOrigin(origin);
            continue;
          }
          src.last_seq = skip;
          target->sources_dirty = true;
        }
        src.start_resolved = true;
        const uint64_t durable = origin.store->DurableSeq();  // copy no further (see the top)
        for (int n = 0; n < kBatch; ++n) {
          if (!NextOf(origin, src.filters, src.last_seq, &m, &best)) {
            // Everything up to the origin's last sequence was looked at (as far as it is
            // durable).
            const uint64_t last = origin.store->State().last_seq;
            const uint64_t upto = std::min(last, durable);
            if (upto > src.last_seq) {
              src.last_seq = upto;
              target->sources_dirty = true;
            }
            if (last > durable) WaitForOrigin(origin);
            break;
          }
          if (best.seq > durable) {
            WaitForOrigin(origin);
            break;
          }
          src.last_seq = best.seq;
          target->sources_dirty = true;
          moved = true;
          (void)StoreSourced(*target, src, best.seq, best.subject, best.headers, best.payload,
                             src.active_ns);  // this pump's "now"
        }
      }
      if (store::Status st = target->store->EndBatch(); !st.ok() && options.warn) {
        options.warn("stream " + name + ": writing sourced messages failed: " + st.message());
      }
    }
    if (!moved) break;
    any = true;
  }
  pumping_sources = false;
  return any;
}

std::string ShortHash(std::string_view text) {
  static constexpr char kDigits[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr) != 1 || len < 8) {
    return "00000000";
  }
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(kDigits[digest[i] % 62]);
  return out;
}

std::string SourceIndexName(const jsapi::StreamSource& cfg) {
  if (!cfg.external) return cfg.name;
  return cfg.name + ":" + ShortHash(cfg.external->api);
}

void Stream::CancelExternal() {
  auto cancel = [this](SourceState& st) {
    if (!st.ext) return;
    if (!st.ext->deliver_subject.empty()) engine->out->Unsubscribe(st.ext->deliver_subject);
    if (!st.ext->reply_subject.empty()) engine->out->Unsubscribe(st.ext->reply_subject);
    st.ext->deliver_subject.clear();
    st.ext->reply_subject.clear();
  };
  if (mirror) cancel(*mirror);
  for (auto& st : sources) cancel(st);
}

}  // namespace meridian::jetstream
