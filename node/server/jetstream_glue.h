// AccountJetStream: one account's JetStream engine (node/jetstream) wired to the server loop.
// Internal to meridian_node_server (server.cc); not a public header.
//
// The server hands it every message published in the account (Handle); it answers $JS.API
// requests, acks and flow-control replies, stores messages on stream subjects, and publishes
// back into the account through the send function. PubAcks of file streams become due on the
// store's sync thread: they are queued and delivered on the loop thread, in order, one Post
// per batch (a group commit acknowledges many publishes at once).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "net/loop.h"
#include "server/options.h"
#include "server/server.h"

namespace meridian::net {
class Loop;
}
namespace meridian::jetstream {
class Engine;
}

namespace meridian::server {

// The directory JetStream keeps its accounts in: <store_dir>/jetstream, store_dir defaulting
// to $TMPDIR/nats (nats-server's layout; VARZ/JSZ report this path as config.store_dir).
std::string JetStreamStoreDir(const JetStreamOptions& options);

class AccountJetStream {
 public:
  // Publishes into the account: routed by `subject`, shown as `shown` when not empty.
  using SendFn =
      std::function<void(std::string_view subject, std::string_view reply, std::string_view headers,
                         std::string_view payload, std::string_view shown)>;
  using InterestFn = std::function<bool(std::string_view subject)>;
  // A message on an internal subscription: routed subject, shown subject, reply, headers,
  // payload.
  using InboundFn = std::function<void(std::string_view, std::string_view, std::string_view,
                                       std::string_view, std::string_view)>;
  // Subscribes the server itself to `subject` in the account (every message published there,
  // also through imports, is passed to the function, on the loop thread); returns a handle
  // for UnsubscribeFn.
  using SubscribeFn = std::function<void*(std::string_view subject, InboundFn fn)>;
  using UnsubscribeFn = std::function<void(void* handle)>;

  // Opens the engine in <options.store_dir>/jetstream/<account>/ (recovering what is there).
  // Throws std::runtime_error with a sentence when the directory cannot be used.
  AccountJetStream(net::Loop& loop, const JetStreamOptions& options, const std::string& account,
                   const std::string& server_name, SendFn send, InterestFn interest,
                   SubscribeFn subscribe, UnsubscribeFn unsubscribe);
  ~AccountJetStream();
  AccountJetStream(const AccountJetStream&) = delete;
  AccountJetStream& operator=(const AccountJetStream&) = delete;

  // A message published in the account. Returns true when JetStream took it (an API
  // request, an ack, a flow-control reply, or a message a stream stores): the server then
  // does not answer "no responders". Called while the engine is busy (a message the engine
  // sent crossed into another account and came back), it is queued and handled on a later
  // loop turn: the engine is not re-entrant.
  bool Handle(std::string_view subject, std::string_view reply, std::string_view headers,
              std::string_view payload);

  void Tick();
  // Writes consumer state and closes the stores; later messages are ignored.
  void Close();
  // Called on the loop thread when a consumer goes away (deleted, expired, or with its
  // stream): the server withdraws the ack interest it announced for it over leaf connections.
  using ConsumerDeletedFn =
      std::function<void(const std::string& stream, const std::string& consumer)>;
  void SetConsumerDeleted(ConsumerDeletedFn fn) { consumer_deleted_ = std::move(fn); }

  JetStreamAccountStats Stats() const;
  // The JSZ stream_detail array of this account's streams ("[]" once closed).
  std::string StreamDetailsJson(bool with_config) const;
  const std::string& directory() const { return directory_; }

 private:
  class Out;
  struct AckQueue;
  void DrainAcks();
  // Messages for the engine that arrived while it was busy, or on its internal
  // subscriptions (external sources' deliveries), handed over in order from the loop.
  struct Queued {
    bool inbound = false;  // Engine::HandleInbound, else Handle
    std::string subject, shown, reply, headers, payload;
  };
  std::vector<Queued> queued_;
  bool queue_posted_ = false;
  int busy_ = 0;
  void Enqueue(Queued q);
  void PostDrain();
  void DrainQueued();
  // Copies a slice of the sources' and mirrors' backlog and, while there is more, posts
  // itself to the loop again (one slice per loop turn).
  void PumpSources();
  bool pump_posted_ = false;
  // Pull request expiries: a one-shot timer for the earliest, which runs Tick() then, so a
  // 408 comes on time rather than on the next 100 ms tick.
  void NotePullWake();
  void ArmPullWake();
  std::multiset<std::chrono::steady_clock::time_point> pull_wakes_;
  std::chrono::steady_clock::time_point pull_wake_armed_{};
  net::Timer pull_wake_timer_;
  // Engine::KickSyncs() at the end of every loop iteration (EngineOptions::kick_syncs).
  net::IterationHook kick_syncs_;

  net::Loop& loop_;
  std::string directory_;
  std::string api_prefix_;  // "$JS.API." ; domain_prefix_: "$JS.<domain>.API."
  std::string domain_prefix_;
  SendFn send_;
  std::unique_ptr<Out> out_;
  std::shared_ptr<AckQueue> acks_;
  std::unique_ptr<jetstream::Engine> engine_;
  std::string reply_body_;
  bool closed_ = false;
  ConsumerDeletedFn consumer_deleted_;
};

}  // namespace meridian::server
