// Client -> upstream: publishes, API requests, acks; and upstream -> client deliveries.
// JSON replies are in reply.cc.
#include "rewrite/rewriter.h"

#include <charconv>

#include "rewrite/headers.h"
#include "rewrite/json_util.h"
#include "rewrite/subjects.h"
#include "subject/subject.h"

namespace meridian::rewrite {
namespace {

std::string Quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && HeaderNameEquals(s.substr(0, prefix.size()), prefix);
}

std::string CompareAndSetRefusal(std::string_view header, std::string_view stream) {
  return "meridian: header " + std::string(header) + " asks for compare-and-set, which virtual " +
         "stream " + Quoted(stream) +
         " cannot honour: it is eventually consistent (each region writes to its own write "
         "stream and reads from its own read stream, and sequences differ between regions). "
         "Declare the stream with consistency \"immediate\" in the topology file to use "
         "compare-and-set";
}

std::string RollupRefusal(std::string_view stream) {
  return "meridian: header Nats-Rollup is refused on virtual stream " + Quoted(stream) +
         ": a rollup stored in a write stream stalls every read stream that sources it. Declare "
         "the stream with consistency \"immediate\" in the topology file to use rollups";
}

}  // namespace

FilterStyle FilterStyleForServerVersion(std::string_view version) {
  unsigned major = 0, minor = 0;
  auto r1 = std::from_chars(version.data(), version.data() + version.size(), major);
  if (r1.ec != std::errc() || r1.ptr == version.data() + version.size() || *r1.ptr != '.') {
    return FilterStyle::kRegionWildcard;
  }
  auto r2 = std::from_chars(r1.ptr + 1, version.data() + version.size(), minor);
  if (r2.ec != std::errc()) return FilterStyle::kRegionWildcard;
  if (major > 2 || (major == 2 && minor >= 10)) return FilterStyle::kPerRegionList;
  return FilterStyle::kPerOriginConsumers;
}

Rewriter::Rewriter(std::shared_ptr<const Topology> topology, std::string region)
    : topology_(std::move(topology)), region_(std::move(region)) {
  if (!topology_) throw TopologyError("the rewrite engine was given no topology");
  for (const VirtualStream& vs : topology_->streams()) {
    if (!vs.HasRegion(region_)) {
      throw TopologyError("virtual stream " + Quoted(vs.name) + " does not list region " +
                          Quoted(region_) +
                          ", where this sidecar runs: add the region to the stream or run the "
                          "sidecar with one of its regions");
    }
    read_names_.push_back(vs.ReadStreamName(region_));
  }
  msg_id_prefix_ = region_ + ":";
}

Outbound Rewriter::ClassifyOutbound(std::string_view subject) const {
  if (subject.starts_with("$JS.")) {
    if (subject.starts_with("$JS.ACK.")) {
      auto span = AckStreamToken(subject);
      if (span && topology_->FindStream(subject.substr(span->pos, span->len))) {
        return Outbound::kAck;
      }
      return Outbound::kPassThrough;
    }
    if (subject.starts_with("$JS.API.")) return Outbound::kApiRequest;
    std::size_t dot = subject.find('.', 4);
    if (dot != std::string_view::npos && subject.substr(dot + 1).starts_with("API.")) {
      return Outbound::kApiRequest;
    }
  }
  return topology_->MatchRoot(subject) ? Outbound::kVirtualPublish : Outbound::kPassThrough;
}

// --- publishes ------------------------------------------------------------------------------

PublishAction Rewriter::RewritePublish(std::string_view subject, std::string_view headers,
                                       PublishResult& out) {
  out.headers_changed = false;
  out.refusal.clear();
  const SubjectRoot* root = topology_->MatchRoot(subject);
  if (root == nullptr) {
    out.subject.assign(subject);
    out.expect = ReplyPlan{ReplyKind::kNone};
    return PublishAction::kForward;
  }
  const VirtualStream& vs = topology_->streams()[root->stream];
  out.expect = ReplyPlan{ReplyKind::kPubAck, root->stream};

  if (!headers.empty()) {
    std::string_view refused_header;
    std::optional<std::string_view> expected_stream;
    bool has_msg_id = false;
    bool parsed = ForEachHeader(headers, [&](const HeaderLine& line) {
      if (HeaderNameEquals(line.name, "Nats-Expected-Stream")) {
        if (!expected_stream) expected_stream = line.value;
      } else if (StartsWithNoCase(line.name, "Nats-Expected-") ||
                 HeaderNameEquals(line.name, "Nats-Rollup")) {
        if (refused_header.empty()) refused_header = line.name;
      } else if (HeaderNameEquals(line.name, "Nats-Msg-Id")) {
        has_msg_id = true;
      }
    });
    if (!parsed) {
      out.refusal = PubAckErrorBody(
          vs.name, kRefusalCode, kRefusalErrCode,
          "meridian: the header block of a publish to virtual stream " + Quoted(vs.name) +
              " could not be read, so its headers cannot be checked: send \"NATS/1.0\\r\\n\", "
              "then \"Name: value\\r\\n\" lines, then \"\\r\\n\"");
      ++stats_.publishes_refused;
      return PublishAction::kRefuse;
    }
    if (!refused_header.empty()) {
      out.refusal = PubAckErrorBody(vs.name, kRefusalCode, kRefusalErrCode,
                                    HeaderNameEquals(refused_header, "Nats-Rollup")
                                        ? RollupRefusal(vs.name)
                                        : CompareAndSetRefusal(refused_header, vs.name));
      ++stats_.publishes_refused;
      return PublishAction::kRefuse;
    }
    if (expected_stream && *expected_stream != vs.name) {
      // What the server itself answers when Nats-Expected-Stream names another stream.
      out.refusal = PubAckErrorBody(vs.name, 400, 10060, "expected stream does not match");
      ++stats_.publishes_refused;
      return PublishAction::kRefuse;
    }
    if (expected_stream || has_msg_id) {
      EditHeaders(
          headers,
          [&](const HeaderLine& line, std::string& replacement) {
            if (HeaderNameEquals(line.name, "Nats-Expected-Stream")) return HeaderEdit::kDrop;
            if (HeaderNameEquals(line.name, "Nats-Msg-Id")) {
              replacement.assign(msg_id_prefix_);
              replacement.append(line.value);
              return HeaderEdit::kReplace;
            }
            return HeaderEdit::kKeep;
          },
          out.headers);
      out.headers_changed = true;
    }
  }
  InsertTokenAfterPrefix(subject, root->prefix.size(), region_, out.subject);
  ++stats_.publishes_rewritten;
  return PublishAction::kForward;
}

// --- acks and deliveries ----------------------------------------------------------------------

bool Rewriter::RewriteClientAck(std::string_view subject, std::string& out) {
  auto span = AckStreamToken(subject);
  if (!span) return false;
  auto stream = topology_->FindStream(subject.substr(span->pos, span->len));
  if (!stream) return false;
  ReplaceSpan(subject, *span, read_names_[*stream], out);
  ++stats_.acks_rewritten;
  return true;
}

bool Rewriter::IsVirtualDelivery(std::string_view reply) const {
  if (!reply.starts_with("$JS.ACK.")) return false;
  auto span = AckStreamToken(reply);
  if (!span) return false;
  auto internal = topology_->FindInternal(reply.substr(span->pos, span->len));
  return internal && internal->role == InternalRole::kRead;
}

bool Rewriter::RewriteDelivery(std::string_view subject, std::string_view reply,
                               std::string_view headers, DeliveryResult& out) {
  auto span = AckStreamToken(reply);
  if (!span) return false;
  auto internal = topology_->FindInternal(reply.substr(span->pos, span->len));
  if (!internal || internal->role != InternalRole::kRead) return false;
  const VirtualStream& vs = topology_->streams()[internal->stream];
  ReplaceSpan(reply, *span, vs.name, out.reply);
  if (!ToVirtualSubject(*topology_, subject, out.subject)) out.subject.assign(subject);
  out.headers_changed = false;
  if (!headers.empty()) {
    auto id = FindHeader(headers, "Nats-Msg-Id");
    std::size_t colon = id ? id->find(':') : std::string_view::npos;
    if (colon != std::string_view::npos &&
        topology_->RegionIndex(internal->stream, id->substr(0, colon))) {
      EditHeaders(
          headers,
          [&](const HeaderLine& line, std::string& replacement) {
            if (!HeaderNameEquals(line.name, "Nats-Msg-Id")) return HeaderEdit::kKeep;
            std::size_t c = line.value.find(':');
            if (c == std::string_view::npos ||
                !topology_->RegionIndex(internal->stream, line.value.substr(0, c))) {
              return HeaderEdit::kKeep;
            }
            replacement.assign(line.value.substr(c + 1));
            return HeaderEdit::kReplace;
          },
          out.headers);
      out.headers_changed = true;
    }
  }
  ++stats_.deliveries_rewritten;
  return true;
}

// --- API requests -----------------------------------------------------------------------------

void Rewriter::RedirectSubject(const ApiSubject& api, std::uint32_t stream,
                               std::string_view subject, std::string& out) {
  out.assign(subject.substr(0, api.stream.pos));
  out.append(read_names_[stream]);
  if (api.tail_pos == std::string_view::npos) {
    out.append(subject.substr(api.stream.pos + api.stream.len));
    return;
  }
  out.append(subject.substr(api.stream.pos + api.stream.len,
                            api.tail_pos - (api.stream.pos + api.stream.len)));
  std::string_view tail = subject.substr(api.tail_pos);
  if (ToStoredFilter(*topology_, tail, scratch_)) {
    out.append(scratch_);
  } else {
    out.append(tail);
  }
}

ApiAction Rewriter::Refuse(const ApiSubject& api, std::string_view stream, std::string_view why,
                           ApiResult& out) {
  out.answer = ApiErrorBody(
      api.type_suffix, kRefusalCode, kRefusalErrCode,
      "meridian: " + std::string(why) + " on virtual stream " + Quoted(stream) + " is refused: " +
          std::string("it is defined by the topology file and stored as one write "
                      "and one read stream per region. Change it with `meridian "
                      "topology plan` / `apply`"));
  ++stats_.api_answered;
  return ApiAction::kAnswer;
}

ApiAction Rewriter::RewriteApiRequest(std::string_view subject, std::string_view body,
                                      ApiResult& out) {
  out.body_changed = false;
  out.parts.clear();
  out.answer.clear();
  out.expect = ReplyPlan{};
  auto api = ParseApiSubject(subject);
  if (!api) return ApiAction::kPassThrough;
  if (api->op == ApiOp::kStreamNames || api->op == ApiOp::kStreamList) {
    return RewriteStreamLookup(*api, subject, body, out);
  }
  if (api->stream.len == 0) return ApiAction::kPassThrough;
  auto found = topology_->FindStream(subject.substr(api->stream.pos, api->stream.len));
  if (!found) return ApiAction::kPassThrough;
  const std::uint32_t stream = *found;
  const VirtualStream& vs = topology_->streams()[stream];

  switch (api->op) {
    case ApiOp::kStreamCreate:
      return Refuse(*api, vs.name, "creating a stream with the name of a virtual stream", out);
    case ApiOp::kStreamUpdate:
      return Refuse(*api, vs.name, "updating the configuration", out);
    case ApiOp::kStreamDelete:
      return Refuse(*api, vs.name, "deleting the stream", out);
    case ApiOp::kStreamPurge:
      return Refuse(*api, vs.name,
                    "purging (it would empty only this region's read stream, and the write "
                    "streams would source the messages back)",
                    out);
    case ApiOp::kStreamMsgDelete:
      return Refuse(*api, vs.name,
                    "deleting a message (sequences differ between regions, and a delete would "
                    "reach only this region's read stream)",
                    out);
    case ApiOp::kStreamSnapshot:
    case ApiOp::kStreamRestore:
      return Refuse(*api, vs.name, "snapshot and restore", out);
    case ApiOp::kStreamPeerRemove:
      return Refuse(*api, vs.name, "removing a peer", out);
    case ApiOp::kAccountInfo:
    case ApiOp::kStreamNames:
    case ApiOp::kStreamList:
      return ApiAction::kPassThrough;
    case ApiOp::kStreamMsgGet:
    case ApiOp::kDirectGet:
      return RewriteGet(*api, stream, subject, body, out);
    default:
      break;
  }

  RedirectSubject(*api, stream, subject, out.subject);
  out.expect.stream = stream;
  switch (api->op) {
    case ApiOp::kStreamInfo:
      out.expect.kind = ReplyKind::kStreamInfo;
      if (auto j = ParseObject(body)) {
        const std::string* filter = StringField(*j, "subjects_filter");
        if (filter && ToStoredFilter(*topology_, *filter, scratch_)) {
          (*j)["subjects_filter"] = scratch_;
          out.body = Dump(*j);
          out.body_changed = true;
        }
      }
      break;
    case ApiOp::kConsumerCreate:
    case ApiOp::kConsumerDurableCreate:
      out.expect.kind = ReplyKind::kConsumerInfo;
      if (auto j = ParseObject(body)) {
        bool changed = false;
        const std::string* name = StringField(*j, "stream_name");
        if (name && *name == vs.name) {
          (*j)["stream_name"] = read_names_[stream];
          changed = true;
        }
        auto config = j->find("config");
        bool dropped_tail = false;
        if (config != j->end() && config->is_object()) {
          changed |= RewriteCreateFilters(*config, &dropped_tail);
        }
        if (dropped_tail && api->tail_pos != std::string_view::npos) {
          // CONSUMER.CREATE.<read>.<C>.<filter…> -> CONSUMER.CREATE.<read>.<C>
          ApiSubject no_tail = *api;
          no_tail.tail_pos = std::string_view::npos;
          RedirectSubject(no_tail, stream, subject.substr(0, api->tail_pos - 1), out.subject);
        }
        if (changed) {
          out.body = Dump(*j);
          out.body_changed = true;
        }
      }
      break;
    case ApiOp::kConsumerInfo:
      out.expect.kind = ReplyKind::kConsumerInfo;
      break;
    case ApiOp::kConsumerList:
      out.expect.kind = ReplyKind::kConsumerList;
      break;
    case ApiOp::kConsumerNames:
      out.expect.kind = ReplyKind::kConsumerNames;
      break;
    case ApiOp::kConsumerMsgNext:
      out.expect.kind = ReplyKind::kNone;
      break;
    default:  // consumer delete/names/stepdown/pause/unpin/reset, stream stepdown
      out.expect.kind = ReplyKind::kApiGeneric;
      break;
  }
  ++stats_.api_forwarded;
  return ApiAction::kForward;
}

bool Rewriter::RewriteCreateFilters(Json& config, bool* dropped_tail) {
  std::vector<std::string> filters;
  bool from_list = false;
  if (const std::string* f = StringField(config, "filter_subject")) {
    filters.push_back(*f);
  } else if (auto list = config.find("filter_subjects"); list != config.end() && list->is_array()) {
    from_list = true;
    for (const Json& f : *list) {
      if (!f.is_string()) return false;  // let the server refuse it
      filters.push_back(f.get<std::string>());
    }
  }
  if (filters.empty()) return false;
  bool changed = false;
  bool expand = false;
  Json stored = Json::array();
  for (const std::string& f : filters) {
    const SubjectRoot* root = topology_->MatchRoot(f);
    if (root == nullptr) {
      stored.push_back(f);
      continue;
    }
    changed = true;
    const std::string_view rest = std::string_view(f).substr(root->prefix.size() + 1);
    if (filter_style_ != FilterStyle::kPerRegionList || rest == ">") {
      InsertTokenAfterPrefix(f, root->prefix.size(), "*", scratch_);
      stored.push_back(scratch_);
      continue;
    }
    expand = true;
    for (const std::string& region : topology_->streams()[root->stream].regions) {
      InsertTokenAfterPrefix(f, root->prefix.size(), region, scratch_);
      stored.push_back(scratch_);
    }
  }
  if (!changed) return false;
  if (!expand && !from_list) {
    config["filter_subject"] = stored[0];
  } else {
    config.erase("filter_subject");
    config["filter_subjects"] = std::move(stored);
    *dropped_tail = true;
  }
  return true;
}

ApiAction Rewriter::RewriteGet(const ApiSubject& api, std::uint32_t stream,
                               std::string_view subject, std::string_view body, ApiResult& out) {
  const ReplyKind kind = api.op == ApiOp::kDirectGet ? ReplyKind::kDirectGet : ReplyKind::kMsgGet;
  out.expect = ReplyPlan{kind, stream};
  if (api.op == ApiOp::kDirectGet && api.tail_pos != std::string_view::npos) {
    // DIRECT.GET.<S>.<subject…>: "last message on that subject"; the body must be empty.
    std::string_view tail = subject.substr(api.tail_pos);
    if (body.empty() && subject::IsValidPublishSubject(tail) && topology_->MatchRoot(tail)) {
      return FanOutLastBySubject(api, stream, subject, tail, out);
    }
    RedirectSubject(api, stream, subject, out.subject);
    ++stats_.api_forwarded;
    return ApiAction::kForward;
  }
  RedirectSubject(api, stream, subject, out.subject);
  if (auto j = ParseObject(body)) {
    const std::string* last = StringField(*j, "last_by_subj");
    const std::string* next = StringField(*j, "next_by_subj");
    if (last && !next && !j->contains("seq") && subject::IsValidPublishSubject(*last) &&
        topology_->MatchRoot(*last)) {
      return FanOutLastBySubject(api, stream, subject, *last, out);
    }
    bool changed = false;
    if (last && ToStoredFilter(*topology_, *last, scratch_)) {
      (*j)["last_by_subj"] = scratch_;
      changed = true;
    }
    if (next && ToStoredFilter(*topology_, *next, scratch_)) {
      (*j)["next_by_subj"] = scratch_;
      changed = true;
    }
    if (changed) {
      out.body = Dump(*j);
      out.body_changed = true;
    }
  }
  ++stats_.api_forwarded;
  return ApiAction::kForward;
}

ApiAction Rewriter::FanOutLastBySubject(const ApiSubject& api, std::uint32_t stream,
                                        std::string_view subject, std::string_view virtual_subject,
                                        ApiResult& out) {
  const VirtualStream& vs = topology_->streams()[stream];
  const SubjectRoot* root = topology_->MatchRoot(virtual_subject);
  out.merge =
      ReplyPlan{api.op == ApiOp::kDirectGet ? ReplyKind::kDirectGet : ReplyKind::kMsgGet, stream};
  out.parts.resize(vs.regions.size());
  const bool subject_form = api.tail_pos != std::string_view::npos;
  std::optional<Json> body;
  if (!subject_form) body = ParseObject(R"({"last_by_subj":""})");
  for (std::size_t r = 0; r < vs.regions.size(); ++r) {
    UpstreamRequest& part = out.parts[r];
    InsertTokenAfterPrefix(virtual_subject, root->prefix.size(), vs.regions[r], scratch_);
    part.subject.assign(subject.substr(0, api.stream.pos));
    part.subject.append(read_names_[stream]);
    if (subject_form) {
      part.subject.append(".");
      part.subject.append(scratch_);
      part.body.clear();
    } else {
      part.subject.append(subject.substr(api.stream.pos + api.stream.len));
      (*body)["last_by_subj"] = scratch_;
      part.body = Dump(*body);
    }
  }
  ++stats_.api_fanouts;
  return ApiAction::kFanOut;
}

ApiAction Rewriter::RewriteStreamLookup(const ApiSubject& api, std::string_view subject,
                                        std::string_view body, ApiResult& out) {
  const bool names = api.op == ApiOp::kStreamNames;
  out.expect = ReplyPlan{names ? ReplyKind::kStreamNames : ReplyKind::kStreamList, kNoStream};
  out.subject.assign(subject);
  if (auto j = ParseObject(body)) {
    const std::string* filter = StringField(*j, "subject");
    const SubjectRoot* root = filter ? topology_->MatchRoot(*filter) : nullptr;
    if (root != nullptr) {
      // A lookup of "the stream for this subject": only the virtual stream can hold it,
      // and its read streams have no subjects of their own (§3.6.4), so answer here.
      const std::uint32_t stream = root->stream;
      const VirtualStream& vs = topology_->streams()[stream];
      if (names) {
        std::uint64_t offset = 0;
        if (auto o = j->find("offset"); o != j->end() && o->is_number_unsigned()) {
          offset = o->get<std::uint64_t>();
        }
        Json answer = Json::object();
        answer["type"] = std::string(kApiTypePrefix) + "stream_names_response";
        answer["total"] = 1;
        answer["offset"] = offset;
        answer["limit"] = 1024;
        answer["streams"] = offset == 0 ? Json::array({vs.name}) : Json(nullptr);
        out.answer = Dump(answer);
        ++stats_.api_answered;
        return ApiAction::kAnswer;
      }
      // STREAM.LIST by subject: this region's read stream's info, as a list of one.
      const std::size_t prefix_len = subject.size() - std::string_view("STREAM.LIST").size();
      out.subject.assign(subject.substr(0, prefix_len));
      out.subject.append("STREAM.INFO.");
      out.subject.append(read_names_[stream]);
      out.body.clear();
      out.body_changed = true;
      out.expect = ReplyPlan{ReplyKind::kStreamInfoAsList, stream};
    }
  }
  ++stats_.api_forwarded;
  return ApiAction::kForward;
}

}  // namespace meridian::rewrite
