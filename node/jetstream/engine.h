// The JetStream engine of one node: streams, consumers and the $JS.API request handling, on
// top of node/store. It knows nothing about connections or sockets: the server hands it
// publishes, API requests, acks and pull requests, and it sends messages back through the
// Outbound interface the server implements. Time comes from an injectable clock; the server
// calls Tick() periodically (every 100 ms or so) to drive ack-wait redelivery, heartbeats,
// pull-request expiry, max_age expiry, inactive thresholds and consumer-state persistence.
//
// Threading: an Engine is not thread-safe. Call every method from one thread (the server's
// event loop). The only exception is the `done` callback of Publish, which a FileStore may
// run on its sync thread (see Publish).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace meridian::store {
class FileIo;
}  // namespace meridian::store

namespace meridian::jetstream {

// What the engine needs from the server. Implemented by node/server.
class Outbound {
 public:
  virtual ~Outbound() = default;
  // Publishes one message into the account: consumer deliveries (subject = deliver subject or
  // the pull request's inbox, reply = the $JS.ACK... subject), status messages (empty
  // payload, header block "NATS/1.0 408 Request Timeout\r\n..."), flow-control requests,
  // direct-get replies and ack-acks. `headers` is a complete NATS header block or empty.
  virtual void Send(std::string_view subject, std::string_view reply, std::string_view headers,
                    std::string_view payload) = 0;
  // A consumer delivery: routed to the subscribers of `deliver_to` (the push deliver subject
  // or the pull request's inbox) but shown with the stored message's `subject`, as
  // nats-server does (clients tell data from status messages by it). The default routes and
  // shows `deliver_to`.
  virtual void SendAs(std::string_view deliver_to, std::string_view subject, std::string_view reply,
                      std::string_view headers, std::string_view payload) {
    (void)subject;
    Send(deliver_to, reply, headers, payload);
  }
  // True when some subscription would receive a message published to `subject` (push
  // consumers pause without interest; ephemerals without interest are deleted after
  // inactive_threshold; pull requests whose inbox lost interest are dropped).
  virtual bool HasInterest(std::string_view subject) = 0;
  // Sources and mirrors through an external API prefix receive their consumer-create replies
  // and deliveries on subjects of the account: while subscribed, every message published to
  // `subject` in the account (also one arriving through an import, a leafnode, ...) must be
  // handed to Engine::HandleInbound (with the subject it shows), in order, and never from inside a call into the engine
  // (queue it and hand it over from the loop). Subscribing twice to the same subject is one
  // subscription. The defaults do nothing (external sources then never hear from their origin
  // and show it as `error`/`active` in stream info).
  virtual void Subscribe(std::string_view subject) { (void)subject; }
  virtual void Unsubscribe(std::string_view subject) { (void)subject; }
};

struct EngineOptions {
  // Where file-storage streams live (one directory per stream). Required for file storage:
  // creating a file stream without it is refused.
  std::string store_dir;
  std::string server_name = "meridian";
  std::string domain;  // shown in PubAck, StreamInfo and account info when not empty
  // Unix nanoseconds. Empty = the system clock.
  std::function<int64_t()> clock;
  // FileStore sync: true = fdatasync before acknowledging (the store's default); false =
  // fdatasync every `sync_interval`, acknowledging at once.
  bool sync_always = true;
  std::chrono::milliseconds sync_interval{1000};
  // The file operations of file streams' stores, their sources.json, stream.json and consumer
  // state files (tests count syncs and order with it). nullptr = store::DefaultFileIo(); must outlive the engine.
  store::FileIo* file_io = nullptr;
  // Where the engine reports problems the server should log (a corrupt region found in a
  // stream's segments, with its file and offset; a stream that cannot be recovered). Called
  // on the engine's thread. Empty: not reported.
  std::function<void(const std::string&)> warn;
  // Sources and mirrors copy an origin message only once the origin's store has made it
  // durable (Store::DurableSeq()). When one waits on an origin's sync, the engine asks to be
  // woken through this: it is called, possibly on the origin store's sync thread (or after
  // Close()), once that origin has synced; the server should post PumpSources() to its loop.
  // Empty: a waiting source copies on the next publish or Tick() (Tick() also syncs an origin
  // a source waits on, so with interval sync copies lag at most one tick).
  std::function<void()> wake_sources;
  // Consumer state (durable consumers of file streams) is written durably (tmp, fdatasync,
  // rename, directory fsync) on a writer thread: when it changed, at every Tick(), and at
  // once for an ack that asks for an ack-ack, which is answered only when the state recording
  // it is durable. This is called on that thread after each write; the server should post
  // Engine::StateWritten() to its loop. Empty: finished writes are collected on the next
  // Tick() (ack-acks then wait up to one tick longer).
  std::function<void()> state_written;
  // With sync_always: the server calls Engine::KickSyncs() at the end of every iteration of its
  // event loop (after the publishes one wake-up brought in). Publishes to file streams are then
  // appended without waking the store's sync thread, and KickSyncs() decides once for all of
  // them: a lone publish is fdatasync'ed right there on the loop thread (its PubAck callback
  // runs before KickSyncs returns: no hand-off to the sync thread and back), several are
  // group-committed by the sync threads as before. False: every append wakes its sync thread.
  bool kick_syncs = false;
  // Called (on the engine's thread) when a consumer goes away: deleted, expired (inactive
  // threshold) or deleted with its stream. The server withdraws what it announced for the
  // consumer's acks over leaf connections. Empty: nothing is told.
  std::function<void(const std::string& stream, const std::string& consumer)> consumer_deleted;
};

class EngineImpl;

class Engine {
 public:
  // Opens the engine and recovers every stream and durable consumer found in
  // options.store_dir. Returns nullptr and sets *error when the directory cannot be used.
  static std::unique_ptr<Engine> Open(const EngineOptions& options, Outbound* out,
                                      std::string* error);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // True when some stream captures `subject` (the server should then call Publish rather
  // than answer "no responders").
  bool Captures(std::string_view subject) const;

  // A publish to a subject a stream captures. `done(ack_body)` is called exactly once with
  // the PubAck text (or the failed-PubAck JSON) to send to `reply`; it is not called when no
  // reply is due (no `reply`, no_ack stream, or an invalid Nats-Rollup value). On success
  // with a file stream it runs when the message is durable, possibly on the store's sync
  // thread: the server must hand it back to its own loop. Returns false when no stream
  // captures the subject (done is not called).
  using PubAckCallback = std::function<void(std::string ack_body)>;
  bool Publish(std::string_view subject, std::string_view reply, std::string_view headers,
               std::string_view payload, PubAckCallback done);

  // Any message on $JS.API.> (or $JS.<domain>.API.> when a domain is set). Returns true when
  // it produced a JSON reply in *reply_body, to be sent to `reply` as a plain message.
  // DIRECT.GET and CONSUMER.MSG.NEXT answer through Outbound instead (and return false), as
  // do requests that nats-server leaves unanswered.
  bool HandleApi(std::string_view subject, std::string_view reply, std::string_view headers,
                 std::string_view body, std::string* reply_body);

  // A message on $JS.ACK.> (the consumer's ack subjects) with its reply subject.
  void HandleAck(std::string_view subject, std::string_view reply, std::string_view payload);
  // A flow-control answer: a message on $JS.FC.<stream>.<consumer>.<id>.
  void HandleFlowControl(std::string_view subject);
  // A message on a subject the engine subscribed to through Outbound::Subscribe (consumer
  // create replies and deliveries of external sources and mirrors): `subject` is the subject
  // it was published to (the subscribed one), `shown` the subject it shows (a JetStream
  // delivery shows the stored message's subject; empty = `subject`).
  void HandleInbound(std::string_view subject, std::string_view shown, std::string_view reply,
                     std::string_view headers, std::string_view payload);
  // Optional brackets around a run of HandleInbound calls: the copies they store are written
  // to each stream's store together at EndInbound() (one write instead of one per message;
  // they acknowledge nothing). No other call may come in between (the server brackets only
  // consecutive inbound messages it hands over in one go).
  void BeginInbound();
  void EndInbound();

  // Drives timers: ack wait, backoff, NAK delays, pull request expiry and heartbeats, push
  // idle heartbeats, inactive thresholds, max_age and the duplicate window, and writes dirty
  // consumer state. Call every 100 ms or so; each call uses the clock's current time.
  void Tick();
  // When a pull request with `expires` started waiting since the last call: nanoseconds from
  // now until the earliest such expiry (0 if already due); -1 when none. The server arms a
  // timer for it and calls Tick() then, so a 408 comes on time rather than on the next
  // 100 ms tick (a late 408 ends the client's next fetch on the same inbox early).
  int64_t TakePullWakeNs();

  // Copies one slice (a few thousand messages per source) of what stream sources and mirrors
  // have not taken yet. Returns true when it copied something, i.e. more may be pending: the
  // server should then call it again on a later turn of its loop (e.g. Post it), so that a
  // large backlog is copied at full speed while everything else still gets its turn. Tick()
  // and Publish() also copy, in bounded amounts.
  bool PumpSources();
  // See EngineOptions::kick_syncs. Also run by Tick() and Close().
  void KickSyncs();

  // Collects the consumer-state writes the writer thread finished (see
  // EngineOptions::state_written): sends the ack-acks they made durable.
  void StateWritten();

  // The $JS.API.INFO reply body (account usage, limits, API counters) plus "messages" (stored
  // in all streams) for monitoring, without counting it as an API request.
  std::string AccountInfoJson();
  // nats-server's JSZ `stream_detail` array (name, created, cluster, state, mirror, sources;
  // config with `with_config`) of every stream, by name, for monitoring.
  std::string StreamDetailsJson(bool with_config);

  // Waits for the consumer-state writer, writes every consumer's state durably, and closes
  // every store.
  void Close();

 private:
  explicit Engine(std::unique_ptr<EngineImpl> impl);
  std::unique_ptr<EngineImpl> impl_;
};

}  // namespace meridian::jetstream
