// SplitConsumers: the per-connection side of split consumers (split.h explains why they
// exist; proxy/rewrite/README.md "Split consumers" has every rule).
//
// One instance per client connection, used only when the Rewriter's filter style is
// FilterStyle::kPerOriginConsumers. It takes the client's consumer create/info/delete,
// pull requests and acks for split consumers, talks to the origin consumers on its own inbox
// (`<inbox>r.…` API replies, `<inbox>d.<name>.<origin>` push deliveries, `<inbox>p.<slot>.…`
// pull requests, each on a sid starting with `sid_prefix`; push deliver subjects are literal,
// one subscription each, because 2.9 only notices interest changes on the literal subject), and
// gives the client one consumer: merged replies, one delivery sequence, one terminal status per
// pull request. Pure like the rest of this folder: bytes leave through a SplitSink, time is passed
// in. Everything is bounded (consumers, pull requests, merges, ack maps).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rewrite/rewriter.h"
#include "rewrite/split.h"
#include "rewrite/split_registry.h"

namespace meridian::rewrite {

class SplitSink {
 public:
  virtual ~SplitSink() = default;
  // Publish upstream; with an empty `headers` as PUB, else HPUB.
  virtual void ToUpstream(std::string_view subject, std::string_view reply,
                          std::string_view headers, std::string_view body) = 0;
  // `queue` empty: a plain subscription.
  virtual void SubscribeUpstream(std::string_view subject, std::string_view queue,
                                 std::string_view sid) = 0;
  virtual void UnsubscribeUpstream(std::string_view sid) = 0;
  // A message to the client's subscription matching `route` (MSG subject `subject`); false
  // when the client has no such subscription.
  virtual bool ToClient(std::string_view route, std::string_view subject, std::string_view reply,
                        std::string_view headers, std::string_view body) = 0;
  // A line for the operator's log (level warn): something the client is not told about.
  virtual void Warn(std::string_view line) { (void)line; }
};

struct SplitOptions {
  std::string inbox;                // "_MRDN.<session>.s.": the sidecar's own subjects for this
  std::string sid_prefix;           // "_MRDN_S": every sid this part subscribes starts with it
  std::string name_seed;            // unique per connection: names of legacy ephemerals
  std::size_t max_consumers = 64;   // split consumers known per connection (least used evicted)
  std::size_t max_pulls = 64;       // client pull requests in flight on split consumers
  std::size_t max_merges = 64;      // create/info/delete fan-outs in flight
  std::size_t max_ack_map = 16384;  // ack map entries per consumer at most
  std::chrono::nanoseconds request_timeout = std::chrono::seconds(10);
  // How long one origin's no_wait pull may stay unanswered before the sweep moves on.
  std::chrono::nanoseconds sweep_timeout = std::chrono::seconds(2);
  // Push consumers' deliver subjects, the same for every connection and every sidecar:
  // origin r of consumer C on read stream R delivers to "<deliver_prefix>R.C.r", and a client
  // binds to C from any connection by subscribing to "<deliver_prefix>R.C" (BindSubject), the
  // deliver subject a merged info shows to a connection that did not create C.
  std::string deliver_prefix = "_MRDN.D.";
  // Deliver subject -> split push consumer, shared by the connections of a region
  // (Rewriter::split_registry; nullptr: a SUB binds only through bind subjects). Filled from
  // this part's creates and, through CONSUMER.LIST on this connection's upstream, when it is
  // empty at the first subscription or a SUB misses (rate-limited by the registry).
  SplitRegistry* registry = nullptr;
  // SUBs that missed the registry, kept until the refresh they wait for completed.
  std::size_t max_pending_binds = 16;
  std::chrono::nanoseconds pending_bind_for = std::chrono::seconds(60);
};

struct SplitStats {
  std::uint64_t creates = 0;
  std::uint64_t lookups = 0;  // info/delete fan-outs
  std::uint64_t pulls = 0;
  std::uint64_t pulls_refused = 0;  // no free pull slot: 409 Exceeded MaxWaiting
  std::uint64_t deliveries = 0;
  std::uint64_t deliveries_dropped = 0;  // over the client's batch, or nobody to take them
  std::uint64_t acks = 0;
  std::uint64_t acks_unknown = 0;   // client sequence no longer in the ack map
  std::uint64_t statuses = 0;       // heartbeats, flow control, terminal statuses sent
  std::uint64_t abandoned = 0;      // ephemeral split consumers deleted after losing interest
  std::uint64_t resumed = 0;        // creates resumed per origin (ResumePoint)
  std::uint64_t deliver_binds = 0;  // binds by the client's own deliver subject (registry)
  std::uint64_t list_requests = 0;  // CONSUMER.LIST pages asked for registry refreshes
  std::uint64_t list_refused = 0;   // of those, refused (permissions violation or error reply)
};

class SplitConsumers {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  SplitConsumers(Rewriter& rewriter, SplitSink& sink, SplitOptions options);
  ~SplitConsumers();
  SplitConsumers(const SplitConsumers&) = delete;
  SplitConsumers& operator=(const SplitConsumers&) = delete;

  // A client $JS API request. True when this part handled it (forward nothing): consumer
  // creates whose filter needs a split, consumer info/delete on a virtual stream, and pull
  // requests for split consumers known to this connection.
  bool OnClientRequest(std::string_view subject, std::string_view reply, std::string_view body,
                       TimePoint now);
  // A client ack ($JS.ACK.<virtual>.<split consumer>.…). True when handled. `+NXT` on a pull
  // consumer acks and starts a pull request for the client's reply (renumbered as any pull).
  bool OnClientAck(std::string_view subject, std::string_view reply, std::string_view payload,
                   TimePoint now);
  // Messages on this part's sids (OwnsSid) go here.
  bool OwnsSid(std::string_view sid) const { return sid.starts_with(options_.sid_prefix); }
  void OnUpstreamMessage(std::string_view sid, std::string_view subject, std::string_view reply,
                         std::string_view headers, std::string_view payload, TimePoint now);
  // Time-outs: merges, pull sweeps, pull requests past their expiry; subscriptions waiting for a
  // registry refresh (re-checked, and the refresh started when the registry allows one).
  // About once a second or more often (the sidecar: every 250 ms).
  void Tick(TimePoint now);
  // The upstream connection was replaced by one to another server of the same region: the
  // subscriptions are sent again, and pull requests in flight (their origin requests died
  // with the old connection) end with 408, so the client pulls again.
  void OnUpstreamRestored();
  // The client subscribed to / unsubscribed from `subject` (queue group `queue`). A
  // subscription on a split push consumer's bind subject ("<deliver_prefix><read>.<C>", shown
  // as its deliver subject by CONSUMER.INFO) binds this connection to C: its origin deliver
  // subjects are subscribed (with C's deliver_group as queue) and deliveries go to `subject`.
  // When C is not known here yet, its info is looked up first. So does a SUB on a client's own
  // deliver subject that the registry knows (a client re-subscribing after a reconnect); one
  // the registry does not know waits for its next refresh (bounded, rate-limited). The end of
  // the subscription a push consumer delivers to unsubscribes the origin deliver subjects (C
  // is no longer bound).
  void OnClientSubscribe(std::string_view subject, std::string_view queue, TimePoint now);
  void OnClientUnsubscribe(std::string_view subject);
  // An -ERR from the upstream (text without quotes). True when it refuses a request this part
  // made on its own, a registry refresh's CONSUMER.LIST (the client's user may not publish
  // there): the refresh ends (counted as refused: the registry's back-off applies), this
  // connection runs no more of them, and the client never sees the -ERR (it did not send that
  // request). The refusal is counted and reported to the sink's Warn (rate-limited).
  bool OnUpstreamError(std::string_view text, TimePoint now);
  // "<deliver_prefix><read stream>.<name>": what a client subscribes to bind to a split push
  // consumer from a connection that did not create it.
  std::string BindSubject(std::uint32_t stream, std::string_view name) const;

  const SplitStats& stats() const { return stats_; }
  std::size_t known_consumers() const;
  std::size_t pulls_in_flight() const;

 private:
  struct Consumer;
  struct Merge;
  struct Pull;
  struct ResumePoint;
  static constexpr std::size_t kRecentResumePoints = 8;

  bool StartCreate(std::string_view prefix, std::uint32_t stream, bool durable_form,
                   std::string_view subject_name, std::string_view subject_filter,
                   std::string_view reply, std::string_view body, TimePoint now);
  bool StartLookup(SplitOp op, std::string_view prefix, std::uint32_t stream, std::string_view name,
                   std::string_view reply, std::string_view body, TimePoint now);
  bool StartPull(std::string_view prefix, std::uint32_t stream, std::string_view name,
                 std::string_view reply, std::string_view body, TimePoint now);
  void FinishMerge(Merge& m);
  void OnMergeReply(std::string_view subject, std::string_view headers, std::string_view payload,
                    TimePoint now);

  Consumer* FindConsumer(std::uint32_t stream, std::string_view name);
  Consumer& AddConsumer(std::uint32_t stream, std::string_view name, const SplitMergeResult& how,
                        std::string_view client_deliver, TimePoint now);
  void Forget(std::uint32_t stream, std::string_view name);
  // Keeps where a consumer that is being dropped had got to (the last kRecentResumePoints).
  void Remember(const Consumer& c);
  std::vector<std::uint64_t> ResumeStarts(std::uint32_t stream, std::string_view filter,
                                          std::uint64_t start) const;
  void Abandon(Consumer& c);
  // Literal subscriptions for a push consumer's origin deliver subjects, sids "<base>_<i>".
  void SubscribePush(std::string_view sid_base, std::uint32_t stream, std::string_view name,
                     std::string_view queue);
  void UnsubscribePush(std::string_view sid_base, std::uint32_t stream);
  // Deliveries of `c` go to `deliver`; its origin deliver subjects are subscribed if not yet.
  void BindPush(Consumer& c, std::string_view deliver);

  // A delivery from an origin consumer: renumbered and sent to `route`. False when the client
  // had no subscription for it.
  bool Deliver(Consumer& c, std::uint32_t origin, const AckTokens& ack,
               std::string_view origin_reply, std::string_view route, std::string_view subject,
               std::string_view headers, std::string_view payload);
  void OnPushMessage(std::string_view subject, std::string_view reply, std::string_view headers,
                     std::string_view payload, TimePoint now);
  void OnPullMessage(std::size_t slot, std::string_view subject, std::string_view reply,
                     std::string_view headers, std::string_view payload, TimePoint now);
  // Heartbeat headers with Nats-Last-Consumer/-Stream as the client has seen them.
  void RewriteHeartbeat(const Consumer& c, std::string_view headers);

  void SendPull(Pull& p, std::uint32_t origin, std::uint64_t batch, bool no_wait, TimePoint now);
  void SweepNext(Pull& p, TimePoint now);
  void OriginDone(Pull& p, std::uint32_t origin, TimePoint now);
  void FinishPull(Pull& p, bool status);

  void EnsureSubscribed(bool& flag, std::string_view subject, std::string_view sid);

  // Registry (options_.registry): binds of client deliver subjects, refreshes on this upstream.
  struct PendingBind;
  struct Refresh;
  // A SUB on `subject`: binds every consumer the registry maps it to; false when none.
  bool BindRegistered(std::string_view subject, TimePoint now);
  // Could `subject` be a client's deliver subject of a split consumer (literal, not ours)?
  bool MayBeDeliverSubject(std::string_view subject) const;
  void StartRefresh(TimePoint now);
  void SendListPage();
  void OnListReply(std::string_view payload, TimePoint now);
  void EndRefresh(bool completed, TimePoint now);
  // Counts a refused CONSUMER.LIST of `read_stream` and warns (rate-limited by the registry).
  void ReportListRefused(std::string_view read_stream, std::string_view reason, TimePoint now);
  void RecheckPendingBinds(TimePoint now);
  Rewriter& rewriter_;
  SplitSink& sink_;
  SplitOptions options_;
  SplitStats stats_;

  std::vector<std::unique_ptr<Consumer>> consumers_;
  std::vector<ResumePoint> recent_;
  std::unordered_map<std::uint32_t, std::unique_ptr<Merge>> merges_;
  std::uint32_t next_merge_ = 1;
  std::vector<std::unique_ptr<Pull>> pulls_;  // slots, made on first use
  std::uint64_t ephemeral_counter_ = 0;
  std::uint64_t rotation_ = 0;
  std::uint64_t use_clock_ = 0;
  bool replies_subscribed_ = false;
  std::uint64_t push_counter_ = 0;
  std::vector<PendingBind> pending_binds_;
  std::unique_ptr<Refresh> refresh_;  // the registry refresh this connection runs, if any
  bool refresh_refused_ = false;      // CONSUMER.LIST refused to this connection's user

  // Reused buffers.
  std::string subject_;
  std::string reply_;
  std::string body_;
  std::string headers_;
  DeliveryResult delivery_;
  ReplyResult rewritten_;
};

}  // namespace meridian::rewrite
