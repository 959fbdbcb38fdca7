// Split consumers: one client consumer presented over one server consumer per origin.
//
// Stock servers before 2.10 refuse a read-stream filter like `foo.*.test` (10093: they check it
// against each source stream's subjects) and cannot take `filter_subjects`. So a client consumer
// on `foo` filtered on `foo.test` becomes one consumer per origin region on the local read
// stream, `<name>__<origin>` filtered on `foo.<origin>.test`, and the sidecar presents them as
// one (split_consumers.h drives it; proxy/rewrite/README.md "Split consumers" has the rules).
// This header holds the pure pieces: names, the delivery renumbering with its ack map, the
// merge of per-origin API replies, and pull-request shares.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rewrite/fanout.h"
#include "rewrite/topology.h"

namespace meridian::rewrite {

// "<name>__<origin>": valid in every server's consumer names, and recognisable in NAMES/LIST.
inline constexpr std::string_view kOriginSeparator = "__";

std::string OriginConsumerName(std::string_view name, std::string_view origin);

struct OriginConsumer {
  std::string_view base;  // the client's consumer name
  std::uint32_t origin;   // index into the stream's regions
};
// "<base>__<region of stream>" -> {base, region index}; nullopt otherwise.
std::optional<OriginConsumer> ParseOriginConsumer(const VirtualStream& vs, std::string_view name);

// The tokens of a v1 ack subject `$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>`.
struct AckTokens {
  std::string_view stream;
  std::string_view consumer;
  std::uint64_t delivered = 0;  // delivery count
  std::uint64_t stream_seq = 0;
  std::uint64_t consumer_seq = 0;
  std::uint64_t timestamp = 0;
  std::uint64_t pending = 0;
};
std::optional<AckTokens> ParseAckV1(std::string_view subject);
// Writes the v1 ack subject for `t` into out (capacity reused).
void FormatAckV1(const AckTokens& t, std::string& out);

// The client-facing delivery sequence of a split consumer and the way back: every delivery
// from any origin gets the next client sequence (1, 2, 3, … with no gaps, as one server
// consumer would number them), and the ring remembers which origin delivery each recent
// client sequence was, so acks can be sent to the right origin consumer. Bounded: a ring of
// `capacity` entries (a power of two, allocated once); an ack for a sequence older than that
// is unknown (the message is then redelivered after ack_wait, never acked wrongly).
class DeliveryRenumber {
 public:
  struct Entry {
    std::uint64_t client_seq = 0;  // 0: empty
    std::uint64_t origin_seq = 0;  // the origin consumer's delivery sequence
    std::uint64_t stream_seq = 0;
    std::uint64_t delivered = 0;
    std::uint64_t timestamp = 0;
    std::uint32_t origin = 0;
  };

  // `origins` regions; `capacity` 0 keeps no ack map (ack policy none).
  DeliveryRenumber(std::size_t origins, std::size_t capacity);

  // Records one delivery from `origin` and returns its client sequence.
  std::uint64_t Deliver(std::uint32_t origin, const AckTokens& from_origin);
  // The entry for a client sequence, if still in the ring.
  const Entry* Find(std::uint64_t client_seq) const;
  // For ack policy all: the newest delivery of `origin` at or before client_seq that is still
  // in the ring, or nullptr.
  const Entry* LatestAtOrBefore(std::uint32_t origin, std::uint64_t client_seq) const;

  std::uint64_t last_client_seq() const { return next_ - 1; }
  std::uint64_t last_stream_seq() const { return last_stream_seq_; }
  // Sum of each origin's last reported pending count: the client's `pending` token.
  std::uint64_t pending() const;
  std::size_t capacity() const { return ring_.size(); }

 private:
  std::vector<Entry> ring_;
  std::vector<std::uint64_t> pending_;  // per origin, from its latest delivery
  std::uint64_t next_ = 1;
  std::uint64_t last_stream_seq_ = 0;
};

// The smallest power of two >= n, at least 16 and at most `cap`.
std::size_t RingCapacityFor(std::uint64_t max_ack_pending, std::size_t origins, std::size_t cap);

// How a client's pull batch is split over the origins for the waiting phase: shares summing
// to `remaining`, the origins from `first` on (wrapping) getting one more when it does not
// divide; an origin with share 0 is not asked.
std::vector<std::uint64_t> PullShares(std::uint64_t remaining, std::size_t origins,
                                      std::size_t first);

// --- the client's deliver subject, recorded on the origin consumers --------------------------

// A split push consumer's origin consumers deliver to "_MRDN.D.<read>.<C>.<origin>", so the
// server does not know the client's own deliver subject. The sidecar records it in each origin
// consumer's `description` (2.9 has no metadata): "[meridian deliver <subject>]", followed by
// " <client's description>" when the client gave one. Merged replies show the client's
// description only; a restarted sidecar learns deliver subject -> consumer from CONSUMER.LIST
// (SplitRegistry).
inline constexpr std::string_view kDeliverRecordPrefix = "[meridian deliver ";
// The server's limit on descriptions (JSMaxDescriptionLen).
inline constexpr std::size_t kMaxDescription = 4096;

// The description for the origin consumers; nullopt when the record would not fit in
// kMaxDescription (the client's description then goes as it is, unrecorded).
std::optional<std::string> RecordDeliver(std::string_view deliver,
                                         std::string_view client_description);
struct DeliverRecord {
  std::string_view deliver;
  std::string_view description;  // the client's own; empty when it gave none
};
// nullopt when `description` carries no record (the client's own, or a consumer made before).
std::optional<DeliverRecord> ParseDeliverRecord(std::string_view description);

// --- merging per-origin API replies ---------------------------------------------------------

enum class SplitOp : std::uint8_t { kCreate, kInfo, kDelete };

struct SplitMergeInput {
  SplitOp op;
  const VirtualStream* stream;
  std::string_view name;            // the consumer as the client named it
  std::string_view client_filter;   // create: the client's filter ("foo.test")
  std::string_view client_deliver;  // the client's deliver subject, empty for pull
  // create: parts[i] answers origin i. info/delete: parts[0] answers the unsplit name and
  // parts[1 + i] origin i.
  std::span<const FanOutPart> parts;
};

struct SplitMergeResult {
  std::string body;  // the JSON reply for the client
  // body is one server reply as it came (the unsplit consumer, or an origin's error): rewrite
  // it as any reply (Rewriter::RewriteReply, kConsumerInfo or kApiGeneric) before sending.
  bool raw = false;
  bool split_exists = false;  // create/info: every origin consumer exists
  // From the merged config (valid when split_exists):
  bool ack_all = false;
  bool ack_none = false;
  bool push = false;
  bool durable = false;
  std::uint64_t max_ack_pending = 0;
  std::string deliver_group;   // push: the queue group of the deliver subscriptions
  std::string stored_deliver;  // origin 0's deliver subject, for recognising a re-attach
  // The client's deliver subject recorded in origin 0's description (RecordDeliver); empty
  // when there is no record.
  std::string recorded_deliver;
};

// Merges the replies. Rules (README "Split consumers"): a create succeeds only when every
// origin did (else the first error in origin order); info/delete answer for the unsplit
// consumer when it exists, for the split one when every origin consumer answered, else the
// first origin error, else the unsplit name's error. A merged info shows the client's name,
// filter and deliver subject, stream `foo`, sums of delivered/ack-floor consumer sequences,
// num_pending, num_ack_pending and num_redelivered, the highest stream sequences, the highest
// num_waiting, push_bound when any origin is bound, and the client's own description (the
// deliver record removed; no description when the client gave none). A part that never answered is
// reported as a 408-style error.
SplitMergeResult MergeSplitReplies(const SplitMergeInput& in);

}  // namespace meridian::rewrite
