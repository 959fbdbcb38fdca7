// SplitGlue: connects a Session to rewrite::SplitConsumers (split consumers for stock servers
// before 2.10, see proxy/rewrite/split_consumers.h). It is the SplitSink: what the split part
// sends upstream goes out through the session's writer, and what it delivers goes to the
// client's subscription matching the route, on that subscription's sid. Made at the first
// upstream INFO only when the server's version calls for split consumers.
#pragma once

#include <memory>
#include <string_view>

#include "proto/parser.h"
#include "rewrite/split_consumers.h"
#include "session/handshake.h"

namespace meridian::session {

class Session;

class SplitGlue : public rewrite::SplitSink {
 public:
  using TimePoint = rewrite::SplitConsumers::TimePoint;

  // Chooses the rewriter's filter style from the server version; returns the glue when that
  // style is kPerOriginConsumers, else nullptr. `inbox_prefix` is the session's own
  // ("_MRDN.<id>."); split consumers use "<inbox_prefix>s.…".
  static std::unique_ptr<SplitGlue> Make(Session& session, rewrite::Rewriter& rewriter,
                                         const UpstreamInfo& info, std::string_view inbox_prefix);

  SplitGlue(Session& session, rewrite::Rewriter& rewriter, rewrite::SplitOptions options);

  // True when the op was handled here (the session does nothing more with it).
  bool OnClientRequest(const proto::Op& op, TimePoint now);
  bool OnClientAck(const proto::Op& op, TimePoint now);
  bool OnUpstreamMessage(const proto::Op& op, TimePoint now);
  void Tick(TimePoint now) { split_.Tick(now); }
  const rewrite::Rewriter& rewriter() const { return rewriter_; }
  rewrite::SplitConsumers& split() { return split_; }

  void ToUpstream(std::string_view subject, std::string_view reply, std::string_view headers,
                  std::string_view body) override;
  void SubscribeUpstream(std::string_view subject, std::string_view queue,
                         std::string_view sid) override;
  void UnsubscribeUpstream(std::string_view sid) override;
  bool ToClient(std::string_view route, std::string_view subject, std::string_view reply,
                std::string_view headers, std::string_view body) override;
  void Warn(std::string_view line) override;

 private:
  Session& session_;
  rewrite::Rewriter& rewriter_;
  rewrite::SplitConsumers split_;
};

}  // namespace meridian::session
