#include "session/split_glue.h"

#include <cstdint>
#include <random>
#include <string>

#include "session/session.h"

namespace meridian::session {
namespace {

// 8 hex digits drawn once per process. Session ids restart at 1 in every sidecar process, and
// the origin consumers' deliver subjects depend only on the consumer, so names the sidecar
// makes up must not repeat across processes (two sidecars of a region, or a restart within an
// ephemeral's inactivity threshold) or two connections would silently share one consumer.
const std::string& ProcessToken() {
  static const std::string token = [] {
    std::random_device rd;
    const std::uint32_t v = rd();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(8, '0');
    for (int i = 0; i < 8; ++i) out[i] = kHex[(v >> (28 - 4 * i)) & 0xf];
    return out;
  }();
  return token;
}

}  // namespace

std::unique_ptr<SplitGlue> SplitGlue::Make(Session& session, rewrite::Rewriter& rewriter,
                                           const UpstreamInfo& info,
                                           std::string_view inbox_prefix) {
  rewriter.set_filter_style(rewrite::FilterStyleForServerVersion(info.version));
  if (rewriter.filter_style() != rewrite::FilterStyle::kPerOriginConsumers) return nullptr;
  rewrite::SplitOptions options;
  std::string_view id = inbox_prefix;
  if (id.starts_with("_MRDN.")) id.remove_prefix(6);
  if (id.ends_with('.')) id.remove_suffix(1);
  // Legacy ephemerals are named "mrdn<process token>s<session id>x<n>".
  options.name_seed = ProcessToken() + "s";
  options.name_seed.append(id);
  options.inbox = std::string(inbox_prefix) + "s.";
  options.sid_prefix = "_MRDN_S";
  options.request_timeout = session.options_.request_timeout;
  // One registry per region's rewriter: deliver subjects of split push consumers, for every
  // connection served from that region.
  options.registry = &rewriter.split_registry();
  return std::make_unique<SplitGlue>(session, rewriter, std::move(options));
}

SplitGlue::SplitGlue(Session& session, rewrite::Rewriter& rewriter, rewrite::SplitOptions options)
    : session_(session), rewriter_(rewriter), split_(rewriter, *this, std::move(options)) {}

void Session::RestoreSplit(const UpstreamInfo& info) {
  if (split_ && &split_->rewriter() == rewriter_) {
    split_->split().OnUpstreamRestored();
    return;
  }
  split_.reset();
  if (rewriter_ != nullptr) split_ = SplitGlue::Make(*this, *rewriter_, info, inbox_prefix_);
}

bool SplitGlue::OnClientRequest(const proto::Op& op, TimePoint now) {
  if (!split_.OnClientRequest(op.subject, op.reply, op.payload, now)) return false;
  ++session_.counters_.rewritten;
  return true;
}

bool SplitGlue::OnClientAck(const proto::Op& op, TimePoint now) {
  if (!split_.OnClientAck(op.subject, op.reply, op.payload, now)) return false;
  ++session_.counters_.rewritten;
  return true;
}

bool SplitGlue::OnUpstreamMessage(const proto::Op& op, TimePoint now) {
  if (!split_.OwnsSid(op.sid)) return false;
  split_.OnUpstreamMessage(op.sid, op.subject, op.reply, op.headers, op.payload, now);
  return true;
}

void SplitGlue::ToUpstream(std::string_view subject, std::string_view reply,
                           std::string_view headers, std::string_view body) {
  session_.PublishUp(!headers.empty(), subject, reply, headers, body);
}

void SplitGlue::SubscribeUpstream(std::string_view subject, std::string_view queue,
                                  std::string_view sid) {
  session_.writer_.Sub(subject, queue, sid);
  session_.EmitUp();
}

void SplitGlue::UnsubscribeUpstream(std::string_view sid) {
  session_.writer_.Unsub(sid);
  session_.EmitUp();
}

void SplitGlue::Warn(std::string_view line) {
  session_.host_.Log("warn", line);
}

bool SplitGlue::ToClient(std::string_view route, std::string_view subject, std::string_view reply,
                         std::string_view headers, std::string_view body) {
  std::optional<std::string_view> sid = session_.subs_.SidFor(route);
  if (!sid) return false;
  ++session_.counters_.msgs_out;
  session_.counters_.bytes_out += subject.size() + reply.size() + headers.size() + body.size();
  if (!headers.empty() && session_.options_client_.headers) {
    session_.writer_.Hmsg(subject, *sid, reply, headers, body);
  } else {
    session_.writer_.Msg(subject, *sid, reply, body);
  }
  session_.EmitDown();
  return true;
}

}  // namespace meridian::session
