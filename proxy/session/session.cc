#include "session/session.h"

#include <charconv>
#include <utility>

#include "session/split_glue.h"

namespace meridian::session {
namespace {

using proto::Op;
using proto::OpKind;

proto::Limits ClientLimits() {
  proto::Limits l;
  l.headers_allowed = false;  // until a CONNECT says headers:true, as nats-server
  return l;
}

void AppendNumber(std::string& out, std::uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

}  // namespace

Session::Session(SessionHost& host, SessionOptions options, SessionCounters& counters,
                 std::uint64_t session_id)
    : host_(host),
      options_(std::move(options)),
      counters_(counters),
      client_parser_(proto::Direction::kClientToServer, ClientLimits()),
      upstream_parser_(
          proto::Direction::kServerToClient,
          proto::Limits{options_.upstream_max_control_line, options_.upstream_max_payload, true}),
      fanout_(options_.max_fanouts) {
  inbox_prefix_ = "_MRDN.";
  AppendNumber(inbox_prefix_, session_id);
  inbox_prefix_ += '.';
  internal_sid_ = "_MRDN_0";
}

Session::~Session() = default;

// --- byte-for-byte forwarding -----------------------------------------------------------------

void Session::Forward(const Op& op, Run& run, bool upstream) {
  if (op.buffered) {
    // Its bytes live in the parser's buffer and die at the next op: send them now.
    FlushRun(run, upstream);
    std::string_view raw = op.raw;
    if (upstream) {
      host_.SendToUpstream({&raw, 1});
    } else {
      host_.SendToClient({&raw, 1});
    }
    return;
  }
  if (run.end == op.raw.data()) {
    run.end += op.raw.size();
    return;
  }
  FlushRun(run, upstream);
  run.begin = op.raw.data();
  run.end = run.begin + op.raw.size();
}

void Session::FlushRun(Run& run, bool upstream) {
  if (run.begin == nullptr) return;
  std::string_view bytes(run.begin, static_cast<std::size_t>(run.end - run.begin));
  run = Run{};
  if (upstream) {
    host_.SendToUpstream({&bytes, 1});
  } else {
    host_.SendToClient({&bytes, 1});
  }
}

void Session::Emit(bool upstream) {
  if (writer_.empty()) return;
  FlushRun(upstream ? up_run_ : down_run_, upstream);
  parts_.clear();
  for (const iovec& v : writer_.Iovecs()) {
    parts_.emplace_back(static_cast<const char*>(v.iov_base), v.iov_len);
  }
  if (upstream) {
    host_.SendToUpstream(parts_);
  } else {
    host_.SendToClient(parts_);
  }
  writer_.Clear();
}

void Session::EmitUp() {
  Emit(true);
}
void Session::EmitDown() {
  Emit(false);
}

void Session::Fail(std::string_view why) {
  if (closed_) return;
  closed_ = true;
  FlushRun(up_run_, true);
  FlushRun(down_run_, false);
  host_.CloseSession(why);
}

// --- client -> upstream -----------------------------------------------------------------------

void Session::OnClientBytes(std::string_view data, TimePoint now) {
  if (closed_) return;
  if (upstream_state_ != UpstreamState::kServing) {
    KeepClientBytes(data);
    return;
  }
  client_parser_.Feed(data);
  Op op;
  while (!closed_) {
    proto::Parser::Result r = client_parser_.Next(op);
    if (r == proto::Parser::Result::kOp) {
      HandleClientOp(op, now);
      continue;
    }
    if (r == proto::Parser::Result::kError) {
      const proto::ProtocolError& e = client_parser_.error();
      ++counters_.client_protocol_errors;
      FlushRun(up_run_, true);
      if (!e.err_text.empty()) {
        writer_.Err(e.err_text);
        EmitDown();
      }
      Fail(e.reason);
      return;
    }
    break;
  }
  FlushRun(up_run_, true);
}

void Session::Ok() {
  if (!options_client_.verbose) return;
  writer_.Ok();
  EmitDown();
}

void Session::HandleClientOp(const Op& op, TimePoint now) {
  switch (op.kind) {
    case OpKind::kPub:
    case OpKind::kHpub:
      HandleClientPublish(op, now);
      Ok();
      break;
    case OpKind::kConnect:
      HandleConnect(op);
      Ok();
      break;
    case OpKind::kSub:
      HandleClientSub(op);
      // A SUB on a split push consumer's deliver subject binds it to this connection.
      if (split_) split_->split().OnClientSubscribe(op.subject, op.queue, now);
      Ok();
      break;
    case OpKind::kUnsub:
      if (op.has_max_msgs) {
        subs_.SetMax(op.sid, op.max_msgs);
      } else {
        std::optional<std::string> subject;
        if (split_) subject = subs_.SubjectOf(op.sid);
        subs_.Remove(op.sid);
        // The last subscription a split push consumer delivers to: it is no longer bound here.
        if (subject && !subs_.SidFor(*subject)) split_->split().OnClientUnsubscribe(*subject);
      }
      ForwardUp(op);
      Ok();
      break;
    case OpKind::kPing:
      ping_owners_.push_back(false);
      ForwardUp(op);
      break;
    case OpKind::kPong:
    case OpKind::kErr:  // the server logs it and closes the client, as it would directly
      ForwardUp(op);
      break;
    case OpKind::kInfo:  // nats-server ignores an INFO from a client
    case OpKind::kOk:
    case OpKind::kMsg:
    case OpKind::kHmsg:
    case OpKind::kLeafSub:  // leaf-node ops: only Direction::kLeaf parses them
    case OpKind::kLeafUnsub:
    case OpKind::kLeafMsg:
    case OpKind::kLeafHmsg:
      break;
  }
}

void Session::HandleConnect(const Op& op) {
  std::optional<ConnectRewrite> rewrite = RewriteConnect(op.text, options_.credentials);
  if (!rewrite) {
    // Not JSON: the server answers it as it does for any client.
    ForwardUp(op);
    return;
  }
  options_client_ = rewrite->options;
  connect_json_ = rewrite->upstream_json;
  connect_signed_ = rewrite->signed_nonce;
  proto::Limits limits = client_parser_.limits();
  limits.headers_allowed = options_client_.headers;
  client_parser_.set_limits(limits);
  writer_.Connect(rewrite->upstream_json);
  EmitUp();
}

void Session::HandleClientSub(const Op& op) {
  subs_.Add(op.sid, op.subject, op.queue);
  if (op.sid == internal_sid_) {
    // The client chose the sidecar's own sid: move the sidecar's subscription elsewhere so
    // the two can never be confused.
    std::string old = internal_sid_;
    do {
      internal_sid_ = "_MRDN_";
      AppendNumber(internal_sid_, ++internal_sid_generation_);
    } while (subs_.Contains(internal_sid_));
    if (inbox_subscribed_) {
      writer_.Unsub(old);
      inbox_scratch_ = inbox_prefix_;
      inbox_scratch_ += '*';
      writer_.Sub(inbox_scratch_, "", internal_sid_);
      EmitUp();
    }
  }
  ForwardUp(op);
}

void Session::PublishUp(bool with_headers, std::string_view subject, std::string_view reply,
                        std::string_view headers, std::string_view payload) {
  if (with_headers) {
    writer_.Hpub(subject, reply, headers, payload);
  } else {
    writer_.Pub(subject, reply, payload);
  }
  EmitUp();
}

void Session::Expect(std::string_view reply, const rewrite::ReplyPlan& plan, TimePoint now) {
  if (reply.empty() || plan.kind == rewrite::ReplyKind::kNone) return;
  if (!pending_) {
    pending_ = std::make_unique<rewrite::PendingTable>(rewrite::PendingTable::Options{
        options_.pending_requests,
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.request_timeout)});
  }
  if (pending_->Add(reply, plan, now) == rewrite::PendingTable::AddResult::kFull) {
    ++counters_.pending_full;
  }
}

void Session::HandleClientPublish(const Op& op, TimePoint now) {
  ++counters_.msgs_in;
  counters_.bytes_in += op.total_size();
  const bool hpub = op.kind == OpKind::kHpub;
  rewrite::Outbound kind = rewriter_ != nullptr ? rewriter_->ClassifyOutbound(op.subject)
                                                : rewrite::Outbound::kPassThrough;
  switch (kind) {
    case rewrite::Outbound::kPassThrough:
      ++counters_.forwarded;
      ForwardUp(op);
      return;
    case rewrite::Outbound::kVirtualPublish: {
      if (rewriter_->RewritePublish(op.subject, op.headers, publish_) ==
          rewrite::PublishAction::kRefuse) {
        ++counters_.refusals;
        AnswerClient(op.reply, {}, publish_.refusal);
        return;
      }
      Expect(op.reply, publish_.expect, now);
      ++counters_.rewritten;
      PublishUp(hpub, publish_.subject, op.reply,
                publish_.headers_changed ? std::string_view(publish_.headers) : op.headers,
                op.payload);
      return;
    }
    case rewrite::Outbound::kApiRequest:
      HandleApiRequest(op, now);
      return;
    case rewrite::Outbound::kAck:
      if (split_ && split_->OnClientAck(op, now)) return;
      if (rewriter_->RewriteClientAck(op.subject, ack_)) {
        ++counters_.rewritten;
        PublishUp(hpub, ack_, op.reply, op.headers, op.payload);
      } else {
        ++counters_.forwarded;
        ForwardUp(op);
      }
      return;
  }
}

void Session::HandleApiRequest(const Op& op, TimePoint now) {
  if (split_ && split_->OnClientRequest(op, now)) return;
  switch (rewriter_->RewriteApiRequest(op.subject, op.payload, api_)) {
    case rewrite::ApiAction::kPassThrough:
      ++counters_.forwarded;
      ForwardUp(op);
      return;
    case rewrite::ApiAction::kForward:
      Expect(op.reply, api_.expect, now);
      ++counters_.rewritten;
      PublishUp(op.kind == OpKind::kHpub, api_.subject, op.reply, op.headers,
                api_.body_changed ? std::string_view(api_.body) : op.payload);
      return;
    case rewrite::ApiAction::kAnswer:
      if (api_.answer.find("\"error\"") != std::string::npos) ++counters_.refusals;
      AnswerClient(op.reply, {}, api_.answer);
      return;
    case rewrite::ApiAction::kFanOut:
      StartFanOut(op.reply, now);
      return;
  }
}

void Session::StartFanOut(std::string_view client_reply, TimePoint now) {
  ++counters_.fanouts;
  if (client_reply.empty()) return;  // nobody waits for the answer
  const TimePoint deadline =
      now + std::chrono::duration_cast<TimePoint::duration>(options_.request_timeout);
  std::uint32_t group = fanout_.Open(client_reply, api_.merge, api_.parts.size(), deadline);
  if (group == 0) {
    // Too many merged gets in flight on this connection: the client times out, as it would
    // with a server that does not answer.
    ++counters_.fanouts_unanswered;
    return;
  }
  if (!inbox_subscribed_) {
    inbox_scratch_ = inbox_prefix_;
    inbox_scratch_ += '*';
    writer_.Sub(inbox_scratch_, "", internal_sid_);
    EmitUp();
    inbox_subscribed_ = true;
  }
  for (std::size_t i = 0; i < api_.parts.size(); ++i) {
    inbox_scratch_ = inbox_prefix_;
    AppendNumber(inbox_scratch_, ++next_inbox_);
    rewrite::ReplyPlan plan = api_.merge;
    plan.group = group;
    plan.part = static_cast<std::uint16_t>(i);
    Expect(inbox_scratch_, plan, now);
    writer_.Pub(api_.parts[i].subject, inbox_scratch_, api_.parts[i].body);
    EmitUp();
  }
}

void Session::AnswerClient(std::string_view reply, std::string_view headers,
                           std::string_view body) {
  ++counters_.local_answers;
  if (reply.empty()) return;
  std::optional<std::string_view> sid = subs_.SidFor(reply);
  if (!sid) {
    ++counters_.answers_undelivered;
    return;
  }
  ++counters_.msgs_out;
  if (!headers.empty() && options_client_.headers) {
    counters_.bytes_out += headers.size() + body.size();
    writer_.Hmsg(reply, *sid, "", headers, body);
  } else {
    counters_.bytes_out += body.size();
    writer_.Msg(reply, *sid, "", body);
  }
  EmitDown();
}

// --- upstream -> client -----------------------------------------------------------------------

void Session::OnUpstreamBytes(std::string_view data, TimePoint now) {
  if (closed_) return;
  upstream_parser_.Feed(data);
  Op op;
  while (!closed_) {
    proto::Parser::Result r = upstream_parser_.Next(op);
    if (r == proto::Parser::Result::kOp) {
      HandleUpstreamOp(op, now);
      continue;
    }
    if (r == proto::Parser::Result::kError) {
      ++counters_.upstream_protocol_errors;
      Fail(upstream_parser_.error().reason);
      return;
    }
    break;
  }
  FlushRun(down_run_, false);
}

void Session::HandleUpstreamOp(const Op& op, TimePoint now) {
  switch (op.kind) {
    case OpKind::kMsg:
    case OpKind::kHmsg:
      if (split_ && split_->OnUpstreamMessage(op, now)) break;
      HandleUpstreamMessage(op);
      break;
    case OpKind::kInfo:
      if (upstream_state_ == UpstreamState::kRestoring && !restore_info_seen_) {
        HandleRestoreInfo(op, now);
      } else if (handshake_done_) {
        HandleAsyncInfo(op);
      } else {
        HandleFirstInfo(op);
      }
      break;
    case OpKind::kPong:
      HandleUpstreamPong(op, now);
      break;
    case OpKind::kErr:
      if (upstream_state_ == UpstreamState::kRestoring) {
        HandleRestoreError(op);
        break;
      }
      // A refusal of the split part's own request (registry refresh): not the client's.
      if (split_ && split_->split().OnUpstreamError(op.text, now)) break;
      ForwardDown(op);
      break;
    case OpKind::kPing:
      ForwardDown(op);
      break;
    case OpKind::kOk:  // upstream CONNECT says verbose:false; the sidecar answers +OK itself
    default:
      break;
  }
}

void Session::HandleFirstInfo(const Op& op) {
  std::optional<UpstreamInfo> info = ReadUpstreamInfo(op.text);
  std::optional<std::string> adjusted = AdjustInfo(op.text, options_.info);
  if (!info || !adjusted) {
    ++counters_.upstream_protocol_errors;
    Fail("the upstream server's INFO is not a JSON object");
    return;
  }
  std::string refusal;
  rewriter_ = host_.OnUpstreamInfo(*info, refusal);
  if (!refusal.empty()) {
    writer_.Err(refusal);
    EmitDown();
    Fail(refusal);
    return;
  }
  if (rewriter_ != nullptr) split_ = SplitGlue::Make(*this, *rewriter_, *info, inbox_prefix_);
  proto::Limits limits = client_parser_.limits();
  limits.max_payload = info->max_payload;
  client_parser_.set_limits(limits);
  writer_.Info(*adjusted);
  EmitDown();
  handshake_done_ = true;
}

void Session::HandleAsyncInfo(const Op& op) {
  std::optional<std::string> adjusted = AdjustInfo(op.text, options_.info);
  if (!adjusted) return;  // a client could not use it either; the server's next one will do
  if (std::optional<UpstreamInfo> info = ReadUpstreamInfo(op.text)) {
    proto::Limits limits = client_parser_.limits();
    limits.max_payload = info->max_payload;
    client_parser_.set_limits(limits);
  }
  writer_.Info(*adjusted);
  EmitDown();
}

void Session::HandleUpstreamMessage(const Op& op) {
  if (op.sid == internal_sid_ && inbox_subscribed_) {
    HandleInternalReply(op);
    return;
  }
  ++counters_.msgs_out;
  counters_.bytes_out += op.total_size();
  if (subs_.counting()) subs_.CountDelivery(op.sid);  // what a restore must subtract
  if (pending_ && !pending_->empty()) {
    if (std::optional<rewrite::ReplyPlan> plan = pending_->Take(op.subject)) {
      if (plan->group == 0) {
        switch (rewriter_->RewriteReply(*plan, op.headers, op.payload, reply_)) {
          case rewrite::ReplyAction::kRewritten:
            ++counters_.rewritten;
            SendReply(op, reply_);
            return;
          case rewrite::ReplyAction::kUnparseable:
            ++counters_.unparseable_replies;
            break;
          case rewrite::ReplyAction::kUnchanged:
            break;
        }
        ++counters_.forwarded;
        ForwardDown(op);
        return;
      }
    }
  }
  if (rewriter_ != nullptr && !op.reply.empty() &&
      rewriter_->RewriteDelivery(op.subject, op.reply, op.headers, delivery_)) {
    ++counters_.rewritten;
    std::string_view headers =
        delivery_.headers_changed ? std::string_view(delivery_.headers) : op.headers;
    if (op.kind == OpKind::kHmsg) {
      writer_.Hmsg(delivery_.subject, op.sid, delivery_.reply, headers, op.payload);
    } else {
      writer_.Msg(delivery_.subject, op.sid, delivery_.reply, op.payload);
    }
    EmitDown();
    return;
  }
  ++counters_.forwarded;
  ForwardDown(op);
}

void Session::SendReply(const Op& op, const rewrite::ReplyResult& result) {
  std::string_view body = result.body_changed ? std::string_view(result.body) : op.payload;
  std::string_view headers = result.headers_changed ? std::string_view(result.headers) : op.headers;
  if (op.kind == OpKind::kHmsg || (result.headers_changed && options_client_.headers)) {
    writer_.Hmsg(op.subject, op.sid, op.reply, headers, body);
  } else {
    writer_.Msg(op.subject, op.sid, op.reply, body);
  }
  EmitDown();
}

void Session::HandleInternalReply(const Op& op) {
  if (!pending_ || pending_->empty()) return;  // late: its group already answered or expired
  std::optional<rewrite::ReplyPlan> plan = pending_->Take(op.subject);
  if (!plan || plan->group == 0) return;
  if (auto done = fanout_.Deliver(plan->group, plan->part, op.headers, op.payload)) {
    FinishFanOut(*done);
  }
}

void Session::FinishFanOut(rewrite::FanOutTable::Completed& done) {
  std::optional<std::size_t> pick = rewrite::ChooseNewest(done.merge.kind, done.parts);
  if (!pick) {
    // No region answered: say nothing, so the client times out as with a silent server.
    ++counters_.fanouts_unanswered;
    return;
  }
  const rewrite::FanOutPart& part = done.parts[*pick];
  std::string_view headers = part.headers;
  std::string_view body = part.body;
  switch (rewriter_->RewriteReply(done.merge, part.headers, part.body, reply_)) {
    case rewrite::ReplyAction::kRewritten:
      if (reply_.headers_changed) headers = reply_.headers;
      if (reply_.body_changed) body = reply_.body;
      break;
    case rewrite::ReplyAction::kUnparseable:
      ++counters_.unparseable_replies;
      break;
    case rewrite::ReplyAction::kUnchanged:
      break;
  }
  AnswerClient(done.client_reply, headers, body);
}

void Session::Tick(TimePoint now) {
  if (closed_) return;
  if (pending_ && !pending_->empty()) {
    counters_.requests_expired +=
        pending_->Expire(now, [](std::string_view, const rewrite::ReplyPlan&) {});
  }
  if (pending_) pending_->ShrinkIfEmpty();
  if (fanout_.open_groups() > 0) {
    for (rewrite::FanOutTable::Completed& done : fanout_.Expire(now)) FinishFanOut(done);
  }
  if (split_) split_->Tick(now);
}

}  // namespace meridian::session
