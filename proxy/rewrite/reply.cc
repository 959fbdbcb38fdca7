// Upstream -> client: JSON API replies, PubAcks, MSG.GET and direct-get replies.
#include <algorithm>
#include <map>
#include <set>

#include "rewrite/headers.h"
#include "rewrite/json_util.h"
#include "rewrite/rewriter.h"
#include "rewrite/split.h"
#include "rewrite/subjects.h"

namespace meridian::rewrite {
namespace {

// Bytes that cannot be part of a stream name, plus punctuation that surrounds names in
// server error texts.
bool IsNameBoundary(char c) {
  switch (c) {
    case ' ':
    case '\t':
    case '\r':
    case '\n':
    case '.':
    case '*':
    case '>':
    case '/':
    case '\\':
    case '"':
    case '\'':
    case ',':
    case ':':
    case ';':
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
    case '`':
      return true;
    default:
      return false;
  }
}

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// The PubAck as nats-server writes it, {"stream":"<name>","seq":<n>[,"domain":"<d>"]
// [,"duplicate":true]}, read without building a document: a flat object whose values are
// strings without escapes, numbers, true, false or null, all ASCII, each key once. On
// success `stream` is the "stream" value (empty, with pos npos, when absent or not a
// string). Anything else (an error object, an escape, a repeated key, bad JSON) returns
// false: the caller then parses the reply fully, so nothing is decided on bytes alone.
class FlatObjectScan {
 public:
  explicit FlatObjectScan(std::string_view text) : t_(text) {}

  bool Run() {
    SkipSpace();
    if (!Eat('{')) return false;
    SkipSpace();
    if (Eat('}')) return End();
    std::size_t keys = 0;
    for (;;) {
      std::string_view key;
      if (!String(key)) return false;
      // Repeated keys: which one counts is the document parser's business.
      for (std::size_t k = 0; k < keys; ++k) {
        if (seen_[k] == key) return false;
      }
      if (keys == kMaxKeys) return false;
      seen_[keys++] = key;
      SkipSpace();
      if (!Eat(':')) return false;
      SkipSpace();
      if (Peek() == '"') {
        const std::size_t start = i_ + 1;
        std::string_view value;
        if (!String(value)) return false;
        if (key == "stream") {
          stream = value;
          stream_pos = start;
        }
      } else if (!Scalar()) {
        return false;
      }
      SkipSpace();
      if (Eat('}')) return End();
      if (!Eat(',')) return false;
      SkipSpace();
    }
  }

  std::string_view stream;
  std::size_t stream_pos = std::string_view::npos;

 private:
  static constexpr std::size_t kMaxKeys = 8;

  char Peek() const { return i_ < t_.size() ? t_[i_] : '\0'; }
  bool Eat(char c) {
    if (Peek() != c || i_ >= t_.size()) return false;
    ++i_;
    return true;
  }
  void SkipSpace() {
    while (i_ < t_.size() && IsJsonSpace(t_[i_])) ++i_;
  }
  bool End() {
    SkipSpace();
    return i_ == t_.size();
  }
  bool String(std::string_view& out) {
    if (!Eat('"')) return false;
    const std::size_t start = i_;
    while (i_ < t_.size()) {
      const auto c = static_cast<unsigned char>(t_[i_]);
      if (c == '"') {
        out = t_.substr(start, i_ - start);
        ++i_;
        return true;
      }
      if (c == '\\' || c < 0x20 || c >= 0x80) return false;
      ++i_;
    }
    return false;
  }
  bool Literal(std::string_view word) {
    if (t_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  // A number as JSON spells it, or true, false, null.
  bool Scalar() {
    const char c = Peek();
    if (c == 't') return Literal("true");
    if (c == 'f') return Literal("false");
    if (c == 'n') return Literal("null");
    Eat('-');
    if (!Eat('0')) {  // no leading zeros
      if (!IsDigit(Peek())) return false;
      while (IsDigit(Peek())) ++i_;
    }
    if (Eat('.')) {
      if (!IsDigit(Peek())) return false;
      while (IsDigit(Peek())) ++i_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++i_;
      if (Peek() == '+' || Peek() == '-') ++i_;
      if (!IsDigit(Peek())) return false;
      while (IsDigit(Peek())) ++i_;
    }
    return true;
  }

  std::string_view t_;
  std::size_t i_ = 0;
  std::string_view seen_[kMaxKeys];
};

}  // namespace

std::optional<ReplyAction> Rewriter::RewritePubAckFast(std::string_view body, ReplyResult& out) {
  FlatObjectScan scan(body);
  if (!scan.Run()) return std::nullopt;
  if (scan.stream_pos == std::string_view::npos) return ReplyAction::kUnchanged;
  auto internal = topology_->FindInternal(scan.stream);
  if (!internal) return ReplyAction::kUnchanged;
  const std::string& name = topology_->streams()[internal->stream].name;
  out.body.assign(body.substr(0, scan.stream_pos));
  out.body.append(name);
  out.body.append(body.substr(scan.stream_pos + scan.stream.size()));
  out.body_changed = true;
  ++stats_.replies_rewritten;
  return ReplyAction::kRewritten;
}

bool Rewriter::RewriteNamesInText(std::string_view text, std::string& out) const {
  bool changed = false;
  std::size_t i = 0;
  std::string result;
  while (i < text.size()) {
    if (IsNameBoundary(text[i])) {
      result.push_back(text[i++]);
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && !IsNameBoundary(text[end])) ++end;
    std::string_view word = text.substr(i, end - i);
    if (auto internal = topology_->FindInternal(word)) {
      result.append(topology_->streams()[internal->stream].name);
      changed = true;
    } else {
      result.append(word);
    }
    i = end;
  }
  if (changed) out = std::move(result);
  return changed;
}

namespace {

class ReplyEditor {
 public:
  ReplyEditor(const Rewriter& rw, const Topology& topology) : rw_(rw), topology_(topology) {}

  // error.description naming internal streams.
  bool FixError(Json& j) {
    auto e = j.find("error");
    if (e == j.end() || !e->is_object()) return false;
    const std::string* d = StringField(*e, "description");
    std::string fixed;
    if (d && rw_.RewriteNamesInText(*d, fixed)) {
      (*e)["description"] = fixed;
      return true;
    }
    return false;
  }

  // A string field naming an internal stream -> the virtual name.
  bool FixStreamName(Json& j, const char* key) {
    const std::string* name = StringField(j, key);
    if (!name) return false;
    auto internal = topology_.FindInternal(*name);
    if (!internal) return false;
    j[key] = topology_.streams()[internal->stream].name;
    return true;
  }

  bool FixFilter(Json& j, const char* key) {
    const std::string* f = StringField(j, key);
    if (f && ToVirtualFilter(topology_, *f, scratch_)) {
      j[key] = scratch_;
      return true;
    }
    return false;
  }

  // StreamInfo of a read stream, presented as the virtual stream `stream`.
  bool FixStreamInfo(Json& info, std::uint32_t stream) {
    bool changed = FixError(info);
    const VirtualStream& vs = topology_.streams()[stream];
    auto config = info.find("config");
    if (config != info.end() && config->is_object()) {
      (*config)["name"] = vs.name;
      Json subjects = Json::array();
      for (const std::string& root : vs.subject_roots) subjects.push_back(root);
      (*config)["subjects"] = std::move(subjects);
      config->erase("sources");
      config->erase("mirror");
      config->erase("subject_transform");
      changed = true;
    }
    for (const char* hidden : {"sources", "mirror", "alternates"}) {
      if (info.erase(hidden) > 0) changed = true;
    }
    auto state = info.find("state");
    if (state != info.end() && state->is_object()) {
      auto subjects = state->find("subjects");
      if (subjects != state->end() && subjects->is_object()) {
        const std::size_t before = subjects->size();
        Json merged = Json::object();
        for (auto it = subjects->begin(); it != subjects->end(); ++it) {
          const std::string& key = it.key();
          std::string_view shown = key;
          if (ToVirtualSubject(topology_, key, scratch_)) shown = scratch_;
          Json& slot = merged[std::string(shown)];
          if (slot.is_null()) {
            slot = it.value();
          } else if (slot.is_number_unsigned() && it.value().is_number_unsigned()) {
            slot = slot.get<std::uint64_t>() + it.value().get<std::uint64_t>();
          } else if (slot.is_number_integer() && it.value().is_number_integer()) {
            slot = slot.get<std::int64_t>() + it.value().get<std::int64_t>();
          }
        }
        if (merged.size() != before || merged != *subjects) {
          // `total` counts the subjects of this page when a subjects_filter was given.
          auto total = info.find("total");
          if (total != info.end() && total->is_number_unsigned() &&
              total->get<std::uint64_t>() == before) {
            *total = merged.size();
          }
          *subjects = std::move(merged);
          changed = true;
        }
      }
    }
    return changed;
  }

  bool FixConsumerInfo(Json& info) {
    bool changed = FixError(info);
    changed |= FixStreamName(info, "stream_name");
    auto config = info.find("config");
    if (config != info.end() && config->is_object()) {
      changed |= FixFilter(*config, "filter_subject");
      auto filters = config->find("filter_subjects");
      if (filters != config->end() && filters->is_array()) {
        // Per-region lists (FilterStyle::kPerRegionList) fold back into one virtual filter:
        // foo.east.test, foo.west.test -> foo.test.
        Json folded = Json::array();
        bool all_strings = true;
        for (const Json& f : *filters) {
          if (!f.is_string()) {
            all_strings = false;
            break;
          }
          const std::string& s = f.get_ref<const std::string&>();
          std::string shown = s;
          if (ToVirtualFilter(topology_, s, scratch_) || ToVirtualSubject(topology_, s, scratch_)) {
            shown = scratch_;
          }
          if (std::find(folded.begin(), folded.end(), Json(shown)) == folded.end()) {
            folded.push_back(shown);
          }
        }
        if (all_strings && folded != *filters) {
          if (folded.size() == 1 && filters->size() > 1 && !config->contains("filter_subject")) {
            (*config)["filter_subject"] = folded[0];
            config->erase("filter_subjects");
          } else {
            *filters = std::move(folded);
          }
          changed = true;
        }
      }
    }
    return changed;
  }

  // Subtracts `removed` from a paging `total`.
  static void ShrinkTotal(Json& j, std::size_t removed) {
    auto total = j.find("total");
    if (removed == 0 || total == j.end() || !total->is_number_unsigned()) return;
    std::uint64_t t = total->get<std::uint64_t>();
    *total = t >= removed ? t - removed : 0;
  }

  bool FixStreamNames(Json& j) {
    bool changed = FixError(j);
    auto streams = j.find("streams");
    if (streams == j.end() || !streams->is_array()) return changed;
    std::vector<std::string> names;
    std::set<std::string> seen;
    std::size_t input = 0;
    bool renamed = false;
    for (const Json& s : *streams) {
      if (!s.is_string()) return changed;  // not a names list: leave it alone
      ++input;
      std::string name = s.get<std::string>();
      if (auto internal = topology_.FindInternal(name)) {
        name = topology_.streams()[internal->stream].name;
        renamed = true;
      }
      if (seen.insert(name).second) names.push_back(std::move(name));
    }
    if (!renamed) return changed;
    std::sort(names.begin(), names.end());
    ShrinkTotal(j, input - names.size());
    *streams = names;
    return true;
  }

  bool FixStreamList(Json& j, const std::vector<std::string>& own_read_names) {
    bool changed = FixError(j);
    auto streams = j.find("streams");
    if (streams != j.end() && streams->is_array()) {
      Json kept = Json::array();
      std::size_t removed = 0;
      for (Json& info : *streams) {
        const std::string* name = info.is_object() && info.contains("config")
                                      ? StringField(info["config"], "name")
                                      : nullptr;
        auto internal = name ? topology_.FindInternal(*name) : std::nullopt;
        if (!internal) {
          kept.push_back(std::move(info));
          continue;
        }
        if (internal->role == InternalRole::kRead && *name == own_read_names[internal->stream]) {
          FixStreamInfo(info, internal->stream);
          kept.push_back(std::move(info));
        } else {
          ++removed;
        }
        changed = true;
      }
      if (changed) {
        ShrinkTotal(j, removed);
        *streams = std::move(kept);
      }
    }
    auto missing = j.find("missing");
    if (missing != j.end() && missing->is_array()) {
      Json kept = Json::array();
      for (Json& m : *missing) {
        const std::string* name = m.is_string() ? m.get_ptr<const std::string*>() : nullptr;
        auto internal = name ? topology_.FindInternal(*name) : std::nullopt;
        if (!internal) {
          kept.push_back(std::move(m));
        } else if (*name == own_read_names[internal->stream]) {
          kept.push_back(topology_.streams()[internal->stream].name);
          changed = true;
        } else {
          changed = true;
        }
      }
      *missing = std::move(kept);
    }
    return changed;
  }

  // MSG.GET reply: message.subject and the origin prefix of Nats-Msg-Id in message.hdrs.
  bool FixStoredMessage(Json& j, std::uint32_t stream) {
    bool changed = FixError(j);
    auto msg = j.find("message");
    if (msg == j.end() || !msg->is_object()) return changed;
    const std::string* subject = StringField(*msg, "subject");
    if (subject && ToVirtualSubject(topology_, *subject, scratch_)) {
      (*msg)["subject"] = scratch_;
      changed = true;
    }
    const std::string* hdrs = StringField(*msg, "hdrs");
    std::string block, edited;
    if (hdrs && Base64Decode(*hdrs, block) && StripMsgIdOrigin(block, stream, edited)) {
      Base64Encode(edited, scratch_);
      (*msg)["hdrs"] = scratch_;
      changed = true;
    }
    return changed;
  }

  // Removes "<region>:" from Nats-Msg-Id when it names a region of `stream`.
  bool StripMsgIdOrigin(std::string_view block, std::uint32_t stream, std::string& out) {
    bool changed = false;
    bool ok = EditHeaders(
        block,
        [&](const HeaderLine& line, std::string& replacement) {
          if (!HeaderNameEquals(line.name, "Nats-Msg-Id")) return HeaderEdit::kKeep;
          std::size_t c = line.value.find(':');
          if (c == std::string_view::npos ||
              !topology_.RegionIndex(stream, line.value.substr(0, c))) {
            return HeaderEdit::kKeep;
          }
          replacement.assign(line.value.substr(c + 1));
          changed = true;
          return HeaderEdit::kReplace;
        },
        out);
    return ok && changed;
  }

  // Direct-get reply headers: Nats-Stream, Nats-Subject, Nats-Msg-Id.
  bool FixDirectGetHeaders(std::string_view block, std::uint32_t stream, std::string& out) {
    bool changed = false;
    bool ok = EditHeaders(
        block,
        [&](const HeaderLine& line, std::string& replacement) {
          if (HeaderNameEquals(line.name, "Nats-Stream")) {
            auto internal = topology_.FindInternal(line.value);
            if (!internal) return HeaderEdit::kKeep;
            replacement = topology_.streams()[internal->stream].name;
          } else if (HeaderNameEquals(line.name, "Nats-Subject")) {
            if (!ToVirtualSubject(topology_, line.value, replacement)) return HeaderEdit::kKeep;
          } else if (HeaderNameEquals(line.name, "Nats-Msg-Id") && stream != kNoStream) {
            std::size_t c = line.value.find(':');
            if (c == std::string_view::npos ||
                !topology_.RegionIndex(stream, line.value.substr(0, c))) {
              return HeaderEdit::kKeep;
            }
            replacement.assign(line.value.substr(c + 1));
          } else {
            return HeaderEdit::kKeep;
          }
          changed = true;
          return HeaderEdit::kReplace;
        },
        out);
    return ok && changed;
  }

 private:
  const Rewriter& rw_;
  const Topology& topology_;
  std::string scratch_;
};

}  // namespace

ReplyAction Rewriter::RewriteReply(const ReplyPlan& plan, std::string_view headers,
                                   std::string_view body, ReplyResult& out) {
  out.body_changed = false;
  out.headers_changed = false;
  ReplyEditor editor(*this, *topology_);
  const bool known_stream = plan.stream < topology_->streams().size();

  if (plan.kind == ReplyKind::kNone) return ReplyAction::kUnchanged;
  if (plan.kind == ReplyKind::kDirectGet) {
    if (headers.empty()) {
      ++stats_.replies_unparseable;
      return ReplyAction::kUnparseable;
    }
    if (!ForEachHeader(headers, [](const HeaderLine&) {})) {
      ++stats_.replies_unparseable;
      return ReplyAction::kUnparseable;
    }
    if (!editor.FixDirectGetHeaders(headers, known_stream ? plan.stream : kNoStream, out.headers)) {
      return ReplyAction::kUnchanged;
    }
    out.headers_changed = true;
    ++stats_.replies_rewritten;
    return ReplyAction::kRewritten;
  }

  if (plan.kind == ReplyKind::kPubAck) {
    // One per published message: the usual shape is read without building a document.
    if (std::optional<ReplyAction> fast = RewritePubAckFast(body, out)) return *fast;
  }

  auto parsed = ParseObject(body);
  if (!parsed) {
    ++stats_.replies_unparseable;
    return ReplyAction::kUnparseable;
  }
  Json& j = *parsed;
  bool changed = false;
  switch (plan.kind) {
    case ReplyKind::kPubAck:
      changed = editor.FixError(j);
      changed |= editor.FixStreamName(j, "stream");
      break;
    case ReplyKind::kStreamInfo:
      if (!known_stream) {
        ++stats_.replies_unparseable;
        return ReplyAction::kUnparseable;
      }
      changed = j.contains("error") ? editor.FixError(j) : editor.FixStreamInfo(j, plan.stream);
      break;
    case ReplyKind::kStreamInfoAsList: {
      if (!known_stream) {
        ++stats_.replies_unparseable;
        return ReplyAction::kUnparseable;
      }
      Json list = Json::object();
      list["type"] = std::string(kApiTypePrefix) + "stream_list_response";
      if (j.contains("error")) {
        editor.FixError(j);
        list["error"] = j["error"];
        list["total"] = 0;
        list["offset"] = 0;
        list["limit"] = 256;
        list["streams"] = Json::array();
      } else {
        editor.FixStreamInfo(j, plan.stream);
        for (const char* paging : {"type", "total", "offset", "limit"}) j.erase(paging);
        list["total"] = 1;
        list["offset"] = 0;
        list["limit"] = 256;
        list["streams"] = Json::array({std::move(j)});
      }
      out.body = Dump(list);
      out.body_changed = true;
      ++stats_.replies_rewritten;
      return ReplyAction::kRewritten;
    }
    case ReplyKind::kStreamNames:
      changed = editor.FixStreamNames(j);
      break;
    case ReplyKind::kStreamList:
      changed = editor.FixStreamList(j, read_names_);
      break;
    case ReplyKind::kConsumerInfo:
      changed = editor.FixConsumerInfo(j);
      break;
    case ReplyKind::kConsumerNames:
      changed = editor.FixError(j);
      if (known_stream && filter_style_ == FilterStyle::kPerOriginConsumers) {
        changed |= FoldSplitConsumerNames(j, plan.stream);
      }
      break;
    case ReplyKind::kConsumerList: {
      if (known_stream && filter_style_ == FilterStyle::kPerOriginConsumers) {
        changed = FoldSplitConsumerList(j, plan.stream);
      }
      changed |= editor.FixError(j);
      auto consumers = j.find("consumers");
      if (consumers != j.end() && consumers->is_array()) {
        for (Json& c : *consumers) {
          if (c.is_object()) changed |= editor.FixConsumerInfo(c);
        }
      }
      break;
    }
    case ReplyKind::kMsgGet:
      changed = known_stream ? editor.FixStoredMessage(j, plan.stream) : editor.FixError(j);
      break;
    case ReplyKind::kApiGeneric:
    case ReplyKind::kNone:
    case ReplyKind::kDirectGet:
      changed = editor.FixError(j);
      break;
  }
  if (!changed) return ReplyAction::kUnchanged;
  out.body = Dump(j);
  out.body_changed = true;
  ++stats_.replies_rewritten;
  return ReplyAction::kRewritten;
}

// --- split consumers in NAMES / LIST ----------------------------------------------------------

namespace {

// Base name -> the entries' indexes per origin, for names "<base>__<origin>".
template <typename NameOf>
std::map<std::string, std::vector<int>> GroupSplit(const Json& list, const VirtualStream& vs,
                                                   NameOf&& name_of) {
  std::map<std::string, std::vector<int>> groups;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string* name = name_of(list[i]);
    if (name == nullptr) continue;
    auto origin = ParseOriginConsumer(vs, *name);
    if (!origin) continue;
    auto& slots = groups[std::string(origin->base)];
    slots.resize(vs.regions.size(), -1);
    slots[origin->origin] = static_cast<int>(i);
  }
  // Only complete groups are split consumers; anything else stays as the server named it.
  std::erase_if(groups, [](const auto& g) {
    return std::find(g.second.begin(), g.second.end(), -1) != g.second.end();
  });
  return groups;
}

void AdjustTotal(Json& j, std::size_t removed) {
  auto total = j.find("total");
  if (removed == 0 || total == j.end() || !total->is_number_unsigned()) return;
  const std::uint64_t t = total->get<std::uint64_t>();
  *total = t > removed ? t - removed : 0;
}

}  // namespace

bool Rewriter::FoldSplitConsumerNames(Json& j, std::uint32_t stream) {
  auto names = j.find("consumers");
  if (names == j.end() || !names->is_array()) return false;
  const VirtualStream& vs = topology_->streams()[stream];
  auto groups = GroupSplit(*names, vs, [](const Json& e) {
    return e.is_string() ? &e.get_ref<const std::string&>() : nullptr;
  });
  if (groups.empty()) return false;
  std::set<int> folded;
  for (const auto& [base, slots] : groups) folded.insert(slots.begin(), slots.end());
  Json out = Json::array();
  for (std::size_t i = 0; i < names->size(); ++i) {
    if (!folded.count(static_cast<int>(i))) out.push_back((*names)[i]);
  }
  for (const auto& [base, slots] : groups) out.push_back(base);
  std::sort(out.begin(), out.end());
  AdjustTotal(j, names->size() - out.size());
  *names = std::move(out);
  return true;
}

bool Rewriter::FoldSplitConsumerList(Json& j, std::uint32_t stream) {
  auto list = j.find("consumers");
  if (list == j.end() || !list->is_array()) return false;
  const VirtualStream& vs = topology_->streams()[stream];
  auto groups = GroupSplit(*list, vs, [](const Json& e) { return StringField(e, "name"); });
  if (groups.empty()) return false;
  std::set<int> folded;
  Json merged_entries = Json::array();
  for (const auto& [base, slots] : groups) {
    folded.insert(slots.begin(), slots.end());
    std::vector<FanOutPart> parts(slots.size() + 1);  // parts[0]: the unsplit name, absent
    for (std::size_t o = 0; o < slots.size(); ++o) {
      parts[o + 1] = FanOutPart{true, "", Dump((*list)[static_cast<std::size_t>(slots[o])])};
    }
    SplitMergeResult merged = MergeSplitReplies({SplitOp::kInfo, &vs, base, "", "", parts});
    if (!merged.split_exists) continue;
    if (auto e = ParseObject(merged.body)) {
      e->erase("type");
      merged_entries.push_back(std::move(*e));
    }
  }
  Json out = Json::array();
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (!folded.count(static_cast<int>(i))) out.push_back((*list)[i]);
  }
  for (Json& e : merged_entries) out.push_back(std::move(e));
  AdjustTotal(j, list->size() - out.size());
  *list = std::move(out);
  return true;
}

}  // namespace meridian::rewrite
