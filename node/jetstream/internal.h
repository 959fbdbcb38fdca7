// Internal to meridian_node_jetstream: streams, consumers and the engine's state.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "jetstream/engine.h"
#include "jetstream/ack_log.h"
#include "jetstream/state_writer.h"
#include "jsapi/consumer.h"
#include "jsapi/error.h"
#include "jsapi/stream.h"
#include "store/store.h"
#include "subject/transform.h"

namespace meridian::jetstream {

// Header block helpers (headers.cc).
// The value of header `key` (exact, case-sensitive name) in a NATS header block, or nullopt.
std::optional<std::string_view> HeaderValue(std::string_view block, std::string_view key);
// The headers the publish path looks at, found in one pass over the block.
struct PubHeaders {
  std::optional<std::string_view> expected_stream, expected_last_seq, expected_last_subject_seq,
      expected_last_msg_id, msg_id, rollup;
};
PubHeaders ParsePubHeaders(std::string_view block);
// Appends "Key: value\r\n" lines to a block (creating "NATS/1.0\r\n...\r\n" if empty).
std::string AppendHeaders(std::string_view block,
                          const std::vector<std::pair<std::string, std::string>>& add);
// "NATS/1.0 <code> <text>\r\n<extra lines>\r\n"
std::string StatusBlock(int code, std::string_view text,
                        const std::vector<std::pair<std::string, std::string>>& extra = {});

// a + b for non-negative b, saturating at INT64_MAX (configs may carry huge durations).
inline int64_t SatAdd(int64_t a, int64_t b) {
  if (b <= 0) return a;
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

class EngineImpl;
class Stream;

struct PendingAck {
  uint64_t dseq = 0;        // delivery (consumer) sequence of the latest delivery
  int64_t deadline_ns = 0;  // redeliver after this (ack wait / backoff)
};

struct PullWaiting {
  std::string reply;
  int64_t batch = 1;
  int64_t max_bytes = 0;   // 0 = no byte budget
  int64_t expires_ns = 0;  // absolute; 0 = none
  bool no_wait = false;
  int64_t heartbeat_ns = 0;
  int64_t next_heartbeat_ns = 0;
};

class Consumer {
 public:
  Consumer(Stream* stream, std::string name, jsapi::ConsumerConfig config, int64_t created_ns);

  const std::string& name() const { return name_; }
  const jsapi::ConsumerConfig& config() const { return config_; }
  bool is_pull() const { return config_.deliver_subject.empty(); }
  bool is_durable() const { return !config_.durable_name.empty(); }

  // Sets the start position from the deliver policy (new consumers only).
  void InitStart(int64_t now_ns);
  // Applies an allowed update.
  void Update(const jsapi::ConsumerConfig& config) {
    config_ = config;
    dirty_ = true;
  }

  bool Matches(std::string_view subject) const;
  // True when this consumer still needs message `seq` (not yet delivered, or unacked).
  bool Needs(uint64_t seq, std::string_view subject) const;

  jsapi::ConsumerInfo Info(int64_t now_ns);
  void Pump(int64_t now_ns);  // delivers what it can
  void OnAck(const std::vector<std::string_view>& tokens, std::string_view reply,
             std::string_view payload, int64_t now_ns);
  void OnPullRequest(std::string_view reply, std::string_view body, int64_t now_ns);
  void OnFlowControl(std::string_view subject);
  // Returns false when an ephemeral consumer should be deleted.
  bool Tick(int64_t now_ns);
  // Ends waiting pull requests with 409 Consumer Deleted.
  void Deleting();
  void StreamPurged();

  // Persistence (durable consumers of file streams): JSON with config and state.
  std::string StateJson() const;
  // `log`: the newest valid record of the consumer's ack log (ack_log.h), applied instead of
  // the JSON's state when its generation is higher than the JSON's.
  bool LoadState(std::string_view json, const AckLogScan* log = nullptr);
  // The delivery/ack state as an ack log image (what StateJson holds besides the config).
  AckLogImage Image() const;
  // Generation of the newest state image handed out (JSON "gen" or log record).
  uint64_t state_gen = 0;
  // Bytes appended to the ack log since the last state file write (a state file write is
  // due past kAckLogCompactBytes).
  uint64_t log_bytes = 0;
  bool dirty() const { return dirty_; }
  void clear_dirty() { dirty_ = false; }
  void mark_dirty() { dirty_ = true; }
  // True when this consumer's state is kept in a file (durable consumer of a file stream).
  bool persisted() const;
  // Ack-acks (replies of acks that asked for one) waiting for the state that records the ack
  // to be durable: `ackack_next` for the next write, `ackack_writing` for the one in flight
  // (`write_ticket`, 0 = none; see EngineImpl::SaveConsumerAsync).
  std::vector<std::string> ackack_next;
  std::vector<std::string> ackack_writing;
  uint64_t write_ticket = 0;
  const uint64_t id;  // unique in the engine (the state writer's key)

 private:
  bool NextMessage(int64_t now_ns, store::Message* msg, bool* redelivery);
  uint64_t CountPending() const;
  void Deliver(const store::Message& msg, bool redelivery, const std::string& to, int64_t now_ns);
  void Acked(uint64_t seq, int64_t now_ns);
  void UpdateAckFloor();
  int64_t AckWaitFor(uint64_t deliveries) const;
  void SendStatus(const std::string& to, int code, std::string_view text, int64_t pending_msgs,
                  int64_t pending_bytes, bool with_pending);
  void Heartbeat(const std::string& to, std::string_view stalled);
  // Serves `w` at once with what is available (no waiting). False when it ended with a 409
  // (next message larger than the byte budget, status sent); `delivered` counts deliveries.
  bool ServeAvailable(PullWaiting& w, int64_t now_ns, int64_t* delivered);

  Stream* stream_;
  std::string name_;
  jsapi::ConsumerConfig config_;
  int64_t created_ns_;

  // State.
  uint64_t next_sseq_ = 1;  // next stream sequence to look at for new messages
  uint64_t dseq_ = 0;       // last delivery sequence
  uint64_t delivered_sseq_ = 0;
  uint64_t ack_floor_sseq_ = 0;
  uint64_t ack_floor_dseq_ = 0;
  std::map<uint64_t, PendingAck> pending_;   // by stream sequence
  std::map<uint64_t, uint64_t> deliveries_;  // stream seq -> delivery count (pending ones)
  std::map<uint64_t, int64_t> redeliver_;    // stream seq -> not before (ns)
  std::set<uint64_t> redelivered_;           // distinct redelivered stream seqs pending
  std::deque<PullWaiting> waiting_;
  int64_t last_active_ns_ = 0;
  int64_t last_delivery_ns_ = 0;        // push idle heartbeats
  int64_t next_push_heartbeat_ns_ = 0;  // when the last push heartbeat was sent
  int64_t no_interest_since_ns_ = 0;
  // Flow control (push).
  int64_t fc_window_ = 2 << 20;
  int64_t fc_unconfirmed_ = 0;
  std::string fc_reply_;
  uint64_t fc_counter_ = 0;
  bool dirty_ = true;
  std::set<uint64_t> initial_;  // last_per_subject: sequences to deliver before next_sseq_
  uint64_t num_pending_ = 0;    // kept incrementally, recounted on Info and purges
  std::string ack_scratch_;

 public:
  void Recount();
  void OnStored(uint64_t seq, std::string_view subject);
};

// A source or mirror whose origin is reached through an external API prefix
// (`external: {api, deliver}`): nats-server's protocol over subjects of the account
// (external.cc). The engine asks its origin for an ephemeral push consumer (ack none, flow
// control, idle heartbeats, deliver by start sequence = last origin sequence taken + 1) with
// a request to `<api>.CONSUMER.CREATE.<origin>[.<name>.<filter>]`, receives the deliveries on
// a subject under the `deliver` prefix, and creates a new consumer when deliveries skip a
// delivery sequence, heartbeats stop, or the create failed.
struct ExternalLink {
  std::string api;      // e.g. "$JS.hub.API"
  std::string deliver;  // prefix of the deliver subjects
  std::string deliver_subject;  // subscribed; "" when no consumer is being set up or running
  std::string reply_subject;    // the pending create's reply inbox ($JSC.R.<8>); "" = none
  uint64_t dseq = 0;            // last delivery sequence taken from the current consumer
  uint64_t lag = 0;             // from the `pending` token of the last delivery
  int64_t create_sent_ns = 0;   // when the pending create was sent
  int64_t last_create_ns = 0;   // creates are throttled (one per 2 s)
  int64_t last_heard_ns = 0;    // last delivery, heartbeat or create reply
  int64_t retry_at_ns = 0;      // no create before this (back-off after failures)
  int fails = 0;                // create failures in a row
};

// One entry of a stream's `sources` (or its mirror), read from a stream of the same engine,
// or from another server or account through an external API prefix (`ext`).
struct SourceState {
  jsapi::StreamSource config;
  std::vector<subject::SubjectTransform> transforms;  // source subject_transforms
  std::vector<std::string> filters;  // what to take from the origin ("" = everything)
  uint64_t last_seq = 0;             // last origin sequence taken (stored or skipped)
  int64_t active_ns = -1;            // when a message was last taken
  uint64_t skipped = 0;              // duplicates / refused messages passed over
  uint64_t stripped = 0;             // headers stripped so that nothing stalls
  // Shown as `error` in stream info, as nats-server shows the failure of its last attempt to
  // set up the source's consumer: 10059 "stream not found" while the origin does not exist;
  // cleared when a pump finds the origin (sources.cc).
  std::optional<jsapi::ApiError> error;
  // A source's opt_start_time was turned into a start sequence (first start only).
  bool start_resolved = false;
  // The name progress is kept under (Nats-Stream-Source, sources.json): the origin's name,
  // with ":<hash of the API prefix>" for an external one (as nats-server's `iname`).
  std::string iname;
  std::optional<ExternalLink> ext;  // set when config.external is
};

// nats-server's 8-character hash (getHash): the first 8 bytes of the SHA-256 of `text`, each
// taken mod 62 as an index into 0-9A-Za-z.
std::string ShortHash(std::string_view text);
// The index name of a source: `name`, or `name:<ShortHash(api)>` for an external one.
std::string SourceIndexName(const jsapi::StreamSource& cfg);

class Stream {
 public:
  EngineImpl* engine = nullptr;
  jsapi::StreamConfig config;
  int64_t created_ns = 0;
  std::string dir;  // empty for memory streams
  std::unique_ptr<store::Store> store;
  std::optional<subject::SubjectTransform> transform;
  std::map<std::string, std::unique_ptr<Consumer>> consumers;
  // Dedupe: msg id -> (seq, stored at); expiry order.
  std::unordered_map<std::string, std::pair<uint64_t, int64_t>> msg_ids;
  std::deque<std::pair<int64_t, std::string>> msg_id_order;
  std::string last_msg_id;
  // Publishes refused because the disk was full since that was last reported (see PublishTo:
  // one warning when it starts, one when a publish is stored again).
  uint64_t refused_no_space = 0;

  // Called after a message was stored (or removed): lets consumers deliver.
  void Pump(int64_t now_ns);
  // Interest/work-queue retention: removes `seq` when no consumer needs it any more.
  void MaybeRemoveAcked(uint64_t seq, std::string_view subject);
  void ExpireMsgIds(int64_t now_ns);
  bool Captures(std::string_view subject) const;
  // LoadNext that steps over corrupt regions of the store (a replica needing repair): the
  // messages around them are still served, each region is reported once through
  // EngineOptions::warn, and no bytes of a corrupt record are ever returned.
  store::Status LoadNextIntact(std::string_view filter, uint64_t start_seq, store::Message* out);
  std::set<uint64_t> reported_corrupt;  // last_seq of corrupt regions already reported
  std::vector<SourceState> sources;
  bool sources_dirty = false;
  // As an origin: a source or mirror waits for this store to make messages durable (Tick()
  // syncs it); the highest sequence a wake-up is registered for (EngineOptions::wake_sources).
  bool sources_waiting = false;
  uint64_t wake_armed_seq = 0;
  // config.mirror: last_seq is the last origin sequence looked at (the mirror stores each
  // message at its origin sequence, so the store's last_seq is where it resumes).
  std::optional<SourceState> mirror;
  bool is_mirror() const { return config.mirror.has_value(); }
  // (Re)builds `sources` from config.sources, keeping the progress of sources that stay, and
  // recovering it from the stored messages and sources.json on open; and `mirror` from
  // config.mirror, resuming after the store's last sequence (sources.cc).
  void SetUpSources(bool recover);
  void SaveSources();
  // Drops the subscriptions of external sources and mirrors (stream deleted, config changed).
  void CancelExternal();
};

// How a message enters a stream: as a publish (the default), or as a mirror's copy of an
// origin message, stored verbatim at the origin's sequence and timestamp.
struct StoreAs {
  uint64_t seq = 0;
  int64_t timestamp_ns = 0;
  bool mirror = false;
  int64_t now_ns = 0;  // the engine's "now" when a bulk copier already has it (0: ask the clock)
};

class EngineImpl {
 public:
  EngineOptions options;
  Outbound* out = nullptr;
  std::map<std::string, std::unique_ptr<Stream>> streams;
  uint64_t api_total = 0;
  uint64_t api_errors = 0;

  int64_t Now() const { return options.clock(); }
  // The earliest `expires` (clock ns) of pull requests queued since Engine::TakePullWakeNs()
  // last ran; 0: none.
  int64_t pull_wake_ns = 0;
  // Streams with publishes appended with defer_sync since the last Engine::KickSyncs().
  std::vector<std::string> kick_streams;
  // The publish path into one stream (dedupe, Nats-Expected-*, rollups, limits, store,
  // consumers); `done` as Engine::Publish. Returns false when the message was not stored.
  // A mirror copy (`as.mirror`) skips what the origin already checked (Nats-Expected-*, the
  // duplicate window, the rollup permission: a rollup the origin applied is applied again).
  bool PublishTo(Stream* s, std::string_view subj, std::string_view reply, std::string_view headers,
                 std::string_view payload, Engine::PubAckCallback done, const StoreAs& as = {});
  // Copies what every stream's sources and mirrors have that they have not taken yet, in up
  // to `rounds` rounds of a slice per source (sources.cc). Returns true when something was
  // copied (more may be pending). Re-entrant calls return at once.
  bool PumpSources(int rounds);
  bool pumping_sources = false;
  // Copies what `target`'s mirror has not taken yet, up to `budget` messages; true when
  // something moved.
  bool PumpMirror(Stream& target, int budget);
  // Stores one message taken from a source's origin (local or external): applies the source's
  // transforms (false without storing when none matches), strips what would stall it
  // (Nats-Expected-*, a Nats-Rollup the target does not allow, an older Nats-Stream-Source),
  // adds "Nats-Stream-Source: <iname> <origin_seq>", and passes a refused message over
  // (counted in `skipped`). The scratch strings keep their capacity between calls.
  bool StoreSourced(Stream& target, SourceState& src, uint64_t origin_seq,
                    std::string_view subject, std::string_view headers, std::string_view payload,
                    int64_t now_ns);
  // Stores one message taken from a mirror's origin at its origin sequence and timestamp,
  // headers verbatim (after the mirror's transforms); a refused copy is counted in `skipped`.
  void StoreMirrored(Stream& target, SourceState& mir, uint64_t origin_seq, int64_t timestamp_ns,
                     std::string_view subject, std::string_view headers,
                     std::string_view payload, int64_t now_ns);
  std::string source_headers_scratch, source_subject_scratch, source_extra_scratch;
  // External sources and mirrors (external.cc): creates consumers that are due, retries
  // creates that got no answer, and re-creates stalled ones (every Tick()).
  void ServiceExternal();
  // A message on a subject an external source or mirror subscribed to.
  void HandleInbound(std::string_view subject, std::string_view shown, std::string_view reply,
                     std::string_view headers, std::string_view payload);
  // Sends a consumer create for `link` (of `target`'s mirror when `mir`, else of `src`).
  void CreateExternalConsumer(Stream& target, SourceState& src, bool mir);
  // Between Engine::BeginInbound and EndInbound: the streams whose store a write batch was
  // begun on by HandleInbound.
  bool inbound_batch = false;
  std::vector<Stream*> inbound_batched;
  std::string RandomToken();  // 8 characters of 0-9A-Za-z
  uint64_t rng_state = 0;
  // A source or mirror waits for `origin` to make its messages durable: flags it for Tick()
  // and registers a wake-up (EngineOptions::wake_sources) for its last sequence.
  void WaitForOrigin(Stream& origin);
  // Consumer state files (durable consumers of file streams). SaveConsumer writes at once and
  // durably (store::WriteFileAtomic) on this thread: consumer create/update and Close(). False
  // when the write failed (the consumer stays dirty). SaveConsumerAsync hands a snapshot to
  // the state writer's thread unless a write of this consumer is already under way (then the
  // next one is queued when it finishes, see CompleteStateWrites); ack-acks waiting in
  // `ackack_next` are sent once that snapshot is durable.
  bool SaveConsumer(Stream& s, Consumer& c);
  // An AckSync (ack-acks waiting) appends a state image to the consumer's ack log instead,
  // until kAckLogCompactBytes were appended since the last file write.
  void SaveConsumerAsync(Stream& s, Consumer& c);
  static constexpr uint64_t kAckLogCompactBytes = 1u << 20;
  // Collects finished state writes: sends the ack-acks they made durable, queues the next
  // write of a consumer whose acks still wait.
  void CompleteStateWrites();
  void DeleteConsumerFile(Stream& s, const std::string& name);
  std::string ConsumerPath(const Stream& s, const std::string& name) const;
  std::string ConsumerLogPath(const Stream& s, const std::string& name) const;  // .acklog
  store::FileIo& io() const;
  std::unique_ptr<StateWriter> state_writer;
  uint64_t next_consumer_id = 1;
};

}  // namespace meridian::jetstream
