// The rewrite engine: makes the virtual streams of a Topology look like single global
// streams to a client of the sidecar in one region.
//
// Pure: no sockets, no clocks, no threads. The session layer parses NATS protocol, asks the
// Rewriter what to do with each message, and does it. One Rewriter per event loop (it keeps
// plain counters; it is not thread-safe). Every *Result struct is caller-owned and meant to
// be reused across calls: fields are overwritten, capacity is kept, so steady-state calls on
// the message paths allocate nothing.
//
// Directions and guarantees, row by row, are in proxy/rewrite/README.md.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rewrite/api_subject.h"
#include "rewrite/reply_plan.h"
#include "rewrite/split_registry.h"
#include "rewrite/topology.h"

namespace meridian::rewrite {

using Json = nlohmann::ordered_json;

// The err_code of every refusal the sidecar itself makes (the JetStream "bad request" code,
// 400). Clients turn any err_code they do not special-case into an API error carrying the
// description, so the description says why and what to use instead.
inline constexpr int kRefusalCode = 400;
inline constexpr int kRefusalErrCode = 10003;

// What a client-sent subject is, decided from the subject alone. No allocation.
enum class Outbound : std::uint8_t {
  kPassThrough,     // nothing to do: forward as is
  kVirtualPublish,  // under a virtual stream's subject root: RewritePublish
  kApiRequest,      // $JS.API.… or $JS.<domain>.API.…: RewriteApiRequest
  kAck,             // $JS.ACK.… (v1 or v2): RewriteClientAck
};

enum class PublishAction : std::uint8_t {
  kForward,  // publish `subject` (and `headers` when headers_changed) upstream
  kRefuse,   // do not publish; send `refusal` to the client's reply subject, if it has one
};

struct PublishResult {
  std::string subject;           // the stored subject, e.g. "foo.west.test"
  bool headers_changed = false;  // forward `headers` instead of the client's header block
  std::string headers;           // complete header block ("NATS/1.0\r\n…\r\n")
  ReplyPlan expect;              // record under the reply subject when the client gave one
  std::string refusal;           // kRefuse: PubAck-shaped JSON error
};

enum class ApiAction : std::uint8_t {
  kPassThrough,  // not about a virtual stream: forward unchanged, expect nothing
  kForward,      // forward `subject` with `body` (when body_changed); record `expect`
  kAnswer,       // do not forward; send `answer` (JSON) to the client's reply subject
  kFanOut,       // send every `parts` request, merge their replies (see fanout.h)
};

struct UpstreamRequest {
  std::string subject;
  std::string body;
};

struct ApiResult {
  std::string subject;
  bool body_changed = false;
  std::string body;
  ReplyPlan expect;
  std::string answer;
  std::vector<UpstreamRequest> parts;  // kFanOut: one per region of the stream
  ReplyPlan merge;                     // kFanOut: kMsgGet or kDirectGet, and the stream
};

struct DeliveryResult {
  std::string subject;  // virtual subject ("foo.test"); equals the input when unchanged
  std::string reply;    // "$JS.ACK.foo.…"
  bool headers_changed = false;
  std::string headers;
};

enum class ReplyAction : std::uint8_t {
  kUnchanged,    // forward the reply as it came
  kRewritten,    // forward `body` (when body_changed) and `headers` (when headers_changed)
  kUnparseable,  // not what the plan expected: forward unchanged (counted)
};

struct ReplyResult {
  bool body_changed = false;
  std::string body;
  bool headers_changed = false;
  std::string headers;
};

struct RewriteStats {
  std::uint64_t publishes_rewritten = 0;
  std::uint64_t publishes_refused = 0;
  std::uint64_t api_forwarded = 0;
  std::uint64_t api_answered = 0;  // refusals and local answers
  std::uint64_t api_fanouts = 0;
  std::uint64_t acks_rewritten = 0;
  std::uint64_t deliveries_rewritten = 0;
  std::uint64_t replies_rewritten = 0;
  std::uint64_t replies_unparseable = 0;
};

// How a consumer filter inside a virtual root reaches a read stream.
enum class FilterStyle : std::uint8_t {
  // One filter with the region wildcard: foo.test -> foo.*.test. Works on meridian-node;
  // stock 2.9.10 refuses a literal tail after the wildcard (10093, see README).
  kRegionWildcard,
  // For servers >= 2.10: one filter per region in `filter_subjects`
  // (foo.test -> [foo.east.test, foo.central.test, foo.west.test]) and the create subject
  // without its filter tail (10137). Filters ending in the region wildcard plus ">" stay
  // single. Never for 2.9: it ignores filter_subjects and would create an unfiltered consumer.
  kPerRegionList,
  // For stock servers before 2.10: a filter with a literal tail after the root (foo.test,
  // foo.*) makes a split consumer, one server consumer per origin filtered on
  // foo.<origin>.test (split.h, split_consumers.h; the session drives SplitConsumers).
  // Filters the server accepts as one (foo.> -> foo.*.>) keep the kRegionWildcard path.
  kPerOriginConsumers,
};

// The style for an upstream server version ("2.9.10", "2.10.4-beta"): kPerRegionList from
// 2.10 on, kPerOriginConsumers before, kRegionWildcard when the version does not parse.
FilterStyle FilterStyleForServerVersion(std::string_view version);

class Rewriter {
 public:
  // `region` is where this sidecar writes and reads. Throws TopologyError when a virtual
  // stream does not list it.
  Rewriter(std::shared_ptr<const Topology> topology, std::string region);

  const Topology& topology() const { return *topology_; }
  const std::string& region() const { return region_; }
  const RewriteStats& stats() const { return stats_; }
  // Chosen by the session from the upstream server's INFO version; kRegionWildcard by default.
  void set_filter_style(FilterStyle style) { filter_style_ = style; }
  FilterStyle filter_style() const { return filter_style_; }
  // Split push consumers by the client's own deliver subject, for every connection served
  // from this region (split_registry.h). Loop thread only, like the rest.
  SplitRegistry& split_registry() { return split_registry_; }
  const SplitRegistry& split_registry() const { return split_registry_; }

  // --- client -> upstream -------------------------------------------------------------

  // Cheap triage of every PUB/HPUB subject. No allocation.
  Outbound ClassifyOutbound(std::string_view subject) const;

  // A publish to a virtual subject. The subject gets the region token; headers are
  // checked: Nats-Expected-Stream must name the virtual stream and is removed; the
  // compare-and-set headers and Nats-Rollup are refused; Nats-Msg-Id is prefixed with
  // "<region>:" so ids never collide between origins. `headers` is the client's header
  // block or empty. Requires ClassifyOutbound(subject) == kVirtualPublish.
  PublishAction RewritePublish(std::string_view subject, std::string_view headers,
                               PublishResult& out);

  // A $JS API request. Requests naming a virtual stream are redirected to this region's
  // read stream (bodies rewritten where they name the stream or a filter), refused
  // (create/update/delete/purge/msg delete/snapshot/restore/peer ops), answered locally
  // (STREAM.NAMES by a subject inside a virtual root), or fanned out (last-by-subject gets).
  // STREAM.NAMES/LIST are forwarded with a plan that hides internal streams.
  ApiAction RewriteApiRequest(std::string_view subject, std::string_view body, ApiResult& out);

  // An ack sent by the client: "$JS.ACK.foo.…" -> "$JS.ACK.foo-read-<region>.…" (both ack
  // forms). False (out untouched) when the stream token is not a virtual stream.
  bool RewriteClientAck(std::string_view subject, std::string& out);

  // --- upstream -> client -------------------------------------------------------------

  // True when `reply` is an ack subject of a read stream: the message is a JetStream
  // delivery from a virtual stream. No allocation.
  bool IsVirtualDelivery(std::string_view reply) const;

  // A delivered message: the subject loses its region token, the ack reply names the
  // virtual stream, and the Nats-Msg-Id origin prefix is removed from the headers. Returns
  // false (out untouched) when IsVirtualDelivery(reply) is false.
  bool RewriteDelivery(std::string_view subject, std::string_view reply, std::string_view headers,
                       DeliveryResult& out);

  // A reply to a request recorded with `plan`. JSON is parsed, never byte-matched; unknown
  // fields survive. Anything unexpected is kUnparseable and must be forwarded unchanged.
  ReplyAction RewriteReply(const ReplyPlan& plan, std::string_view headers, std::string_view body,
                           ReplyResult& out);

  // Internal stream names inside free text (error descriptions) -> virtual names.
  // False when none occurs.
  bool RewriteNamesInText(std::string_view text, std::string& out) const;

 private:
  ApiAction Refuse(const ApiSubject& api, std::string_view stream, std::string_view why,
                   ApiResult& out);
  ApiAction RewriteStreamLookup(const ApiSubject& api, std::string_view subject,
                                std::string_view body, ApiResult& out);
  ApiAction RewriteGet(const ApiSubject& api, std::uint32_t stream, std::string_view subject,
                       std::string_view body, ApiResult& out);
  ApiAction FanOutLastBySubject(const ApiSubject& api, std::uint32_t stream,
                                std::string_view subject, std::string_view virtual_subject,
                                ApiResult& out);
  // The subject with the stream token replaced by this region's read stream, and (when
  // tail_pos is set) the tail converted with ToStoredFilter.
  void RedirectSubject(const ApiSubject& api, std::uint32_t stream, std::string_view subject,
                       std::string& out);

  // A PubAck of the usual flat shape, rewritten in place (the stream value replaced, every
  // other byte kept); nullopt when the body needs the full parse (errors, escapes...).
  std::optional<ReplyAction> RewritePubAckFast(std::string_view body, ReplyResult& out);

  // Split consumers (FilterStyle::kPerOriginConsumers): "<C>__<origin>" for every origin of
  // the stream becomes "<C>" in CONSUMER.NAMES, and one merged entry in CONSUMER.LIST.
  bool FoldSplitConsumerNames(Json& reply, std::uint32_t stream);
  bool FoldSplitConsumerList(Json& reply, std::uint32_t stream);

  // Rewrites config.filter_subject(s) of a consumer create body for the read stream; true
  // when `config` changed. Sets *dropped_tail when the subject's filter tail must go.
  bool RewriteCreateFilters(Json& config, bool* dropped_tail);

  std::shared_ptr<const Topology> topology_;
  FilterStyle filter_style_ = FilterStyle::kRegionWildcard;
  SplitRegistry split_registry_;
  std::string region_;
  std::vector<std::string> read_names_;  // per virtual stream: "<name>-read-<region>"
  std::string msg_id_prefix_;            // "<region>:"
  std::string scratch_;
  RewriteStats stats_;
};

}  // namespace meridian::rewrite
